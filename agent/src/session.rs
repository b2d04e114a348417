//! The agent's session with the leader: QUIC with mutual TLS to any
//! controller, following redirects to the leader, re-attaching to a new
//! leader by itself after a failover.
//!
//! One bidirectional stream carries length-prefixed protobuf messages. The
//! agent says hello with its resources and the jobs it runs; the leader
//! sends launches, signals and acknowledgements; the agent sends
//! heartbeats, confirms launches once journaled, and reports each job's end
//! until the leader acknowledges it after commit.

use std::collections::HashMap;
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::Arc;
use std::time::{Duration, Instant};

use corral_proto as wire;
use corral_proto::frame::{read_frame, write_frame};
use corral_state::{AllocationId, FinishCause, NodeResources};
use tokio::sync::mpsc;

use crate::journal::LaunchKey;
use crate::launch::LaunchRequest;
use crate::runner::{BatchTarget, Launched, Runner, RunnerError};

/// The agent protocol's ALPN (the gateway's `ALPN_AGENT`).
pub const ALPN_AGENT: &[&[u8]] = &[b"corral-agent/1"];
/// How often the agent looks for ended jobs to report.
pub const REPORT_INTERVAL_MS: u64 = 100;
/// An end not acknowledged is reported again after this long.
pub const REPORT_RESEND_MS: u64 = 2_000;
/// Waiting between attempts to reach a controller, doubling up to the maximum.
pub const RECONNECT_BACKOFF_MIN_MS: u64 = 50;
pub const RECONNECT_BACKOFF_MAX_MS: u64 = 1_000;
/// How long a connection attempt may take.
pub const CONNECT_TIMEOUT_MS: u64 = 2_000;
/// QUIC keep-alives let the agent notice a dead leader quickly: a killed
/// leader's socket just stops answering, and the session ends when nothing
/// has been heard for the idle timeout. Job ends wait that long (plus an
/// election) to be reported after a leader dies: `corral bench unreported`
/// measured about 5 s with a 5 s timeout.
pub const KEEP_ALIVE_INTERVAL_MS: u64 = 300;
pub const IDLE_TIMEOUT_MS: u64 = 1_500;
/// Messages waiting to be written to the controller.
pub const OUTBOX_MAX: usize = 8_192;

/// What a session needs from the agent.
pub struct SessionContext {
    pub node: String,
    pub cluster_name: String,
    pub resources: NodeResources,
    pub heartbeat_interval: Duration,
    /// How often ended jobs are looked for ([`REPORT_INTERVAL_MS`] in the
    /// daemon; longer for the simulated nodes of `corral bench agents`,
    /// which run no jobs).
    pub report_interval: Duration,
    pub runner: Arc<Runner>,
    /// Which controller this agent is attached to, for `/metrics`.
    pub status: Arc<crate::http::AgentStatus>,
    /// The controllers as the leader last told them (from the Raft
    /// membership), so a controller added at runtime is found without a
    /// config edit.
    pub learned: Arc<LearnedControllers>,
}

/// The voting controllers' addresses the leader sent in its `Welcome` and
/// in `Controllers` updates; empty until a leader has said.
#[derive(Default)]
pub struct LearnedControllers {
    addresses: std::sync::Mutex<Vec<String>>,
}

impl LearnedControllers {
    pub fn set(&self, addresses: Vec<String>) {
        if addresses.is_empty() {
            return;
        }
        let mut known = self.addresses.lock().expect("poisoned");
        if *known != addresses {
            tracing::info!(controllers = ?addresses, "learned the controllers from the leader");
            *known = addresses;
        }
    }

    pub fn get(&self) -> Vec<String> {
        self.addresses.lock().expect("poisoned").clone()
    }

    /// Where to look for the leader: the learned controllers first, then
    /// the configured ones not among them (a configured controller may
    /// have been removed; trying it costs one timeout).
    pub fn candidates(&self, configured: &[String]) -> Vec<String> {
        let mut all = self.get();
        for address in configured {
            if !all.contains(address) {
                all.push(address.clone());
            }
        }
        all
    }
}

/// How a session ended.
pub enum SessionEnd {
    /// A controller named the leader: go there next.
    Redirect(String),
    /// The session (or the attempt) ended: try again, elsewhere.
    Lost(String),
}

