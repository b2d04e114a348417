//! The scheduler's working copy of the cluster for one pass: every node
//! with what is free on it, every partition with its indexes, and when the
//! work holding resources is expected to end. Starting a job in the pass
//! takes its resources here, so later jobs of the same pass see them gone.

use std::collections::BTreeMap;

use corral_state::{ClusterState, Job, JobState, Node, Partition};

use crate::capacity::{Capacity, CapacityTree, Demand};
use crate::node_filter::NodeFilter;

/// Milliseconds in a minute, for time limits given in minutes.
const MS_PER_MINUTE: u64 = 60_000;

/// One node as the pass sees it.
#[derive(Clone, Debug)]
pub struct NodeSlot<'a> {
    pub name: &'a str,
    pub accepts_jobs: bool,
    pub total: Capacity,
    pub free: Capacity,
    /// Free GPU indices, ascending.
    pub free_gpus: Vec<u32>,
    /// Each partition holding the node, with the node's position there.
    memberships: Vec<(usize, usize)>,
}

impl<'a> NodeSlot<'a> {
    fn new(node: &'a Node) -> NodeSlot<'a> {
        let free_gpus = node.free_gpus();
        NodeSlot {
            name: &node.name,
            accepts_jobs: node.accepts_jobs(),
            total: Capacity {
                cpus: node.resources.cpus,
                memory_mb: node.resources.memory_mb,
                gpus: count(node.resources.gpus.len()),
            },
            free: Capacity {
                cpus: node.free_cpus(),
                memory_mb: node.free_memory_mb(),
                gpus: count(free_gpus.len()),
            },
            free_gpus,
            memberships: Vec::new(),
        }
    }

    /// Whether the node is one of `partition`'s.
    fn in_partition(&self, partition: usize) -> bool {
        self.memberships.iter().any(|(p, _)| *p == partition)
    }

    /// Whether it takes jobs and `demand` fits in what is free now.
    pub fn fits_now(&self, demand: &Demand) -> bool {
        self.accepts_jobs && demand.fits(&self.total, &self.free)
    }

    /// What new work may take here now: nothing on a node that takes no jobs.
    fn offered(&self) -> Capacity {
        if self.accepts_jobs {
            self.free
        } else {
            Capacity::default()
        }
    }
}

fn count(len: usize) -> u32 {
    u32::try_from(len).unwrap_or(u32::MAX)
}

/// One partition as the pass sees it.
#[derive(Clone, Debug)]
pub struct PartitionView<'a> {
    pub partition: &'a Partition,
    /// The partition's node slots, in name order.
    pub slots: Vec<usize>,
    /// What each node offers now (nothing when it takes no jobs).
    free: CapacityTree,
    /// What each node has in all.
    totals: CapacityTree,
    /// What each node that takes jobs has in all.
    totals_accepting: CapacityTree,
}

/// Resources a piece of running work gives back when it ends.
#[derive(Clone, Debug)]
pub struct Release {
    /// `None`: never (no time limit).
    pub end_ms: Option<u64>,
    pub slot: usize,
    pub cpus: u32,
    pub memory_mb: u64,
    pub gpus: Vec<u32>,
}

#[derive(Clone, Debug)]
pub struct ClusterView<'a> {
    pub now_ms: u64,
    /// In name order.
    pub slots: Vec<NodeSlot<'a>>,
    pub partitions: Vec<PartitionView<'a>>,
    partition_by_name: BTreeMap<&'a str, usize>,
    /// Every share of every active job, started before or during this pass.
    pub releases: Vec<Release>,
}

