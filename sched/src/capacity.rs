//! Amounts of node resources, what a job asks of each node, and an index
//! that finds the first nodes able to hold a share without scanning them all.

use corral_state::JobSpec;

/// What a job asks: `nodes` distinct nodes, each giving it this share (for
/// an exclusive job, at least this: it takes the whole node).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Demand {
    pub cpus: u32,
    pub memory_mb: u64,
    pub gpus: u32,
    pub nodes: u32,
    /// `--exclusive`: only idle nodes, every CPU of each.
    pub exclusive: bool,
    /// `--mem-per-cpu`: memory for each CPU taken (`memory_mb` is for the
    /// CPUs asked; an exclusive job needs it for all of a node's).
    pub memory_per_cpu_mb: Option<u64>,
}

impl Demand {
    pub fn of(spec: &JobSpec) -> Demand {
        Demand {
            cpus: spec.cpus_per_node(),
            memory_mb: spec.memory_per_node(),
            gpus: spec.gpus_per_node,
            nodes: spec.nodes.max(1),
            exclusive: spec.exclusive,
            memory_per_cpu_mb: spec.memory_per_cpu_mb,
        }
    }

    pub fn nodes(&self) -> usize {
        self.nodes as usize
    }

    /// What the job takes on a node with `total` resources: the share, or
    /// for an exclusive job every CPU (and memory for each with
    /// `--mem-per-cpu`). GPUs are the ones asked for: `apply` gives a job
    /// exactly those.
    pub fn share_on(&self, total: &Capacity) -> Capacity {
        if !self.exclusive {
            return Capacity {
                cpus: self.cpus,
                memory_mb: self.memory_mb,
                gpus: self.gpus,
            };
        }
        Capacity {
            cpus: total.cpus,
            memory_mb: self.memory_per_cpu_mb.map_or(self.memory_mb, |per_cpu| {
                per_cpu.saturating_mul(u64::from(total.cpus))
            }),
            gpus: self.gpus,
        }
    }

    /// Whether a node with `total` resources could hold the job if empty.
    pub fn fits_empty(&self, total: &Capacity) -> bool {
        total.holds(self) && total.contains(&self.share_on(total))
    }

    /// Whether a node with `total` resources, `free` now, holds the job
    /// now: an exclusive job only an idle node.
    pub fn fits(&self, total: &Capacity, free: &Capacity) -> bool {
        if self.exclusive {
            free == total && self.fits_empty(total)
        } else {
            free.holds(self)
        }
    }

    /// At least as much of everything as `other`, and at least as strict:
    /// if `other` cannot be placed, neither can `self`.
    fn covers(&self, other: &Demand) -> bool {
        let memory = match (self.exclusive, other.exclusive) {
            (_, false) => self.memory_mb >= other.memory_mb,
            (true, true) => match (self.memory_per_cpu_mb, other.memory_per_cpu_mb) {
                (None, None) => self.memory_mb >= other.memory_mb,
                (Some(mine), Some(theirs)) => mine >= theirs,
                _ => false,
            },
            (false, true) => false,
        };
        memory && self.cpus >= other.cpus && self.gpus >= other.gpus && self.nodes >= other.nodes
    }
}

/// Resources of one node (or the largest of each kind over several nodes).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Capacity {
    pub cpus: u32,
    pub memory_mb: u64,
    pub gpus: u32,
}

impl Capacity {
    /// Whether one share of `demand` fits in this much (for an exclusive
    /// demand, its least share).
    pub fn holds(&self, demand: &Demand) -> bool {
        self.cpus >= demand.cpus && self.memory_mb >= demand.memory_mb && self.gpus >= demand.gpus
    }

    /// At least `other` of every resource.
    pub fn contains(&self, other: &Capacity) -> bool {
        self.cpus >= other.cpus && self.memory_mb >= other.memory_mb && self.gpus >= other.gpus
    }