/// A QUIC client endpoint presenting the node's certificate.
pub fn client_endpoint(
    ca: &corral_tls::load::CaCertificates,
    identity: &corral_tls::load::Identity,
) -> Result<quinn::Endpoint, String> {
    let crypto = corral_tls::config::client_config(ca, Some(identity), ALPN_AGENT)
        .map_err(|error| error.to_string())?;
    let quic = quinn::crypto::rustls::QuicClientConfig::try_from(crypto)
        .map_err(|error| error.to_string())?;
    let mut client = quinn::ClientConfig::new(Arc::new(quic));
    let mut transport = quinn::TransportConfig::default();
    transport.keep_alive_interval(Some(Duration::from_millis(KEEP_ALIVE_INTERVAL_MS)));
    transport.max_idle_timeout(Some(
        Duration::from_millis(IDLE_TIMEOUT_MS)
            .try_into()
            .map_err(|_| "idle timeout out of range".to_string())?,
    ));
    client.transport_config(Arc::new(transport));
    let mut endpoint = quinn::Endpoint::client(SocketAddr::from(([0, 0, 0, 0], 0)))
        .map_err(|error| format!("cannot open a UDP socket: {error}"))?;
    endpoint.set_default_client_config(client);
    Ok(endpoint)
}

/// Runs one session with the controller at `address`.
pub async fn run(
    endpoint: &quinn::Endpoint,
    address: &str,
    context: &SessionContext,
) -> SessionEnd {
    match attach(endpoint, address, context).await {
        Ok(Attached::Redirect(leader)) => SessionEnd::Redirect(leader),
        Ok(Attached::Welcome(connection, send, recv)) => {
            tracing::info!(controller = %address, "attached to the leader");
            context.status.attached(address);
            let reason = serve(connection, send, recv, context).await;
            context.status.detached();
            SessionEnd::Lost(reason)
        }
        Err(error) => SessionEnd::Lost(error),
    }
}

enum Attached {
    Redirect(String),
    Welcome(quinn::Connection, quinn::SendStream, quinn::RecvStream),
}

fn socket_address(address: &str) -> Result<SocketAddr, String> {
    address
        .to_socket_addrs()
        .map_err(|error| format!("{address}: {error}"))?
        .next()
        .ok_or_else(|| format!("{address} resolves to no address"))
}

async fn attach(
    endpoint: &quinn::Endpoint,
    address: &str,
    context: &SessionContext,
) -> Result<Attached, String> {
    let socket = socket_address(address)?;
    let host = corral_client_host(address);
    let connecting = endpoint
        .connect(socket, &host)
        .map_err(|error| format!("{address}: {error}"))?;
    let connection = tokio::time::timeout(Duration::from_millis(CONNECT_TIMEOUT_MS), connecting)
        .await
        .map_err(|_| format!("{address}: no answer"))?
        .map_err(|error| format!("{address}: {error}"))?;
    let (mut send, mut recv) = connection
        .open_bi()
        .await
        .map_err(|error| format!("{address}: {error}"))?;
    let running = context
        .runner
        .active()
        .map_err(|error| format!("reading the journal: {error}"))?;
    let running_steps = context
        .runner
        .active_steps()
        .map_err(|error| format!("reading the journal: {error}"))?;
    let hello = wire::AgentMessage {
        body: Some(wire::agent_message::Body::Hello(wire::AgentHello {
            node: context.node.clone(),
            resources: Some(resources_to_wire(&context.resources)),
            running: running
                .into_iter()
                .map(|(job_id, allocation_id)| wire::JobAllocationRef {
                    job_id,
                    allocation_id: allocation_id.0,
                })
                .collect(),
            version: env!("CARGO_PKG_VERSION").to_string(),
            running_steps: running_steps
                .into_iter()
                .map(|(job_id, allocation_id, step_id)| wire::StepRef {
                    job_id,
                    allocation_id: allocation_id.0,
                    step_id,
                })
                .collect(),
        })),
    };
    write_frame(&mut send, &hello)
        .await
        .map_err(|error| format!("{address}: {error}"))?;
    let answer: wire::ControllerMessage = tokio::time::timeout(
        Duration::from_millis(CONNECT_TIMEOUT_MS),
        read_frame(&mut recv),
    )
    .await
    .map_err(|_| format!("{address}: no answer to hello"))?
    .map_err(|error| format!("{address}: {error}"))?;
    match answer.body {
        Some(wire::controller_message::Body::Welcome(welcome)) => {
            context.learned.set(welcome.controllers);
            Ok(Attached::Welcome(connection, send, recv))
        }
        Some(wire::controller_message::Body::Redirect(redirect)) => {
            connection.close(0u32.into(), b"redirected");
            if redirect.leader_address.is_empty() {
                Err(format!("{address}: no leader known yet"))
            } else {
                Ok(Attached::Redirect(redirect.leader_address))
            }
        }
        _ => Err(format!("{address}: unexpected answer to hello")),
    }
}

