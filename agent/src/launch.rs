//! What the controller asks a node to run ([`LaunchRequest`]) and what that
//! means on the node: the batch job's environment ([`job_environment`]) and
//! the files its standard streams go to ([`StdioPaths`]).
//!
//! Everything here is pure: the supervisor calls it with what it learned
//! from the system (host name), so it is tested by calling functions.

use serde::{Deserialize, Serialize};

use corral_state::hostlist;
use corral_state::{AllocationId, JobId, JobSignal, StepNode, StepSpec};

use crate::journal::LaunchKey;

/// Slurm's default output file of a batch job (`sbatch` without `-o`).
pub const DEFAULT_STDOUT_PATTERN: &str = "slurm-%j.out";
/// The default for a task of a job array.
pub const DEFAULT_ARRAY_STDOUT_PATTERN: &str = "slurm-%A_%a.out";
/// Where a job's standard input comes from without `-i`.
pub const DEFAULT_STDIN_PATH: &str = "/dev/null";
/// What `%a` prints for a job that is not part of an array: Slurm's
/// `NO_VAL` (0xfffffffe), printed as an unsigned number.
pub const NO_ARRAY_TASK_ID: u32 = 0xffff_fffe;
/// The widest zero padding a filename pattern may ask for (`%10j`).
pub const PATTERN_WIDTH_MAX: usize = 10;

/// How the output files are opened (`sbatch --open-mode`): the job's own
/// setting, which journals already record by these variant names.
pub use corral_state::OpenMode;

/// The job's place in a job array (`sbatch --array`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArrayTask {
    /// The job id of the whole array (`%A`, `SLURM_ARRAY_JOB_ID`).
    pub array_job_id: JobId,
    /// This task's index (`%a`, `SLURM_ARRAY_TASK_ID`).
    pub task_id: u32,
    pub task_count: u32,
    pub task_min: u32,
    pub task_max: u32,
    pub task_step: u32,
}

/// One batch job to start on this node: everything the supervisor needs,
/// so that it never asks anyone anything. New fields carry
/// `#[serde(default)]`: a journal written by an older agent must still read.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LaunchRequest {
    pub job_id: JobId,
    pub allocation_id: AllocationId,
    /// This node's name (`SLURMD_NODENAME`, `%N`).
    pub node_name: String,
    /// Every node of the allocation as one hostlist expression
    /// (`corral_state::hostlist::compress`), the batch node first.
    pub node_list: String,
    pub node_count: u32,
    /// `-n`; `None` when not given, and then, like Slurm, no `SLURM_NTASKS`.
    pub ntasks: Option<u32>,
    /// `-c`; `None` when not given, and then no `SLURM_CPUS_PER_TASK`.
    pub cpus_per_task: Option<u32>,
    /// CPUs the job holds on this node (`SLURM_CPUS_ON_NODE`).
    pub cpus_on_node: u32,
    /// CPUs on each node of the allocation, in node-list order
    /// (`SLURM_JOB_CPUS_PER_NODE`); empty: `cpus_on_node` on every node.
    #[serde(default)]
    pub cpus_per_node: Vec<u32>,
    /// `--mem` in MiB; `None` when no memory was requested (no `SLURM_MEM_PER_NODE`).
    pub memory_per_node_mb: Option<u64>,
    /// Indices of the GPUs the job holds on this node.
    #[serde(default)]
    pub gpus: Vec<u32>,
    /// `None`: unlimited.
    pub time_limit_minutes: Option<u32>,
    pub job_name: String,
    pub partition: String,
    pub cluster_name: String,
    pub user: String,
    pub uid: u32,
    pub gid: u32,
    #[serde(default)]
    pub account: Option<String>,
    #[serde(default)]
    pub qos: Option<String>,
    /// Absolute directory the script starts in.
    pub work_dir: String,
    /// The script's text, starting with `#!`.
    pub script: String,
    pub arguments: Vec<String>,
    /// The submitter's environment, the base of the job's.
    pub environment: Vec<(String, String)>,
    /// `-o`, `-e`, `-i` as given (`None`: Slurm's defaults).
    pub stdout_pattern: Option<String>,
    pub stderr_pattern: Option<String>,
    pub stdin_pattern: Option<String>,
    #[serde(default)]
    pub open_mode: OpenMode,
    pub submit_dir: String,
    pub submit_host: String,
    #[serde(default)]
    pub array: Option<ArrayTask>,
    /// How often the job was requeued: a restarted job appends to its
    /// output files, as Slurm does.
    #[serde(default)]
    pub restart_count: u32,
    /// Slurm's `KillWait`: time between SIGTERM and SIGKILL, in
    /// milliseconds; `None`: [`crate::supervisor::KILL_WAIT_MS`].
    #[serde(default)]
    pub kill_wait_ms: Option<u64>,
    /// Present for this node's part of a job step (`srun`): the job's
    /// fields above give the step's context, the script is empty.
    #[serde(default)]
    pub step: Option<StepLaunch>,
    /// `--signal`: sent ahead of the time limit (batch scripts only).
    #[serde(default)]
    pub signal: Option<JobSignal>,
}

