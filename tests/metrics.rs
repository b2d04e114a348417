//! End to end with real processes: every controller's and agent's
//! `/metrics` parsed by a Prometheus text-format parser (the
//! `prometheus-parse` crate), with sane values; `/health` everywhere;
//! `/leader` 200 on exactly the leader, and moving when it is killed;
//! every series the Grafana dashboard (`deploy/grafana/corral.json`)
//! queries is exported.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use prometheus_parse::{LineInfo, Scrape, Value};
use support::DevCluster;

/// How long one HTTP request may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// `GET path` over HTTP/1.0; `None` when nothing answers.
fn get(address: &str, path: &str) -> Option<(u16, String)> {
    let mut stream = TcpStream::connect(address).ok()?;
    stream.set_read_timeout(Some(REQUEST_TIMEOUT)).ok()?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: {address}\r\n\r\n").ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    let (head, body) = response.split_once("\r\n\r\n")?;
    let status = head.split_whitespace().nth(1)?.parse().ok()?;
    Some((status, body.to_string()))
}

/// A parsed scrape: every line must be one the parser understands, and
/// every series must have its HELP and TYPE.
struct Metrics {
    scrape: Scrape,
}

impl Metrics {
    fn fetch(address: &str) -> Option<Metrics> {
        let (status, body) = get(address, "/metrics")?;
        assert_eq!(status, 200, "/metrics of {address}: {body}");
        let mut typed = Vec::new();
        for line in body.lines() {
            match LineInfo::parse(line) {
                LineInfo::Ignored => panic!("{address}: not Prometheus text format: {line:?}"),
                LineInfo::Type { metric_name, .. } => typed.push(metric_name),
                _ => {}
            }
        }
        let scrape = Scrape::parse(body.lines().map(|line| Ok(line.to_string()))).ok()?;
        for sample in &scrape.samples {
            assert!(
                sample.metric.starts_with("corral_"),
                "{address}: {} is not prefixed corral_",
                sample.metric
            );
            // A histogram's samples are NAME_bucket, NAME_sum and NAME_count.
            let bases: Vec<&str> = ["_bucket", "_sum", "_count"]
                .iter()
                .filter_map(|suffix| sample.metric.strip_suffix(suffix))
                .chain([sample.metric.as_str()])
                .collect();
            assert!(
                bases.iter().any(|base| scrape.docs.contains_key(*base)),
                "{address}: {} has no HELP",
                sample.metric
            );
            assert!(
                bases.iter().any(|base| typed
                    .iter()
                    .any(|name| name == base || *name == format!("{base}_bucket"))),
                "{address}: {} has no TYPE",
                sample.metric
            );
        }
        Some(Metrics { scrape })
    }

