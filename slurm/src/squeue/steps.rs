//! `squeue -s`: running job steps, in Slurm's step format
//! (`%.15i %.8j %.9P %.8u %.9M %N`) or an `-o` format of the step
//! letters Slurm 22.05 has (`_parse_step_format`): `%A` tasks, `%b` TRES
//! per node, `%i` step id, `%j` name, `%l` time limit, `%M` time used,
//! `%N` nodes, `%P` partition, `%S` start time, `%U` user id, `%u` user.
//! Sorted as Slurm sorts steps by default: partition, then step id.

use corral_state::Job;

use super::{parse_width, push_fitted};
use crate::display::DisplayContext;
use crate::error::{error_line, SlurmError, EXIT_FAILURE};
use crate::steps::{running_steps, StepRow};
use crate::time::{slurm_time_text, squeue_duration, squeue_time_limit, TimeLimit};

/// `squeue -s` without `-o`.
pub const STEP_FORMAT: &str = "%.15i %.8j %.9P %.8u %.9M %N";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum StepField {
    Tasks,
    TresPerNode,
    Id,
    Name,
    TimeLimit,
    TimeUsed,
    Nodes,
    Partition,
    StartTime,
    UserId,
    User,
    /// Not a step letter: printed back as written.
    Invalid,
}

impl StepField {
    fn of(letter: char) -> StepField {
        match letter {
            'A' => StepField::Tasks,
            'b' => StepField::TresPerNode,
            'i' => StepField::Id,
            'j' => StepField::Name,
            'l' => StepField::TimeLimit,
            'M' => StepField::TimeUsed,
            'N' => StepField::Nodes,
            'P' => StepField::Partition,
            'S' => StepField::StartTime,
            'U' => StepField::UserId,
            'u' => StepField::User,
            _ => StepField::Invalid,
        }
    }

