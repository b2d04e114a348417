//! [`LogStore`]: the Raft log, the vote and the log pointers in sled, and
//! [`LogReader`], the cloneable reader replication tasks use.

// openraft's `StorageError` (224 bytes) is what every trait method here
// returns; the helpers return it too rather than box it only to unbox it at
// the trait boundary.
#![allow(clippy::result_large_err)]

use std::fmt::Debug;
use std::io;
use std::ops::{Bound, RangeBounds};
use std::sync::Arc;

use openraft::storage::{LogFlushed, RaftLogStorage};
use openraft::{ErrorSubject, ErrorVerb, LogState, RaftLogReader};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::durable::{run_blocking, DurableDb};
use crate::error::storage_io;
use crate::{Entry, LogId, StorageError, StoreError, TypeConfig, Vote, LOG_READ_BYTES_MAX};

const LOG_TREE_NAME: &str = "log";
const META_TREE_NAME: &str = "meta";
const VOTE_KEY: &str = "vote";
const COMMITTED_KEY: &str = "committed";
const LAST_PURGED_KEY: &str = "last_purged";

/// The Raft log storage of one controller. Owned by openraft once the Raft
/// node starts; openraft serializes all calls to it.
pub struct LogStore {
    durable: Arc<DurableDb>,
    reader: LogReader,
    meta: sled::Tree,
}

/// Reads log entries; cheap to clone, usable while the [`LogStore`] writes.
#[derive(Clone)]
pub struct LogReader {
    log: sled::Tree,
}

impl LogStore {
    pub(crate) fn open(durable: Arc<DurableDb>) -> Result<LogStore, StoreError> {
        let open_tree = |name: &str| {
            durable
                .db()
                .open_tree(name)
                .map_err(|source| StoreError::sled("open tree", durable.dir(), source))
        };
        let log = open_tree(LOG_TREE_NAME)?;
        let meta = open_tree(META_TREE_NAME)?;
        let store = LogStore {
            reader: LogReader { log },
            meta,
            durable,
        };
        store.remove_purged_leftovers()?;
        Ok(store)
    }

    /// The committed index recorded before the last stop: openraft re-applies
    /// the log up to it while the node starts.
    pub(crate) fn stored_committed_index(&self) -> Result<Option<u64>, StoreError> {
        let committed: Option<Option<LogId>> = read_meta(&self.meta, COMMITTED_KEY)
            .map_err(|error| StoreError::corrupt(self.durable.dir(), error.to_string()))?;
        Ok(committed.flatten().map(|log_id| log_id.index))
    }

    /// A crash between recording the last purged log id and removing the
    /// entries behind it leaves those entries; nothing may read them, so they
    /// go now.
    fn remove_purged_leftovers(&self) -> Result<(), StoreError> {
        let last_purged: Option<LogId> = read_meta(&self.meta, LAST_PURGED_KEY)
            .map_err(|error| StoreError::corrupt(self.durable.dir(), error.to_string()))?;
        if let Some(last_purged) = last_purged {
            remove_range(&self.reader.log, ..=last_purged.index).map_err(|source| {
                StoreError::sled("remove purged entries", self.durable.dir(), source)
            })?;
        }
        Ok(())
    }

    /// Records `vote` durably, outside openraft: seeding a data directory
    /// from a backup (`Backup::seed_data_dir`).
    pub(crate) fn seed_vote(&self, vote: &Vote) -> Result<(), StoreError> {
        let bytes = serde_json::to_vec(vote)
            .map_err(|e| StoreError::io("encode the vote in", self.durable.dir(), e.into()))?;
        self.meta
            .insert(VOTE_KEY, bytes)
            .map_err(|source| StoreError::sled("record the vote", self.durable.dir(), source))?;
        self.durable.make_durable()
    }

    /// Every stored entry after `index` (all of them for `None`), in order:
    /// reading a stopped controller's store (`offline`).
    pub(crate) fn entries_after(&self, index: Option<u64>) -> Result<Vec<Entry>, StoreError> {
        let range = match index {
            Some(index) => (Bound::Excluded(index), Bound::Unbounded),
            None => (Bound::Unbounded, Bound::Unbounded),
        };
        self.reader
            .read_entries(range, usize::MAX)
            .map_err(|error| StoreError::corrupt(self.durable.dir(), error.to_string()))
    }

