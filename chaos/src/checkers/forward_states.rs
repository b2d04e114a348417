//! Promise 5: job states move only forward (PENDING < RUNNING < COMPLETING <
//! a terminal state), except back to PENDING when the job is requeued.
//!
//! Each job's sightings by Ok reads are compared pairwise in real-time
//! order only: sighting A precedes B when A's read completed before B's
//! was invoked (concurrent reads may be linearized either way). With
//! key = (requeue count, rank of state), flags B when some preceding A has
//! a larger key (the state or the requeue count went backwards), or the
//! same key in a different terminal state (COMPLETED became CANCELLED).
//! The final state, read after every operation, must not be behind the
//! largest key seen. One violation per job, at its first backward move.
//!
//! Cannot detect: a backward move between two reads (never observed), a
//! move hidden by a requeue (anything may follow a larger requeue count),
//! states of jobs that are absent from the final state (purged or lost:
//! acknowledged-present's business), or names that are no state at all
//! (invariants' business; they are skipped here).

use std::collections::BTreeMap;

use super::{evidence, state_rank, violation, Index, Violation};
use crate::history::{History, ObservedJob, Operation};

pub const NAME: &str = "forward-states";

/// One read's sighting of a job.
#[derive(Clone, Copy)]
struct Sighting<'a> {
    read: &'a Operation,
    job: &'a ObservedJob,
    key: (u32, u8),
}

impl Sighting<'_> {
    /// Whether `self` may legally be followed by `next`.
    fn may_precede(&self, next: &Sighting) -> bool {
        self.key < next.key
            || (self.key == next.key && (self.key.1 < 3 || self.job.state == next.job.state))
    }

    fn describe(&self) -> String {
        evidence::observation(self.read, self.job)
    }
}

pub fn check(history: &History) -> Vec<Violation> {
    check_indexed(&Index::new(history))
}

pub(crate) fn check_indexed(index: &Index) -> Vec<Violation> {
    let mut sightings: BTreeMap<u32, Vec<Sighting>> = BTreeMap::new();
    for read in &index.reads {
        for job in read.jobs {
            if let Some(rank) = state_rank(&job.state) {
                sightings.entry(job.job_id).or_default().push(Sighting {
                    read: read.operation,
                    job,
                    key: (job.requeue_count, rank),
                });
            }
        }
    }
    let mut violations = Vec::new();
    for (job_id, mut job_sightings) in sightings {
        job_sightings.sort_by_key(|s| (s.read.completed_ms, s.read.id));
        violations.extend(backward_between_reads(job_id, &job_sightings));
        violations.extend(final_behind_reads(index, job_id, &job_sightings));
    }
    violations
}

/// The first sighting (by invocation) that some sighting completed before
/// it outranks, and how many more there are.
fn backward_between_reads(job_id: u32, by_completion: &[Sighting]) -> Option<Violation> {
    // prefix_max[i]: the first sighting with the largest key in by_completion[..=i].
    let mut prefix_max: Vec<Sighting> = Vec::with_capacity(by_completion.len());
    for sighting in by_completion {
        let best = match prefix_max.last() {
            Some(best) if best.key >= sighting.key => *best,
            _ => *sighting,
        };
        prefix_max.push(best);
    }
    let mut by_invocation: Vec<&Sighting> = by_completion.iter().collect();
    by_invocation.sort_by_key(|s| (s.read.invoked_ms, s.read.id));
    let mut backward = by_invocation.into_iter().filter_map(|later| {
        let before = by_completion.partition_point(|s| s.read.completed_ms < later.read.invoked_ms);
        let witness = prefix_max[..before].last()?;
        (!witness.may_precede(later)).then_some((*witness, *later))
    });
    let (witness, later) = backward.next()?;
    let more = backward.count();
    let mut message = format!(
        "job {job_id} went from {} (requeued {}) back to {} (requeued {})",
        witness.job.state, witness.job.requeue_count, later.job.state, later.job.requeue_count
    );
    if more > 0 {
        message.push_str(&format!("; {more} later read(s) also saw it behind"));
    }
    Some(violation(
        NAME,
        message,
        vec![witness.describe(), later.describe()],
    ))
}

