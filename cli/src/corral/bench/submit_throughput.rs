//! `corral bench submit-throughput`: submissions per second.
//!
//! Without `--api`: K workers at once, each running `sbatch --hold --wrap
//! true` processes one after another for a fixed number of jobs, for each K
//! in `--concurrency`; the figure is jobs per second of wall time.
//!
//! With `--api`: the client API with many calls in flight on few
//! connections, `--tasks` tokio tasks over `--clients` clients (one HTTP/2
//! connection each to the leader), sharing `--jobs` submissions. Each call
//! returns only after its submission is committed on a majority and
//! applied, so the figure is durable submissions per second.
//!
//! With `--slurm-conf PATH` (not with `--api`) the workers run Slurm's own
//! `/usr/bin/sbatch --hold --wrap true` against that Slurm.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use corral_client::Client;
use corral_proto as wire;

use super::report::Json;
use super::slurm::Slurm;
use super::stats::{summary_json, Summary};
use super::submission::{
    cluster_client, held_job_spec, sbatch_process, submit, time_sbatch, RequestIds,
    SBATCH_ARGUMENTS,
};
use super::{build_profile, milliseconds, Cluster, Options};

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub options: Options,
    /// Numbers of concurrent sbatch workers to measure, e.g. `1 2 4 8` or `1,2,4,8`.
    #[arg(long, num_args = 1.., value_delimiter = ',', conflicts_with = "api", default_values_t = [1, 2, 4, 8],
          value_parser = clap::value_parser!(u64).range(1..=256))]
    pub concurrency: Vec<u64>,
    /// sbatch processes each worker runs, one after another.
    #[arg(long, conflicts_with = "api", default_value_t = 50, value_parser = clap::value_parser!(u64).range(1..=100_000))]
    pub jobs_per_worker: u64,
    /// Measure the client API instead of sbatch processes.
    #[arg(long)]
    pub api: bool,
    /// With --api: tasks submitting at once.
    #[arg(long, requires = "api", default_value_t = 256, value_parser = clap::value_parser!(u64).range(1..=100_000))]
    pub tasks: u64,
    /// With --api: clients (connections) the tasks share.
    #[arg(long, requires = "api", default_value_t = 4, value_parser = clap::value_parser!(u64).range(1..=1_000))]
    pub clients: u64,
    /// With --api: submissions per run, shared by all tasks.
    #[arg(long, requires = "api", default_value_t = 20_000, value_parser = clap::value_parser!(u64).range(1..=10_000_000))]
    pub jobs: u64,
    /// Run Slurm's own sbatch against the Slurm of this slurm.conf instead.
    #[arg(long, value_name = "PATH", conflicts_with = "api")]
    pub slurm_conf: Option<PathBuf>,
}

pub fn run(cluster: &Cluster, args: &Args) -> anyhow::Result<u8> {
    if args.api {
        run_api(cluster, args)
    } else {
        run_cli(cluster, args)
    }
}

/// One run of the CLI benchmark: jobs per second for each concurrency.
type CliRun = Vec<(u64, f64)>;

fn run_cli(cluster: &Cluster, args: &Args) -> anyhow::Result<u8> {
    println!(
        "submit-throughput: concurrent sbatch workers {:?}, {} jobs each, {} runs, {} controllers, {} build",
        args.concurrency,
        args.jobs_per_worker,
        cluster.repeat,
        cluster.controller_count(),
        build_profile()
    );
    let sbatch = || sbatch_process(cluster.config_path(), &cluster.dir);
    let body = measure_cli(&sbatch, cluster.repeat, args)?;
    cluster.write_report("submit-throughput", "", body)?;
    Ok(0)
}

/// The same against Slurm.
pub fn run_slurm(slurm: &Slurm, args: &Args) -> anyhow::Result<u8> {
    println!(
        "submit-throughput (Slurm {}): concurrent sbatch workers {:?}, {} jobs each, {} runs",
        slurm.version(),
        args.concurrency,
        args.jobs_per_worker,
        slurm.repeat
    );
    let sbatch = || Ok(slurm.sbatch(&SBATCH_ARGUMENTS));
    let body = measure_cli(&sbatch, slurm.repeat, args)?;
    slurm.write_report("submit-throughput", "", body)?;
    slurm.cancel_all()?;
    Ok(0)
}

