//! The file's schema, as serde reads and writes it.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

pub const DEFAULT_CONFIG_PATH: &str = "/etc/corral/corral.toml";
pub const DEFAULT_DATA_DIR: &str = "/var/lib/corral";

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    pub cluster_name: String,
    /// Where a controller keeps its Raft log, state and snapshots.
    #[serde(default = "default_data_dir")]
    pub data_dir: PathBuf,
    #[serde(rename = "controller", default)]
    pub controllers: Vec<ControllerEntry>,
    pub tls: TlsSection,
    #[serde(default)]
    pub auth: AuthSection,
    #[serde(default)]
    pub raft: RaftSection,
    #[serde(rename = "partition", default)]
    pub partitions: Vec<PartitionEntry>,
    #[serde(default)]
    pub client: ClientSection,
    /// Compute nodes declared with their resources (Slurm's `NodeName=`
    /// lines). Nodes may also register themselves without being declared.
    #[serde(rename = "node", default, skip_serializing_if = "Vec::is_empty")]
    pub nodes: Vec<NodeEntry>,
    #[serde(default)]
    pub timeouts: TimeoutsSection,
    #[serde(default)]
    pub agent: AgentSection,
    #[serde(default)]
    pub accounting: AccountingSection,
}

fn default_data_dir() -> PathBuf {
    PathBuf::from(DEFAULT_DATA_DIR)
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ControllerEntry {
    pub id: u64,
    /// `host:port` where this controller serves clients and its peers (gRPC).
    pub address: String,
    /// The name `scontrol ping` shows; `controller-<id>` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Overrides the top-level `data_dir` for this controller.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_dir: Option<PathBuf>,
    /// Overrides `tls.cert` for this controller.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_cert: Option<PathBuf>,
    /// Overrides `tls.key` for this controller.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_key: Option<PathBuf>,
    /// `host:port` where this controller serves `/metrics`, `/health` and
    /// `/leader` over plain HTTP (docs/monitoring.md); absent: no HTTP.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_address: Option<String>,
}

impl ControllerEntry {
    pub fn display_name(&self) -> String {
        self.name
            .clone()
            .unwrap_or_else(|| format!("controller-{}", self.id))
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsSection {
    /// The cluster CA certificate (PEM). Clients need only this.
    pub ca: PathBuf,
    /// This host's certificate (PEM), for controllers and agents.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cert: Option<PathBuf>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<PathBuf>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthSection {
    /// File holding the root token: a bearer of it acts as `root`, an
    /// administrator. Controllers need it; keep it readable by root only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub root_token_file: Option<PathBuf>,
}

/// Raft timing. The defaults replace a killed leader in about a second on a
/// loaded two-core machine without spurious elections: see
/// docs/architecture.md, "Raft timing".
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RaftSection {
    pub heartbeat_interval_ms: u64,
    pub election_timeout_min_ms: u64,
    pub election_timeout_max_ms: u64,
    /// Build a snapshot after this many log entries since the last one.
    pub snapshot_after_entries: u64,
    /// Log entries kept behind a snapshot, so a briefly lagging follower
    /// catches up from the log rather than by a whole snapshot.
    pub entries_kept_after_snapshot: u64,
}

impl Default for RaftSection {
    fn default() -> Self {
        RaftSection {
            heartbeat_interval_ms: 100,
            election_timeout_min_ms: 300,
            election_timeout_max_ms: 500,
            snapshot_after_entries: 20_000,
            entries_kept_after_snapshot: 5_000,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PartitionEntry {
    pub name: String,
    /// Slurm hostlist expression, e.g. `node[001-016]`.
    #[serde(default)]
    pub nodes: String,
    #[serde(default)]
    pub default: bool,
    /// Maximum time limit in minutes; absent means `UNLIMITED`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_time_minutes: Option<u32>,
    /// `UP`, `DOWN`, `DRAIN` or `INACTIVE`.
    #[serde(default = "default_partition_state")]
    pub state: String,
}

fn default_partition_state() -> String {
    "UP".to_string()
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientSection {
    /// File holding the token the Slurm commands and `corral` present.
    /// `CORRAL_TOKEN` (the token itself) takes precedence.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_file: Option<PathBuf>,
    /// How long a command keeps looking for a leader before giving up.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub leader_wait_ms: Option<u64>,
}

/// Nodes sharing one set of resources, named by a hostlist expression.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeEntry {
    /// Slurm hostlist expression, e.g. `node[001-016]`.
    pub names: String,
    pub cpus: u32,
    pub memory_mb: u64,
    /// GPUs per node, indexed from 0; declared GPUs need no NVIDIA driver.
    #[serde(default)]
    pub gpus: u32,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub gpu_model: String,
}

/// How long things may take before the controllers act.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TimeoutsSection {
    /// A node whose agent has not been heard from for this long is set
    /// down and its jobs fail (or are requeued). Slurm's `SlurmdTimeout`.
    pub slurmd_timeout_s: u64,
    /// How often agents send a heartbeat to the leader.
    pub agent_heartbeat_interval_ms: u64,
    /// Finished jobs are forgotten this long after they end. Slurm's `MinJobAge`.
    pub min_job_age_s: u64,
    /// Between a time limit's SIGTERM and the SIGKILL. Slurm's `KillWait`.
    pub kill_wait_s: u64,
}

impl Default for TimeoutsSection {
    fn default() -> Self {
        TimeoutsSection {
            slurmd_timeout_s: 300,
            agent_heartbeat_interval_ms: 2_000,
            min_job_age_s: 300,
            kill_wait_s: 30,
        }
    }
}

/// Where an agent keeps its files and finds its certificate. `{node}` in a
/// path is replaced by the node's name, so one file serves every node.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AgentSection {
    /// The agent's journal of launched jobs and their supervisors' files.
    pub spool_dir: PathBuf,
    pub tls_cert: PathBuf,
    pub tls_key: PathBuf,
    /// `host:port` where every agent serves `/metrics` and `/health` over
    /// plain HTTP (docs/monitoring.md); absent: no HTTP.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http_address: Option<String>,
    /// Per-node overrides of `http_address` (node name to `host:port`), for
    /// several agents on one host as in a dev cluster.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub http_addresses: BTreeMap<String, String>,
}

impl Default for AgentSection {
    fn default() -> Self {
        AgentSection {
            spool_dir: PathBuf::from("/var/spool/corral/{node}"),
            tls_cert: PathBuf::from("/etc/corral/tls/node-{node}.pem"),
            tls_key: PathBuf::from("/etc/corral/tls/node-{node}-key.pem"),
            http_address: None,
            http_addresses: BTreeMap::new(),
        }
    }
}

/// Where job history goes, and the policy it is held to.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AccountingSection {
    /// Database URLs: several `mysql://USER:PASSWORD@HOST:PORT/DB` for the
    /// nodes of a MariaDB Galera cluster (one is written at a time, the
    /// next on failure), or one `sqlite://PATH`. Empty: the SQLite file
    /// `accounting.sqlite` beside this configuration file (one machine).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub urls: Vec<String>,
    /// `sbatch -A` must name one of the user's accounts (`sacctmgr add
    /// user NAME account=...`), and a user without any cannot submit.
    pub enforce_associations: bool,
    /// Records written per database transaction at most.
    pub batch_records_max: usize,
    /// How often the pump looks for records when it has none.
    pub pump_interval_ms: u64,
}

impl Default for AccountingSection {
    fn default() -> Self {
        AccountingSection {
            urls: Vec::new(),
            enforce_associations: false,
            batch_records_max: 1_000,
            pump_interval_ms: 200,
        }
    }
}
