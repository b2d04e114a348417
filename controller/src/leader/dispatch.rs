//! Between the state and the agents: launches for running jobs and
//! cancellations for cancelled ones are sent (and sent again until the
//! agent confirms or the job moves on); job ends reported by agents are
//! proposed as `JobFinished` and acknowledged once committed.
//!
//! Everything here is rebuilt from the state and from what agents report
//! when they attach: a new leader sends a launch again, and the agent's
//! journal makes sure the script still starts only once.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use corral_proto as wire;
use corral_state::{
    AllocationId, ClusterState, Command, ExitStatus, FinishCause, Job, JobId, JobState,
    NodeAvailability, NodeResources, Outcome, Rejection,
};
use tokio::sync::Semaphore;

use super::limits::LimitDispatch;
use super::steps::{self, StepDispatch};
use super::Duties;
use crate::gateway::AgentEvent;

/// A launch or cancellation not confirmed is sent again after this long.
pub const RESEND_MS: u64 = 3_000;
/// Dispatch passes are at least this far apart.
pub const DISPATCH_INTERVAL_MIN_MS: u64 = 20;
/// Job ends being proposed at once.
pub const ENDS_IN_FLIGHT_MAX: usize = 256;
/// Node registrations being proposed at once. Many agents attach together
/// (every node after a failover, a whole rack at boot); proposed one after
/// another inside the duties loop, each waiting for its commit, 1,000 nodes
/// took minutes to come up and the heartbeats queued behind them made the
/// leader set nodes down (`corral bench agents`).
pub const REGISTRATIONS_IN_FLIGHT_MAX: usize = 256;
/// Pause before a registration that did not commit is proposed again.
pub const REGISTRATION_RETRY_MS: u64 = 500;

#[derive(Clone, Copy, PartialEq, Eq, Hash)]
enum Kind {
    Launch,
    Cancel,
}

type Key = (JobId, AllocationId);

pub(super) struct Dispatcher {
    duties: Duties,
    /// Launches an agent has confirmed recording: never sent again.
    recorded: HashSet<Key>,
    sent: HashMap<(Key, Kind), Instant>,
    dirty: bool,
    last_dispatch: Option<Instant>,
    ends_in_flight: Arc<Semaphore>,
    registrations_in_flight: Arc<Semaphore>,
    steps: StepDispatch,
    limits: LimitDispatch,
}

impl Dispatcher {
    pub fn new(duties: Duties) -> Dispatcher {
        Dispatcher {
            duties,
            recorded: HashSet::new(),
            sent: HashMap::new(),
            dirty: true,
            last_dispatch: None,
            ends_in_flight: Arc::new(Semaphore::new(ENDS_IN_FLIGHT_MAX)),
            registrations_in_flight: Arc::new(Semaphore::new(REGISTRATIONS_IN_FLIGHT_MAX)),
            steps: StepDispatch::default(),
            limits: LimitDispatch::default(),
        }
    }

    pub fn state_changed(&mut self) {
        self.dirty = true;
    }

    pub fn started(&mut self, _started: Vec<(JobId, AllocationId)>) {
        self.dirty = true;
        self.last_dispatch = None;
    }

    pub async fn handle(&mut self, event: AgentEvent) {
        match event {
            AgentEvent::Attached {
                node,
                resources,
                running,
                running_steps,
                ..
            } => {
                self.register_if_needed(&node, resources).await;
                self.end_orphans(&node, &running);
                self.steps.attached(&node, &running_steps);
                self.recorded.extend(running);
                self.dirty = true;
                self.last_dispatch = None;
            }
            AgentEvent::Launched {
                job_id,
                allocation_id,
                ..
            } => {
                self.recorded.insert((job_id, allocation_id));
            }
            AgentEvent::Ended {
                node,
                job_id,
                allocation_id,
                exit_status,
                cause,
                message,
            } => {
                if !message.is_empty() {
                    tracing::warn!(%node, job = job_id, "job could not start: {message}");
                }
                self.recorded.remove(&(job_id, allocation_id));
                self.propose_end(node, job_id, allocation_id, exit_status, cause)
                    .await;
            }
            AgentEvent::StepLaunched { node, step } => self.steps.launched(node, step),
            AgentEvent::StepEnded {
                node,
                step,
                exit_status,
                cause,
                message,
            } => steps::propose_end(&self.duties, node, step, exit_status, cause, message),
            AgentEvent::TimeLimitSet {
                job_id,
                allocation_id,
                version,
                ..
            } => self.limits.confirmed((job_id, allocation_id), version),
            AgentEvent::Detached { .. } => {}
        }
    }

