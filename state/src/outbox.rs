//! The replicated accounting outbox: records of committed job and step
//! changes waiting to reach the accounting database.
//!
//! Each record is a whole row (see [`crate::accounting`]), so only the
//! latest record of a row matters: a new record of a row replaces the one
//! still waiting, and the outbox holds at most one record per row. The
//! leader's accounting pump reads the records after the watermark, writes
//! them, and proposes `AccountingAck { upto }`, which removes every record
//! up to that sequence number and moves the watermark. Replaying records
//! (after a failover, the new leader resumes from the watermark) writes
//! the same rows again, which the database's upserts absorb.
//!
//! The outbox is bounded by [`OUTBOX_ROWS_MAX`] rows. When a new row would
//! exceed it, the oldest waiting record is dropped and counted in
//! `dropped`, which the leader reports (a log line and a metric): loss at
//! the bound is never silent.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::accounting::{AccountingRecord, OutboxEntry, StepId};
use crate::job::JobId;

/// How many rows may wait for the database at most (a database outage of
/// this many job changes; at ~400 bytes a record, about 80 MB).
pub const OUTBOX_ROWS_MAX: usize = 200_000;

/// The row a record writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RowKey {
    Job(JobId),
    Step(JobId, StepId),
}

impl RowKey {
    pub fn of(record: &AccountingRecord) -> RowKey {
        match record {
            AccountingRecord::Job(job) => RowKey::Job(job.job_id),
            AccountingRecord::Step(step) => RowKey::Step(step.job_id, step.step_id),
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Outbox {
    /// The sequence number the next record gets; the first is 1.
    next_seq: u64,
    /// Every record up to here reached the database.
    acked_upto: u64,
    entries: BTreeMap<u64, OutboxEntry>,
    /// The waiting record of each row, by sequence number.
    by_row: BTreeMap<RowKey, u64>,
    /// Records dropped at the bound since the cluster began.
    dropped: u64,
}

impl Outbox {
    /// Adds a record, replacing the waiting record of the same row.
    pub fn push(&mut self, record: AccountingRecord) {
        self.push_bounded(record, OUTBOX_ROWS_MAX);
    }

    pub(crate) fn push_bounded(&mut self, record: AccountingRecord, rows_max: usize) {
        let row = RowKey::of(&record);
        if let Some(previous) = self.by_row.get(&row) {
            if self.entries.get(previous).map(|e| &e.record) == Some(&record) {
                return;
            }
            self.entries.remove(previous);
        } else if self.by_row.len() >= rows_max {
            if let Some((_, oldest)) = self.entries.pop_first() {
                self.by_row.remove(&RowKey::of(&oldest.record));
                self.dropped += 1;
            }
        }
        self.next_seq = self.next_seq.max(1);
        let seq = self.next_seq;
        self.next_seq += 1;
        self.by_row.insert(row, seq);
        self.entries.insert(seq, OutboxEntry { seq, record });
    }

    /// The database has every record up to `upto`. `false`: nothing new
    /// (a duplicate or late acknowledgement), or a number never handed out.
    pub fn acknowledge(&mut self, upto: u64) -> bool {
        if upto <= self.acked_upto || upto >= self.next_seq.max(1) {
            return false;
        }
        self.acked_upto = upto;
        while let Some(entry) = self.entries.first_entry() {
            if *entry.key() > upto {
                break;
            }
            let entry = entry.remove();
            self.by_row.remove(&RowKey::of(&entry.record));
        }
        true
    }

    /// Up to `limit` waiting records after the watermark, in order.
    pub fn pending(&self, limit: usize) -> impl Iterator<Item = &OutboxEntry> {
        self.entries.values().take(limit)
    }

    pub fn pending_len(&self) -> usize {
        self.entries.len()
    }

    pub fn acked_upto(&self) -> u64 {
        self.acked_upto
    }

    /// The sequence number of the latest record (0: none yet).
    pub fn last_seq(&self) -> u64 {
        self.next_seq.saturating_sub(1)
    }

    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// The record waiting for `row`, if any.
    pub fn waiting(&self, row: RowKey) -> Option<&OutboxEntry> {
        self.by_row.get(&row).and_then(|seq| self.entries.get(seq))
    }

    /// The index and the entries agree; numbers are in range.
    pub(crate) fn consistent(&self) -> Result<(), String> {
        if self.by_row.len() != self.entries.len() {
            return Err(format!(
                "outbox index has {} rows for {} entries",
                self.by_row.len(),
                self.entries.len()
            ));
        }
        for (row, seq) in &self.by_row {
            match self.entries.get(seq) {
                Some(entry) if RowKey::of(&entry.record) == *row && entry.seq == *seq => {}
                _ => {
                    return Err(format!(
                        "outbox index points {row:?} at a wrong entry {seq}"
                    ))
                }
            }
        }
        if let Some(first) = self.entries.keys().next() {
            if *first <= self.acked_upto {
                return Err(format!(
                    "outbox holds record {first} at or below its watermark {}",
                    self.acked_upto
                ));
            }
        }
        if let Some(last) = self.entries.keys().next_back() {
            if *last >= self.next_seq {
                return Err(format!("outbox record {last} is not below its next number"));
            }
        }
        Ok(())
    }
}

/// The persisted form: the entries in order; the index is rebuilt.
#[derive(Serialize, Deserialize)]
struct Persisted {
    next_seq: u64,
    acked_upto: u64,
    entries: Vec<OutboxEntry>,
    dropped: u64,
}

impl Serialize for Outbox {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        Persisted {
            next_seq: self.next_seq,
            acked_upto: self.acked_upto,
            entries: self.entries.values().cloned().collect(),
            dropped: self.dropped,
        }
        .serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Outbox {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let persisted = Persisted::deserialize(deserializer)?;
        let mut outbox = Outbox {
            next_seq: persisted.next_seq,
            acked_upto: persisted.acked_upto,
            dropped: persisted.dropped,
            ..Outbox::default()
        };
        for entry in persisted.entries {
            outbox.by_row.insert(RowKey::of(&entry.record), entry.seq);
            outbox.entries.insert(entry.seq, entry);
        }
        outbox.consistent().map_err(serde::de::Error::custom)?;
        Ok(outbox)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::accounting::{JobRecord, StepRecord};
    use crate::job::{ExitStatus, JobState};

    fn job(id: JobId, state: JobState) -> AccountingRecord {
        AccountingRecord::Job(JobRecord {
            job_id: id,
            array_job_id: None,
            array_task_id: None,
            name: "wrap".into(),
            user: "alice".into(),
            uid: 1000,
            gid: 1000,
            account: None,
            partition: "debug".into(),
            qos: None,
            state,
            cancelled_by_uid: None,
            exit_status: ExitStatus::default(),
            derived_exit_status: ExitStatus::default(),
            submit_time_ms: 1,
            eligible_time_ms: Some(1),
            start_time_ms: None,
            end_time_ms: None,
            time_limit_minutes: None,
            nodes: vec![],
            alloc_cpus: 0,
            alloc_gpus: 0,
            alloc_memory_mb: 0,
            req_nodes: 1,
            req_cpus: 1,
            req_tasks: 1,
            req_memory_per_node_mb: None,
            req_gpus_per_node: 0,
            work_dir: "/".into(),
            reason: "None".into(),
            requeue_count: 0,
            comment: None,
        })
    }

    fn step(id: JobId) -> AccountingRecord {
        AccountingRecord::Step(StepRecord {
            job_id: id,
            step_id: StepId::Batch,
            name: "batch".into(),
            state: JobState::Running,
            exit_status: ExitStatus::default(),
            start_time_ms: 2,
            end_time_ms: None,
            nodes: vec!["n1".into()],
            ntasks: 1,
            alloc_cpus: 1,
        })
    }

    fn seqs(outbox: &Outbox) -> Vec<u64> {
        outbox.pending(usize::MAX).map(|e| e.seq).collect()
    }

    #[test]
    fn a_newer_record_of_a_row_replaces_the_waiting_one() {
        let mut outbox = Outbox::default();
        outbox.push(job(1, JobState::Pending));
        outbox.push(step(1));
        outbox.push(job(2, JobState::Pending));
        outbox.push(job(1, JobState::Running));
        assert_eq!(seqs(&outbox), [2, 3, 4]);
        assert_eq!(
            outbox.waiting(RowKey::Job(1)).map(|e| &e.record),
            Some(&job(1, JobState::Running))
        );
        // The same row unchanged adds nothing.
        outbox.push(job(1, JobState::Running));
        assert_eq!(seqs(&outbox), [2, 3, 4]);
        assert!(outbox.consistent().is_ok());
    }

    #[test]
    fn acknowledgements_move_the_watermark_and_duplicates_change_nothing() {
        let mut outbox = Outbox::default();
        for id in 1..=5 {
            outbox.push(job(id, JobState::Pending));
        }
        assert!(outbox.acknowledge(3));
        assert_eq!(seqs(&outbox), [4, 5]);
        assert_eq!(outbox.acked_upto(), 3);
        assert!(!outbox.acknowledge(3), "a duplicate acknowledgement");
        assert!(!outbox.acknowledge(2), "a late acknowledgement");
        assert!(!outbox.acknowledge(9), "a number never handed out");
        assert_eq!(seqs(&outbox), [4, 5]);
        // A row written and acknowledged comes back with its next change.
        outbox.push(job(1, JobState::Completed));
        assert_eq!(seqs(&outbox), [4, 5, 6]);
        assert!(outbox.acknowledge(6));
        assert_eq!(outbox.pending_len(), 0);
        assert_eq!(outbox.last_seq(), 6);
    }

    #[test]
    fn at_the_bound_the_oldest_record_is_dropped_and_counted() {
        let mut outbox = Outbox::default();
        for id in 1..=3 {
            outbox.push_bounded(job(id, JobState::Pending), 3);
        }
        // An update of a waiting row takes no room.
        outbox.push_bounded(job(2, JobState::Running), 3);
        assert_eq!(outbox.dropped(), 0);
        outbox.push_bounded(job(4, JobState::Pending), 3);
        assert_eq!(outbox.dropped(), 1);
        assert!(outbox.waiting(RowKey::Job(1)).is_none());
        assert_eq!(outbox.pending_len(), 3);
        assert!(outbox.consistent().is_ok());
    }

    #[test]
    fn the_outbox_survives_a_json_round_trip_and_replays_the_same_records() {
        let mut outbox = Outbox::default();
        outbox.push(job(1, JobState::Pending));
        outbox.push(step(1));
        outbox.acknowledge(1);
        let text = serde_json::to_string(&outbox).unwrap();
        let back: Outbox = serde_json::from_str(&text).unwrap();
        assert_eq!(back, outbox);
        let corrupt = text.replace("\"acked_upto\":1", "\"acked_upto\":7");
        assert!(serde_json::from_str::<Outbox>(&corrupt).is_err());
    }
}
