//! squeue's `-o/--format` engine (`squeue/opts.c` and `print.c`).
//!
//! A format is a prefix, then fields `%[.][width]X`, each followed by the
//! literal text up to the next `%` (`%%` does not print a percent sign: like
//! Slurm's `strtok`, it is skipped). `.` right-aligns; the default is left.
//! A left-aligned value is always cut to its width; a right-aligned one is
//! cut too, except durations and the `NODELIST(REASON)` header, which Slurm
//! lets overflow. A field letter squeue does not know prints back as written
//! (`%z`) and yields the line `squeue: error: Invalid job format
//! specification: z`.
//!
//! Fields: `a A C c D i j l L m M N o P q Q r R S t T u U V Z` (see
//! [`FieldKind`]).

use corral_state::{Job, JobState};

use crate::display::{reason_text, DisplayContext, LimitView};
use crate::error::error_line;
use crate::memory::format_megabytes;
use crate::time::{squeue_duration, squeue_time_limit, TimeLimit};

/// `squeue` without `-o`.
pub const DEFAULT_FORMAT: &str = "%.18i %.9P %.8j %.8u %.2t %.10M %.6D %R";
/// `squeue -l`.
pub const LONG_FORMAT: &str = "%.18i %.9P %.8j %.8u %.8T %.10M %.9l %.6D %R";

/// What a field shows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FieldKind {
    /// `%a` ACCOUNT
    Account,
    /// `%A` JOBID (the job's own id)
    JobIdRaw,
    /// `%b` TRES_PER_NODE (the GPUs asked per node)
    TresPerNode,
    /// `%C` CPUS
    Cpus,
    /// `%c` MIN_CPUS (CPUs per task)
    MinCpus,
    /// `%D` NODES
    Nodes,
    /// `%E` DEPENDENCY
    Dependency,
    /// `%F` ARRAY_JOB_ID
    ArrayJobId,
    /// `%K` ARRAY_TASK_ID
    ArrayTaskId,
    /// `%i` JOBID
    JobId,
    /// `%j` NAME
    Name,
    /// `%l` TIME_LIMIT
    TimeLimit,
    /// `%L` TIME_LEFT
    TimeLeft,
    /// `%m` MIN_MEMORY
    MinMemory,
    /// `%M` TIME (used)
    TimeUsed,
    /// `%N` NODELIST
    NodeList,
    /// `%o` COMMAND
    Command,
    /// `%P` PARTITION
    Partition,
    /// `%q` QOS
    Qos,
    /// `%Q` PRIORITY
    Priority,
    /// `%r` REASON
    Reason,
    /// `%R` NODELIST(REASON)
    ReasonList,
    /// `%S` START_TIME
    StartTime,
    /// `%t` ST
    StateCompact,
    /// `%T` STATE
    State,
    /// `%u` USER
    User,
    /// `%U` UID
    UserId,
    /// `%V` SUBMIT_TIME
    SubmitTime,
    /// `%Z` WORK_DIR
    WorkDir,
    /// An unknown letter; prints the text it came from.
    Invalid(String),
}

impl FieldKind {
    fn from_letter(letter: char) -> Option<FieldKind> {
        Some(match letter {
            'a' => FieldKind::Account,
            'A' => FieldKind::JobIdRaw,
            'b' => FieldKind::TresPerNode,
            'C' => FieldKind::Cpus,
            'c' => FieldKind::MinCpus,
            'D' => FieldKind::Nodes,
            'E' => FieldKind::Dependency,
            'F' => FieldKind::ArrayJobId,
            'K' => FieldKind::ArrayTaskId,
            'i' => FieldKind::JobId,
            'j' => FieldKind::Name,
            'l' => FieldKind::TimeLimit,
            'L' => FieldKind::TimeLeft,
            'm' => FieldKind::MinMemory,
            'M' => FieldKind::TimeUsed,
            'N' => FieldKind::NodeList,
            'o' => FieldKind::Command,
            'P' => FieldKind::Partition,
            'q' => FieldKind::Qos,
            'Q' => FieldKind::Priority,
            'r' => FieldKind::Reason,
            'R' => FieldKind::ReasonList,
            'S' => FieldKind::StartTime,
            't' => FieldKind::StateCompact,
            'T' => FieldKind::State,
            'u' => FieldKind::User,
            'U' => FieldKind::UserId,
            'V' => FieldKind::SubmitTime,
            'Z' => FieldKind::WorkDir,
            _ => return None,
        })
    }

