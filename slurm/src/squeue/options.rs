//! squeue's command line and environment (`squeue/opts.c`), validated into
//! a [`Query`], and what a query keeps of the jobs the cluster returns
//! ([`Query::render`]).
//!
//! The `SQUEUE_*` variables follow Slurm's precedence: `SQUEUE_SORT`,
//! `SQUEUE_ARRAY` and `SQUEUE_ALL` are read before the options, which
//! override them; `SQUEUE_FORMAT` (else `SQUEUE_FORMAT2`, an `-O` format)
//! is used only when no `-o`, `-O`, `-l` or `--start` is given;
//! `SQUEUE_ACCOUNT`, `SQUEUE_NAMES`, `SQUEUE_PARTITION`, `SQUEUE_QOS`,
//! `SQUEUE_STATES` and `SQUEUE_USERS` fill in what the options left unset.

use corral_state::{hostlist, Job, JobState};

use super::sort::{SortSpec, DEFAULT_SORT, START_SORT};
use super::steps::{render_steps, StepFilter, StepFormat, STEP_FORMAT};
use super::{
    format_jobs, header_line, long_list_time_line, JobFormat, DEFAULT_FORMAT, LONG_FORMAT,
    START_FORMAT,
};
use crate::c_number::strtol;
use crate::display::{group_pending_tasks, DisplayContext};
use crate::error::{error_line, fatal_line, SlurmError, EXIT_FAILURE};
use crate::getopt::{Getopt, HasArg, OptionDef, Ordering};

const COMMAND: &str = "squeue";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Key {
    Accounts,
    All,
    ArrayTasks,
    LongFormat,
    Format,
    Help,
    Iterate,
    Jobs,
    Long,
    Me,
    Names,
    Nodes,
    NoHeader,
    NoEffect,
    Partitions,
    Qos,
    Sort,
    Start,
    States,
    Steps,
    Usage,
    Users,
    Verbose,
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
    option("accounts", Some('A'), Required, Key::Accounts),
    option("all", Some('a'), No, Key::All),
    option("array", Some('r'), No, Key::ArrayTasks),
    option("array-unique", None, No, Key::Unsupported("array-unique")),
    option("Format", Some('O'), Required, Key::LongFormat),
    option("format", Some('o'), Required, Key::Format),
    // One cluster, no federation: the local view is the whole view.
    option("federation", None, No, Key::NoEffect),
    option("help", None, No, Key::Help),
    // No hidden partitions.
    option("hide", None, No, Key::NoEffect),
    option("iterate", Some('i'), Required, Key::Iterate),
    option("jobs", Some('j'), Optional, Key::Jobs),
    option("local", None, No, Key::NoEffect),
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
    option("node", Some('w'), Required, Key::Nodes),
    option("nodes", None, Required, Key::Nodes),
    option("nodelist", None, Required, Key::Nodes),
    option("noheader", Some('h'), No, Key::NoHeader),
    option("partitions", Some('p'), Required, Key::Partitions),
    option("priority", Some('P'), No, Key::Unsupported("priority")),
    option("qos", Some('q'), Required, Key::Qos),
    option(
        "reservation",
        Some('R'),
        Required,
        Key::Unsupported("reservation"),
    ),
    option("sib", None, No, Key::Unsupported("sibling")),
    option("sibling", None, No, Key::Unsupported("sibling")),
    option("sort", Some('S'), Required, Key::Sort),
    option("start", None, No, Key::Start),
    option("steps", Some('s'), Optional, Key::Steps),
    option("states", Some('t'), Required, Key::States),
    option("usage", None, No, Key::Usage),
    option("user", Some('u'), Required, Key::Users),
    option("users", None, Required, Key::Users),
    // `--users` is `-u`; only the letter `-U` means accounts.
    OptionDef::new(None, Some('U'), Required, Key::Accounts),
    option("verbose", Some('v'), No, Key::Verbose),
    option("version", Some('V'), No, Key::Version),
];

