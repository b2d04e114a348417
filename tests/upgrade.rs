//! Upgrades, with two builds of `corral`: this one (the "older") and one
//! built with the `upgrade-test-variant` feature (the "newer"), whose
//! `Command` has one variant more and whose command format version is one
//! higher. The newer build goes into `target/upgrade-newer` the first time
//! a test here needs it: a target directory of its own, because `cargo
//! test` holds the lock of this one and the two builds of the same binary
//! would overwrite each other's `corral`. It starts with hard links to this
//! build's dependencies, so only Corral's own crates are compiled again.
//!
//! - A rolling upgrade, one controller at a time, keeps the cluster serving
//!   when the new variant is not used: mixed versions replicate each
//!   other's entries.
//! - Once a newer leader commits the new variant, an older controller
//!   stops with a message naming both versions, and the others go on; the
//!   older one, upgraded, applies the entry from its intact log.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use support::{assert_success, DevCluster};

/// The variable the newer build reads (`controller/src/upgrade_test.rs`).
const PROPOSE_ENV: &str = "CORRAL_UPGRADE_TEST_PROPOSE";

/// The newer `corral`, built once per test process.
fn newer_corral() -> &'static Path {
    static NEWER: OnceLock<PathBuf> = OnceLock::new();
    NEWER.get_or_init(|| {
        let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .expect("the workspace")
            .to_path_buf();
        // This test binary is TARGET/debug/deps/upgrade-HASH.
        let exe = std::env::current_exe().expect("the test binary's path");
        let profile_dir = exe.parent().and_then(Path::parent).expect("TARGET/debug");
        let target = profile_dir
            .parent()
            .expect("the target directory")
            .join("upgrade-newer");
        seed_from(profile_dir, &target.join("debug"));
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
        let output = Command::new(cargo)
            .current_dir(&workspace)
            .env("CARGO_INCREMENTAL", "0")
            .args([
                "build",
                "-p",
                "corral-cli",
                "--features",
                "upgrade-test-variant",
                "--target-dir",
            ])
            .arg(&target)
            .output()
            .expect("running cargo build");
        assert_success(&output, "building the newer corral");
        target.join("debug/corral")
    })
}

/// Seeds the newer build's target directory with hard links to this
/// build's compiled dependencies, so that only the crates the feature
/// changes are compiled again (they get new file names: features are part
/// of a unit's hash, so nothing linked here is written over). The lock
/// file and the incremental caches are not linked.
fn seed_from(profile_dir: &Path, seeded: &Path) {
    if seeded.join("deps").exists() {
        return;
    }
    std::fs::create_dir_all(seeded).expect("creating the newer build's target directory");
    for dir in ["deps", "build", ".fingerprint"] {
        let output = Command::new("cp")
            .arg("-al")
            .arg(profile_dir.join(dir))
            .arg(seeded)
            .output()
            .expect("running cp");
        assert_success(&output, &format!("linking {dir} into {}", seeded.display()));
    }
}

/// Runs the newer `corral ARGS` against the cluster, with `env`.
fn newer(cluster: &DevCluster, args: &[&str], env: &[(&str, &Path)]) -> Output {
    let mut command = Command::new(newer_corral());
    command
        .args(args)
        .env("CORRAL_CONF", cluster.config_path())
        .env_remove("CORRAL_CONTROLLERS")
        .env_remove("CORRAL_TOKEN");
    for (key, value) in env {
        command.env(key, value);
    }
    command.output().expect("running the newer corral")
}

/// Replaces controller `id`'s process by the newer build's, on the same
/// data directory.
fn upgrade(cluster: &DevCluster, id: u64, env: &[(&str, &Path)]) {
    let name = format!("controller-{id}");
    cluster.kill(&name);
    let dir = cluster.path().to_string_lossy().into_owned();
    let output = newer(cluster, &["dev", "start", "--dir", &dir, &name], env);
    assert_success(&output, &format!("newer corral dev start {name}"));
}

#[test]
fn a_rolling_upgrade_keeps_the_cluster_serving() {
    newer_corral();
    let cluster = DevCluster::up(3);
    let mut submitted = vec![cluster.submit(&["-H", "--wrap", "true"])];
    for id in 1..=3 {
        upgrade(&cluster, id, &[]);
        // Mixed versions: entries flow both ways, whoever leads.
        submitted.push(cluster.submit(&["-H", "--wrap", "true"]));
        cluster.wait_converged();
    }
    let jobs = cluster.job_states();
    assert_eq!(jobs.keys().copied().collect::<Vec<_>>(), submitted);
    assert!(jobs.values().all(|state| state == "PENDING"), "{jobs:?}");
}

#[test]
fn an_older_controller_refuses_a_newer_entry_and_the_others_go_on() {
    newer_corral();
    let cluster = DevCluster::up(3);
    let first = cluster.submit(&["-H", "--wrap", "true"]);
    let trigger = cluster.path().join("propose-the-newer-variant");
    for id in [1, 2] {
        upgrade(&cluster, id, &[(PROPOSE_ENV, &trigger)]);
        cluster.wait_converged();
    }
    // The newer variant is proposed by a newer leader: move leadership
    // off the older controller 3 if it has it.
    while cluster.leader().id == 3 {
        cluster.kill("controller-3");
        cluster.wait_for("a newer leader", || {
            let leader = cluster.status().into_iter().find(|r| r.role == "leader")?;
            (leader.id != 3).then_some(())
        });
        cluster.start("controller-3");
        cluster.wait_converged();
    }
    std::fs::write(&trigger, b"now").unwrap();

    let refusal = cluster.wait_for("controller 3 to refuse the newer entry", || {
        let log = cluster.log(3);
        log.lines()
            .find(|line| line.contains("`UpgradeTestVariant` of command format version 2"))
            .map(str::to_string)
    });
    assert!(
        refusal.contains("understands command format versions up to 1"),
        "{refusal}"
    );
    cluster.wait_for("controller 3 to stop", || {
        let status = cluster.status();
        let row = status.iter().find(|row| row.id == 3)?;
        (row.role == "unreachable").then_some(())
    });
    assert!(
        cluster.log(3).contains("stopping the controller"),
        "controller 3's log:\n{}",
        cluster.log(3)
    );

    // The newer majority goes on serving.
    let second = cluster.submit(&["-H", "--wrap", "true"]);
    assert!(second > first);

    // Upgraded, controller 3 applies the entry from its log and catches up.
    let dir = cluster.path().to_string_lossy().into_owned();
    let output = newer(
        &cluster,
        &["dev", "start", "--dir", &dir, "controller-3"],
        &[],
    );
    assert_success(&output, "newer corral dev start controller-3");
    cluster.wait_converged();
    assert_eq!(
        cluster.job_states().keys().copied().collect::<Vec<_>>(),
        [first, second]
    );
}
