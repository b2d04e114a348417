//! An sbatch invocation, read as Slurm 22.05 reads it.
//!
//! The caller works in three steps, because only it may read files:
//!
//! 1. [`parse_command_line`] is Slurm's first pass over argv: `--help`,
//!    `--usage`, `--version` (answered at once, in order), `-v`, `-Q`,
//!    `--wrap`, the script path and its arguments; any getopt error ends it
//!    with glibc's message, `Try "sbatch --help" for more information` and
//!    exit 255.
//! 2. The caller reads the script named by [`CommandLine::script_source`]
//!    (or stdin) and checks it with [`BatchScript::from_bytes`]; a file it
//!    cannot open is [`unable_to_open_error`]. `--wrap` needs no reading.
//! 3. [`build_request`] is the second pass: options from `#SBATCH` lines,
//!    then `SBATCH_*` variables, then the command line again, each
//!    overriding the one before; then Slurm's consistency checks.
//!
//! Options Corral implements: `-J -p -t -c -n -N --mem -o -e -i -D -H
//! --parsable --wrap -h --usage -V -Q -v --gres=gpu:N -G/--gpus
//! --gpus-per-node --requeue --no-requeue -a/--array -d/--dependency
//! --nice --comment --mail-type --mail-user -A/--account -q/--qos
//! -w/--nodelist -x/--exclude --exclusive --mem-per-cpu --ntasks-per-node
//! -b/--begin --time-min --signal --open-mode --export`. Every other sbatch
//! option is recognised (so it is never "unrecognized") and refused with
//! `sbatch: error: --<option> is not supported by Corral yet`, exit 1.
//!
//! `--begin` needs the time: [`build_request`] takes a [`Clock`].

mod array;
mod begin;
mod dependency;
mod export;
mod help;
mod layout;
mod mail;
mod options;
mod request;
mod script;
mod signal;

pub use array::{parse_array, InvalidArray, INVALID_ARRAY};
pub use begin::{parse_begin, Clock, TimeError};
pub use dependency::{parse_dependency, DependencyError, DEPENDENCY_PROBLEM};
pub use export::{export_environment, parse_export, Export, ExportItem, EXPORT_VARIABLE};
pub use options::{SbatchKey, ENVIRONMENT_OPTIONS, IGNORED_ENVIRONMENT, SBATCH_OPTIONS};
pub use request::SbatchRequest;
pub use script::{unable_to_open_error, BatchScript};
pub use signal::{parse_signal, InvalidSignal, SIGNAL_LEAD_DEFAULT_SECONDS};

use corral_state::{ArraySpec, DependencySpec, JobSignal, OpenMode};

use crate::c_number::{is_c_space, parse_int, strtol};
use crate::error::{error_line, fatal_line, SlurmError, EXIT_FAILURE, EXIT_OPTION_ERROR};
use crate::getopt::{Found, Getopt, GetoptError, Ordering};
use crate::memory::{invalid_specification_error, parse_megabytes};
use crate::time::{parse_time_limit, TimeLimit};

use mail::MailTypes;

/// The program name in sbatch's own messages.
pub(crate) const COMMAND: &str = "sbatch";
/// What getopt's errors are followed by.
const TRY_HELP: &str = "Try \"sbatch --help\" for more information";

/// What the first pass decided.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Invocation {
    /// Print this on stdout and exit 0 (`--help`, `--usage`, `--version`).
    Print(String),
    /// Go on to read the script and submit.
    Submit(CommandLine),
}

/// The command line after the first pass.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommandLine {
    argv: Vec<String>,
    pub wrap: Option<String>,
    /// The script path as given (`None`: read stdin, or `--wrap`).
    pub script_path: Option<String>,
    pub script_arguments: Vec<String>,
    pub quiet: u32,
    pub verbose: u32,
}

/// Where the batch script comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ScriptSource {
    /// `--wrap`: the script is already built.
    Wrapped(BatchScript),
    /// Read this file (resolving it as sbatch does: relative to the current
    /// directory, else along `PATH`).
    File(String),
    /// Read standard input.
    Stdin,
}

impl CommandLine {
    pub fn script_source(&self) -> ScriptSource {
        match (&self.wrap, &self.script_path) {
            (Some(command), _) => ScriptSource::Wrapped(BatchScript::wrap(command)),
            (None, Some(path)) => ScriptSource::File(path.clone()),
            (None, None) => ScriptSource::Stdin,
        }
    }
}

