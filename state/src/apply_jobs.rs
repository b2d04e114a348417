//! Applying the commands about jobs: submission, cancellation, holds,
//! plans, and their ends.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use crate::allocation::{Allocation, AllocationId, PlannedAllocation};
use crate::apply_steps::end_running_steps;
use crate::array::{ArrayTask, MAX_ARRAY_SIZE};
use crate::cluster::ClusterState;
use crate::command::{FinishCause, Outcome, Rejection};
use crate::dependency::Resolution;
use crate::job::{ExitStatus, Job, JobId, JobReason, JobSpec, JobState, RequestId};
use crate::partition::{Partition, PartitionState};
use crate::user::Actor;

impl ClusterState {
    pub(crate) fn apply_submit_job(
        &mut self,
        request_id: &RequestId,
        actor: &Actor,
        spec: &JobSpec,
        now_ms: u64,
    ) -> Outcome {
        self.requests.expire(now_ms);
        if let Some(job_id) = self.requests.get(request_id) {
            return Outcome::Submitted {
                job_id,
                duplicate: true,
            };
        }
        let partition = match self.resolve_partition(spec.partition.as_deref()) {
            Ok(partition) => partition.name.clone(),
            Err(rejection) => return Outcome::Rejected(rejection),
        };
        let account = match self
            .policy
            .account_for(&actor.user, spec.account.as_deref())
        {
            Ok(account) => account,
            Err(rejection) => return Outcome::Rejected(rejection),
        };
        if let Err(rejection) = self.check_named_nodes(spec, &partition) {
            return Outcome::Rejected(rejection);
        }
        let tasks: Vec<Option<u32>> = match &spec.array {
            None => vec![None],
            Some(array) => {
                let valid = !array.indices.is_empty()
                    && array.indices.windows(2).all(|pair| pair[0] < pair[1])
                    && array.indices.iter().all(|index| *index < MAX_ARRAY_SIZE)
                    && array.max_running != Some(0);
                if !valid {
                    return Outcome::Rejected(Rejection::InvalidArray);
                }
                array.indices.iter().copied().map(Some).collect()
            }
        };
        // An array's own id names no job: its tasks take the ids after it.
        let array_id = spec.array.is_some().then_some(self.next_job_id);
        let first_id = self.next_job_id + u32::from(array_id.is_some());
        let spec = Arc::new(spec.clone());
        let reason = if spec.hold {
            JobReason::JobHeldUser
        } else {
            JobReason::None
        };
        for (offset, task) in tasks.into_iter().enumerate() {
            let job_id = first_id + offset as JobId;
            let mut job = Job {
                id: job_id,
                request_id: request_id.clone(),
                spec: spec.clone(),
                partition: partition.clone(),
                user: actor.user.clone(),
                uid: actor.uid,
                gid: actor.gid,
                state: JobState::Pending,
                reason,
                submit_time_ms: now_ms,
                start_time_ms: None,
                end_time_ms: None,
                exit_status: ExitStatus::default(),
                cancelled_by_uid: None,
                allocation: None,
                requeue_count: 0,
                array: array_id.zip(task).map(|(array_job_id, task_id)| ArrayTask {
                    array_job_id,
                    task_id,
                }),
                dependencies: None,
                steps: Vec::new(),
                next_step_id: 0,
                account: account.clone(),
            };
            if let Some(dependency) = &spec.dependency {
                let dependencies = self.new_dependencies(&job, dependency, now_ms);
                match dependencies.resolution() {
                    Resolution::Waiting => {
                        self.waiting.insert(job_id);
                        if !spec.hold {
                            job.reason = JobReason::Dependency;
                        }
                    }
                    Resolution::NeverSatisfied if !spec.hold => {
                        job.reason = JobReason::DependencyNeverSatisfied
                    }
                    _ => {}
                }
                job.dependencies = Some(dependencies);
            }
            self.jobs.insert(job_id, job);
            self.touch(job_id);
            self.next_job_id = job_id + 1;
        }
        let job_id = array_id.unwrap_or(first_id);
        self.requests.insert(request_id.clone(), job_id, now_ms);
        Outcome::Submitted {
            job_id,
            duplicate: false,
        }
    }

