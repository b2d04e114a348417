//! sinfo's lines: nodes grouped into records (`sinfo.c`), sorted
//! (`sort.c`) and printed field by field (`print.c`).
//!
//! A record is one partition and the nodes that look alike in every field
//! the format shows: same state if a state is shown, same reason if the
//! reason is shown, and so on; `-e` also splits on CPUs, memory and the
//! other sizes, which are otherwise shown as `min+`. `-N` gives each node of
//! each partition its own record. In the partition view every selected
//! partition has a record even without nodes (`0`, `n/a`). A record takes
//! its state, reason and GRES from its first node.

use std::cmp::Ordering;

use corral_state::{hostlist, Node, Partition, PartitionState};

use super::format::{fit, Field, FieldKind, Format};
use super::Query;
use crate::cluster_view::{gres_text, gres_used_text, hostlist_order, ClusterView};
use crate::node_state::{BaseState, NodeState};

/// The narrowest node list and partition columns of the default formats
/// (`MIN_NODE_FIELD_SIZE`, `MIN_PART_FIELD_SIZE`).
const DEFAULT_COLUMN_WIDTH_MIN: usize = 9;
/// Slurm's `NO_VAL` for a reason's user: a node without a reason.
const NO_REASON_UID: u32 = 0xffff_fffe;
/// The user name of uid 0, which an empty record reports (its zeroed
/// reason uid), as `getpwuid(0)` names it.
const UID_ZERO_NAME: &str = "root";

/// One output line.
pub(crate) struct Record<'a> {
    partition: &'a Partition,
    /// Position of the partition in the cluster's list (`#P` sorts on it).
    partition_index: usize,
    /// Unique, in the order added.
    nodes: Vec<&'a Node>,
}

impl<'a> Record<'a> {
    fn first(&self) -> Option<&'a Node> {
        self.nodes.first().copied()
    }

    fn state(&self) -> Option<NodeState> {
        self.first().map(NodeState::for_sinfo)
    }

    /// The node names, sorted as `hostlist_sort` sorts them.
    fn sorted_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.nodes.iter().map(|node| node.name.clone()).collect();
        names.sort_by(|a, b| hostlist_order(a, b));
        names
    }

    fn node_list(&self) -> String {
        hostlist::compress(&self.sorted_names())
    }

    fn first_name(&self) -> String {
        self.sorted_names().into_iter().next().unwrap_or_default()
    }
}

/// Which fields group nodes together (Slurm's `match_flags`).
struct Grouping {
    node_view: bool,
    list_reasons: bool,
    exact: bool,
    partition: bool,
    available: bool,
    time_limit: bool,
    host: bool,
    gres: bool,
    gres_used: bool,
    reason: bool,
    timestamp: bool,
    user: bool,
    state: bool,
    allocated_memory: bool,
    cpus: bool,
    cores: bool,
    memory: bool,
}

impl Grouping {
    fn of(query: &Query) -> Grouping {
        let has = |kinds: &[FieldKind]| kinds.iter().any(|kind| query.format.has(*kind));
        use FieldKind::*;
        Grouping {
            node_view: query.node_view,
            list_reasons: query.list_reasons,
            exact: query.exact,
            partition: has(&[Partition, PartitionName]),
            available: has(&[Available]),
            time_limit: has(&[TimeLimit]),
            host: has(&[Hostnames, NodeAddress]),
            gres: has(&[Gres]),
            gres_used: has(&[GresUsed]),
            reason: has(&[Reason]),
            timestamp: has(&[Timestamp]),
            user: has(&[User, UserLong]),
            state: has(&[StateCompact, StateLong]),
            allocated_memory: has(&[AllocatedMemory]),
            cpus: has(&[Cpus, CpusState]),
            cores: has(&[Cores, SocketsCoresThreads]),
            memory: has(&[Memory]),
        }
    }

    /// `_match_part_data`. Corral's partitions differ only in name, state and
    /// time limit.
    fn partition_matches(&self, record: &Record, partition: &Partition, index: usize) -> bool {
        if self.list_reasons || record.partition_index == index {
            return true;
        }
        !(self.partition
            || (self.available && record.partition.state != partition.state)
            || (self.time_limit && record.partition.max_time_minutes != partition.max_time_minutes))
    }