fn getopt_failure(error: &GetoptError, argv0: &str) -> SlurmError {
    SlurmError::new(
        vec![error.message(argv0), TRY_HELP.to_string()],
        EXIT_OPTION_ERROR,
    )
}

fn failure(message: &str, exit_code: i32) -> SlurmError {
    SlurmError::command_error(COMMAND, message, exit_code)
}

/// Slurm's first pass over the command line (`argv[0]` included, as given).
pub fn parse_command_line(argv: &[String]) -> Result<Invocation, SlurmError> {
    let mut getopt = Getopt::new(SBATCH_OPTIONS, argv, Ordering::RequireOrder);
    let argv0 = getopt.argv0().to_string();
    let (mut quiet, mut verbose, mut wrap) = (0, 0, None);
    for found in getopt.by_ref() {
        let found = found.map_err(|e| getopt_failure(&e, &argv0))?;
        match found.key {
            SbatchKey::Help => return Ok(Invocation::Print(help::HELP.to_string())),
            SbatchKey::Usage => return Ok(Invocation::Print(help::USAGE.to_string())),
            SbatchKey::Version => {
                return Ok(Invocation::Print(format!(
                    "slurm {}\n",
                    crate::SLURM_VERSION
                )))
            }
            SbatchKey::Quiet => quiet += 1,
            SbatchKey::Verbose => verbose += 1,
            SbatchKey::Wrap => wrap = found.argument,
            _ => {}
        }
    }
    let mut operands = getopt.into_operands().into_iter();
    let script_path = operands.next();
    let script_arguments: Vec<String> = operands.collect();
    if script_path.is_some() && wrap.is_some() {
        return Err(failure(
            "Script arguments not permitted with --wrap option",
            EXIT_FAILURE,
        ));
    }
    if script_path.as_deref() == Some(":") {
        return Err(failure(
            "heterogeneous jobs (\":\" between option sets) are not supported by Corral yet",
            EXIT_FAILURE,
        ));
    }
    Ok(Invocation::Submit(CommandLine {
        argv: argv.to_vec(),
        wrap,
        script_path,
        script_arguments,
        quiet,
        verbose,
    }))
}

/// A memory option's value and where it was last set: Slurm's checks of
/// `--mem` against `--mem-per-cpu` tell the command line (and `#SBATCH`
/// lines) from the environment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Memory {
    megabytes: u64,
    from_environment: bool,
}

/// The options as they accumulate over the second pass.
struct Settings {
    clock: Clock,
    /// The option being applied comes from an `SBATCH_*` variable.
    from_environment: bool,
    job_name: Option<String>,
    partition: Option<String>,
    time_limit: Option<TimeLimit>,
    /// `-N min[-max]` as Slurm holds it: a `max` of 0 means none.
    nodes: Option<(u32, u32)>,
    ntasks: Option<u32>,
    cpus_per_task: Option<u32>,
    memory_per_node: Option<Memory>,
    memory_per_cpu: Option<Memory>,
    /// `-w` and `-x` as given: the controller checks them.
    nodelist: Option<String>,
    exclude: Option<String>,
    exclusive: bool,
    ntasks_per_node: Option<u32>,
    begin_time_ms: Option<u64>,
    time_min: Option<TimeLimit>,
    signal: Option<JobSignal>,
    open_mode: Option<OpenMode>,
    export: Option<String>,
    stdout: Option<String>,
    stderr: Option<String>,
    stdin: Option<String>,
    chdir: Option<String>,
    hold: bool,
    parsable: bool,
    verbose: u32,
    /// `--gres=gpu:N` and `--gpus-per-node`.
    gpus_per_node: Option<u32>,
    /// `--gpus`: for the whole job.
    gpus_total: Option<u32>,
    requeue: Option<bool>,
    wait: bool,
    /// `--array` and `--dependency` as given: slurmctld checks them, so
    /// only the value that wins is checked, once every option is read.
    array: Option<String>,
    dependency: Option<String>,
    nice: Option<i32>,
    comment: Option<String>,
    /// Every `--mail-type` so far, together.
    mail_types: Option<MailTypes>,
    mail_user: Option<String>,
    account: Option<String>,
    qos: Option<String>,
}

