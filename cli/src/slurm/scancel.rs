//! `scancel`: job ids (`ID`, `ID_N`), the filters `-u -n -p -t -w -A -q`,
//! `-s/--signal` with `-b/--batch` and `-f/--full`, `-i`, `-v`; Slurm's
//! silence about unknown and finished jobs.

use corral_proto as wire;
use corral_slurm::getopt::{Getopt, HasArg, OptionDef, Ordering};
use corral_slurm::SlurmError;
use corral_state::{hostlist, Job, JobState};

use super::connection::{call_failed, connect};

const COMMAND: &str = "scancel";

#[derive(Clone, Copy, PartialEq, Eq)]
enum Key {
    Accounts,
    Batch,
    Full,
    Interactive,
    Qos,
    Signal,
    Users,
    Names,
    Partitions,
    States,
    Nodes,
    Verbose,
    Quiet,
    Help,
    Usage,
    Version,
    Unsupported(&'static str),
}

use HasArg::{No, Required};

const fn option(
    long: &'static str,
    short: Option<char>,
    has_arg: HasArg,
    key: Key,
) -> OptionDef<Key> {
    OptionDef::new(Some(long), short, has_arg, key)
}

/// scancel 22.05's options.
const OPTIONS: &[OptionDef<Key>] = &[
    option("account", Some('A'), Required, Key::Accounts),
    option("batch", Some('b'), No, Key::Batch),
    option("ctld", None, No, Key::Unsupported("ctld")),
    option("cluster", Some('M'), Required, Key::Unsupported("clusters")),
    option("clusters", None, Required, Key::Unsupported("clusters")),
    option("full", Some('f'), No, Key::Full),
    option("hurry", Some('H'), No, Key::Unsupported("hurry")),
    option("interactive", Some('i'), No, Key::Interactive),
    option("name", Some('n'), Required, Key::Names),
    option("jobname", None, Required, Key::Names),
    option("nodelist", Some('w'), Required, Key::Nodes),
    option("partition", Some('p'), Required, Key::Partitions),
    option("qos", Some('q'), Required, Key::Qos),
    option("quiet", Some('Q'), No, Key::Quiet),
    option(
        "reservation",
        Some('R'),
        Required,
        Key::Unsupported("reservation"),
    ),
    option("sibling", None, Required, Key::Unsupported("sibling")),
    option("signal", Some('s'), Required, Key::Signal),
    option("state", Some('t'), Required, Key::States),
    option("usage", None, No, Key::Usage),
    option("user", Some('u'), Required, Key::Users),
    option("verbose", Some('v'), No, Key::Verbose),
    option("version", Some('V'), No, Key::Version),
    option("wckey", None, Required, Key::Unsupported("wckey")),
    option("help", None, No, Key::Help),
];

const USAGE: &str = "Usage: scancel [-A account] [--batch] [--full] [--interactive] [-n job_name]
               [-p partition] [-Q] [-q qos] [-R reservation] [-s signal | integer]
               [-t PENDING | RUNNING | SUSPENDED] [--usage] [-u user_name]
               [--hurry] [-V] [-v] [-w hosts...] [--wckey=wckey] [job_id[_array_id][.step_id]]
";

/// `14` (a job, or every task of array 14) or `14_3` (one task).
fn parse_target(operand: &str) -> Result<(u32, Option<u32>), SlurmError> {
    let invalid = || SlurmError::command_error(COMMAND, &format!("Invalid job id {operand}"), 1);
    let (id, task) = match operand.split_once('_') {
        Some((id, task)) => (id, Some(task.parse::<u32>().map_err(|_| invalid())?)),
        None => (operand, None),
    };
    let id = id
        .parse::<u32>()
        .ok()
        .filter(|id| *id > 0)
        .ok_or_else(invalid)?;
    Ok((id, task))
}

/// The job id of task `task` of array `array_job_id`, if the cluster knows it.
/// It asks with a client of its own: a client's connections belong to the
/// runtime that first used it, and `fetch` runs one of its own.
fn task_job_id(array_job_id: u32, task: u32) -> Result<Option<u32>, SlurmError> {
    let client = connect(COMMAND)?;
    let query = wire::GetJobsRequest {
        job_ids: vec![array_job_id],
        ..Default::default()
    };
    let error_prefix =
        format!("{COMMAND}: error: Kill job error on job id {array_job_id}_{task}: ");
    let (jobs, _) = super::jobs::fetch(COMMAND, &client, query, &error_prefix)?;
    Ok(jobs
        .iter()
        .find(|job| {
            job.array
                .is_some_and(|a| a.array_job_id == array_job_id && a.task_id == task)
        })
        .map(|job| job.id))
}

/// `-u -n -p -t -w`: which jobs to cancel, alone or among the ids given.
#[derive(Default)]
struct Filters {
    users: Vec<String>,
    names: Vec<String>,
    partitions: Vec<String>,
    states: Vec<JobState>,
    nodes: Vec<String>,
    accounts: Vec<String>,
    qos: Vec<String>,
}

impl Filters {
    fn is_empty(&self) -> bool {
        self.users.is_empty()
            && self.names.is_empty()
            && self.partitions.is_empty()
            && self.states.is_empty()
            && self.nodes.is_empty()
            && self.accounts.is_empty()
            && self.qos.is_empty()
    }

