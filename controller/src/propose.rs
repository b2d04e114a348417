//! The one write path into the replicated log, and linearizable reads.
//!
//! Architecture invariant: every change to `ClusterState` is a `Command`
//! that passes through [`Proposer::propose`]; nothing else calls
//! `client_write`. The leader stamps the time here, and only here.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use corral_proto::{LEADER_ADDRESS_METADATA, LEADER_ID_METADATA};
use corral_raft_store::typ::{CheckIsLeaderError, ClientWriteError, ForwardToLeader, RaftError};
use corral_raft_store::{NodeId, Raft, StateHandle};
use corral_state::{ClusterState, Command, Outcome};
use openraft::ServerState;
use tonic::Status;

/// How long a write may wait to commit. A leader cut off from the majority
/// cannot commit, and openraft keeps its proposals waiting; after this the
/// caller is told the outcome is unknown and retries elsewhere (with the
/// same request id, so nothing happens twice). A healthy commit takes
/// milliseconds here; the chaos harness measured failovers of an isolated
/// leader at exactly this timeout (4 s when it was 4 s), since every client
/// waits it out on the old leader.
pub const PROPOSE_TIMEOUT_MS: u64 = 1_500;
/// How long a linearizable read may wait to confirm leadership.
pub const READ_TIMEOUT_MS: u64 = 1_500;

#[derive(Clone)]
pub struct Proposer {
    raft: Raft,
    state: StateHandle,
    /// A leader that has heard from no majority for this long refuses
    /// client calls (twice the longest election timeout).
    quorum_lease_ms: u64,
}

impl Proposer {
    pub fn new(raft: Raft, state: StateHandle, election_timeout_max_ms: u64) -> Proposer {
        Proposer {
            raft,
            state,
            quorum_lease_ms: 2 * election_timeout_max_ms,
        }
    }

    pub fn raft(&self) -> &Raft {
        &self.raft
    }

    pub fn state(&self) -> &StateHandle {
        &self.state
    }

    /// Proposes the command built by `make` from the leader's time, waits
    /// for it to commit and apply, and returns what `apply` said.
    pub async fn propose(&self, make: impl FnOnce(u64) -> Command) -> Result<Outcome, Status> {
        self.refuse_without_quorum()?;
        let now_ms = wall_clock_ms().max(self.state.read(ClusterState::latest_now_ms));
        let command = make(now_ms);
        let write = self.raft.client_write(command.into());
        match tokio::time::timeout(Duration::from_millis(PROPOSE_TIMEOUT_MS), write).await {
            Ok(Ok(response)) => Ok(response.data),
            Ok(Err(RaftError::APIError(ClientWriteError::ForwardToLeader(forward)))) => {
                Err(not_leader(&forward))
            }
            Ok(Err(error)) => Err(Status::unavailable(format!("write failed: {error}"))),
            Err(_) => Err(Status::unavailable(format!(
                "write not committed within {PROPOSE_TIMEOUT_MS} ms (this controller may be cut off from the majority); outcome unknown"
            ))),
        }
    }

    /// Reads the state after confirming, with a quorum, that this controller
    /// is the leader and has applied everything committed before the call.
    pub async fn read<T>(&self, read: impl FnOnce(&ClusterState) -> T) -> Result<T, Status> {
        self.refuse_without_quorum()?;
        let confirm = self.raft.ensure_linearizable();
        match tokio::time::timeout(Duration::from_millis(READ_TIMEOUT_MS), confirm).await {
            Ok(Ok(_)) => Ok(self.state.read(read)),
            Ok(Err(RaftError::APIError(CheckIsLeaderError::ForwardToLeader(forward)))) => {
                Err(not_leader(&forward))
            }
            Ok(Err(error)) => Err(Status::unavailable(format!("read failed: {error}"))),
            Err(_) => Err(Status::unavailable(format!(
                "leadership not confirmed within {READ_TIMEOUT_MS} ms"
            ))),
        }
    }

    /// UNAVAILABLE when this controller leads but has not heard from a
    /// quorum for longer than the lease: it is probably cut off, a new
    /// leader is probably being elected, and a write here would only wait
    /// out the propose timeout. The client tries the other controllers at
    /// once instead. (It could still commit if the quorum comes back; the
    /// request id makes the retry safe either way.)
    fn refuse_without_quorum(&self) -> Result<(), Status> {
        let silent_ms = self.raft.metrics().borrow().millis_since_quorum_ack;
        match silent_ms {
            Some(silent_ms) if silent_ms > self.quorum_lease_ms => Err(Status::unavailable(format!(
                "this leader has not heard from a majority for {silent_ms} ms; try another controller"
            ))),
            _ => Ok(()),
        }
    }