    fn write_meta<T: Serialize>(&self, key: &str, value: &T) -> Result<(), StorageError> {
        let bytes = serde_json::to_vec(value)
            .map_err(|e| storage_io(ErrorSubject::Store, ErrorVerb::Write, e))?;
        self.meta
            .insert(key, bytes)
            .map_err(|e| storage_io(ErrorSubject::Store, ErrorVerb::Write, e))?;
        Ok(())
    }

    /// Makes all writes so far durable before returning.
    async fn make_durable(&self, subject: ErrorSubject<u64>) -> Result<(), StorageError> {
        let durable = self.durable.clone();
        run_blocking(move || durable.make_durable())
            .await
            .map_err(|error| error.into_storage(subject, ErrorVerb::Write))
    }
}

impl RaftLogReader<TypeConfig> for LogStore {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + Send>(
        &mut self,
        range: RB,
    ) -> Result<Vec<Entry>, StorageError> {
        self.reader.try_get_log_entries(range).await
    }

    async fn limited_get_log_entries(
        &mut self,
        start: u64,
        end: u64,
    ) -> Result<Vec<Entry>, StorageError> {
        self.reader.limited_get_log_entries(start, end).await
    }
}

impl RaftLogReader<TypeConfig> for LogReader {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + Send>(
        &mut self,
        range: RB,
    ) -> Result<Vec<Entry>, StorageError> {
        self.read_entries(range, usize::MAX)
    }

    async fn limited_get_log_entries(
        &mut self,
        start: u64,
        end: u64,
    ) -> Result<Vec<Entry>, StorageError> {
        self.read_entries(start..end, LOG_READ_BYTES_MAX)
    }
}

impl LogReader {
    /// The entries in `range`, in order, stopping once more than
    /// `bytes_max` encoded bytes have been read (after at least one entry).
    fn read_entries(
        &self,
        range: impl RangeBounds<u64>,
        bytes_max: usize,
    ) -> Result<Vec<Entry>, StorageError> {
        let mut entries = Vec::new();
        let mut bytes = 0;
        for item in self.log.range(key_range(range)) {
            let (key, value) =
                item.map_err(|e| storage_io(ErrorSubject::Logs, ErrorVerb::Read, e))?;
            entries.push(decode_entry(&key, &value)?);
            bytes += value.len();
            if bytes > bytes_max {
                break;
            }
        }
        Ok(entries)
    }

    fn last_log_id(&self) -> Result<Option<LogId>, StorageError> {
        let last = self
            .log
            .last()
            .map_err(|e| storage_io(ErrorSubject::Logs, ErrorVerb::Read, e))?;
        match last {
            Some((key, value)) => Ok(Some(decode_entry(&key, &value)?.log_id)),
            None => Ok(None),
        }
    }
}

impl RaftLogStorage<TypeConfig> for LogStore {
    type LogReader = LogReader;

    async fn get_log_state(&mut self) -> Result<LogState<TypeConfig>, StorageError> {
        let last_purged_log_id: Option<LogId> = read_meta(&self.meta, LAST_PURGED_KEY)?;
        let last_log_id = self.reader.last_log_id()?.or(last_purged_log_id);
        Ok(LogState {
            last_purged_log_id,
            last_log_id,
        })
    }

    async fn get_log_reader(&mut self) -> LogReader {
        self.reader.clone()
    }

    async fn save_vote(&mut self, vote: &Vote) -> Result<(), StorageError> {
        self.write_meta(VOTE_KEY, vote)?;
        self.make_durable(ErrorSubject::Vote).await
    }

    async fn read_vote(&mut self) -> Result<Option<Vote>, StorageError> {
        read_meta(&self.meta, VOTE_KEY)
    }

    /// Not synced: a lost committed log id only means re-applying less of
    /// the log after a restart, until the leader says again what is committed.
    async fn save_committed(&mut self, committed: Option<LogId>) -> Result<(), StorageError> {
        self.write_meta(COMMITTED_KEY, &committed)
    }

    async fn read_committed(&mut self) -> Result<Option<LogId>, StorageError> {
        Ok(read_meta::<Option<LogId>>(&self.meta, COMMITTED_KEY)?.flatten())
    }

