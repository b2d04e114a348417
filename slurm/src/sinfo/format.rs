//! sinfo's two format languages and what each field shows.
//!
//! `-o/--format` is a prefix, then `%[.][width]X` fields each followed by
//! literal text up to the next `%` (`%%` prints nothing, as with Slurm's
//! `strtok`); `.` right-aligns. An unknown letter prints back as written and
//! yields `Invalid node format specification: X` on stderr (without sinfo's
//! `error:` prefix: Slurm `fprintf`s it).
//!
//! `-O/--Format` is a comma-separated list of `Name[:[.]width[suffix]]`;
//! without a width a field is 20 wide, left-aligned, with no separator. An
//! unknown name prints nothing but its suffix and yields
//! `sinfo: error: Invalid job format specification: name` (sic).
//!
//! Both parse to the same [`Field`]s; [`FieldKind`] lists every field of
//! Slurm 22.05, with its letter, its `-O` name and its header.

use crate::error::{error_line, SlurmError, EXIT_FAILURE};

/// What a field shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FieldKind {
    /// `%a` Available: the partition's state (`up`).
    Available,
    /// `%A` NodeAI: nodes allocated/idle.
    NodesAllocatedIdle,
    /// `%b` features_act: active features (Corral has none).
    ActiveFeatures,
    /// `%B` MaxCPUsPerNode.
    MaxCpusPerNode,
    /// `%c` CPUs per node.
    Cpus,
    /// `%C` CPUsState: CPUs allocated/idle/other/total.
    CpusState,
    /// `%d` Disk: temporary disk (Corral has none: 0).
    Disk,
    /// `%D` Nodes: how many.
    Nodes,
    /// `%e` FreeMem: free memory as the node's OS reports it; Corral does not
    /// collect it, so `N/A` as Slurm prints a node that did not report.
    FreeMemory,
    /// `%E` Reason.
    Reason,
    /// `%f` Features (Corral has none).
    Features,
    /// `%F` NodeAIOT: nodes allocated/idle/other/total.
    NodesState,
    /// `%g` Groups allowed (all).
    Groups,
    /// `%G` Gres.
    Gres,
    /// `-O GresUsed`.
    GresUsed,
    /// `%h` OverSubscribe (`-O Share` too).
    OverSubscribe,
    /// `%H` TimeStamp of the reason.
    Timestamp,
    /// `%I` PriorityJobFactor.
    PriorityJobFactor,
    /// `%l` Time: the partition's time limit.
    TimeLimit,
    /// `%L` DefaultTime.
    DefaultTime,
    /// `%m` Memory per node (MB).
    Memory,
    /// `%M` PreemptMode.
    PreemptMode,
    /// `%n` NodeHost: host names (Corral's are the node names).
    Hostnames,
    /// `%N` NodeList.
    NodeList,
    /// `%o` NodeAddr (the node names).
    NodeAddress,
    /// `%O` CPUsLoad: Corral does not collect it (`N/A`).
    CpuLoad,
    /// `%p` PriorityTier.
    PriorityTier,
    /// `%P` Partition, `*` after the default.
    Partition,
    /// `%r` Root: only root may run jobs (no).
    Root,
    /// `%R` PartitionName, without `*`.
    PartitionName,
    /// `%s` Size: job sizes in nodes.
    JobSize,
    /// `%S` AllocNodes allowed to allocate (all).
    AllocNodes,
    /// `%t` StateCompact.
    StateCompact,
    /// `%T` StateLong.
    StateLong,
    /// `%u` User who set the reason.
    User,
    /// `%U` UserLong: `name(uid)`.
    UserLong,
    /// `%v` Version of the node's daemon (Corral does not record it: `N/A`).
    Version,
    /// `%V` Cluster name (`N/A` outside a federation).
    Cluster,
    /// `%w` Weight.
    Weight,
    /// `%X` Sockets.
    Sockets,
    /// `%Y` Cores per socket.
    Cores,
    /// `%Z` Threads per core.
    Threads,
    /// `%z` SocketCoreThread.
    SocketsCoresThreads,
    /// `-O AllocMem`: memory allocated.
    AllocatedMemory,
    /// A letter or name sinfo does not know: prints only its suffix.
    Invalid,
}

use FieldKind::*;

