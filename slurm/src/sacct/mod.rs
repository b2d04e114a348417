//! `sacct`, as Slurm 22.05 runs it: [`parse_command_line`] reads argv and
//! `SACCT_FORMAT` into a [`SacctConfig`] (with the time window already
//! resolved against the caller's `now`); the caller fetches the accounting
//! rows; [`render`] filters, orders and prints them.
//!
//! Options Corral implements: `-a -A -b -D -e -E -h -j -l -n -N -o -p -P
//! -q -r -s -S -T -u -U -V -X (-t) --delimiter --name --noconvert
//! --federation --local --helpformat --help-fields --usage`. Every other
//! sacct option is recognised and refused with `sacct: error: --<option>
//! is not supported by Corral yet`, exit 1. A misspelt option gets glibc's
//! message and exit 1 (sacct prints no "Try" line).
//!
//! Times: `-S`/`-E` take Slurm's `parse_time` formats ([`parse_time`]),
//! resolved against [`SacctContext::now_ms`] in the fixed UTC offset
//! [`SacctContext::utc_offset_seconds`]; output timestamps use the same
//! offset. The default window is Slurm's (`slurmdb_job_cond_def_start_end`,
//! see [`default_window`]).

mod fields;
mod options;
pub mod parse_time;
pub(crate) mod print_fields;
mod render;

pub use fields::{help_fields_text, parse_format, Column, Field, FIELDS};
pub use options::{SacctKey, SACCT_OPTIONS};
pub use parse_time::{parse_time, InvalidTime};
pub use print_fields::{Parsable, PrintStyle};
pub use render::{render, SacctOutput};

use corral_state::{hostlist, JobId, JobState, StepId};

use crate::error::{error_line, fatal_line, SlurmError, EXIT_FAILURE};
use crate::getopt::{Getopt, Ordering};

pub(crate) const COMMAND: &str = "sacct";
const MILLISECONDS_PER_SECOND: u64 = 1_000;

/// What the caller knows when it parses the command line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SacctContext {
    /// "now": the default window and `now`/`today` in `-S`/`-E`.
    pub now_ms: u64,
    /// The caller's local UTC offset (times are read and printed in it).
    pub utc_offset_seconds: i32,
    /// The uid sacct runs as: without `-a`, `-u`, `-j` or `-N` only its
    /// jobs are shown, unless it is root (0).
    pub caller_uid: u32,
}

/// What the command line asked for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Invocation {
    /// Print this on stdout and exit 0 (`--help`, `-e`, `--usage`, `-V`).
    Print(String),
    /// Fetch the jobs and [`render`] them.
    Show(Box<SacctConfig>),
}

/// A step in `-j`: all of a job's steps, or one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StepSelection {
    /// `ID`: the job and all its steps.
    Whole,
    /// `ID.batch`, `ID.N`.
    Step(StepId),
    /// `ID.extern`, `ID.interactive`: steps Corral never has.
    Absent,
}

/// One item of `-j`: `ID`, `ID_TASK`, `ID.STEP`, `ID_TASK.STEP`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct JobSelection {
    /// A job id or an array's id.
    pub job_id: JobId,
    pub array_task_id: Option<u32>,
    pub step: StepSelection,
}

/// A user given to `-u`: a name or a uid.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UserSelection {
    Name(String),
    Uid(u32),
}

/// A state given to `-s`. Slurm accepts more states than Corral's jobs
/// ever have; those match nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StateSelection {
    Job(JobState),
    /// SUSPENDED, PREEMPTED, BOOT_FAIL, DEADLINE, OUT_OF_MEMORY, and the
    /// state flags (COMPLETING, REQUEUED, RESIZING, ...): the accounting
    /// database stores none of them as a job's state.
    Never,
}

/// The `[start, end)` window of the query, in seconds since the epoch
/// (`end` already includes the current second as Slurm includes it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TimeWindow {
    pub start_seconds: i64,
    pub end_seconds: i64,
}

