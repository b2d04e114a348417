//! One checker per promise of the design, each a pure function from the
//! recorded [`History`] to the [`Violation`]s it finds.
//!
//! Outcomes are read as Jepsen reads them: `Ok` happened, `Failed` certainly
//! did not, `Unknown` may or may not have happened, so a checker never
//! flags something an Unknown operation could explain.
//!
//! Finished jobs are purged from the state after `MinJobAge`, and the
//! history does not say which were. A job that is absent from the final
//! state but that an Ok read saw in a terminal state is therefore assumed
//! purged, not lost; [`unexercised`] counts them.

pub mod accounted_once;
pub mod acknowledged_present;
pub mod evidence;
pub mod forward_states;
pub mod ids_unique_increasing;
pub mod invariants;
pub mod isolated_leader;
pub mod jobs_survive_failovers;
pub mod one_leader_per_term;
pub mod ran_at_most_once;
pub mod serves_after_healing;
pub mod stale_reads;

#[cfg(test)]
pub(crate) mod testing;

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::Serialize;

pub use crate::history::Violation;
use crate::history::{FinalJob, History, ObservedJob, OkValue, Operation, OperationKind, Outcome};

/// A checker: its name (as it appears in [`Violation::checker`]), the
/// promise it checks, and the check.
#[derive(Clone, Copy, Debug)]
pub struct Checker {
    pub name: &'static str,
    pub promise: &'static str,
    pub check: fn(&History) -> Vec<Violation>,
    /// The same check on an index built once for all checkers.
    indexed: fn(&Index) -> Vec<Violation>,
}

/// Every checker, in the order of the design's promises.
pub const CHECKERS: [Checker; 11] = [
    Checker {
        name: acknowledged_present::NAME,
        promise: "1, 3: an acknowledged job is never lost; a retried submission never makes a second job",
        check: acknowledged_present::check,
        indexed: acknowledged_present::check_indexed,
    },
    Checker {
        name: ids_unique_increasing::NAME,
        promise: "2: a job id is never given to two jobs; ids only increase",
        check: ids_unique_increasing::check,
        indexed: ids_unique_increasing::check_indexed,
    },
    Checker {
        name: ran_at_most_once::NAME,
        promise: "3: a job's script starts at most once per allocation",
        check: ran_at_most_once::check,
        indexed: ran_at_most_once::check_indexed,
    },
    Checker {
        name: invariants::NAME,
        promise: "4: no node over-allocated (the controllers' invariants); legal job states",
        check: invariants::check,
        indexed: invariants::check_indexed,
    },
    Checker {
        name: forward_states::NAME,
        promise: "5: job states move only forward",
        check: forward_states::check,
        indexed: forward_states::check_indexed,
    },
    Checker {
        name: isolated_leader::NAME,
        promise: "6: a leader cut off from the majority cannot commit; success only for what was committed",
        check: isolated_leader::check,
        indexed: isolated_leader::check_indexed,
    },
    Checker {
        name: stale_reads::NAME,
        promise: "6: reads are linearizable (no deposed leader serves an old state)",
        check: stale_reads::check,
        indexed: stale_reads::check_indexed,
    },
    Checker {
        name: one_leader_per_term::NAME,
        promise: "6: at most one leader per term (Raft's election safety)",
        check: one_leader_per_term::check,
        indexed: one_leader_per_term::check_indexed,
    },
    Checker {
        name: accounted_once::NAME,
        promise: "7: every finished job reaches the accounting database exactly once",
        check: accounted_once::check,
        indexed: accounted_once::check_indexed,
    },
    Checker {
        name: jobs_survive_failovers::NAME,
        promise: "8: running jobs keep running through any controller failover",
        check: jobs_survive_failovers::check,
        indexed: jobs_survive_failovers::check_indexed,
    },
    Checker {
        name: serves_after_healing::NAME,
        promise: "liveness: the cluster serves once every fault is healed",
        check: serves_after_healing::check,
        indexed: serves_after_healing::check_indexed,
    },
];

/// Runs every checker; violations come grouped by checker, in the order
/// of [`CHECKERS`].
pub fn all(history: &History) -> Vec<Violation> {
    let index = Index::new(history);
    CHECKERS
        .iter()
        .flat_map(|checker| (checker.indexed)(&index))
        .collect()
}

/// Something the harness does not check, and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct NotChecked {
    pub what: String,
    pub why: String,
}

impl NotChecked {
    fn new(what: impl Into<String>, why: impl Into<String>) -> NotChecked {
        NotChecked {
            what: what.into(),
            why: why.into(),
        }
    }
}

/// The promises no checker covers, in any run.
pub fn not_checked() -> Vec<NotChecked> {
    vec![NotChecked::new(
        "promise 7, second half: a database outage never stops scheduling",
        "the harness runs the embedded SQLite database and injects no database faults; tests/accounting.rs stops a real Galera cluster while jobs run",
    )]
}

