//! A job's life on nodes, step by step: plans, ends, cancellations, node
//! failures and drains, each checked against `invariants()`.

use corral_state::{
    Actor, AllocationId, ArraySpec, ClusterState, Command, DependencyCondition, DependencyKind,
    DependencySpec, ExitStatus, FinishCause, Gpu, JobReason, JobSpec, JobState, NodeChange,
    NodeDefinition, NodeResources, NodeShare, Outcome, Partition, PartitionState,
    PlannedAllocation, Rejection, RequestId,
};

struct Cluster {
    state: ClusterState,
    now_ms: u64,
}

impl Cluster {
    /// Two nodes of 4 CPUs, 1000 MB and 2 GPUs each, registered, in one partition.
    fn new() -> Cluster {
        let mut cluster = Cluster {
            state: ClusterState::default(),
            now_ms: 0,
        };
        let resources = NodeResources {
            cpus: 4,
            memory_mb: 1000,
            gpus: (0..2)
                .map(|index| Gpu {
                    index,
                    model: String::new(),
                })
                .collect(),
        };
        cluster.apply(Command::SetPartitions {
            partitions: vec![Partition {
                name: "debug".into(),
                nodes: "n[1-2]".into(),
                default: true,
                max_time_minutes: None,
                state: PartitionState::Up,
            }],
            now_ms: 0,
        });
        cluster.apply(Command::SetNodes {
            nodes: ["n1", "n2"]
                .iter()
                .map(|name| NodeDefinition {
                    name: name.to_string(),
                    resources: resources.clone(),
                })
                .collect(),
            now_ms: 0,
        });
        for name in ["n1", "n2"] {
            cluster.apply(Command::RegisterNode {
                name: name.into(),
                resources: resources.clone(),
                now_ms: 0,
            });
        }
        cluster
    }

    fn apply(&mut self, command: Command) -> Outcome {
        self.now_ms += 1;
        let outcome = self.state.apply(&command);
        self.state
            .invariants()
            .unwrap_or_else(|v| panic!("{v} after {command:?}"));
        outcome
    }

    fn submit(&mut self, spec: JobSpec) -> u32 {
        let request_id = RequestId(format!("r{}", self.state.next_job_id()));
        match self.apply(Command::SubmitJob {
            request_id,
            actor: Actor::root(),
            spec: Box::new(spec),
            now_ms: self.now_ms,
        }) {
            Outcome::Submitted { job_id, .. } => job_id,
            other => panic!("{other:?}"),
        }
    }

    fn plan(&mut self, job_id: u32, shares: &[(&str, u32, u64, &[u32])]) -> Outcome {
        let shares = shares
            .iter()
            .map(|(node, cpus, memory_mb, gpus)| NodeShare {
                node: node.to_string(),
                cpus: *cpus,
                memory_mb: *memory_mb,
                gpus: gpus.to_vec(),
            })
            .collect();
        self.apply(Command::ApplyPlan {
            allocations: vec![PlannedAllocation { job_id, shares }],
            reasons: vec![],
            now_ms: self.now_ms,
        })
    }

    fn finish(&mut self, job_id: u32, code: u8, cause: FinishCause) -> Outcome {
        let allocation_id = self.allocation(job_id);
        self.apply(Command::JobFinished {
            job_id,
            allocation_id,
            exit_status: ExitStatus { code, signal: 0 },
            cause,
            now_ms: self.now_ms,
        })
    }

    fn allocation(&self, job_id: u32) -> AllocationId {
        self.state
            .job(job_id)
            .unwrap()
            .allocation
            .as_ref()
            .unwrap()
            .id
    }

    fn state_of(&self, job_id: u32) -> JobState {
        self.state.job(job_id).unwrap().state
    }
}

fn started(outcome: &Outcome) -> bool {
    matches!(outcome, Outcome::Planned { started, .. } if started.len() == 1)
}

#[test]
fn a_job_runs_completes_and_frees_its_node() {
    let mut cluster = Cluster::new();
    let job = cluster.submit(JobSpec {
        ntasks: 2,
        memory_per_node_mb: Some(500),
        ..JobSpec::default()
    });
    assert!(started(&cluster.plan(job, &[("n1", 2, 500, &[])])));
    assert_eq!(cluster.state_of(job), JobState::Running);
    assert_eq!(cluster.state.node("n1").unwrap().usage.cpus, 2);
    assert_eq!(cluster.finish(job, 0, FinishCause::Exited), Outcome::Done);
    assert_eq!(cluster.state_of(job), JobState::Completed);
    assert!(cluster.state.node("n1").unwrap().is_idle());
    // A repeated report is recognised and changes nothing.
    let allocation_id = cluster.allocation(job);
    let again = cluster.apply(Command::JobFinished {
        job_id: job,
        allocation_id,
        exit_status: ExitStatus { code: 1, signal: 0 },
        cause: FinishCause::Exited,
        now_ms: 99,
    });
    assert_eq!(again, Outcome::Rejected(Rejection::StaleAllocation(job)));
    assert_eq!(cluster.state_of(job), JobState::Completed);
}

#[test]
fn a_plan_that_no_longer_fits_is_refused() {
    let mut cluster = Cluster::new();
    let big = cluster.submit(JobSpec {
        ntasks: 3,
        ..JobSpec::default()
    });
    let other = cluster.submit(JobSpec {
        ntasks: 2,
        ..JobSpec::default()
    });
    assert!(started(&cluster.plan(big, &[("n1", 3, 0, &[])])));
    let refused = cluster.plan(other, &[("n1", 2, 0, &[])]);
    assert_eq!(
        refused,
        Outcome::Planned {
            started: vec![],
            refused: vec![other]
        }
    );
    assert_eq!(cluster.state_of(other), JobState::Pending);
    // Too few CPUs for the job's tasks is refused too, even where they are free.
    let refused = cluster.plan(other, &[("n2", 1, 0, &[])]);
    assert!(matches!(refused, Outcome::Planned { ref refused, .. } if refused == &vec![other]));
}

