//! [`StateMachineStore`]: the replicated [`ClusterState`] in memory, applied
//! from the log, persisted by snapshots; [`StateHandle`] reads it.

use std::io::Cursor;
use std::path::Path;
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

use corral_state::{ClusterState, Outcome};
use openraft::storage::RaftStateMachine;
use openraft::{EntryPayload, ErrorSubject, ErrorVerb, RaftSnapshotBuilder};
use tokio::sync::watch;

use crate::durable::run_blocking;
use crate::error::storage_io;
use crate::snapshot_file::{SnapshotFiles, StoredSnapshot};
use crate::state_format::{decode_state, encode_state, StateFormatError};
use crate::{
    Entry, LogCommand, LogId, Snapshot, SnapshotMeta, StorageError, StoreError, StoreOptions,
    StoredMembership, TypeConfig, SNAPSHOT_FILE_NAME,
};

/// The state machine storage of one controller. Owned by openraft once the
/// Raft node starts; everyone else reads through a [`StateHandle`].
pub struct StateMachineStore {
    shared: Arc<Shared>,
    snapshots: Arc<SnapshotFiles>,
    check_invariants: bool,
    /// Entries up to this index are being re-applied after a restart; see
    /// `StoreOptions::check_invariants`.
    reapplied_until: Option<u64>,
}

/// A cheap, cloneable read view of the applied state.
#[derive(Clone)]
pub struct StateHandle {
    shared: Arc<Shared>,
}

/// Builds a snapshot of the state as it was when the builder was made, so
/// that applying can go on while the snapshot is serialized and written.
pub struct SnapshotBuilder {
    state: Arc<ClusterState>,
    last_applied: Option<LogId>,
    last_membership: StoredMembership,
    snapshots: Arc<SnapshotFiles>,
}

/// The applied state at one log id: see [`StateHandle::copy`].
#[derive(Clone, Debug)]
pub struct StateCopy {
    pub state: ClusterState,
    pub last_applied: Option<LogId>,
    pub last_membership: StoredMembership,
}

struct Shared {
    applied: RwLock<Applied>,
    /// The index of the last applied entry, for callers that wait for one.
    applied_index: watch::Sender<Option<u64>>,
}

/// Everything applying the log produces.
#[derive(Clone, Debug, Default)]
struct Applied {
    state: ClusterState,
    last_applied: Option<LogId>,
    last_membership: StoredMembership,
}

impl Applied {
    fn from_snapshot(meta: SnapshotMeta, data: &[u8]) -> Result<Applied, StateFormatError> {
        Ok(Applied {
            state: decode_state(data)?,
            last_applied: meta.last_log_id,
            last_membership: meta.last_membership,
        })
    }

    /// Applies one entry; an entry written by a newer Corral is refused
    /// and leaves everything as it was (`last_applied` included).
    fn apply_entry(&mut self, entry: Entry, check_invariants: bool) -> Result<Outcome, String> {
        let outcome = match entry.payload {
            EntryPayload::Blank => Outcome::Done,
            EntryPayload::Normal(LogCommand::Known(command)) => {
                let outcome = self.state.apply(&command);
                if check_invariants {
                    self.check_invariants(entry.log_id.index, || format!("command: {command:?}"));
                }
                outcome
            }
            EntryPayload::Normal(LogCommand::Newer(newer)) => {
                return Err(newer.refusal(&entry.log_id))
            }
            EntryPayload::Membership(membership) => {
                self.last_membership = StoredMembership::new(Some(entry.log_id), membership);
                Outcome::Done
            }
        };
        self.last_applied = Some(entry.log_id);
        Ok(outcome)
    }

    /// A violated invariant means the replicated state is corrupt; serving
    /// it, or applying more to it, would spread the damage. The panic also
    /// poisons the state lock, so no reader sees the corrupt state.
    fn check_invariants(&self, index: u64, context: impl FnOnce() -> String) {
        if let Err(violation) = self.state.invariants() {
            panic!(
                "the replicated state violates an invariant after applying log entry {index}: {violation}; \
                 the state is corrupt, refusing to go on ({})",
                context()
            );
        }
    }
}

impl Shared {
    fn read(&self) -> RwLockReadGuard<'_, Applied> {
        self.applied
            .read()
            .expect("cluster state lock poisoned: applying a command panicked, the state is not trustworthy")
    }

    fn write(&self) -> RwLockWriteGuard<'_, Applied> {
        self.applied
            .write()
            .expect("cluster state lock poisoned: applying a command panicked, the state is not trustworthy")
    }

    fn publish_applied_index(&self) {
        let index = self.read().last_applied.map(|log_id| log_id.index);
        self.applied_index.send_replace(index);
    }
}

