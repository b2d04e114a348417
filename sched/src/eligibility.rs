//! Why a job cannot start whatever else runs: its partition, its size or
//! its time limit. These reasons do not depend on the other jobs; the
//! partition's verdict comes first, then the nodes'.

use corral_state::{Job, JobReason, PartitionState};

use crate::capacity::Demand;
use crate::node_filter::NodeFilter;
use crate::view::ClusterView;

/// The partition's own verdict, in order: its state (a partition that no
/// longer exists counts as inactive; on a drained one see below), more
/// nodes than it has (`PartitionNodeLimit`), a time limit above its
/// maximum (`PartitionTimeLimit`).
pub fn partition_reason(
    view: &ClusterView,
    partition: Option<usize>,
    job: &Job,
    demand: &Demand,
) -> Option<JobReason> {
    let Some(partition) = partition else {
        return Some(JobReason::PartitionInactive);
    };
    let config = view.partitions[partition].partition;
    match config.state {
        PartitionState::Up => {}
        PartitionState::Inactive => return Some(JobReason::PartitionInactive),
        // Slurm lets a drained partition run the jobs already queued, but
        // `apply` accepts plans only in partitions that are up.
        PartitionState::Down | PartitionState::Drain => return Some(JobReason::PartitionDown),
    }
    if demand.nodes() > view.partitions[partition].slots.len() {
        return Some(JobReason::PartitionNodeLimit);
    }
    if let (Some(asked), Some(maximum)) = (job.spec.time_limit_minutes, config.max_time_minutes) {
        if asked > maximum {
            return Some(JobReason::PartitionTimeLimit);
        }
    }
    None
}

/// A share bigger than enough of the partition's nodes could ever hold
/// (`PartitionConfig`), or too few of those nodes taking jobs because they
/// are drained or down (`ReqNodeNotAvail`). With `-w`/`-x`, among the nodes
/// they allow: a required node outside the partition (or unknown) is
/// `PartitionConfig`, one that is drained or down `ReqNodeNotAvail`.
/// Without a filter it depends only on the demand, which many jobs share,
/// so callers may remember it.
pub fn capacity_reason(
    view: &ClusterView,
    partition: usize,
    demand: &Demand,
    filter: Option<&NodeFilter>,
) -> Option<JobReason> {
    if !view.capable(partition, demand, filter, false) {
        Some(JobReason::PartitionConfig)
    } else if !view.capable(partition, demand, filter, true) {
        Some(JobReason::ReqNodeNotAvail)
    } else {
        None
    }
}
