//! Online membership changes: `corral controller add|remove|list`.
//!
//! Adding a controller is openraft's two steps: `add_learner` (the leader
//! replicates the log to it, or a snapshot when the log behind is purged)
//! until it has caught up, then `change_membership` to make it a voter
//! (joint consensus: the joint configuration commits on a majority of the
//! old voters and of the new, then the new one alone). Removing a voter is
//! one `change_membership`; a leader that removes itself steps down once the
//! configuration without it is committed.
//!
//! Every change is refused, with the reason, when it would leave no quorum:
//! the leader asks each voter for its status and counts as *replicating*
//! only those that answer naming this leader in this term; the voters of the
//! old configuration and of the new must each have a majority of
//! replicating members, or the joint configuration could never commit.
//! An address that does not answer as the controller named is refused
//! before anything is written, so no dead learner lingers in membership.
//!
//! Membership changes run one at a time on the leader. Each step is safe to
//! repeat: `add` of a learner already added (same address) goes on to catch
//! it up and promote it, so an operator can run a failed `add` again.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use corral_client::{endpoint, ClientTls};
use corral_proto as wire;
use corral_proto::corral_client::CorralClient;
use corral_raft_store::typ::{ClientWriteError, RaftError, RaftMetrics};
use corral_raft_store::{Node, NodeId, Raft};
use corral_state::Actor;
use openraft::ChangeMembers;
use tokio::sync::Mutex;
use tonic::Status;

use crate::propose::{not_leader, Proposer};

/// How long the address of a controller to add, or a voter whose status the
/// leader asks for, may take to answer.
pub const PROBE_TIMEOUT_MS: u64 = 2_000;
/// How long a new learner may take to catch up (log entries or a snapshot)
/// before `add` gives up, leaving it a learner.
pub const CATCH_UP_TIMEOUT_MS: u64 = 60_000;
/// How long a membership change may take to commit (two log entries).
pub const CHANGE_TIMEOUT_MS: u64 = 10_000;
/// How long a client should let one `AddController` attempt run: the
/// catch-up, the probes and the change, with room to spare.
pub const ADD_ATTEMPT_TIMEOUT_MS: u64 = CATCH_UP_TIMEOUT_MS + CHANGE_TIMEOUT_MS + 10_000;

pub struct Membership {
    raft: Raft,
    proposer: Proposer,
    /// This controller's certificate, to ask other controllers for their status.
    tls: ClientTls,
    cluster_name: String,
    /// One membership change at a time.
    changing: Mutex<()>,
}

/// One controller's answer to the leader's status probe.
struct Probe {
    id: NodeId,
    answer: Result<wire::ControllerStatusReply, String>,
}

impl Membership {
    pub fn new(raft: Raft, proposer: Proposer, tls: ClientTls, cluster_name: String) -> Membership {
        Membership {
            raft,
            proposer,
            tls,
            cluster_name,
            changing: Mutex::new(()),
        }
    }

    /// The membership as the leader sees it, after confirming leadership.
    pub async fn list(&self) -> Result<wire::MembershipReply, Status> {
        self.proposer.redirect_unless_leader()?;
        self.proposer.read(|_| ()).await?;
        Ok(self.reply(String::new()))
    }

