//! `sreport`, as Slurm 22.05 runs it, for two reports: `cluster
//! utilization` and `user top`. [`parse_command_line`] reads argv (`-t`,
//! `-n`, `-p`, `-P` and the report's `start=`/`end=`/`users=`/`accounts=`/
//! `topcount=`/`format=` conditions) into an [`SreportConfig`] with the
//! window resolved; [`cpu_usage`] computes each user's allocated CPU
//! seconds inside the window from accounting rows; the `render_*`
//! functions print the report.
//!
//! The window is Slurm's (`slurmdb_report_set_start_end_time`): by default
//! yesterday from midnight to midnight; a given start or end is rounded to
//! the nearest hour, an end in the future becomes now, and a window
//! shorter than an hour is stretched to one.

use corral_state::JobRecord;

use crate::error::{SlurmError, EXIT_FAILURE};
use crate::getopt::{Getopt, HasArg, OptionDef, Ordering};
use crate::sacct::parse_time::{local_fields, local_midnight, local_to_seconds, parse_time};
use crate::sacct::print_fields::{Cell, Parsable, PrintStyle};

const COMMAND: &str = "sreport";
const MILLISECONDS_PER_SECOND: u64 = 1_000;
const SECONDS_PER_HOUR: i64 = 3_600;
const DEFAULT_TOP_COUNT: u32 = 10;
const RULE: &str =
    "--------------------------------------------------------------------------------\n";

/// `-t`: how usage is shown.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimeFormat {
    Seconds,
    Minutes,
    Hours,
    Percent,
    SecondsPercent,
    MinutesPercent,
    HoursPercent,
}

impl TimeFormat {
    /// `_set_time_format`.
    fn parse(text: &str) -> Option<TimeFormat> {
        let k = |word: &str, min: usize| crate::sacctmgr::keyword(text, word, min);
        Some(if k("SecPer", 6) {
            TimeFormat::SecondsPercent
        } else if k("MinPer", 6) {
            TimeFormat::MinutesPercent
        } else if k("HourPer", 6) {
            TimeFormat::HoursPercent
        } else if k("Seconds", 1) {
            TimeFormat::Seconds
        } else if k("Minutes", 1) {
            TimeFormat::Minutes
        } else if k("Hours", 1) {
            TimeFormat::Hours
        } else if k("Percent", 1) {
            TimeFormat::Percent
        } else {
            return None;
        })
    }

    fn description(self) -> &'static str {
        match self {
            TimeFormat::SecondsPercent => "Seconds/Percentage of Total",
            TimeFormat::MinutesPercent => "Minutes/Percentage of Total",
            TimeFormat::HoursPercent => "Hours/Percentage of Total",
            TimeFormat::Seconds => "Seconds",
            TimeFormat::Minutes => "Minutes",
            TimeFormat::Hours => "Hours",
            TimeFormat::Percent => "Percentage of Total",
        }
    }

    fn with_percent(self) -> bool {
        matches!(
            self,
            TimeFormat::SecondsPercent | TimeFormat::MinutesPercent | TimeFormat::HoursPercent
        )
    }

    /// `slurmdb_report_print_time`'s text for a value.
    fn text(self, value: u64, total: u64) -> String {
        let total = total.max(1) as f64;
        let percent = value as f64 / total * 100.0;
        let minutes = value as f64 / 60.0;
        let hours = value as f64 / 3_600.0;
        match self {
            TimeFormat::Seconds => value.to_string(),
            TimeFormat::Minutes => format!("{minutes:.0}"),
            TimeFormat::Hours => format!("{hours:.0}"),
            TimeFormat::Percent => format!("{percent:.2}%"),
            TimeFormat::SecondsPercent => format!("{value}({percent:.2}%)"),
            TimeFormat::MinutesPercent => format!("{minutes:.0}({percent:.2}%)"),
            TimeFormat::HoursPercent => format!("{hours:.0}({percent:.2}%)"),
        }
    }
}

