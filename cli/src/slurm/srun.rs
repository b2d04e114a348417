//! `srun` inside a batch job: ask the leader for a new step of the job,
//! then listen for the nodes that run its tasks, print their output, and
//! exit with their worst exit.
//!
//! The nodes connect here directly (see `corral_agent::step_io`), not
//! through a controller, so a step's output and its end reach `srun` even
//! while the controllers elect a new leader. `srun` also looks at the
//! step in the replicated state now and then, so that a node that never
//! connects (its launch failed, the node died) does not keep it waiting.

use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener, TcpStream, ToSocketAddrs, UdpSocket};
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use corral_agent::step_io::{Frame, Hello};
use corral_client::Client;
use corral_proto as wire;
use corral_slurm::srun::{self, SrunInvocation, SrunRequest};
use corral_slurm::SlurmError;

use super::connection::{call_failed, connect};

const COMMAND: &str = "srun";
/// How often srun looks at its step in the replicated state.
const STATE_POLL_MS: u64 = 1_000;
/// How long after the state says a node's part ended srun still waits
/// for that node's own report (its output may be in flight).
const NODE_REPORT_GRACE_MS: u64 = 3_000;
/// How long srun waits, once every task has ended, for the cluster to
/// record the step's end: the batch script goes on only after that, so its
/// own end never overtakes its steps'.
const STEP_END_WAIT_MS: u64 = 10_000;
const STEP_END_POLL_MS: u64 = 50;
/// Signals srun passes on to the tasks.
const FORWARDED_SIGNALS: [libc::c_int; 5] = [
    libc::SIGINT,
    libc::SIGTERM,
    libc::SIGHUP,
    libc::SIGUSR1,
    libc::SIGUSR2,
];

/// The last signal srun received and has not forwarded yet (0: none).
static PENDING_SIGNAL: AtomicI32 = AtomicI32::new(0);

extern "C" fn remember_signal(signal: libc::c_int) {
    PENDING_SIGNAL.store(signal, Ordering::SeqCst);
}

pub fn run(args: &[String]) -> Result<u8, SlurmError> {
    let request = match srun::parse(args, &|name| std::env::var(name).ok())? {
        SrunInvocation::Print(text) => {
            print!("{text}");
            return Ok(0);
        }
        SrunInvocation::Run(request) => *request,
    };
    for warning in &request.warnings {
        eprintln!("{warning}");
    }
    let runtime = super::runtime(COMMAND)?;
    let client = connect(COMMAND)?;
    let listener = TcpListener::bind((Ipv4Addr::UNSPECIFIED, 0))
        .map_err(|e| failure(&format!("cannot listen for the step's tasks: {e}")))?;
    let port = listener
        .local_addr()
        .map_err(|e| failure(&e.to_string()))?
        .port();
    let address = SocketAddr::new(advertised_ip(&client), port);
    let key = random_hex()?;
    let spec = step_spec(&request, &address, &key)?;
    let reply = runtime
        .block_on(client.call(
            wire::StartStepRequest {
                request_id: random_hex()?,
                job_id: request.job_id,
                spec: Some(spec),
            },
            |mut c, r| async move { c.start_step(r).await },
        ))
        .map_err(|error| {
            call_failed(
                COMMAND,
                format!(
                    "{COMMAND}: error: Unable to create step for job {}: ",
                    request.job_id
                ),
                &error,
            )
        })?;
    let step_id = match reply.result {
        Some(wire::start_step_reply::Result::StepId(step_id)) => step_id,
        Some(wire::start_step_reply::Result::Rejection(rejection)) => {
            return Err(failure(&format!(
                "Unable to create step for job {}: {}",
                request.job_id, rejection.message
            )))
        }
        None => {
            return Err(failure(
                "Unable to create step: Unexpected message received",
            ))
        }
    };
    install_signal_handlers();
    let nodes: BTreeMap<String, (u32, u32)> = reply
        .nodes
        .iter()
        .map(|part| (part.node.clone(), (part.first_task, part.tasks)))
        .collect();
    let ntasks = nodes.values().map(|(_, tasks)| *tasks).sum();
    let (events_tx, events) = mpsc::channel();
    let connections: Connections = Arc::new(Mutex::new(HashMap::new()));
    accept(
        listener,
        Expected {
            key,
            job_id: request.job_id,
            step_id,
            nodes: nodes.clone(),
        },
        events_tx,
        connections.clone(),
    );
    let mut step = RunningStep {
        request: &request,
        step_id,
        nodes,
        ntasks,
        exits: BTreeMap::new(),
        output: Output::new(request.label, request.unbuffered, ntasks),
        connections,
        killed: false,
    };
    step.wait(&events, &runtime, &client);
    step.wait_recorded(&runtime, &client);
    Ok(step.finish())
}