    pub async fn add(
        &self,
        actor: &Actor,
        request: wire::AddControllerRequest,
    ) -> Result<wire::MembershipReply, Status> {
        self.proposer.redirect_unless_leader()?;
        require_admin(actor, "adding a controller")?;
        let id = request.id;
        if id == 0 {
            return Err(Status::invalid_argument(
                "a controller id must be 1 or more",
            ));
        }
        check_address("address", &request.address)?;
        let http_address = Some(request.http_address.trim().to_string()).filter(|a| !a.is_empty());
        if let Some(http) = &http_address {
            check_address("http address", http)?;
        }
        let _changing = self.changing.lock().await;
        self.proposer.read(|_| ()).await?;
        let metrics = self.metrics();
        refuse_while_joint(&metrics)?;
        let membership = metrics.membership_config.membership();
        let voters: BTreeSet<NodeId> = membership.voter_ids().collect();
        if let Some(existing) = membership.get_node(&id) {
            if voters.contains(&id) {
                return Err(Status::failed_precondition(format!(
                    "controller {id} is already a voter (at {}); nothing to add",
                    existing.addr
                )));
            }
            if existing.addr != request.address {
                return Err(Status::failed_precondition(format!(
                    "controller {id} is already a learner at {}, not {}: remove it first (corral controller remove {id})",
                    existing.addr, request.address
                )));
            }
        }
        if let Some((other, _)) = membership
            .nodes()
            .find(|(other, node)| **other != id && node.addr == request.address)
        {
            return Err(Status::failed_precondition(format!(
                "{} is already the address of controller {other}",
                request.address
            )));
        }
        self.check_candidate(id, &request.address).await?;

        let node = Node::with_http(request.address.clone(), http_address);
        tracing::info!(id, address = %request.address, "adding a controller as a learner");
        let added = self
            .raft
            .add_learner(id, node, false)
            .await
            .map_err(|error| change_error("adding the learner", error))?;
        let target = self.metrics().last_log_index.unwrap_or(added.log_id.index);
        self.wait_caught_up(id, target).await?;
        tracing::info!(id, "the new controller has caught up; making it a voter");

        let mut new_voters = voters.clone();
        new_voters.insert(id);
        let mut replicating = self.replicating_voters(&voters).await;
        replicating.0.insert(id);
        check_quorum(
            &format!("adding controller {id}"),
            &voters,
            &new_voters,
            &replicating,
        )?;
        self.change(ChangeMembers::AddVoterIds(BTreeSet::from([id])))
            .await?;
        tracing::info!(id, address = %request.address, by = %actor.user, "controller added as a voter");
        Ok(self.reply(format!(
            "controller {id} at {} added as a voter",
            request.address
        )))
    }

    pub async fn remove(&self, actor: &Actor, id: NodeId) -> Result<wire::MembershipReply, Status> {
        self.proposer.redirect_unless_leader()?;
        require_admin(actor, "removing a controller")?;
        let _changing = self.changing.lock().await;
        self.proposer.read(|_| ()).await?;
        let metrics = self.metrics();
        refuse_while_joint(&metrics)?;
        let membership = metrics.membership_config.membership();
        let voters: BTreeSet<NodeId> = membership.voter_ids().collect();
        let Some(node) = membership.get_node(&id).cloned() else {
            let members: Vec<String> = membership.nodes().map(|(id, _)| id.to_string()).collect();
            return Err(Status::failed_precondition(format!(
                "controller {id} is not a member (members: {})",
                members.join(", ")
            )));
        };
        if !voters.contains(&id) {
            self.change(ChangeMembers::RemoveNodes(BTreeSet::from([id])))
                .await?;
            tracing::info!(id, by = %actor.user, "learner removed");
            return Ok(self.reply(format!("learner {id} at {} removed", node.addr)));
        }
        if voters.len() == 1 {
            return Err(Status::failed_precondition(format!(
                "controller {id} is the last voter: without it the cluster could never elect a leader or commit anything"
            )));
        }
        let mut new_voters = voters.clone();
        new_voters.remove(&id);
        let replicating = self.replicating_voters(&voters).await;
        check_quorum(
            &format!("removing controller {id}"),
            &voters,
            &new_voters,
            &replicating,
        )?;
        self.change(ChangeMembers::RemoveVoters(BTreeSet::from([id])))
            .await?;
        tracing::info!(id, address = %node.addr, by = %actor.user, "controller removed");
        let mut message = format!("controller {id} at {} removed", node.addr);
        if id == metrics.id {
            message.push_str("; it was the leader and steps down now");
        }
        Ok(self.reply(message))
    }

    fn metrics(&self) -> RaftMetrics {
        self.raft.metrics().borrow().clone()
    }

