//! `scontrol show job` (`slurm_sprint_job_info`).
//!
//! The record is a list of lines of `Key=Value` items. Shown normally, lines
//! are joined by a newline and three spaces and the record ends with an empty
//! indented line and a blank line; with `-o` everything is on one line,
//! separated by spaces. Fields Corral does not track print what Slurm prints
//! for an unset value (`Dependency=(null)`, `Deadline=N/A`, `Features=(null)`)
//! or Slurm's defaults (`QOS=normal`, `Requeue=1`, `Scheduler=Main`).

use corral_state::{Job, JobState};

use crate::display::{reason_text, stream_path, DisplayContext, LimitView, Stream};
use crate::error::{SlurmError, EXIT_FAILURE};
use crate::memory::format_megabytes;
use crate::time::{clock_duration, limit_minutes_text, slurm_time_text, TimeLimit};

const MILLISECONDS_PER_MINUTE: u64 = 60_000;

/// How `show job` lays a record out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layout {
    /// One `Key=Value` group per line, indented three spaces.
    Lines,
    /// `scontrol -o`: the whole record on one line.
    OneLine,
}

/// Whether `show job` prints the allocation's details (`scontrol -d`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Details {
    #[default]
    Plain,
    /// `-d`: `JOB_GRES=` and one `Nodes=... Mem=... GRES=...` line per
    /// group of nodes holding the same share.
    Allocation,
}

/// `scontrol show job` for one job.
pub fn show_job(job: &Job, context: &DisplayContext, layout: Layout) -> String {
    show_job_with(job, context, layout, Details::Plain)
}

/// `scontrol [-d] show job` for one job.
pub fn show_job_with(
    job: &Job,
    context: &DisplayContext,
    layout: Layout,
    details: Details,
) -> String {
    let (separator, end) = match layout {
        Layout::Lines => ("\n   ", "\n\n"),
        Layout::OneLine => (" ", "\n"),
    };
    let lines: Vec<String> = record_lines(job, context, details)
        .into_iter()
        .map(|items| items.join(" "))
        .collect();
    format!("{}{separator}{end}", lines.join(separator))
}

/// `scontrol show job` for several jobs, one record after the other.
pub fn show_jobs(jobs: &[Job], context: &DisplayContext, layout: Layout) -> String {
    show_jobs_with(jobs, context, layout, Details::Plain)
}

/// `scontrol [-d] show job` for several jobs.
pub fn show_jobs_with(
    jobs: &[Job],
    context: &DisplayContext,
    layout: Layout,
    details: Details,
) -> String {
    jobs.iter()
        .map(|job| show_job_with(job, context, layout, details))
        .collect()
}

/// `slurm_load_jobs error: Invalid job id specified` (a job that does not
/// exist), exit 1.
pub fn unknown_job_error() -> SlurmError {
    SlurmError::new(
        vec!["slurm_load_jobs error: Invalid job id specified".to_string()],
        EXIT_FAILURE,
    )
}

/// `scontrol_print_job error: Invalid job id specified` (an id that is not a
/// number), exit 1.
pub fn malformed_job_id_error() -> SlurmError {
    SlurmError::new(
        vec!["scontrol_print_job error: Invalid job id specified".to_string()],
        EXIT_FAILURE,
    )
}

fn item(key: &str, value: impl std::fmt::Display) -> String {
    format!("{key}={value}")
}

