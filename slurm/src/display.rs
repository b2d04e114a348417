//! What squeue and scontrol show about a job beyond [`corral_state::Job`]:
//! the time, the node names of its allocation, and values Slurm keeps that
//! Corral does not (priority, account), all passed in by the caller.

use std::collections::BTreeMap;

use corral_state::{hostlist, Job, JobId, JobReason, JobState};

use crate::time::TimeLimit;

const MILLISECONDS_PER_SECOND: u64 = 1_000;

/// Everything the formatters need besides the jobs themselves.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DisplayContext {
    /// The time "now" of the report (running times, time left).
    pub now_ms: u64,
    /// The UTC offset timestamps are printed in (the local zone of the user).
    pub utc_offset_seconds: i32,
    /// Each partition's `MaxTime` in minutes (`None`: unlimited), used for
    /// jobs without their own limit. A partition missing here prints as
    /// Slurm prints an unset limit (`NOT_SET`, `Partition_Limit`).
    pub partition_time_limits: BTreeMap<String, Option<u32>>,
    /// The nodes allocated to each started job, in the cluster's node order.
    /// Pending jobs have none.
    pub node_names: BTreeMap<JobId, Vec<String>>,
    /// Scheduling priority per job; jobs missing here show 0.
    pub priorities: BTreeMap<JobId, u32>,
    /// Account per job; jobs missing here show `(null)`.
    pub accounts: BTreeMap<JobId, String>,
    /// Group names by gid; gids missing here print as numbers.
    pub group_names: BTreeMap<u32, String>,
    /// Pending tasks of an array shown on one line (`14_[1-5]`): the job
    /// standing for them, and their indices. See [`group_pending_tasks`].
    pub array_groups: BTreeMap<JobId, Vec<u32>>,
    /// The cluster's name (squeue `-O cluster`); `None` prints `(null)`.
    pub cluster_name: Option<String>,
}

/// Folds the pending tasks of each array that never started into one
/// line, as Slurm shows an array's pending tasks: the lowest task stands
/// for them all. `jobs` keeps that task and the tasks that started.
pub fn group_pending_tasks(jobs: &mut Vec<Job>, context: &mut DisplayContext) {
    let mut groups: BTreeMap<JobId, (JobId, Vec<u32>)> = BTreeMap::new();
    for job in jobs.iter() {
        if let (Some(task), true) = (job.array, is_unsplit(job)) {
            let group = groups
                .entry(task.array_job_id)
                .or_insert((job.id, Vec::new()));
            group.0 = group.0.min(job.id);
            group.1.push(task.task_id);
        }
    }
    let leaders: BTreeMap<JobId, JobId> = groups
        .iter()
        .map(|(array, (leader, _))| (*array, *leader))
        .collect();
    jobs.retain(|job| match (job.array, is_unsplit(job)) {
        (Some(task), true) => leaders.get(&task.array_job_id) == Some(&job.id),
        _ => true,
    });
    for (leader, mut indices) in groups.into_values() {
        indices.sort_unstable();
        context.array_groups.insert(leader, indices);
    }
}

/// A pending task that never ran: Slurm still keeps it in the array's
/// own record.
fn is_unsplit(job: &Job) -> bool {
    job.state == JobState::Pending && job.requeue_count == 0
}

/// A job's time limit as the formatters see it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LimitView {
    Limit(TimeLimit),
    /// Neither the job nor its (unknown) partition gives one.
    NotSet,
}

impl DisplayContext {
    pub fn new(now_ms: u64, utc_offset_seconds: i32) -> DisplayContext {
        DisplayContext {
            now_ms,
            utc_offset_seconds,
            ..DisplayContext::default()
        }
    }

