//! Property tests over random clusters and queues: `schedule` makes exactly
//! the plan of a plain reference scheduler (`reference/mod.rs`); every plan
//! is accepted whole by `apply` (`ApplyPlan` refuses nothing) and
//! `invariants()` hold after it; the same input gives the same plan; and a
//! pass right after
//! its own plan was applied proposes nothing (a plan is a fixed point, so
//! no job was left waiting that could have started) and finds the same
//! reservation (the jobs backfilled beside it did not delay it).

mod reference;
#[allow(dead_code)] // each test binary uses part of the support module
mod support;

use std::collections::BTreeSet;

use corral_sched::{schedule, Plan, SchedulerConfig};
use corral_state::{JobId, JobSpec, JobState, NodeChange, Partition, PartitionState};
use proptest::prelude::*;
use reference::reference_schedule;
use support::{resources, TestCluster};

const MS_PER_MINUTE: u64 = 60_000;

#[derive(Clone, Debug)]
enum NodeStatus {
    Up,
    Drained,
    Down,
    Unregistered,
}

#[derive(Clone, Copy, Debug)]
enum JobEnd {
    KeepsRunning,
    Finishes,
    /// Cancelled: completing until its agent reports, resources still held.
    Cancelled,
}

#[derive(Clone, Debug)]
struct NodeCase {
    cpus: u32,
    memory_mb: u64,
    gpus: u32,
    status: NodeStatus,
}

#[derive(Clone, Debug)]
struct PartitionCase {
    /// Bit `i` set: node `n{i+1}` belongs.
    members: u8,
    state: PartitionState,
    max_time_minutes: Option<u32>,
}

#[derive(Clone, Debug)]
struct JobCase {
    partition: usize,
    cpus_per_task: u32,
    ntasks: u32,
    nodes: u32,
    memory_mb: Option<u64>,
    gpus: u32,
    time_limit_minutes: Option<u32>,
    hold: bool,
    exclusive: bool,
    /// `--mem-per-cpu` (then no `--mem`).
    memory_per_cpu_mb: Option<u64>,
    /// Bit `i` set: node `n{i+1}` is required (`-w`) or excluded (`-x`);
    /// bit 7 names a node that does not exist.
    required: u8,
    excluded: u8,
    /// `--begin`, in minutes from the submission.
    begin_minutes: Option<u64>,
}

/// Between two passes: time passes, jobs arrive, some end, a node may change.
#[derive(Clone, Debug)]
struct Round {
    advance_minutes: u64,
    jobs: Vec<JobCase>,
    /// Cycled over the active jobs: what becomes of each before the pass.
    ends: Vec<JobEnd>,
    node_change: Option<(usize, u8)>,
}

fn node_case() -> impl Strategy<Value = NodeCase> {
    let status = prop_oneof![
        6 => Just(NodeStatus::Up),
        1 => Just(NodeStatus::Drained),
        1 => Just(NodeStatus::Down),
        1 => Just(NodeStatus::Unregistered),
    ];
    (1u32..=8, 0u64..=4, 0u32..=4, status).prop_map(|(cpus, memory, gpus, status)| NodeCase {
        cpus,
        memory_mb: memory * 1_000,
        gpus,
        status,
    })
}

fn partition_case() -> impl Strategy<Value = PartitionCase> {
    let state = prop_oneof![
        8 => Just(PartitionState::Up),
        1 => Just(PartitionState::Down),
        1 => Just(PartitionState::Drain),
        1 => Just(PartitionState::Inactive),
    ];
    let max_time = prop_oneof![
        2 => Just(None),
        1 => prop::sample::select(vec![20u32, 30, 60, 90]).prop_map(Some),
    ];
    (any::<u8>(), state, max_time).prop_map(|(members, state, max_time_minutes)| PartitionCase {
        members,
        state,
        max_time_minutes,
    })
}

fn job_case() -> impl Strategy<Value = JobCase> {
    let memory = prop_oneof![1 => Just(None), 1 => (0u64..=3).prop_map(|m| Some(m * 700))];
    // Few distinct limits, so that ends often coincide with a reservation's start.
    let time = prop_oneof![
        1 => Just(None),
        2 => prop::sample::select(vec![10u32, 20, 30, 60]).prop_map(Some),
        1 => (1u32..=120).prop_map(Some),
    ];
    (
        0usize..3,
        1u32..=4,
        1u32..=6,
        1u32..=3,
        memory,
        prop_oneof![2 => Just(0u32), 1 => 1u32..=3],
        time,
        prop::bool::weighted(0.1),
        placement(),
    )
        .prop_map(
            |(partition, cpus_per_task, ntasks, nodes, memory_mb, gpus, time, hold, placement)| {
                let (exclusive, per_cpu, required, excluded, begin_minutes) = placement;
                JobCase {
                    partition,
                    cpus_per_task,
                    ntasks,
                    nodes,
                    memory_mb: memory_mb.filter(|_| per_cpu.is_none()),
                    gpus,
                    time_limit_minutes: time,
                    hold,
                    exclusive,
                    memory_per_cpu_mb: per_cpu,
                    required,
                    excluded,
                    begin_minutes,
                }
            },
        )
}