fn failure(message: &str) -> SlurmError {
    SlurmError::command_error(COMMAND, message, 1)
}

/// The address other nodes reach this one at: the one this host uses to
/// reach the first controller (a UDP `connect` sends nothing).
fn advertised_ip(client: &Client) -> IpAddr {
    let routed = client
        .settings()
        .controllers
        .first()
        .and_then(|controller| controller.address.to_socket_addrs().ok()?.next())
        .and_then(|controller| {
            let socket = UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0)).ok()?;
            socket.connect(controller).ok()?;
            Some(socket.local_addr().ok()?.ip())
        });
    match routed {
        Some(ip) if !ip.is_unspecified() => ip,
        _ => IpAddr::V4(Ipv4Addr::LOCALHOST),
    }
}

fn random_hex() -> Result<String, SlurmError> {
    let mut bytes = [0u8; 16];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut bytes)
        .map_err(|_| failure("the system random number generator failed"))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

fn step_spec(
    request: &SrunRequest,
    address: &SocketAddr,
    key: &str,
) -> Result<wire::StepSpec, SlurmError> {
    let current = std::env::current_dir()
        .map_err(|e| failure(&format!("cannot read the current directory: {e}")))?;
    let work_dir = match &request.chdir {
        Some(dir) => current.join(dir),
        None => current,
    };
    let mut environment: Vec<(String, String)> = std::env::vars().collect();
    // SAFETY: reading and restoring our own umask.
    let umask = unsafe {
        let mask = libc::umask(0o022);
        libc::umask(mask);
        mask
    };
    environment.retain(|(name, _)| name != "SLURM_UMASK");
    environment.push(("SLURM_UMASK".to_string(), format!("{umask:04o}")));
    let spec = corral_state::StepSpec {
        name: request.step_name(),
        argv: request.argv.clone(),
        environment,
        work_dir: work_dir.to_string_lossy().into_owned(),
        ntasks: request.ntasks,
        nodes: request.nodes,
        cpus_per_task: request.cpus_per_task,
        node_list: request.node_list.clone(),
        stdout_pattern: request.stdout.clone(),
        stderr_pattern: request.stderr.clone(),
        stdin_pattern: request.stdin.clone(),
        label: request.label,
        unbuffered: request.unbuffered,
        time_limit_minutes: request.time_limit_minutes,
        io_address: address.to_string(),
        io_key: key.to_string(),
    };
    Ok(wire::StepSpec::from(&spec))
}

fn install_signal_handlers() {
    for signal in FORWARDED_SIGNALS {
        // SAFETY: the handler only stores into an atomic.
        unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = remember_signal as *const () as usize;
            libc::sigemptyset(&mut action.sa_mask);
            libc::sigaction(signal, &action, std::ptr::null_mut());
        }
    }
}

type Connections = Arc<Mutex<HashMap<String, TcpStream>>>;

/// Who may connect: the step's nodes, with the step's secret.
struct Expected {
    key: String,
    job_id: u32,
    step_id: u32,
    nodes: BTreeMap<String, (u32, u32)>,
}

enum Event {
    Frame(String, Frame),
    /// The node's connection ended.
    Closed(String),
}

/// Accepts the nodes' connections; each gets a reader thread.
fn accept(
    listener: TcpListener,
    expected: Expected,
    events: mpsc::Sender<Event>,
    connections: Connections,
) {
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
            let hello = match Frame::read_from(&mut stream) {
                Ok(Some(Frame::Hello(hello))) => hello,
                _ => continue,
            };
            if !admits(&expected, &hello) {
                continue;
            }
            let _ = stream.set_read_timeout(None);
            let Ok(writer) = stream.try_clone() else {
                continue;
            };
            connections
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(hello.node.clone(), writer);
            let events = events.clone();
            std::thread::spawn(move || {
                while let Ok(Some(frame)) = Frame::read_from(&mut stream) {
                    if events
                        .send(Event::Frame(hello.node.clone(), frame))
                        .is_err()
                    {
                        return;
                    }
                }
                let _ = events.send(Event::Closed(hello.node));
            });
        }
    });
}

fn admits(expected: &Expected, hello: &Hello) -> bool {
    hello.key == expected.key
        && hello.job_id == expected.job_id
        && hello.step_id == expected.step_id
        && expected.nodes.get(&hello.node) == Some(&(hello.first_task, hello.tasks))
}

