//! The agent gateway: compute nodes' agents attach to the leader over QUIC
//! with mutual TLS, on the same host and port number as the controller's
//! gRPC service (UDP instead of TCP).
//!
//! A connection carries one bidirectional stream of length-prefixed
//! protobuf messages (`AgentMessage` up, `ControllerMessage` down). The agent
//! speaks first; its `AgentHello` must name the node its certificate names.
//! A controller that is not the leader answers `Redirect` and closes. The
//! leader answers `Welcome`, and from then on the [`Hub`] holds the session:
//! what the agent says becomes an [`AgentEvent`] for the leader's duties, and
//! the duties send launches and signals through [`Hub::send`].
//!
//! The `Welcome` carries the voting controllers' addresses from the Raft
//! membership, and a `Controllers` message follows whenever they change, so
//! an agent finds a controller added at runtime without a config edit.
//!
//! Architecture invariant: agents are attached only to the leader. When the
//! leader steps down its duties call [`Hub::close_all`], and the agents find
//! the new leader by themselves.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use corral_proto as wire;
use corral_proto::frame::{read_frame, write_frame, FrameError};
use corral_raft_store::Raft;
use corral_state::{AllocationId, ExitStatus, FinishCause, Gpu, JobId, NodeResources};
use quinn::crypto::rustls::QuicServerConfig;
use tokio::sync::mpsc;

use crate::membership::voter_addresses;

/// A step of a job's allocation: job, allocation, step number.
pub type StepKey = (JobId, AllocationId, u32);

/// ALPN of the agent protocol; a future incompatible protocol gets a new one.
pub const ALPN_AGENT: &[&[u8]] = &[b"corral-agent/1"];
/// Events from all agents waiting for the leader's duties.
pub const AGENT_EVENTS_QUEUE_MAX: usize = 65_536;
/// Messages waiting to be written to one agent.
pub const SESSION_OUTBOX_MAX: usize = 8_192;
/// A connection silent for this long is closed (agents send keep-alives).
pub const QUIC_IDLE_TIMEOUT_MS: u64 = 15_000;
/// How long an agent has to say hello after connecting.
pub const HELLO_TIMEOUT_MS: u64 = 10_000;
/// The receive buffer asked for the gateway's UDP socket (the kernel caps
/// it at `net.core.rmem_max`). Every agent's keep-alives, heartbeats and
/// handshakes arrive on this one socket; with the default (about 208 KiB
/// here) 2,000 agents attaching at once (`corral bench agents`) came with
/// hundreds of thousands of UDP receive buffer errors (`netstat -su`), and
/// dropped datagrams cost handshake timeouts and sessions lost to the
/// agents' idle timeout. A bigger buffer helps only a controller that
/// drains its socket in time; see `docs/performance.md`.
pub const RECEIVE_BUFFER_BYTES: usize = 16 * 1024 * 1024;

/// A QUIC application error code: the controller closed the session.
const CLOSE_NOT_LEADER: u32 = 1;
const CLOSE_REPLACED: u32 = 2;
const CLOSE_BAD_HELLO: u32 = 3;

/// What an agent said, for the leader's duties.
#[derive(Debug)]
pub enum AgentEvent {
    Attached {
        node: String,
        resources: NodeResources,
        running: Vec<(JobId, AllocationId)>,
        /// Parts of steps the agent runs.
        running_steps: Vec<StepKey>,
    },
    Launched {
        node: String,
        job_id: JobId,
        allocation_id: AllocationId,
    },
    Ended {
        node: String,
        job_id: JobId,
        allocation_id: AllocationId,
        exit_status: ExitStatus,
        cause: FinishCause,
        message: String,
    },
    StepLaunched {
        node: String,
        step: StepKey,
    },
    StepEnded {
        node: String,
        step: StepKey,
        exit_status: ExitStatus,
        cause: FinishCause,
        message: String,
    },
    Detached {
        node: String,
    },
    /// The agent recorded a job's time limit of this version (or newer).
    TimeLimitSet {
        node: String,
        job_id: JobId,
        allocation_id: AllocationId,
        version: u32,
    },
}

struct Session {
    id: u64,
    outbox: mpsc::Sender<wire::ControllerMessage>,
    connection: quinn::Connection,
}

