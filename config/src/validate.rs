//! Checks that go beyond the schema: unique ids, sane timing, files present.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use corral_state::{hostlist, Gpu, NodeDefinition, NodeResources, Partition, PartitionState};

use crate::{AgentSettings, Config, ConfigError, ControllerSettings};

pub(crate) fn check(config: &Config) -> Result<(), ConfigError> {
    check_cluster_name(config)?;
    check_controllers(config)?;
    check_raft(config)?;
    check_partitions(config)?;
    check_nodes(config)?;
    check_timeouts(config)?;
    check_accounting(config)?;
    check_agent(config)?;
    Ok(())
}

fn check_accounting(config: &Config) -> Result<(), ConfigError> {
    let accounting = &config.file.accounting;
    let sqlite = accounting
        .urls
        .iter()
        .filter(|u| u.starts_with("sqlite:"))
        .count();
    for (index, url) in accounting.urls.iter().enumerate() {
        let known = ["mysql://", "mariadb://", "sqlite:"]
            .iter()
            .any(|scheme| url.starts_with(scheme));
        if !known {
            return Err(config.invalid(
                format!("accounting.urls[{index}]"),
                "expected mysql://USER:PASSWORD@HOST:PORT/DATABASE or sqlite://PATH",
            ));
        }
    }
    if sqlite > 0 && accounting.urls.len() > 1 {
        return Err(config.invalid(
            "accounting.urls",
            "a sqlite:// database cannot be listed with others",
        ));
    }
    if accounting.batch_records_max == 0 {
        return Err(config.invalid("accounting.batch_records_max", "must be above 0"));
    }
    if accounting.pump_interval_ms == 0 {
        return Err(config.invalid("accounting.pump_interval_ms", "must be above 0"));
    }
    Ok(())
}

fn check_nodes(config: &Config) -> Result<(), ConfigError> {
    let mut seen = BTreeSet::new();
    for (index, entry) in config.file.nodes.iter().enumerate() {
        let key = |field: &str| format!("node[{index}].{field}");
        let names = hostlist::expand(&entry.names)
            .map_err(|error| config.invalid(key("names"), format!("{:?}: {error}", entry.names)))?;
        if names.is_empty() {
            return Err(config.invalid(key("names"), "names no node"));
        }
        for name in names {
            if !seen.insert(name.clone()) {
                return Err(config.invalid(key("names"), format!("node {name} is declared twice")));
            }
        }
        if entry.cpus == 0 {
            return Err(config.invalid(key("cpus"), "a node needs at least one CPU"));
        }
    }
    Ok(())
}

fn check_timeouts(config: &Config) -> Result<(), ConfigError> {
    let timeouts = &config.file.timeouts;
    if timeouts.agent_heartbeat_interval_ms == 0 {
        return Err(config.invalid("timeouts.agent_heartbeat_interval_ms", "must be above 0"));
    }
    if timeouts.slurmd_timeout_s * 1000 <= 2 * timeouts.agent_heartbeat_interval_ms {
        return Err(config.invalid(
            "timeouts.slurmd_timeout_s",
            format!(
                "{} s must be more than two agent heartbeats ({} ms each)",
                timeouts.slurmd_timeout_s, timeouts.agent_heartbeat_interval_ms
            ),
        ));
    }
    Ok(())
}

fn check_cluster_name(config: &Config) -> Result<(), ConfigError> {
    let name = &config.file.cluster_name;
    let valid = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if !valid {
        return Err(config.invalid(
            "cluster_name",
            format!("{name:?} is not a name (letters, digits, '-' and '_')"),
        ));
    }
    Ok(())
}

fn check_controllers(config: &Config) -> Result<(), ConfigError> {
    let controllers = &config.file.controllers;
    if controllers.is_empty() {
        return Err(config.invalid("controller", "at least one [[controller]] is required"));
    }
    let mut ids = BTreeSet::new();
    let mut addresses = BTreeSet::new();
    for (index, controller) in controllers.iter().enumerate() {
        let key = |field: &str| format!("controller[{index}].{field}");
        if controller.id == 0 {
            return Err(config.invalid(key("id"), "controller ids start at 1"));
        }
        if !ids.insert(controller.id) {
            return Err(config.invalid(key("id"), format!("id {} is used twice", controller.id)));
        }
        check_address(config, &key("address"), &controller.address)?;
        if !addresses.insert(controller.address.as_str()) {
            return Err(config.invalid(
                key("address"),
                format!("address {} is used twice", controller.address),
            ));
        }
        if let Some(http) = &controller.http_address {
            check_address(config, &key("http_address"), http)?;
            if !addresses.insert(http.as_str()) {
                return Err(config.invalid(
                    key("http_address"),
                    format!("address {http} is already used by a controller"),
                ));
            }
        }
    }
    Ok(())
}