    /// Asks the controller at `address` for its status: it must answer, as
    /// controller `id` of this cluster.
    async fn check_candidate(&self, id: NodeId, address: &str) -> Result<(), Status> {
        let status = self.probe(address).await.map_err(|error| {
            Status::failed_precondition(format!(
                "{address} does not answer ({error}): start controller {id} there first (with an empty data directory, without --bootstrap)"
            ))
        })?;
        if status.id != id {
            return Err(Status::failed_precondition(format!(
                "{address} answers as controller {}, not {id}",
                status.id
            )));
        }
        if status.cluster_name != self.cluster_name {
            return Err(Status::failed_precondition(format!(
                "{address} belongs to cluster {:?}, not {:?}",
                status.cluster_name, self.cluster_name
            )));
        }
        Ok(())
    }

    async fn probe(&self, address: &str) -> Result<wire::ControllerStatusReply, String> {
        probe(&self.tls, address).await
    }

    /// The voters (this leader included) that follow this leader now, and
    /// why each of the others does not.
    async fn replicating_voters(
        &self,
        voters: &BTreeSet<NodeId>,
    ) -> (BTreeSet<NodeId>, BTreeMap<NodeId, String>) {
        let metrics = self.metrics();
        let membership = metrics.membership_config.membership();
        let mut probes = tokio::task::JoinSet::new();
        for id in voters.iter().filter(|id| **id != metrics.id) {
            let Some(node) = membership.get_node(id) else {
                continue;
            };
            let (id, address, tls) = (*id, node.addr.clone(), self.tls.clone());
            probes.spawn(async move {
                Probe {
                    id,
                    answer: probe(&tls, &address).await,
                }
            });
        }
        let mut answers = Vec::new();
        while let Some(joined) = probes.join_next().await {
            if let Ok(answer) = joined {
                answers.push(answer);
            }
        }
        let mut replicating = BTreeSet::from([metrics.id]);
        let mut missing = BTreeMap::new();
        for probe in answers {
            match probe.answer {
                Ok(status)
                    if status.leader_id == Some(metrics.id)
                        && status.term == metrics.current_term =>
                {
                    replicating.insert(probe.id);
                }
                Ok(status) => {
                    missing.insert(
                        probe.id,
                        format!(
                            "follows {} in term {}",
                            status
                                .leader_id
                                .map_or("no leader".to_string(), |l| format!("controller {l}")),
                            status.term
                        ),
                    );
                }
                Err(error) => {
                    missing.insert(probe.id, format!("does not answer: {error}"));
                }
            }
        }
        (replicating, missing)
    }

    /// Waits until the leader has replicated up to `target` to `id`.
    async fn wait_caught_up(&self, id: NodeId, target: u64) -> Result<(), Status> {
        let matched = |metrics: &RaftMetrics| {
            metrics
                .replication
                .as_ref()
                .and_then(|replication| replication.get(&id).cloned().flatten())
                .map(|log_id| log_id.index)
        };
        let waited = self
            .raft
            .wait(Some(Duration::from_millis(CATCH_UP_TIMEOUT_MS)))
            .metrics(
                |metrics| matched(metrics).is_some_and(|index| index >= target),
                "the new learner catches up",
            )
            .await;
        match waited {
            Ok(_) => Ok(()),
            Err(error) => {
                let now = self.metrics();
                Err(Status::failed_precondition(format!(
                    "controller {id} has not caught up within {} s (it holds index {}, the leader {}): it stays a learner; see its log, then run add again or remove it ({error})",
                    CATCH_UP_TIMEOUT_MS / 1_000,
                    matched(&now).map_or("none".to_string(), |i| i.to_string()),
                    now.last_log_index.unwrap_or(0)
                )))
            }
        }
    }