    /// `_match_node_data`, for a record that has nodes.
    fn node_matches(&self, record: &Record, node: &Node) -> bool {
        let Some(first) = record.first() else {
            return true;
        };
        if self.node_view {
            return false;
        }
        let reason = |n: &Node| n.reason.as_ref().map(|r| r.text.clone());
        let reason_time = |n: &Node| n.reason.as_ref().map_or(0, |r| r.time_ms / 1_000);
        let reason_uid = |n: &Node| n.reason.as_ref().map_or(NO_REASON_UID, |r| r.uid);
        let last_memory = record.nodes.last().map_or(0, |n| n.usage.memory_mb);
        let differs = (self.host && !record.nodes.iter().any(|n| n.name == node.name))
            || (self.gres && gres_text(first) != gres_text(node))
            || (self.gres_used && gres_used_text(first) != gres_used_text(node))
            || (self.reason && reason(first) != reason(node))
            || (self.timestamp && reason_time(first) != reason_time(node))
            || (self.user && reason_uid(first) != reason_uid(node))
            || (self.state
                && NodeState::for_sinfo(first).long_name()
                    != NodeState::for_sinfo(node).long_name())
            || (self.allocated_memory && last_memory != node.usage.memory_mb);
        if differs {
            return false;
        }
        if !self.exact {
            return true;
        }
        let min_cpus = record.nodes.iter().map(|n| n.resources.cpus).min();
        let min_memory = record.nodes.iter().map(|n| n.resources.memory_mb).min();
        !((self.cpus || self.cores) && min_cpus != Some(node.resources.cpus)
            || self.memory && min_memory != Some(node.resources.memory_mb))
    }
}

/// `_build_sinfo_data`, then `sort_sinfo_list`.
pub(crate) fn build<'a>(query: &Query, view: &'a ClusterView) -> Vec<Record<'a>> {
    let grouping = Grouping::of(query);
    let selected = |partition: &Partition| {
        query
            .partitions
            .as_ref()
            .is_none_or(|names| names.contains(&partition.name))
    };
    let mut records: Vec<Record<'a>> = Vec::new();
    if !query.node_view && grouping.partition {
        for (index, partition) in view.partitions.iter().enumerate() {
            if selected(partition) {
                records.push(Record {
                    partition,
                    partition_index: index,
                    nodes: Vec::new(),
                });
            }
        }
    }
    for (index, partition) in view.partitions.iter().enumerate() {
        if !selected(partition) {
            continue;
        }
        for node in view.partition_nodes(partition) {
            if query.shows_node(node) {
                insert(&mut records, &grouping, partition, index, node);
            }
        }
    }
    let default_sort = if query.node_view {
        NODE_VIEW_SORT
    } else {
        PARTITION_VIEW_SORT
    };
    sort(&mut records, query.sort.as_deref().unwrap_or(default_sort));
    records
}

/// `_insert_node_ptr`: into the first record that matches, else a new one.
fn insert<'a>(
    records: &mut Vec<Record<'a>>,
    grouping: &Grouping,
    partition: &'a Partition,
    index: usize,
    node: &'a Node,
) {
    let found = records.iter_mut().find(|record| {
        grouping.partition_matches(record, partition, index)
            && (record.nodes.is_empty() || grouping.node_matches(record, node))
    });
    match found {
        Some(record) => {
            if !record.nodes.iter().any(|n| n.name == node.name) {
                record.nodes.push(node);
            }
        }
        None => records.push(Record {
            partition,
            partition_index: index,
            nodes: vec![node],
        }),
    }
}

/// sinfo's default sort with `-N`: by the first node name.
pub(crate) const NODE_VIEW_SORT: &str = "N";
/// sinfo's default sort otherwise: partition order, then state from the
/// highest value down.
pub(crate) const PARTITION_VIEW_SORT: &str = "#P,-t";