    /// A job still alive that every filter given admits.
    fn admits(&self, job: &Job) -> bool {
        let state = if self.states.is_empty() {
            !job.state.is_terminal()
        } else {
            self.states.contains(&job.state)
        };
        let on_nodes = self.nodes.is_empty()
            || job.allocation.as_ref().is_some_and(|allocation| {
                allocation
                    .shares
                    .iter()
                    .any(|share| self.nodes.contains(&share.node))
            });
        let among =
            |list: &[String], value: &str| list.is_empty() || list.iter().any(|v| v == value);
        let account = job.account.as_deref().or(job.spec.account.as_deref());
        let qos = job.spec.qos.as_deref().unwrap_or("normal");
        let charged = self.accounts.is_empty()
            || account.is_some_and(|account| self.accounts.iter().any(|a| a == account));
        state
            && on_nodes
            && charged
            && among(&self.qos, qos)
            && among(&self.users, &job.user)
            && among(&self.names, &job.spec.name)
            && among(&self.partitions, &job.partition)
    }
}

fn list(text: &str) -> Vec<String> {
    text.split(',')
        .filter(|item| !item.is_empty())
        .map(str::to_string)
        .collect()
}

/// `-t`: scancel takes PENDING, RUNNING and SUSPENDED (Corral has no
/// suspended jobs, so that one matches nothing).
fn parse_states(text: &str) -> Result<Vec<JobState>, SlurmError> {
    let mut states = Vec::new();
    for name in list(text) {
        match name.to_ascii_uppercase().as_str() {
            "PENDING" | "PD" => states.push(JobState::Pending),
            "RUNNING" | "R" => states.push(JobState::Running),
            "SUSPENDED" | "S" => {}
            _ => {
                return Err(SlurmError::command_error(
                    COMMAND,
                    &format!("Invalid job state specified: {name}"),
                    1,
                ))
            }
        }
    }
    Ok(states)
}

/// Slurm's signal names (`sig_name2num`), with or without `SIG`, in any
/// case.
const SIGNAL_NAMES: &[(&str, u32)] = &[
    ("HUP", libc::SIGHUP as u32),
    ("INT", libc::SIGINT as u32),
    ("QUIT", libc::SIGQUIT as u32),
    ("ABRT", libc::SIGABRT as u32),
    ("KILL", libc::SIGKILL as u32),
    ("ALRM", libc::SIGALRM as u32),
    ("TERM", libc::SIGTERM as u32),
    ("USR1", libc::SIGUSR1 as u32),
    ("USR2", libc::SIGUSR2 as u32),
    ("URG", libc::SIGURG as u32),
    ("CONT", libc::SIGCONT as u32),
    ("STOP", libc::SIGSTOP as u32),
    ("TSTP", libc::SIGTSTP as u32),
    ("TTIN", libc::SIGTTIN as u32),
    ("TTOU", libc::SIGTTOU as u32),
    ("XCPU", libc::SIGXCPU as u32),
];

/// The highest signal number (`SIGRTMAX` on Linux).
const SIGNAL_MAX: u32 = 64;

/// `-s USR1`, `-s SIGUSR1`, `-s 10`; `Invalid job signal: X` otherwise.
fn parse_signal(text: &str) -> Result<u32, SlurmError> {
    let invalid = || SlurmError::command_error(COMMAND, &format!("Invalid job signal: {text}"), 1);
    if let Ok(number) = text.parse::<u32>() {
        return (1..=SIGNAL_MAX)
            .contains(&number)
            .then_some(number)
            .ok_or_else(invalid);
    }
    let upper = text.to_ascii_uppercase();
    let name = upper.strip_prefix("SIG").unwrap_or(&upper);
    SIGNAL_NAMES
        .iter()
        .find(|(known, _)| *known == name)
        .map(|(_, number)| *number)
        .ok_or_else(invalid)
}

/// `-i`: Slurm's question for each job; `true` to act on it. A line
/// starting with `y` or `n` answers; the end of input answers no.
fn confirmed(job: &Job, verb: &str) -> bool {
    use std::io::BufRead;
    let stdin = std::io::stdin();
    loop {
        eprint!(
            "{verb} job_id={} name={} partition={} [y/n]? ",
            job.id, job.spec.name, job.partition
        );
        let mut line = String::new();
        match stdin.lock().read_line(&mut line) {
            Ok(0) | Err(_) => {
                eprintln!();
                return false;
            }
            Ok(_) => {}
        }
        match line.chars().next() {
            Some('y' | 'Y') => return true,
            Some('n' | 'N') => return false,
            _ => {}
        }
    }
}

/// The jobs a list of targets names, for `-i`'s questions.
fn jobs_named(targets: &[(u32, Option<u32>)]) -> Result<Vec<Job>, SlurmError> {
    let query = wire::GetJobsRequest {
        job_ids: targets.iter().map(|(id, _)| *id).collect(),
        ..Default::default()
    };
    let error_prefix = format!("{COMMAND}: error: ");
    Ok(super::jobs::fetch(COMMAND, &connect(COMMAND)?, query, &error_prefix)?.0)
}

/// The ids of the jobs the filters admit: every job, or only those named
/// by `targets` (an array's id names its tasks).
fn filtered_job_ids(
    filters: &Filters,
    targets: &[(u32, Option<u32>)],
) -> Result<Vec<(u32, Option<u32>)>, SlurmError> {
    let client = connect(COMMAND)?;
    let query = wire::GetJobsRequest {
        job_ids: targets.iter().map(|(id, _)| *id).collect(),
        users: filters.users.clone(),
        partitions: filters.partitions.clone(),
        ..Default::default()
    };
    let error_prefix = format!("{COMMAND}: error: ");
    let (jobs, _) = super::jobs::fetch(COMMAND, &client, query, &error_prefix)?;
    let named = |job: &Job| {
        targets.is_empty()
            || targets.iter().any(|(id, task)| match (job.array, task) {
                (Some(array), Some(task)) => array.array_job_id == *id && array.task_id == *task,
                (Some(array), None) => array.array_job_id == *id || job.id == *id,
                (None, _) => job.id == *id,
            })
    };
    Ok(jobs
        .iter()
        .filter(|job| named(job) && filters.admits(job))
        .map(|job| (job.id, None))
        .collect())
}

pub fn run(args: &[String]) -> Result<u8, SlurmError> {
    let mut verbose = 0;
    let mut quiet = false;
    let mut signal: Option<u32> = None;
    let mut scope = wire::signal_request::Scope::Steps;
    let mut batch = false;
    let mut full = false;
    let mut interactive = false;
    let mut filters = Filters::default();
    let mut getopt = Getopt::new(OPTIONS, args, Ordering::Permute);
    let argv0 = getopt.argv0().to_string();
    for found in getopt.by_ref() {
        let found = found.map_err(|e| {
            SlurmError::new(
                vec![
                    e.message(&argv0),
                    "Try \"scancel --help\" for more information".to_string(),
                ],
                1,
            )
        })?;
        let argument = found.argument.clone().unwrap_or_default();
        match found.key {
            Key::Accounts => filters.accounts = list(&argument),
            Key::Qos => filters.qos = list(&argument),
            Key::Signal => signal = Some(parse_signal(&argument)?),
            Key::Batch => batch = true,
            Key::Full => full = true,
            Key::Interactive => interactive = true,
            Key::Users => filters.users = list(&argument),
            Key::Names => filters.names = list(&argument),
            Key::Partitions => filters.partitions = list(&argument),
            Key::States => filters.states = parse_states(&argument)?,
            Key::Nodes => {
                filters.nodes = hostlist::expand(&argument).map_err(|_| {
                    SlurmError::command_error(COMMAND, &format!("Invalid node list: {argument}"), 1)
                })?
            }
            Key::Verbose => verbose += 1,
            Key::Quiet => quiet = true,
            Key::Help | Key::Usage => {
                print!("{USAGE}");
                return Ok(0);
            }
            Key::Version => {
                println!("slurm {}", corral_slurm::SLURM_VERSION);
                return Ok(0);
            }
            Key::Unsupported(name) => {
                return Err(SlurmError::command_error(
                    COMMAND,
                    &format!("--{name} is not supported by Corral yet"),
                    1,
                ))
            }
        }
    }
    // `-f` overrides `-b`, as in Slurm.
    if full {
        scope = wire::signal_request::Scope::Full;
    } else if batch {
        scope = wire::signal_request::Scope::Batch;
    }
    if interactive && !std::io::IsTerminal::is_terminal(&std::io::stdin()) {
        return Err(SlurmError::command_error(
            COMMAND,
            "--interactive needs a terminal on its standard input",
            1,
        ));
    }
    // SIGKILL to a whole job is a cancel, as Slurm treats it.
    let signal = signal.filter(|number| {
        *number != libc::SIGKILL as u32 || scope != wire::signal_request::Scope::Steps
    });
    let operands = getopt.into_operands();
    if operands.is_empty() && filters.is_empty() {
        return Err(SlurmError::command_error(
            COMMAND,
            "No job identification provided",
            1,
        ));
    }
    let mut targets = operands
        .iter()
        .map(|operand| parse_target(operand))
        .collect::<Result<Vec<_>, _>>()?;
    if !filters.is_empty() {
        targets = filtered_job_ids(&filters, &targets)?;
    }
    let questions = if interactive {
        jobs_named(&targets)?
    } else {
        Vec::new()
    };
    let client = connect(COMMAND)?;
    let runtime = super::runtime(COMMAND)?;
    let mut exit_code = 0;
    for (job_id, task) in targets {
        // `ID_N`: the task's own job id; an unknown task is an unknown job.
        let job_id = match task {
            None => job_id,
            Some(task) => task_job_id(job_id, task)?.unwrap_or(0),
        };
        if interactive {
            let verb = if signal.is_some() { "Signal" } else { "Cancel" };
            let asked = questions.iter().find(|job| job.id == job_id);
            if !asked.is_some_and(|job| confirmed(job, verb)) {
                continue;
            }
        }
        let error_prefix = format!("{COMMAND}: error: Kill job error on job id {job_id}: ");
        let rejection = match signal {
            Some(signal) => {
                if verbose > 0 {
                    eprintln!("{COMMAND}: Signal {signal} to job {job_id}");
                }
                let request = wire::SignalRequest {
                    job_id,
                    signal,
                    scope: scope as i32,
                };
                runtime
                    .block_on(client.call(request, |mut c, r| async move { c.signal(r).await }))
                    .map_err(|error| call_failed(COMMAND, error_prefix.clone(), &error))?
                    .rejection
            }
            None => {
                if verbose > 0 {
                    eprintln!("{COMMAND}: Terminating job {job_id}");
                }
                let request = wire::JobActionRequest {
                    action: wire::job_action_request::Action::Cancel as i32,
                    job_id,
                };
                runtime
                    .block_on(client.call(request, |mut c, r| async move { c.job_action(r).await }))
                    .map_err(|error| call_failed(COMMAND, error_prefix.clone(), &error))?
                    .rejection
            }
        };
        let Some(rejection) = rejection else {
            continue;
        };
        use wire::rejection::Kind;
        // Slurm says nothing of a job that is already done, and of an unknown
        // job only when verbose; anything else is an error.
        let kind = Kind::try_from(rejection.kind).unwrap_or(Kind::Unspecified);
        let report = match kind {
            Kind::AlreadyDone => verbose > 0,
            Kind::InvalidJobId => verbose > 0,
            _ => {
                exit_code = 1;
                true
            }
        };
        if report && !quiet {
            eprintln!(
                "{COMMAND}: error: Kill job error on job id {job_id}: {}",
                rejection.message
            );
        }
    }
    Ok(exit_code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signals_by_name_with_or_without_sig_and_by_number() {
        assert_eq!(parse_signal("USR1").unwrap(), libc::SIGUSR1 as u32);
        assert_eq!(parse_signal("sigusr2").unwrap(), libc::SIGUSR2 as u32);
        assert_eq!(parse_signal("SIGKILL").unwrap(), 9);
        assert_eq!(parse_signal("15").unwrap(), 15);
        for bad in ["", "0", "65", "FOO", "SIG", "-1", "10x", "USR1 "] {
            assert_eq!(
                parse_signal(bad).unwrap_err().stderr_text(),
                format!("scancel: error: Invalid job signal: {bad}\n"),
                "{bad:?}"
            );
        }
    }
}
