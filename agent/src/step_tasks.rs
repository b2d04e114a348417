//! The task launcher of a step part: `corral step-tasks STEP_JSON`.
//!
//! The supervisor starts it as the job's user, in the step's work
//! directory, as the leader of the part's process group. It connects to
//! `srun` ([`crate::step_io`]), starts one process per task (in its own
//! process group, so the supervisor's signals reach them all), forwards
//! their output, reports each task's exit, and exits with the worst of
//! them: the highest signal (by killing itself with it) or else the highest
//! exit code, which the supervisor records as the part's end.
//!
//! If the connection to `srun` ends while tasks run, `srun` is gone (the
//! batch script was cancelled, or `srun` was killed): the tasks get
//! SIGTERM, and SIGKILL after the kill wait.

use std::collections::{BTreeMap, HashMap};
use std::ffi::CString;
use std::fs::File;
use std::io::{self, Read};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::io::{FromRawFd, RawFd};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use corral_state::ExitStatus;

use crate::exec::{ChildSetup, ExecPlan, Step};
use crate::launch::TASK_PID_VARIABLE;
use crate::step_io::{Frame, Hello, FRAME_PAYLOAD_MAX};
use crate::step_plan::{StepTaskPlan, TaskOutput};
use crate::supervisor::exit_status;

/// How long the launcher tries to reach `srun` before giving up.
pub const CONNECT_TIMEOUT_MS: u64 = 10_000;
/// How long a task's output may still arrive after the task exited (a
/// process it left behind may hold its pipe open).
pub const OUTPUT_DRAIN_MS: u64 = 2_000;
/// The exit code of a launcher that could run nothing.
pub const EXIT_NOTHING_RAN: i32 = 1;

type Writer = Arc<Mutex<TcpStream>>;

pub fn main(plan_path: &Path) -> i32 {
    let plan: StepTaskPlan = match std::fs::read(plan_path)
        .map_err(|e| e.to_string())
        .and_then(|bytes| serde_json::from_slice(&bytes).map_err(|e| e.to_string()))
    {
        Ok(plan) => plan,
        Err(error) => {
            log(&format!("{}: {error}", plan_path.display()));
            return EXIT_NOTHING_RAN;
        }
    };
    let stream = match connect(&plan.io_address) {
        Ok(stream) => stream,
        Err(error) => {
            log(&format!(
                "cannot reach srun at {}: {error}; no task started",
                plan.io_address
            ));
            return EXIT_NOTHING_RAN;
        }
    };
    let writer: Writer = Arc::new(Mutex::new(match stream.try_clone() {
        Ok(stream) => stream,
        Err(error) => {
            log(&format!("cannot use the connection to srun: {error}"));
            return EXIT_NOTHING_RAN;
        }
    }));
    let hello = Frame::Hello(Hello {
        key: plan.io_key.clone(),
        job_id: plan.job_id,
        step_id: plan.step_id,
        node: plan.node.clone(),
        first_task: plan.tasks.first().map_or(0, |t| t.task),
        tasks: plan.tasks.len() as u32,
    });
    if let Err(error) = send(&writer, &hello) {
        log(&format!("cannot greet srun: {error}; no task started"));
        return EXIT_NOTHING_RAN;
    }
    // srun's signals and its end are for the tasks, not for us.
    // SAFETY: setting dispositions before any task exists.
    unsafe {
        libc::signal(libc::SIGTERM, libc::SIG_IGN);
        libc::signal(libc::SIGINT, libc::SIG_IGN);
        libc::signal(libc::SIGHUP, libc::SIG_IGN);
        libc::signal(libc::SIGPIPE, libc::SIG_IGN);
    }
    let (drained_tx, drained_rx) = mpsc::channel::<u32>();
    let mut running: HashMap<libc::pid_t, u32> = HashMap::new();
    let mut exits: BTreeMap<u32, ExitStatus> = BTreeMap::new();
    let mut streams_open: HashMap<u32, usize> = HashMap::new();
    for task in &plan.tasks {
        match start_task(&plan, task, &writer, &drained_tx) {
            Ok((pid, pipes)) => {
                running.insert(pid, task.task);
                streams_open.insert(task.task, pipes);
            }
            Err((status, message)) => {
                let _ = send(
                    &writer,
                    &Frame::Failed {
                        task: task.task,
                        message,
                    },
                );
                exits.insert(task.task, status);
            }
        }
    }
    drop(drained_tx);
    survive_forwarded_signals();
    let pids: Arc<Vec<libc::pid_t>> = Arc::new(running.keys().copied().collect());
    let srun_gone = Arc::new(AtomicBool::new(false));
    watch_srun(stream, pids.clone(), srun_gone.clone(), plan.kill_wait_ms);
    for (task, status) in &exits {
        let _ = send(&writer, &exit_frame(*task, *status));
    }
    let mut reaped: Vec<(u32, ExitStatus, Instant)> = Vec::new();
    while !running.is_empty() || !reaped.is_empty() {
        // Reap whatever ended.
        loop {
            let mut status = 0;
            // SAFETY: reaping our own children without blocking.
            let pid = unsafe { libc::waitpid(-1, &mut status, libc::WNOHANG) };
            if pid <= 0 {
                break;
            }
            if let Some(task) = running.remove(&pid) {
                reaped.push((task, exit_status(status), Instant::now()));
            }
        }
        // Note which streams reached their end.
        while let Ok(task) = drained_rx.try_recv() {
            if let Some(open) = streams_open.get_mut(&task) {
                *open = open.saturating_sub(1);
            }
        }
        // A task's exit goes after its output.
        reaped.retain(|(task, status, at)| {
            let drained = streams_open.get(task).is_none_or(|open| *open == 0);
            if drained || at.elapsed() >= Duration::from_millis(OUTPUT_DRAIN_MS) {
                let _ = send(&writer, &exit_frame(*task, *status));
                exits.insert(*task, *status);
                false
            } else {
                true
            }
        });
        std::thread::sleep(Duration::from_millis(5));
    }
    if srun_gone.load(Ordering::SeqCst) {
        log("srun went away; the tasks were ended");
    }
    let worst = exits.values().fold(ExitStatus::default(), |a, b| {
        corral_state::step::worse_exit(a, *b)
    });
    finish(worst)
}

