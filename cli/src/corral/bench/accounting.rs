//! `corral bench accounting`: how long a finished job takes to reach the
//! accounting database, with the database in place and after an outage.
//!
//! Each run submits `--jobs` jobs running `true` at `--rate` per second and
//! looks in the cluster's accounting database (its `accounting.urls`, or
//! the dev cluster's SQLite file) every [`POLL_INTERVAL_MS`] for their rows.
//! A job's lag is from its end (`end_time_ms`, stamped by the leader on the
//! `JobFinished` that ended it) to the first look that found its row
//! COMPLETED, so it is measured to within the poll interval.
//!
//! With `--outage-s S`, a second phase makes the database refuse writes for
//! S seconds while jobs keep arriving at the same rate, then lets it go:
//! on SQLite the benchmark holds the database's write lock
//! (`BEGIN EXCLUSIVE`), which makes the pump's writes fail as they would
//! against a database that is down (`--accounting-url` databases are not
//! interrupted: stop those by hand). It reports the lag of the jobs that
//! ended during the outage and how long after the end of the outage the
//! last of them was in the database.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context};
use corral_accounting::{AccountingDb, JobFilter};
use corral_client::Client;
use corral_proto as wire;
use corral_state::JobState;

use super::report::Json;
use super::stats::{summary_json, Summary};
use super::submission::{cluster_client, held_job_spec, submit, RequestIds};
use super::{build_profile, milliseconds, Cluster, Options};

#[derive(clap::Args)]
#[command(mut_arg("repeat", |arg| arg.default_value("3")))]
pub struct Args {
    #[command(flatten)]
    pub options: Options,
    /// Jobs per phase of a run.
    #[arg(long, default_value_t = 200, value_parser = clap::value_parser!(u64).range(1..=100_000))]
    pub jobs: u64,
    /// Submissions per second.
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u64).range(1..=10_000))]
    pub rate: u64,
    /// Seconds the database refuses writes in the second phase (0: no outage phase).
    #[arg(long, default_value_t = 60)]
    pub outage_s: u64,
    /// Compute nodes of a cluster the benchmark creates.
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u32).range(1..=999))]
    pub agents: u32,
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub agent_cpus: u32,
}

/// How often the benchmark looks in the database.
pub const POLL_INTERVAL_MS: u64 = 50;
/// A phase gives up when its rows are not all in within this long after
/// its last submission (plus the outage).
pub const ROWS_WAIT_MS: u64 = 120_000;

struct Phase {
    lag_ms: Vec<f64>,
    /// From the end of the outage to the last row in the database.
    caught_up_ms: Option<f64>,
    missing: usize,
}

