//! What sacct prints for accounting rows: the database's selection
//! (`as_mysql_jobacct_process.c`), sacct's order and its columns
//! (`src/sacct/print.c`).
//!
//! Selection: with `-s`, a job matches a state as slurmdbd's
//! `_state_time_string` has it (pending: eligible before the end and not
//! started before the start; running: started before the end and not ended
//! before the start; a final state: ended inside the window, both ends
//! included). Without `-s`: with `-j`, submitted before the end and not
//! ended before the start; else eligible before the end and not ended
//! before the start (held jobs and jobs waiting on a dependency have no
//! eligible time and are not shown). Then users, accounts, partitions,
//! names, nodes and QOS.
//!
//! Order: submit time, then array id, task index and job id; each job's
//! steps after it, the batch step first. Tasks of an array that never
//! started and share a state print as one line, `15_[1-5]`, as Slurm keeps
//! them in one record.

use corral_state::{hostlist, ExitStatus, JobRecord, JobState, StepId, StepRecord};

use crate::memory::format_megabytes;
use crate::time::{clock_duration, limit_minutes_text, TimeLimit};

use super::fields::{Column, Field};
use super::print_fields::Cell;
use super::{
    time_text, JobSelection, SacctConfig, StateSelection, StepSelection, UserSelection,
    MILLISECONDS_PER_SECOND,
};

/// What sacct writes and its exit code.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SacctOutput {
    pub stdout: String,
    pub stderr: String,
    pub exit_code: i32,
}

/// Slurm's `NO_VAL` array task id: the sort key of a job outside arrays.
const NO_ARRAY_TASK: u32 = 0xffff_fffe;
/// Slurm's `NodeList` of a job that was never given nodes.
const NO_NODES: &str = "None assigned";
/// The QOS a job has when it named none (Slurm's default QOS).
const DEFAULT_QOS: &str = "normal";

fn seconds(ms: u64) -> i64 {
    i64::try_from(ms / MILLISECONDS_PER_SECOND).unwrap_or(i64::MAX)
}

fn optional_seconds(ms: Option<u64>) -> Option<i64> {
    ms.map(seconds).filter(|&s| s > 0)
}

/// Which lines of a selected job to print.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Shown {
    job_line: bool,
    /// `None`: every step.
    steps: Option<Vec<StepId>>,
}

fn job_matches_selection(job: &JobRecord, selection: &JobSelection) -> bool {
    match selection.array_task_id {
        Some(task) => job.array_job_id == Some(selection.job_id) && job.array_task_id == Some(task),
        None => job.job_id == selection.job_id || job.array_job_id == Some(selection.job_id),
    }
}

fn shown_lines(job: &JobRecord, selections: Option<&[JobSelection]>) -> Option<Shown> {
    let Some(selections) = selections else {
        return Some(Shown {
            job_line: true,
            steps: None,
        });
    };
    let matching: Vec<&JobSelection> = selections
        .iter()
        .filter(|s| job_matches_selection(job, s))
        .collect();
    if matching.is_empty() {
        return None;
    }
    if matching.iter().any(|s| s.step == StepSelection::Whole) {
        return Some(Shown {
            job_line: true,
            steps: None,
        });
    }
    let steps = matching
        .iter()
        .filter_map(|s| match s.step {
            StepSelection::Step(step) => Some(step),
            _ => None,
        })
        .collect();
    Some(Shown {
        job_line: false,
        steps: Some(steps),
    })
}

