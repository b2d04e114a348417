//! What the benchmarks submit, two ways: `sbatch --hold --wrap true` as a
//! whole process, and the same job through the client API.

use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context};
use corral_client::{Client, ClientSettings, ClientTls, ControllerAddress};
use corral_config::Config;
use corral_proto as wire;
use corral_slurm::sbatch::{build_request, parse_command_line, Clock, Invocation, ScriptSource};

/// The arguments of every benchmark submission: a held job nothing would run.
pub const SBATCH_ARGUMENTS: [&str; 3] = ["--hold", "--wrap", "true"];

/// `sbatch --hold --wrap true` as this executable called `sbatch`, pointed at
/// the cluster by `CORRAL_CONF` alone, run in the cluster's directory.
pub fn sbatch_process(
    config_path: &Path,
    work_dir: &Path,
) -> anyhow::Result<std::process::Command> {
    let exe = std::env::current_exe().context("locating the corral binary")?;
    let mut command = std::process::Command::new(exe);
    command
        .arg0("sbatch")
        .args(SBATCH_ARGUMENTS)
        .env("CORRAL_CONF", config_path)
        .env_remove(corral_client::CONTROLLERS_ENV)
        .env_remove(corral_client::TOKEN_ENV)
        .current_dir(work_dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    Ok(command)
}

/// Runs one sbatch process and returns how long it took from spawn to exit.
/// A failed submission is an error carrying sbatch's own message.
pub fn time_sbatch(command: &mut std::process::Command) -> anyhow::Result<Duration> {
    let started = Instant::now();
    let output = command.output().context("starting sbatch")?;
    let elapsed = started.elapsed();
    if !output.status.success() {
        bail!(
            "sbatch failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    Ok(elapsed)
}

/// The job sbatch would submit for [`SBATCH_ARGUMENTS`] from this process
/// (same environment plus `CORRAL_CONF`, submitted from `work_dir`), built by
/// the same functions sbatch uses.
pub fn held_job_spec(config_path: &Path, work_dir: &Path) -> anyhow::Result<wire::JobSpec> {
    let argv: Vec<String> = std::iter::once("sbatch")
        .chain(SBATCH_ARGUMENTS)
        .map(String::from)
        .collect();
    let slurm_error = |error: corral_slurm::SlurmError| anyhow::anyhow!(error.stderr_text());
    let Invocation::Submit(command_line) = parse_command_line(&argv).map_err(slurm_error)? else {
        bail!("sbatch {SBATCH_ARGUMENTS:?} does not submit");
    };
    let ScriptSource::Wrapped(script) = command_line.script_source() else {
        bail!("sbatch {SBATCH_ARGUMENTS:?} reads no wrapped script");
    };
    let mut environment: Vec<(String, String)> = std::env::vars()
        .filter(|(name, _)| {
            name != corral_client::CONTROLLERS_ENV && name != corral_client::TOKEN_ENV
        })
        .collect();
    environment.push(("CORRAL_CONF".to_string(), config_path.display().to_string()));
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_millis() as u64);
    let clock = Clock {
        now_ms,
        utc_offset_seconds: 0,
    };
    let request = build_request(&command_line, &environment, script, clock).map_err(slurm_error)?;
    let spec = request.to_job_spec(&work_dir.display().to_string(), environment, &host_name());
    Ok(wire::JobSpec::from(&spec))
}

/// This machine's name, as sbatch records the submit host.
fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|name| name.trim().to_string())
        .unwrap_or_else(|_| "localhost".to_string())
}

/// Request ids unique across processes and runs: process id and start time,
/// then a counter.
pub struct RequestIds {
    prefix: String,
    next: AtomicU64,
}

impl RequestIds {
    pub fn new() -> RequestIds {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        RequestIds {
            prefix: format!("bench-{:x}-{nanos:x}", std::process::id()),
            next: AtomicU64::new(0),
        }
    }

    pub fn next(&self) -> String {
        format!(
            "{}-{}",
            self.prefix,
            self.next.fetch_add(1, Ordering::Relaxed)
        )
    }
}

/// A client of the dev cluster with its own connections. The controllers are
/// the ones in the cluster's file even when `CORRAL_CONTROLLERS` is set, since
/// the benchmark kills and starts exactly those.
pub fn cluster_client(config: &Config) -> anyhow::Result<Arc<Client>> {
    let mut settings = ClientSettings::from_config(config)?;
    settings.controllers = config
        .file
        .controllers
        .iter()
        .map(|c| ControllerAddress {
            id: Some(c.id),
            name: c.display_name(),
            address: c.address.clone(),
        })
        .collect();
    let tls = ClientTls {
        ca_pem: std::fs::read(&settings.ca_file)
            .with_context(|| format!("{}", settings.ca_file.display()))?,
        identity_pem: None,
    };
    Ok(Arc::new(Client::new(settings, tls)))
}

/// Submits `spec` under `request_id` through the retry loop; returns the job
/// id once the submission is committed and applied.
pub async fn submit(
    client: &Client,
    spec: &wire::JobSpec,
    request_id: String,
) -> anyhow::Result<u32> {
    let request = wire::SubmitJobRequest {
        request_id,
        spec: Some(spec.clone()),
    };
    let reply = client
        .call(request, |mut c, r| async move { c.submit_job(r).await })
        .await?;
    match reply.result {
        Some(wire::submit_job_reply::Result::JobId(job_id)) => Ok(job_id),
        Some(wire::submit_job_reply::Result::Rejection(rejection)) => {
            bail!("submission rejected: {}", rejection.message)
        }
        None => bail!("submission answered without a job id"),
    }
}
