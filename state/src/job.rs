//! Jobs: what a user asked for ([`JobSpec`]) and what became of it ([`Job`]).

use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::allocation::Allocation;
use crate::array::{ArraySpec, ArrayTask};
use crate::dependency::{Dependencies, DependencySpec};
use crate::step::Step;

/// A job id as Slurm shows it: a positive 32-bit number, assigned in `apply`.
pub type JobId = u32;

/// A client-generated id that makes a submission idempotent: the same request
/// id submitted twice (a retry across a failover) yields the same job.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct RequestId(pub String);

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What the user asked for, as `sbatch` understood it. New fields must carry
/// `#[serde(default)]` so that log entries written by older versions decode.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobSpec {
    pub name: String,
    /// `None`: the default partition.
    pub partition: Option<String>,
    /// `None`: the partition's limit (`UNLIMITED` when it has none).
    pub time_limit_minutes: Option<u32>,
    pub nodes: u32,
    pub ntasks: u32,
    pub cpus_per_task: u32,
    /// `--mem`, in MiB per node; `None`: no memory requested.
    pub memory_per_node_mb: Option<u64>,
    /// `-o` pattern as given (`%j` etc. are expanded where the job runs).
    pub stdout_pattern: Option<String>,
    /// `-e` pattern as given; `None`: stderr goes with stdout.
    pub stderr_pattern: Option<String>,
    pub stdin_path: Option<String>,
    /// Absolute directory the job starts in (`--chdir` or the submit directory).
    pub work_dir: String,
    /// The batch script's full text, starting with `#!`.
    pub script: String,
    /// Arguments given to the script after its path on the `sbatch` line.
    pub arguments: Vec<String>,
    /// The environment the job starts with (`--export=ALL`: the submitter's).
    pub environment: Vec<(String, String)>,
    /// Submitted held (`--hold`): pending with reason `JobHeldUser` until released.
    pub hold: bool,
    /// The host `sbatch` ran on (Slurm's `AllocNode`).
    pub submit_host: String,
    /// GPUs on each allocated node (`--gres=gpu:N`, `--gpus-per-node`).
    #[serde(default)]
    pub gpus_per_node: u32,
    /// Put the job back in the queue if its node fails (`--requeue`),
    /// instead of ending it with `NODE_FAIL`.
    #[serde(default)]
    pub requeue: bool,
    /// `--array`: one task per index.
    #[serde(default)]
    pub array: Option<ArraySpec>,
    /// `--dependency`.
    #[serde(default)]
    pub dependency: Option<DependencySpec>,
    /// `--nice`: subtracted from the priority.
    #[serde(default)]
    pub nice: i32,
    /// `--comment`, recorded.
    #[serde(default)]
    pub comment: Option<String>,
    /// `--mail-type` and `--mail-user`, recorded (Corral sends no mail).
    #[serde(default)]
    pub mail_type: Option<String>,
    #[serde(default)]
    pub mail_user: Option<String>,
    /// `-A/--account` and `--qos`, recorded for accounting.
    #[serde(default)]
    pub account: Option<String>,
    #[serde(default)]
    pub qos: Option<String>,
    /// `-w/--nodelist`: nodes the job must be given, sorted and distinct.
    #[serde(default)]
    pub required_nodes: Vec<String>,
    /// `-x/--exclude`: nodes the job must never be given, sorted and distinct.
    #[serde(default)]
    pub excluded_nodes: Vec<String>,
    /// `--exclusive`: the job takes every CPU of its nodes, so no other job
    /// shares them.
    #[serde(default)]
    pub exclusive: bool,
    /// `--mem-per-cpu`, in MiB: the job needs this much for each CPU it
    /// holds on a node. Never set together with `memory_per_node_mb`.
    #[serde(default)]
    pub memory_per_cpu_mb: Option<u64>,
    /// `--ntasks-per-node`, recorded; `nodes` and `ntasks` already follow
    /// from it.
    #[serde(default)]
    pub ntasks_per_node: Option<u32>,
    /// `-b/--begin`, resolved by sbatch to milliseconds since the epoch:
    /// the job may not start before.
    #[serde(default)]
    pub begin_time_ms: Option<u64>,
    /// `--time-min` in minutes ([`TIME_MIN_UNLIMITED`] for `UNLIMITED`),
    /// recorded.
    #[serde(default)]
    pub time_min_minutes: Option<u32>,
    /// `--signal`: a signal sent ahead of the time limit.
    #[serde(default)]
    pub signal: Option<JobSignal>,
    /// `--open-mode`; `None`: the cluster's default, truncate.
    #[serde(default)]
    pub open_mode: Option<OpenMode>,
}