    /// `-w` and `-x` name nodes that exist; `-w` nodes belong to the
    /// job's partition, are no more than the job's nodes, and none is also
    /// excluded.
    fn check_named_nodes(&self, spec: &JobSpec, partition: &str) -> Result<(), Rejection> {
        let named = spec.required_nodes.iter().chain(&spec.excluded_nodes);
        if let Some(unknown) = named.into_iter().find(|n| !self.nodes.contains_key(*n)) {
            return Err(Rejection::InvalidNode(unknown.clone()));
        }
        if spec.required_nodes.is_empty() {
            return Ok(());
        }
        let members: BTreeSet<String> = self
            .partitions
            .get(partition)
            .map(|p| self.partition_nodes(p).into_iter().collect())
            .unwrap_or_default();
        let fits = spec.required_nodes.iter().all(|n| members.contains(n))
            && spec.required_nodes.len() <= spec.nodes.max(1) as usize
            && !spec
                .required_nodes
                .iter()
                .any(|n| spec.excluded_nodes.contains(n));
        if fits {
            Ok(())
        } else {
            Err(Rejection::NodeConfigUnavailable)
        }
    }

    fn resolve_partition(&self, requested: Option<&str>) -> Result<&Partition, Rejection> {
        match requested {
            Some(name) => self
                .partitions
                .get(name)
                .ok_or_else(|| Rejection::InvalidPartition(name.to_string())),
            None => self
                .partitions
                .values()
                .find(|p| p.default)
                .ok_or(Rejection::NoDefaultPartition),
        }
    }

    /// Finds a job the actor may change, or says why not.
    pub(crate) fn modifiable_job(
        &mut self,
        job_id: JobId,
        actor: &Actor,
    ) -> Result<&mut Job, Rejection> {
        let job = self
            .jobs
            .get_mut(&job_id)
            .ok_or(Rejection::InvalidJobId(job_id))?;
        if !actor.may_modify_job_of(&job.user) {
            return Err(Rejection::AccessDenied);
        }
        Ok(job)
    }

    /// A pending job is cancelled at once. A running one moves to
    /// COMPLETING and keeps its resources until its agent reports that the
    /// script is gone; the leader tells the agent to kill it.
    pub(crate) fn apply_cancel_job(
        &mut self,
        job_id: JobId,
        actor: &Actor,
        now_ms: u64,
    ) -> Outcome {
        self.for_job_or_array(job_id, |state, id| state.cancel_one(id, actor, now_ms))
    }

    /// Applies `action` to the job, or to every task still known when
    /// `job_id` is an array's id (`scancel 14` of array 14). Done when it
    /// was done to any task; else the first task's rejection.
    pub(crate) fn for_job_or_array(
        &mut self,
        job_id: JobId,
        mut action: impl FnMut(&mut ClusterState, JobId) -> Outcome,
    ) -> Outcome {
        if self.jobs.contains_key(&job_id) {
            return action(self, job_id);
        }
        let tasks: Vec<JobId> = self.array_tasks(job_id).map(|job| job.id).collect();
        let outcomes: Vec<Outcome> = tasks.into_iter().map(|id| action(self, id)).collect();
        match outcomes
            .iter()
            .find(|outcome| matches!(outcome, Outcome::Done))
        {
            Some(done) => done.clone(),
            None => outcomes
                .into_iter()
                .next()
                .unwrap_or(Outcome::Rejected(Rejection::InvalidJobId(job_id))),
        }
    }

