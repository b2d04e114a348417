//! `corral bench unreported`: how long running jobs go unreported when the
//! leader dies.
//!
//! Each round starts `--jobs` jobs that sleep for spread-out times (n jobs
//! sleep 1 + 5·k/(n−1) s for k = 0..n, shuffled so that every node gets
//! short and long ones), waits until all run, and SIGKILLs the leader
//! `--kill-after-start-ms` after the last of them started, so that some end
//! before the kill and the others while the cluster is without a leader or
//! just has a new one. The killed controller is started again once another
//! controller leads, and the round waits until every job has ended.
//!
//! For every job it compares when its script really ended (`ended_at_ms` in
//! the agent's `exit.json`) with the job's `end_time_ms` in the replicated
//! state, stamped by the leader when it proposed `JobFinished` (the commit
//! follows within milliseconds). The difference is how long the cluster did
//! not know the job had ended: `squeue` showed it RUNNING and its CPUs stayed
//! allocated.
//!
//! The jobs fall in three groups, per node, with R the moment the first job
//! end from that node was committed after the kill (the node reporting to
//! the new leader):
//! - *before the kill*: committed before the kill;
//! - *around the kill*: committed after the kill, ended before R;
//! - *after recovery*: ended after R.
//!
//! "Around the kill" is the figure this benchmark is for; the other two are
//! the steady-state reporting delay, with a leader in place.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use corral_agent::journal::{Spool, JOBS_DIR};
use corral_client::Client;
use corral_proto as wire;
use corral_state::AllocationId;
use tokio::runtime::Runtime;

use super::drain::{get_jobs, is_terminal, wall_clock_ms};
use super::report::Json;
use super::stats::{summary_json, Summary};
use super::submission::{cluster_client, held_job_spec, submit, RequestIds};
use super::{build_profile, dev, Cluster, Options};
use crate::corral::status;

#[derive(clap::Args)]
#[command(mut_arg("repeat", |arg| arg.default_value("3")))]
pub struct Args {
    #[command(flatten)]
    pub options: Options,
    /// Jobs started before each kill, sleeping from 1 to 6 s, spread evenly.
    #[arg(long, default_value_t = 40, value_parser = clap::value_parser!(u64).range(2..=10_000))]
    pub jobs: u64,
    /// Leader kills per run.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..=1_000))]
    pub kills: u64,
    /// When the leader is killed, counted from the start of the round's last job.
    #[arg(long, default_value_t = 3_500, value_parser = clap::value_parser!(u64).range(0..=60_000))]
    pub kill_after_start_ms: u64,
    /// Compute nodes of a cluster the benchmark creates, each run by an agent on this machine.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=999))]
    pub agents: u32,
    /// CPUs each of those nodes claims; a job takes one, and all of a round's jobs run at once.
    #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub agent_cpus: u32,
}

/// The shortest and the longest sleep of a round's jobs.
const SLEEP_MIN_MS: u64 = 1_000;
const SLEEP_MAX_MS: u64 = 6_000;
/// How often the waits look again.
const POLL_INTERVAL_MS: u64 = 10;
/// A round's jobs must all be running within this.
const START_WAIT_MAX_MS: u64 = 30_000;
/// A kill with no new leader after this fails the benchmark.
const LEADER_WAIT_MAX_MS: u64 = 60_000;
/// A round's jobs must all have ended within this after the kill.
const END_WAIT_MAX_MS: u64 = 120_000;
/// Every controller must be at the same applied index within this.
const CONVERGE_WAIT_MAX_MS: u64 = 120_000;

/// Where a job's end fell relative to the kill of its round.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Group {
    BeforeKill,
    AroundKill,
    AfterRecovery,
}

impl Group {
    fn name(self) -> &'static str {
        match self {
            Group::BeforeKill => "before_kill",
            Group::AroundKill => "around_kill",
            Group::AfterRecovery => "after_recovery",
        }
    }
}