fn record_lines(job: &Job, context: &DisplayContext, details: Details) -> Vec<Vec<String>> {
    let time = |ms: Option<u64>| slurm_time_text(ms, context.utc_offset_seconds);
    let times = JobTimes::of(job, context);
    let node_list = context.node_list(job);
    let mut lines = vec![
        match job.array {
            Some(task) => vec![
                item("JobId", job.id),
                item("ArrayJobId", task.array_job_id),
                item("ArrayTaskId", task.task_id),
                item("JobName", &job.spec.name),
            ],
            None => vec![item("JobId", job.id), item("JobName", &job.spec.name)],
        },
        vec![
            item("UserId", format!("{}({})", job.user, job.uid)),
            item(
                "GroupId",
                format!("{}({})", context.group_name(job.gid), job.gid),
            ),
            item("MCS_label", "N/A"),
        ],
        vec![
            item("Priority", context.priority(job)),
            item("Nice", job.spec.nice),
            item("Account", context.account(job)),
            item("QOS", job.spec.qos.as_deref().unwrap_or("normal")),
        ],
        vec![
            item("JobState", job.state.slurm_name()),
            // Slurm prints a reason's description with underscores.
            item("Reason", reason_text(job).replace(' ', "_")),
            item(
                "Dependency",
                job.dependencies
                    .as_ref()
                    .map_or_else(|| "(null)".to_string(), |d| d.slurm_text()),
            ),
        ],
        vec![
            item("Requeue", 1),
            item("Restarts", job.requeue_count),
            item("BatchFlag", 1),
            item("Reboot", 0),
            item("ExitCode", job.exit_status),
        ],
        vec![
            item("RunTime", clock_duration(context.time_used_seconds(job))),
            item("TimeLimit", time_limit_text(context.time_limit(job))),
            item("TimeMin", "N/A"),
        ],
        vec![
            item("SubmitTime", time(Some(job.submit_time_ms))),
            item("EligibleTime", time(times.eligible_ms)),
        ],
        vec![item("AccrueTime", time(times.eligible_ms))],
        vec![
            item("StartTime", time(times.start_ms)),
            item("EndTime", time(times.end_ms)),
            item("Deadline", "N/A"),
        ],
        vec![
            item("SuspendTime", "None"),
            item("SecsPreSuspend", 0),
            item("LastSchedEval", time(times.last_schedule_ms)),
            item("Scheduler", "Main"),
        ],
        vec![
            item("Partition", &job.partition),
            item(
                "AllocNode:Sid",
                format!("{}:0", or_null(&job.spec.submit_host)),
            ),
        ],
        vec![item("ReqNodeList", "(null)"), item("ExcNodeList", "(null)")],
        vec![item("NodeList", &node_list)],
    ];
    if let Some(batch_host) = context.nodes(job).first() {
        lines.push(vec![item("BatchHost", batch_host)]);
    }
    lines.extend(resource_lines(job, context, details));
    lines.extend([
        vec![item("Command", "(null)")],
        vec![item("WorkDir", &job.spec.work_dir)],
    ]);
    if let Some(comment) = &job.spec.comment {
        // Slurm prints this item with a space after it.
        lines.push(vec![format!("Comment={comment} ")]);
    }
    lines.extend([
        vec![item("StdErr", stream_path(job, Stream::Stderr))],
        vec![item("StdIn", stream_path(job, Stream::Stdin))],
        vec![item("StdOut", stream_path(job, Stream::Stdout))],
        vec![item("Power", "")],
    ]);
    lines
}

/// The job's trackable resources: `cpu=4,mem=2G,node=1,billing=4`.
pub(crate) fn tres_text(job: &Job, context: &DisplayContext) -> String {
    let cpus = context.cpu_count(job);
    let nodes = context.node_count(job);
    let memory_mb = job.spec.memory_per_node_mb.unwrap_or(0);
    let mut tres = vec![item("cpu", cpus)];
    if memory_mb > 0 {
        tres.push(item(
            "mem",
            format_megabytes(memory_mb.saturating_mul(nodes)),
        ));
    }
    tres.push(item("node", nodes));
    tres.push(item("billing", cpus));
    tres.join(",")
}

fn resource_lines(job: &Job, context: &DisplayContext, details: Details) -> Vec<Vec<String>> {
    let cpus = context.cpu_count(job);
    let nodes = context.node_count(job);
    let memory_mb = job.spec.memory_per_node_mb.unwrap_or(0);
    let mut lines = vec![
        vec![
            item("NumNodes", nodes),
            item("NumCPUs", cpus),
            item("NumTasks", job.spec.ntasks),
            item("CPUs/Task", job.spec.cpus_per_task),
            item("ReqB:S:C:T", "0:0:*:*"),
        ],
        vec![item("TRES", tres_text(job, context))],
        vec![
            item("Socks/Node", "*"),
            item("NtasksPerN:B:S:C", "0:0:*:*"),
            item("CoreSpec", "*"),
        ],
    ];
    if details == Details::Allocation {
        lines.extend(allocation_lines(job));
    }
    lines.extend([
        vec![
            item("MinCPUsNode", job.spec.cpus_per_task),
            item("MinMemoryNode", format_megabytes(memory_mb)),
            item("MinTmpDiskNode", 0),
        ],
        vec![item("Features", "(null)"), item("DelayBoot", "00:00:00")],
        vec![
            item("OverSubscribe", "OK"),
            item("Contiguous", 0),
            item("Licenses", "(null)"),
            item("Network", "(null)"),
        ],
    ]);
    lines
}

