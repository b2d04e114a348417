//! `corral dev`: a whole cluster on this machine, on loopback.
//!
//! Everything lives under one directory:
//!
//! | path | what |
//! |---|---|
//! | `corral.toml` | the cluster's configuration (controllers and their HTTP ports, TLS, partitions, client token, agents' HTTP ports) |
//! | `root.token` | the root token (mode 0600) |
//! | `tls/` | the cluster CA, one certificate per controller and one per node |
//! | `tokens/<user>.token` | the token of the user who ran `dev up`, an administrator |
//! | `data/controller-<id>/` | each controller's Raft log, state and snapshots |
//! | `spool/<node>/` | each agent's journal and its jobs' supervisor files |
//! | `logs/controller-<id>.log`, `logs/agent-<node>.log` | each process's log |
//! | `run/controller-<id>.pid`, `run/agent-<node>.pid` | each running process's id |
//! | `run/simulated-agents` | present when the nodes are simulated (`corral bench agents`): no agent processes |
//! | `bin/` | `sbatch`, `squeue`, `scontrol`, `scancel`: links to this binary |
//! | `controllers/controller-<id>.toml` | the configuration of a controller added by `dev add-controller` (the cluster's, plus its own entry; `corral.toml` is left as it was, so clients and agents learn of it from the membership) |
//!
//! Processes are started detached (their own session), so they outlive the
//! `dev up` that started them; `dev down` stops them by the ids in `run/`.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use corral_client::Client;
use corral_config::{
    AccountingSection, AgentSection, AuthSection, ClientSection, Config, ConfigFile,
    ControllerEntry, NodeEntry, PartitionEntry, RaftSection, TimeoutsSection, TlsSection,
};

use super::status;
use crate::token;

/// The Slurm commands `dev up` links into `bin/`.
pub const SLURM_COMMANDS: [&str; 9] = [
    "sbatch", "squeue", "sinfo", "scontrol", "scancel", "srun", "sacct", "sacctmgr", "sreport",
];
/// How long `dev up` and `dev start` wait for a leader.
pub const LEADER_WAIT_MS: u64 = 30_000;
/// How long `dev down` waits after SIGTERM before SIGKILL.
pub const STOP_GRACE_MS: u64 = 5_000;
pub const CONFIG_FILE: &str = "corral.toml";
const EXTRA_ARGS_FILE: &str = "run/controller-args";
/// Present in a cluster whose nodes are simulated (`corral bench agents`):
/// its nodes are declared, with certificates, but `dev up` starts no agents.
const SIMULATED_AGENTS_FILE: &str = "run/simulated-agents";
/// Where `dev add-controller` writes each added controller's config file.
const ADDED_CONTROLLERS_DIR: &str = "controllers";

#[derive(clap::Subcommand)]
pub enum Command {
    /// Create (or restart) a local cluster in DIR and wait for a leader.
    Up {
        #[arg(long)]
        dir: PathBuf,
        /// Number of controllers (odd: 3 or 5 tolerate 1 or 2 failures).
        #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u64).range(1..=7))]
        controllers: u64,
        /// Compute nodes, each run by an agent on this machine: node001, node002, ...
        #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u32).range(0..=999))]
        agents: u32,
        /// CPUs each node claims (more than the machine has is fine, as with
        /// Slurm's config_overrides).
        #[arg(long, default_value_t = 4)]
        agent_cpus: u32,
        /// Memory each node claims, in MiB.
        #[arg(long, default_value_t = 4096)]
        agent_memory_mb: u64,
        /// GPUs each node declares (none needs to exist).
        #[arg(long, default_value_t = 0)]
        agent_gpus: u32,
        /// Controllers check the state's invariants after every command.
        #[arg(long)]
        check_invariants: bool,
        /// An accounting database (repeat for the nodes of a Galera cluster):
        /// `mysql://USER:PASSWORD@HOST:PORT/DB`. Default: `DIR/accounting.sqlite`.
        #[arg(long = "accounting-url")]
        accounting_urls: Vec<String>,
    },
    /// Stop every process of the cluster in DIR.
    Down {
        #[arg(long)]
        dir: PathBuf,
    },
    /// SIGKILL a process: `leader`, `controller-ID` or `agent-NODE`.
    Kill {
        #[arg(long)]
        dir: PathBuf,
        target: String,
    },
    /// Start a stopped process again: `controller-ID` or `agent-NODE`.
    Start {
        #[arg(long)]
        dir: PathBuf,
        target: String,
    },
    /// Prepare and start one more controller (ports, a certificate from the
    /// dev CA, its own config file, an empty data directory), not yet a
    /// member: add it with the `corral controller add` line this prints.
    AddController {
        #[arg(long)]
        dir: PathBuf,
        /// Its id [default: one more than the highest known].
        #[arg(long)]
        id: Option<u64>,
    },
}

