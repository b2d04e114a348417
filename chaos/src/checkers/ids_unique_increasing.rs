//! Promise 2: a job id is never given to two jobs; ids only increase.
//!
//! Flags:
//! - one job id acknowledged for two different request ids;
//! - acknowledged ids out of real-time order: submission A completed (Ok)
//!   before submission B was invoked (Ok), yet id(A) > id(B). Equal ids are
//!   left to the first rule (the same request retried may get the same id);
//!   times are whole milliseconds, so only A.completed < B.invoked counts.
//!   B's invocation is that of the first attempt with its request id: a
//!   retry is answered with the job its first attempt may have created;
//! - a job id twice in the final state.
//!
//! Cannot detect: the order of jobs whose submission was Unknown (their
//! proposal may commit long after the client gave up, so a late, large id
//! is legal), nor ids handed out within one millisecond.

use std::collections::{BTreeMap, HashMap};

use super::{evidence, violation, Acknowledged, Index, Violation};
use crate::history::{History, OperationKind};

pub const NAME: &str = "ids-unique-increasing";

pub fn check(history: &History) -> Vec<Violation> {
    check_indexed(&Index::new(history))
}

pub(crate) fn check_indexed(index: &Index) -> Vec<Violation> {
    let mut violations = one_request_per_id(index);
    violations.extend(increasing_in_real_time(index));
    violations.extend(unique_in_final_state(index));
    violations
}

fn one_request_per_id(index: &Index) -> Vec<Violation> {
    let mut by_id: BTreeMap<u32, Vec<&Acknowledged>> = BTreeMap::new();
    for ack in &index.acknowledged {
        by_id.entry(ack.job_id).or_default().push(ack);
    }
    by_id
        .into_iter()
        .filter_map(|(job_id, acks)| {
            let mut requests: Vec<&str> = acks.iter().map(|ack| ack.request_id).collect();
            requests.sort_unstable();
            requests.dedup();
            (requests.len() > 1).then(|| {
                violation(
                    NAME,
                    format!(
                        "job id {job_id} was acknowledged for {} different requests ({})",
                        requests.len(),
                        requests.join(", ")
                    ),
                    acks.iter()
                        .map(|ack| evidence::operation(ack.operation))
                        .collect(),
                )
            })
        })
        .collect()
}

/// When each request id was first sent, over all its attempts whatever
/// their outcome.
fn first_invocations<'a>(index: &Index<'a>) -> HashMap<&'a str, u64> {
    let mut first: HashMap<&str, u64> = HashMap::new();
    for operation in &index.history.operations {
        if let OperationKind::Submit { request_id, .. } = &operation.kind {
            let invoked = first.entry(request_id).or_insert(operation.invoked_ms);
            *invoked = (*invoked).min(operation.invoked_ms);
        }
    }
    first
}

/// For each Ok submission B, the largest id among Ok submissions that
/// completed before B's request was first sent must be smaller. One
/// violation per witness A, naming every B it precedes.
fn increasing_in_real_time(index: &Index) -> Vec<Violation> {
    let first_invoked = first_invocations(index);
    let mut by_completion: Vec<&Acknowledged> = index.acknowledged.iter().collect();
    by_completion.sort_by_key(|ack| (ack.operation.completed_ms, ack.operation.id));
    // prefix_max[i]: the ack with the largest id among by_completion[..=i].
    let mut prefix_max: Vec<&Acknowledged> = Vec::with_capacity(by_completion.len());
    for ack in &by_completion {
        let best = match prefix_max.last() {
            Some(best) if best.job_id >= ack.job_id => *best,
            _ => *ack,
        };
        prefix_max.push(best);
    }
    let mut out_of_order: BTreeMap<u64, (&Acknowledged, Vec<&Acknowledged>)> = BTreeMap::new();
    for later in &index.acknowledged {
        let invoked = first_invoked[later.request_id];
        let before = by_completion.partition_point(|ack| ack.operation.completed_ms < invoked);
        if before == 0 {
            continue;
        }
        let witness = prefix_max[before - 1];
        if witness.job_id > later.job_id {
            out_of_order
                .entry(witness.operation.id)
                .or_insert_with(|| (witness, Vec::new()))
                .1
                .push(later);
        }
    }
    out_of_order
        .into_values()
        .map(|(witness, later)| {
            let mut evidence = vec![evidence::operation(witness.operation)];
            evidence.extend(later.iter().map(|ack| evidence::operation(ack.operation)));
            violation(
                NAME,
                format!(
                    "job {} was acknowledged before {} later submission(s) were invoked, yet they got smaller ids ({})",
                    witness.job_id,
                    later.len(),
                    evidence::id_list(later.iter().map(|ack| ack.job_id))
                ),
                evidence,
            )
        })
        .collect()
}