/// `--time-min=UNLIMITED`, as Slurm's `INFINITE`.
pub const TIME_MIN_UNLIMITED: u32 = u32::MAX;

/// `--signal=[{R|B}:]SIG[@TIME]`: what to send, and when.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobSignal {
    /// The signal's number, as Slurm accepts it (1 to 65535).
    pub number: u16,
    /// Sent this many seconds before the time limit (Slurm's default: 60).
    pub seconds_before_limit: u16,
    /// `B:`: only the batch shell; otherwise the script's process group.
    pub batch_only: bool,
    /// `R:`, recorded: it concerns reservations, which Corral does not have.
    pub reservation: bool,
}

/// How a job's output files are opened (`--open-mode`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum OpenMode {
    /// Slurm's default (`JobFileAppend=0`): start the file afresh.
    #[default]
    Truncate,
    Append,
}

impl JobSpec {
    /// Tasks placed on each of the job's nodes: tasks spread evenly, the
    /// first nodes taking the remainder, so every node gets the most.
    pub fn tasks_per_node_max(&self) -> u32 {
        self.ntasks.max(1).div_ceil(self.nodes.max(1))
    }

    /// CPUs the job needs on each node.
    pub fn cpus_per_node(&self) -> u32 {
        self.tasks_per_node_max() * self.cpus_per_task.max(1)
    }

    /// Memory the job needs on each node; 0 when none was requested. With
    /// `--mem-per-cpu`, for the CPUs it needs there (an exclusive job,
    /// which holds every CPU of a node, needs it for each of those).
    pub fn memory_per_node(&self) -> u64 {
        match self.memory_per_cpu_mb {
            Some(per_cpu) => per_cpu.saturating_mul(u64::from(self.cpus_per_node())),
            None => self.memory_per_node_mb.unwrap_or(0),
        }
    }
}

impl Default for JobSpec {
    fn default() -> Self {
        JobSpec {
            name: "sbatch".to_string(),
            partition: None,
            time_limit_minutes: None,
            nodes: 1,
            ntasks: 1,
            cpus_per_task: 1,
            memory_per_node_mb: None,
            stdout_pattern: None,
            stderr_pattern: None,
            stdin_path: None,
            work_dir: "/".to_string(),
            script: "#!/bin/sh\ntrue\n".to_string(),
            arguments: Vec::new(),
            environment: Vec::new(),
            hold: false,
            submit_host: String::new(),
            gpus_per_node: 0,
            requeue: false,
            array: None,
            dependency: None,
            nice: 0,
            comment: None,
            mail_type: None,
            mail_user: None,
            account: None,
            qos: None,
            required_nodes: Vec::new(),
            excluded_nodes: Vec::new(),
            exclusive: false,
            memory_per_cpu_mb: None,
            ntasks_per_node: None,
            begin_time_ms: None,
            time_min_minutes: None,
            signal: None,
            open_mode: None,
        }
    }
}

/// Slurm's job states. They only move forward: pending, running, completing,
/// then exactly one terminal state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum JobState {
    Pending,
    Running,
    Completing,
    Completed,
    Failed,
    Cancelled,
    Timeout,
    NodeFail,
}

impl JobState {
    pub const ALL: [JobState; 8] = [
        JobState::Pending,
        JobState::Running,
        JobState::Completing,
        JobState::Completed,
        JobState::Failed,
        JobState::Cancelled,
        JobState::Timeout,
        JobState::NodeFail,
    ];

    pub fn is_terminal(self) -> bool {
        !matches!(
            self,
            JobState::Pending | JobState::Running | JobState::Completing
        )
    }

    /// Position in the forward-only order; all terminal states share the last.
    fn rank(self) -> u8 {
        match self {
            JobState::Pending => 0,
            JobState::Running => 1,
            JobState::Completing => 2,
            _ => 3,
        }
    }

    /// Whether a job in `self` may move to `next`.
    pub fn can_move_to(self, next: JobState) -> bool {
        !self.is_terminal() && next.rank() > self.rank()
    }

