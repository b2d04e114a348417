//! What the report measures in a history: how long failovers took, how
//! late job ends were committed, how many operations of each kind ended
//! how, and when the cluster acknowledged no submission at all.

use std::collections::BTreeMap;

use serde::Serialize;

use super::stats::{stats, Stats};
use crate::checkers;
use crate::history::{Fault, History, OkValue, Operation, OperationKind, Outcome};

/// A span with submissions attempted and none acknowledged shorter than
/// this is ordinary latency, not unavailability.
pub const UNAVAILABLE_GAP_MIN_MS: u64 = 1_000;

/// A span of time, in ms since the run's start.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Window {
    pub start_ms: u64,
    pub end_ms: u64,
}

impl Window {
    pub fn length_ms(&self) -> u64 {
        self.end_ms.saturating_sub(self.start_ms)
    }

    fn contains(&self, ms: u64) -> bool {
        self.start_ms <= ms && ms <= self.end_ms
    }
}

/// How one fault that hit the leader was recovered from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Failover {
    pub fault_id: u64,
    /// From the fault's start to the first acknowledgement of a submission
    /// invoked after it; `None` if none was acknowledged.
    pub recovered_ms: Option<u64>,
}

/// Operations of one kind, by outcome.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct OutcomeCounts {
    pub ok: usize,
    pub failed: usize,
    pub unknown: usize,
}

impl OutcomeCounts {
    pub fn total(&self) -> usize {
        self.ok + self.failed + self.unknown
    }
}

/// Everything the report measures.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Measures {
    /// The run's end: the latest time the history mentions.
    pub end_ms: u64,
    /// One per fault that hit the leader, in fault order.
    pub failovers: Vec<Failover>,
    pub failover_ms: Option<Stats>,
    /// `end_committed_ms - script_ended_ms` of jobs whose script ended
    /// while no leader was known or during a fault.
    pub unreported_disturbed_ms: Option<Stats>,
    pub unreported_disturbed_count: usize,
    /// The same for the other jobs.
    pub unreported_steady_ms: Option<Stats>,
    pub unreported_steady_count: usize,
    /// By kind: `submit`, `cancel`, `read`.
    pub operations: BTreeMap<&'static str, OutcomeCounts>,
    pub unavailable: Vec<Window>,
}

impl Measures {
    pub fn new(history: &History) -> Measures {
        let end_ms = checkers::end_ms(history);
        let failovers: Vec<Failover> = history
            .faults
            .iter()
            .filter(|fault| fault.hit_leader)
            .map(|fault| failover(history, fault))
            .collect();
        let recovered: Vec<u64> = failovers.iter().filter_map(|f| f.recovered_ms).collect();
        let (disturbed, steady) = unreported(history, end_ms);
        Measures {
            end_ms,
            failover_ms: stats(&recovered),
            failovers,
            unreported_disturbed_ms: stats(&disturbed),
            unreported_disturbed_count: disturbed.len(),
            unreported_steady_ms: stats(&steady),
            unreported_steady_count: steady.len(),
            operations: operation_counts(history),
            unavailable: unavailable(history),
        }
    }

    /// The failover of a fault, if it hit the leader.
    pub fn failover_of(&self, fault_id: u64) -> Option<&Failover> {
        self.failovers.iter().find(|f| f.fault_id == fault_id)
    }
}

fn is_ok_submission(op: &Operation) -> bool {
    matches!(op.kind, OperationKind::Submit { .. })
        && matches!(op.outcome, Outcome::Ok(OkValue::Submitted { .. }))
}

/// The earliest completion among Ok submissions invoked at or after the
/// fault's start (one invoked first may be stuck on the old leader and
/// succeed later than the cluster recovered).
fn failover(history: &History, fault: &Fault) -> Failover {
    let recovered_ms = history
        .operations
        .iter()
        .filter(|op| is_ok_submission(op) && op.invoked_ms >= fault.started_ms)
        .map(|op| op.completed_ms - fault.started_ms.min(op.completed_ms))
        .min();
    Failover {
        fault_id: fault.id,
        recovered_ms,
    }
}