/// slurmdbd's `_state_time_string` for one state.
fn in_state_during(job: &JobRecord, state: StateSelection, start: i64, end: i64) -> bool {
    let StateSelection::Job(state) = state else {
        return false;
    };
    let started = optional_seconds(job.start_time_ms);
    let ended = optional_seconds(job.end_time_ms);
    let eligible = optional_seconds(job.eligible_time_ms);
    match state {
        JobState::Pending => {
            let Some(eligible) = eligible else {
                return false;
            };
            let still_or_later = match (started, ended) {
                (Some(started), _) => start < started,
                (None, Some(ended)) => start < ended,
                (None, None) => job.state == JobState::Pending,
            };
            still_or_later && end > eligible
        }
        JobState::Running | JobState::Completing => {
            let Some(started) = started else {
                return false;
            };
            let running = matches!(job.state, JobState::Running | JobState::Completing);
            let not_before = match ended {
                Some(ended) => start < ended,
                None => running,
            };
            not_before && end > started
        }
        _ => job.state == state && ended.is_some_and(|e| (start..=end).contains(&e)),
    }
}

fn in_window(job: &JobRecord, config: &SacctConfig) -> bool {
    let TimeWindow {
        start_seconds: start,
        end_seconds: end,
    } = config.window;
    if let Some(states) = &config.states {
        return states.iter().any(|&s| in_state_during(job, s, start, end));
    }
    let not_ended_before = optional_seconds(job.end_time_ms).is_none_or(|ended| ended >= start);
    if config.jobs.is_some() {
        return seconds(job.submit_time_ms) < end && not_ended_before;
    }
    if start != 0 {
        return optional_seconds(job.eligible_time_ms).is_some_and(|e| e < end) && not_ended_before;
    }
    optional_seconds(job.eligible_time_ms).is_some_and(|e| e < end)
}

use super::TimeWindow;

fn qos_of(job: &JobRecord) -> &str {
    job.qos.as_deref().unwrap_or(DEFAULT_QOS)
}

fn passes_filters(job: &JobRecord, config: &SacctConfig) -> bool {
    let users = config.users.as_ref().is_none_or(|users| {
        users.iter().any(|user| match user {
            UserSelection::Name(name) => *name == job.user,
            UserSelection::Uid(uid) => *uid == job.uid,
        })
    });
    let accounts = config.accounts.as_ref().is_none_or(|accounts| {
        job.account
            .as_ref()
            .is_some_and(|account| accounts.iter().any(|a| a.eq_ignore_ascii_case(account)))
    });
    let partitions = config
        .partitions
        .as_ref()
        .is_none_or(|partitions| partitions.contains(&job.partition));
    let names = config
        .names
        .as_ref()
        .is_none_or(|names| names.contains(&job.name));
    let nodes = config
        .nodes
        .as_ref()
        .is_none_or(|nodes| job.nodes.iter().any(|node| nodes.contains(node)));
    let qos = config
        .qos
        .as_ref()
        .is_none_or(|qos| qos.iter().any(|q| q.eq_ignore_ascii_case(qos_of(job))));
    users && accounts && partitions && names && nodes && qos
}

/// A job line as printed: the record, and for a folded array the task
/// indices it stands for.
struct JobLine<'a> {
    job: &'a JobRecord,
    folded_tasks: Option<Vec<u32>>,
    steps: Vec<&'a StepRecord>,
    job_line: bool,
}

fn never_started(job: &JobRecord) -> bool {
    job.array_job_id.is_some() && job.start_time_ms.is_none() && job.requeue_count == 0
}

fn sort_key(job: &JobRecord) -> (u64, u32, u32, u32) {
    (
        job.submit_time_ms / MILLISECONDS_PER_SECOND,
        job.array_job_id.unwrap_or(0),
        job.array_task_id.unwrap_or(NO_ARRAY_TASK),
        job.job_id,
    )
}