pub fn run(command: Command) -> anyhow::Result<u8> {
    match command {
        Command::Up {
            dir,
            controllers,
            agents,
            agent_cpus,
            agent_memory_mb,
            agent_gpus,
            check_invariants,
            accounting_urls,
        } => {
            let shape = Shape {
                controllers,
                agents,
                agent_cpus,
                agent_memory_mb,
                agent_gpus,
                check_invariants,
                accounting_urls,
                ..Shape::default()
            };
            up(&dir, &shape)
        }
        Command::Down { dir } => down(&DevDir::open(&dir)?),
        Command::Kill { dir, target } => kill(&DevDir::open(&dir)?, &target),
        Command::Start { dir, target } => start(&DevDir::open(&dir)?, &target),
        Command::AddController { dir, id } => add_controller(&DevDir::open(&dir)?, id),
    }
}

/// Starts (or restarts) the dev cluster in `dir`, as `corral dev up`, and
/// returns its configuration. For benchmarks and tools built on dev clusters.
pub fn ensure_up(dir: &Path, controllers: u64) -> anyhow::Result<Config> {
    let shape = Shape {
        controllers,
        agents: 0,
        ..Shape::default()
    };
    ensure_up_with(dir, &shape)
}

/// [`ensure_up`] with the whole shape of a cluster it creates (agents,
/// their CPUs, ...). A cluster already in `dir` keeps the shape it has.
pub fn ensure_up_with(dir: &Path, shape: &Shape) -> anyhow::Result<Config> {
    up(dir, shape)?;
    DevDir::open(dir)?.config()
}

/// Stops the dev cluster in `dir`, as `corral dev down`.
pub fn stop(dir: &Path) -> anyhow::Result<()> {
    down(&DevDir::open(dir)?).map(|_| ())
}

/// SIGKILLs `leader` or `controller-ID`, as `corral dev kill`.
pub fn kill_target(dir: &Path, target: &str) -> anyhow::Result<()> {
    kill(&DevDir::open(dir)?, target).map(|_| ())
}

/// Starts `controller-ID` again, as `corral dev start`.
pub fn start_target(dir: &Path, target: &str) -> anyhow::Result<()> {
    start(&DevDir::open(dir)?, target).map(|_| ())
}

/// A process of a dev cluster.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Process {
    Controller(u64),
    Agent(String),
}

impl Process {
    /// `controller-1`, `agent-node001`: file names and `dev kill` targets.
    pub fn name(&self) -> String {
        match self {
            Process::Controller(id) => format!("controller-{id}"),
            Process::Agent(node) => format!("agent-{node}"),
        }
    }

    fn args(&self) -> Vec<String> {
        match self {
            Process::Controller(id) => vec!["controller".into(), "--id".into(), id.to_string()],
            Process::Agent(node) => vec!["agent".into(), "--node".into(), node.clone()],
        }
    }
}

/// Whether the dev cluster in `dir` has simulated nodes (no agent processes).
pub fn has_simulated_agents(dir: &Path) -> bool {
    dir.join(SIMULATED_AGENTS_FILE).exists()
}

/// The process id of a running controller of the dev cluster in `dir`.
pub fn controller_pid(dir: &Path, id: u64) -> anyhow::Result<Option<i32>> {
    Ok(DevDir::open(dir)?.running_pid(&Process::Controller(id)))
}

/// A dev cluster's directory.
struct DevDir {
    root: PathBuf,
}