/// Delays between a script's end and the commit of that end, split into
/// (disturbed, steady).
fn unreported(history: &History, end_ms: u64) -> (Vec<u64>, Vec<u64>) {
    let faults: Vec<Window> = history
        .faults
        .iter()
        .map(|fault| Window {
            start_ms: fault.started_ms,
            end_ms: fault.healed_ms.unwrap_or(end_ms),
        })
        .collect();
    let mut disturbed = Vec::new();
    let mut steady = Vec::new();
    for job in &history.final_state.jobs {
        let (Some(committed), Some(ended)) = (job.end_committed_ms, job.script_ended_ms) else {
            continue;
        };
        let delay = committed.saturating_sub(ended);
        let in_fault = faults.iter().any(|window| window.contains(ended));
        if in_fault || !leader_known_at(history, ended) {
            disturbed.push(delay);
        } else {
            steady.push(delay);
        }
    }
    (disturbed, steady)
}

/// Whether the latest leader observation at or before `ms` names a leader
/// (true when leaders were not observed at all: nothing says otherwise).
fn leader_known_at(history: &History, ms: u64) -> bool {
    if history.leaders.is_empty() {
        return true;
    }
    let before = history.leaders.partition_point(|o| o.at_ms <= ms);
    before > 0 && history.leaders[before - 1].leader.is_some()
}

fn operation_counts(history: &History) -> BTreeMap<&'static str, OutcomeCounts> {
    let mut counts: BTreeMap<&'static str, OutcomeCounts> = ["submit", "cancel", "read"]
        .into_iter()
        .map(|kind| (kind, OutcomeCounts::default()))
        .collect();
    for op in &history.operations {
        let kind = match op.kind {
            OperationKind::Submit { .. } => "submit",
            OperationKind::Cancel { .. } => "cancel",
            OperationKind::Read => "read",
        };
        let entry = counts.entry(kind).or_default();
        match op.outcome {
            Outcome::Ok(_) => entry.ok += 1,
            Outcome::Failed(_) => entry.failed += 1,
            Outcome::Unknown(_) => entry.unknown += 1,
        }
    }
    counts
}

/// Spans of at least [`UNAVAILABLE_GAP_MIN_MS`] during which submissions
/// were in flight and none was acknowledged: each runs from the later of
/// the previous acknowledgement and the first attempt still in flight
/// after it, to the next acknowledgement (or the last attempt's end).
pub fn unavailable(history: &History) -> Vec<Window> {
    let submissions: Vec<&Operation> = history
        .operations
        .iter()
        .filter(|op| matches!(op.kind, OperationKind::Submit { .. }))
        .collect();
    let mut acknowledged: Vec<u64> = submissions
        .iter()
        .filter(|op| is_ok_submission(op))
        .map(|op| op.completed_ms)
        .collect();
    acknowledged.sort_unstable();
    acknowledged.dedup();
    let mut bounds: Vec<(Option<u64>, Option<u64>)> = Vec::with_capacity(acknowledged.len() + 1);
    let mut previous = None;
    for &ack in &acknowledged {
        bounds.push((previous, Some(ack)));
        previous = Some(ack);
    }
    bounds.push((previous, None));
    bounds
        .into_iter()
        .filter_map(|(after, before)| gap(&submissions, after, before))
        .filter(|window| window.length_ms() >= UNAVAILABLE_GAP_MIN_MS)
        .collect()
}