/// Every field: its `-o` letter, its `-O` name, what it is.
const FIELDS: &[(Option<char>, &str, FieldKind)] = &[
    (None, "AllocMem", AllocatedMemory),
    (Some('S'), "AllocNodes", AllocNodes),
    (Some('a'), "Available", Available),
    (Some('V'), "Cluster", Cluster),
    (Some('Y'), "Cores", Cores),
    (Some('c'), "CPUs", Cpus),
    (Some('O'), "CPUsLoad", CpuLoad),
    (Some('C'), "CPUsState", CpusState),
    (Some('L'), "DefaultTime", DefaultTime),
    (Some('d'), "Disk", Disk),
    (Some('f'), "Features", Features),
    (Some('b'), "features_act", ActiveFeatures),
    (Some('e'), "FreeMem", FreeMemory),
    (Some('G'), "Gres", Gres),
    (None, "GresUsed", GresUsed),
    (Some('g'), "Groups", Groups),
    (Some('B'), "MaxCPUsPerNode", MaxCpusPerNode),
    (Some('m'), "Memory", Memory),
    (Some('o'), "NodeAddr", NodeAddress),
    (Some('A'), "NodeAI", NodesAllocatedIdle),
    (Some('F'), "NodeAIOT", NodesState),
    (Some('n'), "NodeHost", Hostnames),
    (Some('N'), "NodeList", NodeList),
    (Some('D'), "Nodes", Nodes),
    (Some('h'), "OverSubscribe", OverSubscribe),
    (Some('P'), "Partition", Partition),
    (Some('R'), "PartitionName", PartitionName),
    (Some('M'), "PreemptMode", PreemptMode),
    (Some('I'), "PriorityJobFactor", PriorityJobFactor),
    (Some('p'), "PriorityTier", PriorityTier),
    (Some('E'), "Reason", Reason),
    (Some('r'), "Root", Root),
    (None, "Share", OverSubscribe),
    (Some('s'), "Size", JobSize),
    (Some('X'), "Sockets", Sockets),
    (Some('z'), "SocketCoreThread", SocketsCoresThreads),
    (Some('t'), "StateCompact", StateCompact),
    (Some('T'), "StateLong", StateLong),
    (Some('Z'), "Threads", Threads),
    (Some('l'), "Time", TimeLimit),
    (Some('H'), "TimeStamp", Timestamp),
    (Some('u'), "User", User),
    (Some('U'), "UserLong", UserLong),
    (Some('v'), "Version", Version),
    (Some('w'), "Weight", Weight),
];

/// `-O` names Slurm knows and Corral does not show.
const REFUSED_LONG_NAMES: &[&str] = &["all", "Port"];

impl FieldKind {
    fn from_letter(letter: char) -> Option<FieldKind> {
        FIELDS
            .iter()
            .find(|(l, _, _)| *l == Some(letter))
            .map(|(_, _, kind)| *kind)
    }

    fn from_long_name(name: &str) -> Option<FieldKind> {
        FIELDS
            .iter()
            .find(|(_, n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, _, kind)| *kind)
    }

    pub fn header(self) -> &'static str {
        match self {
            Available => "AVAIL",
            NodesAllocatedIdle => "NODES(A/I)",
            ActiveFeatures => "ACTIVE_FEATURES",
            MaxCpusPerNode => "MAX_CPUS_PER_NODE",
            Cpus => "CPUS",
            CpusState => "CPUS(A/I/O/T)",
            Disk => "TMP_DISK",
            Nodes => "NODES",
            FreeMemory => "FREE_MEM",
            Reason => "REASON",
            Features => "AVAIL_FEATURES",
            NodesState => "NODES(A/I/O/T)",
            Groups => "GROUPS",
            Gres => "GRES",
            GresUsed => "GRES_USED",
            OverSubscribe => "OVERSUBSCRIBE",
            Timestamp => "TIMESTAMP",
            PriorityJobFactor => "PRIO_JOB_FACTOR",
            TimeLimit => "TIMELIMIT",
            DefaultTime => "DEFAULTTIME",
            Memory => "MEMORY",
            PreemptMode => "PREEMPT_MODE",
            Hostnames => "HOSTNAMES",
            NodeList => "NODELIST",
            NodeAddress => "NODE_ADDR",
            CpuLoad => "CPU_LOAD",
            PriorityTier => "PRIO_TIER",
            Partition | PartitionName => "PARTITION",
            Root => "ROOT",
            JobSize => "JOB_SIZE",
            AllocNodes => "ALLOCNODES",
            StateCompact | StateLong => "STATE",
            User | UserLong => "USER",
            Version => "VERSION",
            Cluster => "CLUSTER",
            Weight => "WEIGHT",
            Sockets => "SOCKETS",
            Cores => "CORES",
            Threads => "THREADS",
            SocketsCoresThreads => "S:C:T",
            AllocatedMemory => "ALLOCMEM",
            Invalid => "",
        }
    }

    /// Node lists print their header uncut (`_print_str(.., false)`).
    pub fn header_is_cut(self) -> bool {
        !matches!(self, NodeList | Hostnames | NodeAddress)
    }
}