    async fn change(&self, change: ChangeMembers<NodeId, Node>) -> Result<(), Status> {
        let changing = self.raft.change_membership(change, false);
        match tokio::time::timeout(Duration::from_millis(CHANGE_TIMEOUT_MS), changing).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(error)) => Err(change_error("changing the membership", error)),
            Err(_) => Err(Status::failed_precondition(format!(
                "the membership change was not committed within {CHANGE_TIMEOUT_MS} ms (a majority may be unreachable); see corral controller list"
            ))),
        }
    }

    fn reply(&self, message: String) -> wire::MembershipReply {
        membership_reply(&self.metrics(), message)
    }
}

/// The membership in `metrics`, as the wire shows it.
pub fn membership_reply(metrics: &RaftMetrics, message: String) -> wire::MembershipReply {
    let stored = &metrics.membership_config;
    let membership = stored.membership();
    let voters: BTreeSet<NodeId> = membership.voter_ids().collect();
    let members = membership
        .nodes()
        .map(|(id, node)| {
            let matched_index = if Some(*id) == metrics.current_leader && *id == metrics.id {
                metrics.last_log_index
            } else {
                metrics
                    .replication
                    .as_ref()
                    .and_then(|replication| replication.get(id).cloned().flatten())
                    .map(|log_id| log_id.index)
            };
            wire::ControllerMember {
                id: *id,
                address: node.addr.clone(),
                http_address: node.http_addr.clone().unwrap_or_default(),
                voter: voters.contains(id),
                leader: metrics.current_leader == Some(*id),
                matched_index,
            }
        })
        .collect();
    wire::MembershipReply {
        members,
        leader_id: metrics.current_leader.unwrap_or_default(),
        term: metrics.current_term,
        last_log_index: metrics.last_log_index,
        membership_index: stored.log_id().map(|log_id| log_id.index),
        message,
    }
}

/// The addresses of the voting controllers, from membership: what agents
/// are told to look for the leader at.
pub fn voter_addresses(metrics: &RaftMetrics) -> Vec<String> {
    let membership = metrics.membership_config.membership();
    membership
        .voter_ids()
        .filter_map(|id| membership.get_node(&id).map(|node| node.addr.clone()))
        .collect()
}

/// Asks the controller at `address` for its status (`ControllerStatus`).
async fn probe(tls: &ClientTls, address: &str) -> Result<wire::ControllerStatusReply, String> {
    let channel = endpoint(address, tls)
        .map_err(|error| error.to_string())?
        .connect_lazy();
    let mut client = CorralClient::new(channel);
    let timeout = Duration::from_millis(PROBE_TIMEOUT_MS);
    let mut request = tonic::Request::new(wire::ControllerStatusRequest {});
    request.set_timeout(timeout);
    match tokio::time::timeout(timeout, client.controller_status(request)).await {
        Ok(Ok(reply)) => Ok(reply.into_inner()),
        Ok(Err(status)) => Err(status.message().to_string()),
        Err(_) => Err(format!("no answer within {PROBE_TIMEOUT_MS} ms")),
    }
}

fn require_admin(actor: &Actor, what: &str) -> Result<(), Status> {
    if actor.admin {
        return Ok(());
    }
    Err(Status::permission_denied(format!(
        "{what} needs an administrator; {} is not one",
        actor.user
    )))
}

fn check_address(what: &str, address: &str) -> Result<(), Status> {
    let port = address
        .rsplit_once(':')
        .map(|(host, port)| (host, port.parse::<u16>()));
    match port {
        Some((host, Ok(port))) if !host.is_empty() && port > 0 => Ok(()),
        _ => Err(Status::invalid_argument(format!(
            "{what} {address:?} is not host:port"
        ))),
    }
}

fn refuse_while_joint(metrics: &RaftMetrics) -> Result<(), Status> {
    let joint = metrics.membership_config.membership().get_joint_config();
    if joint.len() > 1 {
        return Err(Status::failed_precondition(format!(
            "a membership change is still in progress (joint configuration {joint:?}); try again when it has committed"
        )));
    }
    Ok(())
}