impl Settings {
    fn new(clock: Clock, verbose: u32) -> Settings {
        Settings {
            clock,
            from_environment: false,
            job_name: None,
            partition: None,
            time_limit: None,
            nodes: None,
            ntasks: None,
            cpus_per_task: None,
            memory_per_node: None,
            memory_per_cpu: None,
            nodelist: None,
            exclude: None,
            exclusive: false,
            ntasks_per_node: None,
            begin_time_ms: None,
            time_min: None,
            signal: None,
            open_mode: None,
            export: None,
            stdout: None,
            stderr: None,
            stdin: None,
            chdir: None,
            hold: false,
            parsable: false,
            verbose,
            gpus_per_node: None,
            gpus_total: None,
            requeue: None,
            wait: false,
            array: None,
            dependency: None,
            nice: None,
            comment: None,
            mail_types: None,
            mail_user: None,
            account: None,
            qos: None,
        }
    }

    fn memory(&self, option: &str, text: &str) -> Result<Memory, SlurmError> {
        let megabytes =
            parse_megabytes(text).map_err(|_| invalid_specification_error(COMMAND, option))?;
        Ok(Memory {
            megabytes,
            from_environment: self.from_environment,
        })
    }

    /// Applies one option of the second pass (script, environment or
    /// command line); `argument` is present for options that take one.
    fn apply(&mut self, key: SbatchKey, argument: Option<String>) -> Result<(), SlurmError> {
        let text = argument.as_deref().unwrap_or_default();
        match key {
            SbatchKey::JobName => self.job_name = Some(text.to_string()),
            SbatchKey::Partition => self.partition = Some(text.to_string()),
            SbatchKey::Time => {
                let limit = parse_time_limit(text)
                    .map_err(|_| failure("Invalid --time specification", EXIT_OPTION_ERROR))?;
                self.time_limit = Some(TimeLimit::from_option_minutes(limit));
            }
            SbatchKey::CpusPerTask => {
                self.cpus_per_task = Some(positive_int("--cpus-per-task", text)?)
            }
            SbatchKey::Ntasks => self.ntasks = Some(positive_int("--ntasks", text)?),
            SbatchKey::Nodes => self.nodes = Some(parse_node_count(text)?),
            SbatchKey::Memory => self.memory_per_node = Some(self.memory("--mem", text)?),
            SbatchKey::MemoryPerCpu => {
                self.memory_per_cpu = Some(self.memory("--mem-per-cpu", text)?)
            }
            SbatchKey::Nodelist => self.nodelist = Some(text.to_string()),
            SbatchKey::Exclude => self.exclude = Some(text.to_string()),
            SbatchKey::Exclusive => self.exclusive = parse_exclusive(argument.as_deref())?,
            SbatchKey::NtasksPerNode => {
                self.ntasks_per_node = Some(positive_int("--ntasks-per-node", text)?)
            }
            SbatchKey::Begin => self.begin_time_ms = Some(begin_time(text, self.clock)?),
            SbatchKey::TimeMin => {
                let limit = parse_time_limit(text)
                    .map_err(|_| failure("Invalid --time-min specification", EXIT_OPTION_ERROR))?;
                self.time_min = Some(TimeLimit::from_option_minutes(limit));
            }
            SbatchKey::Signal => {
                self.signal =
                    Some(parse_signal(text).map_err(|_| {
                        failure("Invalid --signal specification", EXIT_OPTION_ERROR)
                    })?)
            }
            SbatchKey::OpenMode => self.open_mode = Some(parse_open_mode(text)?),
            SbatchKey::Export => self.export = Some(text.to_string()),
            SbatchKey::Output => self.stdout = Some(stream_file(text)),
            SbatchKey::Error => self.stderr = Some(stream_file(text)),
            SbatchKey::Input => self.stdin = Some(stream_file(text)),
            SbatchKey::Chdir => self.chdir = Some(text.to_string()),
            SbatchKey::Hold => self.hold = true,
            SbatchKey::Parsable => self.parsable = true,
            SbatchKey::Gres => self.gpus_per_node = Some(parse_gres(text)?),
            SbatchKey::GpusPerNode => {
                self.gpus_per_node = Some(parse_gpu_count("--gpus-per-node", text)?)
            }
            SbatchKey::Gpus => self.gpus_total = Some(parse_gpu_count("--gpus", text)?),
            SbatchKey::Requeue => self.requeue = Some(true),
            SbatchKey::NoRequeue => self.requeue = Some(false),
            SbatchKey::Wait => self.wait = true,
            SbatchKey::Array => self.array = Some(text.to_string()),
            SbatchKey::Dependency => self.dependency = Some(text.to_string()),
            SbatchKey::Nice => self.nice = Some(parse_nice(argument.as_deref())?),
            SbatchKey::Comment => self.comment = Some(text.to_string()),
            SbatchKey::MailType => self.add_mail_types(text)?,
            SbatchKey::MailUser => self.mail_user = Some(text.to_string()),
            SbatchKey::Account => self.account = Some(text.to_string()),
            SbatchKey::Qos => self.qos = Some(text.to_string()),
            SbatchKey::Unsupported(name) => {
                return Err(failure(
                    &format!("--{name} is not supported by Corral yet"),
                    EXIT_FAILURE,
                ))
            }
            // First-pass options: skipped here, as Slurm skips them.
            SbatchKey::Help
            | SbatchKey::Usage
            | SbatchKey::Version
            | SbatchKey::Quiet
            | SbatchKey::Verbose
            | SbatchKey::Wrap => {}
        }
        Ok(())
    }

