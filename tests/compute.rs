//! End to end with real controllers and agents: jobs run exactly once, to
//! the right end state, through leader kills and agent restarts.

mod support;

use std::collections::BTreeMap;
use std::path::Path;

use support::{assert_success, stderr, DevCluster};

/// Submits `count` jobs that each append their id and node to `record`.
fn submit_recording_jobs(
    cluster: &DevCluster,
    work: &Path,
    record: &Path,
    count: usize,
) -> Vec<u32> {
    let command = format!(
        "echo $SLURM_JOB_ID $SLURMD_NODENAME >> {}",
        record.display()
    );
    (0..count)
        .map(|_| cluster.submit_in(work, &["--wrap", &command]))
        .collect()
}

/// Waits for every job to complete, then checks the record: each id
/// exactly once.
fn assert_each_ran_once(cluster: &DevCluster, ids: &[u32], record: &Path) {
    cluster.wait_for("every job to complete", || {
        let states = cluster.job_states();
        ids.iter()
            .all(|id| states.get(id).map(String::as_str) == Some("COMPLETED"))
            .then_some(())
    });
    let text = std::fs::read_to_string(record).expect("the jobs' record");
    let mut runs: BTreeMap<u32, usize> = BTreeMap::new();
    for line in text.lines() {
        let id: u32 = line.split_whitespace().next().unwrap().parse().unwrap();
        *runs.entry(id).or_default() += 1;
    }
    for id in ids {
        assert_eq!(
            runs.get(id),
            Some(&1),
            "job {id} ran {:?} times",
            runs.get(id)
        );
    }
    assert_eq!(runs.len(), ids.len(), "jobs that were never submitted ran");
}

#[test]
fn three_hundred_jobs_each_run_exactly_once() {
    let cluster = DevCluster::with_agents(3, 3, &[]);
    let work = tempfile::tempdir().unwrap();
    let record = work.path().join("record");
    let ids = submit_recording_jobs(&cluster, work.path(), &record, 300);
    assert_each_ran_once(&cluster, &ids, &record);
}

#[test]
fn jobs_run_exactly_once_while_the_leader_is_killed_twice() {
    let cluster = DevCluster::with_agents(3, 3, &[]);
    let work = tempfile::tempdir().unwrap();
    let record = work.path().join("record");
    let mut ids = submit_recording_jobs(&cluster, work.path(), &record, 100);
    for _ in 0..2 {
        let leader = cluster.leader();
        cluster.kill("leader");
        ids.extend(submit_recording_jobs(&cluster, work.path(), &record, 100));
        cluster.start(&format!("controller-{}", leader.id));
    }
    assert_each_ran_once(&cluster, &ids, &record);
}

#[test]
fn a_running_job_survives_a_leader_kill_and_an_agent_restart() {
    let cluster = DevCluster::with_agents(3, 1, &[]);
    let work = tempfile::tempdir().unwrap();
    let record = work.path().join("record");
    let command = format!("echo started >> {}; sleep 6", record.display());
    let job = cluster.submit_in(work.path(), &["--wrap", &command]);
    cluster.wait_job_state(job, "RUNNING");
    let leader = cluster.leader();
    cluster.kill("leader");
    cluster.kill("agent-node001");
    cluster.start("agent-node001");
    cluster.start(&format!("controller-{}", leader.id));
    cluster.wait_job_state(job, "COMPLETED");
    assert!(cluster.show_job(job).contains("ExitCode=0:0"));
    let record = std::fs::read_to_string(&record).unwrap();
    assert_eq!(
        record.lines().count(),
        1,
        "the script started more than once"
    );
}

#[test]
fn cancel_fail_and_exit_codes() {
    let cluster = DevCluster::with_agents(3, 1, &[]);
    let work = tempfile::tempdir().unwrap();
    let held = cluster.submit_in(work.path(), &["--hold", "--wrap", "true"]);
    let running = cluster.submit_in(work.path(), &["--wrap", "sleep 300"]);
    let failing = cluster.submit_in(work.path(), &["--wrap", "exit 3"]);
    cluster.wait_job_state(running, "RUNNING");
    for job in [held, running] {
        assert_success(
            &cluster
                .slurm("scancel")
                .arg(job.to_string())
                .output()
                .unwrap(),
            "scancel",
        );
    }
    cluster.wait_job_state(held, "CANCELLED");
    cluster.wait_job_state(running, "CANCELLED");
    cluster.wait_job_state(failing, "FAILED");
    assert!(
        cluster.show_job(failing).contains("ExitCode=3:0"),
        "{}",
        cluster.show_job(failing)
    );
    assert!(cluster.show_job(running).contains("JobState=CANCELLED"));
    // Cancelling again is silent and succeeds, as in Slurm.
    let again = cluster
        .slurm("scancel")
        .arg(running.to_string())
        .output()
        .unwrap();
    assert_success(&again, "scancel of a cancelled job");
    assert_eq!(stderr(&again), "");
}

