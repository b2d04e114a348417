//! The agent's local journal: one spool directory per launch (a job's
//! batch script on its allocation, or this node's part of one of its
//! steps), holding what was asked and what happened, in files that are each
//! written once and durably, so that an agent that restarts (or a node that
//! reboots) can tell what it did.
//!
//! ```text
//! STATE_DIR/agent.lock              flock: one agent per state directory
//! STATE_DIR/jobs/                   mode 0711 (job users reach their script)
//!   <job>.<allocation>/             mode 0711, one per batch launch
//!   <job>.<allocation>.<step>/      the same for this node's part of a step
//!                                   (`step.json`, owned by the job's user,
//!                                   in place of `slurm_script`)
//!     launch.json       0600  LaunchRecord: written and fsynced (file and
//!                             directory) before anything starts; its
//!                             presence means "launched" for ever
//!     supervisor.json   0600  SupervisorRecord: who supervises the job,
//!                             published once (link(2), first writer wins)
//!     supervisor.log    0600  the supervisor's own diagnostics
//!     slurm_script      0700  the script, owned by the job's user
//!     job.json          0600  JobRecord: the script's pid and process group
//!     cancel                  present once a cancel was asked for
//!     exit.json         0600  EndRecord: how it ended (first writer wins)
//!     acknowledged            present once the controller has the end
//! ```
//!
//! A record is written to a temporary file, fsynced, then moved into place
//! (rename, or link when only the first writer may win) and the directory
//! fsynced: a reader sees a record whole or not at all.

use std::ffi::CString;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use corral_state::{AllocationId, ExitStatus, FinishCause, JobId};

use crate::launch::LaunchRequest;

pub const LAUNCH_FILE: &str = "launch.json";
pub const SUPERVISOR_FILE: &str = "supervisor.json";
pub const SUPERVISOR_LOG_FILE: &str = "supervisor.log";
pub const SCRIPT_FILE: &str = "slurm_script";
pub const JOB_FILE: &str = "job.json";
/// A step part's plan for its task launcher, owned by the job's user.
pub const STEP_FILE: &str = "step.json";
/// The task launcher's own diagnostics, owned by the job's user.
pub const STEP_LOG_FILE: &str = "step.log";
pub const CANCEL_FILE: &str = "cancel";
pub const END_FILE: &str = "exit.json";
pub const ACKNOWLEDGED_FILE: &str = "acknowledged";
/// A job cancelled before its launch reached this node: it must never start.
pub const REFUSED_FILE: &str = "refused";
pub const JOBS_DIR: &str = "jobs";
pub const LOCK_FILE: &str = "agent.lock";

/// What `Runner::launch` records before starting anything.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LaunchRecord {
    pub request: LaunchRequest,
    /// The time limit the supervisor enforces; `None`: unlimited.
    pub time_limit_ms: Option<u64>,
    /// Time between SIGTERM and SIGKILL at a time limit or cancel.
    pub kill_wait_ms: u64,
    pub recorded_at_ms: u64,
    /// For a step part: the program (and its first arguments) that runs
    /// the node's tasks as the job's user; the path of `step.json` is
    /// appended.
    #[serde(default)]
    pub step_program: Vec<String>,
}

/// Who supervises a job. Published once: by the supervisor when it starts,
/// or by an agent that found a launch nobody took (then the supervisor, if
/// it ever comes, finds the place taken and runs nothing).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum SupervisorRecord {
    Running(ProcessIdentity),
    /// No supervisor took the launch (the agent stopped in between).
    Abandoned {
        reason: String,
    },
}

/// A process, told apart from a later one with the same pid: the kernel's
/// boot id and the process's start time in clock ticks since boot.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcessIdentity {
    pub pid: i32,
    pub start_ticks: u64,
    pub boot_id: String,
}

impl ProcessIdentity {
    /// This process.
    pub fn current() -> io::Result<ProcessIdentity> {
        // SAFETY: getpid has no preconditions.
        let pid = unsafe { libc::getpid() };
        ProcessIdentity::of(pid)
    }

