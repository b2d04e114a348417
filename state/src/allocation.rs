//! Allocations: the resources a running job holds, node by node.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Identifies one allocation of one job. A job that is requeued and started
/// again gets a new one, so a late report or launch of the old allocation
/// is recognised as stale. Assigned in `apply`, only ever growing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct AllocationId(pub u64);

impl fmt::Display for AllocationId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// A job's share of one node.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeShare {
    pub node: String,
    pub cpus: u32,
    pub memory_mb: u64,
    /// GPU indices on that node.
    pub gpus: Vec<u32>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Allocation {
    pub id: AllocationId,
    /// In the order the job sees its nodes (`SLURM_JOB_NODELIST`); the
    /// first runs the batch script.
    pub shares: Vec<NodeShare>,
}

impl Allocation {
    pub fn node_names(&self) -> Vec<String> {
        self.shares.iter().map(|share| share.node.clone()).collect()
    }

    pub fn cpus(&self) -> u32 {
        self.shares.iter().map(|share| share.cpus).sum()
    }

    pub fn share_on(&self, node: &str) -> Option<&NodeShare> {
        self.shares.iter().find(|share| share.node == node)
    }
}

/// A placement the scheduler proposes for a pending job; `apply` checks it
/// again against the resources free at that point of the log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlannedAllocation {
    pub job_id: crate::JobId,
    pub shares: Vec<NodeShare>,
}
