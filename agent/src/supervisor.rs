//! The per-job supervisor: `corral job-supervisor --spool DIR`.
//!
//! The agent starts one per launch. It detaches at once (a second `fork`,
//! a new session), so that the agent can stop, restart or crash without
//! touching it, and it lives exactly as long as the job: it starts the
//! script as the job's user, enforces the time limit, carries out a cancel,
//! and records how the job ended in the spool, where any agent (the one
//! that started it or its successor) finds it.
//!
//! Order of events, each recorded in the spool (see [`crate::journal`]):
//! 1. claim the launch (`supervisor.json`, first writer wins: a launch an
//!    agent gave up on is never started late);
//! 2. write the script, fork it into its own session and process group, as
//!    the job's user, and record its pid and group (`job.json`);
//! 3. wait for it, for the time limit, or for a cancel (the `cancel` marker,
//!    with SIGUSR1 to wake us): SIGCONT and SIGTERM to the group, SIGKILL
//!    [`KILL_WAIT_MS`] later; with `--signal`, its signal goes to the group
//!    (or, with `B:`, the batch shell alone) ahead of the time limit;
//! 4. kill what is left of the group and record the end (`exit.json`).
//!
//! Anything that goes wrong before the script runs (unknown user, missing
//! work dir, output file that cannot be opened) is recorded as an end with
//! cause `LaunchFailed` and a message: never lost.

use std::ffi::{CStr, CString};
use std::fs::OpenOptions;
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::time::{Duration, Instant};

use corral_state::{ExitStatus, FinishCause};

use crate::exec::{ChildSetup, ExecPlan, Identity};
use crate::journal::{
    self, c_path, EndRecord, JobRecord, LaunchRecord, ProcessIdentity, Spool, SupervisorRecord,
    CANCEL_FILE, JOB_FILE, SCRIPT_FILE, STEP_FILE, STEP_LOG_FILE,
};
use crate::launch::{job_environment, requested_umask, StdioPaths, StepLaunch, TASK_PID_VARIABLE};
use crate::step_plan::StepTaskPlan;

/// Slurm's `KillWait` default: time between SIGTERM and SIGKILL when a job
/// reaches its time limit or is cancelled.
pub const KILL_WAIT_MS: u64 = 30_000;
/// How often the supervisor looks for a cancel marker even without being
/// woken (a wake-up signal can be lost if the agent dies in between).
pub const CANCEL_CHECK_INTERVAL_MS: u64 = 1_000;
/// The umask a job runs with unless it asked for another (`SLURM_UMASK`).
pub const DEFAULT_UMASK: libc::mode_t = 0o022;
/// The exit status recorded for a job that could not be started.
pub const LAUNCH_FAILED_STATUS: ExitStatus = ExitStatus { code: 1, signal: 0 };

/// Exit codes of the first process (the one the agent waits for).
pub const EXIT_CLAIMED: i32 = 0;
pub const EXIT_ALREADY_CLAIMED: i32 = 3;
pub const EXIT_FAILED: i32 = 1;

/// Runs the supervisor for the launch recorded in `spool_dir`. Returns the
/// process's exit code: in the process the agent started, once the
/// detached supervisor has claimed the launch ([`EXIT_CLAIMED`]) or found
/// it taken ([`EXIT_ALREADY_CLAIMED`]); in the detached supervisor, when
/// the job has ended and its end is recorded.
pub fn main(spool_dir: &Path) -> i32 {
    let spool_dir = std::fs::canonicalize(spool_dir).unwrap_or_else(|_| spool_dir.to_path_buf());
    let Some(spool) = spool_for(&spool_dir) else {
        log(&format!(
            "{} is not a job spool directory",
            spool_dir.display()
        ));
        return EXIT_FAILED;
    };
    match detach() {
        Err(error) => {
            log(&format!("cannot detach: {error}"));
            EXIT_FAILED
        }
        Ok(Detached::Parent(code)) => code,
        Ok(Detached::Child(handshake)) => supervise(&spool, handshake),
    }
}

