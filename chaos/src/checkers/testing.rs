//! Small builders of histories for the checkers' tests.

use crate::history::{
    AccountedJob, ControllerReport, Fault, FinalJob, FinalState, History, JobRun,
    LeaderObservation, ObservedJob, OkValue, Operation, OperationKind, Outcome,
};

fn operation(
    id: u64,
    kind: OperationKind,
    invoked_ms: u64,
    completed_ms: u64,
    outcome: Outcome,
) -> Operation {
    Operation {
        id,
        client: 0,
        kind,
        invoked_ms,
        completed_ms,
        outcome,
    }
}

fn submit(request_id: &str, attempt: u32) -> OperationKind {
    OperationKind::Submit {
        request_id: request_id.to_string(),
        attempt,
    }
}

pub fn submit_ok(
    id: u64,
    request_id: &str,
    job_id: u32,
    invoked_ms: u64,
    completed_ms: u64,
) -> Operation {
    operation(
        id,
        submit(request_id, 0),
        invoked_ms,
        completed_ms,
        Outcome::Ok(OkValue::Submitted { job_id }),
    )
}

pub fn submit_unknown(id: u64, request_id: &str, invoked_ms: u64, completed_ms: u64) -> Operation {
    operation(
        id,
        submit(request_id, 0),
        invoked_ms,
        completed_ms,
        Outcome::Unknown("timed out".to_string()),
    )
}

pub fn submit_failed(id: u64, request_id: &str, invoked_ms: u64, completed_ms: u64) -> Operation {
    operation(
        id,
        submit(request_id, 0),
        invoked_ms,
        completed_ms,
        Outcome::Failed("permission denied".to_string()),
    )
}

/// The same operation as a retry (`attempt`) of its request.
pub fn retried(mut operation: Operation, attempt: u32) -> Operation {
    if let OperationKind::Submit { attempt: a, .. } = &mut operation.kind {
        *a = attempt;
    }
    operation
}

pub fn cancel_ok(id: u64, job_id: u32, invoked_ms: u64, completed_ms: u64) -> Operation {
    operation(
        id,
        OperationKind::Cancel { job_id },
        invoked_ms,
        completed_ms,
        Outcome::Ok(OkValue::Cancelled),
    )
}

/// An Ok read that saw `(job id, state, requeue count)`.
pub fn read_ok(
    id: u64,
    invoked_ms: u64,
    completed_ms: u64,
    jobs: &[(u32, &str, u32)],
) -> Operation {
    let jobs = jobs
        .iter()
        .map(|(job_id, state, requeue_count)| ObservedJob {
            job_id: *job_id,
            state: state.to_string(),
            requeue_count: *requeue_count,
        })
        .collect();
    operation(
        id,
        OperationKind::Read,
        invoked_ms,
        completed_ms,
        Outcome::Ok(OkValue::Observed(jobs)),
    )
}

pub fn final_job(job_id: u32, request_id: &str, state: &str, requeue_count: u32) -> FinalJob {
    FinalJob {
        job_id,
        request_id: request_id.to_string(),
        state: state.to_string(),
        requeue_count,
        end_committed_ms: None,
        script_ended_ms: None,
    }
}

pub fn run(job_id: u32) -> JobRun {
    JobRun {
        job_id,
        node: format!("node{:03}", job_id % 4 + 1),
    }
}

/// A final state with three quiet controllers and a cluster that serves.
pub fn final_with(jobs: Vec<FinalJob>, runs: Vec<JobRun>) -> FinalState {
    FinalState {
        controllers: (1..=3)
            .map(|id| ControllerReport {
                id,
                applied_index: Some(100),
                alarms: Vec::new(),
            })
            .collect(),
        accounting: Some(Ok(jobs
            .iter()
            .filter(|job| is_terminal_name(&job.state))
            .map(|job| AccountedJob {
                job_id: job.job_id,
                state: job.state.clone(),
            })
            .collect())),
        jobs,
        runs,
        serves_after_healing: Some(Ok(1_000)),
    }
}

fn is_terminal_name(state: &str) -> bool {
    corral_state::JobState::from_slurm_name(state).is_some_and(|s| s.is_terminal())
}

/// A fault that hit the leader.
pub fn fault_of(
    id: u64,
    kind: &str,
    target: &str,
    started_ms: u64,
    healed_ms: Option<u64>,
) -> Fault {
    Fault {
        id,
        kind: kind.to_string(),
        targets: vec![target.to_string()],
        hit_leader: true,
        started_ms,
        healed_ms,
        detail: String::new(),
    }
}

pub fn leader_at(at_ms: u64, leader: Option<u64>, term: u64) -> LeaderObservation {
    LeaderObservation {
        at_ms,
        leader,
        term,
    }
}

/// A run that keeps every promise and gives every checker something to
/// look at: controller 1 is isolated while a submission's outcome is
/// unknown; the retry gets the same job; a job is cancelled.
pub fn clean_history() -> History {
    History {
        operations: vec![
            submit_ok(1, "r1", 1, 100, 120),
            read_ok(2, 200, 210, &[(1, "PENDING", 0)]),
            submit_unknown(3, "r2", 5_000, 10_000),
            retried(submit_ok(4, "r2", 2, 10_100, 10_150), 1),
            read_ok(5, 10_200, 10_210, &[(1, "COMPLETED", 0), (2, "RUNNING", 0)]),
            submit_ok(6, "r3", 3, 10_300, 10_350),
            cancel_ok(7, 3, 10_400, 10_450),
            read_ok(
                8,
                10_500,
                10_510,
                &[
                    (1, "COMPLETED", 0),
                    (2, "COMPLETED", 0),
                    (3, "CANCELLED", 0),
                ],
            ),
        ],
        faults: vec![fault_of(
            1,
            "isolate-leader",
            "controller-1",
            5_000,
            Some(9_000),
        )],
        leaders: vec![
            leader_at(0, Some(1), 1),
            leader_at(5_500, Some(2), 2),
            leader_at(9_500, Some(2), 2),
        ],
        final_state: final_with(
            vec![
                final_job(1, "r1", "COMPLETED", 0),
                final_job(2, "r2", "COMPLETED", 0),
                final_job(3, "r3", "CANCELLED", 0),
                final_job(1_000, "probe", "COMPLETED", 0),
            ],
            vec![run(1), run(2), run(1_000)],
        ),
    }
}