/// `-d`: `JOB_GRES=gpu:2` (`(null)` without GPUs), then `  Nodes=n[1-2]
/// Mem=1024 GRES=gpu:1(IDX:0)` for each run of nodes holding the same
/// share, memory in MB. Slurm also prints `CPU_IDs=` (the cores bound);
/// Corral does not bind CPUs to cores, so it leaves that item out. Only a
/// job that holds (or held) an allocation has these lines.
fn allocation_lines(job: &Job) -> Vec<Vec<String>> {
    let Some(allocation) = job
        .allocation
        .as_ref()
        .filter(|_| job.state != JobState::Pending)
    else {
        return Vec::new();
    };
    let gpus: usize = allocation.shares.iter().map(|share| share.gpus.len()).sum();
    let job_gres = match gpus {
        0 => "(null)".to_string(),
        count => format!("gpu:{count}"),
    };
    let mut lines = vec![vec![item("JOB_GRES", job_gres)]];
    let mut runs: Vec<(Vec<String>, u64, String)> = Vec::new();
    for share in &allocation.shares {
        let gres = share_gres_text(&share.gpus);
        match runs.last_mut() {
            Some((names, memory_mb, last_gres))
                if *memory_mb == share.memory_mb && *last_gres == gres =>
            {
                names.push(share.node.clone())
            }
            _ => runs.push((vec![share.node.clone()], share.memory_mb, gres)),
        }
    }
    for (names, memory_mb, gres) in runs {
        lines.push(vec![format!(
            "  Nodes={} Mem={memory_mb} GRES={gres}",
            corral_state::hostlist::compress(&names)
        )]);
    }
    lines
}

/// A node's GPUs as Slurm's `gres_detail_str`: `gpu:2(IDX:0-1)`, empty
/// without GPUs.
fn share_gres_text(gpus: &[u32]) -> String {
    if gpus.is_empty() {
        return String::new();
    }
    let mut sorted = gpus.to_vec();
    sorted.sort_unstable();
    format!(
        "gpu:{}(IDX:{})",
        gpus.len(),
        corral_state::ArraySpec::compact(&sorted, None)
    )
}

fn time_limit_text(limit: LimitView) -> String {
    match limit {
        LimitView::NotSet => "Partition_Limit".to_string(),
        LimitView::Limit(limit) => limit_minutes_text(limit),
    }
}

fn or_null(text: &str) -> &str {
    if text.is_empty() {
        "(null)"
    } else {
        text
    }
}

/// The times Slurm keeps for a job, derived from what Corral records.
pub(crate) struct JobTimes {
    /// When the job became eligible: at submission unless held.
    pub(crate) eligible_ms: Option<u64>,
    pub(crate) start_ms: Option<u64>,
    pub(crate) end_ms: Option<u64>,
    pub(crate) last_schedule_ms: Option<u64>,
}

impl JobTimes {
    pub(crate) fn of(job: &Job, context: &DisplayContext) -> JobTimes {
        let held = job.state == JobState::Pending && job.reason.is_hold();
        // A job cancelled before it started ends and "starts" at once in Slurm.
        let start_ms = match job.state {
            JobState::Pending => None,
            _ => job.start_time_ms.or(job.end_time_ms),
        };
        let end_ms = match (job.state, context.time_limit(job), start_ms) {
            (JobState::Pending, _, _) => None,
            (
                JobState::Running | JobState::Completing,
                LimitView::Limit(TimeLimit::Minutes(m)),
                Some(start),
            ) => Some(start + u64::from(m) * MILLISECONDS_PER_MINUTE),
            (JobState::Running | JobState::Completing, _, _) => None,
            _ => job.end_time_ms,
        };
        JobTimes {
            eligible_ms: if held { None } else { Some(job.submit_time_ms) },
            start_ms,
            end_ms,
            last_schedule_ms: start_ms.or(Some(job.submit_time_ms)),
        }
    }
}