/// A validated sacct request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SacctConfig {
    /// `-j`; `None`: every job in the window.
    pub jobs: Option<Vec<JobSelection>>,
    /// `None`: every user (`-a`, root, `-j`, `-N`); else these users.
    pub users: Option<Vec<UserSelection>>,
    pub accounts: Option<Vec<String>>,
    pub states: Option<Vec<StateSelection>>,
    pub partitions: Option<Vec<String>>,
    pub names: Option<Vec<String>>,
    /// `-N`: jobs that ran on any of these nodes (expanded).
    pub nodes: Option<Vec<String>>,
    pub qos: Option<Vec<String>>,
    pub window: TimeWindow,
    /// `-X`: no steps.
    pub allocations_only: bool,
    /// `-T`: clip start and end times to the window.
    pub truncate: bool,
    /// `-D` (no effect: Corral never reuses a job id).
    pub duplicates: bool,
    /// `--noconvert` clears it: memory prints in MiB (`2048M`, not `2G`).
    pub convert_units: bool,
    pub style: PrintStyle,
    pub columns: Vec<Column>,
    /// The offset timestamps are printed in.
    pub utc_offset_seconds: i32,
}

fn failure(message: &str) -> SlurmError {
    SlurmError::command_error(COMMAND, message, EXIT_FAILURE)
}

fn fatal(message: &str) -> SlurmError {
    SlurmError::new(vec![fatal_line(COMMAND, message)], EXIT_FAILURE)
}

/// `slurm_addto_char_list`: comma-separated, empty items dropped,
/// duplicates (case-insensitive) dropped.
fn add_list(list: &mut Option<Vec<String>>, text: &str) {
    let items = list.get_or_insert_with(Vec::new);
    for item in text.split(',').filter(|item| !item.is_empty()) {
        if !items.iter().any(|known| known.eq_ignore_ascii_case(item)) {
            items.push(item.to_string());
        }
    }
}

/// `slurm_parse_step_str` on one item of `-j`.
fn parse_job_selection(item: &str) -> Result<JobSelection, SlurmError> {
    let leading_number = |text: &str| -> u32 {
        let parsed = crate::c_number::strtol(text);
        u32::try_from(parsed.value).unwrap_or(0)
    };
    if !item.starts_with(|c: char| c.is_ascii_digit()) {
        return Err(fatal(&format!("Bad job/step specified: {item}")));
    }
    let (job_part, step) = match item.split_once('.') {
        Some((job_part, step_text)) => {
            let step = match step_text {
                "batch" => StepSelection::Step(StepId::Batch),
                "extern" | "interactive" => StepSelection::Absent,
                _ if step_text.starts_with(|c: char| c.is_ascii_digit()) => {
                    StepSelection::Step(StepId::Numbered(leading_number(step_text)))
                }
                _ => return Err(fatal(&format!("Bad step specified: {job_part}"))),
            };
            (job_part, step)
        }
        None => (item, StepSelection::Whole),
    };
    let (job_text, array_task_id) = match job_part.split_once('_') {
        Some((job_text, task)) => {
            if !task.starts_with(|c: char| c.is_ascii_digit()) {
                return Err(fatal(&format!(
                    "Bad job array element specified: {job_text}"
                )));
            }
            (job_text, Some(leading_number(task)))
        }
        None if job_part.contains('+') => {
            return Err(failure(
                "heterogeneous job ids (ID+OFFSET) are not supported by Corral yet",
            ))
        }
        None => (job_part, None),
    };
    Ok(JobSelection {
        job_id: leading_number(job_text),
        array_task_id,
        step,
    })
}