fn check_agent(config: &Config) -> Result<(), ConfigError> {
    let agent = &config.file.agent;
    if let Some(address) = &agent.http_address {
        check_address(config, "agent.http_address", address)?;
    }
    for (node, address) in &agent.http_addresses {
        check_address(config, &format!("agent.http_addresses.{node}"), address)?;
    }
    Ok(())
}

/// Accepts `host:port` and `[v6]:port`.
pub fn check_address(config: &Config, key: &str, address: &str) -> Result<(), ConfigError> {
    let port = address
        .rsplit_once(':')
        .filter(|(host, _)| !host.is_empty())
        .and_then(|(_, port)| port.parse::<u16>().ok())
        .filter(|port| *port != 0);
    if port.is_none() {
        return Err(config.invalid(
            key,
            format!("{address:?} is not host:port with a port from 1 to 65535"),
        ));
    }
    Ok(())
}

fn check_raft(config: &Config) -> Result<(), ConfigError> {
    let raft = &config.file.raft;
    if raft.heartbeat_interval_ms == 0 {
        return Err(config.invalid("raft.heartbeat_interval_ms", "must be above 0"));
    }
    if raft.election_timeout_min_ms <= raft.heartbeat_interval_ms {
        return Err(config.invalid(
            "raft.election_timeout_min_ms",
            format!(
                "{} must be above raft.heartbeat_interval_ms ({})",
                raft.election_timeout_min_ms, raft.heartbeat_interval_ms
            ),
        ));
    }
    if raft.election_timeout_max_ms <= raft.election_timeout_min_ms {
        return Err(config.invalid(
            "raft.election_timeout_max_ms",
            format!(
                "{} must be above raft.election_timeout_min_ms ({})",
                raft.election_timeout_max_ms, raft.election_timeout_min_ms
            ),
        ));
    }
    if raft.snapshot_after_entries == 0 {
        return Err(config.invalid("raft.snapshot_after_entries", "must be above 0"));
    }
    Ok(())
}

fn check_partitions(config: &Config) -> Result<(), ConfigError> {
    let mut names = BTreeSet::new();
    let mut default_seen = None;
    for (index, partition) in config.file.partitions.iter().enumerate() {
        let key = |field: &str| format!("partition[{index}].{field}");
        if partition.name.is_empty() || partition.name.contains(char::is_whitespace) {
            return Err(config.invalid(key("name"), format!("{:?} is not a name", partition.name)));
        }
        if !names.insert(partition.name.as_str()) {
            return Err(config.invalid(
                key("name"),
                format!("partition {} is defined twice", partition.name),
            ));
        }
        if partition.default {
            if let Some(other) = default_seen.replace(&partition.name) {
                return Err(config.invalid(
                    key("default"),
                    format!("{other} is already the default partition"),
                ));
            }
        }
        if PartitionState::from_slurm_name(&partition.state).is_none() {
            return Err(config.invalid(
                key("state"),
                format!(
                    "{:?} is not one of UP, DOWN, DRAIN, INACTIVE",
                    partition.state
                ),
            ));
        }
    }
    Ok(())
}

impl Config {
    /// The partitions as the replicated state holds them.
    pub fn partitions(&self) -> Vec<Partition> {
        self.file
            .partitions
            .iter()
            .map(|p| Partition {
                name: p.name.clone(),
                nodes: p.nodes.clone(),
                default: p.default,
                max_time_minutes: p.max_time_minutes,
                state: PartitionState::from_slurm_name(&p.state).unwrap_or(PartitionState::Up),
            })
            .collect()
    }
}

impl Config {
    /// The declared nodes, one definition per node, in name order.
    pub fn node_definitions(&self) -> Vec<NodeDefinition> {
        let mut definitions: Vec<NodeDefinition> = self
            .file
            .nodes
            .iter()
            .flat_map(|entry| {
                let resources = NodeResources {
                    cpus: entry.cpus,
                    memory_mb: entry.memory_mb,
                    gpus: (0..entry.gpus)
                        .map(|index| Gpu {
                            index,
                            model: entry.gpu_model.clone(),
                        })
                        .collect(),
                };
                hostlist::expand(&entry.names)
                    .unwrap_or_default()
                    .into_iter()
                    .map(move |name| NodeDefinition {
                        name,
                        resources: resources.clone(),
                    })
            })
            .collect();
        definitions.sort_by(|a, b| a.name.cmp(&b.name));
        definitions
    }
}

