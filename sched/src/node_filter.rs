//! `-w/--nodelist` and `-x/--exclude`: the nodes a job must be given and
//! those it must never be, as slots of the pass's view.

use corral_state::Job;

use crate::view::ClusterView;

/// A job's node lists, by slot. Jobs without lists have no filter, so the
/// pass may share what it learns about a demand between them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeFilter {
    /// Required slots, ascending.
    pub required: Vec<usize>,
    /// A required node the cluster does not know: the job cannot start.
    pub required_unknown: bool,
    /// Excluded slots, ascending (unknown names exclude nothing).
    pub excluded: Vec<usize>,
}

impl NodeFilter {
    /// The job's filter, or `None` when it names no nodes.
    pub fn of(view: &ClusterView, job: &Job) -> Option<NodeFilter> {
        let spec = &job.spec;
        if spec.required_nodes.is_empty() && spec.excluded_nodes.is_empty() {
            return None;
        }
        let slots = |names: &[String]| -> (Vec<usize>, bool) {
            let mut unknown = false;
            let mut slots: Vec<usize> = names
                .iter()
                .filter_map(|name| {
                    let slot = view.slot_of(name);
                    unknown |= slot.is_none();
                    slot
                })
                .collect();
            slots.sort_unstable();
            slots.dedup();
            (slots, unknown)
        };
        let (required, required_unknown) = slots(&spec.required_nodes);
        let (excluded, _) = slots(&spec.excluded_nodes);
        Some(NodeFilter {
            required,
            required_unknown,
            excluded,
        })
    }

    pub fn requires(&self, slot: usize) -> bool {
        self.required.binary_search(&slot).is_ok()
    }

    pub fn excludes(&self, slot: usize) -> bool {
        self.excluded.binary_search(&slot).is_ok()
    }
}