pub(super) type SbatchFactory<'a> = dyn Fn() -> anyhow::Result<std::process::Command> + Sync + 'a;

/// Every concurrency `repeat` times; the report's body.
fn measure_cli(
    sbatch: &SbatchFactory<'_>,
    repeat: u64,
    args: &Args,
) -> anyhow::Result<Vec<(&'static str, Json)>> {
    let mut runs: Vec<CliRun> = Vec::new();
    for run in 1..=repeat {
        let mut rates = CliRun::new();
        for &workers in &args.concurrency {
            rates.push((
                workers,
                sbatch_workers(sbatch, workers, args.jobs_per_worker)?,
            ));
        }
        let line: Vec<String> = rates
            .iter()
            .map(|(workers, rate)| format!("K={workers} {rate:.1} jobs/s"))
            .collect();
        println!("run {run}/{repeat}: {}", line.join(", "));
        runs.push(rates);
    }
    let mut summaries = Vec::new();
    for &workers in &args.concurrency {
        let rates = rates_for(&runs, workers);
        let summary = Summary::of(&rates).expect("at least one run");
        println!(
            "summary K={workers}: median {:.1} jobs/s (min {:.1}, max {:.1})",
            summary.median, summary.min, summary.max
        );
        summaries.push(Json::object([
            ("concurrency", Json::count(workers)),
            ("jobs_per_second", summary.to_json()),
        ]));
    }
    Ok(vec![
        (
            "parameters",
            Json::object([
                ("mode", Json::text("sbatch processes")),
                (
                    "concurrency",
                    Json::Array(args.concurrency.iter().map(|k| Json::count(*k)).collect()),
                ),
                ("jobs_per_worker", Json::count(args.jobs_per_worker)),
                ("repeat", Json::count(repeat)),
                ("command", Json::text("sbatch --hold --wrap true")),
            ]),
        ),
        ("runs", Json::Array(runs.iter().map(cli_run_json).collect())),
        ("summary", Json::Array(summaries)),
    ])
}

fn rates_for(runs: &[CliRun], workers: u64) -> Vec<f64> {
    runs.iter()
        .flat_map(|run| {
            run.iter()
                .filter(|(k, _)| *k == workers)
                .map(|(_, rate)| *rate)
        })
        .collect()
}

fn cli_run_json(run: &CliRun) -> Json {
    Json::Array(
        run.iter()
            .map(|(workers, rate)| {
                Json::object([
                    ("concurrency", Json::count(*workers)),
                    ("jobs_per_second", Json::Number(*rate)),
                ])
            })
            .collect(),
    )
}

/// `workers` threads each running `jobs_each` sbatch processes in a row;
/// jobs per second of wall time.
pub(super) fn sbatch_workers(
    sbatch: &SbatchFactory<'_>,
    workers: u64,
    jobs_each: u64,
) -> anyhow::Result<f64> {
    let started = Instant::now();
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                scope.spawn(|| -> anyhow::Result<()> {
                    let mut sbatch = sbatch()?;
                    for _ in 0..jobs_each {
                        time_sbatch(&mut sbatch)?;
                    }
                    Ok(())
                })
            })
            .collect();
        handles
            .into_iter()
            .try_for_each(|handle| handle.join().expect("sbatch worker panicked"))
    })?;
    Ok((workers * jobs_each) as f64 / started.elapsed().as_secs_f64())
}

/// One run of the API benchmark.
struct ApiRun {
    submissions_per_second: f64,
    /// Every call's latency, in milliseconds, in no particular order.
    latency_ms: Vec<f64>,
}

