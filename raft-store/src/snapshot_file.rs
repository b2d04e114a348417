//! [`SnapshotFiles`]: the current snapshot as one file, replaced atomically.
//!
//! File format, version 1:
//!
//! ```text
//! corral-snapshot 1\n
//! <SnapshotMeta as one line of JSON>\n
//! <snapshot data: the ClusterState as JSON, to the end of the file>
//! ```
//!
//! The data part is exactly the bytes openraft sends to followers, so a
//! received snapshot is stored as it arrived; it carries its own version
//! (`state_format`). A file whose format line names a version above
//! [`SNAPSHOT_FORMAT_VERSION`] was written by a newer Corral and is refused
//! as such, not as corruption.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use crate::durable::sync_dir;
use crate::{LogId, SnapshotMeta, StoreError, SNAPSHOT_FILE_NAME, SNAPSHOT_TMP_FILE_NAME};

/// The newest snapshot file format version this build understands and writes.
pub const SNAPSHOT_FORMAT_VERSION: u32 = 1;
/// The first line of every snapshot file this build writes.
const SNAPSHOT_FORMAT_LINE: &[u8] = b"corral-snapshot 1\n";
/// What the first line of every snapshot file starts with.
const SNAPSHOT_FORMAT_PREFIX: &[u8] = b"corral-snapshot ";

/// A snapshot as stored: its meta and its data bytes.
pub(crate) struct StoredSnapshot {
    pub(crate) meta: SnapshotMeta,
    pub(crate) data: Vec<u8>,
}

pub(crate) struct SnapshotFiles {
    dir: PathBuf,
    /// The meta of the snapshot in the file. The lock also serializes
    /// writers, which share one temporary file name.
    current: Mutex<Option<SnapshotMeta>>,
    /// The last part of the next snapshot id; continues after the
    /// sequence of the snapshot found on open, so ids stay unique across
    /// restarts.
    next_sequence: AtomicU64,
}

impl SnapshotFiles {
    /// Opens the snapshot files in `dir`, dropping a half-written temporary
    /// one, and returns the current snapshot if there is one.
    pub(crate) fn open(dir: &Path) -> Result<(SnapshotFiles, Option<StoredSnapshot>), StoreError> {
        remove_stale_tmp(&dir.join(SNAPSHOT_TMP_FILE_NAME))?;
        let stored = read_snapshot(&dir.join(SNAPSHOT_FILE_NAME))?;
        let meta = stored.as_ref().map(|snapshot| snapshot.meta.clone());
        let sequence = meta
            .as_ref()
            .map_or(0, |meta| snapshot_sequence(&meta.snapshot_id));
        let files = SnapshotFiles {
            dir: dir.to_path_buf(),
            current: Mutex::new(meta),
            next_sequence: AtomicU64::new(sequence + 1),
        };
        Ok((files, stored))
    }

    /// A new snapshot id, `<term>-<index>-<sequence>`, unique on this node.
    pub(crate) fn next_snapshot_id(&self, last_log_id: Option<&LogId>) -> String {
        let sequence = self.next_sequence.fetch_add(1, Ordering::Relaxed);
        match last_log_id {
            Some(log_id) => format!("{}-{}-{sequence}", log_id.leader_id.term, log_id.index),
            None => format!("0-0-{sequence}"),
        }
    }

    /// The current snapshot's file.
    pub(crate) fn path(&self) -> PathBuf {
        self.dir.join(SNAPSHOT_FILE_NAME)
    }

    /// Persists a snapshot this node built, unless the current one is newer:
    /// building runs concurrently with installing a snapshot from the
    /// leader, and the file must never go back in the log. Blocking.
    pub(crate) fn persist_built(
        &self,
        meta: &SnapshotMeta,
        data: &[u8],
    ) -> Result<bool, StoreError> {
        let mut current = self.lock_current();
        let current_last = current.as_ref().and_then(|current| current.last_log_id);
        if current_last > meta.last_log_id {
            tracing::debug!(snapshot = %meta, "not persisting a built snapshot older than the current one");
            return Ok(false);
        }
        self.write(meta, data)?;
        *current = Some(meta.clone());
        Ok(true)
    }

    /// Persists a snapshot received from the leader; it replaces the
    /// state machine, so it always becomes the current one. Blocking.
    pub(crate) fn persist_installed(
        &self,
        meta: &SnapshotMeta,
        data: &[u8],
    ) -> Result<(), StoreError> {
        let mut current = self.lock_current();
        self.write(meta, data)?;
        *current = Some(meta.clone());
        Ok(())
    }

    /// The current snapshot, read back from its file. Blocking.
    pub(crate) fn read_current(&self) -> Result<Option<StoredSnapshot>, StoreError> {
        let _current = self.lock_current();
        read_snapshot(&self.path())
    }

    fn lock_current(&self) -> std::sync::MutexGuard<'_, Option<SnapshotMeta>> {
        self.current
            .lock()
            .expect("snapshot lock poisoned by a panic while writing a snapshot")
    }

    /// Writes the temporary file, syncs it, renames it over the current
    /// one and syncs the directory: after a crash there is either the old
    /// snapshot or the new one, complete.
    fn write(&self, meta: &SnapshotMeta, data: &[u8]) -> Result<(), StoreError> {
        let tmp = self.dir.join(SNAPSHOT_TMP_FILE_NAME);
        let path = self.path();
        let meta_line = serde_json::to_vec(meta).map_err(|e| {
            StoreError::io("encode the snapshot meta for", &tmp, io::Error::other(e))
        })?;
        write_synced(&tmp, &[SNAPSHOT_FORMAT_LINE, &meta_line, b"\n", data])
            .map_err(|source| StoreError::io("write", &tmp, source))?;
        fs::rename(&tmp, &path)
            .map_err(|source| StoreError::io("rename snapshot onto", &path, source))?;
        sync_dir(&self.dir)?;
        tracing::info!(snapshot = %meta, bytes = data.len(), "snapshot persisted");
        Ok(())
    }
}