    /// The value of the sample `name` whose labels include `labels`.
    fn value(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        self.scrape
            .samples
            .iter()
            .filter(|s| s.metric == name)
            .find(|s| labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
            .and_then(|s| match s.value {
                Value::Gauge(v) | Value::Counter(v) | Value::Untyped(v) => Some(v),
                _ => None,
            })
    }

    fn get(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.value(name, labels)
            .unwrap_or_else(|| panic!("no sample {name}{labels:?}"))
    }

    /// A histogram's observation count.
    fn histogram_count(&self, name: &str) -> f64 {
        self.scrape
            .samples
            .iter()
            .find(|s| s.metric == name)
            .and_then(|s| match &s.value {
                Value::Histogram(buckets) => buckets
                    .iter()
                    .find(|b| b.less_than.is_infinite())
                    .map(|b| b.count),
                _ => None,
            })
            .unwrap_or_else(|| panic!("no histogram {name}"))
    }
}

/// The `corral_*` series named in the expressions of the Grafana
/// dashboard's panels.
fn dashboard_series() -> BTreeSet<String> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../deploy/grafana/corral.json");
    let text = std::fs::read_to_string(path).expect("the dashboard");
    let dashboard: serde_json::Value = serde_json::from_str(&text).expect("the dashboard is JSON");
    let mut expressions = Vec::new();
    collect_expressions(&dashboard, &mut expressions);
    assert!(
        expressions.len() >= 10,
        "only {} panel expressions",
        expressions.len()
    );
    let mut names = BTreeSet::new();
    for expression in expressions {
        let mut rest = expression.as_str();
        while let Some(at) = rest.find("corral_") {
            let name: String = rest[at..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            rest = &rest[at + name.len()..];
            names.insert(name);
        }
    }
    names
}

fn collect_expressions(value: &serde_json::Value, out: &mut Vec<String>) {
    match value {
        serde_json::Value::Object(map) => {
            for (key, value) in map {
                match (key.as_str(), value) {
                    ("expr", serde_json::Value::String(expr)) => out.push(expr.clone()),
                    _ => collect_expressions(value, out),
                }
            }
        }
        serde_json::Value::Array(values) => {
            for value in values {
                collect_expressions(value, out);
            }
        }
        _ => {}
    }
}

/// Controller id to HTTP address, and node to HTTP address, from the
/// configuration `corral dev up` wrote.
fn http_addresses(cluster: &DevCluster) -> (BTreeMap<u64, String>, BTreeMap<String, String>) {
    let config = corral_config::Config::load(&cluster.config_path()).expect("config");
    let controllers = config
        .file
        .controllers
        .iter()
        .map(|c| {
            let address = c
                .http_address
                .clone()
                .expect("dev up gives every controller one");
            (c.id, address)
        })
        .collect();
    (controllers, config.file.agent.http_addresses.clone())
}

#[test]
fn metrics_health_and_leader_endpoints_tell_the_truth() {
    let cluster = DevCluster::with_agents(3, 2, &[]);
    let (controllers, agents) = http_addresses(&cluster);
    assert_eq!(agents.len(), 2, "dev up gives every agent an HTTP address");

    let held: Vec<u32> = (0..3)
        .map(|_| cluster.submit(&["--hold", "--wrap", "true"]))
        .collect();
    let running = cluster.submit(&["--wrap", "sleep 120"]);
    cluster.wait_job_state(running, "RUNNING");
    let leader = cluster.leader();

    // Every controller has the same picture once the log has settled:
    // the held jobs pending, the running one running, one leader.
    let scrapes = cluster.wait_for("every controller's metrics to agree", || {
        let scrapes: BTreeMap<u64, Metrics> = controllers
            .iter()
            .map(|(id, address)| Some((*id, Metrics::fetch(address)?)))
            .collect::<Option<_>>()?;
        let applied: Vec<f64> = scrapes
            .values()
            .map(|m| m.get("corral_raft_applied_index", &[]))
            .collect();
        let settled = applied.windows(2).all(|w| w[0] == w[1])
            && scrapes.values().all(|m| {
                m.get("corral_jobs", &[("state", "pending")]) == held.len() as f64
                    && m.get("corral_jobs", &[("state", "running")]) == 1.0
            });
        settled.then_some(scrapes)
    });
    let leaders: Vec<u64> = scrapes
        .iter()
        .filter(|(_, m)| m.get("corral_raft_role", &[("role", "leader")]) == 1.0)
        .map(|(id, _)| *id)
        .collect();
    assert_eq!(
        leaders,
        [leader.id],
        "exactly the leader reports role leader"
    );
    let on_leader = &scrapes[&leader.id];
    let term = on_leader.get("corral_raft_term", &[]);
    for (id, m) in &scrapes {
        assert_eq!(
            m.get("corral_raft_term", &[]),
            term,
            "controller {id}'s term"
        );
        assert_eq!(
            m.get("corral_raft_leader_id", &[]),
            leader.id as f64,
            "controller {id} knows the leader"
        );
        assert_eq!(m.get("corral_jobs", &[("state", "completed")]), 0.0);
        if *id != leader.id {
            assert_eq!(m.get("corral_raft_role", &[("role", "follower")]), 1.0);
            assert_eq!(m.get("corral_agents_connected", &[]), 0.0);
        }
        let applied = m.get("corral_raft_applied_index", &[]);
        let committed = m.get("corral_raft_committed_index", &[]);
        let last = m.get("corral_raft_last_log_index", &[]);
        assert!(
            applied > 0.0 && applied <= committed && committed <= last,
            "controller {id}: applied {applied}, committed {committed}, last {last}"
        );
    }
    assert_eq!(on_leader.get("corral_agents_connected", &[]), 2.0);
    assert_eq!(on_leader.get("corral_nodes", &[("state", "up")]), 2.0);
    assert!(on_leader.histogram_count("corral_submit_duration_seconds") >= 4.0);
    assert!(on_leader.histogram_count("corral_scheduling_pass_duration_seconds") >= 1.0);
    assert!(on_leader.get("corral_accounting_last_sequence", &[]) >= 4.0);
    for follower in controllers.keys().filter(|id| **id != leader.id) {
        let lag = on_leader.get(
            "corral_raft_replication_lag_entries",
            &[("follower", &follower.to_string())],
        );
        assert!(lag >= 0.0, "lag of follower {follower}: {lag}");
    }

    // Both agents are attached to the leader; one runs the job.
    let mut jobs_running = 0.0;
    let mut agent_scrapes = Vec::new();
    for (node, address) in &agents {
        let m = Metrics::fetch(address).expect("the agent answers");
        assert_eq!(m.get("corral_agent_connected", &[]), 1.0, "{node}");
        assert_eq!(
            m.get("corral_agent_controller", &[("address", &leader.address)]),
            1.0,
            "{node} is attached to the leader"
        );
        assert_eq!(m.get("corral_agent_reports_unacknowledged", &[]), 0.0);
        jobs_running += m.get("corral_agent_jobs_running", &[]);
        let (status, body) = get(address, "/health").expect("agent health");
        assert_eq!(status, 200, "{node}: {body}");
        agent_scrapes.push(m);
    }
    assert_eq!(jobs_running, 1.0);

    // Every series the Grafana dashboard queries is one that the leader or
    // an agent exports.
    let exported: Vec<&Metrics> = std::iter::once(on_leader).chain(&agent_scrapes).collect();
    for name in dashboard_series() {
        let base = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|suffix| name.strip_suffix(suffix))
            .unwrap_or(&name);
        assert!(
            exported.iter().any(|m| m
                .scrape
                .samples
                .iter()
                .any(|s| s.metric == name || s.metric == base)),
            "deploy/grafana/corral.json queries {name}, which no controller or agent exports"
        );
    }

