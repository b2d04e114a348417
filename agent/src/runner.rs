//! The agent's side of running jobs: record a launch, start its
//! supervisor, pass on cancels and signals, and collect the ends the
//! supervisors record, until the controller has them.
//!
//! A `Runner` keeps nothing in memory that the spool does not hold: a new
//! one on the same state directory (after the agent restarted) knows every
//! job the old one launched. Its methods do blocking file I/O (with fsync);
//! call them from a blocking thread in an async agent.

use std::collections::BTreeSet;
use std::ffi::OsString;
use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::os::unix::io::AsRawFd;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime};

use corral_state::{AllocationId, ExitStatus, FinishCause, JobId};

use crate::journal::{
    self, create_dir_durably, EndRecord, JournalError, LaunchKey, LaunchRecord, Spool,
    SupervisorRecord, ACKNOWLEDGED_FILE, CANCEL_FILE, END_FILE, JOBS_DIR, LAUNCH_FILE, LOCK_FILE,
    REFUSED_FILE, SUPERVISOR_LOG_FILE,
};
use crate::launch::LaunchRequest;
use crate::supervisor::{KILL_WAIT_MS, LAUNCH_FAILED_STATUS};
use crate::time_limit::{self, TimeLimitRecord};

/// How long the agent waits for a new supervisor to take its launch.
pub const SUPERVISOR_START_TIMEOUT_MS: u64 = 10_000;
/// How long `Runner::open` waits for the state directory's lock by default.
pub const LOCK_WAIT_MS: u64 = 2_000;
/// The length of a minute of time limit; shorter only in tests.
pub const MINUTE_MS: u64 = 60_000;
/// What a job whose supervisor vanished after starting it is reported as:
/// killed (the node rebooted, or the supervisor was killed and the agent
/// killed what was left of the job).
pub const VANISHED_STATUS: ExitStatus = ExitStatus {
    code: 0,
    signal: libc::SIGKILL as u8,
};

#[derive(Clone, Debug)]
pub struct RunnerConfig {
    /// The agent's state directory; job spools live in `jobs/` under it.
    /// Job users must be able to search it (mode 0711 or 0755 when the
    /// agent runs as root), as with Slurm's `SlurmdSpoolDir`.
    pub state_dir: PathBuf,
    /// The supervisor program and its first arguments; `--spool DIR` is
    /// appended. Default: this executable, `job-supervisor`.
    pub supervisor_program: PathBuf,
    pub supervisor_arguments: Vec<OsString>,
    /// The program that runs a step part's tasks as the job's user, and
    /// its first arguments. Default: this executable, `step-tasks`.
    pub step_program: PathBuf,
    pub step_arguments: Vec<OsString>,
    /// Time between SIGTERM and SIGKILL (Slurm's `KillWait`) for requests
    /// that do not give their own.
    pub kill_wait_ms: u64,
    /// The length of one minute of time limit ([`MINUTE_MS`]).
    pub minute_ms: u64,
    /// How long `Runner::open` waits for the state directory's lock.
    pub lock_wait_ms: u64,
}

impl RunnerConfig {
    pub fn new(state_dir: impl Into<PathBuf>) -> io::Result<RunnerConfig> {
        Ok(RunnerConfig {
            state_dir: state_dir.into(),
            supervisor_program: std::env::current_exe()?,
            supervisor_arguments: vec![OsString::from("job-supervisor")],
            step_program: std::env::current_exe()?,
            step_arguments: vec![OsString::from("step-tasks")],
            kill_wait_ms: KILL_WAIT_MS,
            minute_ms: MINUTE_MS,
            lock_wait_ms: LOCK_WAIT_MS,
        })
    }
}

/// What of the batch script `scancel --signal` reaches.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BatchTarget {
    /// Its process group: the shell and its children (`--full`).
    Group,
    /// The shell alone (`--batch`, or a job without steps).
    Shell,
    /// Not the batch script (only its steps).
    None,
}

/// What `launch` did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Launched {
    /// Recorded, and a supervisor took it.
    Started,
    /// This job and allocation were launched here before: nothing started.
    AlreadyLaunched,
}

