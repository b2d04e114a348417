//! `corral bench`: benchmarks against a dev cluster on this machine.
//!
//! Every benchmark takes `--dir DIR`. When DIR holds no dev cluster the
//! benchmark creates one (`dev::ensure_up`) and stops it at the end unless
//! `--keep`; when DIR holds one it is used as it is (stopped controllers are
//! started again) and left running. Each benchmark repeats its measurement
//! `--repeat` times, prints one line per run and a summary (median, min, max,
//! and tails where they matter), and writes the raw samples, the summary, the
//! command line, the date and the machine to a JSON file
//! (`DIR/bench-<name>.json` unless `--out`).
//!
//! | file | benchmark |
//! |---|---|
//! | `bench/submit_latency.rs` | `sbatch` processes one after another, each timed from spawn to exit |
//! | `bench/submit_throughput.rs` | concurrent `sbatch` processes; with `--api`, many calls in flight on few connections |
//! | `bench/failover.rs` | leader kills under a steady submit load; every acknowledged job checked afterwards |
//! | `bench/schedule.rs` | one scheduling pass over a big queue, in memory (no dev cluster, no `--dir`) |
//! | `bench/drain.rs` | a queue of trivial jobs run to the end on agents: jobs per second |
//! | `bench/unreported.rs` | how long job ends go unrecorded when the leader is killed while they run |
//! | `bench/queue.rs` | controller memory, `squeue` and `sbatch` with 10,000 and 100,000 pending jobs |
//! | `bench/agents.rs` | a simulated fleet of nodes (own QUIC connection each) attached to the leader, and leader kills |
//! | `bench/recovery.rs` | a controller with a long history restarted: time to serve and catch up, sled's disk use |
//! | `bench/slurm.rs` | real Slurm beside Corral: `--slurm-conf` runs a workload against Slurm |
//!
//! The submission benchmarks hold their jobs (`--hold`), so nothing would
//! ever run them. `drain` and `unreported` run theirs: a cluster they create
//! has agents (`--agents`, `--agent-cpus`), and they wait until every node
//! is up.

mod accounting;
mod agents;
mod drain;
mod failover;
mod queue;
mod recovery;
mod report;
mod schedule;
mod slurm;
mod stats;
mod submission;
mod submit_latency;
mod submit_throughput;
mod unreported;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::bail;
use corral_config::Config;
use corral_proto as wire;

use super::dev;
use report::Json;

#[derive(clap::Subcommand)]
pub enum Command {
    /// `sbatch --hold --wrap true` as whole processes, one after another: latency per process.
    SubmitLatency(submit_latency::Args),
    /// Submissions per second: concurrent sbatch processes, or with --api many calls in flight.
    SubmitThroughput(submit_throughput::Args),
    /// SIGKILL the leader under a submit load: time until a new submission commits.
    Failover(failover::Args),
    /// One scheduling pass over a big in-memory queue: milliseconds per pass.
    Schedule(schedule::Args),
    /// Jobs running `true` on agents, submitted at once: time until all are COMPLETED.
    Drain(drain::Args),
    /// SIGKILL the leader while jobs run: delay between each job's end and its record.
    Unreported(unreported::Args),
    /// Job end to its row in the accounting database, steady and after an outage.
    Accounting(accounting::Args),
    /// Controller memory, squeue and sbatch latency with many pending jobs.
    Queue(queue::Args),
    /// Simulated nodes attached over QUIC; SIGKILL the leader: time until all attach again.
    Agents(agents::Args),
    /// A history of many jobs; restart a follower: time until it serves and catches up.
    Recovery(recovery::Args),
}

/// What every benchmark takes.
#[derive(clap::Args)]
pub struct Options {
    /// The dev cluster's directory; a cluster is created there if it holds none.
    #[arg(long)]
    pub dir: PathBuf,
    /// Number of controllers of a cluster the benchmark creates.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u64).range(1..=7))]
    pub controllers: u64,
    /// How many times the measurement is repeated.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..=1_000))]
    pub repeat: u64,
    /// Where to write the JSON report [default: DIR/bench-<name>.json].
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Leave a cluster the benchmark created running.
    #[arg(long)]
    pub keep: bool,
}