fn run_api(cluster: &Cluster, args: &Args) -> anyhow::Result<u8> {
    println!(
        "submit-throughput --api: {} submissions per run by {} tasks over {} clients, {} runs, {} controllers, {} build",
        args.jobs,
        args.tasks,
        args.clients,
        cluster.repeat,
        cluster.controller_count(),
        build_profile()
    );
    let runtime = super::runtime()?;
    let clients = (0..args.clients)
        .map(|_| cluster_client(&cluster.config))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let spec = Arc::new(held_job_spec(cluster.config_path(), &cluster.dir)?);
    let ids = Arc::new(RequestIds::new());
    // One submission per client first: connections and TLS are not measured.
    runtime.block_on(async {
        for client in &clients {
            submit(client, &spec, ids.next()).await?;
        }
        anyhow::Ok(())
    })?;
    let mut runs = Vec::new();
    for run in 1..=cluster.repeat {
        let measured = runtime.block_on(api_run(&clients, &spec, &ids, args.tasks, args.jobs))?;
        let latency = Summary::of(&measured.latency_ms).expect("jobs is at least 1");
        println!(
            "run {run}/{}: {:.0} submissions/s; call latency median {:.1} ms, p99 {:.1} ms, max {:.1} ms",
            cluster.repeat,
            measured.submissions_per_second,
            latency.median,
            latency.p99,
            latency.max
        );
        runs.push(measured);
    }
    let rates: Vec<f64> = runs.iter().map(|r| r.submissions_per_second).collect();
    let rate = Summary::of(&rates).expect("at least one run");
    println!(
        "summary (API): median {:.0} submissions/s (min {:.0}, max {:.0})",
        rate.median, rate.min, rate.max
    );
    cluster.write_report("submit-throughput", "-api", api_report_body(args, &runs))?;
    Ok(0)
}

/// `tasks` tasks take submissions from a shared counter until `jobs` are
/// done; any failed call ends the run with its error.
async fn api_run(
    clients: &[Arc<Client>],
    spec: &Arc<wire::JobSpec>,
    ids: &Arc<RequestIds>,
    tasks: u64,
    jobs: u64,
) -> anyhow::Result<ApiRun> {
    let taken = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut running = tokio::task::JoinSet::new();
    for task in 0..tasks {
        let client = clients[task as usize % clients.len()].clone();
        let (spec, ids, taken) = (spec.clone(), ids.clone(), taken.clone());
        running.spawn(async move {
            let mut latency_ms = Vec::new();
            while taken.fetch_add(1, Ordering::Relaxed) < jobs {
                let call_started = Instant::now();
                submit(&client, &spec, ids.next()).await?;
                latency_ms.push(milliseconds(call_started.elapsed()));
            }
            anyhow::Ok(latency_ms)
        });
    }
    let mut latency_ms = Vec::with_capacity(jobs as usize);
    while let Some(finished) = running.join_next().await {
        latency_ms.extend(finished.context("submitting task panicked")??);
    }
    Ok(ApiRun {
        submissions_per_second: jobs as f64 / started.elapsed().as_secs_f64(),
        latency_ms,
    })
}

fn api_report_body(args: &Args, runs: &[ApiRun]) -> Vec<(&'static str, Json)> {
    let rates: Vec<f64> = runs.iter().map(|r| r.submissions_per_second).collect();
    let pooled: Vec<f64> = runs.iter().flat_map(|r| r.latency_ms.clone()).collect();
    vec![
        (
            "parameters",
            Json::object([
                ("mode", Json::text("client API")),
                ("tasks", Json::count(args.tasks)),
                ("clients", Json::count(args.clients)),
                ("jobs", Json::count(args.jobs)),
                ("repeat", Json::count(runs.len())),
            ]),
        ),
        (
            "runs",
            Json::Array(
                runs.iter()
                    .map(|run| {
                        Json::object([
                            (
                                "submissions_per_second",
                                Json::Number(run.submissions_per_second),
                            ),
                            ("latency_ms", Json::numbers(&run.latency_ms)),
                            ("latency_summary_ms", summary_json(&run.latency_ms)),
                        ])
                    })
                    .collect(),
            ),
        ),
        (
            "summary",
            Json::object([
                ("submissions_per_second", summary_json(&rates)),
                ("call_latency_ms", summary_json(&pooled)),
            ]),
        ),
    ]
}
