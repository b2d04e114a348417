//! A reference scheduler written as plainly as the rules read: every node
//! of a partition is scanned for every job, the reservation tries every
//! end time in turn, and nothing is indexed or remembered. It is slow on
//! purpose; the property tests require `schedule` to make exactly the same
//! plan. Only the queue order is shared (`corral_sched::priority`).

use std::collections::BTreeMap;

use corral_sched::priority::queue;
use corral_sched::{Plan, PlannedReservation, SchedulerConfig};
use corral_state::{
    ClusterState, Job, JobReason, JobState, Node, NodeShare, PartitionState, PlannedAllocation,
};

const MS_PER_MINUTE: u64 = 60_000;

#[derive(Clone, Debug)]
struct Free {
    cpus: u32,
    memory_mb: u64,
    gpus: Vec<u32>,
}

/// One share of running work and when it should end (`None`: never).
struct End {
    end_ms: Option<u64>,
    node: String,
    cpus: u32,
    memory_mb: u64,
    gpus: Vec<u32>,
}

struct Reserved {
    job_id: u32,
    start_ms: u64,
    /// Node -> (spare CPUs, spare memory, kept GPUs).
    nodes: BTreeMap<String, (u32, u64, Vec<u32>)>,
}

struct Share {
    cpus: u32,
    memory_mb: u64,
    gpus: u32,
    nodes: usize,
    exclusive: bool,
    memory_per_cpu_mb: Option<u64>,
    required: Vec<String>,
    excluded: Vec<String>,
}

fn share_of(job: &Job) -> Share {
    Share {
        cpus: job.spec.cpus_per_node(),
        memory_mb: job.spec.memory_per_node(),
        gpus: job.spec.gpus_per_node,
        nodes: job.spec.nodes.max(1) as usize,
        exclusive: job.spec.exclusive,
        memory_per_cpu_mb: job.spec.memory_per_cpu_mb,
        required: job.spec.required_nodes.clone(),
        excluded: job.spec.excluded_nodes.clone(),
    }
}

fn holds(cpus: u32, memory_mb: u64, gpus: usize, share: &Share) -> bool {
    cpus >= share.cpus && memory_mb >= share.memory_mb && gpus >= share.gpus as usize
}

/// (CPUs, memory) the job takes on a node of `total_cpus`: an exclusive
/// job all of its CPUs, and memory for each with --mem-per-cpu.
fn taken(share: &Share, total_cpus: u32) -> (u32, u64) {
    if !share.exclusive {
        return (share.cpus, share.memory_mb);
    }
    let memory = share
        .memory_per_cpu_mb
        .map_or(share.memory_mb, |per_cpu| per_cpu * u64::from(total_cpus));
    (total_cpus, memory)
}

/// Whether an empty node could hold the job.
fn capable_node(node: &Node, share: &Share) -> bool {
    let total = &node.resources;
    let (cpus, memory_mb) = taken(share, total.cpus);
    holds(total.cpus, total.memory_mb, total.gpus.len(), share)
        && total.cpus >= cpus
        && total.memory_mb >= memory_mb
}

/// Whether the job fits on a node with `free` left of it: an exclusive
/// job only on an idle node.
fn fits(node: &Node, free: &Free, share: &Share) -> bool {
    if share.exclusive {
        let total = &node.resources;
        free.cpus == total.cpus
            && free.memory_mb == total.memory_mb
            && free.gpus.len() == total.gpus.len()
            && capable_node(node, share)
    } else {
        holds(free.cpus, free.memory_mb, free.gpus.len(), share)
    }
}

/// The required nodes (all of which must pass `ok`) and the first other
/// allowed nodes of `members` that pass it, sorted; `None` if too few.
fn pick(
    share: &Share,
    members: &[String],
    ok: &mut dyn FnMut(&str) -> bool,
) -> Option<Vec<String>> {
    if share.required.len() > share.nodes {
        return None;
    }
    let mut chosen = Vec::new();
    for name in &share.required {
        if !members.contains(name) || !ok(name) {
            return None;
        }
        chosen.push(name.clone());
    }
    let others: Vec<String> = members
        .iter()
        .filter(|name| !share.required.contains(name) && !share.excluded.contains(name))
        .filter(|name| ok(name))
        .take(share.nodes - share.required.len())
        .cloned()
        .collect();
    if others.len() < share.nodes - share.required.len() {
        return None;
    }
    chosen.extend(others);
    chosen.sort();
    Some(chosen)
}