pub fn run(cluster: &Cluster, args: &Args) -> anyhow::Result<u8> {
    let urls = cluster.config.accounting_urls();
    println!(
        "accounting: {} jobs per phase at {}/s, database {}, outage {} s, {} runs, {} build",
        args.jobs,
        args.rate,
        urls.join(", "),
        args.outage_s,
        cluster.repeat,
        build_profile()
    );
    let runtime = super::runtime()?;
    let client = cluster_client(&cluster.config)?;
    let db = Arc::new(AccountingDb::new(&urls).context("the accounting database")?);
    let sqlite = urls
        .first()
        .and_then(|url| url.strip_prefix("sqlite://"))
        .map(str::to_string);
    let work_dir = cluster.dir.join("accounting-bench");
    std::fs::create_dir_all(&work_dir)?;
    let mut spec = held_job_spec(cluster.config_path(), &work_dir)?;
    spec.hold = false;
    let spec = Arc::new(spec);
    let ids = Arc::new(RequestIds::new());
    let cluster_name = cluster.config.file.cluster_name.clone();
    let mut steady = Vec::new();
    let mut outages = Vec::new();
    for run in 1..=cluster.repeat {
        let measured =
            runtime.block_on(phase(&client, &db, &cluster_name, &spec, &ids, args, None))?;
        println!(
            "run {run}/{}: steady: {}",
            cluster.repeat,
            describe(&measured)
        );
        steady.push(measured);
        if args.outage_s == 0 {
            continue;
        }
        let Some(path) = &sqlite else {
            println!(
                "no outage phase: the database is not the SQLite file (stop its nodes by hand)"
            );
            continue;
        };
        let outage = runtime.block_on(phase(
            &client,
            &db,
            &cluster_name,
            &spec,
            &ids,
            args,
            Some(path.as_str()),
        ))?;
        println!(
            "run {run}/{}: after a {} s outage: {}",
            cluster.repeat,
            args.outage_s,
            describe(&outage)
        );
        outages.push(outage);
    }
    let all = |phases: &[Phase]| -> Vec<f64> {
        phases
            .iter()
            .flat_map(|p| p.lag_ms.iter().copied())
            .collect()
    };
    let caught_up: Vec<f64> = outages.iter().filter_map(|p| p.caught_up_ms).collect();
    if let Some(summary) = Summary::of(&all(&steady)) {
        println!("steady lag, all runs: {}", describe_summary(&summary));
    }
    if let Some(summary) = Summary::of(&all(&outages)) {
        println!(
            "lag of jobs ended during the outage: {}",
            describe_summary(&summary)
        );
    }
    if let Some(summary) = Summary::of(&caught_up) {
        println!(
            "end of outage to every row in: {}",
            describe_summary(&summary)
        );
    }
    let missing: usize = steady.iter().chain(&outages).map(|p| p.missing).sum();
    cluster.write_report(
        "accounting",
        "",
        vec![
            (
                "parameters",
                Json::object([
                    ("jobs", Json::count(args.jobs)),
                    ("rate", Json::count(args.rate)),
                    ("outage_s", Json::count(args.outage_s)),
                    ("poll_interval_ms", Json::count(POLL_INTERVAL_MS)),
                    ("database", Json::text(urls.join(","))),
                ]),
            ),
            ("steady_lag_ms", summary_json(&all(&steady))),
            ("outage_lag_ms", summary_json(&all(&outages))),
            ("outage_caught_up_ms", summary_json(&caught_up)),
            ("missing", Json::count(missing)),
        ],
    )?;
    if missing > 0 {
        bail!("{missing} jobs never reached the accounting database");
    }
    Ok(0)
}

fn describe_summary(summary: &Summary) -> String {
    format!(
        "median {:.0} ms, p90 {:.0} ms, p99 {:.0} ms, min {:.0} ms, max {:.0} ms ({} samples)",
        summary.median, summary.p90, summary.p99, summary.min, summary.max, summary.count
    )
}

fn describe(phase: &Phase) -> String {
    let lag = Summary::of(&phase.lag_ms).map_or("no rows".to_string(), |s| describe_summary(&s));
    match phase.caught_up_ms {
        Some(ms) => format!("lag {lag}; every row in {ms:.0} ms after the outage"),
        None => format!("lag {lag}"),
    }
}