    fn cancel_one(&mut self, job_id: JobId, actor: &Actor, now_ms: u64) -> Outcome {
        let job = match self.modifiable_job(job_id, actor) {
            Ok(job) => job,
            Err(rejection) => return Outcome::Rejected(rejection),
        };
        let outcome = match job.state {
            JobState::Pending => {
                job.state = JobState::Cancelled;
                job.reason = JobReason::None;
                job.end_time_ms = Some(now_ms);
                job.cancelled_by_uid = Some(actor.uid);
                Outcome::Done
            }
            JobState::Running => {
                job.state = JobState::Completing;
                job.cancelled_by_uid = Some(actor.uid);
                Outcome::Done
            }
            // Being requeued: it ends cancelled instead.
            JobState::Completing if job.cancelled_by_uid.is_none() => {
                job.cancelled_by_uid = Some(actor.uid);
                self.requeues.remove(&job_id);
                Outcome::Done
            }
            _ => Outcome::Rejected(Rejection::AlreadyDone(job_id)),
        };
        if outcome == Outcome::Done {
            self.touch(job_id);
        }
        outcome
    }

    pub(crate) fn apply_hold_job(
        &mut self,
        job_id: JobId,
        actor: &Actor,
        user_hold: bool,
    ) -> Outcome {
        self.for_job_or_array(job_id, |state, id| state.hold_one(id, actor, user_hold))
    }

    fn hold_one(&mut self, job_id: JobId, actor: &Actor, user_hold: bool) -> Outcome {
        let job = match self.modifiable_job(job_id, actor) {
            Ok(job) => job,
            Err(rejection) => return Outcome::Rejected(rejection),
        };
        if job.state != JobState::Pending {
            return Outcome::Rejected(Rejection::JobNotPending(job_id));
        }
        job.reason = if actor.admin && actor.user != job.user && !user_hold {
            JobReason::JobHeldAdmin
        } else {
            JobReason::JobHeldUser
        };
        self.touch(job_id);
        Outcome::Done
    }

    pub(crate) fn apply_release_job(&mut self, job_id: JobId, actor: &Actor) -> Outcome {
        self.for_job_or_array(job_id, |state, id| state.release_one(id, actor))
    }

    fn release_one(&mut self, job_id: JobId, actor: &Actor) -> Outcome {
        let job = match self.modifiable_job(job_id, actor) {
            Ok(job) => job,
            Err(rejection) => return Outcome::Rejected(rejection),
        };
        if job.state != JobState::Pending {
            return Outcome::Rejected(Rejection::JobNotPending(job_id));
        }
        if job.reason == JobReason::JobHeldAdmin && !actor.admin {
            return Outcome::Rejected(Rejection::AccessDenied);
        }
        if job.reason.is_hold() {
            job.reason = JobReason::None;
        }
        self.touch(job_id);
        Outcome::Done
    }

    /// Starts every planned job that still fits, in plan order, and records
    /// the scheduler's reasons for the others.
    pub(crate) fn apply_plan(
        &mut self,
        allocations: &[PlannedAllocation],
        reasons: &[(JobId, JobReason)],
        now_ms: u64,
    ) -> Outcome {
        let mut partition_nodes: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        let mut started = Vec::new();
        let mut refused = Vec::new();
        for planned in allocations {
            let job_id = planned.job_id;
            let members = self.members_of_partition_of(job_id, &mut partition_nodes);
            if !self.plan_fits(planned, members) {
                refused.push(job_id);
                continue;
            }
            let allocation = Allocation {
                id: self.next_allocation_id,
                shares: planned.shares.clone(),
            };
            self.next_allocation_id = AllocationId(self.next_allocation_id.0 + 1);
            self.take_resources(&allocation);
            let job = self.jobs.get_mut(&job_id).expect("checked by plan_fits");
            job.state = JobState::Running;
            job.reason = JobReason::None;
            job.start_time_ms = Some(now_ms);
            started.push((job_id, allocation.id));
            job.allocation = Some(allocation);
            self.touch(job_id);
        }
        for (job_id, reason) in reasons {
            if let Some(job) = self.jobs.get_mut(job_id) {
                if job.state == JobState::Pending && !job.reason.is_hold() && !reason.is_hold() {
                    job.reason = *reason;
                }
            }
        }
        Outcome::Planned { started, refused }
    }