    /// Jobs an attaching agent still runs but the state no longer gives it
    /// (ended while the node was down, requeued elsewhere) are cancelled on
    /// the node; their late ends are stale and change nothing.
    fn end_orphans(&self, node: &str, running: &[Key]) {
        let orphans: Vec<Key> = self.duties.proposer.state().read(|state| {
            running
                .iter()
                .filter(|(job_id, allocation_id)| {
                    !state.job(*job_id).is_some_and(|job| {
                        !job.state.is_terminal()
                            && job
                                .allocation
                                .as_ref()
                                .is_some_and(|a| a.id == *allocation_id)
                    })
                })
                .copied()
                .collect()
        });
        for (job_id, allocation_id) in orphans {
            tracing::warn!(%node, job = job_id, allocation = %allocation_id, "the node runs a job the cluster has ended; cancelling it there");
            let cancel = wire::ControllerMessage {
                body: Some(wire::controller_message::Body::Signal(wire::SignalJob {
                    job_id,
                    allocation_id: allocation_id.0,
                    cancel: true,
                    signal: 0,
                    ..Default::default()
                })),
            };
            self.duties.hub.send(node, cancel);
        }
    }

    /// A node attaching is up; a node the file does not declare takes the
    /// resources its agent reports. A registration that does not commit
    /// (its leader changed under it, or the commit timed out) is tried
    /// again for as long as the node stays attached here and is not up: an
    /// attached node sends no second hello, so nothing else would.
    async fn register_if_needed(&self, node: &str, resources: NodeResources) {
        if !registration_needed(&self.duties, node, &resources) {
            return;
        }
        // Proposed without holding up the duties loop (heartbeats and other
        // agents' events keep flowing); concurrent proposals commit together.
        let Ok(permit) = self.registrations_in_flight.clone().acquire_owned().await else {
            return;
        };
        let duties = self.duties.clone();
        let node = node.to_string();
        tokio::spawn(async move {
            let _permit = permit;
            loop {
                let result = duties
                    .proposer
                    .propose(|now_ms| Command::RegisterNode {
                        name: node.clone(),
                        resources: resources.clone(),
                        now_ms,
                    })
                    .await;
                match result {
                    Ok(Outcome::Done) => {
                        tracing::info!(%node, "node registered");
                        return;
                    }
                    Ok(other) => {
                        tracing::warn!(%node, ?other, "node registration refused");
                        return;
                    }
                    Err(status) => tracing::warn!(
                        %node,
                        "node registration not committed: {}; trying again while it stays attached",
                        status.message()
                    ),
                }
                tokio::time::sleep(Duration::from_millis(REGISTRATION_RETRY_MS)).await;
                if !duties.hub.is_attached(&node)
                    || !registration_needed(&duties, &node, &resources)
                {
                    return;
                }
            }
        });
    }

    /// Proposes a job's end without holding up the duties loop, and tells
    /// the agent once it is committed (or known already).
    async fn propose_end(
        &self,
        node: String,
        job_id: JobId,
        allocation_id: AllocationId,
        exit_status: ExitStatus,
        cause: FinishCause,
    ) {
        let Ok(permit) = self.ends_in_flight.clone().acquire_owned().await else {
            return;
        };
        let duties = self.duties.clone();
        tokio::spawn(async move {
            let _permit = permit;
            let result = duties
                .proposer
                .propose(|now_ms| Command::JobFinished {
                    job_id,
                    allocation_id,
                    exit_status,
                    cause,
                    now_ms,
                })
                .await;
            let recorded = match result {
                Ok(Outcome::Done) => true,
                Ok(Outcome::Rejected(Rejection::StaleAllocation(_))) => true,
                Ok(Outcome::Rejected(Rejection::InvalidJobId(_))) => {
                    tracing::warn!(%node, job = job_id, allocation = %allocation_id, "agent reported the end of a job it was never given; ignored");
                    true
                }
                Ok(other) => {
                    tracing::warn!(%node, job = job_id, ?other, "job end refused");
                    true
                }
                Err(_) => false,
            };
            if recorded {
                let acknowledgement = wire::ControllerMessage {
                    body: Some(wire::controller_message::Body::EndRecorded(
                        wire::JobAllocationRef {
                            job_id,
                            allocation_id: allocation_id.0,
                        },
                    )),
                };
                duties.hub.send(&node, acknowledgement);
            }
        });
    }

    /// Sends every launch and cancellation that is due.
    pub fn dispatch_if_due(&mut self) {
        let due = match self.last_dispatch {
            None => true,
            Some(at) if self.dirty => {
                at.elapsed() >= Duration::from_millis(DISPATCH_INTERVAL_MIN_MS)
            }
            Some(at) => at.elapsed() >= Duration::from_millis(RESEND_MS),
        };
        if !due {
            return;
        }
        self.dirty = false;
        self.last_dispatch = Some(Instant::now());
        let attached: HashSet<String> = self.duties.hub.attached_nodes().into_iter().collect();
        if attached.is_empty() {
            return;
        }
        let cluster_name = self.duties.config.file.cluster_name.clone();
        let recorded = &self.recorded;
        let (candidates, active) = self.duties.proposer.state().read(|state| {
            let mut candidates = Vec::new();
            let mut active = HashSet::new();
            for job in state.all_jobs() {
                if !matches!(job.state, JobState::Running | JobState::Completing) {
                    continue;
                }
                if let Some(allocation) = &job.allocation {
                    active.insert((job.id, allocation.id));
                }
                candidates.extend(message_for(state, job, &cluster_name, &attached, recorded));
            }
            (candidates, active)
        });
        // Forget what no longer concerns an active job.
        self.recorded.retain(|key| active.contains(key));
        self.sent.retain(|(key, _), _| active.contains(key));
        let now = Instant::now();
        for (node, key, kind, message) in candidates {
            let recently = self
                .sent
                .get(&(key, kind))
                .is_some_and(|at| now.duration_since(*at) < Duration::from_millis(RESEND_MS));
            if recently {
                continue;
            }
            if self.duties.hub.send(&node, message) {
                self.sent.insert((key, kind), now);
            }
        }
        self.steps.dispatch(&self.duties, &attached);
        self.limits
            .dispatch(&self.duties, &attached, &self.recorded);
    }
}