impl DevDir {
    fn open(dir: &Path) -> anyhow::Result<DevDir> {
        let root = fs::canonicalize(dir).with_context(|| format!("{}", dir.display()))?;
        let dev = DevDir { root };
        if !dev.config_path().is_file() {
            bail!(
                "{} holds no dev cluster (no {CONFIG_FILE}); create one with corral dev up",
                dev.root.display()
            );
        }
        Ok(dev)
    }

    fn config_path(&self) -> PathBuf {
        self.root.join(CONFIG_FILE)
    }

    fn config(&self) -> anyhow::Result<Config> {
        Ok(Config::load(&self.config_path())?)
    }

    /// Whether the nodes are simulated: declared, but run by no agent process.
    fn simulated_agents(&self) -> bool {
        self.root.join(SIMULATED_AGENTS_FILE).exists()
    }

    /// Every process the cluster runs: its controllers (those of
    /// `corral.toml`, then those `dev add-controller` made), then its
    /// agents (none when the nodes are simulated).
    fn processes(&self, config: &Config) -> Vec<Process> {
        let controllers = config
            .file
            .controllers
            .iter()
            .map(|c| c.id)
            .chain(self.added_controllers())
            .map(Process::Controller);
        let agents = config
            .node_definitions()
            .into_iter()
            .filter(|_| !self.simulated_agents())
            .map(|node| Process::Agent(node.name));
        controllers.chain(agents).collect()
    }

    /// The config file of a controller added by `dev add-controller`.
    fn added_config_path(&self, id: u64) -> PathBuf {
        self.root
            .join(format!("{ADDED_CONTROLLERS_DIR}/controller-{id}.toml"))
    }

    /// The ids of the controllers `dev add-controller` made, in order.
    fn added_controllers(&self) -> Vec<u64> {
        let mut ids: Vec<u64> = fs::read_dir(self.root.join(ADDED_CONTROLLERS_DIR))
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|entry| {
                let name = entry.file_name().to_string_lossy().into_owned();
                name.strip_prefix("controller-")?
                    .strip_suffix(".toml")?
                    .parse()
                    .ok()
            })
            .collect();
        ids.sort_unstable();
        ids
    }

    /// The config file `process` runs with.
    fn config_path_of(&self, process: &Process) -> PathBuf {
        match process {
            Process::Controller(id) if self.added_config_path(*id).is_file() => {
                self.added_config_path(*id)
            }
            _ => self.config_path(),
        }
    }

    fn pid_file(&self, process: &Process) -> PathBuf {
        self.root.join(format!("run/{}.pid", process.name()))
    }

    fn log_file(&self, process: &Process) -> PathBuf {
        self.root.join(format!("logs/{}.log", process.name()))
    }

    /// The process's id, if it is running (and is ours).
    fn running_pid(&self, process: &Process) -> Option<i32> {
        let pid: i32 = fs::read_to_string(self.pid_file(process))
            .ok()?
            .trim()
            .parse()
            .ok()?;
        let cmdline = fs::read(format!("/proc/{pid}/cmdline")).ok()?;
        let cmdline = String::from_utf8_lossy(&cmdline);
        let ours = cmdline.contains(&*self.config_path_of(process).to_string_lossy());
        (ours && !exited(pid)).then_some(pid)
    }

    fn spawn(&self, process: &Process, bootstrap: bool) -> anyhow::Result<()> {
        let exe = std::env::current_exe().context("locating the corral binary")?;
        let log_file = self.log_file(process);
        let log = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_file)
            .with_context(|| format!("opening {}", log_file.display()))?;
        let mut command = std::process::Command::new(exe);
        command
            .arg("--config")
            .arg(self.config_path_of(process))
            .args(process.args())
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log);
        if let Process::Controller(_) = process {
            if bootstrap {
                command.arg("--bootstrap");
            }
            let extra = fs::read_to_string(self.root.join(EXTRA_ARGS_FILE)).unwrap_or_default();
            command.args(extra.split_whitespace());
        }
        // SAFETY: setsid is async-signal-safe; it detaches the process from
        // our terminal and process group so it outlives this command.
        unsafe {
            std::os::unix::process::CommandExt::pre_exec(&mut command, || {
                libc::setsid();
                Ok(())
            });
        }
        let child = command
            .spawn()
            .with_context(|| format!("starting {}", process.name()))?;
        let pid_file = self.pid_file(process);
        fs::write(&pid_file, format!("{}\n", child.id()))
            .with_context(|| format!("writing {}", pid_file.display()))?;
        Ok(())
    }

    fn log_tail(&self, process: &Process, lines: usize) -> String {
        let text = fs::read_to_string(self.log_file(process)).unwrap_or_default();
        let all: Vec<&str> = text.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }

    /// Sends `signal` and waits (up to the grace) until the process is gone.
    fn stop(&self, process: &Process, signal: i32) -> Option<i32> {
        let pid = self.running_pid(process)?;
        // SAFETY: kill(2) on a process id we started and verified.
        unsafe { libc::kill(pid, signal) };
        let deadline = Instant::now() + Duration::from_millis(STOP_GRACE_MS);
        while !exited(pid) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        if !exited(pid) {
            // SAFETY: as above.
            unsafe { libc::kill(pid, libc::SIGKILL) };
            while !exited(pid) {
                std::thread::sleep(Duration::from_millis(5));
            }
        }
        let _ = fs::remove_file(self.pid_file(process));
        Some(pid)
    }
}

