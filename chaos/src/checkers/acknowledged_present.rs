//! Promises 1 and 3: an `sbatch` that printed a job id is never lost, and a
//! retried submission never makes a second job.
//!
//! Flags:
//! - submissions acknowledged `Ok(job id)` whose job is not in the final
//!   state (one violation for all of them);
//! - an acknowledged job that is there more than once, or under another
//!   request id;
//! - a request acknowledged with two different job ids (a retry that made
//!   a second job);
//! - two final jobs with the same request id, whether the request was ever
//!   acknowledged or only ever Unknown;
//! - a job whose request was refused (`Failed`) at every attempt: Failed
//!   means it certainly did not happen.
//!
//! Not flagged: a request that was only ever Unknown and has no job or one
//! job. An acknowledged job absent from the final state that a read saw
//! finished is assumed purged (`MinJobAge`), so a finished job lost by the
//! cluster escapes this checker (see [`super::unexercised`]).

use std::collections::BTreeMap;

use super::{evidence, violation, Index, Violation};
use crate::history::{History, Operation, OperationKind, Outcome};

pub const NAME: &str = "acknowledged-present";

pub fn check(history: &History) -> Vec<Violation> {
    check_indexed(&Index::new(history))
}

pub(crate) fn check_indexed(index: &Index) -> Vec<Violation> {
    let mut violations: Vec<Violation> = missing_acknowledged_jobs(index).into_iter().collect();
    violations.extend(acknowledged_jobs_as_acknowledged(index));
    violations.extend(one_job_per_acknowledged_request(index));
    violations.extend(one_final_job_per_request(index));
    violations.extend(refused_requests_have_no_job(index));
    violations
}

/// One violation for every acknowledged job missing from the final state
/// (and not explained by the purge), one evidence line per job.
fn missing_acknowledged_jobs(index: &Index) -> Option<Violation> {
    let missing: Vec<_> = index
        .acknowledged
        .iter()
        .filter(|ack| {
            !index.final_by_id.contains_key(&ack.job_id) && !index.purge_explains(ack.job_id)
        })
        .collect();
    if missing.is_empty() {
        return None;
    }
    let mut message = format!(
        "{} acknowledged job(s) are missing from the final state (jobs {})",
        missing.len(),
        evidence::id_list(missing.iter().map(|ack| ack.job_id))
    );
    if index.history.final_state.jobs.is_empty() {
        message.push_str("; the final state holds no job at all: was it read?");
    }
    let evidence = missing
        .iter()
        .map(|ack| {
            let seen = match index.last_seen.get(&ack.job_id) {
                Some((read, job)) => format!(
                    "last seen {} by read op {} ({}..{} ms)",
                    job.state, read.id, read.invoked_ms, read.completed_ms
                ),
                None => "never seen by a read".to_string(),
            };
            format!("{} -> {seen}", evidence::operation(ack.operation))
        })
        .collect();
    Some(violation(NAME, message, evidence))
}

/// An acknowledged job that is in the final state is there once, under
/// its request id.
fn acknowledged_jobs_as_acknowledged(index: &Index) -> Vec<Violation> {
    let mut violations = Vec::new();
    let mut reported_duplicates = std::collections::BTreeSet::new();
    for ack in &index.acknowledged {
        let found = index
            .final_by_id
            .get(&ack.job_id)
            .map(Vec::as_slice)
            .unwrap_or_default();
        match found {
            [] => {}
            [job] if job.request_id != ack.request_id => violations.push(violation(
                NAME,
                format!(
                    "job {} was acknowledged for request {} but the final state has it for request {}",
                    ack.job_id, ack.request_id, job.request_id
                ),
                vec![evidence::operation(ack.operation), evidence::final_job(job)],
            )),
            [_] => {}
            several => {
                if reported_duplicates.insert(ack.job_id) {
                    let mut evidence = vec![evidence::operation(ack.operation)];
                    evidence.extend(several.iter().map(|job| evidence::final_job(job)));
                    violations.push(violation(
                        NAME,
                        format!(
                            "acknowledged job {} appears {} times in the final state",
                            ack.job_id,
                            several.len()
                        ),
                        evidence,
                    ));
                }
            }
        }
    }
    violations
}

