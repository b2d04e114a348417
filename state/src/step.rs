//! Job steps: what `srun` runs inside a running job, as `ntasks` tasks
//! spread over some of the job's nodes.
//!
//! A step is created by `StartStep` (assigning the step's number in
//! `apply`, after the job's earlier steps), launched on each of its nodes by
//! the leader, and ends once every node has reported its part
//! (`StepFinished`). The tasks' output and exit codes go straight from the
//! nodes to `srun`, not through the controllers, so a running step keeps
//! running through a controller failover, as its job does.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::allocation::{Allocation, AllocationId};
use crate::command::{FinishCause, Rejection};
use crate::job::{ExitStatus, JobState, RequestId};

/// Steps a job may start in all (Slurm's `MaxStepCount` is 40,000; Corral
/// keeps every step in the replicated state, so it allows fewer).
pub const STEPS_PER_JOB_MAX: u32 = 4_096;

/// What `srun` asked for, with its defaults resolved by `srun` itself
/// (from its options and the job's `SLURM_*` variables). New fields carry
/// `#[serde(default)]`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepSpec {
    /// `-J`, or the program's base name (`sacct`'s `JobName` of the step).
    pub name: String,
    /// The program and its arguments.
    pub argv: Vec<String>,
    /// The environment the tasks start with (`srun`'s own).
    pub environment: Vec<(String, String)>,
    /// Absolute directory the tasks start in.
    pub work_dir: String,
    pub ntasks: u32,
    /// `-N`; `None`: as many of the job's nodes as there are tasks.
    pub nodes: Option<u32>,
    pub cpus_per_task: u32,
    /// `-w`: run on exactly these nodes of the job.
    pub node_list: Vec<String>,
    /// `-o`, `-e`, `-i` patterns (`%t` task, `%N` node, ...); `None`: the
    /// stream goes to and from `srun`.
    pub stdout_pattern: Option<String>,
    pub stderr_pattern: Option<String>,
    pub stdin_pattern: Option<String>,
    /// `-l`: `srun` prefixes each line with the task's number.
    pub label: bool,
    /// `-u`: output forwarded as it comes, not a line at a time.
    pub unbuffered: bool,
    /// `-t`; `None`: the job's own limit.
    pub time_limit_minutes: Option<u32>,
    /// Where the nodes reach `srun` for the tasks' output and exits
    /// (`host:port`), and the secret they present there.
    pub io_address: String,
    pub io_key: String,
}

