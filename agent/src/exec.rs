//! Starting the batch script: everything the child needs is prepared
//! before `fork` ([`ExecPlan`]), so that between `fork` and `execve` the
//! child makes only async-signal-safe system calls and allocates nothing.
//! A failure there is reported to the parent through a close-on-exec pipe
//! as the step that failed and its `errno`; end of file means the script
//! is running.

use std::ffi::{CStr, CString};
use std::io;
use std::os::raw::c_char;

/// What the child does, in order; the step that failed names the error.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Step {
    Session = 1,
    Groups,
    Gid,
    Uid,
    WorkDir,
    Stdin,
    Stdout,
    Stderr,
    Exec,
}

impl Step {
    fn from_byte(byte: u8) -> Option<Step> {
        use Step::*;
        [
            Session, Groups, Gid, Uid, WorkDir, Stdin, Stdout, Stderr, Exec,
        ]
        .into_iter()
        .find(|step| *step as u8 == byte)
    }
}

/// Who the script runs as, when the supervisor is root.
pub struct Identity {
    pub uid: libc::uid_t,
    pub gid: libc::gid_t,
    /// Supplementary groups (`initgroups`), looked up before `fork`.
    pub groups: Vec<libc::gid_t>,
}

/// Everything the child needs, as C data.
pub struct ExecPlan {
    pub setup: ChildSetup,
    /// `argv[0]` is the script's path, as Slurm runs it.
    argv: Vec<CString>,
    /// NUL-terminated `NAME=value` entries.
    environment: Vec<Vec<u8>>,
    /// Where the script's pid goes: (entry, offset of the value).
    task_pid_slot: Option<(usize, usize)>,
}

/// What the child sets up before it execs the script.
pub struct ChildSetup {
    pub script: CString,
    pub work_dir: CString,
    pub stdin: CString,
    pub stdout: CString,
    /// `None`: standard error shares standard output's file.
    pub stderr: Option<CString>,
    pub append: bool,
    pub umask: libc::mode_t,
    pub identity: Option<Identity>,
    /// Lead a new session (and process group): a batch script or a step's
    /// task launcher. A task stays in its launcher's group.
    pub new_session: bool,
}

/// Room for the decimal digits of any pid.
const PID_DIGITS_MAX: usize = 20;

/// A failure before the script ran, as the child reported it.
#[derive(Debug)]
pub struct ChildFailure {
    pub step: Option<Step>,
    pub error: io::Error,
}

impl ExecPlan {
    /// `environment` in order; the entry named `task_pid_variable` gets
    /// the script's pid in the child.
    pub fn new(
        setup: ChildSetup,
        arguments: &[String],
        environment: &[(String, String)],
        task_pid_variable: &str,
    ) -> Result<ExecPlan, String> {
        let mut argv = vec![setup.script.clone()];
        for argument in arguments {
            argv.push(
                CString::new(argument.as_bytes())
                    .map_err(|_| format!("script argument {argument:?} holds a NUL byte"))?,
            );
        }
        let mut entries = Vec::with_capacity(environment.len());
        let mut task_pid_slot = None;
        for (name, value) in environment {
            if name.is_empty() || name.contains('=') || name.contains('\0') || value.contains('\0')
            {
                return Err(format!(
                    "environment variable {name:?} cannot be passed to a program"
                ));
            }
            let mut entry = format!("{name}=").into_bytes();
            if name == task_pid_variable {
                task_pid_slot = Some((entries.len(), entry.len()));
                entry.resize(entry.len() + PID_DIGITS_MAX, b'0');
            } else {
                entry.extend_from_slice(value.as_bytes());
            }
            entry.push(0);
            entries.push(entry);
        }
        Ok(ExecPlan {
            setup,
            argv,
            environment: entries,
            task_pid_slot,
        })
    }