    /// `%i`: `ID`, `ARRAY_TASK`, or `ARRAY_[1-5%2]` for grouped tasks.
    pub fn job_id_text(&self, job: &Job) -> String {
        let Some(task) = job.array else {
            return job.id.to_string();
        };
        match self.array_groups.get(&job.id) {
            Some(indices) => format!(
                "{}_[{}]",
                task.array_job_id,
                self.array_indices_text(job, indices)
            ),
            None => format!("{}_{}", task.array_job_id, task.task_id),
        }
    }

    /// `%K`: the task index, `1-5%2` for grouped tasks, `N/A` outside an array.
    pub fn array_task_text(&self, job: &Job) -> String {
        let Some(task) = job.array else {
            return "N/A".to_string();
        };
        match self.array_groups.get(&job.id) {
            Some(indices) => self.array_indices_text(job, indices),
            None => task.task_id.to_string(),
        }
    }

    fn array_indices_text(&self, job: &Job, indices: &[u32]) -> String {
        let max_running = job.spec.array.as_ref().and_then(|array| array.max_running);
        corral_state::ArraySpec::compact(indices, max_running)
    }

    /// `%A`: the id of the record Slurm shows: a task that never started
    /// is still part of its array's record.
    pub fn raw_job_id(&self, job: &Job) -> JobId {
        match job.array {
            Some(task) if is_unsplit(job) => task.array_job_id,
            _ => job.id,
        }
    }

    /// The limit in force: the job's own, else its partition's.
    pub fn time_limit(&self, job: &Job) -> LimitView {
        if let Some(minutes) = job.spec.time_limit_minutes {
            return LimitView::Limit(TimeLimit::Minutes(minutes));
        }
        match self.partition_time_limits.get(&job.partition) {
            Some(Some(minutes)) => LimitView::Limit(TimeLimit::Minutes(*minutes)),
            Some(None) => LimitView::Limit(TimeLimit::Unlimited),
            None => LimitView::NotSet,
        }
    }

    /// Seconds the job has run: zero while pending, up to now while running,
    /// up to its end once finished (Slurm's `job_time_used`).
    pub fn time_used_seconds(&self, job: &Job) -> i64 {
        let Some(start_ms) = job.start_time_ms else {
            return 0;
        };
        let end_ms = match job.state {
            JobState::Pending => return 0,
            JobState::Running | JobState::Completing => self.now_ms,
            _ => job.end_time_ms.unwrap_or(self.now_ms),
        };
        let seconds = end_ms.saturating_sub(start_ms) / MILLISECONDS_PER_SECOND;
        i64::try_from(seconds).unwrap_or(i64::MAX)
    }

    /// The allocated node names (empty for a job that never started).
    pub fn nodes(&self, job: &Job) -> &[String] {
        self.node_names.get(&job.id).map_or(&[], Vec::as_slice)
    }

    /// The node list as Slurm prints it (`n[1-2]`, empty when none).
    pub fn node_list(&self, job: &Job) -> String {
        hostlist::compress(self.nodes(job))
    }

    /// Nodes allocated, or requested while none are.
    pub fn node_count(&self, job: &Job) -> u64 {
        match self.nodes(job).len() {
            0 => u64::from(job.spec.nodes),
            allocated => allocated as u64,
        }
    }

    /// CPUs requested: tasks times CPUs per task.
    pub fn cpu_count(&self, job: &Job) -> u64 {
        u64::from(job.spec.ntasks) * u64::from(job.spec.cpus_per_task)
    }

    pub fn priority(&self, job: &Job) -> u32 {
        self.priorities.get(&job.id).copied().unwrap_or(0)
    }

    pub fn account(&self, job: &Job) -> String {
        self.accounts
            .get(&job.id)
            .or(job.account.as_ref())
            .or(job.spec.account.as_ref())
            .cloned()
            .unwrap_or_else(|| "(null)".to_string())
    }

    pub fn group_name(&self, gid: u32) -> String {
        self.group_names
            .get(&gid)
            .cloned()
            .unwrap_or_else(|| gid.to_string())
    }

