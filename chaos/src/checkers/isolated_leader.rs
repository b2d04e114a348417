//! Promise 6: a leader cut off from the majority cannot commit, and a
//! client sees success only for what was committed.
//!
//! For each fault that cuts controllers off (`isolate-leader`, `split`),
//! the window runs from its start to its healing (or the run's end). Flags:
//! - a submission acknowledged Ok by an operation overlapping the window
//!   whose job is not in the final state under that id and request id
//!   (lost, or its id reused by the majority for another request);
//! - a cancel acknowledged Ok by an operation overlapping the window whose
//!   job is, in the final state, not in a terminal state.
//!
//! One violation per window for each of the two, listing every operation.
//!
//! When the leader observations show the cut-off controller still
//! claiming leadership in the term it led when the fault began, the
//! violation says so and cites the claim: the minority side then had a
//! would-be leader whose acknowledgements could not have been committed.
//!
//! Can detect: a minority leader (or anything else during a partition)
//! acknowledging a write before a majority committed it, when that write
//! was then lost or overwritten, provided the write was a submission or a
//! cancel recorded as Ok. Cannot detect: that the isolated leader served
//! any client at all (the client's retry loop may have reached the
//! majority first), writes the isolated leader accepted but the client
//! recorded as Unknown (legal), stale reads (see `stale-reads`), losses
//! outside partition windows (see `acknowledged-present`), acknowledged
//! jobs absent from the final state but seen finished by a read (assumed
//! purged), and leadership claims shorter than the leader-polling interval.
//! It assumes fault targets are named `controller-N` where N is the id in
//! the leader observations; otherwise the claims are not cited, and the
//! rest of the check is unaffected.

use super::{evidence, is_terminal, violation, Index, Violation};
use crate::history::{
    Fault, History, LeaderObservation, OkValue, Operation, OperationKind, Outcome,
};

pub const NAME: &str = "isolated-leader";

/// Whether a fault of this kind cuts controllers off from each other.
pub fn isolates(kind: &str) -> bool {
    matches!(kind, "isolate-leader" | "split")
}

pub fn check(history: &History) -> Vec<Violation> {
    check_indexed(&Index::new(history))
}

pub(crate) fn check_indexed(index: &Index) -> Vec<Violation> {
    let history = index.history;
    let end_ms = index.end_ms();
    history
        .faults
        .iter()
        .filter(|fault| isolates(&fault.kind))
        .flat_map(|fault| check_window(index, fault, end_ms))
        .collect()
}

/// At most two violations per window: acknowledged submissions lost, and
/// acknowledged cancels undone, each listing every operation involved.
fn check_window(index: &Index, fault: &Fault, end_ms: u64) -> Vec<Violation> {
    let window = (fault.started_ms, fault.healed_ms.unwrap_or(end_ms));
    let overlaps = |op: &Operation| op.invoked_ms <= window.1 && op.completed_ms >= window.0;
    let mut context = vec![evidence::fault(fault)];
    let mut during = format!("during fault #{} ({})", fault.id, fault.kind);
    if let Some(claim) = stale_claim(index.history, fault, window) {
        context.push(format!(
            "still claiming after the cut: {}",
            evidence::leader(claim)
        ));
        during.push_str(&format!(
            " while controller {} still claimed term {}",
            claim.leader.unwrap_or_default(),
            claim.term
        ));
    }
    let mut violations = Vec::new();
    let lost = lost_submissions(index, &overlaps);
    if !lost.is_empty() {
        let (job_ids, lines): (Vec<u32>, Vec<String>) = lost.into_iter().unzip();
        violations.push(violation(
            NAME,
            format!(
                "{} submission(s) acknowledged {during} are not in the final state as acknowledged (jobs {})",
                job_ids.len(),
                evidence::id_list(job_ids)
            ),
            context.iter().cloned().chain(lines).collect(),
        ));
    }
    let undone = undone_cancels(index, &overlaps);
    if !undone.is_empty() {
        let (job_ids, lines): (Vec<u32>, Vec<String>) = undone.into_iter().unzip();
        violations.push(violation(
            NAME,
            format!(
                "{} cancel(s) acknowledged {during} were undone: the jobs end in a non-terminal state (jobs {})",
                job_ids.len(),
                evidence::id_list(job_ids)
            ),
            context.into_iter().chain(lines).collect(),
        ));
    }
    violations
}

/// Acknowledged submissions overlapping the window whose job is missing
/// or belongs to another request: (job id, evidence line).
fn lost_submissions(index: &Index, overlaps: &dyn Fn(&Operation) -> bool) -> Vec<(u32, String)> {
    let mut lost = Vec::new();
    for ack in index
        .acknowledged
        .iter()
        .filter(|ack| overlaps(ack.operation))
    {
        if index.purge_explains(ack.job_id) {
            continue;
        }
        let found = index
            .final_by_id
            .get(&ack.job_id)
            .map(Vec::as_slice)
            .unwrap_or_default();
        if found.iter().any(|job| job.request_id == ack.request_id) {
            continue;
        }
        let fate = match found.first() {
            None => "missing from the final state".to_string(),
            Some(job) => evidence::final_job(job),
        };
        lost.push((
            ack.job_id,
            format!("{} -> {fate}", evidence::operation(ack.operation)),
        ));
    }
    lost
}