#[test]
fn gpus_are_never_shared() {
    let mut cluster = Cluster::new();
    let a = cluster.submit(JobSpec {
        gpus_per_node: 1,
        ..JobSpec::default()
    });
    let b = cluster.submit(JobSpec {
        gpus_per_node: 1,
        ..JobSpec::default()
    });
    assert!(started(&cluster.plan(a, &[("n1", 1, 0, &[0])])));
    assert!(!started(&cluster.plan(b, &[("n1", 1, 0, &[0])])));
    assert!(started(&cluster.plan(b, &[("n1", 1, 0, &[1])])));
}

#[test]
fn cancelling_a_running_job_completes_through_its_agent() {
    let mut cluster = Cluster::new();
    let job = cluster.submit(JobSpec::default());
    assert!(started(&cluster.plan(job, &[("n1", 1, 0, &[])])));
    assert_eq!(
        cluster.apply(Command::CancelJob {
            job_id: job,
            actor: Actor::root(),
            now_ms: 5
        }),
        Outcome::Done
    );
    assert_eq!(cluster.state_of(job), JobState::Completing);
    assert_eq!(
        cluster.state.node("n1").unwrap().usage.cpus,
        1,
        "resources held until the script is gone"
    );
    cluster.finish(job, 0, FinishCause::Exited);
    assert_eq!(cluster.state_of(job), JobState::Cancelled);
}

#[test]
fn exits_and_time_limits_map_to_slurm_states() {
    let mut cluster = Cluster::new();
    for (code, cause, state, reason) in [
        (
            3,
            FinishCause::Exited,
            JobState::Failed,
            JobReason::NonZeroExitCode,
        ),
        (
            0,
            FinishCause::TimeLimit,
            JobState::Timeout,
            JobReason::TimeLimit,
        ),
        (0, FinishCause::Exited, JobState::Completed, JobReason::None),
    ] {
        let job = cluster.submit(JobSpec::default());
        assert!(started(&cluster.plan(job, &[("n2", 1, 0, &[])])));
        cluster.finish(job, code, cause);
        let finished = cluster.state.job(job).unwrap();
        assert_eq!((finished.state, finished.reason), (state, reason));
        assert_eq!(finished.exit_status.code, code);
    }
}

#[test]
fn a_node_failure_fails_or_requeues_its_jobs() {
    let mut cluster = Cluster::new();
    let plain = cluster.submit(JobSpec::default());
    let requeue = cluster.submit(JobSpec {
        requeue: true,
        ..JobSpec::default()
    });
    assert!(started(&cluster.plan(plain, &[("n1", 1, 0, &[])])));
    assert!(started(&cluster.plan(requeue, &[("n1", 1, 0, &[])])));
    let first_allocation = cluster.allocation(requeue);
    cluster.apply(Command::NodeDown {
        name: "n1".into(),
        reason: "Not responding".into(),
        now_ms: 10,
    });
    assert_eq!(cluster.state_of(plain), JobState::NodeFail);
    assert_eq!(cluster.state_of(requeue), JobState::Pending);
    assert_eq!(cluster.state.job(requeue).unwrap().requeue_count, 1);
    assert!(cluster.state.node("n1").unwrap().is_idle());
    // The down node takes nothing; elsewhere the job starts with a new allocation.
    assert!(!started(&cluster.plan(requeue, &[("n1", 1, 0, &[])])));
    assert!(started(&cluster.plan(requeue, &[("n2", 1, 0, &[])])));
    assert!(cluster.allocation(requeue) > first_allocation);
    // A late report from the first allocation is stale.
    let late = cluster.apply(Command::JobFinished {
        job_id: requeue,
        allocation_id: first_allocation,
        exit_status: ExitStatus::default(),
        cause: FinishCause::Exited,
        now_ms: 11,
    });
    assert_eq!(late, Outcome::Rejected(Rejection::StaleAllocation(requeue)));
    // Registering again brings the node back.
    cluster.apply(Command::RegisterNode {
        name: "n1".into(),
        resources: cluster.state.node("n1").unwrap().resources.clone(),
        now_ms: 12,
    });
    assert!(cluster.state.node("n1").unwrap().accepts_jobs());
}

#[test]
fn drained_nodes_take_no_new_jobs_until_resumed() {
    let mut cluster = Cluster::new();
    let job = cluster.submit(JobSpec::default());
    let drain = NodeChange::Drain {
        reason: "maint".into(),
    };
    cluster.apply(Command::UpdateNode {
        name: "n1".into(),
        change: drain,
        actor: Actor::root(),
        now_ms: 1,
    });
    assert!(!started(&cluster.plan(job, &[("n1", 1, 0, &[])])));
    let reason = cluster.state.node("n1").unwrap().reason.clone().unwrap();
    assert_eq!(
        (reason.text.as_str(), reason.user.as_str()),
        ("maint", "root")
    );
    cluster.apply(Command::UpdateNode {
        name: "n1".into(),
        change: NodeChange::Resume,
        actor: Actor::root(),
        now_ms: 2,
    });
    assert!(started(&cluster.plan(job, &[("n1", 1, 0, &[])])));
    // Only administrators change nodes.
    let user = Actor {
        user: "alice".into(),
        uid: 1000,
        gid: 1000,
        admin: false,
    };
    let refused = cluster.apply(Command::UpdateNode {
        name: "n1".into(),
        change: NodeChange::Resume,
        actor: user,
        now_ms: 3,
    });
    assert_eq!(refused, Outcome::Rejected(Rejection::AccessDenied));
}

