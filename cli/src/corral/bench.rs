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
//!
//! The jobs are held (`--hold`), so nothing would ever run them.

mod failover;
mod report;
mod schedule;
mod stats;
mod submission;
mod submit_latency;
mod submit_throughput;

use std::path::{Path, PathBuf};

use corral_config::Config;

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
    }
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
    let created = !options.dir.join(super::dev::CONFIG_FILE).exists();
    let config = match dev::ensure_up(&options.dir, options.controllers) {
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
