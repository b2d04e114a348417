//! Corral's replicated state machine.
//!
//! Everything every controller must agree on lives in [`ClusterState`], and it
//! changes only through [`ClusterState::apply`] of a [`Command`] taken from the
//! Raft log. This crate is deliberately pure: no clock (time arrives as a
//! `now_ms` field stamped by the leader), no I/O, no async, no randomness. Two
//! controllers that apply the same commands in the same order hold the same
//! state, byte for byte.
//!
//! Architecture invariant: `apply` never fails. A business rejection (an
//! unknown partition, cancelling someone else's job) is an [`Outcome`] that is
//! itself part of the replicated history; only a corrupt log is a crash, and
//! that is the storage layer's concern.

pub mod accounting;
mod allocation;
mod apply_accounting;
mod apply_admin;
mod apply_jobs;
mod apply_nodes;
mod apply_steps;
mod apply_update;
mod array;
mod cluster;
mod command;
mod dependency;
pub mod hostlist;
mod invariants;
mod job;
mod node;
pub mod outbox;
mod partition;
pub mod policy;
mod request_window;
pub mod step;
mod user;
mod variant_names;

pub use accounting::{AccountingRecord, JobRecord, OutboxEntry, StepId, StepRecord};
pub use allocation::{Allocation, AllocationId, NodeShare, PlannedAllocation};
pub use apply_accounting::{batch_step_record, job_record, step_record};
pub use apply_nodes::SYSTEM_REASON_USER;
pub use array::{ArraySpec, ArrayTask, MAX_ARRAY_SIZE};
pub use cluster::{ClusterState, JobQuery};
pub use command::{
    Command, FinishCause, JobUpdate, NodeChange, NodeDefinition, Outcome, Rejection,
    TimeLimitUpdate, COMMAND_FORMAT_VERSION,
};
pub use dependency::{
    ConditionState, Dependencies, DependencyCondition, DependencyKind, DependencySpec, Resolution,
};
pub use invariants::InvariantViolation;
pub use job::{
    ExitStatus, Job, JobId, JobReason, JobSignal, JobSpec, JobState, OpenMode, RequestId,
    TIME_MIN_UNLIMITED,
};
pub use node::{Gpu, Node, NodeAvailability, NodeReason, NodeResources, NodeUsage};
pub use outbox::{Outbox, RowKey, OUTBOX_ROWS_MAX};
pub use partition::{Partition, PartitionState};
pub use policy::{Account, AccountUser, AdminLevel, Policy, PolicyChange, ROOT_ACCOUNT};
pub use request_window::{REQUEST_IDS_MAX, REQUEST_ID_WINDOW_MS};
pub use step::{Step, StepNode, StepNodeEnd, StepSpec, STEPS_PER_JOB_MAX};
pub use user::{Actor, User};
