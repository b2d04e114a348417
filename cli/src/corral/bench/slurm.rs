//! Real Slurm beside Corral: the benchmarks' workloads against a running
//! Slurm (`--slurm-conf PATH`), with the same code and report format.
//!
//! The Slurm is one started by `scripts/slurm-bench/slurm-bench.sh` (or any
//! other): the benchmark only runs Slurm's own commands (`/usr/bin/sbatch`,
//! `/usr/bin/squeue`, `/usr/bin/scancel`) with `SLURM_CONF` set to PATH, in
//! `jobs/` next to PATH, and reads slurmctld's memory from `/proc` through
//! the `SlurmctldPidFile` of PATH. `--dir` is then only where the report
//! goes (`DIR/bench-<name>-slurm.json`); no Corral cluster is created.

use std::collections::BTreeSet;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::{bail, Context};

use super::report::{self, Json};
use super::Options;

/// Where the Slurm commands are: Debian's packages.
const SLURM_BIN: &str = "/usr/bin";

/// A running Slurm the benchmark submits to.
pub struct Slurm {
    /// The `slurm.conf`, given as `SLURM_CONF` to every command.
    pub conf: PathBuf,
    /// Where jobs are submitted from (their `slurm-<id>.out` files go there).
    pub work_dir: PathBuf,
    /// Where the report goes.
    pub dir: PathBuf,
    pub repeat: u64,
    out: Option<PathBuf>,
}

impl Slurm {
    /// Checks that `conf` is a readable file and that Slurm answers `squeue`.
    pub fn open(options: &Options, conf: &Path) -> anyhow::Result<Slurm> {
        let conf = std::fs::canonicalize(conf)
            .with_context(|| format!("--slurm-conf {}", conf.display()))?;
        std::fs::read_to_string(&conf)
            .with_context(|| format!("--slurm-conf {}: reading it", conf.display()))?;
        let work_dir = conf.parent().unwrap_or(Path::new("/")).join("jobs");
        std::fs::create_dir_all(&work_dir)
            .with_context(|| format!("creating {}", work_dir.display()))?;
        std::fs::create_dir_all(&options.dir)
            .with_context(|| format!("creating {}", options.dir.display()))?;
        let slurm = Slurm {
            conf,
            work_dir,
            dir: options.dir.clone(),
            repeat: options.repeat,
            out: options.out.clone(),
        };
        let output = slurm
            .command("squeue")
            .args(["-h", "-o", "%i"])
            .output()
            .with_context(|| format!("running {SLURM_BIN}/squeue (is Slurm installed?)"))?;
        if !output.status.success() {
            bail!(
                "squeue with SLURM_CONF={} failed ({}): {}; is this Slurm running (scripts/slurm-bench/slurm-bench.sh start DIR)?",
                slurm.conf.display(),
                output.status,
                String::from_utf8_lossy(&output.stderr).trim()
            );
        }
        Ok(slurm)
    }