/// Exits the way the worst task did, so that the supervisor sees it.
fn finish(worst: ExitStatus) -> i32 {
    if worst.signal != 0 {
        // SAFETY: restoring the default action and raising the signal on
        // ourselves; if it does not end us, we fall through to exit.
        unsafe {
            libc::signal(i32::from(worst.signal), libc::SIG_DFL);
            libc::kill(libc::getpid(), i32::from(worst.signal));
        }
        return 128 + i32::from(worst.signal);
    }
    i32::from(worst.code)
}

fn exit_frame(task: u32, status: ExitStatus) -> Frame {
    Frame::Exit {
        task,
        code: status.code,
        signal: status.signal,
    }
}

fn send(writer: &Writer, frame: &Frame) -> io::Result<()> {
    let mut stream = writer.lock().unwrap_or_else(|p| p.into_inner());
    frame.write_to(&mut *stream)
}

fn connect(address: &str) -> io::Result<TcpStream> {
    let address: SocketAddr = address
        .parse()
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "not host:port"))?;
    let deadline = Instant::now() + Duration::from_millis(CONNECT_TIMEOUT_MS);
    let mut pause = Duration::from_millis(20);
    loop {
        match TcpStream::connect_timeout(&address, Duration::from_secs(2)) {
            Ok(stream) => {
                let _ = stream.set_nodelay(true);
                return Ok(stream);
            }
            Err(error) if Instant::now() >= deadline => return Err(error),
            Err(_) => {
                std::thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_millis(500));
            }
        }
    }
}

/// Signals whose default would end the launcher, which `scancel --signal`
/// sends to the part's whole process group for its tasks.
const FORWARDED_SIGNALS: [libc::c_int; 10] = [
    libc::SIGUSR1,
    libc::SIGUSR2,
    libc::SIGALRM,
    libc::SIGQUIT,
    libc::SIGVTALRM,
    libc::SIGPROF,
    libc::SIGXCPU,
    libc::SIGXFSZ,
    libc::SIGIO,
    libc::SIGPWR,
];

extern "C" fn ignore_forwarded(_signal: libc::c_int) {}

