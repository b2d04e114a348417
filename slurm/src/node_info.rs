//! `scontrol show node` and `scontrol show partition`
//! (`slurm_sprint_node_table`, `slurm_sprint_partition_info`, and
//! scontrol's `info_node.c`, `info_part.c`).
//!
//! A record is a list of lines of `Key=Value` items, joined by a newline and
//! three spaces and ended by a blank line; with `-o`, joined by a space and
//! ended by a newline. Lines keep Slurm's trailing spaces (`NodeName=vm
//! CoresPerSocket=64 `).
//!
//! What Corral does not know prints as Slurm prints an unset value:
//! `Arch` and `OS` are left out, `CPULoad=N/A`, `FreeMem=N/A`,
//! `Version=(null)`, `BootTime=None`, `LastBusyTime=Unknown`; a node's
//! address and host name are its name (Slurm's defaults). A node has one
//! socket, one thread per core and as many cores as CPUs.

use corral_state::{hostlist, Node, Partition};

use crate::cluster_view::{gres_text, ClusterView};
use crate::error::{SlurmError, EXIT_FAILURE};
use crate::memory::format_megabytes;
use crate::node_state::{keyword_matches, NodeState};
use crate::scontrol::Layout;
use crate::time::{limit_minutes_text, TimeLimit};

/// What `show node` or `show partition` prints on stdout, and its exit code
/// (1 when a named node or partition does not exist; the others still
/// print).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Report {
    pub stdout: String,
    pub exit_code: i32,
}

/// What `scontrol show` is asked to show, among what this module prints.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ShowEntity {
    Nodes,
    Partitions,
}

/// Reads the words after `show` as scontrol's `_show_it` does: an entity
/// keyword (`node`, `nodes`, `n`; `partition`, `PartitionName`, `pa`, any
/// case), then an optional name, attached (`node=vm`) or as the next word.
/// `None` when the entity is not one of these.
pub fn parse_show(words: &[&str]) -> Option<Result<(ShowEntity, Option<String>), SlurmError>> {
    let tag_word = words.first()?;
    let (tag, attached) = match tag_word.split_once('=') {
        Some((tag, value)) => (tag, Some(value)),
        None => (*tag_word, None),
    };
    let entity = if keyword_matches(tag, "nodes", 1) {
        ShowEntity::Nodes
    } else if keyword_matches(tag, "partitions", 2) || keyword_matches(tag, "partitionname", 2) {
        ShowEntity::Partitions
    } else {
        return None;
    };
    if words.len() > 2 {
        return Some(Err(SlurmError::new(
            vec!["too many arguments for keyword:show".to_string()],
            EXIT_FAILURE,
        )));
    }
    let name = attached.or(words.get(1).copied()).map(str::to_string);
    Some(Ok((entity, name)))
}

fn join(lines: &[String], layout: Layout) -> String {
    let (separator, end) = match layout {
        Layout::Lines => ("\n   ", "\n\n"),
        Layout::OneLine => (" ", "\n"),
    };
    format!("{}{end}", lines.join(separator))
}

/// `scontrol show node [LIST]`: every node, or each node of a hostlist in
/// order, `Node X not found` for those that do not exist.
pub fn show_nodes(
    names: Option<&str>,
    view: &ClusterView,
    layout: Layout,
) -> Result<Report, SlurmError> {
    let Some(names) = names else {
        let nodes = view.nodes_in_order();
        if nodes.is_empty() {
            return Ok(Report {
                stdout: "No nodes in the system\n".to_string(),
                exit_code: 0,
            });
        }
        let stdout = nodes
            .iter()
            .map(|node| show_node(node, view, layout))
            .collect();
        return Ok(Report {
            stdout,
            exit_code: 0,
        });
    };
    let names = hostlist::expand(names).map_err(|_| {
        SlurmError::new(
            vec![format!("unable to parse node list {names}")],
            EXIT_FAILURE,
        )
    })?;
    let mut report = Report {
        stdout: String::new(),
        exit_code: 0,
    };
    for name in &names {
        match view.node(name) {
            Some(node) => report.stdout.push_str(&show_node(node, view, layout)),
            None => {
                report.stdout.push_str(&format!("Node {name} not found\n"));
                report.exit_code = EXIT_FAILURE;
            }
        }
    }
    Ok(report)
}

/// One node's record.
pub fn show_node(node: &Node, view: &ClusterView, layout: Layout) -> String {
    join(&node_lines(node, view), layout)
}

