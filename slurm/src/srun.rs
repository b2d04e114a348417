//! srun 22.05 inside an allocation: its options and `SLURM_*` input
//! variables, validated into an [`SrunRequest`] (a job step of the job
//! that runs it).
//!
//! Options stop at the first operand (the program), as in Slurm. Input
//! variables come first and the command line overrides them. Inside a
//! batch job the job's own `SLURM_NTASKS`, `SLURM_NNODES` and
//! `SLURM_CPUS_PER_TASK` are among them, which is why a plain `srun CMD`
//! runs the job's tasks across the job's nodes. Options Slurm has and
//! Corral does not are refused with `srun: error: --<option> is not
//! supported by Corral yet`, never ignored.

use corral_state::hostlist;

use crate::c_number::parse_int;
use crate::error::{error_line, fatal_line, SlurmError, EXIT_FAILURE};
use crate::getopt::{Getopt, GetoptError, HasArg, OptionDef, Ordering};
use crate::time::parse_time_limit;

const COMMAND: &str = "srun";
const TRY_HELP: &str = "Try \"srun --help\" for more information";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SrunKey {
    Chdir,
    CpusPerTask,
    Error,
    Exact,
    Export,
    Help,
    Input,
    JobName,
    KillOnBadExit,
    Label,
    Mpi,
    Nodelist,
    Nodes,
    Ntasks,
    Output,
    Overlap,
    Quiet,
    Time,
    Unbuffered,
    Usage,
    Verbose,
    Version,
    Wait,
    Unsupported(&'static str),
}

use HasArg::{No, Optional, Required};
use SrunKey as K;

const fn implemented(
    long: &'static str,
    short: Option<char>,
    has_arg: HasArg,
    key: SrunKey,
) -> OptionDef<SrunKey> {
    OptionDef::new(Some(long), short, has_arg, key)
}

const fn refused(long: &'static str, short: Option<char>, has_arg: HasArg) -> OptionDef<SrunKey> {
    OptionDef::new(Some(long), short, has_arg, SrunKey::Unsupported(long))
}

/// srun's options, in Slurm 22.05's table order.
pub const SRUN_OPTIONS: &[OptionDef<SrunKey>] = &[
    refused("account", Some('A'), Required),
    refused("acctg-freq", None, Required),
    refused("bb", None, Required),
    refused("bbf", None, Required),
    refused("bcast", None, Optional),
    refused("begin", Some('b'), Required),
    implemented("chdir", Some('D'), Required, K::Chdir),
    refused("cluster-constraint", None, Required),
    refused("clusters", Some('M'), Required),
    refused("comment", None, Required),
    refused("compress", None, Optional),
    refused("constraint", Some('C'), Required),
    refused("container", None, Required),
    refused("contiguous", None, No),
    refused("core-spec", Some('S'), Required),
    refused("cores-per-socket", None, Required),
    refused("cpu-bind", None, Required),
    refused("cpu-freq", None, Required),
    refused("cpus-per-gpu", None, Required),
    implemented("cpus-per-task", Some('c'), Required, K::CpusPerTask),
    refused("deadline", None, Required),
    refused("delay-boot", None, Required),
    refused("dependency", Some('d'), Required),
    refused("distribution", Some('m'), Required),
    refused("epilog", None, Required),
    implemented("error", Some('e'), Required, K::Error),
    implemented("exact", None, No, K::Exact),
    refused("exclude", Some('x'), Required),
    refused("exclusive", None, Optional),
    implemented("export", None, Required, K::Export),
    refused("extra-node-info", Some('B'), Required),
    refused("gid", None, Required),
    refused("gpu-bind", None, Required),
    refused("gpu-freq", None, Required),
    refused("gpus", Some('G'), Required),
    refused("gpus-per-node", None, Required),
    refused("gpus-per-socket", None, Required),
    refused("gpus-per-task", None, Required),
    refused("gres", None, Required),
    refused("gres-flags", None, Required),
    implemented("help", Some('h'), No, K::Help),
    refused("het-group", None, Required),
    refused("hint", None, Required),
    refused("hold", Some('H'), No),
    refused("immediate", Some('I'), Optional),
    implemented("input", Some('i'), Required, K::Input),
    refused("jobid", None, Required),
    implemented("job-name", Some('J'), Required, K::JobName),
    implemented("kill-on-bad-exit", Some('K'), Optional, K::KillOnBadExit),
    implemented("label", Some('l'), No, K::Label),
    refused("licenses", Some('L'), Required),
    refused("mail-type", None, Required),
    refused("mail-user", None, Required),
    refused("mcs-label", None, Required),
    refused("mem", None, Required),
    refused("mem-bind", None, Required),
    refused("mem-per-cpu", None, Required),
    refused("mem-per-gpu", None, Required),
    refused("mincpus", None, Required),
    implemented("mpi", None, Required, K::Mpi),
    refused("multi-prog", None, No),
    refused("network", None, Required),
    refused("nice", None, Optional),
    refused("nodefile", Some('F'), Required),
    implemented("nodelist", Some('w'), Required, K::Nodelist),
    implemented("nodes", Some('N'), Required, K::Nodes),
    implemented("ntasks", Some('n'), Required, K::Ntasks),
    refused("ntasks-per-core", None, Required),
    refused("ntasks-per-gpu", None, Required),
    refused("ntasks-per-node", None, Required),
    refused("ntasks-per-socket", None, Required),
    refused("open-mode", None, Required),
    implemented("output", Some('o'), Required, K::Output),
    refused("overcommit", Some('O'), No),
    implemented("overlap", None, No, K::Overlap),
    refused("oversubscribe", Some('s'), No),
    refused("partition", Some('p'), Required),
    refused("power", None, Required),
    refused("prefer", None, Required),
    refused("preserve-env", Some('E'), No),
    refused("priority", None, Required),
    refused("profile", None, Required),
    refused("prolog", None, Required),
    refused("propagate", None, Optional),
    refused("pty", None, No),
    refused("qos", Some('q'), Required),
    implemented("quiet", Some('Q'), No, K::Quiet),
    refused("quit-on-interrupt", None, No),
    refused("reboot", None, No),
    refused("relative", Some('r'), Required),
    refused("reservation", None, Required),
    refused("resv-ports", None, Optional),
    refused("send-libs", None, Optional),
    refused("signal", None, Required),
    refused("slurmd-debug", None, Required),
    refused("sockets-per-node", None, Required),
    refused("spread-job", None, No),
    refused("switches", None, Required),
    refused("task-epilog", None, Required),
    refused("task-prolog", None, Required),
    refused("tasks-per-node", None, Required),
    refused("test-only", None, No),
    refused("thread-spec", None, Required),
    refused("threads-per-core", None, Required),
    implemented("time", Some('t'), Required, K::Time),
    refused("time-min", None, Required),
    refused("tmp", None, Required),
    refused("uid", None, Required),
    implemented("unbuffered", Some('u'), No, K::Unbuffered),
    implemented("usage", None, No, K::Usage),
    refused("use-min-nodes", None, No),
    implemented("verbose", Some('v'), No, K::Verbose),
    implemented("version", Some('V'), No, K::Version),
    implemented("wait", Some('W'), Required, K::Wait),
    refused("wckey", None, Required),
    refused("x11", None, Optional),
];

/// Input variables srun reads, and the option each stands for.
const INPUT_VARIABLES: &[(&str, SrunKey)] = &[
    ("SLURM_NTASKS", K::Ntasks),
    ("SLURM_NPROCS", K::Ntasks),
    ("SLURM_NNODES", K::Nodes),
    ("SLURM_CPUS_PER_TASK", K::CpusPerTask),
    ("SLURM_STDOUTMODE", K::Output),
    ("SLURM_STDERRMODE", K::Error),
    ("SLURM_STDINMODE", K::Input),
    ("SLURM_LABELIO", K::Label),
    ("SLURM_UNBUFFEREDIO", K::Unbuffered),
    ("SLURM_TIMELIMIT", K::Time),
    ("SLURM_WORKING_DIR", K::Chdir),
    ("SLURM_KILL_BAD_EXIT", K::KillOnBadExit),
];

/// A validated `srun`: one step of the job it runs in.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SrunRequest {
    /// The job the step belongs to (`SLURM_JOB_ID`).
    pub job_id: u32,
    pub ntasks: u32,
    /// `None`: as many of the job's nodes as there are tasks.
    pub nodes: Option<u32>,
    pub cpus_per_task: u32,
    /// `-J`; `None`: the program's name.
    pub name: Option<String>,
    pub argv: Vec<String>,
    pub stdout: Option<String>,
    pub stderr: Option<String>,
    pub stdin: Option<String>,
    pub label: bool,
    pub unbuffered: bool,
    pub chdir: Option<String>,
    pub time_limit_minutes: Option<u32>,
    pub node_list: Vec<String>,
    pub kill_on_bad_exit: bool,
    pub quiet: u32,
    pub verbose: u32,
    /// Lines srun writes to stderr before it runs anything.
    pub warnings: Vec<String>,
}

