//! The files of a cluster: directory layout, certificates, tokens, the
//! configuration.

use std::fs;
use std::io::Write;
use std::net::SocketAddr;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use corral_config::{
    AgentSection, AuthSection, ClientSection, Config, ConfigFile, ControllerEntry, NodeEntry,
    PartitionEntry, TlsSection,
};
use corral_tls::CertPaths;

use super::{ClusterError, ClusterOptions};

pub const CONFIG_FILE: &str = "corral.toml";
/// The partition every node is in.
pub const PARTITION: &str = "debug";
/// Bytes of randomness in a token (twice as many hex digits).
pub const TOKEN_BYTES: usize = 32;

/// Where everything of a cluster lives, under one directory:
///
/// | path | what |
/// |---|---|
/// | `corral.toml` | the configuration every process and client reads |
/// | `root.token` | the root token (mode 0600) |
/// | `tokens/<user>.token` | the administrator's token (`client.token_file`) |
/// | `tls/` | the cluster CA, `controller-<id>.pem`, `node-<name>.pem` and keys |
/// | `data/controller-<id>/` | each controller's Raft log and snapshots |
/// | `spool/<node>/` | each agent's journal and its jobs' files |
/// | `logs/<process>.log` | each process's stdout and stderr, with the harness's notes |
#[derive(Clone, Debug)]
pub struct Layout {
    root: PathBuf,
}

impl Layout {
    /// Creates the directories under `dir` (made absolute); refuses a
    /// directory that already holds a cluster.
    pub fn create(dir: &Path) -> Result<Layout, ClusterError> {
        fs::create_dir_all(dir).map_err(ClusterError::io(dir))?;
        let root = fs::canonicalize(dir).map_err(ClusterError::io(dir))?;
        let layout = Layout { root };
        if layout.config().exists() {
            return Err(ClusterError::Exists(layout.root.clone()));
        }
        for sub in ["tls", "tokens", "data", "logs", "spool"] {
            let path = layout.root.join(sub);
            fs::create_dir_all(&path).map_err(ClusterError::io(&path))?;
        }
        Ok(layout)
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn config(&self) -> PathBuf {
        self.root.join(CONFIG_FILE)
    }

    pub fn tls(&self) -> PathBuf {
        self.root.join("tls")
    }

    pub fn root_token(&self) -> PathBuf {
        self.root.join("root.token")
    }

    pub fn user_token(&self, user: &str) -> PathBuf {
        self.root.join(format!("tokens/{user}.token"))
    }

    pub fn logs(&self) -> PathBuf {
        self.root.join("logs")
    }

    pub fn log(&self, process: &str) -> PathBuf {
        self.logs().join(format!("{process}.log"))
    }
}

/// The cluster CA, one certificate per controller (its address's IP as a
/// SAN, so clients and peers verify it by address) and one per node.
pub fn write_certificates(
    layout: &Layout,
    cluster_name: &str,
    controllers: &[(u64, SocketAddr)],
    nodes: &[String],
) -> Result<(), ClusterError> {
    let tls = layout.tls();
    let hosts: Vec<(u64, Vec<String>)> = controllers
        .iter()
        .map(|(id, address)| (*id, vec![address.ip().to_string()]))
        .collect();
    corral_tls::certs::init_dir(&tls, cluster_name, &hosts)?;
    for node in nodes {
        corral_tls::certs::issue_node_files(&tls, node)?;
    }
    Ok(())
}

/// The administrator the harness acts as: the user running it.
#[derive(Clone, Debug)]
pub struct AdminUser {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
}

impl AdminUser {
    pub fn current() -> AdminUser {
        // SAFETY: getuid/getgid cannot fail; getpwuid returns static
        // storage or null, and the name is copied out at once.
        unsafe {
            let uid = libc::getuid();
            let gid = libc::getgid();
            let entry = libc::getpwuid(uid);
            let name = if entry.is_null() {
                "root".to_string()
            } else {
                std::ffi::CStr::from_ptr((*entry).pw_name)
                    .to_string_lossy()
                    .into_owned()
            };
            AdminUser { name, uid, gid }
        }
    }
}

pub fn generate_token() -> Result<String, ClusterError> {
    let mut bytes = [0u8; TOKEN_BYTES];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut bytes)
        .map_err(|_| ClusterError::Startup("the system random number generator failed".into()))?;
    Ok(hex(&bytes))
}

