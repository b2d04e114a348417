//! `squeue`: the options of issue 2's scope (`-h -j -t -o -u --me -l -p -n
//! -a`), Slurm's default filter and sort, and its formats. Every other real
//! squeue option is recognised and refused, never ignored.

use corral_proto as wire;
use corral_slurm::getopt::{Getopt, HasArg, OptionDef, Ordering};
use corral_slurm::squeue::{
    format_jobs, long_list_time_line, JobFormat, DEFAULT_FORMAT, LONG_FORMAT,
};
use corral_slurm::{DisplayContext, SlurmError};
use corral_state::{Job, JobState};

use super::connection::connect;
use super::jobs;

const COMMAND: &str = "squeue";

#[derive(Clone, Copy, PartialEq, Eq)]
enum Key {
    NoHeader,
    Jobs,
    States,
    Format,
    Users,
    Me,
    Long,
    Partitions,
    Names,
    All,
    ArrayTasks,
    Help,
    Usage,
    Version,
    Unsupported(&'static str),
}

use HasArg::{No, Optional, Required};

const fn option(
    long: &'static str,
    short: Option<char>,
    has_arg: HasArg,
    key: Key,
) -> OptionDef<Key> {
    OptionDef::new(Some(long), short, has_arg, key)
}

/// squeue 22.05's options, in the order of its `long_options[]`.
const OPTIONS: &[OptionDef<Key>] = &[
    option(
        "accounts",
        Some('A'),
        Required,
        Key::Unsupported("accounts"),
    ),
    option("all", Some('a'), No, Key::All),
    option("array", Some('r'), No, Key::ArrayTasks),
    option("array-unique", None, No, Key::Unsupported("array-unique")),
    option("Format", Some('O'), Required, Key::Unsupported("Format")),
    option("format", Some('o'), Required, Key::Format),
    option("federation", None, No, Key::Unsupported("federation")),
    option("help", None, No, Key::Help),
    option("hide", None, No, Key::Unsupported("hide")),
    option("iterate", Some('i'), Required, Key::Unsupported("iterate")),
    option("jobs", Some('j'), Optional, Key::Jobs),
    option("local", None, No, Key::Unsupported("local")),
    option("long", Some('l'), No, Key::Long),
    option(
        "licenses",
        Some('L'),
        Required,
        Key::Unsupported("licenses"),
    ),
    option("cluster", Some('M'), Required, Key::Unsupported("clusters")),
    option("clusters", None, Required, Key::Unsupported("clusters")),
    option("me", None, No, Key::Me),
    option("name", Some('n'), Required, Key::Names),
    option("noconvert", None, No, Key::Unsupported("noconvert")),
    option("node", Some('w'), Required, Key::Unsupported("nodelist")),
    option("nodes", None, Required, Key::Unsupported("nodelist")),
    option("nodelist", None, Required, Key::Unsupported("nodelist")),
    option("noheader", Some('h'), No, Key::NoHeader),
    option("partitions", Some('p'), Required, Key::Partitions),
    option("priority", Some('P'), No, Key::Unsupported("priority")),
    option("qos", Some('q'), Required, Key::Unsupported("qos")),
    option(
        "reservation",
        Some('R'),
        Required,
        Key::Unsupported("reservation"),
    ),
    option("sib", None, No, Key::Unsupported("sibling")),
    option("sibling", None, No, Key::Unsupported("sibling")),
    option("sort", Some('S'), Required, Key::Unsupported("sort")),
    option("start", None, No, Key::Unsupported("start")),
    option("steps", Some('s'), Optional, Key::Unsupported("steps")),
    option("states", Some('t'), Required, Key::States),
    option("usage", None, No, Key::Usage),
    option("user", Some('u'), Required, Key::Users),
    // `--users` is `-u`; only the letter `-U` means accounts.
    option("users", None, Required, Key::Users),
    OptionDef::new(None, Some('U'), Required, Key::Unsupported("accounts")),
    option("verbose", Some('v'), No, Key::Unsupported("verbose")),
    option("version", Some('V'), No, Key::Version),
];

const USAGE: &str = "Usage: squeue [-A account] [--clusters names] [-i seconds] [--job jobid]
              [-n name] [-o format] [-p partitions] [--qos qos]
              [--reservation reservation] [--sort fields] [--start]
              [--step step_id] [-t states] [-u user_name] [--usage]
              [-L licenses] [-w nodes] [--federation] [--local] [--sibling]
\t      [-ahjlrsv]
";

/// What to list and how.
struct Request {
    header: bool,
    long: bool,
    format: String,
    job_ids: Vec<u32>,
    /// `-j 14_3`: only these tasks of the arrays named.
    tasks: Tasks,
    /// `-r`: one line per array task.
    array_tasks: bool,
    /// `None`: Slurm's default, every job not yet finished.
    states: Option<Vec<JobState>>,
    users: Vec<String>,
    partitions: Vec<String>,
    names: Vec<String>,
}

fn error(message: &str) -> SlurmError {
    SlurmError::command_error(COMMAND, message, 1)
}

fn split_list(text: &str) -> Vec<String> {
    text.split(',')
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

/// Array tasks named as `ID_N`: (array id, task index).
type Tasks = Vec<(u32, u32)>;

/// `14,15_3`: job (or array) ids, and the array tasks named as `ID_N`.
fn parse_job_ids(text: &str) -> Result<(Vec<u32>, Tasks), SlurmError> {
    let mut ids = Vec::new();
    let mut tasks = Vec::new();
    for item in split_list(text) {
        let invalid = || error(&format!("Invalid job id: {item}"));
        let (id, task) = match item.split_once('_') {
            Some((id, task)) => (id, Some(task.parse::<u32>().map_err(|_| invalid())?)),
            None => (item.as_str(), None),
        };
        let id = id
            .parse::<u32>()
            .ok()
            .filter(|id| *id > 0)
            .ok_or_else(invalid)?;
        ids.push(id);
        if let Some(task) = task {
            tasks.push((id, task));
        }
    }
    Ok((ids, tasks))
}

fn parse_states(text: &str) -> Result<Option<Vec<JobState>>, SlurmError> {
    if text.eq_ignore_ascii_case("all") {
        return Ok(Some(JobState::ALL.to_vec()));
    }
    let states = split_list(text)
        .iter()
        .map(|name| {
            JobState::from_slurm_name(name).ok_or_else(|| {
                let valid = "PENDING,RUNNING,SUSPENDED,COMPLETED,CANCELLED,FAILED,TIMEOUT,NODE_FAIL,PREEMPTED,BOOT_FAIL,DEADLINE,OUT_OF_MEMORY,COMPLETING,CONFIGURING,RESIZING,REVOKED,SPECIAL_EXIT";
                SlurmError::new(
                    vec![
                        format!("{COMMAND}: error: Invalid job state specified: {name}"),
                        format!("{COMMAND}: error: Valid job states include: {valid}"),
                        String::new(),
                    ],
                    1,
                )
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Some(states))
}

fn parse(args: &[String], current_user: &str) -> Result<Result<Request, String>, SlurmError> {
    let mut request = Request {
        header: true,
        long: false,
        format: String::new(),
        job_ids: Vec::new(),
        tasks: Vec::new(),
        array_tasks: false,
        states: None,
        users: Vec::new(),
        partitions: Vec::new(),
        names: Vec::new(),
    };
    let mut jobs_flag = false;
    let mut getopt = Getopt::new(OPTIONS, args, Ordering::Permute);
    let argv0 = getopt.argv0().to_string();
    for found in getopt.by_ref() {
        let found = found.map_err(|e| {
            SlurmError::new(
                vec![
                    e.message(&argv0),
                    "Try \"squeue --help\" for more information".to_string(),
                ],
                1,
            )
        })?;
        let argument = found.argument.clone().unwrap_or_default();
        match found.key {
            Key::NoHeader => request.header = false,
            Key::Jobs => {
                jobs_flag = true;
                if found.argument.is_some() {
                    (request.job_ids, request.tasks) = parse_job_ids(&argument)?;
                }
            }
            Key::States => request.states = parse_states(&argument)?,
            Key::Format => request.format = argument,
            Key::Users => request.users = split_list(&argument),
            Key::Me => request.users = vec![current_user.to_string()],
            Key::Long => request.long = true,
            Key::Partitions => request.partitions = split_list(&argument),
            Key::Names => request.names = split_list(&argument),
            Key::All => {}
            Key::ArrayTasks => request.array_tasks = true,
            Key::Help | Key::Usage => return Ok(Err(USAGE.to_string())),
            Key::Version => return Ok(Err(format!("slurm {}\n", corral_slurm::SLURM_VERSION))),
            Key::Unsupported(name) => {
                return Err(error(&format!("--{name} is not supported by Corral yet")))
            }
        }
    }
    let mut operands = getopt.into_operands().into_iter();
    if let Some(first) = operands.next() {
        if jobs_flag && request.job_ids.is_empty() {
            (request.job_ids, request.tasks) = parse_job_ids(&first)?;
        } else {
            return Err(SlurmError::new(
                vec![
                    format!("{COMMAND}: error: Unrecognized option: {first}"),
                    USAGE.trim_end().to_string(),
                ],
                1,
            ));
        }
    }
    if let Some(extra) = operands.next() {
        return Err(SlurmError::new(
            vec![
                format!("{COMMAND}: error: Unrecognized option: {extra}"),
                USAGE.trim_end().to_string(),
            ],
            1,
        ));
    }
    if request.long && !request.format.is_empty() {
        return Err(SlurmError::new(
            vec![format!("{COMMAND}: fatal: Options -o(--format) and -l(--long) are mutually exclusive. Please remove one and retry.")],
            1,
        ));
    }
    Ok(Ok(request))
}

pub fn run(args: &[String]) -> Result<u8, SlurmError> {
    let current_user = crate::corral::user::current_user_name().unwrap_or_default();
    let request = match parse(args, &current_user)? {
        Ok(request) => request,
        Err(text) => {
            print!("{text}");
            return Ok(0);
        }
    };
    let client = connect(COMMAND)?;
    let query = wire::GetJobsRequest {
        job_ids: request.job_ids.clone(),
        users: request.users.clone(),
        partitions: request.partitions.clone(),
        ..Default::default()
    };
    let (mut jobs, mut context) = jobs::fetch(COMMAND, &client, query, "slurm_load_jobs error: ")?;
    // Asked for exactly one job that does not exist at all: Slurm's error.
    if request.job_ids.len() == 1 && jobs.is_empty() {
        return Err(corral_slurm::scontrol::unknown_job_error());
    }
    jobs.retain(|job| shown(job, &request));
    if !request.array_tasks {
        corral_slurm::display::group_pending_tasks(&mut jobs, &mut context);
    }
    sort_default(&mut jobs, &context);
    let format_text = match (request.long, request.format.is_empty()) {
        (true, _) => LONG_FORMAT,
        (false, true) => DEFAULT_FORMAT,
        (false, false) => request.format.as_str(),
    };
    let (format, warnings) = JobFormat::parse(format_text);
    for warning in warnings {
        eprintln!("{warning}");
    }
    if request.long {
        print!("{}", long_list_time_line(&context));
    }
    print!("{}", format_jobs(&jobs, &format, &context, request.header));
    Ok(0)
}

fn shown(job: &Job, request: &Request) -> bool {
    let state_ok = match &request.states {
        Some(states) => states.contains(&job.state),
        None => !job.state.is_terminal(),
    };
    // A task named as `ID_N` limits its array to the tasks named.
    let task_ok = match job.array {
        Some(task) if request.tasks.iter().any(|(id, _)| *id == task.array_job_id) => {
            request.tasks.contains(&(task.array_job_id, task.task_id))
        }
        _ => true,
    };
    state_ok && task_ok && (request.names.is_empty() || request.names.contains(&job.spec.name))
}

/// Slurm's default order: partition, then state (pending first), then
/// priority from high to low.
fn sort_default(jobs: &mut [Job], context: &DisplayContext) {
    let state_rank = |state: JobState| JobState::ALL.iter().position(|s| *s == state).unwrap_or(0);
    jobs.sort_by(|a, b| {
        a.partition
            .cmp(&b.partition)
            .then(state_rank(a.state).cmp(&state_rank(b.state)))
            .then(context.priority(b).cmp(&context.priority(a)))
            .then(a.id.cmp(&b.id))
    });
}
