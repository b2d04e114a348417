//! End to end with real processes: jobs acknowledged by `sbatch` survive the
//! leader's death, with three controllers and with five.

mod support;

use std::collections::BTreeSet;

use support::{assert_success, DevCluster};

/// Submits `count` held jobs through a client that knows only `follower`.
fn submit_through(cluster: &DevCluster, follower: &str, count: usize) -> Vec<u32> {
    (0..count)
        .map(|_| {
            let output = cluster
                .slurm("sbatch")
                .env("CORRAL_CONTROLLERS", follower)
                .args(["--hold", "--parsable", "--wrap", "true"])
                .output()
                .expect("sbatch");
            assert_success(&output, "sbatch through a follower");
            String::from_utf8_lossy(&output.stdout)
                .trim()
                .parse()
                .expect("job id")
        })
        .collect()
}

/// The scenario of both tests: submit through a follower, kill the leader
/// and `extra_kills` more controllers (never the one the client knows),
/// submit again, restart everyone, and check that every printed id is
/// there exactly once on a converged cluster.
fn leader_death_loses_nothing(controllers: usize, extra_kills: usize) {
    let cluster = DevCluster::up(controllers);
    let leader = cluster.leader();
    let follower = cluster
        .status()
        .into_iter()
        .find(|row| row.role == "follower")
        .expect("a follower");

    let mut printed = submit_through(&cluster, &follower.address, 100);

    let mut killed = vec![leader.id];
    cluster.kill("leader");
    for row in cluster.status() {
        if killed.len() > extra_kills {
            break;
        }
        if row.id != follower.id && !killed.contains(&row.id) {
            cluster.kill(&format!("controller-{}", row.id));
            killed.push(row.id);
        }
    }
    printed.extend(submit_through(&cluster, &follower.address, 1));

    for id in &killed {
        cluster.start(&format!("controller-{id}"));
    }
    cluster.wait_converged();

    let listed = cluster.job_states();
    let printed_set: BTreeSet<u32> = printed.iter().copied().collect();
    assert_eq!(
        printed_set.len(),
        printed.len(),
        "an id was printed twice: {printed:?}"
    );
    let listed_set: BTreeSet<u32> = listed.keys().copied().collect();
    assert_eq!(
        listed_set, printed_set,
        "acknowledged jobs and listed jobs differ"
    );
    assert!(listed.values().all(|state| state == "PENDING"));
    let mut ordered = printed.clone();
    ordered.sort_unstable();
    assert_eq!(ordered, printed, "ids only increase");
}

#[test]
fn three_controllers_keep_every_job_when_the_leader_dies() {
    leader_death_loses_nothing(3, 0);
}

#[test]
fn five_controllers_keep_every_job_when_two_die() {
    leader_death_loses_nothing(5, 1);
}
