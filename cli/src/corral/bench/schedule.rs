//! `corral bench schedule`: how long one scheduling pass takes over a big
//! queue, in memory, with no dev cluster.
//!
//! The state is built through the commands a real cluster applies:
//! `--nodes` nodes (32 CPUs and 256 GB each, every eighth with 4 GPUs) in
//! one partition, then `--jobs` pending jobs of mixed shapes (mostly small,
//! some whole nodes, some multi-node, some GPU, a few without a time
//! limit), submitted over the past day so their ages differ. Two passes
//! are timed, `--repeat` times each:
//!
//! - **empty**: the cluster idle, the pass fills it (the most starts);
//! - **full**: that plan applied, the next pass, where nothing fits: a busy
//!   cluster's steady state, one reservation and a backfill test per job.
//!
//! The job shapes come from a fixed-seed generator, so every run schedules
//! the same queue.

use std::hint::black_box;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::{bail, Context};
use corral_sched::{schedule, Plan, SchedulerConfig};
use corral_state::{
    Actor, ClusterState, Command, Gpu, JobSpec, NodeDefinition, NodeResources, Outcome, Partition,
    PartitionState, RequestId,
};

use super::report::{self, Json};
use super::stats::{summary_json, Summary};
use super::{build_profile, milliseconds};

#[derive(clap::Args)]
pub struct Args {
    /// Pending jobs in the queue.
    #[arg(long, default_value_t = 100_000, value_parser = clap::value_parser!(u64).range(1..=2_000_000))]
    pub jobs: u64,
    /// Nodes in the cluster.
    #[arg(long, default_value_t = 5_000, value_parser = clap::value_parser!(u64).range(1..=99_999))]
    pub nodes: u64,
    /// How many times each pass is timed.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..=1_000))]
    pub repeat: u64,
    /// Where to write the JSON report [default: ./bench-schedule.json].
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

const NODE_CPUS: u32 = 32;
const NODE_MEMORY_MB: u64 = 256_000;
const GPU_NODE_EVERY: u64 = 8;
const GPUS_PER_GPU_NODE: u32 = 4;
/// Jobs are submitted evenly over this long before the passes.
const SUBMISSION_SPAN_MS: u64 = 24 * 60 * 60 * 1_000;
const PARTITION: &str = "batch";
/// Seed of the job shape generator.
const SHAPE_SEED: u64 = 0x5eed_c0de_2024;

pub fn run(args: &Args) -> anyhow::Result<u8> {
    println!(
        "schedule: {} jobs, {} nodes, {} runs, {} build",
        args.jobs,
        args.nodes,
        args.repeat,
        build_profile()
    );
    let built = Instant::now();
    let empty = build_state(args)?;
    let now_ms = SUBMISSION_SPAN_MS;
    let config = SchedulerConfig::default();
    let first_plan = schedule(&empty, now_ms, &config);
    let mut full = empty.clone();
    apply_plan(&mut full, &first_plan, now_ms)?;
    println!(
        "state built in {:.1} s: the first pass starts {} jobs",
        built.elapsed().as_secs_f64(),
        first_plan.allocations.len()
    );
    let mut empty_ms = Vec::new();
    let mut full_ms = Vec::new();
    for run in 1..=args.repeat {
        let (empty_time, empty_plan) = time_pass(&empty, now_ms, &config);
        let (full_time, full_plan) = time_pass(&full, now_ms, &config);
        println!(
            "run {run}/{}: empty cluster {empty_time:.1} ms ({} starts), full cluster {full_time:.1} ms ({} starts, {} reasons)",
            args.repeat,
            empty_plan.allocations.len(),
            full_plan.allocations.len(),
            full_plan.reasons.len()
        );
        empty_ms.push(empty_time);
        full_ms.push(full_time);
    }
    print_summary("empty cluster", &empty_ms);
    print_summary("full cluster", &full_ms);
    let full_plan = schedule(&full, now_ms, &config);
    let path = args
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from("bench-schedule.json"));
    let cluster = Json::object([
        ("in_memory", Json::Bool(true)),
        ("nodes", Json::count(args.nodes)),
        ("jobs", Json::count(args.jobs)),
    ]);
    let body = report_body(args, &first_plan, &full_plan, &empty_ms, &full_ms);
    report::write(&path, "schedule", cluster, body)?;
    println!("report: {}", path.display());
    Ok(0)
}

/// One pass, timed; the plan is kept so the optimiser cannot drop the work.
fn time_pass(state: &ClusterState, now_ms: u64, config: &SchedulerConfig) -> (f64, Plan) {
    let started = Instant::now();
    let plan = black_box(schedule(black_box(state), now_ms, config));
    (milliseconds(started.elapsed()), plan)
}

fn print_summary(name: &str, samples: &[f64]) {
    let summary = Summary::of(samples).expect("at least one run");
    println!(
        "{name}: median {:.1} ms, min {:.1} ms, max {:.1} ms",
        summary.median, summary.min, summary.max
    );
}