#[test]
fn a_killed_agent_fails_its_jobs_after_the_timeout() {
    let cluster = DevCluster::with_agents(3, 2, &[]);
    let work = tempfile::tempdir().unwrap();
    let plain = cluster.submit_in(work.path(), &["--wrap", "sleep 300"]);
    let requeue = cluster.submit_in(work.path(), &["--requeue", "--wrap", "sleep 300"]);
    cluster.wait_job_state(plain, "RUNNING");
    cluster.wait_job_state(requeue, "RUNNING");
    let node_of = |job: u32| {
        cluster
            .show_job(job)
            .lines()
            .find_map(|line| line.trim().strip_prefix("NodeList=").map(str::to_string))
            .unwrap()
    };
    let node = node_of(plain);
    assert_eq!(
        node_of(requeue),
        node,
        "first fit puts both jobs on one node"
    );
    cluster.kill(&format!("agent-{node}"));
    cluster.wait_job_state(plain, "NODE_FAIL");
    // The other node said nothing but heartbeats since it attached, longer
    // ago than the timeout: heartbeats alone keep it up.
    let nodes = cluster.nodes();
    let other = nodes.iter().find(|n| n.name != node).unwrap();
    assert_eq!(
        other.availability, "UP",
        "{} was set down: {other:?}",
        other.name
    );
    // The job that asked for it goes back to the queue and runs elsewhere.
    cluster.wait_for("the requeued job to run on the other node", || {
        (cluster.job_state(requeue).as_deref() == Some("RUNNING") && node_of(requeue) != node)
            .then_some(())
    });
    let down = cluster
        .nodes()
        .into_iter()
        .find(|n| n.name == node)
        .unwrap();
    assert_eq!(down.availability, "DOWN");
    // Back: the node registers again and takes work.
    cluster.start(&format!("agent-{node}"));
    cluster.wait_for("the node to be up again", || {
        cluster
            .nodes()
            .into_iter()
            .find(|n| n.name == node && n.availability == "UP")
    });
}

#[test]
fn declared_gpus_reach_the_job() {
    let cluster = DevCluster::with_agents(3, 1, &["--agent-gpus", "4"]);
    let work = tempfile::tempdir().unwrap();
    let job = cluster.submit_in(
        work.path(),
        &["--gres=gpu:2", "--wrap", "echo $CUDA_VISIBLE_DEVICES"],
    );
    cluster.wait_job_state(job, "COMPLETED");
    let output = std::fs::read_to_string(work.path().join(format!("slurm-{job}.out"))).unwrap();
    let indices: Vec<&str> = output.trim().split(',').collect();
    assert_eq!(indices.len(), 2, "CUDA_VISIBLE_DEVICES={output}");
    assert!(
        indices
            .iter()
            .all(|i| i.parse::<u32>().is_ok_and(|i| i < 4)),
        "{output}"
    );
}

#[test]
fn unsatisfiable_requests_pend_with_slurms_reasons() {
    let cluster = DevCluster::with_agents(3, 2, &[]);
    let work = tempfile::tempdir().unwrap();
    let too_many_cpus = cluster.submit_in(work.path(), &["-c", "1000", "--wrap", "true"]);
    let too_many_nodes = cluster.submit_in(work.path(), &["-N", "5", "--wrap", "true"]);
    cluster.wait_for("Slurm's reasons", || {
        let output = cluster
            .slurm("squeue")
            .args(["-h", "-o", "%i %T %r"])
            .output()
            .ok()?;
        let text = String::from_utf8_lossy(&output.stdout).into_owned();
        (text.contains(&format!("{too_many_cpus} PENDING PartitionConfig"))
            && text.contains(&format!("{too_many_nodes} PENDING PartitionNodeLimit")))
        .then_some(())
    });
}

