//! The replicated log's vocabulary.
//!
//! Architecture invariant: `Command` is append-only. The log lives forever and
//! every controller must decode every entry ever written, so variants are only
//! ever added at the end; none is removed, renamed or reordered, and new fields
//! carry `#[serde(default)]`.
//!
//! # Versions
//!
//! Each command has a *format version* ([`Command::format_version`]): the
//! oldest Corral command format that can apply it faithfully. Every command
//! known today is version 1, and so is every entry written before versions
//! existed. A change that an older controller would misread bumps
//! [`COMMAND_FORMAT_VERSION`] and makes the commands using it report the new
//! version:
//!
//! - a new variant: that variant is the new version;
//! - a new field whose default keeps the old meaning: the command is the new
//!   version only when the field is not its default (older controllers
//!   would ignore the field, and silently apply something else);
//! - a new meaning for an existing command: that command is the new version.
//!
//! The log's encoding (`corral-raft-store`) stamps each entry with its
//! command's version, so an older controller recognises an entry it cannot
//! apply and stops instead of diverging, while entries every version
//! understands keep flowing to it during a rolling upgrade.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::allocation::{AllocationId, PlannedAllocation};
use crate::job::{ExitStatus, JobId, JobReason, JobSpec, RequestId};
use crate::node::NodeResources;
use crate::partition::Partition;
use crate::policy::PolicyChange;
use crate::step::StepSpec;
use crate::user::{Actor, User};

/// The newest command format version this build understands and writes.
#[cfg(not(feature = "upgrade-test-variant"))]
pub const COMMAND_FORMAT_VERSION: u32 = 1;
/// The newest command format version this build understands and writes
/// (the `upgrade-test-variant` build: one version ahead, for the upgrade
/// tests).
#[cfg(feature = "upgrade-test-variant")]
pub const COMMAND_FORMAT_VERSION: u32 = 2;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Command {
    /// A batch job submission. `apply` assigns the job id; a request id seen
    /// within the window answers with the job it already created.
    SubmitJob {
        request_id: RequestId,
        actor: Actor,
        spec: Box<JobSpec>,
        now_ms: u64,
    },
    /// `scancel`: a pending job becomes CANCELLED at once.
    CancelJob {
        job_id: JobId,
        actor: Actor,
        now_ms: u64,
    },
    /// `scontrol hold`: a pending job stays pending until released.
    HoldJob {
        job_id: JobId,
        actor: Actor,
        now_ms: u64,
        /// `scontrol uhold`: held as its user (`JobHeldUser`) even by an
        /// administrator.
        #[serde(default)]
        user_hold: bool,
    },
    /// `scontrol release`.
    ReleaseJob {
        job_id: JobId,
        actor: Actor,
        now_ms: u64,
    },
    /// Adds a user, or adds a token to an existing one. Administrators only.
    PutUser {
        user: User,
        actor: Actor,
        now_ms: u64,
    },
    /// Replaces the set of partitions (the leader proposes this when the
    /// configuration file and the replicated state differ).
    SetPartitions {
        partitions: Vec<Partition>,
        now_ms: u64,
    },
    /// The nodes declared in the configuration file, with their resources
    /// (the leader proposes this when the file and the state differ).
    SetNodes {
        nodes: Vec<NodeDefinition>,
        now_ms: u64,
    },
    /// A node's agent attached to the leader and reported its resources.
    RegisterNode {
        name: String,
        resources: NodeResources,
        now_ms: u64,
    },
    /// The scheduler's decisions: jobs to start where, and why the others
    /// wait. `apply` checks every allocation again against what is free.
    ApplyPlan {
        allocations: Vec<PlannedAllocation>,
        reasons: Vec<(JobId, JobReason)>,
        now_ms: u64,
    },
    /// A node's agent reports that a job's batch script ended.
    JobFinished {
        job_id: JobId,
        allocation_id: AllocationId,
        exit_status: ExitStatus,
        cause: FinishCause,
        now_ms: u64,
    },
    /// A node missed its heartbeats for `slurmd_timeout`: its jobs fail
    /// (or are requeued), and it takes no work until it registers again.
    NodeDown {
        name: String,
        reason: String,
        now_ms: u64,
    },
    /// `scontrol update nodename=... state=drain|resume|down reason=...`.
    UpdateNode {
        name: String,
        change: NodeChange,
        actor: Actor,
        now_ms: u64,
    },
    /// Forgets finished jobs that ended before `finished_before_ms` (Slurm's
    /// `MinJobAge`), so the state does not grow forever.
    PurgeJobs {
        finished_before_ms: u64,
        now_ms: u64,
    },
    /// `srun` inside a running job: a new step of `spec.ntasks` tasks on
    /// the job's nodes. `apply` assigns the step's number.
    StartStep {
        job_id: JobId,
        request_id: RequestId,
        actor: Actor,
        spec: Box<StepSpec>,
        now_ms: u64,
    },
    /// A node's agent reports that its part of a step ended.
    StepFinished {
        job_id: JobId,
        allocation_id: AllocationId,
        step_id: u32,
        node: String,
        exit_status: ExitStatus,
        cause: FinishCause,
        now_ms: u64,
    },
    /// The accounting pump wrote every outbox record up to `upto`.
    AccountingAck { upto: u64, now_ms: u64 },
    /// `sacctmgr add|modify|delete`, by an administrator; or the leader
    /// copying `accounting.enforce_associations` from the configuration.
    ChangePolicy {
        change: PolicyChange,
        actor: Actor,
        now_ms: u64,
    },
    /// `scontrol update JobId=N key=value ...`: every change applies, or
    /// none (the first refusal is the outcome).
    UpdateJob {
        job_id: JobId,
        actor: Actor,
        update: JobUpdate,
        now_ms: u64,
    },
    /// `scontrol requeue` (`hold`: `requeuehold`): a running job is ended
    /// on its nodes and pends again once its agent reports the end; a
    /// finished one pends again at once.
    RequeueJob {
        job_id: JobId,
        actor: Actor,
        hold: bool,
        now_ms: u64,
    },
    /// Only in builds with the `upgrade-test-variant` feature: what a newer
    /// Corral adding a command looks like to an older one (`tests/upgrade.rs`).
    /// Applying it changes nothing. Format version 2.
    #[cfg(feature = "upgrade-test-variant")]
    UpgradeTestVariant { note: String, now_ms: u64 },
}