/// Which report.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Report {
    ClusterUtilization,
    UserTop {
        top_count: u32,
        users: Vec<String>,
        accounts: Vec<String>,
    },
}

/// A validated sreport request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SreportConfig {
    pub report: Report,
    pub time_format: TimeFormat,
    pub style: PrintStyle,
    /// `[start, end)`, seconds since the epoch.
    pub start_seconds: i64,
    pub end_seconds: i64,
    /// `format=` items; `None`: the report's default columns.
    pub format: Option<Vec<String>>,
    pub utc_offset_seconds: i32,
}

/// What the command line asked for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Invocation {
    Print(String),
    Show(Box<SreportConfig>),
}

/// `sreport --help`, as Slurm 22.05.8 prints it.
pub const HELP: &str = include_str!("help.txt");

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Key {
    Help,
    NoHeader,
    Parsable,
    Parsable2,
    Time,
    Version,
    Quiet,
    Unsupported(&'static str),
}

const OPTIONS: &[OptionDef<Key>] = &[
    OptionDef::new(
        Some("all_clusters"),
        Some('a'),
        HasArg::No,
        Key::Unsupported("all_clusters"),
    ),
    OptionDef::new(
        Some("cluster"),
        Some('M'),
        HasArg::Required,
        Key::Unsupported("cluster"),
    ),
    OptionDef::new(
        Some("federation"),
        None,
        HasArg::No,
        Key::Unsupported("federation"),
    ),
    OptionDef::new(Some("help"), Some('h'), HasArg::No, Key::Help),
    OptionDef::new(
        Some("immediate"),
        None,
        HasArg::No,
        Key::Unsupported("immediate"),
    ),
    OptionDef::new(Some("local"), None, HasArg::No, Key::Unsupported("local")),
    OptionDef::new(Some("noheader"), Some('n'), HasArg::No, Key::NoHeader),
    OptionDef::new(Some("parsable"), Some('p'), HasArg::No, Key::Parsable),
    OptionDef::new(Some("parsable2"), Some('P'), HasArg::No, Key::Parsable2),
    OptionDef::new(Some("quiet"), Some('Q'), HasArg::No, Key::Quiet),
    OptionDef::new(
        Some("sort"),
        Some('s'),
        HasArg::Required,
        Key::Unsupported("sort"),
    ),
    OptionDef::new(
        Some("tres"),
        Some('T'),
        HasArg::Required,
        Key::Unsupported("tres"),
    ),
    OptionDef::new(Some("usage"), None, HasArg::No, Key::Help),
    OptionDef::new(
        Some("verbose"),
        Some('v'),
        HasArg::No,
        Key::Unsupported("verbose"),
    ),
    OptionDef::new(Some("version"), Some('V'), HasArg::No, Key::Version),
    OptionDef::new(None, Some('t'), HasArg::Required, Key::Time),
];

fn failure(lines: Vec<String>) -> SlurmError {
    SlurmError::new(lines, EXIT_FAILURE)
}

/// `xstrncasecmp(word, keyword, n)` with a fixed `n`: the first `n`
/// characters agree (a shorter word must end where the keyword does).
fn first_chars(word: &str, keyword: &str, n: usize) -> bool {
    let a: Vec<u8> = word
        .bytes()
        .take(n)
        .map(|b| b.to_ascii_lowercase())
        .collect();
    let b: Vec<u8> = keyword
        .bytes()
        .take(n)
        .map(|b| b.to_ascii_lowercase())
        .collect();
    a == b
}

/// `slurmdb_report_set_start_end_time`.
pub fn report_window(
    start: Option<i64>,
    end: Option<i64>,
    now_seconds: i64,
    utc_offset_seconds: i32,
) -> (i64, i64) {
    let round = |seconds: i64| {
        let [y, mo, d, mut h, mut mi, s] = local_fields(seconds, utc_offset_seconds);
        if s >= 30 {
            mi += 1;
        }
        if mi >= 30 {
            h += 1;
        }
        local_to_seconds((y, mo, d), (h, 0, 0), utc_offset_seconds)
    };
    let end = match end {
        None => local_midnight(now_seconds, 0, utc_offset_seconds),
        Some(end) => round(end.min(now_seconds)),
    };
    let start = match start {
        None => local_midnight(now_seconds, 1, utc_offset_seconds),
        Some(start) => round(start),
    };
    let end = if end - start < SECONDS_PER_HOUR {
        start + SECONDS_PER_HOUR
    } else {
        end
    };
    (start, end)
}

/// Reads argv (`argv[0]` included); `now_ms` and the UTC offset resolve
/// `start=`/`end=`.
pub fn parse_command_line(
    argv: &[String],
    now_ms: u64,
    utc_offset_seconds: i32,
) -> Result<Invocation, SlurmError> {
    let now_seconds = i64::try_from(now_ms / MILLISECONDS_PER_SECOND).unwrap_or(i64::MAX);
    let mut style = PrintStyle::default();
    let mut time_format = TimeFormat::Minutes;
    let mut getopt = Getopt::new(OPTIONS, argv, Ordering::RequireOrder);
    let argv0 = getopt.argv0().to_string();
    for found in getopt.by_ref() {
        let found = found.map_err(|e| {
            failure(vec![
                e.message(&argv0),
                "Try \"sreport --help\" for more information".to_string(),
            ])
        })?;
        match found.key {
            Key::Help => return Ok(Invocation::Print(HELP.to_string())),
            Key::Version => {
                return Ok(Invocation::Print(format!(
                    "slurm {}\n",
                    crate::SLURM_VERSION
                )))
            }
            Key::NoHeader => style.header = false,
            Key::Parsable => style.parsable = Parsable::Ending,
            Key::Parsable2 => style.parsable = Parsable::NoEnding,
            Key::Quiet => {}
            Key::Time => {
                let text = found.argument.unwrap_or_default();
                // Slurm prints this (without a newline) and carries on.
                time_format = TimeFormat::parse(&text)
                    .ok_or_else(|| failure(vec![format!("unknown time format {text}")]))?;
            }
            Key::Unsupported(name) => {
                return Err(SlurmError::command_error(
                    COMMAND,
                    &format!("--{name} is not supported by Corral yet"),
                    EXIT_FAILURE,
                ))
            }
        }
    }
    let words = getopt.into_operands();
    let (Some(group), Some(name)) = (words.first(), words.get(1)) else {
        return Err(SlurmError::command_error(
            COMMAND,
            "interactive mode is not supported by Corral yet; give a report",
            EXIT_FAILURE,
        ));
    };
    let conditions = &words[2..];
    let report = if crate::sacctmgr::keyword(group, "cluster", 2) {
        if !first_chars(name, "Utilization", 2) {
            return Err(SlurmError::command_error(
                COMMAND,
                &format!("cluster {name} is not supported by Corral yet (only Utilization)"),
                EXIT_FAILURE,
            ));
        }
        Report::ClusterUtilization
    } else if crate::sacctmgr::keyword(group, "user", 1) {
        if !first_chars(name, "Top", 1) {
            return Err(failure(vec![
                format!("Not valid report {name}"),
                "Valid user reports are, \"Top\"".to_string(),
            ]));
        }
        Report::UserTop {
            top_count: DEFAULT_TOP_COUNT,
            users: Vec::new(),
            accounts: Vec::new(),
        }
    } else {
        return Err(SlurmError::command_error(
            COMMAND,
            &format!("{group} reports are not supported by Corral yet"),
            EXIT_FAILURE,
        ));
    };
    let mut config = SreportConfig {
        report,
        time_format,
        style,
        start_seconds: 0,
        end_seconds: 0,
        format: None,
        utc_offset_seconds,
    };
    let (mut start, mut end) = (None, None);
    for word in conditions {
        let (key, value) = word.split_once('=').unwrap_or((word.as_str(), ""));
        let k = |keyword: &str, min: usize| crate::sacctmgr::keyword(key, keyword, min);
        let time = |text: &str| {
            parse_time(text, true, now_seconds, utc_offset_seconds)
                .map_err(|e| failure(vec![e.message()]))
        };
        let list = || value.split(',').filter(|v| !v.is_empty()).map(String::from);
        match &mut config.report {
            _ if k("End", 1) => end = time(value)?,
            _ if k("Start", 1) => start = time(value)?,
            _ if k("Format", 1) => config.format.get_or_insert_with(Vec::new).extend(list()),
            _ if k("Clusters", 1) => {}
            Report::UserTop { users, .. } if k("Users", 1) => users.extend(list()),
            Report::UserTop { accounts, .. } if k("Accounts", 2) => accounts.extend(list()),
            Report::UserTop { top_count, .. } if k("TopCount", 1) => {
                *top_count = value
                    .parse()
                    .map_err(|_| failure(vec![format!(" Bad TopCount value: {value}")]))?;
            }
            _ => {
                return Err(failure(vec![
                    format!(" Unknown condition: {word}"),
                    "Use keyword set to modify value".to_string(),
                ]))
            }
        }
    }
    (config.start_seconds, config.end_seconds) =
        report_window(start, end, now_seconds, utc_offset_seconds);
    Ok(Invocation::Show(Box::new(config)))
}

/// One user's allocated CPU time in the window.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserUsage {
    pub user: String,
    /// The accounts the time was charged to, in first-use order.
    pub accounts: Vec<String>,
    pub cpu_seconds: u64,
}