    /// Slurm's `arg_set_mail_type`: each `--mail-type` adds its events to
    /// those before; one naming no valid event is an option error.
    fn add_mail_types(&mut self, text: &str) -> Result<(), SlurmError> {
        let types = MailTypes::parse(text)
            .ok_or_else(|| failure("Invalid --mail-type specification", EXIT_OPTION_ERROR))?;
        self.mail_types = Some(self.mail_types.unwrap_or_default().union(types));
        Ok(())
    }

    /// Applies the options of one getopt pass; returns the operands left.
    fn apply_all(&mut self, argv: &[String]) -> Result<Vec<String>, SlurmError> {
        let mut getopt = Getopt::new(SBATCH_OPTIONS, argv, Ordering::RequireOrder);
        let argv0 = getopt.argv0().to_string();
        for found in getopt.by_ref() {
            let Found { key, argument, .. } = found.map_err(|e| getopt_failure(&e, &argv0))?;
            if !key.is_early() {
                self.apply(key, argument)?;
            }
        }
        Ok(getopt.into_operands())
    }
}

/// `--exclusive[=exclusive]`: whole nodes. Slurm's other values share
/// nodes in ways Corral does not have.
fn parse_exclusive(argument: Option<&str>) -> Result<bool, SlurmError> {
    match argument {
        None => Ok(true),
        Some(value) if value.eq_ignore_ascii_case("exclusive") => Ok(true),
        Some(value)
            if ["oversubscribe", "user", "mcs"]
                .iter()
                .any(|known| value.eq_ignore_ascii_case(known)) =>
        {
            Err(failure(
                &format!(
                    "--exclusive={} is not supported by Corral yet",
                    value.to_ascii_lowercase()
                ),
                EXIT_FAILURE,
            ))
        }
        Some(_) => Err(failure(
            "Invalid --exclusive specification",
            EXIT_OPTION_ERROR,
        )),
    }
}

/// `--open-mode`: Slurm reads only the first letter.
fn parse_open_mode(text: &str) -> Result<OpenMode, SlurmError> {
    match text.bytes().next().map(|b| b.to_ascii_lowercase()) {
        Some(b'a') => Ok(OpenMode::Append),
        Some(b't') => Ok(OpenMode::Truncate),
        _ => Err(failure(
            "Invalid --open-mode specification",
            EXIT_OPTION_ERROR,
        )),
    }
}

/// `--begin`: `parse_time`'s own line (when it has one), then sbatch's.
fn begin_time(text: &str, clock: Clock) -> Result<u64, SlurmError> {
    parse_begin(text, clock).map_err(|error| {
        let mut lines: Vec<String> = error.diagnostic(text).into_iter().collect();
        lines.push(error_line(COMMAND, "Invalid --begin specification"));
        SlurmError::new(lines, EXIT_OPTION_ERROR)
    })
}