    fn header(&self) -> &str {
        match self {
            FieldKind::Account => "ACCOUNT",
            FieldKind::JobIdRaw | FieldKind::JobId => "JOBID",
            FieldKind::TresPerNode => "TRES_PER_NODE",
            FieldKind::Cpus => "CPUS",
            FieldKind::MinCpus => "MIN_CPUS",
            FieldKind::Nodes => "NODES",
            FieldKind::Dependency => "DEPENDENCY",
            FieldKind::ArrayJobId => "ARRAY_JOB_ID",
            FieldKind::ArrayTaskId => "ARRAY_TASK_ID",
            FieldKind::Name => "NAME",
            FieldKind::TimeLimit => "TIME_LIMIT",
            FieldKind::TimeLeft => "TIME_LEFT",
            FieldKind::MinMemory => "MIN_MEMORY",
            FieldKind::TimeUsed => "TIME",
            FieldKind::NodeList => "NODELIST",
            FieldKind::Command => "COMMAND",
            FieldKind::Partition => "PARTITION",
            FieldKind::Qos => "QOS",
            FieldKind::Priority => "PRIORITY",
            FieldKind::Reason => "REASON",
            FieldKind::ReasonList => "NODELIST(REASON)",
            FieldKind::StartTime => "START_TIME",
            FieldKind::StateCompact => "ST",
            FieldKind::State => "STATE",
            FieldKind::User => "USER",
            FieldKind::UserId => "UID",
            FieldKind::SubmitTime => "SUBMIT_TIME",
            FieldKind::WorkDir => "WORK_DIR",
            FieldKind::Invalid(_) => "",
        }
    }

    /// The value and whether a right-aligned value is cut to the width.
    fn value(&self, job: &Job, context: &DisplayContext) -> (String, bool) {
        let cut = |text: String| (text, true);
        match self {
            FieldKind::Account => cut(context.account(job)),
            FieldKind::JobId => cut(context.job_id_text(job)),
            FieldKind::JobIdRaw => cut(context.raw_job_id(job).to_string()),
            FieldKind::ArrayJobId => cut(job
                .array
                .map_or(job.id, |task| task.array_job_id)
                .to_string()),
            FieldKind::ArrayTaskId => cut(context.array_task_text(job)),
            FieldKind::Dependency => cut(job
                .dependencies
                .as_ref()
                .map_or_else(|| "(null)".to_string(), |d| d.slurm_text())),
            FieldKind::TresPerNode => cut(match job.spec.gpus_per_node {
                0 => "N/A".to_string(),
                gpus => format!("gres:gpu:{gpus}"),
            }),
            FieldKind::Cpus => cut(context.cpu_count(job).to_string()),
            FieldKind::MinCpus => cut(job.spec.cpus_per_task.to_string()),
            FieldKind::Nodes => cut(context.node_count(job).to_string()),
            FieldKind::Name => cut(job.spec.name.clone()),
            FieldKind::TimeLimit => limit_value(context.time_limit(job), squeue_time_limit),
            FieldKind::TimeLeft => limit_value(context.time_limit(job), |limit| match limit {
                TimeLimit::Unlimited => squeue_time_limit(limit),
                TimeLimit::Minutes(minutes) => {
                    squeue_duration(i64::from(minutes) * 60 - context.time_used_seconds(job))
                }
            }),
            FieldKind::MinMemory => cut(format_megabytes(job.spec.memory_per_node_mb.unwrap_or(0))),
            FieldKind::TimeUsed => (squeue_duration(context.time_used_seconds(job)), false),
            FieldKind::NodeList => cut(context.node_list(job)),
            FieldKind::Command => cut("(null)".to_string()),
            FieldKind::Partition => cut(job.partition.clone()),
            FieldKind::Qos => cut("normal".to_string()),
            FieldKind::Priority => cut(context.priority(job).to_string()),
            FieldKind::Reason => cut(reason_text(job).to_string()),
            FieldKind::ReasonList => cut(reason_list(job, context)),
            FieldKind::StartTime => cut(match job.start_time_ms {
                Some(ms) => context.timestamp(ms),
                None => "N/A".to_string(),
            }),
            FieldKind::StateCompact => cut(job.state.slurm_short_name().to_string()),
            FieldKind::State => cut(job.state.slurm_name().to_string()),
            FieldKind::User => cut(job.user.clone()),
            FieldKind::UserId => cut(job.uid.to_string()),
            FieldKind::SubmitTime => cut(context.timestamp(job.submit_time_ms)),
            FieldKind::WorkDir => cut(job.spec.work_dir.clone()),
            FieldKind::Invalid(_) => (String::new(), true),
        }
    }
}

