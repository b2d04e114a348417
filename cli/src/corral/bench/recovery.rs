//! `corral bench recovery`: a controller with a long history restarts.
//!
//! First the history: `--jobs` jobs submitted through the client API (what
//! `sbatch --hold --wrap true` submits, `--tasks` calls in flight over
//! `--clients` connections), each cancelled right after its submission is
//! acknowledged, so it ends CANCELLED and leaves the state `min_job_age_s`
//! later (the cluster the benchmark creates has `--min-job-age-s`, 1 s by
//! default; the leader purges every 30 s). Every controller's data
//! directory is measured before, at every tenth of the history, and at the
//! end once the purge and a snapshot have happened: sled's directory (the
//! Raft log) and the snapshot file, in bytes (`st_blocks`, what the files
//! take on disk).
//!
//! Then `--repeat` times: SIGKILL a follower and start it again at once;
//! measured from the start of its process until it answers
//! `ControllerStatus` (it serves), and until it answers as follower with
//! the leader's applied index at the kill (caught up). A few submissions
//! are made while it is down, so it has something to catch up on.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use corral_client::Client;
use corral_proto as wire;
use tokio::runtime::Runtime;

use super::failover::{current_leader, wait_converged};
use super::report::Json;
use super::stats::{summary_json, Summary};
use super::submission::{cluster_client, held_job_spec, submit, RequestIds};
use super::{build_profile, dev, milliseconds, Cluster, Options};

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub options: Options,
    /// Jobs in the history: submitted, then cancelled.
    #[arg(long, default_value_t = 1_000_000, value_parser = clap::value_parser!(u64).range(0..=100_000_000))]
    pub jobs: u64,
    /// Calls in flight while building the history.
    #[arg(long, default_value_t = 256, value_parser = clap::value_parser!(u64).range(1..=100_000))]
    pub tasks: u64,
    /// Clients (connections) the tasks share.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u64).range(1..=1_000))]
    pub clients: u64,
    /// `timeouts.min_job_age_s` of a cluster the benchmark creates.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(0..=86_400))]
    pub min_job_age_s: u64,
    /// Bound on waiting for the purge and on each restart.
    #[arg(long, default_value_t = 300, value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub wait_s: u64,
}

/// Submissions made while the restarted follower is down.
const SUBMISSIONS_WHILE_DOWN: u64 = 100;
/// How often the restarted follower is asked for its status.
const POLL_INTERVAL_MS: u64 = 10;
/// A status call to the restarted follower may take this long.
const STATUS_TIMEOUT_MS: u64 = 500;

/// Disk use of one controller's data directory.
#[derive(Clone, Copy, Default)]
struct Disk {
    sled_bytes: u64,
    snapshot_bytes: u64,
    total_bytes: u64,
}

/// Every controller's disk use after `jobs` jobs of history.
struct DiskSample {
    jobs: u64,
    jobs_in_state: Option<usize>,
    per_controller: Vec<(u64, Disk)>,
}

/// What one restart measured.
struct Restart {
    controller_id: u64,
    /// Process start to the first answer to `ControllerStatus`.
    serving_ms: f64,
    /// Process start to an answer as follower with the leader's applied index.
    caught_up_ms: f64,
    applied_index: u64,
}