fn select_lines<'a>(
    rows: &'a [(JobRecord, Vec<StepRecord>)],
    config: &SacctConfig,
) -> Vec<JobLine<'a>> {
    let mut selected: Vec<(&JobRecord, &Vec<StepRecord>, Shown)> = rows
        .iter()
        .filter(|(job, _)| in_window(job, config) && passes_filters(job, config))
        .filter_map(|(job, steps)| {
            shown_lines(job, config.jobs.as_deref()).map(|shown| (job, steps, shown))
        })
        .collect();
    selected.sort_by_key(|(job, _, _)| sort_key(job));
    let mut lines: Vec<JobLine> = Vec::new();
    for (job, steps, shown) in selected {
        if never_started(job) && shown.job_line {
            let fold_into = lines.iter_mut().find(|line| {
                line.folded_tasks.is_some()
                    && line.job.array_job_id == job.array_job_id
                    && line.job.state == job.state
            });
            if let (Some(line), Some(task)) = (fold_into, job.array_task_id) {
                if let Some(tasks) = line.folded_tasks.as_mut() {
                    tasks.push(task);
                }
                continue;
            }
        }
        let mut steps: Vec<&StepRecord> = if config.allocations_only {
            Vec::new()
        } else {
            steps
                .iter()
                .filter(|step| {
                    shown
                        .steps
                        .as_ref()
                        .is_none_or(|wanted| wanted.contains(&step.step_id))
                })
                .collect()
        };
        steps.sort_by_key(|step| step.step_id);
        let folded_tasks =
            (never_started(job) && shown.job_line).then(|| job.array_task_id.into_iter().collect());
        lines.push(JobLine {
            job,
            folded_tasks,
            steps,
            job_line: shown.job_line,
        });
    }
    lines
}

/// `1-5`, `1,3,5-7`: Slurm's bitmap text of task indices.
fn task_ranges(tasks: &[u32]) -> String {
    let mut sorted = tasks.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    let mut parts: Vec<String> = Vec::new();
    let mut index = 0;
    while index < sorted.len() {
        let first = sorted[index];
        let mut last = first;
        while index + 1 < sorted.len() && sorted[index + 1] == last + 1 {
            index += 1;
            last = sorted[index];
        }
        parts.push(if first == last {
            first.to_string()
        } else {
            format!("{first}-{last}")
        });
        index += 1;
    }
    parts.join(",")
}

fn job_id_text(line: &JobLine) -> String {
    let job = line.job;
    match (job.array_job_id, job.array_task_id, &line.folded_tasks) {
        (Some(array), _, Some(tasks)) if tasks.len() > 1 => {
            format!("{array}_[{}]", task_ranges(tasks))
        }
        (Some(array), Some(task), _) => format!("{array}_{task}"),
        _ => job.job_id.to_string(),
    }
}

fn raw_job_id(line: &JobLine) -> u32 {
    match (&line.folded_tasks, line.job.array_job_id) {
        (Some(tasks), Some(array)) if tasks.len() > 1 => array,
        _ => line.job.job_id,
    }
}

/// `ExitCode`: `code:signal`, codes above 127 reduced as Slurm does.
fn exit_text(status: ExitStatus) -> String {
    let code = if status.code >= 128 {
        status.code - 128
    } else {
        status.code
    };
    format!("{code}:{}", status.signal)
}

fn state_name(state: JobState) -> &'static str {
    state.slurm_name()
}

/// Times as sacct shows them for one line.
struct Times {
    start: Option<i64>,
    end: Option<i64>,
    elapsed: i64,
    /// Never started but ended: Slurm prints `None` as the start.
    start_is_none: bool,
}

fn job_times(job: &JobRecord, config: &SacctConfig, now: i64) -> Times {
    let mut start = optional_seconds(job.start_time_ms);
    let mut end = optional_seconds(job.end_time_ms);
    if let (Some(s), Some(e)) = (start, end) {
        if s > e {
            start = Some(e);
        }
    }
    if config.truncate {
        let window_end = config.window.end_seconds.min(now);
        if let Some(s) = start {
            start = Some(s.max(config.window.start_seconds));
        }
        let clipped_end = match end {
            Some(e) if e <= window_end => e,
            _ => window_end,
        };
        end = Some(clipped_end);
        let clipped_start = start.unwrap_or(clipped_end);
        start = Some(clipped_start);
        return Times {
            start,
            end,
            elapsed: (clipped_end - clipped_start).max(0),
            start_is_none: false,
        };
    }
    let elapsed = match (start, end) {
        (None, _) => 0,
        (Some(s), None) => now - s,
        (Some(s), Some(e)) => e - s,
    };
    Times {
        start,
        end,
        elapsed: elapsed.max(0),
        start_is_none: start.is_none() && end.is_some(),
    }
}

