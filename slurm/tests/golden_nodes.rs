//! Golden tests for the node views: nodes and partitions built to match the
//! cluster of the reference captures of real Slurm 22.05
//! (`tests/reference/`, copied from `shared/slurm-reference/`), printed by
//! sinfo and `scontrol show node|partition`, compared byte for byte.
//!
//! The clusters: `vm` (64 CPUs, 16000 MB, jobs 7 and 8 holding 5 CPUs and no
//! memory) in partition `debug` (captures 19-37, 96, 97, 114); `n1` and `n2`
//! (32 CPUs, 8000 MB each) in `debug` (131-137). Times are UTC, the
//! captures' zone.
//!
//! Normalised, because Corral does not know these values (it prints what
//! Slurm prints for a node that never reported them):
//! - scontrol show node (26, 34): ` Arch=x86_64` and the `OS=` line are left
//!   out; `CPULoad=1.78` is `N/A`, `FreeMem=20333` is `N/A`;
//!   `NodeAddr=127.0.0.1` is the node name; `Version=22.05.8` is `(null)`;
//!   `BootTime` is `None` and `LastBusyTime` `Unknown`.
//! - sinfo after resume (37): Slurm shows the resumed node as `mix*` (not
//!   responding) until its next ping; Corral's resumed node is `mix`.

use corral_slurm::cluster_view::ClusterView;
use corral_slurm::node_info::{show_nodes, show_partitions};
use corral_slurm::scontrol::Layout;
use corral_slurm::sinfo::{self, Invocation};
use corral_slurm::time::unix_ms_from_civil;
use corral_slurm::update_node::{self, NodeChange, NodeUpdate};
use corral_state::{Node, NodeAvailability, NodeReason, NodeResources, Partition, PartitionState};

mod common;
use common::capture;

/// 2026-11-22 at the given time, in UTC.
fn at(hour: i64, minute: i64, second: i64) -> u64 {
    unix_ms_from_civil((2026, 11, 22), (hour, minute, second), 0)
}

fn up_node(name: &str, cpus: u32, memory_mb: u64, registered_ms: u64) -> Node {
    let mut node = Node::new(
        name,
        NodeResources {
            cpus,
            memory_mb,
            gpus: Vec::new(),
        },
        true,
    );
    node.availability = NodeAvailability::Up;
    node.registered_ms = Some(registered_ms);
    node
}

fn debug_partition() -> Partition {
    Partition {
        name: "debug".to_string(),
        nodes: "ALL".to_string(),
        default: true,
        max_time_minutes: None,
        state: PartitionState::Up,
    }
}

fn drained(node: &mut Node, text: &str, time_ms: u64) {
    node.drain = true;
    node.reason = Some(NodeReason {
        text: text.to_string(),
        user: "root".to_string(),
        uid: 0,
        time_ms,
    });
}

/// The one-node cluster of captures 19-37: `vm` running jobs 7 (1 CPU) and
/// 8 (4 CPUs), at 00:03:39.
fn vm_cluster() -> ClusterView {
    let mut vm = up_node("vm", 64, 16_000, at(0, 2, 49));
    vm.usage.cpus = 5;
    ClusterView {
        nodes: vec![vm],
        partitions: vec![debug_partition()],
        now_ms: at(0, 3, 39),
        utc_offset_seconds: 0,
    }
}

/// The two-node cluster of captures 131-137, idle, at 00:54:43.
fn two_node_cluster() -> ClusterView {
    ClusterView {
        nodes: vec![
            up_node("n1", 32, 8_000, at(0, 54, 0)),
            up_node("n2", 32, 8_000, at(0, 54, 0)),
        ],
        partitions: vec![debug_partition()],
        now_ms: at(0, 54, 43),
        utc_offset_seconds: 0,
    }
}

/// sinfo's stdout for `argv` (without `sinfo`).
fn sinfo(words: &[&str], view: &ClusterView) -> String {
    let argv: Vec<String> = std::iter::once("sinfo")
        .chain(words.iter().copied())
        .map(String::from)
        .collect();
    match sinfo::parse_command_line(&argv, &[]).expect("valid options") {
        Invocation::Show(query) => {
            assert!(query.warnings.is_empty(), "{:?}", query.warnings);
            sinfo::render(&query, view)
        }
        Invocation::Print(text) => panic!("printed {text}"),
    }
}

fn normalise_node_record(text: &str) -> String {
    text.lines()
        .filter(|line| !line.trim_start().starts_with("OS="))
        .map(|line| {
            let line = line
                .replace(" Arch=x86_64", "")
                .replace("CPULoad=1.78", "CPULoad=N/A")
                .replace("NodeAddr=127.0.0.1", "NodeAddr=vm")
                .replace("Version=22.05.8", "Version=(null)")
                .replace("FreeMem=20333", "FreeMem=N/A")
                .replace("BootTime=2026-11-21T23:46:17", "BootTime=None")
                .replace("LastBusyTime=2026-11-22T00:03:35", "LastBusyTime=Unknown");
            format!("{line}\n")
        })
        .collect()
}

#[test]
fn sinfo_default_19() {
    let reference = capture("19_sinfo.txt");
    assert_eq!(sinfo(&[], &vm_cluster()), reference.output);
    assert_eq!(reference.exit_code, 0);
}

