//! `corral bench queue`: what a big queue costs the controller and the user.
//!
//! The queue is filled with held jobs (`sbatch --hold --wrap true`, which
//! nothing runs) up to each of `--sizes` pending jobs in turn, and at each
//! size the benchmark records:
//!
//! - the controllers' memory: resident set (`VmRSS` in `/proc/PID/status`)
//!   of each controller, and of the leader;
//! - `squeue` as a whole process (default format, every job), timed from
//!   spawn to exit with its output read, `--repeat` times;
//! - `sbatch --hold --wrap true` as a whole process, `--repeat` times (each
//!   adds one job);
//! - how long filling took.
//!
//! Corral's queue is filled through the client API as `submit-throughput
//! --api` submits (`--fill-tasks` calls in flight over 4 connections). With
//! `--slurm-conf PATH` the same is measured on that Slurm (slurmctld's
//! memory, Slurm's `squeue` and `sbatch`), its queue filled by
//! `--submitters` sbatch processes at once (an `--array` job would be one
//! job, not N); at the end its jobs are cancelled. Filling Slurm is slower
//! by far, so its fill time is part of the report.

use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};

use super::drain::submit_all;
use super::report::Json;
use super::slurm::{rss_bytes, Slurm};
use super::stats::{summary_json, Summary};
use super::submission::{
    cluster_client, held_job_spec, sbatch_process, time_sbatch, RequestIds, SBATCH_ARGUMENTS,
};
use super::{build_profile, milliseconds, Cluster, Options};
use crate::corral::status;

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub options: Options,
    /// Pending (held) jobs to measure at, in increasing order, e.g. `10000,100000`.
    #[arg(long, num_args = 1.., value_delimiter = ',', default_values_t = [10_000, 100_000],
          value_parser = clap::value_parser!(u64).range(1..=2_000_000))]
    pub sizes: Vec<u64>,
    /// Corral: submissions in flight while filling the queue.
    #[arg(long, default_value_t = 256, value_parser = clap::value_parser!(u64).range(1..=100_000))]
    pub fill_tasks: u64,
    /// Measure the Slurm of this slurm.conf instead.
    #[arg(long, value_name = "PATH")]
    pub slurm_conf: Option<PathBuf>,
    /// With --slurm-conf: sbatch processes at once while filling the queue.
    #[arg(long, requires = "slurm_conf", default_value_t = 8, value_parser = clap::value_parser!(u64).range(1..=256))]
    pub submitters: u64,
}

/// Connections the filling tasks share.
const FILL_CLIENTS: usize = 4;
/// Pause after filling before memory is read and processes are timed.
const SETTLE_MS: u64 = 1_000;
/// How long the Slurm benchmark waits for earlier jobs to leave slurmctld.
const SLURM_EMPTY_WAIT_MS: u64 = 120_000;

/// One controller's memory.
struct Memory {
    name: String,
    leader: bool,
    rss_bytes: u64,
}

/// What was measured at one size.
struct Level {
    pending: u64,
    /// Jobs added to reach this size and how long that took.
    filled: u64,
    fill_ms: f64,
    memory: Vec<Memory>,
    squeue_ms: Vec<f64>,
    /// Lines of the last squeue's output (header included).
    squeue_lines: usize,
    sbatch_ms: Vec<f64>,
}

impl Level {
    fn leader_rss_bytes(&self) -> Option<u64> {
        self.memory.iter().find(|m| m.leader).map(|m| m.rss_bytes)
    }
}

fn check_sizes(sizes: &[u64]) -> anyhow::Result<()> {
    if sizes.windows(2).any(|pair| pair[0] >= pair[1]) {
        bail!("--sizes must increase, got {sizes:?}");
    }
    Ok(())
}

pub fn run(cluster: &Cluster, args: &Args) -> anyhow::Result<u8> {
    check_sizes(&args.sizes)?;
    println!(
        "queue: sizes {:?} held jobs, {} squeue and sbatch processes each, {} controllers, {} build",
        args.sizes,
        cluster.repeat,
        cluster.controller_count(),
        build_profile()
    );
    let runtime = super::runtime()?;
    let clients = (0..FILL_CLIENTS)
        .map(|_| cluster_client(&cluster.config))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let spec = Arc::new(held_job_spec(cluster.config_path(), &cluster.dir)?);
    let ids = Arc::new(RequestIds::new());
    let mut present = count_jobs(cluster)?;
    let mut levels = Vec::new();
    for &size in &args.sizes {
        let missing = size.saturating_sub(present);
        let started = Instant::now();
        if missing > 0 {
            runtime.block_on(submit_all(&clients, &spec, &ids, args.fill_tasks, missing))?;
        }
        let fill_ms = milliseconds(started.elapsed());
        present += missing;
        std::thread::sleep(Duration::from_millis(SETTLE_MS));
        let memory = runtime.block_on(corral_memory(cluster, &clients[0]))?;
        let mut squeue = corral_process(cluster, "squeue")?;
        let sbatch = sbatch_process(cluster.config_path(), &cluster.dir)?;
        let level = measure(
            size,
            missing,
            fill_ms,
            memory,
            &mut squeue,
            sbatch,
            cluster.repeat,
        )?;
        present += cluster.repeat;
        levels.push(level);
    }
    cluster.write_report(
        "queue",
        "",
        report_body(args, cluster.repeat, "client API", &levels),
    )?;
    Ok(0)
}