struct RunningStep<'a> {
    request: &'a SrunRequest,
    step_id: u32,
    nodes: BTreeMap<String, (u32, u32)>,
    ntasks: u32,
    /// Task number to (node, code, signal).
    exits: BTreeMap<u32, (String, u8, u8)>,
    output: Output,
    connections: Connections,
    killed: bool,
}

impl RunningStep<'_> {
    /// Until every task has an exit.
    fn wait(
        &mut self,
        events: &mpsc::Receiver<Event>,
        runtime: &tokio::runtime::Runtime,
        client: &Client,
    ) {
        let mut next_poll = Instant::now() + Duration::from_millis(STATE_POLL_MS);
        // Node to when the state first said its part ended.
        let mut ended_in_state: HashMap<String, (Instant, u8, u8)> = HashMap::new();
        while (self.exits.len() as u32) < self.ntasks {
            match events.recv_timeout(Duration::from_millis(50)) {
                Ok(Event::Frame(node, frame)) => self.handle(&node, frame),
                Ok(Event::Closed(node)) => self.output.flush_node(&self.nodes, &node),
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
            }
            let signal = PENDING_SIGNAL.swap(0, Ordering::SeqCst);
            if signal != 0 {
                self.signal_all(signal as u8);
            }
            if Instant::now() >= next_poll {
                next_poll = Instant::now() + Duration::from_millis(STATE_POLL_MS);
                for (node, code, signal) in self.ended_parts(runtime, client) {
                    ended_in_state
                        .entry(node)
                        .or_insert((Instant::now(), code, signal));
                }
                let grace = Duration::from_millis(NODE_REPORT_GRACE_MS);
                for (node, (since, code, signal)) in &ended_in_state {
                    if since.elapsed() >= grace {
                        self.give_up_on(node, *code, *signal);
                    }
                }
            }
        }
        self.output.flush_all();
    }

    fn handle(&mut self, node: &str, frame: Frame) {
        match frame {
            Frame::Stdout { task, data } => self.output.write(task, false, &data),
            Frame::Stderr { task, data } => self.output.write(task, true, &data),
            Frame::Failed { message, .. } => {
                self.output.flush_all();
                eprintln!("{message}");
            }
            Frame::Exit { task, code, signal } => {
                self.output.flush_task(task);
                self.exits.insert(task, (node.to_string(), code, signal));
                if self.request.kill_on_bad_exit && (code != 0 || signal != 0) && !self.killed {
                    self.killed = true;
                    self.signal_all(libc::SIGKILL as u8);
                }
            }
            Frame::Hello(_) | Frame::Signal { .. } => {}
        }
    }

    fn signal_all(&self, signal: u8) {
        let connections = self.connections.lock().unwrap_or_else(|p| p.into_inner());
        for stream in connections.values() {
            let mut stream = stream;
            let _ = Frame::Signal { signal }.write_to(&mut stream);
        }
    }

    /// Waits (bounded) until the cluster has recorded the step's end.
    fn wait_recorded(&self, runtime: &tokio::runtime::Runtime, client: &Client) {
        let deadline = Instant::now() + Duration::from_millis(STEP_END_WAIT_MS);
        while Instant::now() < deadline {
            match self.step_in_state(runtime, client) {
                Some(Some(step)) if step.end_time_ms.is_none() => {}
                // Ended, or gone with its job: nothing to wait for.
                Some(_) => return,
                // No answer: try again.
                None => {}
            }
            std::thread::sleep(Duration::from_millis(STEP_END_POLL_MS));
        }
    }

    /// The step as the leader has it: `None` when no answer came,
    /// `Some(None)` when the job or the step is not known.
    fn step_in_state(
        &self,
        runtime: &tokio::runtime::Runtime,
        client: &Client,
    ) -> Option<Option<wire::Step>> {
        let query = wire::GetJobsRequest {
            job_ids: vec![self.request.job_id],
            ..Default::default()
        };
        let reply = runtime.block_on(async {
            tokio::time::timeout(
                Duration::from_millis(STATE_POLL_MS * 2),
                client.call(query, |mut c, r| async move { c.get_jobs(r).await }),
            )
            .await
        });
        let reply = reply.ok()?.ok()?;
        Some(
            reply
                .jobs
                .into_iter()
                .find(|job| job.id == self.request.job_id)
                .and_then(|job| job.steps.into_iter().find(|step| step.id == self.step_id)),
        )
    }

    /// The step's parts the replicated state says ended, with their exit;
    /// all of them when the step or its job ended.
    fn ended_parts(
        &self,
        runtime: &tokio::runtime::Runtime,
        client: &Client,
    ) -> Vec<(String, u8, u8)> {
        let step = match self.step_in_state(runtime, client) {
            None => return Vec::new(),
            Some(None) => {
                return self
                    .nodes
                    .keys()
                    .map(|node| (node.clone(), 0, libc::SIGKILL as u8))
                    .collect()
            }
            Some(Some(step)) => step,
        };
        let step_over = step.end_time_ms.is_some();
        step.nodes
            .into_iter()
            .filter(|part| part.ended || step_over)
            .map(|part| {
                let (code, signal) = if part.ended {
                    (part.exit_code as u8, part.exit_signal as u8)
                } else {
                    (0, libc::SIGKILL as u8)
                };
                (part.node, code, signal)
            })
            .collect()
    }

    /// A node whose part ended without telling srun: its tasks that have
    /// no exit take the part's.
    fn give_up_on(&mut self, node: &str, code: u8, signal: u8) {
        let Some((first, count)) = self.nodes.get(node).copied() else {
            return;
        };
        let mut missing = false;
        for task in first..first + count {
            if let std::collections::btree_map::Entry::Vacant(entry) = self.exits.entry(task) {
                missing = true;
                entry.insert((node.to_string(), code, signal));
            }
        }
        if missing {
            eprintln!(
                "{COMMAND}: error: {node}: the tasks of StepId={}.{} ended without reporting to srun",
                self.request.job_id, self.step_id
            );
        }
    }

    fn finish(&mut self) -> u8 {
        let _ = std::io::stdout().flush();
        let exits: Vec<(String, u32, u8, u8)> = self
            .exits
            .iter()
            .map(|(task, (node, code, signal))| (node.clone(), *task, *code, *signal))
            .collect();
        for line in srun::task_exit_lines(&exits) {
            eprintln!("{line}");
        }
        let statuses: Vec<(u8, u8)> = exits.iter().map(|(_, _, c, s)| (*c, *s)).collect();
        srun::exit_code(&statuses)
    }
}