fn limit_ms(state: &ClusterState, job: &Job) -> Option<u64> {
    let partition_limit = state
        .partition(&job.partition)
        .and_then(|p| p.max_time_minutes);
    job.time_limit_minutes(partition_limit)
        .map(|minutes| u64::from(minutes) * MS_PER_MINUTE)
}

pub fn reference_schedule(state: &ClusterState, now_ms: u64, config: &SchedulerConfig) -> Plan {
    let mut free: BTreeMap<String, Free> = state
        .nodes()
        .map(|node| {
            let free = Free {
                cpus: node.free_cpus(),
                memory_mb: node.free_memory_mb(),
                gpus: node.free_gpus(),
            };
            (node.name.clone(), free)
        })
        .collect();
    let mut ends: Vec<End> = Vec::new();
    for job in state.all_jobs() {
        let end_ms = match job.state {
            JobState::Completing => Some(now_ms),
            JobState::Running => limit_ms(state, job)
                .map(|limit| (job.start_time_ms.unwrap_or(now_ms) + limit).max(now_ms)),
            _ => continue,
        };
        for share in job.allocation.iter().flat_map(|a| &a.shares) {
            ends.push(End {
                end_ms,
                node: share.node.clone(),
                cpus: share.cpus,
                memory_mb: share.memory_mb,
                gpus: share.gpus.clone(),
            });
        }
    }
    let mut reservation: Option<Reserved> = None;
    let mut plan = Plan::default();
    for job in queue(state, now_ms, config) {
        let not_yet = job.spec.begin_time_ms.is_some_and(|begin| begin > now_ms);
        let blocked = if not_yet {
            Some(JobReason::BeginTime)
        } else {
            blocking_reason(state, job)
        };
        let reason = match blocked {
            Some(reason) => reason,
            None => match try_start(state, job, now_ms, &mut free, &mut ends, &mut reservation) {
                Some(shares) => {
                    plan.allocations.push(PlannedAllocation {
                        job_id: job.id,
                        shares,
                    });
                    continue;
                }
                None if reservation.is_none() => {
                    reservation = reserve(state, job, now_ms, &free, &ends);
                    JobReason::Resources
                }
                None => JobReason::Priority,
            },
        };
        if reason != job.reason {
            plan.reasons.push((job.id, reason));
        }
    }
    plan.reservation = reservation.map(|r| PlannedReservation {
        job_id: r.job_id,
        start_ms: r.start_ms,
        nodes: r.nodes.keys().cloned().collect(),
    });
    plan
}

fn blocking_reason(state: &ClusterState, job: &Job) -> Option<JobReason> {
    let Some(partition) = state.partition(&job.partition) else {
        return Some(JobReason::PartitionInactive);
    };
    match partition.state {
        PartitionState::Up => {}
        PartitionState::Inactive => return Some(JobReason::PartitionInactive),
        _ => return Some(JobReason::PartitionDown),
    }
    let members = state.partition_nodes(partition);
    let share = share_of(job);
    if share.nodes > members.len() {
        return Some(JobReason::PartitionNodeLimit);
    }
    if let (Some(asked), Some(maximum)) = (job.spec.time_limit_minutes, partition.max_time_minutes)
    {
        if asked > maximum {
            return Some(JobReason::PartitionTimeLimit);
        }
    }
    let node = |name: &str| state.node(name).expect("partition nodes exist");
    if pick(&share, &members, &mut |name| {
        capable_node(node(name), &share)
    })
    .is_none()
    {
        return Some(JobReason::PartitionConfig);
    }
    let accepting = |name: &str| node(name).accepts_jobs() && capable_node(node(name), &share);
    if pick(&share, &members, &mut |name| accepting(name)).is_none() {
        return Some(JobReason::ReqNodeNotAvail);
    }
    None
}

