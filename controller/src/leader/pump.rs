//! The accounting pump: the leader copies the replicated outbox into the
//! accounting database and proposes `AccountingAck` for what the database
//! has; and it mirrors the accounting policy (accounts, users,
//! associations) into the database's tables whenever it changes.
//!
//! It runs at its own pace beside the other duties and never on the path
//! of a submission or a scheduling pass: a database that is slow or down
//! only lets the outbox grow (bounded; see `corral_state::outbox`). It
//! keeps nothing of its own: a new leader starts from the replicated
//! watermark, and a batch written twice (the old leader wrote it but its
//! acknowledgement was not committed) changes nothing, since every write
//! is an upsert guarded by the record's sequence number.

use std::sync::Arc;
use std::time::{Duration, Instant};

use corral_accounting::AccountingDb;
use corral_state::{Command, OutboxEntry, Outcome};

use super::Duties;
use crate::propose::wall_clock_ms;

/// Pauses after a failed write grow from this to the maximum.
pub const RETRY_PAUSE_MIN_MS: u64 = 500;
pub const RETRY_PAUSE_MAX_MS: u64 = 10_000;
/// How often the pump says how far behind it is while the database is away.
pub const BACKLOG_REPORT_INTERVAL_MS: u64 = 10_000;

pub(super) async fn run(duties: Duties, db: Arc<AccountingDb>) {
    let cluster = duties.config.file.cluster_name.clone();
    let settings = &duties.config.file.accounting;
    let batch_max = settings.batch_records_max;
    let idle = Duration::from_millis(settings.pump_interval_ms);
    let mut pause_ms = RETRY_PAUSE_MIN_MS;
    let mut failing_since: Option<Instant> = None;
    let mut last_report = Instant::now();
    let mut dropped_seen = duties
        .proposer
        .state()
        .read(|state| state.accounting().dropped());
    // The policy version last mirrored by this leader: it writes the policy
    // once when it starts leading, then whenever it changes.
    let mut mirrored: Option<u64> = None;
    let mut applied = duties.proposer.state().subscribe_applied_index();
    tracing::info!(database = %db.current_url(), "accounting pump started");
    loop {
        let policy = duties.proposer.state().read(|state| {
            let policy = state.policy();
            (mirrored != Some(policy.version)).then(|| policy.clone())
        });
        if let Some(policy) = policy {
            match db.write_policy(&cluster, &policy).await {
                Ok(()) => mirrored = Some(policy.version),
                // The records' failure handling below reports and paces it.
                Err(error) => tracing::debug!("accounting policy not mirrored yet: {error}"),
            }
        }
        let (batch, waiting, dropped, oldest_ms) = duties.proposer.state().read(|state| {
            let outbox = state.accounting();
            let batch: Vec<OutboxEntry> = outbox.pending(batch_max).cloned().collect();
            let oldest_ms = batch.first().map(|entry| oldest_time_ms(&entry.record));
            (batch, outbox.pending_len(), outbox.dropped(), oldest_ms)
        });
        if dropped > dropped_seen {
            tracing::error!(
                dropped = dropped - dropped_seen,
                dropped_total = dropped,
                bound = corral_state::OUTBOX_ROWS_MAX,
                "the accounting outbox was full: its oldest records were dropped and will not reach the database"
            );
            dropped_seen = dropped;
        }
        let Some(last) = batch.last().map(|entry| entry.seq) else {
            // Wake as soon as something is applied (a new record may be
            // there), or after the interval at the latest.
            tokio::select! {
                _ = applied.changed() => {}
                _ = tokio::time::sleep(idle) => {}
            }
            continue;
        };
        match db.write_batch(&cluster, &batch).await {
            Ok(upto) => {
                if let Some(since) = failing_since.take() {
                    tracing::info!(
                        database = %db.current_url(),
                        waiting,
                        after_ms = since.elapsed().as_millis() as u64,
                        "accounting database reachable again; catching up"
                    );
                }
                pause_ms = RETRY_PAUSE_MIN_MS;
                acknowledge(&duties, upto.max(last)).await;
            }
            Err(error) => {
                let first_failure = failing_since.is_none();
                failing_since.get_or_insert_with(Instant::now);
                if first_failure
                    || last_report.elapsed() >= Duration::from_millis(BACKLOG_REPORT_INTERVAL_MS)
                {
                    last_report = Instant::now();
                    let behind_s = oldest_ms
                        .map(|ms| wall_clock_ms().saturating_sub(ms) / 1000)
                        .unwrap_or(0);
                    tracing::warn!(
                        waiting,
                        behind_s,
                        retryable = error.is_retryable(),
                        "accounting records not written, kept in the outbox: {error}"
                    );
                }
                tokio::time::sleep(Duration::from_millis(pause_ms)).await;
                pause_ms = (pause_ms * 2).min(RETRY_PAUSE_MAX_MS);
            }
        }
    }
}

/// Proposes the acknowledgement; one that is not committed is proposed
/// again after the next write of the same records.
async fn acknowledge(duties: &Duties, upto: u64) {
    let result = duties
        .proposer
        .propose(|now_ms| Command::AccountingAck { upto, now_ms })
        .await;
    match result {
        Ok(Outcome::Done) | Ok(Outcome::Rejected(_)) => {}
        Ok(other) => tracing::warn!(
            ?other,
            "unexpected outcome of an accounting acknowledgement"
        ),
        Err(status) => tracing::warn!(
            upto,
            "accounting acknowledgement not committed: {}",
            status.message()
        ),
    }
}

/// When the change a record carries happened, for "how far behind".
pub(crate) fn oldest_time_ms(record: &corral_state::AccountingRecord) -> u64 {
    match record {
        corral_state::AccountingRecord::Job(job) => job
            .end_time_ms
            .or(job.start_time_ms)
            .unwrap_or(job.submit_time_ms),
        corral_state::AccountingRecord::Step(step) => {
            step.end_time_ms.unwrap_or(step.start_time_ms)
        }
    }
}