fn write_synced(path: &Path, parts: &[&[u8]]) -> io::Result<()> {
    let mut file = File::create(path)?;
    for part in parts {
        file.write_all(part)?;
    }
    file.sync_all()
}

fn remove_stale_tmp(tmp: &Path) -> Result<(), StoreError> {
    match fs::remove_file(tmp) {
        Ok(()) => {
            tracing::info!(path = %tmp.display(), "removed a half-written snapshot");
            Ok(())
        }
        Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(source) => Err(StoreError::io("remove", tmp, source)),
    }
}

fn read_snapshot(path: &Path) -> Result<Option<StoredSnapshot>, StoreError> {
    let bytes = match fs::read(path) {
        Ok(bytes) => bytes,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(source) => return Err(StoreError::io("read", path, source)),
    };
    if let Some(found) = newer_format_version(&bytes) {
        return Err(StoreError::NewerFormat {
            path: path.to_path_buf(),
            what: "snapshot file",
            found,
            newest: SNAPSHOT_FORMAT_VERSION,
        });
    }
    parse_snapshot(&bytes)
        .map(Some)
        .map_err(|reason| StoreError::corrupt(path, reason))
}

/// The version on a snapshot file's format line, when it is above
/// [`SNAPSHOT_FORMAT_VERSION`].
fn newer_format_version(bytes: &[u8]) -> Option<u32> {
    let rest = bytes.strip_prefix(SNAPSHOT_FORMAT_PREFIX)?;
    let line = &rest[..rest.iter().position(|&byte| byte == b'\n')?];
    let version: u32 = std::str::from_utf8(line).ok()?.trim().parse().ok()?;
    (version > SNAPSHOT_FORMAT_VERSION).then_some(version)
}

fn parse_snapshot(bytes: &[u8]) -> Result<StoredSnapshot, String> {
    let rest = bytes
        .strip_prefix(SNAPSHOT_FORMAT_LINE)
        .ok_or("it does not start with the snapshot format line `corral-snapshot 1`")?;
    let meta_end = rest
        .iter()
        .position(|&byte| byte == b'\n')
        .ok_or("the meta line is not terminated")?;
    let meta = serde_json::from_slice(&rest[..meta_end])
        .map_err(|e| format!("the meta line does not decode: {e}"))?;
    Ok(StoredSnapshot {
        meta,
        data: rest[meta_end + 1..].to_vec(),
    })
}

/// The sequence part of an id made by [`SnapshotFiles::next_snapshot_id`];
/// 0 for an id in another form.
fn snapshot_sequence(snapshot_id: &str) -> u64 {
    snapshot_id
        .rsplit('-')
        .next()
        .and_then(|sequence| sequence.parse().ok())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use openraft::CommittedLeaderId;

    use super::*;

    fn meta(index: u64, files: &SnapshotFiles) -> SnapshotMeta {
        let last_log_id = Some(LogId::new(CommittedLeaderId::new(2, 1), index));
        SnapshotMeta {
            snapshot_id: files.next_snapshot_id(last_log_id.as_ref()),
            last_log_id,
            last_membership: Default::default(),
        }
    }

    #[test]
    fn persisted_snapshot_reads_back_and_ids_continue_after_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let (files, none) = SnapshotFiles::open(dir.path()).unwrap();
        assert!(none.is_none());
        let first = meta(10, &files);
        assert_eq!(first.snapshot_id, "2-10-1");
        assert!(files.persist_built(&first, b"{\"state\":1}\n").unwrap());

        let (files, stored) = SnapshotFiles::open(dir.path()).unwrap();
        let stored = stored.unwrap();
        assert_eq!(stored.meta, first);
        assert_eq!(stored.data, b"{\"state\":1}\n");
        assert_eq!(meta(10, &files).snapshot_id, "2-10-2");
    }

    #[test]
    fn an_older_built_snapshot_does_not_replace_a_newer_one() {
        let dir = tempfile::tempdir().unwrap();
        let (files, _) = SnapshotFiles::open(dir.path()).unwrap();
        let newer = meta(20, &files);
        files.persist_installed(&newer, b"new").unwrap();
        assert!(!files.persist_built(&meta(10, &files), b"old").unwrap());
        assert_eq!(files.read_current().unwrap().unwrap().data, b"new");
    }

    #[test]
    fn a_stale_temporary_file_is_removed_and_garbage_is_corruption() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join(SNAPSHOT_TMP_FILE_NAME), b"half").unwrap();
        SnapshotFiles::open(dir.path()).unwrap();
        assert!(!dir.path().join(SNAPSHOT_TMP_FILE_NAME).exists());

        fs::write(dir.path().join(SNAPSHOT_FILE_NAME), b"garbage").unwrap();
        let error = SnapshotFiles::open(dir.path()).err().unwrap();
        assert!(error.to_string().contains("is corrupt"), "{error}");
        assert!(error.to_string().contains(SNAPSHOT_FILE_NAME), "{error}");
    }

    #[test]
    fn a_snapshot_file_of_a_newer_format_is_refused_naming_both_versions() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(
            dir.path().join(SNAPSHOT_FILE_NAME),
            b"corral-snapshot 3\n{}\n{}",
        )
        .unwrap();
        let error = SnapshotFiles::open(dir.path()).err().unwrap().to_string();
        assert!(error.contains("snapshot file format version 3"), "{error}");
        assert!(error.contains("up to 1"), "{error}");
        assert!(!error.contains("corrupt"), "{error}");
    }
}