/// What this particular run left unchecked: checkers that had nothing to
/// look at, and jobs assumed purged.
pub fn unexercised(history: &History) -> Vec<NotChecked> {
    let index = Index::new(history);
    let mut notes = Vec::new();
    if !history
        .faults
        .iter()
        .any(|fault| isolated_leader::isolates(&fault.kind))
    {
        notes.push(NotChecked::new(
            isolated_leader::NAME,
            "no isolate-leader or split fault was injected in this run",
        ));
    }
    if index.reads.is_empty() {
        notes.push(NotChecked::new(
            format!("{}, {}", forward_states::NAME, stale_reads::NAME),
            "no read succeeded in this run",
        ));
    }
    if history.final_state.controllers.is_empty() {
        notes.push(NotChecked::new(
            format!("{} (controller alarms)", invariants::NAME),
            "the final state holds no controller report",
        ));
    }
    if history.final_state.runs.is_empty() && !history.final_state.jobs.is_empty() {
        notes.push(NotChecked::new(
            format!("{} (repeated runs)", ran_at_most_once::NAME),
            "no run of any job was recorded on the nodes",
        ));
    }
    if history.leaders.is_empty() {
        notes.push(NotChecked::new(
            one_leader_per_term::NAME,
            "no leader was observed in this run",
        ));
    }
    let purged = index.assumed_purged();
    if !purged.is_empty() {
        notes.push(NotChecked::new(
            format!("presence of {} finished job(s) in the final state", purged.len()),
            format!(
                "absent from the final state but seen finished by a read, so assumed purged after MinJobAge (jobs {})",
                evidence::id_list(purged.iter().copied())
            ),
        ));
    }
    notes
}

/// An acknowledged submission: the operation, its request id and job id.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Acknowledged<'a> {
    pub operation: &'a Operation,
    pub request_id: &'a str,
    pub job_id: u32,
}

/// A successful read and what it saw.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Read<'a> {
    pub operation: &'a Operation,
    pub jobs: &'a [ObservedJob],
}

/// The views of a history the checkers share.
pub(crate) struct Index<'a> {
    pub history: &'a History,
    /// Ok submissions, in invocation order.
    pub acknowledged: Vec<Acknowledged<'a>>,
    /// Ok reads, in invocation order.
    pub reads: Vec<Read<'a>>,
    /// Final jobs by id (several when the state is broken).
    pub final_by_id: HashMap<u32, Vec<&'a FinalJob>>,
    /// The last Ok read (by completion) that saw each job, and what it saw.
    pub last_seen: HashMap<u32, (&'a Operation, &'a ObservedJob)>,
    /// Jobs some Ok read saw in a terminal state.
    pub seen_terminal: BTreeSet<u32>,
}

impl<'a> Index<'a> {
    pub fn new(history: &'a History) -> Index<'a> {
        let mut acknowledged = Vec::new();
        let mut reads = Vec::new();
        for operation in &history.operations {
            match (&operation.kind, &operation.outcome) {
                (
                    OperationKind::Submit { request_id, .. },
                    Outcome::Ok(OkValue::Submitted { job_id }),
                ) => acknowledged.push(Acknowledged {
                    operation,
                    request_id,
                    job_id: *job_id,
                }),
                (OperationKind::Read, Outcome::Ok(OkValue::Observed(jobs))) => {
                    reads.push(Read { operation, jobs })
                }
                _ => {}
            }
        }
        let mut final_by_id: HashMap<u32, Vec<&FinalJob>> = HashMap::new();
        for job in &history.final_state.jobs {
            final_by_id.entry(job.job_id).or_default().push(job);
        }
        let mut last_seen: HashMap<u32, (&Operation, &ObservedJob)> = HashMap::new();
        let mut seen_terminal = BTreeSet::new();
        for read in &reads {
            for job in read.jobs {
                if is_terminal(&job.state) {
                    seen_terminal.insert(job.job_id);
                }
                let later = last_seen
                    .get(&job.job_id)
                    .is_none_or(|(seen, _)| seen.completed_ms <= read.operation.completed_ms);
                if later {
                    last_seen.insert(job.job_id, (read.operation, job));
                }
            }
        }
        Index {
            history,
            acknowledged,
            reads,
            final_by_id,
            last_seen,
            seen_terminal,
        }
    }

    /// The final job with this id, if exactly one.
    pub fn final_job(&self, job_id: u32) -> Option<&'a FinalJob> {
        match self.final_by_id.get(&job_id).map(Vec::as_slice) {
            Some([job]) => Some(job),
            _ => None,
        }
    }

    /// Whether a job absent from the final state is explained by the purge
    /// of finished jobs: a read saw it finished.
    pub fn purge_explains(&self, job_id: u32) -> bool {
        !self.final_by_id.contains_key(&job_id) && self.seen_terminal.contains(&job_id)
    }

    /// Jobs acknowledged or seen, absent from the final state, and seen
    /// finished: assumed purged.
    pub fn assumed_purged(&self) -> BTreeSet<u32> {
        self.seen_terminal
            .iter()
            .copied()
            .filter(|job_id| !self.final_by_id.contains_key(job_id))
            .collect()
    }

