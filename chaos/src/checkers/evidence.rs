//! How the checkers name what they found, one line per operation, job,
//! fault or observation, so that a person can find it in `history.jsonl`.

use crate::history::{
    Fault, FinalJob, LeaderObservation, ObservedJob, OkValue, Operation, OperationKind, Outcome,
};

/// `op 12 (client 3) submit chaos-3-7 attempt 1, 1234..1400 ms: Ok job 17`.
pub fn operation(operation: &Operation) -> String {
    let kind = match &operation.kind {
        OperationKind::Submit {
            request_id,
            attempt,
        } => format!("submit {request_id} attempt {attempt}"),
        OperationKind::Cancel { job_id } => format!("cancel job {job_id}"),
        OperationKind::Read => "read".to_string(),
    };
    let outcome = match &operation.outcome {
        Outcome::Ok(OkValue::Submitted { job_id }) => format!("Ok job {job_id}"),
        Outcome::Ok(OkValue::Cancelled) => "Ok cancelled".to_string(),
        Outcome::Ok(OkValue::Observed(jobs)) => format!("Ok {} jobs", jobs.len()),
        Outcome::Failed(reason) => format!("Failed ({reason})"),
        Outcome::Unknown(reason) => format!("Unknown ({reason})"),
    };
    format!(
        "op {} (client {}) {kind}, {}..{} ms: {outcome}",
        operation.id, operation.client, operation.invoked_ms, operation.completed_ms
    )
}

/// A read and what it saw of one job.
pub fn observation(read: &Operation, job: &ObservedJob) -> String {
    format!(
        "op {} (client {}) read, {}..{} ms: saw job {} {} requeued {}",
        read.id,
        read.client,
        read.invoked_ms,
        read.completed_ms,
        job.job_id,
        job.state,
        job.requeue_count
    )
}

/// `final state: job 17 (request chaos-3-7) COMPLETED, requeued 0`.
pub fn final_job(job: &FinalJob) -> String {
    format!(
        "final state: job {} (request {}) {}, requeued {}",
        job.job_id, job.request_id, job.state, job.requeue_count
    )
}

/// `fault #3 isolate-leader controller-2 (the leader), 5000..9000 ms`.
pub fn fault(fault: &Fault) -> String {
    let healed = fault
        .healed_ms
        .map_or_else(|| "never healed".to_string(), |ms| format!("{ms} ms"));
    format!(
        "fault #{} {} {}{}, {}..{healed}",
        fault.id,
        fault.kind,
        fault.targets.join(","),
        if fault.hit_leader {
            " (the leader)"
        } else {
            ""
        },
        fault.started_ms,
    )
}

/// `at 6000 ms controller 2 led term 4` (or `no leader`).
pub fn leader(observation: &LeaderObservation) -> String {
    match observation.leader {
        Some(leader) => format!(
            "at {} ms controller {leader} claimed to lead term {}",
            observation.at_ms, observation.term
        ),
        None => format!(
            "at {} ms no controller claimed to lead (term {})",
            observation.at_ms, observation.term
        ),
    }
}

/// `1, 2, 5` (at most 20, then `... (N in all)`).
pub fn id_list(ids: impl IntoIterator<Item = u32>) -> String {
    const SHOWN_MAX: usize = 20;
    let ids: Vec<u32> = ids.into_iter().collect();
    let mut text = ids
        .iter()
        .take(SHOWN_MAX)
        .map(u32::to_string)
        .collect::<Vec<_>>()
        .join(", ");
    if ids.len() > SHOWN_MAX {
        text.push_str(&format!(", ... ({} in all)", ids.len()));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkers::testing::*;

    #[test]
    fn an_operation_reads_as_one_line_with_its_id_times_and_outcome() {
        assert_eq!(
            operation(&submit_ok(12, "chaos-3-7", 17, 1234, 1400)),
            "op 12 (client 0) submit chaos-3-7 attempt 0, 1234..1400 ms: Ok job 17"
        );
        assert_eq!(
            operation(&submit_unknown(13, "r", 5, 9)),
            "op 13 (client 0) submit r attempt 0, 5..9 ms: Unknown (timed out)"
        );
    }

    #[test]
    fn a_fault_names_its_targets_and_window() {
        let isolated = fault_of(3, "isolate-leader", "controller-2", 5000, Some(9000));
        assert_eq!(
            fault(&isolated),
            "fault #3 isolate-leader controller-2 (the leader), 5000..9000 ms"
        );
    }

    #[test]
    fn long_id_lists_are_cut() {
        assert_eq!(id_list([1, 2, 5]), "1, 2, 5");
        assert!(id_list(0..30).ends_with("19, ... (30 in all)"));
    }
}