    fn header(self) -> &'static str {
        match self {
            StepField::Tasks => "TASKS",
            StepField::TresPerNode => "TRES_PER_NODE",
            StepField::Id => "STEPID",
            StepField::Name => "NAME",
            StepField::TimeLimit => "TIME_LIMIT",
            StepField::TimeUsed => "TIME",
            StepField::Nodes => "NODELIST",
            StepField::Partition => "PARTITION",
            StepField::StartTime => "START_TIME",
            StepField::UserId => "USER_ID",
            StepField::User => "USER",
            StepField::Invalid => "",
        }
    }

    /// The value, and whether a right-aligned one is cut to its width
    /// (durations, times and node lists overflow, as in Slurm).
    fn value(self, row: &StepRow, context: &DisplayContext) -> (String, bool) {
        let job = row.job;
        match self {
            StepField::Tasks => (row.tasks().to_string(), true),
            StepField::TresPerNode => ("N/A".to_string(), true),
            StepField::Id => (row.id_text(), true),
            StepField::Name => (row.name().to_string(), true),
            StepField::TimeLimit => {
                let limit = row
                    .time_limit_minutes()
                    .map_or(TimeLimit::Unlimited, TimeLimit::Minutes);
                (squeue_time_limit(limit), false)
            }
            StepField::TimeUsed => {
                let start = row.start_time_ms().unwrap_or(context.now_ms);
                let seconds = context.now_ms.saturating_sub(start) / 1_000;
                (squeue_duration(seconds as i64), false)
            }
            StepField::Nodes => (row.node_list(), false),
            StepField::Partition => (job.partition.clone(), true),
            StepField::StartTime => (
                slurm_time_text(row.start_time_ms(), context.utc_offset_seconds),
                false,
            ),
            StepField::UserId => (job.uid.to_string(), true),
            StepField::User => (job.user.clone(), true),
            StepField::Invalid => (String::new(), true),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Field {
    kind: StepField,
    /// As written, for a letter that is none of the step letters.
    text: String,
    width: usize,
    right_aligned: bool,
    suffix: String,
}

/// A parsed step format.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StepFormat {
    prefix: String,
    fields: Vec<Field>,
}

impl StepFormat {
    /// Parses an `-o` format of step letters; letters that are not come
    /// back as the lines squeue prints on stderr.
    pub fn parse(format: &str) -> (StepFormat, Vec<String>) {
        let (prefix, body) = match format.find('%') {
            Some(index) => (&format[..index], &format[index..]),
            None => (format, ""),
        };
        let mut warnings = Vec::new();
        let fields = body
            .split('%')
            .filter(|token| !token.is_empty())
            .map(|token| {
                let right_aligned = token.starts_with('.');
                let rest = token.strip_prefix('.').unwrap_or(token);
                let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
                let width = parse_width(&rest[..digits]);
                let mut letters = rest[digits..].chars();
                let letter = letters.next();
                let kind = letter.map_or(StepField::Invalid, StepField::of);
                if kind == StepField::Invalid {
                    let shown: String = letter.into_iter().collect();
                    warnings.push(error_line(
                        "squeue",
                        &format!("Invalid job step format specification: {shown}"),
                    ));
                }
                Field {
                    kind,
                    text: format!("%{token}"),
                    width,
                    right_aligned,
                    suffix: if kind == StepField::Invalid {
                        String::new()
                    } else {
                        letters.collect()
                    },
                }
            })
            .collect();
        (
            StepFormat {
                prefix: prefix.to_string(),
                fields,
            },
            warnings,
        )
    }

    fn header(&self) -> String {
        let mut out = self.prefix.clone();
        for field in &self.fields {
            match field.kind {
                StepField::Invalid => out.push_str(&field.text),
                kind => push_fitted(
                    &mut out,
                    kind.header(),
                    field.width,
                    field.right_aligned,
                    true,
                ),
            }
            out.push_str(&field.suffix);
        }
        out.push('\n');
        out
    }

    fn line(&self, row: &StepRow, context: &DisplayContext) -> String {
        let mut out = self.prefix.clone();
        for field in &self.fields {
            match field.kind {
                StepField::Invalid => out.push_str(&field.text),
                kind => {
                    let (value, cut) = kind.value(row, context);
                    push_fitted(&mut out, &value, field.width, field.right_aligned, cut);
                }
            }
            out.push_str(&field.suffix);
        }
        out.push('\n');
        out
    }
}

/// Which steps `-s LIST` names: a job's (`14`), or one (`14.0`, `14.batch`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StepFilter {
    pub steps: Vec<(u32, Option<u64>)>,
}

impl StepFilter {
    /// `-s 14.0,15,16.batch`; Slurm's message for anything else.
    pub fn parse(text: &str) -> Result<StepFilter, SlurmError> {
        let mut steps = Vec::new();
        for item in text.split(',').filter(|item| !item.is_empty()) {
            let invalid = || {
                SlurmError::command_error(
                    "squeue",
                    &format!("Invalid job step id: {item}"),
                    EXIT_FAILURE,
                )
            };
            let (job, step) = match item.split_once('.') {
                Some((job, "batch")) => (job, Some(0xffff_fffb)),
                Some((job, step)) => (job, Some(step.parse::<u64>().map_err(|_| invalid())?)),
                None => (item, None),
            };
            let job = job
                .parse::<u32>()
                .ok()
                .filter(|id| *id > 0)
                .ok_or_else(invalid)?;
            steps.push((job, step));
        }
        Ok(StepFilter { steps })
    }

    fn admits(&self, row: &StepRow) -> bool {
        self.steps.is_empty()
            || self.steps.iter().any(|(job, step)| {
                (*job == row.job.id || row.job.array.is_some_and(|a| a.array_job_id == *job))
                    && step.is_none_or(|step| step == row.number())
            })
    }
}

