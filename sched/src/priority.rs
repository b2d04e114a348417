//! Job priority, Slurm multifactor-like, from two factors: age and size.
//!
//! ```text
//! priority = weight_age      * min(age_ms, max_age_ms) / max_age_ms
//!          + weight_job_size * min(1, max(nodes / cluster_nodes,
//!                                         cpus  / cluster_cpus))
//! ```
//!
//! `age_ms` is `now_ms - submit_time_ms` (or, for a job submitted with
//! `--begin`, the time since it became eligible); `nodes` and `cpus` are what the job
//! asks for in all (`cpus = nodes * cpus_per_node`); `cluster_nodes` and
//! `cluster_cpus` count every node of the cluster, whatever its state. Each
//! factor lies in `[0, 1]`, as in Slurm's multifactor plugin (where big jobs
//! are favoured unless `PriorityFavorSmall`). The arithmetic is integer
//! (rounded down), so every controller orders the queue identically. Higher
//! priority goes first; equal priorities go by job id, older first.

use std::cmp::Reverse;

use corral_state::{ClusterState, Job, JobState};

use crate::config::SchedulerConfig;

/// The size of the whole cluster, the denominator of the size factor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClusterSize {
    pub nodes: u64,
    pub cpus: u64,
}

impl ClusterSize {
    pub fn of(state: &ClusterState) -> ClusterSize {
        state
            .nodes()
            .fold(ClusterSize { nodes: 0, cpus: 0 }, |size, node| {
                ClusterSize {
                    nodes: size.nodes + 1,
                    cpus: size.cpus + u64::from(node.resources.cpus),
                }
            })
    }
}

/// A job's priority at `now_ms` (see the module documentation).
pub fn priority(job: &Job, now_ms: u64, cluster: ClusterSize, config: &SchedulerConfig) -> u64 {
    let points = age_points(job, now_ms, config).saturating_add(size_points(job, cluster, config));
    // `--nice=N` lowers the priority by N points (a negative nice raises it).
    points.saturating_add_signed(-i64::from(job.spec.nice))
}

fn age_points(job: &Job, now_ms: u64, config: &SchedulerConfig) -> u64 {
    if config.max_age_ms == 0 {
        return 0;
    }
    // A job ages from when it became eligible: its `--begin` time if later.
    let eligible_ms = job.submit_time_ms.max(job.spec.begin_time_ms.unwrap_or(0));
    let age_ms = now_ms.saturating_sub(eligible_ms).min(config.max_age_ms);
    scale(
        config.weight_age,
        u128::from(age_ms),
        u128::from(config.max_age_ms),
    )
}

fn size_points(job: &Job, cluster: ClusterSize, config: &SchedulerConfig) -> u64 {
    if cluster.nodes == 0 || cluster.cpus == 0 {
        return 0;
    }
    let nodes = u128::from(job.spec.nodes.max(1));
    let cpus = nodes * u128::from(job.spec.cpus_per_node());
    // max(nodes / cluster_nodes, cpus / cluster_cpus) over one denominator.
    let denominator = u128::from(cluster.nodes) * u128::from(cluster.cpus);
    let numerator = (nodes * u128::from(cluster.cpus)).max(cpus * u128::from(cluster.nodes));
    scale(
        config.weight_job_size,
        numerator.min(denominator),
        denominator,
    )
}

/// `weight * numerator / denominator`, rounded down; `numerator <= denominator`.
fn scale(weight: u64, numerator: u128, denominator: u128) -> u64 {
    let points = u128::from(weight) * numerator / denominator;
    u64::try_from(points).unwrap_or(u64::MAX)
}

/// The jobs the scheduler may start, highest priority first: pending and
/// not held.
pub fn queue<'a>(state: &'a ClusterState, now_ms: u64, config: &SchedulerConfig) -> Vec<&'a Job> {
    let cluster = ClusterSize::of(state);
    let mut ranked: Vec<(Reverse<u64>, &Job)> = state
        .all_jobs()
        .filter(|job| job.state == JobState::Pending && !job.reason.is_hold())
        .map(|job| (Reverse(priority(job, now_ms, cluster, config)), job))
        .collect();
    ranked.sort_unstable_by_key(|(priority, job)| (*priority, job.id));
    ranked.into_iter().map(|(_, job)| job).collect()
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use corral_state::{ExitStatus, JobReason, JobSpec, RequestId};

    use super::*;

    fn job(nodes: u32, cpus_per_task: u32, submit_time_ms: u64) -> Job {
        Job {
            id: 1,
            request_id: RequestId("r".into()),
            spec: Arc::new(JobSpec {
                nodes,
                ntasks: nodes,
                cpus_per_task,
                ..JobSpec::default()
            }),
            partition: "debug".into(),
            user: "root".into(),
            uid: 0,
            gid: 0,
            state: JobState::Pending,
            reason: JobReason::None,
            submit_time_ms,
            start_time_ms: None,
            end_time_ms: None,
            exit_status: ExitStatus::default(),
            cancelled_by_uid: None,
            allocation: None,
            requeue_count: 0,
            array: None,
            dependencies: None,
            steps: Vec::new(),
            next_step_id: 0,
            account: None,
        }
    }

    #[test]
    fn age_and_size_points() {
        let cluster = ClusterSize {
            nodes: 10,
            cpus: 320,
        };
        let config = SchedulerConfig {
            weight_age: 1_000,
            weight_job_size: 1_000,
            max_age_ms: 100,
        };
        // (nodes, CPUs per task, submitted at, now, priority)
        let cases = [
            (1, 1, 0, 0, 100),     // 1 of 10 nodes
            (1, 32, 0, 0, 100),    // a whole node: still 1/10
            (1, 64, 0, 0, 200),    // 64 of 320 CPUs outweighs 1 of 10 nodes
            (5, 32, 0, 0, 500),    // half the cluster
            (20, 32, 0, 0, 1_000), // more than the cluster: capped
            (1, 1, 0, 50, 600),    // half the maximum age
            (1, 1, 0, 500, 1_100), // age capped at the maximum
            (1, 1, 90, 50, 100),   // submitted "later" than now: no age
        ];
        for (nodes, cpus_per_task, submitted, now, expected) in cases {
            let job = job(nodes, cpus_per_task, submitted);
            assert_eq!(
                priority(&job, now, cluster, &config),
                expected,
                "{nodes} nodes x {cpus_per_task} CPUs, submitted {submitted}, now {now}"
            );
        }
    }

    #[test]
    fn no_age_factor_without_a_maximum_age_and_no_size_without_nodes() {
        let config = SchedulerConfig {
            max_age_ms: 0,
            ..SchedulerConfig::default()
        };
        let empty = ClusterSize { nodes: 0, cpus: 0 };
        assert_eq!(priority(&job(1, 1, 0), 1_000, empty, &config), 0);
    }
}