fn array(indices: &[u32], max_running: Option<u32>) -> JobSpec {
    JobSpec {
        array: Some(ArraySpec {
            indices: indices.to_vec(),
            max_running,
        }),
        ..JobSpec::default()
    }
}

fn depending_on(any: bool, conditions: &[(DependencyKind, u32, Option<u32>)]) -> JobSpec {
    JobSpec {
        dependency: Some(DependencySpec {
            any,
            conditions: conditions
                .iter()
                .map(|(kind, job_id, task)| DependencyCondition {
                    kind: *kind,
                    job_id: *job_id,
                    task: *task,
                    delay_minutes: 0,
                })
                .collect(),
        }),
        ..JobSpec::default()
    }
}

#[test]
fn an_array_is_one_id_and_one_job_per_task() {
    let mut cluster = Cluster::new();
    let array_id = cluster.submit(array(&[1, 3, 5], Some(1)));
    assert!(
        cluster.state.job(array_id).is_none(),
        "the array's id names no job"
    );
    let tasks: Vec<(u32, u32)> = cluster
        .state
        .tasks_of_array(array_id)
        .map(|job| (job.id, job.array.unwrap().task_id))
        .collect();
    assert_eq!(
        tasks,
        [(array_id + 1, 1), (array_id + 2, 3), (array_id + 3, 5)]
    );
    assert_eq!(cluster.state.next_job_id(), array_id + 4);
    // %1: a second task may not start while one runs.
    assert!(started(&cluster.plan(array_id + 1, &[("n1", 1, 0, &[])])));
    assert!(!started(&cluster.plan(array_id + 2, &[("n2", 1, 0, &[])])));
    cluster.finish(array_id + 1, 0, FinishCause::Exited);
    assert!(started(&cluster.plan(array_id + 2, &[("n2", 1, 0, &[])])));
    // Cancelling the array's id cancels every task still alive.
    assert_eq!(
        cluster.apply(Command::CancelJob {
            job_id: array_id,
            actor: Actor::root(),
            now_ms: cluster.now_ms,
        }),
        Outcome::Done
    );
    assert_eq!(cluster.state_of(array_id + 1), JobState::Completed);
    assert_eq!(cluster.state_of(array_id + 2), JobState::Completing);
    assert_eq!(cluster.state_of(array_id + 3), JobState::Cancelled);
}

#[test]
fn an_invalid_array_is_rejected_and_takes_no_id() {
    let mut cluster = Cluster::new();
    let before = cluster.state.next_job_id();
    for spec in [
        array(&[], None),
        array(&[3, 1], None),
        array(&[1001], None),
        array(&[1], Some(0)),
    ] {
        let outcome = cluster.apply(Command::SubmitJob {
            request_id: RequestId(format!("bad{:?}", spec.array)),
            actor: Actor::root(),
            spec: Box::new(spec),
            now_ms: cluster.now_ms,
        });
        assert_eq!(outcome, Outcome::Rejected(Rejection::InvalidArray));
    }
    assert_eq!(cluster.state.next_job_id(), before);
}

#[test]
fn dependencies_resolve_when_the_jobs_they_name_move() {
    use DependencyKind::*;
    let mut cluster = Cluster::new();
    let first = cluster.submit(JobSpec::default());
    let tasks = cluster.submit(array(&[0, 1], None));
    let ok = cluster.submit(depending_on(false, &[(AfterOk, first, None)]));
    let started_dep = cluster.submit(depending_on(false, &[(After, first, None)]));
    let not_ok = cluster.submit(depending_on(false, &[(AfterNotOk, first, None)]));
    let whole_array = cluster.submit(depending_on(false, &[(AfterAny, tasks, None)]));
    let one_task = cluster.submit(depending_on(false, &[(AfterOk, tasks, Some(1))]));
    let unknown = cluster.submit(depending_on(false, &[(AfterOk, 999_999, None)]));
    let reason = |cluster: &Cluster, job: u32| cluster.state.job(job).unwrap().reason;
    for job in [ok, started_dep, not_ok, whole_array, one_task] {
        assert_eq!(reason(&cluster, job), JobReason::Dependency, "job {job}");
    }
    assert_eq!(
        reason(&cluster, unknown),
        JobReason::None,
        "an unknown job satisfies"
    );

    assert!(started(&cluster.plan(first, &[("n1", 1, 0, &[])])));
    assert_eq!(reason(&cluster, started_dep), JobReason::None);
    assert_eq!(reason(&cluster, ok), JobReason::Dependency);
    cluster.finish(first, 0, FinishCause::Exited);
    assert_eq!(reason(&cluster, ok), JobReason::None);
    assert_eq!(
        reason(&cluster, not_ok),
        JobReason::DependencyNeverSatisfied
    );
    // A job whose dependencies are not satisfied cannot be started.
    assert!(!started(&cluster.plan(not_ok, &[("n1", 1, 0, &[])])));

    let task_1 = tasks + 2;
    assert!(started(&cluster.plan(task_1, &[("n1", 1, 0, &[])])));
    cluster.finish(task_1, 0, FinishCause::Exited);
    assert_eq!(reason(&cluster, one_task), JobReason::None);
    assert_eq!(reason(&cluster, whole_array), JobReason::Dependency);
    cluster.apply(Command::CancelJob {
        job_id: tasks + 1,
        actor: Actor::root(),
        now_ms: cluster.now_ms,
    });
    assert_eq!(reason(&cluster, whole_array), JobReason::None);
    assert!(started(&cluster.plan(whole_array, &[("n2", 1, 0, &[])])));
}

