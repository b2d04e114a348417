//! `ClusterState::invariants()`: what must hold after every `apply`.
//!
//! Tests and the chaos harness call it after each command. Inside a running
//! controller a violation means the replicated state is corrupt.

use std::fmt;

use crate::cluster::ClusterState;
use crate::job::JobState;

/// One broken invariant, with enough detail to find the culprit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InvariantViolation(pub String);

impl fmt::Display for InvariantViolation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for InvariantViolation {}

macro_rules! ensure {
    ($cond:expr, $($fmt:tt)+) => {
        if !$cond {
            return Err(InvariantViolation(format!($($fmt)+)));
        }
    };
}

impl ClusterState {
    /// Checks every invariant of the state; the first violation found is returned.
    pub fn invariants(&self) -> Result<(), InvariantViolation> {
        self.check_job_ids()?;
        self.check_job_states()?;
        self.check_request_window()?;
        self.check_users()?;
        Ok(())
    }

    fn check_job_ids(&self) -> Result<(), InvariantViolation> {
        ensure!(self.next_job_id >= 1, "next job id is 0");
        for (id, job) in &self.jobs {
            ensure!(*id == job.id, "job stored under {id} claims id {}", job.id);
            ensure!(
                *id < self.next_job_id,
                "job {id} is not below the next job id {}",
                self.next_job_id
            );
        }
        Ok(())
    }

    fn check_job_states(&self) -> Result<(), InvariantViolation> {
        for job in self.jobs.values() {
            let id = job.id;
            match job.state {
                JobState::Pending => {
                    ensure!(job.start_time_ms.is_none(), "pending job {id} has a start time");
                    ensure!(job.end_time_ms.is_none(), "pending job {id} has an end time");
                }
                JobState::Running | JobState::Completing => {
                    ensure!(job.start_time_ms.is_some(), "active job {id} has no start time");
                    ensure!(job.end_time_ms.is_none(), "active job {id} has an end time");
                }
                _ => {
                    ensure!(job.end_time_ms.is_some(), "finished job {id} has no end time");
                }
            }
            if let (Some(start), Some(end)) = (job.start_time_ms, job.end_time_ms) {
                ensure!(start <= end, "job {id} ends before it starts");
            }
            ensure!(
                job.submit_time_ms <= job.start_time_ms.unwrap_or(u64::MAX),
                "job {id} starts before it was submitted"
            );
            ensure!(
                self.partitions.is_empty() || !job.partition.is_empty(),
                "job {id} has no partition"
            );
        }
        Ok(())
    }

    fn check_request_window(&self) -> Result<(), InvariantViolation> {
        ensure!(
            self.requests.len() == self.requests.arrivals_len(),
            "request window index ({}) and arrival queue ({}) disagree",
            self.requests.len(),
            self.requests.arrivals_len()
        );
        for (request_id, job_id) in self.requests.iter() {
            ensure!(
                job_id < self.next_job_id,
                "request {request_id} maps to unassigned job id {job_id}"
            );
            if let Some(job) = self.jobs.get(&job_id) {
                ensure!(
                    &job.request_id == request_id,
                    "request {request_id} maps to job {job_id}, created by request {}",
                    job.request_id
                );
            }
        }
        Ok(())
    }

    fn check_users(&self) -> Result<(), InvariantViolation> {
        let mut digests = 0;
        for user in self.users.values() {
            for digest in &user.token_sha256 {
                digests += 1;
                ensure!(
                    self.user_by_token.get(digest) == Some(&user.name),
                    "token of {} is not indexed to it",
                    user.name
                );
            }
        }
        ensure!(
            digests == self.user_by_token.len(),
            "token index has {} entries for {digests} tokens",
            self.user_by_token.len()
        );
        Ok(())
    }
}
