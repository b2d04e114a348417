//! The validated result of an sbatch invocation and the job it asks for.

use corral_state::{
    ArraySpec, DependencySpec, JobId, JobSignal, JobSpec, OpenMode, TIME_MIN_UNLIMITED,
};

use super::export::{export_environment, set, Export, EXPORT_VARIABLE};
use crate::time::TimeLimit;

/// An sbatch invocation after every option has been read and checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SbatchRequest {
    /// `-J`, else `wrap` for `--wrap`, else the script's base name, else
    /// `sbatch` (a script read from stdin).
    pub job_name: String,
    pub partition: Option<String>,
    /// `None`: the partition's limit. A zero limit reads as unlimited.
    pub time_limit: Option<TimeLimit>,
    /// `-N min[-max]`; Corral allocates `min_nodes`.
    pub min_nodes: u32,
    pub max_nodes: Option<u32>,
    /// `-n`, else one task per node.
    pub ntasks: u32,
    pub cpus_per_task: u32,
    /// `--mem` in MiB; `Some(0)` asks, as in Slurm, for all of each node's memory.
    pub memory_per_node_mb: Option<u64>,
    /// `--mem-per-cpu` in MiB (never with `--mem`).
    pub memory_per_cpu_mb: Option<u64>,
    /// `-w` (less nodes beyond the task count) and `-x`: sorted, distinct.
    pub required_nodes: Vec<String>,
    pub excluded_nodes: Vec<String>,
    /// `--exclusive`.
    pub exclusive: bool,
    /// `--ntasks-per-node` as given (`min_nodes` and `ntasks` follow from it).
    pub ntasks_per_node: Option<u32>,
    /// `--begin`, resolved: milliseconds since the epoch.
    pub begin_time_ms: Option<u64>,
    /// `--time-min`.
    pub time_min: Option<TimeLimit>,
    pub signal: Option<JobSignal>,
    pub open_mode: Option<OpenMode>,
    /// `--export` as given, and what it asks for.
    pub export_text: Option<String>,
    pub export: Export,
    /// `-o`, `-e`, `-i` as given (`none` already turned into `/dev/null`).
    pub stdout: Option<String>,
    pub stderr: Option<String>,
    pub stdin: Option<String>,
    /// `-D` as given.
    pub chdir: Option<String>,
    pub hold: bool,
    pub parsable: bool,
    pub quiet: u32,
    pub verbose: u32,
    /// The full script text (built for `--wrap`).
    pub script: String,
    /// The script path from the command line (`None`: stdin or `--wrap`).
    pub script_path: Option<String>,
    /// The words after the script path.
    pub script_arguments: Vec<String>,
    /// Lines sbatch prints on stderr even though it goes on.
    pub warnings: Vec<String>,
    /// GPUs on each node (`--gres=gpu:N`, `--gpus-per-node`, `--gpus`).
    pub gpus_per_node: u32,
    /// `--requeue`: back to the queue if a node fails.
    pub requeue: bool,
    /// `-W`: wait for the job (every task of an array) to end.
    pub wait: bool,
    /// `-a/--array`: one task per index.
    pub array: Option<ArraySpec>,
    /// `-d/--dependency`; `None` also for `--dependency=` and `=0`.
    pub dependency: Option<DependencySpec>,
    /// `--nice`: 0 unless given; 100 for a bare `--nice`.
    pub nice: i32,
    /// `--comment`, `--mail-user`, `-A/--account`, `-q/--qos` as given.
    pub comment: Option<String>,
    /// `--mail-type` as Slurm prints it (`BEGIN,END`, `NONE`).
    pub mail_type: Option<String>,
    pub mail_user: Option<String>,
    pub account: Option<String>,
    pub qos: Option<String>,
    /// `SBATCH_*` variables that were set but belong to options Corral does
    /// not implement; they had no effect.
    pub ignored_environment: Vec<String>,
}