fn spool_for(dir: &Path) -> Option<Spool> {
    let name = dir.file_name()?.to_str()?;
    Spool::parse(dir.parent()?, name)
}

enum Detached {
    /// The process the agent started, with its exit code.
    Parent(i32),
    /// The detached supervisor, with the pipe it reports its claim on.
    Child(libc::c_int),
}

/// Forks; the child starts a new session and blocks the signals it waits
/// for; the parent waits for the child's claim and exits with its outcome.
fn detach() -> io::Result<Detached> {
    let mut fds = [0; 2];
    // SAFETY: fds has room for two descriptors.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(io::Error::last_os_error());
    }
    let (read_end, write_end) = (fds[0], fds[1]);
    // SAFETY: `corral job-supervisor` is single-threaded when it gets here.
    match unsafe { libc::fork() } {
        -1 => Err(io::Error::last_os_error()),
        0 => {
            // SAFETY: plain system calls on descriptors and masks we own.
            unsafe {
                libc::close(read_end);
                libc::setsid();
                // Hold no file system busy that the agent happened to be in.
                libc::chdir(c"/".as_ptr());
                block_signals();
            }
            Ok(Detached::Child(write_end))
        }
        _ => {
            // SAFETY: closing our copy of the write end, then reading.
            unsafe { libc::close(write_end) };
            let mut byte = [0u8; 1];
            let read = loop {
                // SAFETY: reading one byte into `byte`.
                let n = unsafe { libc::read(read_end, byte.as_mut_ptr().cast(), 1) };
                if n >= 0 || io::Error::last_os_error().kind() != io::ErrorKind::Interrupted {
                    break n;
                }
            };
            // SAFETY: closing the read end we own.
            unsafe { libc::close(read_end) };
            Ok(Detached::Parent(match (read, byte[0]) {
                (1, b'1') => EXIT_CLAIMED,
                (1, _) => EXIT_ALREADY_CLAIMED,
                _ => EXIT_FAILED,
            }))
        }
    }
}

/// The signals the supervisor takes with `sigtimedwait`: the script's end,
/// the agent's wake-up, and those that would otherwise kill the supervisor
/// and orphan the job (it keeps supervising; the sender reaches the job
/// directly if it meant to).
fn supervised_signals() -> libc::sigset_t {
    // SAFETY: sigset_t is plain data, initialised by sigemptyset.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for signal in [
            libc::SIGCHLD,
            libc::SIGUSR1,
            libc::SIGTERM,
            libc::SIGINT,
            libc::SIGHUP,
        ] {
            libc::sigaddset(&mut set, signal);
        }
        set
    }
}

unsafe fn block_signals() {
    let set = supervised_signals();
    libc::sigprocmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
}

/// The detached supervisor's whole life.
fn supervise(spool: &Spool, handshake: libc::c_int) -> i32 {
    let claimed = ProcessIdentity::current()
        .map_err(|e| e.to_string())
        .and_then(|me| {
            spool
                .claim(&SupervisorRecord::Running(me))
                .map_err(|e| e.to_string())
        });
    let report = match &claimed {
        Ok(true) => b'1',
        _ => b'0',
    };
    // SAFETY: one byte to the agent's process, then our end is closed.
    unsafe {
        libc::write(handshake, [report].as_ptr().cast(), 1);
        libc::close(handshake);
    }
    match claimed {
        Ok(true) => {}
        Ok(false) => {
            log("the launch was already taken; nothing started");
            return EXIT_ALREADY_CLAIMED;
        }
        Err(error) => {
            log(&format!("cannot claim the launch: {error}"));
            return EXIT_FAILED;
        }
    }
    let end = run_job(spool);
    log(&format!(
        "job {} allocation {} ended: {:?} {} {}",
        spool.job_id,
        spool.allocation_id,
        end.cause,
        end.exit_status,
        end.detail.as_deref().unwrap_or("")
    ));
    match spool.record_end(&end) {
        Ok(_) => EXIT_CLAIMED,
        Err(error) => {
            log(&format!("cannot record the end: {error}"));
            EXIT_FAILED
        }
    }
}

