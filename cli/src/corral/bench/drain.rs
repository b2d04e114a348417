//! `corral bench drain`: how fast a queue of trivial jobs runs to the end.
//!
//! Each run submits `--jobs` jobs whose script is `true` (what `sbatch
//! --wrap true` submits, not held) through the client API, `--tasks` calls
//! in flight over a few connections, each with its own request id, and
//! measures from the first submission until the last of them is COMPLETED.
//! Everything a job goes through is in the figure: the submission's commit,
//! the scheduler's plan and its commit, the launch on an agent (journal,
//! supervisor, the script), the agent's report and the commit of
//! `JobFinished`, for many jobs at once.
//!
//! The end of the last job is its `end_time_ms` in the replicated state,
//! stamped by the leader when it proposed `JobFinished`, so the figure does
//! not depend on how often the benchmark looks. It looks with GetJobs, in
//! batches of ids, until every job has ended, within a bound that grows
//! with the number of jobs.
//!
//! Every job must end COMPLETED; any other end, a job that vanished, or
//! jobs still not ended when the bound runs out (the run then counts until
//! that moment and the next run follows) make the benchmark fail (exit 1)
//! after writing its report.
//!
//! With `--slurm-conf PATH` the same jobs (`sbatch --wrap true`, not held)
//! go to that Slurm the fastest way it offers for separate jobs: `--submitters`
//! sbatch processes at once (`--array` would be one job of many tasks, not
//! N jobs). Without accounting there is no `sacct`: the benchmark polls
//! `squeue` every 200 ms until none of the jobs is pending, running or
//! completing, so the figure is observed, late by at most one poll and one
//! `squeue`; the states come from the job completion log (`JobCompLoc`,
//! `jobcomp/filetxt`), whose end times are to the second.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context};
use corral_client::Client;
use corral_proto as wire;

use super::report::Json;
use super::slurm::Slurm;
use super::stats::{summary_json, Summary};
use super::submission::{cluster_client, held_job_spec, submit, RequestIds};
use super::{build_profile, milliseconds, Cluster, Options};

#[derive(clap::Args)]
#[command(mut_arg("repeat", |arg| arg.default_value("3")))]
pub struct Args {
    #[command(flatten)]
    pub options: Options,
    /// Jobs per run.
    #[arg(long, default_value_t = 1_000, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub jobs: u64,
    /// Compute nodes of a cluster the benchmark creates, each run by an agent on this machine.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=999))]
    pub agents: u32,
    /// CPUs each of those nodes claims; a job takes one.
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub agent_cpus: u32,
    /// Submissions in flight at once.
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u64).range(1..=100_000))]
    pub tasks: u64,
    /// Run the jobs on the Slurm of this slurm.conf instead.
    #[arg(long, value_name = "PATH")]
    pub slurm_conf: Option<PathBuf>,
    /// With --slurm-conf: sbatch processes submitting at once.
    #[arg(long, requires = "slurm_conf", default_value_t = 8, value_parser = clap::value_parser!(u64).range(1..=256))]
    pub submitters: u64,
}

/// Connections the submitting tasks share.
const SUBMIT_CLIENTS: usize = 4;
/// Job ids per GetJobs call while waiting for the ends.
pub(super) const GET_JOBS_IDS_MAX: usize = 1_000;
/// How often the benchmark looks for ended jobs.
const POLL_INTERVAL_MS: u64 = 200;
/// A run gives up when its jobs have not all ended within this much
/// plus [`DRAIN_WAIT_PER_JOB_MS`] per job (1,000 jobs: 160 s).
const DRAIN_WAIT_BASE_MS: u64 = 60_000;
const DRAIN_WAIT_PER_JOB_MS: u64 = 100;
/// The state every job should end in.
const COMPLETED: &str = "COMPLETED";
/// What a job the cluster no longer lists is counted as.
const VANISHED: &str = "VANISHED";
/// What a job still active when the wait ran out is counted as.
const NOT_ENDED: &str = "NOT_ENDED";