/// Every name `job_state_num` accepts, long and compact, with what it
/// selects in Corral.
const STATE_NAMES: &[(&str, &str, Option<JobState>)] = &[
    ("PENDING", "PD", Some(JobState::Pending)),
    ("RUNNING", "R", Some(JobState::Running)),
    ("SUSPENDED", "S", None),
    ("COMPLETED", "CD", Some(JobState::Completed)),
    ("CANCELLED", "CA", Some(JobState::Cancelled)),
    ("FAILED", "F", Some(JobState::Failed)),
    ("TIMEOUT", "TO", Some(JobState::Timeout)),
    ("NODE_FAIL", "NF", Some(JobState::NodeFail)),
    ("PREEMPTED", "PR", None),
    ("BOOT_FAIL", "BF", None),
    ("DEADLINE", "DL", None),
    ("OUT_OF_MEMORY", "OOM", None),
    ("COMPLETING", "CG", None),
    ("CONFIGURING", "CF", None),
    ("RESIZING", "RS", None),
    ("RESV_DEL_HOLD", "RD", None),
    ("REQUEUED", "RQ", None),
    ("REQUEUE_FED", "RF", None),
    ("REQUEUE_HOLD", "RH", None),
    ("REVOKED", "RV", None),
    ("SIGNALING", "SI", None),
    ("SPECIAL_EXIT", "SE", None),
    ("STAGE_OUT", "SO", None),
    ("STOPPED", "ST", None),
];

/// `_addto_state_char_list`: an unknown state is fatal; Slurm quotes it
/// only when it is the last of the list.
fn add_states(list: &mut Option<Vec<StateSelection>>, text: &str) -> Result<(), SlurmError> {
    let states = list.get_or_insert_with(Vec::new);
    let segments: Vec<&str> = text.split(',').collect();
    for (index, item) in segments.iter().enumerate() {
        if item.is_empty() {
            continue;
        }
        let found = STATE_NAMES.iter().find(|(long, short, _)| {
            item.eq_ignore_ascii_case(long) || item.eq_ignore_ascii_case(short)
        });
        let Some((_, _, state)) = found else {
            let last = index + 1 == segments.len();
            let shown = if last {
                format!("'{item}'")
            } else {
                item.to_string()
            };
            return Err(fatal(&format!("unrecognized job state value {shown}")));
        };
        let selection = state.map_or(StateSelection::Never, StateSelection::Job);
        if !states.contains(&selection) {
            states.push(selection);
        }
    }
    Ok(())
}

fn parse_users(text: &str) -> Vec<UserSelection> {
    text.split(',')
        .filter(|item| !item.is_empty())
        .map(|item| match item.parse::<u32>() {
            Ok(uid) => UserSelection::Uid(uid),
            Err(_) => UserSelection::Name(item.to_string()),
        })
        .collect()
}

/// Slurm's default window (`slurmdb_job_cond_def_start_end`):
/// - `-s` without `-j`: start defaults to now, end to start;
/// - `-s` with `-j`: start defaults to the epoch, end to start (or now);
/// - `-j` without `-s`: start defaults to the epoch, end to now;
/// - neither: start defaults to midnight today, end to now.
///
/// The query excludes its end, so an end equal to the start, or to now,
/// is moved one second on.
pub fn default_window(
    start_seconds: Option<i64>,
    end_seconds: Option<i64>,
    has_jobs: bool,
    has_states: bool,
    now_seconds: i64,
    utc_offset_seconds: i32,
) -> TimeWindow {
    let mut start = start_seconds.unwrap_or(0);
    let mut end = end_seconds.unwrap_or(0);
    if has_states {
        if start == 0 && !has_jobs {
            start = now_seconds;
        }
        if start != 0 && end == 0 {
            end = start;
        }
    } else if !has_jobs && start == 0 {
        start = parse_time::local_midnight(now_seconds, 0, utc_offset_seconds);
    }
    if end == 0 {
        end = now_seconds;
    }
    if end == start || end == now_seconds {
        end += 1;
    }
    TimeWindow {
        start_seconds: start,
        end_seconds: end,
    }
}