/// SHA-256 of a token, lowercase hex, as the controllers store it.
pub fn token_digest(token: &str) -> String {
    hex(ring::digest::digest(&ring::digest::SHA256, token.trim().as_bytes()).as_ref())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Writes a token to a new file readable by its owner only.
pub fn write_token(path: &Path, token: &str) -> Result<(), ClusterError> {
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(ClusterError::io(path))?;
    writeln!(file, "{token}").map_err(ClusterError::io(path))
}

/// The configuration of a cluster: controllers at their addresses, the
/// declared nodes in partition `debug`, short timeouts, everything else
/// under the layout's root.
pub fn config_file(
    layout: &Layout,
    options: &ClusterOptions,
    controllers: &[(u64, SocketAddr)],
    nodes: &[String],
    admin: &AdminUser,
) -> ConfigFile {
    let root = layout.root();
    let tls = layout.tls();
    ConfigFile {
        cluster_name: options.cluster_name.clone(),
        data_dir: root.join("data"),
        controllers: controllers
            .iter()
            .map(|(id, address)| {
                let cert = CertPaths::controller(&tls, *id);
                ControllerEntry {
                    id: *id,
                    address: address.to_string(),
                    name: None,
                    data_dir: Some(root.join(format!("data/controller-{id}"))),
                    tls_cert: Some(cert.cert),
                    tls_key: Some(cert.key),
                    http_address: options
                        .http_port
                        .map(|port| SocketAddr::new(address.ip(), port).to_string()),
                }
            })
            .collect(),
        tls: TlsSection {
            ca: CertPaths::ca(&tls).cert,
            cert: None,
            key: None,
        },
        auth: AuthSection {
            root_token_file: Some(layout.root_token()),
        },
        raft: options.raft.clone(),
        partitions: vec![PartitionEntry {
            name: PARTITION.to_string(),
            nodes: "ALL".to_string(),
            default: true,
            max_time_minutes: None,
            state: "UP".to_string(),
        }],
        client: ClientSection {
            token_file: Some(layout.user_token(&admin.name)),
            leader_wait_ms: Some(options.client_leader_wait_ms),
        },
        nodes: node_entries(nodes, options),
        timeouts: options.timeouts.clone(),
        agent: AgentSection {
            spool_dir: root.join("spool/{node}"),
            tls_cert: tls.join("node-{node}.pem"),
            tls_key: tls.join("node-{node}-key.pem"),
            ..AgentSection::default()
        },
        accounting: corral_config::AccountingSection::default(),
    }
}

fn node_entries(names: &[String], options: &ClusterOptions) -> Vec<NodeEntry> {
    if names.is_empty() {
        return Vec::new();
    }
    vec![NodeEntry {
        names: corral_state::hostlist::compress(names),
        cpus: options.agent_cpus,
        memory_mb: options.agent_memory_mb,
        gpus: 0,
        gpu_model: String::new(),
    }]
}

/// Writes the configuration and reads it back as the processes will.
pub fn write_config(layout: &Layout, file: &ConfigFile) -> Result<Config, ClusterError> {
    let path = layout.config();
    let text = toml::to_string(file)
        .map_err(|error| ClusterError::Startup(format!("writing the configuration: {error}")))?;
    fs::write(&path, format!("# Written by corral-chaos.\n{text}"))
        .map_err(ClusterError::io(&path))?;
    Ok(Config::load(&path)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_digests_are_sha256_of_the_trimmed_token() {
        assert_eq!(
            token_digest("abc\n"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        let token = generate_token().unwrap();
        assert_eq!(token.len(), 2 * TOKEN_BYTES);
        assert_ne!(token, generate_token().unwrap());
    }

    #[test]
    fn the_config_declares_every_node_and_reads_back() {
        let dir = tempfile::tempdir().unwrap();
        let layout = Layout::create(dir.path()).unwrap();
        let controllers: Vec<(u64, SocketAddr)> = (1..=3)
            .map(|id| (id, format!("10.213.9.{}:7000", id + 1).parse().unwrap()))
            .collect();
        let nodes = vec!["node001".to_string(), "node002".to_string()];
        let admin = AdminUser {
            name: "alice".into(),
            uid: 1000,
            gid: 1000,
        };
        let file = config_file(
            &layout,
            &ClusterOptions::default(),
            &controllers,
            &nodes,
            &admin,
        );
        let config = write_config(&layout, &file).unwrap();
        assert_eq!(config.file.controllers[2].address, "10.213.9.4:7000");
        assert_eq!(config.node_definitions().len(), 2);
        assert_eq!(config.file.timeouts.slurmd_timeout_s, 10);
        assert_eq!(config.file.partitions[0].name, PARTITION);
        assert_eq!(
            config.file.client.token_file,
            Some(layout.user_token("alice"))
        );
        assert!(matches!(
            Layout::create(dir.path()),
            Err(ClusterError::Exists(_))
        ));
    }
}