fn try_start(
    state: &ClusterState,
    job: &Job,
    now_ms: u64,
    free: &mut BTreeMap<String, Free>,
    ends: &mut Vec<End>,
    reservation: &mut Option<Reserved>,
) -> Option<Vec<NodeShare>> {
    let share = share_of(job);
    let end_ms = limit_ms(state, job).map(|limit| now_ms + limit);
    let beside = reservation
        .as_ref()
        .is_some_and(|r| end_ms.is_none_or(|end| end > r.start_ms));
    let partition = state.partition(&job.partition)?;
    let members = state.partition_nodes(partition);
    let chosen = pick(&share, &members, &mut |name| {
        let node = state.node(name).expect("partition nodes exist");
        let f = &free[name];
        if !node.accepts_jobs() || !fits(node, f, &share) {
            return false;
        }
        let kept = reservation
            .as_ref()
            .filter(|_| beside)
            .and_then(|r| r.nodes.get(name));
        match kept {
            None => true,
            Some((spare_cpus, spare_memory_mb, kept_gpus)) => {
                let (cpus, memory_mb) = taken(&share, node.resources.cpus);
                let left = f.gpus.iter().filter(|g| !kept_gpus.contains(g)).count();
                *spare_cpus >= cpus && *spare_memory_mb >= memory_mb && left >= share.gpus as usize
            }
        }
    })?;
    let mut shares = Vec::new();
    for name in chosen {
        let total_cpus = state
            .node(&name)
            .expect("chosen nodes exist")
            .resources
            .cpus;
        let (cpus, memory_mb) = taken(&share, total_cpus);
        let kept: Vec<u32> = match reservation.as_mut().filter(|_| beside) {
            Some(r) => match r.nodes.get_mut(&name) {
                Some((spare_cpus, spare_memory_mb, kept_gpus)) => {
                    *spare_cpus -= cpus;
                    *spare_memory_mb -= memory_mb;
                    kept_gpus.clone()
                }
                None => Vec::new(),
            },
            None => Vec::new(),
        };
        let f = free.get_mut(&name).expect("every node has an entry");
        let gpus: Vec<u32> = f
            .gpus
            .iter()
            .copied()
            .filter(|g| !kept.contains(g))
            .take(share.gpus as usize)
            .collect();
        f.cpus -= cpus;
        f.memory_mb -= memory_mb;
        f.gpus.retain(|g| !gpus.contains(g));
        ends.push(End {
            end_ms,
            node: name.clone(),
            cpus,
            memory_mb,
            gpus: gpus.clone(),
        });
        shares.push(NodeShare {
            node: name,
            cpus,
            memory_mb,
            gpus,
        });
    }
    Some(shares)
}

/// Tries every end time in order: the first at which enough nodes will
/// hold a share, the required ones among them.
fn reserve(
    state: &ClusterState,
    job: &Job,
    now_ms: u64,
    free: &BTreeMap<String, Free>,
    ends: &[End],
) -> Option<Reserved> {
    let share = share_of(job);
    let partition = state.partition(&job.partition)?;
    let candidates: Vec<String> = state
        .partition_nodes(partition)
        .into_iter()
        .filter(|name| {
            let node = state.node(name).expect("partition nodes exist");
            node.accepts_jobs() && capable_node(node, &share) && !share.excluded.contains(name)
        })
        .collect();
    let mut times: Vec<u64> = ends.iter().filter_map(|end| end.end_ms).collect();
    times.sort_unstable();
    times.dedup();
    for time in times {
        let projected = |name: &str| {
            let mut f = free[name].clone();
            for end in ends
                .iter()
                .filter(|e| e.node == name && e.end_ms.is_some_and(|end| end <= time))
            {
                f.cpus += end.cpus;
                f.memory_mb += end.memory_mb;
                f.gpus.extend(&end.gpus);
            }
            f.gpus.sort_unstable();
            f
        };
        let node = |name: &str| state.node(name).expect("candidates exist");
        let Some(holding) = pick(&share, &candidates, &mut |name| {
            fits(node(name), &projected(name), &share)
        }) else {
            continue;
        };
        let nodes = holding
            .into_iter()
            .map(|name| {
                let f = projected(&name);
                let (cpus, memory_mb) = taken(&share, node(&name).resources.cpus);
                let kept = f.gpus[..share.gpus as usize].to_vec();
                (name, (f.cpus - cpus, f.memory_mb - memory_mb, kept))
            })
            .collect();
        return Some(Reserved {
            job_id: job.id,
            start_ms: time.max(now_ms),
            nodes,
        });
    }
    None
}
