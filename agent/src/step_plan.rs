//! What a node's part of a job step runs: one process per task, each with
//! Slurm's step environment and its own standard streams
//! ([`StepTaskPlan`]). The supervisor writes the plan to `step.json` for
//! the task launcher (`corral step-tasks`), which runs as the job's user.
//!
//! Everything here is pure, tested by calling functions.

use serde::{Deserialize, Serialize};

use corral_state::hostlist;

use crate::launch::{
    compress_counts, expand_pattern_at, Environment, LaunchRequest, PatternPlace, StepLaunch,
    DEFAULT_STDIN_PATH, MANAGED_VARIABLES, TASK_PID_VARIABLE,
};

/// Where a task's standard output or error goes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum TaskOutput {
    /// Sent to `srun`, which prints it.
    Forward,
    /// This file (absolute), truncated when the step starts.
    File(String),
    /// Standard error only: wherever standard output goes.
    WithStdout,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskPlan {
    /// The task's number in the step (`SLURM_PROCID`).
    pub task: u32,
    pub environment: Vec<(String, String)>,
    pub stdin: String,
    pub stdout: TaskOutput,
    pub stderr: TaskOutput,
}

/// Everything the task launcher needs; it asks nobody anything.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepTaskPlan {
    pub job_id: u32,
    pub step_id: u32,
    pub node: String,
    /// The program and its arguments, as `srun` was given them: the
    /// launcher looks the program up in the task's `PATH`.
    pub argv: Vec<String>,
    pub work_dir: String,
    pub tasks: Vec<TaskPlan>,
    /// Where `srun` listens for this node, and the secret it expects.
    pub io_address: String,
    pub io_key: String,
    /// Time between SIGTERM and SIGKILL when `srun` goes away.
    pub kill_wait_ms: u64,
}

/// Variables `srun` sets for a step's tasks over the job's: a value in
/// `srun`'s own environment (the batch script's) is replaced or dropped.
const STEP_VARIABLES: &[&str] = &[
    "SLURM_STEP_ID",
    "SLURM_STEPID",
    "SLURM_PROCID",
    "SLURM_LOCALID",
    "SLURM_NODEID",
    "SLURM_GTIDS",
    "SLURM_STEP_NODELIST",
    "SLURM_STEP_NUM_NODES",
    "SLURM_STEP_NUM_TASKS",
    "SLURM_STEP_TASKS_PER_NODE",
    "SLURM_NODELIST",
    "SLURM_NNODES",
    "SLURM_TASKS_PER_NODE",
    "SLURMD_NODENAME",
    "SLURM_TOPOLOGY_ADDR",
    "SLURM_CPUS_ON_NODE",
    "SLURM_STEP_GPUS",
    "SLURM_LAUNCH_NODE_IPADDR",
    "SLURM_SRUN_COMM_HOST",
    "SLURM_DISTRIBUTION",
    "HOSTNAME",
];

impl StepTaskPlan {
    /// The plan for `request`'s step part on its node. `Err`: the node is
    /// not in the step (a launch sent to the wrong node).
    pub fn new(
        request: &LaunchRequest,
        step: &StepLaunch,
        kill_wait_ms: u64,
    ) -> Result<StepTaskPlan, String> {
        let node_index = step
            .nodes
            .iter()
            .position(|part| part.node == request.node_name)
            .ok_or_else(|| {
                format!(
                    "step {}.{} has no tasks on {}",
                    request.job_id, step.step_id, request.node_name
                )
            })?;
        let part = &step.nodes[node_index];
        let spec = &step.spec;
        let tasks = (0..part.tasks)
            .map(|local| {
                let task = part.first_task + local;
                let place = PatternPlace {
                    step: Some(step.step_id),
                    node_index: node_index as u32,
                    task,
                };
                let stdout = match &spec.stdout_pattern {
                    Some(pattern) => TaskOutput::File(expand_pattern_at(pattern, request, place)),
                    None => TaskOutput::Forward,
                };
                let stderr = match &spec.stderr_pattern {
                    Some(pattern) => TaskOutput::File(expand_pattern_at(pattern, request, place)),
                    None if spec.stdout_pattern.is_some() => TaskOutput::WithStdout,
                    None => TaskOutput::Forward,
                };
                let stdin = match &spec.stdin_pattern {
                    Some(pattern) => expand_pattern_at(pattern, request, place),
                    None => DEFAULT_STDIN_PATH.to_string(),
                };
                TaskPlan {
                    task,
                    environment: task_environment(request, step, node_index, local),
                    stdin,
                    stdout,
                    stderr,
                }
            })
            .collect();
        Ok(StepTaskPlan {
            job_id: request.job_id,
            step_id: step.step_id,
            node: request.node_name.clone(),
            argv: spec.argv.clone(),
            work_dir: spec.work_dir.clone(),
            tasks,
            io_address: spec.io_address.clone(),
            io_key: spec.io_key.clone(),
            kill_wait_ms,
        })
    }
}