    /// `/usr/bin/<program>` pointed at this Slurm, run in the jobs directory,
    /// stdin closed, stdout discarded and stderr captured.
    pub fn command(&self, program: &str) -> std::process::Command {
        let mut command = std::process::Command::new(Path::new(SLURM_BIN).join(program));
        command
            .arg0(program)
            .env("SLURM_CONF", &self.conf)
            .current_dir(&self.work_dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        command
    }

    /// `sbatch ARGS` for this Slurm.
    pub fn sbatch(&self, args: &[&str]) -> std::process::Command {
        let mut command = self.command("sbatch");
        command.args(args);
        command
    }

    /// The ids of every job slurmctld still holds in the given states
    /// (`squeue -h -t STATES -o %i`).
    pub fn job_ids(&self, states: &str) -> anyhow::Result<BTreeSet<u32>> {
        let output = self
            .command("squeue")
            .args(["-h", "-t", states, "-o", "%i"])
            .stdout(Stdio::piped())
            .output()
            .context("running squeue")?;
        if !output.status.success() {
            bail!(
                "squeue failed ({}): {}",
                output.status,
                String::from_utf8_lossy(&output.stderr).trim()
            );
        }
        String::from_utf8_lossy(&output.stdout)
            .lines()
            .map(|line| {
                line.trim()
                    .parse()
                    .with_context(|| format!("squeue printed {line:?}, not a job id"))
            })
            .collect()
    }

    /// Cancels every job of this user (`scancel --user $USER`): the
    /// benchmark's jobs.
    pub fn cancel_all(&self) -> anyhow::Result<()> {
        let user = std::env::var("USER").unwrap_or_else(|_| "root".to_string());
        let output = self
            .command("scancel")
            .args(["--user", &user])
            .output()
            .context("running scancel")?;
        if !output.status.success() {
            bail!(
                "scancel failed ({}): {}",
                output.status,
                String::from_utf8_lossy(&output.stderr).trim()
            );
        }
        Ok(())
    }

    /// Submits `jobs` jobs with `workers` threads, each running `sbatch
    /// --parsable ARGS` processes one after another; returns the job ids.
    pub fn parallel_sbatch(
        &self,
        args: &[&str],
        jobs: u64,
        workers: u64,
    ) -> anyhow::Result<Vec<u32>> {
        let taken = AtomicU64::new(0);
        std::thread::scope(|scope| {
            let handles: Vec<_> = (0..workers.min(jobs))
                .map(|_| {
                    scope.spawn(|| -> anyhow::Result<Vec<u32>> {
                        let mut sbatch = self.sbatch(&[&["--parsable"], args].concat());
                        sbatch.stdout(Stdio::piped());
                        let mut ids = Vec::new();
                        while taken.fetch_add(1, Ordering::Relaxed) < jobs {
                            let output = sbatch.output().context("starting sbatch")?;
                            if !output.status.success() {
                                bail!(
                                    "sbatch failed ({}): {}",
                                    output.status,
                                    String::from_utf8_lossy(&output.stderr).trim()
                                );
                            }
                            ids.push(parsable_job_id(&output.stdout)?);
                        }
                        Ok(ids)
                    })
                })
                .collect();
            let mut ids = Vec::with_capacity(jobs as usize);
            for handle in handles {
                ids.extend(handle.join().expect("sbatch worker panicked")?);
            }
            Ok(ids)
        })
    }

    /// A setting of the configuration file.
    pub fn conf_value(&self, key: &str) -> anyhow::Result<Option<String>> {
        let text = std::fs::read_to_string(&self.conf)
            .with_context(|| format!("reading {}", self.conf.display()))?;
        Ok(conf_value(&text, key))
    }

    /// `SlurmctldPidFile` of the configuration (Slurm's default when unset).
    pub fn controller_pid(&self) -> anyhow::Result<i32> {
        let pid_file = self
            .conf_value("SlurmctldPidFile")?
            .unwrap_or_else(|| "/var/run/slurmctld.pid".to_string());
        let pid = std::fs::read_to_string(&pid_file)
            .with_context(|| format!("reading SlurmctldPidFile {pid_file}"))?;
        pid.trim()
            .parse()
            .with_context(|| format!("{pid_file} holds {pid:?}, not a process id"))
    }

    /// `sinfo -V`: e.g. `slurm 22.05.8`.
    pub fn version(&self) -> String {
        self.command("sinfo")
            .arg("-V")
            .stdout(Stdio::piped())
            .output()
            .map(|output| String::from_utf8_lossy(&output.stdout).trim().to_string())
            .unwrap_or_default()
    }

    /// Writes the report of `benchmark` as [`super::Cluster::write_report`]
    /// does, with `system: slurm` and `-slurm` in the default file name.
    pub fn write_report(
        &self,
        benchmark: &str,
        suffix: &str,
        body: Vec<(&str, Json)>,
    ) -> anyhow::Result<()> {
        let path = self.out.clone().unwrap_or_else(|| {
            self.dir
                .join(format!("bench-{benchmark}{suffix}-slurm.json"))
        });
        let cluster = Json::object([
            ("slurm_conf", Json::text(self.conf.display())),
            ("slurm_version", Json::text(self.version())),
        ]);
        report::write_for(&path, "slurm", benchmark, cluster, body)?;
        println!("report: {}", path.display());
        Ok(())
    }
}

/// Opens the Slurm of `conf` (given, as the guard of the caller's match
/// arm checked) and runs `benchmark` against it.
pub fn with_slurm(
    options: &Options,
    conf: &Option<PathBuf>,
    benchmark: impl FnOnce(&Slurm) -> anyhow::Result<u8>,
) -> anyhow::Result<u8> {
    let conf = conf.as_deref().context("no --slurm-conf")?;
    benchmark(&Slurm::open(options, conf)?)
}

/// The value of `key` in a `slurm.conf` (keys are case-insensitive, the
/// last setting wins, `#` starts a comment).
fn conf_value(text: &str, key: &str) -> Option<String> {
    text.lines()
        .map(|line| line.split('#').next().unwrap_or("").trim())
        .filter_map(|line| line.split_once('='))
        .filter(|(name, _)| name.trim().eq_ignore_ascii_case(key))
        .map(|(_, value)| value.trim().to_string())
        .next_back()
}

/// Resident memory of a process (`VmRSS` in `/proc/PID/status`), in bytes.
pub fn rss_bytes(pid: i32) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .with_context(|| format!("reading /proc/{pid}/status"))?;
    let line = status
        .lines()
        .find(|line| line.starts_with("VmRSS:"))
        .with_context(|| format!("no VmRSS in /proc/{pid}/status"))?;
    let kibibytes: u64 = line
        .split_whitespace()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .with_context(|| format!("/proc/{pid}/status: {line:?}"))?;
    Ok(kibibytes * 1024)
}

/// The job id `sbatch --parsable` printed (`ID` or `ID;CLUSTER`).
pub fn parsable_job_id(stdout: &[u8]) -> anyhow::Result<u32> {
    let text = String::from_utf8_lossy(stdout);
    let id = text.trim().split(';').next().unwrap_or("");
    id.parse()
        .with_context(|| format!("sbatch --parsable printed {:?}, not a job id", text.trim()))
}

#[cfg(test)]
mod tests {
    use super::{conf_value, parsable_job_id};

    #[test]
    fn reads_slurm_conf_values() {
        let text = "# SlurmctldPidFile=/nope\nslurmctldpidfile = /a/b.pid # here\nSlurmdPort=1\n";
        assert_eq!(
            conf_value(text, "SlurmctldPidFile").as_deref(),
            Some("/a/b.pid")
        );
        assert_eq!(conf_value(text, "StateSaveLocation"), None);
    }

    #[test]
    fn reads_parsable_job_ids() {
        assert_eq!(parsable_job_id(b"42\n").unwrap(), 42);
        assert_eq!(parsable_job_id(b"7;corral\n").unwrap(), 7);
        assert!(parsable_job_id(b"Submitted batch job 3\n").is_err());
    }
}