/// `--exclusive`, `--mem-per-cpu`, `-w`, `-x` and `--begin`, each for some jobs.
fn placement() -> impl Strategy<Value = (bool, Option<u64>, u8, u8, Option<u64>)> {
    let nodes = prop_oneof![4 => Just(0u8), 1 => any::<u8>().prop_map(|m| m & (m >> 1 | 0x81))];
    (
        prop::bool::weighted(0.2),
        prop_oneof![4 => Just(None), 1 => (1u64..=4).prop_map(|m| Some(m * 100))],
        nodes.clone(),
        nodes,
        prop_oneof![4 => Just(None), 1 => prop::sample::select(vec![0u64, 5, 30]).prop_map(Some)],
    )
}

fn job_end() -> impl Strategy<Value = JobEnd> {
    prop_oneof![
        3 => Just(JobEnd::KeepsRunning),
        2 => Just(JobEnd::Finishes),
        1 => Just(JobEnd::Cancelled),
    ]
}

fn round() -> impl Strategy<Value = Round> {
    (
        prop::sample::select(vec![0u64, 10, 20, 30, 45]),
        prop::collection::vec(job_case(), 0..10),
        prop::collection::vec(job_end(), 1..6),
        prop::option::weighted(0.3, (0usize..6, 0u8..3)),
    )
        .prop_map(|(advance_minutes, jobs, ends, node_change)| Round {
            advance_minutes,
            jobs,
            ends,
            node_change,
        })
}

fn config() -> impl Strategy<Value = SchedulerConfig> {
    (0u64..=1_000, 0u64..=1_000, 0u64..=120).prop_map(|(age, size, max_age)| SchedulerConfig {
        weight_age: age,
        weight_job_size: size,
        max_age_ms: max_age * MS_PER_MINUTE,
    })
}

fn node_name(index: usize) -> String {
    format!("n{}", index + 1)
}

fn build(nodes: &[NodeCase], partitions: &[PartitionCase]) -> Result<TestCluster, String> {
    let mut cluster = TestCluster::new();
    for (index, node) in nodes.iter().enumerate() {
        let name = node_name(index);
        let registered = !matches!(node.status, NodeStatus::Unregistered);
        let resources = resources(node.cpus, node.memory_mb, node.gpus);
        cluster.add_nodes(std::slice::from_ref(&name), &resources, registered, 0)?;
        let change = match node.status {
            NodeStatus::Drained => NodeChange::Drain { reason: "p".into() },
            NodeStatus::Down => NodeChange::Down { reason: "p".into() },
            _ => continue,
        };
        cluster.change_node(&name, change, 0)?;
    }
    for (index, case) in partitions.iter().enumerate() {
        let members: Vec<String> = (0..8)
            .filter(|bit| case.members & (1 << bit) != 0)
            .map(node_name)
            .collect();
        let partition = Partition {
            name: format!("p{index}"),
            nodes: members.join(","),
            default: index == 0,
            max_time_minutes: case.max_time_minutes,
            state: case.state,
        };
        cluster.add_partition(partition, 0)?;
    }
    Ok(cluster)
}

fn submit(
    cluster: &mut TestCluster,
    job: &JobCase,
    partitions: usize,
    node_count: usize,
    now_ms: u64,
) -> Result<(), String> {
    // `-w`/`-x` name nodes that exist, and never the same node twice
    // (`apply` refuses both at submission).
    let existing = ((1u16 << node_count.min(8)) - 1) as u8;
    let required = job.required & existing;
    let excluded = job.excluded & existing & !required;
    let spec = JobSpec {
        partition: Some(format!("p{}", job.partition % partitions)),
        time_limit_minutes: job.time_limit_minutes,
        nodes: job.nodes,
        ntasks: job.ntasks,
        cpus_per_task: job.cpus_per_task,
        memory_per_node_mb: job.memory_mb,
        gpus_per_node: job.gpus,
        hold: job.hold,
        exclusive: job.exclusive,
        memory_per_cpu_mb: job.memory_per_cpu_mb,
        required_nodes: node_names(required),
        excluded_nodes: node_names(excluded),
        begin_time_ms: job
            .begin_minutes
            .map(|minutes| now_ms + minutes * MS_PER_MINUTE),
        ..JobSpec::default()
    };
    match cluster.submit(spec, now_ms) {
        Ok(_) => Ok(()),
        // `-w` nodes outside the partition, or more than the job's nodes.
        Err(refusal) if refusal.contains("NodeConfigUnavailable") => Ok(()),
        Err(refusal) => Err(refusal),
    }
}

