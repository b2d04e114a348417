//! Job steps between the state and the agents: each node's part of a
//! running step is sent to the node (and sent again until the agent says
//! it recorded it), and each part's end is proposed as `StepFinished` and
//! acknowledged once committed.
//!
//! As for batch scripts, everything here is rebuilt from the state and
//! from what agents say when they attach; the agent's journal makes sure a
//! part starts at most once.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use corral_proto as wire;
use corral_state::{ClusterState, Command, ExitStatus, FinishCause, Job, JobState, Outcome};

use super::dispatch::{launch_message, RESEND_MS};
use super::Duties;
use crate::gateway::{step_ref, StepKey};

/// A node's part of a step.
type PartKey = (StepKey, String);

#[derive(Default)]
pub(super) struct StepDispatch {
    /// Parts an agent confirmed recording: never sent again.
    recorded: HashSet<PartKey>,
    sent: HashMap<PartKey, Instant>,
}

impl StepDispatch {
    pub fn attached(&mut self, node: &str, running: &[StepKey]) {
        self.recorded
            .extend(running.iter().map(|step| (*step, node.to_string())));
    }

    pub fn launched(&mut self, node: String, step: StepKey) {
        self.recorded.insert((step, node));
    }

    /// Sends every part that is due, given the nodes attached now.
    pub fn dispatch(&mut self, duties: &Duties, attached: &HashSet<String>) {
        let cluster_name = duties.config.file.cluster_name.clone();
        let recorded = &self.recorded;
        let (launches, running) = duties.proposer.state().read(|state| {
            let mut launches = Vec::new();
            let mut running = HashSet::new();
            for job in state.all_jobs() {
                if job.state != JobState::Running || job.steps.is_empty() {
                    continue;
                }
                for step in job.steps.iter().filter(|s| s.state == JobState::Running) {
                    for part in step.nodes.iter().filter(|part| part.end.is_none()) {
                        let key = ((job.id, step.allocation_id, step.id), part.node.clone());
                        running.insert(key.clone());
                        if attached.contains(&part.node) && !recorded.contains(&key) {
                            let message =
                                launch_step_message(state, job, step.id, &part.node, &cluster_name);
                            launches.push((key, message));
                        }
                    }
                }
            }
            (launches, running)
        });
        self.recorded.retain(|key| running.contains(key));
        self.sent.retain(|key, _| running.contains(key));
        let now = Instant::now();
        for (key, message) in launches {
            let Some(message) = message else { continue };
            let recently = self
                .sent
                .get(&key)
                .is_some_and(|at| now.duration_since(*at) < Duration::from_millis(RESEND_MS));
            if recently {
                continue;
            }
            let message = wire::ControllerMessage {
                body: Some(wire::controller_message::Body::LaunchStep(message)),
            };
            if duties.hub.send(&key.1, message) {
                self.sent.insert(key, now);
            }
        }
    }
}

/// Proposes a node's part end without holding up the duties loop, and
/// tells the agent once it is committed (or known already).
pub(super) fn propose_end(
    duties: &Duties,
    node: String,
    step: StepKey,
    exit_status: ExitStatus,
    cause: FinishCause,
    message: String,
) {
    if !message.is_empty() {
        tracing::warn!(%node, job = step.0, step = step.2, "step could not start: {message}");
    }
    let duties = duties.clone();
    tokio::spawn(async move {
        let (job_id, allocation_id, step_id) = step;
        let result = duties
            .proposer
            .propose(|now_ms| Command::StepFinished {
                job_id,
                allocation_id,
                step_id,
                node: node.clone(),
                exit_status,
                cause,
                now_ms,
            })
            .await;
        match result {
            Ok(Outcome::Done) => {}
            Ok(other) => {
                tracing::info!(%node, job = job_id, step = step_id, ?other, "step end changed nothing (a duplicate, or its job ended)")
            }
            // Not committed: the agent reports it again.
            Err(_) => return,
        }
        let acknowledgement = wire::ControllerMessage {
            body: Some(wire::controller_message::Body::StepEndRecorded(step_ref(
                step,
            ))),
        };
        duties.hub.send(&node, acknowledgement);
    });
}

/// What `node` needs to run its part of step `step_id` of `job`.
fn launch_step_message(
    state: &ClusterState,
    job: &Job,
    step_id: u32,
    node: &str,
    cluster_name: &str,
) -> Option<wire::LaunchStep> {
    let step = job.steps.iter().find(|s| s.id == step_id)?;
    job.allocation.as_ref()?.share_on(node)?;
    let mut context = launch_message(state, job, node, cluster_name);
    context.script.clear();
    context.environment.clear();
    Some(wire::LaunchStep {
        job: Some(context),
        step_id,
        spec: Some(wire::StepSpec::from(step.spec.as_ref())),
        nodes: wire::step_nodes_to_wire(&step.nodes),
        job_start_time_ms: job.start_time_ms.unwrap_or(step.start_time_ms),
    })
}