pub fn run(command: Command) -> anyhow::Result<u8> {
    match command {
        Command::SubmitLatency(args) if args.slurm_conf.is_some() => {
            slurm::with_slurm(&args.options, &args.slurm_conf, |s| {
                submit_latency::run_slurm(s, &args)
            })
        }
        Command::SubmitThroughput(args) if args.slurm_conf.is_some() => {
            slurm::with_slurm(&args.options, &args.slurm_conf, |s| {
                submit_throughput::run_slurm(s, &args)
            })
        }
        Command::Drain(args) if args.slurm_conf.is_some() => {
            slurm::with_slurm(&args.options, &args.slurm_conf, |s| {
                drain::run_slurm(s, &args)
            })
        }
        Command::Queue(args) if args.slurm_conf.is_some() => {
            slurm::with_slurm(&args.options, &args.slurm_conf, |s| {
                queue::run_slurm(s, &args)
            })
        }
        Command::Queue(args) => with_cluster(&args.options, |cluster| queue::run(cluster, &args)),
        Command::SubmitLatency(args) => {
            with_cluster(&args.options, |cluster| submit_latency::run(cluster, &args))
        }
        Command::SubmitThroughput(args) => with_cluster(&args.options, |cluster| {
            submit_throughput::run(cluster, &args)
        }),
        Command::Failover(args) => {
            with_cluster(&args.options, |cluster| failover::run(cluster, &args))
        }
        Command::Schedule(args) => schedule::run(&args),
        Command::Agents(args) => {
            let shape = dev::Shape {
                controllers: args.options.controllers,
                agents: args.agents,
                simulated_agents: true,
                ..dev::Shape::default()
            };
            let up = || dev::ensure_up_with(&args.options.dir, &shape);
            with_cluster_up(&args.options, up, |cluster| agents::run(cluster, &args))
        }
        Command::Recovery(args) => {
            let shape = dev::Shape {
                controllers: args.options.controllers,
                agents: 0,
                min_job_age_s: Some(args.min_job_age_s),
                ..dev::Shape::default()
            };
            let up = || dev::ensure_up_with(&args.options.dir, &shape);
            with_cluster_up(&args.options, up, |cluster| recovery::run(cluster, &args))
        }
        Command::Drain(args) => {
            let nodes = Nodes {
                agents: args.agents,
                agent_cpus: args.agent_cpus,
            };
            with_nodes(&args.options, &nodes, |cluster| drain::run(cluster, &args))
        }
        Command::Accounting(args) => {
            let nodes = Nodes {
                agents: args.agents,
                agent_cpus: args.agent_cpus,
            };
            with_nodes(&args.options, &nodes, |cluster| {
                accounting::run(cluster, &args)
            })
        }
        Command::Unreported(args) => {
            let nodes = Nodes {
                agents: args.agents,
                agent_cpus: args.agent_cpus,
            };
            with_nodes(&args.options, &nodes, |cluster| {
                unreported::run(cluster, &args)
            })
        }
    }
}

/// The compute nodes of a cluster created for a benchmark whose jobs run.
pub struct Nodes {
    pub agents: u32,
    pub agent_cpus: u32,
}

/// The dev cluster a benchmark runs against.
pub struct Cluster {
    pub dir: PathBuf,
    pub config: Config,
    pub repeat: u64,
    out: Option<PathBuf>,
}

impl Cluster {
    /// The configuration file, as `CORRAL_CONF` for the Slurm commands.
    pub fn config_path(&self) -> &Path {
        &self.config.path
    }

    pub fn controller_count(&self) -> usize {
        self.config.file.controllers.len()
    }

    /// Refuses a cluster of fewer than three controllers for `benchmark`,
    /// which kills or restarts one of them (`why`, if given, says how).
    pub fn require_three_controllers(&self, benchmark: &str, why: &str) -> anyhow::Result<()> {
        if self.controller_count() >= 3 {
            return Ok(());
        }
        let why = if why.is_empty() {
            String::new()
        } else {
            format!(" ({why})")
        };
        anyhow::bail!(
            "{benchmark} needs at least 3 controllers{why}; the cluster in {} has {}",
            self.dir.display(),
            self.controller_count()
        )
    }

    /// Writes the report of `benchmark` (with `suffix` appended to the default
    /// file name, for variants) and says where.
    pub fn write_report(
        &self,
        benchmark: &str,
        suffix: &str,
        body: Vec<(&str, Json)>,
    ) -> anyhow::Result<()> {
        let path = self
            .out
            .clone()
            .unwrap_or_else(|| self.dir.join(format!("bench-{benchmark}{suffix}.json")));
        let cluster = Json::object([
            ("dir", Json::text(self.dir.display())),
            ("controllers", Json::count(self.controller_count())),
        ]);
        report::write(&path, benchmark, cluster, body)?;
        println!("report: {}", path.display());
        Ok(())
    }
}

