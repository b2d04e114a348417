//! Catching up: a follower that missed thousands of entries catches up from
//! the log, one that missed more than the log keeps catches up by installing
//! the leader's snapshot, and a whole cluster restarted from snapshots and
//! logs has every job.

mod support;

use std::collections::BTreeSet;

use support::DevCluster;

/// Rounds of leader kills before giving up on electing a given controller;
/// each round elects it with probability one half.
const LEADER_ROUNDS_MAX: usize = 20;

/// Jobs submitted while a follower is down in the log catch-up test: each
/// is at least one entry, and together they are several times what the
/// leader sends in one AppendEntries call.
const JOBS_MISSED_FROM_THE_LOG: usize = 1_200;
/// Submitting threads in that test.
const SUBMITTERS: usize = 4;
/// An environment variable every job carries (`--export=ALL`), so that the
/// entries are as big as those of a shell with a long environment.
const FAT_ENVIRONMENT_BYTES: usize = 4_096;

/// SIGKILLs one follower and returns its row from before the kill.
fn kill_a_follower(cluster: &DevCluster) -> support::StatusRow {
    let leader = cluster.leader();
    let follower = cluster
        .status()
        .into_iter()
        .find(|row| row.id != leader.id)
        .expect("a follower");
    cluster.kill(&format!("controller-{}", follower.id));
    follower
}

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

/// Every AppendEntries call must complete within the heartbeat interval, or
/// openraft drops it and sends the same batch again: with batches too big
/// for that, a follower far behind never caught up and stood for election
/// over and over.
#[test]
fn a_follower_thousands_of_entries_behind_catches_up_from_the_log() {
    let cluster = DevCluster::up(3);
    let lagging = kill_a_follower(&cluster);

    let filler = "x".repeat(FAT_ENVIRONMENT_BYTES);
    let submitted: BTreeSet<u32> = std::thread::scope(|scope| {
        let submitters: Vec<_> = (0..SUBMITTERS)
            .map(|_| {
                scope.spawn(|| {
                    (0..JOBS_MISSED_FROM_THE_LOG / SUBMITTERS)
                        .map(|_| {
                            let output = cluster
                                .slurm("sbatch")
                                .env("CORRAL_TEST_FILLER", &filler)
                                .args(["--parsable", "--hold", "--wrap", "true"])
                                .output()
                                .expect("sbatch");
                            support::assert_success(&output, "sbatch");
                            support::stdout(&output).trim().parse::<u32>().unwrap()
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        submitters
            .into_iter()
            .flat_map(|submitter| submitter.join().unwrap())
            .collect()
    });
    let missed = cluster.leader().applied_index.unwrap();

    cluster.start(&format!("controller-{}", lagging.id));
    assert!(cluster.wait_converged() >= missed);
    assert!(
        !cluster
            .log(lagging.id)
            .contains("installed a snapshot from the leader"),
        "controller-{} was sent a snapshot: the log was meant to be replicated",
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
fn a_lagging_follower_catches_up_from_a_snapshot() {
    let cluster = DevCluster::up(3);
    snapshot_often(&cluster);
    let lagging = kill_a_follower(&cluster);

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