    pub fn of(pid: i32) -> io::Result<ProcessIdentity> {
        let (start_ticks, _) = process_stat(pid)?;
        Ok(ProcessIdentity {
            pid,
            start_ticks,
            boot_id: boot_id()?,
        })
    }

    /// Whether this very process still runs (a zombie does not count).
    pub fn is_alive(&self) -> bool {
        if boot_id().ok().as_deref() != Some(self.boot_id.as_str()) {
            return false;
        }
        match process_stat(self.pid) {
            Ok((start_ticks, state)) => start_ticks == self.start_ticks && state != 'Z',
            Err(_) => false,
        }
    }
}

/// What the supervisor records once the script runs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobRecord {
    /// The script's process; it leads its own session and process group.
    pub process: ProcessIdentity,
    pub process_group: i32,
    pub started_at_ms: u64,
}

/// How a job ended.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EndRecord {
    pub exit_status: ExitStatus,
    pub cause: FinishCause,
    /// Why, for ends that are not the script's own (a launch failure).
    pub detail: Option<String>,
    pub ended_at_ms: u64,
}

/// What a spool holds: a job's batch script on one allocation, or this
/// node's part of step `step` of it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LaunchKey {
    pub job_id: JobId,
    pub allocation_id: AllocationId,
    pub step: Option<u32>,
}

impl LaunchKey {
    pub fn batch(job_id: JobId, allocation_id: AllocationId) -> LaunchKey {
        LaunchKey {
            job_id,
            allocation_id,
            step: None,
        }
    }

    pub fn step(job_id: JobId, allocation_id: AllocationId, step: u32) -> LaunchKey {
        LaunchKey {
            job_id,
            allocation_id,
            step: Some(step),
        }
    }
}

impl std::fmt::Display for LaunchKey {
    /// `30.1` for a batch launch, `30.1.0` for step 0.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.job_id, self.allocation_id.0)?;
        if let Some(step) = self.step {
            write!(f, ".{step}")?;
        }
        Ok(())
    }
}

/// One spool directory.
#[derive(Clone, Debug)]
pub struct Spool {
    pub job_id: JobId,
    pub allocation_id: AllocationId,
    pub step: Option<u32>,
    pub dir: PathBuf,
}

impl Spool {
    pub fn new(jobs_dir: &Path, job_id: JobId, allocation_id: AllocationId) -> Spool {
        Spool::for_key(jobs_dir, LaunchKey::batch(job_id, allocation_id))
    }

    pub fn for_key(jobs_dir: &Path, key: LaunchKey) -> Spool {
        Spool {
            job_id: key.job_id,
            allocation_id: key.allocation_id,
            step: key.step,
            dir: jobs_dir.join(key.to_string()),
        }
    }

    pub fn key(&self) -> LaunchKey {
        LaunchKey {
            job_id: self.job_id,
            allocation_id: self.allocation_id,
            step: self.step,
        }
    }

    /// The spool a directory name stands for (`30.1`, `30.1.0`), if it is one.
    pub fn parse(jobs_dir: &Path, name: &str) -> Option<Spool> {
        let mut parts = name.split('.');
        let job_id = parts.next()?.parse().ok()?;
        let allocation_id = AllocationId(parts.next()?.parse().ok()?);
        let step = match parts.next() {
            None => None,
            Some(step) => Some(step.parse().ok()?),
        };
        if parts.next().is_some() {
            return None;
        }
        let spool = Spool::for_key(
            jobs_dir,
            LaunchKey {
                job_id,
                allocation_id,
                step,
            },
        );
        (spool.dir.file_name()?.to_str()? == name).then_some(spool)
    }

    pub fn path(&self, file: &str) -> PathBuf {
        self.dir.join(file)
    }

    pub fn has(&self, file: &str) -> bool {
        self.path(file).exists()
    }

    pub fn read<T: DeserializeOwned>(&self, file: &str) -> Result<Option<T>, JournalError> {
        read_record(&self.path(file))
    }

    pub fn launch(&self) -> Result<Option<LaunchRecord>, JournalError> {
        self.read(LAUNCH_FILE)
    }

