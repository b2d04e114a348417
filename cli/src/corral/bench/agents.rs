//! `corral bench agents`: a simulated fleet of compute nodes attached to
//! three controllers, and a leader kill.
//!
//! The benchmark runs N nodes in its own process. Each has its own
//! certificate (`node-<name>`, issued when the cluster is created), its own
//! QUIC endpoint and connection, and runs the agent's own session code
//! (`corral_agent::daemon::stay_attached` over `corral_agent::session`):
//! hello with the node's declared resources, redirects to the leader,
//! heartbeats every `timeouts.agent_heartbeat_interval_ms`, re-attaching by
//! itself after a failover. Only the jobs are missing: each node has an empty
//! journal (a real `Runner` on its spool directory) and looks for ended jobs
//! once a second instead of every 100 ms. The cluster is created with the
//! nodes declared and no agent processes (`dev::Shape::simulated_agents`).
//!
//! Measured: the time from starting every session until all N are attached
//! to the leader, and until all N are UP in the replicated state (the leader
//! commits one `RegisterNode` per node it has not seen UP); the controllers'
//! CPU and resident memory at steady state (from `/proc/PID/stat` and
//! `/proc/PID/status`, once a second); then, `--repeat` times, SIGKILL of
//! the leader and the time until every node is attached to the new leader
//! (and each node's own re-attach time, as seen by polling every 20 ms).
//! After each round the killed controller is started again and the next
//! round waits until the controllers agree and every node is attached.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use corral_agent::http::AgentStatus;
use corral_agent::session::{LearnedControllers, SessionContext};
use corral_agent::{Runner, RunnerConfig};
use corral_client::Client;
use corral_config::Config;
use corral_proto as wire;
use tokio::runtime::Runtime;

use super::failover::{current_leader, wait_converged};
use super::report::Json;
use super::stats::{summary_json, Summary};
use super::submission::cluster_client;
use super::{build_profile, dev, milliseconds, Cluster, Options};

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub options: Options,
    /// Simulated nodes (of a cluster the benchmark creates).
    #[arg(long, default_value_t = 5_000, value_parser = clap::value_parser!(u32).range(1..=9_000))]
    pub agents: u32,
    /// Seconds of steady state over which the controllers' CPU is measured.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=3_600))]
    pub steady_s: u64,
    /// Bound on each wait (all attached, all UP, re-attached after a kill).
    #[arg(long, default_value_t = 120, value_parser = clap::value_parser!(u64).range(1..=3_600))]
    pub wait_s: u64,
}

/// How often the benchmark counts attached nodes.
const POLL_INTERVAL_MS: u64 = 20;
/// Simulated nodes run no jobs, so they look for ended ones only this often.
const REPORT_INTERVAL_MS: u64 = 1_000;
/// Steady state after the nodes are UP (or re-attached) before measuring or killing.
const SETTLE_MS: u64 = 2_000;

/// One node of the fleet: its name and where it is attached.
struct SimulatedNode {
    name: String,
    status: Arc<AgentStatus>,
}

/// What one leader kill measured.
struct Round {
    killed_id: u64,
    new_leader_id: u64,
    /// Terms from the killed leader's to the one all attached to (1: one election).
    terms: u64,
    /// Kill to the first `status` naming another leader.
    elected_ms: f64,
    /// Kill to every node attached to the new leader.
    all_attached_ms: f64,
    /// Per node: kill to attached to the new leader (20 ms resolution).
    node_ms: Vec<f64>,
    /// Nodes not UP in the state after the round.
    not_up: usize,
}

/// One controller's cost at steady state.
struct Usage {
    id: u64,
    leader: bool,
    /// CPU time per second of wall time, in percent of one core, per second.
    cpu_percent: Vec<f64>,
    rss_bytes: Vec<f64>,
}

