//! A real cluster for a chaos run: certificates, tokens and configuration
//! under one directory, and every controller and agent a process of its own
//! inside its host of the run's [`Network`].
//!
//! Hosts are named after what runs on them: `controller-<id>` for each
//! controller (listening on `IP:7000` for gRPC and QUIC), `node001`,
//! `node002`, ... for the compute nodes. Processes are named
//! `controller-<id>` and `agent-<node>`; every method that controls one
//! takes that name. [`Cluster::host_names`] gives the hosts a network for
//! `Cluster::create` must have.
//!
//! The cluster owns its network: dropping the cluster (or
//! [`Cluster::shut_down`]) stops every process, kills the jobs left on the
//! nodes and removes the network. The methods block; from async code call
//! them in `spawn_blocking` (they also work, more slowly, on a runtime's
//! own threads).

mod alarms;
mod files;
mod processes;

use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use corral_client::{Client, ClientSettings, ClientTls, ControllerAddress};
use corral_config::{Config, RaftSection, TimeoutsSection};
use corral_proto as wire;

use crate::net::{register, HostName, NetError, Network, Registration, Stage};
pub use alarms::scan as scan_alarms;
use files::AdminUser;
pub use files::{Layout, CONFIG_FILE, PARTITION};
use processes::{reap, Launcher, Process, Role, Running, Table};

/// The port controllers listen on (gRPC over TCP, QUIC over UDP) when each
/// has its own address.
pub const CONTROLLER_PORT: u16 = 7000;
/// How long a status call to one controller may take.
pub const STATUS_TIMEOUT_MS: u64 = 800;
/// How long `create` waits for a leader, and then for the agents.
pub const STARTUP_WAIT_MS: u64 = 30_000;
/// How long `stop_all` waits after SIGTERM before SIGKILL.
pub const STOP_GRACE_MS: u64 = 5_000;
/// Pause between two looks at the cluster while waiting for it.
pub const POLL_INTERVAL_MS: u64 = 100;
/// Log lines quoted in a startup error, per process.
pub const LOG_TAIL_LINES: usize = 15;
/// The most agents (nodes are `node001` to `node999`).
pub const AGENTS_MAX: usize = 999;
/// The environment variable naming the `corral` binary to run.
pub const CORRAL_BINARY_ENV: &str = "CORRAL_BINARY";

/// The shape and settings of a cluster.
#[derive(Clone, Debug)]
pub struct ClusterOptions {
    pub cluster_name: String,
    /// The `corral` binary; found by [`find_corral_binary`] when `None`.
    pub corral_binary: Option<PathBuf>,
    pub controller_port: u16,
    /// What each node declares (more than this machine has is fine).
    pub agent_cpus: u32,
    pub agent_memory_mb: u64,
    /// Controllers check `ClusterState::invariants()` after every apply.
    pub check_invariants: bool,
    pub timeouts: TimeoutsSection,
    pub raft: RaftSection,
    /// How long a client ([`Cluster::client`], and the CLI pointed at the
    /// config) looks for a leader before giving up.
    pub client_leader_wait_ms: u64,
    /// How long `create` waits for a leader, and for the agents.
    pub startup_wait_ms: u64,
    /// Whether `create` waits until every node is up.
    pub wait_for_agents: bool,
    /// `CORRAL_LOG` for every process.
    pub log_filter: Option<String>,
    /// Each controller also serves HTTP (`/metrics`, `/leader`) on this
    /// port of its own address; `None`: no HTTP.
    pub http_port: Option<u16>,
}