/// What `scontrol update` of a job changes; `None` leaves a field as it is.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobUpdate {
    #[serde(default)]
    pub time_limit: Option<TimeLimitUpdate>,
    #[serde(default)]
    pub partition: Option<String>,
    #[serde(default)]
    pub nice: Option<i32>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub comment: Option<String>,
}

/// `TimeLimit=`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum TimeLimitUpdate {
    Minutes(u32),
    /// `UNLIMITED`/`INFINITE`: the partition's limit, which is no limit
    /// when the partition has none (Corral keeps no job limit above its
    /// partition's).
    Unlimited,
}

/// A node as the configuration file declares it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeDefinition {
    pub name: String,
    pub resources: NodeResources,
}

/// How a batch script ended, as the agent saw it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum FinishCause {
    /// It exited, or was killed by a signal nobody at Corral sent.
    Exited,
    /// The agent ended it at its time limit.
    TimeLimit,
    /// The agent ended it because it was cancelled.
    Cancelled,
    /// The agent could not start it (user unknown, directory missing, ...).
    LaunchFailed,
}

/// An administrator's change to a node.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum NodeChange {
    Drain { reason: String },
    Resume,
    Down { reason: String },
}

impl Command {
    /// The time the leader stamped on this command.
    pub fn now_ms(&self) -> u64 {
        match self {
            Command::SubmitJob { now_ms, .. }
            | Command::CancelJob { now_ms, .. }
            | Command::HoldJob { now_ms, .. }
            | Command::ReleaseJob { now_ms, .. }
            | Command::PutUser { now_ms, .. }
            | Command::SetPartitions { now_ms, .. }
            | Command::SetNodes { now_ms, .. }
            | Command::RegisterNode { now_ms, .. }
            | Command::ApplyPlan { now_ms, .. }
            | Command::JobFinished { now_ms, .. }
            | Command::NodeDown { now_ms, .. }
            | Command::UpdateNode { now_ms, .. }
            | Command::PurgeJobs { now_ms, .. }
            | Command::StartStep { now_ms, .. }
            | Command::StepFinished { now_ms, .. }
            | Command::AccountingAck { now_ms, .. }
            | Command::ChangePolicy { now_ms, .. }
            | Command::UpdateJob { now_ms, .. }
            | Command::RequeueJob { now_ms, .. } => *now_ms,
            #[cfg(feature = "upgrade-test-variant")]
            Command::UpgradeTestVariant { now_ms, .. } => *now_ms,
        }
    }

    /// The oldest command format version that applies this command
    /// faithfully (see the module documentation). At most
    /// [`COMMAND_FORMAT_VERSION`].
    pub fn format_version(&self) -> u32 {
        match self {
            #[cfg(feature = "upgrade-test-variant")]
            Command::UpgradeTestVariant { .. } => 2,
            _ => 1,
        }
    }