/// One job's end: when its script ended and when the end was recorded.
#[derive(Clone, Debug)]
struct JobEnd {
    job_id: u32,
    node: String,
    sleep_ms: u64,
    /// `ended_at_ms` from the agent's `exit.json`.
    ended_at_ms: u64,
    /// `end_time_ms` in the replicated state.
    recorded_at_ms: u64,
    group: Group,
}

impl JobEnd {
    fn delay_ms(&self) -> f64 {
        self.recorded_at_ms as f64 - self.ended_at_ms as f64
    }
}

/// What one kill measured.
struct Round {
    controller_id: u64,
    term: u64,
    /// From the start of the round's last job to the kill.
    killed_after_start_ms: u64,
    /// Kill to the first `status` showing another controller as leader.
    leader_elected_ms: f64,
    /// Per node: kill to the first job end from it committed after the kill.
    reports_resumed_ms: BTreeMap<String, f64>,
    ends: Vec<JobEnd>,
    /// Jobs that did not end COMPLETED, with their state.
    not_completed: Vec<(u32, String)>,
}

impl Round {
    fn delays(&self, groups: &[Group]) -> Vec<f64> {
        self.ends
            .iter()
            .filter(|end| groups.contains(&end.group))
            .map(JobEnd::delay_ms)
            .collect()
    }
}

const AROUND: &[Group] = &[Group::AroundKill];
const IN_PLACE: &[Group] = &[Group::BeforeKill, Group::AfterRecovery];

/// What every round needs.
struct Bench<'a> {
    cluster: &'a Cluster,
    args: &'a Args,
    runtime: Runtime,
    client: Arc<Client>,
    spec: wire::JobSpec,
    ids: RequestIds,
}

pub fn run(cluster: &Cluster, args: &Args) -> anyhow::Result<u8> {
    cluster.require_three_controllers("unreported", "")?;
    let cpus: u64 = cluster
        .config
        .node_definitions()
        .iter()
        .map(|n| u64::from(n.resources.cpus))
        .sum();
    if cpus < args.jobs {
        bail!(
            "{} jobs must run at once but the nodes of the cluster in {} have {cpus} CPUs in all",
            args.jobs,
            cluster.dir.display()
        );
    }
    println!(
        "unreported: {} kills per run, each {} ms after {} jobs sleeping {}-{} s started, {} runs, {} controllers, {} build",
        args.kills,
        args.kill_after_start_ms,
        args.jobs,
        SLEEP_MIN_MS / 1_000,
        SLEEP_MAX_MS / 1_000,
        cluster.repeat,
        cluster.controller_count(),
        build_profile()
    );
    let work_dir = cluster.dir.join("unreported");
    std::fs::create_dir_all(&work_dir)
        .with_context(|| format!("creating {}", work_dir.display()))?;
    let mut spec = held_job_spec(cluster.config_path(), &work_dir)?;
    spec.hold = false;
    spec.name = "sleep".to_string();
    let bench = Bench {
        cluster,
        args,
        runtime: super::runtime()?,
        client: cluster_client(&cluster.config)?,
        spec,
        ids: RequestIds::new(),
    };
    let mut runs: Vec<Vec<Round>> = Vec::new();
    for run in 1..=cluster.repeat {
        let mut rounds = Vec::new();
        for kill in 1..=args.kills {
            let round = bench.round()?;
            print_round(kill, args.kills, &round);
            rounds.push(round);
        }
        let around = all_delays(&rounds, AROUND);
        let in_place = all_delays(&rounds, IN_PLACE);
        println!(
            "run {run}/{}: around the kill {}; with a leader in place {}",
            cluster.repeat,
            describe(&around),
            describe(&in_place)
        );
        runs.push(rounds);
    }
    wait_converged(&bench.runtime, &bench.client, cluster.controller_count())?;
    print_summary(&runs);
    cluster.write_report("unreported", "", report_body(args, &runs))?;
    let not_completed: Vec<String> = runs
        .iter()
        .flatten()
        .flat_map(|round| &round.not_completed)
        .map(|(job_id, state)| format!("{job_id} {state}"))
        .collect();
    if !not_completed.is_empty() {
        bail!(
            "{} jobs did not end COMPLETED: {}",
            not_completed.len(),
            not_completed.join(", ")
        );
    }
    Ok(0)
}