/// `scontrol show step [ID[.STEP]]` (`slurm_sprint_job_step_info`): the
/// running steps of `jobs` that `wanted` names (`(job, None)`: all of the
/// job's), each a record of Slurm's lines. Corral does not know `srun`'s
/// process id, so the `SrunHost:Pid` line is left out; a step's memory is
/// not tracked (`mem=0`). `None` when nothing matches.
pub fn show_steps(
    jobs: &[Job],
    wanted: Option<(u32, Option<u64>)>,
    context: &DisplayContext,
    layout: Layout,
) -> Option<String> {
    let (separator, end) = match layout {
        Layout::Lines => ("\n   ", "\n\n"),
        Layout::OneLine => (" ", "\n"),
    };
    let rows: Vec<_> = crate::steps::running_steps(jobs)
        .into_iter()
        .filter(|row| {
            wanted.is_none_or(|(job, step)| {
                (row.job.id == job || row.job.array.is_some_and(|a| a.array_job_id == job))
                    && step.is_none_or(|step| step == row.number())
            })
        })
        .collect();
    if rows.is_empty() {
        return None;
    }
    let mut out = String::new();
    for row in rows {
        let limit = row
            .time_limit_minutes()
            .map_or("UNLIMITED".to_string(), |minutes| {
                clock_duration(i64::from(minutes) * 60)
            });
        let nodes = row.node_names().len();
        let dist = if row.step.is_some() {
            " Dist=Block"
        } else {
            ""
        };
        let lines = [
            format!(
                "StepId={} UserId={} StartTime={} TimeLimit={limit}",
                row.id_text(),
                row.job.uid,
                slurm_time_text(row.start_time_ms(), context.utc_offset_seconds),
            ),
            format!(
                "State={} Partition={} NodeList={}",
                JobState::Running.slurm_name(),
                row.job.partition,
                row.node_list()
            ),
            format!(
                "Nodes={nodes} CPUs={} Tasks={} Name={} Network=(null)",
                row.cpus(),
                row.tasks(),
                row.name()
            ),
            format!("TRES=cpu={},mem=0,node={nodes}", row.cpus()),
            "ResvPorts=(null)".to_string(),
            format!("CPUFreqReq=Default{dist}"),
        ];
        out.push_str(&lines.join(separator));
        out.push_str(end);
    }
    Some(out)
}