/// This node's part of a step, as the leader sent it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepLaunch {
    pub step_id: u32,
    pub spec: StepSpec,
    /// Every node of the step with its tasks, in order.
    pub nodes: Vec<StepNode>,
    /// When the job started (milliseconds since the epoch): the job's
    /// time limit counts from there.
    pub job_start_time_ms: u64,
}

impl LaunchRequest {
    /// The spool this launch is journaled in.
    pub fn key(&self) -> LaunchKey {
        LaunchKey {
            job_id: self.job_id,
            allocation_id: self.allocation_id,
            step: self.step.as_ref().map(|step| step.step_id),
        }
    }

    /// The number of tasks Slurm assumes when `-n` was not given: one per node.
    fn effective_ntasks(&self) -> u32 {
        self.ntasks.unwrap_or(self.node_count).max(1)
    }

    /// Whether the output files are appended to rather than truncated.
    pub fn appends_output(&self) -> bool {
        self.open_mode == OpenMode::Append || self.restart_count > 0
    }
}

/// Variables the agent manages: a submitter's value (from an enclosing
/// job, or another machine) is dropped even when the agent sets none, so
/// that a job never sees devices or sizes it does not hold.
pub(crate) const MANAGED_VARIABLES: &[&str] = &[
    "SLURM_NTASKS",
    "SLURM_NPROCS",
    "SLURM_CPUS_PER_TASK",
    "SLURM_MEM_PER_NODE",
    "SLURM_JOB_ACCOUNT",
    "SLURM_JOB_QOS",
    "SLURM_ARRAY_JOB_ID",
    "SLURM_ARRAY_TASK_ID",
    "SLURM_ARRAY_TASK_COUNT",
    "SLURM_ARRAY_TASK_MIN",
    "SLURM_ARRAY_TASK_MAX",
    "SLURM_ARRAY_TASK_STEP",
    "SLURM_JOB_GPUS",
    "SLURM_GPUS_ON_NODE",
    "CUDA_VISIBLE_DEVICES",
    "GPU_DEVICE_ORDINAL",
    "SLURM_UMASK",
];

/// The name of the variable whose value is the script's pid, which only
/// the forked child knows; the supervisor writes it in place.
pub const TASK_PID_VARIABLE: &str = "SLURM_TASK_PID";

