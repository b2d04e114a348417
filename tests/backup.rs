//! Backup and restore: `corral snapshot save` on one running cluster,
//! `corral snapshot restore` into a fresh one, and the fresh cluster has the
//! same jobs (ids, states, names) and nodes and continues the job ids. A
//! damaged or foreign backup, or an occupied data directory, is refused.

mod support;

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use support::{assert_success, stderr, stdout, DevCluster};

/// Every job's id, name and state (`squeue -h -t all -o '%i %j %T'`).
fn jobs(cluster: &DevCluster) -> BTreeMap<u32, (String, String)> {
    let output = cluster
        .slurm("squeue")
        .args(["-h", "-t", "all", "-o", "%i %j %T"])
        .output()
        .expect("squeue");
    assert_success(&output, "squeue");
    stdout(&output)
        .lines()
        .map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            assert_eq!(fields.len(), 3, "squeue line {line:?}");
            (
                fields[0].parse().expect("job id"),
                (fields[1].to_string(), fields[2].to_string()),
            )
        })
        .collect()
}

fn node_names(cluster: &DevCluster) -> Vec<String> {
    cluster.nodes().into_iter().map(|node| node.name).collect()
}

/// The first user token file of a dev cluster (`tokens/<user>.token`).
fn user_token_file(cluster: &DevCluster) -> std::path::PathBuf {
    fs::read_dir(cluster.path().join("tokens"))
        .expect("tokens directory")
        .map(|entry| entry.expect("entry").path())
        .find(|path| path.extension().is_some_and(|ext| ext == "token"))
        .expect("a user token")
}

fn dev(cluster: &DevCluster, verb: &str) {
    let dir = cluster.path().to_string_lossy().into_owned();
    assert_success(
        &cluster.corral(&["dev", verb, "--dir", &dir]),
        &format!("corral dev {verb}"),
    );
}

fn refused(cluster: &DevCluster, args: &[&str], expected: &str) {
    let output = cluster.corral(args);
    assert!(
        !output.status.success(),
        "{args:?} succeeded: {}",
        stdout(&output)
    );
    assert!(
        stderr(&output).contains(expected),
        "{args:?} should say {expected:?}; stderr: {}",
        stderr(&output)
    );
}

#[test]
fn a_cluster_restored_from_a_backup_has_the_same_jobs_and_nodes() {
    let original = DevCluster::with_agents(3, 2, &[]);
    let done = original.submit(&["-J", "done", "--wrap", "true"]);
    original.wait_job_state(done, "COMPLETED");
    let held = original.submit(&["-J", "held", "-H", "--wrap", "true"]);
    let cancelled = original.submit(&["-J", "gone", "-H", "--wrap", "true"]);
    assert_success(
        &original
            .slurm("scancel")
            .arg(cancelled.to_string())
            .output()
            .unwrap(),
        "scancel",
    );
    original.wait_job_state(cancelled, "CANCELLED");
    let jobs_before = jobs(&original);
    assert_eq!(jobs_before.len(), 3, "{jobs_before:?}");
    assert_eq!(
        jobs_before[&held],
        ("held".to_string(), "PENDING".to_string())
    );
    let nodes_before = node_names(&original);
    assert_eq!(nodes_before, ["node001", "node002"]);

    let backup = original.path().join("backup.corral");
    let backup_arg = backup.to_string_lossy().into_owned();
    let saved = original.corral(&["snapshot", "save", &backup_arg]);
    assert_success(&saved, "corral snapshot save");
    assert!(
        stdout(&saved).contains("cluster: dev"),
        "{}",
        stdout(&saved)
    );
    assert!(stdout(&saved).contains("jobs: 3"), "{}", stdout(&saved));
    let index: u64 = stdout(&saved)
        .lines()
        .find_map(|line| line.strip_prefix("index: "))
        .expect("the index it reflects")
        .parse()
        .unwrap();
    assert!(index > 0);

    // A fresh cluster of the same name, stopped, its data directories
    // emptied, one seeded from the backup.
    let fresh = DevCluster::with_agents(3, 2, &[]);
    dev(&fresh, "down");
    for id in 1..=3 {
        fs::remove_dir_all(fresh.path().join(format!("data/controller-{id}"))).unwrap();
    }
    damaged_backups_are_refused(&fresh, &backup);
    let restored = fresh.corral(&["snapshot", "restore", &backup_arg, "--id", "1"]);
    assert_success(&restored, "corral snapshot restore");
    assert!(
        stdout(&restored).contains(&format!("index: {index}")),
        "{}",
        stdout(&restored)
    );
    refused(
        &fresh,
        &["snapshot", "restore", &backup_arg, "--id", "1"],
        "not empty",
    );
    // Users come with the state: the restored cluster knows the original's
    // tokens (and not the ones the fresh cluster had made for itself).
    fs::copy(user_token_file(&original), user_token_file(&fresh)).unwrap();
    drop(original);
    dev(&fresh, "up");

    fresh.wait_for("the restored jobs", || {
        let output = fresh
            .slurm("squeue")
            .args(["-h", "-t", "all"])
            .output()
            .ok()?;
        output.status.success().then_some(())
    });
    assert_eq!(jobs(&fresh), jobs_before);
    fresh.wait_for("both nodes up", || {
        let nodes = fresh.nodes();
        (nodes.len() == 2 && nodes.iter().all(|node| node.availability == "UP")).then_some(())
    });
    assert_eq!(node_names(&fresh), nodes_before);
    let next = fresh.submit(&["-J", "after", "--wrap", "true"]);
    assert!(
        next > *jobs_before.keys().max().unwrap(),
        "job id {next} reused"
    );
    fresh.wait_job_state(next, "COMPLETED");
    // Every controller, not only the seeded one, has the state.
    fresh.wait_converged();
    let status = fresh.status();
    assert!(
        status.iter().all(|row| row.applied_index > Some(index)),
        "{status:?}"
    );
}

fn damaged_backups_are_refused(cluster: &DevCluster, backup: &Path) {
    let bytes = fs::read(backup).unwrap();
    let damaged = cluster.path().join("damaged.corral");
    let damaged_arg = damaged.to_string_lossy().into_owned();
    let restore = ["snapshot", "restore", &damaged_arg, "--id", "1"];

    let mut flipped = bytes.clone();
    *flipped.last_mut().unwrap() ^= 0x20;
    fs::write(&damaged, &flipped).unwrap();
    refused(cluster, &restore, "SHA-256");

    fs::write(&damaged, &bytes[..bytes.len() * 2 / 3]).unwrap();
    refused(cluster, &restore, "truncated");

    let newer =
        String::from_utf8(bytes.clone())
            .unwrap()
            .replacen("corral-backup 1", "corral-backup 2", 1);
    fs::write(&damaged, newer).unwrap();
    refused(cluster, &restore, "backup format version 2 is newer");

    let config = fs::read_to_string(cluster.config_path()).unwrap();
    let other = cluster.path().join("other.toml");
    fs::write(
        &other,
        config.replace("cluster_name = \"dev\"", "cluster_name = \"other\""),
    )
    .unwrap();
    let other_arg = other.to_string_lossy().into_owned();
    let backup_arg = backup.to_string_lossy().into_owned();
    refused(
        cluster,
        &[
            "--config",
            &other_arg,
            "snapshot",
            "restore",
            &backup_arg,
            "--id",
            "1",
        ],
        "is a backup of cluster \"dev\"",
    );
    assert!(
        !cluster.path().join("data/controller-1").exists(),
        "a refused restore created the data directory"
    );
}