/// The final state is not behind the most advanced sighting.
fn final_behind_reads(index: &Index, job_id: u32, sightings: &[Sighting]) -> Option<Violation> {
    let final_job = index.final_job(job_id)?;
    let rank = state_rank(&final_job.state)?;
    // The latest sighting with the largest key: a terminal state that
    // changed between reads is flagged once, by backward_between_reads.
    let most_advanced = sightings
        .iter()
        .fold(None::<&Sighting>, |best, s| match best {
            Some(best) if best.key > s.key => Some(best),
            _ => Some(s),
        })?;
    let final_sighting = Sighting {
        read: most_advanced.read,
        job: most_advanced.job,
        key: (final_job.requeue_count, rank),
    };
    let behind = most_advanced.key > final_sighting.key
        || (most_advanced.key == final_sighting.key
            && rank == 3
            && most_advanced.job.state != final_job.state);
    behind.then(|| {
        violation(
            NAME,
            format!(
                "job {job_id} ends in {} (requeued {}), behind {} (requeued {}) seen earlier",
                final_job.state,
                final_job.requeue_count,
                most_advanced.job.state,
                most_advanced.job.requeue_count
            ),
            vec![most_advanced.describe(), evidence::final_job(final_job)],
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkers::testing::*;

    fn history(operations: Vec<Operation>, final_jobs: Vec<crate::history::FinalJob>) -> History {
        History {
            operations,
            final_state: final_with(final_jobs, vec![]),
            ..History::default()
        }
    }

    #[test]
    fn forward_moves_and_requeues_pass() {
        assert_eq!(check(&clean_history()), Vec::new());
        let requeued = history(
            vec![
                read_ok(1, 0, 10, &[(1, "RUNNING", 0)]),
                read_ok(2, 20, 30, &[(1, "PENDING", 1)]),
                read_ok(3, 40, 50, &[(1, "RUNNING", 1)]),
            ],
            vec![final_job(1, "r1", "COMPLETED", 1)],
        );
        assert_eq!(check(&requeued), Vec::new());
    }

    #[test]
    fn concurrent_reads_may_be_ordered_either_way() {
        let history = history(
            vec![
                read_ok(1, 0, 100, &[(1, "RUNNING", 0)]),
                read_ok(2, 50, 60, &[(1, "PENDING", 0)]),
            ],
            vec![final_job(1, "r1", "RUNNING", 0)],
        );
        assert_eq!(check(&history), Vec::new());
    }

    #[test]
    fn a_state_moving_backwards_is_flagged_with_both_reads() {
        let history = history(
            vec![
                read_ok(1, 0, 10, &[(1, "RUNNING", 0)]),
                read_ok(2, 20, 30, &[(1, "PENDING", 0)]),
                read_ok(3, 40, 50, &[(1, "PENDING", 0)]),
            ],
            vec![final_job(1, "r1", "COMPLETED", 0)],
        );
        let violations = check(&history);
        assert_eq!(violations.len(), 1, "{violations:?}");
        assert_eq!(violations[0].checker, NAME);
        assert_eq!(
            violations[0].message,
            "job 1 went from RUNNING (requeued 0) back to PENDING (requeued 0); 1 later read(s) also saw it behind"
        );
        assert_eq!(
            violations[0].evidence,
            vec![
                "op 1 (client 0) read, 0..10 ms: saw job 1 RUNNING requeued 0".to_string(),
                "op 2 (client 0) read, 20..30 ms: saw job 1 PENDING requeued 0".to_string(),
            ]
        );
    }

    #[test]
    fn a_terminal_state_that_changes_is_flagged() {
        let history = history(
            vec![
                read_ok(1, 0, 10, &[(1, "COMPLETED", 0)]),
                read_ok(2, 20, 30, &[(1, "CANCELLED", 0)]),
            ],
            vec![final_job(1, "r1", "CANCELLED", 0)],
        );
        let violations = check(&history);
        assert_eq!(violations.len(), 1, "{violations:?}");
        assert!(violations[0]
            .message
            .starts_with("job 1 went from COMPLETED"));
    }

    #[test]
    fn a_requeue_count_that_shrinks_is_flagged() {
        let history = history(
            vec![
                read_ok(1, 0, 10, &[(1, "PENDING", 2)]),
                read_ok(2, 20, 30, &[(1, "RUNNING", 1)]),
            ],
            vec![],
        );
        let violations = check(&history);
        assert_eq!(violations.len(), 1, "{violations:?}");
        assert!(violations[0]
            .message
            .contains("back to RUNNING (requeued 1)"));
    }

    #[test]
    fn a_final_state_behind_the_last_sighting_is_flagged() {
        let history = history(
            vec![read_ok(1, 0, 10, &[(1, "COMPLETING", 0)])],
            vec![final_job(1, "r1", "RUNNING", 0)],
        );
        let violations = check(&history);
        assert_eq!(violations.len(), 1, "{violations:?}");
        assert_eq!(
            violations[0].message,
            "job 1 ends in RUNNING (requeued 0), behind COMPLETING (requeued 0) seen earlier"
        );
        assert_eq!(
            violations[0].evidence[1],
            "final state: job 1 (request r1) RUNNING, requeued 0"
        );
    }
}