pub fn run(cluster: &Cluster, args: &Args) -> anyhow::Result<u8> {
    if !dev::has_simulated_agents(&cluster.dir) {
        bail!(
            "the cluster in {} runs real agents; corral bench agents needs a cluster of simulated nodes: use a new --dir",
            cluster.dir.display()
        );
    }
    let nodes = cluster.config.node_definitions();
    if nodes.len() != args.agents as usize {
        bail!(
            "the cluster in {} declares {} nodes, not --agents {}: use a new --dir",
            cluster.dir.display(),
            nodes.len(),
            args.agents
        );
    }
    cluster.require_three_controllers("agents", "a leader to kill")?;
    println!(
        "agents: {} simulated nodes (own QUIC connection and certificate each), heartbeat every {} ms, {} leader kills, {} controllers, {} build",
        args.agents,
        cluster.config.file.timeouts.agent_heartbeat_interval_ms,
        cluster.repeat,
        cluster.controller_count(),
        build_profile()
    );
    let runtime = super::runtime()?;
    let client = cluster_client(&cluster.config)?;
    let wait = Duration::from_secs(args.wait_s);
    wait_converged(&runtime, &client, cluster.controller_count())?;
    let prepared = Instant::now();
    let fleet = prepare(&runtime, &cluster.config)?;
    println!(
        "  {} nodes prepared (certificates, endpoints, journals) in {:.0} ms",
        fleet.len(),
        milliseconds(prepared.elapsed())
    );
    let term = current_leader(&runtime, &client)?.term;
    let started = Instant::now();
    let sessions = start(&runtime, &cluster.config, fleet);
    let attached = wait_attached(&runtime, &client, &sessions.nodes, None, started, wait)
        .context("the first attachment")?;
    if attached.leader.term != term {
        println!(
            "  the leadership changed while the nodes attached: term {term} to {}",
            attached.leader.term
        );
    }
    let attached_ms = milliseconds(attached.elapsed);
    println!(
        "  all {} attached to the leader after {attached_ms:.0} ms (median node {:.0} ms)",
        sessions.nodes.len(),
        median(&attached.node_ms)
    );
    let up_ms = milliseconds(wait_up(&runtime, &client, nodes.len(), started, wait)?);
    println!("  all {} UP in the state after {up_ms:.0} ms", nodes.len());
    std::thread::sleep(Duration::from_millis(SETTLE_MS));
    let usage = steady_usage(cluster, &runtime, &client, args.steady_s)?;
    let fleet_usage = fleet_usage(args.steady_s);
    print_usage(&usage, &fleet_usage);
    let mut rounds = Vec::new();
    for round in 1..=cluster.repeat {
        let measured = kill_round(cluster, &runtime, &client, &sessions.nodes, wait)?;
        println!(
            "  kill {round}/{}: controller-{} killed, a new leader after {:.0} ms; all {} attached to controller-{} ({} terms later) after {:.0} ms (median node {:.0} ms, p99 {:.0} ms); {} nodes not UP",
            cluster.repeat,
            measured.killed_id,
            measured.elected_ms,
            sessions.nodes.len(),
            measured.new_leader_id,
            measured.terms,
            measured.all_attached_ms,
            median(&measured.node_ms),
            Summary::of(&measured.node_ms).map_or(0.0, |s| s.p99),
            measured.not_up
        );
        rounds.push(measured);
    }
    let all: Vec<f64> = rounds.iter().map(|r| r.all_attached_ms).collect();
    let summary = Summary::of(&all).expect("repeat is at least 1");
    println!(
        "summary: {} nodes attached again after a leader kill: median {:.0} ms, min {:.0} ms, max {:.0} ms ({} kills)",
        sessions.nodes.len(),
        summary.median,
        summary.min,
        summary.max,
        summary.count
    );
    let body = report_body(
        args,
        attached_ms,
        &attached.node_ms,
        up_ms,
        &usage,
        &fleet_usage,
        &rounds,
    );
    cluster.write_report("agents", "", body)?;
    runtime.shutdown_timeout(Duration::from_secs(1));
    Ok(0)
}

/// A node ready to start its session.
struct Prepared {
    name: String,
    endpoint: quinn::Endpoint,
    context: SessionContext,
}

/// Loads every node's certificate, opens its endpoint (one UDP socket each)
/// and its journal; nothing is sent yet.
fn prepare(runtime: &Runtime, config: &Config) -> anyhow::Result<Vec<Prepared>> {
    let _entered = runtime.enter();
    let mut fleet = Vec::new();
    let mut ca = None;
    for node in config.node_definitions() {
        let settings = config.agent_settings(&node.name)?;
        let ca = match &ca {
            Some(ca) => ca,
            None => ca.insert(corral_tls::load::load_ca_certificates(&settings.tls_ca)?),
        };
        let identity = corral_tls::load::load_identity(&settings.tls_cert, &settings.tls_key)?;
        let endpoint = corral_agent::session::client_endpoint(ca, &identity)
            .map_err(|error| anyhow::anyhow!("node {}: {error}", node.name))?;
        let runner = Runner::open(RunnerConfig::new(&settings.spool_dir)?)
            .with_context(|| format!("node {}: opening its journal", node.name))?;
        let context = SessionContext {
            node: node.name.clone(),
            cluster_name: config.file.cluster_name.clone(),
            resources: node.resources.clone(),
            heartbeat_interval: Duration::from_millis(
                config.file.timeouts.agent_heartbeat_interval_ms,
            ),
            report_interval: Duration::from_millis(REPORT_INTERVAL_MS),
            runner: Arc::new(runner),
            status: Arc::new(AgentStatus::default()),
            learned: Arc::new(LearnedControllers::default()),
        };
        fleet.push(Prepared {
            name: node.name,
            endpoint,
            context,
        });
    }
    Ok(fleet)
}