pub fn run(cluster: &Cluster, args: &Args) -> anyhow::Result<u8> {
    cluster
        .require_three_controllers("recovery", "a follower to restart while the others serve")?;
    println!(
        "recovery: a history of {} jobs (submitted, cancelled, purged after {} s), then {} follower restarts, {} controllers, {} build",
        args.jobs,
        cluster.config.file.timeouts.min_job_age_s,
        cluster.repeat,
        cluster.controller_count(),
        build_profile()
    );
    let runtime = super::runtime()?;
    let client = cluster_client(&cluster.config)?;
    wait_converged(&runtime, &client, cluster.controller_count())?;
    let mut disk = vec![disk_sample(cluster, &runtime, &client, 0)];
    print_disk("before", &disk[0]);
    let filled = Instant::now();
    fill(cluster, args, &runtime, &client, &mut disk)?;
    let fill_s = filled.elapsed().as_secs_f64();
    println!(
        "  history of {} jobs built in {fill_s:.0} s ({:.0} jobs/s, each a submission and a cancellation)",
        args.jobs,
        args.jobs as f64 / fill_s.max(f64::MIN_POSITIVE)
    );
    let purge_s = wait_purged(&runtime, &client, args)?;
    println!("  all jobs purged from the state {purge_s:.0} s after the last");
    wait_converged(&runtime, &client, cluster.controller_count())?;
    let after = disk_sample(cluster, &runtime, &client, args.jobs);
    print_disk("after", &after);
    disk.push(after);
    let mut restarts = Vec::new();
    for round in 1..=cluster.repeat {
        let restart = restart_follower(cluster, &runtime, &client, args)?;
        println!(
            "  restart {round}/{}: controller-{} serves {:.0} ms after its start, caught up (applied index {}) after {:.0} ms",
            cluster.repeat,
            restart.controller_id,
            restart.serving_ms,
            restart.applied_index,
            restart.caught_up_ms
        );
        restarts.push(restart);
        wait_converged(&runtime, &client, cluster.controller_count())?;
    }
    for (what, samples) in [
        ("restart to serving", serving(&restarts)),
        ("restart to caught up", caught_up(&restarts)),
    ] {
        let s = Summary::of(&samples).expect("repeat is at least 1");
        println!(
            "summary {what}, {} restarts: median {:.0} ms, min {:.0} ms, max {:.0} ms",
            s.count, s.median, s.min, s.max
        );
    }
    let final_disk = disk_sample(cluster, &runtime, &client, args.jobs);
    print_disk("after the restarts", &final_disk);
    disk.push(final_disk);
    let body = report_body(args, fill_s, purge_s, &disk, &restarts);
    cluster.write_report("recovery", "", body)?;
    Ok(0)
}

/// Submits and cancels `args.jobs` jobs; samples the disk at every tenth.
fn fill(
    cluster: &Cluster,
    args: &Args,
    runtime: &Runtime,
    client: &Arc<Client>,
    disk: &mut Vec<DiskSample>,
) -> anyhow::Result<()> {
    let clients = (0..args.clients)
        .map(|_| cluster_client(&cluster.config))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let spec = Arc::new(held_job_spec(cluster.config_path(), &cluster.dir)?);
    let ids = Arc::new(RequestIds::new());
    let tenth = (args.jobs / 10).max(1);
    let mut done = 0;
    while done < args.jobs {
        let batch = tenth.min(args.jobs - done);
        let started = Instant::now();
        runtime.block_on(submit_and_cancel(&clients, &spec, &ids, args.tasks, batch))?;
        done += batch;
        let sample = disk_sample(cluster, runtime, client, done);
        println!(
            "  {done} jobs: {:.0} jobs/s; {}",
            batch as f64 / started.elapsed().as_secs_f64(),
            disk_line(&sample)
        );
        disk.push(sample);
    }
    Ok(())
}

/// `tasks` tasks take jobs from a shared counter: each submits one, then
/// cancels it. Any failed call ends the batch with its error.
async fn submit_and_cancel(
    clients: &[Arc<Client>],
    spec: &Arc<wire::JobSpec>,
    ids: &Arc<RequestIds>,
    tasks: u64,
    jobs: u64,
) -> anyhow::Result<()> {
    let taken = Arc::new(AtomicU64::new(0));
    let mut running = tokio::task::JoinSet::new();
    for task in 0..tasks.min(jobs) {
        let client = clients[task as usize % clients.len()].clone();
        let (spec, ids, taken) = (spec.clone(), ids.clone(), taken.clone());
        running.spawn(async move {
            while taken.fetch_add(1, Ordering::Relaxed) < jobs {
                let job_id = submit(&client, &spec, ids.next()).await?;
                cancel(&client, job_id).await?;
            }
            anyhow::Ok(())
        });
    }
    while let Some(finished) = running.join_next().await {
        finished.context("a submitting task panicked")??;
    }
    Ok(())
}

async fn cancel(client: &Client, job_id: u32) -> anyhow::Result<()> {
    let request = wire::JobActionRequest {
        action: wire::job_action_request::Action::Cancel as i32,
        job_id,
    };
    let reply = client
        .call(request, |mut c, r| async move { c.job_action(r).await })
        .await?;
    let Some(rejection) = reply.rejection else {
        return Ok(());
    };
    // A cancellation the retry loop sent again after the first was applied
    // is refused as "already completed": the job is cancelled all the same.
    let request = wire::GetJobsRequest {
        job_ids: vec![job_id],
        ..wire::GetJobsRequest::default()
    };
    let jobs = client
        .call(request, |mut c, r| async move { c.get_jobs(r).await })
        .await?;
    if jobs
        .jobs
        .iter()
        .any(|job| job.state == wire::JobState::Cancelled as i32)
    {
        return Ok(());
    }
    bail!("cancelling job {job_id}: {}", rejection.message)
}