/// The same on Slurm.
pub fn run_slurm(slurm: &Slurm, args: &Args) -> anyhow::Result<u8> {
    check_sizes(&args.sizes)?;
    println!(
        "queue (Slurm {}): sizes {:?} held jobs, {} squeue and sbatch processes each, filled by {} sbatch processes at once",
        slurm.version(),
        args.sizes,
        slurm.repeat,
        args.submitters
    );
    slurm.cancel_all()?;
    wait_slurm_empty(slurm)?;
    let mut present = 0;
    let mut levels = Vec::new();
    let result = (|| -> anyhow::Result<()> {
        for &size in &args.sizes {
            let missing = size.saturating_sub(present);
            let started = Instant::now();
            slurm.parallel_sbatch(&SBATCH_ARGUMENTS, missing, args.submitters)?;
            let fill_ms = milliseconds(started.elapsed());
            present += missing;
            println!(
                "filled to {size} in {:.1} s ({:.0} jobs/s)",
                fill_ms / 1_000.0,
                missing as f64 / (fill_ms / 1_000.0)
            );
            std::thread::sleep(Duration::from_millis(SETTLE_MS));
            let pid = slurm.controller_pid()?;
            let memory = vec![Memory {
                name: format!("slurmctld (pid {pid})"),
                leader: true,
                rss_bytes: rss_bytes(pid)?,
            }];
            let mut squeue = slurm.command("squeue");
            squeue.stdout(Stdio::piped());
            let sbatch = slurm.sbatch(&SBATCH_ARGUMENTS);
            let level = measure(
                size,
                missing,
                fill_ms,
                memory,
                &mut squeue,
                sbatch,
                slurm.repeat,
            )?;
            present += slurm.repeat;
            levels.push(level);
        }
        Ok(())
    })();
    if !levels.is_empty() {
        slurm.write_report(
            "queue",
            "",
            report_body(args, slurm.repeat, "sbatch processes", &levels),
        )?;
    }
    let cancelled = slurm.cancel_all();
    result?;
    cancelled?;
    Ok(0)
}

