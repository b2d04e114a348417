//! End to end: squeue's, sinfo's and scontrol's read-only views against a
//! real cluster, through the real binaries: `-w`, `-A`, `-q`, `-O`, `-i`
//! (several rounds), `scontrol -d show job`, `show config`,
//! `show hostnames`.

mod support;

use std::io::{BufRead, BufReader};
use std::process::{Output, Stdio};
use std::time::Instant;

use support::{assert_success, stderr, stdout, DevCluster, WAIT_MAX};

fn run(cluster: &DevCluster, name: &str, args: &[&str]) -> Output {
    cluster.slurm(name).args(args).output().expect(name)
}

fn lines(output: &Output) -> Vec<String> {
    stdout(output).lines().map(str::to_string).collect()
}

#[test]
fn read_only_views_of_a_running_cluster() {
    let cluster = DevCluster::with_agents(3, 2, &[]);
    let both = cluster.submit(&[
        "-N",
        "2",
        "--mem=100",
        "--comment",
        "hello",
        "--qos",
        "high",
        "-A",
        "physics",
        "--wrap",
        "sleep 300",
    ]);
    let held = cluster.submit(&["--hold", "--wrap", "true"]);
    cluster.wait_job_state(both, "RUNNING");

    // -w: jobs on a node; an unknown node is Slurm's error.
    let output = run(
        &cluster,
        "squeue",
        &["-h", "-w", "node002", "-o", "%i %N %B"],
    );
    assert_success(&output, "squeue -w");
    assert_eq!(
        lines(&output),
        vec![format!("{both} node[001-002] node001")]
    );
    let output = run(&cluster, "squeue", &["-w", "nosuch"]);
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(stderr(&output), "squeue: error: Invalid node name nosuch\n");

    // -A and -q match the job's account and QOS (`normal` without --qos).
    let output = run(&cluster, "squeue", &["-h", "-A", "PHYSICS", "-o", "%i"]);
    assert_eq!(lines(&output), vec![both.to_string()]);
    let output = run(&cluster, "squeue", &["-h", "-q", "normal", "-o", "%i"]);
    assert_eq!(lines(&output), vec![held.to_string()]);

    // -O with sizes, sorted by id from the highest.
    let output = run(
        &cluster,
        "squeue",
        &["-h", "-S", "-i", "-O", "jobid:4,comment:6,qos:5,numnodes:2"],
    );
    assert_success(&output, "squeue -O");
    assert_eq!(
        lines(&output),
        vec![
            format!("{held:<4}(null)norma1 "),
            format!("{both:<4}hello high 2 "),
        ]
    );

    // -i: several rounds from one process, each with the time line.
    let mut child = cluster
        .slurm("squeue")
        .args(["-i", "1", "-o", "%i"])
        .stdout(Stdio::piped())
        .spawn()
        .expect("squeue -i");
    let reader = BufReader::new(child.stdout.take().expect("stdout"));
    let deadline = Instant::now() + WAIT_MAX;
    let mut rounds = 0;
    let mut round_lines = Vec::new();
    for line in reader.lines() {
        let line = line.expect("a line");
        if line.is_empty() {
            assert_eq!(
                round_lines.len(),
                4,
                "time, header, two jobs: {round_lines:?}"
            );
            assert_eq!(round_lines[1], "JOBID");
            rounds += 1;
            round_lines.clear();
            if rounds == 3 {
                break;
            }
        } else {
            round_lines.push(line);
        }
        assert!(Instant::now() < deadline, "squeue -i printed too slowly");
    }
    child.kill().expect("stopping squeue -i");
    let _ = child.wait();
    assert_eq!(rounds, 3);

    // scontrol -d: the allocation's lines.
    let output = run(
        &cluster,
        "scontrol",
        &["-d", "show", "job", &both.to_string()],
    );
    assert_success(&output, "scontrol -d show job");
    let text = stdout(&output);
    assert!(
        text.contains("\n   JOB_GRES=(null)\n     Nodes=node[001-002] Mem=100 GRES=\n"),
        "{text}"
    );
    assert!(text.contains("\n   Comment=hello \n"), "{text}");

    // show config: Corral's keys, then the controllers' status.
    let output = run(&cluster, "scontrol", &["show", "config"]);
    assert_success(&output, "scontrol show config");
    let text = stdout(&output);
    assert!(text.starts_with("Configuration data as of "), "{text}");
    assert!(
        text.contains("\nSlurmctldHost[2]        = controller-3(127.0.0.1)\n"),
        "{text}"
    );
    assert!(text.contains("\n\nSlurmctld(primary) at "), "{text}");

    // show hostnames from SLURM_JOB_NODELIST, hostlistsorted.
    let output = cluster
        .slurm("scontrol")
        .args(["show", "hostnames"])
        .env("SLURM_JOB_NODELIST", "node[001-002]")
        .output()
        .expect("scontrol");
    assert_eq!(stdout(&output), "node001\nnode002\n");
    let output = run(
        &cluster,
        "scontrol",
        &["show", "hostlistsorted", "b2,a1,b1"],
    );
    assert_eq!(stdout(&output), "a1,b[1-2]\n");

    // sinfo -S: nodes from the last name.
    let output = run(&cluster, "sinfo", &["-h", "-N", "-S", "-N", "-o", "%N"]);
    assert_eq!(lines(&output), vec!["node002", "node001"]);
}