/// A job (or a step part) whose end is recorded and not yet acknowledged.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FinishedJob {
    pub job_id: JobId,
    pub allocation_id: AllocationId,
    /// `Some`: this node's part of that step ended, not the batch script.
    pub step: Option<u32>,
    pub exit_status: ExitStatus,
    pub cause: FinishCause,
    /// Why, when it is not the script's own end (a launch failure).
    pub detail: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum LaunchError {
    /// Nothing was started (the request may or may not be recorded; a
    /// retry is safe either way).
    #[error(transparent)]
    Journal(#[from] JournalError),
    /// The request is recorded, no supervisor took it, and its end is
    /// recorded as a launch failure, which `finished` reports.
    #[error("job {job_id} allocation {allocation_id}: the supervisor did not start ({reason}); recorded as a failed launch")]
    SupervisorDidNotStart {
        job_id: JobId,
        allocation_id: AllocationId,
        reason: String,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum RunnerError {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error("{0}: another agent uses this state directory")]
    Locked(PathBuf),
    #[error(transparent)]
    Journal(#[from] JournalError),
    #[error("{key} was never launched on this node")]
    UnknownJob { key: LaunchKey },
    #[error("job {job_id} allocation {allocation_id} is not running")]
    NotRunning {
        job_id: JobId,
        allocation_id: AllocationId,
    },
    #[error("{key} has not ended")]
    NotFinished { key: LaunchKey },
    #[error("cannot send signal {signal} to job {job_id}: {source}")]
    Signal {
        job_id: JobId,
        signal: i32,
        source: io::Error,
    },
}

fn io_error(path: &Path) -> impl FnOnce(io::Error) -> RunnerError + '_ {
    move |source| RunnerError::Io {
        path: path.to_path_buf(),
        source,
    }
}

pub struct Runner {
    config: RunnerConfig,
    jobs_dir: PathBuf,
    /// Holds the state directory's lock for as long as the runner lives.
    _lock: File,
    /// Launches and the sweep for abandoned launches exclude each other.
    journal: Mutex<()>,
    /// The launches not acknowledged yet: the only spools `finished`,
    /// `active` and the sweep look at, so their cost follows the jobs in
    /// flight, not every job the node ever ran.
    unacknowledged: Mutex<BTreeSet<LaunchKey>>,
}

impl Runner {
    /// Opens (creating if need be) the state directory, takes its lock,
    /// and adopts every job launched there before: running jobs keep
    /// running; ends recorded meanwhile are found; launches whose
    /// supervisor vanished get an end (see [`Runner::finished`]).
    pub fn open(mut config: RunnerConfig) -> Result<Runner, RunnerError> {
        fs::create_dir_all(&config.state_dir).map_err(io_error(&config.state_dir))?;
        // Supervisors work from `/`: they get absolute spool paths.
        config.state_dir =
            fs::canonicalize(&config.state_dir).map_err(io_error(&config.state_dir))?;
        let lock_path = config.state_dir.join(LOCK_FILE);
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(0o600)
            .open(&lock_path)
            .map_err(io_error(&lock_path))?;
        lock_exclusively(&lock, config.lock_wait_ms)
            .map_err(|()| RunnerError::Locked(config.state_dir.clone()))?;
        let jobs_dir = config.state_dir.join(JOBS_DIR);
        create_dir_durably(&jobs_dir, 0o711)?;
        fs::set_permissions(&jobs_dir, fs::Permissions::from_mode(0o711))
            .map_err(io_error(&jobs_dir))?;
        warn_unless_searchable(&config.state_dir);
        let runner = Runner {
            config,
            jobs_dir,
            _lock: lock,
            journal: Mutex::new(()),
            unacknowledged: Mutex::new(BTreeSet::new()),
        };
        let unacknowledged: BTreeSet<LaunchKey> = runner
            .all_spools()?
            .into_iter()
            .filter(|spool| !spool.has(ACKNOWLEDGED_FILE))
            .map(|spool| spool.key())
            .collect();
        *runner.unacknowledged.lock().expect("poisoned") = unacknowledged;
        let active = runner.active()?;
        let finished = runner.finished()?;
        tracing::info!(
            running = active.len(),
            ended_unreported = finished.len(),
            state_dir = %runner.config.state_dir.display(),
            "job runner adopted the jobs of its state directory"
        );
        Ok(runner)
    }

    /// Starts `request`'s script at most once: the request is recorded
    /// durably first, and a job and allocation recorded before (by this
    /// agent or an earlier one) starts nothing.
    pub fn launch(&self, request: &LaunchRequest) -> Result<Launched, LaunchError> {
        let _journal = self.lock_journal();
        let key = request.key();
        let spool = Spool::for_key(&self.jobs_dir, key);
        create_dir_durably(&spool.dir, 0o711)?;
        if spool.has(LAUNCH_FILE) || spool.has(REFUSED_FILE) {
            return Ok(Launched::AlreadyLaunched);
        }
        let recorded_at_ms = journal::now_ms();
        let step_program = match request.step {
            None => Vec::new(),
            Some(_) => std::iter::once(self.config.step_program.as_os_str())
                .chain(self.config.step_arguments.iter().map(|a| a.as_os_str()))
                .map(|part| part.to_string_lossy().into_owned())
                .collect(),
        };
        let record = LaunchRecord {
            request: request.clone(),
            time_limit_ms: self.time_limit_ms(request, recorded_at_ms),
            kill_wait_ms: request.kill_wait_ms.unwrap_or(self.config.kill_wait_ms),
            recorded_at_ms,
            step_program,
        };
        journal::write_durably(&spool.dir, LAUNCH_FILE, &journal::to_json(&record)?, 0o600)?;
        self.unacknowledged.lock().expect("poisoned").insert(key);
        match self.start_supervisor(&spool) {
            Ok(()) => {
                tracing::info!(launch = %key, "launched");
                Ok(Launched::Started)
            }
            Err(reason) => {
                let reason = format!("the supervisor did not start: {reason}");
                if abandon(&spool, &reason)? {
                    tracing::error!(launch = %key, "{reason}");
                    return Err(LaunchError::SupervisorDidNotStart {
                        job_id: request.job_id,
                        allocation_id: request.allocation_id,
                        reason,
                    });
                }
                // The supervisor took it after all.
                Ok(Launched::Started)
            }
        }
    }

    /// Spawns the supervisor and waits (bounded) until it has claimed the
    /// launch or given up. `Err`: no supervisor record was published.
    fn start_supervisor(&self, spool: &Spool) -> Result<(), String> {
        let log_path = spool.path(SUPERVISOR_LOG_FILE);
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(&log_path)
            .map_err(|e| format!("{}: {e}", log_path.display()))?;
        let log_copy = log.try_clone().map_err(|e| e.to_string())?;
        let mut child = Command::new(&self.config.supervisor_program)
            .args(&self.config.supervisor_arguments)
            .arg("--spool")
            .arg(&spool.dir)
            .stdin(Stdio::null())
            .stdout(log_copy)
            .stderr(log)
            // Out of the agent's process group: a ^C to the agent is not for it.
            .process_group(0)
            .spawn()
            .map_err(|e| format!("{}: {e}", self.config.supervisor_program.display()))?;
        let deadline = Instant::now() + Duration::from_millis(SUPERVISOR_START_TIMEOUT_MS);
        let status = loop {
            match child.try_wait() {
                Ok(Some(status)) => break Some(status),
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(2))
                }
                _ => {
                    let _ = child.kill();
                    let _ = child.wait();
                    break None;
                }
            }
        };
        match spool.supervisor() {
            Ok(Some(SupervisorRecord::Running(_))) => Ok(()),
            _ => Err(match status {
                Some(status) => format!("it exited with {status}"),
                None => format!("it did not answer within {SUPERVISOR_START_TIMEOUT_MS} ms"),
            }),
        }
    }

    /// Cancels a job: the supervisor sends SIGCONT and SIGTERM to its
    /// process group, SIGKILL after the kill wait, and records the cause
    /// `Cancelled`. The cancel is recorded first, so it holds across
    /// restarts; a job that already ended is left as it ended.
    pub fn cancel(&self, job_id: JobId, allocation_id: AllocationId) -> Result<(), RunnerError> {
        self.cancel_launch(LaunchKey::batch(job_id, allocation_id))
    }

    /// [`Runner::cancel`] of a batch launch or a step part.
    pub fn cancel_launch(&self, key: LaunchKey) -> Result<(), RunnerError> {
        let spool = self.existing(key)?;
        if spool.has(END_FILE) {
            return Ok(());
        }
        spool.mark(CANCEL_FILE)?;
        match spool.supervisor()? {
            Some(SupervisorRecord::Running(supervisor)) if supervisor.is_alive() => {
                // SAFETY: kill has no memory-safety preconditions.
                unsafe { libc::kill(supervisor.pid, libc::SIGUSR1) };
            }
            // Nobody supervises it: settle it now (kills what is left).
            _ => self.sweep()?,
        }
        tracing::info!(launch = %key, "cancel delivered to the supervisor");
        Ok(())
    }

    /// Makes sure a job this node never launched never starts here: a job
    /// cancelled before its launch arrived (the leader changed in between)
    /// has nothing to kill, and a late launch of it must run nothing.
    /// Durable before it returns. `false` when the job was launched here
    /// after all (cancel it instead).
    pub fn refuse(&self, job_id: JobId, allocation_id: AllocationId) -> Result<bool, RunnerError> {
        let _journal = self.lock_journal();
        let spool = Spool::new(&self.jobs_dir, job_id, allocation_id);
        if spool.has(LAUNCH_FILE) {
            return Ok(false);
        }
        create_dir_durably(&spool.dir, 0o711)?;
        journal::write_durably(
            &spool.dir,
            REFUSED_FILE,
            b"cancelled before its launch arrived\n",
            0o600,
        )?;
        tracing::info!(job = job_id, allocation = %allocation_id, "cancelled before its launch arrived; it will not start here");
        Ok(true)
    }

    /// Sends `signal` to the job's process group (`scancel --signal`).
    pub fn signal(
        &self,
        job_id: JobId,
        allocation_id: AllocationId,
        signal: i32,
    ) -> Result<(), RunnerError> {
        self.signal_launch(LaunchKey::batch(job_id, allocation_id), signal, true)
    }

    /// `scancel --signal` on this node: the batch script (its process
    /// group, its shell alone, or not at all) and, with `steps`, the
    /// process group of each of the job's step parts running here (the
    /// task launcher ignores the signal; its tasks get it). The first
    /// failure is returned after every delivery was tried.
    pub fn signal_parts(
        &self,
        job_id: JobId,
        allocation_id: AllocationId,
        signal: i32,
        batch: BatchTarget,
        steps: bool,
    ) -> Result<(), RunnerError> {
        let mut result = match batch {
            BatchTarget::Group => self.signal(job_id, allocation_id, signal),
            BatchTarget::Shell => {
                self.signal_launch(LaunchKey::batch(job_id, allocation_id), signal, false)
            }
            BatchTarget::None => Ok(()),
        };
        if steps {
            for (job, allocation, step) in self.active_steps()? {
                if (job, allocation) != (job_id, allocation_id) {
                    continue;
                }
                let delivered =
                    self.signal_launch(LaunchKey::step(job, allocation, step), signal, true);
                if result.is_ok() {
                    result = delivered;
                }
            }
        }
        result
    }

    /// Sends `signal` to a running launch's process group, or to the
    /// process it started alone.
    fn signal_launch(
        &self,
        key: LaunchKey,
        signal: i32,
        whole_group: bool,
    ) -> Result<(), RunnerError> {
        let (job_id, allocation_id) = (key.job_id, key.allocation_id);
        let spool = self.existing(key)?;
        let not_running = RunnerError::NotRunning {
            job_id,
            allocation_id,
        };
        if spool.has(END_FILE) {
            return Err(not_running);
        }
        let Some(job) = spool.job()? else {
            return Err(not_running);
        };
        let target = if whole_group {
            -job.process_group
        } else {
            job.process.pid
        };
        // SAFETY: kill has no memory-safety preconditions.
        if unsafe { libc::kill(target, signal) } != 0 {
            let error = io::Error::last_os_error();
            if error.raw_os_error() == Some(libc::ESRCH) {
                return Err(not_running);
            }
            return Err(RunnerError::Signal {
                job_id,
                signal,
                source: error,
            });
        }
        Ok(())
    }

    /// Records a running job's new time limit (`version`: the state's
    /// count of changes; an older or repeated one changes nothing) and
    /// wakes its supervisor to enforce it. A job that has ended, or is not
    /// known here, has no limit to change: `Ok`.
    pub fn set_time_limit(
        &self,
        job_id: JobId,
        allocation_id: AllocationId,
        time_limit_minutes: Option<u32>,
        version: u32,
    ) -> Result<(), RunnerError> {
        let _journal = self.lock_journal();
        let spool = match self.existing(LaunchKey::batch(job_id, allocation_id)) {
            Ok(spool) => spool,
            Err(RunnerError::UnknownJob { .. }) => return Ok(()),
            Err(error) => return Err(error),
        };
        if spool.has(END_FILE) {
            return Ok(());
        }
        let record = TimeLimitRecord {
            version,
            time_limit_ms: time_limit_minutes.map(|m| u64::from(m) * self.config.minute_ms),
        };
        if !time_limit::record(&spool, record)? {
            return Ok(());
        }
        if let Some(SupervisorRecord::Running(supervisor)) = spool.supervisor()? {
            if supervisor.is_alive() {
                // SAFETY: kill has no memory-safety preconditions.
                unsafe { libc::kill(supervisor.pid, libc::SIGUSR1) };
            }
        }
        tracing::info!(job = job_id, allocation = %allocation_id, ?time_limit_minutes, version, "time limit changed");
        Ok(())
    }

    /// Jobs whose end is recorded and not yet acknowledged, by job and
    /// allocation id. Also settles launches whose supervisor vanished.
    pub fn finished(&self) -> Result<Vec<FinishedJob>, RunnerError> {
        self.sweep()?;
        let mut finished = Vec::new();
        for spool in self.spools()? {
            if spool.has(ACKNOWLEDGED_FILE) {
                continue;
            }
            match spool.end() {
                Ok(Some(end)) => finished.push(FinishedJob {
                    job_id: spool.job_id,
                    allocation_id: spool.allocation_id,
                    step: spool.step,
                    exit_status: end.exit_status,
                    cause: end.cause,
                    detail: end.detail,
                }),
                Ok(None) => {}
                Err(error) => tracing::warn!("{error}"),
            }
        }
        Ok(finished)
    }

    /// Marks a job's end as reported (durably): `finished` no longer lists it.
    pub fn acknowledge(
        &self,
        job_id: JobId,
        allocation_id: AllocationId,
    ) -> Result<(), RunnerError> {
        self.acknowledge_launch(LaunchKey::batch(job_id, allocation_id))
    }

    /// [`Runner::acknowledge`] of a batch launch or a step part.
    pub fn acknowledge_launch(&self, key: LaunchKey) -> Result<(), RunnerError> {
        let spool = self.existing(key)?;
        if !spool.has(END_FILE) {
            return Err(RunnerError::NotFinished { key });
        }
        spool.mark(ACKNOWLEDGED_FILE)?;
        self.unacknowledged.lock().expect("poisoned").remove(&key);
        Ok(())
    }

    /// Jobs launched here whose end is not recorded yet.
    pub fn active(&self) -> Result<Vec<(JobId, AllocationId)>, RunnerError> {
        Ok(self
            .active_launches()?
            .into_iter()
            .filter(|key| key.step.is_none())
            .map(|key| (key.job_id, key.allocation_id))
            .collect())
    }

    /// Step parts launched here whose end is not recorded yet.
    pub fn active_steps(&self) -> Result<Vec<(JobId, AllocationId, u32)>, RunnerError> {
        Ok(self
            .active_launches()?
            .into_iter()
            .filter_map(|key| Some((key.job_id, key.allocation_id, key.step?)))
            .collect())
    }

    fn active_launches(&self) -> Result<Vec<LaunchKey>, RunnerError> {
        self.sweep()?;
        Ok(self
            .spools()?
            .into_iter()
            .filter(|spool| !spool.has(END_FILE))
            .map(|spool| spool.key())
            .collect())
    }

    /// The time limit a launch's supervisor enforces: the job's, or for a
    /// step part the step's own if shorter, less what the job has run.
    fn time_limit_ms(&self, request: &LaunchRequest, now_ms: u64) -> Option<u64> {
        let minutes = |minutes: u32| u64::from(minutes) * self.config.minute_ms;
        let job_limit_ms = request.time_limit_minutes.map(minutes);
        let Some(step) = &request.step else {
            return job_limit_ms;
        };
        let job_left_ms = job_limit_ms
            .map(|limit| limit.saturating_sub(now_ms.saturating_sub(step.job_start_time_ms)));
        match (job_left_ms, step.spec.time_limit_minutes.map(minutes)) {
            (Some(job), Some(step)) => Some(job.min(step)),
            (job, step) => job.or(step),
        }
    }

    /// Removes the spools of jobs acknowledged more than `age` ago. After
    /// that a late duplicate launch of such a job would run again, so
    /// `age` must exceed how long the controller may retry a launch.
    pub fn purge_acknowledged(&self, age: Duration) -> Result<usize, RunnerError> {
        let _journal = self.lock_journal();
        let mut purged = 0;
        for spool in self.all_spools()? {
            let acknowledged = spool.path(ACKNOWLEDGED_FILE);
            let Ok(modified) = fs::metadata(&acknowledged).and_then(|m| m.modified()) else {
                continue;
            };
            if SystemTime::now()
                .duration_since(modified)
                .unwrap_or_default()
                >= age
            {
                fs::remove_dir_all(&spool.dir).map_err(io_error(&spool.dir))?;
                purged += 1;
            }
        }
        Ok(purged)
    }

    fn existing(&self, key: LaunchKey) -> Result<Spool, RunnerError> {
        let spool = Spool::for_key(&self.jobs_dir, key);
        if !spool.has(LAUNCH_FILE) {
            return Err(RunnerError::UnknownJob { key });
        }
        Ok(spool)
    }

    /// The spools of launches not acknowledged yet, in order of job and
    /// allocation.
    fn spools(&self) -> Result<Vec<Spool>, RunnerError> {
        let keys: Vec<LaunchKey> = self
            .unacknowledged
            .lock()
            .expect("poisoned")
            .iter()
            .copied()
            .collect();
        Ok(keys
            .into_iter()
            .map(|key| Spool::for_key(&self.jobs_dir, key))
            .filter(|spool| spool.has(LAUNCH_FILE))
            .collect())
    }

    /// Every spool with a launch record, in order of job and allocation.
    fn all_spools(&self) -> Result<Vec<Spool>, RunnerError> {
        let mut spools = Vec::new();
        for entry in fs::read_dir(&self.jobs_dir).map_err(io_error(&self.jobs_dir))? {
            let entry = entry.map_err(io_error(&self.jobs_dir))?;
            let Some(name) = entry.file_name().to_str().map(str::to_string) else {
                continue;
            };
            if let Some(spool) = Spool::parse(&self.jobs_dir, &name) {
                if spool.has(LAUNCH_FILE) {
                    spools.push(spool);
                }
            }
        }
        spools.sort_by_key(|spool| spool.key());
        Ok(spools)
    }

    fn lock_journal(&self) -> MutexGuard<'_, ()> {
        self.journal
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Gives an end to every unended launch whose supervisor is gone.
    fn sweep(&self) -> Result<(), RunnerError> {
        let _journal = self.lock_journal();
        for spool in self.spools()? {
            if spool.has(END_FILE) {
                continue;
            }
            if let Err(error) = settle(&spool) {
                tracing::warn!(job = spool.job_id, allocation = %spool.allocation_id, "{error}");
            }
        }
        Ok(())
    }
}