#[test]
fn singleton_waits_for_earlier_jobs_of_the_same_name_and_user() {
    let mut cluster = Cluster::new();
    let named = |name: &str, singleton: bool| JobSpec {
        name: name.into(),
        ..if singleton {
            depending_on(false, &[(DependencyKind::Singleton, 0, None)])
        } else {
            JobSpec::default()
        }
    };
    let first = cluster.submit(named("train", false));
    let other_name = cluster.submit(named("eval", true));
    let second = cluster.submit(named("train", true));
    assert_eq!(
        cluster.state.job(other_name).unwrap().reason,
        JobReason::None
    );
    assert_eq!(
        cluster.state.job(second).unwrap().reason,
        JobReason::Dependency
    );
    assert!(started(&cluster.plan(first, &[("n1", 1, 0, &[])])));
    cluster.finish(first, 0, FinishCause::Exited);
    assert_eq!(cluster.state.job(second).unwrap().reason, JobReason::None);
}

mod steps {
    use super::*;
    use corral_state::StepSpec;

    fn step_spec(ntasks: u32) -> StepSpec {
        StepSpec {
            name: "hostname".into(),
            argv: vec!["hostname".into()],
            ntasks,
            cpus_per_task: 1,
            ..StepSpec::default()
        }
    }

    /// A job running on both nodes, 2 CPUs each.
    fn running_job(cluster: &mut Cluster) -> u32 {
        let job = cluster.submit(JobSpec {
            nodes: 2,
            ntasks: 4,
            ..JobSpec::default()
        });
        cluster.plan(job, &[("n1", 2, 0, &[]), ("n2", 2, 0, &[])]);
        job
    }

    fn start(cluster: &mut Cluster, job: u32, request: &str, spec: StepSpec) -> Outcome {
        let now_ms = cluster.now_ms;
        cluster.apply(Command::StartStep {
            job_id: job,
            request_id: RequestId(request.into()),
            actor: Actor::root(),
            spec: Box::new(spec),
            now_ms,
        })
    }

    fn node_end(cluster: &mut Cluster, job: u32, step: u32, node: &str, code: u8) -> Outcome {
        let allocation_id = cluster.allocation(job);
        let now_ms = cluster.now_ms;
        cluster.apply(Command::StepFinished {
            job_id: job,
            allocation_id,
            step_id: step,
            node: node.into(),
            exit_status: ExitStatus { code, signal: 0 },
            cause: FinishCause::Exited,
            now_ms,
        })
    }

    #[test]
    fn steps_are_numbered_in_order_and_a_retry_makes_no_second_step() {
        let mut cluster = Cluster::new();
        let job = running_job(&mut cluster);
        let first = start(&mut cluster, job, "a", step_spec(4));
        assert_eq!(
            first,
            Outcome::StepStarted {
                job_id: job,
                step_id: 0,
                duplicate: false
            }
        );
        let retry = start(&mut cluster, job, "a", step_spec(4));
        assert_eq!(
            retry,
            Outcome::StepStarted {
                job_id: job,
                step_id: 0,
                duplicate: true
            }
        );
        let second = start(&mut cluster, job, "b", step_spec(1));
        assert!(matches!(second, Outcome::StepStarted { step_id: 1, .. }));
        let steps = &cluster.state.job(job).unwrap().steps;
        assert_eq!(steps.len(), 2);
        assert_eq!(steps[0].node_names(), ["n1", "n2"]);
        assert_eq!(steps[1].node_names(), ["n1"]);
    }

    #[test]
    fn a_step_ends_when_every_node_reported_and_duplicates_change_nothing() {
        let mut cluster = Cluster::new();
        let job = running_job(&mut cluster);
        start(&mut cluster, job, "a", step_spec(4));
        assert_eq!(node_end(&mut cluster, job, 0, "n2", 3), Outcome::Done);
        let step = &cluster.state.job(job).unwrap().steps[0];
        assert_eq!(step.state, JobState::Running);
        assert_eq!(
            node_end(&mut cluster, job, 0, "n2", 0),
            Outcome::Rejected(Rejection::StaleAllocation(job))
        );
        assert_eq!(node_end(&mut cluster, job, 0, "n1", 0), Outcome::Done);
        let step = &cluster.state.job(job).unwrap().steps[0];
        assert_eq!(step.state, JobState::Failed);
        assert_eq!(step.exit_status, ExitStatus { code: 3, signal: 0 });
        assert!(step.end_time_ms.is_some());
        assert!(step.spec.environment.is_empty());
        // The job itself runs on.
        assert_eq!(cluster.state.job(job).unwrap().state, JobState::Running);
    }

    #[test]
    fn steps_need_a_running_job_the_caller_owns_and_room_on_its_nodes() {
        let mut cluster = Cluster::new();
        let pending = cluster.submit(JobSpec {
            hold: true,
            ..JobSpec::default()
        });
        assert_eq!(
            start(&mut cluster, pending, "a", step_spec(1)),
            Outcome::Rejected(Rejection::JobPending(pending))
        );
        assert_eq!(
            start(&mut cluster, 999, "a", step_spec(1)),
            Outcome::Rejected(Rejection::InvalidJobId(999))
        );
        let job = running_job(&mut cluster);
        assert_eq!(
            start(&mut cluster, job, "a", step_spec(5)),
            Outcome::Rejected(Rejection::TooManyProcessors)
        );
        let now_ms = cluster.now_ms;
        let stranger = cluster.apply(Command::StartStep {
            job_id: job,
            request_id: RequestId("b".into()),
            actor: Actor {
                user: "mallory".into(),
                uid: 666,
                gid: 666,
                admin: false,
            },
            spec: Box::new(step_spec(1)),
            now_ms,
        });
        assert_eq!(stranger, Outcome::Rejected(Rejection::AccessDenied));
        assert!(cluster.state.job(job).unwrap().steps.is_empty());
    }