/// The batch script's environment, as `slurmstepd` builds it: the
/// submitter's environment, then Slurm's variables over it (`HOSTNAME` is
/// the node's name, as Slurm sets it). `task_pid` is the script's pid (the
/// supervisor passes a placeholder and fills it in after `fork`).
pub fn job_environment(request: &LaunchRequest, task_pid: &str) -> Vec<(String, String)> {
    let mut environment = Environment::default();
    for (name, value) in &request.environment {
        if !MANAGED_VARIABLES.contains(&name.as_str()) {
            environment.set(name, value);
        }
    }
    let r = request;
    let job_id = r.job_id.to_string();
    let node_count = r.node_count.max(1).to_string();
    environment.set("ENVIRONMENT", "BATCH");
    environment.set("HOSTNAME", &r.node_name);
    environment.set("SLURMD_NODENAME", &r.node_name);
    environment.set("SLURM_CLUSTER_NAME", &r.cluster_name);
    environment.set("SLURM_CPUS_ON_NODE", &r.cpus_on_node.to_string());
    if let Some(cpus) = r.cpus_per_task {
        environment.set("SLURM_CPUS_PER_TASK", &cpus.to_string());
    }
    environment.set("SLURM_GTIDS", "0");
    environment.set("SLURM_JOBID", &job_id);
    environment.set("SLURM_JOB_ID", &job_id);
    if let Some(account) = &r.account {
        environment.set("SLURM_JOB_ACCOUNT", account);
    }
    environment.set("SLURM_JOB_CPUS_PER_NODE", &cpus_per_node(r));
    environment.set("SLURM_JOB_GID", &r.gid.to_string());
    environment.set("SLURM_JOB_NAME", &r.job_name);
    environment.set("SLURM_JOB_NODELIST", &r.node_list);
    environment.set("SLURM_JOB_NUM_NODES", &node_count);
    environment.set("SLURM_JOB_PARTITION", &r.partition);
    if let Some(qos) = &r.qos {
        environment.set("SLURM_JOB_QOS", qos);
    }
    environment.set("SLURM_JOB_UID", &r.uid.to_string());
    environment.set("SLURM_JOB_USER", &r.user);
    environment.set("SLURM_LOCALID", "0");
    if let Some(memory) = r.memory_per_node_mb {
        environment.set("SLURM_MEM_PER_NODE", &memory.to_string());
    }
    environment.set("SLURM_NNODES", &node_count);
    environment.set("SLURM_NODEID", "0");
    environment.set("SLURM_NODELIST", &r.node_list);
    environment.set("SLURM_NODE_ALIASES", "(null)");
    if let Some(ntasks) = r.ntasks {
        environment.set("SLURM_NTASKS", &ntasks.to_string());
        environment.set("SLURM_NPROCS", &ntasks.to_string());
    }
    environment.set("SLURM_PROCID", "0");
    environment.set("SLURM_SUBMIT_DIR", &r.submit_dir);
    environment.set("SLURM_SUBMIT_HOST", &r.submit_host);
    environment.set("SLURM_TASKS_PER_NODE", &tasks_per_node(r));
    environment.set(TASK_PID_VARIABLE, task_pid);
    environment.set("SLURM_TOPOLOGY_ADDR", &r.node_name);
    environment.set("SLURM_TOPOLOGY_ADDR_PATTERN", "node");
    if let Some(array) = &r.array {
        environment.set("SLURM_ARRAY_JOB_ID", &array.array_job_id.to_string());
        environment.set("SLURM_ARRAY_TASK_ID", &array.task_id.to_string());
        environment.set("SLURM_ARRAY_TASK_COUNT", &array.task_count.to_string());
        environment.set("SLURM_ARRAY_TASK_MIN", &array.task_min.to_string());
        environment.set("SLURM_ARRAY_TASK_MAX", &array.task_max.to_string());
        environment.set("SLURM_ARRAY_TASK_STEP", &array.task_step.to_string());
    }
    if !r.gpus.is_empty() {
        let indices = r
            .gpus
            .iter()
            .map(u32::to_string)
            .collect::<Vec<_>>()
            .join(",");
        environment.set("CUDA_VISIBLE_DEVICES", &indices);
        environment.set("GPU_DEVICE_ORDINAL", &indices);
        environment.set("SLURM_JOB_GPUS", &indices);
        environment.set("SLURM_GPUS_ON_NODE", &r.gpus.len().to_string());
    }
    environment.variables
}

/// The umask the job asked for (`SLURM_UMASK`, octal, which `sbatch` puts
/// in the submitted environment and `slurmstepd` applies and removes).
pub fn requested_umask(request: &LaunchRequest) -> Option<libc::mode_t> {
    let (_, value) = request
        .environment
        .iter()
        .rev()
        .find(|(name, _)| name == "SLURM_UMASK")?;
    u32::from_str_radix(value.trim(), 8)
        .ok()
        .filter(|mask| *mask <= 0o777)
}

/// Environment variables in the order they were first set; a second set
/// replaces the value in place.
#[derive(Default)]
pub(crate) struct Environment {
    pub(crate) variables: Vec<(String, String)>,
}

impl Environment {
    pub(crate) fn set(&mut self, name: &str, value: &str) {
        match self.variables.iter_mut().find(|(n, _)| n == name) {
            Some((_, existing)) => *existing = value.to_string(),
            None => self.variables.push((name.to_string(), value.to_string())),
        }
    }
}