pub const USAGE: &str = "Usage: squeue [-A account] [--clusters names] [-i seconds] [--job jobid]
              [-n name] [-o format] [-p partitions] [--qos qos]
              [--reservation reservation] [--sort fields] [--start]
              [--step step_id] [-t states] [-u user_name] [--usage]
              [-L licenses] [-w nodes] [--federation] [--local] [--sibling]
\t      [-ahjlrsv]
";

/// What the command line asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Invocation {
    /// Print this on stdout and exit 0 (`--help`, `--usage`, `-V`).
    Print(String),
    /// Read the jobs and print them.
    List(Box<Query>),
}

/// Array tasks named as `ID_N`: (array id, task index).
pub type Tasks = Vec<(u32, u32)>;

/// A validated squeue request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Query {
    pub header: bool,
    /// The time line before the header (`-l`, `-i`, `-v`, unless `-h`).
    pub time_line: bool,
    pub format: JobFormat,
    /// What squeue prints on stderr while reading the format and the sort
    /// list; it carries on.
    pub warnings: Vec<String>,
    pub sort: SortSpec,
    /// An `-S` squeue refuses once it has printed the header.
    pub sort_error: Option<SlurmError>,
    /// `-j`: job or array ids (asked of the cluster).
    pub job_ids: Vec<u32>,
    /// `-j 14_3`: only these tasks of the arrays named.
    pub tasks: Tasks,
    /// `-r`: one line per array task.
    pub array_tasks: bool,
    /// `None`: Slurm's default, every job not yet finished.
    pub states: Option<Vec<JobState>>,
    /// `-u` (asked of the cluster).
    pub users: Vec<String>,
    /// `-p` (asked of the cluster).
    pub partitions: Vec<String>,
    pub names: Vec<String>,
    pub accounts: Vec<String>,
    pub qos: Vec<String>,
    /// `-w`: the hostlist, expanded; checked against the cluster's nodes
    /// with [`Query::check_nodes`].
    pub nodes: Option<Vec<String>>,
    /// `-i`: print again every so many seconds until interrupted.
    pub iterate_seconds: Option<u64>,
    /// `-s`: list running steps instead of jobs.
    pub steps: Option<StepQuery>,
}

/// `squeue -s [LIST]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StepQuery {
    pub format: StepFormat,
    pub filter: StepFilter,
}

