//! Partitions: named sets of nodes with limits, as in Slurm.

use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum PartitionState {
    Up,
    Down,
    Drain,
    Inactive,
}

impl PartitionState {
    pub const ALL: [PartitionState; 4] = [
        PartitionState::Up,
        PartitionState::Down,
        PartitionState::Drain,
        PartitionState::Inactive,
    ];

    pub fn from_slurm_name(name: &str) -> Option<PartitionState> {
        let upper = name.to_ascii_uppercase();
        PartitionState::ALL
            .into_iter()
            .find(|s| s.slurm_name() == upper)
    }

    pub fn slurm_name(self) -> &'static str {
        match self {
            PartitionState::Up => "UP",
            PartitionState::Down => "DOWN",
            PartitionState::Drain => "DRAIN",
            PartitionState::Inactive => "INACTIVE",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Partition {
    pub name: String,
    /// Slurm hostlist expression of the partition's nodes (`node[001-004]`).
    pub nodes: String,
    pub default: bool,
    /// `None`: `UNLIMITED`.
    pub max_time_minutes: Option<u32>,
    pub state: PartitionState,
}

impl Partition {
    /// The partition's nodes among `existing`: its hostlist expanded, or
    /// every node for `ALL` (as in Slurm's `Nodes=ALL`). Names in the
    /// expression that are not nodes are left out; so is everything when
    /// the expression does not parse.
    pub fn node_names<'a>(&self, existing: impl Iterator<Item = &'a String>) -> Vec<String> {
        let existing: std::collections::BTreeSet<&String> = existing.collect();
        if self.nodes.trim().eq_ignore_ascii_case("ALL") {
            return existing.into_iter().cloned().collect();
        }
        let named = crate::hostlist::expand(&self.nodes).unwrap_or_default();
        let mut names: Vec<String> = named
            .into_iter()
            .filter(|name| existing.contains(name))
            .collect();
        names.sort();
        names.dedup();
        names
    }
}