    /// The name of every variant this build knows, as it is encoded (the
    /// external tag of its JSON), in declaration order. An entry whose tag
    /// is not among them was written by a newer Corral.
    pub fn variant_names() -> &'static [&'static str] {
        crate::variant_names::of::<Command>()
    }
}

/// What applying a command did. A rejection is a normal, replicated result.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Outcome {
    /// The job exists; `duplicate` when the request id had already created it.
    Submitted {
        job_id: JobId,
        duplicate: bool,
    },
    Done,
    Rejected(Rejection),
    /// What became of a plan: the jobs started, with their allocations, and
    /// the jobs whose placement no longer fit.
    Planned {
        started: Vec<(JobId, AllocationId)>,
        refused: Vec<JobId>,
    },
    /// How many finished jobs were forgotten.
    Purged {
        jobs: usize,
    },
    /// The step exists; `duplicate` when the request id had already made it.
    StepStarted {
        job_id: JobId,
        step_id: u32,
        duplicate: bool,
    },
    /// The change asked for was already so (`sacctmgr`'s "Nothing new added.").
    NothingNew,
}

/// Why a command changed nothing. The display texts are Slurm's own error
/// strings where Slurm has one, because the CLI prints them verbatim.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Rejection {
    InvalidPartition(String),
    NoDefaultPartition,
    InvalidJobId(JobId),
    AlreadyDone(JobId),
    /// The job is not in a state where it can be held or released.
    JobNotPending(JobId),
    AccessDenied,
    InvalidUser(String),
    /// A report about an allocation the job no longer has (a duplicate, or
    /// from before a requeue): ignored.
    StaleAllocation(JobId),
    InvalidNode(String),
    /// An `--array` with no index, or one at or above `MaxArraySize`.
    InvalidArray,
    /// A step asked of a job that has not started.
    JobPending(JobId),
    /// A step needing more CPUs than its nodes hold for the job.
    TooManyProcessors,
    /// A step asking for nodes the job does not have.
    NodeConfigUnavailable,
    /// The job started [`crate::STEPS_PER_JOB_MAX`] steps already.
    StepLimit,
    /// An accounting acknowledgement at or below the watermark (a
    /// duplicate), or beyond the last record: ignored.
    StaleAccountingAck(u64),
    /// `-A` names an account the user may not charge (enforcement on), or
    /// the user has none.
    InvalidAccount,
    /// An account that does not exist.
    UnknownAccount(String),
    InvalidAccountName(String),
    /// An account with users or sub-accounts cannot be deleted.
    AccountInUse(String),
    /// A new user needs an account.
    NoAccountGiven,
    /// A change to a job that has ended (`scontrol update`).
    JobFinished(JobId),
    /// The job is between states (completing): try again later.
    TransitionState(JobId),
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Rejection::InvalidPartition(_) => f.write_str("Invalid partition name specified"),
            Rejection::NoDefaultPartition => {
                f.write_str("No partition specified or system default partition")
            }
            Rejection::InvalidJobId(_) => f.write_str("Invalid job id specified"),
            Rejection::AlreadyDone(_) => f.write_str("Job/step already completing or completed"),
            Rejection::JobNotPending(_) => f.write_str("Job is no longer pending execution"),
            Rejection::AccessDenied => f.write_str("Access/permission denied"),
            Rejection::InvalidUser(reason) => write!(f, "Invalid user: {reason}"),
            Rejection::StaleAllocation(_) => f.write_str("Job allocation does not exist"),
            Rejection::InvalidNode(_) => f.write_str("Invalid node name specified"),
            Rejection::InvalidArray => f.write_str("Invalid job array specification"),
            Rejection::JobPending(_) => f.write_str("Job is pending execution"),
            Rejection::TooManyProcessors => f.write_str("More processors requested than permitted"),
            Rejection::NodeConfigUnavailable => {
                f.write_str("Requested node configuration is not available")
            }
            Rejection::StepLimit => f.write_str("Step limit reached for this job"),
            Rejection::StaleAccountingAck(upto) => {
                write!(f, "accounting acknowledgement up to {upto} changes nothing")
            }
            Rejection::InvalidAccount => {
                f.write_str("Invalid account or account/partition combination specified")
            }
            Rejection::UnknownAccount(name) => write!(f, "This account '{name}' doesn't exist."),
            Rejection::InvalidAccountName(name) => write!(f, "Invalid account name '{name}'"),
            Rejection::AccountInUse(name) => {
                write!(f, "Account '{name}' still has users or sub-accounts")
            }
            Rejection::NoAccountGiven => f.write_str("You need to specify an account"),
            Rejection::JobFinished(_) => f.write_str("Job has already finished"),
            Rejection::TransitionState(_) => {
                f.write_str("Job can not be altered now, try again later")
            }
        }
    }
}
