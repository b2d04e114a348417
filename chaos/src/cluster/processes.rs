//! The processes of a cluster: what each runs, starting it in its host,
//! signalling it, and noticing when it dies on its own.

use std::collections::BTreeMap;
use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, ExitStatus, Stdio};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::net::{HostName, Network};

use super::alarms::{EXITED_BY_ITSELF, HARNESS_NOTE_PREFIX};
use super::ClusterError;

/// How often waits poll a process.
pub const PROCESS_POLL_MS: u64 = 5;
/// How long `pause` waits for the process to show as stopped.
pub const PAUSE_WAIT_MS: u64 = 1_000;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Role {
    Controller { id: u64 },
    Agent { node: String },
}

/// One process of the cluster, by its name (`controller-2`, `agent-node001`).
#[derive(Clone, Debug)]
pub struct Process {
    pub name: String,
    pub host: HostName,
    pub role: Role,
}

impl Process {
    /// Controller `id`, alone on host `controller-<id>`.
    pub fn controller(id: u64) -> Process {
        let name = format!("controller-{id}");
        Process {
            host: HostName::new(name.clone()).expect("controller host names are valid"),
            name,
            role: Role::Controller { id },
        }
    }

    /// The agent of `node`, on host `<node>`.
    pub fn agent(node: &str) -> Process {
        Process {
            name: format!("agent-{node}"),
            host: HostName::new(node).expect("node names are valid host names"),
            role: Role::Agent {
                node: node.to_string(),
            },
        }
    }

    /// `corral` arguments after `--config FILE`.
    fn arguments(&self, bootstrap: bool, check_invariants: bool) -> Vec<String> {
        match &self.role {
            Role::Controller { id } => {
                let mut arguments = vec!["controller".into(), "--id".into(), id.to_string()];
                if check_invariants {
                    arguments.push("--check-invariants".into());
                }
                if bootstrap {
                    arguments.push("--bootstrap".into());
                }
                arguments
            }
            Role::Agent { node } => vec!["agent".into(), "--node".into(), node.clone()],
        }
    }
}

/// Starts processes: `corral --config FILE ...` inside the process's host,
/// in its own session, output appended to its log.
pub struct Launcher {
    pub corral: PathBuf,
    pub config: PathBuf,
    pub logs: PathBuf,
    pub check_invariants: bool,
    /// `CORRAL_LOG` for every process, if set.
    pub log_filter: Option<String>,
}

impl Launcher {
    pub fn log(&self, name: &str) -> PathBuf {
        self.logs.join(format!("{name}.log"))
    }

    pub fn spawn(
        &self,
        network: &Network,
        process: &Process,
        bootstrap: bool,
    ) -> Result<Child, ClusterError> {
        let log_path = self.log(&process.name);
        let mut log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .map_err(ClusterError::io(&log_path))?;
        let arguments = process.arguments(bootstrap, self.check_invariants);
        let mut command = network.command(process.host.as_str(), &self.corral)?;
        command
            .arg("--config")
            .arg(&self.config)
            .args(&arguments)
            .stdin(Stdio::null())
            .stdout(log.try_clone().map_err(ClusterError::io(&log_path))?)
            .stderr(log.try_clone().map_err(ClusterError::io(&log_path))?)
            // What the processes read comes from the file alone.
            .env_remove(corral_config::CONFIG_PATH_ENV)
            .env_remove(corral_client::CONTROLLERS_ENV)
            .env_remove(corral_client::TOKEN_ENV);
        if let Some(filter) = &self.log_filter {
            command.env("CORRAL_LOG", filter);
        }
        // SAFETY: setsid is async-signal-safe. The process gets its own
        // session, so a Ctrl-C at the harness's terminal does not reach it
        // (the harness stops it) and it can be signalled alone.
        unsafe {
            std::os::unix::process::CommandExt::pre_exec(&mut command, || {
                libc::setsid();
                Ok(())
            });
        }
        let _ = writeln!(
            log,
            "{HARNESS_NOTE_PREFIX} starting {} on host {}: {command:?}",
            process.name, process.host
        );
        command.spawn().map_err(|error| ClusterError::Spawn {
            name: process.name.clone(),
            message: error.to_string(),
        })
    }
}

/// A process the harness started and has not seen end.
pub struct Running {
    pub child: Child,
    pub paused: bool,
}

impl Running {
    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    pub fn signal(&self, signal: i32) {
        // SAFETY: kill(2) on our own child, not yet reaped, so its id
        // cannot have been reused.
        unsafe { libc::kill(self.pid(), signal) };
    }

    /// Waits until the process has exited, or `deadline`; reaps it.
    pub fn wait_until(&mut self, deadline: Instant) -> Option<ExitStatus> {
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(PROCESS_POLL_MS));
        }
    }

    /// SIGKILL, then wait until it is gone.
    pub fn kill(&mut self) {
        self.signal(libc::SIGKILL);
        let _ = self.child.wait();
    }

    /// Whether the kernel shows the process stopped (SIGSTOP taken).
    pub fn is_stopped(&self) -> bool {
        fs::read_to_string(format!("/proc/{}/stat", self.pid()))
            .ok()
            .and_then(|stat| {
                let after_name = stat.rsplit_once(") ")?.1;
                after_name.chars().next()
            })
            .is_some_and(|state| state == 'T' || state == 't')
    }
}

/// The running processes, by name. Shared with the teardown run on signals.
#[derive(Default)]
pub struct Table {
    running: Mutex<BTreeMap<String, Running>>,
}

impl Table {
    pub fn lock(&self) -> MutexGuard<'_, BTreeMap<String, Running>> {
        // A panic while holding it leaves the map itself consistent.
        self.running
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// SIGKILLs every process and waits for each: the teardown of an
    /// interrupted run.
    pub fn kill_all(&self) {
        let mut running = self.lock();
        for process in running.values_mut() {
            process.kill();
        }
        running.clear();
    }
}

/// Removes `name` from the table if it has exited, noting in its log that
/// it exited by itself (every stop the harness asks for removes the
/// process from the table first). Returns how it exited.
pub fn reap(running: &mut BTreeMap<String, Running>, name: &str, log: &Path) -> Option<ExitStatus> {
    let process = running.get_mut(name)?;
    let status = process.child.try_wait().ok().flatten()?;
    let pid = process.pid();
    running.remove(name);
    if let Ok(mut file) = OpenOptions::new().append(true).create(true).open(log) {
        let _ = writeln!(
            file,
            "{HARNESS_NOTE_PREFIX} {name} (pid {pid}) {EXITED_BY_ITSELF}: {status}"
        );
    }
    Some(status)
}