/// What `dev up` creates.
#[derive(Clone, Debug)]
pub struct Shape {
    pub controllers: u64,
    pub agents: u32,
    pub agent_cpus: u32,
    pub agent_memory_mb: u64,
    pub agent_gpus: u32,
    pub check_invariants: bool,
    /// Empty: SQLite beside the configuration file.
    pub accounting_urls: Vec<String>,
    /// Declare the nodes (with certificates) but start no agent processes:
    /// the nodes are simulated by `corral bench agents`.
    pub simulated_agents: bool,
    /// `timeouts.min_job_age_s` when set (Slurm's `MinJobAge`).
    pub min_job_age_s: Option<u64>,
}

impl Default for Shape {
    fn default() -> Self {
        Shape {
            controllers: 3,
            agents: 2,
            agent_cpus: 4,
            agent_memory_mb: 4096,
            agent_gpus: 0,
            check_invariants: false,
            accounting_urls: Vec::new(),
            simulated_agents: false,
            min_job_age_s: None,
        }
    }
}

/// Dev clusters notice a dead node after this long (Slurm's default is 300 s).
pub const DEV_SLURMD_TIMEOUT_S: u64 = 10;
pub const DEV_AGENT_HEARTBEAT_INTERVAL_MS: u64 = 1_000;
pub const DEV_KILL_WAIT_S: u64 = 5;

fn up(dir: &Path, shape: &Shape) -> anyhow::Result<u8> {
    let fresh = !dir.join(CONFIG_FILE).exists();
    if fresh {
        create(dir, shape)?;
    }
    let dev = DevDir::open(dir)?;
    let config = dev.config()?;
    let first_controller = Process::Controller(config.file.controllers[0].id);
    let (controllers, agents): (Vec<Process>, Vec<Process>) = dev
        .processes(&config)
        .into_iter()
        .partition(|p| matches!(p, Process::Controller(_)));
    for process in &controllers {
        if dev.running_pid(process).is_none() {
            dev.spawn(process, fresh && *process == first_controller)?;
        }
    }
    let leader = wait_for_leader(&dev, &config)?;
    if fresh {
        create_local_admin(&dev, &config)?;
    }
    for process in &agents {
        if dev.running_pid(process).is_none() {
            dev.spawn(process, false)?;
        }
    }
    println!(
        "Corral dev cluster {:?} is up: {} controllers, the leader is controller {} at {}; {} agents.",
        config.file.cluster_name,
        controllers.len(),
        leader.0,
        leader.1,
        agents.len()
    );
    println!("To use it from this shell:");
    println!("  export CORRAL_CONF={}", dev.config_path().display());
    println!("  export PATH={}:$PATH", dev.root.join("bin").display());
    Ok(0)
}