/// The attached agents, the events they produce, and when each was last
/// heard from.
pub struct Hub {
    events_tx: mpsc::Sender<AgentEvent>,
    events_rx: tokio::sync::Mutex<mpsc::Receiver<AgentEvent>>,
    sessions: Mutex<HashMap<String, Session>>,
    next_session_id: AtomicU64,
    /// Written by the sessions as an agent attaches and as its messages
    /// arrive; the leader's one record of whom it hears from. Heartbeats
    /// are not events: thousands of nodes send one a second each, and
    /// queued behind other events they reached the check late enough to
    /// make attached nodes look silent.
    last_heard: Mutex<HashMap<String, Instant>>,
}

impl Default for Hub {
    fn default() -> Self {
        let (events_tx, events_rx) = mpsc::channel(AGENT_EVENTS_QUEUE_MAX);
        Hub {
            events_tx,
            events_rx: tokio::sync::Mutex::new(events_rx),
            sessions: Mutex::new(HashMap::new()),
            next_session_id: AtomicU64::new(1),
            last_heard: Mutex::new(HashMap::new()),
        }
    }
}

impl Hub {
    /// The events, for the one consumer (the leader's duties of the current
    /// term); held for as long as the guard lives.
    pub async fn events(&self) -> tokio::sync::MutexGuard<'_, mpsc::Receiver<AgentEvent>> {
        self.events_rx.lock().await
    }

    /// Queues a message for a node's agent; false when it is not attached
    /// or too far behind (the duties send again later).
    pub fn send(&self, node: &str, message: wire::ControllerMessage) -> bool {
        let sessions = self.sessions.lock().expect("sessions poisoned");
        sessions
            .get(node)
            .is_some_and(|session| session.outbox.try_send(message).is_ok())
    }

    pub fn attached_nodes(&self) -> Vec<String> {
        let sessions = self.sessions.lock().expect("sessions poisoned");
        sessions.keys().cloned().collect()
    }

    pub fn is_attached(&self, node: &str) -> bool {
        self.sessions
            .lock()
            .expect("sessions poisoned")
            .contains_key(node)
    }

    /// Closes every session: this controller no longer leads.
    pub fn close_all(&self) {
        let sessions: Vec<Session> = {
            let mut sessions = self.sessions.lock().expect("sessions poisoned");
            sessions.drain().map(|(_, session)| session).collect()
        };
        for session in sessions {
            session
                .connection
                .close(CLOSE_NOT_LEADER.into(), b"not the leader any more");
        }
    }

    fn attach(&self, node: &str, session: Session) {
        let previous = self
            .sessions
            .lock()
            .expect("sessions poisoned")
            .insert(node.to_string(), session);
        if let Some(previous) = previous {
            previous
                .connection
                .close(CLOSE_REPLACED.into(), b"replaced by a newer session");
        }
    }

    /// Forgets a session unless a newer one for the node replaced it.
    fn detach(&self, node: &str, session_id: u64) -> bool {
        let mut sessions = self.sessions.lock().expect("sessions poisoned");
        if sessions.get(node).is_some_and(|s| s.id == session_id) {
            sessions.remove(node);
            return true;
        }
        false
    }

    /// When a message from `node`'s agent last arrived, in any session.
    pub fn last_heard(&self, node: &str) -> Option<Instant> {
        self.last_heard
            .lock()
            .expect("last_heard poisoned")
            .get(node)
            .copied()
    }

    fn heard(&self, node: &str) {
        let now = Instant::now();
        let mut last_heard = self.last_heard.lock().expect("last_heard poisoned");
        match last_heard.get_mut(node) {
            Some(at) => *at = now,
            None => {
                last_heard.insert(node.to_string(), now);
            }
        }
    }

    async fn emit(&self, event: AgentEvent) {
        // The receiver lives as long as the hub.
        let _ = self.events_tx.send(event).await;
    }
}

