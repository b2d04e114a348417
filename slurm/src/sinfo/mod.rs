//! `sinfo`, as Slurm 22.05 runs it: [`parse_command_line`] reads argv and
//! the `SINFO_*` variables into a [`Query`]; the caller reads the cluster
//! into a [`ClusterView`]; [`render`] prints it.
//!
//! Options Corral implements: `-a -d -e -h -i -l -n -N -o -O -p -r -R -s -S
//! -t -v --federation --hide --local --noconvert --help --usage -V`, and
//! the variables `SINFO_FORMAT`, `SINFO_PARTITION`, `SINFO_ALL` and
//! `SINFO_SORT` (which `-S` overrides). `-a`, `--hide`, `--federation` and
//! `--local` change nothing, as in Slurm on a cluster without hidden
//! partitions or federation; `-v` adds only the time line. Every other
//! sinfo option (`-M -T --json --yaml --autocomplete`) is recognised and
//! refused with `sinfo: error: --<option> is not supported by Corral yet`,
//! exit 1; so is `SLURM_CLUSTERS`. Operands are ignored, as sinfo ignores
//! them.
//!
//! The default formats are Slurm's: the partition view, `-l`, `-N`, `-N -l`,
//! `-R`, `-R -l` and `-s`, with the partition and node list columns as wide
//! as their widest value (at least 9). A partition selected with `-p` that
//! does not exist prints nothing but the header, as in Slurm.

mod format;
mod options;
mod records;

pub use format::{Field, FieldKind, Format};
pub use options::{SinfoKey, SINFO_OPTIONS};

use corral_state::{hostlist, Node};

use crate::cluster_view::ClusterView;
use crate::error::{fatal_line, SlurmError, EXIT_FAILURE};
use crate::getopt::{Getopt, Ordering};
use crate::node_state::{NodeState, StateSelection};

const COMMAND: &str = "sinfo";

// Slurm 22.05 writes its defaults in the `-O` language (`cpus:4`,
// `nodeaiot:.16 ,nodelist:0`); these are the same fields as `-o` formats,
// which is why `CPUS` is left-aligned and `-s` has one space before
// `NODELIST`.

/// `sinfo` (the partition view).
pub const PARTITION_FORMAT: &str = "%9P %.5a %.10l %.6D %.6t %N";
/// `sinfo -l`.
pub const PARTITION_LONG_FORMAT: &str = "%9P %.5a %.10l %.10s %.4r %.8h %.10g %.6D %.11T %N";
/// `sinfo -N`.
pub const NODE_FORMAT: &str = "%N %.6D %.9P %6t";
/// `sinfo -N -l`.
pub const NODE_LONG_FORMAT: &str = "%N %.6D %.9P %.11T %4c %.8z %.6m %.8d %.6w %.8f %20E";
/// `sinfo -R`.
pub const REASONS_FORMAT: &str = "%20E %9u %19H %N";
/// `sinfo -R -l`.
pub const REASONS_LONG_FORMAT: &str = "%20E %12U %19H %6t %N";
/// `sinfo -s`.
pub const SUMMARIZE_FORMAT: &str = "%9P %.5a %.10l %.16F %N";

/// What the command line asked for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Invocation {
    /// Print this on stdout and exit 0 (`--help`, `--usage`, `-V`).
    Print(String),
    /// Read the cluster and print it.
    Show(Query),
}

/// A validated sinfo request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Query {
    pub header: bool,
    /// `-l`: the time line first, long formats.
    pub long: bool,
    /// `-N`: one line per node and partition.
    pub node_view: bool,
    /// `-R`: group by reason, whatever the partition.
    pub list_reasons: bool,
    /// `-e`: group only nodes of the same sizes.
    pub exact: bool,
    /// `-d`: only nodes that do not respond.
    pub dead_only: bool,
    /// `-r`: only nodes that respond.
    pub responding_only: bool,
    /// `-p`: these partitions only.
    pub partitions: Option<Vec<String>>,
    /// `-n`: these nodes only (the expanded hostlist).
    pub nodes: Option<Vec<String>>,
    /// `-t` (or `-R`'s default).
    pub states: Option<StateSelection>,
    pub format: Format,
    /// The node list column is as wide as the widest list (default `-N`
    /// formats).
    pub node_field_flag: bool,
    /// The partition column is as wide as the widest name (default formats).
    pub part_field_flag: bool,
    /// `--noconvert` clears it: CPU counts print as plain numbers.
    pub convert_units: bool,
    /// What sinfo prints on stderr while reading the format (it carries on).
    pub warnings: Vec<String>,
    /// `-S` (or `SINFO_SORT`); `None`: the view's default order.
    pub sort: Option<String>,
    /// `-i`: print again every so many seconds until interrupted.
    pub iterate_seconds: Option<u64>,
    /// `-v`, counted.
    pub verbose: u32,
}

