//! Snapshots: a built snapshot plus the log after it restore the state after
//! a restart even when the log behind it is purged, and a snapshot installed
//! into a fresh state machine reproduces the state it was built from.

mod common;

use std::io::Cursor;

use common::{append, apply, expected_state, open_store, replay_committed, workload};
use corral_raft_store::{SnapshotMeta, StateMachineStore};
use corral_state::ClusterState;
use openraft::storage::{RaftLogStorage, RaftStateMachine};
use openraft::{RaftLogReader, RaftSnapshotBuilder};

const TERM: u64 = 3;

fn current_state(state_machine: &StateMachineStore) -> ClusterState {
    state_machine.handle().read(ClusterState::clone)
}

#[tokio::test]
async fn purged_log_and_snapshot_restore_the_same_state_after_restart() {
    let dir = tempfile::tempdir().unwrap();
    let before_snapshot = workload(TERM, 1, 40);
    let snapshot_index = before_snapshot.last().unwrap().log_id.index;
    let after_snapshot = workload(TERM, snapshot_index + 1, 15);
    let all: Vec<_> = before_snapshot
        .iter()
        .chain(&after_snapshot)
        .cloned()
        .collect();
    let last_log_id = all.last().unwrap().log_id;

    let (built_meta, state_before_restart) = {
        let (mut log, mut state_machine) = open_store(dir.path());
        append(&mut log, &before_snapshot).await;
        apply(&mut state_machine, &before_snapshot).await;
        let snapshot = state_machine
            .get_snapshot_builder()
            .await
            .build_snapshot()
            .await
            .unwrap();
        assert_eq!(snapshot.meta.last_log_id.unwrap().index, snapshot_index);
        log.purge(snapshot.meta.last_log_id.unwrap()).await.unwrap();

        append(&mut log, &after_snapshot).await;
        apply(&mut state_machine, &after_snapshot).await;
        log.save_committed(Some(last_log_id)).await.unwrap();
        (snapshot.meta, current_state(&state_machine))
    };
    assert_eq!(state_before_restart, expected_state(&all));

    let (mut log, mut state_machine) = open_store(dir.path());
    let log_state = log.get_log_state().await.unwrap();
    assert_eq!(log_state.last_purged_log_id, built_meta.last_log_id);
    assert_eq!(log_state.last_log_id, Some(last_log_id));
    assert!(log
        .try_get_log_entries(..=snapshot_index)
        .await
        .unwrap()
        .is_empty());

    let (applied, membership) = state_machine.applied_state().await.unwrap();
    assert_eq!(
        applied, built_meta.last_log_id,
        "restored from the snapshot"
    );
    assert_eq!(membership, built_meta.last_membership);
    let current = state_machine.get_current_snapshot().await.unwrap().unwrap();
    assert_eq!(current.meta, built_meta);

    replay_committed(&mut log, &mut state_machine).await;
    assert_eq!(current_state(&state_machine), state_before_restart);
    assert_eq!(
        state_machine.handle().applied_index(),
        Some(last_log_id.index)
    );
}

#[tokio::test]
async fn installed_snapshot_replaces_a_fresh_state_and_survives_restart() {
    let leader_dir = tempfile::tempdir().unwrap();
    let follower_dir = tempfile::tempdir().unwrap();
    let entries = workload(TERM, 1, 25);

    let (_leader_log, mut leader) = open_store(leader_dir.path());
    apply(&mut leader, &entries).await;
    let built = leader
        .get_snapshot_builder()
        .await
        .build_snapshot()
        .await
        .unwrap();
    let leader_state = current_state(&leader);

    let meta: SnapshotMeta = {
        let (_follower_log, mut follower) = open_store(follower_dir.path());
        let mut received = follower.begin_receiving_snapshot().await.unwrap();
        *received = Cursor::new(built.snapshot.into_inner());
        follower
            .install_snapshot(&built.meta, received)
            .await
            .unwrap();

        assert_eq!(current_state(&follower), leader_state);
        assert_eq!(follower.handle().applied_log_id(), built.meta.last_log_id);
        let current = follower.get_current_snapshot().await.unwrap().unwrap();
        assert_eq!(current.meta, built.meta);
        built.meta
    };

    let (_follower_log, follower) = open_store(follower_dir.path());
    assert_eq!(current_state(&follower), leader_state);
    assert_eq!(follower.handle().applied_log_id(), meta.last_log_id);
}

#[tokio::test]
async fn snapshot_ids_are_unique_across_builds_and_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let entries = workload(TERM, 1, 3);
    let mut ids = Vec::new();
    for _restart in 0..2 {
        let (_log, mut state_machine) = open_store(dir.path());
        apply(&mut state_machine, &entries).await;
        for _build in 0..2 {
            let snapshot = state_machine
                .get_snapshot_builder()
                .await
                .build_snapshot()
                .await
                .unwrap();
            ids.push(snapshot.meta.snapshot_id);
        }
    }
    let mut unique = ids.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), ids.len(), "snapshot ids repeat: {ids:?}");
}

#[tokio::test]
#[should_panic(expected = "violates an invariant after applying log entry 2")]
async fn a_command_leaving_the_state_broken_stops_the_state_machine() {
    let dir = tempfile::tempdir().unwrap();
    let (_log, mut state_machine) = open_store(dir.path());
    // A snapshot whose state is already corrupt (job ids not below the next
    // id), as a damaged leader might send it. The next command must not be
    // applied silently on top of it.
    let mut state = serde_json::to_value(expected_state(&workload(TERM, 1, 2))).unwrap();
    state["next_job_id"] = serde_json::json!(1);
    let meta = SnapshotMeta {
        last_log_id: Some(common::log_id(TERM, 1)),
        last_membership: Default::default(),
        snapshot_id: "corrupt".to_string(),
    };
    let data = Box::new(Cursor::new(serde_json::to_vec(&state).unwrap()));
    state_machine.install_snapshot(&meta, data).await.unwrap();

    let next = common::command_entry(TERM, 2, common::set_partitions(9_000));
    apply(&mut state_machine, &[next]).await;
}