    pub fn supervisor(&self) -> Result<Option<SupervisorRecord>, JournalError> {
        self.read(SUPERVISOR_FILE)
    }

    pub fn job(&self) -> Result<Option<JobRecord>, JournalError> {
        self.read(JOB_FILE)
    }

    pub fn end(&self) -> Result<Option<EndRecord>, JournalError> {
        self.read(END_FILE)
    }

    /// Publishes the supervisor record unless one exists; `false`: taken.
    pub fn claim(&self, record: &SupervisorRecord) -> Result<bool, JournalError> {
        publish_once(&self.dir, SUPERVISOR_FILE, &to_json(record)?)
    }

    /// Records the end unless one is recorded; `false`: there was one.
    pub fn record_end(&self, record: &EndRecord) -> Result<bool, JournalError> {
        publish_once(&self.dir, END_FILE, &to_json(record)?)
    }

    /// Creates an empty marker file durably (idempotent).
    pub fn mark(&self, file: &str) -> Result<(), JournalError> {
        write_durably(&self.dir, file, b"", 0o600)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error("{path}: not a valid record: {source}")]
    Corrupt {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error("cannot encode a record: {0}")]
    Encode(#[from] serde_json::Error),
}

impl JournalError {
    pub fn io(path: &Path, source: io::Error) -> JournalError {
        JournalError::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}

pub fn to_json<T: Serialize>(record: &T) -> Result<Vec<u8>, JournalError> {
    let mut bytes = serde_json::to_vec_pretty(record)?;
    bytes.push(b'\n');
    Ok(bytes)
}

/// Reads a record; `None` when the file does not exist.
pub fn read_record<T: DeserializeOwned>(path: &Path) -> Result<Option<T>, JournalError> {
    match fs::read(path) {
        Ok(bytes) => {
            serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|source| JournalError::Corrupt {
                    path: path.to_path_buf(),
                    source,
                })
        }
        Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(error) => Err(JournalError::io(path, error)),
    }
}

/// Writes `dir/name` whole: temporary file, fsync, rename, fsync of `dir`.
pub fn write_durably(dir: &Path, name: &str, bytes: &[u8], mode: u32) -> Result<(), JournalError> {
    let temporary = write_temporary(dir, name, bytes, mode)?;
    let path = dir.join(name);
    fs::rename(&temporary, &path).map_err(|e| JournalError::io(&path, e))?;
    sync_dir(dir)
}

/// Writes `dir/name` whole unless it exists: temporary file, fsync,
/// link(2) (which fails on an existing name, so exactly one writer wins),
/// fsync of `dir`. Returns whether this call wrote it.
pub fn publish_once(dir: &Path, name: &str, bytes: &[u8]) -> Result<bool, JournalError> {
    let temporary = write_temporary(dir, name, bytes, 0o600)?;
    let path = dir.join(name);
    let linked = fs::hard_link(&temporary, &path);
    let _ = fs::remove_file(&temporary);
    match linked {
        Ok(()) => {
            sync_dir(dir)?;
            Ok(true)
        }
        Err(error) if error.kind() == io::ErrorKind::AlreadyExists => Ok(false),
        Err(error) => Err(JournalError::io(&path, error)),
    }
}

fn write_temporary(
    dir: &Path,
    name: &str,
    bytes: &[u8],
    mode: u32,
) -> Result<PathBuf, JournalError> {
    // The pid keeps two processes writing the same record apart.
    let temporary = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let mut file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(mode)
        .open(&temporary)
        .map_err(|e| JournalError::io(&temporary, e))?;
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .map_err(|e| JournalError::io(&temporary, e))?;
    Ok(temporary)
}

/// Makes a directory's entries durable.
pub fn sync_dir(dir: &Path) -> Result<(), JournalError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| JournalError::io(dir, e))
}