impl StateMachineStore {
    /// Restores the state from the snapshot in `dir`, if there is one.
    pub(crate) fn open(
        dir: &Path,
        options: &StoreOptions,
        reapplied_until: Option<u64>,
    ) -> Result<StateMachineStore, StoreError> {
        let (snapshots, stored) = SnapshotFiles::open(dir)?;
        let applied = match stored {
            Some(StoredSnapshot { meta, data }) => {
                tracing::info!(snapshot = %meta, "restoring the state from the snapshot");
                Applied::from_snapshot(meta, &data).map_err(|e| {
                    let path = dir.join(SNAPSHOT_FILE_NAME);
                    match e {
                        StateFormatError::Newer { found } => StoreError::NewerFormat {
                            path,
                            what: "state",
                            found,
                            newest: crate::STATE_FORMAT_VERSION,
                        },
                        StateFormatError::Corrupt(reason) => StoreError::corrupt(&path, reason),
                    }
                })?
            }
            None => Applied::default(),
        };
        let applied_index = applied.last_applied.map(|log_id| log_id.index);
        Ok(StateMachineStore {
            shared: Arc::new(Shared {
                applied: RwLock::new(applied),
                applied_index: watch::Sender::new(applied_index),
            }),
            snapshots: Arc::new(snapshots),
            check_invariants: options.check_invariants,
            reapplied_until,
        })
    }

    /// Applies `entries` outside openraft (a stopped controller's store,
    /// `offline`); the first refused entry is an error.
    pub(crate) fn apply_offline(&self, entries: Vec<Entry>, dir: &Path) -> Result<(), StoreError> {
        {
            let mut applied = self.shared.write();
            for entry in entries {
                applied.apply_entry(entry, false).map_err(|refusal| {
                    StoreError::io("apply the log in", dir, std::io::Error::other(refusal))
                })?;
            }
        }
        self.shared.publish_applied_index();
        Ok(())
    }

    /// A read handle that stays valid after this store is handed to openraft.
    pub fn handle(&self) -> StateHandle {
        StateHandle {
            shared: self.shared.clone(),
        }
    }
}

impl StateHandle {
    /// Runs `read` on the current state. Keep it short: applying waits.
    pub fn read<T>(&self, read: impl FnOnce(&ClusterState) -> T) -> T {
        read(&self.shared.read().state)
    }

    /// The index of the last applied log entry.
    pub fn applied_index(&self) -> Option<u64> {
        *self.shared.applied_index.borrow()
    }

    /// The id of the last applied log entry.
    pub fn applied_log_id(&self) -> Option<LogId> {
        self.shared.read().last_applied
    }

    /// A copy of the applied state with the log id and membership it
    /// reflects, taken at one instant (a backup's content).
    pub fn copy(&self) -> StateCopy {
        let applied = self.shared.read();
        StateCopy {
            state: applied.state.clone(),
            last_applied: applied.last_applied,
            last_membership: applied.last_membership.clone(),
        }
    }

    /// Follows the applied index as it grows.
    pub fn subscribe_applied_index(&self) -> watch::Receiver<Option<u64>> {
        self.shared.applied_index.subscribe()
    }

    /// Returns once the entry at `index` has been applied. Never fails but
    /// may wait forever (a node cut off from the leader); bound it with a
    /// timeout.
    pub async fn wait_applied(&self, index: u64) {
        let mut applied = self.subscribe_applied_index();
        // The sender lives in `self.shared`, so it cannot be dropped while
        // we wait and `wait_for` cannot fail.
        let _ = applied.wait_for(|applied| *applied >= Some(index)).await;
    }
}

impl RaftStateMachine<TypeConfig> for StateMachineStore {
    type SnapshotBuilder = SnapshotBuilder;

    async fn applied_state(&mut self) -> Result<(Option<LogId>, StoredMembership), StorageError> {
        let applied = self.shared.read();
        Ok((applied.last_applied, applied.last_membership.clone()))
    }