/// A request acknowledged more than once got the same job each time.
fn one_job_per_acknowledged_request(index: &Index) -> Vec<Violation> {
    let mut violations = Vec::new();
    for (request_id, acks) in index.acknowledged_by_request() {
        let mut job_ids: Vec<u32> = acks.iter().map(|ack| ack.job_id).collect();
        job_ids.sort_unstable();
        job_ids.dedup();
        if job_ids.len() > 1 {
            violations.push(violation(
                NAME,
                format!(
                    "request {request_id} was acknowledged with {} different jobs ({}): a retry made a second job",
                    job_ids.len(),
                    evidence::id_list(job_ids.iter().copied())
                ),
                acks.iter().map(|ack| evidence::operation(ack.operation)).collect(),
            ));
        }
    }
    violations
}

/// No two final jobs share a request id.
fn one_final_job_per_request(index: &Index) -> Vec<Violation> {
    let mut by_request: BTreeMap<&str, Vec<_>> = BTreeMap::new();
    for job in &index.history.final_state.jobs {
        if !job.request_id.is_empty() {
            by_request
                .entry(job.request_id.as_str())
                .or_default()
                .push(job);
        }
    }
    let operations = operations_by_request(index.history);
    let mut violations = Vec::new();
    for (request_id, jobs) in by_request {
        if jobs.len() < 2 {
            continue;
        }
        let attempts = operations
            .get(request_id)
            .map(Vec::as_slice)
            .unwrap_or_default();
        let acknowledged = attempts
            .iter()
            .any(|op| matches!(op.outcome, Outcome::Ok(_)));
        let how = if acknowledged {
            "acknowledged"
        } else if attempts.is_empty() {
            "never submitted by the workload"
        } else {
            "never acknowledged"
        };
        let mut evidence: Vec<String> = jobs.iter().map(|job| evidence::final_job(job)).collect();
        evidence.extend(attempts.iter().map(|op| evidence::operation(op)));
        violations.push(violation(
            NAME,
            format!(
                "request {request_id} ({how}) has {} jobs in the final state: a retried request made a second job",
                jobs.len()
            ),
            evidence,
        ));
    }
    violations
}

/// A request refused at every attempt made no job.
fn refused_requests_have_no_job(index: &Index) -> Vec<Violation> {
    let operations = operations_by_request(index.history);
    let mut violations = Vec::new();
    for job in &index.history.final_state.jobs {
        let Some(attempts) = operations.get(job.request_id.as_str()) else {
            continue;
        };
        if attempts
            .iter()
            .all(|op| matches!(op.outcome, Outcome::Failed(_)))
        {
            let mut evidence = vec![evidence::final_job(job)];
            evidence.extend(attempts.iter().map(|op| evidence::operation(op)));
            violations.push(violation(
                NAME,
                format!(
                    "request {} was refused at every attempt, yet job {} exists",
                    job.request_id, job.job_id
                ),
                evidence,
            ));
        }
    }
    violations
}

