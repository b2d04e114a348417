//! `corral bench failover`: how long submissions stop when the leader dies.
//!
//! A few tasks submit continuously through the client API (each call with a
//! per-call timeout; a call that fails or times out is counted). Then, again
//! and again: SIGKILL the leader and note the instant; the failover time is
//! from that instant until the first submission that *started after the
//! kill* is committed; the time until `status` shows a new leader is recorded
//! too. The killed controller is started again, the load pauses until every
//! controller reports the same applied index, the load resumes, and after a
//! pause the next kill follows.
//!
//! At the end every acknowledged job must be in the cluster exactly once,
//! with the request id it was submitted under; a missing or duplicated job
//! makes the benchmark fail (exit 1) after writing its report.

mod load;
mod verify;

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use corral_client::Client;
use corral_proto as wire;
use tokio::runtime::Runtime;

use super::report::Json;
use super::stats::{summary_json, Summary};
use super::submission::{cluster_client, held_job_spec, RequestIds};
use super::{build_profile, dev, milliseconds, Cluster, Options};
use crate::corral::status;
use load::Load;
use verify::Verification;

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub options: Options,
    /// Leader kills per run.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=10_000))]
    pub kills: u64,
    /// Tasks submitting continuously, each with its own client.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u64).range(1..=1_000))]
    pub load_tasks: u64,
    /// Per-call timeout of a load submission; a call taking longer counts as failed.
    #[arg(long, default_value_t = 3_000, value_parser = clap::value_parser!(u64).range(100..=600_000))]
    pub submit_timeout_ms: u64,
}

/// How often the failover and convergence waits look again.
const POLL_INTERVAL_MS: u64 = 10;
/// A kill with no commit and no new leader after this fails the benchmark.
const FAILOVER_WAIT_MAX_MS: u64 = 60_000;
/// The restarted controller must have caught up within this.
const CONVERGE_WAIT_MAX_MS: u64 = 120_000;
/// Steady load between convergence and the next kill.
const PAUSE_BEFORE_KILL_MS: u64 = 1_000;

/// What one kill measured.
struct Kill {
    controller_id: u64,
    term: u64,
    /// Kill to the commit of the first submission started after it.
    failover_ms: f64,
    /// Kill to the first `status` showing another controller as leader.
    leader_elected_ms: f64,
    /// Restart of the killed controller to every controller at the same applied index.
    caught_up_ms: f64,
    /// Load calls that finished with an error or a timeout during this kill's cycle.
    failed_calls: usize,
}

pub fn run(cluster: &Cluster, args: &Args) -> anyhow::Result<u8> {
    cluster.require_three_controllers("failover", "")?;
    println!(
        "failover: {} leader kills per run under a load of {} submitting tasks ({} ms per-call timeout), {} runs, {} controllers, {} build",
        args.kills,
        args.load_tasks,
        args.submit_timeout_ms,
        cluster.repeat,
        cluster.controller_count(),
        build_profile()
    );
    let runtime = super::runtime()?;
    let status_client = cluster_client(&cluster.config)?;
    wait_converged(&runtime, &status_client, cluster.controller_count())?;
    let load = start_load(cluster, args, &runtime)?;
    let started = Instant::now();
    let runs = kill_runs(cluster, args, &runtime, &status_client, &load);
    let submissions = load.stop(&runtime);
    let load_seconds = started.elapsed().as_secs_f64();
    let verification = runtime.block_on(verify::acknowledged_jobs(&status_client, &submissions));
    let runs = match runs {
        Ok(runs) => runs,
        Err(error) => {
            if let Ok(verification) = &verification {
                eprintln!("verified before giving up: {}", verification.describe());
            }
            return Err(error);
        }
    };
    let verification = verification?;
    print_summary(&runs, &submissions, load_seconds, &verification);
    let body = report_body(args, &runs, &submissions, load_seconds, &verification);
    cluster.write_report("failover", "", body)?;
    if let Some(problem) = verification.problem() {
        bail!("ACKNOWLEDGED JOBS LOST OR DUPLICATED: {problem}");
    }
    Ok(0)
}

