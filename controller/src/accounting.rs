//! Answering `sacct`: the rows the replicated state holds (jobs still in
//! memory, and records of forgotten jobs still waiting in the outbox),
//! over whatever the accounting database has.

use std::collections::BTreeMap;

use corral_accounting::AccountingDb;
use corral_proto as wire;
use corral_state::{
    batch_step_record, job_record, step_record, AccountingRecord, ClusterState, JobId, JobRecord,
    StepId, StepRecord,
};

/// Which rows `sacct` asked for; empty lists match everything.
#[derive(Clone, Debug, Default)]
pub struct AccountingFilter {
    pub job_ids: Vec<JobId>,
    pub users: Vec<String>,
    pub window_start_ms: Option<u64>,
    pub window_end_ms: Option<u64>,
}

impl AccountingFilter {
    pub fn from_wire(request: wire::GetAccountingRequest) -> AccountingFilter {
        AccountingFilter {
            job_ids: request.job_ids,
            users: request.users,
            window_start_ms: request.window_start_ms,
            window_end_ms: request.window_end_ms,
        }
    }

    /// Whether a job's row is wanted: its id (or its array's), its user,
    /// and its life overlapping the window.
    pub fn admits(&self, job: &JobRecord) -> bool {
        let id_matches = self.job_ids.is_empty()
            || self.job_ids.contains(&job.job_id)
            || job
                .array_job_id
                .is_some_and(|array| self.job_ids.contains(&array));
        let user_matches = self.users.is_empty() || self.users.contains(&job.user);
        let ends_after_start = match (self.window_start_ms, job.end_time_ms) {
            (Some(start), Some(end)) => end >= start,
            _ => true,
        };
        let begins_before_end = match self.window_end_ms {
            Some(end) => job.submit_time_ms < end,
            None => true,
        };
        id_matches && user_matches && ends_after_start && begins_before_end
    }
}

pub type AccountingRows = Vec<(JobRecord, Vec<StepRecord>)>;

/// The rows of `state` that `filter` admits, in job id order: jobs still
/// in the state, then records of forgotten jobs waiting in the outbox.
pub fn rows_in_state(state: &ClusterState, filter: &AccountingFilter) -> AccountingRows {
    let mut rows: BTreeMap<JobId, (JobRecord, BTreeMap<StepId, StepRecord>)> = BTreeMap::new();
    for job in state.all_jobs() {
        let limit = state
            .partition(&job.partition)
            .and_then(|p| p.max_time_minutes);
        let record = job_record(job, limit);
        if !filter.admits(&record) {
            continue;
        }
        let mut steps = BTreeMap::new();
        if let Some(batch) = batch_step_record(job) {
            steps.insert(StepId::Batch, batch);
        }
        for step in &job.steps {
            steps.insert(StepId::Numbered(step.id), step_record(job.id, step));
        }
        rows.insert(job.id, (record, steps));
    }
    let mut orphan_steps: Vec<StepRecord> = Vec::new();
    for entry in state.accounting().pending(usize::MAX) {
        match &entry.record {
            AccountingRecord::Job(record) if filter.admits(record) => {
                rows.entry(record.job_id)
                    .or_insert_with(|| (record.clone(), BTreeMap::new()));
            }
            AccountingRecord::Step(step) => orphan_steps.push(step.clone()),
            AccountingRecord::Job(_) => {}
        }
    }
    for step in orphan_steps {
        if let Some((_, steps)) = rows.get_mut(&step.job_id) {
            steps.entry(step.step_id).or_insert(step);
        }
    }
    rows.into_values()
        .map(|(job, steps)| (job, steps.into_values().collect()))
        .collect()
}

/// How long `sacct` waits for the database before it answers from the
/// replicated state alone.
pub const DATABASE_READ_TIMEOUT_MS: u64 = 3_000;

