//! openraft's own storage test suite, run against the real store on sled in
//! a fresh temporary directory for every case.

use corral_raft_store::{LogStore, StateMachineStore, StorageError, StoreOptions, TypeConfig};
use openraft::testing::{StoreBuilder, Suite};
use tempfile::TempDir;

/// Opens a new store per case; the `TempDir` guard keeps its directory
/// alive until openraft drops the case.
struct TempDirStoreBuilder;

impl StoreBuilder<TypeConfig, LogStore, StateMachineStore, TempDir> for TempDirStoreBuilder {
    async fn build(&self) -> Result<(TempDir, LogStore, StateMachineStore), StorageError> {
        let dir = tempfile::tempdir().expect("create a temporary directory");
        let options = StoreOptions {
            check_invariants: true,
            ..StoreOptions::default()
        };
        let (log_store, state_machine) =
            corral_raft_store::open(dir.path(), options).expect("open store");
        Ok((dir, log_store, state_machine))
    }
}

#[test]
fn openraft_storage_suite_passes() {
    Suite::test_all(TempDirStoreBuilder).expect("openraft storage suite");
}
