//! Work done only while this controller is the leader.
//!
//! Architecture invariant: leader duties start after the new leader has
//! applied every entry committed before its term (its own first entry), and
//! stop as soon as it loses leadership. Everything they keep is derived from
//! the replicated state or rebuilt from what agents say when they attach, so
//! a new leader resumes where the old one stopped:
//! - [`sync`]: the configuration file's partitions and nodes into the state;
//! - [`nodes`]: agents' heartbeats (kept in memory, never replicated) and
//!   `NodeDown` after `slurmd_timeout`, with a full timeout of grace for
//!   every node when the term starts;
//! - [`scheduling`]: scheduler passes proposed as `ApplyPlan`;
//! - [`dispatch`]: launches and cancellations sent to agents, job ends
//!   proposed as `JobFinished` and acknowledged after commit;
//! - [`steps`]: the same for the nodes' parts of job steps (`srun`);
//! - [`pump`]: the accounting outbox written to the database, then
//!   acknowledged (`AccountingAck`);
//! - housekeeping: finished jobs purged after `min_job_age`.

mod dispatch;
mod limits;
mod nodes;
mod pump;
mod scheduling;
mod steps;
mod sync;

pub(crate) use pump::oldest_time_ms as record_time_ms;

use std::sync::Arc;
use std::time::{Duration, Instant};

use corral_config::Config;
use corral_raft_store::Raft;
use openraft::ServerState;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use corral_accounting::AccountingDb;

use crate::gateway::{AgentEvent, Hub};
use crate::http::ControllerMetrics;
use crate::propose::{wall_clock_ms, Proposer};

/// How often the duties look at heartbeats and resend what is unacknowledged.
pub const TICK_MS: u64 = 200;
/// How often finished jobs older than `min_job_age` are purged.
pub const PURGE_INTERVAL_MS: u64 = 30_000;

/// Watches Raft's metrics, logs role changes, and runs the leader duties for
/// as long as this controller leads. Returns when `shutdown` turns true.
pub async fn supervise(
    raft: Raft,
    proposer: Proposer,
    config: Arc<Config>,
    hub: Arc<Hub>,
    accounting: Arc<AccountingDb>,
    recorded: Arc<ControllerMetrics>,
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
                stop(&mut duties, &hub);
                let caught_up_index = current.last_log_index.unwrap_or(0);
                let context = Duties {
                    proposer: proposer.clone(),
                    config: config.clone(),
                    hub: hub.clone(),
                    accounting: accounting.clone(),
                    metrics: recorded.clone(),
                };
                duties = Some((leading, tokio::spawn(context.lead(caught_up_index))));
            }
            (Some(_), None) => stop(&mut duties, &hub),
            (None, None) => {}
        }
        tokio::select! {
            changed = metrics.changed() => if changed.is_err() { break },
            _ = shutdown.changed() => break,
        }
    }
    stop(&mut duties, &hub);
}

/// Ends the duties of a term, and every agent session with them.
fn stop(duties: &mut Option<(u64, JoinHandle<()>)>, hub: &Hub) {
    if let Some((_, handle)) = duties.take() {
        handle.abort();
        hub.close_all();
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

/// What the duties of one term work with.
#[derive(Clone)]
pub(crate) struct Duties {
    pub proposer: Proposer,
    pub config: Arc<Config>,
    pub hub: Arc<Hub>,
    pub accounting: Arc<AccountingDb>,
    pub metrics: Arc<ControllerMetrics>,
}

/// A task of the duties, ended with them.
struct AbortOnDrop(JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Why the duties loop woke up.
enum Event {
    Agent(AgentEvent),
    StateChanged,
    Tick,
}

impl Duties {
    /// The leader's duties for one term.
    async fn lead(self, caught_up_index: u64) {
        self.proposer.state().wait_applied(caught_up_index).await;
        tracing::info!(
            applied_index = caught_up_index,
            "leader caught up; starting leader duties"
        );
        sync::partitions(&self).await;
        sync::nodes(&self).await;
        sync::enforcement(&self).await;
        let _pump = AbortOnDrop(tokio::spawn(pump::run(
            self.clone(),
            self.accounting.clone(),
        )));

        let timeouts = &self.config.file.timeouts;
        let heartbeats = nodes::Heartbeats::new(
            Instant::now(),
            Duration::from_secs(timeouts.slurmd_timeout_s),
        );
        let mut dispatcher = dispatch::Dispatcher::new(self.clone());
        let mut scheduler = scheduling::Scheduler::new(self.clone());
        let mut last_purge = Instant::now();
        let mut applied = self.proposer.state().subscribe_applied_index();
        let mut tick = tokio::time::interval(Duration::from_millis(TICK_MS));
        let mut events = self.hub.events().await;
        loop {
            let event = tokio::select! {
                Some(event) = events.recv() => Event::Agent(event),
                Ok(()) = applied.changed() => Event::StateChanged,
                _ = tick.tick() => Event::Tick,
            };
            match event {
                Event::Agent(event) => dispatcher.handle(event).await,
                Event::StateChanged => {
                    scheduler.state_changed();
                    dispatcher.state_changed();
                }
                Event::Tick => {
                    heartbeats.judge(&self).await;
                    if last_purge.elapsed() >= Duration::from_millis(PURGE_INTERVAL_MS) {
                        last_purge = Instant::now();
                        self.purge_finished_jobs().await;
                    }
                }
            }
            if let Some(started) = scheduler.run_if_due().await {
                dispatcher.started(started);
            }
            dispatcher.dispatch_if_due();
        }
    }

    /// Forgets finished jobs older than `min_job_age` (proposes nothing when
    /// there are none).
    async fn purge_finished_jobs(&self) {
        let min_age_ms = self.config.file.timeouts.min_job_age_s * 1000;
        let before = wall_clock_ms().saturating_sub(min_age_ms);
        let any = self.proposer.state().read(|state| {
            state.all_jobs().any(|job| {
                job.state.is_terminal() && job.end_time_ms.is_some_and(|end| end < before)
            })
        });
        if !any {
            return;
        }
        let result = self
            .proposer
            .propose(|now_ms| corral_state::Command::PurgeJobs {
                finished_before_ms: before,
                now_ms,
            })
            .await;
        if let Ok(corral_state::Outcome::Purged { jobs }) = result {
            tracing::info!(jobs, "purged finished jobs older than min_job_age");
        }
    }
}