/// `%FT%T` of a time in seconds (`slurm_make_time_str`).
pub(crate) fn time_text(seconds: i64, utc_offset_seconds: i32) -> String {
    match u64::try_from(seconds) {
        Ok(0) => "Unknown".to_string(),
        Ok(seconds) => {
            crate::time::format_timestamp(seconds * MILLISECONDS_PER_SECOND, utc_offset_seconds)
        }
        Err(_) => {
            let [y, mo, d, h, mi, s] = parse_time::local_fields(seconds, utc_offset_seconds);
            format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}")
        }
    }
}

/// What the options set, before the checks that follow getopt.
#[derive(Default)]
struct Flags {
    all_users: bool,
    brief: bool,
    long: bool,
    help: Option<String>,
    field_list: Option<String>,
    start: Option<i64>,
    end: Option<i64>,
    users: Option<Vec<UserSelection>>,
    jobs: Option<Vec<JobSelection>>,
    accounts: Option<Vec<String>>,
    states: Option<Vec<StateSelection>>,
    partitions: Option<Vec<String>>,
    names: Option<Vec<String>>,
    nodes: Option<Vec<String>>,
    qos: Option<Vec<String>>,
    allocations_only: bool,
    truncate: bool,
    duplicates: bool,
    no_convert: bool,
    style: PrintStyle,
}

/// Reads argv (`argv[0]` included) and `SACCT_FORMAT` as sacct 22.05 does.
pub fn parse_command_line(
    argv: &[String],
    environment: &[(String, String)],
    context: &SacctContext,
) -> Result<Invocation, SlurmError> {
    let now_seconds = i64::try_from(context.now_ms / MILLISECONDS_PER_SECOND).unwrap_or(i64::MAX);
    let mut flags = Flags::default();
    let mut getopt = Getopt::new(SACCT_OPTIONS, argv, Ordering::Permute);
    let argv0 = getopt.argv0().to_string();
    for found in getopt.by_ref() {
        let found = found.map_err(|e| SlurmError::new(vec![e.message(&argv0)], EXIT_FAILURE))?;
        let argument = found.argument.clone().unwrap_or_default();
        let time = |text: &str| {
            parse_time(text, true, now_seconds, context.utc_offset_seconds)
                .map_err(|e| SlurmError::new(vec![e.message()], EXIT_FAILURE))
        };
        use SacctKey::*;
        match found.key {
            AllUsers => flags.all_users = true,
            Accounts => add_list(&mut flags.accounts, &argument),
            Allocations => flags.allocations_only = true,
            Brief => flags.brief = true,
            Delimiter => flags.style.delimiter = Some(argument),
            Duplicates => flags.duplicates = true,
            Federation => {}
            HelpFormat => flags.help = Some(help_fields_text()),
            EndTime => flags.end = time(&argument)?,
            Help => flags.help = Some(options::HELP.to_string()),
            Name => add_list(&mut flags.names, &argument),
            Jobs => {
                let jobs = flags.jobs.get_or_insert_with(Vec::new);
                for item in argument.split(',').filter(|item| !item.is_empty()) {
                    let selection = parse_job_selection(item)?;
                    if !jobs.contains(&selection) {
                        jobs.push(selection);
                    }
                }
                if jobs.is_empty() {
                    flags.jobs = None;
                }
            }
            Long => flags.long = true,
            NodeList => {
                if flags.nodes.is_some() {
                    // Slurm keeps the first list and carries on.
                    continue;
                }
                flags.nodes =
                    Some(hostlist::expand(&argument).unwrap_or_else(|_| vec![argument.clone()]));
            }
            NoConvert => flags.no_convert = true,
            NoHeader => flags.style.header = false,
            Format => {
                let list = flags.field_list.get_or_insert_with(String::new);
                list.push_str(&argument);
                list.push(',');
            }
            Parsable => flags.style.parsable = print_fields::Parsable::Ending,
            Parsable2 => flags.style.parsable = print_fields::Parsable::NoEnding,
            Qos => add_list(&mut flags.qos, &argument),
            Partition => add_list(&mut flags.partitions, &argument),
            State => add_states(&mut flags.states, &argument)?,
            StartTime => flags.start = time(&argument)?,
            Truncate => flags.truncate = true,
            User => {
                if argument == "-1" {
                    flags.all_users = true;
                    continue;
                }
                flags.all_users = false;
                let users = flags.users.get_or_insert_with(Vec::new);
                let mut added = 0;
                for user in parse_users(&argument) {
                    if !users.contains(&user) {
                        users.push(user);
                        added += 1;
                    }
                }
                // Slurm exits 1, silently, when the list adds no user.
                if added == 0 {
                    return Err(SlurmError::new(Vec::new(), EXIT_FAILURE));
                }
            }
            Usage => flags.help = Some(options::USAGE.to_string()),
            Version => {
                return Ok(Invocation::Print(format!(
                    "slurm {}\n",
                    crate::SLURM_VERSION
                )))
            }
            Unsupported(name) => {
                return Err(failure(&format!("--{name} is not supported by Corral yet")))
            }
        }
    }
    let operands = getopt.into_operands();
    finish(flags, operands, environment, context, now_seconds)
}