/// The tasks' output on srun's own stdout and stderr: a line at a time
/// per task (so lines of tasks never mix), prefixed with the task number
/// under `-l`; as it comes under `-u`.
struct Output {
    label: bool,
    unbuffered: bool,
    ntasks: u32,
    /// Partial lines per (task, stderr).
    pending: HashMap<(u32, bool), Vec<u8>>,
}

impl Output {
    fn new(label: bool, unbuffered: bool, ntasks: u32) -> Output {
        Output {
            label,
            unbuffered,
            ntasks,
            pending: HashMap::new(),
        }
    }

    fn emit(&self, task: u32, is_stderr: bool, bytes: &[u8]) {
        let mut text = Vec::with_capacity(bytes.len() + 8);
        if self.label {
            text.extend_from_slice(srun::label_prefix(task, self.ntasks).as_bytes());
        }
        text.extend_from_slice(bytes);
        if is_stderr {
            let _ = std::io::stderr().write_all(&text);
        } else {
            let mut stdout = std::io::stdout();
            let _ = stdout.write_all(&text);
            let _ = stdout.flush();
        }
    }

    fn write(&mut self, task: u32, is_stderr: bool, data: &[u8]) {
        if self.unbuffered && !self.label {
            self.emit(task, is_stderr, data);
            return;
        }
        let mut buffer = self.pending.remove(&(task, is_stderr)).unwrap_or_default();
        buffer.extend_from_slice(data);
        let mut start = 0;
        while let Some(offset) = buffer[start..].iter().position(|b| *b == b'\n') {
            let end = start + offset + 1;
            self.emit(task, is_stderr, &buffer[start..end]);
            start = end;
        }
        buffer.drain(..start);
        if !buffer.is_empty() {
            if self.unbuffered {
                self.emit(task, is_stderr, &buffer);
            } else {
                self.pending.insert((task, is_stderr), buffer);
            }
        }
    }

    fn flush_task(&mut self, task: u32) {
        for is_stderr in [false, true] {
            if let Some(rest) = self.pending.remove(&(task, is_stderr)) {
                self.emit(task, is_stderr, &rest);
            }
        }
    }

    fn flush_node(&mut self, nodes: &BTreeMap<String, (u32, u32)>, node: &str) {
        if let Some((first, count)) = nodes.get(node).copied() {
            for task in first..first + count {
                self.flush_task(task);
            }
        }
    }

    fn flush_all(&mut self) {
        let tasks: Vec<u32> = self.pending.keys().map(|(task, _)| *task).collect();
        for task in tasks {
            self.flush_task(task);
        }
    }
}