    #[test]
    fn steps_end_with_their_job() {
        let mut cluster = Cluster::new();
        let job = running_job(&mut cluster);
        start(&mut cluster, job, "a", step_spec(2));
        cluster.finish(job, 0, FinishCause::Exited);
        let step = &cluster.state.job(job).unwrap().steps[0];
        assert_eq!(step.state, JobState::Cancelled);
        // The late report of the killed step is acknowledged and ignored.
        assert_eq!(
            node_end(&mut cluster, job, 0, "n1", 0),
            Outcome::Rejected(Rejection::StaleAllocation(job))
        );

        let failing = running_job(&mut cluster);
        start(&mut cluster, failing, "a", step_spec(2));
        let now_ms = cluster.now_ms;
        cluster.apply(Command::NodeDown {
            name: "n2".into(),
            reason: "Not responding".into(),
            now_ms,
        });
        let step = &cluster.state.job(failing).unwrap().steps[0];
        assert_eq!(step.state, JobState::NodeFail);
    }
}

mod accounting {
    use super::*;
    use corral_state::{AccountingRecord, RowKey, StepId};

    fn job_row(cluster: &Cluster, job_id: u32) -> Option<corral_state::JobRecord> {
        match &cluster
            .state
            .accounting()
            .waiting(RowKey::Job(job_id))?
            .record
        {
            AccountingRecord::Job(record) => Some(record.clone()),
            AccountingRecord::Step(_) => None,
        }
    }

    #[test]
    fn a_jobs_life_reaches_the_outbox_and_acknowledged_records_leave_it() {
        let mut cluster = Cluster::new();
        let job = cluster.submit(JobSpec {
            ntasks: 2,
            ..JobSpec::default()
        });
        let submitted = job_row(&cluster, job).expect("a record at submission");
        assert_eq!(submitted.state, JobState::Pending);
        assert_eq!(submitted.req_cpus, 2);
        // Nothing acknowledged yet: the running job replaces its pending row.
        cluster.plan(job, &[("n1", 2, 0, &[])]);
        let running = job_row(&cluster, job).unwrap();
        assert_eq!(running.state, JobState::Running);
        assert_eq!(
            (running.nodes.clone(), running.alloc_cpus),
            (vec!["n1".to_string()], 2)
        );
        assert_eq!(
            cluster.state.accounting().pending_len(),
            2,
            "job and batch step"
        );

        let upto = cluster.state.accounting().last_seq();
        let now_ms = cluster.now_ms;
        assert_eq!(
            cluster.apply(Command::AccountingAck { upto, now_ms }),
            Outcome::Done
        );
        assert_eq!(cluster.state.accounting().pending_len(), 0);
        assert_eq!(
            cluster.apply(Command::AccountingAck { upto, now_ms }),
            Outcome::Rejected(Rejection::StaleAccountingAck(upto)),
            "a duplicate acknowledgement changes nothing"
        );

        cluster.finish(job, 4, FinishCause::Exited);
        let ended = job_row(&cluster, job).unwrap();
        assert_eq!(ended.state, JobState::Failed);
        assert_eq!(ended.exit_status, ExitStatus { code: 4, signal: 0 });
        let batch = cluster
            .state
            .accounting()
            .waiting(RowKey::Step(job, StepId::Batch))
            .expect("the batch step's end");
        match &batch.record {
            AccountingRecord::Step(step) => {
                assert_eq!(step.state, JobState::Failed);
                assert_eq!(step.name, "batch");
                assert!(step.end_time_ms.is_some());
            }
            other => panic!("{other:?}"),
        }
        // Purging the job does not take its records away.
        let now_ms = cluster.now_ms + 1;
        cluster.apply(Command::PurgeJobs {
            finished_before_ms: now_ms,
            now_ms,
        });
        assert!(cluster.state.job(job).is_none());
        assert_eq!(job_row(&cluster, job).unwrap().state, JobState::Failed);
    }

    #[test]
    fn steps_are_recorded_when_they_start_and_end() {
        let mut cluster = Cluster::new();
        let job = cluster.submit(JobSpec::default());
        cluster.plan(job, &[("n1", 1, 0, &[])]);
        let now_ms = cluster.now_ms;
        cluster.apply(Command::StartStep {
            job_id: job,
            request_id: RequestId("s".into()),
            actor: Actor::root(),
            spec: Box::new(corral_state::StepSpec {
                name: "hostname".into(),
                ntasks: 1,
                cpus_per_task: 1,
                ..Default::default()
            }),
            now_ms,
        });
        let step_row = |cluster: &Cluster| match &cluster
            .state
            .accounting()
            .waiting(RowKey::Step(job, StepId::Numbered(0)))
            .expect("a step record")
            .record
        {
            AccountingRecord::Step(step) => step.clone(),
            other => panic!("{other:?}"),
        };
        assert_eq!(step_row(&cluster).state, JobState::Running);
        let allocation_id = cluster.allocation(job);
        let now_ms = cluster.now_ms;
        cluster.apply(Command::StepFinished {
            job_id: job,
            allocation_id,
            step_id: 0,
            node: "n1".into(),
            exit_status: ExitStatus { code: 2, signal: 0 },
            cause: FinishCause::Exited,
            now_ms,
        });
        let ended = step_row(&cluster);
        assert_eq!((ended.state, ended.exit_status.code), (JobState::Failed, 2));
        assert_eq!(
            job_row(&cluster, job).unwrap().derived_exit_status,
            ExitStatus { code: 2, signal: 0 }
        );
    }
}

mod named_nodes {
    use super::*;

    fn submit_with(cluster: &mut Cluster, spec: JobSpec) -> Outcome {
        let now_ms = cluster.now_ms;
        cluster.apply(Command::SubmitJob {
            request_id: RequestId(format!("w{now_ms}")),
            actor: Actor::root(),
            spec: Box::new(spec),
            now_ms,
        })
    }

