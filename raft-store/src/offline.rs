//! Reading a stopped controller's store: what `corral snapshot save
//! --from-data-dir` backs up when a cluster has lost its majority for good.

use std::io;
use std::path::Path;

use crate::{open, LogId, StateCopy, StoreError, StoreOptions, SLED_DIR_NAME};

/// A stopped controller's state: its snapshot with every entry of its log
/// after the snapshot applied.
#[derive(Clone, Debug)]
pub struct StoppedStore {
    pub copy: StateCopy,
    /// The last entry in its log (what "most advanced" compares).
    pub last_log_id: Option<LogId>,
    /// The last committed index it had recorded. Entries after it were
    /// applied too: the controller may not have heard yet that the leader
    /// committed (and acknowledged) them.
    pub committed_index: Option<u64>,
}

/// Reads the store in `dir`, which no controller may hold open (sled's
/// lock is refused then). Applies its whole log after the snapshot; an
/// entry written by a newer Corral is an error naming it.
pub fn read_stopped_store(dir: &Path) -> Result<StoppedStore, StoreError> {
    if !dir.join(SLED_DIR_NAME).is_dir() {
        return Err(StoreError::io(
            "read",
            dir,
            io::Error::other(format!(
                "not a controller data directory (it has no {SLED_DIR_NAME}/)"
            )),
        ));
    }
    let (log_store, state_machine) = open(dir, StoreOptions::default())?;
    let committed_index = log_store.stored_committed_index()?;
    let handle = state_machine.handle();
    let entries = log_store.entries_after(handle.applied_index())?;
    state_machine.apply_offline(entries, dir)?;
    let copy = handle.copy();
    Ok(StoppedStore {
        last_log_id: copy.last_applied,
        copy,
        committed_index,
    })
}