impl Query {
    /// `_filter_out`, inverted: whether a node is reported.
    pub fn shows_node(&self, node: &Node) -> bool {
        let not_responding = NodeState::of(node).not_responding;
        let named = self
            .nodes
            .as_ref()
            .is_none_or(|names| names.contains(&node.name));
        let responsiveness = match (self.dead_only, self.responding_only) {
            (true, _) if !not_responding => false,
            (_, true) if not_responding => false,
            _ => true,
        };
        let state = self
            .states
            .as_ref()
            .is_none_or(|states| states.matches(node));
        named && responsiveness && state
    }
}

/// sinfo's whole output for a view of the cluster.
pub fn render(query: &Query, view: &ClusterView) -> String {
    let records = records::build(query, view);
    let widths = records::ColumnWidths::of(query, &records);
    let mut out = String::new();
    if query.header {
        if query.long || query.iterate_seconds.is_some() || query.verbose > 0 {
            out.push_str(&crate::time::ctime_text(
                view.now_ms,
                view.utc_offset_seconds,
            ));
            out.push('\n');
        }
        out.push_str(&records::header_line(&query.format, &widths));
    }
    for record in &records {
        out.push_str(&records::record_line(record, query, view, &widths));
    }
    out
}

fn failure(message: &str) -> SlurmError {
    SlurmError::command_error(COMMAND, message, EXIT_FAILURE)
}

fn split_list(text: &str) -> Vec<String> {
    text.split(',')
        .filter(|item| !item.is_empty())
        .map(str::to_string)
        .collect()
}

/// What the options set, before the format is chosen.
#[derive(Default)]
struct Flags {
    header_off: bool,
    long: bool,
    node_view: bool,
    list_reasons: bool,
    summarize: bool,
    exact: bool,
    dead_only: bool,
    responding_only: bool,
    partitions: Option<Vec<String>>,
    nodes: Option<Vec<String>>,
    states: Option<StateSelection>,
    format: Option<String>,
    long_form: bool,
    no_convert: bool,
    sort: Option<String>,
    iterate_seconds: Option<u64>,
    verbose: u32,
}

/// Reads argv (`argv[0]` included) and sinfo's environment variables.
pub fn parse_command_line(
    argv: &[String],
    environment: &[(String, String)],
) -> Result<Invocation, SlurmError> {
    let mut flags = Flags::default();
    let env = |name: &str| {
        environment
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    };
    if let Some(name) = options::REFUSED_ENVIRONMENT
        .iter()
        .find(|name| env(name).is_some())
    {
        return Err(failure(&format!("{name} is not supported by Corral yet")));
    }
    let env_all = env("SINFO_ALL").is_some();
    if let Some(partitions) = env("SINFO_PARTITION") {
        if env_all {
            return Err(failure("Conflicting options, SINFO_ALL and SINFO_PARTITION, specified. Please choose one or the other."));
        }
        flags.partitions = Some(split_list(partitions));
    }
    flags.sort = env("SINFO_SORT").map(str::to_string);
    let mut option_all = false;
    let mut option_partition = false;
    let mut getopt = Getopt::new(SINFO_OPTIONS, argv, Ordering::Permute);
    let argv0 = getopt.argv0().to_string();
    for found in getopt.by_ref() {
        let found = found.map_err(|e| {
            SlurmError::new(
                vec![
                    e.message(&argv0),
                    "Try \"sinfo --help\" for more information".to_string(),
                ],
                EXIT_FAILURE,
            )
        })?;
        let argument = found.argument.clone().unwrap_or_default();
        use SinfoKey::*;
        match found.key {
            All => {
                option_all = true;
                flags.partitions = None;
            }
            Dead => flags.dead_only = true,
            Exact => flags.exact = true,
            Federation | Hide | Local => {}
            Help => return Ok(Invocation::Print(options::HELP.to_string())),
            Usage => return Ok(Invocation::Print(options::USAGE.to_string())),
            Version => {
                return Ok(Invocation::Print(format!(
                    "slurm {}\n",
                    crate::SLURM_VERSION
                )))
            }
            Long => flags.long = true,
            Nodes => flags.nodes = Some(parse_nodes(&argument)?),
            NoConvert => flags.no_convert = true,
            NoHeader => flags.header_off = true,
            NodeView => flags.node_view = true,
            Format => flags.format = Some(argument),
            LongFormat => {
                flags.long_form = true;
                flags.format = Some(argument);
            }
            Partitions => {
                option_partition = true;
                flags.partitions = Some(split_list(&argument));
            }
            Responding => flags.responding_only = true,
            ListReasons => flags.list_reasons = true,
            Summarize => flags.summarize = true,
            Sort => flags.sort = Some(argument),
            Iterate => flags.iterate_seconds = Some(parse_iterate(&argument)?),
            Verbose => flags.verbose += 1,
            States => flags.states = Some(StateSelection::parse(&argument)?),
            Unsupported(name) => {
                return Err(failure(&format!("--{name} is not supported by Corral yet")))
            }
        }
    }
    if flags.long && flags.format.is_some() {
        return Err(SlurmError::new(
            vec![fatal_line(COMMAND, "Options -o(--format) and -l(--long) are mutually exclusive. Please remove one and retry.")],
            EXIT_FAILURE,
        ));
    }
    if option_all && option_partition {
        return Err(failure(
            "Conflicting options, -a and -p, specified. Please choose one or the other.",
        ));
    }
    build_query(flags, env("SINFO_FORMAT")).map(Invocation::Show)
}