/// `sort_sinfo_list`: the keys are read from the last to the first and
/// each is a stable sort, so the first key decides. `-` before a letter
/// reverses it, `#` before `P` keeps the partitions' configured order;
/// letters sinfo does not sort on are skipped, as sinfo skips them.
fn sort(records: &mut [Record], spec: &str) {
    let chars: Vec<char> = spec.chars().collect();
    for index in (0..chars.len()).rev() {
        let letter = chars[index];
        if matches!(letter, ',' | '#' | '+' | '-') {
            continue;
        }
        let before = index.checked_sub(1).map(|i| chars[i]);
        let reverse = before == Some('-');
        let partition_order = before == Some('#');
        let Some(key) = record_key(letter, partition_order) else {
            continue;
        };
        records.sort_by(|a, b| {
            let order = compare_records(key, a, b);
            if reverse {
                order.reverse()
            } else {
                order
            }
        });
    }
}

/// What a sinfo sort letter compares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum RecordKey {
    Available,
    NodesAllocated,
    Cpus,
    Nodes,
    ReasonTime,
    TimeLimit,
    Memory,
    NodeList,
    PartitionName,
    PartitionIndex,
    Reason,
    State,
    /// Fields equal on every Corral record (features, groups, weight,
    /// sockets, threads, priority, ...).
    Constant,
}

fn record_key(letter: char, partition_order: bool) -> Option<RecordKey> {
    Some(match letter {
        'a' => RecordKey::Available,
        'A' | 'F' => RecordKey::NodesAllocated,
        'c' | 'Y' | 'z' => RecordKey::Cpus,
        'D' => RecordKey::Nodes,
        'E' => RecordKey::ReasonTime,
        'l' => RecordKey::TimeLimit,
        'm' => RecordKey::Memory,
        'n' | 'N' | 'o' => RecordKey::NodeList,
        'P' if partition_order => RecordKey::PartitionIndex,
        'P' => RecordKey::PartitionName,
        'R' => RecordKey::Reason,
        't' | 'T' => RecordKey::State,
        'd' | 'f' | 'g' | 'h' | 'M' | 'O' | 'p' | 'r' | 's' | 'w' | 'X' | 'Z' => {
            RecordKey::Constant
        }
        _ => return None,
    })
}

/// Slurm's `state_up` values: up is submit and schedule.
fn partition_state_value(state: PartitionState) -> u32 {
    match state {
        PartitionState::Up => 3,
        PartitionState::Down => 1,
        PartitionState::Drain => 2,
        PartitionState::Inactive => 0,
    }
}

fn compare_records(key: RecordKey, a: &Record, b: &Record) -> Ordering {
    let min = |record: &Record, value: &dyn Fn(&Node) -> u64| {
        record
            .nodes
            .iter()
            .map(|node| value(node))
            .min()
            .unwrap_or(0)
    };
    match key {
        RecordKey::Available => {
            partition_state_value(a.partition.state).cmp(&partition_state_value(b.partition.state))
        }
        RecordKey::NodesAllocated => node_counts(a).allocated.cmp(&node_counts(b).allocated),
        RecordKey::Cpus => {
            let cpus = |node: &Node| u64::from(node.resources.cpus);
            min(a, &cpus).cmp(&min(b, &cpus))
        }
        RecordKey::Nodes => a.nodes.len().cmp(&b.nodes.len()),
        RecordKey::ReasonTime => {
            let time = |record: &Record| {
                record
                    .first()
                    .and_then(|node| node.reason.as_ref())
                    .map_or(0, |reason| reason.time_ms / 1_000)
            };
            time(a).cmp(&time(b))
        }
        RecordKey::TimeLimit => {
            let limit = |record: &Record| record.partition.max_time_minutes.unwrap_or(u32::MAX);
            limit(a).cmp(&limit(b))
        }
        RecordKey::Memory => {
            let memory = |node: &Node| node.resources.memory_mb;
            min(a, &memory).cmp(&min(b, &memory))
        }
        RecordKey::NodeList => node_name_order(&a.first_name(), &b.first_name()),
        RecordKey::PartitionName => a.partition.name.cmp(&b.partition.name),
        RecordKey::PartitionIndex => a.partition_index.cmp(&b.partition_index),
        RecordKey::Reason => {
            let reason = |record: &Record| {
                record
                    .first()
                    .and_then(|node| node.reason.as_ref())
                    .map(|reason| reason.text.clone())
                    .unwrap_or_default()
            };
            reason(a).cmp(&reason(b))
        }
        RecordKey::State => {
            let state = |r: &Record| r.state().map_or(0, NodeState::slurm_value);
            state(a).cmp(&state(b))
        }
        RecordKey::Constant => Ordering::Equal,
    }
}