fn ended(exit_status: ExitStatus, cause: FinishCause, detail: Option<String>) -> EndRecord {
    EndRecord {
        exit_status,
        cause,
        detail,
        ended_at_ms: journal::now_ms(),
    }
}

fn launch_failed(detail: String) -> EndRecord {
    ended(
        LAUNCH_FAILED_STATUS,
        FinishCause::LaunchFailed,
        Some(detail),
    )
}

/// Starts the script and waits for its end.
fn run_job(spool: &Spool) -> EndRecord {
    let record = match spool.launch() {
        Ok(Some(record)) => record,
        Ok(None) => return launch_failed("the launch record is missing".to_string()),
        Err(error) => return launch_failed(format!("the launch record is unreadable: {error}")),
    };
    if spool.has(CANCEL_FILE) {
        return ended(ExitStatus::default(), FinishCause::Cancelled, None);
    }
    let mut plan = match prepare(spool, &record) {
        Ok(plan) => plan,
        Err(detail) => return launch_failed(detail),
    };
    let pid = match plan.spawn() {
        Ok(pid) => pid,
        Err(failure) => return launch_failed(failure.describe(&plan)),
    };
    let started = Instant::now();
    let job = JobRecord {
        process: ProcessIdentity::of(pid).unwrap_or(ProcessIdentity {
            pid,
            start_ticks: 0,
            boot_id: journal::boot_id().unwrap_or_default(),
        }),
        process_group: pid,
        started_at_ms: journal::now_ms(),
    };
    if let Err(error) = journal::to_json(&job)
        .and_then(|bytes| journal::write_durably(&spool.dir, JOB_FILE, &bytes, 0o600))
    {
        // The job runs; without the record only `cancel` by marker reaches it.
        log(&format!("cannot record the job's process: {error}"));
    }
    Watch {
        spool,
        pid,
        started,
        time_limit: record.time_limit_ms.map(Duration::from_millis),
        kill_wait: Duration::from_millis(record.kill_wait_ms),
        warning: warning_for(&record),
    }
    .wait()
}

/// `--signal`: what to send, to whom, and how long after the start.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Warning {
    signal: libc::c_int,
    /// `B:`: the batch shell alone, else the script's process group.
    batch_only: bool,
    after_start: Duration,
    /// How long before the limit it goes (to follow a changed limit).
    lead: Duration,
}

/// The warning a batch script gets before its time limit, if it asked for
/// one and has a limit. The lead time is in the limit's own minutes (one
/// minute is `time_limit_ms / time_limit_minutes`: 60 000 ms in production,
/// shorter in tests); a lead longer than the limit sends at the start.
fn warning_for(record: &LaunchRecord) -> Option<Warning> {
    let request = &record.request;
    if request.step.is_some() {
        return None;
    }
    let signal = request.signal?;
    let limit_ms = record.time_limit_ms?;
    let minutes = u64::from(request.time_limit_minutes?.max(1));
    let lead_ms = u64::from(signal.seconds_before_limit) * limit_ms / minutes / 60;
    Some(Warning {
        signal: libc::c_int::from(signal.number),
        batch_only: signal.batch_only,
        after_start: Duration::from_millis(limit_ms.saturating_sub(lead_ms)),
        lead: Duration::from_millis(lead_ms),
    })
}

/// Turns the request into an [`ExecPlan`]: who, where, which files, which
/// environment. Writes the script. An error is the recorded reason.
fn prepare(spool: &Spool, record: &LaunchRecord) -> Result<ExecPlan, String> {
    let request = &record.request;
    let identity = identity_for(request.uid, request.gid, &request.user)?;
    if let Some(step) = &request.step {
        return prepare_step(spool, record, step, identity);
    }
    let script_path = spool.path(SCRIPT_FILE);
    write_owned(
        &script_path,
        request.script.as_bytes(),
        0o700,
        identity.as_ref(),
    )?;
    let paths = StdioPaths::for_request(request);
    let c_string = |what: &str, text: &str| {
        CString::new(text).map_err(|_| format!("the {what} {text:?} holds a NUL byte"))
    };
    let environment = job_environment(request, "");
    let setup = ChildSetup {
        script: c_path(&script_path).map_err(|e| e.to_string())?,
        work_dir: c_string("work directory", &request.work_dir)?,
        stdin: c_string("input file", &paths.stdin)?,
        stdout: c_string("output file", &paths.stdout)?,
        stderr: if paths.stderr == paths.stdout {
            None
        } else {
            Some(c_string("error file", &paths.stderr)?)
        },
        append: request.appends_output(),
        umask: requested_umask(request).unwrap_or(DEFAULT_UMASK),
        identity,
        new_session: true,
    };
    ExecPlan::new(setup, &request.arguments, &environment, TASK_PID_VARIABLE)
}