fn node_lines(node: &Node, view: &ClusterView) -> Vec<String> {
    let cpus = node.resources.cpus;
    let used_cpus = node.usage.cpus.min(cpus);
    let partitions: Vec<&str> = view
        .partitions_of(node)
        .iter()
        .map(|partition| partition.name.as_str())
        .collect();
    let mut lines = vec![
        format!("NodeName={} CoresPerSocket={cpus} ", node.name),
        format!("CPUAlloc={used_cpus} CPUEfctv={cpus} CPUTot={cpus} CPULoad=N/A"),
        "AvailableFeatures=(null)".to_string(),
        "ActiveFeatures=(null)".to_string(),
        format!(
            "Gres={}",
            gres_text(node).unwrap_or_else(|| "(null)".to_string())
        ),
        format!("NodeAddr={0} NodeHostName={0} Version=(null)", node.name),
        format!(
            "RealMemory={} AllocMem={} FreeMem=N/A Sockets=1 Boards=1",
            node.resources.memory_mb, node.usage.memory_mb
        ),
        format!(
            "State={} ThreadsPerCore=1 TmpDisk=0 Weight=1 Owner=N/A MCS_label=N/A",
            NodeState::for_scontrol(node).complete_name()
        ),
    ];
    if !partitions.is_empty() {
        lines.push(format!("Partitions={} ", partitions.join(",")));
    }
    lines.extend([
        format!(
            "BootTime=None SlurmdStartTime={}",
            match node.registered_ms {
                Some(ms) => view.time_text(Some(ms)),
                None => "None".to_string(),
            }
        ),
        "LastBusyTime=Unknown".to_string(),
        format!("CfgTRES={}", configured_tres(node)),
        format!("AllocTRES={}", allocated_tres(node)),
        "CapWatts=n/a".to_string(),
        "CurrentWatts=0 AveWatts=0".to_string(),
        "ExtSensorsJoules=n/s ExtSensorsWatts=0 ExtSensorsTemp=n/s".to_string(),
    ]);
    lines.extend(reason_lines(node, view));
    lines
}

/// `Reason=text [user@time]`; a reason of several lines continues on
/// lines indented to the text.
fn reason_lines(node: &Node, view: &ClusterView) -> Vec<String> {
    let Some(reason) = node.reason.as_ref().filter(|r| !r.text.is_empty()) else {
        return Vec::new();
    };
    // Continuation lines follow the line separator, then seven spaces.
    let continuation = "       ";
    reason
        .text
        .split('\n')
        .filter(|line| !line.is_empty())
        .enumerate()
        .map(|(index, line)| {
            if index > 0 {
                return format!("{continuation}{line}");
            }
            if reason.time_ms >= 1_000 {
                format!(
                    "Reason={line} [{}@{}]",
                    reason.user,
                    view.time_text(Some(reason.time_ms))
                )
            } else {
                format!("Reason={line}")
            }
        })
        .collect()
}

/// TRES as Slurm lists them, zero counts left out: `cpu=64,mem=16000M,...`.
fn tres_text(items: &[(&str, u64, bool)]) -> String {
    items
        .iter()
        .filter(|(_, count, _)| *count > 0)
        .map(|(name, count, megabytes)| {
            if *megabytes {
                format!("{name}={}", format_megabytes(*count))
            } else {
                format!("{name}={count}")
            }
        })
        .collect::<Vec<_>>()
        .join(",")
}

fn configured_tres(node: &Node) -> String {
    let cpus = u64::from(node.resources.cpus);
    tres_text(&[
        ("cpu", cpus, false),
        ("mem", node.resources.memory_mb, true),
        ("billing", cpus, false),
        ("gres/gpu", node.resources.gpus.len() as u64, false),
    ])
}

fn allocated_tres(node: &Node) -> String {
    tres_text(&[
        ("cpu", u64::from(node.usage.cpus), false),
        ("mem", node.usage.memory_mb, true),
        ("gres/gpu", node.usage.gpus.len() as u64, false),
    ])
}

/// `scontrol show partition [NAME]`.
pub fn show_partitions(name: Option<&str>, view: &ClusterView, layout: Layout) -> Report {
    let shown: Vec<&Partition> = view
        .partitions
        .iter()
        .filter(|partition| name.is_none_or(|name| partition.name == name))
        .take(if name.is_some() { 1 } else { usize::MAX })
        .collect();
    let stdout: String = shown
        .iter()
        .map(|partition| show_partition(partition, view, layout))
        .collect();
    match (shown.is_empty(), name) {
        (true, Some(name)) => Report {
            stdout: format!("Partition {name} not found\n"),
            exit_code: EXIT_FAILURE,
        },
        (true, None) => Report {
            stdout: "No partitions in the system\n".to_string(),
            exit_code: 0,
        },
        (false, _) => Report {
            stdout,
            exit_code: 0,
        },
    }
}

