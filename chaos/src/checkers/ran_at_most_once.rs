//! Promise 3: a job's script starts at most once per allocation.
//!
//! Reads `FinalState.runs`, each line written by a job's script on the
//! node it ran on. Flags:
//! - a job that ran more often than it was queued: runs > 1 + requeue
//!   count (the final state's, or for a purged job the largest a read saw);
//! - runs of jobs that do not exist: not in the final state, and not
//!   explained by the purge of finished jobs (one violation for all);
//! - COMPLETED jobs with no run (one violation for all; the job that
//!   probed the healed cluster, `serves_after_healing`, is left out: its
//!   script is the harness's).
//!
//! Cannot detect: two runs within one allocation when the job was also
//! requeued once and ran only twice in all (the count cannot tell which
//! allocation a run belonged to); a run whose script died before writing
//! its line; runs of jobs that neither the final state nor any read knew.

use std::collections::BTreeMap;

use super::{evidence, violation, Index, Violation};
use crate::history::{History, JobRun};

pub const NAME: &str = "ran-at-most-once";

pub fn check(history: &History) -> Vec<Violation> {
    check_indexed(&Index::new(history))
}

pub(crate) fn check_indexed(index: &Index) -> Vec<Violation> {
    let history = index.history;
    let mut runs: BTreeMap<u32, Vec<&JobRun>> = BTreeMap::new();
    for run in &history.final_state.runs {
        runs.entry(run.job_id).or_default().push(run);
    }
    let mut violations = Vec::new();
    let mut unknown_jobs = Vec::new();
    for (job_id, job_runs) in &runs {
        match requeue_count(index, *job_id) {
            Some(requeue_count) => {
                violations.extend(too_many_runs(index, *job_id, job_runs, requeue_count))
            }
            None => unknown_jobs.push(runs_line(*job_id, job_runs)),
        }
    }
    if !unknown_jobs.is_empty() {
        violations.push(violation(
            NAME,
            format!(
                "{} job(s) ran that do not exist (not in the final state, never seen finished)",
                unknown_jobs.len()
            ),
            unknown_jobs,
        ));
    }
    violations.extend(completed_without_run(history, &runs));
    violations
}

/// How often the job was requeued: in the final state, or for a purged
/// job as the last read saw it (counts only grow). `None`: no such job.
fn requeue_count(index: &Index, job_id: u32) -> Option<u32> {
    if let Some(jobs) = index.final_by_id.get(&job_id) {
        // Several final jobs with one id: ids-unique-increasing says so.
        return jobs.iter().map(|job| job.requeue_count).max();
    }
    if !index.purge_explains(job_id) {
        return None;
    }
    Some(
        index
            .last_seen
            .get(&job_id)
            .map_or(0, |(_, job)| job.requeue_count),
    )
}

fn runs_line(job_id: u32, runs: &[&JobRun]) -> String {
    let nodes: Vec<&str> = runs.iter().map(|run| run.node.as_str()).collect();
    format!(
        "runs of job {job_id}: {} on {}",
        runs.len(),
        nodes.join(", ")
    )
}

fn too_many_runs(
    index: &Index,
    job_id: u32,
    runs: &[&JobRun],
    requeue_count: u32,
) -> Option<Violation> {
    let allowed = 1 + requeue_count as usize;
    (runs.len() > allowed).then(|| {
        let mut evidence = vec![runs_line(job_id, runs)];
        match index.final_job(job_id) {
            Some(job) => evidence.push(evidence::final_job(job)),
            None => evidence.push(format!(
                "job {job_id} is gone (purged); requeued {requeue_count} as last seen"
            )),
        }
        violation(
            NAME,
            format!(
                "job {job_id} ran {} times but was queued only {allowed} time(s)",
                runs.len()
            ),
            evidence,
        )
    })
}