/// `_sort_by_node_list`: names compare as text, except that digits
/// compare as numbers (`n9` before `n10`). Slurm compares the numbers at the
/// first difference only, which is not a total order for names such as
/// `n1a`; comparing every run of digits agrees with it on usual names and
/// stays a total order.
fn node_name_order(a: &str, b: &str) -> Ordering {
    chunks(a).cmp(&chunks(b)).then_with(|| a.cmp(b))
}

/// A name as alternating runs of text and numbers.
fn chunks(name: &str) -> Vec<(String, u128)> {
    let mut chunks = Vec::new();
    let mut rest = name;
    while !rest.is_empty() {
        let text_len = rest.bytes().take_while(|b| !b.is_ascii_digit()).count();
        let (text, after) = rest.split_at(text_len);
        let digits_len = after.bytes().take_while(u8::is_ascii_digit).count();
        let (digits, after) = after.split_at(digits_len);
        chunks.push((text.to_string(), digits.parse().unwrap_or(0)));
        rest = after;
    }
    chunks
}

/// The widths the default formats compute from the data.
pub(crate) struct ColumnWidths {
    node_list: Option<usize>,
    partition: Option<usize>,
}

impl ColumnWidths {
    pub(crate) fn of(query: &Query, records: &[Record]) -> ColumnWidths {
        let node_list = query.node_field_flag.then(|| {
            records
                .iter()
                .map(|record| record.node_list().len())
                .fold(DEFAULT_COLUMN_WIDTH_MIN, usize::max)
        });
        let partition = query.part_field_flag.then(|| {
            records
                .iter()
                .map(|record| record.partition.name.len() + usize::from(record.partition.default))
                .fold(DEFAULT_COLUMN_WIDTH_MIN, usize::max)
        });
        ColumnWidths {
            node_list,
            partition,
        }
    }

    fn width(&self, field: &Field) -> usize {
        match field.kind {
            FieldKind::NodeList | FieldKind::Hostnames => self.node_list.unwrap_or(field.width),
            FieldKind::Partition | FieldKind::PartitionName => {
                self.partition.unwrap_or(field.width)
            }
            _ => field.width,
        }
    }
}

/// The header line.
pub(crate) fn header_line(format: &Format, widths: &ColumnWidths) -> String {
    let mut line = format.prefix.clone();
    for field in &format.fields {
        if field.kind != FieldKind::Invalid {
            line.push_str(&fit(
                field.kind.header(),
                widths.width(field),
                field.right_aligned,
                field.kind.header_is_cut(),
            ));
        }
        line.push_str(&field.suffix);
    }
    line.push('\n');
    line
}

/// One record's line.
pub(crate) fn record_line(
    record: &Record,
    query: &Query,
    view: &ClusterView,
    widths: &ColumnWidths,
) -> String {
    let mut line = query.format.prefix.clone();
    for field in &query.format.fields {
        if field.kind != FieldKind::Invalid {
            let width = widths.width(field);
            let value = value(field.kind, record, query, view, width);
            line.push_str(&fit(&value, width, field.right_aligned, true));
        }
        line.push_str(&field.suffix);
    }
    line.push('\n');
    line
}

/// Node and CPU counts (`_update_sinfo`): allocated, idle, other, total.
#[derive(Default)]
struct Counts {
    allocated: u64,
    idle: u64,
    other: u64,
    total: u64,
}

impl Counts {
    fn text(&self) -> String {
        format!(
            "{}/{}/{}/{}",
            self.allocated, self.idle, self.other, self.total
        )
    }
}

/// CPUs: a node's allocated CPUs count as allocated, the rest as other on a
/// drained or down node, else as idle.
fn cpu_counts(record: &Record) -> Counts {
    let mut counts = Counts::default();
    for node in &record.nodes {
        let state = NodeState::for_sinfo(node);
        let total = u64::from(node.resources.cpus);
        let allocated = u64::from(node.usage.cpus).min(total);
        counts.total += total;
        counts.allocated += allocated;
        if state.drain || state.base == BaseState::Down {
            counts.other += total - allocated;
        } else {
            counts.idle += total - allocated;
        }
    }
    counts
}

