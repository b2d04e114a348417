//! Making the replicated partitions, declared nodes and the enforcement of
//! accounts match the configuration file, once per term.

use corral_state::{Actor, Command, NodeDefinition, Outcome, Partition, PolicyChange};

use super::Duties;

/// Makes the replicated partitions match the configuration file.
pub(super) async fn partitions(duties: &Duties) {
    let mut configured: Vec<Partition> = duties.config.partitions();
    configured.sort_by(|a, b| a.name.cmp(&b.name));
    let replicated: Vec<Partition> = duties
        .proposer
        .state()
        .read(|state| state.partitions().cloned().collect());
    if replicated == configured {
        return;
    }
    let names: Vec<&str> = configured.iter().map(|p| p.name.as_str()).collect();
    let result = duties
        .proposer
        .propose(|now_ms| Command::SetPartitions {
            partitions: configured.clone(),
            now_ms,
        })
        .await;
    match result {
        Ok(_) => {
            tracing::info!(partitions = ?names, "partitions updated from {}", duties.config.path.display())
        }
        Err(status) => tracing::warn!("could not update partitions: {}", status.message()),
    }
}

/// Makes the replicated declared nodes match the configuration file.
pub(super) async fn nodes(duties: &Duties) {
    let configured: Vec<NodeDefinition> = duties.config.node_definitions();
    let replicated: Vec<NodeDefinition> = duties.proposer.state().read(|state| {
        state
            .nodes()
            .filter(|node| node.declared)
            .map(|node| NodeDefinition {
                name: node.name.clone(),
                resources: node.resources.clone(),
            })
            .collect()
    });
    if replicated == configured {
        return;
    }
    let count = configured.len();
    let result = duties
        .proposer
        .propose(|now_ms| Command::SetNodes {
            nodes: configured,
            now_ms,
        })
        .await;
    match result {
        Ok(_) => tracing::info!(
            nodes = count,
            "declared nodes updated from {}",
            duties.config.path.display()
        ),
        Err(status) => tracing::warn!("could not update the declared nodes: {}", status.message()),
    }
}

/// Makes the replicated enforcement of associations match
/// `accounting.enforce_associations`.
pub(super) async fn enforcement(duties: &Duties) {
    let enforce = duties.config.file.accounting.enforce_associations;
    let replicated = duties
        .proposer
        .state()
        .read(|state| state.policy().enforce_associations);
    if replicated == enforce {
        return;
    }
    let result = duties
        .proposer
        .propose(|now_ms| Command::ChangePolicy {
            change: PolicyChange::SetEnforcement { enforce },
            actor: Actor::root(),
            now_ms,
        })
        .await;
    match result {
        Ok(Outcome::Done) => tracing::info!(
            enforce,
            "enforcement of account associations updated from {}",
            duties.config.path.display()
        ),
        Ok(other) => tracing::warn!(?other, "enforcement of associations not changed"),
        Err(status) => tracing::warn!(
            "could not update the enforcement of associations: {}",
            status.message()
        ),
    }
}
