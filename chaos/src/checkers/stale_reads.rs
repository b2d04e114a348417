//! Promise 6, reads: reads are linearizable (`ensure_linearizable` on the
//! leader), so no read is served from a deposed leader's old state.
//!
//! A job is known to exist from the earliest completion of an Ok
//! submission that returned its id or of an Ok read that saw it, and known
//! to still exist after time t if the final state has it or a read invoked
//! after t saw it (jobs are never deleted, only purged once finished, and a
//! purged job never comes back). An Ok read invoked after a job was known
//! to exist, and completed before it was last known to exist, must have
//! seen it; if not, the read was stale. One violation per stale read.
//!
//! Cannot detect: a stale read that happens to miss nothing (the state
//! changed little), a stale read of a job's state rather than of its
//! existence (forward-states catches the ones that look backwards), nor
//! stale reads of jobs no later read or final state shows.

use std::collections::{HashMap, HashSet};

use super::{evidence, violation, Index, Violation};
use crate::history::{History, Operation};

pub const NAME: &str = "stale-reads";

/// The evidence shown per stale read, at most.
const MISSING_SHOWN_MAX: usize = 5;

/// What is known of one job's lifetime.
struct Lifetime<'a> {
    /// The operation that first showed it existed, and when it completed.
    born: &'a Operation,
    /// The latest invocation of a read that saw it, and that read.
    last_seen: Option<&'a Operation>,
    in_final_state: bool,
}

impl Lifetime<'_> {
    fn exists_after(&self, ms: u64) -> bool {
        self.in_final_state || self.last_seen.is_some_and(|read| read.invoked_ms > ms)
    }
}

pub fn check(history: &History) -> Vec<Violation> {
    check_indexed(&Index::new(history))
}

pub(crate) fn check_indexed(index: &Index) -> Vec<Violation> {
    let lifetimes = lifetimes(index);
    let mut violations = Vec::new();
    for read in &index.reads {
        let seen: HashSet<u32> = read.jobs.iter().map(|job| job.job_id).collect();
        let mut missing: Vec<(u32, &Lifetime)> = lifetimes
            .iter()
            .filter(|(job_id, life)| {
                life.born.completed_ms < read.operation.invoked_ms
                    && life.exists_after(read.operation.completed_ms)
                    && !seen.contains(job_id)
            })
            .map(|(job_id, life)| (*job_id, life))
            .collect();
        if missing.is_empty() {
            continue;
        }
        missing.sort_by_key(|(job_id, _)| *job_id);
        let mut evidence = vec![evidence::operation(read.operation)];
        for (job_id, life) in missing.iter().take(MISSING_SHOWN_MAX) {
            evidence.push(format!(
                "job {job_id} existed since: {}",
                evidence::operation(life.born)
            ));
            match life
                .last_seen
                .filter(|r| r.invoked_ms > read.operation.completed_ms)
            {
                Some(later) => evidence.push(format!(
                    "job {job_id} still seen by: {}",
                    evidence::operation(later)
                )),
                None => evidence.push(format!("job {job_id} is in the final state")),
            }
        }
        violations.push(violation(
            NAME,
            format!(
                "read op {} missed {} job(s) that existed before it was invoked and after it completed ({}): a stale read",
                read.operation.id,
                missing.len(),
                evidence::id_list(missing.iter().map(|(job_id, _)| *job_id))
            ),
            evidence,
        ));
    }
    violations
}

fn lifetimes<'a>(index: &Index<'a>) -> HashMap<u32, Lifetime<'a>> {
    let mut lifetimes: HashMap<u32, Lifetime> = HashMap::new();
    let mut born = |job_id: u32, operation: &'a Operation| {
        let life = lifetimes.entry(job_id).or_insert(Lifetime {
            born: operation,
            last_seen: None,
            in_final_state: false,
        });
        if operation.completed_ms < life.born.completed_ms {
            life.born = operation;
        }
    };
    for ack in &index.acknowledged {
        born(ack.job_id, ack.operation);
    }
    for read in &index.reads {
        for job in read.jobs {
            born(job.job_id, read.operation);
        }
    }
    for read in &index.reads {
        for job in read.jobs {
            if let Some(life) = lifetimes.get_mut(&job.job_id) {
                if life
                    .last_seen
                    .is_none_or(|last| last.invoked_ms < read.operation.invoked_ms)
                {
                    life.last_seen = Some(read.operation);
                }
            }
        }
    }
    for (job_id, life) in lifetimes.iter_mut() {
        life.in_final_state = index.final_by_id.contains_key(job_id);
    }
    lifetimes
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkers::testing::*;

    #[test]
    fn reads_that_see_every_existing_job_pass() {
        assert_eq!(check(&clean_history()), Vec::new());
    }

    #[test]
    fn reads_concurrent_with_a_submission_may_miss_it() {
        let history = History {
            operations: vec![
                submit_ok(1, "r1", 1, 0, 100),
                read_ok(2, 50, 60, &[]),
                read_ok(3, 100, 110, &[]),
            ],
            final_state: final_with(vec![final_job(1, "r1", "PENDING", 0)], vec![]),
            ..History::default()
        };
        assert_eq!(check(&history), Vec::new());
    }

    #[test]
    fn a_purged_job_may_be_missed_by_later_reads() {
        let history = History {
            operations: vec![
                read_ok(1, 0, 10, &[(1, "COMPLETED", 0)]),
                read_ok(2, 20, 30, &[]),
            ],
            final_state: final_with(vec![], vec![]),
            ..History::default()
        };
        assert_eq!(check(&history), Vec::new());
    }

    #[test]
    fn a_read_missing_an_acknowledged_job_that_still_exists_is_flagged() {
        let history = History {
            operations: vec![
                submit_ok(1, "r1", 1, 0, 10),
                submit_ok(2, "r2", 2, 20, 30),
                read_ok(3, 40, 50, &[(1, "PENDING", 0)]),
                read_ok(4, 60, 70, &[(1, "PENDING", 0), (2, "PENDING", 0)]),
            ],
            final_state: final_with(vec![final_job(1, "r1", "PENDING", 0)], vec![]),
            ..History::default()
        };
        let violations = check(&history);
        assert_eq!(violations.len(), 1, "{violations:?}");
        assert_eq!(violations[0].checker, NAME);
        assert_eq!(
            violations[0].message,
            "read op 3 missed 1 job(s) that existed before it was invoked and after it completed (2): a stale read"
        );
        assert_eq!(
            violations[0].evidence,
            vec![
                "op 3 (client 0) read, 40..50 ms: Ok 1 jobs".to_string(),
                "job 2 existed since: op 2 (client 0) submit r2 attempt 0, 20..30 ms: Ok job 2"
                    .to_string(),
                "job 2 still seen by: op 4 (client 0) read, 60..70 ms: Ok 2 jobs".to_string(),
            ]
        );
    }
}