/// The checks and defaults sacct applies after getopt, in its order.
fn finish(
    mut flags: Flags,
    operands: Vec<String>,
    environment: &[(String, String)],
    context: &SacctContext,
    now_seconds: i64,
) -> Result<Invocation, SlurmError> {
    if flags.long && flags.field_list.is_some() {
        return Err(fatal(
            "Options -o(--format) and -l(--long) are mutually exclusive. Please remove one and retry.",
        ));
    }
    let window = default_window(
        flags.start,
        flags.end,
        flags.jobs.is_some(),
        flags.states.is_some(),
        now_seconds,
        context.utc_offset_seconds,
    );
    if window.start_seconds > window.end_seconds {
        return Err(failure(&format!(
            "Start time ({}) requested is after end time ({}).",
            time_text(window.start_seconds, context.utc_offset_seconds),
            time_text(window.end_seconds, context.utc_offset_seconds),
        )));
    }
    if flags.users.is_none() && (flags.jobs.is_some() || flags.nodes.is_some()) {
        flags.all_users = true;
    }
    if flags.users.is_none() && context.caller_uid == 0 {
        flags.all_users = true;
    }
    let users = if flags.all_users {
        None
    } else {
        Some(
            flags
                .users
                .take()
                .unwrap_or_else(|| vec![UserSelection::Uid(context.caller_uid)]),
        )
    };
    let mut list = flags.field_list.take().unwrap_or_default();
    let mut given = !list.is_empty();
    if flags.brief {
        list.push_str(fields::BRIEF_FIELDS);
        list.push(',');
        given = true;
    }
    if flags.long {
        list.push_str(fields::LONG_FIELDS);
        list.push(',');
        given = true;
    }
    if !given {
        let from_environment = environment
            .iter()
            .find(|(name, _)| name == "SACCT_FORMAT")
            .map(|(_, value)| value.as_str());
        list.push_str(from_environment.unwrap_or(fields::DEFAULT_FIELDS));
        list.push(',');
    }
    let columns = parse_format(&list)?;
    if !operands.is_empty() {
        let mut lines = vec![error_line(COMMAND, "Unknown arguments:")];
        lines.extend(
            operands
                .iter()
                .map(|operand| error_line(COMMAND, &format!(" {operand}"))),
        );
        return Err(SlurmError::new(lines, EXIT_FAILURE));
    }
    if let Some(text) = flags.help {
        return Ok(Invocation::Print(text));
    }
    Ok(Invocation::Show(Box::new(SacctConfig {
        jobs: flags.jobs,
        users,
        accounts: flags.accounts,
        states: flags.states,
        partitions: flags.partitions,
        names: flags.names,
        nodes: flags.nodes,
        qos: flags.qos,
        window,
        allocations_only: flags.allocations_only,
        truncate: flags.truncate,
        duplicates: flags.duplicates,
        convert_units: !flags.no_convert,
        style: flags.style,
        columns,
        utc_offset_seconds: context.utc_offset_seconds,
    })))
}

#[cfg(test)]
mod tests;