fn unique_in_final_state(index: &Index) -> Vec<Violation> {
    let mut duplicated: Vec<_> = index
        .final_by_id
        .iter()
        .filter(|(_, jobs)| jobs.len() > 1)
        .collect();
    duplicated.sort_by_key(|(job_id, _)| **job_id);
    duplicated
        .into_iter()
        .map(|(job_id, jobs)| {
            violation(
                NAME,
                format!(
                    "job id {job_id} belongs to {} jobs in the final state",
                    jobs.len()
                ),
                jobs.iter().map(|job| evidence::final_job(job)).collect(),
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkers::testing::*;
    use crate::history::Operation;

    fn history(operations: Vec<Operation>) -> History {
        History {
            operations,
            ..History::default()
        }
    }

    #[test]
    fn increasing_unique_ids_pass() {
        assert_eq!(check(&clean_history()), Vec::new());
    }

    #[test]
    fn concurrent_submissions_may_get_ids_in_either_order() {
        let history = history(vec![
            submit_ok(1, "a", 2, 0, 100),
            submit_ok(2, "b", 1, 50, 150),
            // Completes exactly when the next is invoked: not "before".
            submit_ok(3, "c", 4, 200, 300),
            submit_ok(4, "d", 3, 300, 400),
        ]);
        assert_eq!(check(&history), Vec::new());
    }

    #[test]
    fn unknown_submissions_that_commit_late_with_large_ids_are_not_flagged() {
        let mut history = history(vec![
            submit_unknown(1, "late", 0, 5_000),
            submit_ok(2, "b", 3, 5_100, 5_200),
            retried(submit_ok(3, "b", 3, 5_300, 5_400), 1),
        ]);
        // The Unknown submission committed after b, with a larger id.
        history.final_state = final_with(
            vec![
                final_job(3, "b", "PENDING", 0),
                final_job(4, "late", "PENDING", 0),
            ],
            vec![],
        );
        assert_eq!(check(&history), Vec::new());
    }

    #[test]
    fn a_retry_is_ordered_by_its_first_attempt() {
        // "b" was first sent at 0 and committed as job 1 while its first
        // attempt timed out; "a" was acknowledged as job 2 meanwhile; the
        // retry of "b" is answered with job 1. Seen from 0, b and a overlap.
        let history = history(vec![
            submit_unknown(1, "b", 0, 5_000),
            submit_ok(2, "a", 2, 100, 4_000),
            retried(submit_ok(3, "b", 1, 5_100, 5_200), 1),
        ]);
        assert_eq!(check(&history), Vec::new());
        // Without the first attempt, the retry alone would be out of order.
        let history = history_without_first(history);
        assert_eq!(check(&history).len(), 1);
    }

    fn history_without_first(mut history: History) -> History {
        history.operations.remove(0);
        history
    }

    #[test]
    fn an_id_given_to_two_requests_is_flagged() {
        let history = history(vec![
            submit_ok(1, "a", 5, 0, 10),
            submit_ok(2, "b", 5, 5, 15),
        ]);
        let violations = check(&history);
        assert_eq!(violations.len(), 1, "{violations:?}");
        assert_eq!(violations[0].checker, NAME);
        assert_eq!(
            violations[0].message,
            "job id 5 was acknowledged for 2 different requests (a, b)"
        );
        assert_eq!(violations[0].evidence.len(), 2);
    }

    #[test]
    fn a_smaller_id_after_a_completed_submission_is_flagged_against_the_witness() {
        let history = history(vec![
            submit_ok(1, "a", 1, 0, 10),
            submit_ok(2, "b", 9, 20, 30),
            submit_ok(3, "c", 3, 40, 50),
            submit_ok(4, "d", 4, 60, 70),
            submit_ok(5, "e", 10, 80, 90),
        ]);
        let violations = check(&history);
        assert_eq!(violations.len(), 1, "{violations:?}");
        assert_eq!(
            violations[0].message,
            "job 9 was acknowledged before 2 later submission(s) were invoked, yet they got smaller ids (3, 4)"
        );
        assert!(violations[0].evidence[0].starts_with("op 2 "));
        assert!(violations[0].evidence[1].starts_with("op 3 "));
        assert!(violations[0].evidence[2].starts_with("op 4 "));
    }

    #[test]
    fn an_id_twice_in_the_final_state_is_flagged() {
        let mut history = history(vec![]);
        history.final_state = final_with(
            vec![
                final_job(2, "a", "PENDING", 0),
                final_job(2, "b", "PENDING", 0),
            ],
            vec![],
        );
        let violations = check(&history);
        assert_eq!(violations.len(), 1, "{violations:?}");
        assert_eq!(
            violations[0].message,
            "job id 2 belongs to 2 jobs in the final state"
        );
    }
}