/// What one run measured.
struct Run {
    /// First submission to the last job's end (its `end_time_ms`), or to
    /// giving up when some had not ended.
    drain_ms: f64,
    /// First submission to the last acknowledgement.
    submitted_ms: f64,
    /// First submission until the benchmark saw the last job ended.
    observed_ms: f64,
    /// How many jobs ended in each state.
    ends: BTreeMap<String, usize>,
    jobs: usize,
    /// Per job, how long it held its CPU: from its `start_time_ms` to its
    /// `end_time_ms`, stamped by the leader on the plan that started it and
    /// on the `JobFinished` that ended it. The script takes a few
    /// milliseconds of that; the rest is launch and report. With every CPU
    /// busy, jobs per second is about CPUs divided by this.
    held_ms: Vec<f64>,
}

impl Run {
    /// Jobs that ended, per second until the last end (or giving up).
    fn jobs_per_second(&self) -> f64 {
        let ended = self.jobs - self.ends.get(NOT_ENDED).copied().unwrap_or(0);
        ended as f64 / (self.drain_ms / 1_000.0)
    }

    fn not_completed(&self) -> usize {
        self.ends
            .iter()
            .filter(|(state, _)| *state != COMPLETED)
            .map(|(_, count)| count)
            .sum()
    }
}

pub fn run(cluster: &Cluster, args: &Args) -> anyhow::Result<u8> {
    let (nodes, cpus) = node_capacity(cluster);
    println!(
        "drain: {} jobs running `true` per run ({} submissions in flight), {} runs, {} controllers, {nodes} nodes with {cpus} CPUs in all, {} build",
        args.jobs,
        args.tasks,
        cluster.repeat,
        cluster.controller_count(),
        build_profile()
    );
    let runtime = super::runtime()?;
    let clients = (0..SUBMIT_CLIENTS)
        .map(|_| cluster_client(&cluster.config))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let spec = Arc::new(running_job_spec(cluster)?);
    let ids = Arc::new(RequestIds::new());
    // Connections and TLS handshakes are not measured: one read per client first.
    runtime.block_on(async {
        for client in &clients {
            client
                .call(wire::WhoAmIRequest {}, |mut c, r| async move {
                    c.who_am_i(r).await
                })
                .await?;
        }
        anyhow::Ok(())
    })?;
    let mut runs = Vec::new();
    for run in 1..=cluster.repeat {
        let measured = runtime.block_on(drain_run(&clients, &spec, &ids, args))?;
        println!(
            "run {run}/{}: {} jobs in {:.1} s: {:.1} jobs/s (all submitted after {:.1} s, last end seen after {:.1} s); a job held its CPU {}; ends: {}",
            cluster.repeat,
            measured.jobs,
            measured.drain_ms / 1_000.0,
            measured.jobs_per_second(),
            measured.submitted_ms / 1_000.0,
            measured.observed_ms / 1_000.0,
            describe_held(&measured.held_ms),
            describe_ends(&measured.ends)
        );
        runs.push(measured);
    }
    let not_completed: usize = runs.iter().map(Run::not_completed).sum();
    print_summary(&runs, not_completed);
    cluster.write_report("drain", "", report_body(args, &runs, nodes, cpus))?;
    if not_completed > 0 {
        bail!("{not_completed} jobs ended in a state other than {COMPLETED}");
    }
    Ok(0)
}

/// Slurm's states of jobs that have not ended, for `squeue -t`.
const SLURM_ACTIVE_STATES: &str =
    "PENDING,RUNNING,COMPLETING,CONFIGURING,SUSPENDED,REQUEUED,RESIZING,SIGNALING,STAGE_OUT";