/// `SLURM_JOB_CPUS_PER_NODE`: CPUs on each node, runs of equal values
/// written `N(xCOUNT)`, as Slurm prints it (`4(x2),2`).
fn cpus_per_node(request: &LaunchRequest) -> String {
    let counts = if request.cpus_per_node.is_empty() {
        vec![request.cpus_on_node; request.node_count.max(1) as usize]
    } else {
        request.cpus_per_node.clone()
    };
    compress_counts(&counts)
}

/// `SLURM_TASKS_PER_NODE`: tasks spread over the nodes, the first nodes
/// taking the remainder (`JobSpec::tasks_per_node_max`).
fn tasks_per_node(request: &LaunchRequest) -> String {
    let nodes = request.node_count.max(1);
    let ntasks = request.effective_ntasks().max(nodes);
    let (base, remainder) = (ntasks / nodes, ntasks % nodes);
    let counts: Vec<u32> = (0..nodes)
        .map(|node| base + u32::from(node < remainder))
        .collect();
    compress_counts(&counts)
}

/// Slurm's `uint32_compressed_to_str`: `[4, 4, 2]` is `4(x2),2`.
pub fn compress_counts(counts: &[u32]) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut index = 0;
    while index < counts.len() {
        let value = counts[index];
        let run = counts[index..].iter().take_while(|&&v| v == value).count();
        parts.push(if run > 1 {
            format!("{value}(x{run})")
        } else {
            value.to_string()
        });
        index += run;
    }
    parts.join(",")
}

/// Where the script's standard streams go, after pattern expansion.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StdioPaths {
    pub stdin: String,
    pub stdout: String,
    /// Equal to `stdout` when the streams share a file (Slurm's default).
    pub stderr: String,
}

impl StdioPaths {
    pub fn for_request(request: &LaunchRequest) -> StdioPaths {
        let default_stdout = if request.array.is_some() {
            DEFAULT_ARRAY_STDOUT_PATTERN
        } else {
            DEFAULT_STDOUT_PATTERN
        };
        let stdout_pattern = request.stdout_pattern.as_deref().unwrap_or(default_stdout);
        let stdout = expand_pattern(stdout_pattern, request);
        let stderr = match &request.stderr_pattern {
            Some(pattern) => expand_pattern(pattern, request),
            None => stdout.clone(),
        };
        let stdin = match &request.stdin_pattern {
            Some(pattern) => expand_pattern(pattern, request),
            None => DEFAULT_STDIN_PATH.to_string(),
        };
        StdioPaths {
            stdin,
            stdout,
            stderr,
        }
    }
}

/// Expands a `-o`/`-e`/`-i` filename pattern the way `slurmstepd` does for
/// a batch job, and makes it absolute against the work dir.
///
/// `%j` and `%J` job id (the batch step adds no step id), `%A` array job id
/// (the job id outside an array), `%a` array task id, `%x` job name, `%u`
/// user, `%N` node name, `%n` and `%t` 0, `%s` `batch`, `%%` a percent sign.
/// A width (`%5j`) zero-pads numbers, at most [`PATTERN_WIDTH_MAX`]. An
/// unknown letter is kept with its `%`; a width before one keeps only its
/// last digit (Slurm's quirk). A backslash anywhere turns expansion off and
/// is itself removed.
pub fn expand_pattern(pattern: &str, request: &LaunchRequest) -> String {
    expand_pattern_at(pattern, request, PatternPlace::BATCH)
}

/// Where a filename pattern is expanded: the batch script, or one task of
/// a step (`%s` the step, `%J` `job.step`, `%n` the node's index in the
/// step, `%t` the task's number).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PatternPlace {
    pub step: Option<u32>,
    pub node_index: u32,
    pub task: u32,
}

impl PatternPlace {
    pub const BATCH: PatternPlace = PatternPlace {
        step: None,
        node_index: 0,
        task: 0,
    };
}