/// Creates a directory (and its parent chain) with `mode`, fsyncing the
/// parent so the new entry survives a crash. Returns whether it was new.
pub fn create_dir_durably(dir: &Path, mode: u32) -> Result<bool, JournalError> {
    match fs::create_dir(dir) {
        Ok(()) => {
            fs::set_permissions(dir, fs::Permissions::from_mode(mode))
                .map_err(|e| JournalError::io(dir, e))?;
            if let Some(parent) = dir.parent() {
                sync_dir(parent)?;
            }
            Ok(true)
        }
        Err(error) if error.kind() == io::ErrorKind::AlreadyExists => Ok(false),
        Err(error) => Err(JournalError::io(dir, error)),
    }
}

pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// The kernel's id of the current boot: pids and start times from another
/// boot mean nothing.
pub fn boot_id() -> io::Result<String> {
    Ok(fs::read_to_string("/proc/sys/kernel/random/boot_id")?
        .trim()
        .to_string())
}

/// A process's start time (clock ticks since boot) and state letter, from
/// `/proc/PID/stat`.
fn process_stat(pid: i32) -> io::Result<(u64, char)> {
    let text = fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // The command name, in parentheses, may hold spaces and parentheses:
    // the fields after it start after the last `)`.
    let rest = text
        .rsplit_once(')')
        .map(|(_, rest)| rest)
        .ok_or_else(|| io::Error::other("malformed stat"))?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // Fields 3 (state) and 22 (starttime), counted from 1 with pid and comm.
    let state = fields
        .first()
        .and_then(|s| s.chars().next())
        .ok_or_else(|| io::Error::other("no state in stat"))?;
    let start_ticks = fields
        .get(19)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| io::Error::other("no start time in stat"))?;
    Ok((start_ticks, state))
}

/// A path as a C string, for the calls made between fork and exec.
pub fn c_path(path: &Path) -> io::Result<CString> {
    CString::new(path.as_os_str().as_bytes())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "path holds a NUL byte"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spool_names_round_trip() {
        let jobs = Path::new("/state/jobs");
        let spool = Spool::new(jobs, 30, AllocationId(7));
        assert_eq!(spool.dir, Path::new("/state/jobs/30.7"));
        let parsed = Spool::parse(jobs, "30.7").expect("a spool name");
        assert_eq!((parsed.job_id, parsed.allocation_id), (30, AllocationId(7)));
        assert!(Spool::parse(jobs, ".30.7.tmp").is_none());
        assert!(Spool::parse(jobs, "030.7").is_none());
        assert!(Spool::parse(jobs, "lock").is_none());
        let step = Spool::for_key(jobs, LaunchKey::step(30, AllocationId(7), 2));
        assert_eq!(step.dir, Path::new("/state/jobs/30.7.2"));
        let parsed = Spool::parse(jobs, "30.7.2").expect("a step spool name");
        assert_eq!(parsed.key(), LaunchKey::step(30, AllocationId(7), 2));
        assert!(Spool::parse(jobs, "30.7.02").is_none());
        assert!(Spool::parse(jobs, "30.7.2.1").is_none());
    }

    #[test]
    fn only_the_first_publisher_wins() {
        let dir = tempfile::tempdir().expect("tempdir");
        assert!(publish_once(dir.path(), "x.json", b"1").expect("publish"));
        assert!(!publish_once(dir.path(), "x.json", b"2").expect("publish"));
        assert_eq!(fs::read(dir.path().join("x.json")).expect("read"), b"1");
        let names: Vec<_> = fs::read_dir(dir.path())
            .expect("list")
            .map(|e| e.expect("entry").file_name())
            .collect();
        assert_eq!(names.len(), 1, "no temporary file is left: {names:?}");
    }

    #[test]
    fn this_process_is_alive_and_a_made_up_one_is_not() {
        let me = ProcessIdentity::current().expect("identity");
        assert!(me.is_alive());
        let older = ProcessIdentity {
            start_ticks: me.start_ticks + 1,
            ..me.clone()
        };
        assert!(!older.is_alive());
        let other_boot = ProcessIdentity {
            boot_id: "another boot".to_string(),
            ..me
        };
        assert!(!other_boot.is_alive());
    }
}