/// The number of jobs in the state (every state), from the leader.
fn jobs_in_state(runtime: &Runtime, client: &Arc<Client>) -> anyhow::Result<usize> {
    let reply = runtime.block_on(
        client.call(wire::GetJobsRequest::default(), |mut c, r| async move {
            c.get_jobs(r).await
        }),
    )?;
    Ok(reply.jobs.len())
}

/// Waits until no job is left in the state; returns the seconds waited.
fn wait_purged(runtime: &Runtime, client: &Arc<Client>, args: &Args) -> anyhow::Result<f64> {
    let started = Instant::now();
    loop {
        let left = jobs_in_state(runtime, client)?;
        if left == 0 {
            return Ok(started.elapsed().as_secs_f64());
        }
        if started.elapsed() > Duration::from_secs(args.wait_s) {
            bail!(
                "{left} jobs still in the state {} s after the last was cancelled",
                args.wait_s
            );
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// SIGKILLs a follower, submits a few jobs while it is down, starts it
/// again and times it.
fn restart_follower(
    cluster: &Cluster,
    runtime: &Runtime,
    client: &Arc<Client>,
    args: &Args,
) -> anyhow::Result<Restart> {
    let leader = current_leader(runtime, client)?;
    let follower = cluster
        .config
        .file
        .controllers
        .iter()
        .find(|c| c.id != leader.id)
        .context("no follower")?;
    let target = format!("controller-{}", follower.id);
    dev::kill_target(&cluster.dir, &target)?;
    let spec = held_job_spec(cluster.config_path(), &cluster.dir)?;
    let ids = RequestIds::new();
    runtime.block_on(async {
        for _ in 0..SUBMISSIONS_WHILE_DOWN {
            let job_id = submit(client, &spec, ids.next()).await?;
            cancel(client, job_id).await?;
        }
        anyhow::Ok(())
    })?;
    let target_index = current_leader(runtime, client)?.applied_index.unwrap_or(0);
    let started = Instant::now();
    dev::start_target(&cluster.dir, &target)?;
    let deadline = started + Duration::from_secs(args.wait_s);
    let mut serving = None;
    loop {
        let status = follower_status(cluster, runtime, &follower.address);
        let now = Instant::now();
        if let Some(status) = status {
            serving.get_or_insert(now);
            let applied = status.applied_index.unwrap_or(0);
            if status.role == "follower" && applied >= target_index {
                return Ok(Restart {
                    controller_id: follower.id,
                    serving_ms: milliseconds(serving.unwrap_or(now) - started),
                    caught_up_ms: milliseconds(now - started),
                    applied_index: applied,
                });
            }
        }
        if now > deadline {
            bail!(
                "controller-{} restarted: {} after {} s, not caught up to applied index {target_index}",
                follower.id,
                if serving.is_some() { "serving" } else { "not serving" },
                args.wait_s
            );
        }
        std::thread::sleep(Duration::from_millis(POLL_INTERVAL_MS));
    }
}

/// The controller's own status, on a new connection (a restarted
/// controller is asked as a new client would).
fn follower_status(
    cluster: &Cluster,
    runtime: &Runtime,
    address: &str,
) -> Option<wire::ControllerStatusReply> {
    let client = cluster_client(&cluster.config).ok()?;
    runtime
        .block_on(client.call_one(
            address,
            wire::ControllerStatusRequest {},
            Duration::from_millis(STATUS_TIMEOUT_MS),
            |mut c, r| async move { c.controller_status(r).await },
        ))
        .ok()
}

fn disk_sample(
    cluster: &Cluster,
    runtime: &Runtime,
    client: &Arc<Client>,
    jobs: u64,
) -> DiskSample {
    let per_controller = cluster
        .config
        .file
        .controllers
        .iter()
        .filter_map(|c| {
            let settings = cluster.config.controller_settings(c.id).ok()?;
            Some((c.id, disk_of(&settings.data_dir)))
        })
        .collect();
    DiskSample {
        jobs,
        jobs_in_state: jobs_in_state(runtime, client).ok(),
        per_controller,
    }
}

/// sled's directory, the snapshot, and everything in a data directory.
fn disk_of(dir: &Path) -> Disk {
    Disk {
        sled_bytes: bytes_on_disk(&dir.join("sled")),
        snapshot_bytes: bytes_on_disk(&dir.join("snapshot")),
        total_bytes: bytes_on_disk(dir),
    }
}

/// What a file or a directory tree takes on disk (allocated blocks).
fn bytes_on_disk(path: &Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    let Ok(metadata) = std::fs::symlink_metadata(path) else {
        return 0;
    };
    let own = metadata.blocks() * 512;
    if !metadata.is_dir() {
        return own;
    }
    let children = std::fs::read_dir(path)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|entry| bytes_on_disk(&entry.path()))
                .sum()
        })
        .unwrap_or(0);
    own + children
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / 1_048_576.0
}