/// Allocated CPU seconds per user inside `[start, end)`: each job's CPUs
/// times the part of its run (start to end, or to `now` while running)
/// that overlaps the window.
pub fn cpu_usage(
    jobs: &[JobRecord],
    start_seconds: i64,
    end_seconds: i64,
    now_ms: u64,
) -> Vec<UserUsage> {
    let now = i64::try_from(now_ms / MILLISECONDS_PER_SECOND).unwrap_or(i64::MAX);
    let mut usage: Vec<UserUsage> = Vec::new();
    for job in jobs {
        let Some(started) = job.start_time_ms else {
            continue;
        };
        let run_start = i64::try_from(started / MILLISECONDS_PER_SECOND).unwrap_or(i64::MAX);
        let run_end = job.end_time_ms.map_or(now, |ms| {
            i64::try_from(ms / MILLISECONDS_PER_SECOND).unwrap_or(i64::MAX)
        });
        let overlap = (run_end.min(end_seconds) - run_start.max(start_seconds)).max(0);
        let seconds = u64::try_from(overlap).unwrap_or(0) * u64::from(job.alloc_cpus);
        if seconds == 0 {
            continue;
        }
        let entry = match usage.iter_mut().position(|u| u.user == job.user) {
            Some(index) => &mut usage[index],
            None => {
                usage.push(UserUsage {
                    user: job.user.clone(),
                    accounts: Vec::new(),
                    cpu_seconds: 0,
                });
                usage.last_mut().expect("just pushed")
            }
        };
        entry.cpu_seconds += seconds;
        if let Some(account) = &job.account {
            if !entry.accounts.contains(account) {
                entry.accounts.push(account.clone());
            }
        }
    }
    usage
}