/// Writes certificates, tokens, links and the configuration of a new cluster.
fn create(dir: &Path, shape: &Shape) -> anyhow::Result<()> {
    for sub in ["tls", "tokens", "data", "logs", "run", "bin", "spool"] {
        fs::create_dir_all(dir.join(sub))
            .with_context(|| format!("creating {}", dir.join(sub).display()))?;
    }
    let root = fs::canonicalize(dir)?;
    // One port per controller (gRPC and QUIC), then one per controller and
    // one per agent for HTTP (/metrics, /health, /leader).
    let controllers = shape.controllers as usize;
    let agent_processes = if shape.simulated_agents {
        0
    } else {
        shape.agents as usize
    };
    let all_ports = free_ports(2 * controllers + agent_processes)?;
    let (ports, http_ports) = all_ports.split_at(controllers);
    let (controller_http_ports, agent_http_ports) = http_ports.split_at(controllers);
    let ids: Vec<u64> = (1..=shape.controllers).collect();
    let hosts: Vec<(u64, Vec<String>)> = ids
        .iter()
        .map(|id| (*id, vec!["127.0.0.1".to_string()]))
        .collect();
    let tls = root.join("tls");
    corral_tls::certs::init_dir(&tls, "dev", &hosts)?;
    let node_names = node_names(shape.agents);
    for node in &node_names {
        corral_tls::certs::issue_node_files(&tls, node)?;
    }
    token::write_file(&root.join("root.token"), &token::generate()?)?;
    let user = super::user::current_user_name().unwrap_or_else(|| "root".to_string());
    let file = ConfigFile {
        cluster_name: "dev".to_string(),
        data_dir: root.join("data"),
        controllers: ids
            .iter()
            .zip(ports.iter().zip(controller_http_ports))
            .map(|(id, (port, http_port))| ControllerEntry {
                id: *id,
                address: format!("127.0.0.1:{port}"),
                name: None,
                data_dir: Some(root.join(format!("data/controller-{id}"))),
                tls_cert: Some(tls.join(format!("controller-{id}.pem"))),
                tls_key: Some(tls.join(format!("controller-{id}-key.pem"))),
                http_address: Some(format!("127.0.0.1:{http_port}")),
            })
            .collect(),
        tls: TlsSection {
            ca: tls.join("ca.pem"),
            cert: None,
            key: None,
        },
        auth: AuthSection {
            root_token_file: Some(root.join("root.token")),
        },
        raft: RaftSection::default(),
        partitions: vec![PartitionEntry {
            name: "debug".to_string(),
            nodes: "ALL".to_string(),
            default: true,
            max_time_minutes: None,
            state: "UP".to_string(),
        }],
        client: ClientSection {
            token_file: Some(root.join(format!("tokens/{user}.token"))),
            leader_wait_ms: None,
        },
        nodes: node_entries(&node_names, shape),
        timeouts: TimeoutsSection {
            slurmd_timeout_s: DEV_SLURMD_TIMEOUT_S,
            agent_heartbeat_interval_ms: DEV_AGENT_HEARTBEAT_INTERVAL_MS,
            kill_wait_s: DEV_KILL_WAIT_S,
            min_job_age_s: shape
                .min_job_age_s
                .unwrap_or(TimeoutsSection::default().min_job_age_s),
        },
        agent: AgentSection {
            spool_dir: root.join("spool/{node}"),
            tls_cert: tls.join("node-{node}.pem"),
            tls_key: tls.join("node-{node}-key.pem"),
            http_address: None,
            http_addresses: node_names
                .iter()
                .zip(agent_http_ports)
                .map(|(node, port)| (node.clone(), format!("127.0.0.1:{port}")))
                .collect(),
        },
        accounting: AccountingSection {
            urls: shape.accounting_urls.clone(),
            ..AccountingSection::default()
        },
    };
    let text = toml::to_string(&file).context("writing the configuration")?;
    let config_path = root.join(CONFIG_FILE);
    fs::write(&config_path, format!("# Written by corral dev up.\n{text}"))
        .with_context(|| format!("writing {}", config_path.display()))?;
    Config::load(&config_path)?;
    let extra = if shape.check_invariants {
        "--check-invariants\n"
    } else {
        ""
    };
    fs::write(root.join(EXTRA_ARGS_FILE), extra)?;
    if shape.simulated_agents {
        fs::write(root.join(SIMULATED_AGENTS_FILE), "")?;
    }
    link_commands(&root.join("bin"))?;
    Ok(())
}

