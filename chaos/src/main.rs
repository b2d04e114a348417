//! `corral-chaos run`: a real cluster, a seeded schedule of faults, a
//! workload, and a verdict on every promise.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clap::{Parser, Subcommand};
use corral_chaos::checkers;
use corral_chaos::cluster::{Cluster, ClusterOptions};
use corral_chaos::history::{
    AccountedJob, ControllerReport, Entry, FinalJob, FinalState, History, JobRun, LeaderObservation,
};
use corral_chaos::nemesis::{self, FaultKind, Hosts, Rng};
use corral_chaos::net::Network;
use corral_chaos::report::{self, RunInfo};
use corral_chaos::workload::{self, Recorder, Workload};
use corral_proto as wire;

/// Concurrent submitting clients unless told otherwise.
const SUBMITTERS_DEFAULT: u32 = 4;
/// How often the leader is observed for the timeline.
const LEADER_POLL_MS: u64 = 250;
/// How long healing may take before the run reports the cluster unhealthy.
const HEAL_WAIT_MS: u64 = 90_000;
/// How long a workload client looks for a leader before calling an
/// operation's outcome unknown.
const CLIENT_LEADER_WAIT_MS: u64 = 1_500;
/// How long the jobs of the workload get to finish after the faults.
const SETTLE_WAIT_MS: u64 = 120_000;

#[derive(Parser)]
#[command(
    name = "corral-chaos",
    about = "Kill, pause and cut off Corral's controllers and agents, and check every promise"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a cluster under faults and write DIR/report.md, report.json, timeline.svg, history.jsonl.
    Run(RunArgs),
}

#[derive(clap::Args, Clone)]
struct RunArgs {
    /// The seed of every random choice [default: from the clock, printed first].
    #[arg(long)]
    seed: Option<u64>,
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u64).range(1..=7))]
    controllers: u64,
    #[arg(long, default_value_t = 2)]
    agents: usize,
    /// How long faults are injected: `90s`, `5m`.
    #[arg(long, default_value = "2m", value_parser = parse_duration)]
    duration: Duration,
    /// Fault kinds: kill, pause, partition, agents (or kill-leader,
    /// kill-minority, pause-leader, isolate-leader, split, kill-agent).
    #[arg(long, default_value = "kill,pause,partition")]
    faults: String,
    /// Concurrent submitting clients.
    #[arg(long, default_value_t = SUBMITTERS_DEFAULT)]
    clients: u32,
    /// Where the cluster, the history and the report go (created; must not hold a previous run).
    #[arg(long)]
    out: PathBuf,
    /// The `corral` binary [default: next to this one].
    #[arg(long)]
    corral: Option<PathBuf>,
}

fn parse_duration(text: &str) -> Result<Duration, String> {
    let (number, unit) = text.split_at(
        text.find(|c: char| !c.is_ascii_digit())
            .unwrap_or(text.len()),
    );
    let value: u64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a duration like 90s or 5m"))?;
    match unit {
        "s" | "" => Ok(Duration::from_secs(value)),
        "m" => Ok(Duration::from_secs(value * 60)),
        "h" => Ok(Duration::from_secs(value * 3600)),
        _ => Err(format!("{text:?} is not a duration like 90s or 5m")),
    }
}

fn main() -> ExitCode {
    let Cli {
        command: Command::Run(args),
    } = Cli::parse();
    // Ctrl-C or SIGTERM removes the run's namespaces and processes.
    if let Err(error) = corral_chaos::net::tear_down_on_signals() {
        eprintln!("corral-chaos: cannot clean up on signals: {error}");
    }
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("CORRAL_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    match run(args) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(error) => {
            eprintln!("corral-chaos: error: {error:#}");
            ExitCode::from(2)
        }
    }
}

/// The command line that replays a run.
fn reproduce_command(args: &RunArgs, seed: u64) -> String {
    format!(
        "corral-chaos run --seed {seed} --controllers {} --agents {} --duration {}s --faults {} --clients {} --out {}-again",
        args.controllers,
        args.agents,
        args.duration.as_secs(),
        args.faults,
        args.clients,
        args.out.display()
    )
}

