//! sacct 22.05's options, in the order of its `long_options[]` (the order
//! glibc lists ambiguous candidates in), with
//! `"aA:bBcC:DeE:f:F:g:hi:I:j:k:K:lLM:nN:o:pPq:r:s:S:Ttu:UvVW:x:X"`.

use crate::getopt::{HasArg, OptionDef};

/// What an option does in Corral.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SacctKey {
    AllUsers,
    Accounts,
    Allocations,
    Brief,
    Delimiter,
    Duplicates,
    /// `--federation`, `--local`: Corral is never in a federation, so both
    /// show the local cluster, as Slurm does outside one.
    Federation,
    HelpFormat,
    EndTime,
    Help,
    Name,
    Jobs,
    Long,
    NodeList,
    NoConvert,
    NoHeader,
    Format,
    Parsable,
    Parsable2,
    Qos,
    Partition,
    State,
    StartTime,
    Truncate,
    User,
    Usage,
    Version,
    /// A real sacct option Corral does not implement, by its canonical name.
    Unsupported(&'static str),
}

use HasArg::{No, Optional, Required};
use SacctKey::*;

const fn option(
    long: &'static str,
    short: Option<char>,
    has_arg: HasArg,
    key: SacctKey,
) -> OptionDef<SacctKey> {
    OptionDef::new(Some(long), short, has_arg, key)
}

const fn refused(long: &'static str, short: Option<char>, has_arg: HasArg) -> OptionDef<SacctKey> {
    OptionDef::new(Some(long), short, has_arg, Unsupported(long))
}

pub const SACCT_OPTIONS: &[OptionDef<SacctKey>] = &[
    option("allusers", Some('a'), No, AllUsers),
    option("accounts", Some('A'), Required, Accounts),
    option("allocations", Some('X'), No, Allocations),
    option("brief", Some('b'), No, Brief),
    refused("batch-script", Some('B'), No),
    refused("completion", Some('c'), No),
    refused("constraints", Some('C'), Required),
    option("delimiter", None, Required, Delimiter),
    option("duplicates", Some('D'), No, Duplicates),
    option("federation", None, No, Federation),
    option("helpformat", Some('e'), No, HelpFormat),
    option("help-fields", None, No, HelpFormat),
    option("endtime", Some('E'), Required, EndTime),
    refused("env-vars", None, No),
    refused("file", Some('f'), Required),
    refused("flags", Some('F'), Required),
    OptionDef::new(Some("gid"), Some('g'), Required, Unsupported("gid")),
    OptionDef::new(Some("group"), None, Required, Unsupported("gid")),
    option("help", Some('h'), No, Help),
    option("local", None, No, Federation),
    option("name", None, Required, Name),
    refused("nnodes", Some('i'), Required),
    refused("ncpus", Some('I'), Required),
    option("jobs", Some('j'), Required, Jobs),
    refused("timelimit-min", Some('k'), Required),
    refused("timelimit-max", Some('K'), Required),
    option("long", Some('l'), No, Long),
    refused("allclusters", Some('L'), No),
    OptionDef::new(
        Some("cluster"),
        Some('M'),
        Required,
        Unsupported("clusters"),
    ),
    OptionDef::new(Some("clusters"), None, Required, Unsupported("clusters")),
    option("nodelist", Some('N'), Required, NodeList),
    option("noconvert", None, No, NoConvert),
    refused("units", None, Required),
    option("noheader", Some('n'), No, NoHeader),
    option("fields", None, Required, Format),
    option("format", Some('o'), Required, Format),
    option("parsable", Some('p'), No, Parsable),
    option("parsable2", Some('P'), No, Parsable2),
    option("qos", Some('q'), Required, Qos),
    option("partition", Some('r'), Required, Partition),
    refused("reason", Some('R'), Required),
    option("state", Some('s'), Required, State),
    option("starttime", Some('S'), Required, StartTime),
    option("truncate", Some('T'), No, Truncate),
    option("uid", Some('u'), Required, User),
    refused("use-local-uid", None, No),
    option("usage", Some('U'), No, Usage),
    option("user", None, Required, User),
    refused("verbose", Some('v'), No),
    option("version", Some('V'), No, Version),
    refused("wckeys", Some('W'), Required),
    refused("whole-hetjob", None, Optional),
    refused("associations", Some('x'), Required),
    refused("json", None, No),
    refused("yaml", None, No),
    // `-t`: the deprecated name of `-X`; it has no long name.
    OptionDef::new(None, Some('t'), No, Allocations),
];

/// `sacct --help`, as Slurm 22.05.8 prints it.
pub const HELP: &str = include_str!("help.txt");

/// `sacct --usage`.
pub const USAGE: &str = "Usage: sacct [options]\n\tUse --help for help\n";