/// One partition's record.
pub fn show_partition(partition: &Partition, view: &ClusterView, layout: Layout) -> String {
    let nodes = view.partition_nodes(partition);
    let names: Vec<String> = nodes.iter().map(|node| node.name.clone()).collect();
    let total_cpus: u64 = nodes.iter().map(|n| u64::from(n.resources.cpus)).sum();
    let total_memory: u64 = nodes.iter().map(|n| n.resources.memory_mb).sum();
    let total_gpus: u64 = nodes.iter().map(|n| n.resources.gpus.len() as u64).sum();
    let node_list = if names.is_empty() {
        "(null)".to_string()
    } else {
        hostlist::compress(&names)
    };
    let tres = tres_text(&[
        ("cpu", total_cpus, false),
        ("mem", total_memory, true),
        ("node", nodes.len() as u64, false),
        ("billing", total_cpus, false),
        ("gres/gpu", total_gpus, false),
    ]);
    let max_time = match partition.max_time_minutes {
        Some(minutes) => limit_minutes_text(TimeLimit::Minutes(minutes)),
        None => limit_minutes_text(TimeLimit::Unlimited),
    };
    let yes_no = |yes: bool| if yes { "YES" } else { "NO" };
    let lines = vec![
        format!("PartitionName={}", partition.name),
        "AllowGroups=ALL AllowAccounts=ALL AllowQos=ALL".to_string(),
        format!(
            "AllocNodes=ALL Default={} QoS=N/A",
            yes_no(partition.default)
        ),
        "DefaultTime=NONE DisableRootJobs=NO ExclusiveUser=NO GraceTime=0 Hidden=NO".to_string(),
        format!("MaxNodes=UNLIMITED MaxTime={max_time} MinNodes=0 LLN=NO MaxCPUsPerNode=UNLIMITED"),
        format!("Nodes={node_list}"),
        "PriorityJobFactor=1 PriorityTier=1 RootOnly=NO ReqResv=NO OverSubscribe=NO".to_string(),
        "OverTimeLimit=NONE PreemptMode=OFF".to_string(),
        format!(
            "State={} TotalCPUs={total_cpus} TotalNodes={} SelectTypeParameters=NONE",
            partition.state.slurm_name(),
            nodes.len()
        ),
        "JobDefaults=(null)".to_string(),
        "DefMemPerNode=UNLIMITED MaxMemPerNode=UNLIMITED".to_string(),
        format!("TRES={}", if tres.is_empty() { "(null)" } else { &tres }),
    ];
    join(&lines, layout)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster_view::tests::{node, partition};
    use corral_state::{Gpu, NodeAvailability, NodeReason};

    fn view() -> ClusterView {
        let mut gpu = node("g1", 8, 2_048);
        gpu.resources.gpus = (0..2)
            .map(|index| Gpu {
                index,
                model: String::new(),
            })
            .collect();
        gpu.usage.cpus = 8;
        gpu.usage.memory_mb = 1_024;
        gpu.usage.gpus = [1].into_iter().collect();
        let mut lost = node("n1", 4, 100);
        lost.availability = NodeAvailability::Unknown;
        ClusterView {
            nodes: vec![lost, gpu],
            partitions: vec![partition("gpu", "g1", false), partition("all", "ALL", true)],
            now_ms: 0,
            utc_offset_seconds: 0,
        }
    }

    #[test]
    fn a_busy_gpu_node() {
        let view = view();
        let text = show_node(view.node("g1").unwrap(), &view, Layout::Lines);
        assert!(text.starts_with(
            "NodeName=g1 CoresPerSocket=8 \n   CPUAlloc=8 CPUEfctv=8 CPUTot=8 CPULoad=N/A\n"
        ));
        assert!(text.contains("\n   Gres=gpu:2\n"));
        assert!(
            text.contains("\n   RealMemory=2048 AllocMem=1024 FreeMem=N/A Sockets=1 Boards=1\n")
        );
        assert!(text.contains("\n   State=ALLOCATED ThreadsPerCore=1 "));
        assert!(text.contains("\n   Partitions=gpu,all \n"));
        assert!(text.contains("\n   CfgTRES=cpu=8,mem=2G,billing=8,gres/gpu=2\n   AllocTRES=cpu=8,mem=1G,gres/gpu=1\n"));
        assert!(text.ends_with("ExtSensorsTemp=n/s\n\n"));
    }

    #[test]
    fn a_node_never_heard_from() {
        let view = view();
        let text = show_node(view.node("n1").unwrap(), &view, Layout::OneLine);
        assert!(text.contains(" State=UNKNOWN+NOT_RESPONDING "));
        assert!(text.contains(" BootTime=None SlurmdStartTime=None "));
        assert!(text.contains(" AllocTRES= CapWatts=n/a "));
        assert!(text.ends_with("ExtSensorsTemp=n/s\n"));
        assert_eq!(text.matches('\n').count(), 1);
    }

    #[test]
    fn reasons_of_several_lines() {
        let mut view = view();
        view.nodes[0].reason = Some(NodeReason {
            text: "disk\nfan".to_string(),
            user: "root".to_string(),
            uid: 0,
            time_ms: 60_000,
        });
        let text = show_node(&view.nodes[0], &view, Layout::Lines);
        assert!(text.ends_with("\n   Reason=disk [root@1970-01-01T00:01:00]\n          fan\n\n"));
    }

    #[test]
    fn node_lists_and_missing_nodes() {
        let view = view();
        let report = show_nodes(Some("g1,x[1-2]"), &view, Layout::OneLine).unwrap();
        assert_eq!(report.exit_code, 1);
        assert!(report.stdout.starts_with("NodeName=g1 "));
        assert!(report
            .stdout
            .ends_with("Node x1 not found\nNode x2 not found\n"));
        let all = show_nodes(None, &view, Layout::OneLine).unwrap();
        assert!(all.stdout.starts_with("NodeName=g1 "));
        assert_eq!(all.stdout.lines().count(), 2);
        let error = show_nodes(Some("n[1-"), &view, Layout::Lines).unwrap_err();
        assert_eq!(error.stderr_text(), "unable to parse node list n[1-\n");
        let empty = ClusterView::default();
        assert_eq!(
            show_nodes(None, &empty, Layout::Lines).unwrap().stdout,
            "No nodes in the system\n"
        );
    }

    #[test]
    fn show_arguments() {
        assert_eq!(
            parse_show(&["node"]).unwrap().unwrap(),
            (ShowEntity::Nodes, None)
        );
        assert_eq!(
            parse_show(&["NODES", "n[1-2]"]).unwrap().unwrap(),
            (ShowEntity::Nodes, Some("n[1-2]".to_string()))
        );
        assert_eq!(
            parse_show(&["n=vm"]).unwrap().unwrap(),
            (ShowEntity::Nodes, Some("vm".to_string()))
        );
        assert_eq!(
            parse_show(&["PartitionName=debug"]).unwrap().unwrap(),
            (ShowEntity::Partitions, Some("debug".to_string()))
        );
        assert_eq!(
            parse_show(&["pa"]).unwrap().unwrap(),
            (ShowEntity::Partitions, None)
        );
        assert!(parse_show(&["p"]).is_none());
        assert!(parse_show(&["job", "3"]).is_none());
        assert!(parse_show(&[]).is_none());
        assert_eq!(
            parse_show(&["node", "a", "b"])
                .unwrap()
                .unwrap_err()
                .stderr_text(),
            "too many arguments for keyword:show\n"
        );
    }

    #[test]
    fn partitions() {
        let view = view();
        let report = show_partitions(Some("all"), &view, Layout::OneLine);
        assert_eq!(report.exit_code, 0);
        assert!(report
            .stdout
            .starts_with("PartitionName=all AllowGroups=ALL"));
        assert!(report.stdout.contains(" Default=YES "));
        assert!(report.stdout.contains(" Nodes=g1,n1 "));
        assert!(report.stdout.contains(" TotalCPUs=12 TotalNodes=2 "));
        assert!(report
            .stdout
            .ends_with(" TRES=cpu=12,mem=2148M,node=2,billing=12,gres/gpu=2\n"));
        let missing = show_partitions(Some("nosuch"), &view, Layout::Lines);
        assert_eq!(missing.stdout, "Partition nosuch not found\n");
        assert_eq!(missing.exit_code, 1);
        let both = show_partitions(None, &view, Layout::Lines);
        assert_eq!(both.stdout.matches("PartitionName=").count(), 2);
        let mut empty = view.clone();
        empty.partitions[0].nodes = String::new();
        empty.partitions[0].max_time_minutes = Some(90);
        let text = show_partition(&empty.partitions[0], &empty, Layout::Lines);
        assert!(text.contains("\n   Nodes=(null)\n"));
        assert!(text.contains(" MaxTime=01:30:00 "));
        assert!(text.ends_with("\n   TRES=(null)\n\n"));
        assert_eq!(
            show_partitions(None, &ClusterView::default(), Layout::Lines).stdout,
            "No partitions in the system\n"
        );
    }
}
