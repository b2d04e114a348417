//! [`DurableDb`]: a sled database whose writes can be made to survive power
//! loss, which sled 0.34 alone does not do (see the crate docs).

use std::collections::HashSet;
use std::ffi::OsString;
use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::thread;
use std::time::{Duration, Instant};

use crate::{StoreError, SLED_LOCK_RETRY_INTERVAL_MS, SLED_LOCK_WAIT_MS_MAX};

/// sled's data file inside its directory (sled-0.34.7 `src/config.rs`,
/// `Inner::db_path`). All of sled's log segments live in this one file.
const SLED_DATA_FILE_NAME: &str = "db";
/// sled's configuration file (`Inner::config_path`), written once on creation.
const SLED_CONFIG_FILE_NAME: &str = "conf";
/// Where sled puts values too large for a log segment, one file per blob
/// named by its log sequence number (`Inner::blob_path`).
const SLED_BLOBS_DIR_NAME: &str = "blobs";

pub(crate) struct DurableDb {
    db: sled::Db,
    dir: PathBuf,
    /// Kept open so that each sync is one `fdatasync`, not an open and a close.
    data_file: File,
    /// Blob files already synced. sled creates each blob with `create_new`
    /// and never rewrites it, so one sync per blob is enough.
    synced_blobs: Mutex<HashSet<OsString>>,
}

impl DurableDb {
    /// Opens (or creates) the database in `dir` and makes whatever it holds
    /// durable, including the directory entries of a freshly created one.
    pub(crate) fn open(dir: &Path, cache_capacity_bytes: u64) -> Result<DurableDb, StoreError> {
        let db = open_sled(dir, cache_capacity_bytes)?;
        let data_path = dir.join(SLED_DATA_FILE_NAME);
        let data_file = File::open(&data_path)
            .map_err(|source| StoreError::io("open sled's data file", &data_path, source))?;
        let durable = DurableDb {
            db,
            dir: dir.to_path_buf(),
            data_file,
            synced_blobs: Mutex::default(),
        };
        durable.make_durable()?;
        sync_file(&dir.join(SLED_CONFIG_FILE_NAME))?;
        sync_dir(dir)?;
        Ok(durable)
    }

    pub(crate) fn db(&self) -> &sled::Db {
        &self.db
    }

    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }

    /// Makes every write sled has accepted so far survive power loss: flush
    /// sled's buffers to the OS, then `fdatasync` its data file and any new
    /// blob files. Blocks on the disk; call it from a blocking thread.
    pub(crate) fn make_durable(&self) -> Result<(), StoreError> {
        self.db
            .flush()
            .map_err(|source| StoreError::sled("flush", &self.dir, source))?;
        self.data_file.sync_data().map_err(|source| {
            StoreError::io("fdatasync", &self.dir.join(SLED_DATA_FILE_NAME), source)
        })?;
        self.sync_new_blobs()
    }

    /// Syncs the blob files written since the last call, and the blob
    /// directory when there are any, so that their names survive as well.
    fn sync_new_blobs(&self) -> Result<(), StoreError> {
        let blobs_dir = self.dir.join(SLED_BLOBS_DIR_NAME);
        let present = blob_names(&blobs_dir)?;
        let mut synced = self
            .synced_blobs
            .lock()
            .expect("blob sync set poisoned by a panic during a sync");
        synced.retain(|name| present.contains(name));
        let new: Vec<OsString> = present.difference(&synced).cloned().collect();
        for name in &new {
            sync_blob(&blobs_dir.join(name))?;
        }
        if !new.is_empty() {
            sync_dir(&blobs_dir)?;
        }
        synced.extend(new);
        Ok(())
    }
}

/// Opens sled, waiting a little while its data file is locked. sled
/// releases the lock lazily: after the last handle of a database is dropped,
/// its background threads and epoch-deferred frees close the file a moment
/// later, so reopening a store in the same process (a restart in tests, a
/// restore) can briefly meet its own lock. A lock held by another live
/// process is still an error, after [`SLED_LOCK_WAIT_MS_MAX`].
fn open_sled(dir: &Path, cache_capacity_bytes: u64) -> Result<sled::Db, StoreError> {
    let config = sled::Config::new()
        .path(dir)
        .cache_capacity(cache_capacity_bytes);
    let deadline = Instant::now() + Duration::from_millis(SLED_LOCK_WAIT_MS_MAX);
    loop {
        match config.open() {
            Err(error) if is_lock_contention(&error) && Instant::now() < deadline => {
                thread::sleep(Duration::from_millis(SLED_LOCK_RETRY_INTERVAL_MS));
            }
            result => return result.map_err(|source| StoreError::sled("open", dir, source)),
        }
    }
}

/// sled reports a held lock only as an `Other` I/O error with this text
/// (sled-0.34.7 `src/config.rs`, `Config::try_lock`).
fn is_lock_contention(error: &sled::Error) -> bool {
    matches!(error, sled::Error::Io(io_error) if io_error.to_string().starts_with("could not acquire lock"))
}

fn blob_names(blobs_dir: &Path) -> Result<HashSet<OsString>, StoreError> {
    let list_error = |source| StoreError::io("list", blobs_dir, source);
    let mut names = HashSet::new();
    for entry in fs::read_dir(blobs_dir).map_err(list_error)? {
        names.insert(entry.map_err(list_error)?.file_name());
    }
    Ok(names)
}

/// Syncs one blob file. sled's background garbage collection may remove a
/// blob between listing and syncing; a removed blob holds nothing to keep.
fn sync_blob(path: &Path) -> Result<(), StoreError> {
    match File::open(path).and_then(|file| file.sync_data()) {
        Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(()),
        result => result.map_err(|source| StoreError::io("fdatasync", path, source)),
    }
}

fn sync_file(path: &Path) -> Result<(), StoreError> {
    File::open(path)
        .and_then(|file| file.sync_all())
        .map_err(|source| StoreError::io("fsync", path, source))
}

/// Makes the entries of directory `dir` (files created, renamed or removed in
/// it) durable. Opening a directory read-only and fsyncing it is how Linux
/// spells that.
pub(crate) fn sync_dir(dir: &Path) -> Result<(), StoreError> {
    sync_file(dir)
}

/// Runs blocking I/O on tokio's blocking pool and waits for it, so the async
/// executor's threads never wait on the disk.
pub(crate) async fn run_blocking<T, F>(work: F) -> Result<T, StoreError>
where
    T: Send + 'static,
    F: FnOnce() -> Result<T, StoreError> + Send + 'static,
{
    match tokio::task::spawn_blocking(work).await {
        Ok(result) => result,
        Err(join_error) if join_error.is_panic() => {
            std::panic::resume_unwind(join_error.into_panic())
        }
        Err(_cancelled) => Err(StoreError::Cancelled),
    }
}
