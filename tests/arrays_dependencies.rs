//! End to end: job arrays with a throttle, and dependencies as Slurm
//! evaluates them, through `sbatch`, `squeue`, `scontrol` and `scancel`
//! against real controllers and agents.

mod support;

use std::path::Path;

use support::{assert_success, stdout, DevCluster};

/// A script that records its start in `DIR/started.ID` and waits for
/// `DIR/go` before it ends.
fn gated(dir: &Path, tag: &str) -> String {
    format!(
        "echo $SLURM_JOB_ID $SLURM_ARRAY_JOB_ID $SLURM_ARRAY_TASK_ID $SLURM_ARRAY_TASK_COUNT \
         $SLURM_ARRAY_TASK_MIN $SLURM_ARRAY_TASK_MAX > {dir}/started.{tag}; \
         while [ ! -f {dir}/go ]; do sleep 0.1; done",
        dir = dir.display()
    )
}

/// `squeue ARGS` output lines.
fn squeue(cluster: &DevCluster, args: &[&str]) -> Vec<String> {
    let output = cluster.slurm("squeue").args(args).output().unwrap();
    assert_success(&output, "squeue");
    stdout(&output).lines().map(str::to_string).collect()
}

/// One line per task of `array`, finished or not, in `format`.
fn every_task(cluster: &DevCluster, array: u32, format: &str) -> Vec<String> {
    let array = array.to_string();
    squeue(
        cluster,
        &["-h", "-r", "-t", "all", "-j", &array, "-o", format],
    )
}

#[test]
fn an_array_runs_each_task_once_within_its_throttle() {
    let cluster = DevCluster::with_agents(3, 1, &["--agent-cpus", "8"]);
    let work = tempfile::tempdir().unwrap();
    let script = gated(work.path(), "$SLURM_ARRAY_TASK_ID");
    let array = cluster.submit_in(work.path(), &["--array=1-4%2", "--wrap", &script]);

    // Two tasks start; the throttle, not the node's 8 CPUs, holds the rest.
    let tasks = cluster.wait_for("two tasks running", || {
        let lines = squeue(
            &cluster,
            &["-h", "-r", "-j", &array.to_string(), "-o", "%i %T %r"],
        );
        (lines.iter().filter(|l| l.contains("RUNNING")).count() == 2).then_some(lines)
    });
    let pending: Vec<&String> = tasks.iter().filter(|l| l.contains("PENDING")).collect();
    assert_eq!(pending.len(), 2, "{tasks:?}");
    for line in &pending {
        assert!(line.ends_with("PENDING JobArrayTaskLimit"), "{tasks:?}");
    }
    // Without -r the pending tasks are one line, as Slurm prints them.
    let grouped = squeue(
        &cluster,
        &["-h", "-j", &array.to_string(), "-t", "PD", "-o", "%i"],
    );
    let pending_indices: Vec<String> = pending
        .iter()
        .map(|line| line.split(['_', ' ']).nth(1).unwrap().to_string())
        .collect();
    assert_eq!(
        grouped,
        vec![format!(
            "{array}_[{}-{}%2]",
            pending_indices[0], pending_indices[1]
        )]
    );

    std::fs::write(work.path().join("go"), "").unwrap();
    cluster.wait_for("every task to complete", || {
        let lines = every_task(&cluster, array, "%T");
        (lines.len() == 4 && lines.iter().all(|l| l == "COMPLETED")).then_some(())
    });
    // Each task ran once with Slurm's array environment.
    for task in 1..=4u32 {
        let record = std::fs::read_to_string(work.path().join(format!("started.{task}"))).unwrap();
        let fields: Vec<&str> = record.split_whitespace().collect();
        assert_eq!(
            fields[1..],
            [&array.to_string(), &task.to_string(), "4", "1", "4"],
            "{record}"
        );
        assert_ne!(fields[0], array.to_string(), "a task has its own job id");
    }
    // Slurm's default output file of an array task.
    assert!(work.path().join(format!("slurm-{array}_3.out")).exists());
}

#[test]
fn scancel_of_a_task_or_of_the_whole_array() {
    let cluster = DevCluster::up(3);
    let work = tempfile::tempdir().unwrap();
    let array = cluster.submit_in(work.path(), &["--hold", "--array=0-3", "--wrap", "true"]);
    let cancel = |target: &str| {
        let output = cluster.slurm("scancel").arg(target).output().unwrap();
        assert_success(&output, "scancel");
    };
    cancel(&format!("{array}_2"));
    let states = || every_task(&cluster, array, "%i %T");
    // squeue sorts states by their compact names (`CA` before `PD`), as
    // Slurm's sort.c does.
    assert_eq!(
        states(),
        [
            format!("{array}_2 CANCELLED"),
            format!("{array}_0 PENDING"),
            format!("{array}_1 PENDING"),
            format!("{array}_3 PENDING"),
        ]
    );
    let show = cluster
        .slurm("scontrol")
        .args(["show", "job", &format!("{array}_1")])
        .output()
        .unwrap();
    assert_success(&show, "scontrol show job");
    assert!(
        stdout(&show).contains(&format!("ArrayJobId={array} ArrayTaskId=1 JobName=wrap")),
        "{}",
        stdout(&show)
    );
    cancel(&array.to_string());
    assert!(
        states().iter().all(|line| line.ends_with(" CANCELLED")),
        "{:?}",
        states()
    );
}

#[test]
fn dependencies_start_jobs_as_slurm_decides() {
    let cluster = DevCluster::with_agents(3, 1, &["--agent-cpus", "8"]);
    let work = tempfile::tempdir().unwrap();
    let first = cluster.submit_in(work.path(), &["--wrap", &gated(work.path(), "first")]);
    let failing = cluster.submit_in(work.path(), &["--wrap", "exit 1"]);
    let dep = |spec: &str| {
        cluster.submit_in(
            work.path(),
            &[&format!("--dependency={spec}"), "--wrap", "true"],
        )
    };
    let after_ok = dep(&format!("afterok:{first}"));
    let after_start = dep(&format!("after:{first}"));
    let after_failed_ok = dep(&format!("afterok:{failing}"));
    let after_failed_notok = dep(&format!("afternotok:{failing}"));
    let either = dep(&format!("afterok:{failing}?afterany:{first}"));
    let unknown = dep("afterok:999999");
    let reason = |job: u32| {
        squeue(
            &cluster,
            &["-h", "-t", "all", "-j", &job.to_string(), "-o", "%T %r %E"],
        )
        .pop()
        .unwrap_or_default()
    };

    // Started or unknown: runs. Failed: never for afterok, at once for afternotok.
    cluster.wait_job_state(first, "RUNNING");
    for job in [after_start, unknown, after_failed_notok] {
        cluster.wait_job_state(job, "COMPLETED");
    }
    cluster.wait_for("afterok of a failed job never satisfied", || {
        (reason(after_failed_ok)
            == format!("PENDING DependencyNeverSatisfied afterok:{failing}(failed)"))
        .then_some(())
    });
    assert_eq!(
        reason(after_ok),
        format!("PENDING Dependency afterok:{first}(unfulfilled)")
    );
    assert_eq!(
        reason(either),
        format!("PENDING Dependency afterok:{failing}(failed)?afterany:{first}(unfulfilled)")
    );

    std::fs::write(work.path().join("go"), "").unwrap();
    for job in [first, after_ok, either] {
        cluster.wait_job_state(job, "COMPLETED");
    }
    assert_eq!(
        cluster.job_state(after_failed_ok).as_deref(),
        Some("PENDING")
    );
}
