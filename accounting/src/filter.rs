//! What `sacct` asks for.

use corral_state::{JobId, JobState};

/// Which jobs a query returns. Every list that is not empty must match (a
/// job matches a list when it matches any entry in it); empty lists and
/// `None` match everything.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct JobFilter {
    /// `sacct -j`: the job ids, or the array job ids (`14` selects the
    /// array job 14 and all its tasks `14_*`).
    pub job_ids: Vec<JobId>,
    /// `sacct -u`: user names.
    pub users: Vec<String>,
    /// `sacct -s`: the job's current state.
    pub states: Vec<JobState>,
    /// `sacct -r`: partitions.
    pub partitions: Vec<String>,
    /// `sacct -S` / `-E`: jobs that existed during the window, that is
    /// submitted at or before its end and not ended before its start (a job
    /// with no end time has not ended). Milliseconds since the epoch;
    /// compared at whole seconds, as stored.
    pub window_start_ms: Option<u64>,
    pub window_end_ms: Option<u64>,
    /// At most this many jobs, the lowest job ids first.
    pub jobs_max: Option<u32>,
}