/// The host part of `host:port`, as the controller's certificate names it.
fn corral_client_host(address: &str) -> String {
    let host = address.rsplit_once(':').map_or(address, |(host, _)| host);
    host.trim_start_matches('[')
        .trim_end_matches(']')
        .to_string()
}

fn resources_to_wire(resources: &NodeResources) -> wire::NodeResources {
    wire::NodeResources {
        cpus: resources.cpus,
        memory_mb: resources.memory_mb,
        gpus: resources
            .gpus
            .iter()
            .map(|gpu| wire::Gpu {
                index: gpu.index,
                model: gpu.model.clone(),
            })
            .collect(),
    }
}

/// Why the session loop woke up.
enum Event {
    FromLeader(Option<Box<wire::ControllerMessage>>),
    Heartbeat,
    Report,
}

/// The session with the leader, until the connection is lost. Reading and
/// writing each have their own task, so that waiting on one never loses
/// half a message of the other.
async fn serve(
    connection: quinn::Connection,
    mut send: quinn::SendStream,
    mut recv: quinn::RecvStream,
    context: &SessionContext,
) -> String {
    let (outbox, mut outbox_rx) = mpsc::channel::<wire::AgentMessage>(OUTBOX_MAX);
    let writer = tokio::spawn(async move {
        while let Some(message) = outbox_rx.recv().await {
            if write_frame(&mut send, &message).await.is_err() {
                break;
            }
        }
    });
    let (inbox_tx, mut inbox) = mpsc::channel::<wire::ControllerMessage>(OUTBOX_MAX);
    let reader = tokio::spawn(async move {
        while let Ok(message) = read_frame::<_, wire::ControllerMessage>(&mut recv).await {
            if inbox_tx.send(message).await.is_err() {
                break;
            }
        }
    });
    let mut heartbeat = tokio::time::interval(context.heartbeat_interval);
    let mut report = tokio::time::interval(context.report_interval);
    let mut reported: HashMap<LaunchKey, Instant> = HashMap::new();
    let reason = loop {
        let event = tokio::select! {
            message = inbox.recv() => Event::FromLeader(message.map(Box::new)),
            _ = heartbeat.tick() => Event::Heartbeat,
            _ = report.tick() => Event::Report,
        };
        let sent = match event {
            Event::FromLeader(None) => break "the connection to the leader ended".to_string(),
            Event::FromLeader(Some(message)) => {
                handle(*message, context, &outbox, &mut reported).await
            }
            Event::Heartbeat => send_to(
                &outbox,
                wire::agent_message::Body::Heartbeat(wire::AgentHeartbeat {}),
            ),
            Event::Report => report_ends(context, &outbox, &mut reported).await,
        };
        if !sent {
            break "the connection to the leader is gone".to_string();
        }
    };
    reader.abort();
    writer.abort();
    connection.close(0u32.into(), b"session over");
    reason
}

fn send_to(outbox: &mpsc::Sender<wire::AgentMessage>, body: wire::agent_message::Body) -> bool {
    outbox
        .try_send(wire::AgentMessage { body: Some(body) })
        .is_ok()
}

/// Acts on one message from the leader; false when the session is broken.
async fn handle(
    message: wire::ControllerMessage,
    context: &SessionContext,
    outbox: &mpsc::Sender<wire::AgentMessage>,
    reported: &mut HashMap<LaunchKey, Instant>,
) -> bool {
    use wire::controller_message::Body;
    match message.body {
        Some(Body::Launch(launch)) => launch_job(launch, context, outbox).await,
        Some(Body::Signal(signal)) => deliver_signal(signal, context, outbox).await,
        Some(Body::EndRecorded(end)) => {
            let key = LaunchKey::batch(end.job_id, AllocationId(end.allocation_id));
            acknowledge(key, context, reported).await;
            true
        }
        Some(Body::StepEndRecorded(end)) => {
            let key = LaunchKey::step(end.job_id, AllocationId(end.allocation_id), end.step_id);
            acknowledge(key, context, reported).await;
            true
        }
        Some(Body::LaunchStep(launch)) => launch_step(launch, context, outbox).await,
        Some(Body::TimeLimit(update)) => set_time_limit(update, context, outbox).await,
        Some(Body::Controllers(controllers)) => {
            context.learned.set(controllers.addresses);
            true
        }
        Some(Body::Welcome(_)) | Some(Body::Redirect(_)) | None => true,
    }
}