/// Acknowledged cancels overlapping the window whose job ends in a
/// non-terminal state: (job id, evidence line).
fn undone_cancels(index: &Index, overlaps: &dyn Fn(&Operation) -> bool) -> Vec<(u32, String)> {
    let mut undone = Vec::new();
    for cancel in index.history.operations.iter().filter(|op| overlaps(op)) {
        let (OperationKind::Cancel { job_id }, Outcome::Ok(OkValue::Cancelled)) =
            (&cancel.kind, &cancel.outcome)
        else {
            continue;
        };
        let Some(job) = index.final_job(*job_id) else {
            continue;
        };
        if !is_terminal(&job.state) {
            undone.push((
                *job_id,
                format!(
                    "{} -> {}",
                    evidence::operation(cancel),
                    evidence::final_job(job)
                ),
            ));
        }
    }
    undone
}

/// The last observation inside the window of a cut-off controller claiming
/// the term it last led before the fault began.
fn stale_claim<'a>(
    history: &'a History,
    fault: &Fault,
    window: (u64, u64),
) -> Option<&'a LeaderObservation> {
    let targets: Vec<u64> = fault
        .targets
        .iter()
        .filter_map(|target| target.strip_prefix("controller-")?.parse().ok())
        .collect();
    let led_at_start = history.leaders.iter().rfind(|o| {
        o.at_ms <= window.0 && o.leader.is_some_and(|leader| targets.contains(&leader))
    })?;
    history.leaders.iter().rfind(|o| {
        o.at_ms > window.0
            && o.at_ms <= window.1
            && o.leader == led_at_start.leader
            && o.term == led_at_start.term
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkers::testing::*;

    fn partitioned(
        operations: Vec<Operation>,
        final_jobs: Vec<crate::history::FinalJob>,
    ) -> History {
        History {
            operations,
            faults: vec![fault_of(
                4,
                "isolate-leader",
                "controller-1",
                1_000,
                Some(5_000),
            )],
            leaders: vec![
                leader_at(0, Some(1), 3),
                leader_at(1_500, Some(1), 3),
                leader_at(2_000, Some(2), 4),
            ],
            final_state: final_with(final_jobs, vec![]),
        }
    }

    #[test]
    fn acknowledged_operations_that_survive_the_partition_pass() {
        assert_eq!(check(&clean_history()), Vec::new());
        let history = partitioned(
            vec![
                submit_unknown(1, "lost-but-unknown", 1_100, 4_000),
                submit_ok(2, "r2", 7, 2_100, 2_200),
                cancel_ok(3, 7, 2_300, 2_400),
            ],
            vec![final_job(7, "r2", "CANCELLED", 0)],
        );
        assert_eq!(check(&history), Vec::new());
    }

    #[test]
    fn an_acknowledged_job_lost_after_the_partition_is_flagged_with_the_stale_claim() {
        let history = partitioned(
            vec![submit_ok(1, "r1", 7, 1_200, 1_300)],
            vec![final_job(8, "r9", "PENDING", 0)],
        );
        let violations = check(&history);
        assert_eq!(violations.len(), 1, "{violations:?}");
        assert_eq!(violations[0].checker, NAME);
        assert_eq!(
            violations[0].message,
            "1 submission(s) acknowledged during fault #4 (isolate-leader) while controller 1 still claimed term 3 are not in the final state as acknowledged (jobs 7)"
        );
        assert_eq!(
            violations[0].evidence,
            vec![
                "fault #4 isolate-leader controller-1 (the leader), 1000..5000 ms".to_string(),
                "still claiming after the cut: at 1500 ms controller 1 claimed to lead term 3".to_string(),
                "op 1 (client 0) submit r1 attempt 0, 1200..1300 ms: Ok job 7 -> missing from the final state".to_string(),
            ]
        );
    }

    #[test]
    fn a_minority_id_reused_by_the_majority_is_flagged_once_per_fault() {
        let mut history = partitioned(
            vec![
                submit_ok(1, "r1", 7, 3_000, 3_100),
                submit_ok(2, "r3", 8, 3_200, 3_300),
            ],
            vec![final_job(7, "r2", "PENDING", 0)],
        );
        history.leaders.clear();
        let violations = check(&history);
        assert_eq!(violations.len(), 1, "{violations:?}");
        assert_eq!(
            violations[0].message,
            "2 submission(s) acknowledged during fault #4 (isolate-leader) are not in the final state as acknowledged (jobs 7, 8)"
        );
        assert_eq!(
            violations[0].evidence[1],
            "op 1 (client 0) submit r1 attempt 0, 3000..3100 ms: Ok job 7 -> final state: job 7 (request r2) PENDING, requeued 0"
        );
        assert!(violations[0].evidence[2].ends_with("-> missing from the final state"));
    }

    #[test]
    fn a_cancel_acknowledged_during_a_split_and_undone_is_flagged() {
        let mut history = partitioned(
            vec![
                submit_ok(1, "r1", 7, 100, 200),
                cancel_ok(2, 7, 1_200, 1_300),
            ],
            vec![final_job(7, "r1", "RUNNING", 0)],
        );
        history.faults[0].kind = "split".to_string();
        let violations = check(&history);
        assert_eq!(violations.len(), 1, "{violations:?}");
        assert!(violations[0]
            .message
            .starts_with("1 cancel(s) acknowledged during fault #4 (split)"));
        assert!(violations[0]
            .message
            .ends_with("non-terminal state (jobs 7)"));
        assert!(violations[0].evidence[2]
            .ends_with("-> final state: job 7 (request r1) RUNNING, requeued 0"));
    }

    #[test]
    fn losses_outside_partition_windows_are_left_to_acknowledged_present() {
        let after = partitioned(vec![submit_ok(1, "r1", 7, 6_000, 6_100)], vec![]);
        assert_eq!(check(&after), Vec::new());
        let mut killed = partitioned(vec![submit_ok(1, "r1", 7, 1_200, 1_300)], vec![]);
        killed.faults[0].kind = "kill-leader".to_string();
        assert_eq!(check(&killed), Vec::new());
    }
}
