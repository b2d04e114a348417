//! Property tests over random command sequences: job ids are unique and
//! increasing, a repeated request id creates one job, and `invariants()` hold
//! after every `apply`.

use std::collections::BTreeMap;

use corral_state::{
    Actor, AllocationId, ClusterState, Command, ExitStatus, FinishCause, Gpu, JobId, JobSpec,
    JobState, NodeChange, NodeResources, NodeShare, Outcome, Partition, PartitionState,
    PlannedAllocation, Rejection, RequestId, User, REQUEST_ID_WINDOW_MS,
};
use proptest::prelude::*;

fn actor(n: u8) -> Actor {
    match n % 3 {
        0 => Actor::root(),
        1 => Actor {
            user: "alice".into(),
            uid: 1000,
            gid: 1000,
            admin: false,
        },
        _ => Actor {
            user: "bob".into(),
            uid: 1001,
            gid: 1001,
            admin: false,
        },
    }
}

fn partitions() -> Vec<Partition> {
    ["debug", "gpu"]
        .iter()
        .enumerate()
        .map(|(i, name)| Partition {
            name: name.to_string(),
            nodes: if i == 0 {
                "n[1-4]".to_string()
            } else {
                "n[3-4]".to_string()
            },
            default: i == 0,
            max_time_minutes: None,
            state: PartitionState::Up,
        })
        .collect()
}

/// One step of a random history, before time is stamped on it.
#[derive(Clone, Debug)]
enum Step {
    Submit {
        request: u8,
        actor: u8,
        partition: u8,
        hold: bool,
    },
    Cancel {
        job: u8,
        actor: u8,
    },
    Hold {
        job: u8,
        actor: u8,
    },
    Release {
        job: u8,
        actor: u8,
    },
    AddUser {
        name: u8,
        token: u8,
    },
    Register {
        node: u8,
    },
    /// Place a pending job where it fits now (or, when `overbook`, ask for
    /// more than the node has left, which `apply` must refuse).
    Plan {
        job: u8,
        overbook: bool,
    },
    Finish {
        job: u8,
        cause: u8,
        code: u8,
        stale: bool,
    },
    NodeDown {
        node: u8,
    },
    UpdateNode {
        node: u8,
        change: u8,
    },
    Purge,
    /// `srun` in a job: `request` repeats now and then (a retry).
    Srun {
        job: u8,
        actor: u8,
        request: u8,
        ntasks: u8,
    },
    /// The accounting pump acknowledges up to a point (maybe a stale one).
    AccountingAck {
        back: u8,
    },
    /// A node reports its part of a step (maybe a part that does not exist).
    PartEnd {
        job: u8,
        step: u8,
        node: u8,
        code: u8,
    },
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        6 => (0u8..40, any::<u8>(), 0u8..4, any::<bool>()).prop_map(|(request, actor, partition, hold)| Step::Submit { request, actor, partition, hold }),
        2 => (any::<u8>(), any::<u8>()).prop_map(|(job, actor)| Step::Cancel { job, actor }),
        1 => (any::<u8>(), any::<u8>()).prop_map(|(job, actor)| Step::Hold { job, actor }),
        1 => (any::<u8>(), any::<u8>()).prop_map(|(job, actor)| Step::Release { job, actor }),
        1 => (0u8..4, 0u8..6).prop_map(|(name, token)| Step::AddUser { name, token }),
        2 => (0u8..5).prop_map(|node| Step::Register { node }),
        6 => (any::<u8>(), prop::bool::weighted(0.2)).prop_map(|(job, overbook)| Step::Plan { job, overbook }),
        4 => (any::<u8>(), 0u8..4, 0u8..3, prop::bool::weighted(0.2)).prop_map(|(job, cause, code, stale)| Step::Finish { job, cause, code, stale }),
        1 => (0u8..5).prop_map(|node| Step::NodeDown { node }),
        1 => (0u8..5, 0u8..3).prop_map(|(node, change)| Step::UpdateNode { node, change }),
        1 => Just(Step::Purge),
        3 => (any::<u8>(), any::<u8>(), 0u8..6, 0u8..10).prop_map(|(job, actor, request, ntasks)| Step::Srun { job, actor, request, ntasks }),
        2 => (0u8..8).prop_map(|back| Step::AccountingAck { back }),
        3 => (any::<u8>(), 0u8..4, 0u8..5, 0u8..3).prop_map(|(job, step, node, code)| Step::PartEnd { job, step, node, code }),
    ]
}