/// The same workload on Slurm.
pub fn run_slurm(slurm: &Slurm, args: &Args) -> anyhow::Result<u8> {
    let cpus = slurm_cpus(slurm);
    println!(
        "drain (Slurm {}): {} jobs running `true` per run ({} sbatch processes at once), {} runs, {cpus} CPUs",
        slurm.version(),
        args.jobs,
        args.submitters,
        slurm.repeat,
    );
    let completion_log = slurm.conf_value("JobCompLoc")?.map(PathBuf::from);
    let mut runs = Vec::new();
    for run in 1..=slurm.repeat {
        let started = Instant::now();
        let job_ids = slurm.parallel_sbatch(&["--wrap", "true"], args.jobs, args.submitters)?;
        let submitted_ms = milliseconds(started.elapsed());
        let ours: BTreeSet<u32> = job_ids.iter().copied().collect();
        let deadline =
            started + Duration::from_millis(DRAIN_WAIT_BASE_MS + DRAIN_WAIT_PER_JOB_MS * args.jobs);
        let active = loop {
            let active = slurm
                .job_ids(SLURM_ACTIVE_STATES)?
                .intersection(&ours)
                .count();
            if active == 0 || Instant::now() > deadline {
                break active;
            }
            std::thread::sleep(Duration::from_millis(POLL_INTERVAL_MS));
        };
        let observed_ms = milliseconds(started.elapsed());
        let mut ends = match &completion_log {
            Some(path) => completion_states(path, &ours)?,
            None => BTreeMap::new(),
        };
        let recorded: usize = ends.values().sum();
        let unrecorded = (ours.len() - active).saturating_sub(recorded);
        if unrecorded > 0 {
            ends.insert("NOT_IN_COMPLETION_LOG".to_string(), unrecorded);
        }
        if active > 0 {
            ends.insert(NOT_ENDED.to_string(), active);
        }
        let measured = Run {
            drain_ms: observed_ms,
            submitted_ms,
            observed_ms,
            ends,
            jobs: args.jobs as usize,
            held_ms: Vec::new(),
        };
        println!(
            "run {run}/{}: {} jobs in {:.1} s: {:.1} jobs/s (all submitted after {:.1} s); ends: {}",
            slurm.repeat,
            measured.jobs,
            measured.drain_ms / 1_000.0,
            measured.jobs_per_second(),
            measured.submitted_ms / 1_000.0,
            describe_ends(&measured.ends)
        );
        runs.push(measured);
    }
    let not_completed: usize = runs.iter().map(Run::not_completed).sum();
    print_summary(&runs, not_completed);
    let mut body = report_body(args, &runs, 1, cpus);
    if let Some((_, Json::Object(fields))) = body.first_mut() {
        for (name, value) in fields.iter_mut() {
            match name.as_str() {
                "tasks" => *value = Json::count(args.submitters),
                "clients" => *value = Json::text("sbatch processes"),
                _ => {}
            }
        }
        fields.push((
            "end_detection".to_string(),
            Json::text("squeue polled every 200 ms until no job is active"),
        ));
    }
    slurm.write_report("drain", "", body)?;
    if not_completed > 0 {
        bail!("{not_completed} jobs ended in a state other than {COMPLETED}");
    }
    Ok(0)
}

/// CPUs of Slurm's nodes (`sinfo -h -o %C`: allocated/idle/other/total).
fn slurm_cpus(slurm: &Slurm) -> u64 {
    slurm
        .command("sinfo")
        .args(["-h", "-o", "%C"])
        .stdout(std::process::Stdio::piped())
        .output()
        .ok()
        .and_then(|output| {
            let text = String::from_utf8_lossy(&output.stdout).to_string();
            text.trim().rsplit('/').next()?.parse().ok()
        })
        .unwrap_or(0)
}

