//! Applying the commands about nodes: declarations, registrations, failures
//! and administrators' changes.

use crate::cluster::ClusterState;
use crate::command::{NodeChange, NodeDefinition, Outcome, Rejection};
use crate::node::{Node, NodeAvailability, NodeReason, NodeResources};
use crate::user::Actor;

/// The user Slurm shows for reasons the system itself set.
pub const SYSTEM_REASON_USER: &str = "slurm";

impl ClusterState {
    /// Declared nodes take the configuration's resources. A declared node
    /// no longer in the file is forgotten once nothing runs on it.
    pub(crate) fn apply_set_nodes(&mut self, nodes: &[NodeDefinition]) -> Outcome {
        for definition in nodes {
            let node = self
                .nodes
                .entry(definition.name.clone())
                .or_insert_with(|| Node::new(&definition.name, definition.resources.clone(), true));
            node.declared = true;
            node.resources = definition.resources.clone();
        }
        self.nodes.retain(|name, node| {
            !node.declared || !node.is_idle() || nodes.iter().any(|d| &d.name == name)
        });
        Outcome::Done
    }

    /// A node's agent attached: the node is up. A node the file does not
    /// declare takes the resources its agent found. A node that went down
    /// on its own (missed heartbeats) comes back; one an administrator set
    /// down stays down until resumed.
    pub(crate) fn apply_register_node(
        &mut self,
        name: &str,
        resources: &NodeResources,
        now_ms: u64,
    ) -> Outcome {
        if name.is_empty() {
            return Outcome::Rejected(Rejection::InvalidNode(String::new()));
        }
        let node = self
            .nodes
            .entry(name.to_string())
            .or_insert_with(|| Node::new(name, resources.clone(), false));
        if !node.declared && node.is_idle() {
            node.resources = resources.clone();
        }
        node.registered_ms = Some(now_ms);
        let set_down_by_admin = node.availability == NodeAvailability::Down
            && node
                .reason
                .as_ref()
                .is_some_and(|r| r.user != SYSTEM_REASON_USER);
        if !set_down_by_admin {
            node.availability = NodeAvailability::Up;
            if node
                .reason
                .as_ref()
                .is_some_and(|r| r.user == SYSTEM_REASON_USER)
                && !node.drain
            {
                node.reason = None;
            }
        }
        Outcome::Done
    }

    pub(crate) fn apply_node_down(&mut self, name: &str, reason: &str, now_ms: u64) -> Outcome {
        let Some(node) = self.nodes.get_mut(name) else {
            return Outcome::Rejected(Rejection::InvalidNode(name.to_string()));
        };
        node.availability = NodeAvailability::Down;
        node.reason = Some(NodeReason {
            text: reason.to_string(),
            user: SYSTEM_REASON_USER.to_string(),
            uid: 0,
            time_ms: now_ms,
        });
        self.fail_jobs_on(name, now_ms);
        Outcome::Done
    }

    pub(crate) fn apply_update_node(
        &mut self,
        name: &str,
        change: &NodeChange,
        actor: &Actor,
        now_ms: u64,
    ) -> Outcome {
        if !actor.admin {
            return Outcome::Rejected(Rejection::AccessDenied);
        }
        let Some(node) = self.nodes.get_mut(name) else {
            return Outcome::Rejected(Rejection::InvalidNode(name.to_string()));
        };
        let reason = |text: &str| NodeReason {
            text: text.to_string(),
            user: actor.user.clone(),
            uid: actor.uid,
            time_ms: now_ms,
        };
        match change {
            NodeChange::Drain { reason: text } => {
                node.drain = true;
                node.reason = Some(reason(text));
            }
            NodeChange::Resume => {
                node.drain = false;
                node.reason = None;
                if node.availability == NodeAvailability::Down && node.registered_ms.is_some() {
                    node.availability = NodeAvailability::Up;
                }
            }
            NodeChange::Down { reason: text } => {
                node.availability = NodeAvailability::Down;
                node.reason = Some(reason(text));
                self.fail_jobs_on(name, now_ms);
            }
        }
        Outcome::Done
    }
}