/// Nodes by state: a node is allocated when its base state is allocated or
/// mixed, other when drained or down, else idle.
fn node_counts(record: &Record) -> Counts {
    let mut counts = Counts::default();
    for node in &record.nodes {
        let state = NodeState::for_sinfo(node);
        counts.total += 1;
        if matches!(state.base, BaseState::Allocated | BaseState::Mixed) {
            counts.allocated += 1;
        } else if state.drain || state.base == BaseState::Down {
            counts.other += 1;
        } else {
            counts.idle += 1;
        }
    }
    counts
}

/// `_build_min_max_*_string` without ranges: `64`, or `32+` when the
/// record's nodes differ; 0 for a record without nodes.
fn min_plus(record: &Record, value: impl Fn(&Node) -> u64, text: impl Fn(u64) -> String) -> String {
    let min = record.nodes.iter().map(|n| value(n)).min().unwrap_or(0);
    let max = record.nodes.iter().map(|n| value(n)).max().unwrap_or(0);
    if min == max {
        text(max)
    } else {
        format!("{}+", text(min))
    }
}

/// `convert_num_unit(.., UNIT_NONE, NO_VAL, CONVERT_NUM_UNIT_EXACT)`: `64`,
/// `1K`, `1.50K`; `--noconvert` prints the number.
fn count_text(value: u64, convert: bool) -> String {
    const UNITS: [&str; 6] = ["", "K", "M", "G", "T", "P"];
    const DIVISOR: u64 = 1_024;
    if !convert || value == 0 {
        return value.to_string();
    }
    let mut number = value as f64;
    let mut unit = 0;
    while number >= DIVISOR as f64
        && (number as u64).is_multiple_of(DIVISOR / 2)
        && unit + 1 < UNITS.len()
    {
        number /= DIVISOR as f64;
        unit += 1;
    }
    if number.fract() == 0.0 {
        format!("{}{}", number as u64, UNITS[unit])
    } else {
        format!("{number:.2}{}", UNITS[unit])
    }
}

/// `_print_secs`: `M:SS`, `H:MM:SS`, `D-HH:MM:SS`.
fn duration_text(seconds: u64) -> String {
    let (days, hours, minutes, secs) = (
        seconds / 86_400,
        seconds / 3_600 % 24,
        seconds / 60 % 60,
        seconds % 60,
    );
    if days > 0 {
        format!("{days}-{hours:02}:{minutes:02}:{secs:02}")
    } else if hours > 0 {
        format!("{hours}:{minutes:02}:{secs:02}")
    } else {
        format!("{minutes}:{secs:02}")
    }
}

