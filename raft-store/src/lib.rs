//! Corral's Raft storage: openraft's log store and state-machine store, on
//! sled and plain files.
//!
//! One controller keeps everything under one directory (see [`open`]):
//!
//! | path | what |
//! |---|---|
//! | `dir/sled/` | one sled database: tree `log` (entries keyed by big-endian index, values the JSON of the whole `Entry`), tree `meta` (vote, committed log id, last purged log id) |
//! | `dir/snapshot` | the current snapshot: a format line, the `SnapshotMeta` as one JSON line, then the `ClusterState` (module `state_format`) |
//! | `dir/snapshot.tmp` | a snapshot being written; removed on open |
//!
//! The state machine itself lives in memory ([`StateHandle`] reads it). It is
//! not persisted on every apply: on restart it is restored from the snapshot
//! file, and openraft re-applies the committed log after it (which is why the
//! committed log id is saved).
//!
//! # Durability
//!
//! Raft's safety rests on two promises from storage: a vote is on disk before
//! the node answers the candidate, and an appended entry is on disk before the
//! node tells the leader it has it (the leader counts that answer towards a
//! quorum, and a quorum that forgets an entry loses an acknowledged job).
//! "On disk" means surviving power loss, not only a process crash.
//!
//! sled 0.34's `flush()` is not enough for that: on Linux it writes its
//! buffers with `pwrite` and then calls `sync_file_range(WAIT_BEFORE | WRITE |
//! WAIT_AFTER)`, which pushes the pages to the device but neither flushes the
//! drive's volatile write cache nor makes file metadata (the file's size)
//! durable. Worse, values too large for a log segment (about 128 KiB after
//! serialization, which a leaf of several big job scripts easily reaches) go to
//! separate files `dir/sled/blobs/<lsn>` that sled writes without any sync at
//! all. So every operation that openraft requires to be durable ends with
//! `DurableDb::make_durable` (module `durable`):
//!
//! 1. `db.flush()`: everything sled has accepted reaches the OS (and its log
//!    records reference only blobs already written);
//! 2. `fdatasync` of sled's data file `dir/sled/db` (a `File` kept open on it);
//! 3. `fdatasync` of every blob file not synced before, then `fsync` of the
//!    `blobs` directory so the new names survive too.
//!
//! What is synced when:
//!
//! | operation | durable before |
//! |---|---|
//! | `append` | the `LogFlushed` callback fires; one flush and sync per `append` call, whatever its number of entries, done on a blocking thread so the async executor never waits on the disk |
//! | `save_vote` | it returns |
//! | `truncate`, `purge` | they return (`purge` records the last purged log id first) |
//! | `save_committed` | never explicitly: it only shortens re-application after a restart, and the next synced write carries it anyway |
//! | snapshot (`build_snapshot`, `install_snapshot`) | they return: written to `snapshot.tmp`, fsynced, renamed to `snapshot`, directory fsynced |
//!
//! sled recovers a prefix of its own log after a crash, and each `append` is
//! one atomic sled batch, so a crash leaves either all or none of an
//! unacknowledged `append` and never a hole. A stored entry that does not
//! decode is reported as a storage error (openraft then stops the node); it is
//! never skipped.
//!
//! # Versions
//!
//! The log's commands (module `command_format`), the snapshot file (module
//! `snapshot_file`) and the state inside it (module `state_format`) each
//! carry a format version; what was written before versions existed is
//! version 1 as it stands. Something newer than this build understands is
//! refused with both versions named, never read as garbage: a log entry is
//! stored and replicated but not applied (applying it is a storage error,
//! which stops the Raft node and makes the controller exit), a snapshot is
//! not loaded or installed.

mod backup_file;
mod command_format;
mod durable;
mod error;
mod log_store;
mod offline;
mod snapshot_file;
mod state_format;
mod state_machine;
pub mod typ;

use std::fs;
use std::io::Cursor;
use std::path::Path;
use std::sync::Arc;

pub use backup_file::{Backup, BackupError, BackupHeader, BACKUP_FORMAT_VERSION};
pub use command_format::{LogCommand, NewerCommand};
pub use error::StoreError;
pub use log_store::{LogReader, LogStore};
pub use offline::{read_stopped_store, StoppedStore};
pub use snapshot_file::SNAPSHOT_FORMAT_VERSION;
pub use state_format::{decode_state, encode_state, StateFormatError, STATE_FORMAT_VERSION};
pub use state_machine::{SnapshotBuilder, StateCopy, StateHandle, StateMachineStore};

openraft::declare_raft_types!(
    /// Corral's openraft type configuration: the log carries
    /// [`corral_state::Command`]s (as [`LogCommand`]s, which know their
    /// format version) and applying one yields an [`corral_state::Outcome`].
    pub TypeConfig:
        D = LogCommand,
        R = corral_state::Outcome,
        NodeId = u64,
        Node = Node,
        Entry = openraft::Entry<TypeConfig>,
        SnapshotData = Cursor<Vec<u8>>,
        AsyncRuntime = openraft::TokioRuntime,
);