/// `-i SECONDS`: a positive number as C's `atoi` reads it.
fn parse_iterate(text: &str) -> Result<u64, SlurmError> {
    match u64::try_from(crate::squeue::options::atoi(text)) {
        Ok(seconds) if seconds > 0 => Ok(seconds),
        _ => Err(failure(&format!(
            "Error: invalid entry for --iterate={text}"
        ))),
    }
}

/// `-n`: a hostlist expression.
fn parse_nodes(text: &str) -> Result<Vec<String>, SlurmError> {
    hostlist::expand(text).map_err(|_| failure(&format!("'{text}' invalid entry for --nodes")))
}

/// Chooses the format as sinfo does: `-o`/`-O`, else `-s`, `-N`, `-R`,
/// `SINFO_FORMAT`, the partition view; then the states `-R` lists.
fn build_query(flags: Flags, env_format: Option<&str>) -> Result<Query, SlurmError> {
    let (mut node_field_flag, mut part_field_flag) = (false, false);
    let (format_text, long_form) = match (&flags.format, env_format) {
        (Some(format), _) => (format.clone(), flags.long_form),
        (None, _) if flags.summarize => {
            part_field_flag = true;
            (SUMMARIZE_FORMAT.to_string(), false)
        }
        (None, _) if flags.node_view => {
            node_field_flag = true;
            part_field_flag = true;
            let format = if flags.long {
                NODE_LONG_FORMAT
            } else {
                NODE_FORMAT
            };
            (format.to_string(), false)
        }
        (None, _) if flags.list_reasons => {
            let format = if flags.long {
                REASONS_LONG_FORMAT
            } else {
                REASONS_FORMAT
            };
            (format.to_string(), false)
        }
        (None, Some(format)) => (format.to_string(), false),
        (None, None) => {
            part_field_flag = true;
            let format = if flags.long {
                PARTITION_LONG_FORMAT
            } else {
                PARTITION_FORMAT
            };
            (format.to_string(), false)
        }
    };
    let (format, warnings) = if long_form {
        Format::parse_long(&format_text)?
    } else {
        Format::parse(&format_text)
    };
    let states = match (flags.states, flags.list_reasons) {
        (None, true) => Some(StateSelection::reasons_default()),
        (states, _) => states,
    };
    Ok(Query {
        header: !flags.header_off,
        long: flags.long,
        node_view: flags.node_view,
        list_reasons: flags.list_reasons,
        exact: flags.exact,
        dead_only: flags.dead_only,
        responding_only: flags.responding_only,
        partitions: flags.partitions,
        nodes: flags.nodes,
        states,
        format,
        node_field_flag,
        part_field_flag,
        convert_units: !flags.no_convert,
        warnings,
        sort: flags.sort,
        iterate_seconds: flags.iterate_seconds,
        verbose: flags.verbose,
    })
}

#[cfg(test)]
mod tests;