/// `-o/-e/-i none` is `/dev/null`.
fn stream_file(text: &str) -> String {
    if text.eq_ignore_ascii_case("none") {
        "/dev/null".to_string()
    } else {
        text.to_string()
    }
}

/// Plain decimal digits (no sign, no spaces) that fit a `u32`.
fn unsigned_decimal(text: &str) -> Option<u32> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// Slurm's `NICE_OFFSET - 3`: the largest `--nice` either way.
const NICE_LIMIT: u32 = 2_147_483_645;

/// Slurm's `arg_set_nice`: no value means 100; a value is read with C's
/// `strtoll`, ignoring what follows the number (`abc` reads as 0), and
/// must stay within [`NICE_LIMIT`] either way. Negative values are taken
/// here; Slurm lets only operators lower a priority.
fn parse_nice(argument: Option<&str>) -> Result<i32, SlurmError> {
    let Some(text) = argument else {
        return Ok(100);
    };
    let value = strtol(text).value;
    i32::try_from(value)
        .ok()
        .filter(|nice| nice.unsigned_abs() <= NICE_LIMIT)
        .ok_or_else(|| {
            failure(
                &format!("Invalid --nice value, out of range (+/- {NICE_LIMIT})"),
                EXIT_OPTION_ERROR,
            )
        })
}

fn positive_int(name: &str, text: &str) -> Result<u32, SlurmError> {
    let value = parse_int(name, text, true).map_err(|message| failure(&message, EXIT_FAILURE))?;
    u32::try_from(value).map_err(|_| {
        failure(
            &format!("Invalid numeric value \"{text}\" for {name}."),
            EXIT_FAILURE,
        )
    })
}

/// Slurm's `verify_node_count`: `N` or `min-max`, each with an optional
/// `k`/`m` multiplier (×1024, ×1048576). `N` is `N-N`; a maximum of 0
/// (`min-`) means none.
fn parse_node_count(text: &str) -> Result<(u32, u32), SlurmError> {
    let invalid = |part: &str| {
        failure(
            &format!("\"{part}\" is not a valid node count"),
            EXIT_OPTION_ERROR,
        )
    };
    let (min, max) = match text.split_once('-') {
        Some((min_text, max_text)) => {
            let min = node_number(min_text).ok_or_else(|| invalid(min_text))?;
            let max = node_number(max_text).ok_or_else(|| invalid(max_text))?;
            (min.max(0), max)
        }
        None => {
            let count = node_number(text)
                .filter(|n| *n >= 0)
                .ok_or_else(|| invalid(text))?;
            (count, count)
        }
    };
    if max != 0 && max < min {
        return Err(failure(
            &format!("Maximum node count {max} is less than minimum node count {min}"),
            EXIT_OPTION_ERROR,
        ));
    }
    let min = u32::try_from(min).map_err(|_| invalid(text))?;
    let max = u32::try_from(max).map_err(|_| invalid(text))?;
    Ok((min, max))
}

/// `_str_to_nodes`: a number with an optional `k` then `m` multiplier and
/// nothing but whitespace after; no digits reads as 0. `None`: invalid.
fn node_number(text: &str) -> Option<i64> {
    let parsed = strtol(text);
    if parsed.rest.len() == text.len() {
        // No digits: Slurm reads 0 and checks that nothing else is there.
        return text.chars().all(is_c_space).then_some(0);
    }
    let mut value = parsed.value;
    let mut rest = parsed.rest;
    for (suffix, factor) in [("k", 1_024), ("m", 1_048_576)] {
        if let Some(tail) = rest
            .strip_prefix(suffix)
            .or_else(|| rest.strip_prefix(&suffix.to_uppercase()))
        {
            value = value.checked_mul(factor)?;
            rest = tail;
        }
    }
    let fits = i32::try_from(value).is_ok() && !parsed.overflowed;
    (rest.chars().all(is_c_space) && fits).then_some(value)
}

fn lookup<'a>(environment: &'a [(String, String)], name: &str) -> Option<&'a str> {
    environment
        .iter()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.as_str())
}

