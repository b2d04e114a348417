//! End to end: the sbatch options that decide where a job runs (`-w`, `-x`,
//! `--exclusive`), when (`--begin`), and what it runs with (`--export`,
//! `--open-mode`, `--signal`, `--ntasks-per-node`, `--mem-per-cpu`), on a
//! real dev cluster of three controllers and one or two agents (node001,
//! node002, four CPUs each).

mod support;

use std::io::Write;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{SystemTime, UNIX_EPOCH};

use support::{assert_success, stderr, stdout, DevCluster, CORRAL};

/// `STATE REASON` of a job, as `squeue -o '%T %r'` prints it.
fn state_and_reason(cluster: &DevCluster, job: u32) -> String {
    let output = cluster
        .slurm("squeue")
        .args(["-h", "-t", "all", "-j", &job.to_string(), "-o", "%T %r"])
        .output()
        .unwrap();
    assert_success(&output, "squeue");
    stdout(&output).trim().to_string()
}

fn wait_state_and_reason(cluster: &DevCluster, job: u32, expected: &str) {
    cluster.wait_for(&format!("job {job} to be {expected}"), || {
        (state_and_reason(cluster, job) == expected).then_some(())
    });
}

/// A file the job writes, once it holds a whole line.
fn wait_for_line(cluster: &DevCluster, path: &Path) -> String {
    cluster.wait_for(&format!("a line in {}", path.display()), || {
        std::fs::read_to_string(path)
            .ok()
            .filter(|text| text.ends_with('\n'))
    })
}

fn scancel(cluster: &DevCluster, job: u32) {
    let output = cluster
        .slurm("scancel")
        .arg(job.to_string())
        .output()
        .unwrap();
    assert_success(&output, "scancel");
}

fn scontrol_update(cluster: &DevCluster, args: &[&str]) {
    let output = cluster
        .slurm("scontrol")
        .arg("update")
        .args(args)
        .output()
        .unwrap();
    assert_success(&output, "scontrol update");
}

#[test]
fn node_lists_and_exclusive_place_jobs_where_asked() {
    let cluster = DevCluster::with_agents(3, 2, &[]);
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    let name = "echo $SLURMD_NODENAME";

    // First fit would choose node001 for both.
    let named = cluster.submit_in(dir, &["-w", "node002", "-o", "w.out", "--wrap", name]);
    let excluding = cluster.submit_in(dir, &["-x", "node001", "-o", "x.out", "--wrap", name]);
    cluster.wait_job_state(named, "COMPLETED");
    cluster.wait_job_state(excluding, "COMPLETED");
    assert_eq!(
        std::fs::read_to_string(dir.join("w.out")).unwrap(),
        "node002\n"
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("x.out")).unwrap(),
        "node002\n"
    );

    // One CPU of node001 taken: an exclusive job gets all of node002.
    let busy = cluster.submit_in(dir, &["-w", "node001", "--wrap", "sleep 600"]);
    cluster.wait_job_state(busy, "RUNNING");
    let whole = cluster.submit_in(
        dir,
        &[
            "--exclusive",
            "-o",
            "e.out",
            "--wrap",
            "echo $SLURMD_NODENAME $SLURM_CPUS_ON_NODE $SLURM_JOB_CPUS_PER_NODE; sleep 600",
        ],
    );
    assert_eq!(wait_for_line(&cluster, &dir.join("e.out")), "node002 4 4\n");
    // Nothing shares node002 now, and no node is idle for another exclusive job.
    let beside = cluster.submit_in(dir, &["-w", "node002", "--wrap", "true"]);
    let second = cluster.submit_in(dir, &["--exclusive", "--wrap", "true"]);
    wait_state_and_reason(&cluster, beside, "PENDING Resources");
    wait_state_and_reason(&cluster, second, "PENDING Resources");
    scancel(&cluster, whole);
    cluster.wait_job_state(beside, "COMPLETED");
    cluster.wait_job_state(second, "COMPLETED");

    // A named node that is drained: Slurm's ReqNodeNotAvail until resumed.
    scontrol_update(
        &cluster,
        &["nodename=node002", "state=drain", "reason=maint"],
    );
    let drained = cluster.submit_in(dir, &["-w", "node002", "--wrap", "true"]);
    wait_state_and_reason(&cluster, drained, "PENDING ReqNodeNotAvail");
    scontrol_update(&cluster, &["nodename=node002", "state=resume"]);
    cluster.wait_job_state(drained, "COMPLETED");
    scancel(&cluster, busy);
}

fn unix_seconds() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// The names of the variables in an `env` listing, and their lines.
fn variables(listing: &str) -> Vec<(&str, &str)> {
    listing
        .lines()
        .filter_map(|line| line.split_once('='))
        .collect()
}