fn disk_line(sample: &DiskSample) -> String {
    let controllers: Vec<String> = sample
        .per_controller
        .iter()
        .map(|(id, d)| {
            format!(
                "controller-{id} sled {:.2} MiB, snapshot {:.2} MiB",
                mib(d.sled_bytes),
                mib(d.snapshot_bytes)
            )
        })
        .collect();
    format!(
        "{} jobs in the state; {}",
        sample
            .jobs_in_state
            .map_or("?".to_string(), |n| n.to_string()),
        controllers.join("; ")
    )
}

fn print_disk(when: &str, sample: &DiskSample) {
    println!("  disk {when}: {}", disk_line(sample));
}

fn serving(restarts: &[Restart]) -> Vec<f64> {
    restarts.iter().map(|r| r.serving_ms).collect()
}

fn caught_up(restarts: &[Restart]) -> Vec<f64> {
    restarts.iter().map(|r| r.caught_up_ms).collect()
}

fn disk_json(sample: &DiskSample) -> Json {
    Json::object([
        ("jobs_submitted", Json::count(sample.jobs)),
        (
            "jobs_in_state",
            sample.jobs_in_state.map_or(Json::Null, Json::count),
        ),
        (
            "controllers",
            Json::Array(
                sample
                    .per_controller
                    .iter()
                    .map(|(id, d)| {
                        Json::object([
                            ("controller_id", Json::count(*id)),
                            ("sled_bytes", Json::count(d.sled_bytes)),
                            ("snapshot_bytes", Json::count(d.snapshot_bytes)),
                            ("data_dir_bytes", Json::count(d.total_bytes)),
                        ])
                    })
                    .collect(),
            ),
        ),
    ])
}

fn report_body(
    args: &Args,
    fill_s: f64,
    purge_s: f64,
    disk: &[DiskSample],
    restarts: &[Restart],
) -> Vec<(&'static str, Json)> {
    vec![
        (
            "parameters",
            Json::object([
                ("jobs", Json::count(args.jobs)),
                ("tasks", Json::count(args.tasks)),
                ("clients", Json::count(args.clients)),
                ("min_job_age_s", Json::count(args.min_job_age_s)),
                (
                    "submissions_while_down",
                    Json::count(SUBMISSIONS_WHILE_DOWN),
                ),
                ("restarts", Json::count(restarts.len())),
            ]),
        ),
        (
            "history",
            Json::object([
                ("seconds", Json::Number(fill_s)),
                ("purged_after_s", Json::Number(purge_s)),
            ]),
        ),
        ("disk", Json::Array(disk.iter().map(disk_json).collect())),
        (
            "runs",
            Json::Array(
                restarts
                    .iter()
                    .map(|r| {
                        Json::object([
                            ("controller_id", Json::count(r.controller_id)),
                            ("serving_ms", Json::Number(r.serving_ms)),
                            ("caught_up_ms", Json::Number(r.caught_up_ms)),
                            ("applied_index", Json::count(r.applied_index)),
                        ])
                    })
                    .collect(),
            ),
        ),
        (
            "summary",
            Json::object([
                ("serving_ms", summary_json(&serving(restarts))),
                ("caught_up_ms", summary_json(&caught_up(restarts))),
            ]),
        ),
    ]
}
