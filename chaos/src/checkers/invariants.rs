//! Promise 4: no node is ever allocated beyond its CPUs, memory or GPUs,
//! and the state's other invariants hold (`ClusterState::invariants()`
//! after every `apply`).
//!
//! The controllers check their invariants themselves; this checker reads
//! what they reported (`ControllerReport.alarms`: a panic or a broken
//! invariant at some applied index) and flags every alarm, one violation
//! per controller. It also flags a job state, in the final state or in a
//! read, that is not one of Slurm's long state names.
//!
//! Cannot detect: a broken invariant the controllers did not log (a
//! controller whose log was lost, or an invariant `invariants()` does not
//! state); with no controller report at all it checks nothing about
//! allocations (see [`super::unexercised`]).

use std::collections::BTreeMap;

use super::{evidence, state_rank, violation, Index, Violation};
use crate::history::History;

pub const NAME: &str = "invariants";

pub fn check(history: &History) -> Vec<Violation> {
    check_indexed(&Index::new(history))
}

pub(crate) fn check_indexed(index: &Index) -> Vec<Violation> {
    let history = index.history;
    let mut violations: Vec<Violation> = history
        .final_state
        .controllers
        .iter()
        .filter(|controller| !controller.alarms.is_empty())
        .map(|controller| {
            let applied = controller
                .applied_index
                .map_or_else(|| "unknown".to_string(), |index| index.to_string());
            violation(
                NAME,
                format!(
                    "controller {} reported {} alarm(s) (applied index {applied})",
                    controller.id,
                    controller.alarms.len()
                ),
                controller.alarms.clone(),
            )
        })
        .collect();
    for job in &history.final_state.jobs {
        if state_rank(&job.state).is_none() {
            violations.push(violation(
                NAME,
                format!(
                    "job {} ends in {:?}, which is no Slurm job state",
                    job.job_id, job.state
                ),
                vec![evidence::final_job(job)],
            ));
        }
    }
    violations.extend(illegal_observed_states(index));
    violations
}

/// One violation per illegal state name seen by reads, with its first sighting.
fn illegal_observed_states(index: &Index) -> Vec<Violation> {
    let mut first_seen = BTreeMap::new();
    for read in &index.reads {
        for job in read.jobs {
            if state_rank(&job.state).is_none() {
                first_seen
                    .entry(job.state.as_str())
                    .or_insert_with(|| evidence::observation(read.operation, job));
            }
        }
    }
    first_seen
        .into_iter()
        .map(|(state, sighting)| {
            violation(
                NAME,
                format!("a read saw job state {state:?}, which is no Slurm job state"),
                vec![sighting],
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkers::testing::*;

    #[test]
    fn quiet_controllers_and_legal_states_pass() {
        assert_eq!(check(&clean_history()), Vec::new());
    }

    #[test]
    fn an_alarm_is_flagged_with_its_log_lines() {
        let mut history = clean_history();
        history.final_state.controllers[1].alarms = vec![
            "invariant broken at index 57: node001 allocated 9 of 8 CPUs".to_string(),
            "panicked at state/src/apply.rs:88".to_string(),
        ];
        let violations = check(&history);
        assert_eq!(violations.len(), 1, "{violations:?}");
        assert_eq!(violations[0].checker, NAME);
        assert_eq!(
            violations[0].message,
            "controller 2 reported 2 alarm(s) (applied index 100)"
        );
        assert!(violations[0].evidence[0].contains("9 of 8 CPUs"));
    }

    #[test]
    fn an_illegal_state_name_is_flagged_in_the_final_state_and_in_reads() {
        let mut history = clean_history();
        history.final_state.jobs[0].state = "Completed".to_string();
        history.operations.push(read_ok(
            99,
            20_000,
            20_010,
            &[(1, "DONE", 0), (2, "DONE", 0)],
        ));
        let violations = check(&history);
        assert_eq!(violations.len(), 2, "{violations:?}");
        assert_eq!(
            violations[0].message,
            "job 1 ends in \"Completed\", which is no Slurm job state"
        );
        assert_eq!(
            violations[1].message,
            "a read saw job state \"DONE\", which is no Slurm job state"
        );
    }
}