impl Bench<'_> {
    /// Start the jobs, kill the leader while they run, restart it once
    /// another leads, wait for every end, and compare.
    fn round(&self) -> anyhow::Result<Round> {
        let controllers = self.cluster.controller_count();
        wait_converged(&self.runtime, &self.client, controllers)?;
        let jobs = self.runtime.block_on(self.submit_jobs())?;
        let job_ids: Vec<u32> = jobs.keys().copied().collect();
        let last_start_ms = self
            .runtime
            .block_on(wait_started(&self.client, &job_ids))?;
        let kill_at_ms = last_start_ms + self.args.kill_after_start_ms;
        let now_ms = wall_clock_ms();
        std::thread::sleep(Duration::from_millis(kill_at_ms.saturating_sub(now_ms)));
        let leader = current_leader(&self.runtime, &self.client)?;
        let target = format!("controller-{}", leader.id);
        dev::kill_target(&self.cluster.dir, &target)?;
        let killed_at_ms = wall_clock_ms();
        let killed_at = Instant::now();
        let elected = wait_new_leader(&self.runtime, &self.client, leader.id, killed_at);
        dev::start_target(&self.cluster.dir, &target)?;
        let leader_elected_ms = elected?;
        let listed = self.runtime.block_on(wait_ended(&self.client, &job_ids))?;
        let mut ends = Vec::new();
        let mut not_completed = Vec::new();
        for job in &listed {
            if job.state() != wire::JobState::Completed {
                not_completed.push((job.id, job.state().as_str_name().to_string()));
            }
            match self.job_end(job, jobs[&job.id])? {
                Some(end) => ends.push(end),
                None => eprintln!("job {} has no recorded end on its node; left out", job.id),
            }
        }
        let reports_resumed_ms = classify(&mut ends, killed_at_ms)
            .into_iter()
            .map(|(node, at_ms)| (node, at_ms as f64 - killed_at_ms as f64))
            .collect();
        Ok(Round {
            controller_id: leader.id,
            term: leader.term,
            killed_after_start_ms: killed_at_ms.saturating_sub(last_start_ms),
            leader_elected_ms,
            reports_resumed_ms,
            ends,
            not_completed,
        })
    }

    /// Submits the round's jobs one after another, in the order of
    /// [`sleeps_ms`]; returns each job's sleep by job id.
    async fn submit_jobs(&self) -> anyhow::Result<BTreeMap<u32, u64>> {
        let mut jobs = BTreeMap::new();
        for sleep_ms in sleeps_ms(self.args.jobs) {
            let mut spec = self.spec.clone();
            spec.script = format!(
                "#!/bin/sh\nsleep {}.{:03}\n",
                sleep_ms / 1_000,
                sleep_ms % 1_000
            );
            let job_id = submit(&self.client, &spec, self.ids.next()).await?;
            jobs.insert(job_id, sleep_ms);
        }
        Ok(jobs)
    }

    /// The job's end as its node's journal has it, with the recorded end.
    fn job_end(&self, job: &wire::Job, sleep_ms: u64) -> anyhow::Result<Option<JobEnd>> {
        let (Some(allocation), Some(recorded_at_ms)) = (&job.allocation, job.end_time_ms) else {
            return Ok(None);
        };
        let Some(node) = allocation.shares.first().map(|share| share.node.clone()) else {
            return Ok(None);
        };
        let spool_dir: PathBuf = self.cluster.config.agent_settings(&node)?.spool_dir;
        let spool = Spool::new(
            &spool_dir.join(JOBS_DIR),
            job.id,
            AllocationId(allocation.id),
        );
        let Some(end) = spool.end()? else {
            return Ok(None);
        };
        Ok(Some(JobEnd {
            job_id: job.id,
            node,
            sleep_ms,
            ended_at_ms: end.ended_at_ms,
            recorded_at_ms,
            group: Group::BeforeKill,
        }))
    }
}