    /// Forks the script's process, which leads its own session (and so its
    /// own process group) when `new_session`, and waits until it has
    /// exec'd. Returns its pid.
    pub fn spawn(&mut self) -> Result<libc::pid_t, ChildFailure> {
        let argv: Vec<*const c_char> = self
            .argv
            .iter()
            .map(|a| a.as_ptr())
            .chain(std::iter::once(std::ptr::null()))
            .collect();
        let envp: Vec<*mut c_char> = self
            .environment
            .iter_mut()
            .map(|e| e.as_mut_ptr().cast::<c_char>())
            .chain(std::iter::once(std::ptr::null_mut()))
            .collect();
        let slot = self.task_pid_slot.map(|(entry, offset)| {
            // SAFETY: offset + PID_DIGITS_MAX + 1 bytes exist in that entry.
            unsafe { envp[entry].add(offset) }
        });
        let mut fds = [0; 2];
        // SAFETY: fds has room for two descriptors.
        if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
            return Err(ChildFailure {
                step: None,
                error: io::Error::last_os_error(),
            });
        }
        let (read_end, write_end) = (fds[0], fds[1]);
        // SAFETY: the supervisor is single-threaded; the child only makes
        // async-signal-safe calls on data prepared above, then execs or exits.
        let pid = unsafe { libc::fork() };
        if pid == 0 {
            // SAFETY: in the child; never returns.
            unsafe { child(&self.setup, write_end, &argv, &envp, slot) }
        }
        // SAFETY: closing our copy of the write end.
        unsafe { libc::close(write_end) };
        if pid < 0 {
            let error = io::Error::last_os_error();
            // SAFETY: closing the read end we own.
            unsafe { libc::close(read_end) };
            return Err(ChildFailure { step: None, error });
        }
        let report = read_report(read_end);
        // SAFETY: closing the read end we own.
        unsafe { libc::close(read_end) };
        match report {
            None => Ok(pid),
            Some(failure) => {
                let mut status = 0;
                // SAFETY: reaping the child that just exited.
                unsafe { libc::waitpid(pid, &mut status, 0) };
                Err(failure)
            }
        }
    }
}

/// The child, from `fork` to `execve`: only async-signal-safe calls.
unsafe fn child(
    setup: &ChildSetup,
    report: libc::c_int,
    argv: &[*const c_char],
    envp: &[*mut c_char],
    task_pid_slot: Option<*mut c_char>,
) -> ! {
    // Signals: default dispositions (Rust ignores SIGPIPE; the supervisor
    // blocks what it waits for), nothing blocked.
    for signal in 1..libc::SIGRTMAX() {
        if signal != libc::SIGKILL && signal != libc::SIGSTOP {
            libc::signal(signal, libc::SIG_DFL);
        }
    }
    let mut empty: libc::sigset_t = std::mem::zeroed();
    libc::sigemptyset(&mut empty);
    libc::sigprocmask(libc::SIG_SETMASK, &empty, std::ptr::null_mut());

    if let Some(slot) = task_pid_slot {
        write_decimal(slot, libc::getpid() as u64);
    }
    if setup.new_session && libc::setsid() < 0 {
        fail(report, Step::Session);
    }
    if let Some(identity) = &setup.identity {
        if libc::setgroups(identity.groups.len(), identity.groups.as_ptr()) != 0 {
            fail(report, Step::Groups);
        }
        if libc::setgid(identity.gid) != 0 {
            fail(report, Step::Gid);
        }
        if libc::setuid(identity.uid) != 0 {
            fail(report, Step::Uid);
        }
    }
    libc::umask(setup.umask);
    if libc::chdir(setup.work_dir.as_ptr()) != 0 {
        fail(report, Step::WorkDir);
    }
    let stdin = libc::open(setup.stdin.as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC);
    if stdin < 0 || !install(stdin, 0) {
        fail(report, Step::Stdin);
    }
    let mode = if setup.append {
        libc::O_APPEND
    } else {
        libc::O_TRUNC
    };
    let flags = libc::O_WRONLY | libc::O_CREAT | libc::O_CLOEXEC | mode;
    let stdout = libc::open(setup.stdout.as_ptr(), flags, 0o644 as libc::c_uint);
    if stdout < 0 || !install(stdout, 1) {
        fail(report, Step::Stdout);
    }
    match &setup.stderr {
        None => {
            if libc::dup2(1, 2) < 0 {
                fail(report, Step::Stderr);
            }
        }
        Some(path) => {
            let stderr = libc::open(path.as_ptr(), flags, 0o644 as libc::c_uint);
            if stderr < 0 || !install(stderr, 2) {
                fail(report, Step::Stderr);
            }
        }
    }
    libc::execve(setup.script.as_ptr(), argv.as_ptr(), envp.as_ptr().cast());
    fail(report, Step::Exec)
}