/// [`expand_pattern`] for a task of a step, as `slurmstepd` expands
/// `srun -o`.
pub fn expand_pattern_at(pattern: &str, request: &LaunchRequest, place: PatternPlace) -> String {
    let mut path = String::new();
    if !pattern.starts_with('/') {
        path.push_str(&request.work_dir);
        if !path.ends_with('/') {
            path.push('/');
        }
    }
    if pattern.contains('\\') {
        path.extend(pattern.chars().filter(|&c| c != '\\'));
        return path;
    }
    let mut chars = pattern.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '%' {
            path.push(c);
            continue;
        }
        let mut digits = String::new();
        while let Some(d) = chars.peek().filter(|d| d.is_ascii_digit()) {
            digits.push(*d);
            chars.next();
        }
        let Some(letter) = chars.next() else {
            // A trailing `%` stays; a trailing `%5` keeps its last digit.
            path.push_str(match digits.chars().last() {
                Some(_) => &digits[digits.len() - 1..],
                None => "%",
            });
            break;
        };
        if letter == '%' && digits.is_empty() {
            path.push('%');
            continue;
        }
        // Digits too many to parse are wider than the maximum anyway.
        let width = match digits.is_empty() {
            true => 0,
            false => digits
                .parse::<usize>()
                .unwrap_or(PATTERN_WIDTH_MAX)
                .min(PATTERN_WIDTH_MAX),
        };
        match expand_field(letter, width, request, place) {
            Some(value) => path.push_str(&value),
            None if digits.is_empty() => {
                path.push('%');
                path.push(letter);
            }
            None => {
                path.push_str(&digits[digits.len() - 1..]);
                path.push(letter);
            }
        }
    }
    path
}

fn expand_field(
    letter: char,
    width: usize,
    request: &LaunchRequest,
    place: PatternPlace,
) -> Option<String> {
    let number = |value: u32| format!("{value:0width$}");
    let array_task_id = request
        .array
        .as_ref()
        .map_or(NO_ARRAY_TASK_ID, |a| a.task_id);
    Some(match letter {
        'j' => number(request.job_id),
        'J' => match place.step {
            None => number(request.job_id),
            Some(step) => format!("{}.{step}", number(request.job_id)),
        },
        'A' => number(
            request
                .array
                .as_ref()
                .map_or(request.job_id, |a| a.array_job_id),
        ),
        'a' => number(array_task_id),
        'b' => number(array_task_id % 10),
        'n' => number(place.node_index),
        't' => number(place.task),
        's' => match place.step {
            None => "batch".to_string(),
            Some(step) => number(step),
        },
        'N' => request.node_name.clone(),
        'u' => request.user.clone(),
        'x' => request.job_name.clone(),
        _ => return None,
    })
}

impl LaunchRequest {
    /// The request the leader sent, for `node_name`. The derivations match
    /// [`LaunchRequest::for_job`]: `SLURM_NTASKS` always, `SLURM_CPUS_PER_TASK`
    /// above one CPU per task, the submitter's `PWD` as the submit directory.
    pub fn from_wire(launch: corral_proto::LaunchJob, node_name: &str) -> LaunchRequest {
        let environment: Vec<(String, String)> = launch
            .environment
            .into_iter()
            .map(|variable| (variable.name, variable.value))
            .collect();
        // sbatch sets SLURM_SUBMIT_DIR, which `--export=NONE` keeps; the
        // submitter's PWD is the fallback for jobs submitted without it.
        let variable = |wanted: &str| {
            environment
                .iter()
                .rev()
                .find(|(name, _)| name == wanted)
                .map(|(_, value)| value.clone())
        };
        let submit_dir = variable("SLURM_SUBMIT_DIR")
            .or_else(|| variable("PWD"))
            .unwrap_or_else(|| launch.work_dir.clone());
        // A signal the leader could not have sent (out of range) is dropped
        // rather than failing the launch.
        let signal = launch.signal_number.and_then(|number| {
            corral_proto::signal_from_wire(
                number,
                launch.signal_seconds_before_limit,
                launch.signal_batch_only,
                false,
            )
            .ok()
        });
        LaunchRequest {
            job_id: launch.job_id,
            allocation_id: AllocationId(launch.allocation_id),
            node_name: node_name.to_string(),
            node_list: hostlist::compress(&launch.nodes),
            node_count: launch.nodes.len().max(1) as u32,
            ntasks: Some(launch.ntasks),
            cpus_per_task: (launch.cpus_per_task > 1).then_some(launch.cpus_per_task),
            cpus_on_node: launch.cpus_on_node,
            cpus_per_node: launch.cpus_per_node,
            memory_per_node_mb: launch.memory_per_node_mb,
            gpus: launch.gpus,
            time_limit_minutes: launch.time_limit_minutes,
            job_name: launch.job_name,
            partition: launch.partition,
            cluster_name: launch.cluster_name,
            user: launch.user,
            uid: launch.uid,
            gid: launch.gid,
            account: launch.account,
            qos: launch.qos,
            work_dir: launch.work_dir,
            script: launch.script,
            arguments: launch.arguments,
            environment,
            stdout_pattern: launch.stdout_pattern,
            stderr_pattern: launch.stderr_pattern,
            stdin_pattern: launch.stdin_path,
            open_mode: if launch.append_output {
                OpenMode::Append
            } else {
                OpenMode::Truncate
            },
            submit_dir,
            submit_host: launch.submit_host,
            array: launch.array.map(|array| ArrayTask {
                array_job_id: array.array_job_id,
                task_id: array.task_id,
                task_count: array.task_count,
                task_min: array.task_min,
                task_max: array.task_max,
                task_step: array.task_step,
            }),
            restart_count: launch.requeue_count,
            kill_wait_ms: None,
            step: None,
            signal,
        }
    }