    /// The nodes of the job's partition (memoised per plan), if the job
    /// exists and its partition is up.
    fn members_of_partition_of<'a>(
        &self,
        job_id: JobId,
        cache: &'a mut BTreeMap<String, BTreeSet<String>>,
    ) -> Option<&'a BTreeSet<String>> {
        let job = self.jobs.get(&job_id)?;
        let partition = self.partitions.get(&job.partition)?;
        if partition.state != PartitionState::Up {
            return None;
        }
        Some(
            cache
                .entry(partition.name.clone())
                .or_insert_with(|| self.partition_nodes(partition).into_iter().collect()),
        )
    }

    /// Whether a planned allocation may start now: the job is pending and
    /// not held, and each share is on a distinct node of its partition that
    /// accepts jobs and has the CPUs, memory and GPUs free.
    fn plan_fits(&self, planned: &PlannedAllocation, members: Option<&BTreeSet<String>>) -> bool {
        let (Some(job), Some(members)) = (self.jobs.get(&planned.job_id), members) else {
            return false;
        };
        if job.state != JobState::Pending || job.reason.is_hold() || !self.may_start(job) {
            return false;
        }
        let spec = &job.spec;
        let distinct: BTreeSet<&str> = planned.shares.iter().map(|s| s.node.as_str()).collect();
        if planned.shares.len() != spec.nodes.max(1) as usize
            || distinct.len() != planned.shares.len()
        {
            return false;
        }
        let total_cpus: u32 = planned.shares.iter().map(|s| s.cpus).sum();
        if total_cpus < spec.ntasks.max(1) * spec.cpus_per_task.max(1) {
            return false;
        }
        // `-w` nodes all taken, `-x` nodes none.
        if !spec
            .required_nodes
            .iter()
            .all(|n| distinct.contains(n.as_str()))
            || spec
                .excluded_nodes
                .iter()
                .any(|n| distinct.contains(n.as_str()))
        {
            return false;
        }
        planned.shares.iter().all(|share| {
            let Some(node) = self.nodes.get(&share.node) else {
                return false;
            };
            let free_gpus = node.free_gpus();
            let gpus_distinct: BTreeSet<&u32> = share.gpus.iter().collect();
            members.contains(&share.node)
                && node.accepts_jobs()
                && share.cpus >= 1
                && share.cpus <= node.free_cpus()
                && share.memory_mb >= spec.memory_per_node()
                && share.memory_mb <= node.free_memory_mb()
                && share.gpus.len() == spec.gpus_per_node as usize
                && gpus_distinct.len() == share.gpus.len()
                && share.gpus.iter().all(|gpu| free_gpus.contains(gpu))
                // `--exclusive`: the whole node, which must be idle.
                && (!spec.exclusive || share.cpus == node.resources.cpus)
        })
    }

    /// Its `--begin` time has come, its dependencies allow it now, and its
    /// array runs fewer tasks than its throttle.
    pub fn may_start(&self, job: &Job) -> bool {
        let begun = job
            .spec
            .begin_time_ms
            .is_none_or(|begin| begin <= self.latest_now_ms);
        let dependencies_allow = job.dependencies.as_ref().is_none_or(|d| {
            matches!(d.resolution(), Resolution::Satisfied { eligible_ms } if eligible_ms <= self.latest_now_ms)
        });
        begun && dependencies_allow && !self.array_throttled(job)
    }

    /// As many tasks of the job's array run as `%N` allows.
    pub fn array_throttled(&self, job: &Job) -> bool {
        let (Some(task), Some(max)) = (
            job.array,
            job.spec.array.as_ref().and_then(|a| a.max_running),
        ) else {
            return false;
        };
        self.array_active_tasks(task.array_job_id) >= max as usize
    }

    /// Tasks of the array running or completing.
    pub fn array_active_tasks(&self, array_job_id: JobId) -> usize {
        self.array_tasks(array_job_id)
            .filter(|task| matches!(task.state, JobState::Running | JobState::Completing))
            .count()
    }

    fn take_resources(&mut self, allocation: &Allocation) {
        for share in &allocation.shares {
            if let Some(node) = self.nodes.get_mut(&share.node) {
                node.usage.cpus += share.cpus;
                node.usage.memory_mb += share.memory_mb;
                node.usage.gpus.extend(share.gpus.iter().copied());
            }
        }
    }

    pub(crate) fn release_resources(&mut self, allocation: &Allocation) {
        for share in &allocation.shares {
            if let Some(node) = self.nodes.get_mut(&share.node) {
                node.usage.cpus -= share.cpus;
                node.usage.memory_mb -= share.memory_mb;
                for gpu in &share.gpus {
                    node.usage.gpus.remove(gpu);
                }
            }
        }
    }

    /// A batch script ended: the job reaches its terminal state and frees
    /// its resources. A report about another allocation, or a second
    /// report, changes nothing.
    pub(crate) fn apply_job_finished(
        &mut self,
        job_id: JobId,
        allocation_id: AllocationId,
        exit_status: ExitStatus,
        cause: FinishCause,
        now_ms: u64,
    ) -> Outcome {
        let Some(job) = self.jobs.get_mut(&job_id) else {
            return Outcome::Rejected(Rejection::InvalidJobId(job_id));
        };
        let current = job.allocation.as_ref().map(|a| a.id);
        if current != Some(allocation_id) || job.state.is_terminal() {
            return Outcome::Rejected(Rejection::StaleAllocation(job_id));
        }
        self.time_limit_versions.remove(&job_id);
        if let Some(reason) = self.requeues.remove(&job_id) {
            self.requeue_ended_run(job_id, reason, now_ms);
            return Outcome::Done;
        }
        let job = self.jobs.get_mut(&job_id).expect("looked up above");
        let (state, reason) = match cause {
            _ if job.cancelled_by_uid.is_some() => (JobState::Cancelled, JobReason::None),
            FinishCause::Cancelled => (JobState::Cancelled, JobReason::None),
            FinishCause::TimeLimit => (JobState::Timeout, JobReason::TimeLimit),
            FinishCause::Exited if exit_status == ExitStatus::default() => {
                (JobState::Completed, JobReason::None)
            }
            FinishCause::Exited | FinishCause::LaunchFailed => {
                (JobState::Failed, JobReason::NonZeroExitCode)
            }
        };
        job.state = state;
        job.reason = reason;
        job.exit_status = exit_status;
        job.end_time_ms = Some(now_ms.max(job.start_time_ms.unwrap_or(0)));
        let ended_steps = end_running_steps(job, now_ms);
        let allocation = job.allocation.clone().expect("checked above");
        self.release_resources(&allocation);
        self.touch(job_id);
        for step_id in ended_steps {
            self.touch_step(job_id, step_id);
        }
        Outcome::Done
    }

    /// Ends or requeues every active job with a share on `node`.
    pub(crate) fn fail_jobs_on(&mut self, node: &str, now_ms: u64) {
        let affected: Vec<JobId> = self
            .jobs
            .values()
            .filter(|job| !job.state.is_terminal())
            .filter(|job| {
                job.allocation
                    .as_ref()
                    .is_some_and(|a| a.share_on(node).is_some())
            })
            .map(|job| job.id)
            .collect();
        for job_id in affected {
            // `scontrol requeue` asked for it: back to the queue whatever
            // `--requeue` says.
            let requested = self.requeues.remove(&job_id);
            self.time_limit_versions.remove(&job_id);
            let job = self.jobs.get_mut(&job_id).expect("collected above");
            let allocation = job.allocation.take().expect("filtered on it");
            if (job.spec.requeue || requested.is_some()) && job.cancelled_by_uid.is_none() {
                job.state = JobState::Pending;
                job.reason = requested.unwrap_or(JobReason::None);
                job.start_time_ms = None;
                job.requeue_count += 1;
            } else {
                job.state = JobState::NodeFail;
                job.reason = JobReason::NodeDown;
                job.end_time_ms = Some(now_ms.max(job.start_time_ms.unwrap_or(0)));
                // A failed job keeps the record of where it ran.
                job.allocation = Some(allocation.clone());
            }
            let ended_steps = end_running_steps(job, now_ms);
            self.release_resources(&allocation);
            self.touch(job_id);
            for step_id in ended_steps {
                self.touch_step(job_id, step_id);
            }
        }
    }
}