impl SrunRequest {
    /// The step's name: `-J`, or the program's base name (`sacct`'s
    /// `JobName` of `ID.0`).
    pub fn step_name(&self) -> String {
        self.name.clone().unwrap_or_else(|| {
            let program = self.argv.first().map(String::as_str).unwrap_or_default();
            program.rsplit('/').next().unwrap_or(program).to_string()
        })
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SrunInvocation {
    Run(Box<SrunRequest>),
    /// `--help`, `--usage`, `--version`: print this on stdout, exit 0.
    Print(String),
}

fn failure(message: &str) -> SlurmError {
    SlurmError::command_error(COMMAND, message, EXIT_FAILURE)
}

fn getopt_failure(error: &GetoptError, argv0: &str) -> SlurmError {
    SlurmError::new(
        vec![error.message(argv0), TRY_HELP.to_string()],
        EXIT_FAILURE,
    )
}

/// Parses `argv` (`argv[0]` included) with the environment `lookup`.
pub fn parse(
    argv: &[String],
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<SrunInvocation, SlurmError> {
    let mut getopt = Getopt::new(SRUN_OPTIONS, argv, Ordering::RequireOrder);
    let argv0 = getopt.argv0().to_string();
    let mut given = Vec::new();
    for found in getopt.by_ref() {
        let found = found.map_err(|e| getopt_failure(&e, &argv0))?;
        match found.key {
            K::Help => return Ok(SrunInvocation::Print(HELP.to_string())),
            K::Usage => return Ok(SrunInvocation::Print(USAGE.to_string())),
            K::Version => {
                return Ok(SrunInvocation::Print(format!(
                    "slurm {}\n",
                    crate::SLURM_VERSION
                )))
            }
            K::Unsupported(name) => {
                return Err(failure(&format!("--{name} is not supported by Corral yet")))
            }
            _ => given.push((found.key, found.argument)),
        }
    }
    let argv_of_program = getopt.into_operands();
    let mut request = SrunRequest {
        ntasks: 1,
        cpus_per_task: 1,
        ..SrunRequest::default()
    };
    let mut builder = Builder::default();
    for (name, key) in INPUT_VARIABLES {
        if let Some(value) = lookup(name).filter(|v| !v.is_empty()) {
            builder.apply(&mut request, *key, Some(&value), false)?;
        }
    }
    for (key, argument) in &given {
        builder.apply(&mut request, *key, argument.as_deref(), true)?;
    }
    if argv_of_program.is_empty() {
        return Err(SlurmError::new(
            vec![fatal_line(COMMAND, "No command given to execute.")],
            EXIT_FAILURE,
        ));
    }
    request.argv = argv_of_program;
    let Some(job_id) = lookup("SLURM_JOB_ID").and_then(|id| id.trim().parse().ok()) else {
        return Err(failure(
            "srun outside an allocation (an interactive job) is not supported by Corral yet; run srun inside an sbatch script",
        ));
    };
    request.job_id = job_id;
    builder.settle(&mut request);
    Ok(SrunInvocation::Run(Box::new(request)))
}

/// Which counts the user gave on the command line (the environment's
/// yield to them).
#[derive(Default)]
struct Builder {
    ntasks_given: bool,
    nodes_given: bool,
}

impl Builder {
    fn apply(
        &mut self,
        request: &mut SrunRequest,
        key: SrunKey,
        argument: Option<&str>,
        command_line: bool,
    ) -> Result<(), SlurmError> {
        let text = argument.unwrap_or_default();
        match key {
            K::Ntasks => {
                request.ntasks = positive("--ntasks", text)?;
                self.ntasks_given |= command_line;
            }
            K::Nodes => {
                request.nodes = Some(node_count(text)?);
                self.nodes_given |= command_line;
            }
            K::CpusPerTask => request.cpus_per_task = positive("--cpus-per-task", text)?,
            K::Output => request.stdout = Some(stream(text, "--output")?),
            K::Error => request.stderr = Some(stream(text, "--error")?),
            K::Input => request.stdin = Some(stream(text, "--input")?),
            K::Label => request.label = true,
            K::Unbuffered => request.unbuffered = true,
            K::Chdir => request.chdir = Some(text.to_string()),
            K::JobName => request.name = Some(text.to_string()),
            K::Time => {
                request.time_limit_minutes = parse_time_limit(text)
                    .map_err(|_| failure("Invalid --time specification"))?
                    .minutes()
            }
            K::Nodelist => {
                request.node_list = hostlist::expand(text)
                    .map_err(|_| failure(&format!("Invalid node name specified: {text}")))?
            }
            K::KillOnBadExit => {
                request.kill_on_bad_exit = match argument {
                    None => true,
                    Some(value) => {
                        parse_int("--kill-on-bad-exit", value, false)
                            .map_err(|message| failure(&message))?
                            != 0
                    }
                }
            }
            K::Export => {
                if !text.eq_ignore_ascii_case("ALL") {
                    return Err(failure(&format!(
                        "--export={text} is not supported by Corral yet (only ALL)"
                    )));
                }
            }
            K::Mpi => {
                if !text.eq_ignore_ascii_case("none") {
                    return Err(failure(&format!(
                        "--mpi={text} is not supported by Corral yet (only none)"
                    )));
                }
            }
            K::Quiet => request.quiet += 1,
            K::Verbose => request.verbose += 1,
            // A step's tasks always share the job's CPUs; srun waits anyway.
            K::Overlap | K::Exact | K::Wait => {}
            K::Help | K::Usage | K::Version | K::Unsupported(_) => {}
        }
        Ok(())
    }

    /// Reconciles the task and node counts as srun does.
    fn settle(&self, request: &mut SrunRequest) {
        if self.nodes_given && !self.ntasks_given {
            request.ntasks = request
                .nodes
                .unwrap_or(1)
                .max(request.node_list.len() as u32);
        }
        if !request.node_list.is_empty() && !self.nodes_given {
            request.nodes = None;
        }
        if let Some(nodes) = request.nodes {
            if nodes > request.ntasks {
                if self.nodes_given {
                    request.warnings.push(format!(
                        "{COMMAND}: warning: can't run {} processes on {nodes} nodes, setting nnodes to {}",
                        request.ntasks, request.ntasks
                    ));
                }
                request.nodes = Some(request.ntasks);
            }
        }
    }
}

fn positive(name: &str, text: &str) -> Result<u32, SlurmError> {
    let value = parse_int(name, text, true).map_err(|message| failure(&message))?;
    u32::try_from(value)
        .map_err(|_| failure(&format!("Invalid numeric value \"{text}\" for {name}.")))
}

/// `N` (srun takes the minimum of `min-max`).
fn node_count(text: &str) -> Result<u32, SlurmError> {
    let first = text.split_once('-').map_or(text, |(min, _)| min);
    match first.trim().parse::<u32>() {
        Ok(count) if count > 0 => Ok(count),
        _ => Err(failure(&format!("\"{text}\" is not a valid node count"))),
    }
}

/// `-o/-e/-i`: a filename pattern, `none`; srun's task-number forms
/// (`-i 0`, `-o all`) are not in Corral.
fn stream(text: &str, option: &str) -> Result<String, SlurmError> {
    if text.eq_ignore_ascii_case("none") {
        return Ok("/dev/null".to_string());
    }
    if text.is_empty()
        || text.eq_ignore_ascii_case("all")
        || text.bytes().all(|b| b.is_ascii_digit())
    {
        return Err(failure(&format!(
            "{option}={text} is not supported by Corral yet (give a file name pattern)"
        )));
    }
    Ok(text.to_string())
}

/// `srun: error: NODE: task N: Exited with exit code C` lines, Slurm's
/// way, with tasks of the same node and outcome grouped (`tasks 0-1`).
pub fn task_exit_lines(exits: &[(String, u32, u8, u8)]) -> Vec<String> {
    let mut groups: Vec<(String, String, Vec<u32>)> = Vec::new();
    for (node, task, code, signal) in exits {
        let outcome = if *signal != 0 {
            signal_name(*signal)
        } else if *code != 0 {
            format!("Exited with exit code {code}")
        } else {
            continue;
        };
        match groups
            .iter_mut()
            .find(|(n, o, _)| n == node && *o == outcome)
        {
            Some((_, _, tasks)) => tasks.push(*task),
            None => groups.push((node.clone(), outcome, vec![*task])),
        }
    }
    groups
        .into_iter()
        .map(|(node, outcome, mut tasks)| {
            tasks.sort_unstable();
            let label = if tasks.len() == 1 {
                format!("task {}", tasks[0])
            } else {
                format!("tasks {}", ranges(&tasks))
            };
            error_line(COMMAND, &format!("{node}: {label}: {outcome}"))
        })
        .collect()
}

/// `0-2,5`.
fn ranges(numbers: &[u32]) -> String {
    let mut parts = Vec::new();
    let mut index = 0;
    while index < numbers.len() {
        let start = numbers[index];
        let mut end = start;
        while index + 1 < numbers.len() && numbers[index + 1] == end + 1 {
            index += 1;
            end = numbers[index];
        }
        parts.push(if start == end {
            start.to_string()
        } else {
            format!("{start}-{end}")
        });
        index += 1;
    }
    parts.join(",")
}

/// What `strsignal` says of the common signals, as srun prints them.
fn signal_name(signal: u8) -> String {
    match signal {
        1 => "Hangup",
        2 => "Interrupt",
        3 => "Quit",
        4 => "Illegal instruction",
        6 => "Aborted",
        7 => "Bus error",
        8 => "Floating point exception",
        9 => "Killed",
        10 => "User defined signal 1",
        11 => "Segmentation fault",
        12 => "User defined signal 2",
        13 => "Broken pipe",
        14 => "Alarm clock",
        15 => "Terminated",
        _ => return format!("Signal {signal}"),
    }
    .to_string()
}

/// srun's exit code: the highest signal (as 128 + signal) if a task was
/// killed by one, else the highest exit code.
pub fn exit_code(exits: &[(u8, u8)]) -> u8 {
    let signal = exits.iter().map(|(_, signal)| *signal).max().unwrap_or(0);
    if signal != 0 {
        return 128u8.saturating_add(signal);
    }
    exits.iter().map(|(code, _)| *code).max().unwrap_or(0)
}

/// Prefixes each line with the task number, padded as srun's `-l` pads
/// it to the width of the highest task number.
pub fn label_prefix(task: u32, ntasks: u32) -> String {
    let width = ntasks.saturating_sub(1).max(1).to_string().len();
    format!("{task:>width$}: ")
}

pub const USAGE: &str = "Usage: srun [-N nnodes] [-n ntasks] [-i in] [-o out] [-e err]
            [-c ncpus] [-r n] [-p partition] [--hold] [-t minutes]
            [-D path] [--immediate[=secs]] [--overcommit] [--no-kill]
            [--oversubscribe] [--label] [--unbuffered] [-m dist] [-J jobname]
            [--jobid=id] [--verbose] [--slurmd_debug=#] [--mpi=type]
            [--core=type] [-T threads] [-W sec] [--checkpoint=time]
            [--export=env_vars] [--licenses=names] [--clusters=cluster_names]
            [--checkpoint-dir=dir] [--restart-dir=dir] [--qos=qos]
            [--time-min=minutes] [--use-min-nodes] [--gres=list]
            [--gres-flags=opts] [--mem=MB] [--mincpus=n] [--nodelist=hosts]
            [--exclude=hosts] [-K[=val]] [--label] executable [args...]
";

pub const HELP: &str = "Usage: srun [OPTIONS(0)... [executable(0) [args(0)...]]]
Corral's srun runs a job step inside a running job (in an sbatch script).

Parallel run options:
  -c, --cpus-per-task=ncpus   number of cpus required per task
  -D, --chdir=path            change remote current working directory
  -e, --error=err             location of stderr redirection
      --export=ALL            the tasks get srun's environment (the default)
  -i, --input=in              location of stdin redirection
  -J, --job-name=jobname      name of the job step
  -K, --kill-on-bad-exit      kill the step if any task terminates with a
                              non-zero exit code
  -l, --label                 prepend task number to lines of stdout/err
      --mpi=none              MPI type (only none)
  -n, --ntasks=ntasks         number of tasks to run
  -N, --nodes=N               number of nodes on which to run
  -o, --output=out            location of stdout redirection
      --overlap               accepted: a step's tasks share the job's CPUs
  -Q, --quiet                 quiet mode (suppress informational messages)
  -t, --time=minutes          time limit
  -u, --unbuffered            do not line-buffer stdout/err
  -v, --verbose               verbose mode (multiple -v's increase verbosity)
  -w, --nodelist=hosts...     request a specific list of hosts

Help options:
  -h, --help                  show this help message
      --usage                 display brief usage message

Other options:
  -V, --version               output version information and exit

";

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn parse_with(args: &[&str], env: &[(&str, &str)]) -> Result<SrunInvocation, SlurmError> {
        let argv: Vec<String> = std::iter::once("srun")
            .chain(args.iter().copied())
            .map(str::to_string)
            .collect();
        let env: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        parse(&argv, &|name| {
            env.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
        })
    }

    fn run(args: &[&str], env: &[(&str, &str)]) -> SrunRequest {
        match parse_with(args, env) {
            Ok(SrunInvocation::Run(request)) => *request,
            other => panic!("{other:?}"),
        }
    }

    const IN_JOB: &[(&str, &str)] = &[
        ("SLURM_JOB_ID", "12"),
        ("SLURM_NTASKS", "4"),
        ("SLURM_NNODES", "2"),
    ];

    #[test]
    fn a_plain_srun_runs_the_jobs_tasks() {
        let request = run(&["hostname", "-s"], IN_JOB);
        assert_eq!(request.job_id, 12);
        assert_eq!(request.ntasks, 4);
        assert_eq!(request.nodes, Some(2));
        assert_eq!(request.argv, ["hostname", "-s"]);
        assert_eq!(request.step_name(), "hostname");
        assert!(request.warnings.is_empty());
    }

    #[test]
    fn the_command_line_overrides_the_environment() {
        let request = run(&["-n", "1", "/bin/true"], IN_JOB);
        assert_eq!(request.ntasks, 1);
        // Fewer tasks than inherited nodes: quietly one node.
        assert_eq!(request.nodes, Some(1));
        assert!(request.warnings.is_empty());
        assert_eq!(request.step_name(), "true");

        let request = run(&["-N", "2", "-n", "1", "true"], IN_JOB);
        assert_eq!(request.nodes, Some(1));
        assert_eq!(
            request.warnings,
            ["srun: warning: can't run 1 processes on 2 nodes, setting nnodes to 1"]
        );

        let request = run(&["-N1", "true"], IN_JOB);
        assert_eq!((request.ntasks, request.nodes), (1, Some(1)));

        let request = run(
            &[
                "-l", "-u", "-c2", "-J", "step", "-o", "out-%t", "-t", "5", "true",
            ],
            &[("SLURM_JOB_ID", "3"), ("SLURM_CPUS_PER_TASK", "4")],
        );
        assert!(request.label && request.unbuffered);
        assert_eq!(request.cpus_per_task, 2);
        assert_eq!(request.step_name(), "step");
        assert_eq!(request.stdout.as_deref(), Some("out-%t"));
        assert_eq!(request.time_limit_minutes, Some(5));
    }

    #[test]
    fn options_after_the_program_belong_to_it() {
        let request = run(&["-n2", "echo", "-n", "hi"], IN_JOB);
        assert_eq!(request.ntasks, 2);
        assert_eq!(request.argv, ["echo", "-n", "hi"]);
    }

    #[test]
    fn errors_are_slurms() {
        let error = |args: &[&str], env: &[(&str, &str)]| parse_with(args, env).unwrap_err();
        assert_eq!(
            error(&[], IN_JOB).stderr_text(),
            "srun: fatal: No command given to execute.\n"
        );
        assert_eq!(
            error(&["--bogus", "true"], IN_JOB).stderr_text(),
            "srun: unrecognized option '--bogus'\nTry \"srun --help\" for more information\n"
        );
        assert_eq!(
            error(&["-n", "0", "true"], IN_JOB).stderr_text(),
            "srun: error: Invalid numeric value \"0\" for --ntasks.\n"
        );
        assert_eq!(
            error(&["-t", "abc", "true"], IN_JOB).stderr_text(),
            "srun: error: Invalid --time specification\n"
        );
        assert_eq!(
            error(&["--exclusive", "true"], IN_JOB).stderr_text(),
            "srun: error: --exclusive is not supported by Corral yet\n"
        );
        assert_eq!(
            error(&["--mpi=pmix", "true"], IN_JOB).stderr_text(),
            "srun: error: --mpi=pmix is not supported by Corral yet (only none)\n"
        );
        let outside = error(&["hostname"], &[]);
        assert!(outside.stderr_text().contains("outside an allocation"));
        assert_eq!(outside.exit_code, 1);
    }

    #[test]
    fn task_exits_are_reported_as_srun_does() {
        let exits = [
            ("n1".to_string(), 0, 3, 0),
            ("n1".to_string(), 1, 3, 0),
            ("n2".to_string(), 2, 0, 0),
            ("n2".to_string(), 3, 0, 9),
        ];
        assert_eq!(
            task_exit_lines(&exits),
            [
                "srun: error: n1: tasks 0-1: Exited with exit code 3",
                "srun: error: n2: task 3: Killed",
            ]
        );
        assert_eq!(exit_code(&[(3, 0), (0, 0)]), 3);
        assert_eq!(exit_code(&[(3, 0), (0, 9)]), 137);
        assert_eq!(exit_code(&[]), 0);
        assert_eq!(label_prefix(3, 4), "3: ");
        assert_eq!(label_prefix(3, 12), " 3: ");
        assert_eq!(ranges(&[0, 1, 2, 5, 7, 8]), "0-2,5,7-8");
    }

    proptest! {
        #[test]
        fn any_command_line_parses_or_errors(args in prop::collection::vec("[-a-zA-Z0-9=%,]{0,8}", 0..6)) {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let _ = parse_with(&args, IN_JOB);
        }
    }
}
