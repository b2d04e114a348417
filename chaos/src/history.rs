//! What happened during a run, as the checkers read it: every client
//! operation with its invocation and completion times and outcome, every
//! fault, what was observed of the leaders, and the final state.
//!
//! Times are milliseconds since the start of the run. The history is
//! written as JSON lines (`history.jsonl`), one [`Entry`] per line, so a run
//! that dies still leaves what it recorded.

use serde::{Deserialize, Serialize};

/// One client operation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Operation {
    /// Unique in the run.
    pub id: u64,
    /// The client (workload task) that ran it.
    pub client: u32,
    pub kind: OperationKind,
    pub invoked_ms: u64,
    pub completed_ms: u64,
    pub outcome: Outcome,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum OperationKind {
    /// A submission; `attempt` counts retries with the same request id
    /// (0 for the first).
    Submit {
        request_id: String,
        attempt: u32,
    },
    Cancel {
        job_id: u32,
    },
    /// A linearizable read of every job's state.
    Read,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Outcome {
    /// It happened: a submission's job id, or what a read saw.
    Ok(OkValue),
    /// It certainly did not happen (refused before anything was proposed).
    Failed(String),
    /// It may or may not have happened (a timeout, a lost leader): the
    /// checkers treat it as "maybe".
    Unknown(String),
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum OkValue {
    Submitted {
        job_id: u32,
    },
    Cancelled,
    /// Job id, Slurm state name (`PENDING`, ...), times requeued.
    Observed(Vec<ObservedJob>),
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObservedJob {
    pub job_id: u32,
    pub state: String,
    pub requeue_count: u32,
}

/// One fault, from injection to healing.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fault {
    pub id: u64,
    /// e.g. `kill-leader`, `pause-leader`, `isolate-leader`, `split`,
    /// `kill-minority`, `kill-agent`.
    pub kind: String,
    /// The processes or hosts it hit (`controller-2`, `agent-node001`).
    pub targets: Vec<String>,
    /// Whether the target was the leader when the fault began.
    pub hit_leader: bool,
    pub started_ms: u64,
    /// `None` if the run ended before it was healed.
    pub healed_ms: Option<u64>,
    pub detail: String,
}

/// Who led, as seen by polling every controller's status.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeaderObservation {
    pub at_ms: u64,
    /// `None`: no controller claimed to lead.
    pub leader: Option<u64>,
    pub term: u64,
}

/// A run of a job's script, as the job itself recorded it on its node.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobRun {
    pub job_id: u32,
    pub node: String,
}

/// The cluster after healing.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FinalState {
    /// Every job the leader knows, read after healing.
    pub jobs: Vec<FinalJob>,
    pub controllers: Vec<ControllerReport>,
    /// Every run of a job script recorded on the nodes.
    pub runs: Vec<JobRun>,
    /// A job submitted and run after healing completed: the cluster serves.
    /// `None` when not probed.
    pub serves_after_healing: Option<Result<u32, String>>,
    /// The accounting database's job rows, read after healing once the
    /// outbox was drained; `None` when not read (histories from before).
    #[serde(default)]
    pub accounting: Option<Result<Vec<AccountedJob>, String>>,
}

/// One row of the accounting database's `job` table.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountedJob {
    pub job_id: u32,
    pub state: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FinalJob {
    pub job_id: u32,
    pub request_id: String,
    pub state: String,
    pub requeue_count: u32,
    /// When its end was committed and when its script really ended (from
    /// the agent's journal), in ms since the run's start, when known.
    pub end_committed_ms: Option<u64>,
    pub script_ended_ms: Option<u64>,
}

/// What became of a controller: its final indexes and anything its log
/// says about a broken invariant or a crash.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ControllerReport {
    pub id: u64,
    pub applied_index: Option<u64>,
    /// Lines of its log reporting a broken invariant or a panic.
    pub alarms: Vec<String>,
}

/// One line of `history.jsonl`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Entry {
    Operation(Operation),
    Fault(Fault),
    Leader(LeaderObservation),
    Final(FinalState),
}

/// A whole run, as the checkers see it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct History {
    pub operations: Vec<Operation>,
    pub faults: Vec<Fault>,
    pub leaders: Vec<LeaderObservation>,
    pub final_state: FinalState,
}

impl History {
    /// Collects the entries of a history file, in any order.
    pub fn from_entries(entries: impl IntoIterator<Item = Entry>) -> History {
        let mut history = History::default();
        for entry in entries {
            match entry {
                Entry::Operation(operation) => history.operations.push(operation),
                Entry::Fault(fault) => history.faults.push(fault),
                Entry::Leader(leader) => history.leaders.push(leader),
                Entry::Final(final_state) => history.final_state = final_state,
            }
        }
        history.operations.sort_by_key(|op| (op.invoked_ms, op.id));
        history.faults.sort_by_key(|fault| fault.started_ms);
        history.leaders.sort_by_key(|leader| leader.at_ms);
        history
    }

    /// Reads `history.jsonl`.
    pub fn read(path: &std::path::Path) -> Result<History, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let entries = text
            .lines()
            .enumerate()
            .filter(|(_, line)| !line.trim().is_empty())
            .map(|(number, line)| {
                serde_json::from_str(line)
                    .map_err(|e| format!("{}:{}: {e}", path.display(), number + 1))
            })
            .collect::<Result<Vec<Entry>, String>>()?;
        Ok(History::from_entries(entries))
    }
}

/// A broken promise, with the evidence a person needs to see it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Violation {
    /// The checker (and promise) that found it, e.g. `acknowledged-present`.
    pub checker: String,
    pub message: String,
    /// The operations, faults or jobs involved.
    pub evidence: Vec<String>,
}