/// One task's environment, as `slurmstepd` builds it for a step: `srun`'s
/// environment, then the step's variables over it. `SLURM_TASK_PID` is a
/// placeholder the launcher fills in after `fork`.
pub fn task_environment(
    request: &LaunchRequest,
    step: &StepLaunch,
    node_index: usize,
    local_task: u32,
) -> Vec<(String, String)> {
    let spec = &step.spec;
    let part = &step.nodes[node_index];
    let mut environment = Environment::default();
    for (name, value) in &spec.environment {
        let managed = MANAGED_VARIABLES.contains(&name.as_str())
            || STEP_VARIABLES.contains(&name.as_str())
            || name == TASK_PID_VARIABLE;
        // The job's own values pass through; only what differs per
        // step, node or task is set below.
        let job_wide = matches!(
            name.as_str(),
            "SLURM_JOB_ACCOUNT" | "SLURM_JOB_QOS" | "SLURM_MEM_PER_NODE"
        ) || name.starts_with("SLURM_ARRAY_");
        if !managed || job_wide {
            environment.set(name, value);
        }
    }
    let node_names: Vec<String> = step.nodes.iter().map(|p| p.node.clone()).collect();
    let node_list = hostlist::compress(&node_names);
    let counts: Vec<u32> = step.nodes.iter().map(|p| p.tasks).collect();
    let tasks_per_node = compress_counts(&counts);
    let ntasks: u32 = counts.iter().sum();
    let task = part.first_task + local_task;
    let gtids = (part.first_task..part.first_task + part.tasks)
        .map(|t| t.to_string())
        .collect::<Vec<_>>()
        .join(",");
    let step_id = step.step_id.to_string();
    environment.set("HOSTNAME", &request.node_name);
    environment.set("SLURMD_NODENAME", &request.node_name);
    environment.set("SLURM_CPUS_ON_NODE", &request.cpus_on_node.to_string());
    if spec.cpus_per_task > 1 {
        environment.set("SLURM_CPUS_PER_TASK", &spec.cpus_per_task.to_string());
    }
    environment.set("SLURM_DISTRIBUTION", "block");
    environment.set("SLURM_GTIDS", &gtids);
    environment.set("SLURM_LOCALID", &local_task.to_string());
    environment.set("SLURM_NNODES", &node_names.len().to_string());
    environment.set("SLURM_NODEID", &node_index.to_string());
    environment.set("SLURM_NODELIST", &node_list);
    environment.set("SLURM_NPROCS", &ntasks.to_string());
    environment.set("SLURM_NTASKS", &ntasks.to_string());
    environment.set("SLURM_PROCID", &task.to_string());
    if let Some(host) = spec.io_address.rsplit_once(':').map(|(host, _)| host) {
        environment.set("SLURM_LAUNCH_NODE_IPADDR", host.trim_matches(['[', ']']));
        environment.set("SLURM_SRUN_COMM_HOST", host.trim_matches(['[', ']']));
    }
    environment.set("SLURM_STEPID", &step_id);
    environment.set("SLURM_STEP_ID", &step_id);
    environment.set("SLURM_STEP_NODELIST", &node_list);
    environment.set("SLURM_STEP_NUM_NODES", &node_names.len().to_string());
    environment.set("SLURM_STEP_NUM_TASKS", &ntasks.to_string());
    environment.set("SLURM_STEP_TASKS_PER_NODE", &tasks_per_node);
    environment.set("SLURM_TASKS_PER_NODE", &tasks_per_node);
    environment.set(TASK_PID_VARIABLE, "");
    environment.set("SLURM_TOPOLOGY_ADDR", &request.node_name);
    if !request.gpus.is_empty() {
        let indices = request
            .gpus
            .iter()
            .map(u32::to_string)
            .collect::<Vec<_>>()
            .join(",");
        environment.set("CUDA_VISIBLE_DEVICES", &indices);
        environment.set("GPU_DEVICE_ORDINAL", &indices);
        environment.set("SLURM_JOB_GPUS", &indices);
        environment.set("SLURM_STEP_GPUS", &indices);
        environment.set("SLURM_GPUS_ON_NODE", &request.gpus.len().to_string());
    }
    environment.variables
}

#[cfg(test)]
mod tests {
    use super::*;
    use corral_state::{StepNode, StepSpec};