    /// A timestamp as Slurm prints it (`2026-11-22T00:03:35`), in this
    /// context's zone.
    pub fn timestamp(&self, unix_ms: u64) -> String {
        crate::time::format_timestamp(unix_ms, self.utc_offset_seconds)
    }
}

/// Slurm's reason text for a job. Corral records a reason only while a job
/// waits; finished jobs get the reason Slurm gives their end.
pub fn reason_text(job: &Job) -> &'static str {
    match (&job.reason, job.state) {
        (JobReason::None, JobState::Failed) => "NonZeroExitCode",
        (JobReason::None, JobState::Timeout) => "TimeLimit",
        (JobReason::None, JobState::NodeFail) => "NodeDown",
        (reason, _) => reason.slurm_name(),
    }
}

/// Which of a job's standard streams.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stream {
    Stdin,
    Stdout,
    Stderr,
}

/// The path of a batch job's stream as scontrol prints it
/// (`slurm_get_job_stdout` and friends): the pattern with `%j`, `%x`, `%u`,
/// `%A`, `%a` and `%%` expanded, made absolute against the work directory;
/// `slurm-<id>.out` (`slurm-<array>_<task>.out` for an array task) when
/// none was given; stderr follows stdout.
pub fn stream_path(job: &Job, stream: Stream) -> String {
    let pattern = match stream {
        Stream::Stdin => job.spec.stdin_path.as_deref(),
        Stream::Stdout => job.spec.stdout_pattern.as_deref(),
        Stream::Stderr => job
            .spec
            .stderr_pattern
            .as_deref()
            .or(job.spec.stdout_pattern.as_deref()),
    };
    match (pattern, stream) {
        (Some(pattern), _) => expand_stream_pattern(job, pattern),
        (None, Stream::Stdin) => "/dev/null".to_string(),
        (None, _) => match job.array {
            Some(task) => format!(
                "{}/slurm-{}_{}.out",
                job.spec.work_dir, task.array_job_id, task.task_id
            ),
            None => format!("{}/slurm-{}.out", job.spec.work_dir, job.id),
        },
    }
}