    for (id, address) in &controllers {
        let (status, body) = get(address, "/health").expect("health");
        assert_eq!(status, 200, "controller {id}: {body}");
        let (status, body) = get(address, "/leader").expect("leader");
        let expected = if *id == leader.id { 200 } else { 503 };
        assert_eq!(status, expected, "/leader of controller {id}: {body}");
        assert!(
            body.contains(&format!("controller {}", leader.id)),
            "/leader of controller {id} names the leader: {body}"
        );
    }

    // Kill the leader: /leader answers 200 on exactly one survivor.
    cluster.kill("leader");
    let new_leader = cluster.wait_for("/leader to move", || {
        let answering: Vec<u64> = controllers
            .iter()
            .filter(|(id, _)| **id != leader.id)
            .filter(|(_, address)| get(address, "/leader").is_some_and(|(s, _)| s == 200))
            .map(|(id, _)| *id)
            .collect();
        (answering.len() == 1).then(|| answering[0])
    });
    assert_ne!(new_leader, leader.id);
    assert!(get(&controllers[&leader.id], "/leader").is_none());
    let other = controllers
        .keys()
        .find(|id| **id != leader.id && **id != new_leader)
        .expect("a third controller");
    let (status, body) = get(&controllers[other], "/leader").expect("leader");
    assert_eq!(status, 503, "{body}");
    let m = Metrics::fetch(&controllers[&new_leader]).expect("the new leader's metrics");
    assert!(m.get("corral_raft_term", &[]) > term);
    // It was running when the term changed and it took over.
    assert!(m.get("corral_raft_term_changes_total", &[]) >= 1.0);
    assert!(m.get("corral_raft_leader_changes_total", &[]) >= 1.0);
}