/// Catches (not ignores: an ignored signal would stay ignored in tasks
/// started later) the forwarded signals, once the tasks run: they are for
/// the tasks, which get them from the same group signal.
fn survive_forwarded_signals() {
    for signal in FORWARDED_SIGNALS {
        // SAFETY: the handler does nothing, which is async-signal-safe;
        // sigaction is plain data, initialised by zeroing.
        unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = ignore_forwarded as extern "C" fn(libc::c_int) as usize;
            action.sa_flags = libc::SA_RESTART;
            libc::sigemptyset(&mut action.sa_mask);
            libc::sigaction(signal, &action, std::ptr::null_mut());
        }
    }
}

/// Reads what `srun` sends: signals for the tasks; the connection's end
/// means `srun` is gone, and so must the tasks be.
fn watch_srun(
    mut stream: TcpStream,
    pids: Arc<Vec<libc::pid_t>>,
    gone: Arc<AtomicBool>,
    kill_wait_ms: u64,
) {
    std::thread::spawn(move || {
        loop {
            match Frame::read_from(&mut stream) {
                Ok(Some(Frame::Signal { signal })) => {
                    for pid in pids.iter() {
                        // SAFETY: kill has no memory-safety preconditions.
                        unsafe { libc::kill(*pid, i32::from(signal)) };
                    }
                }
                Ok(Some(_)) => {}
                Ok(None) | Err(_) => break,
            }
        }
        gone.store(true, Ordering::SeqCst);
        // SAFETY: signalling our own process group; we ignore SIGTERM.
        unsafe {
            libc::kill(0, libc::SIGCONT);
            libc::kill(0, libc::SIGTERM);
        }
        std::thread::sleep(Duration::from_millis(kill_wait_ms));
        for pid in pids.iter() {
            // SAFETY: as above; a pid already reaped gets ESRCH.
            unsafe { libc::kill(*pid, libc::SIGKILL) };
        }
    });
}

/// Starts one task; returns its pid and how many of its streams are
/// forwarded, or the status and message of a task that could not start.
fn start_task(
    plan: &StepTaskPlan,
    task: &crate::step_plan::TaskPlan,
    writer: &Writer,
    drained: &mpsc::Sender<u32>,
) -> Result<(libc::pid_t, usize), (ExitStatus, String)> {
    let failed = |code: u8, message: String| (ExitStatus { code, signal: 0 }, message);
    let path_variable = task
        .environment
        .iter()
        .rev()
        .find(|(name, _)| name == "PATH")
        .map(|(_, value)| value.as_str())
        .unwrap_or("/usr/local/bin:/usr/bin:/bin");
    let program_name = plan.argv.first().map(String::as_str).unwrap_or_default();
    let Some(program) = find_program(program_name, &plan.work_dir, path_variable) else {
        return Err(failed(
            libc::ENOENT as u8,
            format!("slurmstepd: error: execve(): {program_name}: No such file or directory"),
        ));
    };
    let mut forwarded: Vec<(RawFd, bool)> = Vec::new();
    let mut child_ends: Vec<File> = Vec::new();
    let mut stream_path =
        |output: &TaskOutput, is_stderr: bool| -> Result<Option<String>, String> {
            match output {
                TaskOutput::File(path) => Ok(Some(path.clone())),
                TaskOutput::WithStdout => Ok(None),
                TaskOutput::Forward => {
                    let mut fds = [0; 2];
                    // SAFETY: fds has room for two descriptors.
                    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
                        return Err(io::Error::last_os_error().to_string());
                    }
                    forwarded.push((fds[0], is_stderr));
                    // SAFETY: we own the new descriptor.
                    child_ends.push(unsafe { File::from_raw_fd(fds[1]) });
                    // The child opens its end by name before exec.
                    Ok(Some(format!("/dev/fd/{}", fds[1])))
                }
            }
        };
    let stdout = stream_path(&task.stdout, false)
        .map_err(|e| failed(1, format!("slurmstepd: error: cannot create a pipe: {e}")))?
        .unwrap_or_else(|| "/dev/null".to_string());
    let stderr = stream_path(&task.stderr, true)
        .map_err(|e| failed(1, format!("slurmstepd: error: cannot create a pipe: {e}")))?;
    let c_string = |text: &str| {
        CString::new(text)
            .map_err(|_| failed(1, format!("slurmstepd: error: {text:?} holds a NUL byte")))
    };
    // SAFETY: reading and restoring our own umask.
    let umask = unsafe {
        let current = libc::umask(0o022);
        libc::umask(current);
        current
    };
    let setup = ChildSetup {
        script: c_string(&program.to_string_lossy())?,
        work_dir: c_string(&plan.work_dir)?,
        stdin: c_string(&task.stdin)?,
        stdout: c_string(&stdout)?,
        stderr: stderr.as_deref().map(c_string).transpose()?,
        append: false,
        umask,
        identity: None,
        new_session: false,
    };
    let arguments: Vec<String> = plan.argv.iter().skip(1).cloned().collect();
    let mut exec = ExecPlan::new(setup, &arguments, &task.environment, TASK_PID_VARIABLE)
        .map_err(|e| failed(1, format!("slurmstepd: error: {e}")))?;
    let spawned = exec.spawn();
    drop(child_ends);
    let pid = match spawned {
        Ok(pid) => pid,
        Err(failure) => {
            for (fd, _) in forwarded {
                // SAFETY: closing the read ends we own.
                unsafe { libc::close(fd) };
            }
            let code = match failure.step {
                Some(Step::Exec) => failure.error.raw_os_error().unwrap_or(1).clamp(1, 255) as u8,
                _ => 1,
            };
            return Err(failed(
                code,
                format!("slurmstepd: error: {}", failure.describe(&exec)),
            ));
        }
    };
    let streams = forwarded.len();
    for (fd, is_stderr) in forwarded {
        // SAFETY: we own the read end.
        let file = unsafe { File::from_raw_fd(fd) };
        forward(file, task.task, is_stderr, writer.clone(), drained.clone());
    }
    Ok((pid, streams))
}