/// A step part runs its task launcher as the job's user, with the plan
/// in `step.json` and its diagnostics in `step.log`, both the user's.
fn prepare_step(
    spool: &Spool,
    record: &LaunchRecord,
    step: &StepLaunch,
    identity: Option<Identity>,
) -> Result<ExecPlan, String> {
    let request = &record.request;
    let plan = StepTaskPlan::new(request, step, record.kill_wait_ms)?;
    let plan_path = spool.path(STEP_FILE);
    let plan_json = journal::to_json(&plan).map_err(|e| e.to_string())?;
    write_owned(&plan_path, &plan_json, 0o600, identity.as_ref())?;
    let log_path = spool.path(STEP_LOG_FILE);
    write_owned(&log_path, b"", 0o600, identity.as_ref())?;
    let Some((program, arguments)) = record.step_program.split_first() else {
        return Err("the launch record names no task launcher".to_string());
    };
    let mut arguments = arguments.to_vec();
    arguments.push(plan_path.to_string_lossy().into_owned());
    let c_string = |what: &str, text: &str| {
        CString::new(text).map_err(|_| format!("the {what} {text:?} holds a NUL byte"))
    };
    let umask = step
        .spec
        .environment
        .iter()
        .rev()
        .find(|(name, _)| name == "SLURM_UMASK")
        .and_then(|(_, value)| u32::from_str_radix(value.trim(), 8).ok())
        .filter(|mask| *mask <= 0o777)
        .map_or(DEFAULT_UMASK, |mask| mask as libc::mode_t);
    let setup = ChildSetup {
        script: c_string("task launcher", program)?,
        work_dir: c_string("work directory", &request.work_dir)?,
        stdin: c_string("input file", "/dev/null")?,
        stdout: c_path(&log_path).map_err(|e| e.to_string())?,
        stderr: None,
        append: true,
        umask,
        identity,
        new_session: true,
    };
    let environment: Vec<(String, String)> = step
        .spec
        .environment
        .iter()
        .filter(|(name, _)| name == "PATH" || name == "HOME")
        .cloned()
        .collect();
    ExecPlan::new(setup, &arguments, &environment, TASK_PID_VARIABLE)
}

/// Whom the script runs as: as root, the job's user with its groups; as
/// anyone else, ourselves, and only for a job of our own uid.
fn identity_for(uid: u32, gid: u32, user: &str) -> Result<Option<Identity>, String> {
    // SAFETY: geteuid has no preconditions.
    let euid = unsafe { libc::geteuid() };
    let Some(name) = user_name(uid).map_err(|e| format!("cannot look up uid {uid}: {e}"))? else {
        return Err(format!(
            "user {user} (uid {uid}) does not exist on this node"
        ));
    };
    if euid != 0 {
        if euid != uid {
            return Err(format!(
                "the agent runs as uid {euid}, not as root, and cannot start a job as uid {uid} ({user})"
            ));
        }
        return Ok(None);
    }
    if name.to_bytes() != user.as_bytes() {
        log(&format!(
            "uid {uid} is {} on this node, {user} on the submit host",
            name.to_string_lossy()
        ));
    }
    Ok(Some(Identity {
        uid,
        gid,
        groups: group_list(&name, gid)?,
    }))
}