/// `UNLIMITED`/`NOT_SET` are cut like text; a duration may overflow.
fn limit_value(limit: LimitView, duration: impl Fn(TimeLimit) -> String) -> (String, bool) {
    match limit {
        LimitView::NotSet => ("NOT_SET".to_string(), true),
        LimitView::Limit(TimeLimit::Unlimited) => (duration(TimeLimit::Unlimited), true),
        LimitView::Limit(limit) => (duration(limit), false),
    }
}

/// `%R`: `(Reason)` for a job that waits or failed, else its nodes.
fn reason_list(job: &Job, context: &DisplayContext) -> String {
    match job.state {
        JobState::Pending | JobState::Timeout | JobState::Failed => {
            format!("({})", reason_text(job))
        }
        _ => context.node_list(job),
    }
}

/// One `%` field of a format.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Field {
    pub kind: FieldKind,
    pub width: usize,
    pub right_aligned: bool,
    /// Literal text printed after the field.
    pub suffix: String,
}

/// A parsed `-o` format.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JobFormat {
    /// Literal text before the first field.
    pub prefix: String,
    pub fields: Vec<Field>,
}

impl JobFormat {
    /// Parses a format; unknown letters come back as the lines squeue prints
    /// on stderr (it carries on regardless).
    pub fn parse(format: &str) -> (JobFormat, Vec<String>) {
        let mut warnings = Vec::new();
        let (prefix, body) = match format.find('%') {
            Some(index) => (&format[..index], &format[index..]),
            None => (format, ""),
        };
        let fields = body
            .split('%')
            .filter(|token| !token.is_empty())
            .map(|token| {
                let field = parse_token(token);
                if let FieldKind::Invalid(_) = field.kind {
                    let letter = token
                        .trim_start_matches('.')
                        .trim_start_matches(|c: char| c.is_ascii_digit());
                    let letter: String = letter.chars().take(1).collect();
                    warnings.push(error_line(
                        "squeue",
                        &format!("Invalid job format specification: {letter}"),
                    ));
                }
                field
            })
            .collect();
        (
            JobFormat {
                prefix: prefix.to_string(),
                fields,
            },
            warnings,
        )
    }
}

/// `[.][digits]letter suffix`, as Slurm's `_parse_token` reads it.
fn parse_token(token: &str) -> Field {
    let right_aligned = token.starts_with('.');
    let rest = if right_aligned { &token[1..] } else { token };
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    let width = rest[..digits].parse().unwrap_or(0).min(WIDTH_MAX);
    let after = &rest[digits..];
    let letter = after.chars().next();
    let suffix_start = letter.map_or(0, char::len_utf8);
    match letter.and_then(FieldKind::from_letter) {
        Some(kind) => Field {
            kind,
            width,
            right_aligned,
            suffix: after[suffix_start..].to_string(),
        },
        // Slurm prints an unknown field as the text it came from, unpadded.
        None => Field {
            kind: FieldKind::Invalid(format!("%{token}")),
            width: 0,
            right_aligned,
            suffix: format!("%{token}"),
        },
    }
}

/// Widths beyond this are clamped (Slurm formats into a bounded buffer).
const WIDTH_MAX: usize = 4_096;

/// Slurm's `_print_str`: right-aligned pads on the left and, when `cut`,
/// keeps the first `width` characters; left-aligned always keeps the first
/// `width` characters and pads on the right; width 0 prints as is.
fn fit(text: &str, width: usize, right_aligned: bool, cut: bool) -> String {
    if width == 0 {
        return text.to_string();
    }
    if right_aligned {
        let padded = format!("{text:>width$}");
        if cut {
            padded.chars().take(width).collect()
        } else {
            padded
        }
    } else {
        let kept: String = text.chars().take(width).collect();
        format!("{kept:<width$}")
    }
}

/// Prints jobs in the given format, one line each, with the header line
/// first unless `header` is false (`-h`).
pub fn format_jobs(
    jobs: &[Job],
    format: &JobFormat,
    context: &DisplayContext,
    header: bool,
) -> String {
    let mut out = String::new();
    if header {
        out.push_str(&format.prefix);
        for field in &format.fields {
            let cut = field.kind != FieldKind::ReasonList;
            out.push_str(&fit(
                field.kind.header(),
                field.width,
                field.right_aligned,
                cut,
            ));
            out.push_str(&field.suffix);
        }
        out.push('\n');
    }
    for job in jobs {
        out.push_str(&format.prefix);
        for field in &format.fields {
            let (value, cut) = field.kind.value(job, context);
            out.push_str(&fit(&value, field.width, field.right_aligned, cut));
            out.push_str(&field.suffix);
        }
        out.push('\n');
    }
    out
}