/// Moves `fd` to `target`, without close-on-exec.
unsafe fn install(fd: libc::c_int, target: libc::c_int) -> bool {
    if fd == target {
        return libc::fcntl(fd, libc::F_SETFD, 0) == 0;
    }
    libc::dup2(fd, target) >= 0
}

/// Writes `value` in decimal at `slot` and ends the string there.
unsafe fn write_decimal(slot: *mut c_char, mut value: u64) {
    let mut digits = [0u8; PID_DIGITS_MAX];
    let mut count = 0;
    loop {
        digits[count] = b'0' + (value % 10) as u8;
        count += 1;
        value /= 10;
        if value == 0 || count == PID_DIGITS_MAX {
            break;
        }
    }
    for (i, digit) in digits[..count].iter().rev().enumerate() {
        *slot.add(i) = *digit as c_char;
    }
    *slot.add(count) = 0;
}

/// Reports the failed step and `errno` to the parent, and exits.
unsafe fn fail(report: libc::c_int, step: Step) -> ! {
    let errno = *libc::__errno_location();
    let mut message = [0u8; 5];
    message[0] = step as u8;
    message[1..].copy_from_slice(&errno.to_le_bytes());
    libc::write(report, message.as_ptr().cast(), message.len());
    libc::_exit(127)
}

/// Reads the child's report: `None` when the pipe closed empty (exec'd).
fn read_report(fd: libc::c_int) -> Option<ChildFailure> {
    let mut message = [0u8; 5];
    let mut filled = 0;
    while filled < message.len() {
        // SAFETY: reading into the unfilled part of `message`.
        let n = unsafe {
            libc::read(
                fd,
                message[filled..].as_mut_ptr().cast(),
                message.len() - filled,
            )
        };
        if n == 0 {
            break;
        }
        if n < 0 {
            if io::Error::last_os_error().kind() == io::ErrorKind::Interrupted {
                continue;
            }
            break;
        }
        filled += n as usize;
    }
    if filled == 0 {
        return None;
    }
    let errno = i32::from_le_bytes([message[1], message[2], message[3], message[4]]);
    Some(ChildFailure {
        step: Step::from_byte(message[0]),
        error: io::Error::from_raw_os_error(errno),
    })
}

impl ChildFailure {
    /// What went wrong, for the job's record.
    pub fn describe(&self, plan: &ExecPlan) -> String {
        let show = |c: &CStr| c.to_string_lossy().into_owned();
        let what = match self.step {
            None => "cannot start a process".to_string(),
            Some(Step::Session) => "cannot create a session".to_string(),
            Some(Step::Groups) => "cannot set the supplementary groups".to_string(),
            Some(Step::Gid) => "cannot switch to the job's group".to_string(),
            Some(Step::Uid) => "cannot switch to the job's user".to_string(),
            Some(Step::WorkDir) => format!(
                "cannot change to the work directory {}",
                show(&plan.setup.work_dir)
            ),
            Some(Step::Stdin) => format!("cannot open the input file {}", show(&plan.setup.stdin)),
            Some(Step::Stdout) => {
                format!("cannot open the output file {}", show(&plan.setup.stdout))
            }
            Some(Step::Stderr) => format!(
                "cannot open the error file {}",
                plan.setup.stderr.as_deref().map(show).unwrap_or_default()
            ),
            Some(Step::Exec) => format!("cannot execute the script {}", show(&plan.setup.script)),
        };
        format!("{what}: {}", self.error)
    }
}