    /// Acknowledged job ids by request id.
    pub fn acknowledged_by_request(&self) -> BTreeMap<&'a str, Vec<Acknowledged<'a>>> {
        let mut by_request: BTreeMap<&str, Vec<Acknowledged>> = BTreeMap::new();
        for ack in &self.acknowledged {
            by_request.entry(ack.request_id).or_default().push(*ack);
        }
        by_request
    }

    /// When the run ended: the latest time the history mentions.
    pub fn end_ms(&self) -> u64 {
        end_ms(self.history)
    }
}

/// The latest time a history mentions, in ms since the run's start.
pub fn end_ms(history: &History) -> u64 {
    let operations = history.operations.iter().map(|op| op.completed_ms);
    let faults = history
        .faults
        .iter()
        .map(|fault| fault.healed_ms.unwrap_or(fault.started_ms));
    let leaders = history.leaders.iter().map(|leader| leader.at_ms);
    let jobs = history
        .final_state
        .jobs
        .iter()
        .flat_map(|job| [job.end_committed_ms, job.script_ended_ms])
        .flatten();
    operations
        .chain(faults)
        .chain(leaders)
        .chain(jobs)
        .max()
        .unwrap_or(0)
}

/// Position of a Slurm state name in the forward-only order (all terminal
/// states share the last); `None` for a name that is no job state.
pub(crate) fn state_rank(state: &str) -> Option<u8> {
    use corral_state::JobState;
    let state = JobState::ALL
        .into_iter()
        .find(|s| s.slurm_name() == state)?;
    Some(match state {
        JobState::Pending => 0,
        JobState::Running => 1,
        JobState::Completing => 2,
        _ => 3,
    })
}

pub(crate) fn is_terminal(state: &str) -> bool {
    state_rank(state) == Some(3)
}

/// A violation of `checker`.
pub(crate) fn violation(checker: &str, message: String, evidence: Vec<String>) -> Violation {
    Violation {
        checker: checker.to_string(),
        message,
        evidence,
    }
}

#[cfg(test)]
mod tests {
    use super::testing::*;
    use super::*;

    #[test]
    fn every_checker_passes_a_clean_history() {
        let history = clean_history();
        assert_eq!(all(&history), Vec::new());
        assert!(
            unexercised(&history).is_empty(),
            "{:?}",
            unexercised(&history)
        );
    }

    #[test]
    fn all_runs_every_checker_on_one_shared_index() {
        let mut history = clean_history();
        history.final_state.jobs[1].request_id = "other".to_string();
        history.final_state.runs.remove(0);
        history.final_state.serves_after_healing = None;
        let separately: Vec<Violation> = CHECKERS
            .iter()
            .flat_map(|checker| (checker.check)(&history))
            .collect();
        assert!(separately.len() >= 3, "{separately:?}");
        assert_eq!(all(&history), separately);
    }

    #[test]
    fn checker_names_are_distinct_and_kebab_case() {
        let names: BTreeSet<&str> = CHECKERS.iter().map(|c| c.name).collect();
        assert_eq!(names.len(), CHECKERS.len());
        for name in names {
            assert!(
                name.chars().all(|c| c.is_ascii_lowercase() || c == '-'),
                "{name}"
            );
        }
    }

    #[test]
    fn accounting_and_failover_survival_are_checked() {
        let listed: Vec<String> = not_checked().into_iter().map(|n| n.what).collect();
        assert!(listed
            .iter()
            .all(|what| what.starts_with("promise 7, second half")));
        assert!(CHECKERS.iter().any(|c| c.promise.starts_with("7:")));
        assert!(CHECKERS.iter().any(|c| c.promise.starts_with("8:")));
    }

    #[test]
    fn a_job_seen_finished_and_then_absent_is_assumed_purged() {
        let history = History {
            operations: vec![
                submit_ok(1, "r1", 1, 0, 10),
                read_ok(2, 20, 30, &[(1, "COMPLETED", 0)]),
            ],
            final_state: final_with(vec![], vec![]),
            ..History::default()
        };
        assert_eq!(all(&history), Vec::new());
        let notes = unexercised(&history);
        assert!(
            notes.iter().any(|n| n.why.ends_with("MinJobAge (jobs 1)")),
            "{notes:?}"
        );
    }

    #[test]
    fn unexercised_names_what_the_run_gave_nothing_to_check() {
        let history = History::default();
        let notes: Vec<String> = unexercised(&history).into_iter().map(|n| n.what).collect();
        assert!(notes.iter().any(|n| n == isolated_leader::NAME));
        assert!(notes.iter().any(|n| n.contains(forward_states::NAME)));
        assert!(notes.iter().any(|n| n.contains(invariants::NAME)));
    }

    #[test]
    fn state_ranks_follow_the_forward_order() {
        assert_eq!(state_rank("PENDING"), Some(0));
        assert_eq!(state_rank("RUNNING"), Some(1));
        assert_eq!(state_rank("COMPLETING"), Some(2));
        for terminal in ["COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL"] {
            assert_eq!(state_rank(terminal), Some(3), "{terminal}");
        }
        assert_eq!(state_rank("pending"), None);
        assert_eq!(state_rank("SUSPENDED"), None);
    }
}