fn report_body(
    args: &Args,
    first_plan: &Plan,
    full_plan: &Plan,
    empty_ms: &[f64],
    full_ms: &[f64],
) -> Vec<(&'static str, Json)> {
    let plan_json = |plan: &Plan| {
        Json::object([
            ("starts", Json::count(plan.allocations.len())),
            ("reasons", Json::count(plan.reasons.len())),
            ("reservation", Json::Bool(plan.reservation.is_some())),
        ])
    };
    vec![
        (
            "parameters",
            Json::object([
                ("jobs", Json::count(args.jobs)),
                ("nodes", Json::count(args.nodes)),
                ("repeat", Json::count(args.repeat)),
                ("node_cpus", Json::count(NODE_CPUS)),
                ("node_memory_mb", Json::count(NODE_MEMORY_MB)),
                ("gpu_node_every", Json::count(GPU_NODE_EVERY)),
                ("shape_seed", Json::count(SHAPE_SEED)),
            ]),
        ),
        (
            "plans",
            Json::object([
                ("empty_cluster", plan_json(first_plan)),
                ("full_cluster", plan_json(full_plan)),
            ]),
        ),
        (
            "runs",
            Json::object([
                ("empty_cluster_ms", Json::numbers(empty_ms)),
                ("full_cluster_ms", Json::numbers(full_ms)),
            ]),
        ),
        (
            "summary",
            Json::object([
                ("empty_cluster_ms", summary_json(empty_ms)),
                ("full_cluster_ms", summary_json(full_ms)),
            ]),
        ),
    ]
}

/// The idle cluster with its queue, built through `apply`.
fn build_state(args: &Args) -> anyhow::Result<ClusterState> {
    let mut state = ClusterState::default();
    let names: Vec<String> = (1..=args.nodes).map(|i| format!("n{i:05}")).collect();
    let partition = Partition {
        name: PARTITION.to_string(),
        nodes: format!("n[00001-{:05}]", args.nodes),
        default: true,
        max_time_minutes: None,
        state: PartitionState::Up,
    };
    expect_done(state.apply(&Command::SetPartitions {
        partitions: vec![partition],
        now_ms: 0,
    }))?;
    let nodes: Vec<NodeDefinition> = names
        .iter()
        .enumerate()
        .map(|(index, name)| NodeDefinition {
            name: name.clone(),
            resources: node_resources(index as u64),
        })
        .collect();
    expect_done(state.apply(&Command::SetNodes {
        nodes: nodes.clone(),
        now_ms: 0,
    }))?;
    for node in nodes {
        expect_done(state.apply(&Command::RegisterNode {
            name: node.name,
            resources: node.resources,
            now_ms: 0,
        }))?;
    }
    submit_jobs(&mut state, args.jobs)?;
    Ok(state)
}

fn node_resources(index: u64) -> NodeResources {
    let gpus = if index % GPU_NODE_EVERY == GPU_NODE_EVERY - 1 {
        GPUS_PER_GPU_NODE
    } else {
        0
    };
    NodeResources {
        cpus: NODE_CPUS,
        memory_mb: NODE_MEMORY_MB,
        gpus: (0..gpus)
            .map(|index| Gpu {
                index,
                model: String::new(),
            })
            .collect(),
    }
}

fn submit_jobs(state: &mut ClusterState, jobs: u64) -> anyhow::Result<()> {
    let mut shapes = Shapes::new(SHAPE_SEED);
    for index in 0..jobs {
        let now_ms = index * SUBMISSION_SPAN_MS / jobs;
        let outcome = state.apply(&Command::SubmitJob {
            request_id: RequestId(format!("bench-{index}")),
            actor: Actor::root(),
            spec: Box::new(shapes.next_spec()),
            now_ms,
        });
        if !matches!(outcome, Outcome::Submitted { .. }) {
            bail!("submission {index} refused: {outcome:?}");
        }
    }
    Ok(())
}

fn apply_plan(state: &mut ClusterState, plan: &Plan, now_ms: u64) -> anyhow::Result<()> {
    match state.apply(&plan.clone().into_command(now_ms)) {
        Outcome::Planned { refused, .. } if refused.is_empty() => Ok(()),
        other => bail!("the first plan was not accepted whole: {other:?}"),
    }
}

fn expect_done(outcome: Outcome) -> anyhow::Result<()> {
    match outcome {
        Outcome::Done => Ok(()),
        other => Err(anyhow::anyhow!("{other:?}")).context("building the benchmark state"),
    }
}

/// A fixed-seed stream of job shapes (xorshift64*).
struct Shapes {
    state: u64,
}

impl Shapes {
    fn new(seed: u64) -> Shapes {
        Shapes { state: seed | 1 }
    }

    fn next(&mut self) -> u64 {
        self.state ^= self.state >> 12;
        self.state ^= self.state << 25;
        self.state ^= self.state >> 27;
        self.state.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A number in `low..=high`.
    fn between(&mut self, low: u64, high: u64) -> u32 {
        u32::try_from(low + self.next() % (high - low + 1)).unwrap_or(u32::MAX)
    }

    /// 60 % small jobs, 20 % whole nodes, 10 % multi-node, 5 % GPU jobs,
    /// 5 % without a time limit.
    fn next_spec(&mut self) -> JobSpec {
        let time = Some(self.between(10, 240));
        let mut spec = JobSpec {
            time_limit_minutes: time,
            ..JobSpec::default()
        };
        match self.next() % 100 {
            0..=59 => {
                spec.cpus_per_task = self.between(1, 8);
                spec.memory_per_node_mb = Some(u64::from(self.between(1, 8)) * 1_000);
            }
            60..=79 => spec.cpus_per_task = NODE_CPUS,
            80..=89 => {
                spec.nodes = self.between(2, 16);
                spec.ntasks = spec.nodes;
                spec.cpus_per_task = NODE_CPUS;
            }
            90..=94 => {
                spec.cpus_per_task = 8;
                spec.gpus_per_node = self.between(1, u64::from(GPUS_PER_GPU_NODE));
            }
            _ => {
                spec.cpus_per_task = self.between(1, 4);
                spec.time_limit_minutes = None;
            }
        }
        spec
    }
}
