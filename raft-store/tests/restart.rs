//! Restarts without snapshots: the saved committed log id and the log give
//! back the same state, whether replayed by hand or by a real openraft node.

mod common;

use std::io;
use std::sync::Arc;
use std::time::Duration;

use common::{
    append, apply, expected_state, open_store, replay_committed, submit_job, workload, NODE_ID,
};
use corral_raft_store::typ::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotError, InstallSnapshotRequest,
    InstallSnapshotResponse, RaftError, RpcError, VoteRequest, VoteResponse,
};
use corral_raft_store::{Node, NodeId, Raft, TypeConfig};
use corral_state::{ClusterState, Outcome};
use openraft::error::Unreachable;
use openraft::network::{RPCOption, RaftNetwork, RaftNetworkFactory};
use openraft::storage::{RaftLogStorage, RaftStateMachine};
use openraft::Config;

const TERM: u64 = 2;
const RAFT_WAIT_TIMEOUT_MS: u64 = 10_000;

#[tokio::test]
async fn committed_log_replayed_after_restart_gives_the_same_state() {
    let dir = tempfile::tempdir().unwrap();
    let entries = workload(TERM, 1, 30);
    let last = entries.last().unwrap().log_id;

    let state_before = {
        let (mut log, mut state_machine) = open_store(dir.path());
        append(&mut log, &entries).await;
        let outcomes = apply(&mut state_machine, &entries).await;
        assert!(outcomes.contains(&Outcome::Submitted {
            job_id: 1,
            duplicate: true
        }));
        log.save_committed(Some(last)).await.unwrap();
        state_machine.handle().read(ClusterState::clone)
    };
    assert_eq!(state_before, expected_state(&entries));

    let (mut log, mut state_machine) = open_store(dir.path());
    assert_eq!(log.read_committed().await.unwrap(), Some(last));
    let (applied, _) = state_machine.applied_state().await.unwrap();
    assert_eq!(applied, None, "no snapshot: the state machine starts empty");

    replay_committed(&mut log, &mut state_machine).await;
    assert_eq!(
        state_machine.handle().read(ClusterState::clone),
        state_before
    );
    let (applied, membership) = state_machine.applied_state().await.unwrap();
    assert_eq!(applied, Some(last));
    assert_eq!(membership.log_id(), &Some(entries[0].log_id));
}

/// A single-node cluster never sends anything; every call says so.
struct NoPeers;

impl RaftNetworkFactory<TypeConfig> for NoPeers {
    type Network = NoPeers;

    async fn new_client(&mut self, _target: NodeId, _node: &Node) -> NoPeers {
        NoPeers
    }
}

fn no_peer<E: std::error::Error>() -> RpcError<E> {
    RpcError::Unreachable(Unreachable::new(&io::Error::other(
        "single-node test cluster",
    )))
}

impl RaftNetwork<TypeConfig> for NoPeers {
    async fn append_entries(
        &mut self,
        _rpc: AppendEntriesRequest,
        _option: RPCOption,
    ) -> Result<AppendEntriesResponse, RpcError<RaftError>> {
        Err(no_peer())
    }

    async fn install_snapshot(
        &mut self,
        _rpc: InstallSnapshotRequest,
        _option: RPCOption,
    ) -> Result<InstallSnapshotResponse, RpcError<RaftError<InstallSnapshotError>>> {
        Err(no_peer())
    }

    async fn vote(
        &mut self,
        _rpc: VoteRequest,
        _option: RPCOption,
    ) -> Result<VoteResponse, RpcError<RaftError>> {
        Err(no_peer())
    }
}

async fn start_raft(dir: &std::path::Path) -> (Raft, corral_raft_store::StateHandle) {
    let (log, state_machine) = open_store(dir);
    let handle = state_machine.handle();
    let config = Config {
        cluster_name: "restart-test".to_string(),
        ..Config::default()
    };
    let config = Arc::new(config.validate().unwrap());
    let raft = Raft::new(NODE_ID, config, NoPeers, log, state_machine)
        .await
        .unwrap();
    (raft, handle)
}

#[tokio::test]
async fn a_real_raft_node_reapplies_its_committed_log_after_restart() {
    let dir = tempfile::tempdir().unwrap();
    let wait = Some(Duration::from_millis(RAFT_WAIT_TIMEOUT_MS));

    let (state_before, last_index) = {
        let (raft, handle) = start_raft(dir.path()).await;
        let members = [(NODE_ID, Node::default())]
            .into_iter()
            .collect::<std::collections::BTreeMap<_, _>>();
        raft.initialize(members).await.unwrap();
        raft.wait(wait)
            .current_leader(NODE_ID, "elected")
            .await
            .unwrap();
        raft.client_write(common::set_partitions(1_000).into())
            .await
            .unwrap();
        let mut last_index = 0;
        for serial in 0..20 {
            let response = raft
                .client_write(submit_job(serial, 500).into())
                .await
                .unwrap();
            assert_eq!(
                response.data,
                Outcome::Submitted {
                    job_id: serial as u32 + 1,
                    duplicate: false
                }
            );
            last_index = response.log_id.index;
        }
        handle.wait_applied(last_index).await;
        let state = handle.read(ClusterState::clone);
        raft.shutdown().await.unwrap();
        (state, last_index)
    };
    assert_eq!(state_before.job_count(), 20);

    let (raft, handle) = start_raft(dir.path()).await;
    tokio::time::timeout(
        Duration::from_millis(RAFT_WAIT_TIMEOUT_MS),
        handle.wait_applied(last_index),
    )
    .await
    .expect("the restarted node re-applies its committed log");
    assert_eq!(handle.read(ClusterState::clone), state_before);
    raft.shutdown().await.unwrap();
}

#[test]
fn a_store_held_open_cannot_be_opened_twice() {
    let dir = tempfile::tempdir().unwrap();
    let _held = open_store(dir.path());
    let error = corral_raft_store::open(dir.path(), corral_raft_store::StoreOptions::default())
        .err()
        .expect("a second open of a live store must fail");
    let message = error.to_string();
    assert!(message.contains("could not acquire lock"), "{message}");
    assert!(
        message.contains(&dir.path().display().to_string()),
        "{message}"
    );
}