impl<'a> ClusterView<'a> {
    pub fn new(state: &'a ClusterState, now_ms: u64) -> ClusterView<'a> {
        let mut slots: Vec<NodeSlot<'a>> = state.nodes().map(NodeSlot::new).collect();
        let partitions: Vec<PartitionView<'a>> = state
            .partitions()
            .enumerate()
            .map(|(index, partition)| partition_view(state, partition, index, &mut slots))
            .collect();
        let partition_by_name = partitions
            .iter()
            .enumerate()
            .map(|(index, view)| (view.partition.name.as_str(), index))
            .collect();
        let mut view = ClusterView {
            now_ms,
            slots,
            partitions,
            partition_by_name,
            releases: Vec::new(),
        };
        view.releases = view.running_releases(state);
        view
    }

    pub fn partition_of(&self, job: &Job) -> Option<usize> {
        self.partition_by_name.get(job.partition.as_str()).copied()
    }

    /// The job's time limit in force, in milliseconds; `None`: unlimited.
    pub fn time_limit_ms(&self, job: &Job) -> Option<u64> {
        let partition_limit = self
            .partition_of(job)
            .and_then(|index| self.partitions[index].partition.max_time_minutes);
        job.time_limit_minutes(partition_limit)
            .map(|minutes| u64::from(minutes) * MS_PER_MINUTE)
    }

    /// Whether enough of the partition's nodes could hold `demand` if they
    /// were empty (`filter` allowing): any of them, or only those taking jobs.
    pub fn capable(
        &self,
        partition: usize,
        demand: &Demand,
        filter: Option<&NodeFilter>,
        accepting_only: bool,
    ) -> bool {
        let view = &self.partitions[partition];
        let tree = if accepting_only {
            &view.totals_accepting
        } else {
            &view.totals
        };
        let slots = &self.slots;
        self.choose(partition, demand, filter, tree, &mut |slot| {
            (!accepting_only || slots[slot].accepts_jobs) && demand.fits_empty(&slots[slot].total)
        })
        .is_some()
    }

    /// `demand.nodes` slots of the partition, in name order, that take
    /// jobs, hold the demand now, and that `filter` and `accept` agree to:
    /// the required ones and the first others.
    pub fn place(
        &self,
        partition: usize,
        demand: &Demand,
        filter: Option<&NodeFilter>,
        accept: &mut dyn FnMut(usize) -> bool,
    ) -> Option<Vec<usize>> {
        let slots = &self.slots;
        self.choose(
            partition,
            demand,
            filter,
            &self.partitions[partition].free,
            &mut |slot| slots[slot].fits_now(demand) && accept(slot),
        )
    }

    /// Every required slot (each in the partition and held by `holds`)
    /// and the first other slots in name order that `holds` admits, found
    /// with `tree` (which skips nodes without the demand's least share),
    /// in name order; `None` when there are not enough.
    fn choose(
        &self,
        partition: usize,
        demand: &Demand,
        filter: Option<&NodeFilter>,
        tree: &CapacityTree,
        holds: &mut dyn FnMut(usize) -> bool,
    ) -> Option<Vec<usize>> {
        let view = &self.partitions[partition];
        let required: &[usize] = filter.map_or(&[], |filter| &filter.required);
        if filter.is_some_and(|filter| filter.required_unknown) || required.len() > demand.nodes() {
            return None;
        }
        let mut chosen = Vec::with_capacity(demand.nodes());
        for &slot in required {
            if !self.slots[slot].in_partition(partition) || !holds(slot) {
                return None;
            }
            chosen.push(slot);
        }
        let others = demand.nodes() - required.len();
        if others > 0 {
            let positions = tree.first_holding(demand, others, &mut |position| {
                let slot = view.slots[position];
                filter.is_none_or(|filter| !filter.requires(slot) && !filter.excludes(slot))
                    && holds(slot)
            });
            if positions.len() < others {
                return None;
            }
            chosen.extend(positions.into_iter().map(|position| view.slots[position]));
            chosen.sort_unstable();
        }
        Some(chosen)
    }

    /// The `count` lowest free GPU indices of a slot, leaving out `kept`.
    pub fn pick_gpus(&self, slot: usize, count: u32, kept: &[u32]) -> Vec<u32> {
        self.slots[slot]
            .free_gpus
            .iter()
            .copied()
            .filter(|gpu| !kept.contains(gpu))
            .take(count as usize)
            .collect()
    }

    /// Takes `share` with these GPUs on a slot, for a job started in this
    /// pass that ends at `end_ms`.
    pub fn take(&mut self, slot: usize, share: &Capacity, gpus: Vec<u32>, end_ms: Option<u64>) {
        let node = &mut self.slots[slot];
        node.free.cpus -= share.cpus;
        node.free.memory_mb -= share.memory_mb;
        node.free_gpus.retain(|gpu| !gpus.contains(gpu));
        node.free.gpus = count(node.free_gpus.len());
        let offered = node.offered();
        for &(partition, position) in &node.memberships {
            self.partitions[partition].free.set(position, offered);
        }
        self.releases.push(Release {
            end_ms,
            slot,
            cpus: share.cpus,
            memory_mb: share.memory_mb,
            gpus,
        });
    }

    /// The shares of the jobs running or completing in the state.
    fn running_releases(&self, state: &ClusterState) -> Vec<Release> {
        let mut releases = Vec::new();
        for job in state.all_jobs() {
            let Some(allocation) = active_allocation(job) else {
                continue;
            };
            let end_ms = self.expected_end_ms(job);
            for share in &allocation.shares {
                let Some(slot) = self.slot_of(&share.node) else {
                    continue;
                };
                releases.push(Release {
                    end_ms,
                    slot,
                    cpus: share.cpus,
                    memory_mb: share.memory_mb,
                    gpus: share.gpus.clone(),
                });
            }
        }
        releases
    }

    /// When an active job should give its resources back: a completing one
    /// now (it is being ended), a running one at its start plus its time
    /// limit, or now if that has passed (its agent is about to end it).
    fn expected_end_ms(&self, job: &Job) -> Option<u64> {
        if job.state == JobState::Completing {
            return Some(self.now_ms);
        }
        let start_ms = job.start_time_ms.unwrap_or(self.now_ms);
        self.time_limit_ms(job)
            .map(|limit_ms| start_ms.saturating_add(limit_ms).max(self.now_ms))
    }

    pub fn slot_of(&self, name: &str) -> Option<usize> {
        self.slots.binary_search_by(|slot| slot.name.cmp(name)).ok()
    }
}

fn active_allocation(job: &Job) -> Option<&corral_state::Allocation> {
    match job.state {
        JobState::Running | JobState::Completing => job.allocation.as_ref(),
        _ => None,
    }
}

/// Builds a partition's view and records its membership in its nodes' slots.
fn partition_view<'a>(
    state: &ClusterState,
    partition: &'a Partition,
    index: usize,
    slots: &mut [NodeSlot<'_>],
) -> PartitionView<'a> {
    let members: Vec<usize> = state
        .partition_nodes(partition)
        .iter()
        .filter_map(|name| slots.binary_search_by(|slot| slot.name.cmp(name)).ok())
        .collect();
    for (position, &slot) in members.iter().enumerate() {
        slots[slot].memberships.push((index, position));
    }
    let values = |value: &dyn Fn(&NodeSlot) -> Capacity| -> Vec<Capacity> {
        members.iter().map(|&slot| value(&slots[slot])).collect()
    };
    let free = CapacityTree::new(&values(&|slot| slot.offered()));
    let totals = CapacityTree::new(&values(&|slot| slot.total));
    let totals_accepting = CapacityTree::new(&values(&|slot| {
        if slot.accepts_jobs {
            slot.total
        } else {
            Capacity::default()
        }
    }));
    PartitionView {
        partition,
        slots: members,
        free,
        totals,
        totals_accepting,
    }
}