/// The user name of `uid` in this node's user database.
fn user_name(uid: u32) -> io::Result<Option<CString>> {
    let mut buffer = vec![0u8; 4096];
    loop {
        // SAFETY: passwd is plain data; getpwuid_r fills it, pointing into
        // `buffer`, which outlives the use of the result below.
        unsafe {
            let mut entry: libc::passwd = std::mem::zeroed();
            let mut result: *mut libc::passwd = std::ptr::null_mut();
            let code = libc::getpwuid_r(
                uid,
                &mut entry,
                buffer.as_mut_ptr().cast(),
                buffer.len(),
                &mut result,
            );
            if code == libc::ERANGE && buffer.len() < 1 << 20 {
                buffer.resize(buffer.len() * 2, 0);
                continue;
            }
            if code != 0 {
                return Err(io::Error::from_raw_os_error(code));
            }
            if result.is_null() {
                return Ok(None);
            }
            return Ok(Some(CStr::from_ptr(entry.pw_name).to_owned()));
        }
    }
}

/// `initgroups`' list, computed before `fork`: `gid` and every group that
/// lists `name`.
fn group_list(name: &CStr, gid: u32) -> Result<Vec<libc::gid_t>, String> {
    let mut count: libc::c_int = 64;
    loop {
        let mut groups: Vec<libc::gid_t> = vec![0; count as usize];
        let capacity = count;
        // SAFETY: `groups` has room for `count` entries; getgrouplist
        // updates `count` to the number it needs or wrote.
        let found =
            unsafe { libc::getgrouplist(name.as_ptr(), gid, groups.as_mut_ptr(), &mut count) };
        if found >= 0 {
            groups.truncate(count as usize);
            return Ok(groups);
        }
        if count <= capacity {
            count = capacity * 2;
        }
        if count > 65_536 {
            return Err(format!("too many groups for {}", name.to_string_lossy()));
        }
    }
}

/// Writes a file for the job's user (the script, executable by its owner
/// only; a step's plan and log), owned by that user.
fn write_owned(
    path: &Path,
    bytes: &[u8],
    mode: u32,
    identity: Option<&Identity>,
) -> Result<(), String> {
    let describe = |e: io::Error| format!("cannot write {}: {e}", path.display());
    let _ = std::fs::remove_file(path);
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .map_err(describe)?;
    file.write_all(bytes).map_err(describe)?;
    if let Some(identity) = identity {
        std::os::unix::fs::fchown(&file, Some(identity.uid), Some(identity.gid))
            .map_err(describe)?;
    }
    Ok(())
}

/// Waiting for the script, with the time limit and cancels.
struct Watch<'a> {
    spool: &'a Spool,
    pid: libc::pid_t,
    started: Instant,
    time_limit: Option<Duration>,
    kill_wait: Duration,
    warning: Option<Warning>,
}

