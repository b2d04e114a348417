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
use crate::node_filter::NodeFilter;
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
    /// Whether `demand`'s share that is free now on `slot` may go to work
    /// still running at the reservation's start.
    pub fn admits(&self, slot: usize, node: &NodeSlot, demand: &Demand) -> bool {
        let Some(reserved) = self.reserved.get(&slot) else {
            return true;
        };
        let share = demand.share_on(&node.total);
        let gpus_left = node
            .free_gpus
            .iter()
            .filter(|gpu| !reserved.gpus.contains(gpu))
            .count();
        reserved.spare_cpus >= share.cpus
            && reserved.spare_memory_mb >= share.memory_mb
            && gpus_left >= share.gpus as usize
    }

    /// The GPU indices of `slot` kept for the reserved job.
    pub fn kept_gpus(&self, slot: usize) -> &[u32] {
        self.reserved
            .get(&slot)
            .map_or(&[], |reserved| reserved.gpus.as_slice())
    }

    /// Records that work running past the start took `share` of `slot`.
    pub fn consume(&mut self, slot: usize, share: &Capacity) {
        if let Some(reserved) = self.reserved.get_mut(&slot) {
            reserved.spare_cpus -= share.cpus;
            reserved.spare_memory_mb -= share.memory_mb;
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
    total: Capacity,
    cpus: u32,
    memory_mb: u64,
    /// Ascending.
    gpus: Vec<u32>,
}

impl Projected {
    fn now(node: &NodeSlot) -> Projected {
        Projected {
            total: node.total,
            cpus: node.free.cpus,
            memory_mb: node.free.memory_mb,
            gpus: node.free_gpus.clone(),
        }
    }

    fn free(&self) -> Capacity {
        Capacity {
            cpus: self.cpus,
            memory_mb: self.memory_mb,
            gpus: u32::try_from(self.gpus.len()).unwrap_or(u32::MAX),
        }
    }

    fn holds(&self, demand: &Demand) -> bool {
        demand.fits(&self.total, &self.free())
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

/// The earliest reservation for `job_id` asking `demand` in `partition`
/// (on the nodes `filter` allows, its required ones among them), or `None`
/// when work without a time limit keeps it out for good.
pub fn reserve(
    view: &ClusterView,
    partition: usize,
    demand: &Demand,
    filter: Option<&NodeFilter>,
    job_id: JobId,
) -> Option<Reservation> {
    let candidates: Vec<usize> = view.partitions[partition]
        .slots
        .iter()
        .copied()
        .filter(|&slot| view.slots[slot].accepts_jobs && demand.fits_empty(&view.slots[slot].total))
        .filter(|&slot| filter.is_none_or(|filter| !filter.excludes(slot)))
        .collect();
    let required: &[usize] = filter.map_or(&[], |filter| &filter.required);
    if filter.is_some_and(|filter| filter.required_unknown)
        || required.len() > demand.nodes()
        || required
            .iter()
            .any(|slot| candidates.binary_search(slot).is_err())
    {
        return None;
    }
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

    let holds_now = |slot: &usize| view.slots[*slot].fits_now(demand);
    let mut holding = candidates.iter().filter(|slot| holds_now(slot)).count();
    let mut required_holding = required.iter().filter(|slot| holds_now(slot)).count();
    let mut projected: BTreeMap<usize, Projected> = BTreeMap::new();
    let mut start_ms = view.now_ms;
    let mut next = 0;
    while holding < demand.nodes() || required_holding < required.len() {
        let (end_ms, _) = *ends.get(next)?;
        while let Some((_, release)) = ends.get(next).filter(|(end, _)| *end == end_ms) {
            let node = projected
                .entry(release.slot)
                .or_insert_with(|| Projected::now(&view.slots[release.slot]));
            let held = node.holds(demand);
            node.give_back(release);
            let newly = !held && node.holds(demand);
            holding += usize::from(newly);
            required_holding += usize::from(newly && required.binary_search(&release.slot).is_ok());
            next += 1;
        }
        start_ms = end_ms.max(view.now_ms);
    }
    Some(Reservation {
        job_id,
        start_ms,
        reserved: pick_nodes(view, &candidates, required, &projected, demand),
    })
}

/// The required nodes and the first others in name order that will hold
/// a share at the start.
fn pick_nodes(
    view: &ClusterView,
    candidates: &[usize],
    required: &[usize],
    projected: &BTreeMap<usize, Projected>,
    demand: &Demand,
) -> BTreeMap<usize, Reserved> {
    let at_start = |slot: usize| {
        projected
            .get(&slot)
            .cloned()
            .unwrap_or_else(|| Projected::now(&view.slots[slot]))
    };
    let reserved = |slot: usize, node: Projected| {
        let share = demand.share_on(&node.total);
        let reserved = Reserved {
            spare_cpus: node.cpus - share.cpus,
            spare_memory_mb: node.memory_mb - share.memory_mb,
            gpus: node.gpus[..share.gpus as usize].to_vec(),
        };
        (slot, reserved)
    };
    let others = demand.nodes() - required.len();
    required
        .iter()
        .map(|&slot| reserved(slot, at_start(slot)))
        .chain(
            candidates
                .iter()
                .filter(|slot| required.binary_search(slot).is_err())
                .filter_map(|&slot| {
                    let node = at_start(slot);
                    node.holds(demand).then(|| reserved(slot, node))
                })
                .take(others),
        )
        .collect()
}