impl Default for ClusterOptions {
    fn default() -> Self {
        ClusterOptions {
            cluster_name: "chaos".to_string(),
            corral_binary: None,
            controller_port: CONTROLLER_PORT,
            agent_cpus: 4,
            agent_memory_mb: 4096,
            check_invariants: true,
            timeouts: TimeoutsSection {
                slurmd_timeout_s: 10,
                agent_heartbeat_interval_ms: 1_000,
                kill_wait_s: 5,
                ..TimeoutsSection::default()
            },
            raft: RaftSection::default(),
            client_leader_wait_ms: 5_000,
            startup_wait_ms: STARTUP_WAIT_MS,
            wait_for_agents: true,
            log_filter: None,
            http_port: None,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error(transparent)]
    Net(#[from] NetError),
    #[error(transparent)]
    Certificates(#[from] corral_tls::CertError),
    #[error(transparent)]
    Config(#[from] corral_config::ConfigError),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{0}: a cluster already lives here; give each run a new directory")]
    Exists(PathBuf),
    #[error("{0}")]
    CorralBinary(String),
    #[error(
        "the network has no host {0}: create it with Cluster::host_names(controllers, agents)"
    )]
    MissingHost(String),
    #[error("a cluster needs at least one controller and at most {AGENTS_MAX} agents")]
    Shape,
    #[error("unknown process {name:?} (known: {known})")]
    UnknownProcess { name: String, known: String },
    #[error("{0} is not running")]
    NotRunning(String),
    #[error("{name} is already running (pid {pid})")]
    AlreadyRunning { name: String, pid: i32 },
    #[error("starting {name}: {message}")]
    Spawn { name: String, message: String },
    #[error("{name} did not stop within {waited_ms} ms of SIGSTOP")]
    NotPaused { name: String, waited_ms: u64 },
    #[error("{0}")]
    Startup(String),
    #[error("{what}: {message}")]
    Client { what: &'static str, message: String },
}

impl ClusterError {
    fn io(path: &Path) -> impl FnOnce(std::io::Error) -> ClusterError + '_ {
        move |source| ClusterError::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}

/// A running cluster; see the module documentation.
pub struct Cluster {
    layout: Layout,
    config: Config,
    options: ClusterOptions,
    launcher: Launcher,
    /// Controllers, then agents.
    processes: Vec<Process>,
    table: Arc<Table>,
    ca_pem: Vec<u8>,
    admin_token: String,
    status_client: Arc<Client>,
    /// `None` only while dropping.
    runtime: Option<tokio::runtime::Runtime>,
    network: Network,
    shut_down: bool,
    _registration: Registration,
}

impl Cluster {
    /// The hosts a cluster of this shape runs on: `controller-1`, ...,
    /// then `node001`, ...
    pub fn host_names(controllers: usize, agents: usize) -> Vec<HostName> {
        controller_processes(controllers)
            .into_iter()
            .chain(agent_processes(agents))
            .map(|process| process.host)
            .collect()
    }

    /// Writes everything under `dir` (new or empty), starts the controllers
    /// (the first with `--bootstrap`), waits for a leader, makes the user
    /// running the harness an administrator with a token, starts the agents
    /// and waits for their nodes to be up. On error, whatever was started is
    /// stopped and the network removed.
    pub fn create(
        dir: &Path,
        network: Network,
        controllers: usize,
        agents: usize,
        options: ClusterOptions,
    ) -> Result<Cluster, ClusterError> {
        if controllers == 0 || agents > AGENTS_MAX {
            return Err(ClusterError::Shape);
        }
        let corral = match &options.corral_binary {
            Some(path) => path.clone(),
            None => find_corral_binary()?,
        };
        let processes: Vec<Process> = controller_processes(controllers)
            .into_iter()
            .chain(agent_processes(agents))
            .collect();
        for process in &processes {
            if !network.hosts().contains(&process.host) {
                return Err(ClusterError::MissingHost(process.host.to_string()));
            }
        }
        let layout = Layout::create(dir)?;
        let mut addresses = Vec::new();
        for process in &processes {
            if let Role::Controller { id } = process.role {
                let host = process.host.as_str();
                let ip = network.address_of(host)?;
                let port = network.service_port(host, options.controller_port)?;
                addresses.push((id, SocketAddr::new(ip, port)));
            }
        }
        let nodes: Vec<String> = processes
            .iter()
            .filter_map(|p| match &p.role {
                Role::Agent { node } => Some(node.clone()),
                Role::Controller { .. } => None,
            })
            .collect();
        files::write_certificates(&layout, &options.cluster_name, &addresses, &nodes)?;
        files::write_token(&layout.root_token(), &files::generate_token()?)?;
        let admin = AdminUser::current();
        let file = files::config_file(&layout, &options, &addresses, &nodes, &admin);
        let config = files::write_config(&layout, &file)?;
        let ca_path = config.resolve(&config.file.tls.ca);
        let ca_pem = std::fs::read(&ca_path).map_err(ClusterError::io(&ca_path))?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("corral-chaos-cluster")
            .enable_all()
            .build()
            .map_err(ClusterError::io(Path::new("tokio runtime")))?;
        let table = Arc::new(Table::default());
        let registration = register(Stage::Processes, {
            let table = table.clone();
            let config = config.clone();
            move || {
                table.kill_all();
                stop_jobs(&config);
            }
        });
        let launcher = Launcher {
            corral,
            config: layout.config(),
            logs: layout.logs(),
            check_invariants: options.check_invariants,
            log_filter: options.log_filter.clone(),
        };
        let mut cluster = Cluster {
            status_client: Arc::new(client_for(&config, &ca_pem, None, STATUS_TIMEOUT_MS)),
            layout,
            config,
            options,
            launcher,
            processes,
            table,
            ca_pem,
            admin_token: String::new(),
            runtime: Some(runtime),
            network,
            shut_down: false,
            _registration: registration,
        };
        cluster.start_up(&admin)?;
        Ok(cluster)
    }

    fn start_up(&mut self, admin: &AdminUser) -> Result<(), ClusterError> {
        let controllers = self.controller_names();
        for (index, name) in controllers.iter().enumerate() {
            self.spawn(name, index == 0)?;
        }
        self.wait_for("a leader", &controllers, |cluster| cluster.leader())?;
        self.admin_token = self.add_admin(admin)?;
        let agents = self.agent_names();
        for name in &agents {
            self.spawn(name, false)?;
        }
        if self.options.wait_for_agents && !agents.is_empty() {
            self.wait_for("every node up", &agents, |cluster| {
                cluster.nodes_up().then_some(())
            })?;
        }
        Ok(())
    }

    /// Polls `probe` until it gives something, or fails with the logs of
    /// `processes`.
    fn wait_for<T>(
        &self,
        what: &str,
        processes: &[String],
        mut probe: impl FnMut(&Cluster) -> Option<T>,
    ) -> Result<T, ClusterError> {
        let deadline = Instant::now() + Duration::from_millis(self.options.startup_wait_ms);
        loop {
            if let Some(found) = probe(self) {
                return Ok(found);
            }
            if Instant::now() >= deadline {
                let tails: Vec<String> = processes.iter().map(|name| self.log_tail(name)).collect();
                return Err(ClusterError::Startup(format!(
                    "no {what} within {} ms; recent logs:\n{}",
                    self.options.startup_wait_ms,
                    tails.join("\n")
                )));
            }
            std::thread::sleep(Duration::from_millis(POLL_INTERVAL_MS));
        }
    }

    /// Adds the harness's user as an administrator with the root token, as
    /// `corral dev up` does, and writes its token where the config says.
    fn add_admin(&self, admin: &AdminUser) -> Result<String, ClusterError> {
        let root_path = self.layout.root_token();
        let root_token =
            std::fs::read_to_string(&root_path).map_err(ClusterError::io(&root_path))?;
        let client = client_for(
            &self.config,
            &self.ca_pem,
            Some(root_token.trim().to_string()),
            self.options.startup_wait_ms,
        );
        let token = files::generate_token()?;
        let request = wire::PutUserRequest {
            name: admin.name.clone(),
            uid: admin.uid,
            gid: admin.gid,
            admin: true,
            token_sha256: files::token_digest(&token),
        };
        let reply = self
            .block_on(async move {
                client
                    .call(request, |mut c, r| async move { c.put_user(r).await })
                    .await
            })
            .map_err(|error| ClusterError::Client {
                what: "adding the administrator",
                message: error.to_string(),
            })?;
        if let Some(rejection) = reply.rejection {
            return Err(ClusterError::Client {
                what: "adding the administrator",
                message: rejection.message,
            });
        }
        files::write_token(&self.layout.user_token(&admin.name), &token)?;
        Ok(token)
    }

    /// Whether the leader says every node of the cluster is up.
    fn nodes_up(&self) -> bool {
        let client = self.client();
        let reply = self.block_on(async move {
            client
                .call(wire::GetNodesRequest::default(), |mut c, r| async move {
                    c.get_nodes(r).await
                })
                .await
        });
        let Ok(reply) = reply else {
            return false;
        };
        self.processes.iter().all(|process| match &process.role {
            Role::Agent { node } => reply
                .nodes
                .iter()
                .any(|n| &n.name == node && n.availability == "UP"),
            Role::Controller { .. } => true,
        })
    }

    /// A client of the cluster acting as its administrator, from the
    /// harness's namespace. Tries each controller's address, follows
    /// redirects, and gives up after `client_leader_wait_ms`.
    pub fn client(&self) -> Client {
        client_for(
            &self.config,
            &self.ca_pem,
            Some(self.admin_token.clone()),
            self.options.client_leader_wait_ms,
        )
    }

    /// Every controller's own answer to `ControllerStatus`, asked at once,
    /// in id order; `None` for one that did not answer within
    /// [`STATUS_TIMEOUT_MS`] (dead, paused, cut off from the harness).
    pub fn controller_statuses(&self) -> Vec<(u64, Option<wire::ControllerStatusReply>)> {
        let client = self.status_client.clone();
        self.block_on(async move {
            let timeout = Duration::from_millis(STATUS_TIMEOUT_MS);
            let mut calls = tokio::task::JoinSet::new();
            for controller in client.settings().controllers.clone() {
                let client = client.clone();
                calls.spawn(async move {
                    let status = client
                        .call_one(
                            &controller.address,
                            wire::ControllerStatusRequest {},
                            timeout,
                            |mut c, r| async move { c.controller_status(r).await },
                        )
                        .await
                        .ok();
                    (controller.id.unwrap_or(0), status)
                });
            }
            let mut statuses = calls.join_all().await;
            statuses.sort_by_key(|(id, _)| *id);
            statuses
        })
    }

    /// The leader's id and term: of the controllers that say they lead, the
    /// one with the highest term (a deposed leader, paused or cut off, may
    /// still believe it leads in its old term).
    pub fn leader(&self) -> Option<(u64, u64)> {
        self.controller_statuses()
            .into_iter()
            .filter_map(|(_, status)| status.filter(|s| s.role == "leader"))
            .max_by_key(|status| status.term)
            .map(|status| (status.id, status.term))
    }

    /// The leader's process name (`controller-2`).
    pub fn leader_name(&self) -> Option<String> {
        self.leader().map(|(id, _)| controller_name(id))
    }

    pub fn controller_names(&self) -> Vec<String> {
        self.names(|role| matches!(role, Role::Controller { .. }))
    }

    pub fn agent_names(&self) -> Vec<String> {
        self.names(|role| matches!(role, Role::Agent { .. }))
    }

    fn names(&self, keep: impl Fn(&Role) -> bool) -> Vec<String> {
        self.processes
            .iter()
            .filter(|p| keep(&p.role))
            .map(|p| p.name.clone())
            .collect()
    }

    /// The host a process runs on.
    pub fn host_of(&self, name: &str) -> Result<&HostName, ClusterError> {
        self.process(name).map(|process| &process.host)
    }

    pub fn config_path(&self) -> PathBuf {
        self.layout.config()
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    pub fn dir(&self) -> &Path {
        self.layout.root()
    }

    pub fn network(&self) -> &Network {
        &self.network
    }

    /// `logs/<name>.log`: the process's stdout and stderr, and the
    /// harness's notes (`corral-chaos: ...`).
    pub fn log_path(&self, name: &str) -> PathBuf {
        self.launcher.log(name)
    }

    /// Lines of the process's log reporting a panic, a broken invariant, or
    /// an exit nobody asked for. Empty for a healthy process.
    pub fn alarms(&self, name: &str) -> Vec<String> {
        {
            let mut running = self.table.lock();
            reap(&mut running, name, &self.log_path(name));
        }
        let text = std::fs::read_to_string(self.log_path(name)).unwrap_or_default();
        alarms::scan(&text)
    }

    /// The process's id, if it is running (a paused process runs).
    pub fn pid(&self, name: &str) -> Option<i32> {
        let mut running = self.table.lock();
        reap(&mut running, name, &self.log_path(name));
        running.get(name).map(Running::pid)
    }

    pub fn is_running(&self, name: &str) -> bool {
        self.pid(name).is_some()
    }

    /// SIGKILL; returns when the process is gone.
    pub fn kill(&self, name: &str) -> Result<(), ClusterError> {
        self.process(name)?;
        let mut running = self.table.lock();
        reap(&mut running, name, &self.log_path(name));
        let mut process = running
            .remove(name)
            .ok_or_else(|| ClusterError::NotRunning(name.to_string()))?;
        process.kill();
        Ok(())
    }

    /// SIGSTOP; returns when the kernel shows the process stopped.
    pub fn pause(&self, name: &str) -> Result<(), ClusterError> {
        self.with_running(name, |process| {
            process.signal(libc::SIGSTOP);
            process.paused = true;
            let deadline = Instant::now() + Duration::from_millis(processes::PAUSE_WAIT_MS);
            while !process.is_stopped() {
                if Instant::now() >= deadline {
                    return Err(ClusterError::NotPaused {
                        name: name.to_string(),
                        waited_ms: processes::PAUSE_WAIT_MS,
                    });
                }
                std::thread::sleep(Duration::from_millis(processes::PROCESS_POLL_MS));
            }
            Ok(())
        })
    }

    /// SIGCONT.
    pub fn resume(&self, name: &str) -> Result<(), ClusterError> {
        self.with_running(name, |process| {
            process.signal(libc::SIGCONT);
            process.paused = false;
            Ok(())
        })
    }

    fn with_running(
        &self,
        name: &str,
        action: impl FnOnce(&mut Running) -> Result<(), ClusterError>,
    ) -> Result<(), ClusterError> {
        self.process(name)?;
        let mut running = self.table.lock();
        reap(&mut running, name, &self.log_path(name));
        let process = running
            .get_mut(name)
            .ok_or_else(|| ClusterError::NotRunning(name.to_string()))?;
        action(process)
    }

    /// Starts a stopped process again (never with `--bootstrap`).
    pub fn start(&self, name: &str) -> Result<(), ClusterError> {
        self.spawn(name, false)
    }

    fn spawn(&self, name: &str, bootstrap: bool) -> Result<(), ClusterError> {
        let process = self.process(name)?;
        let mut running = self.table.lock();
        reap(&mut running, name, &self.log_path(name));
        if let Some(existing) = running.get(name) {
            return Err(ClusterError::AlreadyRunning {
                name: name.to_string(),
                pid: existing.pid(),
            });
        }
        let child = self.launcher.spawn(&self.network, process, bootstrap)?;
        running.insert(
            name.to_string(),
            Running {
                child,
                paused: false,
            },
        );
        Ok(())
    }

    /// Cuts every link between a host of the processes in `side` and a
    /// host of those in `other` (process names, e.g. `controller-2`).
    pub fn cut(&self, side: &[String], other: &[String]) -> Result<(), ClusterError> {
        let hosts = |names: &[String]| -> Result<Vec<String>, ClusterError> {
            names
                .iter()
                .map(|n| Ok(self.host_of(n)?.to_string()))
                .collect()
        };
        let (side, other) = (hosts(side)?, hosts(other)?);
        let side: Vec<&str> = side.iter().map(String::as_str).collect();
        let other: Vec<&str> = other.iter().map(String::as_str).collect();
        Ok(self.network.split(&side, &other)?)
    }

    /// Restores every cut link.
    pub fn heal_network(&self) -> Result<(), ClusterError> {
        Ok(self.network.heal_all()?)
    }

    /// Stops every process (agents first; SIGTERM, SIGKILL after
    /// [`STOP_GRACE_MS`]), then kills the jobs left on the nodes and, with
    /// namespaces, anything else still inside a host. The network stays.
    pub fn stop_all(&self) -> Result<(), ClusterError> {
        let mut running = self.table.lock();
        let names: Vec<String> = self
            .processes
            .iter()
            .rev()
            .map(|p| p.name.clone())
            .collect();
        for name in &names {
            reap(&mut running, name, &self.log_path(name));
            if let Some(process) = running.get(name) {
                process.signal(libc::SIGTERM);
                // A stopped process takes SIGTERM only once continued.
                process.signal(libc::SIGCONT);
            }
        }
        let deadline = Instant::now() + Duration::from_millis(STOP_GRACE_MS);
        for name in &names {
            if let Some(mut process) = running.remove(name) {
                if process.wait_until(deadline).is_none() {
                    process.kill();
                }
            }
        }
        drop(running);
        stop_jobs(&self.config);
        if self.network.partitions_available() {
            for process in &self.processes {
                self.network.kill_processes_in(process.host.as_str())?;
            }
        }
        Ok(())
    }

    /// Stops everything and removes the network, reporting what failed.
    pub fn shut_down(mut self) -> Result<(), ClusterError> {
        self.shut_down = true;
        self.stop_all()?;
        self.network.destroy()?;
        Ok(())
    }

    fn process(&self, name: &str) -> Result<&Process, ClusterError> {
        self.processes
            .iter()
            .find(|p| p.name == name)
            .ok_or_else(|| ClusterError::UnknownProcess {
                name: name.to_string(),
                known: self
                    .processes
                    .iter()
                    .map(|p| p.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            })
    }

    fn log_tail(&self, name: &str) -> String {
        let path = self.log_path(name);
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        let tail = lines[lines.len().saturating_sub(LOG_TAIL_LINES)..].join("\n");
        format!("--- {} ---\n{tail}", path.display())
    }

    /// Runs `future` on the cluster's runtime. On a thread that is already
    /// inside a runtime (where `block_on` would panic), on a scoped thread.
    fn block_on<F>(&self, future: F) -> F::Output
    where
        F: Future + Send,
        F::Output: Send,
    {
        let runtime = self.runtime.as_ref().expect("the runtime lives until drop");
        if tokio::runtime::Handle::try_current().is_err() {
            return runtime.block_on(future);
        }
        std::thread::scope(|scope| {
            scope
                .spawn(|| runtime.block_on(future))
                .join()
                .expect("a cluster call panicked")
        })
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if !self.shut_down {
            if let Err(error) = self.stop_all() {
                tracing::warn!(
                    "stopping the cluster in {}: {error}",
                    self.layout.root().display()
                );
            }
            if let Err(error) = self.network.destroy() {
                tracing::warn!("removing the network: {error}");
            }
        }
        if let Some(runtime) = self.runtime.take() {
            // Never blocks, so dropping a cluster inside async code is fine.
            runtime.shutdown_background();
        }
    }
}

fn controller_name(id: u64) -> String {
    format!("controller-{id}")
}

fn controller_processes(count: usize) -> Vec<Process> {
    (1..=count as u64).map(Process::controller).collect()
}

fn agent_processes(count: usize) -> Vec<Process> {
    (1..=count)
        .map(|n| Process::agent(&format!("node{n:03}")))
        .collect()
}

/// A client of the controllers in `config`, whatever the environment says
/// (`CORRAL_CONTROLLERS` and `CORRAL_TOKEN` are for people, not runs).
fn client_for(
    config: &Config,
    ca_pem: &[u8],
    token: Option<String>,
    leader_wait_ms: u64,
) -> Client {
    let settings = ClientSettings {
        cluster_name: config.file.cluster_name.clone(),
        controllers: config
            .file
            .controllers
            .iter()
            .map(|c| ControllerAddress {
                id: Some(c.id),
                name: c.display_name(),
                address: c.address.clone(),
            })
            .collect(),
        ca_file: config.resolve(&config.file.tls.ca),
        token,
        leader_wait_ms,
    };
    let tls = ClientTls {
        ca_pem: ca_pem.to_vec(),
        identity_pem: None,
    };
    Client::new(settings, tls)
}

/// SIGKILLs the jobs still running on the nodes (an agent leaves its jobs
/// running when it stops; a run's end takes everything with it), as
/// `corral dev down` does. Returns how many it killed.
fn stop_jobs(config: &Config) -> usize {
    let mut killed = 0;
    for node in config.node_definitions() {
        let Ok(settings) = config.agent_settings(&node.name) else {
            continue;
        };
        if !settings.spool_dir.is_dir() {
            continue;
        }
        let Ok(runner_config) = corral_agent::RunnerConfig::new(&settings.spool_dir) else {
            continue;
        };
        let Ok(runner) = corral_agent::Runner::open(runner_config) else {
            continue;
        };
        for (job_id, allocation_id) in runner.active().unwrap_or_default() {
            if runner.signal(job_id, allocation_id, libc::SIGKILL).is_ok() {
                killed += 1;
            }
        }
    }
    killed
}

/// The `corral` binary: `$CORRAL_BINARY`, else `corral` beside this
/// executable or in its parent directory (tests run from `target/*/deps/`).
pub fn find_corral_binary() -> Result<PathBuf, ClusterError> {
    if let Some(path) = std::env::var_os(CORRAL_BINARY_ENV) {
        let path = PathBuf::from(path);
        return if path.is_file() {
            Ok(path)
        } else {
            Err(ClusterError::CorralBinary(format!(
                "{CORRAL_BINARY_ENV}={} is not a file",
                path.display()
            )))
        };
    }
    let exe = std::env::current_exe().map_err(|e| ClusterError::CorralBinary(e.to_string()))?;
    let candidates: Vec<PathBuf> = exe
        .ancestors()
        .skip(1)
        .take(2)
        .map(|dir| dir.join("corral"))
        .collect();
    candidates.iter().find(|path| path.is_file()).cloned().ok_or_else(|| {
        let tried: Vec<String> = candidates.iter().map(|p| p.display().to_string()).collect();
        ClusterError::CorralBinary(format!(
            "the corral binary is not at {}: build it with `cargo build -p corral-cli` (or set {CORRAL_BINARY_ENV})",
            tried.join(" or ")
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_and_processes_are_named_after_what_runs_there() {
        let hosts: Vec<String> = Cluster::host_names(3, 2)
            .iter()
            .map(|h| h.to_string())
            .collect();
        assert_eq!(
            hosts,
            [
                "controller-1",
                "controller-2",
                "controller-3",
                "node001",
                "node002"
            ]
        );
        let agent = &agent_processes(1)[0];
        assert_eq!(agent.name, "agent-node001");
        assert_eq!(agent.host.as_str(), "node001");
    }

    #[test]
    fn a_cluster_can_be_shared_between_threads() {
        // The nemesis's `Hosts` is `Send + Sync`, and so the cluster must be.
        fn shareable<T: Send + Sync>() {}
        shareable::<Cluster>();
        shareable::<Network>();
    }
}