/// The final state of each of `jobs` in a `jobcomp/filetxt` log, counted.
fn completion_states(
    path: &std::path::Path,
    jobs: &BTreeSet<u32>,
) -> anyhow::Result<BTreeMap<String, usize>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading the job completion log {}", path.display()))?;
    let mut states: BTreeMap<u32, String> = BTreeMap::new();
    for line in text.lines() {
        let field = |name: &str| {
            line.split_whitespace()
                .find_map(|word| word.strip_prefix(name)?.strip_prefix('='))
        };
        if let (Some(id), Some(state)) = (field("JobId"), field("JobState")) {
            if let Ok(id) = id.parse::<u32>() {
                if jobs.contains(&id) {
                    states.insert(id, state.to_string());
                }
            }
        }
    }
    let mut counts = BTreeMap::new();
    for state in states.into_values() {
        *counts.entry(state).or_default() += 1;
    }
    Ok(counts)
}

/// The nodes the cluster's file declares, and their CPUs in all.
fn node_capacity(cluster: &Cluster) -> (usize, u64) {
    let nodes = cluster.config.node_definitions();
    let cpus = nodes.iter().map(|n| u64::from(n.resources.cpus)).sum();
    (nodes.len(), cpus)
}

/// What `sbatch --wrap true` submits from the cluster's `drain/` directory
/// (where the jobs' `slurm-<id>.out` files go): the benchmarks' job, not held.
fn running_job_spec(cluster: &Cluster) -> anyhow::Result<wire::JobSpec> {
    let work_dir = cluster.dir.join("drain");
    std::fs::create_dir_all(&work_dir)
        .with_context(|| format!("creating {}", work_dir.display()))?;
    let mut spec = held_job_spec(cluster.config_path(), &work_dir)?;
    spec.hold = false;
    Ok(spec)
}

/// Submits every job, then waits until all have ended.
async fn drain_run(
    clients: &[Arc<Client>],
    spec: &Arc<wire::JobSpec>,
    ids: &Arc<RequestIds>,
    args: &Args,
) -> anyhow::Result<Run> {
    let started_wall_ms = wall_clock_ms();
    let started = Instant::now();
    let job_ids = submit_all(clients, spec, ids, args.tasks, args.jobs).await?;
    let submitted_ms = milliseconds(started.elapsed());
    let bound = Duration::from_millis(DRAIN_WAIT_BASE_MS + DRAIN_WAIT_PER_JOB_MS * args.jobs);
    let waited = wait_ended(&clients[0], job_ids, started + bound).await?;
    let observed_ms = milliseconds(started.elapsed());
    let mut ends: BTreeMap<String, usize> = BTreeMap::new();
    for job in &waited.ended {
        *ends
            .entry(job.state().as_str_name().to_string())
            .or_default() += 1;
    }
    let vanished = args.jobs as usize - waited.ended.len() - waited.active;
    for (what, count) in [(VANISHED, vanished), (NOT_ENDED, waited.active)] {
        if count > 0 {
            ends.insert(what.to_string(), count);
        }
    }
    let last_end_ms = waited.ended.iter().filter_map(|job| job.end_time_ms).max();
    let drain_ms = match last_end_ms {
        Some(end_ms) if waited.active == 0 => end_ms.saturating_sub(started_wall_ms) as f64,
        _ => observed_ms,
    };
    let held_ms = waited
        .ended
        .iter()
        .filter_map(|job| Some(job.end_time_ms?.saturating_sub(job.start_time_ms?) as f64))
        .collect();
    Ok(Run {
        drain_ms,
        submitted_ms,
        observed_ms,
        ends,
        jobs: args.jobs as usize,
        held_ms,
    })
}