/// Takes the state directory's lock, waiting (bounded) for a previous
/// holder to finish: an agent that is still exiting, or a process forked
/// by this one that has not reached `exec` yet and shares the descriptor.
fn lock_exclusively(lock: &File, wait_ms: u64) -> Result<(), ()> {
    let deadline = Instant::now() + Duration::from_millis(wait_ms);
    loop {
        // SAFETY: flock on a descriptor we own.
        if unsafe { libc::flock(lock.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } == 0 {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(());
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Looks at one unended launch; records an end if nobody will.
fn settle(spool: &Spool) -> Result<(), JournalError> {
    match spool.supervisor()? {
        // The agent stopped between recording the launch and starting its
        // supervisor: take the launch so a late supervisor runs nothing.
        None => {
            abandon(
                spool,
                "the agent stopped before the job's supervisor started",
            )?;
        }
        // Taken by an agent that stopped before recording the end.
        Some(SupervisorRecord::Abandoned { reason }) => {
            record_vanished(spool, launch_failed(reason))?;
        }
        Some(SupervisorRecord::Running(supervisor)) if supervisor.is_alive() => {}
        Some(SupervisorRecord::Running(_)) => {
            // It may have recorded the end just before it went.
            if spool.has(END_FILE) {
                return Ok(());
            }
            let end = match spool.job()? {
                None => launch_failed(
                    "the job's supervisor vanished before starting the script".to_string(),
                ),
                Some(job) => {
                    if job.process.boot_id == journal::boot_id().unwrap_or_default() {
                        // Same boot: what is left of the job must not run unsupervised.
                        // SAFETY: kill has no memory-safety preconditions.
                        unsafe { libc::kill(-job.process_group, libc::SIGKILL) };
                    }
                    EndRecord {
                        exit_status: VANISHED_STATUS,
                        cause: if spool.has(CANCEL_FILE) {
                            FinishCause::Cancelled
                        } else {
                            FinishCause::Exited
                        },
                        detail: Some(
                            "the job's supervisor vanished (node rebooted or supervisor killed); the job was killed"
                                .to_string(),
                        ),
                        ended_at_ms: journal::now_ms(),
                    }
                }
            };
            record_vanished(spool, end)?;
        }
    }
    Ok(())
}

fn launch_failed(reason: String) -> EndRecord {
    EndRecord {
        exit_status: LAUNCH_FAILED_STATUS,
        cause: FinishCause::LaunchFailed,
        detail: Some(reason),
        ended_at_ms: journal::now_ms(),
    }
}

/// Takes a launch no supervisor took and records it as failed. `false`:
/// a supervisor took it first.
fn abandon(spool: &Spool, reason: &str) -> Result<bool, JournalError> {
    let claimed = spool.claim(&SupervisorRecord::Abandoned {
        reason: reason.to_string(),
    })?;
    if claimed {
        record_vanished(spool, launch_failed(reason.to_string()))?;
    }
    Ok(claimed)
}

fn record_vanished(spool: &Spool, end: EndRecord) -> Result<(), JournalError> {
    if spool.record_end(&end)? {
        tracing::warn!(
            job = spool.job_id,
            allocation = %spool.allocation_id,
            cause = ?end.cause,
            "{}",
            end.detail.as_deref().unwrap_or("job ended without its supervisor")
        );
    }
    Ok(())
}

/// Job users reach their script under the state directory: as root, say
/// so when they cannot.
fn warn_unless_searchable(state_dir: &Path) {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return;
    }
    if let Ok(metadata) = fs::metadata(state_dir) {
        if metadata.permissions().mode() & 0o001 == 0 {
            tracing::warn!(
                state_dir = %state_dir.display(),
                "job users cannot search the state directory, so jobs of users other than root will fail to start (make it mode 0711)"
            );
        }
    }
}