impl SbatchRequest {
    /// The job to submit. `submit_dir` is the directory sbatch ran in: a
    /// relative `-D` is taken from there, and relative `-o/-e/-i` from the
    /// job's work directory, as Slurm resolves them before submitting. The
    /// job's environment is what `--export` keeps of `environment` (the
    /// submitter's, with `SLURM_EXPORT_ENV` added unless set), plus the
    /// variables sbatch sets: `SLURM_SUBMIT_DIR`, `SLURM_SUBMIT_HOST`, and
    /// `SLURM_NTASKS_PER_NODE` and `SLURM_MEM_PER_CPU` when asked for.
    pub fn to_job_spec(
        &self,
        submit_dir: &str,
        environment: Vec<(String, String)>,
        submit_host: &str,
    ) -> JobSpec {
        let work_dir = match &self.chdir {
            Some(dir) if dir.starts_with('/') => dir.clone(),
            Some(dir) => make_full_path(submit_dir, dir),
            None => submit_dir.to_string(),
        };
        let absolute = |path: &Option<String>| path.as_ref().map(|p| full_path(&work_dir, p));
        let mut submitter = environment;
        if let Some(text) = &self.export_text {
            let present = submitter.iter().any(|(name, _)| name == EXPORT_VARIABLE);
            if !text.eq_ignore_ascii_case("ALL") && !present {
                submitter.push((EXPORT_VARIABLE.to_string(), text.clone()));
            }
        }
        let mut environment = export_environment(&self.export, &submitter);
        set(&mut environment, "SLURM_SUBMIT_DIR", submit_dir);
        set(&mut environment, "SLURM_SUBMIT_HOST", submit_host);
        if let Some(per_node) = self.ntasks_per_node {
            set(
                &mut environment,
                "SLURM_NTASKS_PER_NODE",
                &per_node.to_string(),
            );
        }
        if let Some(per_cpu) = self.memory_per_cpu_mb {
            set(&mut environment, "SLURM_MEM_PER_CPU", &per_cpu.to_string());
        }
        JobSpec {
            name: self.job_name.clone(),
            partition: self.partition.clone(),
            time_limit_minutes: self.time_limit.and_then(TimeLimit::minutes),
            nodes: self.min_nodes,
            ntasks: self.ntasks,
            cpus_per_task: self.cpus_per_task,
            memory_per_node_mb: self.memory_per_node_mb,
            stdout_pattern: absolute(&self.stdout),
            stderr_pattern: absolute(&self.stderr),
            stdin_path: absolute(&self.stdin),
            work_dir,
            script: self.script.clone(),
            arguments: self.script_arguments.clone(),
            environment,
            hold: self.hold,
            submit_host: submit_host.to_string(),
            gpus_per_node: self.gpus_per_node,
            requeue: self.requeue,
            array: self.array.clone(),
            dependency: self.dependency.clone(),
            nice: self.nice,
            comment: self.comment.clone(),
            mail_type: self.mail_type.clone(),
            mail_user: self.mail_user.clone(),
            account: self.account.clone(),
            qos: self.qos.clone(),
            required_nodes: self.required_nodes.clone(),
            excluded_nodes: self.excluded_nodes.clone(),
            exclusive: self.exclusive,
            memory_per_cpu_mb: self.memory_per_cpu_mb,
            ntasks_per_node: self.ntasks_per_node,
            begin_time_ms: self.begin_time_ms,
            time_min_minutes: self
                .time_min
                .map(|limit| limit.minutes().unwrap_or(TIME_MIN_UNLIMITED)),
            signal: self.signal,
            open_mode: self.open_mode,
        }
    }

    /// What sbatch prints on stdout once the job is accepted:
    /// `Submitted batch job N`, or just `N` with `--parsable`, nothing with
    /// `-Q`.
    pub fn submitted_message(&self, job_id: JobId) -> Option<String> {
        if self.quiet > 0 {
            None
        } else if self.parsable {
            Some(format!("{job_id}\n"))
        } else {
            Some(format!("Submitted batch job {job_id}\n"))
        }
    }
}

/// Slurm's `make_full_path`: the directory without a trailing `/`, then the
/// relative path without a leading `./`.
fn make_full_path(directory: &str, relative: &str) -> String {
    let directory = directory.strip_suffix('/').unwrap_or(directory);
    let relative = relative.strip_prefix("./").unwrap_or(relative);
    format!("{directory}/{relative}")
}

/// Slurm's `_fullpath` for `-o/-e/-i`: absolute paths stay, others are
/// appended to the work directory.
fn full_path(work_dir: &str, path: &str) -> String {
    if path.starts_with('/') {
        path.to_string()
    } else {
        format!("{work_dir}/{path}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_resolve_as_slurm_does() {
        assert_eq!(make_full_path("/home/a/", "./x"), "/home/a/x");
        assert_eq!(make_full_path("/", "x"), "/x");
        assert_eq!(full_path("/w", "out.txt"), "/w/out.txt");
        assert_eq!(full_path("/w", "./out.txt"), "/w/./out.txt");
        assert_eq!(full_path("/w", "/dev/null"), "/dev/null");
    }

    #[test]
    fn environment_gets_submit_variables() {
        let mut environment = vec![("SLURM_SUBMIT_DIR".to_string(), "/old".to_string())];
        set(&mut environment, "SLURM_SUBMIT_DIR", "/new");
        set(&mut environment, "SLURM_SUBMIT_HOST", "login1");
        assert_eq!(
            environment,
            vec![
                ("SLURM_SUBMIT_DIR".to_string(), "/new".to_string()),
                ("SLURM_SUBMIT_HOST".to_string(), "login1".to_string()),
            ]
        );
    }
}