/// `tasks` tasks take submissions from a shared counter until `jobs` are
/// acknowledged; returns the job ids. A failed call ends the run: the
/// client already retried it for `client.leader_wait_ms`.
pub(super) async fn submit_all(
    clients: &[Arc<Client>],
    spec: &Arc<wire::JobSpec>,
    ids: &Arc<RequestIds>,
    tasks: u64,
    jobs: u64,
) -> anyhow::Result<Vec<u32>> {
    let taken = Arc::new(AtomicU64::new(0));
    let mut running = tokio::task::JoinSet::new();
    for task in 0..tasks.min(jobs) {
        let client = clients[task as usize % clients.len()].clone();
        let (spec, ids, taken) = (spec.clone(), ids.clone(), taken.clone());
        running.spawn(async move {
            let mut job_ids = Vec::new();
            while taken.fetch_add(1, Ordering::Relaxed) < jobs {
                job_ids.push(submit(&client, &spec, ids.next()).await?);
            }
            anyhow::Ok(job_ids)
        });
    }
    let mut job_ids = Vec::with_capacity(jobs as usize);
    while let Some(finished) = running.join_next().await {
        job_ids.extend(finished.context("submitting task panicked")??);
    }
    Ok(job_ids)
}

/// What the wait for the ends found.
struct Waited {
    /// Every job seen ended, as last seen.
    ended: Vec<wire::Job>,
    /// Jobs still active at the deadline.
    active: usize,
}

/// Polls the jobs still active, in batches, until none is or `deadline`
/// passes. A job the cluster stopped listing is left out.
async fn wait_ended(
    client: &Client,
    job_ids: Vec<u32>,
    deadline: Instant,
) -> anyhow::Result<Waited> {
    let mut active = job_ids;
    let mut ended = Vec::with_capacity(active.len());
    loop {
        let mut still_active = Vec::new();
        for job in get_jobs(client, &active).await? {
            if is_terminal(job.state()) {
                ended.push(job);
            } else {
                still_active.push(job.id);
            }
        }
        active = still_active;
        if active.is_empty() || Instant::now() > deadline {
            return Ok(Waited {
                ended,
                active: active.len(),
            });
        }
        tokio::time::sleep(Duration::from_millis(POLL_INTERVAL_MS)).await;
    }
}

/// The jobs with these ids that the cluster lists, [`GET_JOBS_IDS_MAX`] ids
/// per call (scripts and environments left out).
pub(super) async fn get_jobs(client: &Client, job_ids: &[u32]) -> anyhow::Result<Vec<wire::Job>> {
    let mut jobs = Vec::with_capacity(job_ids.len());
    for chunk in job_ids.chunks(GET_JOBS_IDS_MAX) {
        let request = wire::GetJobsRequest {
            job_ids: chunk.to_vec(),
            ..Default::default()
        };
        let reply = client
            .call(request, |mut c, r| async move { c.get_jobs(r).await })
            .await?;
        jobs.extend(reply.jobs);
    }
    Ok(jobs)
}

pub(super) fn is_terminal(state: wire::JobState) -> bool {
    !matches!(
        state,
        wire::JobState::Unspecified
            | wire::JobState::Pending
            | wire::JobState::Running
            | wire::JobState::Completing
    )
}

/// Milliseconds since the Unix epoch, as the leader stamps commands.
pub(super) fn wall_clock_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// `median M ms, p99 P ms`.
fn describe_held(held_ms: &[f64]) -> String {
    Summary::of(held_ms).map_or("(no job ended)".to_string(), |s| {
        format!("median {:.0} ms, p99 {:.0} ms", s.median, s.p99)
    })
}

fn describe_ends(ends: &BTreeMap<String, usize>) -> String {
    let parts: Vec<String> = ends
        .iter()
        .map(|(state, count)| format!("{count} {state}"))
        .collect();
    parts.join(", ")
}

fn print_summary(runs: &[Run], not_completed: usize) {
    let rates: Vec<f64> = runs.iter().map(Run::jobs_per_second).collect();
    let seconds: Vec<f64> = runs.iter().map(|r| r.drain_ms / 1_000.0).collect();
    let rate = Summary::of(&rates).expect("at least one run");
    let time = Summary::of(&seconds).expect("at least one run");
    println!(
        "summary: median {:.1} jobs/s (min {:.1}, max {:.1}); time to drain median {:.1} s (min {:.1}, max {:.1})",
        rate.median, rate.min, rate.max, time.median, time.min, time.max
    );
    let held: Vec<f64> = runs
        .iter()
        .flat_map(|r| r.held_ms.iter().copied())
        .collect();
    println!(
        "a job held its CPU (start to end time), all runs: {}",
        describe_held(&held)
    );
    println!("jobs that ended other than {COMPLETED}: {not_completed}");
}