/// Slurm's second pass: directives, then environment, then command line,
/// then the checks of `_opt_verify`. `clock` resolves `--begin`.
pub fn build_request(
    command_line: &CommandLine,
    environment: &[(String, String)],
    script: BatchScript,
    clock: Clock,
) -> Result<SbatchRequest, SlurmError> {
    let mut settings = Settings::new(clock, command_line.verbose);
    let file = command_line
        .script_path
        .as_deref()
        .map_or("stdin", |path| path.rsplit('/').next().unwrap_or(path));
    let directives = script::scan_directives(script.text(), file)?;
    let mut warnings = directives.warnings;
    let script_argv: Vec<String> = std::iter::once(COMMAND.to_string())
        .chain(directives.words)
        .collect();
    if let Some(stray) = settings.apply_all(&script_argv)?.first() {
        return Err(failure(
            &format!("Invalid directive found in batch script: {stray}"),
            EXIT_OPTION_ERROR,
        ));
    }
    let ignored_environment = apply_environment(&mut settings, environment, command_line.verbose)?;
    // Never silently: a variable that would change the job in Slurm says
    // that it did nothing here.
    warnings.extend(ignored_environment.iter().map(|name| {
        format!(
            "{COMMAND}: warning: {name} is set but not supported by Corral yet; it has no effect"
        )
    }));
    settings.apply_all(&command_line.argv)?;

    let (memory_per_node_mb, memory_per_cpu_mb) = memory_options(&settings)?;
    if command_line.quiet > 0 && settings.verbose > 0 {
        return Err(failure(
            "don't specify both --verbose (-v) and --quiet (-Q)",
            EXIT_FAILURE,
        ));
    }
    let node_lists = layout::NodeLists::of(&settings)?;
    let layout = layout::task_layout(&settings, node_lists.required, &mut warnings)?;
    let gpus_per_node = gpus_per_node(&settings, layout.min_nodes)?;
    let (array, dependency) = controller_checks(&settings)?;
    if layout
        .required_nodes
        .iter()
        .any(|node| node_lists.excluded.binary_search(node).is_ok())
    {
        // slurmctld: "Job's required and excluded node lists overlap".
        return Err(submission_failed_error(INVALID_NODE_NAME));
    }
    check_time_min(&settings)?;
    let export = settings.export.as_deref().map(parse_export);
    if let Some(parsed) = &export {
        warnings.extend(
            parsed
                .complaints
                .iter()
                .map(|complaint| error_line(COMMAND, complaint)),
        );
    }
    let job_name = settings.job_name.clone().unwrap_or_else(|| {
        match (&command_line.wrap, &command_line.script_path) {
            (Some(_), _) => "wrap".to_string(),
            (None, Some(path)) => path.rsplit('/').next().unwrap_or(path).to_string(),
            (None, None) => COMMAND.to_string(),
        }
    });
    Ok(SbatchRequest {
        job_name,
        partition: settings.partition,
        time_limit: settings.time_limit,
        min_nodes: layout.min_nodes,
        max_nodes: layout.max_nodes,
        ntasks: layout.ntasks,
        cpus_per_task: settings.cpus_per_task.unwrap_or(1),
        memory_per_node_mb,
        memory_per_cpu_mb,
        required_nodes: layout.required_nodes,
        excluded_nodes: node_lists.excluded,
        exclusive: settings.exclusive,
        ntasks_per_node: settings.ntasks_per_node,
        begin_time_ms: settings.begin_time_ms,
        time_min: settings.time_min,
        signal: settings.signal,
        open_mode: settings.open_mode,
        export_text: settings.export,
        export: export.map_or(Export::All, |parsed| parsed.export),
        stdout: settings.stdout,
        stderr: settings.stderr,
        stdin: settings.stdin,
        chdir: settings.chdir,
        hold: settings.hold,
        gpus_per_node,
        requeue: settings.requeue.unwrap_or(false),
        wait: settings.wait,
        array,
        dependency,
        nice: settings.nice.unwrap_or(0),
        comment: settings.comment,
        mail_type: settings.mail_types.map(MailTypes::slurm_text),
        mail_user: settings.mail_user,
        account: settings.account,
        qos: settings.qos,
        parsable: settings.parsable,
        quiet: command_line.quiet,
        verbose: settings.verbose,
        script: script.into_text(),
        script_path: command_line.script_path.clone(),
        script_arguments: command_line.script_arguments.clone(),
        warnings,
        ignored_environment,
    })
}

