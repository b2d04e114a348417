//! Checks that go beyond the schema: unique ids, sane timing, files present.
//!
//! Every check records what it finds in a [`Problems`] list and goes on, so
//! `corral config check` can print every problem of a file at once; loading
//! a file (`Config::parse`) stops at the first.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use corral_state::{hostlist, Gpu, NodeDefinition, NodeResources, Partition, PartitionState};

use crate::{AgentSettings, Config, ConfigError, ControllerSettings};

/// The problems found in one file, in the order of its sections.
pub(crate) struct Problems<'a> {
    config: &'a Config,
    found: Vec<ConfigError>,
}

impl Problems<'_> {
    fn add(&mut self, key: impl Into<String>, problem: impl Into<String>) {
        self.found.push(self.config.invalid(key, problem));
    }
}

pub(crate) fn check(config: &Config) -> Result<(), ConfigError> {
    match problems(config).into_iter().next() {
        Some(first) => Err(first),
        None => Ok(()),
    }
}

/// Every problem the checks find, not only the first.
pub(crate) fn problems(config: &Config) -> Vec<ConfigError> {
    let mut problems = Problems {
        config,
        found: Vec::new(),
    };
    check_cluster_name(&mut problems);
    check_controllers(&mut problems);
    check_raft(&mut problems);
    check_partitions(&mut problems);
    check_nodes(&mut problems);
    check_timeouts(&mut problems);
    check_accounting(&mut problems);
    check_agent(&mut problems);
    problems.found
}

fn check_accounting(problems: &mut Problems) {
    let accounting = &problems.config.file.accounting;
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
            problems.add(
                format!("accounting.urls[{index}]"),
                "expected mysql://USER:PASSWORD@HOST:PORT/DATABASE or sqlite://PATH",
            );
        }
    }
    if sqlite > 0 && accounting.urls.len() > 1 {
        problems.add(
            "accounting.urls",
            "a sqlite:// database cannot be listed with others",
        );
    }
    if accounting.batch_records_max == 0 {
        problems.add("accounting.batch_records_max", "must be above 0");
    }
    if accounting.pump_interval_ms == 0 {
        problems.add("accounting.pump_interval_ms", "must be above 0");
    }
}

fn check_nodes(problems: &mut Problems) {
    let mut seen = BTreeSet::new();
    for (index, entry) in problems.config.file.nodes.iter().enumerate() {
        let key = |field: &str| format!("node[{index}].{field}");
        match hostlist::expand(&entry.names) {
            Err(error) => problems.add(key("names"), format!("{:?}: {error}", entry.names)),
            Ok(names) if names.is_empty() => problems.add(key("names"), "names no node"),
            Ok(names) => {
                for name in names {
                    if !seen.insert(name.clone()) {
                        problems.add(key("names"), format!("node {name} is declared twice"));
                    }
                }
            }
        }
        if entry.cpus == 0 {
            problems.add(key("cpus"), "a node needs at least one CPU");
        }
    }
}

fn check_timeouts(problems: &mut Problems) {
    let timeouts = &problems.config.file.timeouts;
    if timeouts.agent_heartbeat_interval_ms == 0 {
        problems.add("timeouts.agent_heartbeat_interval_ms", "must be above 0");
    } else if timeouts.slurmd_timeout_s * 1000 <= 2 * timeouts.agent_heartbeat_interval_ms {
        problems.add(
            "timeouts.slurmd_timeout_s",
            format!(
                "{} s must be more than two agent heartbeats ({} ms each)",
                timeouts.slurmd_timeout_s, timeouts.agent_heartbeat_interval_ms
            ),
        );
    }
}

fn check_cluster_name(problems: &mut Problems) {
    let name = &problems.config.file.cluster_name;
    let valid = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if !valid {
        problems.add(
            "cluster_name",
            format!("{name:?} is not a name (letters, digits, '-' and '_')"),
        );
    }
}

fn check_controllers(problems: &mut Problems) {
    let controllers = &problems.config.file.controllers;
    if controllers.is_empty() {
        problems.add("controller", "at least one [[controller]] is required");
    }
    let mut ids = BTreeSet::new();
    let mut addresses = BTreeSet::new();
    for (index, controller) in controllers.iter().enumerate() {
        let key = |field: &str| format!("controller[{index}].{field}");
        if controller.id == 0 {
            problems.add(key("id"), "controller ids start at 1");
        } else if !ids.insert(controller.id) {
            problems.add(key("id"), format!("id {} is used twice", controller.id));
        }
        if let Err(problem) = address_problem(&controller.address) {
            problems.add(key("address"), problem);
        } else if !addresses.insert(controller.address.as_str()) {
            problems.add(
                key("address"),
                format!("address {} is used twice", controller.address),
            );
        }
        if let Some(http) = &controller.http_address {
            if let Err(problem) = address_problem(http) {
                problems.add(key("http_address"), problem);
            } else if !addresses.insert(http.as_str()) {
                problems.add(
                    key("http_address"),
                    format!("address {http} is already used by a controller"),
                );
            }
        }
    }
}

