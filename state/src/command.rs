//! The replicated log's vocabulary.
//!
//! Architecture invariant: `Command` is append-only. The log lives forever and
//! every controller must decode every entry ever written, so variants are only
//! ever added at the end; none is removed, renamed or reordered, and new fields
//! carry `#[serde(default)]`.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::job::{JobId, JobSpec, RequestId};
use crate::partition::Partition;
use crate::user::{Actor, User};

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
            | Command::SetPartitions { now_ms, .. } => *now_ms,
        }
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
        }
    }
}
