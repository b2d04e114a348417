//! Promise 7: every finished job reaches the accounting database exactly
//! once, as it ended (`FinalState.accounting`, the database's job rows
//! read after healing, once the leader reported its outbox drained).
//!
//! Flags a job that ended in the final state and has no row, or a row in
//! another state; two rows of one job; and a database that could not be
//! read after healing.
//!
//! Cannot detect: a row written and later lost by the database itself
//! while the harness was not looking, or steps' rows (only jobs are read).
//! Jobs purged from the final state are not compared (their rows are
//! kept, and any row's state must still be a final one).

use std::collections::BTreeMap;

use super::{evidence, violation, Index, Violation};
use crate::history::History;

pub const NAME: &str = "accounted-once";

pub(crate) fn check_indexed(index: &Index) -> Vec<Violation> {
    check(index.history)
}

fn terminal(state: &str) -> bool {
    corral_state::JobState::from_slurm_name(state).is_some_and(|s| s.is_terminal())
}

pub fn check(history: &History) -> Vec<Violation> {
    let rows = match &history.final_state.accounting {
        None => return Vec::new(),
        Some(Err(error)) => {
            return vec![violation(
                NAME,
                "the accounting database could not be read after healing".to_string(),
                vec![error.clone()],
            )]
        }
        Some(Ok(rows)) => rows,
    };
    let mut by_job: BTreeMap<u32, Vec<&str>> = BTreeMap::new();
    for row in rows {
        by_job
            .entry(row.job_id)
            .or_default()
            .push(row.state.as_str());
    }
    let mut violations = Vec::new();
    let twice: Vec<u32> = by_job
        .iter()
        .filter(|(_, states)| states.len() > 1)
        .map(|(id, _)| *id)
        .collect();
    if !twice.is_empty() {
        violations.push(violation(
            NAME,
            format!("{} job(s) have more than one accounting row", twice.len()),
            vec![format!("jobs {}", evidence::id_list(twice.into_iter()))],
        ));
    }
    let mut missing = Vec::new();
    let mut wrong = Vec::new();
    for job in history
        .final_state
        .jobs
        .iter()
        .filter(|j| terminal(&j.state))
    {
        match by_job.get(&job.job_id).and_then(|states| states.first()) {
            None => missing.push(job.job_id),
            Some(state) if *state != job.state => wrong.push(format!(
                "job {}: {} in the state, {state} in the database",
                job.job_id, job.state
            )),
            Some(_) => {}
        }
    }
    if !missing.is_empty() {
        violations.push(violation(
            NAME,
            format!(
                "{} finished job(s) never reached the accounting database",
                missing.len()
            ),
            vec![format!("jobs {}", evidence::id_list(missing.into_iter()))],
        ));
    }
    if !wrong.is_empty() {
        violations.push(violation(
            NAME,
            format!(
                "{} job(s) are in the database in another state than they ended in",
                wrong.len()
            ),
            wrong,
        ));
    }
    violations
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkers::testing::*;
    use crate::history::AccountedJob;

    fn rows(history: &mut crate::history::History) -> &mut Vec<AccountedJob> {
        history
            .final_state
            .accounting
            .as_mut()
            .and_then(|rows| rows.as_mut().ok())
            .expect("rows")
    }

    #[test]
    fn every_finished_job_once_passes() {
        assert_eq!(check(&clean_history()), Vec::new());
    }

    #[test]
    fn a_missing_row_is_flagged() {
        let mut history = clean_history();
        let first = rows(&mut history).remove(0);
        let violations = check(&history);
        assert_eq!(violations.len(), 1, "{violations:?}");
        assert!(violations[0].message.contains("never reached"));
        assert!(violations[0].evidence[0].contains(&first.job_id.to_string()));
    }

    #[test]
    fn a_second_row_or_a_wrong_state_is_flagged() {
        let mut history = clean_history();
        let first = rows(&mut history)[0].clone();
        rows(&mut history).push(first.clone());
        assert!(check(&history)[0].message.contains("more than one"));
        let mut history = clean_history();
        rows(&mut history)[0].state = "FAILED".into();
        let violations = check(&history);
        assert!(
            violations
                .iter()
                .any(|v| v.message.contains("another state")),
            "{violations:?}"
        );
    }

    #[test]
    fn an_unreadable_database_is_flagged() {
        let mut history = clean_history();
        history.final_state.accounting = Some(Err("database is locked".into()));
        assert_eq!(check(&history).len(), 1);
    }
}