fn step_times(job: &JobRecord, step: &StepRecord, config: &SacctConfig, now: i64) -> Times {
    let job_end = optional_seconds(job.end_time_ms);
    let mut start = optional_seconds(Some(step.start_time_ms));
    let mut end = optional_seconds(step.end_time_ms).or(job_end);
    if config.truncate && config.window.start_seconds != 0 {
        if let Some(s) = start {
            start = Some(s.max(config.window.start_seconds));
        }
        if start.is_none() {
            start = end;
        }
        end = match end {
            Some(e) if e <= config.window.end_seconds => Some(e),
            _ => Some(config.window.end_seconds),
        };
        if let (Some(s), Some(e)) = (start, end) {
            if s > e {
                (start, end) = (None, None);
            }
        }
    }
    let elapsed = match (start, end) {
        (None, _) => 0,
        (Some(s), None) => now - s,
        (Some(s), Some(e)) => e - s,
    };
    Times {
        start,
        end,
        elapsed: elapsed.max(0),
        start_is_none: false,
    }
}

fn date(seconds: Option<i64>, offset: i32) -> Cell {
    Cell::Date(time_text(seconds.unwrap_or(0), offset))
}

fn megabytes_text(megabytes: u64, convert: bool) -> String {
    if convert {
        format_megabytes(megabytes)
    } else if megabytes == 0 {
        "0".to_string()
    } else {
        format!("{megabytes}M")
    }
}

/// `billing=4,cpu=4,gres/gpu=1,mem=1G,node=1`, the order sacct prints.
fn tres_text(
    billing: bool,
    cpus: u32,
    gpus: u32,
    memory_mb: u64,
    nodes: u32,
    convert: bool,
) -> String {
    let mut parts = Vec::new();
    if billing {
        parts.push(format!("billing={cpus}"));
    }
    parts.push(format!("cpu={cpus}"));
    if gpus > 0 {
        parts.push(format!("gres/gpu={gpus}"));
    }
    if memory_mb > 0 {
        parts.push(format!("mem={}", megabytes_text(memory_mb, convert)));
    }
    parts.push(format!("node={nodes}"));
    parts.join(",")
}

fn count(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// Everything a line needs besides the records.
pub(super) struct LineContext<'a> {
    config: &'a SacctConfig,
    now: i64,
    cluster: &'a str,
    group_name: &'a dyn Fn(u32) -> Option<String>,
}