/// Runs the whole thing; true when no promise was broken.
fn run(args: RunArgs) -> anyhow::Result<bool> {
    let seed = args.seed.unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(1)
    });
    println!("seed: {seed}");
    println!("reproduce: {}", reproduce_command(&args, seed));
    let kinds = nemesis::parse_faults(&args.faults).map_err(anyhow::Error::msg)?;
    if args.out.exists() && std::fs::read_dir(&args.out)?.next().is_some() {
        bail!(
            "{} is not empty; give a new --out directory",
            args.out.display()
        );
    }
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("creating {}", args.out.display()))?;
    let out = std::fs::canonicalize(&args.out)?;

    let cluster = start_cluster(&args, &out, seed)?;
    let recorder = Arc::new(Recorder::create(&out.join("history.jsonl"))?);
    let outcome = exercise(&args, &cluster, &recorder, seed, &kinds);
    let final_state = outcome.and_then(|()| final_state(&cluster, &recorder));
    let final_state = match final_state {
        Ok(state) => state,
        Err(error) => {
            let _ = cluster.shut_down();
            return Err(error);
        }
    };
    recorder.record(&Entry::Final(final_state));
    if let Err(error) = cluster.shut_down() {
        println!("cleanup: {error}");
    }

    let history = History::read(&out.join("history.jsonl")).map_err(anyhow::Error::msg)?;
    let violations = checkers::all(&history);
    let info = RunInfo {
        seed,
        command: reproduce_command(&args, seed),
        controllers: args.controllers as usize,
        agents: args.agents,
        duration_ms: args.duration.as_millis() as u64,
        fault_kinds: kinds.iter().map(|k| k.name().to_string()).collect(),
        started_unix_ms: recorder.started_unix_ms(),
    };
    report::write(&out, &info, &history, &violations)?;
    println!("{}", report::verdict(&violations));
    for violation in &violations {
        println!("  {}: {}", violation.checker, violation.message);
    }
    println!("report: {}", out.join("report.md").display());
    if !violations.is_empty() {
        println!("reproduce: {}", reproduce_command(&args, seed));
    }
    Ok(violations.is_empty())
}

fn start_cluster(args: &RunArgs, out: &Path, seed: u64) -> anyhow::Result<Cluster> {
    let hosts = Cluster::host_names(args.controllers as usize, args.agents);
    let run_name = format!("r{}", seed % 100_000);
    let network = match Network::create(&run_name, &hosts) {
        Ok(network) => network,
        Err(error) => {
            let reason = format!(
                "network namespaces unavailable ({error}); running on loopback, without partitions"
            );
            println!("{reason}");
            Network::loopback(&run_name, &hosts, reason)
        }
    };
    let options = ClusterOptions {
        corral_binary: args.corral.clone(),
        // Short enough that some operations outlive a failover and come
        // back Unknown (then retried with the same request id).
        client_leader_wait_ms: CLIENT_LEADER_WAIT_MS,
        ..ClusterOptions::default()
    };
    let cluster = Cluster::create(
        &out.join("cluster"),
        network,
        args.controllers as usize,
        args.agents,
        options,
    )
    .context("starting the cluster")?;
    println!(
        "cluster up: {} controllers, {} agents{}",
        args.controllers,
        args.agents,
        if cluster.network().partitions_available() {
            ", each in its own network namespace"
        } else {
            ", on loopback"
        }
    );
    Ok(cluster)
}

/// The cluster as the nemesis sees it.
struct ClusterHosts<'a>(&'a Cluster);

impl Hosts for ClusterHosts<'_> {
    fn controllers(&self) -> Vec<String> {
        self.0.controller_names()
    }
    fn agents(&self) -> Vec<String> {
        self.0.agent_names()
    }
    fn leader(&self) -> Option<String> {
        self.0.leader_name()
    }
    fn kill(&self, name: &str) -> Result<(), String> {
        self.0.kill(name).map_err(|e| e.to_string())
    }
    fn start(&self, name: &str) -> Result<(), String> {
        self.0.start(name).map_err(|e| e.to_string())
    }
    fn pause(&self, name: &str) -> Result<(), String> {
        self.0.pause(name).map_err(|e| e.to_string())
    }
    fn resume(&self, name: &str) -> Result<(), String> {
        self.0.resume(name).map_err(|e| e.to_string())
    }
    fn cut(&self, side: &[String], other: &[String]) -> Result<(), String> {
        self.0.cut(side, other).map_err(|e| e.to_string())
    }
    fn heal_network(&self) -> Result<(), String> {
        self.0.heal_network().map_err(|e| e.to_string())
    }
    fn partitions_available(&self) -> bool {
        self.0.network().partitions_available()
    }
}

