//! End to end: `srun` inside batch jobs on a real cluster. Tasks spread
//! over the job's nodes with Slurm's step environment, per-task output
//! files and forwarded, labelled output, exit codes, steps recorded in the
//! replicated state, a step that outlives a leader kill, and a cancel that
//! ends a step's tasks on every node.

mod support;

use std::path::Path;

use support::{assert_success, stderr, DevCluster};

/// The job's steps as the leader has them: (id, name, state, exit code).
fn steps(cluster: &DevCluster, job_id: u32) -> Vec<(u32, String, String, u32)> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let config = corral_config::Config::load(&cluster.config_path()).expect("config");
    let client = corral_client::Client::from_config(&config).expect("client");
    let query = corral_proto::GetJobsRequest {
        job_ids: vec![job_id],
        ..Default::default()
    };
    let reply = runtime
        .block_on(client.call(query, |mut c, r| async move { c.get_jobs(r).await }))
        .expect("get jobs");
    let job = reply
        .jobs
        .into_iter()
        .find(|job| job.id == job_id)
        .expect("the job");
    job.steps
        .into_iter()
        .map(|step| {
            let state = corral_proto::job_state_from_wire(step.state)
                .expect("state")
                .slurm_name()
                .to_string();
            (step.id, step.name, state, step.exit_code)
        })
        .collect()
}

fn srun(cluster: &DevCluster) -> String {
    cluster.path().join("bin/srun").display().to_string()
}