/// One field of a format.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Field {
    pub kind: FieldKind,
    pub width: usize,
    pub right_aligned: bool,
    /// Literal text printed after the field.
    pub suffix: String,
}

/// A parsed format: literal text, then fields.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Format {
    pub prefix: String,
    pub fields: Vec<Field>,
}

/// Widths beyond this are clamped (Slurm formats into bounded buffers).
const WIDTH_MAX: usize = 4_096;
/// An `-O` field's width when none is given.
const LONG_FIELD_WIDTH_DEFAULT: usize = 20;

impl Format {
    /// Parses `-o`; the lines sinfo prints on stderr for unknown letters come
    /// back beside it (sinfo carries on regardless).
    pub fn parse(format: &str) -> (Format, Vec<String>) {
        let mut warnings = Vec::new();
        let (prefix, body) = match format.find('%') {
            Some(index) => (&format[..index], &format[index..]),
            None => (format, ""),
        };
        let fields = body
            .split('%')
            .filter(|token| !token.is_empty())
            .map(|token| {
                let (field, letter) = parse_token(token);
                if field.kind == Invalid {
                    warnings.push(format!("Invalid node format specification: {letter}"));
                }
                field
            })
            .collect();
        (
            Format {
                prefix: prefix.to_string(),
                fields,
            },
            warnings,
        )
    }

    /// Parses `-O`. Names Slurm has but Corral does not show are refused.
    pub fn parse_long(format: &str) -> Result<(Format, Vec<String>), SlurmError> {
        let mut warnings = Vec::new();
        let mut fields = Vec::new();
        for token in format.split(',').filter(|token| !token.is_empty()) {
            let (name, width, right_aligned, suffix) = parse_long_token(token);
            if let Some(refused) = REFUSED_LONG_NAMES
                .iter()
                .find(|r| r.eq_ignore_ascii_case(name))
            {
                return Err(SlurmError::command_error(
                    "sinfo",
                    &format!("-O {refused} is not supported by Corral yet"),
                    EXIT_FAILURE,
                ));
            }
            let kind = FieldKind::from_long_name(name).unwrap_or(Invalid);
            if kind == Invalid {
                warnings.push(error_line(
                    "sinfo",
                    &format!("Invalid job format specification: {name}"),
                ));
            }
            fields.push(Field {
                kind,
                width,
                right_aligned,
                suffix,
            });
        }
        Ok((
            Format {
                prefix: String::new(),
                fields,
            },
            warnings,
        ))
    }

    pub fn has(&self, kind: FieldKind) -> bool {
        self.fields.iter().any(|field| field.kind == kind)
    }
}

/// `[.][digits]letter suffix` (`_parse_token`); also returns the letter for
/// the warning.
fn parse_token(token: &str) -> (Field, String) {
    let right_aligned = token.starts_with('.');
    let rest = if right_aligned { &token[1..] } else { token };
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    let width = parse_width(&rest[..digits]);
    let after = &rest[digits..];
    let letter = after.chars().next();
    let suffix_start = letter.map_or(0, char::len_utf8);
    let letter_text: String = letter.map(String::from).unwrap_or_default();
    match letter.and_then(FieldKind::from_letter) {
        Some(kind) => (
            Field {
                kind,
                width,
                right_aligned,
                suffix: after[suffix_start..].to_string(),
            },
            letter_text,
        ),
        // Slurm prints an unknown field as the text it came from, unpadded.
        None => (
            Field {
                kind: Invalid,
                width: 0,
                right_aligned,
                suffix: format!("%{token}"),
            },
            letter_text,
        ),
    }
}

/// `name[:[.]width[suffix]]` (`_parse_long_token`): the width is read as
/// `strtol` reads it, whatever follows is the suffix.
fn parse_long_token(token: &str) -> (&str, usize, bool, String) {
    let Some((name, spec)) = token.split_once(':') else {
        return (token, LONG_FIELD_WIDTH_DEFAULT, false, String::new());
    };
    let right_aligned = spec.starts_with('.');
    let spec = if right_aligned { &spec[1..] } else { spec };
    let digits = spec.bytes().take_while(u8::is_ascii_digit).count();
    (
        name,
        parse_width(&spec[..digits]),
        right_aligned,
        spec[digits..].to_string(),
    )
}

