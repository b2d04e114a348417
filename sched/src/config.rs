//! What an administrator may tune: the weights of the priority factors.

/// Weight of the age factor (Slurm's `PriorityWeightAge`).
pub const PRIORITY_WEIGHT_AGE_DEFAULT: u64 = 1_000;
/// Weight of the job size factor (Slurm's `PriorityWeightJobSize`).
pub const PRIORITY_WEIGHT_JOB_SIZE_DEFAULT: u64 = 1_000;
/// Age at which the age factor stops growing (Slurm's `PriorityMaxAge`,
/// whose default is 7 days).
pub const PRIORITY_MAX_AGE_MS_DEFAULT: u64 = 7 * 24 * 60 * 60 * 1_000;

/// How [`crate::schedule`] orders the queue. See [`crate::priority`] for
/// the formula.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SchedulerConfig {
    /// Priority points a job earns by waiting `max_age_ms` or longer.
    pub weight_age: u64,
    /// Priority points a job earns by asking for the whole cluster.
    pub weight_job_size: u64,
    /// Waiting longer than this earns no more priority; 0 turns the age
    /// factor off.
    pub max_age_ms: u64,
}

impl Default for SchedulerConfig {
    fn default() -> Self {
        SchedulerConfig {
            weight_age: PRIORITY_WEIGHT_AGE_DEFAULT,
            weight_job_size: PRIORITY_WEIGHT_JOB_SIZE_DEFAULT,
            max_age_ms: PRIORITY_MAX_AGE_MS_DEFAULT,
        }
    }
}
