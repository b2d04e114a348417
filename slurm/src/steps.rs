//! The running steps of running jobs, as `squeue -s` and `scontrol show
//! step` list them: each `srun` step (`ID.N`), then the batch script's
//! own step (`ID.batch`, on the batch host, one task), as Slurm 22.05
//! reports them. Steps that ended are not listed: Slurm's controller
//! keeps only running steps.

use corral_state::{hostlist, Job, JobState, Step};

/// Slurm's `SLURM_BATCH_SCRIPT` step number: the batch step sorts after
/// every numbered one.
const BATCH_STEP_NUMBER: u64 = 0xffff_fffb;

/// One running step of a job.
#[derive(Clone, Copy, Debug)]
pub struct StepRow<'a> {
    pub job: &'a Job,
    /// `None`: the batch step.
    pub step: Option<&'a Step>,
}

/// Every running step of the running jobs, in job order and, within a
/// job, in step order with the batch step last.
pub fn running_steps(jobs: &[Job]) -> Vec<StepRow<'_>> {
    let mut rows = Vec::new();
    for job in jobs.iter().filter(|job| job.state == JobState::Running) {
        rows.extend(
            job.steps
                .iter()
                .filter(|step| step.state == JobState::Running)
                .map(|step| StepRow {
                    job,
                    step: Some(step),
                }),
        );
        if job.allocation.is_some() && job.start_time_ms.is_some() {
            rows.push(StepRow { job, step: None });
        }
    }
    rows
}

impl StepRow<'_> {
    /// `14.0`, `14.batch`; `13_2.0` for a task of array 13.
    pub fn id_text(&self) -> String {
        let job = match self.job.array {
            Some(task) => format!("{}_{}", task.array_job_id, task.task_id),
            None => self.job.id.to_string(),
        };
        match self.step {
            Some(step) => format!("{job}.{}", step.id),
            None => format!("{job}.batch"),
        }
    }

    /// The step number for sorting and matching (`batch` is Slurm's).
    pub fn number(&self) -> u64 {
        self.step
            .map_or(BATCH_STEP_NUMBER, |step| u64::from(step.id))
    }

    pub fn name(&self) -> &str {
        self.step.map_or("batch", |step| step.spec.name.as_str())
    }

    pub fn node_names(&self) -> Vec<String> {
        match self.step {
            Some(step) => step.node_names(),
            None => self
                .job
                .allocation
                .iter()
                .flat_map(|a| a.shares.first())
                .map(|share| share.node.clone())
                .collect(),
        }
    }

    pub fn node_list(&self) -> String {
        hostlist::compress(&self.node_names())
    }

    pub fn tasks(&self) -> u32 {
        self.step.map_or(1, Step::ntasks)
    }

    pub fn cpus(&self) -> u32 {
        match self.step {
            Some(step) => step.ntasks() * step.spec.cpus_per_task.max(1),
            None => self
                .job
                .allocation
                .iter()
                .flat_map(|a| a.shares.first())
                .map(|share| share.cpus)
                .sum(),
        }
    }

    pub fn start_time_ms(&self) -> Option<u64> {
        match self.step {
            Some(step) => Some(step.start_time_ms),
            None => self.job.start_time_ms,
        }
    }

    /// The step's own `-t`, in minutes; `None` is `UNLIMITED`.
    pub fn time_limit_minutes(&self) -> Option<u32> {
        self.step.and_then(|step| step.spec.time_limit_minutes)
    }
}
