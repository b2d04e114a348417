//! What the integration tests share: opening stores, making commands and
//! entries, and replaying the log the way openraft does after a restart.

#![allow(dead_code)] // each test binary uses a different part of this module

use std::collections::BTreeSet;
use std::path::Path;

use corral_raft_store::{Entry, LogId, LogStore, StateMachineStore, StoreOptions};
use corral_state::{
    Actor, ClusterState, Command, JobSpec, Outcome, Partition, PartitionState, RequestId,
};
use openraft::storage::{RaftLogStorage, RaftLogStorageExt, RaftStateMachine};
use openraft::{CommittedLeaderId, EntryPayload, Membership, RaftLogReader};

pub const NODE_ID: u64 = 1;

pub fn open_store(dir: &Path) -> (LogStore, StateMachineStore) {
    let options = StoreOptions {
        check_invariants: true,
        ..StoreOptions::default()
    };
    corral_raft_store::open(dir, options).expect("open store")
}

pub fn log_id(term: u64, index: u64) -> LogId {
    LogId::new(CommittedLeaderId::new(term, NODE_ID), index)
}

pub fn entry(term: u64, index: u64, payload: EntryPayload<corral_raft_store::TypeConfig>) -> Entry {
    Entry {
        log_id: log_id(term, index),
        payload,
    }
}

pub fn membership_entry(term: u64, index: u64) -> Entry {
    let voters = BTreeSet::from([NODE_ID]);
    entry(
        term,
        index,
        EntryPayload::Membership(Membership::new(vec![voters], None)),
    )
}

pub fn command_entry(term: u64, index: u64, command: Command) -> Entry {
    entry(term, index, EntryPayload::Normal(command.into()))
}

pub fn set_partitions(now_ms: u64) -> Command {
    Command::SetPartitions {
        partitions: vec![Partition {
            name: "batch".to_string(),
            nodes: "node[001-004]".to_string(),
            default: true,
            max_time_minutes: Some(60),
            state: PartitionState::Up,
        }],
        now_ms,
    }
}

pub fn alice() -> Actor {
    Actor {
        user: "alice".to_string(),
        uid: 1000,
        gid: 1000,
        admin: false,
    }
}

pub fn submit_job(serial: u64, script_bytes: usize) -> Command {
    let mut script = String::from("#!/bin/sh\n");
    while script.len() < script_bytes {
        script.push_str(&format!("echo step {serial} {}\n", script.len()));
    }
    Command::SubmitJob {
        request_id: RequestId(format!("request-{serial}")),
        actor: alice(),
        spec: Box::new(JobSpec {
            name: format!("job-{serial}"),
            script,
            ..JobSpec::default()
        }),
        now_ms: 1_000 + serial,
    }
}

pub fn cancel_job(job_id: u32, now_ms: u64) -> Command {
    Command::CancelJob {
        job_id,
        actor: alice(),
        now_ms,
    }
}

/// A realistic stretch of log from `first_index` on: a membership entry,
/// the partitions, submissions (some cancelled, one retried) and a blank.
pub fn workload(term: u64, first_index: u64, submissions: u64) -> Vec<Entry> {
    let mut entries = vec![
        membership_entry(term, first_index),
        command_entry(term, first_index + 1, set_partitions(1_000)),
    ];
    for serial in 0..submissions {
        let index = first_index + 2 + serial;
        entries.push(command_entry(
            term,
            index,
            submit_job(serial, 100 + (serial as usize % 7) * 900),
        ));
    }
    let next = first_index + 2 + submissions;
    entries.push(command_entry(term, next, cancel_job(2, 5_000)));
    entries.push(command_entry(term, next + 1, submit_job(0, 100)));
    entries.push(entry(term, next + 2, EntryPayload::Blank));
    entries
}

/// Appends and waits until the store reports the entries durable.
pub async fn append(log: &mut LogStore, entries: &[Entry]) {
    log.blocking_append(entries.to_vec()).await.expect("append");
}

pub async fn apply(state_machine: &mut StateMachineStore, entries: &[Entry]) -> Vec<Outcome> {
    state_machine.apply(entries.to_vec()).await.expect("apply")
}

/// The state a plain `ClusterState` reaches from these entries: what the
/// store must agree with.
pub fn expected_state(entries: &[Entry]) -> ClusterState {
    let mut state = ClusterState::default();
    for entry in entries {
        if let EntryPayload::Normal(corral_raft_store::LogCommand::Known(command)) = &entry.payload
        {
            state.apply(command);
        }
    }
    state
}

/// What openraft does on start-up: apply the committed log entries the
/// state machine has not applied yet.
pub async fn replay_committed(log: &mut LogStore, state_machine: &mut StateMachineStore) {
    let committed = log.read_committed().await.expect("read committed");
    let (applied, _) = state_machine.applied_state().await.expect("applied state");
    let (Some(committed), from) = (committed, applied.map_or(0, |log_id| log_id.index + 1)) else {
        return;
    };
    let entries = log
        .try_get_log_entries(from..=committed.index)
        .await
        .expect("read log");
    let indexes: Vec<u64> = entries.iter().map(|entry| entry.log_id.index).collect();
    assert_eq!(
        indexes.last(),
        Some(&committed.index),
        "the log ends before the committed entry"
    );
    assert!(
        indexes.windows(2).all(|pair| pair[1] == pair[0] + 1) && (from == 0 || indexes[0] == from),
        "the log must hold every committed entry after the snapshot, without a gap"
    );
    apply(state_machine, &entries).await;
}