/// The rows the database has for `filter`; `None` (logged) when it cannot
/// be read in time.
pub async fn rows_in_database(
    db: &AccountingDb,
    cluster: &str,
    filter: &AccountingFilter,
) -> Option<AccountingRows> {
    let query = corral_accounting::JobFilter {
        job_ids: filter.job_ids.clone(),
        users: filter.users.clone(),
        window_start_ms: filter.window_start_ms,
        window_end_ms: filter.window_end_ms,
        ..Default::default()
    };
    let read = tokio::time::timeout(
        std::time::Duration::from_millis(DATABASE_READ_TIMEOUT_MS),
        db.query(cluster, &query),
    )
    .await;
    match read {
        Ok(Ok(rows)) => Some(rows),
        Ok(Err(error)) => {
            tracing::warn!("sacct answered from the replicated state only: {error}");
            None
        }
        Err(_) => {
            tracing::warn!(
                "sacct answered from the replicated state only: the database did not answer within {DATABASE_READ_TIMEOUT_MS} ms"
            );
            None
        }
    }
}

/// `database` rows overlaid with `fresh` ones (the state's, which are
/// newer): a job the state knows replaces the database's row and steps.
pub fn overlay(database: AccountingRows, fresh: AccountingRows) -> AccountingRows {
    let mut merged: BTreeMap<JobId, (JobRecord, Vec<StepRecord>)> = database
        .into_iter()
        .map(|(job, steps)| (job.job_id, (job, steps)))
        .collect();
    for (job, steps) in fresh {
        let entry = merged
            .entry(job.job_id)
            .or_insert_with(|| (job.clone(), Vec::new()));
        entry.0 = job;
        let mut by_step: BTreeMap<StepId, StepRecord> =
            entry.1.drain(..).map(|step| (step.step_id, step)).collect();
        for step in steps {
            by_step.insert(step.step_id, step);
        }
        entry.1 = by_step.into_values().collect();
    }
    merged.into_values().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use corral_state::{Actor, Command, JobSpec, JobState, Partition, PartitionState, RequestId};

    fn state_with_jobs(count: u32) -> ClusterState {
        let mut state = ClusterState::default();
        state.apply(&Command::SetPartitions {
            partitions: vec![Partition {
                name: "debug".into(),
                nodes: String::new(),
                default: true,
                max_time_minutes: None,
                state: PartitionState::Up,
            }],
            now_ms: 0,
        });
        for index in 0..count {
            state.apply(&Command::SubmitJob {
                request_id: RequestId(format!("r{index}")),
                actor: Actor::root(),
                spec: Box::new(JobSpec::default()),
                now_ms: 10 + u64::from(index),
            });
        }
        state
    }

    #[test]
    fn forgotten_jobs_are_answered_from_the_outbox() {
        let mut state = state_with_jobs(3);
        state.apply(&Command::CancelJob {
            job_id: 1,
            actor: Actor::root(),
            now_ms: 20,
        });
        state.apply(&Command::PurgeJobs {
            finished_before_ms: 30,
            now_ms: 30,
        });
        assert!(state.job(1).is_none());
        let rows = rows_in_state(&state, &AccountingFilter::default());
        let ids: Vec<(JobId, JobState)> = rows.iter().map(|(j, _)| (j.job_id, j.state)).collect();
        assert_eq!(
            ids,
            [
                (1, JobState::Cancelled),
                (2, JobState::Pending),
                (3, JobState::Pending)
            ]
        );
        let only = AccountingFilter {
            job_ids: vec![2],
            ..Default::default()
        };
        assert_eq!(rows_in_state(&state, &only).len(), 1);
        let later = AccountingFilter {
            window_end_ms: Some(11),
            ..Default::default()
        };
        assert_eq!(
            rows_in_state(&state, &later).len(),
            1,
            "submitted before the window's end"
        );
    }

    #[test]
    fn the_states_rows_replace_the_databases() {
        let state = state_with_jobs(2);
        let fresh = rows_in_state(&state, &AccountingFilter::default());
        let mut stale = fresh.clone();
        stale[0].0.name = "old".into();
        stale.push((
            {
                let mut old = fresh[0].0.clone();
                old.job_id = 99;
                old
            },
            Vec::new(),
        ));
        let merged = overlay(stale, fresh.clone());
        assert_eq!(merged.len(), 3);
        assert_eq!(merged[0], fresh[0]);
        assert_eq!(merged[2].0.job_id, 99);
    }
}