fn parse_width(digits: &str) -> usize {
    if digits.is_empty() {
        return 0;
    }
    digits.parse::<usize>().unwrap_or(WIDTH_MAX).min(WIDTH_MAX)
}

/// Slurm's `_print_str`: right-aligned pads on the left and, when `cut`,
/// keeps the first `width` characters; left-aligned always keeps the first
/// `width` characters and pads on the right; width 0 prints as is.
pub fn fit(text: &str, width: usize, right_aligned: bool, cut: bool) -> String {
    if width == 0 {
        return text.to_string();
    }
    if right_aligned {
        let padded = format!("{text:>width$}");
        if cut {
            padded.chars().take(width).collect()
        } else {
            padded
        }
    } else {
        let kept: String = text.chars().take(width).collect();
        format!("{kept:<width$}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_letters_widths_prefix_and_suffixes() {
        let (format, warnings) = Format::parse("x:%9P %.5a|%l%%%N");
        assert!(warnings.is_empty());
        assert_eq!(format.prefix, "x:");
        let kinds: Vec<FieldKind> = format.fields.iter().map(|f| f.kind).collect();
        assert_eq!(kinds, vec![Partition, Available, TimeLimit, NodeList]);
        assert_eq!(format.fields[0].width, 9);
        assert!(!format.fields[0].right_aligned);
        assert_eq!(format.fields[0].suffix, " ");
        assert!(format.fields[1].right_aligned);
        assert_eq!(format.fields[1].suffix, "|");
        assert_eq!(format.fields[2].suffix, "");
    }

    #[test]
    fn unknown_letters_print_back_and_warn() {
        let (format, warnings) = Format::parse("%P %.3q%-5N %");
        assert_eq!(
            warnings,
            vec![
                "Invalid node format specification: q",
                "Invalid node format specification: -",
            ]
        );
        assert_eq!(format.fields[1].kind, Invalid);
        assert_eq!(format.fields[1].suffix, "%.3q");
        assert_eq!(format.fields[2].suffix, "%-5N ");
        assert_eq!(format.fields.len(), 3);
        let (format, warnings) = Format::parse("%.7");
        assert_eq!(format.fields[0].kind, Invalid);
        assert_eq!(warnings, vec!["Invalid node format specification: "]);
    }

    #[test]
    fn format_without_fields_is_all_prefix() {
        let (format, warnings) = Format::parse("hello");
        assert!(warnings.is_empty());
        assert_eq!(format.prefix, "hello");
        assert!(format.fields.is_empty());
        assert_eq!(Format::parse("").0.fields.len(), 0);
    }

    #[test]
    fn parses_long_formats() {
        let (format, warnings) =
            Format::parse_long("NodeList,statelong:.11 ,CPUsState:5|,bogus:3x,,gresused").unwrap();
        assert_eq!(
            warnings,
            vec!["sinfo: error: Invalid job format specification: bogus"]
        );
        let kinds: Vec<FieldKind> = format.fields.iter().map(|f| f.kind).collect();
        assert_eq!(
            kinds,
            vec![NodeList, StateLong, CpusState, Invalid, GresUsed]
        );
        assert_eq!(format.fields[0].width, 20);
        assert_eq!(format.fields[0].suffix, "");
        assert_eq!(format.fields[1].width, 11);
        assert!(format.fields[1].right_aligned);
        assert_eq!(format.fields[1].suffix, " ");
        assert_eq!(format.fields[2].suffix, "|");
        assert_eq!(format.fields[3].suffix, "x");
        let error = Format::parse_long("nodelist,port").unwrap_err();
        assert_eq!(
            error.stderr_text(),
            "sinfo: error: -O Port is not supported by Corral yet\n"
        );
        assert_eq!(
            Format::parse_long("x:99999999999999999999")
                .unwrap()
                .0
                .fields[0]
                .width,
            WIDTH_MAX
        );
    }

    #[test]
    fn fits_like_print_str() {
        assert_eq!(fit("STATE", 6, true, true), " STATE");
        assert_eq!(fit("OVERSUBSCRIBE", 8, true, true), "OVERSUBS");
        assert_eq!(fit("NODELIST", 3, true, false), "NODELIST");
        assert_eq!(fit("abcdef", 3, false, false), "abc");
        assert_eq!(fit("ab", 4, false, true), "ab  ");
        assert_eq!(fit("ab", 0, true, true), "ab");
    }

    proptest! {
        #[test]
        fn any_format_parses(format in "\\PC{0,30}") {
            let _ = Format::parse(&format);
            let _ = Format::parse_long(&format);
        }
    }
}
