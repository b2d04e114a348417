//! The series a controller exposes (every one is described in
//! docs/monitoring.md). Most are read at scrape time from Raft's metrics,
//! the replicated state and the agent hub; durations and election counts
//! are recorded as they happen, in [`ControllerMetrics`].

use std::sync::atomic::{AtomicU64, Ordering};

use corral_metrics::{Exposition, Histogram, Kind};
use corral_raft_store::Raft;
use corral_state::{JobState, NodeAvailability};
use openraft::ServerState;

use super::HttpContext;
use crate::propose::wall_clock_ms;

/// What is recorded as it happens.
pub struct ControllerMetrics {
    /// Time from receiving a `SubmitJob` call to answering it with its
    /// committed outcome, on the leader.
    pub submit_duration: Histogram,
    /// Time of one `corral_sched::schedule` pass on the leader.
    pub scheduling_pass_duration: Histogram,
    term_changes: AtomicU64,
    leader_changes: AtomicU64,
}

impl Default for ControllerMetrics {
    fn default() -> Self {
        ControllerMetrics {
            submit_duration: Histogram::durations(),
            scheduling_pass_duration: Histogram::durations(),
            term_changes: AtomicU64::new(0),
            leader_changes: AtomicU64::new(0),
        }
    }
}

impl ControllerMetrics {
    /// Counts the terms and leaders this controller sees, for as long as
    /// its Raft node reports metrics.
    pub async fn watch_elections(&self, raft: Raft) {
        let mut receiver = raft.metrics();
        let mut last: Option<(u64, Option<u64>)> = None;
        loop {
            let seen = {
                let metrics = receiver.borrow_and_update();
                (metrics.current_term, metrics.current_leader)
            };
            if let Some((term, leader)) = last {
                if seen.0 != term {
                    self.term_changes.fetch_add(1, Ordering::Relaxed);
                }
                if seen.1.is_some() && seen.1 != leader {
                    self.leader_changes.fetch_add(1, Ordering::Relaxed);
                }
            }
            last = Some(seen);
            if receiver.changed().await.is_err() {
                return;
            }
        }
    }
}

pub fn role_name(state: ServerState) -> &'static str {
    match state {
        ServerState::Leader => "leader",
        ServerState::Follower => "follower",
        ServerState::Candidate => "candidate",
        ServerState::Learner => "learner",
        ServerState::Shutdown => "shutdown",
    }
}

const ROLES: [ServerState; 5] = [
    ServerState::Leader,
    ServerState::Follower,
    ServerState::Candidate,
    ServerState::Learner,
    ServerState::Shutdown,
];

fn index(value: Option<u64>) -> f64 {
    value.map_or(0.0, |v| v as f64)
}

/// One scrape. `committed` is the commit index the Raft core answered, if
/// it answered.
pub fn render(context: &HttpContext, committed: Option<u64>) -> String {
    let mut out = Exposition::new();
    raft_series(&mut out, context, committed);
    state_series(&mut out, context);
    let recorded = &context.metrics;
    out.histogram(
        "corral_scheduling_pass_duration_seconds",
        "Time of one scheduler pass on the leader (computing the plan, before proposing it).",
        &recorded.scheduling_pass_duration.snapshot(),
    );
    out.histogram(
        "corral_submit_duration_seconds",
        "Time from receiving a job submission to answering it once committed, on the leader.",
        &recorded.submit_duration.snapshot(),
    );
    out.single(
        Kind::Gauge,
        "corral_agents_connected",
        "Agents attached to this controller over QUIC (only the leader has any).",
        context.hub.attached_nodes().len() as f64,
    );
    out.finish()
}