/// `{node}` in an agent path becomes the node's name.
fn for_node(config: &Config, path: &Path, node: &str) -> PathBuf {
    let text = path.to_string_lossy().replace("{node}", node);
    config.resolve(Path::new(&text))
}

pub(crate) fn agent_settings(config: &Config, node: &str) -> Result<AgentSettings, ConfigError> {
    let valid = !node.is_empty()
        && node
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.' || c == '_');
    if !valid {
        return Err(config.invalid("agent", format!("{node:?} is not a node name")));
    }
    let agent = &config.file.agent;
    let cert = (
        "agent.tls_cert".to_string(),
        for_node(config, &agent.tls_cert, node),
    );
    let key = (
        "agent.tls_key".to_string(),
        for_node(config, &agent.tls_key, node),
    );
    let ca = ("tls.ca".to_string(), config.resolve(&config.file.tls.ca));
    for (key_name, path) in [&ca, &cert, &key] {
        require_file(config, key_name, path)?;
    }
    Ok(AgentSettings {
        node: node.to_string(),
        spool_dir: for_node(config, &agent.spool_dir, node),
        tls_ca: ca.1,
        tls_cert: cert.1,
        tls_key: key.1,
        http_address: agent
            .http_addresses
            .get(node)
            .or(agent.http_address.as_ref())
            .cloned(),
    })
}

pub(crate) fn controller_settings(
    config: &Config,
    id: u64,
) -> Result<ControllerSettings, ConfigError> {
    let Some(entry) = config.controller(id) else {
        let known: Vec<String> = config
            .file
            .controllers
            .iter()
            .map(|c| c.id.to_string())
            .collect();
        return Err(config.invalid(
            "controller",
            format!("no [[controller]] with id {id} (ids: {})", known.join(", ")),
        ));
    };
    let index = config
        .file
        .controllers
        .iter()
        .position(|c| c.id == id)
        .expect("entry found above");
    let tls = &config.file.tls;
    let cert = pick(
        config,
        (
            format!("controller[{index}].tls_cert"),
            entry.tls_cert.as_deref(),
        ),
        ("tls.cert".to_string(), tls.cert.as_deref()),
    )?;
    let key = pick(
        config,
        (
            format!("controller[{index}].tls_key"),
            entry.tls_key.as_deref(),
        ),
        ("tls.key".to_string(), tls.key.as_deref()),
    )?;
    let root_token = config
        .file
        .auth
        .root_token_file
        .as_deref()
        .map(|p| ("auth.root_token_file".to_string(), config.resolve(p)))
        .ok_or_else(|| {
            config.invalid("auth.root_token_file", "controllers need a root token file")
        })?;
    let ca = ("tls.ca".to_string(), config.resolve(&tls.ca));
    for (key_name, path) in [&ca, &cert, &key, &root_token] {
        require_file(config, key_name, path)?;
    }
    let data_dir = entry.data_dir.as_deref().unwrap_or(&config.file.data_dir);
    Ok(ControllerSettings {
        id,
        address: entry.address.clone(),
        data_dir: config.resolve(data_dir),
        tls_ca: ca.1,
        tls_cert: cert.1,
        tls_key: key.1,
        root_token_file: root_token.1,
        http_address: entry.http_address.clone(),
    })
}

/// The controller's own setting if present, else the shared one; names the key used.
fn pick(
    config: &Config,
    own: (String, Option<&Path>),
    shared: (String, Option<&Path>),
) -> Result<(String, PathBuf), ConfigError> {
    match (own, shared) {
        ((key, Some(path)), _) | (_, (key, Some(path))) => Ok((key, config.resolve(path))),
        ((own_key, None), (shared_key, None)) => Err(config.invalid(
            shared_key.clone(),
            format!("a certificate setting is required ({shared_key} or {own_key})"),
        )),
    }
}

fn require_file(config: &Config, key: &str, path: &Path) -> Result<(), ConfigError> {
    match std::fs::metadata(path) {
        Ok(meta) if meta.is_file() => Ok(()),
        Ok(_) => Err(config.invalid(key, format!("{} is not a file", path.display()))),
        Err(error) => Err(config.invalid(key, format!("{}: {error}", path.display()))),
    }
}