    async fn apply<I>(&mut self, entries: I) -> Result<Vec<Outcome>, StorageError>
    where
        I: IntoIterator<Item = Entry> + Send,
        I::IntoIter: Send,
    {
        let outcomes = {
            let mut applied = self.shared.write();
            let mut reapplied = None;
            let outcomes: Result<Vec<Outcome>, (LogId, String)> = entries
                .into_iter()
                .map(|entry| {
                    let log_id = entry.log_id;
                    let reapplying = self
                        .reapplied_until
                        .is_some_and(|until| log_id.index <= until);
                    if reapplying {
                        reapplied = Some(log_id.index);
                    }
                    applied
                        .apply_entry(entry, self.check_invariants && !reapplying)
                        .map_err(|refusal| (log_id, refusal))
                })
                .collect();
            if let (true, Some(index)) = (self.check_invariants, reapplied) {
                applied.check_invariants(index, || "re-applied after a restart".to_string());
            }
            outcomes
        };
        self.shared.publish_applied_index();
        outcomes.map_err(|(log_id, refusal)| {
            tracing::error!("{refusal}");
            storage_io(
                ErrorSubject::Apply(log_id),
                ErrorVerb::Read,
                std::io::Error::other(refusal),
            )
        })
    }

    async fn get_snapshot_builder(&mut self) -> SnapshotBuilder {
        let applied = self.shared.read();
        SnapshotBuilder {
            state: Arc::new(applied.state.clone()),
            last_applied: applied.last_applied,
            last_membership: applied.last_membership.clone(),
            snapshots: self.snapshots.clone(),
        }
    }

    async fn begin_receiving_snapshot(&mut self) -> Result<Box<Cursor<Vec<u8>>>, StorageError> {
        Ok(Box::new(Cursor::new(Vec::new())))
    }

    /// Persists the received snapshot first, then replaces the state: after
    /// a crash in between, the restart restores the new snapshot anyway.
    async fn install_snapshot(
        &mut self,
        meta: &SnapshotMeta,
        snapshot: Box<Cursor<Vec<u8>>>,
    ) -> Result<(), StorageError> {
        let data = snapshot.into_inner();
        let signature = Some(meta.signature());
        let applied = Applied::from_snapshot(meta.clone(), &data).map_err(|e| {
            storage_io(
                ErrorSubject::Snapshot(signature.clone()),
                ErrorVerb::Read,
                e,
            )
        })?;
        let snapshots = self.snapshots.clone();
        let persisted_meta = meta.clone();
        run_blocking(move || snapshots.persist_installed(&persisted_meta, &data))
            .await
            .map_err(|error| {
                error.into_storage(ErrorSubject::Snapshot(signature), ErrorVerb::Write)
            })?;
        tracing::info!(snapshot = %meta, "installed a snapshot from the leader");
        *self.shared.write() = applied;
        self.shared.publish_applied_index();
        Ok(())
    }

    async fn get_current_snapshot(&mut self) -> Result<Option<Snapshot>, StorageError> {
        let snapshots = self.snapshots.clone();
        let stored = run_blocking(move || snapshots.read_current())
            .await
            .map_err(|error| error.into_storage(ErrorSubject::Snapshot(None), ErrorVerb::Read))?;
        Ok(stored.map(|StoredSnapshot { meta, data }| Snapshot {
            meta,
            snapshot: Box::new(Cursor::new(data)),
        }))
    }
}

impl RaftSnapshotBuilder<TypeConfig> for SnapshotBuilder {
    /// Serializes the state and persists it as the current snapshot (unless
    /// a newer one was installed meanwhile) before returning, because
    /// openraft purges the log behind a snapshot once it has it.
    async fn build_snapshot(&mut self) -> Result<Snapshot, StorageError> {
        let meta = SnapshotMeta {
            snapshot_id: self.snapshots.next_snapshot_id(self.last_applied.as_ref()),
            last_log_id: self.last_applied,
            last_membership: self.last_membership.clone(),
        };
        let state = self.state.clone();
        let snapshots = self.snapshots.clone();
        let persisted_meta = meta.clone();
        let data = run_blocking(move || {
            let data = encode_state(&state)
                .map_err(|e| StoreError::io("encode the state for", &snapshots.path(), e.into()))?;
            snapshots.persist_built(&persisted_meta, &data)?;
            Ok(data)
        })
        .await
        .map_err(|error| {
            error.into_storage(
                ErrorSubject::Snapshot(Some(meta.signature())),
                ErrorVerb::Write,
            )
        })?;
        Ok(Snapshot {
            meta,
            snapshot: Box::new(Cursor::new(data)),
        })
    }
}