/// Copies a task's stream to `srun` until its end.
fn forward(mut file: File, task: u32, is_stderr: bool, writer: Writer, drained: mpsc::Sender<u32>) {
    std::thread::spawn(move || {
        let mut buffer = vec![0u8; FRAME_PAYLOAD_MAX];
        loop {
            match file.read(&mut buffer) {
                Ok(0) => break,
                Ok(n) => {
                    let data = buffer[..n].to_vec();
                    let frame = if is_stderr {
                        Frame::Stderr { task, data }
                    } else {
                        Frame::Stdout { task, data }
                    };
                    // srun gone: keep reading, so the task never blocks on a full pipe.
                    let _ = send(&writer, &frame);
                }
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => break,
            }
        }
        let _ = drained.send(task);
    });
}

/// The program to run: a path with a slash as given (relative to the work
/// directory), else the first executable file of that name in `PATH`.
pub fn find_program(name: &str, work_dir: &str, path_variable: &str) -> Option<PathBuf> {
    if name.is_empty() {
        return None;
    }
    let executable = |path: &Path| {
        std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    };
    if name.contains('/') {
        let path = Path::new(work_dir).join(name);
        return executable(&path).then_some(path);
    }
    path_variable
        .split(':')
        .map(|dir| {
            if dir.is_empty() {
                Path::new(work_dir).join(name)
            } else {
                Path::new(work_dir).join(dir).join(name)
            }
        })
        .find(|path| executable(path))
}

/// A line in the launcher's log (`step.log` in the part's spool).
fn log(message: &str) {
    eprintln!(
        "{} corral-step-tasks[{}]: {message}",
        crate::journal::now_ms(),
        std::process::id()
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn programs_are_found_as_execvp_finds_them() {
        let found = find_program("sh", "/", "/nonexistent:/bin:/usr/bin").unwrap();
        assert!(found.ends_with("sh"));
        assert_eq!(
            find_program("/bin/sh", "/tmp", ""),
            Some(PathBuf::from("/bin/sh"))
        );
        assert_eq!(
            find_program("no-such-program-here", "/", "/bin:/usr/bin"),
            None
        );
        assert_eq!(find_program("", "/", "/bin"), None);
        // A directory is not a program.
        assert_eq!(find_program("tmp", "/", "/"), None);
    }

    #[test]
    fn the_launcher_exits_as_its_worst_task() {
        assert_eq!(finish(ExitStatus { code: 3, signal: 0 }), 3);
        assert_eq!(finish(ExitStatus::default()), 0);
    }
}
