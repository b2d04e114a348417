//! Snapshots: a follower that missed more than the log keeps catches up by
//! installing the leader's snapshot, and a whole cluster restarted from
//! snapshots and logs has every job.

mod support;

use std::collections::BTreeSet;

use support::DevCluster;

/// Rounds of leader kills before giving up on electing a given controller;
/// each round elects it with probability one half.
const LEADER_ROUNDS_MAX: usize = 20;

/// Makes the cluster snapshot every 50 entries and keep only 10 behind it.
fn snapshot_often(cluster: &DevCluster) {
    let path = cluster.config_path();
    let text = std::fs::read_to_string(&path).unwrap();
    let changed = text
        .replace(
            "snapshot_after_entries = 20000",
            "snapshot_after_entries = 50",
        )
        .replace(
            "entries_kept_after_snapshot = 5000",
            "entries_kept_after_snapshot = 10",
        );
    assert_ne!(
        changed, text,
        "the dev config has no [raft] snapshot settings to change"
    );
    std::fs::write(&path, changed).unwrap();
    cluster.restart_all();
}

#[test]
fn a_lagging_follower_catches_up_from_a_snapshot() {
    let cluster = DevCluster::up(3);
    snapshot_often(&cluster);
    let leader = cluster.leader();
    let lagging = cluster
        .status()
        .into_iter()
        .find(|row| row.id != leader.id)
        .expect("a follower");
    cluster.kill(&format!("controller-{}", lagging.id));

    let submitted: BTreeSet<u32> = (0..150)
        .map(|_| cluster.submit(&["--hold", "--wrap", "true"]))
        .collect();

    cluster.start(&format!("controller-{}", lagging.id));
    cluster.wait_converged();
    assert!(
        cluster
            .log(lagging.id)
            .contains("installed a snapshot from the leader"),
        "controller-{} caught up without a snapshot:\n{}",
        lagging.id,
        cluster.log(lagging.id)
    );
    assert_eq!(
        cluster
            .job_states()
            .keys()
            .copied()
            .collect::<BTreeSet<_>>(),
        submitted
    );

    // The former laggard can lead with the state it got from the snapshot:
    // kill leaders until it is elected (each round it wins half the time).
    for _ in 0..LEADER_ROUNDS_MAX {
        let current = cluster.leader();
        if current.id == lagging.id {
            break;
        }
        cluster.kill("leader");
        cluster.wait_for("a new leader", || {
            Some(cluster.leader()).filter(|leader| leader.id != current.id)
        });
        cluster.start(&format!("controller-{}", current.id));
        cluster.wait_converged();
    }
    assert_eq!(
        cluster.leader().id,
        lagging.id,
        "controller-{} never became leader",
        lagging.id
    );
    assert_eq!(
        cluster
            .job_states()
            .keys()
            .copied()
            .collect::<BTreeSet<_>>(),
        submitted
    );
}

#[test]
fn a_restarted_cluster_restores_every_job_from_snapshots_and_logs() {
    let cluster = DevCluster::up(3);
    snapshot_often(&cluster);
    let submitted: BTreeSet<u32> = (0..120)
        .map(|_| cluster.submit(&["--hold", "--wrap", "true"]))
        .collect();
    cluster.restart_all();
    cluster.wait_converged();
    assert_eq!(
        cluster
            .job_states()
            .keys()
            .copied()
            .collect::<BTreeSet<_>>(),
        submitted
    );
    let next = cluster.submit(&["--hold", "--wrap", "true"]);
    assert!(
        next > *submitted.iter().max().unwrap(),
        "ids only increase across restarts"
    );
}