    #[test]
    fn unknown_or_contradictory_node_lists_are_refused_at_submission() {
        let mut cluster = Cluster::new();
        let unknown = submit_with(
            &mut cluster,
            JobSpec {
                required_nodes: vec!["n9".into()],
                ..JobSpec::default()
            },
        );
        assert_eq!(
            unknown,
            Outcome::Rejected(Rejection::InvalidNode("n9".into()))
        );
        let excluded_unknown = submit_with(
            &mut cluster,
            JobSpec {
                excluded_nodes: vec!["n7".into()],
                ..JobSpec::default()
            },
        );
        assert_eq!(
            excluded_unknown,
            Outcome::Rejected(Rejection::InvalidNode("n7".into()))
        );
        let both = submit_with(
            &mut cluster,
            JobSpec {
                required_nodes: vec!["n1".into()],
                excluded_nodes: vec!["n1".into()],
                ..JobSpec::default()
            },
        );
        assert_eq!(both, Outcome::Rejected(Rejection::NodeConfigUnavailable));
        let too_many = submit_with(
            &mut cluster,
            JobSpec {
                required_nodes: vec!["n1".into(), "n2".into()],
                nodes: 1,
                ..JobSpec::default()
            },
        );
        assert_eq!(
            too_many,
            Outcome::Rejected(Rejection::NodeConfigUnavailable)
        );
        assert_eq!(cluster.state.job_count(), 0);
    }

    #[test]
    fn plans_that_break_a_jobs_node_rules_are_refused() {
        let mut cluster = Cluster::new();
        let pinned = cluster.submit(JobSpec {
            required_nodes: vec!["n2".into()],
            ..JobSpec::default()
        });
        assert!(matches!(
            cluster.plan(pinned, &[("n1", 1, 0, &[])]),
            Outcome::Planned { refused, .. } if refused == vec![pinned]
        ));
        let avoiding = cluster.submit(JobSpec {
            excluded_nodes: vec!["n1".into()],
            ..JobSpec::default()
        });
        assert!(matches!(
            cluster.plan(avoiding, &[("n1", 1, 0, &[])]),
            Outcome::Planned { refused, .. } if refused == vec![avoiding]
        ));
        let whole = cluster.submit(JobSpec {
            exclusive: true,
            ..JobSpec::default()
        });
        assert!(matches!(
            cluster.plan(whole, &[("n1", 1, 0, &[])]),
            Outcome::Planned { refused, .. } if refused == vec![whole]
        ));
        assert!(matches!(
            cluster.plan(whole, &[("n1", 4, 0, &[])]),
            Outcome::Planned { started, .. } if started.len() == 1
        ));
        let later = cluster.submit(JobSpec {
            begin_time_ms: Some(1_000_000),
            ..JobSpec::default()
        });
        assert!(matches!(
            cluster.plan(later, &[("n2", 1, 0, &[])]),
            Outcome::Planned { refused, .. } if refused == vec![later]
        ));
    }
}

/// `scontrol update JobId=...`, `requeue`, `requeuehold` and `uhold`.
mod job_actions {
    use super::*;
    use corral_state::{JobUpdate, TimeLimitUpdate};

    fn alice() -> Actor {
        Actor {
            user: "alice".into(),
            uid: 1000,
            gid: 1000,
            admin: false,
        }
    }

    fn bob() -> Actor {
        Actor {
            user: "bob".into(),
            uid: 1001,
            gid: 1001,
            admin: false,
        }
    }

    /// The two-node cluster, with a second partition `short` (60 minutes
    /// at most) on the same nodes.
    fn cluster() -> Cluster {
        let mut cluster = Cluster::new();
        let partition = |name: &str, default, max_time_minutes| Partition {
            name: name.into(),
            nodes: "n[1-2]".into(),
            default,
            max_time_minutes,
            state: PartitionState::Up,
        };
        cluster.apply(Command::SetPartitions {
            partitions: vec![
                partition("debug", true, None),
                partition("short", false, Some(60)),
            ],
            now_ms: 0,
        });
        cluster
    }

    fn submit_as(cluster: &mut Cluster, actor: Actor, spec: JobSpec) -> u32 {
        let request_id = RequestId(format!("r{}", cluster.state.next_job_id()));
        let now_ms = cluster.now_ms;
        match cluster.apply(Command::SubmitJob {
            request_id,
            actor,
            spec: Box::new(spec),
            now_ms,
        }) {
            Outcome::Submitted { job_id, .. } => job_id,
            other => panic!("{other:?}"),
        }
    }

    fn update(cluster: &mut Cluster, job_id: u32, actor: Actor, update: JobUpdate) -> Outcome {
        let now_ms = cluster.now_ms;
        cluster.apply(Command::UpdateJob {
            job_id,
            actor,
            update,
            now_ms,
        })
    }

    fn limit(minutes: u32) -> JobUpdate {
        JobUpdate {
            time_limit: Some(TimeLimitUpdate::Minutes(minutes)),
            ..JobUpdate::default()
        }
    }

    fn requeue(cluster: &mut Cluster, job_id: u32, actor: Actor, hold: bool) -> Outcome {
        let now_ms = cluster.now_ms;
        cluster.apply(Command::RequeueJob {
            job_id,
            actor,
            hold,
            now_ms,
        })
    }

    fn time_limit(cluster: &Cluster, job_id: u32) -> Option<u32> {
        cluster.state.job(job_id).unwrap().spec.time_limit_minutes
    }

