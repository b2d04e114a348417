//! Heartbeats: noted by the agent gateway as messages arrive
//! (`Hub::last_heard`), in memory only, never replicated. A node not heard
//! from for `slurmd_timeout` is proposed down. A new leader counts nothing
//! heard before its term, so every node gets a full timeout of grace from
//! the start of the term.

use std::time::{Duration, Instant};

use corral_state::{Command, NodeAvailability};
use tokio::task::JoinSet;

use super::Duties;

/// The reason Slurm gives a node that stopped answering.
pub const NOT_RESPONDING_REASON: &str = "Not responding";

/// `NodeDown` proposals in flight at once.
pub const NODE_DOWNS_IN_FLIGHT_MAX: usize = 256;

pub(super) struct Heartbeats {
    grace_start: Instant,
    timeout: Duration,
}

impl Heartbeats {
    pub fn new(term_start: Instant, timeout: Duration) -> Heartbeats {
        Heartbeats {
            grace_start: term_start,
            timeout,
        }
    }

    /// Proposes `NodeDown` for every node that is up in the state but has
    /// been silent for longer than the timeout (counting from the start of
    /// the term for nodes not heard from in this term). The proposals go
    /// out together, up to [`NODE_DOWNS_IN_FLIGHT_MAX`] at once: proposed
    /// one after another, each waiting for its commit, thousands of silent
    /// nodes (a rack lost, agents reconnecting after a failover) held up
    /// the duties loop for seconds, and the heartbeats queued behind it
    /// made more nodes look silent (`corral bench agents`).
    pub async fn judge(&self, duties: &Duties) {
        let now = Instant::now();
        let up: Vec<String> = duties.proposer.state().read(|state| {
            state
                .nodes()
                .filter(|node| node.availability == NodeAvailability::Up)
                .map(|node| node.name.clone())
                .collect()
        });
        let silent: Vec<(String, Duration)> = up
            .into_iter()
            .filter_map(|name| {
                // Any word from the agent counts, as the gateway heard it.
                let seen = duties
                    .hub
                    .last_heard(&name)
                    .unwrap_or(self.grace_start)
                    .max(self.grace_start);
                let silent_for = now.duration_since(seen);
                (silent_for > self.timeout).then_some((name, silent_for))
            })
            .collect();
        for chunk in silent.chunks(NODE_DOWNS_IN_FLIGHT_MAX) {
            let mut proposals = JoinSet::new();
            for (name, silent_for) in chunk {
                tracing::warn!(node = %name, silent_s = silent_for.as_secs(), "node not responding; setting it down");
                let proposer = duties.proposer.clone();
                let name = name.clone();
                proposals.spawn(async move {
                    let result = proposer
                        .propose(|now_ms| Command::NodeDown {
                            name: name.clone(),
                            reason: NOT_RESPONDING_REASON.to_string(),
                            now_ms,
                        })
                        .await;
                    if let Err(status) = result {
                        tracing::warn!(node = %name, "NodeDown not committed: {}", status.message());
                    }
                });
            }
            // A committed NodeDown leaves the node out of the next look; one
            // that did not commit is proposed again then.
            while proposals.join_next().await.is_some() {}
        }
    }
}