#[test]
fn a_time_limit_ends_the_job_with_timeout() {
    let cluster = DevCluster::with_agents(3, 1, &[]);
    let work = tempfile::tempdir().unwrap();
    // The script ignores SIGTERM: only the SIGKILL after the kill wait ends it.
    let job = cluster.submit_in(
        work.path(),
        &["-t", "1", "--wrap", "trap '' TERM; sleep 600"],
    );
    cluster.wait_job_state(job, "RUNNING");
    cluster.wait_for_within(
        "the time limit",
        std::time::Duration::from_secs(150),
        || (cluster.job_state(job).as_deref() == Some("TIMEOUT")).then_some(()),
    );
    let shown = cluster.show_job(job);
    assert!(
        shown.contains("JobState=TIMEOUT Reason=TimeLimit"),
        "{shown}"
    );
    assert!(shown.contains("ExitCode=0:9"), "{shown}");
}

#[test]
fn a_drained_node_takes_no_jobs_until_resumed() {
    let cluster = DevCluster::with_agents(3, 1, &[]);
    let work = tempfile::tempdir().unwrap();
    let drain = cluster
        .slurm("scontrol")
        .args([
            "update",
            "nodename=node001",
            "state=drain",
            "reason=maintenance",
        ])
        .output()
        .unwrap();
    assert_success(&drain, "scontrol update state=drain");
    let job = cluster.submit_in(work.path(), &["--wrap", "true"]);
    cluster.wait_for("the job to wait for the drained node", || {
        let output = cluster
            .slurm("squeue")
            .args(["-h", "-j", &job.to_string(), "-o", "%T %r"])
            .output()
            .ok()?;
        String::from_utf8_lossy(&output.stdout)
            .starts_with("PENDING ReqNodeNotAvail")
            .then_some(())
    });
    let reasons = cluster.slurm("sinfo").arg("-R").output().unwrap();
    assert!(
        support::stdout(&reasons).contains("maintenance"),
        "{}",
        support::stdout(&reasons)
    );
    let resume = cluster
        .slurm("scontrol")
        .args(["update", "nodename=node001", "state=resume"])
        .output()
        .unwrap();
    assert_success(&resume, "scontrol update state=resume");
    cluster.wait_job_state(job, "COMPLETED");
}

#[test]
fn scancel_filters_choose_the_jobs() {
    let cluster = DevCluster::up(3);
    let work = tempfile::tempdir().unwrap();
    let submit = |name: &str| cluster.submit_in(work.path(), &["-J", name, "--wrap", "true"]);
    let (a1, b, a2) = (submit("a"), submit("b"), submit("a"));
    let scancel = |args: &[&str]| cluster.slurm("scancel").args(args).output().unwrap();

    // An id the filters do not admit is left alone.
    assert_success(
        &scancel(&["-n", "zzz", &b.to_string()]),
        "scancel -n zzz ID",
    );
    assert_success(
        &scancel(&["-n", "a", "-t", "PENDING"]),
        "scancel -n a -t PD",
    );
    cluster.wait_job_state(a1, "CANCELLED");
    cluster.wait_job_state(a2, "CANCELLED");
    assert_eq!(cluster.job_state(b).as_deref(), Some("PENDING"));

    let bad = scancel(&["-t", "BOGUS"]);
    assert_eq!(bad.status.code(), Some(1));
    assert_eq!(
        stderr(&bad),
        "scancel: error: Invalid job state specified: BOGUS\n"
    );

    assert_success(&scancel(&["-u", "root", "-p", "debug"]), "scancel -u -p");
    cluster.wait_job_state(b, "CANCELLED");
}

#[test]
fn sbatch_wait_exits_with_the_jobs_exit_code() {
    let cluster = DevCluster::with_agents(3, 1, &["--agent-cpus", "4"]);
    let work = tempfile::tempdir().unwrap();
    let sbatch = |args: &[&str]| {
        cluster
            .slurm("sbatch")
            .current_dir(work.path())
            .args(args)
            .output()
            .unwrap()
    };
    let failed = sbatch(&["-W", "--wrap", "sleep 1; exit 3"]);
    assert_eq!(failed.status.code(), Some(3), "{}", stderr(&failed));
    let printed = String::from_utf8_lossy(&failed.stdout).to_string();
    assert!(printed.starts_with("Submitted batch job "), "{printed}");
    let job: u32 = printed.trim().rsplit(' ').next().unwrap().parse().unwrap();
    assert_eq!(cluster.job_state(job).as_deref(), Some("FAILED"));
    // An array: the highest exit code of its tasks.
    let array = sbatch(&[
        "--wait",
        "--array=1-2",
        "--wrap",
        "exit $SLURM_ARRAY_TASK_ID",
    ]);
    assert_eq!(array.status.code(), Some(2), "{}", stderr(&array));
    let ok = sbatch(&["-W", "--parsable", "--wrap", "true"]);
    assert_eq!(ok.status.code(), Some(0), "{}", stderr(&ok));
}