    fn largest(self, other: Capacity) -> Capacity {
        Capacity {
            cpus: self.cpus.max(other.cpus),
            memory_mb: self.memory_mb.max(other.memory_mb),
            gpus: self.gpus.max(other.gpus),
        }
    }
}

/// A segment tree over a list of nodes (a partition's, in name order):
/// each inner entry holds the largest amount of each resource below it, so
/// a search skips every subtree where no node could hold a share. Finding
/// the first `k` nodes that hold a share costs about `k log n` when the
/// per-resource maxima are not misleading, and `O(1)` when the partition is
/// full.
#[derive(Clone, Debug)]
pub struct CapacityTree {
    /// Number of leaves: the list's length rounded up to a power of two.
    leaves: usize,
    len: usize,
    /// 1-based heap: entry `i` has children `2i` and `2i + 1`.
    largest: Vec<Capacity>,
}

impl CapacityTree {
    pub fn new(values: &[Capacity]) -> CapacityTree {
        let leaves = values.len().max(1).next_power_of_two();
        let mut largest = vec![Capacity::default(); 2 * leaves];
        largest[leaves..leaves + values.len()].copy_from_slice(values);
        for index in (1..leaves).rev() {
            largest[index] = largest[2 * index].largest(largest[2 * index + 1]);
        }
        CapacityTree {
            leaves,
            len: values.len(),
            largest,
        }
    }

    pub fn set(&mut self, position: usize, value: Capacity) {
        let mut index = self.leaves + position;
        self.largest[index] = value;
        while index > 1 {
            index /= 2;
            self.largest[index] = self.largest[2 * index].largest(self.largest[2 * index + 1]);
        }
    }

    /// The first `wanted` positions (in order) whose value holds one share
    /// of `demand` and that `accept` agrees to; fewer when there are not
    /// that many.
    pub fn first_holding(
        &self,
        demand: &Demand,
        wanted: usize,
        accept: &mut dyn FnMut(usize) -> bool,
    ) -> Vec<usize> {
        let mut found = Vec::with_capacity(wanted);
        self.collect(1, demand, wanted, accept, &mut found);
        found
    }

    fn collect(
        &self,
        index: usize,
        demand: &Demand,
        wanted: usize,
        accept: &mut dyn FnMut(usize) -> bool,
        found: &mut Vec<usize>,
    ) {
        if found.len() >= wanted || !self.largest[index].holds(demand) {
            return;
        }
        if index >= self.leaves {
            let position = index - self.leaves;
            if position < self.len && accept(position) {
                found.push(position);
            }
            return;
        }
        self.collect(2 * index, demand, wanted, accept, found);
        self.collect(2 * index + 1, demand, wanted, accept, found);
    }
}

/// The most demands a [`FailedDemands`] remembers.
const FAILED_DEMANDS_MAX: usize = 64;

/// Demands already known not to fit in one pass. Resources only shrink
/// during a pass, so a demand covering one that failed fails too, and is
/// answered without a search.
#[derive(Clone, Debug, Default)]
pub struct FailedDemands {
    /// Minimal: none covers another.
    demands: Vec<Demand>,
}

impl FailedDemands {
    pub fn rules_out(&self, demand: &Demand) -> bool {
        self.demands.iter().any(|failed| demand.covers(failed))
    }

