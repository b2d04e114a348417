//! Applying `scontrol update JobId=...` and `scontrol requeue|requeuehold`.
//!
//! An update is checked whole before anything changes: every change it
//! asks for applies, or none does and the first refusal is the outcome.
//! Who may do what follows Slurm's `_update_job`: the owner or an
//! administrator; only an administrator may raise a running job's time
//! limit (a user may raise a pending job's up to its partition's limit)
//! or set a negative nice value; the partition changes only while the job
//! is pending.
//!
//! A requeue of a running job moves it to COMPLETING, the leader ends it
//! on its nodes as it ends a cancelled job, and the end its agent reports
//! puts it back to PENDING instead of ending it. A finished job pends
//! again at once. Either way its restart count grows and its next run
//! appends to its output files.

use std::sync::Arc;

use crate::apply_steps::end_running_steps;
use crate::cluster::ClusterState;
use crate::command::{JobUpdate, Outcome, Rejection, TimeLimitUpdate};
use crate::dependency::Resolution;
use crate::job::{ExitStatus, JobId, JobReason, JobState};
use crate::user::Actor;

impl ClusterState {
    pub(crate) fn apply_update_job(
        &mut self,
        job_id: JobId,
        actor: &Actor,
        update: &JobUpdate,
    ) -> Outcome {
        self.for_job_or_array(job_id, |state, id| state.update_one(id, actor, update))
    }

    fn update_one(&mut self, job_id: JobId, actor: &Actor, update: &JobUpdate) -> Outcome {
        let time_limit = match self.check_update(job_id, actor, update) {
            Ok(time_limit) => time_limit,
            Err(rejection) => return Outcome::Rejected(rejection),
        };
        let job = self.jobs.get_mut(&job_id).expect("checked above");
        let active = matches!(job.state, JobState::Running | JobState::Completing);
        let spec = Arc::make_mut(&mut job.spec);
        if let Some(minutes) = time_limit {
            spec.time_limit_minutes = minutes;
        }
        if let Some(partition) = &update.partition {
            spec.partition = Some(partition.clone());
            job.partition = partition.clone();
        }
        if let Some(nice) = update.nice {
            spec.nice = nice;
        }
        if let Some(name) = &update.name {
            spec.name = name.clone();
        }
        if let Some(comment) = &update.comment {
            spec.comment = Some(comment.clone());
        }
        if time_limit.is_some() && active {
            *self.time_limit_versions.entry(job_id).or_insert(0) += 1;
        }
        self.touch(job_id);
        Outcome::Done
    }

    /// Whether `actor` may make every change of `update` to the job, and
    /// the job's own time limit to set (`Some(None)`: the partition's).
    fn check_update(
        &self,
        job_id: JobId,
        actor: &Actor,
        update: &JobUpdate,
    ) -> Result<Option<Option<u32>>, Rejection> {
        let job = self
            .jobs
            .get(&job_id)
            .ok_or(Rejection::InvalidJobId(job_id))?;
        if !actor.may_modify_job_of(&job.user) {
            return Err(Rejection::AccessDenied);
        }
        let finished = job.state.is_terminal();
        let pending = job.state == JobState::Pending;
        let partition_name = update.partition.as_deref().unwrap_or(&job.partition);
        let partition = self.partitions.get(partition_name);
        if let Some(name) = &update.partition {
            if !pending {
                return Err(Rejection::JobNotPending(job_id));
            }
            if partition.is_none() {
                return Err(Rejection::InvalidPartition(name.clone()));
            }
        }
        if finished && (update.nice.is_some() || update.name.is_some()) {
            return Err(Rejection::JobFinished(job_id));
        }
        if update.nice.is_some_and(|nice| nice < 0) && !actor.admin {
            return Err(Rejection::AccessDenied);
        }
        let Some(time_limit) = update.time_limit else {
            return Ok(None);
        };
        if finished {
            return Err(Rejection::JobFinished(job_id));
        }
        let partition_limit = partition.and_then(|p| p.max_time_minutes);
        let (own, effective) = match time_limit {
            TimeLimitUpdate::Minutes(minutes) => (Some(minutes), Some(minutes)),
            TimeLimitUpdate::Unlimited => (None, partition_limit),
        };
        let current = job.time_limit_minutes(partition_limit);
        let allowed = actor.admin
            || at_most(effective, current)
            || (pending && at_most(effective, partition_limit));
        if !allowed {
            return Err(Rejection::AccessDenied);
        }
        Ok(Some(own))
    }

    pub(crate) fn apply_requeue_job(
        &mut self,
        job_id: JobId,
        actor: &Actor,
        hold: bool,
        now_ms: u64,
    ) -> Outcome {
        let reason = if hold {
            JobReason::RequeueHold
        } else {
            JobReason::None
        };
        self.for_job_or_array(job_id, |state, id| {
            state.requeue_one(id, actor, reason, now_ms)
        })
    }

    fn requeue_one(
        &mut self,
        job_id: JobId,
        actor: &Actor,
        reason: JobReason,
        now_ms: u64,
    ) -> Outcome {
        let job = match self.modifiable_job(job_id, actor) {
            Ok(job) => job,
            Err(rejection) => return Outcome::Rejected(rejection),
        };
        match job.state {
            JobState::Pending => Outcome::Rejected(Rejection::JobPending(job_id)),
            JobState::Completing => Outcome::Rejected(Rejection::TransitionState(job_id)),
            JobState::Running => {
                job.state = JobState::Completing;
                self.requeues.insert(job_id, reason);
                self.touch(job_id);
                Outcome::Done
            }
            _ => {
                self.requeue_ended_run(job_id, reason, now_ms);
                Outcome::Done
            }
        }
    }

    /// Puts a job whose run is over (its end just reported, or long
    /// finished) back in the queue: PENDING with `reason`, without the
    /// allocation and times of its run, one restart more. Its steps
    /// still running end CANCELLED; the resources of an active job are
    /// freed.
    pub(crate) fn requeue_ended_run(&mut self, job_id: JobId, reason: JobReason, now_ms: u64) {
        let job = self.jobs.get_mut(&job_id).expect("the caller found it");
        let active = !job.state.is_terminal();
        let ended_steps = end_running_steps(job, now_ms);
        let allocation = job.allocation.take();
        job.state = JobState::Pending;
        job.reason = reason;
        job.start_time_ms = None;
        job.end_time_ms = None;
        job.exit_status = ExitStatus::default();
        job.cancelled_by_uid = None;
        job.requeue_count += 1;
        // A job cancelled before its dependencies were met waits for them again.
        let waits = job
            .dependencies
            .as_ref()
            .is_some_and(|d| d.resolution() == Resolution::Waiting);
        if waits {
            if reason == JobReason::None {
                job.reason = JobReason::Dependency;
            }
            self.waiting.insert(job_id);
        }
        if let (true, Some(allocation)) = (active, &allocation) {
            self.release_resources(allocation);
        }
        self.touch(job_id);
        for step_id in ended_steps {
            self.touch_step(job_id, step_id);
        }
    }
}

/// `a <= b`, where `None` is no limit.
fn at_most(a: Option<u32>, b: Option<u32>) -> bool {
    match (a, b) {
        (_, None) => true,
        (None, Some(_)) => false,
        (Some(a), Some(b)) => a <= b,
    }
}