/// A QUIC endpoint for agents on `address` (UDP), requiring a client
/// certificate from the cluster CA.
pub fn endpoint(
    address: &str,
    ca: &corral_tls::load::CaCertificates,
    identity: &corral_tls::load::Identity,
) -> Result<quinn::Endpoint, String> {
    let crypto = corral_tls::config::server_config(
        ca,
        identity,
        corral_tls::config::ClientAuth::Required,
        ALPN_AGENT,
    )
    .map_err(|error| error.to_string())?;
    let quic = QuicServerConfig::try_from(crypto).map_err(|error| error.to_string())?;
    let mut server = quinn::ServerConfig::with_crypto(Arc::new(quic));
    let mut transport = quinn::TransportConfig::default();
    let idle = Duration::from_millis(QUIC_IDLE_TIMEOUT_MS)
        .try_into()
        .map_err(|_| "idle timeout out of range".to_string())?;
    transport.max_idle_timeout(Some(idle));
    server.transport_config(Arc::new(transport));
    let address: SocketAddr = resolve(address)?;
    let socket = std::net::UdpSocket::bind(address)
        .map_err(|error| format!("cannot listen (UDP): {error}"))?;
    let receive_buffer = set_receive_buffer(&socket, RECEIVE_BUFFER_BYTES);
    tracing::debug!(receive_buffer, "agent gateway socket bound");
    let runtime = quinn::default_runtime().ok_or("no async runtime for the agent gateway")?;
    quinn::Endpoint::new(
        quinn::EndpointConfig::default(),
        Some(server),
        socket,
        runtime,
    )
    .map_err(|error| format!("cannot listen (UDP): {error}"))
}

/// Asks for a receive buffer of `bytes` and returns what the kernel gave
/// (its own accounting, twice the usable size; 0 when unknown).
fn set_receive_buffer(socket: &std::net::UdpSocket, bytes: usize) -> usize {
    use std::os::fd::AsRawFd;
    let fd = socket.as_raw_fd();
    let wanted = libc::c_int::try_from(bytes).unwrap_or(libc::c_int::MAX);
    // SAFETY: setsockopt/getsockopt on a socket we own, with pointers to
    // integers of the size passed.
    unsafe {
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_RCVBUF,
            (&wanted as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        );
        let mut got: libc::c_int = 0;
        let mut length = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
        let read = libc::getsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_RCVBUF,
            (&mut got as *mut libc::c_int).cast(),
            &mut length,
        );
        if read == 0 {
            usize::try_from(got).unwrap_or(0)
        } else {
            0
        }
    }
}

fn resolve(address: &str) -> Result<SocketAddr, String> {
    use std::net::ToSocketAddrs;
    address
        .to_socket_addrs()
        .map_err(|error| format!("{address}: {error}"))?
        .next()
        .ok_or_else(|| format!("{address} resolves to no address"))
}

/// Accepts agents until the endpoint is closed.
pub async fn serve(endpoint: quinn::Endpoint, hub: Arc<Hub>, raft: Raft) {
    while let Some(incoming) = endpoint.accept().await {
        let hub = hub.clone();
        let raft = raft.clone();
        tokio::spawn(async move {
            if let Err(error) = handle(incoming, &hub, &raft).await {
                tracing::debug!("agent session ended: {error}");
            }
        });
    }
}

/// The node a verified client certificate names.
fn certified_node(connection: &quinn::Connection) -> Option<String> {
    let identity = connection.peer_identity()?;
    let certs = identity
        .downcast::<Vec<rustls::pki_types::CertificateDer<'static>>>()
        .ok()?;
    certs.first().and_then(corral_tls::identity::node_name_of)
}

/// Where the leader is, from this controller's view.
fn leadership(raft: &Raft) -> (bool, String, u64) {
    let metrics = raft.metrics().borrow().clone();
    let (leading, leader_address) = match crate::propose::leadership(&metrics) {
        Ok(()) => (true, String::new()),
        Err(forward) => (
            false,
            forward
                .leader_node
                .map(|node| node.addr)
                .unwrap_or_default(),
        ),
    };
    (leading, leader_address, metrics.current_term)
}