/// `count` sleeps spread evenly from [`SLEEP_MIN_MS`] to [`SLEEP_MAX_MS`],
/// in an order where any run of consecutive ones covers the range (the
/// golden-ratio sequence): the scheduler fills nodes with consecutive job
/// ids, and every node should see short and long jobs alike.
fn sleeps_ms(count: u64) -> Vec<u64> {
    const GOLDEN_RATIO_CONJUGATE: f64 = 0.618_033_988_749_895;
    let mut order: Vec<u64> = (0..count).collect();
    order.sort_by(|a, b| {
        let spread = |i: &u64| (*i as f64 * GOLDEN_RATIO_CONJUGATE).fract();
        spread(a).total_cmp(&spread(b))
    });
    let mut rank_of = vec![0; count as usize];
    for (rank, index) in order.into_iter().enumerate() {
        rank_of[index as usize] = rank as u64;
    }
    rank_of
        .into_iter()
        .map(|rank| SLEEP_MIN_MS + (SLEEP_MAX_MS - SLEEP_MIN_MS) * rank / (count - 1))
        .collect()
}

/// Sorts each end into its group and returns, per node, when the first end
/// from it was committed after the kill (none: the node's ends all were
/// committed before).
fn classify(ends: &mut [JobEnd], killed_at_ms: u64) -> BTreeMap<String, u64> {
    let mut resumed: BTreeMap<String, u64> = BTreeMap::new();
    for end in ends.iter().filter(|end| end.recorded_at_ms >= killed_at_ms) {
        let first = resumed
            .entry(end.node.clone())
            .or_insert(end.recorded_at_ms);
        *first = (*first).min(end.recorded_at_ms);
    }
    for end in ends.iter_mut() {
        end.group = if end.recorded_at_ms < killed_at_ms {
            Group::BeforeKill
        } else if end.ended_at_ms >= resumed[&end.node] {
            Group::AfterRecovery
        } else {
            Group::AroundKill
        };
    }
    resumed
}

/// Waits until every job has started; returns the latest start time.
async fn wait_started(client: &Client, job_ids: &[u32]) -> anyhow::Result<u64> {
    let deadline = Instant::now() + Duration::from_millis(START_WAIT_MAX_MS);
    loop {
        let jobs = get_jobs(client, job_ids).await?;
        let started: Vec<u64> = jobs.iter().filter_map(|job| job.start_time_ms).collect();
        if started.len() == job_ids.len() {
            return Ok(started.into_iter().max().unwrap_or(0));
        }
        if Instant::now() > deadline {
            let waiting: Vec<String> = jobs
                .iter()
                .filter(|job| job.start_time_ms.is_none())
                .map(|job| format!("{} ({})", job.id, job.reason))
                .collect();
            bail!(
                "jobs not started within {START_WAIT_MAX_MS} ms: {}",
                waiting.join(", ")
            );
        }
        tokio::time::sleep(Duration::from_millis(POLL_INTERVAL_MS)).await;
    }
}

/// Waits until every job has ended; returns them as listed.
async fn wait_ended(client: &Client, job_ids: &[u32]) -> anyhow::Result<Vec<wire::Job>> {
    let deadline = Instant::now() + Duration::from_millis(END_WAIT_MAX_MS);
    loop {
        let jobs = get_jobs(client, job_ids).await?;
        let ended = jobs.iter().filter(|job| is_terminal(job.state())).count();
        if ended == job_ids.len() {
            return Ok(jobs);
        }
        if Instant::now() > deadline {
            bail!(
                "{} of {} jobs ended within {END_WAIT_MAX_MS} ms of the kill",
                ended,
                job_ids.len()
            );
        }
        tokio::time::sleep(Duration::from_millis(POLL_INTERVAL_MS * 10)).await;
    }
}

