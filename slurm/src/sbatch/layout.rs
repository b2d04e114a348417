//! How many nodes and tasks a job gets, and which nodes it names: Slurm's
//! `_opt_verify` ("massage the numbers"), with `-w/--nodelist`, `-x/--exclude`
//! and `--ntasks-per-node`, and what slurmctld adds when it receives the job
//! (a task count and a per-node limit make a node count).

use corral_state::hostlist;

use super::{failure, submission_failed_error, Settings, COMMAND};
use super::{INVALID_NODE_NAME, NODE_CONFIG_UNAVAILABLE};
use crate::error::{SlurmError, EXIT_FAILURE};

/// `-w` and `-x` as node names, each sorted and without duplicates
/// (Slurm's `hostlist_uniq`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(super) struct NodeLists {
    pub required: Vec<String>,
    pub excluded: Vec<String>,
}

impl NodeLists {
    /// A list slurmctld cannot read is its `Invalid node name specified`.
    /// A file name (anything with a `/`, as Slurm tells them apart) is not
    /// read: Corral does not take node files yet.
    pub fn of(settings: &Settings) -> Result<NodeLists, SlurmError> {
        Ok(NodeLists {
            required: node_names("nodelist", settings.nodelist.as_deref())?,
            excluded: node_names("exclude", settings.exclude.as_deref())?,
        })
    }
}

fn node_names(option: &str, text: Option<&str>) -> Result<Vec<String>, SlurmError> {
    let Some(text) = text else {
        return Ok(Vec::new());
    };
    if text.contains('/') {
        return Err(failure(
            &format!("--{option}=<node file> is not supported by Corral yet"),
            EXIT_FAILURE,
        ));
    }
    let mut names =
        hostlist::expand(text).map_err(|_| submission_failed_error(INVALID_NODE_NAME))?;
    names.sort();
    names.dedup();
    Ok(names)
}

/// The job's size once every option is read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Layout {
    pub min_nodes: u32,
    pub max_nodes: Option<u32>,
    pub ntasks: u32,
    /// `-w`, less the nodes dropped when there are fewer tasks than nodes.
    pub required_nodes: Vec<String>,
}

/// Nodes and tasks: `-w` raises the node count to its length; with
/// `--ntasks-per-node` and no `-n`, the tasks follow from the nodes;
/// one task per node by default; never more nodes than tasks (the last
/// `-w` nodes go, with Slurm's warning); then, as slurmctld does, a task
/// count over `--ntasks-per-node` raises the node count, which must stay
/// within `-N`.
pub(super) fn task_layout(
    settings: &Settings,
    mut required_nodes: Vec<String>,
    warnings: &mut Vec<String>,
) -> Result<Layout, SlurmError> {
    let mut nodes_set = settings.nodes.is_some();
    let (mut min, mut max) = settings.nodes.unwrap_or((1, 0));
    if nodes_set && min == 0 {
        return Err(failure(
            "--nodes=0 is not supported by Corral yet",
            EXIT_FAILURE,
        ));
    }
    if !required_nodes.is_empty() {
        let count = u32::try_from(required_nodes.len()).unwrap_or(u32::MAX);
        min = if nodes_set { min.max(count) } else { count };
        nodes_set = true;
    }
    let mut ntasks = settings.ntasks;
    if let (Some(per_node), None) = (settings.ntasks_per_node, ntasks) {
        if max == 0 || min == max {
            ntasks = Some(min.saturating_mul(per_node));
        }
    }
    if max != 0 && min > max {
        return Err(failure(
            &format!("invalid number of nodes (-N {min}-{max})"),
            EXIT_FAILURE,
        ));
    }
    let ntasks = match ntasks {
        // One task per node; over a range, per node of the minimum Corral
        // allocates.
        None => settings
            .ntasks_per_node
            .map_or(min, |per_node| min.saturating_mul(per_node)),
        Some(ntasks) => {
            if nodes_set {
                if max != 0 && ntasks < max {
                    max = ntasks;
                }
                if ntasks < min {
                    warnings.push(format!(
                        "{COMMAND}: Warning: can't run {ntasks} processes on {min} nodes, setting nnodes to {ntasks}"
                    ));
                    min = ntasks;
                    max = ntasks;
                    required_nodes.truncate(ntasks as usize);
                }
            }
            ntasks
        }
    };
    if let Some(per_node) = settings.ntasks_per_node {
        let needed = ntasks.div_ceil(per_node);
        if needed > min {
            if max != 0 && needed > max {
                return Err(submission_failed_error(NODE_CONFIG_UNAVAILABLE));
            }
            min = needed;
        }
    }
    Ok(Layout {
        min_nodes: min,
        max_nodes: (max != 0 && max != min).then_some(max),
        ntasks,
        required_nodes,
    })
}