#[test]
fn begin_export_open_mode_and_task_layout_shape_the_job() {
    let cluster = DevCluster::with_agents(3, 2, &[]);
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();

    // --begin=now+3: pending with BeginTime, then started no earlier.
    let before = unix_seconds();
    let later = cluster.submit_in(dir, &["--begin=now+3", "-o", "b.out", "--wrap", "date +%s"]);
    wait_state_and_reason(&cluster, later, "PENDING BeginTime");
    cluster.wait_job_state(later, "COMPLETED");
    let started: u64 = std::fs::read_to_string(dir.join("b.out"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(
        started >= before + 3,
        "started at {started}, submitted at {before}"
    );

    // --open-mode=append keeps what the file held; the default starts afresh.
    std::fs::write(dir.join("a.out"), "old\n").unwrap();
    std::fs::write(dir.join("t.out"), "old\n").unwrap();
    let appending = cluster.submit_in(
        dir,
        &["--open-mode=append", "-o", "a.out", "--wrap", "echo new"],
    );
    let truncating = cluster.submit_in(dir, &["-o", "t.out", "--wrap", "echo new"]);

    // --export: what the job's environment keeps of the submitter's.
    let submit_env = |args: &[&str]| -> u32 {
        let output = cluster
            .slurm("sbatch")
            .current_dir(dir)
            .env("CORRAL_TEST_MARKER", "kept")
            .arg("--parsable")
            .args(args)
            .output()
            .unwrap();
        assert_success(&output, "sbatch");
        stdout(&output).trim().parse().unwrap()
    };
    let none = submit_env(&["--export=NONE", "-o", "none.out", "--wrap", "env"]);
    let listed = submit_env(&[
        "--export=CORRAL_TEST_MARKER,EXTRA=1",
        "-o",
        "list.out",
        "--wrap",
        "env",
    ]);
    let all = submit_env(&["-o", "all.out", "--wrap", "env"]);
    // --ntasks-per-node with -N, and --mem-per-cpu: Slurm's variables.
    let layout = cluster.submit_in(
        dir,
        &[
            "-N",
            "2",
            "--ntasks-per-node=2",
            "--mem-per-cpu=100",
            "-o",
            "layout.out",
            "--wrap",
            "env",
        ],
    );
    for job in [appending, truncating, none, listed, all, layout] {
        cluster.wait_job_state(job, "COMPLETED");
    }
    let read = |name: &str| std::fs::read_to_string(dir.join(name)).unwrap();
    assert_eq!(read("a.out"), "old\nnew\n");
    assert_eq!(read("t.out"), "new\n");

    let none = read("none.out");
    // Slurm's variables, the batch ones the node sets, and what the shell adds.
    let shell_own = ["ENVIRONMENT", "HOSTNAME", "PWD", "OLDPWD", "SHLVL", "_"];
    for (name, _) in variables(&none) {
        assert!(
            name.starts_with("SLURM") || shell_own.contains(&name),
            "--export=NONE passed {name}:\n{none}"
        );
    }
    assert!(none.contains("SLURM_EXPORT_ENV=NONE\n"), "{none}");
    assert!(
        none.contains(&format!("SLURM_SUBMIT_DIR={}\n", dir.display())),
        "{none}"
    );

    let listed = read("list.out");
    let listed_variables = variables(&listed);
    assert!(
        listed_variables.contains(&("CORRAL_TEST_MARKER", "kept")),
        "{listed}"
    );
    assert!(listed_variables.contains(&("EXTRA", "1")), "{listed}");
    assert!(
        listed_variables.contains(&("SLURM_EXPORT_ENV", "CORRAL_TEST_MARKER,EXTRA=1")),
        "{listed}"
    );
    assert!(
        !listed_variables
            .iter()
            .any(|(name, _)| *name == "CORRAL_CONF"),
        "{listed}"
    );

    let all = read("all.out");
    let all_variables = variables(&all);
    assert!(
        all_variables.contains(&("CORRAL_TEST_MARKER", "kept")),
        "{all}"
    );
    assert!(
        all_variables.iter().any(|(name, _)| *name == "CORRAL_CONF"),
        "{all}"
    );
    assert!(
        !all_variables
            .iter()
            .any(|(name, _)| *name == "SLURM_EXPORT_ENV"),
        "{all}"
    );

    let layout = read("layout.out");
    let layout_variables = variables(&layout);
    for expected in [
        ("SLURM_NNODES", "2"),
        ("SLURM_NTASKS", "4"),
        ("SLURM_NTASKS_PER_NODE", "2"),
        ("SLURM_TASKS_PER_NODE", "2(x2)"),
        ("SLURM_JOB_CPUS_PER_NODE", "2(x2)"),
        ("SLURM_MEM_PER_CPU", "100"),
    ] {
        assert!(
            layout_variables.contains(&expected),
            "{expected:?}:\n{layout}"
        );
    }
    assert!(
        !layout_variables
            .iter()
            .any(|(name, _)| *name == "SLURM_MEM_PER_NODE"),
        "{layout}"
    );
}

/// A script whose shell and background child each print the SIGUSR1 they
/// get; the shell's trap (with the seconds since the start) ends the job.
const WARNED: &str = "start=$(date +%s)
( trap 'echo child got USR1' USR1; while [ ! -f stop.$SLURM_JOB_ID ]; do sleep 1; done ) &
child=$!
trap 'echo shell got USR1 after $(( $(date +%s) - start ))s; touch stop.$SLURM_JOB_ID; wait $child; exit 0' USR1
while :; do sleep 1; done";

#[test]
fn signal_comes_ahead_of_the_time_limit() {
    let cluster = DevCluster::with_agents(3, 1, &[]);
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    // A one-minute limit: the signal 55 s ahead of it, 5 s after the start.
    let group = cluster.submit_in(
        dir,
        &[
            "-t",
            "1",
            "--signal=USR1@55",
            "-o",
            "group.out",
            "--wrap",
            WARNED,
        ],
    );
    let shell = cluster.submit_in(
        dir,
        &[
            "-t",
            "1",
            "--signal=B:USR1@55",
            "-o",
            "shell.out",
            "--wrap",
            WARNED,
        ],
    );
    // Ended by their traps, not by the limit (that would be TIMEOUT).
    cluster.wait_job_state(group, "COMPLETED");
    cluster.wait_job_state(shell, "COMPLETED");
    let seconds = |line: &str| -> u64 {
        line.trim_start_matches("shell got USR1 after ")
            .trim_end_matches('s')
            .parse()
            .unwrap_or_else(|_| panic!("{line:?}"))
    };
    // The shell also reports its `sleep` killed by the signal ("User
    // defined signal 1"), as shells do: only the traps' lines count.
    let trapped = |text: &str| -> Vec<String> {
        let mut lines: Vec<String> = text
            .lines()
            .filter(|line| line.contains("got USR1"))
            .map(str::to_string)
            .collect();
        lines.sort();
        lines
    };
    let group_out = std::fs::read_to_string(dir.join("group.out")).unwrap();
    let lines = trapped(&group_out);
    assert_eq!(lines.len(), 2, "{group_out}");
    assert_eq!(lines[0], "child got USR1", "{group_out}");
    assert!(seconds(&lines[1]) >= 3, "{group_out}");
    let shell_out = std::fs::read_to_string(dir.join("shell.out")).unwrap();
    let lines = trapped(&shell_out);
    assert_eq!(
        lines.len(),
        1,
        "B: reaches the batch shell alone:\n{shell_out}"
    );
    assert!(seconds(&lines[0]) >= 3, "{shell_out}");
}

/// sbatch with no cluster to reach: mistakes are caught before it tries.
fn sbatch_offline(dir: &Path, args: &[&str]) -> Output {
    let link = dir.join("sbatch");
    if !link.exists() {
        std::os::unix::fs::symlink(CORRAL, &link).unwrap();
    }
    let mut child = Command::new(&link)
        .arg0("sbatch")
        .args(args)
        .current_dir(dir)
        .env("CORRAL_CONF", dir.join("no-such-config.toml"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("sbatch");
    child.stdin.take().unwrap().write_all(b"").unwrap();
    child.wait_with_output().unwrap()
}

#[test]
fn malformed_values_get_slurms_messages_and_exit_codes() {
    let dir = tempfile::tempdir().unwrap();
    let cases: &[(&[&str], &str, i32)] = &[
        (
            &["--begin=abc", "--wrap", "true"],
            "Invalid time specification (pos=0): abc\nsbatch: error: Invalid --begin specification\n",
            255,
        ),
        (
            &["--mem=1G", "--mem-per-cpu=1G", "--wrap", "true"],
            "sbatch: fatal: --mem, --mem-per-cpu, and --mem-per-gpu are mutually exclusive.\n",
            1,
        ),
        (
            &["--signal=B:", "--wrap", "true"],
            "sbatch: error: Invalid --signal specification\n",
            255,
        ),
        (
            &["--open-mode=x", "--wrap", "true"],
            "sbatch: error: Invalid --open-mode specification\n",
            255,
        ),
        (
            &["-N", "2", "-n", "8", "--ntasks-per-node=2", "--wrap", "true"],
            "sbatch: error: Batch job submission failed: Requested node configuration is not available\n",
            1,
        ),
        (
            &["-t", "5", "--time-min=10", "--wrap", "true"],
            "sbatch: error: Batch job submission failed: Invalid time-min specification (exceeds job's time or other limits)\n",
            1,
        ),
    ];
    for (args, expected, code) in cases {
        let output = sbatch_offline(dir.path(), args);
        assert_eq!(stderr(&output), *expected, "{args:?}");
        assert_eq!(output.status.code(), Some(*code), "{args:?}");
        assert!(stdout(&output).is_empty(), "{args:?}");
    }
}
