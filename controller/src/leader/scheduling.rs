//! Scheduler passes on the leader: `corral_sched::schedule` on the current
//! state, proposed as one `ApplyPlan`, which `apply` checks again.

use std::time::{Duration, Instant};

use corral_sched::{schedule, SchedulerConfig};
use corral_state::{AllocationId, Command, JobId, Outcome};

use super::Duties;
use crate::propose::wall_clock_ms;

/// Passes are at least this far apart, however fast the state changes.
pub const PASS_INTERVAL_MIN_MS: u64 = 50;
/// A pass runs at least this often even when nothing changed (reasons and
/// backfill depend on the time).
pub const PASS_INTERVAL_MAX_MS: u64 = 5_000;

pub(super) struct Scheduler {
    duties: Duties,
    config: SchedulerConfig,
    dirty: bool,
    last_pass: Option<Instant>,
}

impl Scheduler {
    pub fn new(duties: Duties) -> Scheduler {
        Scheduler {
            duties,
            config: SchedulerConfig::default(),
            dirty: true,
            last_pass: None,
        }
    }

    pub fn state_changed(&mut self) {
        self.dirty = true;
    }

    /// Runs a pass when one is due and proposes its plan; returns the jobs
    /// that started.
    pub async fn run_if_due(&mut self) -> Option<Vec<(JobId, AllocationId)>> {
        let since = self.last_pass.map(|at| at.elapsed());
        let due = match since {
            None => true,
            Some(since) if self.dirty => since >= Duration::from_millis(PASS_INTERVAL_MIN_MS),
            Some(since) => since >= Duration::from_millis(PASS_INTERVAL_MAX_MS),
        };
        if !due {
            return None;
        }
        self.dirty = false;
        self.last_pass = Some(Instant::now());
        let state = self.duties.proposer.state().clone();
        let config = self.config.clone();
        let now_ms = wall_clock_ms();
        let started_at = Instant::now();
        let plan =
            tokio::task::spawn_blocking(move || state.read(|s| schedule(s, now_ms, &config)))
                .await
                .ok()?;
        let pass_time = started_at.elapsed();
        self.duties
            .metrics
            .scheduling_pass_duration
            .observe(pass_time);
        let pass_ms = pass_time.as_millis();
        if plan.allocations.is_empty() && plan.reasons.is_empty() {
            return None;
        }
        tracing::debug!(
            pass_ms,
            starts = plan.allocations.len(),
            reasons = plan.reasons.len(),
            "scheduler pass"
        );
        let outcome = self
            .duties
            .proposer
            .propose(|now_ms| Command::ApplyPlan {
                allocations: plan.allocations,
                reasons: plan.reasons,
                now_ms,
            })
            .await;
        match outcome {
            Ok(Outcome::Planned { started, refused }) => {
                if !refused.is_empty() {
                    tracing::debug!(?refused, "plan entries no longer fitted");
                }
                Some(started)
            }
            Ok(other) => {
                tracing::warn!(?other, "unexpected outcome of a plan");
                None
            }
            Err(status) => {
                tracing::warn!("plan not committed: {}", status.message());
                None
            }
        }
    }
}
