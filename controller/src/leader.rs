//! Work done only while this controller is the leader.
//!
//! Architecture invariant: leader duties start after the new leader has
//! applied every entry committed before its term (its own first entry), and
//! stop as soon as it loses leadership. Everything they keep is derived from
//! the replicated state, so a new leader resumes where the old one stopped.

use std::sync::Arc;

use corral_config::Config;
use corral_raft_store::Raft;
use corral_state::{Command, Partition};
use openraft::ServerState;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::propose::Proposer;

/// Watches Raft's metrics, logs role changes, and runs the leader duties for
/// as long as this controller leads. Returns when `shutdown` turns true.
pub async fn supervise(
    raft: Raft,
    proposer: Proposer,
    config: Arc<Config>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut metrics = raft.metrics();
    let mut duties: Option<(u64, JoinHandle<()>)> = None;
    let mut last_seen: Option<(ServerState, Option<u64>, u64)> = None;
    loop {
        let current = metrics.borrow_and_update().clone();
        let seen = (current.state, current.current_leader, current.current_term);
        if last_seen != Some(seen) {
            log_role(&current);
            last_seen = Some(seen);
        }
        let leading_term = (current.state == ServerState::Leader).then_some(current.current_term);
        match (&duties, leading_term) {
            (Some((term, _)), Some(leading)) if *term == leading => {}
            (_, Some(leading)) => {
                if let Some((_, handle)) = duties.take() {
                    handle.abort();
                }
                let caught_up_index = current.last_log_index.unwrap_or(0);
                let task = tokio::spawn(lead(proposer.clone(), config.clone(), caught_up_index));
                duties = Some((leading, task));
            }
            (Some(_), None) => {
                if let Some((_, handle)) = duties.take() {
                    handle.abort();
                }
            }
            (None, None) => {}
        }
        tokio::select! {
            changed = metrics.changed() => if changed.is_err() { break },
            _ = shutdown.changed() => break,
        }
    }
    if let Some((_, handle)) = duties.take() {
        handle.abort();
    }
}

fn log_role(metrics: &corral_raft_store::typ::RaftMetrics) {
    match (metrics.state, metrics.current_leader) {
        (ServerState::Leader, _) => tracing::info!(
            term = metrics.current_term,
            "controller {} is the leader",
            metrics.id
        ),
        (state, Some(leader)) => tracing::info!(
            term = metrics.current_term,
            "controller {} is {state:?}; the leader is controller {leader}",
            metrics.id
        ),
        (state, None) => tracing::info!(
            term = metrics.current_term,
            "controller {} is {state:?}; no leader known",
            metrics.id
        ),
    }
}

/// The leader's duties for one term.
async fn lead(proposer: Proposer, config: Arc<Config>, caught_up_index: u64) {
    proposer.state().wait_applied(caught_up_index).await;
    tracing::info!(
        applied_index = caught_up_index,
        "leader caught up; starting leader duties"
    );
    sync_partitions(&proposer, &config).await;
}

/// Makes the replicated partitions match the configuration file.
async fn sync_partitions(proposer: &Proposer, config: &Config) {
    let mut configured: Vec<Partition> = config.partitions();
    configured.sort_by(|a, b| a.name.cmp(&b.name));
    let replicated: Vec<Partition> = proposer
        .state()
        .read(|state| state.partitions().cloned().collect());
    if replicated == configured {
        return;
    }
    let names: Vec<&str> = configured.iter().map(|p| p.name.as_str()).collect();
    match proposer
        .propose(|now_ms| Command::SetPartitions {
            partitions: configured.clone(),
            now_ms,
        })
        .await
    {
        Ok(_) => {
            tracing::info!(partitions = ?names, "partitions updated from {}", config.path.display())
        }
        Err(status) => tracing::warn!("could not update partitions: {}", status.message()),
    }
}