/// The running fleet; its sessions end with the runtime.
struct Sessions {
    nodes: Vec<SimulatedNode>,
}

fn start(runtime: &Runtime, config: &Config, fleet: Vec<Prepared>) -> Sessions {
    let controllers: Arc<Vec<String>> = Arc::new(
        config
            .file
            .controllers
            .iter()
            .map(|c| c.address.clone())
            .collect(),
    );
    let mut nodes = Vec::new();
    for prepared in fleet {
        nodes.push(SimulatedNode {
            name: prepared.name,
            status: prepared.context.status.clone(),
        });
        let controllers = controllers.clone();
        runtime.spawn(async move {
            corral_agent::daemon::stay_attached(
                &prepared.endpoint,
                &controllers,
                &prepared.context,
            )
            .await;
        });
    }
    Sessions { nodes }
}

struct Attached {
    elapsed: Duration,
    /// The leader they are all attached to, and its term.
    leader: wire::ControllerStatusReply,
    /// Per node: when its last session began (with the final leader).
    node_ms: Vec<f64>,
}

/// Waits until every node is attached to the same controller, that
/// controller is the leader and not `excluded`; records when each node's
/// session with it began (as first seen, every 20 ms).
fn wait_attached(
    runtime: &Runtime,
    client: &Arc<Client>,
    nodes: &[SimulatedNode],
    excluded: Option<u64>,
    since: Instant,
    wait: Duration,
) -> anyhow::Result<Attached> {
    let mut seen: Vec<(Option<String>, f64)> = vec![(None, 0.0); nodes.len()];
    loop {
        let now = Instant::now();
        for (node, seen) in nodes.iter().zip(seen.iter_mut()) {
            let controller = node.status.controller();
            if controller != seen.0 {
                *seen = (controller, milliseconds(now - since));
            }
        }
        let first = seen[0].0.clone();
        if first.is_some() && seen.iter().all(|(controller, _)| *controller == first) {
            let leader = current_leader(runtime, client)
                .ok()
                .filter(|l| Some(&l.address) == first.as_ref() && Some(l.id) != excluded);
            if let Some(leader) = leader {
                return Ok(Attached {
                    elapsed: now - since,
                    leader,
                    node_ms: seen.into_iter().map(|(_, at)| at).collect(),
                });
            }
        }
        if now - since > wait {
            let attached = seen.iter().filter(|(c, _)| c.is_some()).count();
            let detached: Vec<&str> = nodes
                .iter()
                .zip(&seen)
                .filter(|(_, (c, _))| c.is_none())
                .map(|(node, _)| node.name.as_str())
                .take(5)
                .collect();
            bail!(
                "not all {} nodes attached to one leader after {} s ({attached} attached somewhere; not attached: {})",
                nodes.len(),
                wait.as_secs(),
                detached.join(", ")
            );
        }
        std::thread::sleep(Duration::from_millis(POLL_INTERVAL_MS));
    }
}

/// The number of nodes UP in the state, from the leader.
fn nodes_up(runtime: &Runtime, client: &Arc<Client>) -> anyhow::Result<usize> {
    let reply = runtime.block_on(
        client.call(wire::GetNodesRequest::default(), |mut c, r| async move {
            c.get_nodes(r).await
        }),
    )?;
    Ok(reply
        .nodes
        .iter()
        .filter(|node| node.availability == "UP")
        .count())
}