/// Refuses a change from `old` to `new` voters unless the replicating voters
/// hold a majority of both (the joint configuration needs both to commit).
fn check_quorum(
    what: &str,
    old: &BTreeSet<NodeId>,
    new: &BTreeSet<NodeId>,
    (replicating, missing): &(BTreeSet<NodeId>, BTreeMap<NodeId, String>),
) -> Result<(), Status> {
    for (name, voters) in [("new", new), ("current", old)] {
        let live: BTreeSet<NodeId> = voters.intersection(replicating).copied().collect();
        let needed = voters.len() / 2 + 1;
        if live.len() < needed {
            let why: Vec<String> = voters
                .difference(&live)
                .map(|id| {
                    format!(
                        "controller {id} {}",
                        missing.get(id).map_or("is not replicating", String::as_str)
                    )
                })
                .collect();
            return Err(Status::failed_precondition(format!(
                "{what} would leave no quorum: the {name} voters {} need {needed} replicating from the leader, but only {} are ({})",
                ids(voters),
                ids(&live),
                why.join("; ")
            )));
        }
    }
    Ok(())
}

fn ids(set: &BTreeSet<NodeId>) -> String {
    let list: Vec<String> = set.iter().map(u64::to_string).collect();
    format!("{{{}}}", list.join(", "))
}

fn change_error(what: &str, error: RaftError<ClientWriteError>) -> Status {
    match error {
        RaftError::APIError(ClientWriteError::ForwardToLeader(forward)) => not_leader(&forward),
        RaftError::APIError(ClientWriteError::ChangeMembershipError(error)) => {
            Status::failed_precondition(format!("{what}: {error}"))
        }
        RaftError::Fatal(error) => Status::unavailable(format!("{what}: {error}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(ids: &[u64]) -> BTreeSet<u64> {
        ids.iter().copied().collect()
    }

    #[test]
    fn quorum_needs_a_majority_of_old_and_new() {
        let none = BTreeMap::new();
        // 3 voters, all replicating: removing one leaves 2 of 2.
        assert!(check_quorum(
            "x",
            &set(&[1, 2, 3]),
            &set(&[1, 2]),
            &(set(&[1, 2, 3]), none.clone())
        )
        .is_ok());
        // 3 voters, 3 is dead: removing 2 leaves {1, 3} with only 1 live.
        let refused = check_quorum(
            "removing controller 2",
            &set(&[1, 2, 3]),
            &set(&[1, 3]),
            &(
                set(&[1, 2]),
                BTreeMap::from([(3, "does not answer: refused".to_string())]),
            ),
        )
        .unwrap_err();
        assert_eq!(refused.code(), tonic::Code::FailedPrecondition);
        assert!(
            refused.message().contains("would leave no quorum"),
            "{}",
            refused.message()
        );
        assert!(
            refused.message().contains("controller 3 does not answer"),
            "{}",
            refused.message()
        );
        // Removing the dead one is fine.
        assert!(check_quorum(
            "x",
            &set(&[1, 2, 3]),
            &set(&[1, 2]),
            &(set(&[1, 2]), none.clone())
        )
        .is_ok());
        // 5 voters, 2 dead: adding a sixth leaves 4 of 6 live: fine; with 3 dead, not.
        assert!(check_quorum(
            "x",
            &set(&[1, 2, 3, 4, 5]),
            &set(&[1, 2, 3, 4, 5, 6]),
            &(set(&[1, 2, 3, 6]), none.clone())
        )
        .is_ok());
        assert!(check_quorum(
            "x",
            &set(&[1, 2, 3, 4, 5]),
            &set(&[1, 2, 3, 4, 5, 6]),
            &(set(&[1, 2, 6]), none)
        )
        .is_err());
    }

    #[test]
    fn addresses_are_checked() {
        assert!(check_address("address", "127.0.0.1:7001").is_ok());
        assert!(check_address("address", "ctl4.example.org:7001").is_ok());
        assert!(check_address("address", "ctl4").is_err());
        assert!(check_address("address", ":7001").is_err());
        assert!(check_address("address", "ctl4:0").is_err());
        assert!(check_address("address", "ctl4:http").is_err());
    }
}
