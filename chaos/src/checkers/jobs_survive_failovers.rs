//! Promise 8: running jobs keep running through any controller failover.
//!
//! Every job of the workload exits 0 on its own, so a job whose run was
//! recorded can only end COMPLETED, or CANCELLED by a client. Anything else
//! is a job the cluster broke: FAILED or TIMEOUT always; NODE_FAIL unless an
//! agent fault (`kill-agent`) hit the node it ran on, which is the one
//! legitimate way a running job dies. Killing, pausing or cutting off
//! controllers must never end a job.
//!
//! Cannot detect: a job killed and requeued and then completed (its second
//! run is what `ran-at-most-once` allows after a requeue; the workload does
//! not ask for requeues, so none is expected), or a job whose process was
//! killed without the cluster noticing (its end would still be recorded as
//! a failure by the agent, which this checker does see).

use super::{violation, Index, Violation};
use crate::history::History;

pub const NAME: &str = "jobs-survive-failovers";

/// The fault kind that may legitimately end a running job.
const AGENT_FAULT: &str = "kill-agent";

pub(crate) fn check_indexed(index: &Index) -> Vec<Violation> {
    check(index.history)
}

pub fn check(history: &History) -> Vec<Violation> {
    let final_state = &history.final_state;
    let mut violations = Vec::new();
    for job in &final_state.jobs {
        let ran_on: Vec<&str> = final_state
            .runs
            .iter()
            .filter(|run| run.job_id == job.job_id)
            .map(|run| run.node.as_str())
            .collect();
        if ran_on.is_empty() {
            continue;
        }
        let broken = match job.state.as_str() {
            "COMPLETED" | "CANCELLED" => false,
            "NODE_FAIL" => !ran_on.iter().any(|node| agent_fault_hit(history, node)),
            _ => true,
        };
        if broken {
            violations.push(violation(
                NAME,
                format!(
                    "job {} ran and ended {}, with no agent fault on its node to explain it",
                    job.job_id, job.state
                ),
                vec![format!("job {} ran on {}", job.job_id, ran_on.join(","))],
            ));
        }
    }
    violations
}

/// Whether an agent fault hit `node`'s agent.
fn agent_fault_hit(history: &History, node: &str) -> bool {
    let agent = format!("agent-{node}");
    history
        .faults
        .iter()
        .any(|fault| fault.kind == AGENT_FAULT && fault.targets.contains(&agent))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkers::testing::*;

    #[test]
    fn completed_and_cancelled_jobs_pass() {
        assert_eq!(check(&clean_history()), Vec::new());
    }

    #[test]
    fn a_job_failed_by_a_controller_fault_is_flagged() {
        let mut history = clean_history();
        history.final_state.jobs[0].state = "NODE_FAIL".to_string();
        let violations = check(&history);
        assert_eq!(violations.len(), 1, "{violations:?}");
        assert_eq!(violations[0].checker, NAME);
        assert!(violations[0]
            .message
            .contains("job 1 ran and ended NODE_FAIL"));
        history.final_state.jobs[0].state = "FAILED".to_string();
        assert_eq!(check(&history).len(), 1);
    }

    #[test]
    fn node_fail_after_an_agent_fault_on_its_node_passes() {
        let mut history = clean_history();
        history.final_state.jobs[0].state = "NODE_FAIL".to_string();
        let node = history.final_state.runs[0].node.clone();
        history.faults.push(fault_of(
            2,
            AGENT_FAULT,
            &format!("agent-{node}"),
            11_000,
            Some(12_000),
        ));
        assert_eq!(check(&history), Vec::new());
        // An agent fault elsewhere explains nothing.
        history.faults.last_mut().unwrap().targets = vec!["agent-node999".to_string()];
        assert_eq!(check(&history).len(), 1);
    }
}