/// Waits until `count` nodes are UP; returns the time since `since`.
fn wait_up(
    runtime: &Runtime,
    client: &Arc<Client>,
    count: usize,
    since: Instant,
    wait: Duration,
) -> anyhow::Result<Duration> {
    loop {
        let up = nodes_up(runtime, client)?;
        if up >= count {
            return Ok(since.elapsed());
        }
        if since.elapsed() > wait {
            bail!("{up} of {count} nodes UP after {} s", wait.as_secs());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Kill the leader, wait until every node is attached to the new one, start
/// the killed controller again and wait until all agree.
fn kill_round(
    cluster: &Cluster,
    runtime: &Runtime,
    client: &Arc<Client>,
    nodes: &[SimulatedNode],
    wait: Duration,
) -> anyhow::Result<Round> {
    let leader = wait_attached(runtime, client, nodes, None, Instant::now(), wait)
        .context("before the kill")?
        .leader;
    let target = format!("controller-{}", leader.id);
    dev::kill_target(&cluster.dir, &target)?;
    let killed_at = Instant::now();
    let result = after_kill(runtime, client, nodes, leader.id, killed_at, wait);
    dev::start_target(&cluster.dir, &target)?;
    let (elected_ms, attached) = result?;
    wait_converged(runtime, client, cluster.controller_count())?;
    std::thread::sleep(Duration::from_millis(SETTLE_MS));
    let not_up = nodes.len().saturating_sub(nodes_up(runtime, client)?);
    Ok(Round {
        killed_id: leader.id,
        new_leader_id: attached.leader.id,
        terms: attached.leader.term - leader.term,
        elected_ms,
        all_attached_ms: milliseconds(attached.elapsed),
        node_ms: attached.node_ms,
        not_up,
    })
}

fn after_kill(
    runtime: &Runtime,
    client: &Arc<Client>,
    nodes: &[SimulatedNode],
    killed_id: u64,
    killed_at: Instant,
    wait: Duration,
) -> anyhow::Result<(f64, Attached)> {
    loop {
        let leader = current_leader(runtime, client).ok();
        if leader.is_some_and(|l| l.id != killed_id) {
            break;
        }
        if killed_at.elapsed() > wait {
            bail!(
                "no new leader {} s after killing controller-{killed_id}",
                wait.as_secs()
            );
        }
        std::thread::sleep(Duration::from_millis(POLL_INTERVAL_MS));
    }
    let elected_ms = milliseconds(killed_at.elapsed());
    let attached = wait_attached(runtime, client, nodes, Some(killed_id), killed_at, wait)
        .with_context(|| format!("after killing controller-{killed_id}"))?;
    Ok((elected_ms, attached))
}

/// Samples every controller's CPU and resident memory once a second.
fn steady_usage(
    cluster: &Cluster,
    runtime: &Runtime,
    client: &Arc<Client>,
    seconds: u64,
) -> anyhow::Result<Vec<Usage>> {
    let leader = current_leader(runtime, client)?;
    let mut usage = Vec::new();
    let mut pids = Vec::new();
    for controller in &cluster.config.file.controllers {
        let pid = dev::controller_pid(&cluster.dir, controller.id)?
            .with_context(|| format!("controller-{} is not running", controller.id))?;
        pids.push(pid);
        usage.push(Usage {
            id: controller.id,
            leader: controller.id == leader.id,
            cpu_percent: Vec::new(),
            rss_bytes: Vec::new(),
        });
    }
    let mut last: Vec<Option<u64>> = pids.iter().map(|pid| cpu_ticks(*pid)).collect();
    let mut last_at = Instant::now();
    for _ in 0..seconds {
        std::thread::sleep(Duration::from_secs(1));
        let now = Instant::now();
        let elapsed = (now - last_at).as_secs_f64();
        for (index, pid) in pids.iter().enumerate() {
            let ticks = cpu_ticks(*pid);
            if let (Some(before), Some(after)) = (last[index], ticks) {
                usage[index]
                    .cpu_percent
                    .push((after - before) as f64 / ticks_per_second() / elapsed * 100.0);
            }
            if let Some(rss) = rss_bytes(*pid) {
                usage[index].rss_bytes.push(rss as f64);
            }
            last[index] = ticks;
        }
        last_at = now;
    }
    Ok(usage)
}

/// The benchmark process's own cost (the fleet) over the last `seconds`:
/// measured right after the controllers', over the same length.
fn fleet_usage(seconds: u64) -> Usage {
    let pid = std::process::id() as i32;
    let mut usage = Usage {
        id: 0,
        leader: false,
        cpu_percent: Vec::new(),
        rss_bytes: Vec::new(),
    };
    let before = cpu_ticks(pid);
    let started = Instant::now();
    std::thread::sleep(Duration::from_secs(seconds.min(5)));
    if let (Some(before), Some(after)) = (before, cpu_ticks(pid)) {
        usage.cpu_percent.push(
            (after - before) as f64 / ticks_per_second() / started.elapsed().as_secs_f64() * 100.0,
        );
    }
    if let Some(rss) = rss_bytes(pid) {
        usage.rss_bytes.push(rss as f64);
    }
    usage
}

/// utime + stime of a process, in clock ticks (`/proc/PID/stat` fields 14, 15).
fn cpu_ticks(pid: i32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces; the fields follow its closing parenthesis.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(utime + stime)
}

fn ticks_per_second() -> f64 {
    // SAFETY: sysconf has no preconditions.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if ticks > 0 {
        ticks as f64
    } else {
        100.0
    }
}

/// `VmRSS` of a process.
fn rss_bytes(pid: i32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kibibytes: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kibibytes * 1024)
}

fn median(samples: &[f64]) -> f64 {
    Summary::of(samples).map_or(0.0, |s| s.median)
}

fn print_usage(usage: &[Usage], fleet: &Usage) {
    for u in usage {
        let cpu = Summary::of(&u.cpu_percent);
        let rss = Summary::of(&u.rss_bytes);
        println!(
            "  controller-{}{}: CPU median {:.0}% of a core (min {:.0}%, max {:.0}%), RSS median {:.0} MiB (max {:.0} MiB)",
            u.id,
            if u.leader { " (leader)" } else { "" },
            cpu.as_ref().map_or(0.0, |s| s.median),
            cpu.as_ref().map_or(0.0, |s| s.min),
            cpu.as_ref().map_or(0.0, |s| s.max),
            rss.as_ref().map_or(0.0, |s| s.median / 1_048_576.0),
            rss.as_ref().map_or(0.0, |s| s.max / 1_048_576.0),
        );
    }
    println!(
        "  the fleet (this process): CPU {:.0}% of a core, RSS {:.0} MiB",
        fleet.cpu_percent.first().copied().unwrap_or(0.0),
        fleet.rss_bytes.first().copied().unwrap_or(0.0) / 1_048_576.0
    );
}

fn usage_json(u: &Usage) -> Json {
    Json::object([
        ("controller_id", Json::count(u.id)),
        ("leader", Json::Bool(u.leader)),
        ("cpu_percent", summary_json(&u.cpu_percent)),
        ("rss_bytes", summary_json(&u.rss_bytes)),
        ("cpu_percent_samples", Json::numbers(&u.cpu_percent)),
    ])
}

fn report_body(
    args: &Args,
    attached_ms: f64,
    attached_node_ms: &[f64],
    up_ms: f64,
    usage: &[Usage],
    fleet: &Usage,
    rounds: &[Round],
) -> Vec<(&'static str, Json)> {
    let all: Vec<f64> = rounds.iter().map(|r| r.all_attached_ms).collect();
    let elected: Vec<f64> = rounds.iter().map(|r| r.elected_ms).collect();
    let nodes: Vec<f64> = rounds
        .iter()
        .flat_map(|r| r.node_ms.iter().copied())
        .collect();
    vec![
        (
            "parameters",
            Json::object([
                ("agents", Json::count(args.agents)),
                ("kills", Json::count(rounds.len())),
                ("steady_s", Json::count(args.steady_s)),
                ("poll_interval_ms", Json::count(POLL_INTERVAL_MS)),
                ("report_interval_ms", Json::count(REPORT_INTERVAL_MS)),
            ]),
        ),
        (
            "first_attach",
            Json::object([
                ("all_attached_ms", Json::Number(attached_ms)),
                ("node_attached_ms", summary_json(attached_node_ms)),
                ("all_up_ms", Json::Number(up_ms)),
            ]),
        ),
        (
            "steady_state",
            Json::object([
                (
                    "controllers",
                    Json::Array(usage.iter().map(usage_json).collect()),
                ),
                ("fleet", usage_json(fleet)),
            ]),
        ),
        (
            "runs",
            Json::Array(
                rounds
                    .iter()
                    .map(|r| {
                        Json::object([
                            ("killed_id", Json::count(r.killed_id)),
                            ("new_leader_id", Json::count(r.new_leader_id)),
                            ("terms", Json::count(r.terms)),
                            ("elected_ms", Json::Number(r.elected_ms)),
                            ("all_attached_ms", Json::Number(r.all_attached_ms)),
                            ("node_attached_ms", summary_json(&r.node_ms)),
                            ("not_up_after", Json::count(r.not_up)),
                        ])
                    })
                    .collect(),
            ),
        ),
        (
            "summary",
            Json::object([
                ("all_attached_after_kill_ms", summary_json(&all)),
                ("elected_ms", summary_json(&elected)),
                ("node_attached_after_kill_ms", summary_json(&nodes)),
            ]),
        ),
    ]
}
