//! `scancel --signal`: which agents get which signal. Not replicated: the
//! leader checks the caller against its state and sends the signal to the
//! agents of the job's nodes, as Slurm's controller does; a signal to a
//! node that is not attached is lost, like one to a node that is down.
//!
//! What is signalled follows `scancel(1)`: by default the job's steps
//! (each node's part: the task launcher's process group, so every task),
//! or, for a job with no step running, its batch shell; `-b` the batch
//! shell alone; `-f` the batch shell with its children and every step.

use std::collections::BTreeMap;

use corral_proto as wire;
use corral_state::{Actor, ClusterState, Job, JobId, JobState, Rejection};

/// The highest signal number Linux has (`SIGRTMAX`).
pub const SIGNAL_MAX: u32 = 64;

use wire::signal_job::Batch;
use wire::signal_request::Scope;

/// The messages to send, by node; or why the signal is refused. An array's
/// id signals each of its running tasks.
pub fn plan(
    state: &ClusterState,
    actor: &Actor,
    job_id: JobId,
    signal: u32,
    scope: Scope,
) -> Result<Vec<(String, wire::ControllerMessage)>, Rejection> {
    let jobs: Vec<&Job> = match state.job(job_id) {
        Some(job) => vec![job],
        None => state.tasks_of_array(job_id).collect(),
    };
    let mut deliveries = Vec::new();
    let mut first_refusal = None;
    for job in &jobs {
        match plan_one(job, actor, signal, scope) {
            Ok(messages) => deliveries.extend(messages),
            Err(rejection) => {
                first_refusal.get_or_insert(rejection);
            }
        }
    }
    match (deliveries.is_empty(), first_refusal) {
        (true, Some(rejection)) => Err(rejection),
        (true, None) if jobs.is_empty() => Err(Rejection::InvalidJobId(job_id)),
        _ => Ok(deliveries),
    }
}