fn read(dir: &Path, name: &str) -> String {
    std::fs::read_to_string(dir.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

#[test]
fn srun_runs_tasks_across_the_jobs_nodes() {
    let cluster = DevCluster::with_agents(3, 2, &["--agent-cpus", "2"]);
    let work = tempfile::tempdir().unwrap();
    let srun = srun(&cluster);
    let script = format!(
        "#!/bin/sh\n\
         {srun} -o task-%t.out sh -c 'echo $SLURM_PROCID $SLURM_LOCALID $SLURM_NODEID $SLURM_STEP_ID $SLURMD_NODENAME $SLURM_STEP_NUM_TASKS $SLURM_STEP_NODELIST $SLURM_JOB_ID'\n\
         echo \"files $?\"\n\
         {srun} -l sh -c 'echo hello from $SLURM_PROCID'\n\
         {srun} -n2 sh -c 'exit 3'\n\
         echo \"failing $?\"\n"
    );
    std::fs::write(work.path().join("job.sh"), script).unwrap();
    let job = cluster.submit_in(work.path(), &["-N2", "-n4", "job.sh"]);
    cluster.wait_job_state(job, "COMPLETED");

    // srun -n 4 on two nodes of two CPUs: tasks 0-1 on the first, 2-3 on the second.
    for task in 0..4 {
        let node = if task < 2 { "node001" } else { "node002" };
        let expected = format!(
            "{task} {} {} 0 {node} 4 node[001-002] {job}\n",
            task % 2,
            task / 2
        );
        assert_eq!(read(work.path(), &format!("task-{task}.out")), expected);
    }
    let output = read(work.path(), &format!("slurm-{job}.out"));
    let mut labelled: Vec<&str> = output
        .lines()
        .filter(|line| line.contains("hello from"))
        .collect();
    labelled.sort_unstable();
    assert_eq!(
        labelled,
        [
            "0: hello from 0",
            "1: hello from 1",
            "2: hello from 2",
            "3: hello from 3"
        ],
        "{output}"
    );
    assert!(output.contains("files 0\n"), "{output}");
    assert!(output.contains("failing 3\n"), "{output}");
    assert!(
        output.contains("srun: error: node001: task 0: Exited with exit code 3\n")
            && output.contains("srun: error: node002: task 1: Exited with exit code 3\n"),
        "{output}"
    );
    assert_eq!(
        steps(&cluster, job),
        [
            (0, "sh".to_string(), "COMPLETED".to_string(), 0),
            (1, "sh".to_string(), "COMPLETED".to_string(), 0),
            (2, "sh".to_string(), "FAILED".to_string(), 3),
        ]
    );
}

#[test]
fn a_running_step_survives_a_leader_kill_and_a_cancel_ends_it_everywhere() {
    let cluster = DevCluster::with_agents(3, 2, &["--agent-cpus", "1"]);
    let work = tempfile::tempdir().unwrap();
    let srun = srun(&cluster);
    let dir = work.path().display();
    let script = format!(
        "#!/bin/sh\n\
         {srun} sh -c 'touch {dir}/started.$SLURM_PROCID; while [ ! -f {dir}/go ]; do sleep 0.1; done; echo done $SLURM_PROCID'\n\
         echo \"step $?\"\n"
    );
    std::fs::write(work.path().join("job.sh"), script).unwrap();
    let job = cluster.submit_in(work.path(), &["-N2", "job.sh"]);
    cluster.wait_for("both tasks to start", || {
        (work.path().join("started.0").exists() && work.path().join("started.1").exists())
            .then_some(())
    });
    let leader = cluster.leader();
    cluster.kill(&format!("controller-{}", leader.id));
    std::fs::write(work.path().join("go"), "").unwrap();
    cluster.wait_job_state(job, "COMPLETED");
    let output = read(work.path(), &format!("slurm-{job}.out"));
    let mut lines: Vec<&str> = output.lines().collect();
    lines.sort_unstable();
    assert_eq!(lines, ["done 0", "done 1", "step 0"], "{output}");
    assert_eq!(
        steps(&cluster, job),
        [(0, "sh".to_string(), "COMPLETED".to_string(), 0)]
    );
    cluster.start(&format!("controller-{}", leader.id));

    // A cancelled job's step ends on both nodes: each task records its pid.
    let script =
        format!("#!/bin/sh\n{srun} sh -c 'echo $$ > {dir}/pid.$SLURM_PROCID; exec sleep 300'\n");
    std::fs::write(work.path().join("long.sh"), script).unwrap();
    let job = cluster.submit_in(work.path(), &["-N2", "long.sh"]);
    let pids: Vec<i32> = cluster.wait_for("both tasks to run", || {
        (0..2)
            .map(|task| {
                std::fs::read_to_string(work.path().join(format!("pid.{task}")))
                    .ok()?
                    .trim()
                    .parse()
                    .ok()
            })
            .collect()
    });
    let output = cluster
        .slurm("scancel")
        .arg(job.to_string())
        .output()
        .unwrap();
    assert_success(&output, "scancel");
    cluster.wait_job_state(job, "CANCELLED");
    cluster.wait_for("the tasks on both nodes to be gone", || {
        // SAFETY: kill with signal 0 only checks that the process exists.
        pids.iter()
            .all(|pid| unsafe { libc::kill(*pid, 0) } != 0)
            .then_some(())
    });
    cluster.wait_for("the step to be recorded as cancelled", || {
        let steps = steps(&cluster, job);
        (steps.len() == 1 && steps[0].2 == "CANCELLED").then_some(())
    });
}

#[test]
fn srun_outside_a_job_and_impossible_steps_get_clear_errors() {
    let cluster = DevCluster::with_agents(3, 1, &["--agent-cpus", "2"]);
    let output = cluster
        .slurm("srun")
        .env_remove("SLURM_JOB_ID")
        .arg("hostname")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains("srun: error: srun outside an allocation"),
        "{}",
        stderr(&output)
    );

    let work = tempfile::tempdir().unwrap();
    let srun = srun(&cluster);
    let script = format!("#!/bin/sh\n{srun} -n 3 true\necho \"status $?\"\n");
    std::fs::write(work.path().join("job.sh"), script).unwrap();
    let job = cluster.submit_in(work.path(), &["-n2", "job.sh"]);
    cluster.wait_job_state(job, "COMPLETED");
    let output = read(work.path(), &format!("slurm-{job}.out"));
    assert_eq!(
        output,
        format!(
            "srun: error: Unable to create step for job {job}: More processors requested than permitted\nstatus 1\n"
        )
    );
    assert!(steps(&cluster, job).is_empty());
}