fn job_cell(line: &JobLine, field: Field, context: &LineContext) -> Cell {
    let job = line.job;
    let config = context.config;
    let offset = config.utc_offset_seconds;
    let times = job_times(job, config, context.now);
    let alloc_cpus = if job.alloc_cpus > 0 {
        job.alloc_cpus
    } else {
        job.req_cpus
    };
    let started = !job.nodes.is_empty();
    let text = |s: String| Cell::Text(Some(s));
    match field {
        Field::Account => Cell::Text(job.account.clone()),
        Field::AllocCpus => Cell::Number(Some(u64::from(alloc_cpus))),
        Field::AllocNodes => text(job.nodes.len().to_string()),
        Field::AllocTres => Cell::Text(started.then(|| {
            tres_text(
                true,
                job.alloc_cpus,
                job.alloc_gpus,
                job.alloc_memory_mb,
                count(job.nodes.len()),
                config.convert_units,
            )
        })),
        Field::Cluster => text(context.cluster.to_string()),
        Field::Comment => Cell::Text(job.comment.clone()),
        Field::CpuTime => text(clock_duration(times.elapsed * i64::from(alloc_cpus))),
        Field::CpuTimeRaw => {
            Cell::Number(u64::try_from(times.elapsed * i64::from(alloc_cpus)).ok())
        }
        Field::DerivedExitCode => text(exit_text(job.derived_exit_status)),
        Field::Elapsed => text(clock_duration(times.elapsed)),
        Field::ElapsedRaw => Cell::Number(u64::try_from(times.elapsed).ok()),
        Field::Eligible => date(optional_seconds(job.eligible_time_ms), offset),
        Field::End => date(times.end, offset),
        Field::ExitCode => text(exit_text(job.exit_status)),
        Field::Gid => Cell::Number(Some(u64::from(job.gid))),
        Field::Group => Cell::Text((context.group_name)(job.gid)),
        Field::JobId => text(job_id_text(line)),
        Field::JobIdRaw => text(raw_job_id(line).to_string()),
        Field::JobName => text(job.name.clone()),
        Field::NNodes => Cell::Number(Some(u64::from(if started {
            count(job.nodes.len())
        } else {
            job.req_nodes
        }))),
        Field::NodeList => text(if started {
            hostlist::compress(&job.nodes)
        } else {
            NO_NODES.to_string()
        }),
        Field::NTasks => Cell::Number(None),
        Field::Partition => text(job.partition.clone()),
        Field::Qos => text(qos_of(job).to_string()),
        Field::Reason => text(job.reason.clone()),
        Field::ReqCpus => Cell::Number(Some(u64::from(job.req_cpus))),
        Field::ReqMem => {
            let requested = job
                .req_memory_per_node_mb
                .map(|mb| mb * u64::from(job.req_nodes.max(1)));
            text(megabytes_text(
                requested.unwrap_or(job.alloc_memory_mb),
                config.convert_units,
            ))
        }
        Field::ReqNodes => text(job.req_nodes.to_string()),
        Field::ReqTres => text(tres_text(
            true,
            job.req_cpus,
            job.req_gpus_per_node * job.req_nodes.max(1),
            job.req_memory_per_node_mb
                .map_or(job.alloc_memory_mb, |mb| {
                    mb * u64::from(job.req_nodes.max(1))
                }),
            job.req_nodes,
            config.convert_units,
        )),
        Field::Start if times.start_is_none => Cell::Date("None".to_string()),
        Field::Start => date(times.start, offset),
        Field::State => text(match (job.state, job.cancelled_by_uid) {
            (JobState::Cancelled, Some(uid)) => format!("CANCELLED by {uid}"),
            (state, _) => state_name(state).to_string(),
        }),
        Field::Submit => date(optional_seconds(Some(job.submit_time_ms)), offset),
        Field::Timelimit => Cell::Text(match job.time_limit_minutes {
            None => Some("UNLIMITED".to_string()),
            Some(0) => None,
            Some(minutes) => Some(limit_minutes_text(TimeLimit::Minutes(minutes))),
        }),
        Field::TimelimitRaw => Cell::Text(match job.time_limit_minutes {
            None => Some("UNLIMITED".to_string()),
            Some(0) => None,
            Some(minutes) => Some(minutes.to_string()),
        }),
        Field::Uid => Cell::Number(Some(u64::from(job.uid))),
        Field::User => text(job.user.clone()),
        Field::WorkDir => text(job.work_dir.clone()),
        Field::NotRecorded => Cell::Text(None),
    }
}