/// `ID`, `ID_TASK`, `ID.STEP`, `ID.batch` of `show step`: the job (or
/// array) id and the step number (`batch` is Slurm's number for it).
pub fn parse_step_id(text: &str) -> Option<(u32, Option<u32>, Option<u64>)> {
    let (job, step) = match text.split_once('.') {
        Some((job, "batch")) => (job, Some(0xffff_fffb)),
        Some((job, step)) => (job, Some(step.parse::<u64>().ok()?)),
        None => (text, None),
    };
    let (job, task) = match job.split_once('_') {
        Some((job, task)) => (job, Some(task.parse::<u32>().ok()?)),
        None => (job, None),
    };
    let job = job.parse::<u32>().ok().filter(|id| *id > 0)?;
    Some((job, task, step))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::display::tests::job;
    use corral_state::JobReason;

    #[test]
    fn show_step_prints_slurms_records() {
        let jobs = vec![crate::squeue::steps::tests::job_with_steps()];
        let context = DisplayContext::new(85_000, 0);
        let text = show_steps(&jobs, Some((7, Some(0))), &context, Layout::Lines).unwrap();
        assert_eq!(
            text,
            "StepId=7.0 UserId=1000 StartTime=1970-01-01T00:00:20 TimeLimit=UNLIMITED\n   \
             State=RUNNING Partition=debug NodeList=n[1-2]\n   \
             Nodes=2 CPUs=3 Tasks=3 Name=hostname Network=(null)\n   \
             TRES=cpu=3,mem=0,node=2\n   \
             ResvPorts=(null)\n   \
             CPUFreqReq=Default Dist=Block\n\n"
        );
        let all = show_steps(&jobs, None, &context, Layout::OneLine).unwrap();
        assert_eq!(all.lines().count(), 2);
        assert!(all
            .lines()
            .nth(1)
            .unwrap()
            .starts_with("StepId=7.batch UserId=1000 "));
        assert_eq!(
            show_steps(&jobs, Some((7, Some(1))), &context, Layout::Lines),
            None,
            "ended"
        );
        assert_eq!(
            show_steps(&jobs, Some((9, None)), &context, Layout::Lines),
            None
        );
    }

    #[test]
    fn step_ids_parse_or_are_refused() {
        assert_eq!(parse_step_id("7"), Some((7, None, None)));
        assert_eq!(parse_step_id("7.3"), Some((7, None, Some(3))));
        assert_eq!(
            parse_step_id("7_2.batch"),
            Some((7, Some(2), Some(0xffff_fffb)))
        );
        for bad in ["", "x", "7.", "7.x", "0.1", "7_x.0", "-1"] {
            assert_eq!(parse_step_id(bad), None, "{bad}");
        }
    }

    #[test]
    fn one_line_and_lines_layouts_hold_the_same_items() {
        let context = DisplayContext::new(0, 0);
        let j = job(3, "x", JobState::Pending);
        let lines = show_job(&j, &context, Layout::Lines);
        let one = show_job(&j, &context, Layout::OneLine);
        assert!(lines.ends_with("   Power=\n   \n\n"));
        assert!(one.ends_with(" Power= \n"));
        assert_eq!(
            lines.split_whitespace().collect::<Vec<_>>(),
            one.split_whitespace().collect::<Vec<_>>()
        );
        assert!(
            lines.contains("\n   NodeList=\n   NumNodes=1 "),
            "no BatchHost while pending"
        );
        assert!(lines.contains("TimeLimit=Partition_Limit"));
    }

    #[test]
    fn held_job_is_not_eligible() {
        let context = DisplayContext::new(0, 0);
        let mut j = job(3, "x", JobState::Pending);
        j.reason = JobReason::JobHeldUser;
        j.submit_time_ms = 1_000_000;
        let text = show_job(&j, &context, Layout::Lines);
        assert!(text.contains("EligibleTime=Unknown"));
        assert!(text.contains("AccrueTime=Unknown"));
        assert!(text.contains("Reason=JobHeldUser"));
        j.reason = JobReason::RequeueHold;
        j.requeue_count = 2;
        let text = show_job(&j, &context, Layout::Lines);
        assert!(text.contains("Reason=job_requeued_in_held_state Dependency="));
        assert!(text.contains("Restarts=2 "));
        assert!(text.contains("EligibleTime=Unknown"));
    }

    #[test]
    fn running_job_with_limit_has_an_end_time_and_memory() {
        let mut context = DisplayContext::new(61_000, 0);
        let mut j = job(3, "x", JobState::Running);
        j.start_time_ms = Some(1_000);
        std::sync::Arc::make_mut(&mut j.spec).time_limit_minutes = Some(30);
        std::sync::Arc::make_mut(&mut j.spec).memory_per_node_mb = Some(1_024);
        std::sync::Arc::make_mut(&mut j.spec).nodes = 2;
        context.node_names.insert(3, vec!["n1".into(), "n2".into()]);
        let text = show_job(&j, &context, Layout::Lines);
        assert!(text.contains("RunTime=00:01:00 TimeLimit=00:30:00 TimeMin=N/A"));
        assert!(text.contains("EndTime=1970-01-01T00:30:01"));
        assert!(text.contains("NodeList=n[1-2]\n   BatchHost=n1\n"));
        assert!(text.contains("TRES=cpu=1,mem=2G,node=2,billing=1"));
        assert!(text.contains("MinMemoryNode=1G"));
    }

    #[test]
    fn details_list_each_share_and_comments_print() {
        use corral_state::{Allocation, AllocationId, NodeShare};
        let mut context = DisplayContext::new(61_000, 0);
        let mut j = job(3, "x", JobState::Running);
        j.start_time_ms = Some(1_000);
        std::sync::Arc::make_mut(&mut j.spec).comment = Some("note".to_string());
        let share = |node: &str, memory_mb, gpus: Vec<u32>| NodeShare {
            node: node.to_string(),
            cpus: 4,
            memory_mb,
            gpus,
        };
        j.allocation = Some(Allocation {
            id: AllocationId(1),
            shares: vec![
                share("n1", 1_024, vec![0, 1]),
                share("n2", 1_024, vec![0, 1]),
                share("n3", 512, vec![]),
            ],
        });
        context
            .node_names
            .insert(3, vec!["n1".into(), "n2".into(), "n3".into()]);
        let plain = show_job(&j, &context, Layout::Lines);
        assert!(!plain.contains("JOB_GRES"));
        assert!(plain.contains("\n   WorkDir=/home/alice/work\n   Comment=note \n   StdErr="));
        let detailed = show_job_with(&j, &context, Layout::Lines, Details::Allocation);
        assert!(detailed.contains(
            "CoreSpec=*\n   JOB_GRES=gpu:4\n     Nodes=n[1-2] Mem=1024 GRES=gpu:2(IDX:0-1)\n     Nodes=n3 Mem=512 GRES=\n   MinCPUsNode=1"
        ), "{detailed}");
        let one = show_job_with(&j, &context, Layout::OneLine, Details::Allocation);
        assert!(
            one.contains(" JOB_GRES=gpu:4   Nodes=n[1-2] Mem=1024 GRES=gpu:2(IDX:0-1)   Nodes=n3")
        );
        j.state = JobState::Pending;
        let pending = show_job_with(&j, &context, Layout::Lines, Details::Allocation);
        assert!(!pending.contains("JOB_GRES"));
    }

    #[test]
    fn error_texts() {
        assert_eq!(
            unknown_job_error().stderr_text(),
            "slurm_load_jobs error: Invalid job id specified\n"
        );
        assert_eq!(malformed_job_id_error().exit_code, 1);
    }
}