/// The unacknowledged span between two acknowledgements (`None`: the run's
/// start or end), if submissions were in flight in it.
fn gap(submissions: &[&Operation], after: Option<u64>, before: Option<u64>) -> Option<Window> {
    if let (Some(after), Some(before)) = (after, before) {
        if before - after < UNAVAILABLE_GAP_MIN_MS {
            return None;
        }
    }
    let in_flight = submissions.iter().filter(|op| {
        after.is_none_or(|after| op.completed_ms > after)
            && before.is_none_or(|before| op.invoked_ms < before)
    });
    let (first_invoked, last_completed) =
        in_flight.fold(None, |span: Option<(u64, u64)>, op| {
            Some(match span {
                Some((first, last)) => (first.min(op.invoked_ms), last.max(op.completed_ms)),
                None => (op.invoked_ms, op.completed_ms),
            })
        })?;
    Some(Window {
        start_ms: after.map_or(first_invoked, |after| after.max(first_invoked)),
        end_ms: before.unwrap_or(last_completed),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkers::testing::*;

    fn with_times(
        mut job: crate::history::FinalJob,
        ended: u64,
        committed: u64,
    ) -> crate::history::FinalJob {
        job.script_ended_ms = Some(ended);
        job.end_committed_ms = Some(committed);
        job
    }

    #[test]
    fn failover_is_the_first_acknowledgement_of_a_submission_invoked_after_the_fault() {
        let history = History {
            operations: vec![
                submit_ok(1, "before", 1, 900, 1_050),
                submit_ok(2, "stuck", 2, 1_010, 4_000),
                submit_unknown(3, "lost", 1_100, 6_100),
                submit_ok(4, "first", 3, 1_500, 2_300),
            ],
            faults: vec![
                fault_of(1, "kill-leader", "controller-1", 1_000, Some(3_000)),
                fault_of(2, "kill-agent", "agent-node001", 5_000, Some(6_000)),
                fault_of(3, "pause-leader", "controller-2", 7_000, Some(8_000)),
            ],
            ..History::default()
        };
        let mut history = history;
        history.faults[1].hit_leader = false;
        let measures = Measures::new(&history);
        assert_eq!(
            measures.failovers,
            vec![
                Failover {
                    fault_id: 1,
                    recovered_ms: Some(1_300)
                },
                Failover {
                    fault_id: 3,
                    recovered_ms: None
                },
            ]
        );
        assert_eq!(measures.failover_ms.map(|s| s.max), Some(1_300));
    }

    #[test]
    fn unreported_delays_split_between_disturbed_and_steady() {
        let mut history = History {
            faults: vec![fault_of(
                1,
                "kill-leader",
                "controller-1",
                1_000,
                Some(3_000),
            )],
            leaders: vec![
                leader_at(0, Some(1), 1),
                leader_at(5_000, None, 1),
                leader_at(6_000, Some(2), 2),
            ],
            ..History::default()
        };
        history.final_state.jobs = vec![
            with_times(final_job(1, "a", "COMPLETED", 0), 500, 520),
            with_times(final_job(2, "b", "COMPLETED", 0), 2_000, 3_500),
            with_times(final_job(3, "c", "COMPLETED", 0), 5_500, 6_200),
            with_times(final_job(4, "d", "COMPLETED", 0), 7_000, 7_040),
            final_job(5, "e", "PENDING", 0),
        ];
        let measures = Measures::new(&history);
        assert_eq!(measures.unreported_disturbed_count, 2);
        assert_eq!(
            measures.unreported_disturbed_ms.map(|s| (s.min, s.max)),
            Some((700, 1_500))
        );
        assert_eq!(measures.unreported_steady_count, 2);
        assert_eq!(
            measures.unreported_steady_ms.map(|s| (s.min, s.max)),
            Some((20, 40))
        );
    }

    #[test]
    fn operations_are_counted_by_kind_and_outcome() {
        let measures = Measures::new(&clean_history());
        assert_eq!(
            measures.operations["submit"],
            OutcomeCounts {
                ok: 3,
                failed: 0,
                unknown: 1
            }
        );
        assert_eq!(
            measures.operations["cancel"],
            OutcomeCounts {
                ok: 1,
                failed: 0,
                unknown: 0
            }
        );
        assert_eq!(measures.operations["read"].total(), 3);
    }

    #[test]
    fn unavailability_spans_attempts_without_acknowledgement() {
        let history = History {
            operations: vec![
                submit_ok(1, "a", 1, 0, 100),
                submit_ok(2, "b", 2, 150, 200),
                // Leader lost: attempts from 300 time out; the next Ok at 4000.
                submit_unknown(3, "c", 300, 2_300),
                submit_ok(4, "d", 5, 2_400, 4_000),
                submit_ok(5, "e", 6, 4_100, 4_200),
                // Ordinary gap without attempts: not unavailability.
                submit_ok(6, "f", 7, 9_000, 9_100),
                // At the end: attempts that never succeed.
                submit_unknown(7, "g", 9_200, 14_200),
            ],
            ..History::default()
        };
        assert_eq!(
            unavailable(&history),
            vec![
                Window {
                    start_ms: 300,
                    end_ms: 4_000
                },
                Window {
                    start_ms: 9_200,
                    end_ms: 14_200
                },
            ]
        );
    }
}