    fn step(stdout: Option<&str>, stderr: Option<&str>) -> StepLaunch {
        StepLaunch {
            step_id: 3,
            spec: StepSpec {
                name: "hostname".into(),
                argv: vec!["hostname".into()],
                environment: vec![
                    ("HOME".into(), "/home/alice".into()),
                    ("SLURM_JOB_ID".into(), "30".into()),
                    ("SLURM_NTASKS".into(), "4".into()),
                    ("SLURM_PROCID".into(), "0".into()),
                    ("SLURM_NODELIST".into(), "vm[1-2]".into()),
                    ("SLURM_ARRAY_TASK_ID".into(), "7".into()),
                    ("CUDA_VISIBLE_DEVICES".into(), "0,1".into()),
                ],
                work_dir: "/home/alice/work".into(),
                ntasks: 3,
                cpus_per_task: 2,
                stdout_pattern: stdout.map(str::to_string),
                stderr_pattern: stderr.map(str::to_string),
                io_address: "10.0.0.5:41234".into(),
                io_key: "k".into(),
                ..StepSpec::default()
            },
            nodes: vec![
                StepNode {
                    node: "vm1".into(),
                    first_task: 0,
                    tasks: 2,
                    end: None,
                },
                StepNode {
                    node: "vm2".into(),
                    first_task: 2,
                    tasks: 1,
                    end: None,
                },
            ],
            job_start_time_ms: 0,
        }
    }

    fn request_on(node: &str) -> LaunchRequest {
        let mut request = crate::launch::tests::request();
        request.node_name = node.into();
        request.work_dir = "/home/alice/work".into();
        request.gpus = vec![];
        request
    }

    fn value<'a>(environment: &'a [(String, String)], name: &str) -> Option<&'a str> {
        environment
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    #[test]
    fn each_task_gets_its_numbers_and_the_steps_layout() {
        let request = request_on("vm2");
        let plan = StepTaskPlan::new(&request, &step(None, None), 500).unwrap();
        assert_eq!(plan.tasks.len(), 1);
        let task = &plan.tasks[0];
        assert_eq!(task.task, 2);
        let env = &task.environment;
        assert_eq!(value(env, "SLURM_PROCID"), Some("2"));
        assert_eq!(value(env, "SLURM_LOCALID"), Some("0"));
        assert_eq!(value(env, "SLURM_NODEID"), Some("1"));
        assert_eq!(value(env, "SLURM_STEP_ID"), Some("3"));
        assert_eq!(value(env, "SLURM_STEP_NODELIST"), Some("vm[1-2]"));
        assert_eq!(value(env, "SLURM_STEP_NUM_TASKS"), Some("3"));
        assert_eq!(value(env, "SLURM_NTASKS"), Some("3"));
        assert_eq!(value(env, "SLURM_STEP_TASKS_PER_NODE"), Some("2,1"));
        assert_eq!(value(env, "SLURM_CPUS_PER_TASK"), Some("2"));
        assert_eq!(value(env, "SLURMD_NODENAME"), Some("vm2"));
        assert_eq!(value(env, "SLURM_GTIDS"), Some("2"));
        assert_eq!(value(env, "SLURM_LAUNCH_NODE_IPADDR"), Some("10.0.0.5"));
        // The job's own values pass through, the batch node's devices do not.
        assert_eq!(value(env, "SLURM_JOB_ID"), Some("30"));
        assert_eq!(value(env, "SLURM_ARRAY_TASK_ID"), Some("7"));
        assert_eq!(value(env, "HOME"), Some("/home/alice"));
        assert_eq!(value(env, "CUDA_VISIBLE_DEVICES"), None);
        assert_eq!(task.stdout, TaskOutput::Forward);
        assert_eq!(task.stderr, TaskOutput::Forward);
    }

    #[test]
    fn output_patterns_expand_per_task() {
        let request = request_on("vm1");
        let plan =
            StepTaskPlan::new(&request, &step(Some("out-%j.%s.%t.%n.%N"), None), 500).unwrap();
        let files: Vec<&TaskOutput> = plan.tasks.iter().map(|t| &t.stdout).collect();
        assert_eq!(
            files,
            [
                &TaskOutput::File("/home/alice/work/out-30.3.0.0.vm1".into()),
                &TaskOutput::File("/home/alice/work/out-30.3.1.0.vm1".into()),
            ]
        );
        assert_eq!(plan.tasks[0].stderr, TaskOutput::WithStdout);
        let plan = StepTaskPlan::new(&request, &step(None, Some("/tmp/err-%J-%2t")), 500).unwrap();
        assert_eq!(plan.tasks[1].stdout, TaskOutput::Forward);
        assert_eq!(
            plan.tasks[1].stderr,
            TaskOutput::File("/tmp/err-30.3-01".into())
        );
    }

    #[test]
    fn a_node_outside_the_step_gets_no_plan() {
        let request = request_on("vm9");
        assert!(StepTaskPlan::new(&request, &step(None, None), 500).is_err());
    }

    #[test]
    fn the_nodes_own_gpus_replace_the_batch_nodes() {
        let mut request = request_on("vm2");
        request.gpus = vec![3];
        let plan = StepTaskPlan::new(&request, &step(None, None), 500).unwrap();
        let env = &plan.tasks[0].environment;
        assert_eq!(value(env, "CUDA_VISIBLE_DEVICES"), Some("3"));
        assert_eq!(value(env, "SLURM_STEP_GPUS"), Some("3"));
    }
}