async fn handle(incoming: quinn::Incoming, hub: &Hub, raft: &Raft) -> Result<(), String> {
    let connection = incoming.await.map_err(|error| error.to_string())?;
    let certified = certified_node(&connection);
    let (mut send, mut recv) = connection
        .accept_bi()
        .await
        .map_err(|error| error.to_string())?;
    let hello = tokio::time::timeout(
        Duration::from_millis(HELLO_TIMEOUT_MS),
        read_frame::<_, wire::AgentMessage>(&mut recv),
    )
    .await
    .map_err(|_| "no hello in time".to_string())?
    .map_err(|error| error.to_string())?;
    let Some(wire::agent_message::Body::Hello(hello)) = hello.body else {
        connection.close(CLOSE_BAD_HELLO.into(), b"expected AgentHello");
        return Err("first message was not a hello".into());
    };
    if certified.as_deref() != Some(hello.node.as_str()) {
        tracing::warn!(
            claimed = %hello.node,
            certificate = ?certified,
            remote = %connection.remote_address(),
            "refused an agent whose certificate names another node"
        );
        connection.close(
            CLOSE_BAD_HELLO.into(),
            b"the certificate does not name this node",
        );
        return Err("certificate and hello disagree".into());
    }
    let (leading, leader_address, term) = leadership(raft);
    if !leading {
        let redirect = wire::ControllerMessage {
            body: Some(wire::controller_message::Body::Redirect(wire::Redirect {
                leader_address,
            })),
        };
        let _ = write_frame(&mut send, &redirect).await;
        let _ = send.finish();
        // Let the redirect reach the agent before the connection goes.
        let _ = tokio::time::timeout(Duration::from_secs(2), connection.closed()).await;
        return Ok(());
    }
    run_session(connection, send, recv, hello, hub, raft, term).await
}

async fn run_session(
    connection: quinn::Connection,
    mut send: quinn::SendStream,
    mut recv: quinn::RecvStream,
    hello: wire::AgentHello,
    hub: &Hub,
    raft: &Raft,
    term: u64,
) -> Result<(), String> {
    let node = hello.node.clone();
    let session_id = hub.next_session_id.fetch_add(1, Ordering::Relaxed);
    let (outbox, mut outbox_rx) = mpsc::channel(SESSION_OUTBOX_MAX);
    hub.attach(
        &node,
        Session {
            id: session_id,
            outbox,
            connection: connection.clone(),
        },
    );
    let welcome = wire::ControllerMessage {
        body: Some(wire::controller_message::Body::Welcome(wire::Welcome {
            controller_id: raft.metrics().borrow().id,
            term,
            heartbeat_interval_ms: 0,
            controllers: voter_addresses(&raft.metrics().borrow()),
        })),
    };
    write_frame(&mut send, &welcome)
        .await
        .map_err(|error| error.to_string())?;
    tracing::info!(%node, remote = %connection.remote_address(), "agent attached");
    hub.heard(&node);
    hub.emit(attached_event(&hello)).await;

    let mut metrics = raft.metrics();
    let writer = tokio::spawn(async move {
        let mut told = voter_addresses(&metrics.borrow_and_update());
        loop {
            let message = tokio::select! {
                message = outbox_rx.recv() => match message {
                    Some(message) => message,
                    None => break,
                },
                changed = metrics.changed() => {
                    if changed.is_err() {
                        break;
                    }
                    let now = voter_addresses(&metrics.borrow_and_update());
                    if now == told {
                        continue;
                    }
                    told = now.clone();
                    wire::ControllerMessage {
                        body: Some(wire::controller_message::Body::Controllers(
                            wire::Controllers { addresses: now },
                        )),
                    }
                }
            };
            if write_frame(&mut send, &message).await.is_err() {
                break;
            }
        }
    });
    let result = read_until_closed(&node, &mut recv, hub).await;
    writer.abort();
    if hub.detach(&node, session_id) {
        tracing::info!(%node, "agent detached: {}", result.as_ref().err().map_or("closed", |e| e.as_str()));
        hub.emit(AgentEvent::Detached { node }).await;
    }
    result
}