/// Waits until slurmctld holds no job at all (ended ones leave after MinJobAge).
fn wait_slurm_empty(slurm: &Slurm) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_millis(SLURM_EMPTY_WAIT_MS);
    loop {
        let left = slurm.job_ids("all")?.len();
        if left == 0 {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("slurmctld still holds {left} jobs {SLURM_EMPTY_WAIT_MS} ms after scancel; use a fresh Slurm (slurm-bench.sh stop, start)");
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// Times `repeat` squeue and `repeat` sbatch processes at one size.
fn measure(
    pending: u64,
    filled: u64,
    fill_ms: f64,
    memory: Vec<Memory>,
    squeue: &mut std::process::Command,
    mut sbatch: std::process::Command,
    repeat: u64,
) -> anyhow::Result<Level> {
    let mut squeue_ms = Vec::new();
    let mut squeue_lines = 0;
    for _ in 0..repeat {
        let started = Instant::now();
        let output = squeue.output().context("starting squeue")?;
        squeue_ms.push(milliseconds(started.elapsed()));
        if !output.status.success() {
            bail!(
                "squeue failed ({}): {}",
                output.status,
                String::from_utf8_lossy(&output.stderr).trim()
            );
        }
        squeue_lines = output.stdout.iter().filter(|&&b| b == b'\n').count();
    }
    let sbatch_ms = (0..repeat)
        .map(|_| time_sbatch(&mut sbatch).map(milliseconds))
        .collect::<anyhow::Result<Vec<f64>>>()?;
    let level = Level {
        pending,
        filled,
        fill_ms,
        memory,
        squeue_ms,
        squeue_lines,
        sbatch_ms,
    };
    let squeue = Summary::of(&level.squeue_ms).expect("repeat is at least 1");
    let sbatch = Summary::of(&level.sbatch_ms).expect("repeat is at least 1");
    let memory: Vec<String> = level
        .memory
        .iter()
        .map(|m| {
            format!(
                "{}{} {:.0} MiB",
                m.name,
                if m.leader { " (leader)" } else { "" },
                m.rss_bytes as f64 / 1_048_576.0
            )
        })
        .collect();
    println!(
        "{pending} pending: filled {filled} in {:.1} s; memory {}; squeue median {:.1} ms (min {:.1}, max {:.1}, {} lines); sbatch median {:.1} ms (min {:.1}, max {:.1})",
        fill_ms / 1_000.0,
        memory.join(", "),
        squeue.median,
        squeue.min,
        squeue.max,
        squeue_lines,
        sbatch.median,
        sbatch.min,
        sbatch.max
    );
    Ok(level)
}

/// This executable as `program` (`squeue`), pointed at the cluster by
/// `CORRAL_CONF` alone, its output read.
fn corral_process(cluster: &Cluster, program: &str) -> anyhow::Result<std::process::Command> {
    let exe = std::env::current_exe().context("locating the corral binary")?;
    let mut command = std::process::Command::new(exe);
    command
        .arg0(program)
        .env("CORRAL_CONF", cluster.config_path())
        .env_remove(corral_client::CONTROLLERS_ENV)
        .env_remove(corral_client::TOKEN_ENV)
        .current_dir(&cluster.dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    Ok(command)
}

/// Jobs the cluster already lists (`squeue -h -o %i` lines).
fn count_jobs(cluster: &Cluster) -> anyhow::Result<u64> {
    let mut squeue = corral_process(cluster, "squeue")?;
    squeue.args(["-h", "-o", "%i"]);
    let output = squeue.output().context("starting squeue")?;
    if !output.status.success() {
        bail!(
            "squeue failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    Ok(output.stdout.iter().filter(|&&b| b == b'\n').count() as u64)
}

/// Every controller's resident memory, marking the leader.
async fn corral_memory(
    cluster: &Cluster,
    client: &Arc<corral_client::Client>,
) -> anyhow::Result<Vec<Memory>> {
    let leader = status::leader(status::collect(client.clone()).await).map(|s| s.id);
    let mut memory = Vec::new();
    for controller in &cluster.config.file.controllers {
        let pid_file = cluster
            .dir
            .join(format!("run/controller-{}.pid", controller.id));
        let pid: i32 = std::fs::read_to_string(&pid_file)
            .with_context(|| format!("reading {}", pid_file.display()))?
            .trim()
            .parse()
            .with_context(|| format!("{} holds no process id", pid_file.display()))?;
        memory.push(Memory {
            name: format!("controller-{}", controller.id),
            leader: leader == Some(controller.id),
            rss_bytes: rss_bytes(pid)?,
        });
    }
    Ok(memory)
}

fn report_body(
    args: &Args,
    repeat: u64,
    fill: &str,
    levels: &[Level],
) -> Vec<(&'static str, Json)> {
    let level_json = |level: &Level| {
        Json::object([
            ("pending_jobs", Json::count(level.pending)),
            ("filled_jobs", Json::count(level.filled)),
            ("fill_ms", Json::Number(level.fill_ms)),
            (
                "fill_jobs_per_second",
                Json::Number(level.filled as f64 / (level.fill_ms / 1_000.0)),
            ),
            (
                "leader_rss_bytes",
                level.leader_rss_bytes().map_or(Json::Null, Json::count),
            ),
            (
                "controllers",
                Json::Array(
                    level
                        .memory
                        .iter()
                        .map(|m| {
                            Json::object([
                                ("name", Json::text(&m.name)),
                                ("leader", Json::Bool(m.leader)),
                                ("rss_bytes", Json::count(m.rss_bytes)),
                            ])
                        })
                        .collect(),
                ),
            ),
            ("squeue_ms", Json::numbers(&level.squeue_ms)),
            ("squeue_summary_ms", summary_json(&level.squeue_ms)),
            ("squeue_output_lines", Json::count(level.squeue_lines)),
            ("sbatch_ms", Json::numbers(&level.sbatch_ms)),
            ("sbatch_summary_ms", summary_json(&level.sbatch_ms)),
        ])
    };
    vec![
        (
            "parameters",
            Json::object([
                (
                    "sizes",
                    Json::Array(args.sizes.iter().map(|s| Json::count(*s)).collect()),
                ),
                ("repeat", Json::count(repeat)),
                ("fill", Json::text(fill)),
                ("fill_tasks", Json::count(args.fill_tasks)),
                ("submitters", Json::count(args.submitters)),
                ("squeue", Json::text("squeue (default format, every job)")),
                ("command", Json::text("sbatch --hold --wrap true")),
            ]),
        ),
        ("runs", Json::Array(levels.iter().map(level_json).collect())),
        (
            "summary",
            Json::Array(
                levels
                    .iter()
                    .map(|level| {
                        Json::object([
                            ("pending_jobs", Json::count(level.pending)),
                            (
                                "leader_rss_bytes",
                                level.leader_rss_bytes().map_or(Json::Null, Json::count),
                            ),
                            ("squeue_ms", summary_json(&level.squeue_ms)),
                            ("sbatch_ms", summary_json(&level.sbatch_ms)),
                        ])
                    })
                    .collect(),
            ),
        ),
    ]
}