    /// Writes all entries as one atomic sled batch (readable on return), then
    /// syncs on a blocking thread and only then reports them flushed.
    async fn append<I>(
        &mut self,
        entries: I,
        callback: LogFlushed<TypeConfig>,
    ) -> Result<(), StorageError>
    where
        I: IntoIterator<Item = Entry> + Send,
        I::IntoIter: Send,
    {
        let mut batch = sled::Batch::default();
        for entry in entries {
            let value = serde_json::to_vec(&entry)
                .map_err(|e| storage_io(ErrorSubject::Log(entry.log_id), ErrorVerb::Write, e))?;
            batch.insert(&index_key(entry.log_id.index), value);
        }
        self.reader
            .log
            .apply_batch(batch)
            .map_err(|e| storage_io(ErrorSubject::Logs, ErrorVerb::Write, e))?;
        let durable = self.durable.clone();
        // Detached on purpose: the task always ends by calling the callback,
        // and openraft waits on that. The database handle goes first, so
        // that whoever waits for the callback may close and reopen the store.
        drop(tokio::task::spawn_blocking(move || {
            let synced = durable.make_durable();
            drop(durable);
            callback.log_io_completed(synced.map_err(io::Error::other));
        }));
        Ok(())
    }

    async fn truncate(&mut self, log_id: LogId) -> Result<(), StorageError> {
        tracing::debug!(%log_id, "truncating the log from this entry on");
        remove_range(&self.reader.log, log_id.index..)
            .map_err(|e| storage_io(ErrorSubject::Logs, ErrorVerb::Delete, e))?;
        self.make_durable(ErrorSubject::Logs).await
    }

    /// Records the last purged log id before removing anything, so a crash
    /// in between never leaves a log that starts after a gap.
    async fn purge(&mut self, log_id: LogId) -> Result<(), StorageError> {
        tracing::debug!(%log_id, "purging the log up to this entry");
        self.write_meta(LAST_PURGED_KEY, &log_id)?;
        remove_range(&self.reader.log, ..=log_id.index)
            .map_err(|e| storage_io(ErrorSubject::Logs, ErrorVerb::Delete, e))?;
        self.make_durable(ErrorSubject::Logs).await
    }
}

fn index_key(index: u64) -> [u8; 8] {
    index.to_be_bytes()
}

/// The sled key range of a range of log indexes.
fn key_range(range: impl RangeBounds<u64>) -> (Bound<[u8; 8]>, Bound<[u8; 8]>) {
    let start = match range.start_bound() {
        Bound::Included(&index) => Bound::Included(index_key(index)),
        Bound::Excluded(&index) => Bound::Excluded(index_key(index)),
        Bound::Unbounded => Bound::Unbounded,
    };
    let end = match range.end_bound() {
        Bound::Included(&index) => Bound::Included(index_key(index)),
        Bound::Excluded(&index) => Bound::Excluded(index_key(index)),
        Bound::Unbounded => Bound::Unbounded,
    };
    // sled panics on a range whose start lies beyond its end; openraft may
    // ask for an empty one.
    if is_empty(&start, &end) {
        let empty = index_key(0);
        return (Bound::Excluded(empty), Bound::Excluded(empty));
    }
    (start, end)
}

fn is_empty(start: &Bound<[u8; 8]>, end: &Bound<[u8; 8]>) -> bool {
    match (start, end) {
        (Bound::Included(s), Bound::Included(e)) => s > e,
        (Bound::Included(s) | Bound::Excluded(s), Bound::Excluded(e))
        | (Bound::Excluded(s), Bound::Included(e)) => s >= e,
        _ => false,
    }
}

/// Removes the entries in `range` in one atomic batch.
fn remove_range(log: &sled::Tree, range: impl RangeBounds<u64>) -> sled::Result<()> {
    let mut batch = sled::Batch::default();
    for key in log.range(key_range(range)).keys() {
        batch.remove(key?);
    }
    log.apply_batch(batch)
}

