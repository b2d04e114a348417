//! What accounting records about jobs and their steps.
//!
//! A record is a whole row as it stands after a committed change: the job
//! (one row per job) or one of its steps (one row per step). Writing a
//! record is an upsert of that row, so replaying records writes nothing
//! twice, and a record carries the sequence number it was given in the
//! replicated outbox, so a replay of an older record never overwrites a
//! newer one. These types are a persistence format (they live in the
//! replicated state and in the log): fields are only ever added, with
//! `#[serde(default)]`.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::job::{ExitStatus, JobId, JobState};

/// A job step as Slurm names it: `ID.batch` for the batch script, `ID.0`,
/// `ID.1`, ... for the steps `srun` starts inside the job.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum StepId {
    Batch,
    Numbered(u32),
}

impl StepId {
    /// Parses Slurm's spelling: `batch` or a number.
    pub fn parse(text: &str) -> Option<StepId> {
        match text {
            "batch" => Some(StepId::Batch),
            _ if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) => {
                text.parse().ok().map(StepId::Numbered)
            }
            _ => None,
        }
    }
}

impl fmt::Display for StepId {
    /// `batch` or the step's number, as in `sacct`'s `14.batch`, `14.0`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StepId::Batch => f.write_str("batch"),
            StepId::Numbered(number) => write!(f, "{number}"),
        }
    }
}

/// A job's accounting row.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobRecord {
    pub job_id: JobId,
    /// For a task of an array: the array's id and the task's index
    /// (`sacct` shows `ARRAY_TASK`, for example `14_5`).
    pub array_job_id: Option<JobId>,
    pub array_task_id: Option<u32>,
    pub name: String,
    pub user: String,
    pub uid: u32,
    pub gid: u32,
    pub account: Option<String>,
    pub partition: String,
    pub qos: Option<String>,
    pub state: JobState,
    /// Who cancelled it (`CANCELLED by UID`).
    pub cancelled_by_uid: Option<u32>,
    /// The batch script's exit (`ExitCode`).
    pub exit_status: ExitStatus,
    /// The highest exit among the job's steps (`DerivedExitCode`).
    pub derived_exit_status: ExitStatus,
    pub submit_time_ms: u64,
    /// When the job became eligible to run (its dependencies and holds
    /// no longer kept it back); `None` while it is not.
    pub eligible_time_ms: Option<u64>,
    pub start_time_ms: Option<u64>,
    pub end_time_ms: Option<u64>,
    /// `None`: `UNLIMITED`.
    pub time_limit_minutes: Option<u32>,
    /// The nodes the job was given, in order; empty before it starts.
    pub nodes: Vec<String>,
    /// CPUs, GPUs and memory the job holds in all (0 before it starts).
    pub alloc_cpus: u32,
    pub alloc_gpus: u32,
    pub alloc_memory_mb: u64,
    /// What it asked for.
    pub req_nodes: u32,
    pub req_cpus: u32,
    pub req_tasks: u32,
    /// `--mem`, per node; `None` when not given.
    pub req_memory_per_node_mb: Option<u64>,
    pub req_gpus_per_node: u32,
    pub work_dir: String,
    /// Slurm's reason name (`None`, `Resources`, `NonZeroExitCode`, ...).
    pub reason: String,
    /// How many times the job went back to the queue (`Restarts`).
    pub requeue_count: u32,
    pub comment: Option<String>,
}

/// A step's accounting row.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepRecord {
    pub job_id: JobId,
    pub step_id: StepId,
    /// `batch` for the batch step; the program `srun` ran otherwise.
    pub name: String,
    pub state: JobState,
    pub exit_status: ExitStatus,
    pub start_time_ms: u64,
    pub end_time_ms: Option<u64>,
    pub nodes: Vec<String>,
    pub ntasks: u32,
    pub alloc_cpus: u32,
}

// Most records are job rows; boxing them would cost an allocation each
// and save nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum AccountingRecord {
    Job(JobRecord),
    Step(StepRecord),
}

/// One record in the replicated outbox, with its sequence number: numbers
/// start at 1 and increase by one per record, in commit order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboxEntry {
    pub seq: u64,
    pub record: AccountingRecord,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn step_ids_print_and_parse_as_slurm_spells_them() {
        assert_eq!(StepId::Batch.to_string(), "batch");
        assert_eq!(StepId::Numbered(3).to_string(), "3");
        assert_eq!(StepId::parse("batch"), Some(StepId::Batch));
        assert_eq!(StepId::parse("12"), Some(StepId::Numbered(12)));
        assert_eq!(StepId::parse(""), None);
        assert_eq!(StepId::parse("extern"), None);
        assert_eq!(StepId::parse("-1"), None);
        assert_eq!(StepId::parse("99999999999"), None);
    }
}