/// The header (unless `-h`) and one line per running step the filter
/// admits, among `jobs` (already filtered by the job options).
pub fn render_steps(
    jobs: &[Job],
    format: &StepFormat,
    filter: &StepFilter,
    context: &DisplayContext,
    header: bool,
) -> String {
    let mut rows: Vec<StepRow> = running_steps(jobs)
        .into_iter()
        .filter(|row| filter.admits(row))
        .collect();
    rows.sort_by(|a, b| {
        (&a.job.partition, a.job.id, a.number()).cmp(&(&b.job.partition, b.job.id, b.number()))
    });
    let mut out = if header {
        format.header()
    } else {
        String::new()
    };
    for row in &rows {
        out.push_str(&format.line(row, context));
    }
    out
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::display::tests::job;
    use corral_state::{
        Allocation, AllocationId, JobState, NodeShare, RequestId, Step, StepNode, StepSpec,
    };

    /// Job 7 running on n1 and n2 since t=10 s, with step 0 (`hostname`,
    /// 3 tasks, both nodes) running since t=20 s and step 1 ended.
    pub(crate) fn job_with_steps() -> Job {
        let mut running = job(7, "work", JobState::Running);
        running.user = "alice".into();
        running.uid = 1000;
        running.start_time_ms = Some(10_000);
        let share = |node: &str| NodeShare {
            node: node.into(),
            cpus: 2,
            memory_mb: 0,
            gpus: Vec::new(),
        };
        running.allocation = Some(Allocation {
            id: AllocationId(3),
            shares: vec![share("n1"), share("n2")],
        });
        let step = |id, state| Step {
            id,
            request_id: RequestId(format!("s{id}")),
            allocation_id: AllocationId(3),
            spec: std::sync::Arc::new(StepSpec {
                name: "hostname".into(),
                ntasks: 3,
                cpus_per_task: 1,
                ..StepSpec::default()
            }),
            state,
            nodes: vec![
                StepNode {
                    node: "n1".into(),
                    first_task: 0,
                    tasks: 2,
                    end: None,
                },
                StepNode {
                    node: "n2".into(),
                    first_task: 2,
                    tasks: 1,
                    end: None,
                },
            ],
            start_time_ms: 20_000,
            end_time_ms: None,
            exit_status: Default::default(),
        };
        running.steps = vec![step(0, JobState::Running), step(1, JobState::Completed)];
        running
    }

    #[test]
    fn the_default_step_format_lists_running_steps_then_the_batch_step() {
        let jobs = vec![job_with_steps(), job(8, "waits", JobState::Pending)];
        let context = DisplayContext::new(85_000, 0);
        let (format, warnings) = StepFormat::parse(STEP_FORMAT);
        assert!(warnings.is_empty());
        let text = render_steps(&jobs, &format, &StepFilter::default(), &context, true);
        assert_eq!(
            text,
            "         STEPID     NAME PARTITION     USER      TIME NODELIST\n\
             \x20           7.0 hostname     debug    alice      1:05 n[1-2]\n\
             \x20       7.batch    batch     debug    alice      1:15 n1\n"
        );
        let only = StepFilter::parse("7.0").unwrap();
        let text = render_steps(&jobs, &format, &only, &context, false);
        assert_eq!(text.lines().count(), 1);
        let batch = StepFilter::parse("7.batch").unwrap();
        assert!(render_steps(&jobs, &format, &batch, &context, false).contains("7.batch"));
    }

    #[test]
    fn other_letters_and_bad_input() {
        let jobs = vec![job_with_steps()];
        let context = DisplayContext::new(85_000, 0);
        let (format, warnings) = StepFormat::parse("%i|%A|%l|%U|%b|%z");
        assert_eq!(
            warnings,
            ["squeue: error: Invalid job step format specification: z"]
        );
        let text = render_steps(&jobs, &format, &StepFilter::default(), &context, true);
        assert_eq!(
            text.lines().collect::<Vec<_>>(),
            [
                "STEPID|TASKS|TIME_LIMIT|USER_ID|TRES_PER_NODE|%z",
                "7.0|3|UNLIMITED|1000|N/A|%z",
                "7.batch|1|UNLIMITED|1000|N/A|%z"
            ]
        );
        for bad in ["x", "7.x", "0.1", "-3", "7.-1"] {
            let error = StepFilter::parse(bad).unwrap_err();
            assert_eq!(
                error.stderr_text(),
                format!("squeue: error: Invalid job step id: {bad}\n")
            );
        }
    }
}