    /// A step part the leader sent, for `node_name`; `None` when the
    /// message lacks the job's context.
    pub fn from_wire_step(
        launch: corral_proto::LaunchStep,
        node_name: &str,
    ) -> Option<LaunchRequest> {
        let mut request = LaunchRequest::from_wire(launch.job?, node_name);
        let spec: StepSpec = launch.spec?.into();
        request.work_dir = spec.work_dir.clone();
        let nodes = launch
            .nodes
            .into_iter()
            .map(|part| StepNode {
                node: part.node,
                first_task: part.first_task,
                tasks: part.tasks,
                end: None,
            })
            .collect();
        request.step = Some(StepLaunch {
            step_id: launch.step_id,
            spec,
            nodes,
            job_start_time_ms: launch.job_start_time_ms,
        });
        Some(request)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn request() -> LaunchRequest {
        LaunchRequest {
            job_id: 30,
            allocation_id: AllocationId(1),
            node_name: "vm".to_string(),
            node_list: "vm".to_string(),
            node_count: 1,
            ntasks: None,
            cpus_per_task: None,
            cpus_on_node: 1,
            cpus_per_node: vec![1],
            memory_per_node_mb: None,
            gpus: vec![],
            time_limit_minutes: None,
            job_name: "envjob".to_string(),
            partition: "debug".to_string(),
            cluster_name: "lab".to_string(),
            user: "root".to_string(),
            uid: 0,
            gid: 0,
            account: Some("root".to_string()),
            qos: Some("normal".to_string()),
            work_dir: "/home/alice/work".to_string(),
            script: "#!/bin/sh\nenv\n".to_string(),
            arguments: vec![],
            environment: vec![("PATH".to_string(), "/usr/bin:/bin".to_string())],
            stdout_pattern: None,
            stderr_pattern: None,
            stdin_pattern: None,
            open_mode: OpenMode::Truncate,
            submit_dir: "/home/alice/work".to_string(),
            submit_host: "vm".to_string(),
            array: None,
            restart_count: 0,
            kill_wait_ms: None,
            step: None,
            signal: None,
        }
    }

    fn slurm_lines(environment: &[(String, String)]) -> Vec<String> {
        let mut lines: Vec<String> = environment
            .iter()
            .filter(|(name, _)| name.starts_with("SLURM"))
            .map(|(name, value)| format!("{name}={value}"))
            .collect();
        lines.sort();
        lines
    }

    /// Real Slurm's variables (`74_job_env.txt`, `sbatch --wrap env`) less
    /// those Corral has no counterpart for.
    const NOT_SET_BY_CORRAL: &[&str] = &[
        "SLURM_CONF=",
        "SLURM_PRIO_PROCESS=",
        "SLURM_WORKING_CLUSTER=",
    ];

    /// The `SLURM*` lines of a real Slurm 22.05 job's environment (copied
    /// from the project's Slurm references), less those Corral does not set.
    fn reference(text: &str) -> Vec<String> {
        text.lines()
            .filter(|line| line.starts_with("SLURM"))
            .filter(|line| !NOT_SET_BY_CORRAL.iter().any(|p| line.starts_with(p)))
            .filter(|line| !line.starts_with("SLURM_TASK_PID="))
            .map(str::to_string)
            .collect()
    }

    #[test]
    fn environment_matches_slurm_for_a_plain_job() {
        let environment = job_environment(&request(), "1843");
        let mut expected = reference(include_str!("../tests/data/slurm-22.05-74_job_env.txt"));
        expected.push("SLURM_TASK_PID=1843".to_string());
        expected.sort();
        assert_eq!(slurm_lines(&environment), expected);
    }

    #[test]
    fn environment_matches_slurm_with_cpus_per_task_and_memory() {
        let mut request = request();
        request.job_id = 31;
        request.job_name = "envjob2".to_string();
        request.cpus_per_task = Some(2);
        request.cpus_on_node = 2;
        request.cpus_per_node = vec![2];
        request.memory_per_node_mb = Some(200);
        let environment = job_environment(&request, "2423");
        let mut expected = reference(include_str!(
            "../tests/data/slurm-22.05-75_job_env_c2_mem_t.txt"
        ));
        expected.push("SLURM_TASK_PID=2423".to_string());
        expected.sort();
        assert_eq!(slurm_lines(&environment), expected);
    }

    #[test]
    fn environment_matches_slurm_for_an_array_task() {
        let mut request = request();
        request.job_id = 32;
        request.job_name = "wrap".to_string();
        request.array = Some(ArrayTask {
            array_job_id: 32,
            task_id: 7,
            task_count: 1,
            task_min: 7,
            task_max: 7,
            task_step: 1,
        });
        let environment = job_environment(&request, "3213");
        let mut expected = reference(include_str!(
            "../tests/data/slurm-22.05-76_job_env_array.txt"
        ));
        expected.push("SLURM_TASK_PID=3213".to_string());
        expected.sort();
        assert_eq!(slurm_lines(&environment), expected);
    }

    #[test]
    fn submitter_values_of_managed_variables_do_not_leak() {
        let mut request = request();
        request.environment = vec![
            ("CUDA_VISIBLE_DEVICES".to_string(), "0,1,2,3".to_string()),
            ("SLURM_NTASKS".to_string(), "64".to_string()),
            ("SLURM_JOB_ID".to_string(), "5".to_string()),
            ("HOME".to_string(), "/home/alice".to_string()),
        ];
        let environment = job_environment(&request, "1");
        let get = |name: &str| {
            environment
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.as_str())
        };
        assert_eq!(get("CUDA_VISIBLE_DEVICES"), None);
        assert_eq!(get("SLURM_NTASKS"), None);
        assert_eq!(get("SLURM_JOB_ID"), Some("30"));
        assert_eq!(get("HOME"), Some("/home/alice"));
        assert_eq!(get("ENVIRONMENT"), Some("BATCH"));
    }