/// Decodes a stored entry. Anything that does not decode, or sits under a
/// key other than its own index, is corruption: an error, never a skip.
fn decode_entry(key: &[u8], value: &[u8]) -> Result<Entry, StorageError> {
    let index = <[u8; 8]>::try_from(key)
        .map(u64::from_be_bytes)
        .map_err(|_| {
            let reason = io::Error::other(format!("log key {key:?} is not an 8-byte index"));
            storage_io(ErrorSubject::Logs, ErrorVerb::Read, reason)
        })?;
    let entry: Entry = serde_json::from_slice(value).map_err(|e| {
        let reason = io::Error::other(format!("log entry {index} does not decode: {e}"));
        storage_io(ErrorSubject::LogIndex(index), ErrorVerb::Read, reason)
    })?;
    if entry.log_id.index != index {
        let reason = io::Error::other(format!(
            "log entry stored at index {index} claims index {}",
            entry.log_id.index
        ));
        return Err(storage_io(
            ErrorSubject::LogIndex(index),
            ErrorVerb::Read,
            reason,
        ));
    }
    Ok(entry)
}

fn read_meta<T: DeserializeOwned>(meta: &sled::Tree, key: &str) -> Result<Option<T>, StorageError> {
    let Some(bytes) = meta
        .get(key)
        .map_err(|e| storage_io(ErrorSubject::Store, ErrorVerb::Read, e))?
    else {
        return Ok(None);
    };
    serde_json::from_slice(&bytes).map(Some).map_err(|e| {
        let reason = io::Error::other(format!("stored {key} does not decode: {e}"));
        storage_io(ErrorSubject::Store, ErrorVerb::Read, reason)
    })
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use openraft::entry::RaftEntry;
    use openraft::CommittedLeaderId;

    use super::*;

    fn open_log(dir: &Path) -> LogStore {
        let durable =
            Arc::new(DurableDb::open(dir, crate::SLED_CACHE_CAPACITY_BYTES_DEFAULT).unwrap());
        LogStore::open(durable).unwrap()
    }

    fn blank(index: u64) -> Entry {
        Entry::new_blank(LogId::new(CommittedLeaderId::new(1, 1), index))
    }

    #[tokio::test]
    async fn undecodable_entry_is_an_error_not_a_gap() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = open_log(dir.path());
        for index in 1..=3 {
            let value = serde_json::to_vec(&blank(index)).unwrap();
            store.reader.log.insert(index_key(index), value).unwrap();
        }
        store
            .reader
            .log
            .insert(index_key(2), b"{not json".to_vec())
            .unwrap();

        let error = store.try_get_log_entries(1..4).await.unwrap_err();
        assert!(
            error.to_string().contains("log entry 2 does not decode"),
            "{error}"
        );
        let only_first = store.try_get_log_entries(1..2).await.unwrap();
        assert_eq!(only_first, vec![blank(1)]);
    }

    #[tokio::test]
    async fn entry_under_another_index_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = open_log(dir.path());
        let value = serde_json::to_vec(&blank(7)).unwrap();
        store.reader.log.insert(index_key(5), value).unwrap();

        let error = store.get_log_state().await.unwrap_err();
        assert!(
            error
                .to_string()
                .contains("stored at index 5 claims index 7"),
            "{error}"
        );
    }

    #[tokio::test]
    #[allow(clippy::reversed_empty_ranges)] // inverted ranges are the point
    async fn limited_read_stops_after_the_byte_budget_but_returns_one_entry() {
        let dir = tempfile::tempdir().unwrap();
        let store = open_log(dir.path());
        for index in 1..=10 {
            let value = serde_json::to_vec(&blank(index)).unwrap();
            store.reader.log.insert(index_key(index), value).unwrap();
        }
        assert_eq!(store.reader.read_entries(1..11, 0).unwrap().len(), 1);
        assert_eq!(
            store.reader.read_entries(1..11, usize::MAX).unwrap().len(),
            10
        );
        assert!(store
            .reader
            .read_entries(5..3, usize::MAX)
            .unwrap()
            .is_empty());
        assert!(store
            .reader
            .read_entries(4..=3, usize::MAX)
            .unwrap()
            .is_empty());
    }

    #[tokio::test]
    async fn entries_behind_a_recorded_purge_are_removed_on_open() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = open_log(dir.path());
            for index in 1..=5 {
                let value = serde_json::to_vec(&blank(index)).unwrap();
                store.reader.log.insert(index_key(index), value).unwrap();
            }
            store.write_meta(LAST_PURGED_KEY, &blank(3).log_id).unwrap();
            store.durable.make_durable().unwrap();
        }
        let mut store = open_log(dir.path());
        let entries = store.try_get_log_entries(..).await.unwrap();
        assert_eq!(entries, vec![blank(4), blank(5)]);
    }
}