fn report_body(args: &Args, runs: &[Run], nodes: usize, cpus: u64) -> Vec<(&'static str, Json)> {
    let samples = |measure: fn(&Run) -> f64| -> Vec<f64> { runs.iter().map(measure).collect() };
    vec![
        (
            "parameters",
            Json::object([
                ("jobs", Json::count(args.jobs)),
                ("repeat", Json::count(runs.len())),
                ("tasks", Json::count(args.tasks)),
                ("clients", Json::count(SUBMIT_CLIENTS)),
                ("nodes", Json::count(nodes)),
                ("cpus", Json::count(cpus)),
                ("command", Json::text("sbatch --wrap true")),
                ("poll_interval_ms", Json::count(POLL_INTERVAL_MS)),
                ("get_jobs_ids_max", Json::count(GET_JOBS_IDS_MAX)),
            ]),
        ),
        (
            "runs",
            Json::Array(
                runs.iter()
                    .map(|run| {
                        Json::object([
                            ("jobs_per_second", Json::Number(run.jobs_per_second())),
                            ("drain_ms", Json::Number(run.drain_ms)),
                            ("submitted_ms", Json::Number(run.submitted_ms)),
                            ("observed_ms", Json::Number(run.observed_ms)),
                            ("held_ms", summary_json(&run.held_ms)),
                            (
                                "ends",
                                Json::Object(
                                    run.ends
                                        .iter()
                                        .map(|(state, count)| (state.clone(), Json::count(*count)))
                                        .collect(),
                                ),
                            ),
                        ])
                    })
                    .collect(),
            ),
        ),
        (
            "summary",
            Json::object([
                (
                    "jobs_per_second",
                    summary_json(&samples(Run::jobs_per_second)),
                ),
                ("drain_ms", summary_json(&samples(|r| r.drain_ms))),
                ("submitted_ms", summary_json(&samples(|r| r.submitted_ms))),
                (
                    "held_ms",
                    summary_json(
                        &runs
                            .iter()
                            .flat_map(|r| r.held_ms.iter().copied())
                            .collect::<Vec<f64>>(),
                    ),
                ),
                (
                    "not_completed",
                    Json::count(runs.iter().map(Run::not_completed).sum::<usize>()),
                ),
            ]),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::completion_states;

    #[test]
    fn counts_the_final_states_of_our_jobs_in_a_completion_log() {
        let dir = std::env::temp_dir().join(format!("hb-jobcomp-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let log = dir.join("jobcomp.log");
        // Lines as Slurm 22.05's jobcomp/filetxt writes them (shortened).
        std::fs::write(
            &log,
            "JobId=1 UserId=root(0) GroupId=root(0) Name=wrap JobState=CANCELLED Partition=bench\n\
             JobId=2 UserId=root(0) GroupId=root(0) Name=wrap JobState=COMPLETED Partition=bench\n\
             JobId=3 UserId=root(0) GroupId=root(0) Name=wrap JobState=FAILED Partition=bench\n\
             JobId=4 UserId=root(0) GroupId=root(0) Name=wrap JobState=COMPLETED Partition=bench\n",
        )
        .unwrap();
        let ours: BTreeSet<u32> = [2, 3, 4, 9].into_iter().collect();
        let states = completion_states(&log, &ours).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        let counted: Vec<(&str, usize)> = states.iter().map(|(s, n)| (s.as_str(), *n)).collect();
        assert_eq!(counted, [("COMPLETED", 2), ("FAILED", 1)]);
    }
}
