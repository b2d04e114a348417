//! Time limits changed by `scontrol update TimeLimit=` while a job runs:
//! the batch node's agent enforces the limit it got at launch, so each
//! change is sent to it (and sent again until it confirms). The state
//! counts a job's changes (`ClusterState::time_limit_version`); the agent
//! records the newest version it got and ignores older ones, so a late or
//! repeated message never brings back an old limit.
//!
//! Rebuilt from the state: a new leader knows the versions, not what
//! agents confirmed, and sends each changed job's limit once more.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use corral_proto as wire;
use corral_state::{AllocationId, JobId, JobState};

use super::dispatch::RESEND_MS;
use super::Duties;

type Key = (JobId, AllocationId);

#[derive(Default)]
pub(super) struct LimitDispatch {
    /// The newest version each agent confirmed.
    confirmed: HashMap<Key, u32>,
    sent: HashMap<Key, (u32, Instant)>,
}

impl LimitDispatch {
    pub fn confirmed(&mut self, key: Key, version: u32) {
        let newest = self.confirmed.entry(key).or_insert(version);
        *newest = (*newest).max(version);
    }

    /// Sends every change not confirmed to the agents attached now, for
    /// jobs whose launch the agent has `recorded` (a launch made after
    /// the change carries the new limit anyway).
    pub fn dispatch(
        &mut self,
        duties: &Duties,
        attached: &HashSet<String>,
        recorded: &HashSet<Key>,
    ) {
        let due: Vec<(String, Key, wire::TimeLimitUpdate)> =
            duties.proposer.state().read(|state| {
                state
                    .time_limit_updates()
                    .filter_map(|(job_id, version)| {
                        let job = state.job(job_id)?;
                        let allocation = job.allocation.as_ref()?;
                        let node = &allocation.shares.first()?.node;
                        let key = (job_id, allocation.id);
                        let wanted = job.state == JobState::Running
                            && attached.contains(node)
                            && recorded.contains(&key)
                            && self.confirmed.get(&key).is_none_or(|v| *v < version);
                        let partition_limit = state
                            .partition(&job.partition)
                            .and_then(|p| p.max_time_minutes);
                        wanted.then(|| {
                            (
                                node.clone(),
                                key,
                                wire::TimeLimitUpdate {
                                    job_id,
                                    allocation_id: allocation.id.0,
                                    time_limit_minutes: job.time_limit_minutes(partition_limit),
                                    version,
                                },
                            )
                        })
                    })
                    .collect()
            });
        let active: HashSet<Key> = due.iter().map(|(_, key, _)| *key).collect();
        self.sent.retain(|key, _| active.contains(key));
        self.confirmed
            .retain(|key, _| recorded.contains(key) || active.contains(key));
        let now = Instant::now();
        for (node, key, update) in due {
            let recently = self.sent.get(&key).is_some_and(|(version, at)| {
                *version == update.version
                    && now.duration_since(*at) < Duration::from_millis(RESEND_MS)
            });
            if recently {
                continue;
            }
            let version = update.version;
            let message = wire::ControllerMessage {
                body: Some(wire::controller_message::Body::TimeLimit(update)),
            };
            if duties.hub.send(&node, message) {
                self.sent.insert(key, (version, now));
            }
        }
    }
}