/// One node's part of a step: the tasks it runs, and how they ended.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepNode {
    pub node: String,
    /// The step's task numbers on this node are `first_task ..
    /// first_task + tasks` (`SLURM_PROCID`).
    pub first_task: u32,
    pub tasks: u32,
    /// Reported by the node's agent; `None` while its tasks run.
    pub end: Option<StepNodeEnd>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepNodeEnd {
    pub exit_status: ExitStatus,
    pub cause: FinishCause,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Step {
    /// `ID.0`, `ID.1`, ...: assigned in `apply`, in order.
    pub id: u32,
    /// Makes `srun`'s request idempotent: a retry gets the same step.
    pub request_id: RequestId,
    /// The allocation the step runs in.
    pub allocation_id: AllocationId,
    /// Shared: copying the state for a snapshot copies no environment.
    /// Emptied of its environment once the step ends.
    pub spec: Arc<StepSpec>,
    pub state: JobState,
    pub nodes: Vec<StepNode>,
    pub start_time_ms: u64,
    pub end_time_ms: Option<u64>,
    /// The highest exit among its nodes (each node's being the highest
    /// among its tasks).
    pub exit_status: ExitStatus,
}

impl Step {
    pub fn node_names(&self) -> Vec<String> {
        self.nodes.iter().map(|node| node.node.clone()).collect()
    }

    pub fn part_on(&self, node: &str) -> Option<&StepNode> {
        self.nodes.iter().find(|part| part.node == node)
    }

    pub fn ntasks(&self) -> u32 {
        self.nodes.iter().map(|node| node.tasks).sum()
    }

    /// Ends the step: every node has reported, or the job ended under it.
    pub(crate) fn end(&mut self, state: JobState, now_ms: u64) {
        self.state = state;
        self.end_time_ms = Some(now_ms.max(self.start_time_ms));
        if !self.spec.environment.is_empty() {
            let mut spec = (*self.spec).clone();
            spec.environment = Vec::new();
            self.spec = Arc::new(spec);
        }
    }
}

/// The worse of two exits: a signal over a code, then the higher number.
pub fn worse_exit(a: ExitStatus, b: ExitStatus) -> ExitStatus {
    if (b.signal, b.code) > (a.signal, a.code) {
        b
    } else {
        a
    }
}

/// The state a step ends in once all its nodes reported.
pub(crate) fn ended_state(nodes: &[StepNode]) -> (JobState, ExitStatus) {
    let mut exit = ExitStatus::default();
    let mut state = JobState::Completed;
    for end in nodes.iter().filter_map(|node| node.end) {
        exit = worse_exit(exit, end.exit_status);
        let node_state = match end.cause {
            FinishCause::Cancelled => JobState::Cancelled,
            FinishCause::TimeLimit => JobState::Timeout,
            FinishCause::LaunchFailed => JobState::Failed,
            FinishCause::Exited if end.exit_status == ExitStatus::default() => JobState::Completed,
            FinishCause::Exited => JobState::Failed,
        };
        state = match (state, node_state) {
            (JobState::Cancelled, _) | (_, JobState::Cancelled) => JobState::Cancelled,
            (JobState::Timeout, _) | (_, JobState::Timeout) => JobState::Timeout,
            (JobState::Failed, _) | (_, JobState::Failed) => JobState::Failed,
            _ => JobState::Completed,
        };
    }
    (state, exit)
}

/// Places a step's tasks on the job's nodes, as Slurm's default block
/// distribution does: the step takes the first `nodes` of the job's nodes
/// (all of `-w`'s, or as many as there are tasks), spreads the tasks evenly
/// with the remainder on the first ones, and, when that would put more
/// tasks on a node than its CPUs hold, fills the nodes in order instead.
pub fn layout(allocation: &Allocation, spec: &StepSpec) -> Result<Vec<StepNode>, Rejection> {
    let cpus_per_task = spec.cpus_per_task.max(1);
    if spec.ntasks == 0 {
        return Err(Rejection::NodeConfigUnavailable);
    }
    let candidates: Vec<(&str, u32)> = if spec.node_list.is_empty() {
        allocation
            .shares
            .iter()
            .map(|share| (share.node.as_str(), share.cpus / cpus_per_task))
            .collect()
    } else {
        let mut chosen = Vec::new();
        for share in &allocation.shares {
            if spec.node_list.contains(&share.node) {
                chosen.push((share.node.as_str(), share.cpus / cpus_per_task));
            }
        }
        if chosen.len() != spec.node_list.len() {
            return Err(Rejection::NodeConfigUnavailable);
        }
        chosen
    };
    let count = match spec.nodes {
        Some(nodes) => nodes as usize,
        None if !spec.node_list.is_empty() => candidates.len(),
        None => candidates.len().min(spec.ntasks as usize),
    };
    if count == 0 || count > candidates.len() || count > spec.ntasks as usize {
        return Err(Rejection::NodeConfigUnavailable);
    }
    let nodes = &candidates[..count];
    let capacity: u64 = nodes.iter().map(|(_, tasks)| u64::from(*tasks)).sum();
    if capacity < u64::from(spec.ntasks) || nodes.iter().any(|(_, tasks)| *tasks == 0) {
        return Err(Rejection::TooManyProcessors);
    }
    let base = spec.ntasks / count as u32;
    let extra = spec.ntasks % count as u32;
    let mut counts: Vec<u32> = (0..count as u32)
        .map(|index| base + u32::from(index < extra))
        .collect();
    if counts
        .iter()
        .zip(nodes)
        .any(|(tasks, (_, fit))| tasks > fit)
    {
        // One task on every node, then fill each in turn.
        counts = vec![1; count];
        let mut left = spec.ntasks - count as u32;
        for (tasks, (_, fit)) in counts.iter_mut().zip(nodes) {
            let more = left.min(fit - 1);
            *tasks += more;
            left -= more;
        }
    }
    let mut first_task = 0;
    Ok(nodes
        .iter()
        .zip(counts)
        .map(|((node, _), tasks)| {
            let part = StepNode {
                node: node.to_string(),
                first_task,
                tasks,
                end: None,
            };
            first_task += tasks;
            part
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::allocation::NodeShare;

    fn allocation(cpus: &[u32]) -> Allocation {
        Allocation {
            id: AllocationId(1),
            shares: cpus
                .iter()
                .enumerate()
                .map(|(index, cpus)| NodeShare {
                    node: format!("node{}", index + 1),
                    cpus: *cpus,
                    memory_mb: 0,
                    gpus: Vec::new(),
                })
                .collect(),
        }
    }

    fn spec(ntasks: u32, nodes: Option<u32>) -> StepSpec {
        StepSpec {
            ntasks,
            nodes,
            cpus_per_task: 1,
            ..StepSpec::default()
        }
    }

    fn placed(parts: &[StepNode]) -> Vec<(String, u32, u32)> {
        parts
            .iter()
            .map(|part| (part.node.clone(), part.first_task, part.tasks))
            .collect()
    }

    #[test]
    fn tasks_spread_evenly_over_the_nodes_they_need() {
        let parts = layout(&allocation(&[2, 2]), &spec(4, None)).unwrap();
        assert_eq!(
            placed(&parts),
            [("node1".into(), 0, 2), ("node2".into(), 2, 2)]
        );
        let parts = layout(&allocation(&[4, 4]), &spec(3, None)).unwrap();
        assert_eq!(
            placed(&parts),
            [("node1".into(), 0, 2), ("node2".into(), 2, 1)]
        );
        // One task needs one node.
        let parts = layout(&allocation(&[4, 4]), &spec(1, None)).unwrap();
        assert_eq!(placed(&parts), [("node1".into(), 0, 1)]);
    }

    #[test]
    fn uneven_nodes_are_filled_in_order() {
        let parts = layout(&allocation(&[1, 5]), &spec(4, None)).unwrap();
        assert_eq!(
            placed(&parts),
            [("node1".into(), 0, 1), ("node2".into(), 1, 3)]
        );
    }

    #[test]
    fn node_counts_and_node_lists_choose_the_nodes() {
        let parts = layout(&allocation(&[4, 4, 4]), &spec(2, Some(1))).unwrap();
        assert_eq!(placed(&parts), [("node1".into(), 0, 2)]);
        let mut on_third = spec(2, None);
        on_third.node_list = vec!["node3".into()];
        let parts = layout(&allocation(&[4, 4, 4]), &on_third).unwrap();
        assert_eq!(placed(&parts), [("node3".into(), 0, 2)]);
    }

    #[test]
    fn impossible_steps_are_refused_with_slurms_reasons() {
        let two = allocation(&[2, 2]);
        assert_eq!(
            layout(&two, &spec(5, None)),
            Err(Rejection::TooManyProcessors)
        );
        assert_eq!(
            layout(&two, &spec(2, Some(3))),
            Err(Rejection::NodeConfigUnavailable)
        );
        assert_eq!(
            layout(&two, &spec(1, Some(2))),
            Err(Rejection::NodeConfigUnavailable)
        );
        assert_eq!(
            layout(&two, &spec(0, None)),
            Err(Rejection::NodeConfigUnavailable)
        );
        let mut elsewhere = spec(1, None);
        elsewhere.node_list = vec!["node9".into()];
        assert_eq!(
            layout(&two, &elsewhere),
            Err(Rejection::NodeConfigUnavailable)
        );
        let mut wide = spec(2, None);
        wide.cpus_per_task = 3;
        assert_eq!(layout(&two, &wide), Err(Rejection::TooManyProcessors));
    }

    #[test]
    fn a_step_ends_in_the_worst_state_of_its_nodes() {
        let part = |cause, code, signal| StepNode {
            node: "n".into(),
            first_task: 0,
            tasks: 1,
            end: Some(StepNodeEnd {
                exit_status: ExitStatus { code, signal },
                cause,
            }),
        };
        assert_eq!(
            ended_state(&[part(FinishCause::Exited, 0, 0)]),
            (JobState::Completed, ExitStatus::default())
        );
        assert_eq!(
            ended_state(&[
                part(FinishCause::Exited, 0, 0),
                part(FinishCause::Exited, 3, 0)
            ]),
            (JobState::Failed, ExitStatus { code: 3, signal: 0 })
        );
        assert_eq!(
            ended_state(&[
                part(FinishCause::Exited, 7, 0),
                part(FinishCause::Cancelled, 0, 15)
            ]),
            (
                JobState::Cancelled,
                ExitStatus {
                    code: 0,
                    signal: 15
                }
            )
        );
    }
}