    #[test]
    fn users_only_lower_a_running_jobs_time_limit_and_each_change_is_counted() {
        let mut cluster = cluster();
        let spec = JobSpec {
            time_limit_minutes: Some(30),
            ..JobSpec::default()
        };
        let job = submit_as(&mut cluster, alice(), spec);
        assert!(started(&cluster.plan(job, &[("n1", 1, 0, &[])])));
        assert_eq!(cluster.state.time_limit_version(job), 0);
        assert_eq!(update(&mut cluster, job, alice(), limit(10)), Outcome::Done);
        assert_eq!(time_limit(&cluster, job), Some(10));
        assert_eq!(cluster.state.time_limit_version(job), 1);
        assert_eq!(
            update(&mut cluster, job, alice(), limit(20)),
            Outcome::Rejected(Rejection::AccessDenied)
        );
        assert_eq!(time_limit(&cluster, job), Some(10));
        assert_eq!(
            update(&mut cluster, job, bob(), limit(5)),
            Outcome::Rejected(Rejection::AccessDenied),
            "someone else's job"
        );
        assert_eq!(
            update(&mut cluster, job, Actor::root(), limit(120)),
            Outcome::Done
        );
        assert_eq!(cluster.state.time_limit_version(job), 2);
        // UNLIMITED is the partition's limit, which debug does not have:
        // only an administrator may raise to it.
        let unlimited = JobUpdate {
            time_limit: Some(TimeLimitUpdate::Unlimited),
            ..JobUpdate::default()
        };
        assert_eq!(
            update(&mut cluster, job, alice(), unlimited.clone()),
            Outcome::Rejected(Rejection::AccessDenied)
        );
        assert_eq!(
            update(&mut cluster, job, Actor::root(), unlimited),
            Outcome::Done
        );
        assert_eq!(time_limit(&cluster, job), None);
        // The end forgets the changes; a finished job's limit is final.
        cluster.finish(job, 0, FinishCause::TimeLimit);
        assert_eq!(cluster.state.time_limit_version(job), 0);
        assert_eq!(
            update(&mut cluster, job, Actor::root(), limit(5)),
            Outcome::Rejected(Rejection::JobFinished(job))
        );
    }

    #[test]
    fn a_pending_job_may_be_raised_up_to_its_partitions_limit_and_moved() {
        let mut cluster = cluster();
        let spec = JobSpec {
            partition: Some("short".into()),
            time_limit_minutes: Some(10),
            ..JobSpec::default()
        };
        let job = submit_as(&mut cluster, alice(), spec);
        assert_eq!(update(&mut cluster, job, alice(), limit(60)), Outcome::Done);
        assert_eq!(
            update(&mut cluster, job, alice(), limit(61)),
            Outcome::Rejected(Rejection::AccessDenied)
        );
        assert_eq!(
            cluster.state.time_limit_version(job),
            0,
            "pending: the launch carries it"
        );
        let to = |partition: &str| JobUpdate {
            partition: Some(partition.into()),
            ..JobUpdate::default()
        };
        assert_eq!(
            update(&mut cluster, job, alice(), to("nosuch")),
            Outcome::Rejected(Rejection::InvalidPartition("nosuch".into()))
        );
        assert_eq!(
            update(&mut cluster, job, alice(), to("debug")),
            Outcome::Done
        );
        assert_eq!(cluster.state.job(job).unwrap().partition, "debug");
        assert!(started(&cluster.plan(job, &[("n1", 1, 0, &[])])));
        assert_eq!(
            update(&mut cluster, job, alice(), to("short")),
            Outcome::Rejected(Rejection::JobNotPending(job))
        );
    }

    #[test]
    fn nice_name_and_comment_and_all_or_nothing() {
        let mut cluster = cluster();
        let job = submit_as(&mut cluster, alice(), JobSpec::default());
        let nice = |nice| JobUpdate {
            nice: Some(nice),
            ..JobUpdate::default()
        };
        assert_eq!(update(&mut cluster, job, alice(), nice(50)), Outcome::Done);
        assert_eq!(
            update(&mut cluster, job, alice(), nice(-5)),
            Outcome::Rejected(Rejection::AccessDenied)
        );
        assert_eq!(
            update(&mut cluster, job, Actor::root(), nice(-5)),
            Outcome::Done
        );
        assert_eq!(cluster.state.job(job).unwrap().spec.nice, -5);
        let renamed = JobUpdate {
            name: Some("renamed".into()),
            comment: Some("a note".into()),
            ..JobUpdate::default()
        };
        assert_eq!(
            update(&mut cluster, job, alice(), renamed.clone()),
            Outcome::Done
        );
        let spec = cluster.state.job(job).unwrap().spec.clone();
        assert_eq!(
            (spec.name.as_str(), spec.comment.as_deref()),
            ("renamed", Some("a note"))
        );
        // One refused change refuses the whole update.
        let mixed = JobUpdate {
            name: Some("other".into()),
            partition: Some("nosuch".into()),
            ..JobUpdate::default()
        };
        assert!(matches!(
            update(&mut cluster, job, alice(), mixed),
            Outcome::Rejected(_)
        ));
        assert_eq!(cluster.state.job(job).unwrap().spec.name, "renamed");
        assert_eq!(
            update(&mut cluster, 99, alice(), renamed),
            Outcome::Rejected(Rejection::InvalidJobId(99))
        );
        // The accounting row follows the new name.
        let row = match &cluster
            .state
            .accounting()
            .waiting(corral_state::RowKey::Job(job))
            .unwrap()
            .record
        {
            corral_state::AccountingRecord::Job(row) => row.clone(),
            other => panic!("{other:?}"),
        };
        assert_eq!(row.name, "renamed");
    }