/// One phase: submit at the rate (holding the SQLite write lock at `lock`
/// for the outage meanwhile), then wait for every row.
async fn phase(
    client: &Arc<Client>,
    db: &AccountingDb,
    cluster: &str,
    spec: &Arc<wire::JobSpec>,
    ids: &Arc<RequestIds>,
    args: &Args,
    lock: Option<&str>,
) -> anyhow::Result<Phase> {
    let lock = match lock {
        Some(path) => Some(hold_write_lock(path).await?),
        None => None,
    };
    let outage_over = Instant::now() + Duration::from_secs(args.outage_s);
    // Submissions at the rate, in their own task, while this one looks.
    let (submitted_tx, mut submitted) = tokio::sync::mpsc::unbounded_channel();
    let submitter = {
        let (client, spec, ids) = (client.clone(), spec.clone(), ids.clone());
        let (jobs, pause) = (args.jobs, Duration::from_micros(1_000_000 / args.rate));
        tokio::spawn(async move {
            let mut next = Instant::now();
            for _ in 0..jobs {
                tokio::time::sleep_until(next.into()).await;
                let job_id = submit(&client, &spec, ids.next()).await?;
                let _ = submitted_tx.send(job_id);
                next += pause;
            }
            anyhow::Ok(())
        })
    };
    let mut job_ids: Vec<u32> = Vec::new();
    let mut released_at = None;
    let mut lock = lock;
    let mut seen: BTreeMap<u32, u64> = BTreeMap::new();
    let mut deadline: Option<Instant> = None;
    loop {
        while let Ok(job_id) = submitted.try_recv() {
            job_ids.push(job_id);
        }
        let all_submitted = submitter.is_finished() && submitted.is_empty();
        if all_submitted && deadline.is_none() {
            deadline = Some(
                Instant::now()
                    + Duration::from_millis(ROWS_WAIT_MS)
                    + Duration::from_secs(args.outage_s),
            );
        }
        let done = all_submitted && seen.len() == job_ids.len();
        if done || deadline.is_some_and(|at| Instant::now() >= at) {
            break;
        }
        if lock.is_some() && Instant::now() >= outage_over {
            lock = None;
            released_at = Some(Instant::now());
        }
        let waiting: Vec<u32> = job_ids
            .iter()
            .copied()
            .filter(|id| !seen.contains_key(id))
            .collect();
        if waiting.is_empty() {
            tokio::time::sleep(Duration::from_millis(POLL_INTERVAL_MS)).await;
            continue;
        }
        let filter = JobFilter {
            job_ids: waiting,
            ..JobFilter::default()
        };
        if let Ok(rows) = db.query(cluster, &filter).await {
            let now = wall_clock_ms();
            for (job, _) in rows {
                if job.state == JobState::Completed {
                    seen.entry(job.job_id).or_insert(now);
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(POLL_INTERVAL_MS)).await;
    }
    drop(lock);
    submitter.await.context("the submitting task")??;
    let caught_up_ms = released_at.map(|at| milliseconds(at.elapsed()));
    let ends = end_times(client, &job_ids).await?;
    let lag_ms = seen
        .iter()
        .filter_map(|(id, seen_ms)| Some(seen_ms.saturating_sub(*ends.get(id)?) as f64))
        .collect();
    Ok(Phase {
        lag_ms,
        caught_up_ms: caught_up_ms.filter(|_| seen.len() == job_ids.len()),
        missing: job_ids.len() - seen.len(),
    })
}

/// Every job's `end_time_ms`, from the leader.
async fn end_times(client: &Client, job_ids: &[u32]) -> anyhow::Result<BTreeMap<u32, u64>> {
    let mut ends = BTreeMap::new();
    for chunk in job_ids.chunks(1_000) {
        let query = wire::GetJobsRequest {
            job_ids: chunk.to_vec(),
            ..Default::default()
        };
        let reply = client
            .call(query, |mut c, r| async move { c.get_jobs(r).await })
            .await?;
        for job in reply.jobs {
            if let Some(end) = job.end_time_ms {
                ends.insert(job.id, end);
            }
        }
    }
    Ok(ends)
}

/// An open SQLite transaction holding the database's write lock; dropping
/// it rolls the transaction back and releases the lock.
struct WriteLock {
    _connection: sqlx::SqliteConnection,
}

async fn hold_write_lock(path: &str) -> anyhow::Result<WriteLock> {
    use sqlx::Connection;
    let mut connection = sqlx::SqliteConnection::connect(&format!("sqlite://{path}"))
        .await
        .with_context(|| format!("opening {path} to hold its write lock"))?;
    sqlx::raw_sql("BEGIN EXCLUSIVE")
        .execute(&mut connection)
        .await
        .with_context(|| format!("taking the write lock of {path}"))?;
    Ok(WriteLock {
        _connection: connection,
    })
}

fn wall_clock_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis() as u64
}