fn raft_series(out: &mut Exposition, context: &HttpContext, committed: Option<u64>) {
    let metrics = context.raft.metrics().borrow().clone();
    out.family(
        Kind::Gauge,
        "corral_controller_info",
        "Always 1; the labels name this controller.",
        [(
            vec![
                ("id", metrics.id.to_string()),
                ("address", context.address.clone()),
                ("cluster", context.cluster_name.clone()),
                ("version", env!("CARGO_PKG_VERSION").to_string()),
            ],
            1.0,
        )],
    );
    out.single(
        Kind::Gauge,
        "corral_raft_term",
        "The current Raft term.",
        metrics.current_term as f64,
    );
    out.family(
        Kind::Gauge,
        "corral_raft_role",
        "1 for this controller's current Raft role, 0 for the others.",
        ROLES.map(|role| {
            (
                vec![("role", role_name(role).to_string())],
                if role == metrics.state { 1.0 } else { 0.0 },
            )
        }),
    );
    out.single(
        Kind::Gauge,
        "corral_raft_leader_id",
        "The id of the leader this controller knows of; 0 when it knows none.",
        index(metrics.current_leader),
    );
    out.single(
        Kind::Gauge,
        "corral_raft_last_log_index",
        "Index of the last entry in this controller's log.",
        index(metrics.last_log_index),
    );
    out.single(
        Kind::Gauge,
        "corral_raft_committed_index",
        "Index of the last entry this controller knows to be committed.",
        index(committed),
    );
    out.single(
        Kind::Gauge,
        "corral_raft_applied_index",
        "Index of the last entry applied to this controller's state.",
        index(metrics.last_applied.map(|log_id| log_id.index)),
    );
    out.single(
        Kind::Gauge,
        "corral_raft_snapshot_index",
        "Index of the last entry in this controller's latest snapshot.",
        index(metrics.snapshot.map(|log_id| log_id.index)),
    );
    out.single(
        Kind::Counter,
        "corral_raft_term_changes_total",
        "Terms this controller moved to since it started: each is an election somewhere.",
        context.metrics.term_changes.load(Ordering::Relaxed) as f64,
    );
    out.single(
        Kind::Counter,
        "corral_raft_leader_changes_total",
        "Times this controller saw a new leader since it started.",
        context.metrics.leader_changes.load(Ordering::Relaxed) as f64,
    );
    let last_log = metrics.last_log_index.unwrap_or(0);
    let followers: Vec<(u64, Option<u64>)> = metrics
        .replication
        .iter()
        .flatten()
        .filter(|(id, _)| **id != metrics.id)
        .map(|(id, matched)| (*id, matched.map(|log_id| log_id.index)))
        .collect();
    out.family(
        Kind::Gauge,
        "corral_raft_replication_matched_index",
        "On the leader: the last index each follower is known to hold.",
        followers
            .iter()
            .map(|(id, matched)| (vec![("follower", id.to_string())], index(*matched))),
    );
    out.family(
        Kind::Gauge,
        "corral_raft_replication_lag_entries",
        "On the leader: entries of its log each follower is not known to hold yet.",
        followers.iter().map(|(id, matched)| {
            let lag = match matched {
                Some(matched) => last_log.saturating_sub(*matched),
                None => last_log,
            };
            (vec![("follower", id.to_string())], lag as f64)
        }),
    );
}

fn state_series(out: &mut Exposition, context: &HttpContext) {
    let now_ms = wall_clock_ms();
    let (jobs, nodes, drained, accounting) = context.state.read(|state| {
        let jobs = JobState::ALL.map(|job_state| {
            let count = state
                .all_jobs()
                .filter(|job| job.state == job_state)
                .count();
            (job_state, count)
        });
        let availabilities = [
            NodeAvailability::Up,
            NodeAvailability::Down,
            NodeAvailability::Unknown,
        ];
        let nodes = availabilities.map(|availability| {
            let count = state
                .nodes()
                .filter(|node| node.availability == availability)
                .count();
            (availability, count)
        });
        let drained = state.nodes().filter(|node| node.drain).count();
        let outbox = state.accounting();
        let oldest_ms = outbox
            .pending(1)
            .next()
            .map(|entry| crate::leader::record_time_ms(&entry.record));
        let accounting = (
            outbox.pending_len(),
            outbox.acked_upto(),
            outbox.last_seq(),
            outbox.dropped(),
            oldest_ms,
        );
        (jobs, nodes, drained, accounting)
    });
    out.family(
        Kind::Gauge,
        "corral_jobs",
        "Jobs in the replicated state, by state (finished jobs until they are purged).",
        jobs.map(|(job_state, count)| {
            (
                vec![("state", job_state.slurm_name().to_lowercase())],
                count as f64,
            )
        }),
    );
    out.family(
        Kind::Gauge,
        "corral_nodes",
        "Compute nodes by availability: up (agent heartbeating), down, unknown (never heard from).",
        nodes.map(|(availability, count)| {
            let name = match availability {
                NodeAvailability::Up => "up",
                NodeAvailability::Down => "down",
                NodeAvailability::Unknown => "unknown",
            };
            (vec![("state", name.to_string())], count as f64)
        }),
    );
    out.single(
        Kind::Gauge,
        "corral_nodes_drained",
        "Compute nodes drained (no new jobs), whatever their availability.",
        drained as f64,
    );
    let (backlog, acked, last, dropped, oldest_ms) = accounting;
    out.single(
        Kind::Gauge,
        "corral_accounting_backlog_records",
        "Accounting records in the replicated outbox not yet acknowledged as written to the database.",
        backlog as f64,
    );
    out.single(
        Kind::Gauge,
        "corral_accounting_acked_sequence",
        "Sequence number up to which the database has every accounting record.",
        acked as f64,
    );
    out.single(
        Kind::Gauge,
        "corral_accounting_last_sequence",
        "Sequence number of the latest accounting record.",
        last as f64,
    );
    out.single(
        Kind::Gauge,
        "corral_accounting_lag_seconds",
        "Age of the oldest accounting record not yet in the database; 0 when none waits.",
        oldest_ms.map_or(0.0, |ms| now_ms.saturating_sub(ms) as f64 / 1000.0),
    );
    out.single(
        Kind::Counter,
        "corral_accounting_dropped_records_total",
        "Accounting records dropped because the outbox was full (the database was away too long).",
        dropped as f64,
    );
}