/// Brings the cluster in `options.dir` up, runs `benchmark` against it, and
/// stops the cluster again if this benchmark created it (unless `--keep`).
fn with_cluster(
    options: &Options,
    benchmark: impl FnOnce(&Cluster) -> anyhow::Result<u8>,
) -> anyhow::Result<u8> {
    let up = || dev::ensure_up(&options.dir, options.controllers);
    with_cluster_up(options, up, benchmark)
}

/// [`with_cluster`] for jobs that run: a cluster created here gets `nodes`;
/// the benchmark starts once every node of the cluster is up.
fn with_nodes(
    options: &Options,
    nodes: &Nodes,
    benchmark: impl FnOnce(&Cluster) -> anyhow::Result<u8>,
) -> anyhow::Result<u8> {
    let shape = dev::Shape {
        controllers: options.controllers,
        agents: nodes.agents,
        agent_cpus: nodes.agent_cpus,
        ..dev::Shape::default()
    };
    let up = || dev::ensure_up_with(&options.dir, &shape);
    with_cluster_up(options, up, |cluster| {
        wait_nodes_up(cluster)?;
        benchmark(cluster)
    })
}

fn with_cluster_up(
    options: &Options,
    up: impl FnOnce() -> anyhow::Result<Config>,
    benchmark: impl FnOnce(&Cluster) -> anyhow::Result<u8>,
) -> anyhow::Result<u8> {
    let created = !options.dir.join(super::dev::CONFIG_FILE).exists();
    let config = match up() {
        Ok(config) => config,
        Err(error) => {
            if created {
                let _ = dev::stop(&options.dir);
            }
            return Err(error);
        }
    };
    let cluster = Cluster {
        dir: config.path.parent().unwrap_or(&options.dir).to_path_buf(),
        config,
        repeat: options.repeat,
        out: options.out.clone(),
    };
    let result = benchmark(&cluster);
    if created && !options.keep {
        if let Err(error) = dev::stop(&cluster.dir) {
            eprintln!("corral: error: stopping the benchmark's cluster: {error:#}");
        }
    } else {
        println!(
            "The cluster in {} is still running; stop it with: corral dev down --dir {}",
            cluster.dir.display(),
            cluster.dir.display()
        );
    }
    result
}

/// Agents attach (and their nodes come up) a little after `dev up` returns.
const NODES_UP_WAIT_MAX_MS: u64 = 60_000;

/// Waits until every node the cluster's file declares is UP.
fn wait_nodes_up(cluster: &Cluster) -> anyhow::Result<()> {
    let declared = cluster.config.node_definitions().len();
    if declared == 0 {
        bail!(
            "the cluster in {} has no compute nodes, so no job would run; use a new --dir (the benchmark creates a cluster with agents there)",
            cluster.dir.display()
        );
    }
    let runtime = super::runtime()?;
    let client = submission::cluster_client(&cluster.config)?;
    let deadline = Instant::now() + Duration::from_millis(NODES_UP_WAIT_MAX_MS);
    loop {
        let reply = runtime.block_on(
            client.call(wire::GetNodesRequest::default(), |mut c, r| async move {
                c.get_nodes(r).await
            }),
        );
        let up = reply.map_or(0, |reply| {
            reply
                .nodes
                .iter()
                .filter(|node| node.availability == "UP")
                .count()
        });
        if up >= declared {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!(
                "{up} of {declared} nodes up after {NODES_UP_WAIT_MAX_MS} ms; see the agents' logs in {}",
                cluster.dir.join("logs").display()
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Milliseconds, with microsecond resolution, for reports.
pub fn milliseconds(duration: std::time::Duration) -> f64 {
    duration.as_secs_f64() * 1_000.0
}

/// `debug` or `release`: the figures differ by a large factor.
pub fn build_profile() -> &'static str {
    if cfg!(debug_assertions) {
        "debug"
    } else {
        "release"
    }
}

/// The multi-threaded runtime a benchmark drives its clients on.
pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    use anyhow::Context;
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the benchmark's runtime")
}