    /// UNAVAILABLE with the leader's whereabouts unless this controller
    /// believes it is the leader. Local and cheap: the write or read that
    /// follows confirms leadership for real.
    pub fn redirect_unless_leader(&self) -> Result<(), Status> {
        leadership(&self.raft.metrics().borrow()).map_err(|forward| not_leader(&forward))
    }
}

/// `Ok` when this controller is the leader, else who is as far as it
/// knows. Leading means being in the leader state and a voter of the
/// latest membership: a leader that has just removed itself still names
/// itself as the leader until a new one is elected (and its state says
/// leader for a moment after the configuration without it is appended),
/// and must neither serve (openraft must not be asked to change the
/// membership there: its debug assertion "Only leader is allowed to call
/// update_effective_membership()" stops the process) nor send anyone to
/// itself.
pub fn leadership(
    metrics: &openraft::RaftMetrics<NodeId, corral_raft_store::Node>,
) -> Result<(), ForwardToLeader> {
    let leader = metrics.current_leader;
    let voter = metrics
        .membership_config
        .membership()
        .voter_ids()
        .any(|id| id == metrics.id);
    if leader == Some(metrics.id) && metrics.state == ServerState::Leader && voter {
        return Ok(());
    }
    let leader = leader.filter(|leader| *leader != metrics.id);
    let leader_node = leader.and_then(|leader| {
        metrics
            .membership_config
            .membership()
            .get_node(&leader)
            .cloned()
    });
    Err(ForwardToLeader {
        leader_id: leader,
        leader_node,
    })
}

/// The "not leader" answer, naming the leader when known.
pub fn not_leader(forward: &ForwardToLeader) -> Status {
    let message = match (&forward.leader_id, &forward.leader_node) {
        (Some(id), Some(node)) => format!("not leader; leader is controller {id} at {}", node.addr),
        _ => "not leader; no leader elected yet".to_string(),
    };
    let mut status = Status::unavailable(message);
    if let (Some(id), Some(node)) = (&forward.leader_id, &forward.leader_node) {
        let metadata = status.metadata_mut();
        if let Ok(value) = id.to_string().parse() {
            metadata.insert(LEADER_ID_METADATA, value);
        }
        if let Ok(value) = node.addr.parse() {
            metadata.insert(LEADER_ADDRESS_METADATA, value);
        }
    }
    status
}

/// Milliseconds since the Unix epoch. Only the leader's proposals read it.
pub fn wall_clock_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};
    use std::sync::Arc;

    use corral_raft_store::{Node, StoredMembership};
    use openraft::{Membership, RaftMetrics, ServerState};

    use super::leadership;

    fn node(id: u64) -> Node {
        Node {
            addr: format!("10.0.0.{id}:7001"),
            http_addr: None,
        }
    }

    /// Controller 1's metrics: `state`, naming `leader`, with `voters` (and
    /// every id up to 3 known as a node).
    fn metrics(state: ServerState, leader: Option<u64>, voters: &[u64]) -> RaftMetrics<u64, Node> {
        let nodes: BTreeMap<u64, Node> = (1..=3).map(|id| (id, node(id))).collect();
        let voters: BTreeSet<u64> = voters.iter().copied().collect();
        let mut metrics = RaftMetrics::new_initial(1);
        metrics.state = state;
        metrics.current_leader = leader;
        metrics.membership_config = Arc::new(StoredMembership::new(
            None,
            Membership::new(vec![voters], nodes),
        ));
        metrics
    }

    #[test]
    fn the_leader_leads() {
        assert!(leadership(&metrics(ServerState::Leader, Some(1), &[1, 2, 3])).is_ok());
    }

    #[test]
    fn a_follower_names_the_leader_and_its_address() {
        let forward = leadership(&metrics(ServerState::Follower, Some(2), &[1, 2, 3])).unwrap_err();
        assert_eq!(forward.leader_id, Some(2));
        assert_eq!(forward.leader_node, Some(node(2)));
        let forward = leadership(&metrics(ServerState::Candidate, None, &[1, 2, 3])).unwrap_err();
        assert_eq!((forward.leader_id, forward.leader_node), (None, None));
    }

    #[test]
    fn a_leader_that_removed_itself_neither_leads_nor_names_itself() {
        // Still in the leader state, but the latest membership leaves it out.
        let forward = leadership(&metrics(ServerState::Leader, Some(1), &[2, 3])).unwrap_err();
        assert_eq!((forward.leader_id, forward.leader_node), (None, None));
        // Out of the leader state, still naming itself until an election.
        let forward = leadership(&metrics(ServerState::Learner, Some(1), &[2, 3])).unwrap_err();
        assert_eq!((forward.leader_id, forward.leader_node), (None, None));
    }
}
