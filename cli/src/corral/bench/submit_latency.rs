//! `corral bench submit-latency`: what a user waits for one `sbatch`.
//!
//! Each sample is a whole `sbatch --hold --wrap true` process, timed from
//! spawn to exit: exec, configuration, TLS handshake, the submission's commit
//! on a majority (two fdatasyncs in sequence at least) and exit. The
//! processes run one after another, so the cluster is otherwise idle.
//!
//! With `--slurm-conf PATH` the same processes are Slurm's
//! `/usr/bin/sbatch --hold --wrap true` against that Slurm
//! (see `bench/slurm.rs`).

use std::path::PathBuf;

use super::report::Json;
use super::slurm::Slurm;
use super::stats::{summary_json, Summary};
use super::submission::{sbatch_process, time_sbatch, SBATCH_ARGUMENTS};
use super::{build_profile, milliseconds, Cluster, Options};

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub options: Options,
    /// sbatch processes per run, one after another.
    #[arg(long, default_value_t = 200, value_parser = clap::value_parser!(u64).range(1..=100_000))]
    pub count: u64,
    /// Measure Slurm's own sbatch against the Slurm of this slurm.conf instead.
    #[arg(long, value_name = "PATH")]
    pub slurm_conf: Option<PathBuf>,
}

/// Unmeasured processes before the first run: page cache, first connections.
const WARMUP_PROCESSES: u64 = 3;

pub fn run(cluster: &Cluster, args: &Args) -> anyhow::Result<u8> {
    println!(
        "submit-latency: {} sbatch processes one after another, {} runs, {} controllers, {} build",
        args.count,
        cluster.repeat,
        cluster.controller_count(),
        build_profile()
    );
    let sbatch = sbatch_process(cluster.config_path(), &cluster.dir)?;
    let runs = measure(sbatch, cluster.repeat, args.count)?;
    cluster.write_report("submit-latency", "", report_body(args, &runs))?;
    Ok(0)
}

/// The same against Slurm.
pub fn run_slurm(slurm: &Slurm, args: &Args) -> anyhow::Result<u8> {
    println!(
        "submit-latency (Slurm {}): {} sbatch processes one after another, {} runs",
        slurm.version(),
        args.count,
        slurm.repeat
    );
    let sbatch = slurm.sbatch(&SBATCH_ARGUMENTS);
    let runs = measure(sbatch, slurm.repeat, args.count)?;
    slurm.write_report("submit-latency", "", report_body(args, &runs))?;
    slurm.cancel_all()?;
    Ok(0)
}

/// `repeat` runs of `count` processes, after a few unmeasured ones.
fn measure(
    mut sbatch: std::process::Command,
    repeat: u64,
    count: u64,
) -> anyhow::Result<Vec<Vec<f64>>> {
    for _ in 0..WARMUP_PROCESSES {
        time_sbatch(&mut sbatch)?;
    }
    let mut runs: Vec<Vec<f64>> = Vec::new();
    for run in 1..=repeat {
        let samples = (0..count)
            .map(|_| time_sbatch(&mut sbatch).map(milliseconds))
            .collect::<anyhow::Result<Vec<f64>>>()?;
        let summary = Summary::of(&samples).expect("count is at least 1");
        println!(
            "run {run}/{repeat}: median {:.1} ms, p90 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
            summary.median, summary.p90, summary.p99, summary.max
        );
        runs.push(samples);
    }
    print_summary(&runs);
    Ok(runs)
}

/// Per-run medians: their median and spread; and every sample pooled.
fn print_summary(runs: &[Vec<f64>]) {
    let medians: Vec<f64> = runs.iter().map(|run| run_summary(run).median).collect();
    let p99s: Vec<f64> = runs.iter().map(|run| run_summary(run).p99).collect();
    let pooled: Vec<f64> = runs.concat();
    let medians = Summary::of(&medians).expect("at least one run");
    let p99s = Summary::of(&p99s).expect("at least one run");
    let pooled = Summary::of(&pooled).expect("at least one sample");
    println!(
        "summary: median of run medians {:.1} ms (min {:.1}, max {:.1}); p99 of runs median {:.1} ms (min {:.1}, max {:.1})",
        medians.median, medians.min, medians.max, p99s.median, p99s.min, p99s.max
    );
    println!(
        "all {} processes: min {:.1} ms, median {:.1} ms, p90 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        pooled.count, pooled.min, pooled.median, pooled.p90, pooled.p99, pooled.max
    );
}

fn run_summary(samples: &[f64]) -> Summary {
    Summary::of(samples).expect("count is at least 1")
}

fn report_body(args: &Args, runs: &[Vec<f64>]) -> Vec<(&'static str, Json)> {
    let per_run: Vec<f64> = runs.iter().map(|run| run_summary(run).median).collect();
    vec![
        (
            "parameters",
            Json::object([
                ("count", Json::count(args.count)),
                ("repeat", Json::count(runs.len())),
                ("warmup_processes", Json::count(WARMUP_PROCESSES)),
                ("command", Json::text("sbatch --hold --wrap true")),
            ]),
        ),
        (
            "runs",
            Json::Array(
                runs.iter()
                    .map(|samples| {
                        Json::object([
                            ("latency_ms", Json::numbers(samples)),
                            ("summary_ms", summary_json(samples)),
                        ])
                    })
                    .collect(),
            ),
        ),
        (
            "summary",
            Json::object([
                ("run_medians_ms", summary_json(&per_run)),
                ("all_samples_ms", summary_json(&runs.concat())),
            ]),
        ),
    ]
}