#[test]
fn sinfo_node_long_20() {
    let reference = capture("20_sinfo_N_l.txt");
    assert_eq!(sinfo(&["-N", "-l"], &vm_cluster()), reference.output);
}

#[test]
fn sinfo_reasons_empty_21() {
    let reference = capture("21_sinfo_R_empty.txt");
    assert_eq!(sinfo(&["-R"], &vm_cluster()), reference.output);
}

#[test]
fn sinfo_format_22() {
    let reference = capture("22_sinfo_o.txt");
    assert_eq!(
        sinfo(&["-h", "-o", "%P %a %l %D %t %N %C %m"], &vm_cluster()),
        reference.output
    );
}

#[test]
fn scontrol_show_node_26() {
    let view = vm_cluster();
    let report = show_nodes(None, &view, Layout::Lines).unwrap();
    let reference = capture("26_scontrol_show_node.txt");
    assert_eq!(report.stdout, normalise_node_record(&reference.output));
    assert_eq!(report.exit_code, reference.exit_code);
}

#[test]
fn scontrol_show_partition_27() {
    let report = show_partitions(None, &vm_cluster(), Layout::Lines);
    let reference = capture("27_scontrol_show_partition.txt");
    assert_eq!(report.stdout, reference.output);
    assert_eq!(report.exit_code, reference.exit_code);
}

#[test]
fn drain_then_resume_31_to_37() {
    // 31: the update is accepted and prints nothing.
    let drain = update_node::parse_update(&["nodename=vm", "state=drain", "reason=test"]).unwrap();
    assert_eq!(
        drain,
        NodeUpdate {
            names: vec!["vm".to_string()],
            change: NodeChange::Drain {
                reason: "test".to_string()
            }
        }
    );
    let reference = capture("31_scontrol_drain.txt");
    assert_eq!((reference.output.as_str(), reference.exit_code), ("", 0));

    let mut view = vm_cluster();
    drained(&mut view.nodes[0], "test", at(0, 3, 39));
    assert_eq!(
        sinfo(&[], &view),
        capture("32_sinfo_after_drain.txt").output
    );
    assert_eq!(
        sinfo(&["-R"], &view),
        capture("33_sinfo_R_after_drain.txt").output
    );
    let report = show_nodes(Some("vm"), &view, Layout::Lines).unwrap();
    let reference = capture("34_scontrol_show_node_drain.txt");
    assert_eq!(report.stdout, normalise_node_record(&reference.output));

    // 36: resume, accepted, silent.
    let resume = update_node::parse_update(&["nodename=vm", "state=resume"]).unwrap();
    assert_eq!(resume.change, NodeChange::Resume);
    let reference = capture("36_scontrol_resume.txt");
    assert_eq!((reference.output.as_str(), reference.exit_code), ("", 0));

    let view = vm_cluster();
    let output = sinfo(&[], &view) + &sinfo(&["-R"], &view);
    let expected = capture("37_sinfo_after_resume.txt")
        .output
        .replace("   mix* vm", "    mix vm");
    assert_eq!(output, expected);
}

#[test]
fn update_of_an_unknown_node_96() {
    // scontrol sends the update; the controller refuses the name.
    let update =
        update_node::parse_update(&["nodename=nosuch", "state=drain", "reason=x"]).unwrap();
    assert_eq!(update.names, vec!["nosuch".to_string()]);
    let error = update_node::update_error(update_node::INVALID_NODE_NAME);
    let reference = capture("96_err_scontrol_update_bad_node.txt");
    assert_eq!(error.stderr_text(), reference.output);
    assert_eq!(error.exit_code, reference.exit_code);
}

#[test]
fn sinfo_unknown_partition_97() {
    let reference = capture("97_err_sinfo_bad_partition.txt");
    assert_eq!(sinfo(&["-p", "nosuch"], &vm_cluster()), reference.output);
    assert_eq!(reference.exit_code, 0);
}

#[test]
fn sinfo_idle_node_114() {
    let mut view = vm_cluster();
    view.nodes[0].usage.cpus = 0;
    let output = sinfo(&[], &view) + &sinfo(&["-N", "-o", "%N %T %C %E"], &view);
    assert_eq!(output, capture("114_followup_sinfo_after_all.txt").output);
}

#[test]
fn two_nodes_132_133() {
    let view = two_node_cluster();
    assert_eq!(sinfo(&[], &view), capture("132_multi_sinfo.txt").output);
    assert_eq!(
        sinfo(&["-N", "-l"], &view),
        capture("133_multi_sinfo_N_l.txt").output
    );
}

#[test]
fn drain_one_of_two_137() {
    let update =
        update_node::parse_update(&["nodename=n2", "state=drain", "reason=maint"]).unwrap();
    assert_eq!(update.names, vec!["n2".to_string()]);
    let mut view = two_node_cluster();
    drained(&mut view.nodes[1], "maint", at(0, 54, 52));
    let output = sinfo(&[], &view) + &sinfo(&["-R"], &view);
    let reference = capture("137_multi_node_drain_one.txt");
    assert_eq!(output, reference.output);
    assert_eq!(reference.exit_code, 0);
}