fn value(
    kind: FieldKind,
    record: &Record,
    query: &Query,
    view: &ClusterView,
    width: usize,
) -> String {
    use FieldKind::*;
    let partition = record.partition;
    let first = record.first();
    let reason = first.and_then(|node| node.reason.as_ref());
    let number = |n: u64| n.to_string();
    match kind {
        Available => match partition.state {
            PartitionState::Up => "up",
            PartitionState::Down => "down",
            PartitionState::Drain => "drain",
            PartitionState::Inactive => "inactive",
        }
        .to_string(),
        NodesAllocatedIdle => {
            let counts = node_counts(record);
            format!("{}/{}", counts.allocated, counts.idle)
        }
        ActiveFeatures | Features => "(null)".to_string(),
        MaxCpusPerNode => "UNLIMITED".to_string(),
        Cpus => min_plus(
            record,
            |n| u64::from(n.resources.cpus),
            |n| count_text(n, query.convert_units),
        ),
        CpusState => cpu_counts(record).text(),
        Disk => min_plus(record, |_| 0, number),
        Nodes => record.nodes.len().to_string(),
        FreeMemory if record.nodes.is_empty() => "0".to_string(),
        FreeMemory => "N/A".to_string(),
        Reason => reason.map_or("none", |r| r.text.as_str()).to_string(),
        NodesState => node_counts(record).text(),
        Groups | AllocNodes => "all".to_string(),
        Gres => first
            .and_then(gres_text)
            .unwrap_or_else(|| "(null)".to_string()),
        GresUsed => first
            .and_then(gres_used_text)
            .unwrap_or_else(|| "(null)".to_string()),
        OverSubscribe => "NO".to_string(),
        Timestamp => match reason {
            Some(r) if r.time_ms >= 1_000 => view.time_text(Some(r.time_ms)),
            _ => "Unknown".to_string(),
        },
        PriorityJobFactor | PriorityTier => "1".to_string(),
        TimeLimit => match partition.max_time_minutes {
            None => "infinite".to_string(),
            Some(minutes) => duration_text(u64::from(minutes) * 60),
        },
        DefaultTime => "n/a".to_string(),
        Memory => min_plus(record, |n| n.resources.memory_mb, number),
        PreemptMode => "OFF".to_string(),
        Hostnames | NodeList | NodeAddress => record.node_list(),
        CpuLoad if record.nodes.is_empty() => "0.00".to_string(),
        CpuLoad => "N/A".to_string(),
        Partition => partition_with_star(partition, width),
        Root => "no".to_string(),
        PartitionName => partition.name.clone(),
        JobSize => "1-infinite".to_string(),
        StateCompact => record
            .state()
            .map_or("n/a".to_string(), |s| s.compact_name().to_lowercase()),
        StateLong => record
            .state()
            .map_or("n/a".to_string(), |s| s.long_name().to_lowercase()),
        User => match (first, reason) {
            (None, _) => UID_ZERO_NAME.to_string(),
            (Some(_), Some(r)) => r.user.clone(),
            (Some(_), None) => "Unknown".to_string(),
        },
        UserLong => match (first, reason) {
            (None, _) => format!("{UID_ZERO_NAME}(0)"),
            (Some(_), Some(r)) => format!("{}({})", r.user, r.uid),
            (Some(_), None) => "Unknown".to_string(),
        },
        Version | Cluster => "N/A".to_string(),
        Weight | Sockets | Threads => min_plus(record, |_| 1, number),
        Cores => min_plus(
            record,
            |n| u64::from(n.resources.cpus),
            |n| count_text(n, query.convert_units),
        ),
        SocketsCoresThreads => {
            let one = min_plus(record, |_| 1, number);
            let cores = min_plus(
                record,
                |n| u64::from(n.resources.cpus),
                |n| count_text(n, query.convert_units),
            );
            format!("{one}:{cores}:{one}")
        }
        AllocatedMemory => record
            .nodes
            .last()
            .map_or(0, |n| n.usage.memory_mb)
            .to_string(),
        Invalid => String::new(),
    }
}

/// `%P`: the name with `*` after the default partition, the `*` replacing
/// the last character that fits when the name fills the width.
fn partition_with_star(partition: &Partition, width: usize) -> String {
    if !partition.default {
        return partition.name.clone();
    }
    let length = partition.name.chars().count();
    if width == 0 || length < width {
        format!("{}*", partition.name)
    } else {
        let kept: String = partition.name.chars().take(width - 1).collect();
        format!("{kept}*")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_names_sort_numerically() {
        let mut names = vec!["n10", "n9", "n1", "m2", "n1a", "rack2-n3", "rack10-n1"];
        names.sort_by(|a, b| node_name_order(a, b));
        assert_eq!(
            names,
            vec!["m2", "n1", "n1a", "n9", "n10", "rack2-n3", "rack10-n1"]
        );
    }

    #[test]
    fn counts_convert_like_convert_num_unit() {
        assert_eq!(count_text(64, true), "64");
        assert_eq!(count_text(1_024, true), "1K");
        assert_eq!(count_text(1_536, true), "1.50K");
        assert_eq!(count_text(1_000, true), "1000");
        assert_eq!(count_text(1_024, false), "1024");
        assert_eq!(count_text(0, true), "0");
    }

    #[test]
    fn durations_like_print_secs() {
        assert_eq!(duration_text(0), "0:00");
        assert_eq!(duration_text(30 * 60), "30:00");
        assert_eq!(duration_text(3_600), "1:00:00");
        assert_eq!(duration_text(86_400 + 61), "1-00:01:01");
    }

    #[test]
    fn default_partition_star() {
        let mut p = crate::cluster_view::tests::partition("verylong", "", true);
        assert_eq!(partition_with_star(&p, 0), "verylong*");
        assert_eq!(partition_with_star(&p, 9), "verylong*");
        assert_eq!(partition_with_star(&p, 5), "very*");
        p.default = false;
        assert_eq!(partition_with_star(&p, 5), "verylong");
    }
}
