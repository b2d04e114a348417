//! Feeding the accounting outbox: after each command, the jobs and steps
//! it changed become records ([`JobRecord`], [`StepRecord`]); and the
//! pump's acknowledgements.

use crate::accounting::{AccountingRecord, JobRecord, StepId, StepRecord};
use crate::cluster::ClusterState;
use crate::command::{Outcome, Rejection};
use crate::job::{ExitStatus, Job, JobId, JobReason, JobState};
use crate::step::{worse_exit, Step};

impl ClusterState {
    /// Notes that a command changed `job` in a way accounting records.
    pub(crate) fn touch(&mut self, job_id: JobId) {
        self.touched.insert(job_id);
    }

    pub(crate) fn touch_step(&mut self, job_id: JobId, step_id: u32) {
        self.touched_steps.insert((job_id, step_id));
    }

    /// Turns what the command touched into outbox records.
    pub(crate) fn record_touched(&mut self) {
        let jobs = std::mem::take(&mut self.touched);
        let steps = std::mem::take(&mut self.touched_steps);
        for job_id in jobs {
            let Some(job) = self.jobs.get(&job_id) else {
                continue;
            };
            let limit = self
                .partitions
                .get(&job.partition)
                .and_then(|p| p.max_time_minutes);
            let job_record = job_record(job, limit);
            let batch = batch_step_record(job);
            self.accounting.push(AccountingRecord::Job(job_record));
            if let Some(batch) = batch {
                self.accounting.push(AccountingRecord::Step(batch));
            }
        }
        for (job_id, step_id) in steps {
            let record = self
                .jobs
                .get(&job_id)
                .and_then(|job| job.steps.iter().find(|s| s.id == step_id))
                .map(|step| step_record(job_id, step));
            if let Some(record) = record {
                self.accounting.push(AccountingRecord::Step(record));
            }
        }
    }

    /// The pump wrote every record up to `upto`.
    pub(crate) fn apply_accounting_ack(&mut self, upto: u64) -> Outcome {
        if self.accounting.acknowledge(upto) {
            Outcome::Done
        } else {
            Outcome::Rejected(Rejection::StaleAccountingAck(upto))
        }
    }
}

/// A job's accounting row as it stands. `partition_limit` is the
/// partition's time limit, which applies when the job set none.
pub fn job_record(job: &Job, partition_limit: Option<u32>) -> JobRecord {
    let spec = &job.spec;
    let shares = job.allocation.iter().flat_map(|a| &a.shares);
    let derived = job
        .steps
        .iter()
        .map(|step| step.exit_status)
        .fold(ExitStatus::default(), worse_exit);
    let waits = job.reason.is_hold()
        || matches!(
            job.reason,
            JobReason::Dependency | JobReason::DependencyNeverSatisfied
        );
    JobRecord {
        job_id: job.id,
        array_job_id: job.array.map(|task| task.array_job_id),
        array_task_id: job.array.map(|task| task.task_id),
        name: spec.name.clone(),
        user: job.user.clone(),
        uid: job.uid,
        gid: job.gid,
        account: job.account.clone().or_else(|| spec.account.clone()),
        partition: job.partition.clone(),
        qos: spec.qos.clone(),
        state: job.state,
        cancelled_by_uid: job.cancelled_by_uid,
        // Slurm's database keeps 0:0 for a cancelled job; its batch step
        // has the signal (`sacct` capture 107: `8|CANCELLED by 0|0:0`,
        // `8.batch|CANCELLED|0:15`).
        exit_status: if job.state == JobState::Cancelled {
            ExitStatus::default()
        } else {
            job.exit_status
        },
        derived_exit_status: derived,
        submit_time_ms: job.submit_time_ms,
        eligible_time_ms: job.start_time_ms.or((!waits).then_some(job.submit_time_ms)),
        start_time_ms: job.start_time_ms,
        end_time_ms: job.end_time_ms,
        time_limit_minutes: job.time_limit_minutes(partition_limit),
        nodes: shares.clone().map(|share| share.node.clone()).collect(),
        alloc_cpus: shares.clone().map(|share| share.cpus).sum(),
        alloc_gpus: shares.clone().map(|share| share.gpus.len() as u32).sum(),
        alloc_memory_mb: shares.map(|share| share.memory_mb).sum(),
        req_nodes: spec.nodes,
        req_cpus: spec.ntasks.max(1) * spec.cpus_per_task.max(1),
        req_tasks: spec.ntasks,
        req_memory_per_node_mb: spec.memory_per_node_mb,
        req_gpus_per_node: spec.gpus_per_node,
        work_dir: spec.work_dir.clone(),
        reason: job.reason.slurm_name().to_string(),
        requeue_count: job.requeue_count,
        comment: spec.comment.clone(),
    }
}

/// The batch script's step (`ID.batch`), once the job has started.
pub fn batch_step_record(job: &Job) -> Option<StepRecord> {
    let start_time_ms = job.start_time_ms?;
    let share = job.allocation.as_ref()?.shares.first()?;
    Some(StepRecord {
        job_id: job.id,
        step_id: StepId::Batch,
        name: "batch".to_string(),
        state: job.state,
        exit_status: job.exit_status,
        start_time_ms,
        end_time_ms: job.end_time_ms,
        nodes: vec![share.node.clone()],
        ntasks: 1,
        alloc_cpus: share.cpus,
    })
}

pub fn step_record(job_id: JobId, step: &Step) -> StepRecord {
    StepRecord {
        job_id,
        step_id: StepId::Numbered(step.id),
        name: step.spec.name.clone(),
        state: step.state,
        exit_status: step.exit_status,
        start_time_ms: step.start_time_ms,
        end_time_ms: step.end_time_ms,
        nodes: step.node_names(),
        ntasks: step.ntasks(),
        alloc_cpus: step.ntasks() * step.spec.cpus_per_task.max(1),
    }
}