/// The load tasks, each with its own client, submitting what sbatch would.
fn start_load(cluster: &Cluster, args: &Args, runtime: &Runtime) -> anyhow::Result<Load> {
    let clients = (0..args.load_tasks)
        .map(|_| cluster_client(&cluster.config))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let spec = Arc::new(held_job_spec(cluster.config_path(), &cluster.dir)?);
    Ok(Load::start(
        runtime,
        clients,
        spec,
        Arc::new(RequestIds::new()),
        Duration::from_millis(args.submit_timeout_ms),
    ))
}

/// `repeat` runs of `kills` kills each.
fn kill_runs(
    cluster: &Cluster,
    args: &Args,
    runtime: &Runtime,
    status_client: &Arc<Client>,
    load: &Load,
) -> anyhow::Result<Vec<Vec<Kill>>> {
    std::thread::sleep(Duration::from_millis(PAUSE_BEFORE_KILL_MS));
    let mut runs = Vec::new();
    for run in 1..=cluster.repeat {
        let mut kills = Vec::new();
        for kill in 1..=args.kills {
            let measured = kill_leader(cluster, runtime, status_client, load)?;
            println!(
                "  kill {kill}/{}: controller-{} (leader, term {}): first commit after {:.0} ms, new leader in status after {:.0} ms, caught up {:.0} ms after restart, {} failed calls",
                args.kills,
                measured.controller_id,
                measured.term,
                measured.failover_ms,
                measured.leader_elected_ms,
                measured.caught_up_ms,
                measured.failed_calls
            );
            kills.push(measured);
        }
        let failover = Summary::of(&failover_ms(&kills)).expect("kills is at least 1");
        println!(
            "run {run}/{}: failover median {:.0} ms, min {:.0} ms, max {:.0} ms",
            cluster.repeat, failover.median, failover.min, failover.max
        );
        runs.push(kills);
    }
    Ok(runs)
}

/// One cycle: kill the leader, measure, restart it, wait for convergence
/// with the load paused, resume, pause. The leader is found with `status`
/// first and killed by its id (rather than `dev kill leader`), so the cycle
/// knows which controller to start again and which term it led.
fn kill_leader(
    cluster: &Cluster,
    runtime: &Runtime,
    status_client: &Arc<Client>,
    load: &Load,
) -> anyhow::Result<Kill> {
    let leader = current_leader(runtime, status_client)?;
    let target = format!("controller-{}", leader.id);
    let mark = load.submission_count();
    dev::kill_target(&cluster.dir, &target)?;
    let killed_at = Instant::now();
    let waited = wait_failover(runtime, status_client, load, mark, killed_at, leader.id);
    dev::start_target(&cluster.dir, &target)?;
    let restarted_at = Instant::now();
    let (committed_at, elected_at) = waited?;
    load.pause();
    let converged = wait_converged(runtime, status_client, cluster.controller_count());
    let caught_up = restarted_at.elapsed();
    load.resume();
    converged?;
    let failed_calls = load.failures_since(mark);
    std::thread::sleep(Duration::from_millis(PAUSE_BEFORE_KILL_MS));
    Ok(Kill {
        controller_id: leader.id,
        term: leader.term,
        failover_ms: milliseconds(committed_at - killed_at),
        leader_elected_ms: milliseconds(elected_at - killed_at),
        caught_up_ms: milliseconds(caught_up),
        failed_calls,
    })
}

/// The leader of the highest term among the controllers that answer.
pub(super) fn current_leader(
    runtime: &Runtime,
    client: &Arc<Client>,
) -> anyhow::Result<wire::ControllerStatusReply> {
    status::leader(runtime.block_on(status::collect(client.clone())))
        .context("no controller reports itself leader")
}