impl Watch<'_> {
    fn wait(self) -> EndRecord {
        let mut cause = FinishCause::Exited;
        let mut kill_at: Option<Instant> = None;
        let mut killed = false;
        let mut limit_at = self.time_limit.map(|limit| self.started + limit);
        let mut warn_at = self
            .warning
            .map(|warning| self.started + warning.after_start);
        let status = loop {
            if let Some(status) = self.reap() {
                break status;
            }
            // `scontrol update TimeLimit=` since the launch.
            if let Ok(Some(change)) = crate::time_limit::recorded(self.spool) {
                limit_at = change
                    .time_limit_ms
                    .map(|ms| self.started + Duration::from_millis(ms));
                // A warning not sent yet follows the new limit.
                if let (Some(warning), Some(_)) = (self.warning, warn_at) {
                    warn_at = limit_at.map(|at| {
                        at.checked_sub(warning.lead)
                            .unwrap_or(self.started)
                            .max(self.started)
                    });
                }
            }
            let now = Instant::now();
            if let (Some(warning), Some(at)) = (self.warning, warn_at) {
                if at <= now && kill_at.is_none() {
                    self.warn(warning);
                    warn_at = None;
                }
            }
            if kill_at.is_none() {
                let reason = if self.spool.has(CANCEL_FILE) {
                    Some(FinishCause::Cancelled)
                } else if limit_at.is_some_and(|at| at <= now) {
                    Some(FinishCause::TimeLimit)
                } else {
                    None
                };
                if let Some(reason) = reason {
                    cause = reason;
                    log(&format!(
                        "{reason:?}: SIGTERM to process group {}",
                        self.pid
                    ));
                    signal_group(self.pid, libc::SIGCONT);
                    signal_group(self.pid, libc::SIGTERM);
                    kill_at = Some(now + self.kill_wait);
                }
            }
            if !killed && kill_at.is_some_and(|at| at <= now) {
                log(&format!(
                    "SIGKILL to process group {} ({:?} after SIGTERM)",
                    self.pid, self.kill_wait
                ));
                signal_group(self.pid, libc::SIGKILL);
                killed = true;
            }
            let mut timeout = Duration::from_millis(CANCEL_CHECK_INTERVAL_MS);
            for deadline in [
                limit_at.filter(|_| kill_at.is_none()),
                kill_at.filter(|_| !killed),
                warn_at.filter(|_| kill_at.is_none()),
            ]
            .into_iter()
            .flatten()
            {
                timeout = timeout.min(deadline.saturating_duration_since(now));
            }
            wait_for_signal(timeout);
        };
        // Whatever the script left behind in its group goes with it.
        signal_group(self.pid, libc::SIGKILL);
        ended(status, cause, None)
    }

    /// `--signal`'s warning: to the batch shell, or the whole group.
    fn warn(&self, warning: Warning) {
        if warning.batch_only {
            log(&format!(
                "--signal: signal {} to the batch shell {}",
                warning.signal, self.pid
            ));
            // SAFETY: kill has no memory-safety preconditions; a signal
            // number the kernel does not know fails with EINVAL, ignored.
            unsafe { libc::kill(self.pid, warning.signal) };
        } else {
            log(&format!(
                "--signal: signal {} to process group {}",
                warning.signal, self.pid
            ));
            signal_group(self.pid, warning.signal);
        }
    }

    /// The script's exit status, once it has ended.
    fn reap(&self) -> Option<ExitStatus> {
        let mut status = 0;
        // SAFETY: waiting for our own child without blocking.
        let reaped = unsafe { libc::waitpid(self.pid, &mut status, libc::WNOHANG) };
        if reaped != self.pid {
            return None;
        }
        Some(exit_status(status))
    }
}

/// Slurm's code:signal pair: an exit code, or 0 and the signal that killed it.
pub fn exit_status(wait_status: libc::c_int) -> ExitStatus {
    if libc::WIFSIGNALED(wait_status) {
        ExitStatus {
            code: 0,
            signal: libc::WTERMSIG(wait_status) as u8,
        }
    } else {
        ExitStatus {
            code: libc::WEXITSTATUS(wait_status) as u8,
            signal: 0,
        }
    }
}

fn signal_group(process_group: libc::pid_t, signal: libc::c_int) {
    // SAFETY: kill has no memory-safety preconditions; ESRCH (the group is
    // gone) is expected and ignored.
    unsafe { libc::kill(-process_group, signal) };
}

/// Sleeps until one of the supervised signals arrives or `timeout` passes.
fn wait_for_signal(timeout: Duration) {
    let set = supervised_signals();
    let timeout = libc::timespec {
        tv_sec: timeout.as_secs() as libc::time_t,
        tv_nsec: timeout.subsec_nanos() as libc::c_long,
    };
    // SAFETY: the set is initialised; no siginfo is asked for.
    let signal = unsafe { libc::sigtimedwait(&set, std::ptr::null_mut(), &timeout) };
    if signal == libc::SIGTERM || signal == libc::SIGINT || signal == libc::SIGHUP {
        log(&format!(
            "signal {signal} received; the supervisor keeps supervising"
        ));
    }
}

/// A line in the supervisor's log (its standard error, `supervisor.log`).
fn log(message: &str) {
    eprintln!(
        "{} corral-job-supervisor[{}]: {message}",
        journal::now_ms(),
        std::process::id()
    );
}