fn step_cell(line: &JobLine, step: &StepRecord, field: Field, context: &LineContext) -> Cell {
    let job = line.job;
    let config = context.config;
    let offset = config.utc_offset_seconds;
    let times = step_times(job, step, config, context.now);
    let job_ended = job.end_time_ms.is_some();
    let state = if step.end_time_ms.is_none() && job_ended {
        job.state
    } else {
        step.state
    };
    let cpus = if step.alloc_cpus > 0 {
        step.alloc_cpus
    } else if job.alloc_cpus > 0 {
        job.alloc_cpus
    } else {
        job.req_cpus
    };
    let text = |s: String| Cell::Text(Some(s));
    let step_id = format!("{}.{}", job_id_text(line), step.step_id);
    match field {
        Field::Account => Cell::Text(job.account.clone()),
        Field::AllocCpus | Field::ReqCpus => Cell::Number(Some(u64::from(cpus))),
        Field::AllocNodes | Field::ReqNodes => text(step.nodes.len().to_string()),
        Field::AllocTres => text(tres_text(
            false,
            cpus,
            0,
            0,
            count(step.nodes.len()),
            config.convert_units,
        )),
        Field::Cluster => text(context.cluster.to_string()),
        Field::CpuTime => text(clock_duration(times.elapsed * i64::from(cpus))),
        Field::CpuTimeRaw => Cell::Number(u64::try_from(times.elapsed * i64::from(cpus)).ok()),
        Field::Elapsed => text(clock_duration(times.elapsed)),
        Field::ElapsedRaw => Cell::Number(u64::try_from(times.elapsed).ok()),
        Field::Eligible | Field::Start | Field::Submit => date(times.start, offset),
        Field::End => date(times.end, offset),
        Field::ExitCode => text(exit_text(step.exit_status)),
        Field::JobId => text(step_id),
        Field::JobIdRaw => text(format!("{}.{}", raw_job_id(line), step.step_id)),
        Field::JobName => text(step.name.clone()),
        Field::NNodes => Cell::Number(Some(step.nodes.len() as u64)),
        Field::NodeList => text(hostlist::compress(&step.nodes)),
        Field::NTasks => Cell::Number(Some(u64::from(step.ntasks))),
        Field::State => text(state_name(state).to_string()),
        Field::DerivedExitCode
        | Field::Comment
        | Field::Gid
        | Field::Group
        | Field::Partition
        | Field::Qos
        | Field::Reason
        | Field::ReqMem
        | Field::ReqTres
        | Field::Timelimit
        | Field::TimelimitRaw
        | Field::Uid
        | Field::User
        | Field::WorkDir
        | Field::NotRecorded => Cell::Text(None),
    }
}

fn row(columns: &[Column], cell: impl Fn(Field) -> Cell, config: &SacctConfig) -> String {
    let cells: Vec<(Cell, i32)> = columns
        .iter()
        .map(|column| (cell(column.field), column.width))
        .collect();
    config.style.row(&cells)
}

/// sacct's whole output for the accounting rows the caller fetched (any
/// superset of what the query selects: filtering happens here). `now_ms`
/// is the time running jobs' elapsed times count to; `group_name` maps a
/// gid to its name (`None`: blank, as for a gid without a group).
pub fn render(
    rows: &[(JobRecord, Vec<StepRecord>)],
    config: &SacctConfig,
    now_ms: u64,
    cluster: &str,
    group_name: &dyn Fn(u32) -> Option<String>,
) -> SacctOutput {
    let context = LineContext {
        config,
        now: seconds(now_ms),
        cluster,
        group_name,
    };
    let header: Vec<(&str, i32)> = config
        .columns
        .iter()
        .map(|column| (column.name, column.width))
        .collect();
    let mut stdout = config.style.header(&header);
    for line in select_lines(rows, config) {
        if line.job_line {
            stdout.push_str(&row(
                &config.columns,
                |field| job_cell(&line, field, &context),
                config,
            ));
        }
        for step in &line.steps {
            stdout.push_str(&row(
                &config.columns,
                |field| step_cell(&line, step, field, &context),
                config,
            ));
        }
    }
    SacctOutput {
        stdout,
        stderr: String::new(),
        exit_code: 0,
    }
}

#[cfg(test)]
pub(super) fn task_ranges_for_tests(tasks: &[u32]) -> String {
    task_ranges(tasks)
}