async fn read_until_closed(
    node: &str,
    recv: &mut quinn::RecvStream,
    hub: &Hub,
) -> Result<(), String> {
    loop {
        let message: wire::AgentMessage = match read_frame(recv).await {
            Ok(message) => message,
            Err(FrameError::Closed) => return Ok(()),
            Err(error) => return Err(error.to_string()),
        };
        hub.heard(node);
        let node = node.to_string();
        let event = match message.body {
            Some(wire::agent_message::Body::Heartbeat(_)) => continue,
            Some(wire::agent_message::Body::Launched(launched)) => AgentEvent::Launched {
                node,
                job_id: launched.job_id,
                allocation_id: AllocationId(launched.allocation_id),
            },
            Some(wire::agent_message::Body::Ended(ended)) => match ended_event(node, ended) {
                Some(event) => event,
                None => continue,
            },
            Some(wire::agent_message::Body::StepLaunched(step)) => AgentEvent::StepLaunched {
                node,
                step: step_key(&step),
            },
            Some(wire::agent_message::Body::StepEnded(ended)) => {
                match step_ended_event(node, ended) {
                    Some(event) => event,
                    None => continue,
                }
            }
            Some(wire::agent_message::Body::TimeLimitSet(set)) => AgentEvent::TimeLimitSet {
                node,
                job_id: set.job_id,
                allocation_id: AllocationId(set.allocation_id),
                version: set.version,
            },
            Some(wire::agent_message::Body::Hello(_)) | None => {
                return Err("unexpected message in a session".to_string())
            }
        };
        hub.emit(event).await;
    }
}

fn attached_event(hello: &wire::AgentHello) -> AgentEvent {
    let resources = hello
        .resources
        .as_ref()
        .map(|r| NodeResources {
            cpus: r.cpus,
            memory_mb: r.memory_mb,
            gpus: r
                .gpus
                .iter()
                .map(|gpu| Gpu {
                    index: gpu.index,
                    model: gpu.model.clone(),
                })
                .collect(),
        })
        .unwrap_or_default();
    AgentEvent::Attached {
        node: hello.node.clone(),
        resources,
        running: hello
            .running
            .iter()
            .map(|r| (r.job_id, AllocationId(r.allocation_id)))
            .collect(),
        running_steps: hello.running_steps.iter().map(step_key).collect(),
    }
}

pub fn step_key(step: &wire::StepRef) -> StepKey {
    (step.job_id, AllocationId(step.allocation_id), step.step_id)
}

pub fn step_ref(step: StepKey) -> wire::StepRef {
    wire::StepRef {
        job_id: step.0,
        allocation_id: step.1 .0,
        step_id: step.2,
    }
}

/// A `JobEnded` as an event; one with an unknown cause or an exit status out
/// of range is logged and dropped (the agent is at fault, the state is not).
fn ended_event(node: String, ended: wire::JobEnded) -> Option<AgentEvent> {
    let (exit_status, cause) = end_from_wire(
        &node,
        ended.job_id,
        ended.cause,
        ended.exit_code,
        ended.exit_signal,
    )?;
    Some(AgentEvent::Ended {
        node,
        job_id: ended.job_id,
        allocation_id: AllocationId(ended.allocation_id),
        exit_status,
        cause,
        message: ended.message,
    })
}

fn step_ended_event(node: String, ended: wire::StepEnded) -> Option<AgentEvent> {
    let step = step_key(ended.step.as_ref()?);
    let (exit_status, cause) = end_from_wire(
        &node,
        step.0,
        ended.cause,
        ended.exit_code,
        ended.exit_signal,
    )?;
    Some(AgentEvent::StepEnded {
        node,
        step,
        exit_status,
        cause,
        message: ended.message,
    })
}

/// How a job or step ended, as the agent says; `None` (logged) for an
/// unknown cause or an exit status out of range: the agent is at fault,
/// the state is not.
fn end_from_wire(
    node: &str,
    job_id: JobId,
    cause: i32,
    exit_code: u32,
    exit_signal: u32,
) -> Option<(ExitStatus, FinishCause)> {
    let finish_cause = match wire::FinishCause::try_from(cause) {
        Ok(wire::FinishCause::Exited) => FinishCause::Exited,
        Ok(wire::FinishCause::TimeLimit) => FinishCause::TimeLimit,
        Ok(wire::FinishCause::CancelledByRequest) => FinishCause::Cancelled,
        Ok(wire::FinishCause::LaunchFailed) => FinishCause::LaunchFailed,
        _ => {
            tracing::warn!(%node, job = job_id, cause, "ignored an end with an unknown cause");
            return None;
        }
    };
    let (Ok(code), Ok(signal)) = (u8::try_from(exit_code), u8::try_from(exit_signal)) else {
        tracing::warn!(%node, job = job_id, "ignored an end with an exit status out of range");
        return None;
    };
    Some((ExitStatus { code, signal }, finish_cause))
}