pub type NodeId = u64;
/// A controller as Raft membership records it: where its peers, agents
/// and clients reach it. Membership is replicated, so a controller added at
/// runtime (`corral controller add`) is reachable by every other controller
/// without a config edit. Serialized like openraft's `BasicNode` (`addr`),
/// plus `http_addr` when the controller serves HTTP, so entries and
/// snapshots written before `http_addr` existed still read.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Node {
    /// `host:port` of its gRPC service (peers and clients) and, over UDP,
    /// of its agent gateway.
    pub addr: String,
    /// `host:port` of its `/metrics`, `/health` and `/leader`, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_addr: Option<String>,
}

impl Node {
    pub fn new(addr: impl Into<String>) -> Node {
        Node {
            addr: addr.into(),
            http_addr: None,
        }
    }

    pub fn with_http(addr: impl Into<String>, http_addr: Option<String>) -> Node {
        Node {
            addr: addr.into(),
            http_addr,
        }
    }
}

impl std::fmt::Display for Node {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.http_addr {
            Some(http) => write!(f, "{} (http {http})", self.addr),
            None => f.write_str(&self.addr),
        }
    }
}
pub type Raft = openraft::Raft<TypeConfig>;
pub type Entry = openraft::Entry<TypeConfig>;
pub type LogId = openraft::LogId<NodeId>;
pub type Vote = openraft::Vote<NodeId>;
pub type SnapshotMeta = openraft::SnapshotMeta<NodeId, Node>;
pub type Snapshot = openraft::Snapshot<TypeConfig>;
pub type StoredMembership = openraft::StoredMembership<NodeId, Node>;
pub type StorageError = openraft::StorageError<NodeId>;

/// The sled database's directory inside the store directory.
pub const SLED_DIR_NAME: &str = "sled";
/// The current snapshot's file inside the store directory.
pub const SNAPSHOT_FILE_NAME: &str = "snapshot";
/// Where a snapshot is written before it is renamed over [`SNAPSHOT_FILE_NAME`].
pub const SNAPSHOT_TMP_FILE_NAME: &str = "snapshot.tmp";
/// sled's page cache size unless configured. sled's own default is 1 GiB,
/// far more than a controller's log needs: the log is read mostly at its tail.
pub const SLED_CACHE_CAPACITY_BYTES_DEFAULT: u64 = 64 * 1024 * 1024;
/// How long [`open`] waits for sled's lock on its data file before giving
/// up (sled closes a dropped database's file a moment late).
pub const SLED_LOCK_WAIT_MS_MAX: u64 = 2_000;
/// How often [`open`] retries sled's lock while it waits.
pub const SLED_LOCK_RETRY_INTERVAL_MS: u64 = 10;
/// How many bytes of encoded entries one `limited_get_log_entries` returns at
/// most (always at least one entry), so replication to a lagging follower
/// does not pull the whole log into memory at once.
pub const LOG_READ_BYTES_MAX: usize = 8 * 1024 * 1024;

/// How a store is opened.
#[derive(Clone, Debug)]
pub struct StoreOptions {
    /// Run [`corral_state::ClusterState::invariants`] after every applied
    /// command and panic on a violation. It costs a pass over the whole state
    /// per command, so tests and the chaos harness turn it on. The entries a
    /// restarting node re-applies up to its stored committed index were
    /// checked when first applied (here, or on the other controllers, as
    /// `apply` is deterministic), so they are checked once, after the last
    /// of them: checking each would make a restart quadratic in the log
    /// since the snapshot. The panic
    /// happens on openraft's state-machine task, and tokio keeps a panicking
    /// task from ending the process: the controller must make panics fatal
    /// (`panic = "abort"` or a panic hook that exits). Until then every read
    /// through a [`StateHandle`] panics too, as the state lock is poisoned.
    pub check_invariants: bool,
    /// sled's page cache, in bytes.
    pub cache_capacity_bytes: u64,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            check_invariants: false,
            cache_capacity_bytes: SLED_CACHE_CAPACITY_BYTES_DEFAULT,
        }
    }
}

/// Opens (creating if needed) the store of one controller in `dir`: the sled
/// database at `dir/sled` and the snapshot files beside it. The state machine
/// starts from the current snapshot, if any.
///
/// This does blocking file I/O; call it before starting Raft (or from a
/// blocking thread). Only one process may hold a store open: sled locks its
/// data file.
pub fn open(
    dir: &Path,
    options: StoreOptions,
) -> Result<(LogStore, StateMachineStore), StoreError> {
    fs::create_dir_all(dir).map_err(|source| StoreError::io("create directory", dir, source))?;
    let sled_dir = dir.join(SLED_DIR_NAME);
    let durable = Arc::new(durable::DurableDb::open(
        &sled_dir,
        options.cache_capacity_bytes,
    )?);
    durable::sync_dir(dir)?;
    let log_store = LogStore::open(durable)?;
    let reapplied_until = log_store.stored_committed_index()?;
    let state_machine = StateMachineStore::open(dir, &options, reapplied_until)?;
    Ok((log_store, state_machine))
}