    /// Slurm's long name (`squeue -o %T`, `scontrol show job`).
    pub fn slurm_name(self) -> &'static str {
        match self {
            JobState::Pending => "PENDING",
            JobState::Running => "RUNNING",
            JobState::Completing => "COMPLETING",
            JobState::Completed => "COMPLETED",
            JobState::Failed => "FAILED",
            JobState::Cancelled => "CANCELLED",
            JobState::Timeout => "TIMEOUT",
            JobState::NodeFail => "NODE_FAIL",
        }
    }

    /// Slurm's compact name (`squeue` column `ST`).
    pub fn slurm_short_name(self) -> &'static str {
        match self {
            JobState::Pending => "PD",
            JobState::Running => "R",
            JobState::Completing => "CG",
            JobState::Completed => "CD",
            JobState::Failed => "F",
            JobState::Cancelled => "CA",
            JobState::Timeout => "TO",
            JobState::NodeFail => "NF",
        }
    }

    /// Parses a long or compact Slurm state name, in any case.
    pub fn from_slurm_name(name: &str) -> Option<JobState> {
        let upper = name.to_ascii_uppercase();
        JobState::ALL
            .into_iter()
            .find(|s| s.slurm_name() == upper || s.slurm_short_name() == upper)
    }
}

/// Why a job is in the state it is in, as Slurm's `Reason` field names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum JobReason {
    None,
    Priority,
    Resources,
    JobHeldUser,
    JobHeldAdmin,
    PartitionDown,
    ReqNodeNotAvail,
    /// More CPUs, memory or GPUs per node than any node of the partition has.
    PartitionConfig,
    /// More nodes than the partition has.
    PartitionNodeLimit,
    /// A time limit above the partition's maximum.
    PartitionTimeLimit,
    PartitionInactive,
    /// A failed job: its script exited with a non-zero code or a signal.
    NonZeroExitCode,
    /// A job ended by its time limit.
    TimeLimit,
    /// A job ended (or requeued) because a node it ran on went down.
    NodeDown,
    /// Waiting for the jobs named by `--dependency`.
    Dependency,
    /// `--dependency` can never be satisfied (`afterok` on a failed job).
    DependencyNeverSatisfied,
    /// As many tasks of its array run as `--array=...%N` allows.
    JobArrayTaskLimit,
    /// Not eligible before its `--begin` time.
    BeginTime,
    /// `scontrol requeuehold`: held until released, by its owner or an
    /// administrator (Slurm's `WAIT_HELD_USER` with the description "job
    /// requeued in held state", which is what Slurm shows).
    RequeueHold,
}

impl JobReason {
    pub const ALL: [JobReason; 19] = [
        JobReason::None,
        JobReason::Priority,
        JobReason::Resources,
        JobReason::JobHeldUser,
        JobReason::JobHeldAdmin,
        JobReason::PartitionDown,
        JobReason::ReqNodeNotAvail,
        JobReason::PartitionConfig,
        JobReason::PartitionNodeLimit,
        JobReason::PartitionTimeLimit,
        JobReason::PartitionInactive,
        JobReason::NonZeroExitCode,
        JobReason::TimeLimit,
        JobReason::NodeDown,
        JobReason::Dependency,
        JobReason::DependencyNeverSatisfied,
        JobReason::JobArrayTaskLimit,
        JobReason::BeginTime,
        JobReason::RequeueHold,
    ];

    /// Holds keep a job pending whatever the scheduler finds.
    pub fn is_hold(self) -> bool {
        matches!(
            self,
            JobReason::JobHeldUser | JobReason::JobHeldAdmin | JobReason::RequeueHold
        )
    }

    pub fn from_slurm_name(name: &str) -> Option<JobReason> {
        JobReason::ALL.into_iter().find(|r| r.slurm_name() == name)
    }

    pub fn slurm_name(&self) -> &'static str {
        match self {
            JobReason::None => "None",
            JobReason::Priority => "Priority",
            JobReason::Resources => "Resources",
            JobReason::JobHeldUser => "JobHeldUser",
            JobReason::JobHeldAdmin => "JobHeldAdmin",
            JobReason::PartitionDown => "PartitionDown",
            JobReason::ReqNodeNotAvail => "ReqNodeNotAvail",
            JobReason::PartitionConfig => "PartitionConfig",
            JobReason::PartitionNodeLimit => "PartitionNodeLimit",
            JobReason::PartitionTimeLimit => "PartitionTimeLimit",
            JobReason::PartitionInactive => "PartitionInactive",
            JobReason::NonZeroExitCode => "NonZeroExitCode",
            JobReason::TimeLimit => "TimeLimit",
            JobReason::NodeDown => "NodeDown",
            JobReason::Dependency => "Dependency",
            JobReason::DependencyNeverSatisfied => "DependencyNeverSatisfied",
            JobReason::JobArrayTaskLimit => "JobArrayTaskLimit",
            JobReason::BeginTime => "BeginTime",
            // Slurm's description, which squeue prints as it is and
            // scontrol with underscores for spaces.
            JobReason::RequeueHold => "job requeued in held state",
        }
    }
}