/// Slurm's text for `ESLURM_INVALID_NODE_NAME`.
pub const INVALID_NODE_NAME: &str = "Invalid node name specified";
/// Slurm's text for `ESLURM_INVALID_TIME_MIN_LIMIT`.
pub const INVALID_TIME_MIN: &str =
    "Invalid time-min specification (exceeds job's time or other limits)";
/// Slurm's text for `ESLURM_REQUESTED_NODE_CONFIG_UNAVAILABLE`.
pub const NODE_CONFIG_UNAVAILABLE: &str = "Requested node configuration is not available";

/// Slurm's `_validate_memory_options` for `--mem` and `--mem-per-cpu`:
/// both on the command line (or in `#SBATCH` lines) is fatal; one there
/// clears the other's `SBATCH_*` variable; both only from variables is
/// fatal too. Returns (per node, per CPU).
fn memory_options(settings: &Settings) -> Result<(Option<u64>, Option<u64>), SlurmError> {
    let fatal = |message: &str| SlurmError::new(vec![fatal_line(COMMAND, message)], EXIT_FAILURE);
    let by_cli = |memory: Option<Memory>| memory.is_some_and(|m| !m.from_environment);
    let value = |memory: Option<Memory>| memory.map(|m| m.megabytes);
    let (per_node, per_cpu) = (settings.memory_per_node, settings.memory_per_cpu);
    match (by_cli(per_node), by_cli(per_cpu)) {
        (true, true) => Err(fatal(
            "--mem, --mem-per-cpu, and --mem-per-gpu are mutually exclusive.",
        )),
        (true, false) => Ok((value(per_node), None)),
        (false, true) => Ok((None, value(per_cpu))),
        (false, false) if per_node.is_some() && per_cpu.is_some() => Err(fatal(
            "SLURM_MEM_PER_CPU, SLURM_MEM_PER_GPU, and SLURM_MEM_PER_NODE are mutually exclusive.",
        )),
        (false, false) => Ok((value(per_node), value(per_cpu))),
    }
}

/// slurmctld refuses a `--time-min` above the job's `--time`. Without
/// `--time` the partition's limit applies, which only the controller knows.
fn check_time_min(settings: &Settings) -> Result<(), SlurmError> {
    let minutes = |limit: TimeLimit| limit.minutes().unwrap_or(u32::MAX);
    match (settings.time_min, settings.time_limit) {
        (Some(time_min), Some(limit)) if minutes(time_min) > minutes(limit) => {
            Err(submission_failed_error(INVALID_TIME_MIN))
        }
        _ => Ok(()),
    }
}

/// The checks slurmctld makes of `--array` and `--dependency` when the job
/// is submitted, made here first with the same messages (exit 1).
fn controller_checks(
    settings: &Settings,
) -> Result<(Option<ArraySpec>, Option<DependencySpec>), SlurmError> {
    let array = settings
        .array
        .as_deref()
        .map(parse_array)
        .transpose()
        .map_err(|_| submission_failed_error(INVALID_ARRAY))?;
    let dependency = settings
        .dependency
        .as_deref()
        .map(parse_dependency)
        .transpose()
        .map_err(dependency_failure)?
        .flatten();
    Ok((array, dependency))
}

/// A malformed `--dependency` is the controller's `Job dependency
/// problem`; a type Corral lacks is Corral's own refusal.
fn dependency_failure(error: DependencyError) -> SlurmError {
    match error {
        DependencyError::Invalid => submission_failed_error(DEPENDENCY_PROBLEM),
        DependencyError::Unsupported(_) => failure(&error.to_string(), EXIT_FAILURE),
    }
}

/// Applies the `SBATCH_*` variables of implemented options; returns the
/// names of set variables that belong to options Corral does not implement.
fn apply_environment(
    settings: &mut Settings,
    environment: &[(String, String)],
    command_line_verbose: u32,
) -> Result<Vec<String>, SlurmError> {
    settings.from_environment = true;
    for (name, key) in ENVIRONMENT_OPTIONS {
        let Some(value) = lookup(environment, name) else {
            continue;
        };
        if *key == SbatchKey::Verbose {
            settings.verbose =
                environment_verbosity(value, command_line_verbose, settings.verbose)?;
        } else if value.is_empty() && takes_optional_argument(*key) {
            // An empty value stands for the option without its argument.
            settings.apply(*key, None)?;
        } else {
            settings.apply(*key, Some(value.to_string()))?;
        }
    }
    settings.from_environment = false;
    Ok(IGNORED_ENVIRONMENT
        .iter()
        .filter(|name| lookup(environment, name).is_some())
        .map(|name| name.to_string())
        .collect())
}