/// The leader of the highest term among the controllers that answer.
fn current_leader(
    runtime: &Runtime,
    client: &Arc<Client>,
) -> anyhow::Result<wire::ControllerStatusReply> {
    status::leader(runtime.block_on(status::collect(client.clone())))
        .context("no controller reports itself leader")
}

/// Polls `status` until a controller other than `killed_id` leads; returns
/// the milliseconds since `killed_at`.
fn wait_new_leader(
    runtime: &Runtime,
    client: &Arc<Client>,
    killed_id: u64,
    killed_at: Instant,
) -> anyhow::Result<f64> {
    let deadline = killed_at + Duration::from_millis(LEADER_WAIT_MAX_MS);
    loop {
        let rows = runtime.block_on(status::collect(client.clone()));
        let elected = rows.iter().any(|row| {
            row.status
                .as_ref()
                .is_some_and(|s| s.role == "leader" && s.id != killed_id)
        });
        if elected {
            return Ok(super::milliseconds(killed_at.elapsed()));
        }
        if Instant::now() > deadline {
            bail!("no new leader within {LEADER_WAIT_MAX_MS} ms of killing controller-{killed_id}");
        }
        std::thread::sleep(Duration::from_millis(POLL_INTERVAL_MS));
    }
}

/// Waits until all `controllers` answer, exactly one leads, and all report
/// the same applied index.
fn wait_converged(
    runtime: &Runtime,
    client: &Arc<Client>,
    controllers: usize,
) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_millis(CONVERGE_WAIT_MAX_MS);
    loop {
        let rows = runtime.block_on(status::collect(client.clone()));
        let statuses: Vec<&wire::ControllerStatusReply> =
            rows.iter().filter_map(|row| row.status.as_ref()).collect();
        let leaders = statuses.iter().filter(|s| s.role == "leader").count();
        let applied: Vec<Option<u64>> = statuses.iter().map(|s| s.applied_index).collect();
        let same = applied.windows(2).all(|pair| pair[0] == pair[1]);
        if statuses.len() == controllers && leaders == 1 && same && applied[0].is_some() {
            return Ok(());
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

fn all_delays(rounds: &[Round], groups: &[Group]) -> Vec<f64> {
    rounds
        .iter()
        .flat_map(|round| round.delays(groups))
        .collect()
}

/// `n jobs: median M ms, p99 P ms, max X ms`.
fn describe(delays: &[f64]) -> String {
    match Summary::of(delays) {
        None => "0 jobs".to_string(),
        Some(s) => format!(
            "{} jobs: median {:.0} ms, p99 {:.0} ms, max {:.0} ms",
            s.count, s.median, s.p99, s.max
        ),
    }
}

fn print_round(kill: u64, kills: u64, round: &Round) {
    let resumed: Vec<String> = round
        .reports_resumed_ms
        .iter()
        .map(|(node, ms)| format!("{node} {ms:.0}"))
        .collect();
    println!(
        "  kill {kill}/{kills}: controller-{} (leader, term {}) {} ms after the last start; new leader in status after {:.0} ms; reports resumed after (ms) {}; around the kill {}; with a leader in place {}",
        round.controller_id,
        round.term,
        round.killed_after_start_ms,
        round.leader_elected_ms,
        resumed.join(", "),
        describe(&round.delays(AROUND)),
        describe(&round.delays(IN_PLACE))
    );
}

fn print_summary(runs: &[Vec<Round>]) {
    let rounds: Vec<&Round> = runs.iter().flatten().collect();
    let delays = |groups: &[Group]| -> Vec<f64> {
        rounds
            .iter()
            .flat_map(|round| round.delays(groups))
            .collect()
    };
    for (what, groups) in [
        ("around the kill", AROUND),
        ("with a leader in place", IN_PLACE),
        ("  of which before the kill", &[Group::BeforeKill][..]),
        ("  of which after recovery", &[Group::AfterRecovery][..]),
    ] {
        let samples = delays(groups);
        match Summary::of(&samples) {
            None => println!("summary {what}: no jobs"),
            Some(s) => println!(
                "summary {what}, {} jobs: min {:.0} ms, median {:.0} ms, p90 {:.0} ms, p99 {:.0} ms, max {:.0} ms",
                s.count, s.min, s.median, s.p90, s.p99, s.max
            ),
        }
    }
    let resumed: Vec<f64> = rounds
        .iter()
        .flat_map(|round| round.reports_resumed_ms.values().copied())
        .collect();
    let elected: Vec<f64> = rounds.iter().map(|round| round.leader_elected_ms).collect();
    for (what, samples) in [
        ("kill to a node's first end committed", &resumed),
        ("kill to a new leader in status", &elected),
    ] {
        if let Some(s) = Summary::of(samples) {
            println!(
                "summary {what}, {} samples: min {:.0} ms, median {:.0} ms, max {:.0} ms",
                s.count, s.min, s.median, s.max
            );
        }
    }
}

fn report_body(args: &Args, runs: &[Vec<Round>]) -> Vec<(&'static str, Json)> {
    let rounds: Vec<&Round> = runs.iter().flatten().collect();
    let delays = |groups: &[Group]| -> Vec<f64> {
        rounds
            .iter()
            .flat_map(|round| round.delays(groups))
            .collect()
    };
    let run_medians: Vec<f64> = runs
        .iter()
        .filter_map(|rounds| Summary::of(&all_delays(rounds, AROUND)))
        .map(|s| s.median)
        .collect();
    let resumed: Vec<f64> = rounds
        .iter()
        .flat_map(|round| round.reports_resumed_ms.values().copied())
        .collect();
    let elected: Vec<f64> = rounds.iter().map(|round| round.leader_elected_ms).collect();
    vec![
        (
            "parameters",
            Json::object([
                ("jobs_per_kill", Json::count(args.jobs)),
                ("kills_per_run", Json::count(args.kills)),
                ("repeat", Json::count(runs.len())),
                ("kill_after_start_ms", Json::count(args.kill_after_start_ms)),
                ("sleep_min_ms", Json::count(SLEEP_MIN_MS)),
                ("sleep_max_ms", Json::count(SLEEP_MAX_MS)),
            ]),
        ),
        (
            "runs",
            Json::Array(
                runs.iter()
                    .map(|rounds| Json::Array(rounds.iter().map(round_json).collect()))
                    .collect(),
            ),
        ),
        (
            "summary",
            Json::object([
                ("around_kill_delay_ms", summary_json(&delays(AROUND))),
                ("leader_in_place_delay_ms", summary_json(&delays(IN_PLACE))),
                (
                    "before_kill_delay_ms",
                    summary_json(&delays(&[Group::BeforeKill])),
                ),
                (
                    "after_recovery_delay_ms",
                    summary_json(&delays(&[Group::AfterRecovery])),
                ),
                (
                    "run_median_around_kill_delay_ms",
                    summary_json(&run_medians),
                ),
                ("reports_resumed_ms", summary_json(&resumed)),
                ("leader_elected_ms", summary_json(&elected)),
                (
                    "not_completed",
                    Json::count(rounds.iter().map(|r| r.not_completed.len()).sum::<usize>()),
                ),
            ]),
        ),
    ]
}

fn round_json(round: &Round) -> Json {
    Json::object([
        ("controller_id", Json::count(round.controller_id)),
        ("term", Json::count(round.term)),
        (
            "killed_after_start_ms",
            Json::count(round.killed_after_start_ms),
        ),
        ("leader_elected_ms", Json::Number(round.leader_elected_ms)),
        (
            "reports_resumed_ms",
            Json::Object(
                round
                    .reports_resumed_ms
                    .iter()
                    .map(|(node, ms)| (node.clone(), Json::Number(*ms)))
                    .collect(),
            ),
        ),
        (
            "jobs",
            Json::Array(
                round
                    .ends
                    .iter()
                    .map(|end| {
                        Json::object([
                            ("job_id", Json::count(end.job_id)),
                            ("node", Json::text(&end.node)),
                            ("sleep_ms", Json::count(end.sleep_ms)),
                            ("ended_at_ms", Json::count(end.ended_at_ms)),
                            ("recorded_at_ms", Json::count(end.recorded_at_ms)),
                            ("delay_ms", Json::Number(end.delay_ms())),
                            ("group", Json::text(end.group.name())),
                        ])
                    })
                    .collect(),
            ),
        ),
        (
            "not_completed",
            Json::Array(
                round
                    .not_completed
                    .iter()
                    .map(|(job_id, state)| {
                        Json::object([
                            ("job_id", Json::count(*job_id)),
                            ("state", Json::text(state)),
                        ])
                    })
                    .collect(),
            ),
        ),
    ])
}

#[cfg(test)]
mod tests {
    use super::{classify, sleeps_ms, Group, JobEnd, SLEEP_MAX_MS, SLEEP_MIN_MS};

    #[test]
    fn sleeps_cover_the_range_evenly_and_every_block_of_them_spreads() {
        let sleeps = sleeps_ms(40);
        let mut sorted = sleeps.clone();
        sorted.sort_unstable();
        let expected: Vec<u64> = (0..40)
            .map(|i| SLEEP_MIN_MS + (SLEEP_MAX_MS - SLEEP_MIN_MS) * i / 39)
            .collect();
        assert_eq!(sorted, expected);
        // Sixteen consecutive jobs (one 16-CPU node) span most of the range.
        for block in sleeps.windows(16) {
            let (min, max) = (block.iter().min().unwrap(), block.iter().max().unwrap());
            assert!(*min < 1_500 && *max > 5_500, "{block:?}");
        }
    }

    fn end(node: &str, ended_at_ms: u64, recorded_at_ms: u64) -> JobEnd {
        JobEnd {
            job_id: 0,
            node: node.to_string(),
            sleep_ms: 0,
            ended_at_ms,
            recorded_at_ms,
            group: Group::BeforeKill,
        }
    }

    #[test]
    fn ends_are_grouped_by_the_kill_and_each_nodes_first_report_after_it() {
        // The leader is killed at 1,000; node001 reports again at 6,000,
        // node002 at 5,000, node003 had nothing to report after the kill.
        let mut ends = vec![
            end("node001", 900, 950),   // recorded before the kill
            end("node001", 980, 6_000), // in flight at the kill
            end("node001", 1_500, 6_010),
            end("node001", 6_500, 6_600), // after node001 reports again
            end("node002", 2_000, 5_000),
            end("node002", 5_200, 5_300),
            end("node003", 700, 800),
        ];
        let resumed = classify(&mut ends, 1_000);
        let groups: Vec<Group> = ends.iter().map(|end| end.group).collect();
        use Group::*;
        assert_eq!(
            groups,
            [
                BeforeKill,
                AroundKill,
                AroundKill,
                AfterRecovery,
                AroundKill,
                AfterRecovery,
                BeforeKill
            ]
        );
        let resumed: Vec<(&str, u64)> = resumed.iter().map(|(n, at)| (n.as_str(), *at)).collect();
        assert_eq!(resumed, [("node001", 6_000), ("node002", 5_000)]);
    }
}
