//! What `sinfo` and `scontrol show node|partition` are given: the nodes and
//! partitions of one reply from the cluster, and the time and zone to print
//! them in. Also the few node facts both print the same way (`Gres`).

use std::cmp::Ordering;

use corral_state::{Node, Partition};

/// One consistent read of the cluster's nodes and partitions.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ClusterView {
    pub nodes: Vec<Node>,
    /// In the order Slurm lists them (the order of its configuration).
    pub partitions: Vec<Partition>,
    /// The time of the read (`sinfo -l`'s first line).
    pub now_ms: u64,
    /// The UTC offset timestamps are printed in.
    pub utc_offset_seconds: i32,
}

impl ClusterView {
    pub fn node(&self, name: &str) -> Option<&Node> {
        self.nodes.iter().find(|node| node.name == name)
    }

    /// Every node in Slurm's node-table order (see [`hostlist_order`]).
    pub fn nodes_in_order(&self) -> Vec<&Node> {
        let mut nodes: Vec<&Node> = self.nodes.iter().collect();
        nodes.sort_by(|a, b| hostlist_order(&a.name, &b.name));
        nodes
    }

    /// The nodes of a partition, in node-table order.
    pub fn partition_nodes(&self, partition: &Partition) -> Vec<&Node> {
        let names = partition.node_names(self.nodes.iter().map(|node| &node.name));
        let mut nodes: Vec<&Node> = names.iter().filter_map(|name| self.node(name)).collect();
        nodes.sort_by(|a, b| hostlist_order(&a.name, &b.name));
        nodes
    }

    /// The partitions that include a node, in partition order.
    pub fn partitions_of(&self, node: &Node) -> Vec<&Partition> {
        self.partitions
            .iter()
            .filter(|partition| {
                partition
                    .node_names(std::iter::once(&node.name))
                    .contains(&node.name)
            })
            .collect()
    }

    /// `slurm_make_time_str`: `2026-11-22T00:03:39`, `Unknown` for none.
    pub fn time_text(&self, unix_ms: Option<u64>) -> String {
        crate::time::slurm_time_text(unix_ms, self.utc_offset_seconds)
    }
}

/// Slurm's order of node names (`hostlist_sort`): by the text before the
/// trailing number, then by that number, then by the whole name.
pub fn hostlist_order(a: &str, b: &str) -> Ordering {
    let split = |name: &str| {
        let digits = name.bytes().rev().take_while(u8::is_ascii_digit).count();
        let (prefix, number) = name.split_at(name.len() - digits);
        (prefix.to_string(), number.parse::<u128>().ok())
    };
    split(a).cmp(&split(b)).then_with(|| a.cmp(b))
}

/// A node's `Gres` as Slurm prints it: `gpu:4`; `None` without GPUs.
pub fn gres_text(node: &Node) -> Option<String> {
    match node.resources.gpus.len() {
        0 => None,
        count => Some(format!("gpu:{count}")),
    }
}

/// A node's `GresUsed`: `gpu:2(IDX:0-1)`, `gpu:0(IDX:N/A)`; `None` without
/// GPUs.
pub fn gres_used_text(node: &Node) -> Option<String> {
    gres_text(node)?;
    let used: Vec<u32> = node.usage.gpus.iter().copied().collect();
    let indices = if used.is_empty() {
        "N/A".to_string()
    } else {
        index_ranges(&used)
    };
    Some(format!("gpu:{}(IDX:{indices})", used.len()))
}

/// Sorted indices as Slurm's `bit_fmt` prints them: `0-1,3`.
fn index_ranges(sorted: &[u32]) -> String {
    let mut ranges: Vec<(u32, u32)> = Vec::new();
    for &index in sorted {
        match ranges.last_mut() {
            Some((_, hi)) if hi.checked_add(1) == Some(index) => *hi = index,
            _ => ranges.push((index, index)),
        }
    }
    ranges
        .iter()
        .map(|&(lo, hi)| {
            if lo == hi {
                lo.to_string()
            } else {
                format!("{lo}-{hi}")
            }
        })
        .collect::<Vec<_>>()
        .join(",")
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use corral_state::{Gpu, NodeAvailability, NodeResources, PartitionState};

    /// An up, idle node.
    pub(crate) fn node(name: &str, cpus: u32, memory_mb: u64) -> Node {
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
        node
    }

    pub(crate) fn partition(name: &str, nodes: &str, default: bool) -> Partition {
        Partition {
            name: name.to_string(),
            nodes: nodes.to_string(),
            default,
            max_time_minutes: None,
            state: PartitionState::Up,
        }
    }

    #[test]
    fn node_table_order_is_numeric() {
        let mut names = vec!["n10", "n2", "a", "n1", "m3"];
        names.sort_by(|a, b| hostlist_order(a, b));
        assert_eq!(names, vec!["a", "m3", "n1", "n2", "n10"]);
    }

    #[test]
    fn partitions_of_a_node() {
        let view = ClusterView {
            nodes: vec![node("n1", 4, 100), node("n2", 4, 100)],
            partitions: vec![
                partition("all", "ALL", true),
                partition("one", "n1", false),
                partition("broken", "n[", false),
            ],
            ..ClusterView::default()
        };
        let names = |node: &Node| -> Vec<String> {
            view.partitions_of(node)
                .iter()
                .map(|p| p.name.clone())
                .collect()
        };
        assert_eq!(names(&view.nodes[0]), vec!["all", "one"]);
        assert_eq!(names(&view.nodes[1]), vec!["all"]);
        let members: Vec<&str> = view
            .partition_nodes(&view.partitions[0])
            .iter()
            .map(|n| n.name.as_str())
            .collect();
        assert_eq!(members, vec!["n1", "n2"]);
    }

    #[test]
    fn gres_texts() {
        let mut gpu_node = node("g1", 8, 100);
        assert_eq!(gres_text(&gpu_node), None);
        assert_eq!(gres_used_text(&gpu_node), None);
        gpu_node.resources.gpus = (0..4)
            .map(|index| Gpu {
                index,
                model: String::new(),
            })
            .collect();
        assert_eq!(gres_text(&gpu_node).as_deref(), Some("gpu:4"));
        assert_eq!(gres_used_text(&gpu_node).as_deref(), Some("gpu:0(IDX:N/A)"));
        gpu_node.usage.gpus = [0, 1, 3].into_iter().collect();
        assert_eq!(
            gres_used_text(&gpu_node).as_deref(),
            Some("gpu:3(IDX:0-1,3)")
        );
    }
}