fn takes_optional_argument(key: SbatchKey) -> bool {
    SBATCH_OPTIONS
        .iter()
        .any(|def| def.key == key && def.has_arg == crate::getopt::HasArg::Optional)
}

/// `SBATCH_DEBUG`, read as Slurm reads a flag from the environment: empty,
/// `yes` or a non-zero number sets it (then the value must be a number,
/// unless `-v` was given); anything else clears the verbosity.
fn environment_verbosity(
    value: &str,
    command_line_verbose: u32,
    current: u32,
) -> Result<u32, SlurmError> {
    let parsed = strtol(value);
    let sets = value.is_empty()
        || value.eq_ignore_ascii_case("yes")
        || (parsed.value != 0 && parsed.rest.is_empty());
    if !sets {
        return Ok(0);
    }
    if command_line_verbose > 0 {
        return Ok(current);
    }
    let level =
        parse_int("--verbose", value, false).map_err(|message| failure(&message, EXIT_FAILURE))?;
    Ok(u32::try_from(level).unwrap_or(0))
}

/// The controller refused the job: `sbatch: error: Batch job submission
/// failed: <reason>` (Slurm's text for the error code), exit 1.
pub fn submission_failed_error(reason: &str) -> SlurmError {
    failure(
        &format!("Batch job submission failed: {reason}"),
        EXIT_FAILURE,
    )
}

/// An unknown partition, as reference 77 shows it (two lines, exit 1).
pub fn invalid_partition_error(partition: &str) -> SlurmError {
    SlurmError::new(
        vec![
            error_line(
                COMMAND,
                &format!("invalid partition specified: {partition}"),
            ),
            error_line(
                COMMAND,
                "Batch job submission failed: Invalid partition name specified",
            ),
        ],
        EXIT_FAILURE,
    )
}

#[cfg(test)]
mod tests;

/// `--gres=gpu[:type]:N[,...]`: GPUs per node. Other generic resources are
/// not supported yet, and say so.
fn parse_gres(text: &str) -> Result<u32, SlurmError> {
    let invalid = || {
        failure(
            "Invalid generic resource (gres) specification",
            EXIT_FAILURE,
        )
    };
    let mut gpus = None;
    for item in text.split(',').filter(|item| !item.is_empty()) {
        let mut parts = item.split(':');
        let name = parts.next().unwrap_or_default();
        if name != "gpu" {
            return Err(failure(
                &format!("--gres={name} is not supported by Corral yet (only gpu)"),
                EXIT_FAILURE,
            ));
        }
        let rest: Vec<&str> = parts.collect();
        let count = match rest.as_slice() {
            [] => 1,
            [count] | [_, count] => count.parse::<u32>().map_err(|_| invalid())?,
            _ => return Err(invalid()),
        };
        if gpus.replace(count).is_some() {
            return Err(invalid());
        }
    }
    gpus.ok_or_else(invalid)
}

/// `N` or `type:N` for `--gpus` and `--gpus-per-node`.
fn parse_gpu_count(option: &str, text: &str) -> Result<u32, SlurmError> {
    let count = text.rsplit(':').next().unwrap_or(text);
    count
        .parse::<u32>()
        .map_err(|_| failure(&format!("Invalid {option} specification"), EXIT_FAILURE))
}

/// GPUs on each node: `--gpus-per-node`/`--gres`, or `--gpus` spread
/// evenly over the job's nodes.
fn gpus_per_node(settings: &Settings, nodes: u32) -> Result<u32, SlurmError> {
    match (settings.gpus_per_node, settings.gpus_total) {
        (Some(per_node), _) => Ok(per_node),
        (None, None) => Ok(0),
        (None, Some(total)) if total % nodes.max(1) == 0 => Ok(total / nodes.max(1)),
        (None, Some(total)) => Err(failure(
            &format!(
                "--gpus={total} over {nodes} nodes is not supported by Corral yet (use --gpus-per-node)"
            ),
            EXIT_FAILURE,
        )),
    }
}