/// How a job ended: its exit code, or the signal that ended it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExitStatus {
    pub code: u8,
    pub signal: u8,
}

impl fmt::Display for ExitStatus {
    /// Slurm's `ExitCode=code:signal`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.code, self.signal)
    }
}

/// A job as the cluster knows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Job {
    pub id: JobId,
    pub request_id: RequestId,
    /// Shared, because copying the state for a snapshot should not copy
    /// every script and environment. It changes only through `scontrol
    /// update` (`Arc::make_mut`: the job gets a copy of its own).
    pub spec: Arc<JobSpec>,
    /// The partition the job was accepted into (the default one when none was asked).
    pub partition: String,
    pub user: String,
    pub uid: u32,
    pub gid: u32,
    pub state: JobState,
    pub reason: JobReason,
    pub submit_time_ms: u64,
    pub start_time_ms: Option<u64>,
    pub end_time_ms: Option<u64>,
    pub exit_status: ExitStatus,
    /// Uid of whoever cancelled the job (`CANCELLED by UID` in `sacct`).
    pub cancelled_by_uid: Option<u32>,
    /// The resources the job holds while running or completing.
    #[serde(default)]
    pub allocation: Option<Allocation>,
    /// How many times the job went back to the queue after a node failure.
    #[serde(default)]
    pub requeue_count: u32,
    /// The array this job is a task of.
    #[serde(default)]
    pub array: Option<ArrayTask>,
    /// `--dependency` and where its conditions stand.
    #[serde(default)]
    pub dependencies: Option<Dependencies>,
    /// The steps `srun` started in the job, in order.
    #[serde(default)]
    pub steps: Vec<Step>,
    /// The number the next step gets (`ID.0` first).
    #[serde(default)]
    pub next_step_id: u32,
    /// The account the job is charged to: `-A`, or the user's default
    /// account; `None` when neither exists.
    #[serde(default)]
    pub account: Option<String>,
}

impl Job {
    /// The time limit in force: the job's own, or its partition's, in minutes.
    /// `None` is `UNLIMITED`.
    pub fn time_limit_minutes(&self, partition_limit_minutes: Option<u32>) -> Option<u32> {
        self.spec.time_limit_minutes.or(partition_limit_minutes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_only_move_forward() {
        use JobState::*;
        assert!(Pending.can_move_to(Running));
        assert!(Pending.can_move_to(Cancelled));
        assert!(Running.can_move_to(Completing));
        assert!(Completing.can_move_to(Completed));
        assert!(!Running.can_move_to(Pending));
        assert!(!Completed.can_move_to(Failed));
        assert!(!Cancelled.can_move_to(Cancelled));
        assert!(!Completing.can_move_to(Running));
    }

    #[test]
    fn state_names_round_trip() {
        for state in JobState::ALL {
            assert_eq!(JobState::from_slurm_name(state.slurm_name()), Some(state));
            assert_eq!(
                JobState::from_slurm_name(&state.slurm_short_name().to_lowercase()),
                Some(state)
            );
        }
        assert_eq!(JobState::from_slurm_name("BOGUS"), None);
    }

    #[test]
    fn reason_names_round_trip() {
        for reason in JobReason::ALL {
            assert_eq!(
                JobReason::from_slurm_name(reason.slurm_name()),
                Some(reason)
            );
        }
        assert_eq!(
            JobReason::from_slurm_name("BeginTime"),
            Some(JobReason::BeginTime)
        );
    }

    #[test]
    fn memory_per_cpu_counts_the_cpus_of_each_node() {
        let spec = JobSpec {
            nodes: 2,
            ntasks: 6,
            cpus_per_task: 2,
            memory_per_cpu_mb: Some(100),
            ..JobSpec::default()
        };
        assert_eq!(spec.cpus_per_node(), 6);
        assert_eq!(spec.memory_per_node(), 600);
        let per_node = JobSpec {
            memory_per_node_mb: Some(300),
            ..JobSpec::default()
        };
        assert_eq!(per_node.memory_per_node(), 300);
    }

    #[test]
    fn specs_written_before_the_new_fields_still_read() {
        let mut value = serde_json::to_value(JobSpec::default()).unwrap();
        let object = value.as_object_mut().unwrap();
        for field in [
            "required_nodes",
            "excluded_nodes",
            "exclusive",
            "memory_per_cpu_mb",
            "ntasks_per_node",
            "begin_time_ms",
            "time_min_minutes",
            "signal",
            "open_mode",
        ] {
            assert!(object.remove(field).is_some(), "{field}");
        }
        let spec: JobSpec = serde_json::from_value(value).unwrap();
        assert_eq!(spec, JobSpec::default());
    }
}