/// Time advances by small steps, and now and then by more than the request window.
fn time_step() -> impl Strategy<Value = u64> {
    prop_oneof![
        20 => 0u64..5_000,
        1 => Just(REQUEST_ID_WINDOW_MS + 1),
    ]
}

fn node_name(n: u8) -> String {
    format!("n{}", 1 + n % 5)
}

fn node_resources() -> NodeResources {
    NodeResources {
        cpus: 4,
        memory_mb: 1_000,
        gpus: (0..2)
            .map(|index| Gpu {
                index,
                model: "test".into(),
            })
            .collect(),
    }
}

/// A placement of `job` computed like a scheduler would, on the current
/// state, or `None` when it does not fit anywhere.
fn placement(state: &ClusterState, job_id: JobId, overbook: bool) -> Option<PlannedAllocation> {
    let job = state.job(job_id)?;
    let partition = state.partition(&job.partition)?;
    let spec = &job.spec;
    let mut shares = Vec::new();
    for name in state.partition_nodes(partition) {
        let node = state.node(&name)?;
        let cpus = if overbook {
            node.free_cpus() + 1
        } else {
            spec.cpus_per_node()
        };
        let gpus = node.free_gpus();
        if node.accepts_jobs()
            && (overbook || node.free_cpus() >= cpus)
            && node.free_memory_mb() >= spec.memory_per_node()
            && gpus.len() >= spec.gpus_per_node as usize
        {
            shares.push(NodeShare {
                node: name.clone(),
                cpus,
                memory_mb: spec.memory_per_node(),
                gpus: gpus[..spec.gpus_per_node as usize].to_vec(),
            });
        }
        if shares.len() == spec.nodes as usize {
            return Some(PlannedAllocation { job_id, shares });
        }
    }
    None
}