/// Records that the leader has an end, so it is not reported again.
async fn acknowledge(
    key: LaunchKey,
    context: &SessionContext,
    reported: &mut HashMap<LaunchKey, Instant>,
) {
    reported.remove(&key);
    let runner = context.runner.clone();
    let result = tokio::task::spawn_blocking(move || runner.acknowledge_launch(key)).await;
    match result {
        // A job refused before its launch has nothing to acknowledge.
        Ok(Err(RunnerError::UnknownJob { .. })) | Ok(Ok(())) | Err(_) => {}
        Ok(Err(error)) => tracing::warn!(launch = %key, "acknowledgement not recorded: {error}"),
    }
}

/// Journals and starts this node's part of a step (at most once), then
/// confirms.
async fn launch_step(
    launch: wire::LaunchStep,
    context: &SessionContext,
    outbox: &mpsc::Sender<wire::AgentMessage>,
) -> bool {
    let Some(request) = LaunchRequest::from_wire_step(launch, &context.node) else {
        tracing::warn!("ignored a step launch without its job");
        return true;
    };
    let key = request.key();
    let runner = context.runner.clone();
    let result = tokio::task::spawn_blocking(move || runner.launch(&request)).await;
    let confirmed = match result {
        Ok(Ok(_)) => true,
        // Recorded as a failed launch: its end will be reported.
        Ok(Err(crate::runner::LaunchError::SupervisorDidNotStart { reason, .. })) => {
            tracing::warn!(launch = %key, "step could not start: {reason}");
            true
        }
        Ok(Err(error)) => {
            tracing::error!(launch = %key, "step launch not recorded: {error}; the leader will send it again");
            false
        }
        Err(_) => false,
    };
    if !confirmed {
        return true;
    }
    send_to(
        outbox,
        wire::agent_message::Body::StepLaunched(wire::StepRef {
            job_id: key.job_id,
            allocation_id: key.allocation_id.0,
            step_id: key.step.unwrap_or_default(),
        }),
    )
}

/// Delivers a cancellation or a signal. A job cancelled before its launch
/// reached this node is refused for good and reported as ended, so the
/// leader can finish it (it sends the cancellation again until then).
async fn deliver_signal(
    signal: wire::SignalJob,
    context: &SessionContext,
    outbox: &mpsc::Sender<wire::AgentMessage>,
) -> bool {
    let runner = context.runner.clone();
    let allocation = AllocationId(signal.allocation_id);
    let job_id = signal.job_id;
    let result = tokio::task::spawn_blocking(move || {
        if !signal.cancel {
            use wire::signal_job::Batch;
            let batch = match Batch::try_from(signal.batch).unwrap_or(Batch::Group) {
                Batch::Group => BatchTarget::Group,
                Batch::Shell => BatchTarget::Shell,
                Batch::None => BatchTarget::None,
            };
            return runner
                .signal_parts(
                    job_id,
                    allocation,
                    signal.signal as i32,
                    batch,
                    signal.steps,
                )
                .map(|()| false);
        }
        match runner.cancel(job_id, allocation) {
            Err(RunnerError::UnknownJob { .. }) => runner.refuse(job_id, allocation),
            other => other.map(|()| false),
        }
    })
    .await;
    match result {
        Ok(Ok(true)) => send_to(
            outbox,
            wire::agent_message::Body::Ended(wire::JobEnded {
                job_id,
                allocation_id: allocation.0,
                exit_code: 0,
                exit_signal: 0,
                cause: wire::FinishCause::CancelledByRequest as i32,
                message: String::new(),
            }),
        ),
        Ok(Ok(false)) | Err(_) => true,
        Ok(Err(error)) => {
            tracing::warn!(job = job_id, "signal not delivered: {error}");
            true
        }
    }
}