/// One violation for every COMPLETED job without a run, except the probe.
fn completed_without_run(
    history: &History,
    runs: &BTreeMap<u32, Vec<&JobRun>>,
) -> Option<Violation> {
    let probe = match history.final_state.serves_after_healing {
        Some(Ok(job_id)) => Some(job_id),
        _ => None,
    };
    let never_ran: Vec<_> = history
        .final_state
        .jobs
        .iter()
        .filter(|job| job.state == "COMPLETED")
        .filter(|job| !runs.contains_key(&job.job_id) && Some(job.job_id) != probe)
        .collect();
    (!never_ran.is_empty()).then(|| {
        violation(
            NAME,
            format!(
                "{} job(s) are COMPLETED but their script never ran (jobs {})",
                never_ran.len(),
                evidence::id_list(never_ran.iter().map(|job| job.job_id))
            ),
            never_ran
                .iter()
                .map(|job| evidence::final_job(job))
                .collect(),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkers::testing::*;

    #[test]
    fn one_run_per_queueing_passes() {
        assert_eq!(check(&clean_history()), Vec::new());
        let requeued = History {
            final_state: final_with(
                vec![final_job(1, "r1", "COMPLETED", 1)],
                vec![run(1), run(1)],
            ),
            ..History::default()
        };
        assert_eq!(check(&requeued), Vec::new());
    }

    #[test]
    fn a_job_run_twice_without_requeue_is_flagged_with_its_nodes() {
        let history = History {
            final_state: final_with(
                vec![final_job(1, "r1", "COMPLETED", 0)],
                vec![run(1), run(1)],
            ),
            ..History::default()
        };
        let violations = check(&history);
        assert_eq!(violations.len(), 1, "{violations:?}");
        assert_eq!(violations[0].checker, NAME);
        assert_eq!(
            violations[0].message,
            "job 1 ran 2 times but was queued only 1 time(s)"
        );
        assert_eq!(
            violations[0].evidence,
            vec![
                "runs of job 1: 2 on node002, node002".to_string(),
                "final state: job 1 (request r1) COMPLETED, requeued 0".to_string(),
            ]
        );
    }

    #[test]
    fn a_run_of_a_job_that_does_not_exist_is_flagged() {
        let history = History {
            final_state: final_with(vec![], vec![run(42)]),
            ..History::default()
        };
        let violations = check(&history);
        assert_eq!(violations.len(), 1, "{violations:?}");
        assert_eq!(
            violations[0].message,
            "1 job(s) ran that do not exist (not in the final state, never seen finished)"
        );
        assert_eq!(
            violations[0].evidence,
            vec!["runs of job 42: 1 on node003".to_string()]
        );
    }

    #[test]
    fn a_purged_job_is_judged_by_what_reads_saw() {
        let mut history = History {
            operations: vec![read_ok(1, 0, 10, &[(5, "COMPLETED", 0)])],
            final_state: final_with(vec![], vec![run(5)]),
            ..History::default()
        };
        assert_eq!(check(&history), Vec::new());
        history.final_state.runs.push(run(5));
        let violations = check(&history);
        assert_eq!(violations.len(), 1, "{violations:?}");
        assert!(violations[0].evidence[1].contains("purged"));
    }

    #[test]
    fn a_completed_job_without_a_run_is_flagged_but_not_the_probe() {
        let mut history = History {
            final_state: final_with(
                vec![
                    final_job(3, "r3", "COMPLETED", 0),
                    final_job(4, "probe", "COMPLETED", 0),
                ],
                vec![],
            ),
            ..History::default()
        };
        history.final_state.serves_after_healing = Some(Ok(4));
        let violations = check(&history);
        assert_eq!(violations.len(), 1, "{violations:?}");
        assert_eq!(
            violations[0].message,
            "1 job(s) are COMPLETED but their script never ran (jobs 3)"
        );
        assert_eq!(
            violations[0].evidence,
            vec!["final state: job 3 (request r3) COMPLETED, requeued 0".to_string()]
        );
    }
}