/// The fault phase with the workload running, then healing.
fn exercise(
    args: &RunArgs,
    cluster: &Cluster,
    recorder: &Arc<Recorder>,
    seed: u64,
    kinds: &[FaultKind],
) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let stop = Arc::new(AtomicBool::new(false));
    let runs_file = cluster.dir().join("runs.log");
    let workload = Arc::new(Workload {
        client: Arc::new(cluster.client()),
        recorder: recorder.clone(),
        stop: stop.clone(),
        runs_file,
        acknowledged: Mutex::new(Vec::new()),
    });
    let mut tasks = Vec::new();
    for client in 0..args.clients {
        tasks.push(runtime.spawn(workload::submitter(workload.clone(), client, seed)));
    }
    tasks.push(runtime.spawn(workload::canceller(workload.clone(), args.clients, seed)));
    tasks.push(runtime.spawn(workload::reader(workload.clone(), args.clients + 1)));

    std::thread::scope(|scope| {
        let observer = scope.spawn(|| observe_leaders(cluster, recorder, &stop));
        let hosts = ClusterHosts(cluster);
        let mut rng = Rng::new(seed);
        nemesis::run(
            &hosts,
            kinds,
            &mut rng,
            recorder,
            Instant::now() + args.duration,
        );
        println!(
            "[{:>8.1}s] faults over; healing",
            recorder.now_ms() as f64 / 1000.0
        );
        let healed = heal(cluster);
        stop.store(true, Ordering::Relaxed);
        let _ = observer.join();
        healed
    })?;
    for task in tasks {
        let _ = runtime.block_on(task);
    }
    Ok(())
}

/// Records who leads whenever it changes.
fn observe_leaders(cluster: &Cluster, recorder: &Recorder, stop: &AtomicBool) {
    let mut last: Option<(Option<u64>, u64)> = None;
    while !stop.load(Ordering::Relaxed) {
        let observed = cluster.leader();
        let seen = (
            observed.map(|(id, _)| id),
            observed.map_or(0, |(_, term)| term),
        );
        if last != Some(seen) {
            recorder.record(&Entry::Leader(LeaderObservation {
                at_ms: recorder.now_ms(),
                leader: seen.0,
                term: seen.1,
            }));
            last = Some(seen);
        }
        std::thread::sleep(Duration::from_millis(LEADER_POLL_MS));
    }
}