/// Records a running job's new time limit, then confirms it (also when
/// there was nothing to change: the job ended, or a newer one is known).
async fn set_time_limit(
    update: wire::TimeLimitUpdate,
    context: &SessionContext,
    outbox: &mpsc::Sender<wire::AgentMessage>,
) -> bool {
    let runner = context.runner.clone();
    let (job_id, allocation, minutes, version) = (
        update.job_id,
        AllocationId(update.allocation_id),
        update.time_limit_minutes,
        update.version,
    );
    let result = tokio::task::spawn_blocking(move || {
        runner.set_time_limit(job_id, allocation, minutes, version)
    })
    .await;
    match result {
        Ok(Ok(())) => send_to(outbox, wire::agent_message::Body::TimeLimitSet(update)),
        Ok(Err(error)) => {
            tracing::warn!(
                job = job_id,
                "time limit not recorded: {error}; the leader will send it again"
            );
            true
        }
        Err(_) => true,
    }
}

/// Journals and starts a job (at most once per allocation), then confirms.
async fn launch_job(
    launch: wire::LaunchJob,
    context: &SessionContext,
    outbox: &mpsc::Sender<wire::AgentMessage>,
) -> bool {
    let job_id = launch.job_id;
    let allocation_id = launch.allocation_id;
    let request = LaunchRequest::from_wire(launch, &context.node);
    let runner = context.runner.clone();
    let result = tokio::task::spawn_blocking(move || runner.launch(&request)).await;
    let confirmed = match result {
        Ok(Ok(Launched::Started)) => {
            tracing::info!(job = job_id, allocation = allocation_id, "job started");
            true
        }
        Ok(Ok(Launched::AlreadyLaunched)) => true,
        // Recorded as a failed launch: its end will be reported.
        Ok(Err(crate::runner::LaunchError::SupervisorDidNotStart { reason, .. })) => {
            tracing::warn!(job = job_id, "job could not start: {reason}");
            true
        }
        Ok(Err(error)) => {
            tracing::error!(
                job = job_id,
                "launch not recorded: {error}; the leader will send it again"
            );
            false
        }
        Err(_) => false,
    };
    if !confirmed {
        return true;
    }
    send_to(
        outbox,
        wire::agent_message::Body::Launched(wire::JobAllocationRef {
            job_id,
            allocation_id,
        }),
    )
}

/// Reports every ended job not acknowledged yet, again after a while.
async fn report_ends(
    context: &SessionContext,
    outbox: &mpsc::Sender<wire::AgentMessage>,
    reported: &mut HashMap<LaunchKey, Instant>,
) -> bool {
    let runner = context.runner.clone();
    let finished = match tokio::task::spawn_blocking(move || runner.finished()).await {
        Ok(Ok(finished)) => finished,
        Ok(Err(error)) => {
            tracing::warn!("reading ended jobs: {error}");
            return true;
        }
        Err(_) => return true,
    };
    let now = Instant::now();
    for job in finished {
        let key = LaunchKey {
            job_id: job.job_id,
            allocation_id: job.allocation_id,
            step: job.step,
        };
        if reported
            .get(&key)
            .is_some_and(|at| now.duration_since(*at) < Duration::from_millis(REPORT_RESEND_MS))
        {
            continue;
        }
        let body = match job.step {
            None => wire::agent_message::Body::Ended(wire::JobEnded {
                job_id: job.job_id,
                allocation_id: job.allocation_id.0,
                exit_code: u32::from(job.exit_status.code),
                exit_signal: u32::from(job.exit_status.signal),
                cause: cause_to_wire(job.cause) as i32,
                message: job.detail.unwrap_or_default(),
            }),
            Some(step_id) => wire::agent_message::Body::StepEnded(wire::StepEnded {
                step: Some(wire::StepRef {
                    job_id: job.job_id,
                    allocation_id: job.allocation_id.0,
                    step_id,
                }),
                exit_code: u32::from(job.exit_status.code),
                exit_signal: u32::from(job.exit_status.signal),
                cause: cause_to_wire(job.cause) as i32,
                message: job.detail.unwrap_or_default(),
            }),
        };
        if !send_to(outbox, body) {
            return false;
        }
        reported.insert(key, now);
    }
    true
}

fn cause_to_wire(cause: FinishCause) -> wire::FinishCause {
    match cause {
        FinishCause::Exited => wire::FinishCause::Exited,
        FinishCause::TimeLimit => wire::FinishCause::TimeLimit,
        FinishCause::Cancelled => wire::FinishCause::CancelledByRequest,
        FinishCause::LaunchFailed => wire::FinishCause::LaunchFailed,
    }
}