fn header_block(config: &SreportConfig, title: &str) -> String {
    if !config.style.header {
        return String::new();
    }
    let text = |s: i64| crate::sacct::time_text(s, config.utc_offset_seconds);
    let usage = match config.time_format {
        TimeFormat::Percent => format!("Usage reported in {}\n", config.time_format.description()),
        other => format!("Usage reported in CPU {}\n", other.description()),
    };
    format!(
        "{RULE}{title} {} - {}{}\n{usage}{RULE}",
        text(config.start_seconds),
        text(config.end_seconds - 1),
        match config.report {
            Report::UserTop { .. } =>
                format!(" ({} secs)", config.end_seconds - config.start_seconds),
            Report::ClusterUtilization => String::new(),
        }
    )
}

/// A report column: header, width, what it shows.
#[derive(Clone, Copy)]
struct Column {
    name: &'static str,
    width: i32,
    value: Value,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Value {
    Cluster,
    Allocated,
    Down,
    PlannedDown,
    Idle,
    Planned,
    Reported,
    Login,
    ProperName,
    Account,
    Used,
    Energy,
}

/// `_setup_print_fields_list` of each report, for the fields Corral
/// has: (keyword, minimum abbreviation, header, width, width with a
/// `*Per` time format, value).
const CLUSTER_FIELDS: &[(&str, usize, &str, i32, i32, Value)] = &[
    ("allocated", 2, "Allocated", 12, 20, Value::Allocated),
    ("Cluster", 2, "Cluster", 9, 9, Value::Cluster),
    ("down", 1, "Down", 10, 18, Value::Down),
    ("idle", 1, "Idle", 12, 20, Value::Idle),
    ("PlannedDown", 2, "PLND Down", 10, 18, Value::PlannedDown),
    ("reported", 3, "Reported", 12, 20, Value::Reported),
    ("reserved", 3, "Planned", 9, 18, Value::Planned),
    ("planned", 4, "Planned", 9, 18, Value::Planned),
];
const USER_FIELDS: &[(&str, usize, &str, i32, i32, Value)] = &[
    ("Accounts", 1, "Account", 15, 15, Value::Account),
    ("Cluster", 1, "Cluster", 9, 9, Value::Cluster),
    ("Energy", 1, "Energy", 10, 18, Value::Energy),
    ("Login", 1, "Login", 9, 9, Value::Login),
    ("Proper", 1, "Proper Name", 15, 15, Value::ProperName),
    ("Used", 1, "Used", 10, 18, Value::Used),
];

fn columns(
    config: &SreportConfig,
    table: &[(&'static str, usize, &'static str, i32, i32, Value)],
    default: &str,
) -> Result<Vec<Column>, String> {
    let items: Vec<String> = match &config.format {
        Some(items) => items.clone(),
        None => default.split(',').map(String::from).collect(),
    };
    items
        .iter()
        .map(|item| {
            let (name, width) = match item.split_once('%') {
                Some((name, width)) => (name, width.trim().parse::<i32>().ok().filter(|w| *w != 0)),
                None => (item.as_str(), None),
            };
            table
                .iter()
                .find(|(word, min, ..)| crate::sacctmgr::keyword(name, word, *min))
                .map(|(_, _, header, plain, per, value)| Column {
                    name: header,
                    width: width.unwrap_or(if config.time_format.with_percent() {
                        *per
                    } else {
                        *plain
                    }),
                    value: *value,
                })
                .ok_or_else(|| {
                    format!("sreport: error: format field {name} is not supported by Corral yet\n")
                })
        })
        .collect()
}

fn table(config: &SreportConfig, columns: &[Column], rows: &[Vec<Cell>]) -> String {
    let header: Vec<(&str, i32)> = columns.iter().map(|c| (c.name, c.width)).collect();
    let mut out = config.style.header(&header);
    for row in rows {
        let cells: Vec<(Cell, i32)> = row
            .iter()
            .cloned()
            .zip(columns.iter().map(|c| c.width))
            .collect();
        out.push_str(&config.style.row(&cells));
    }
    out
}

/// What sreport writes: (stdout, stderr, exit code).
pub type ReportOutput = (String, String, i32);

/// `sreport cluster utilization`: the cluster's allocated CPU seconds in
/// the window (the sum of [`cpu_usage`]) and its total (CPUs times the
/// window's length, which the caller knows). Corral records no down or
/// reserved time: those columns are 0.
pub fn render_cluster_utilization(
    config: &SreportConfig,
    cluster: &str,
    allocated_cpu_seconds: u64,
    total_cpu_seconds: u64,
) -> ReportOutput {
    let columns = match columns(config, CLUSTER_FIELDS, "Cl,al,d,planned,i,res,rep") {
        Ok(columns) => columns,
        Err(message) => return (String::new(), message, EXIT_FAILURE),
    };
    let allocated = allocated_cpu_seconds.min(total_cpu_seconds);
    let time = |value: u64| Cell::Clipped(Some(config.time_format.text(value, total_cpu_seconds)));
    let row: Vec<Cell> = columns
        .iter()
        .map(|column| match column.value {
            Value::Cluster => Cell::text(cluster),
            Value::Allocated => time(allocated),
            Value::Idle => time(total_cpu_seconds - allocated),
            Value::Reported => time(total_cpu_seconds),
            _ => time(0),
        })
        .collect();
    let mut out = header_block(config, "Cluster Utilization");
    out.push_str(&table(config, &columns, &[row]));
    (out, String::new(), 0)
}

/// `sreport user top`: the users with the most CPU time, most first (ties
/// by name), at most `TopCount`; `proper_name` maps a login to its GECOS
/// name; `total_cpu_seconds` is the cluster's, for percentages.
pub fn render_user_top(
    config: &SreportConfig,
    cluster: &str,
    usage: &[UserUsage],
    total_cpu_seconds: u64,
    proper_name: &dyn Fn(&str) -> Option<String>,
) -> ReportOutput {
    let Report::UserTop {
        top_count,
        users,
        accounts,
    } = &config.report
    else {
        return (String::new(), String::new(), EXIT_FAILURE);
    };
    let mut columns = match columns(config, USER_FIELDS, "Cl,L,P,A,U,Energy") {
        Ok(columns) => columns,
        Err(message) => return (String::new(), message, EXIT_FAILURE),
    };
    let mut selected: Vec<&UserUsage> = usage
        .iter()
        .filter(|u| users.is_empty() || users.contains(&u.user))
        .filter(|u| accounts.is_empty() || u.accounts.iter().any(|a| accounts.contains(a)))
        .collect();
    selected.sort_by(|a, b| {
        b.cpu_seconds
            .cmp(&a.cpu_seconds)
            .then_with(|| a.user.cmp(&b.user))
    });
    let maximum = selected.first().map_or(0, |u| u.cpu_seconds);
    for column in columns.iter_mut() {
        let explicit = config
            .format
            .as_ref()
            .is_some_and(|items| items.iter().any(|i| i.contains('%')));
        if explicit {
            continue;
        }
        match column.value {
            Value::Used => column.width = usage_width(maximum, config.time_format),
            Value::Energy => column.width = usage_width(0, config.time_format),
            _ => {}
        }
    }
    let rows: Vec<Vec<Cell>> = selected
        .iter()
        .take(usize::try_from(*top_count).unwrap_or(usize::MAX))
        .map(|u| {
            columns
                .iter()
                .map(|column| match column.value {
                    Value::Cluster => Cell::text(cluster),
                    Value::Login => Cell::text(u.user.clone()),
                    Value::ProperName => Cell::Text(proper_name(&u.user)),
                    Value::Account => Cell::Text(Some(u.accounts.join(","))),
                    Value::Used => Cell::Clipped(Some(
                        config.time_format.text(u.cpu_seconds, total_cpu_seconds),
                    )),
                    _ => Cell::Clipped(Some(config.time_format.text(0, total_cpu_seconds))),
                })
                .collect()
        })
        .collect();
    let title = format!("Top {top_count} Users");
    let mut out = header_block(config, &title);
    out.push_str(&table(config, &columns, &rows));
    (out, String::new(), 0)
}

/// `sreport_set_usage_col_width`: 8, one more per digit beyond 10^8,
/// nine more with a `*Per` time format.
fn usage_width(maximum: u64, format: TimeFormat) -> i32 {
    let mut width = 8;
    let mut order: u64 = 100_000_000;
    // Slurm computes 10^8 * 10^17 in 64 bits, which wraps.
    let max_order: u64 = order.wrapping_mul(100_000_000_000_000_000);
    while order < max_order && maximum >= order {
        width += 1;
        order = order.wrapping_mul(10);
    }
    if format.with_percent() {
        width += 9;
    }
    width
}

#[cfg(test)]
mod tests;
