//! End to end: the job actions on a real cluster. A time limit lowered on
//! a running job ends it with TIMEOUT; `scontrol requeue` reruns a running
//! job (its output appended, `Restarts=1`), `requeuehold` holds it;
//! `scancel --signal` reaches a script that traps it and a step's tasks;
//! `squeue -s` and `scontrol show step` list a running step.

mod support;

use std::path::Path;
use std::process::Output;

use support::{assert_success, stderr, stdout, DevCluster};

fn run(cluster: &DevCluster, command: &str, args: &[&str]) -> Output {
    cluster
        .slurm(command)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{command}: {e}"))
}

fn read(dir: &Path, name: &str) -> String {
    std::fs::read_to_string(dir.join(name)).unwrap_or_default()
}

fn write_script(dir: &Path, body: &str) {
    std::fs::write(dir.join("job.sh"), format!("#!/bin/sh\n{body}")).unwrap();
}

#[test]
fn a_time_limit_lowered_on_a_running_job_ends_it_with_timeout() {
    let cluster = DevCluster::with_agents(3, 1, &["--agent-cpus", "2"]);
    let work = tempfile::tempdir().unwrap();
    write_script(work.path(), "touch ready\nsleep 300\n");
    let job = cluster.submit_in(work.path(), &["-t", "10", "job.sh"]);
    let id = job.to_string();
    cluster.wait_job_state(job, "RUNNING");
    cluster.wait_for("the script to start", || {
        work.path().join("ready").exists().then_some(())
    });

    // Relative to the current limit, in Slurm's formats.
    let lowered = run(
        &cluster,
        "scontrol",
        &["update", &format!("JobId={id}"), "TimeLimit=-4"],
    );
    assert_success(&lowered, "scontrol update TimeLimit=-4");
    assert_eq!(stdout(&lowered), "");
    assert!(cluster.show_job(job).contains(" TimeLimit=00:06:00 "));
    // The partition changes only while pending: Slurm's two lines, exit 1.
    let partition = stdout(&run(&cluster, "squeue", &["-h", "-j", &id, "-o", "%P"]));
    let moved = run(
        &cluster,
        "scontrol",
        &[
            "update",
            "job",
            &id,
            &format!("Partition={}", partition.trim()),
        ],
    );
    assert_eq!(moved.status.code(), Some(1));
    assert_eq!(
        stderr(&moved),
        format!(
            "Job is no longer pending execution for job {id}\nslurm_update error: Job is no longer pending execution\n"
        )
    );
    // Bad input never reaches the cluster.
    let bad = run(
        &cluster,
        "scontrol",
        &["update", &format!("JobId={id}"), "TimeLimit=soon"],
    );
    assert_eq!(
        (bad.status.code(), stderr(&bad).as_str()),
        (Some(1), "scontrol: error: Invalid TimeLimit value\n")
    );

    // No time left: the agent of the running job enforces the new limit.
    let ended = run(
        &cluster,
        "scontrol",
        &["update", &format!("JobId={id}"), "TimeLimit=0"],
    );
    assert_success(&ended, "scontrol update TimeLimit=0");
    cluster.wait_job_state(job, "TIMEOUT");
}

#[test]
fn requeue_reruns_a_running_job_and_requeuehold_holds_it() {
    let cluster = DevCluster::with_agents(3, 1, &["--agent-cpus", "2"]);
    let work = tempfile::tempdir().unwrap();
    write_script(work.path(), "echo run\nsleep 300\n");
    let job = cluster.submit_in(work.path(), &["job.sh"]);
    let id = job.to_string();
    let output = format!("slurm-{job}.out");
    let runs = || {
        read(work.path(), &output)
            .lines()
            .filter(|l| *l == "run")
            .count()
    };
    cluster.wait_job_state(job, "RUNNING");
    cluster.wait_for("the first run", || (runs() == 1).then_some(()));

    assert_success(
        &run(&cluster, "scontrol", &["requeue", &id]),
        "scontrol requeue",
    );
    cluster.wait_for("the second run, appended to the first's output", || {
        (runs() == 2 && cluster.job_state(job).as_deref() == Some("RUNNING")).then_some(())
    });
    assert!(cluster.show_job(job).contains(" Restarts=1 "));

    assert_success(
        &run(
            &cluster,
            "scontrol",
            &["requeuehold", &format!("JobId={id}")],
        ),
        "scontrol requeuehold",
    );
    cluster.wait_job_state(job, "PENDING");
    let reason = stdout(&run(&cluster, "squeue", &["-h", "-j", &id, "-o", "%r"]));
    assert_eq!(reason, "job requeued in held state\n");
    let shown = cluster.show_job(job);
    assert!(
        shown.contains(" Reason=job_requeued_in_held_state "),
        "{shown}"
    );
    assert!(shown.contains(" Restarts=2 "));
    // Slurm's message for a pending job.
    let pending = run(&cluster, "scontrol", &["requeue", &id]);
    assert_eq!(
        (pending.status.code(), stderr(&pending)),
        (Some(1), format!("Job is pending execution for job {id}\n"))
    );
    // Held: it stays pending until released.
    std::thread::sleep(std::time::Duration::from_secs(2));
    assert_eq!(cluster.job_state(job).as_deref(), Some("PENDING"));
    assert_success(
        &run(&cluster, "scontrol", &["release", &id]),
        "scontrol release",
    );
    cluster.wait_for("the third run", || (runs() == 3).then_some(()));
    assert_success(&run(&cluster, "scancel", &[&id]), "scancel");
    cluster.wait_job_state(job, "CANCELLED");
}

