//! Liveness after the faults: once every fault is healed, the cluster
//! accepts a job and runs it (`FinalState.serves_after_healing`).
//!
//! Flags a probe that failed, and a run that never probed (`None`): an
//! unprobed run cannot claim the cluster recovered.
//!
//! Cannot detect: slowness short of failure (the probe has its own
//! deadline; failover times are in the report), or a cluster that serves
//! the probe but not every partition or node.

use super::{violation, Index, Violation};
use crate::history::History;

pub const NAME: &str = "serves-after-healing";

pub(crate) fn check_indexed(index: &Index) -> Vec<Violation> {
    check(index.history)
}

pub fn check(history: &History) -> Vec<Violation> {
    match &history.final_state.serves_after_healing {
        Some(Ok(_)) => Vec::new(),
        Some(Err(error)) => vec![violation(
            NAME,
            "after healing, the cluster did not run a new job".to_string(),
            vec![error.clone()],
        )],
        None => vec![violation(
            NAME,
            "the cluster was not probed after healing, so its recovery is unproven".to_string(),
            Vec::new(),
        )],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkers::testing::*;

    #[test]
    fn a_probe_that_ran_passes() {
        assert_eq!(check(&clean_history()), Vec::new());
    }

    #[test]
    fn a_failed_probe_is_flagged_with_its_error() {
        let mut history = clean_history();
        history.final_state.serves_after_healing = Some(Err("no leader after 30 s".to_string()));
        let violations = check(&history);
        assert_eq!(violations.len(), 1, "{violations:?}");
        assert_eq!(violations[0].checker, NAME);
        assert_eq!(
            violations[0].evidence,
            vec!["no leader after 30 s".to_string()]
        );
    }

    #[test]
    fn a_missing_probe_is_flagged() {
        let mut history = clean_history();
        history.final_state.serves_after_healing = None;
        let violations = check(&history);
        assert_eq!(violations.len(), 1, "{violations:?}");
        assert!(violations[0].message.contains("not probed"));
    }
}