    pub fn remember(&mut self, demand: Demand) {
        if self.rules_out(&demand) {
            return;
        }
        self.demands.retain(|failed| !failed.covers(&demand));
        if self.demands.len() < FAILED_DEMANDS_MAX {
            self.demands.push(demand);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn capacity(cpus: u32, memory_mb: u64, gpus: u32) -> Capacity {
        Capacity {
            cpus,
            memory_mb,
            gpus,
        }
    }

    fn demand(cpus: u32, memory_mb: u64, gpus: u32, nodes: u32) -> Demand {
        Demand {
            cpus,
            memory_mb,
            gpus,
            nodes,
            exclusive: false,
            memory_per_cpu_mb: None,
        }
    }

    fn exclusive(demand: Demand, memory_per_cpu_mb: Option<u64>) -> Demand {
        Demand {
            exclusive: true,
            memory_per_cpu_mb,
            ..demand
        }
    }

    #[test]
    fn finds_the_first_nodes_that_hold_a_share_in_order() {
        let mut tree = CapacityTree::new(&[
            capacity(4, 100, 0),
            capacity(8, 10, 0),
            capacity(8, 100, 1),
            capacity(2, 100, 0),
            capacity(8, 100, 0),
        ]);
        let mut all = |_| true;
        assert_eq!(
            tree.first_holding(&demand(4, 50, 0, 2), 2, &mut all),
            [0, 2]
        );
        assert_eq!(tree.first_holding(&demand(4, 50, 1, 1), 5, &mut all), [2]);
        assert_eq!(tree.first_holding(&demand(16, 0, 0, 1), 1, &mut all), []);
        tree.set(0, capacity(0, 0, 0));
        assert_eq!(
            tree.first_holding(&demand(4, 50, 0, 3), 3, &mut all),
            [2, 4]
        );
        let mut not_two = |position| position != 2;
        assert_eq!(
            tree.first_holding(&demand(4, 50, 0, 3), 3, &mut not_two),
            [4]
        );
    }

    #[test]
    fn an_empty_tree_holds_nothing() {
        let tree = CapacityTree::new(&[]);
        assert_eq!(
            tree.first_holding(&demand(1, 0, 0, 1), 1, &mut |_| true),
            []
        );
    }

    #[test]
    fn an_exclusive_demand_takes_the_whole_node_and_only_an_idle_one() {
        let total = capacity(8, 1000, 2);
        let whole = exclusive(demand(2, 200, 1, 1), Some(100));
        assert_eq!(whole.share_on(&total), capacity(8, 800, 1));
        assert!(whole.fits(&total, &total));
        assert!(!whole.fits(&total, &capacity(7, 1000, 2)));
        assert!(!exclusive(demand(2, 200, 0, 1), Some(200)).fits_empty(&total));
        assert_eq!(
            exclusive(demand(2, 300, 0, 1), None).share_on(&total),
            capacity(8, 300, 0)
        );
        let shared = demand(2, 200, 1, 1);
        assert_eq!(shared.share_on(&total), capacity(2, 200, 1));
        assert!(shared.fits(&total, &capacity(2, 200, 1)));
    }

    #[test]
    fn strictness_counts_in_what_a_failure_rules_out() {
        let mut failed = FailedDemands::default();
        failed.remember(demand(2, 100, 0, 1));
        assert!(failed.rules_out(&exclusive(demand(2, 100, 0, 1), None)));
        let mut failed = FailedDemands::default();
        failed.remember(exclusive(demand(2, 100, 0, 1), None));
        assert!(!failed.rules_out(&demand(4, 200, 0, 1)));
        assert!(failed.rules_out(&exclusive(demand(4, 200, 0, 1), None)));
        assert!(!failed.rules_out(&exclusive(demand(4, 200, 0, 1), Some(100))));
    }

    #[test]
    fn a_failed_demand_rules_out_every_larger_one() {
        let mut failed = FailedDemands::default();
        failed.remember(demand(4, 100, 0, 2));
        assert!(failed.rules_out(&demand(4, 100, 0, 2)));
        assert!(failed.rules_out(&demand(8, 200, 1, 3)));
        assert!(!failed.rules_out(&demand(2, 100, 0, 2)));
        assert!(!failed.rules_out(&demand(4, 100, 0, 1)));
        failed.remember(demand(2, 0, 0, 1));
        assert!(failed.rules_out(&demand(2, 1, 0, 1)));
        assert_eq!(failed.demands.len(), 1);
    }
}