    #[test]
    fn gpus_and_tasks_on_several_nodes() {
        let mut request = request();
        request.gpus = vec![1, 3];
        request.node_count = 3;
        request.node_list = "n[1-3]".to_string();
        request.ntasks = Some(5);
        request.cpus_per_node = vec![4, 4, 2];
        let environment = job_environment(&request, "1");
        let get = |name: &str| {
            environment
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.clone())
                .unwrap_or_default()
        };
        assert_eq!(get("CUDA_VISIBLE_DEVICES"), "1,3");
        assert_eq!(get("GPU_DEVICE_ORDINAL"), "1,3");
        assert_eq!(get("SLURM_JOB_GPUS"), "1,3");
        assert_eq!(get("SLURM_GPUS_ON_NODE"), "2");
        assert_eq!(get("SLURM_TASKS_PER_NODE"), "2(x2),1");
        assert_eq!(get("SLURM_JOB_CPUS_PER_NODE"), "4(x2),2");
        assert_eq!(get("SLURM_NTASKS"), "5");
        assert_eq!(get("SLURM_NPROCS"), "5");
        assert_eq!(get("SLURM_NNODES"), "3");
        assert_eq!(get("SLURM_JOB_NODELIST"), "n[1-3]");
    }

    #[test]
    fn umask_comes_from_the_submitted_environment() {
        let mut request = request();
        assert_eq!(requested_umask(&request), None);
        request
            .environment
            .push(("SLURM_UMASK".to_string(), "0027".to_string()));
        assert_eq!(requested_umask(&request), Some(0o027));
        let environment = job_environment(&request, "1");
        assert!(!environment.iter().any(|(n, _)| n == "SLURM_UMASK"));
    }

    #[test]
    fn filename_patterns_expand_like_slurmstepd() {
        let mut request = request();
        request.job_id = 128;
        request.job_name = "demo".to_string();
        request.user = "alice".to_string();
        let cases = [
            ("slurm-%j.out", "/home/alice/work/slurm-128.out"),
            ("out-%j-%x.txt", "/home/alice/work/out-128-demo.txt"),
            ("job%J.out", "/home/alice/work/job128.out"),
            ("job%4j.out", "/home/alice/work/job0128.out"),
            ("job%2j-%2t.out", "/home/alice/work/job128-00.out"),
            ("/tmp/%u/%N.log", "/tmp/alice/vm.log"),
            ("%A_%a", "/home/alice/work/128_4294967294"),
            ("100%%", "/home/alice/work/100%"),
            ("%12j", "/home/alice/work/0000000128"),
            ("%q%5q", "/home/alice/work/%q5q"),
            ("end%", "/home/alice/work/end%"),
            ("a\\%j", "/home/alice/work/a%j"),
            ("%s-%n", "/home/alice/work/batch-0"),
        ];
        for (pattern, expected) in cases {
            assert_eq!(expand_pattern(pattern, &request), expected, "{pattern}");
        }
        request.array = Some(ArrayTask {
            array_job_id: 14,
            task_id: 3,
            task_count: 5,
            task_min: 1,
            task_max: 5,
            task_step: 1,
        });
        assert_eq!(
            StdioPaths::for_request(&request).stdout,
            "/home/alice/work/slurm-14_3.out"
        );
    }

    #[test]
    fn stderr_follows_stdout_and_stdin_defaults_to_dev_null() {
        let mut request = request();
        request.stdout_pattern = Some("o-%j".to_string());
        let paths = StdioPaths::for_request(&request);
        assert_eq!(paths.stdout, "/home/alice/work/o-30");
        assert_eq!(paths.stderr, paths.stdout);
        assert_eq!(paths.stdin, "/dev/null");
        request.stderr_pattern = Some("e-%j".to_string());
        request.stdin_pattern = Some("in.txt".to_string());
        let paths = StdioPaths::for_request(&request);
        assert_eq!(paths.stderr, "/home/alice/work/e-30");
        assert_eq!(paths.stdin, "/home/alice/work/in.txt");
        let default = StdioPaths::for_request(&super::tests::request());
        assert_eq!(default.stdout, "/home/alice/work/slurm-30.out");
    }

    #[test]
    fn counts_compress_like_slurm() {
        assert_eq!(compress_counts(&[1]), "1");
        assert_eq!(compress_counts(&[4, 4, 4, 4]), "4(x4)");
        assert_eq!(compress_counts(&[4, 4, 2, 4]), "4(x2),2,4");
    }

    #[test]
    fn the_wire_carries_open_mode_signal_and_submit_dir() {
        let environment = |pairs: &[(&str, &str)]| {
            pairs
                .iter()
                .map(|(name, value)| corral_proto::EnvironmentVariable {
                    name: name.to_string(),
                    value: value.to_string(),
                })
                .collect()
        };
        let launch = corral_proto::LaunchJob {
            work_dir: "/scratch".to_string(),
            nodes: vec!["n1".to_string()],
            environment: environment(&[("PWD", "/home/a"), ("SLURM_SUBMIT_DIR", "/home/b")]),
            append_output: true,
            signal_number: Some(10),
            signal_seconds_before_limit: 30,
            signal_batch_only: true,
            ..Default::default()
        };
        let request = LaunchRequest::from_wire(launch, "n1");
        assert_eq!(request.open_mode, OpenMode::Append);
        assert!(request.appends_output());
        assert_eq!(
            request.signal,
            Some(JobSignal {
                number: 10,
                seconds_before_limit: 30,
                batch_only: true,
                reservation: false,
            })
        );
        assert_eq!(request.submit_dir, "/home/b");

        // `--export=NONE` leaves no PWD; without SLURM_SUBMIT_DIR either,
        // the work directory stands in.
        let launch = corral_proto::LaunchJob {
            work_dir: "/scratch".to_string(),
            signal_number: Some(0),
            ..Default::default()
        };
        let request = LaunchRequest::from_wire(launch, "n1");
        assert_eq!(request.open_mode, OpenMode::Truncate);
        assert_eq!(request.signal, None);
        assert_eq!(request.submit_dir, "/scratch");
    }
}