/// What the batch node of an active job should be told, if anything.
fn message_for(
    state: &ClusterState,
    job: &Job,
    cluster_name: &str,
    attached: &HashSet<String>,
    recorded: &HashSet<Key>,
) -> Option<(String, Key, Kind, wire::ControllerMessage)> {
    let allocation = job.allocation.as_ref()?;
    let batch_node = &allocation.shares.first()?.node;
    if !attached.contains(batch_node) {
        return None;
    }
    let key = (job.id, allocation.id);
    // A cancelled job, or one `scontrol requeue` is ending, is killed alike.
    let ending = job.cancelled_by_uid.is_some() || state.requeue_requested(job.id).is_some();
    let (kind, body) = match job.state {
        JobState::Completing if ending => (
            Kind::Cancel,
            wire::controller_message::Body::Signal(wire::SignalJob {
                job_id: job.id,
                allocation_id: allocation.id.0,
                cancel: true,
                signal: 0,
                ..Default::default()
            }),
        ),
        JobState::Running if !recorded.contains(&key) => (
            Kind::Launch,
            wire::controller_message::Body::Launch(launch_message(
                state,
                job,
                batch_node,
                cluster_name,
            )),
        ),
        _ => return None,
    };
    Some((
        batch_node.clone(),
        key,
        kind,
        wire::ControllerMessage { body: Some(body) },
    ))
}

pub(super) fn launch_message(
    state: &ClusterState,
    job: &Job,
    node: &str,
    cluster_name: &str,
) -> wire::LaunchJob {
    let allocation = job
        .allocation
        .as_ref()
        .expect("active jobs hold an allocation");
    let share = allocation
        .share_on(node)
        .expect("the node is in the allocation");
    let partition_limit = state
        .partition(&job.partition)
        .and_then(|p| p.max_time_minutes);
    let spec = &job.spec;
    wire::LaunchJob {
        job_id: job.id,
        allocation_id: allocation.id.0,
        job_name: spec.name.clone(),
        partition: job.partition.clone(),
        cluster_name: cluster_name.to_string(),
        user: job.user.clone(),
        uid: job.uid,
        gid: job.gid,
        work_dir: spec.work_dir.clone(),
        script: spec.script.clone(),
        arguments: spec.arguments.clone(),
        environment: spec
            .environment
            .iter()
            .map(|(name, value)| wire::EnvironmentVariable {
                name: name.clone(),
                value: value.clone(),
            })
            .collect(),
        stdout_pattern: spec.stdout_pattern.clone(),
        stderr_pattern: spec.stderr_pattern.clone(),
        stdin_path: spec.stdin_path.clone(),
        submit_host: spec.submit_host.clone(),
        nodes: allocation.node_names(),
        ntasks: spec.ntasks,
        cpus_per_task: spec.cpus_per_task,
        cpus_on_node: share.cpus,
        memory_per_node_mb: spec.memory_per_node_mb,
        gpus: share.gpus.clone(),
        time_limit_minutes: job.time_limit_minutes(partition_limit),
        cpus_per_node: allocation.shares.iter().map(|s| s.cpus).collect(),
        requeue_count: job.requeue_count,
        account: spec.account.clone(),
        qos: spec.qos.clone(),
        array: job
            .array
            .zip(spec.array.as_ref())
            .map(|(task, array)| wire::LaunchArrayTask {
                array_job_id: task.array_job_id,
                task_id: task.task_id,
                task_count: array.indices.len() as u32,
                task_min: array.indices.first().copied().unwrap_or(task.task_id),
                task_max: array.indices.last().copied().unwrap_or(task.task_id),
                task_step: array.step(),
            }),
        append_output: spec.open_mode == Some(corral_state::OpenMode::Append),
        signal_number: spec.signal.map(|signal| u32::from(signal.number)),
        signal_seconds_before_limit: spec
            .signal
            .map_or(0, |signal| u32::from(signal.seconds_before_limit)),
        signal_batch_only: spec.signal.is_some_and(|signal| signal.batch_only),
    }
}

/// Whether `node` must be (re)registered: unknown, not up, or undeclared
/// and reporting other resources than recorded.
fn registration_needed(duties: &Duties, node: &str, resources: &NodeResources) -> bool {
    duties
        .proposer
        .state()
        .read(|state| match state.node(node) {
            None => true,
            Some(known) => {
                known.availability != NodeAvailability::Up
                    || (!known.declared && known.resources != *resources)
            }
        })
}