/// Polls until a submission started after `killed_at` has committed and
/// `status` shows a leader other than `killed_id`; returns both instants.
fn wait_failover(
    runtime: &Runtime,
    client: &Arc<Client>,
    load: &Load,
    mark: usize,
    killed_at: Instant,
    killed_id: u64,
) -> anyhow::Result<(Instant, Instant)> {
    let deadline = killed_at + Duration::from_millis(FAILOVER_WAIT_MAX_MS);
    let (mut committed_at, mut elected_at) = (None, None);
    loop {
        committed_at = committed_at.or_else(|| load.first_commit_started_after(mark, killed_at));
        if elected_at.is_none() && new_leader_known(runtime, client, killed_id) {
            elected_at = Some(Instant::now());
        }
        if let (Some(committed), Some(elected)) = (committed_at, elected_at) {
            return Ok((committed, elected));
        }
        if Instant::now() > deadline {
            bail!(
                "{FAILOVER_WAIT_MAX_MS} ms after killing controller-{killed_id}: a submission committed: {}, a new leader in status: {}",
                committed_at.is_some(),
                elected_at.is_some()
            );
        }
        std::thread::sleep(Duration::from_millis(POLL_INTERVAL_MS));
    }
}

fn new_leader_known(runtime: &Runtime, client: &Arc<Client>, killed_id: u64) -> bool {
    let rows = runtime.block_on(status::collect(client.clone()));
    rows.iter().any(|row| {
        row.status
            .as_ref()
            .is_some_and(|s| s.role == "leader" && s.id != killed_id)
    })
}

/// Waits until all `controllers` answer, exactly one leads, and all report
/// the same applied index; returns that index.
pub(super) fn wait_converged(
    runtime: &Runtime,
    client: &Arc<Client>,
    controllers: usize,
) -> anyhow::Result<u64> {
    let deadline = Instant::now() + Duration::from_millis(CONVERGE_WAIT_MAX_MS);
    loop {
        let rows = runtime.block_on(status::collect(client.clone()));
        let statuses: Vec<&wire::ControllerStatusReply> =
            rows.iter().filter_map(|row| row.status.as_ref()).collect();
        let leaders = statuses.iter().filter(|s| s.role == "leader").count();
        let applied: Vec<Option<u64>> = statuses.iter().map(|s| s.applied_index).collect();
        let same = applied.windows(2).all(|pair| pair[0] == pair[1]);
        if statuses.len() == controllers && leaders == 1 && same {
            if let Some(index) = applied[0] {
                return Ok(index);
            }
        }
        if Instant::now() > deadline {
            bail!(
                "controllers not converged within {CONVERGE_WAIT_MAX_MS} ms:\n{}",
                status::render(&rows)
            );
        }
        std::thread::sleep(Duration::from_millis(POLL_INTERVAL_MS));
    }
}

fn failover_ms(kills: &[Kill]) -> Vec<f64> {
    kills.iter().map(|k| k.failover_ms).collect()
}

fn print_summary(
    runs: &[Vec<Kill>],
    submissions: &[load::Submission],
    load_seconds: f64,
    verification: &Verification,
) {
    let all: Vec<&Kill> = runs.iter().flatten().collect();
    let failover: Vec<f64> = all.iter().map(|k| k.failover_ms).collect();
    let elected: Vec<f64> = all.iter().map(|k| k.leader_elected_ms).collect();
    let caught_up: Vec<f64> = all.iter().map(|k| k.caught_up_ms).collect();
    for (what, samples) in [
        ("failover (kill to first commit)", &failover),
        ("new leader in status", &elected),
        ("restart to caught up", &caught_up),
    ] {
        let s = Summary::of(samples).expect("at least one kill");
        println!(
            "summary {what}, {} kills: min {:.0} ms, median {:.0} ms, p99 {:.0} ms, max {:.0} ms",
            s.count, s.min, s.median, s.p99, s.max
        );
    }
    let failed = submissions.iter().filter(|s| s.job_id().is_none()).count();
    println!(
        "load: {} submissions acknowledged, {failed} failed or timed out, in {load_seconds:.0} s",
        submissions.len() - failed
    );
    println!("verified: {}", verification.describe());
}