fn command(step: &Step, now_ms: u64, state: &ClusterState) -> Command {
    let job_id = |n: u8| -> JobId {
        // Mostly existing ids, sometimes one that does not exist.
        let next = state.next_job_id();
        if n.is_multiple_of(10) {
            next + u32::from(n)
        } else {
            1 + u32::from(n) % next.max(1)
        }
    };
    match step {
        Step::Submit {
            request,
            actor: a,
            partition,
            hold,
        } => Command::SubmitJob {
            request_id: RequestId(format!("req-{request}")),
            actor: actor(*a),
            spec: Box::new(JobSpec {
                nodes: 1 + u32::from(*request % 2),
                ntasks: 1 + u32::from(*request % 3),
                cpus_per_task: 1 + u32::from(*request % 2),
                memory_per_node_mb: (request % 4 == 0).then_some(300),
                gpus_per_node: u32::from(request % 5 == 0),
                requeue: request % 3 == 0,
                partition: match partition {
                    0 => None,
                    1 => Some("debug".into()),
                    2 => Some("gpu".into()),
                    _ => Some("nosuch".into()),
                },
                hold: *hold,
                ..JobSpec::default()
            }),
            now_ms,
        },
        Step::Cancel { job, actor: a } => Command::CancelJob {
            job_id: job_id(*job),
            actor: actor(*a),
            now_ms,
        },
        Step::Hold { job, actor: a } => Command::HoldJob {
            job_id: job_id(*job),
            actor: actor(*a),
            now_ms,
            user_hold: false,
        },
        Step::Release { job, actor: a } => Command::ReleaseJob {
            job_id: job_id(*job),
            actor: actor(*a),
            now_ms,
        },
        Step::AddUser { name, token } => Command::PutUser {
            user: User {
                name: format!("user{name}"),
                uid: 2000 + u32::from(*name),
                gid: 2000,
                admin: false,
                token_sha256: vec![format!("{token:064x}")],
            },
            actor: Actor::root(),
            now_ms,
        },
        Step::Register { node } => Command::RegisterNode {
            name: node_name(*node),
            resources: node_resources(),
            now_ms,
        },
        Step::Plan { job, overbook } => {
            let job_id = job_id(*job);
            Command::ApplyPlan {
                allocations: placement(state, job_id, *overbook).into_iter().collect(),
                reasons: vec![(job_id, corral_state::JobReason::Resources)],
                now_ms,
            }
        }
        Step::Finish {
            job,
            cause,
            code,
            stale,
        } => {
            let job_id = job_id(*job);
            let current = state
                .job(job_id)
                .and_then(|j| j.allocation.as_ref())
                .map_or(AllocationId(0), |a| a.id);
            Command::JobFinished {
                job_id,
                allocation_id: if *stale {
                    AllocationId(current.0 + 1)
                } else {
                    current
                },
                exit_status: ExitStatus {
                    code: *code,
                    signal: 0,
                },
                cause: [
                    FinishCause::Exited,
                    FinishCause::TimeLimit,
                    FinishCause::Cancelled,
                    FinishCause::LaunchFailed,
                ][*cause as usize],
                now_ms,
            }
        }
        Step::NodeDown { node } => Command::NodeDown {
            name: node_name(*node),
            reason: "Not responding".into(),
            now_ms,
        },
        Step::UpdateNode { node, change } => Command::UpdateNode {
            name: node_name(*node),
            change: match change {
                0 => NodeChange::Drain {
                    reason: "maint".into(),
                },
                1 => NodeChange::Resume,
                _ => NodeChange::Down {
                    reason: "broken".into(),
                },
            },
            actor: Actor::root(),
            now_ms,
        },
        Step::Purge => Command::PurgeJobs {
            finished_before_ms: now_ms.saturating_sub(10_000),
            now_ms,
        },
        Step::Srun {
            job,
            actor: a,
            request,
            ntasks,
        } => Command::StartStep {
            job_id: job_id(*job),
            request_id: RequestId(format!("step-{request}")),
            actor: actor(*a),
            spec: Box::new(corral_state::StepSpec {
                ntasks: u32::from(*ntasks),
                cpus_per_task: 1,
                ..Default::default()
            }),
            now_ms,
        },
        Step::AccountingAck { back } => Command::AccountingAck {
            upto: state
                .accounting()
                .last_seq()
                .saturating_sub(u64::from(*back)),
            now_ms,
        },
        Step::PartEnd {
            job,
            step,
            node,
            code,
        } => {
            let job_id = job_id(*job);
            let allocation_id = state
                .job(job_id)
                .and_then(|j| j.steps.iter().find(|s| s.id == u32::from(*step)))
                .map_or(AllocationId(0), |s| s.allocation_id);
            Command::StepFinished {
                job_id,
                allocation_id,
                step_id: u32::from(*step),
                node: node_name(*node),
                exit_status: ExitStatus {
                    code: *code,
                    signal: 0,
                },
                cause: FinishCause::Exited,
                now_ms,
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn random_histories_keep_every_promise(steps in prop::collection::vec((step(), time_step()), 1..200)) {
        let mut state = ClusterState::default();
        let mut replica = ClusterState::default();
        let setup = Command::SetPartitions { partitions: partitions(), now_ms: 0 };
        state.apply(&setup);
        replica.apply(&setup);

        let mut now_ms = 1;
        let mut last_new_id: JobId = 0;
        // request id -> (job id it created, when)
        let mut first_submission: BTreeMap<String, (JobId, u64)> = BTreeMap::new();
        // (job, times requeued) -> state: states move forward within each
        // allocation cycle; a requeue starts a new one.
        let mut previous_states: BTreeMap<(JobId, u32), JobState> = BTreeMap::new();
        let mut last_allocation = AllocationId(0);
        // (job, step request id) -> the step it made.
        let mut steps_made: BTreeMap<(JobId, String), u32> = BTreeMap::new();
        let setup_nodes = Command::SetNodes {
            nodes: (0..4).map(|n| corral_state::NodeDefinition { name: node_name(n), resources: node_resources() }).collect(),
            now_ms: 0,
        };
        state.apply(&setup_nodes);
        replica.apply(&setup_nodes);

        for (step, advance_ms) in &steps {
            now_ms += advance_ms;
            let command = command(step, now_ms, &state);
            let next_before = state.next_job_id();
            let outcome = state.apply(&command);
            prop_assert_eq!(&replica.apply(&command), &outcome, "replicas disagree on {:?}", command);
            prop_assert!(state.invariants().is_ok(), "{:?} after {:?}", state.invariants(), command);

            if let (Command::SubmitJob { request_id, .. }, Outcome::Submitted { job_id, duplicate }) = (&command, &outcome) {
                let remembered = first_submission
                    .get(&request_id.0)
                    .filter(|(_, at)| now_ms - at <= REQUEST_ID_WINDOW_MS)
                    .copied();
                match remembered {
                    Some((first_id, _)) => {
                        prop_assert!(*duplicate, "retry of {} made a new job", request_id);
                        prop_assert_eq!(*job_id, first_id);
                        prop_assert_eq!(state.next_job_id(), next_before);
                    }
                    None => {
                        prop_assert!(!*duplicate);
                        prop_assert_eq!(*job_id, next_before, "ids are handed out in order");
                        prop_assert!(*job_id > last_new_id, "ids only increase");
                        last_new_id = *job_id;
                        first_submission.insert(request_id.0.clone(), (*job_id, now_ms));
                    }
                }
            }
            if let (Command::StartStep { job_id, request_id, .. }, Outcome::StepStarted { step_id, duplicate, .. }) = (&command, &outcome) {
                match steps_made.get(&(*job_id, request_id.0.clone())) {
                    Some(first) => {
                        prop_assert!(*duplicate, "retry of step request {} made a new step", request_id);
                        prop_assert_eq!(step_id, first);
                    }
                    None => {
                        prop_assert!(!*duplicate);
                        steps_made.insert((*job_id, request_id.0.clone()), *step_id);
                    }
                }
            }
            // A finished job's waiting accounting row is the job as it ended.
            for job in state.all_jobs().filter(|job| job.state.is_terminal()) {
                if let Some(entry) = state.accounting().waiting(corral_state::RowKey::Job(job.id)) {
                    let limit = state.partition(&job.partition).and_then(|p| p.max_time_minutes);
                    prop_assert_eq!(&entry.record, &corral_state::AccountingRecord::Job(corral_state::job_record(job, limit)));
                }
            }
            // Each request id within its window owns exactly one job.
            for (request, (job_id, at)) in &first_submission {
                if now_ms - at <= REQUEST_ID_WINDOW_MS {
                    let owners = state.jobs(&Default::default()).filter(|j| &j.request_id.0 == request && j.submit_time_ms >= *at).count();
                    // Exactly one, unless it finished and was purged since.
                    let expected = usize::from(state.job(*job_id).is_some());
                    prop_assert_eq!(owners, expected, "request {} owns {} jobs (first: {})", request, owners, job_id);
                }
            }
            // States only move forward.
            for job in state.jobs(&Default::default()) {
                if let Some(before) = previous_states.insert((job.id, job.requeue_count), job.state) {
                    prop_assert!(before == job.state || before.can_move_to(job.state),
                        "job {} went from {:?} to {:?}", job.id, before, job.state);
                }
            }
            match (&command, &outcome) {
                (Command::ApplyPlan { allocations, .. }, Outcome::Planned { started, refused }) => {
                    prop_assert_eq!(started.len() + refused.len(), allocations.len());
                    for (_, allocation) in started {
                        prop_assert!(*allocation > last_allocation, "allocation ids only increase");
                        last_allocation = *allocation;
                    }
                    if let (Step::Plan { overbook: true, .. }, Some(planned)) = (step, allocations.first()) {
                        prop_assert!(refused.contains(&planned.job_id), "an overbooked plan was accepted");
                    }
                }
                (Command::JobFinished { job_id, .. }, Outcome::Done) => {
                    let finished = state.job(*job_id).unwrap();
                    prop_assert!(finished.state.is_terminal());
                    // The same report again changes nothing.
                    let again = state.clone().apply(&command);
                    prop_assert_eq!(again, Outcome::Rejected(Rejection::StaleAllocation(*job_id)));
                }
                (Command::JobFinished { allocation_id, job_id, .. }, _) => {
                    let current = state.job(*job_id).and_then(|j| j.allocation.as_ref()).map(|a| a.id);
                    prop_assert!(current != Some(*allocation_id) || state.job(*job_id).unwrap().state.is_terminal(),
                        "a report for the current allocation of an active job was refused");
                }
                _ => {}
            }
        }
        prop_assert_eq!(&state, &replica);
    }
}

#[test]
fn unknown_partition_is_rejected_and_assigns_no_id() {
    let mut state = ClusterState::default();
    state.apply(&Command::SetPartitions {
        partitions: partitions(),
        now_ms: 0,
    });
    let outcome = state.apply(&Command::SubmitJob {
        request_id: RequestId("r".into()),
        actor: Actor::root(),
        spec: Box::new(JobSpec {
            partition: Some("nosuch".into()),
            ..JobSpec::default()
        }),
        now_ms: 1,
    });
    assert_eq!(
        outcome,
        Outcome::Rejected(corral_state::Rejection::InvalidPartition("nosuch".into()))
    );
    assert_eq!(state.next_job_id(), 1);
}

#[test]
fn only_owner_or_admin_may_cancel() {
    let mut state = ClusterState::default();
    state.apply(&Command::SetPartitions {
        partitions: partitions(),
        now_ms: 0,
    });
    let alice = actor(1);
    let bob = actor(2);
    state.apply(&Command::SubmitJob {
        request_id: RequestId("r".into()),
        actor: alice.clone(),
        spec: Box::default(),
        now_ms: 1,
    });
    let by_bob = state.apply(&Command::CancelJob {
        job_id: 1,
        actor: bob,
        now_ms: 2,
    });
    assert_eq!(
        by_bob,
        Outcome::Rejected(corral_state::Rejection::AccessDenied)
    );
    let by_alice = state.apply(&Command::CancelJob {
        job_id: 1,
        actor: alice.clone(),
        now_ms: 3,
    });
    assert_eq!(by_alice, Outcome::Done);
    let job = state.job(1).unwrap();
    assert_eq!(job.state, JobState::Cancelled);
    assert_eq!(job.cancelled_by_uid, Some(1000));
    let again = state.apply(&Command::CancelJob {
        job_id: 1,
        actor: alice,
        now_ms: 4,
    });
    assert_eq!(
        again,
        Outcome::Rejected(corral_state::Rejection::AlreadyDone(1))
    );
}

#[test]
fn state_survives_a_json_round_trip() {
    let mut state = ClusterState::default();
    state.apply(&Command::SetPartitions {
        partitions: partitions(),
        now_ms: 0,
    });
    for i in 0..10 {
        state.apply(&Command::SubmitJob {
            request_id: RequestId(format!("r{i}")),
            actor: actor(i),
            spec: Box::default(),
            now_ms: u64::from(i),
        });
    }
    let text = serde_json::to_string(&state).unwrap();
    let back: ClusterState = serde_json::from_str(&text).unwrap();
    assert_eq!(back, state);
    assert!(back.invariants().is_ok());
}