fn plan_one(
    job: &Job,
    actor: &Actor,
    signal: u32,
    scope: Scope,
) -> Result<Vec<(String, wire::ControllerMessage)>, Rejection> {
    if !actor.may_modify_job_of(&job.user) {
        return Err(Rejection::AccessDenied);
    }
    match job.state {
        JobState::Running => {}
        // Slurm: a pending job cannot be sent a signal other than KILL.
        JobState::Pending => return Err(Rejection::TransitionState(job.id)),
        _ => return Err(Rejection::AlreadyDone(job.id)),
    }
    let allocation = job.allocation.as_ref().expect("a running job holds one");
    let batch_node = allocation
        .shares
        .first()
        .map(|share| share.node.clone())
        .unwrap_or_default();
    // Nodes with a part of a running step.
    let mut step_nodes: Vec<String> = job
        .steps
        .iter()
        .filter(|step| step.state == JobState::Running && step.allocation_id == allocation.id)
        .flat_map(|step| step.nodes.iter().filter(|part| part.end.is_none()))
        .map(|part| part.node.clone())
        .collect();
    step_nodes.sort();
    step_nodes.dedup();
    // Per node: what of the batch script, and whether its step parts.
    let mut targets: BTreeMap<String, (Batch, bool)> = BTreeMap::new();
    match scope {
        Scope::Steps if step_nodes.is_empty() => {
            targets.insert(batch_node, (Batch::Shell, false));
        }
        Scope::Steps => {
            for node in step_nodes {
                targets.insert(node, (Batch::None, true));
            }
        }
        Scope::Batch => {
            targets.insert(batch_node, (Batch::Shell, false));
        }
        Scope::Full => {
            for node in step_nodes {
                targets.insert(node, (Batch::None, true));
            }
            targets.insert(batch_node, (Batch::Group, true));
        }
    }
    Ok(targets
        .into_iter()
        .map(|(node, (batch, steps))| {
            let message = wire::ControllerMessage {
                body: Some(wire::controller_message::Body::Signal(wire::SignalJob {
                    job_id: job.id,
                    allocation_id: allocation.id.0,
                    cancel: false,
                    signal,
                    batch: batch as i32,
                    steps,
                })),
            };
            (node, message)
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use corral_state::{
        Command, JobSpec, NodeDefinition, NodeResources, NodeShare, Outcome, Partition,
        PartitionState, PlannedAllocation, RequestId, StepSpec,
    };

    fn alice() -> Actor {
        Actor {
            user: "alice".into(),
            uid: 1000,
            gid: 1000,
            admin: false,
        }
    }

    /// A two-node job of alice's, running; `with_step`: a step on both nodes.
    fn running_job(with_step: bool) -> (ClusterState, JobId) {
        let mut state = ClusterState::default();
        let resources = NodeResources {
            cpus: 2,
            memory_mb: 100,
            gpus: Vec::new(),
        };
        let commands = vec![
            Command::SetPartitions {
                partitions: vec![Partition {
                    name: "debug".into(),
                    nodes: "n[1-2]".into(),
                    default: true,
                    max_time_minutes: None,
                    state: PartitionState::Up,
                }],
                now_ms: 0,
            },
            Command::SetNodes {
                nodes: ["n1", "n2"]
                    .iter()
                    .map(|name| NodeDefinition {
                        name: name.to_string(),
                        resources: resources.clone(),
                    })
                    .collect(),
                now_ms: 0,
            },
            Command::RegisterNode {
                name: "n1".into(),
                resources: resources.clone(),
                now_ms: 0,
            },
            Command::RegisterNode {
                name: "n2".into(),
                resources,
                now_ms: 0,
            },
            Command::SubmitJob {
                request_id: RequestId("r".into()),
                actor: alice(),
                spec: Box::new(JobSpec {
                    nodes: 2,
                    ntasks: 2,
                    ..JobSpec::default()
                }),
                now_ms: 1,
            },
        ];
        for command in &commands {
            state.apply(command);
        }
        let job_id = 1;
        let share = |node: &str| NodeShare {
            node: node.into(),
            cpus: 1,
            memory_mb: 0,
            gpus: Vec::new(),
        };
        state.apply(&Command::ApplyPlan {
            allocations: vec![PlannedAllocation {
                job_id,
                shares: vec![share("n1"), share("n2")],
            }],
            reasons: Vec::new(),
            now_ms: 2,
        });
        if with_step {
            let outcome = state.apply(&Command::StartStep {
                job_id,
                request_id: RequestId("s".into()),
                actor: alice(),
                spec: Box::new(StepSpec {
                    ntasks: 2,
                    cpus_per_task: 1,
                    ..StepSpec::default()
                }),
                now_ms: 3,
            });
            assert!(
                matches!(outcome, Outcome::StepStarted { .. }),
                "{outcome:?}"
            );
        }
        (state, job_id)
    }

    /// (node, batch, steps) of each message.
    fn targets(plan: Vec<(String, wire::ControllerMessage)>) -> Vec<(String, Batch, bool)> {
        plan.into_iter()
            .map(|(node, message)| match message.body {
                Some(wire::controller_message::Body::Signal(signal)) => {
                    assert_eq!(signal.signal, 10);
                    assert!(!signal.cancel);
                    (node, Batch::try_from(signal.batch).unwrap(), signal.steps)
                }
                other => panic!("{other:?}"),
            })
            .collect()
    }

    #[test]
    fn steps_by_default_else_the_batch_shell() {
        let (state, job) = running_job(false);
        let shell = plan(&state, &alice(), job, 10, Scope::Steps).unwrap();
        assert_eq!(targets(shell), [("n1".to_string(), Batch::Shell, false)]);
        let (state, job) = running_job(true);
        let steps = plan(&state, &alice(), job, 10, Scope::Steps).unwrap();
        assert_eq!(
            targets(steps),
            [
                ("n1".to_string(), Batch::None, true),
                ("n2".to_string(), Batch::None, true)
            ]
        );
    }

    #[test]
    fn batch_and_full() {
        let (state, job) = running_job(true);
        let batch = plan(&state, &alice(), job, 10, Scope::Batch).unwrap();
        assert_eq!(targets(batch), [("n1".to_string(), Batch::Shell, false)]);
        let full = plan(&state, &alice(), job, 10, Scope::Full).unwrap();
        assert_eq!(
            targets(full),
            [
                ("n1".to_string(), Batch::Group, true),
                ("n2".to_string(), Batch::None, true)
            ]
        );
    }

    #[test]
    fn refusals() {
        let (state, job) = running_job(false);
        let mallory = Actor {
            user: "mallory".into(),
            uid: 666,
            gid: 666,
            admin: false,
        };
        assert_eq!(
            plan(&state, &mallory, job, 10, Scope::Steps).unwrap_err(),
            Rejection::AccessDenied
        );
        assert_eq!(
            plan(&state, &alice(), 77, 10, Scope::Steps).unwrap_err(),
            Rejection::InvalidJobId(77)
        );
        assert!(plan(&state, &Actor::root(), job, 10, Scope::Steps).is_ok());
    }
}
