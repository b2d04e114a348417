//! Applying the commands about job steps: `srun` starting one, and each
//! node reporting its part's end.

use std::sync::Arc;

use crate::allocation::AllocationId;
use crate::cluster::ClusterState;
use crate::command::{FinishCause, Outcome, Rejection};
use crate::job::{ExitStatus, Job, JobId, JobState, RequestId};
use crate::step::{self, Step, StepNodeEnd, StepSpec, STEPS_PER_JOB_MAX};
use crate::user::Actor;

impl ClusterState {
    /// Starts a step in a running job. A request id the job has seen
    /// answers with the step it created.
    pub(crate) fn apply_start_step(
        &mut self,
        job_id: JobId,
        request_id: &RequestId,
        actor: &Actor,
        spec: &StepSpec,
        now_ms: u64,
    ) -> Outcome {
        let Some(job) = self.jobs.get_mut(&job_id) else {
            return Outcome::Rejected(Rejection::InvalidJobId(job_id));
        };
        if !actor.may_modify_job_of(&job.user) {
            return Outcome::Rejected(Rejection::AccessDenied);
        }
        if let Some(step) = job.steps.iter().find(|s| &s.request_id == request_id) {
            return Outcome::StepStarted {
                job_id,
                step_id: step.id,
                duplicate: true,
            };
        }
        match job.state {
            JobState::Running => {}
            JobState::Pending => return Outcome::Rejected(Rejection::JobPending(job_id)),
            _ => return Outcome::Rejected(Rejection::AlreadyDone(job_id)),
        }
        if job.next_step_id >= STEPS_PER_JOB_MAX {
            return Outcome::Rejected(Rejection::StepLimit);
        }
        let allocation = job.allocation.as_ref().expect("a running job holds one");
        let nodes = match step::layout(allocation, spec) {
            Ok(nodes) => nodes,
            Err(rejection) => return Outcome::Rejected(rejection),
        };
        let step_id = job.next_step_id;
        job.next_step_id += 1;
        job.steps.push(Step {
            id: step_id,
            request_id: request_id.clone(),
            allocation_id: allocation.id,
            spec: Arc::new(spec.clone()),
            state: JobState::Running,
            nodes,
            start_time_ms: now_ms,
            end_time_ms: None,
            exit_status: ExitStatus::default(),
        });
        self.touch_step(job_id, step_id);
        Outcome::StepStarted {
            job_id,
            step_id,
            duplicate: false,
        }
    }

    /// A node's part of a step ended; the step ends with its last part.
    /// A second report, or one about a step that already ended (its job
    /// ended under it), changes nothing.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn apply_step_finished(
        &mut self,
        job_id: JobId,
        allocation_id: AllocationId,
        step_id: u32,
        node: &str,
        exit_status: ExitStatus,
        cause: FinishCause,
        now_ms: u64,
    ) -> Outcome {
        let Some(job) = self.jobs.get_mut(&job_id) else {
            return Outcome::Rejected(Rejection::InvalidJobId(job_id));
        };
        let Some(step) = job
            .steps
            .iter_mut()
            .find(|s| s.id == step_id && s.allocation_id == allocation_id)
        else {
            return Outcome::Rejected(Rejection::StaleAllocation(job_id));
        };
        if step.state.is_terminal() {
            return Outcome::Rejected(Rejection::StaleAllocation(job_id));
        }
        let Some(part) = step.nodes.iter_mut().find(|part| part.node == node) else {
            return Outcome::Rejected(Rejection::InvalidNode(node.to_string()));
        };
        if part.end.is_some() {
            return Outcome::Rejected(Rejection::StaleAllocation(job_id));
        }
        part.end = Some(StepNodeEnd { exit_status, cause });
        if step.nodes.iter().all(|part| part.end.is_some()) {
            let (state, exit) = step::ended_state(&step.nodes);
            step.exit_status = exit;
            step.end(state, now_ms);
            self.touch_step(job_id, step_id);
            // The job's derived exit code follows its steps.
            self.touch(job_id);
        }
        Outcome::Done
    }
}

/// Ends the steps still running when their job ends or leaves its
/// allocation: killed with it, so CANCELLED, unless the job's own end
/// says why (its node failed, its time ran out). Returns their numbers.
pub(crate) fn end_running_steps(job: &mut Job, now_ms: u64) -> Vec<u32> {
    let state = match job.state {
        JobState::NodeFail | JobState::Pending => JobState::NodeFail,
        JobState::Timeout => JobState::Timeout,
        _ => JobState::Cancelled,
    };
    let mut ended = Vec::new();
    for step in job.steps.iter_mut().filter(|s| !s.state.is_terminal()) {
        step.end(state, now_ms);
        ended.push(step.id);
    }
    ended
}