/// `node001`, `node002`, ...: three digits, more past 999 (`node1000`).
fn node_names(count: u32) -> Vec<String> {
    let width = count.to_string().len().max(3);
    (1..=count).map(|n| format!("node{n:0width$}")).collect()
}

/// One `[[node]]` entry for all the dev nodes.
fn node_entries(names: &[String], shape: &Shape) -> Vec<NodeEntry> {
    if names.is_empty() {
        return Vec::new();
    }
    vec![NodeEntry {
        names: corral_state::hostlist::compress(names),
        cpus: shape.agent_cpus,
        memory_mb: shape.agent_memory_mb,
        gpus: shape.agent_gpus,
        gpu_model: if shape.agent_gpus > 0 {
            "declared".to_string()
        } else {
            String::new()
        },
    }]
}

fn link_commands(bin: &Path) -> anyhow::Result<()> {
    let exe = fs::canonicalize(std::env::current_exe()?)?;
    for name in SLURM_COMMANDS.iter().chain(&["corral"]) {
        let link = bin.join(name);
        let _ = fs::remove_file(&link);
        std::os::unix::fs::symlink(&exe, &link)
            .with_context(|| format!("linking {}", link.display()))?;
    }
    Ok(())
}

/// Dev controllers listen on ports drawn from this range: below the
/// kernel's ephemeral ports (32768 and up), so that no client connection of
/// anything else on the machine can take a controller's port while that
/// controller is down for a restart.
pub const DEV_PORTS: std::ops::Range<u16> = 20_000..32_000;
/// Random draws before giving up on finding free ports.
const PORT_DRAWS_MAX: usize = 1_000;

/// Ports free for both TCP (gRPC) and UDP (the agents' QUIC) on 127.0.0.1,
/// drawn at random from [`DEV_PORTS`]. Another `dev up` could still draw the
/// same port before a controller binds it; the controller then fails with a
/// clear "cannot listen" in its log.
fn free_ports(count: usize) -> anyhow::Result<Vec<u16>> {
    let random = ring::rand::SystemRandom::new();
    let mut held = Vec::new();
    for _ in 0..PORT_DRAWS_MAX {
        if held.len() == count {
            break;
        }
        let mut bytes = [0u8; 2];
        ring::rand::SecureRandom::fill(&random, &mut bytes)
            .map_err(|_| anyhow::anyhow!("the system random number generator failed"))?;
        let span = DEV_PORTS.end - DEV_PORTS.start;
        let port = DEV_PORTS.start + u16::from_le_bytes(bytes) % span;
        let tcp = std::net::TcpListener::bind(("127.0.0.1", port));
        let udp = std::net::UdpSocket::bind(("127.0.0.1", port));
        if let (Ok(tcp), Ok(udp)) = (tcp, udp) {
            held.push((port, tcp, udp));
        }
    }
    if held.len() < count {
        bail!(
            "found only {} free ports in {}..{} on 127.0.0.1",
            held.len(),
            DEV_PORTS.start,
            DEV_PORTS.end
        );
    }
    Ok(held.into_iter().map(|(port, _, _)| port).collect())
}

fn client(config: &Config) -> anyhow::Result<Arc<Client>> {
    // The dev tokens may not exist yet; status calls need none.
    let settings = corral_client::ClientSettings {
        token: None,
        ..corral_client::ClientSettings::from_config(&without_token(config))?
    };
    let tls = corral_client::ClientTls {
        ca_pem: fs::read(&settings.ca_file)
            .with_context(|| format!("{}", settings.ca_file.display()))?,
        identity_pem: None,
    };
    Ok(Arc::new(Client::new(settings, tls)))
}

fn without_token(config: &Config) -> Config {
    let mut config = config.clone();
    config.file.client.token_file = None;
    config
}

/// The leader's id and address. A controller restarted after being killed
/// as leader may briefly still believe it leads, in its old term, until it
/// hears from the real leader: the leader of the highest term is the one.
fn find_leader(config: &Config) -> anyhow::Result<Option<(u64, String)>> {
    let client = client(config)?;
    let rows = super::runtime()?.block_on(status::collect(client));
    Ok(status::leader(rows).map(|s| (s.id, s.address)))
}