#[test]
fn scancel_signals_reach_a_trapping_script_and_a_steps_tasks() {
    let cluster = DevCluster::with_agents(3, 1, &["--agent-cpus", "2"]);
    let srun = cluster.path().join("bin/srun").display().to_string();

    // A job without steps: the batch shell gets the signal.
    let shell_dir = tempfile::tempdir().unwrap();
    write_script(
        shell_dir.path(),
        "trap 'echo got USR1 >> signals.txt' USR1\ntouch ready\nwhile :; do sleep 1; done\n",
    );
    let trapping = cluster.submit_in(shell_dir.path(), &["job.sh"]);
    let trapping_id = trapping.to_string();
    cluster.wait_for("the trapping script", || {
        shell_dir.path().join("ready").exists().then_some(())
    });
    let signalled = run(&cluster, "scancel", &["-s", "USR1", &trapping_id]);
    assert_success(&signalled, "scancel -s USR1");
    cluster.wait_for("the trap to run", || {
        (read(shell_dir.path(), "signals.txt") == "got USR1\n").then_some(())
    });
    assert_success(
        &run(
            &cluster,
            "scancel",
            &["--batch", "--signal=SIGUSR1", &trapping_id],
        ),
        "scancel -b --signal=SIGUSR1",
    );
    cluster.wait_for("the trap to run again", || {
        (read(shell_dir.path(), "signals.txt") == "got USR1\ngot USR1\n").then_some(())
    });
    assert_eq!(cluster.job_state(trapping).as_deref(), Some("RUNNING"));
    let bad = run(&cluster, "scancel", &["-s", "NOSUCH", &trapping_id]);
    assert_eq!(
        (bad.status.code(), stderr(&bad).as_str()),
        (Some(1), "scancel: error: Invalid job signal: NOSUCH\n")
    );
    assert_success(&run(&cluster, "scancel", &[&trapping_id]), "scancel");

    // A job with a step: the step's tasks get it, the batch shell (which
    // does not trap it and would die of it) does not.
    let step_dir = tempfile::tempdir().unwrap();
    write_script(
        step_dir.path(),
        &format!(
            "{srun} sh -c 'trap \"echo task got USR2 > task.txt; exit 0\" USR2; touch step-ready; while :; do sleep 1; done'\n\
             echo \"srun ended $?\"\n\
             sleep 300\n"
        ),
    );
    let job = cluster.submit_in(step_dir.path(), &["job.sh"]);
    let id = job.to_string();
    cluster.wait_for("the step's task", || {
        step_dir.path().join("step-ready").exists().then_some(())
    });
    let steps = run(&cluster, "squeue", &["-s"]);
    assert_success(&steps, "squeue -s");
    let listing = stdout(&steps);
    let mut lines = listing.lines();
    assert_eq!(
        lines.next(),
        Some("         STEPID     NAME PARTITION     USER      TIME NODELIST")
    );
    let step_line = lines
        .find(|line| line.trim_start().starts_with(&format!("{id}.0 ")))
        .unwrap_or_else(|| panic!("no step {id}.0 in:\n{listing}"));
    assert!(step_line.ends_with(" node001"), "{step_line}");
    let custom = run(
        &cluster,
        "squeue",
        &["-s", &format!("{id}.0"), "-h", "-o", "%i %j %A %N"],
    );
    assert_eq!(stdout(&custom), format!("{id}.0 sh 1 node001\n"));
    let shown = run(&cluster, "scontrol", &["show", "step", &format!("{id}.0")]);
    assert_success(&shown, "scontrol show step");
    let record = stdout(&shown);
    assert!(
        record.starts_with(&format!("StepId={id}.0 UserId=")),
        "{record}"
    );
    assert!(
        record.contains("\n   Nodes=1 CPUs=1 Tasks=1 Name=sh Network=(null)\n"),
        "{record}"
    );

    assert_success(
        &run(&cluster, "scancel", &["--signal", "USR2", &id]),
        "scancel -s USR2",
    );
    cluster.wait_for("the task's trap and the end of srun", || {
        (read(step_dir.path(), "task.txt") == "task got USR2\n"
            && read(step_dir.path(), &format!("slurm-{id}.out")).contains("srun ended 0\n"))
        .then_some(())
    });
    assert_eq!(
        cluster.job_state(job).as_deref(),
        Some("RUNNING"),
        "the batch shell was spared"
    );
    let gone = run(&cluster, "scontrol", &["show", "step", &format!("{id}.0")]);
    assert_eq!(
        (gone.status.code(), stdout(&gone)),
        (Some(1), format!("Job step {id}.0 not found\n"))
    );
    assert_success(&run(&cluster, "scancel", &[&id]), "scancel");
    cluster.wait_job_state(job, "CANCELLED");
}