fn report_body(
    args: &Args,
    runs: &[Vec<Kill>],
    submissions: &[load::Submission],
    load_seconds: f64,
    verification: &Verification,
) -> Vec<(&'static str, Json)> {
    let all: Vec<&Kill> = runs.iter().flatten().collect();
    let samples =
        |measure: fn(&Kill) -> f64| -> Vec<f64> { all.iter().map(|k| measure(k)).collect() };
    let failed: Vec<&str> = submissions.iter().filter_map(|s| s.error()).collect();
    vec![
        (
            "parameters",
            Json::object([
                ("kills_per_run", Json::count(args.kills)),
                ("repeat", Json::count(runs.len())),
                ("load_tasks", Json::count(args.load_tasks)),
                ("submit_timeout_ms", Json::count(args.submit_timeout_ms)),
                ("pause_before_kill_ms", Json::count(PAUSE_BEFORE_KILL_MS)),
                ("poll_interval_ms", Json::count(POLL_INTERVAL_MS)),
            ]),
        ),
        (
            "runs",
            Json::Array(runs.iter().map(|kills| run_json(kills)).collect()),
        ),
        (
            "summary",
            Json::object([
                ("failover_ms", summary_json(&samples(|k| k.failover_ms))),
                (
                    "leader_elected_ms",
                    summary_json(&samples(|k| k.leader_elected_ms)),
                ),
                ("caught_up_ms", summary_json(&samples(|k| k.caught_up_ms))),
                (
                    "run_median_failover_ms",
                    summary_json(
                        &runs
                            .iter()
                            .filter_map(|kills| Summary::of(&failover_ms(kills)))
                            .map(|s| s.median)
                            .collect::<Vec<f64>>(),
                    ),
                ),
            ]),
        ),
        (
            "load",
            Json::object([
                ("seconds", Json::Number(load_seconds)),
                (
                    "acknowledged",
                    Json::count(submissions.len() - failed.len()),
                ),
                ("failed", Json::count(failed.len())),
                ("failure_examples", failure_examples(&failed)),
            ]),
        ),
        ("verification", verification.to_json()),
    ]
}

fn run_json(kills: &[Kill]) -> Json {
    Json::object([
        ("failover_ms", Json::numbers(&failover_ms(kills))),
        (
            "kills",
            Json::Array(
                kills
                    .iter()
                    .map(|k| {
                        Json::object([
                            ("controller_id", Json::count(k.controller_id)),
                            ("term", Json::count(k.term)),
                            ("failover_ms", Json::Number(k.failover_ms)),
                            ("leader_elected_ms", Json::Number(k.leader_elected_ms)),
                            ("caught_up_ms", Json::Number(k.caught_up_ms)),
                            ("failed_calls", Json::count(k.failed_calls)),
                        ])
                    })
                    .collect(),
            ),
        ),
    ])
}

/// The distinct failure messages, at most a few, with their counts.
fn failure_examples(failed: &[&str]) -> Json {
    const EXAMPLES_MAX: usize = 5;
    let mut counts: Vec<(&str, usize)> = Vec::new();
    for message in failed {
        match counts.iter_mut().find(|(m, _)| m == message) {
            Some((_, count)) => *count += 1,
            None => counts.push((message, 1)),
        }
    }
    counts.sort_by_key(|(_, count)| std::cmp::Reverse(*count));
    Json::Array(
        counts
            .into_iter()
            .take(EXAMPLES_MAX)
            .map(|(message, count)| {
                Json::object([
                    ("message", Json::text(message)),
                    ("count", Json::count(count)),
                ])
            })
            .collect(),
    )
}