fn check_agent(problems: &mut Problems) {
    let agent = &problems.config.file.agent;
    if let Some(address) = &agent.http_address {
        if let Err(problem) = address_problem(address) {
            problems.add("agent.http_address", problem);
        }
    }
    for (node, address) in &agent.http_addresses {
        if let Err(problem) = address_problem(address) {
            problems.add(format!("agent.http_addresses.{node}"), problem);
        }
    }
}

/// Accepts `host:port` and `[v6]:port`.
fn address_problem(address: &str) -> Result<(), String> {
    let port = address
        .rsplit_once(':')
        .filter(|(host, _)| !host.is_empty())
        .and_then(|(_, port)| port.parse::<u16>().ok())
        .filter(|port| *port != 0);
    match port {
        Some(_) => Ok(()),
        None => Err(format!(
            "{address:?} is not host:port with a port from 1 to 65535"
        )),
    }
}

fn check_raft(problems: &mut Problems) {
    let raft = &problems.config.file.raft;
    if raft.heartbeat_interval_ms == 0 {
        problems.add("raft.heartbeat_interval_ms", "must be above 0");
    }
    if raft.election_timeout_min_ms <= raft.heartbeat_interval_ms {
        problems.add(
            "raft.election_timeout_min_ms",
            format!(
                "{} must be above raft.heartbeat_interval_ms ({})",
                raft.election_timeout_min_ms, raft.heartbeat_interval_ms
            ),
        );
    }
    if raft.election_timeout_max_ms <= raft.election_timeout_min_ms {
        problems.add(
            "raft.election_timeout_max_ms",
            format!(
                "{} must be above raft.election_timeout_min_ms ({})",
                raft.election_timeout_max_ms, raft.election_timeout_min_ms
            ),
        );
    }
    if raft.snapshot_after_entries == 0 {
        problems.add("raft.snapshot_after_entries", "must be above 0");
    }
}

fn check_partitions(problems: &mut Problems) {
    let config = problems.config;
    let mut names = BTreeSet::new();
    let mut default_seen = None;
    for (index, partition) in config.file.partitions.iter().enumerate() {
        let key = |field: &str| format!("partition[{index}].{field}");
        if partition.name.is_empty() || partition.name.contains(char::is_whitespace) {
            problems.add(key("name"), format!("{:?} is not a name", partition.name));
        } else if !names.insert(partition.name.as_str()) {
            problems.add(
                key("name"),
                format!("partition {} is defined twice", partition.name),
            );
        }
        if partition.default {
            if let Some(other) = default_seen.replace(&partition.name) {
                problems.add(
                    key("default"),
                    format!("{other} is already the default partition"),
                );
            }
        }
        if PartitionState::from_slurm_name(&partition.state).is_none() {
            problems.add(
                key("state"),
                format!(
                    "{:?} is not one of UP, DOWN, DRAIN, INACTIVE",
                    partition.state
                ),
            );
        }
        if let Some(Err(error)) = partition_hostlist(&partition.nodes) {
            problems.add(key("nodes"), format!("{:?}: {error}", partition.nodes));
        }
    }
}

/// A partition's node names; `None` for every node (`ALL`) or none.
fn partition_hostlist(nodes: &str) -> Option<Result<Vec<String>, hostlist::HostlistError>> {
    let nodes = nodes.trim();
    (!nodes.is_empty() && !nodes.eq_ignore_ascii_case("ALL")).then(|| hostlist::expand(nodes))
}

/// What only `corral config check` reports: where nodes are declared
/// (`[[node]]`), partitions naming nodes that none declares. A controller
/// accepts such a file, since a node may register itself undeclared.
pub(crate) fn doubtful(config: &Config) -> Vec<ConfigError> {
    let mut problems = Problems {
        config,
        found: Vec::new(),
    };
    let declared: BTreeSet<String> = config
        .node_definitions()
        .into_iter()
        .map(|definition| definition.name)
        .collect();
    if declared.is_empty() {
        return problems.found;
    }
    for (index, partition) in config.file.partitions.iter().enumerate() {
        let Some(Ok(names)) = partition_hostlist(&partition.nodes) else {
            continue;
        };
        let unknown: Vec<String> = names
            .into_iter()
            .filter(|name| !declared.contains(name))
            .collect();
        if !unknown.is_empty() {
            problems.add(
                format!("partition[{index}].nodes"),
                format!(
                    "names nodes no [[node]] declares: {}",
                    hostlist::compress(&unknown)
                ),
            );
        }
    }
    problems.found
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
