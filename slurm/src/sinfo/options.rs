//! sinfo 22.05's options (`long_options[]` and `"adehi:lM:n:No:O:p:rRsS:t:TvV"`)
//! and its help texts.

use crate::getopt::{HasArg, OptionDef};

/// What an option does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SinfoKey {
    /// `-a`: hidden partitions too (Corral has none).
    All,
    Dead,
    Exact,
    /// `--federation`: Corral is never in a federation, where Slurm shows
    /// the local cluster.
    Federation,
    Help,
    /// `--hide`: the default.
    Hide,
    /// `--local`: the local cluster, the only one Corral has.
    Local,
    Long,
    Nodes,
    NoConvert,
    NoHeader,
    NodeView,
    Format,
    LongFormat,
    Partitions,
    Responding,
    ListReasons,
    Summarize,
    /// `-S`: the sort list.
    Sort,
    States,
    /// `-i SECONDS`.
    Iterate,
    /// `-v`.
    Verbose,
    Usage,
    Version,
    /// Recognised and refused: `--<name> is not supported by Corral yet`.
    Unsupported(&'static str),
}

use HasArg::{No, Required};
use SinfoKey::*;

const fn option(
    long: &'static str,
    short: Option<char>,
    has_arg: HasArg,
    key: SinfoKey,
) -> OptionDef<SinfoKey> {
    OptionDef::new(Some(long), short, has_arg, key)
}

/// In the order of sinfo's `long_options[]`.
pub const SINFO_OPTIONS: &[OptionDef<SinfoKey>] = &[
    option("autocomplete", None, Required, Unsupported("autocomplete")),
    option("all", Some('a'), No, All),
    option("dead", Some('d'), No, Dead),
    option("exact", Some('e'), No, Exact),
    option("federation", None, No, Federation),
    option("help", None, No, Help),
    option("hide", None, No, Hide),
    option("iterate", Some('i'), Required, Iterate),
    option("local", None, No, Local),
    option("long", Some('l'), No, Long),
    option("cluster", Some('M'), Required, Unsupported("clusters")),
    option("clusters", None, Required, Unsupported("clusters")),
    option("nodes", Some('n'), Required, Nodes),
    option("noconvert", None, No, NoConvert),
    option("noheader", Some('h'), No, NoHeader),
    option("Node", Some('N'), No, NodeView),
    option("format", Some('o'), Required, Format),
    option("Format", Some('O'), Required, LongFormat),
    option("partition", Some('p'), Required, Partitions),
    option("responding", Some('r'), No, Responding),
    option("list-reasons", Some('R'), No, ListReasons),
    option("summarize", Some('s'), No, Summarize),
    option("sort", Some('S'), Required, Sort),
    option("states", Some('t'), Required, States),
    option("reservation", Some('T'), No, Unsupported("reservation")),
    option("usage", None, No, Usage),
    option("verbose", Some('v'), No, Verbose),
    option("version", Some('V'), No, Version),
    option("json", None, No, Unsupported("json")),
    option("yaml", None, No, Unsupported("yaml")),
];

/// Environment variables sinfo reads that Corral does not implement.
pub const REFUSED_ENVIRONMENT: &[&str] = &["SLURM_CLUSTERS"];

pub const USAGE: &str = "\
Usage: sinfo [-adelNRrsTv] [-i seconds] [-t states] [-p partition] [-n nodes]
             [-S fields] [-o format] [-O Format] [--federation] [--local]
";

pub const HELP: &str = "\
Usage: sinfo [OPTIONS]
  -a, --all                  show all partitions (including hidden and those
\t\t\t     not accessible)
  -d, --dead                 show only non-responding nodes
  -e, --exact                group nodes only on exact match of configuration
      --federation           Report federated information if a member of one
  -h, --noheader             no headers on output
  --hide                     do not show hidden or non-accessible partitions
  -i, --iterate=seconds      specify an iteration period
      --json                 Produce JSON output
      --local                show only local cluster in a federation.
                             Overrides --federation.
  -l, --long                 long output - displays more information
  -M, --clusters=names       clusters to issue commands to. Implies --local.
                             NOTE: SlurmDBD must be up.
  -n, --nodes=NODES          report on specific node(s)
  --noconvert                don't convert units from their original type
\t\t\t     (e.g. 2048M won't be converted to 2G).
  -N, --Node                 Node-centric format
  -o, --format=format        format specification
  -O, --Format=format        long format specification
  -p, --partition=PARTITION  report on specific partition
  -r, --responding           report only responding nodes
  -R, --list-reasons         list reason nodes are down or drained
  -s, --summarize            report state summary only
  -S, --sort=fields          comma separated list of fields to sort on
  -t, --states=node_state    specify the what states of nodes to view
  -T, --reservation          show only reservation information
  -v, --verbose              verbosity level
  -V, --version              output version information and exit
      --yaml                 Produce YAML output

Help options:
  --help                     show this help message
  --usage                    display brief usage message
";