    #[test]
    fn a_requeued_running_job_pends_once_its_agent_reports_the_end() {
        let mut cluster = cluster();
        let job = submit_as(&mut cluster, alice(), JobSpec::default());
        assert_eq!(
            requeue(&mut cluster, job, alice(), false),
            Outcome::Rejected(Rejection::JobPending(job))
        );
        assert!(started(&cluster.plan(job, &[("n1", 1, 0, &[])])));
        let first = cluster.allocation(job);
        assert_eq!(
            requeue(&mut cluster, job, bob(), false),
            Outcome::Rejected(Rejection::AccessDenied)
        );
        assert_eq!(requeue(&mut cluster, job, alice(), false), Outcome::Done);
        assert_eq!(cluster.state_of(job), JobState::Completing);
        assert_eq!(cluster.state.requeue_requested(job), Some(JobReason::None));
        assert_eq!(
            requeue(&mut cluster, job, alice(), false),
            Outcome::Rejected(Rejection::TransitionState(job))
        );
        assert_eq!(cluster.state.node("n1").unwrap().usage.cpus, 1);
        // The script was killed: its end requeues the job.
        cluster.apply(Command::JobFinished {
            job_id: job,
            allocation_id: first,
            exit_status: ExitStatus {
                code: 0,
                signal: 15,
            },
            cause: FinishCause::Cancelled,
            now_ms: 50,
        });
        let requeued = cluster.state.job(job).unwrap();
        assert_eq!(
            (requeued.state, requeued.reason),
            (JobState::Pending, JobReason::None)
        );
        assert_eq!(requeued.requeue_count, 1);
        assert_eq!(requeued.exit_status, ExitStatus::default());
        assert!(cluster.state.node("n1").unwrap().is_idle());
        assert_eq!(cluster.state.requeue_requested(job), None);
        // It runs again on a new allocation; the old one's report is stale.
        assert!(started(&cluster.plan(job, &[("n2", 1, 0, &[])])));
        assert!(cluster.allocation(job) > first);
        let late = cluster.apply(Command::JobFinished {
            job_id: job,
            allocation_id: first,
            exit_status: ExitStatus::default(),
            cause: FinishCause::Exited,
            now_ms: 60,
        });
        assert_eq!(late, Outcome::Rejected(Rejection::StaleAllocation(job)));
        assert_eq!(cluster.finish(job, 0, FinishCause::Exited), Outcome::Done);
        assert_eq!(cluster.state_of(job), JobState::Completed);
    }

    #[test]
    fn requeuehold_holds_and_a_finished_job_pends_at_once() {
        let mut cluster = cluster();
        let job = submit_as(&mut cluster, alice(), JobSpec::default());
        assert!(started(&cluster.plan(job, &[("n1", 1, 0, &[])])));
        cluster.finish(job, 3, FinishCause::Exited);
        assert_eq!(cluster.state_of(job), JobState::Failed);
        assert_eq!(requeue(&mut cluster, job, alice(), true), Outcome::Done);
        let held = cluster.state.job(job).unwrap();
        assert_eq!(
            (held.state, held.reason),
            (JobState::Pending, JobReason::RequeueHold)
        );
        assert_eq!((held.requeue_count, held.end_time_ms), (1, None));
        assert!(!started(&cluster.plan(job, &[("n1", 1, 0, &[])])), "held");
        // Its owner releases it.
        let now_ms = cluster.now_ms;
        cluster.apply(Command::ReleaseJob {
            job_id: job,
            actor: alice(),
            now_ms,
        });
        assert!(started(&cluster.plan(job, &[("n1", 1, 0, &[])])));
        // Requeued again while running, held: held once the end arrives.
        assert_eq!(
            requeue(&mut cluster, job, Actor::root(), true),
            Outcome::Done
        );
        cluster.finish(job, 0, FinishCause::Cancelled);
        let held = cluster.state.job(job).unwrap();
        assert_eq!(
            (held.state, held.reason, held.requeue_count),
            (JobState::Pending, JobReason::RequeueHold, 2)
        );
    }

    #[test]
    fn a_cancel_or_a_node_failure_during_a_requeue() {
        let mut cluster = cluster();
        let cancelled = submit_as(&mut cluster, alice(), JobSpec::default());
        let on_failed_node = submit_as(&mut cluster, alice(), JobSpec::default());
        assert!(started(&cluster.plan(cancelled, &[("n1", 1, 0, &[])])));
        assert!(started(&cluster.plan(on_failed_node, &[("n2", 1, 0, &[])])));
        requeue(&mut cluster, cancelled, alice(), false);
        requeue(&mut cluster, on_failed_node, alice(), true);
        let now_ms = cluster.now_ms;
        assert_eq!(
            cluster.apply(Command::CancelJob {
                job_id: cancelled,
                actor: alice(),
                now_ms,
            }),
            Outcome::Done
        );
        assert_eq!(cluster.state.requeue_requested(cancelled), None);
        cluster.finish(cancelled, 0, FinishCause::Cancelled);
        assert_eq!(cluster.state_of(cancelled), JobState::Cancelled);
        cluster.apply(Command::NodeDown {
            name: "n2".into(),
            reason: "Not responding".into(),
            now_ms: 90,
        });
        let job = cluster.state.job(on_failed_node).unwrap();
        assert_eq!(
            (job.state, job.reason),
            (JobState::Pending, JobReason::RequeueHold)
        );
    }

    #[test]
    fn uhold_holds_as_the_user_even_for_an_administrator() {
        let mut cluster = cluster();
        let job = submit_as(&mut cluster, alice(), JobSpec::default());
        for (user_hold, reason) in [
            (false, JobReason::JobHeldAdmin),
            (true, JobReason::JobHeldUser),
        ] {
            let now_ms = cluster.now_ms;
            cluster.apply(Command::HoldJob {
                job_id: job,
                actor: Actor::root(),
                now_ms,
                user_hold,
            });
            assert_eq!(cluster.state.job(job).unwrap().reason, reason);
        }
        // A user hold its owner may release.
        let now_ms = cluster.now_ms;
        assert_eq!(
            cluster.apply(Command::ReleaseJob {
                job_id: job,
                actor: alice(),
                now_ms,
            }),
            Outcome::Done
        );
    }
}