/// The first line of `squeue -l`: the time, as `ctime` prints it.
pub fn long_list_time_line(context: &DisplayContext) -> String {
    format!(
        "{}\n",
        crate::time::ctime_text(context.now_ms, context.utc_offset_seconds)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::display::tests::job;
    use proptest::prelude::*;

    fn render(format: &str, jobs: &[Job], context: &DisplayContext, header: bool) -> String {
        let (format, warnings) = JobFormat::parse(format);
        assert!(warnings.is_empty(), "{warnings:?}");
        format_jobs(jobs, &format, context, header)
    }

    #[test]
    fn parses_fields_prefix_and_suffixes() {
        let (format, warnings) = JobFormat::parse("id:%.18i|%-5j%%x");
        assert_eq!(format.prefix, "id:");
        assert_eq!(format.fields[0].width, 18);
        assert!(format.fields[0].right_aligned);
        assert_eq!(format.fields[0].suffix, "|");
        // `-` is no flag for squeue: `%-5j` is the unknown letter `-`.
        assert_eq!(
            format.fields[1].kind,
            FieldKind::Invalid("%-5j".to_string())
        );
        assert_eq!(
            warnings,
            vec![
                "squeue: error: Invalid job format specification: -",
                "squeue: error: Invalid job format specification: x",
            ]
        );
        assert_eq!(format.fields[2].kind, FieldKind::Invalid("%x".to_string()));
    }

    #[test]
    fn fits_like_print_str() {
        assert_eq!(fit("JOBID", 18, true, true), "             JOBID");
        assert_eq!(fit("long2", 3, true, true), "lon");
        assert_eq!(fit("1-00:00:00", 4, true, false), "1-00:00:00");
        assert_eq!(fit("abcdef", 3, false, false), "abc");
        assert_eq!(fit("ab", 4, false, true), "ab  ");
        assert_eq!(fit("ab", 0, true, true), "ab");
    }

    #[test]
    fn format_without_fields_prints_its_text() {
        let context = DisplayContext::new(0, 0);
        let jobs = [job(1, "a", JobState::Pending)];
        assert_eq!(render("hello", &jobs, &context, true), "hello\nhello\n");
        assert_eq!(render("", &jobs, &context, false), "\n");
    }

    #[test]
    fn pending_and_finished_reasons() {
        let context = DisplayContext::new(0, 0);
        let mut failed = job(2, "f", JobState::Failed);
        failed.start_time_ms = Some(0);
        failed.end_time_ms = Some(65_000);
        let out = render(
            "%i %t %M %R %r",
            &[job(1, "p", JobState::Pending), failed],
            &context,
            false,
        );
        assert_eq!(
            out,
            "1 PD 0:00 (None) None\n2 F 1:05 (NonZeroExitCode) NonZeroExitCode\n"
        );
    }

    #[test]
    fn time_left_and_limits() {
        let mut context = DisplayContext::new(120_000, 0);
        let mut running = job(3, "r", JobState::Running);
        running.start_time_ms = Some(0);
        std::sync::Arc::make_mut(&mut running.spec).time_limit_minutes = Some(30);
        let out = render("%l %L %M", std::slice::from_ref(&running), &context, false);
        assert_eq!(out, "30:00 28:00 2:00\n");
        std::sync::Arc::make_mut(&mut running.spec).time_limit_minutes = None;
        assert_eq!(
            render("%l|%L", std::slice::from_ref(&running), &context, false),
            "NOT_SET|NOT_SET\n"
        );
        context
            .partition_time_limits
            .insert("debug".to_string(), None);
        assert_eq!(
            render("%.9l|%L", &[running], &context, false),
            "UNLIMITED|UNLIMITED\n"
        );
    }

    proptest! {
        #[test]
        fn any_format_renders(format in "\\PC{0,30}") {
            let context = DisplayContext::new(0, 0);
            let (format, _) = JobFormat::parse(&format);
            let _ = format_jobs(&[job(1, "a", JobState::Running)], &format, &context, true);
        }
    }
}