fn wait_for_leader(dev: &DevDir, config: &Config) -> anyhow::Result<(u64, String)> {
    let deadline = Instant::now() + Duration::from_millis(LEADER_WAIT_MS);
    loop {
        if let Some(leader) = find_leader(config)? {
            return Ok(leader);
        }
        if Instant::now() >= deadline {
            let logs: Vec<String> = config
                .file
                .controllers
                .iter()
                .map(|c| {
                    let process = Process::Controller(c.id);
                    format!(
                        "--- {} ---\n{}",
                        dev.log_file(&process).display(),
                        dev.log_tail(&process, 15)
                    )
                })
                .collect();
            bail!(
                "no leader elected within {LEADER_WAIT_MS} ms; recent logs:\n{}",
                logs.join("\n")
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Makes the user running `dev up` an administrator, with a token the
/// config's `client.token_file` points at.
fn create_local_admin(dev: &DevDir, config: &Config) -> anyhow::Result<()> {
    let token_path = config
        .file
        .client
        .token_file
        .clone()
        .context("the dev config names no client token file")?;
    let name = token_path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "root".to_string());
    let (uid, gid) = super::user::local_ids(&name).unwrap_or((0, 0));
    let secret = token::generate()?;
    let root_token = fs::read_to_string(dev.root.join("root.token"))?;
    let mut settings = corral_client::ClientSettings::from_config(&without_token(config))?;
    settings.token = Some(root_token.trim().to_string());
    let tls = corral_client::ClientTls {
        ca_pem: fs::read(&settings.ca_file)?,
        identity_pem: None,
    };
    let client = Client::new(settings, tls);
    super::runtime()?.block_on(super::user::put_user(
        &client,
        &name,
        uid,
        gid,
        true,
        &token::digest(&secret),
    ))?;
    token::write_file(&token_path, &secret)?;
    Ok(())
}

/// Whether a process has finished exiting: gone, or a zombie. (A dying
/// process loses its command line before it closes its sockets, so
/// `running_pid` alone says "stopped" too early.)
fn exited(pid: i32) -> bool {
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat.contains(") Z ") || stat.contains(") X "),
        Err(_) => true,
    }
}

fn down(dev: &DevDir) -> anyhow::Result<u8> {
    let config = dev.config()?;
    // Agents first, so no agent outlives the controllers it reports to for
    // long; their jobs keep running under their supervisors.
    let mut all = dev.processes(&config);
    all.reverse();
    for process in &all {
        if let Some(pid) = dev.running_pid(process) {
            // SAFETY: kill(2) on a process id we started and verified.
            unsafe { libc::kill(pid, libc::SIGTERM) };
        }
    }
    for process in &all {
        dev.stop(process, libc::SIGTERM);
    }
    let jobs = if dev.simulated_agents() {
        0
    } else {
        stop_jobs(&config)
    };
    println!(
        "Corral dev cluster in {} stopped ({jobs} running jobs killed).",
        dev.root.display()
    );
    Ok(0)
}

/// Kills the jobs still running on the dev cluster's nodes. (A real agent
/// leaves its jobs running when it stops; a dev cluster going down takes
/// everything with it.) Returns how many were killed.
fn stop_jobs(config: &Config) -> usize {
    let mut killed = 0;
    for node in config.node_definitions() {
        let Ok(settings) = config.agent_settings(&node.name) else {
            continue;
        };
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

/// `leader`, `controller-ID` or `agent-NODE` to a process of this cluster.
fn target(dev: &DevDir, config: &Config, target: &str) -> anyhow::Result<Process> {
    if target == "leader" {
        let (id, _) = find_leader(config)?.context("no leader is known right now")?;
        return Ok(Process::Controller(id));
    }
    let all = dev.processes(config);
    all.iter()
        .find(|process| process.name() == target)
        .cloned()
        .with_context(|| {
            let known: Vec<String> = all.iter().map(Process::name).collect();
            format!(
                "unknown target {target:?}: expected leader or one of {}",
                known.join(", ")
            )
        })
}

fn kill(dev: &DevDir, name: &str) -> anyhow::Result<u8> {
    let config = dev.config()?;
    let process = target(dev, &config, name)?;
    let pid = dev
        .stop(&process, libc::SIGKILL)
        .with_context(|| format!("{} is not running", process.name()))?;
    println!("{} (pid {pid}) killed", process.name());
    Ok(0)
}

fn start(dev: &DevDir, name: &str) -> anyhow::Result<u8> {
    let config = dev.config()?;
    let process = target(dev, &config, name)?;
    if let Some(pid) = dev.running_pid(&process) {
        println!("{} is already running (pid {pid})", process.name());
        return Ok(0);
    }
    dev.spawn(&process, false)?;
    println!("{} started", process.name());
    Ok(0)
}

/// `dev add-controller`: ports, a certificate, a config file of its own
/// (the cluster's plus its entry), an empty data directory; then starts it
/// (no `--bootstrap`: it waits, a member of nothing, for the leader to add
/// it) and prints the `corral controller add` that does.
fn add_controller(dev: &DevDir, id: Option<u64>) -> anyhow::Result<u8> {
    let config = dev.config()?;
    let known: Vec<u64> = config
        .file
        .controllers
        .iter()
        .map(|c| c.id)
        .chain(dev.added_controllers())
        .collect();
    let id = id.unwrap_or_else(|| known.iter().max().copied().unwrap_or(0) + 1);
    if id == 0 {
        bail!("--id: a controller id must be 1 or more");
    }
    if known.contains(&id) {
        bail!(
            "--id: controller {id} already exists in this dev cluster (start it again with corral dev start --dir {} controller-{id})",
            dev.root.display()
        );
    }
    let ports = free_ports(2)?;
    let tls = dev.root.join("tls");
    corral_tls::certs::issue_controller_files(&tls, id, &["127.0.0.1".to_string()])?;
    let data_dir = dev.root.join(format!("data/controller-{id}"));
    if data_dir.exists() {
        bail!(
            "{} exists: remove it first (a new controller starts empty)",
            data_dir.display()
        );
    }
    let entry = ControllerEntry {
        id,
        address: format!("127.0.0.1:{}", ports[0]),
        name: None,
        data_dir: Some(data_dir),
        tls_cert: Some(tls.join(format!("controller-{id}.pem"))),
        tls_key: Some(tls.join(format!("controller-{id}-key.pem"))),
        http_address: Some(format!("127.0.0.1:{}", ports[1])),
    };
    let mut file = config.file.clone();
    file.controllers.push(entry.clone());
    // The same accounting database as the others (the default SQLite file
    // is beside the config file, which lives elsewhere for this one).
    file.accounting.urls = config.accounting_urls();
    let text = toml::to_string(&file).context("writing the configuration")?;
    fs::create_dir_all(dev.root.join(ADDED_CONTROLLERS_DIR))?;
    let path = dev.added_config_path(id);
    fs::write(
        &path,
        format!(
            "# Written by corral dev add-controller: controller {id}'s own configuration.\n{text}"
        ),
    )
    .with_context(|| format!("writing {}", path.display()))?;
    Config::load(&path)?;
    let process = Process::Controller(id);
    dev.spawn(&process, false)?;
    wait_answering(dev, &config, &process, &entry.address)?;
    let http = entry.http_address.clone().unwrap_or_default();
    println!(
        "{} started at {} (http {http}), not yet a member; add it with:",
        process.name(),
        entry.address
    );
    println!(
        "  corral controller add {id} {} --http-address {http}",
        entry.address
    );
    Ok(0)
}

/// Waits until the controller at `address` answers `ControllerStatus`, so
/// that a `corral controller add` right after finds it.
fn wait_answering(
    dev: &DevDir,
    config: &Config,
    process: &Process,
    address: &str,
) -> anyhow::Result<()> {
    let client = client(config)?;
    let runtime = super::runtime()?;
    let deadline = Instant::now() + Duration::from_millis(LEADER_WAIT_MS);
    loop {
        let answered = runtime.block_on(client.call_one(
            address,
            corral_proto::ControllerStatusRequest {},
            Duration::from_millis(status::STATUS_TIMEOUT_MS),
            |mut c, r| async move { c.controller_status(r).await },
        ));
        if answered.is_ok() {
            return Ok(());
        }
        if Instant::now() >= deadline {
            bail!(
                "{} does not answer at {address} after {LEADER_WAIT_MS} ms; its log:\n{}",
                process.name(),
                dev.log_tail(process, 15)
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}