/// Slurm's `_fname_format`: `%[width]X` for X in `A a j u x`, `%%`.
fn expand_stream_pattern(job: &Job, pattern: &str) -> String {
    /// Slurm's NO_VAL, printed for `%a` of a job that is not an array task.
    const NO_ARRAY_TASK: u32 = 0xffff_fffe;
    let mut out = String::new();
    let mut rest = pattern;
    while let Some(percent) = rest.find('%') {
        out.push_str(&rest[..percent]);
        let after = &rest[percent + 1..];
        if let Some(tail) = after.strip_prefix('%') {
            out.push('%');
            rest = tail;
            continue;
        }
        let digits = after.bytes().take_while(u8::is_ascii_digit).count();
        let width = match after[..digits].parse::<u64>() {
            Ok(w) if w > 9 => 10,
            Ok(w) => w as usize,
            Err(_) => 0,
        };
        let field = after[digits..].chars().next();
        let value = match field {
            Some('j') => Some(format!("{:0width$}", job.id)),
            Some('A') => Some(format!(
                "{:0width$}",
                job.array.map_or(job.id, |task| task.array_job_id)
            )),
            Some('a') => Some(format!(
                "{:0width$}",
                job.array.map_or(NO_ARRAY_TASK, |task| task.task_id)
            )),
            Some('u') => Some(job.user.clone()),
            Some('x') => Some(job.spec.name.clone()),
            _ => None,
        };
        match (value, field) {
            (Some(value), Some(field)) => {
                out.push_str(&value);
                rest = &after[digits + field.len_utf8()..];
            }
            _ => {
                // Unknown (node- or task-specific) fields stay for the node.
                out.push('%');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    if out.starts_with('/') {
        out
    } else {
        format!("{}/{}", job.spec.work_dir, out)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use corral_state::{ExitStatus, JobSpec, RequestId};

    /// A job as `sbatch --wrap` in /home/alice/work would make it.
    pub(crate) fn job(id: JobId, name: &str, state: JobState) -> Job {
        Job {
            id,
            request_id: RequestId(format!("r{id}")),
            spec: std::sync::Arc::new(JobSpec {
                name: name.to_string(),
                work_dir: "/home/alice/work".to_string(),
                submit_host: "localhost".to_string(),
                ..JobSpec::default()
            }),
            partition: "debug".to_string(),
            user: "root".to_string(),
            uid: 0,
            gid: 0,
            state,
            reason: JobReason::None,
            submit_time_ms: 0,
            start_time_ms: None,
            end_time_ms: None,
            exit_status: ExitStatus::default(),
            cancelled_by_uid: None,
            allocation: None,
            requeue_count: 0,
            array: None,
            dependencies: None,
            steps: Vec::new(),
            next_step_id: 0,
            account: None,
        }
    }

    #[test]
    fn stream_paths() {
        let mut j = job(6, "demo", JobState::Running);
        assert_eq!(
            stream_path(&j, Stream::Stdout),
            "/home/alice/work/slurm-6.out"
        );
        assert_eq!(
            stream_path(&j, Stream::Stderr),
            "/home/alice/work/slurm-6.out"
        );
        assert_eq!(stream_path(&j, Stream::Stdin), "/dev/null");
        std::sync::Arc::make_mut(&mut j.spec).stdout_pattern =
            Some("/home/alice/work/out-%j-%x.txt".to_string());
        std::sync::Arc::make_mut(&mut j.spec).stderr_pattern =
            Some("err-%5j-%u-%%-%N.txt".to_string());
        assert_eq!(
            stream_path(&j, Stream::Stdout),
            "/home/alice/work/out-6-demo.txt"
        );
        assert_eq!(
            stream_path(&j, Stream::Stderr),
            "/home/alice/work/err-00006-root-%-%N.txt"
        );
        std::sync::Arc::make_mut(&mut j.spec).stderr_pattern = Some("e%".to_string());
        assert_eq!(stream_path(&j, Stream::Stderr), "/home/alice/work/e%");
    }

    #[test]
    fn limits_and_times() {
        let mut context = DisplayContext::new(10_000, 0);
        let mut j = job(1, "x", JobState::Running);
        assert_eq!(context.time_limit(&j), LimitView::NotSet);
        context
            .partition_time_limits
            .insert("debug".to_string(), None);
        assert_eq!(
            context.time_limit(&j),
            LimitView::Limit(TimeLimit::Unlimited)
        );
        context
            .partition_time_limits
            .insert("debug".to_string(), Some(60));
        assert_eq!(
            context.time_limit(&j),
            LimitView::Limit(TimeLimit::Minutes(60))
        );
        std::sync::Arc::make_mut(&mut j.spec).time_limit_minutes = Some(5);
        assert_eq!(
            context.time_limit(&j),
            LimitView::Limit(TimeLimit::Minutes(5))
        );
        j.start_time_ms = Some(1_000);
        assert_eq!(context.time_used_seconds(&j), 9);
        j.state = JobState::Completed;
        j.end_time_ms = Some(4_000);
        assert_eq!(context.time_used_seconds(&j), 3);
        j.state = JobState::Pending;
        assert_eq!(context.time_used_seconds(&j), 0);
    }

    #[test]
    fn reasons_of_finished_jobs() {
        assert_eq!(
            reason_text(&job(1, "x", JobState::Failed)),
            "NonZeroExitCode"
        );
        assert_eq!(reason_text(&job(1, "x", JobState::Completed)), "None");
        let mut held = job(1, "x", JobState::Pending);
        held.reason = JobReason::JobHeldUser;
        assert_eq!(reason_text(&held), "JobHeldUser");
    }
}