/// Heals everything and waits until every controller agrees and every node is up.
fn heal(cluster: &Cluster) -> anyhow::Result<()> {
    cluster.heal_network()?;
    for name in cluster
        .controller_names()
        .into_iter()
        .chain(cluster.agent_names())
    {
        let _ = cluster.resume(&name);
        if !cluster.is_running(&name) {
            cluster
                .start(&name)
                .with_context(|| format!("restarting {name}"))?;
        }
    }
    let deadline = Instant::now() + Duration::from_millis(HEAL_WAIT_MS);
    loop {
        let statuses = cluster.controller_statuses();
        let applied: Vec<Option<u64>> = statuses
            .iter()
            .map(|(_, s)| s.as_ref().and_then(|s| s.applied_index))
            .collect();
        let all_answer = statuses.iter().all(|(_, s)| s.is_some());
        let agree = applied.windows(2).all(|w| w[0] == w[1]);
        if all_answer && agree && cluster.leader().is_some() {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("the cluster did not converge within {HEAL_WAIT_MS} ms of healing: {applied:?}");
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The state after healing: every job (after letting the workload's jobs
/// finish), each controller's alarms, every recorded run, and a probe job.
fn final_state(cluster: &Cluster, recorder: &Recorder) -> anyhow::Result<FinalState> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let client = cluster.client();
    let deadline = Instant::now() + Duration::from_millis(SETTLE_WAIT_MS);
    let jobs = loop {
        let reply = runtime.block_on(
            client.call(wire::GetJobsRequest::default(), |mut c, r| async move {
                c.get_jobs(r).await
            }),
        );
        if let Ok(reply) = reply {
            let settled = reply.jobs.iter().all(|job| {
                corral_proto::job_state_from_wire(job.state).is_ok_and(|s| s.is_terminal())
            });
            if settled || Instant::now() > deadline {
                break reply.jobs;
            }
        } else if Instant::now() > deadline {
            bail!("no leader answered after healing");
        }
        std::thread::sleep(Duration::from_millis(500));
    };
    let serves_after_healing = Some(probe(&runtime, &client));
    let started_unix_ms = recorder.started_unix_ms();
    let ended = script_ends(cluster);
    let final_jobs = jobs
        .iter()
        .filter_map(|job| {
            let state = corral_proto::job_state_from_wire(job.state).ok()?;
            Some(FinalJob {
                job_id: job.id,
                request_id: job.request_id.clone(),
                state: state.slurm_name().to_string(),
                requeue_count: job.requeue_count,
                end_committed_ms: job
                    .end_time_ms
                    .map(|end| end.saturating_sub(started_unix_ms)),
                script_ended_ms: ended
                    .iter()
                    .find(|(id, _)| *id == job.id)
                    .map(|(_, at)| at.saturating_sub(started_unix_ms)),
            })
        })
        .collect();
    let controllers = cluster
        .controller_statuses()
        .into_iter()
        .map(|(id, status)| ControllerReport {
            id,
            applied_index: status.and_then(|s| s.applied_index),
            alarms: cluster.alarms(&format!("controller-{id}")),
        })
        .collect();
    let accounting = Some(accounted_jobs(cluster, &runtime));
    Ok(FinalState {
        jobs: final_jobs,
        controllers,
        runs: read_runs(&cluster.dir().join("runs.log")),
        serves_after_healing,
        accounting,
    })
}

/// The accounting database's job rows, once the leader says its outbox
/// is drained (bounded by [`SETTLE_WAIT_MS`]).
fn accounted_jobs(
    cluster: &Cluster,
    runtime: &tokio::runtime::Runtime,
) -> Result<Vec<AccountedJob>, String> {
    let deadline = Instant::now() + Duration::from_millis(SETTLE_WAIT_MS);
    loop {
        let drained = cluster
            .controller_statuses()
            .into_iter()
            .filter_map(|(_, status)| status)
            .find(|status| status.role == "leader")
            .is_some_and(|status| status.accounting_waiting == 0);
        if drained {
            break;
        }
        if Instant::now() > deadline {
            return Err(format!(
                "the leader's accounting outbox was not drained within {SETTLE_WAIT_MS} ms of healing"
            ));
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let db = corral_accounting::AccountingDb::new(&cluster.config().accounting_urls())
        .map_err(|e| e.to_string())?;
    let cluster_name = cluster.config().file.cluster_name.clone();
    let rows = runtime
        .block_on(db.query(&cluster_name, &corral_accounting::JobFilter::default()))
        .map_err(|e| e.to_string())?;
    Ok(rows
        .into_iter()
        .map(|(job, _)| AccountedJob {
            job_id: job.job_id,
            state: job.state.slurm_name().to_string(),
        })
        .collect())
}

/// Submits one job after healing and waits for it to complete.
fn probe(runtime: &tokio::runtime::Runtime, client: &corral_client::Client) -> Result<u32, String> {
    let request = wire::SubmitJobRequest {
        request_id: "chaos-probe-after-healing".to_string(),
        spec: Some(wire::JobSpec {
            name: "probe".into(),
            nodes: 1,
            ntasks: 1,
            cpus_per_task: 1,
            work_dir: "/tmp".into(),
            script: "#!/bin/sh\ntrue\n".into(),
            ..Default::default()
        }),
    };
    let reply = runtime
        .block_on(client.call(request, |mut c, r| async move { c.submit_job(r).await }))
        .map_err(|e| format!("submitting: {e}"))?;
    let Some(wire::submit_job_reply::Result::JobId(job_id)) = reply.result else {
        return Err(format!("submission refused: {reply:?}"));
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        let query = wire::GetJobsRequest {
            job_ids: vec![job_id],
            ..Default::default()
        };
        if let Ok(reply) =
            runtime.block_on(client.call(query, |mut c, r| async move { c.get_jobs(r).await }))
        {
            if let Some(job) = reply.jobs.first() {
                match corral_proto::job_state_from_wire(job.state) {
                    Ok(corral_state::JobState::Completed) => return Ok(job_id),
                    Ok(state) if state.is_terminal() => {
                        return Err(format!("job {job_id} ended {}", state.slurm_name()))
                    }
                    _ => {}
                }
            }
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    Err(format!("job {job_id} did not complete within 60 s"))
}

/// When each job's script ended, from the agents' journals (`exit.json`).
fn script_ends(cluster: &Cluster) -> Vec<(u32, u64)> {
    let mut ends = Vec::new();
    for node in cluster.agent_names() {
        let name = node.trim_start_matches("agent-");
        let Ok(settings) = cluster.config().agent_settings(name) else {
            continue;
        };
        let Ok(entries) = std::fs::read_dir(settings.spool_dir.join("jobs")) else {
            continue;
        };
        for entry in entries.flatten() {
            let file_name = entry.file_name().to_string_lossy().into_owned();
            let Some(job_id) = file_name
                .split('.')
                .next()
                .and_then(|id| id.parse::<u32>().ok())
            else {
                continue;
            };
            let Ok(text) = std::fs::read_to_string(entry.path().join("exit.json")) else {
                continue;
            };
            let Ok(value) = serde_json::from_str::<serde_json::Value>(&text) else {
                continue;
            };
            if let Some(at) = value.get("ended_at_ms").and_then(|v| v.as_u64()) {
                ends.push((job_id, at));
            }
        }
    }
    ends
}

/// The runs jobs recorded: one line `JOBID NODE` each.
fn read_runs(path: &Path) -> Vec<JobRun> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|line| {
            let mut words = line.split_whitespace();
            let job_id = words.next()?.parse().ok()?;
            let node = words.next()?.to_string();
            Some(JobRun { job_id, node })
        })
        .collect()
}