/// The nodes of a bit mask, sorted as sbatch sends them.
fn node_names(mask: u8) -> Vec<String> {
    let mut names: Vec<String> = (0..8)
        .filter(|bit| mask & (1 << bit) != 0)
        .map(node_name)
        .collect();
    names.sort();
    names
}

/// Ends some running jobs and changes a node, as the world would.
fn disturb(
    cluster: &mut TestCluster,
    round: &Round,
    node_count: usize,
    now_ms: u64,
) -> Result<(), String> {
    let active: Vec<(JobId, JobState)> = cluster
        .state
        .all_jobs()
        .filter(|job| matches!(job.state, JobState::Running | JobState::Completing))
        .map(|job| (job.id, job.state))
        .collect();
    for ((job_id, state), end) in active.into_iter().zip(round.ends.iter().cycle()) {
        match (end, state) {
            (JobEnd::Finishes, _) => cluster.finish(job_id, now_ms)?,
            (JobEnd::Cancelled, JobState::Running) => cluster.cancel(job_id, now_ms)?,
            _ => {}
        }
    }
    if let Some((node, kind)) = round.node_change {
        let change = match kind {
            0 => NodeChange::Drain { reason: "p".into() },
            1 => NodeChange::Down { reason: "p".into() },
            _ => NodeChange::Resume,
        };
        cluster.change_node(&node_name(node % node_count), change, now_ms)?;
    }
    Ok(())
}

/// What must hold of a plan before it is applied.
fn check_plan_shape(cluster: &TestCluster, plan: &Plan) -> Result<(), String> {
    let mut seen = BTreeSet::new();
    let planned = plan
        .allocations
        .iter()
        .map(|a| a.job_id)
        .chain(plan.reasons.iter().map(|(job_id, _)| *job_id));
    for job_id in planned {
        let job = cluster
            .state
            .job(job_id)
            .ok_or(format!("no job {job_id}"))?;
        if job.state != JobState::Pending || job.reason.is_hold() {
            return Err(format!("job {job_id} is not a pending, unheld job"));
        }
        if !seen.insert(job_id) {
            return Err(format!("job {job_id} appears twice in the plan"));
        }
    }
    for (job_id, reason) in &plan.reasons {
        if cluster.state.job(*job_id).map(|job| job.reason) == Some(*reason) {
            return Err(format!("job {job_id} already has reason {reason:?}"));
        }
    }
    Ok(())
}

fn run_rounds(
    nodes: &[NodeCase],
    partitions: &[PartitionCase],
    rounds: &[Round],
    config: &SchedulerConfig,
) -> Result<(), String> {
    let mut cluster = build(nodes, partitions)?;
    let mut now_ms = 0;
    for round in rounds {
        now_ms += round.advance_minutes * MS_PER_MINUTE;
        disturb(&mut cluster, round, nodes.len(), now_ms)?;
        for job in &round.jobs {
            submit(&mut cluster, job, partitions.len(), nodes.len(), now_ms)?;
        }
        let plan = schedule(&cluster.state, now_ms, config);
        if plan != schedule(&cluster.state, now_ms, config) {
            return Err("two passes over the same state disagree".into());
        }
        let expected = reference_schedule(&cluster.state, now_ms, config);
        if plan != expected {
            return Err(format!(
                "schedule made {plan:?}\nthe reference made {expected:?}"
            ));
        }
        check_plan_shape(&cluster, &plan)?;
        cluster.apply_plan(&plan, now_ms)?;
        let again = schedule(&cluster.state, now_ms, config);
        if !again.is_empty() {
            return Err(format!("a second pass still proposes {again:?}"));
        }
        // What started beside the reservation did not delay it.
        if again.reservation != plan.reservation {
            return Err(format!(
                "the reservation moved from {:?} to {:?}",
                plan.reservation, again.reservation
            ));
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2048))]

    #[test]
    fn plans_are_accepted_whole_and_are_fixed_points(
        nodes in prop::collection::vec(node_case(), 1..=6),
        partitions in prop::collection::vec(partition_case(), 1..=3),
        rounds in prop::collection::vec(round(), 1..=5),
        config in config(),
    ) {
        if let Err(failure) = run_rounds(&nodes, &partitions, &rounds, &config) {
            return Err(TestCaseError::fail(failure));
        }
    }
}
