//! `ClusterState::invariants()`: what must hold after every `apply`.
//!
//! Tests and the chaos harness call it after each command. Inside a running
//! controller a violation means the replicated state is corrupt.

use std::fmt;

use std::collections::{BTreeMap, BTreeSet};

use crate::cluster::ClusterState;
use crate::dependency::Resolution;
use crate::job::JobState;
use crate::node::NodeUsage;

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
        self.check_allocations()?;
        self.check_node_usage()?;
        self.check_waiting()?;
        self.check_steps()?;
        self.check_requeues_and_limits()?;
        self.accounting.consistent().map_err(InvariantViolation)?;
        self.policy.consistent().map_err(InvariantViolation)?;
        ensure!(
            self.touched.is_empty() && self.touched_steps.is_empty(),
            "jobs touched by a command were not recorded for accounting"
        );
        Ok(())
    }

    /// Steps are numbered in order below the job's next number; a running
    /// step belongs to an active job's current allocation and runs on its
    /// nodes, with its tasks numbered without gaps.
    fn check_steps(&self) -> Result<(), InvariantViolation> {
        for job in self.jobs.values() {
            let id = job.id;
            for (index, step) in job.steps.iter().enumerate() {
                ensure!(
                    step.id < job.next_step_id,
                    "step {id}.{} is not below the job's next step number {}",
                    step.id,
                    job.next_step_id
                );
                ensure!(
                    index == 0 || job.steps[index - 1].id < step.id,
                    "steps of job {id} are out of order at {id}.{}",
                    step.id
                );
                let mut next_task = 0;
                for part in &step.nodes {
                    ensure!(
                        part.first_task == next_task && part.tasks > 0,
                        "step {id}.{} numbers its tasks with a gap on {}",
                        step.id,
                        part.node
                    );
                    next_task += part.tasks;
                }
                ensure!(
                    next_task == step.spec.ntasks,
                    "step {id}.{} places {next_task} of {} tasks",
                    step.id,
                    step.spec.ntasks
                );
                if step.state.is_terminal() {
                    ensure!(
                        step.end_time_ms.is_some(),
                        "ended step {id}.{} has no end time",
                        step.id
                    );
                    continue;
                }
                ensure!(
                    step.state == JobState::Running,
                    "step {id}.{} is {:?}",
                    step.id,
                    step.state
                );
                ensure!(
                    matches!(job.state, JobState::Running | JobState::Completing),
                    "step {id}.{} runs in a job that is {:?}",
                    step.id,
                    job.state
                );
                let allocation = job.allocation.as_ref();
                ensure!(
                    allocation.map(|a| a.id) == Some(step.allocation_id),
                    "step {id}.{} runs outside the job's current allocation",
                    step.id
                );
                for part in &step.nodes {
                    ensure!(
                        allocation.is_some_and(|a| a.share_on(&part.node).is_some()),
                        "step {id}.{} runs on {}, which the job does not hold",
                        step.id,
                        part.node
                    );
                }
            }
        }
        Ok(())
    }

    /// A job being requeued is completing and not cancelled; a job whose
    /// time limit changed is active.
    fn check_requeues_and_limits(&self) -> Result<(), InvariantViolation> {
        for job_id in self.requeues.keys() {
            let job = self.jobs.get(job_id);
            ensure!(
                job.is_some_and(
                    |job| job.state == JobState::Completing && job.cancelled_by_uid.is_none()
                ),
                "job {job_id} is being requeued but is {:?}",
                job.map(|job| (job.state, job.cancelled_by_uid))
            );
        }
        for job_id in self.time_limit_versions.keys() {
            let job = self.jobs.get(job_id);
            ensure!(
                job.is_some_and(|job| matches!(
                    job.state,
                    JobState::Running | JobState::Completing
                )),
                "job {job_id} has a time limit change to send but is {:?}",
                job.map(|job| job.state)
            );
        }
        Ok(())
    }

    /// The waiting set holds exactly the pending jobs whose dependencies
    /// are not yet resolved.
    fn check_waiting(&self) -> Result<(), InvariantViolation> {
        for job in self.jobs.values() {
            let waits = job.state == JobState::Pending
                && job
                    .dependencies
                    .as_ref()
                    .is_some_and(|d| d.resolution() == Resolution::Waiting);
            ensure!(
                waits == self.waiting.contains(&job.id),
                "job {} waits on its dependencies: {waits}, but the waiting set says {}",
                job.id,
                !waits
            );
        }
        ensure!(
            self.waiting.iter().all(|id| self.jobs.contains_key(id)),
            "the waiting set names jobs that do not exist"
        );
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
                    ensure!(
                        job.start_time_ms.is_none(),
                        "pending job {id} has a start time"
                    );
                    ensure!(
                        job.end_time_ms.is_none(),
                        "pending job {id} has an end time"
                    );
                    ensure!(
                        job.allocation.is_none(),
                        "pending job {id} holds an allocation"
                    );
                }
                JobState::Running | JobState::Completing => {
                    ensure!(
                        job.start_time_ms.is_some(),
                        "active job {id} has no start time"
                    );
                    ensure!(job.end_time_ms.is_none(), "active job {id} has an end time");
                    ensure!(
                        job.allocation.is_some(),
                        "active job {id} has no allocation"
                    );
                }
                _ => {
                    ensure!(
                        job.end_time_ms.is_some(),
                        "finished job {id} has no end time"
                    );
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

impl ClusterState {
    /// Allocation ids are unique and already handed out; every share is on
    /// a node that exists, with distinct nodes per job.
    fn check_allocations(&self) -> Result<(), InvariantViolation> {
        let mut seen = BTreeSet::new();
        for job in self.jobs.values() {
            let Some(allocation) = &job.allocation else {
                continue;
            };
            let id = job.id;
            ensure!(
                allocation.id < self.next_allocation_id,
                "job {id} holds allocation {} not yet handed out",
                allocation.id
            );
            ensure!(
                seen.insert(allocation.id),
                "allocation {} is held twice",
                allocation.id
            );
            let nodes: BTreeSet<&str> = allocation.shares.iter().map(|s| s.node.as_str()).collect();
            ensure!(
                nodes.len() == allocation.shares.len(),
                "job {id} has two shares on one node"
            );
            if job.state.is_terminal() {
                continue;
            }
            for share in &allocation.shares {
                ensure!(
                    self.nodes.contains_key(&share.node),
                    "job {id} runs on unknown node {}",
                    share.node
                );
            }
        }
        Ok(())
    }

    /// Each node's recorded usage is exactly the sum of the shares of the
    /// active jobs on it, and never more than the node has.
    fn check_node_usage(&self) -> Result<(), InvariantViolation> {
        let mut expected: BTreeMap<&str, NodeUsage> = BTreeMap::new();
        for job in self.jobs.values().filter(|job| !job.state.is_terminal()) {
            for share in job.allocation.iter().flat_map(|a| &a.shares) {
                let usage = expected.entry(share.node.as_str()).or_default();
                usage.cpus += share.cpus;
                usage.memory_mb += share.memory_mb;
                for gpu in &share.gpus {
                    ensure!(
                        usage.gpus.insert(*gpu),
                        "GPU {gpu} of {} is allocated twice",
                        share.node
                    );
                }
            }
        }
        for (name, node) in &self.nodes {
            let sum = expected.remove(name.as_str()).unwrap_or_default();
            ensure!(
                node.usage == sum,
                "node {name} records usage {:?} but its jobs hold {:?}",
                node.usage,
                sum
            );
            ensure!(
                sum.cpus <= node.resources.cpus,
                "node {name} is allocated {} of {} CPUs",
                sum.cpus,
                node.resources.cpus
            );
            ensure!(
                sum.memory_mb <= node.resources.memory_mb,
                "node {name} is allocated {} of {} MB",
                sum.memory_mb,
                node.resources.memory_mb
            );
            let indices: BTreeSet<u32> = node.resources.gpus.iter().map(|g| g.index).collect();
            ensure!(
                sum.gpus.is_subset(&indices),
                "node {name} has allocated GPUs it does not have: {:?}",
                sum.gpus
            );
        }
        ensure!(
            expected.is_empty(),
            "jobs run on nodes that do not exist: {:?}",
            expected.keys().collect::<Vec<_>>()
        );
        Ok(())
    }
}