/// Every submission attempt, by request id.
fn operations_by_request(history: &History) -> BTreeMap<&str, Vec<&Operation>> {
    let mut by_request: BTreeMap<&str, Vec<&Operation>> = BTreeMap::new();
    for operation in &history.operations {
        if let OperationKind::Submit { request_id, .. } = &operation.kind {
            by_request
                .entry(request_id.as_str())
                .or_default()
                .push(operation);
        }
    }
    by_request
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkers::testing::*;

    fn history(operations: Vec<Operation>, jobs: Vec<crate::history::FinalJob>) -> History {
        History {
            operations,
            final_state: final_with(jobs, vec![]),
            ..History::default()
        }
    }

    #[test]
    fn acknowledged_jobs_present_once_pass() {
        assert_eq!(check(&clean_history()), Vec::new());
    }

    #[test]
    fn unknown_requests_with_no_job_or_one_job_are_not_flagged() {
        let history = history(
            vec![
                submit_unknown(1, "maybe-made", 0, 5_000),
                submit_unknown(2, "maybe-not", 0, 5_000),
                retried(submit_unknown(3, "maybe-not", 5_100, 9_000), 1),
            ],
            vec![final_job(7, "maybe-made", "PENDING", 0)],
        );
        assert_eq!(check(&history), Vec::new());
    }

    #[test]
    fn lost_acknowledged_jobs_are_flagged_together_with_their_last_sighting() {
        let history = history(
            vec![
                submit_ok(1, "r1", 1, 0, 10),
                submit_ok(2, "r2", 2, 20, 30),
                read_ok(3, 40, 50, &[(1, "PENDING", 0), (2, "RUNNING", 0)]),
                submit_ok(4, "r4", 4, 60, 70),
            ],
            vec![final_job(1, "r1", "COMPLETED", 0)],
        );
        let violations = check(&history);
        assert_eq!(violations.len(), 1, "{violations:?}");
        assert_eq!(violations[0].checker, NAME);
        assert_eq!(
            violations[0].message,
            "2 acknowledged job(s) are missing from the final state (jobs 2, 4)"
        );
        assert_eq!(
            violations[0].evidence,
            vec![
                "op 2 (client 0) submit r2 attempt 0, 20..30 ms: Ok job 2 -> last seen RUNNING by read op 3 (40..50 ms)"
                    .to_string(),
                "op 4 (client 0) submit r4 attempt 0, 60..70 ms: Ok job 4 -> never seen by a read"
                    .to_string(),
            ]
        );
    }

    #[test]
    fn a_job_under_another_request_id_is_flagged() {
        let history = history(
            vec![submit_ok(1, "r1", 1, 0, 10)],
            vec![final_job(1, "someone-else", "PENDING", 0)],
        );
        let violations = check(&history);
        assert_eq!(violations.len(), 1, "{violations:?}");
        assert!(violations[0].message.contains("for request someone-else"));
        assert!(violations[0].evidence[1].starts_with("final state: job 1 (request someone-else)"));
    }

    #[test]
    fn a_retry_acknowledged_with_a_second_job_is_flagged() {
        let history = history(
            vec![
                submit_ok(1, "r1", 1, 0, 10),
                retried(submit_ok(2, "r1", 2, 20, 30), 1),
            ],
            vec![
                final_job(1, "r1", "PENDING", 0),
                final_job(2, "r1", "PENDING", 0),
            ],
        );
        let violations = check(&history);
        let messages: Vec<&str> = violations.iter().map(|v| v.message.as_str()).collect();
        assert!(messages
            .iter()
            .any(|m| m.contains("acknowledged with 2 different jobs (1, 2)")));
        assert!(messages
            .iter()
            .any(|m| m.contains("request r1 (acknowledged) has 2 jobs")));
        assert!(violations.iter().all(|v| v.checker == NAME));
    }

    #[test]
    fn an_unknown_request_with_two_jobs_is_flagged() {
        let history = history(
            vec![
                submit_unknown(1, "r1", 0, 5_000),
                retried(submit_unknown(2, "r1", 5_100, 10_000), 1),
            ],
            vec![
                final_job(4, "r1", "PENDING", 0),
                final_job(9, "r1", "PENDING", 0),
            ],
        );
        let violations = check(&history);
        assert_eq!(violations.len(), 1, "{violations:?}");
        assert!(violations[0]
            .message
            .contains("request r1 (never acknowledged) has 2 jobs"));
        assert_eq!(violations[0].evidence.len(), 4);
    }

    #[test]
    fn a_refused_request_that_made_a_job_is_flagged() {
        let history = history(
            vec![submit_failed(1, "r1", 0, 10)],
            vec![final_job(1, "r1", "PENDING", 0)],
        );
        let violations = check(&history);
        assert_eq!(violations.len(), 1, "{violations:?}");
        assert!(violations[0]
            .message
            .contains("refused at every attempt, yet job 1 exists"));
    }

    #[test]
    fn a_job_twice_in_the_final_state_is_flagged_once() {
        let history = history(
            vec![submit_ok(1, "r1", 1, 0, 10)],
            vec![
                final_job(1, "r1", "PENDING", 0),
                final_job(1, "r1", "RUNNING", 0),
            ],
        );
        let violations = check(&history);
        assert!(violations
            .iter()
            .any(|v| v.message == "acknowledged job 1 appears 2 times in the final state"));
    }

    #[test]
    fn an_empty_final_state_is_one_violation_not_one_per_job() {
        let history = history(
            vec![submit_ok(1, "r1", 1, 0, 10), submit_ok(2, "r2", 2, 20, 30)],
            vec![],
        );
        let violations = check(&history);
        assert_eq!(violations.len(), 1, "{violations:?}");
        assert!(violations[0]
            .message
            .ends_with("the final state holds no job at all: was it read?"));
        assert_eq!(violations[0].evidence.len(), 2);
    }
}
