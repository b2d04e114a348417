//! Compute nodes: what they have, what is allocated on them, and whether
//! they may run jobs.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

/// A GPU of a node, by its index on that node (what `CUDA_VISIBLE_DEVICES`
/// lists).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Gpu {
    pub index: u32,
    /// e.g. `NVIDIA A100-SXM4-80GB`; empty when declared without a model.
    pub model: String,
}

/// What a node offers to jobs.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeResources {
    pub cpus: u32,
    pub memory_mb: u64,
    pub gpus: Vec<Gpu>,
}

/// What is allocated on a node right now: the sum of the shares of the
/// active jobs on it. Kept in the state (`invariants()` recomputes it).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeUsage {
    pub cpus: u32,
    pub memory_mb: u64,
    pub gpus: BTreeSet<u32>,
}

/// Whether a node is reachable, as the controllers judge it. Idle, mixed
/// and allocated are not states of their own: they follow from the usage.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum NodeAvailability {
    /// Declared, never heard from since the cluster (or the node) started.
    Unknown,
    /// Its agent is attached and heartbeating.
    Up,
    /// Declared down: missed its heartbeats, or an administrator said so.
    Down,
}

/// Why a node was drained or set down, and by whom (`sinfo -R`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeReason {
    pub text: String,
    pub user: String,
    pub uid: u32,
    pub time_ms: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Node {
    pub name: String,
    pub resources: NodeResources,
    /// Resources come from the configuration file, not from the agent.
    pub declared: bool,
    pub availability: NodeAvailability,
    /// No new jobs (`scontrol update state=drain`); running ones finish.
    pub drain: bool,
    pub reason: Option<NodeReason>,
    pub usage: NodeUsage,
    /// When the node's agent last registered.
    pub registered_ms: Option<u64>,
}

impl Node {
    pub fn new(name: &str, resources: NodeResources, declared: bool) -> Node {
        Node {
            name: name.to_string(),
            resources,
            declared,
            availability: NodeAvailability::Unknown,
            drain: false,
            reason: None,
            usage: NodeUsage::default(),
            registered_ms: None,
        }
    }

    /// Whether the scheduler may place new work here.
    pub fn accepts_jobs(&self) -> bool {
        self.availability == NodeAvailability::Up && !self.drain
    }

    pub fn free_cpus(&self) -> u32 {
        self.resources.cpus.saturating_sub(self.usage.cpus)
    }

    pub fn free_memory_mb(&self) -> u64 {
        self.resources
            .memory_mb
            .saturating_sub(self.usage.memory_mb)
    }

    /// GPU indices not allocated, in order.
    pub fn free_gpus(&self) -> Vec<u32> {
        self.resources
            .gpus
            .iter()
            .map(|gpu| gpu.index)
            .filter(|index| !self.usage.gpus.contains(index))
            .collect()
    }

    pub fn is_idle(&self) -> bool {
        self.usage.cpus == 0 && self.usage.memory_mb == 0 && self.usage.gpus.is_empty()
    }

    /// All CPUs taken.
    pub fn is_allocated(&self) -> bool {
        self.resources.cpus > 0 && self.usage.cpus >= self.resources.cpus
    }
}