fn split_list(text: &str) -> Vec<String> {
    text.split(',')
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

fn failure(message: &str) -> SlurmError {
    SlurmError::command_error(COMMAND, message, EXIT_FAILURE)
}

/// `14,15_3`: job (or array) ids, and the array tasks named as `ID_N`.
fn parse_job_ids(text: &str) -> Result<(Vec<u32>, Tasks), SlurmError> {
    let mut ids = Vec::new();
    let mut tasks = Vec::new();
    for item in split_list(text) {
        let invalid = || failure(&format!("Invalid job id: {item}"));
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

fn parse_states(text: &str) -> Result<Vec<JobState>, SlurmError> {
    if text.eq_ignore_ascii_case("all") {
        return Ok(JobState::ALL.to_vec());
    }
    split_list(text)
        .iter()
        .map(|name| {
            JobState::from_slurm_name(name).ok_or_else(|| {
                let valid = "PENDING,RUNNING,SUSPENDED,COMPLETED,CANCELLED,FAILED,TIMEOUT,NODE_FAIL,PREEMPTED,BOOT_FAIL,DEADLINE,OUT_OF_MEMORY,COMPLETING,CONFIGURING,RESIZING,REVOKED,SPECIAL_EXIT";
                SlurmError::new(
                    vec![
                        error_line(COMMAND, &format!("Invalid job state specified: {name}")),
                        error_line(COMMAND, &format!("Valid job states include: {valid}")),
                        String::new(),
                    ],
                    EXIT_FAILURE,
                )
            })
        })
        .collect()
}

/// C's `atoi`: leading blanks, a sign, digits; anything after is ignored.
pub(crate) fn atoi(text: &str) -> i64 {
    strtol(text)
        .value
        .clamp(i64::from(i32::MIN), i64::from(i32::MAX))
}

/// `-i SECONDS`: a positive number, or `squeue: error: --iterate=TEXT` and
/// the blank line Slurm's trailing `\n` makes.
fn parse_iterate(text: &str) -> Result<u64, SlurmError> {
    match u64::try_from(atoi(text)) {
        Ok(seconds) if seconds > 0 => Ok(seconds),
        _ => Err(SlurmError::new(
            vec![
                error_line(COMMAND, &format!("--iterate={text}")),
                String::new(),
            ],
            EXIT_FAILURE,
        )),
    }
}

/// `-w`: a hostlist expression.
fn parse_nodes(text: &str) -> Result<Vec<String>, SlurmError> {
    hostlist::expand(text).map_err(|_| failure(&format!("'{text}' invalid entry for --nodelist")))
}

fn unrecognized(word: &str) -> SlurmError {
    SlurmError::new(
        vec![
            error_line(COMMAND, &format!("Unrecognized option: {word}")),
            USAGE.trim_end().to_string(),
        ],
        EXIT_FAILURE,
    )
}

/// Which format option came first, for Slurm's `-o`/`-O` conflict.
#[derive(Default)]
struct Formats {
    format: Option<String>,
    long_format: Option<String>,
    /// `-o`, `-O`, `-l` or `--start`: `SQUEUE_FORMAT*` are not read.
    overridden: bool,
}

/// Reads argv (`argv[0]` included), squeue's environment variables and the
/// name of the user running it (for `--me`).
pub fn parse_command_line(
    argv: &[String],
    environment: &[(String, String)],
    current_user: &str,
) -> Result<Invocation, SlurmError> {
    let env = |name: &str| {
        environment
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    };
    let mut formats = Formats::default();
    let mut header = true;
    let mut long = false;
    let mut verbose = 0u32;
    let mut start = false;
    let mut jobs_flag = false;
    let mut job_ids = Vec::new();
    let mut tasks = Vec::new();
    let mut array_tasks = env("SQUEUE_ARRAY").is_some();
    let mut sort = env("SQUEUE_SORT").map(str::to_string);
    let mut states = None;
    let mut users = None;
    let mut partitions = None;
    let mut names = None;
    let mut accounts = None;
    let mut qos = None;
    let mut nodes = None;
    let mut iterate_seconds = None;
    let mut steps_flag = false;
    let mut step_filter = StepFilter::default();
    let mut getopt = Getopt::new(OPTIONS, argv, Ordering::Permute);
    let argv0 = getopt.argv0().to_string();
    for found in getopt.by_ref() {
        let found = found.map_err(|e| {
            SlurmError::new(
                vec![
                    e.message(&argv0),
                    "Try \"squeue --help\" for more information".to_string(),
                ],
                EXIT_FAILURE,
            )
        })?;
        let argument = found.argument.clone().unwrap_or_default();
        match found.key {
            Key::Accounts => accounts = Some(split_list(&argument)),
            Key::All | Key::NoEffect => {}
            Key::ArrayTasks => array_tasks = true,
            Key::LongFormat => {
                if formats.format.is_some() {
                    return Err(failure("-O (--Format) is incompatible with -o (--format)"));
                }
                formats.long_format = Some(argument);
                formats.overridden = true;
            }
            Key::Format => {
                if formats.long_format.is_some() {
                    return Err(failure("-o (--format) is incompatible with -O (--Format)"));
                }
                formats.format = Some(argument);
                formats.overridden = true;
            }
            Key::Help | Key::Usage => return Ok(Invocation::Print(USAGE.to_string())),
            Key::Iterate => iterate_seconds = Some(parse_iterate(&argument)?),
            Key::Jobs => {
                jobs_flag = true;
                if found.argument.is_some() {
                    (job_ids, tasks) = parse_job_ids(&argument)?;
                }
            }
            Key::Long => {
                long = true;
                formats.overridden = true;
            }
            Key::Me => users = Some(vec![current_user.to_string()]),
            Key::Names => names = Some(split_list(&argument)),
            Key::Nodes => nodes = Some(parse_nodes(&argument)?),
            Key::NoHeader => header = false,
            Key::Partitions => partitions = Some(split_list(&argument)),
            Key::Qos => qos = Some(split_list(&argument)),
            Key::Sort => sort = Some(argument),
            Key::Start => {
                start = true;
                formats.overridden = true;
            }
            Key::States => states = Some(parse_states(&argument)?),
            Key::Steps => {
                steps_flag = true;
                if found.argument.is_some() {
                    step_filter = StepFilter::parse(&argument)?;
                }
            }
            Key::Users => users = Some(split_list(&argument)),
            Key::Verbose => verbose += 1,
            Key::Version => {
                return Ok(Invocation::Print(format!(
                    "slurm {}\n",
                    crate::SLURM_VERSION
                )))
            }
            Key::Unsupported(name) => {
                return Err(failure(&format!("--{name} is not supported by Corral yet")))
            }
        }
    }
    if long && formats.format.is_some() {
        return Err(SlurmError::new(
            vec![fatal_line(COMMAND, "Options -o(--format) and -l(--long) are mutually exclusive. Please remove one and retry.")],
            EXIT_FAILURE,
        ));
    }
    if !formats.overridden {
        if let Some(format) = env("SQUEUE_FORMAT") {
            formats.format = Some(format.to_string());
        } else if let Some(format) = env("SQUEUE_FORMAT2") {
            formats.long_format = Some(format.to_string());
        }
    }
    let mut operands = getopt.into_operands().into_iter();
    if let Some(first) = operands.next() {
        if jobs_flag {
            (job_ids, tasks) = parse_job_ids(&first)?;
        } else if steps_flag {
            step_filter = StepFilter::parse(&first)?;
        } else {
            return Err(unrecognized(&first));
        }
        if let Some(extra) = operands.next() {
            return Err(unrecognized(&extra));
        }
    }
    let from_env = |value: Option<Vec<String>>, name: &str| {
        value
            .or_else(|| env(name).map(split_list))
            .unwrap_or_default()
    };
    let accounts = from_env(accounts, "SQUEUE_ACCOUNT");
    let names = from_env(names, "SQUEUE_NAMES");
    let partitions = from_env(partitions, "SQUEUE_PARTITION");
    let qos = from_env(qos, "SQUEUE_QOS");
    let users = from_env(users, "SQUEUE_USERS");
    let mut states = match (states, env("SQUEUE_STATES")) {
        (Some(states), _) => Some(states),
        (None, Some(text)) => Some(parse_states(text)?),
        (None, None) => None,
    };
    if start {
        // `--start` lists pending jobs by start time in its own format.
        if formats.format.is_none() {
            formats.format = Some(START_FORMAT.to_string());
        }
        sort.get_or_insert_with(|| START_SORT.to_string());
        states.get_or_insert_with(|| vec![JobState::Pending]);
    }
    let steps = if steps_flag {
        if formats.long_format.is_some() {
            return Err(failure(
                "-O (--Format) with -s (--steps) is not supported by Corral yet",
            ));
        }
        let (format, step_warnings) =
            StepFormat::parse(formats.format.as_deref().unwrap_or(STEP_FORMAT));
        formats.format = None;
        Some((
            StepQuery {
                format,
                filter: step_filter,
            },
            step_warnings,
        ))
    } else {
        None
    };
    let (format, mut warnings) = match (&formats.format, &formats.long_format) {
        (Some(format), _) => JobFormat::parse(format),
        (None, Some(format)) => JobFormat::parse_long(format)?,
        (None, None) if long => JobFormat::parse(LONG_FORMAT),
        (None, None) => JobFormat::parse(DEFAULT_FORMAT),
    };
    let (sort, sort_error) = match SortSpec::parse(sort.as_deref().unwrap_or(DEFAULT_SORT)) {
        Ok(spec) => (spec, None),
        Err(error) => (
            SortSpec::parse(DEFAULT_SORT).expect("the default sort parses"),
            Some(error),
        ),
    };
    warnings.extend(sort.notes.iter().cloned());
    let steps = steps.map(|(query, step_warnings)| {
        warnings = step_warnings;
        query
    });
    Ok(Invocation::List(Box::new(Query {
        header,
        time_line: header && (long || iterate_seconds.is_some() || verbose > 0),
        format,
        warnings,
        sort,
        sort_error,
        job_ids,
        tasks,
        array_tasks,
        states,
        users,
        partitions,
        names,
        accounts,
        qos,
        nodes,
        iterate_seconds,
        steps,
    })))
}

/// What one round of squeue prints on stdout, and the error it ends with
/// (an `-S` it refuses, after the header).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rendered {
    pub stdout: String,
    pub error: Option<SlurmError>,
}

impl Query {
    /// `_filter_nodes`: every `-w` name must be a node of the cluster;
    /// `localhost` stands for this host's short name. Returns the names to
    /// match, or `squeue: error: Invalid node name X`.
    pub fn check_nodes(
        &mut self,
        cluster_nodes: &[String],
        local_host: &str,
    ) -> Result<(), SlurmError> {
        let Some(names) = self.nodes.as_mut() else {
            return Ok(());
        };
        let short_host = local_host.split('.').next().unwrap_or(local_host);
        // Slurm pops names from the end of the set: the last unknown name
        // is the one reported.
        for name in names.iter_mut().rev() {
            let mapped = if name.eq_ignore_ascii_case("localhost") {
                short_host.to_string()
            } else {
                name.clone()
            };
            if !cluster_nodes.contains(&mapped) {
                return Err(failure(&format!("Invalid node name {name}")));
            }
            *name = mapped;
        }
        Ok(())
    }

    /// `_filter_job`, inverted: whether a job is listed.
    pub fn shows(&self, job: &Job, context: &DisplayContext) -> bool {
        let state_ok = match &self.states {
            Some(states) => states.contains(&job.state),
            None => !job.state.is_terminal(),
        };
        // A task named as `ID_N` limits its array to the tasks named.
        let task_ok = match job.array {
            Some(task) if self.tasks.iter().any(|(id, _)| *id == task.array_job_id) => {
                self.tasks.contains(&(task.array_job_id, task.task_id))
            }
            _ => true,
        };
        let any_of = |wanted: &[String], value: Option<&str>| {
            wanted.is_empty()
                || value.is_some_and(|value| wanted.iter().any(|w| w.eq_ignore_ascii_case(value)))
        };
        let account = context
            .accounts
            .get(&job.id)
            .or(job.account.as_ref())
            .or(job.spec.account.as_ref())
            .map(String::as_str);
        let qos = job.spec.qos.as_deref().unwrap_or("normal");
        let nodes_ok = self
            .nodes
            .as_ref()
            .is_none_or(|wanted| context.nodes(job).iter().any(|node| wanted.contains(node)));
        state_ok
            && task_ok
            && nodes_ok
            && any_of(&self.names, Some(&job.spec.name))
            && any_of(&self.accounts, account)
            && any_of(&self.qos, Some(qos))
    }

    /// One round's output for the jobs the cluster returned: the time line,
    /// the header, the jobs kept, grouped and sorted.
    pub fn render(&self, mut jobs: Vec<Job>, mut context: DisplayContext) -> Rendered {
        let mut stdout = String::new();
        if self.time_line {
            stdout.push_str(&long_list_time_line(&context));
        }
        if let Some(steps) = &self.steps {
            jobs.retain(|job| self.shows(job, &context));
            stdout.push_str(&render_steps(
                &jobs,
                &steps.format,
                &steps.filter,
                &context,
                self.header,
            ));
            return Rendered {
                stdout,
                error: None,
            };
        }
        if self.header {
            stdout.push_str(&header_line(&self.format));
        }
        if let Some(error) = &self.sort_error {
            return Rendered {
                stdout,
                error: Some(error.clone()),
            };
        }
        jobs.retain(|job| self.shows(job, &context));
        if !self.array_tasks {
            group_pending_tasks(&mut jobs, &mut context);
        }
        self.sort.sort(&mut jobs, &context);
        stdout.push_str(&format_jobs(&jobs, &self.format, &context, false));
        Rendered {
            stdout,
            error: None,
        }
    }
}

#[cfg(test)]
mod tests;
