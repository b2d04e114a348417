//! Corral's scheduler: a pure function from a snapshot of the cluster to a
//! plan, [`schedule`]`(&ClusterState, now_ms, &SchedulerConfig) -> Plan`.
//!
//! The leader runs it on a snapshot and proposes the plan as
//! `Command::ApplyPlan` ([`Plan::into_command`]); `apply` checks every
//! allocation again, so a plan made on a stale snapshot can be refused but
//! never over-allocates. Like `state`, this crate does no I/O: time is the
//! `now_ms` argument, and the same input always gives the same plan.
//!
//! # One pass
//!
//! 1. **Queue.** Pending jobs that are not held, by [`priority`] (age and
//!    size, Slurm multifactor-like), highest first, ties by job id. A job
//!    whose dependencies, `--begin` time (`BeginTime`) or array throttle
//!    keep it back takes nothing, in that order.
//! 2. **Reasons that do not depend on other jobs** (`eligibility.rs`): the
//!    partition's state (`PartitionDown`, `PartitionInactive`), more nodes
//!    than it has (`PartitionNodeLimit`), a time limit above its maximum
//!    (`PartitionTimeLimit`), a share no node could ever hold
//!    (`PartitionConfig`), too few such nodes taking jobs
//!    (`ReqNodeNotAvail`). Such a job is skipped.
//! 3. **Placement.** A job needs `spec.nodes` distinct nodes of its
//!    partition that take jobs, each with `cpus_per_node()` CPUs,
//!    `memory_per_node()` MB and `gpus_per_node` GPUs free (the lowest free
//!    indices). An `--exclusive` job needs idle nodes and takes every CPU
//!    of each (with `--mem-per-cpu`, memory for each). `-w` nodes are
//!    always among those chosen and `-x` nodes never (`node_filter.rs`);
//!    the reasons and the reservation count only the nodes allowed, and
//!    what the pass remembers about failed demands is learnt only from
//!    jobs without lists. Nodes are chosen **first fit in name order**, not best fit:
//!    predictable, and fast with the per-partition `CapacityTree`
//!    (`capacity.rs`), which skips every group of nodes where no node has
//!    enough of some resource, so a full cluster answers in `O(1)`.
//!    Resources only shrink during a pass, so a demand that failed rules
//!    out every bigger demand in that partition without a search.
//! 4. **EASY backfill, one reservation.** Jobs start in priority order while
//!    they fit. The first that does not fit gets a *reservation*
//!    (`reservation.rs`): the earliest time enough nodes will hold its
//!    share, replaying the expected ends of the running work (start plus
//!    the job's time limit, or its partition's maximum; a job without a
//!    limit never ends) and the nodes it would use then. It waits with
//!    `Resources`. Every later job may start now only if it fits now and
//!    either ends (now plus its limit) by the reservation's start or leaves
//!    the reserved share of each reserved node (CPUs, memory, GPU indices)
//!    untouched; otherwise it waits with `Priority`. If work without a time
//!    limit keeps the first blocked job out for good it gets no
//!    reservation (it waits with `Resources`) and the next blocked job is
//!    considered for one instead. Only one job is ever protected, as in
//!    EASY backfill (Slurm's backfill protects many): a job behind it may
//!    be overtaken by smaller ones until it becomes the first blocked job.
//!
//! Architecture invariant: every allocation in a plan passes `apply`'s
//! own check on the state it was made from (`plan_fits` in
//! `state/src/apply_jobs.rs`); the property tests apply random plans and
//! require that nothing is refused.

mod capacity;
mod config;
mod eligibility;
mod node_filter;
mod pass;
pub mod priority;
mod reservation;
mod view;

pub use config::{
    SchedulerConfig, PRIORITY_MAX_AGE_MS_DEFAULT, PRIORITY_WEIGHT_AGE_DEFAULT,
    PRIORITY_WEIGHT_JOB_SIZE_DEFAULT,
};
pub use pass::{schedule, Plan, PlannedReservation};
