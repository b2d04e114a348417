//! EASY backfill's one reservation: when the highest-priority waiting job
//! can start, and on which nodes, given when the running work ends.
//!
//! The running work's shares are replayed in order of their expected end
//! on top of what is free now, until enough of the partition's nodes (those
//! that take jobs and are big enough) hold a share. Work without a time
//! limit never ends, so a job that only that work keeps out gets no
//! reservation at all.

use std::collections::BTreeMap;

use corral_state::JobId;

use crate::capacity::{Capacity, Demand};
use crate::view::{ClusterView, NodeSlot, Release};

/// Where and when the reserved job will start. Work that starts now and
/// still runs at `start_ms` may use only what the reserved job leaves.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reservation {
    pub job_id: JobId,
    pub start_ms: u64,
    /// The reserved nodes, by slot.
    reserved: BTreeMap<usize, Reserved>,
}

/// One reserved node.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Reserved {
    /// What will be free at the start beyond the reserved share.
    spare_cpus: u32,
    spare_memory_mb: u64,
    /// The GPU indices kept for the reserved job.
    gpus: Vec<u32>,
}

impl Reservation {
    /// Whether a share of `demand` that is free now on `slot` may go to
    /// work still running at the reservation's start.
    pub fn admits(&self, slot: usize, node: &NodeSlot, demand: &Demand) -> bool {
        let Some(reserved) = self.reserved.get(&slot) else {
            return true;
        };
        let gpus_left = node
            .free_gpus
            .iter()
            .filter(|gpu| !reserved.gpus.contains(gpu))
            .count();
        reserved.spare_cpus >= demand.cpus
            && reserved.spare_memory_mb >= demand.memory_mb
            && gpus_left >= demand.gpus as usize
    }

    /// The GPU indices of `slot` kept for the reserved job.
    pub fn kept_gpus(&self, slot: usize) -> &[u32] {
        self.reserved
            .get(&slot)
            .map_or(&[], |reserved| reserved.gpus.as_slice())
    }

    /// Records that work running past the start took a share of `slot`.
    pub fn consume(&mut self, slot: usize, demand: &Demand) {
        if let Some(reserved) = self.reserved.get_mut(&slot) {
            reserved.spare_cpus -= demand.cpus;
            reserved.spare_memory_mb -= demand.memory_mb;
        }
    }

    /// The reserved nodes' slots, in name order.
    pub fn slots(&self) -> impl Iterator<Item = usize> + '_ {
        self.reserved.keys().copied()
    }
}

/// What a node will have free at some future time.
#[derive(Clone, Debug)]
struct Projected {
    cpus: u32,
    memory_mb: u64,
    /// Ascending.
    gpus: Vec<u32>,
}

impl Projected {
    fn now(node: &NodeSlot) -> Projected {
        Projected {
            cpus: node.free.cpus,
            memory_mb: node.free.memory_mb,
            gpus: node.free_gpus.clone(),
        }
    }

    fn holds(&self, demand: &Demand) -> bool {
        let capacity = Capacity {
            cpus: self.cpus,
            memory_mb: self.memory_mb,
            gpus: u32::try_from(self.gpus.len()).unwrap_or(u32::MAX),
        };
        capacity.holds(demand)
    }

    fn give_back(&mut self, release: &Release) {
        self.cpus += release.cpus;
        self.memory_mb += release.memory_mb;
        for gpu in &release.gpus {
            if let Err(at) = self.gpus.binary_search(gpu) {
                self.gpus.insert(at, *gpu);
            }
        }
    }
}

/// The earliest reservation for `job_id` asking `demand` in `partition`,
/// or `None` when work without a time limit keeps it out for good.
pub fn reserve(
    view: &ClusterView,
    partition: usize,
    demand: &Demand,
    job_id: JobId,
) -> Option<Reservation> {
    let candidates: Vec<usize> = view.partitions[partition]
        .slots
        .iter()
        .copied()
        .filter(|&slot| view.slots[slot].accepts_jobs && view.slots[slot].total.holds(demand))
        .collect();
    let mut is_candidate = vec![false; view.slots.len()];
    for &slot in &candidates {
        is_candidate[slot] = true;
    }
    let mut ends: Vec<(u64, &Release)> = view
        .releases
        .iter()
        .filter(|release| is_candidate[release.slot])
        .filter_map(|release| release.end_ms.map(|end_ms| (end_ms, release)))
        .collect();
    ends.sort_by_key(|(end_ms, release)| (*end_ms, release.slot));

    let mut projected: BTreeMap<usize, Projected> = BTreeMap::new();
    let mut holding = candidates
        .iter()
        .filter(|&&slot| view.slots[slot].free.holds(demand))
        .count();
    let mut start_ms = view.now_ms;
    let mut next = 0;
    while holding < demand.nodes() {
        let (end_ms, _) = *ends.get(next)?;
        while let Some((_, release)) = ends.get(next).filter(|(end, _)| *end == end_ms) {
            let node = projected
                .entry(release.slot)
                .or_insert_with(|| Projected::now(&view.slots[release.slot]));
            let held = node.holds(demand);
            node.give_back(release);
            holding += usize::from(!held && node.holds(demand));
            next += 1;
        }
        start_ms = end_ms.max(view.now_ms);
    }
    Some(Reservation {
        job_id,
        start_ms,
        reserved: pick_nodes(view, &candidates, &projected, demand),
    })
}

/// The first nodes in name order that will hold a share at the start.
fn pick_nodes(
    view: &ClusterView,
    candidates: &[usize],
    projected: &BTreeMap<usize, Projected>,
    demand: &Demand,
) -> BTreeMap<usize, Reserved> {
    candidates
        .iter()
        .filter_map(|&slot| {
            let node = projected
                .get(&slot)
                .cloned()
                .unwrap_or_else(|| Projected::now(&view.slots[slot]));
            node.holds(demand).then(|| {
                let reserved = Reserved {
                    spare_cpus: node.cpus - demand.cpus,
                    spare_memory_mb: node.memory_mb - demand.memory_mb,
                    gpus: node.gpus[..demand.gpus as usize].to_vec(),
                };
                (slot, reserved)
            })
        })
        .take(demand.nodes())
        .collect()
}
