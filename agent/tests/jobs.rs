//! Jobs run for real: a `Runner` on a temporary state directory starts
//! supervisors (this very binary, called as `job-supervisor --spool DIR`,
//! the role `corral job-supervisor` plays in production), which run shell
//! scripts. Times are shortened: a minute of time limit lasts
//! [`MINUTE_MS`], the kill wait [`KILL_WAIT_MS`].

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use corral_agent::journal::{self, JobRecord, LaunchRecord, Spool, SupervisorRecord};
use corral_agent::{
    BatchTarget, FinishedJob, LaunchRequest, Launched, OpenMode, Runner, RunnerConfig, RunnerError,
};
use corral_state::{AllocationId, ExitStatus, FinishCause, JobId, JobSignal};

const MINUTE_MS: u64 = 400;
const KILL_WAIT_MS: u64 = 300;
const FINISH_TIMEOUT_MS: u64 = 15_000;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("job-supervisor") {
        let spool = args.get(3).expect("job-supervisor --spool DIR");
        std::process::exit(corral_agent::supervisor::main(Path::new(spool)));
    }
    if args.get(1).map(String::as_str) == Some("step-tasks") {
        let plan = args.get(2).expect("step-tasks STEP_JSON");
        std::process::exit(corral_agent::step_tasks::main(Path::new(plan)));
    }
    let filters: Vec<&String> = args[1..].iter().filter(|a| !a.starts_with('-')).collect();
    run_tests(&filters);
}

const TESTS: &[(&str, fn())] = &[
    (
        "a_step_part_runs_its_tasks_and_reports_to_srun",
        a_step_part_runs_its_tasks_and_reports_to_srun,
    ),
    (
        "a_step_part_ends_when_srun_goes_away",
        a_step_part_ends_when_srun_goes_away,
    ),
    (
        "environment_arguments_and_output_files",
        environment_arguments_and_output_files,
    ),
    (
        "a_second_launch_starts_nothing",
        a_second_launch_starts_nothing,
    ),
    (
        "a_job_cancelled_before_its_launch_never_starts",
        a_job_cancelled_before_its_launch_never_starts,
    ),
    (
        "a_new_runner_adopts_a_running_job",
        a_new_runner_adopts_a_running_job,
    ),
    (
        "exit_codes_and_signals_are_reported_as_slurm_does",
        exit_codes_and_signals_are_reported_as_slurm_does,
    ),
    (
        "time_limit_sends_term_then_kill",
        time_limit_sends_term_then_kill,
    ),
    (
        "cancel_ends_the_job_as_cancelled",
        cancel_ends_the_job_as_cancelled,
    ),
    ("signal_reaches_the_script", signal_reaches_the_script),
    (
        "open_mode_append_keeps_earlier_output",
        open_mode_append_keeps_earlier_output,
    ),
    (
        "the_signal_option_warns_the_process_group",
        the_signal_option_warns_the_process_group,
    ),
    (
        "the_signal_option_with_b_warns_the_batch_shell_only",
        the_signal_option_with_b_warns_the_batch_shell_only,
    ),
    (
        "a_time_limit_changed_while_running_is_enforced",
        a_time_limit_changed_while_running_is_enforced,
    ),
    (
        "a_shell_signal_spares_its_children",
        a_shell_signal_spares_its_children,
    ),
    ("the_job_runs_as_its_user", the_job_runs_as_its_user),
    (
        "launch_failures_are_recorded_not_lost",
        launch_failures_are_recorded_not_lost,
    ),
    (
        "acknowledged_ends_are_not_reported_again",
        acknowledged_ends_are_not_reported_again,
    ),
    (
        "a_vanished_supervisor_yields_an_end",
        a_vanished_supervisor_yields_an_end,
    ),
    (
        "a_launch_the_agent_never_started_is_failed_and_stays_unstarted",
        a_launch_the_agent_never_started_is_failed_and_stays_unstarted,
    ),
    (
        "one_runner_per_state_directory",
        one_runner_per_state_directory,
    ),
];

/// Runs the tests in parallel (they mostly wait on processes) and prints
/// libtest's summary line.
fn run_tests(filters: &[&String]) {
    let selected: Vec<&(&str, fn())> = TESTS
        .iter()
        .filter(|(name, _)| filters.is_empty() || filters.iter().any(|f| name.contains(f.as_str())))
        .collect();
    println!("\nrunning {} tests", selected.len());
    let started = Instant::now();
    let results: Vec<(&str, Result<(), String>, Duration)> = std::thread::scope(|scope| {
        let handles: Vec<_> = selected
            .iter()
            .map(|(name, test)| {
                let handle = scope.spawn(move || {
                    let begun = Instant::now();
                    let outcome = std::panic::catch_unwind(test).map_err(|panic| {
                        panic
                            .downcast_ref::<String>()
                            .cloned()
                            .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                            .unwrap_or_default()
                    });
                    (outcome, begun.elapsed())
                });
                (*name, handle)
            })
            .collect();
        handles
            .into_iter()
            .map(|(name, handle)| {
                let (outcome, elapsed) = handle.join().expect("test thread");
                (name, outcome, elapsed)
            })
            .collect()
    });
    let mut failed = 0;
    for (name, outcome, elapsed) in &results {
        match outcome {
            Ok(()) => println!("test {name} ... ok ({:.2} s)", elapsed.as_secs_f64()),
            Err(message) => {
                failed += 1;
                println!(
                    "test {name} ... FAILED ({:.2} s)\n{message}",
                    elapsed.as_secs_f64()
                );
            }
        }
    }
    let passed = results.len() - failed;
    println!(
        "\ntest result: {}. {passed} passed; {failed} failed; 0 ignored; 0 measured; {} filtered out; finished in {:.2}s\n",
        if failed == 0 { "ok" } else { "FAILED" },
        TESTS.len() - selected.len(),
        started.elapsed().as_secs_f64()
    );
    if failed > 0 {
        std::process::exit(101);
    }
}

/// A state directory and a work directory, both reachable by any user.
struct Fixture {
    _root: tempfile::TempDir,
    state: PathBuf,
    work: PathBuf,
}

fn fixture() -> Fixture {
    let root = tempfile::tempdir().expect("tempdir");
    fs::set_permissions(root.path(), fs::Permissions::from_mode(0o711)).expect("chmod");
    let state = root.path().join("state");
    let work = root.path().join("work");
    fs::create_dir(&work).expect("work dir");
    fs::set_permissions(&work, fs::Permissions::from_mode(0o777)).expect("chmod");
    Fixture {
        _root: root,
        state,
        work,
    }
}

impl Fixture {
    fn config(&self) -> RunnerConfig {
        RunnerConfig {
            kill_wait_ms: KILL_WAIT_MS,
            minute_ms: MINUTE_MS,
            ..RunnerConfig::new(&self.state).expect("config")
        }
    }

    fn runner(&self) -> Runner {
        Runner::open(self.config()).expect("runner")
    }

    fn spool(&self, job_id: JobId) -> Spool {
        Spool::new(&self.state.join("jobs"), job_id, AllocationId(1))
    }

    fn request(&self, job_id: JobId, script: &str) -> LaunchRequest {
        // SAFETY: geteuid and getegid have no preconditions.
        let (uid, gid) = unsafe { (libc::geteuid(), libc::getegid()) };
        LaunchRequest {
            job_id,
            allocation_id: AllocationId(1),
            node_name: "n1".to_string(),
            node_list: "n1".to_string(),
            node_count: 1,
            ntasks: None,
            cpus_per_task: None,
            cpus_on_node: 1,
            cpus_per_node: vec![1],
            memory_per_node_mb: None,
            gpus: vec![],
            time_limit_minutes: None,
            job_name: "test".to_string(),
            partition: "debug".to_string(),
            cluster_name: "lab".to_string(),
            user: command_output("id", &["-un"]),
            uid,
            gid,
            account: None,
            qos: None,
            work_dir: self.work.display().to_string(),
            script: format!("#!/bin/sh\n{script}\n"),
            arguments: vec![],
            environment: vec![("PATH".to_string(), "/usr/bin:/bin".to_string())],
            stdout_pattern: None,
            stderr_pattern: None,
            stdin_pattern: None,
            open_mode: OpenMode::Truncate,
            submit_dir: self.work.display().to_string(),
            submit_host: "login".to_string(),
            array: None,
            restart_count: 0,
            kill_wait_ms: None,
            step: None,
            signal: None,
        }
    }

    fn read(&self, file: &str) -> String {
        fs::read_to_string(self.work.join(file)).unwrap_or_else(|e| panic!("{file}: {e}"))
    }

    fn read_optional(&self, file: &str) -> Option<String> {
        fs::read_to_string(self.work.join(file)).ok()
    }

    /// Waits until the supervisor recorded the script's process.
    fn wait_running(&self, job_id: JobId) -> JobRecord {
        let spool = self.spool(job_id);
        poll(
            || spool.job().expect("job record"),
            || self.diagnostics(job_id),
        )
    }

    fn wait_for_file(&self, file: &str) {
        let path = self.work.join(file);
        poll(
            || path.exists().then_some(()),
            || format!("{file} never appeared"),
        );
    }

    fn diagnostics(&self, job_id: JobId) -> String {
        let log = fs::read_to_string(self.spool(job_id).path(journal::SUPERVISOR_LOG_FILE))
            .unwrap_or_default();
        format!("job {job_id}: supervisor log:\n{log}")
    }
}

fn poll<T>(mut check: impl FnMut() -> Option<T>, explain: impl Fn() -> String) -> T {
    let deadline = Instant::now() + Duration::from_millis(FINISH_TIMEOUT_MS);
    loop {
        if let Some(value) = check() {
            return value;
        }
        assert!(Instant::now() < deadline, "timed out: {}", explain());
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn wait_finished(fixture: &Fixture, runner: &Runner, job_id: JobId) -> FinishedJob {
    poll(
        || {
            runner
                .finished()
                .expect("finished")
                .into_iter()
                .find(|job| job.job_id == job_id)
        },
        || fixture.diagnostics(job_id),
    )
}

fn command_output(program: &str, args: &[&str]) -> String {
    let output = Command::new(program).args(args).output().expect(program);
    String::from_utf8_lossy(&output.stdout).trim().to_string()
}

fn status(code: u8, signal: u8) -> ExitStatus {
    ExitStatus { code, signal }
}

fn environment_arguments_and_output_files() {
    let fixture = fixture();
    let runner = fixture.runner();
    let mut request = fixture.request(
        41,
        "env > env.txt\nprintf '%s\\n' \"$@\" > args.txt\necho to stdout\necho to stderr >&2",
    );
    request.job_name = "demo".to_string();
    request.node_list = "n[1-2]".to_string();
    request.node_count = 2;
    request.ntasks = Some(2);
    request.cpus_on_node = 3;
    request.cpus_per_node = vec![3, 3];
    request.gpus = vec![1, 3];
    request.memory_per_node_mb = Some(200);
    request.arguments = vec!["a b".to_string(), "c".to_string()];
    request
        .environment
        .push(("SUBMITTER_VARIABLE".to_string(), "kept".to_string()));
    request.stdout_pattern = Some("out-%j-%x.txt".to_string());
    request.stderr_pattern = Some("err-%5j.txt".to_string());
    fs::write(
        fixture.work.join("out-41-demo.txt"),
        "an older run's output\n",
    )
    .expect("write");

    assert_eq!(runner.launch(&request).expect("launch"), Launched::Started);
    let finished = wait_finished(&fixture, &runner, 41);
    assert_eq!(
        (finished.exit_status, finished.cause),
        (status(0, 0), FinishCause::Exited)
    );

    let environment = fixture.read("env.txt");
    let value = |name: &str| {
        environment
            .lines()
            .find_map(|line| line.strip_prefix(&format!("{name}=")))
            .map(str::to_string)
    };
    let expected = [
        ("SLURM_JOB_ID", "41"),
        ("SLURM_JOBID", "41"),
        ("SLURM_JOB_NAME", "demo"),
        ("SLURM_JOB_NODELIST", "n[1-2]"),
        ("SLURM_NODELIST", "n[1-2]"),
        ("SLURM_NNODES", "2"),
        ("SLURM_CPUS_ON_NODE", "3"),
        ("SLURM_JOB_CPUS_PER_NODE", "3(x2)"),
        ("SLURM_NTASKS", "2"),
        ("SLURM_TASKS_PER_NODE", "1(x2)"),
        ("SLURM_MEM_PER_NODE", "200"),
        ("CUDA_VISIBLE_DEVICES", "1,3"),
        ("SLURM_JOB_GPUS", "1,3"),
        ("SLURMD_NODENAME", "n1"),
        ("SLURM_SUBMIT_HOST", "login"),
        ("SLURM_CLUSTER_NAME", "lab"),
        ("SUBMITTER_VARIABLE", "kept"),
        ("ENVIRONMENT", "BATCH"),
    ];
    for (name, expected) in expected {
        assert_eq!(value(name).as_deref(), Some(expected), "{name}");
    }
    assert_eq!(value("SLURM_CPUS_PER_TASK"), None, "no -c was given");
    let job = fixture
        .spool(41)
        .job()
        .expect("job record")
        .expect("recorded");
    assert_eq!(value("SLURM_TASK_PID"), Some(job.process.pid.to_string()));
    assert_eq!(
        value("SLURM_SUBMIT_DIR").as_deref(),
        Some(fixture.work.to_str().expect("utf-8"))
    );

    assert_eq!(fixture.read("args.txt"), "a b\nc\n");
    assert_eq!(
        fixture.read("out-41-demo.txt"),
        "to stdout\n",
        "truncated, then written"
    );
    assert_eq!(fixture.read("err-00041.txt"), "to stderr\n");
}

fn a_job_cancelled_before_its_launch_never_starts() {
    let fixture = fixture();
    let request = fixture.request(43, "echo ran >> count.txt");
    let runner = fixture.runner();
    assert!(runner
        .refuse(request.job_id, request.allocation_id)
        .expect("refuse"));
    // Durable: a restarted agent refuses the late launch too.
    drop(runner);
    let runner = fixture.runner();
    assert_eq!(
        runner.launch(&request).expect("launch"),
        Launched::AlreadyLaunched
    );
    std::thread::sleep(Duration::from_millis(200));
    assert!(
        fixture.read_optional("count.txt").is_none(),
        "a refused job ran"
    );
    assert!(runner.active().unwrap().is_empty());
    assert!(runner.finished().unwrap().is_empty());
    // A job that did launch is not refused: it is cancelled instead.
    let launched = fixture.request(44, "sleep 30");
    assert_eq!(runner.launch(&launched).expect("launch"), Launched::Started);
    assert!(!runner
        .refuse(launched.job_id, launched.allocation_id)
        .expect("refuse"));
    runner
        .cancel(launched.job_id, launched.allocation_id)
        .expect("cancel");
    wait_finished(&fixture, &runner, 44);
}

fn a_second_launch_starts_nothing() {
    let fixture = fixture();
    let request = fixture.request(42, "echo ran >> count.txt");
    {
        let runner = fixture.runner();
        assert_eq!(runner.launch(&request).expect("launch"), Launched::Started);
        assert_eq!(
            runner.launch(&request).expect("launch"),
            Launched::AlreadyLaunched
        );
        wait_finished(&fixture, &runner, 42);
    }
    // The agent restarts, and the controller sends the same launch again.
    let runner = fixture.runner();
    assert_eq!(
        runner.launch(&request).expect("launch"),
        Launched::AlreadyLaunched
    );
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(
        fixture.read("count.txt"),
        "ran\n",
        "the script ran exactly once"
    );
}

fn a_new_runner_adopts_a_running_job() {
    let fixture = fixture();
    let request = fixture.request(43, "sleep 1\necho done > done.txt");
    {
        let runner = fixture.runner();
        runner.launch(&request).expect("launch");
        fixture.wait_running(43);
        // The agent goes away: the runner is dropped, the job keeps running.
    }
    let runner = fixture.runner();
    assert_eq!(runner.active().expect("active"), [(43, AllocationId(1))]);
    assert!(runner.finished().expect("finished").is_empty());
    let finished = wait_finished(&fixture, &runner, 43);
    assert_eq!(
        (finished.exit_status, finished.cause),
        (status(0, 0), FinishCause::Exited)
    );
    assert_eq!(fixture.read("done.txt"), "done\n");
    assert!(runner.active().expect("active").is_empty());
}

fn exit_codes_and_signals_are_reported_as_slurm_does() {
    let fixture = fixture();
    let runner = fixture.runner();
    let cases = [
        (44, "exit 0", status(0, 0)),
        (45, "exit 3", status(3, 0)),
        (46, "kill -USR1 $$", status(0, libc::SIGUSR1 as u8)),
    ];
    for (job, script, _) in &cases {
        runner
            .launch(&fixture.request(*job, script))
            .expect("launch");
    }
    for (job, _, expected) in cases {
        let finished = wait_finished(&fixture, &runner, job);
        assert_eq!(
            (finished.exit_status, finished.cause),
            (expected, FinishCause::Exited),
            "job {job}"
        );
    }
}

fn time_limit_sends_term_then_kill() {
    let fixture = fixture();
    let runner = fixture.runner();
    let mut stubborn = fixture.request(
        47,
        "trap 'echo TERM >> trapped.txt' TERM\nwhile :; do sleep 0.05; done",
    );
    stubborn.time_limit_minutes = Some(1);
    let mut plain = fixture.request(48, "sleep 30");
    plain.time_limit_minutes = Some(1);
    let started = Instant::now();
    runner.launch(&stubborn).expect("launch");
    runner.launch(&plain).expect("launch");

    let finished = wait_finished(&fixture, &runner, 48);
    assert_eq!(
        (finished.exit_status, finished.cause),
        (status(0, 15), FinishCause::TimeLimit)
    );
    let finished = wait_finished(&fixture, &runner, 47);
    let elapsed = started.elapsed();
    assert_eq!(
        (finished.exit_status, finished.cause),
        (status(0, 9), FinishCause::TimeLimit)
    );
    assert!(
        fixture.read("trapped.txt").starts_with("TERM\n"),
        "SIGTERM came first"
    );
    assert!(
        elapsed >= Duration::from_millis(MINUTE_MS + KILL_WAIT_MS),
        "SIGKILL only after the kill wait: {elapsed:?}"
    );
}

fn cancel_ends_the_job_as_cancelled() {
    let fixture = fixture();
    let runner = fixture.runner();
    runner
        .launch(&fixture.request(49, "sleep 30"))
        .expect("launch");
    fixture.wait_running(49);
    runner.cancel(49, AllocationId(1)).expect("cancel");
    let finished = wait_finished(&fixture, &runner, 49);
    assert_eq!(
        (finished.exit_status, finished.cause),
        (status(0, 15), FinishCause::Cancelled)
    );
    runner
        .cancel(49, AllocationId(1))
        .expect("cancelling an ended job changes nothing");
    let finished = runner.finished().expect("finished");
    assert_eq!(finished[0].cause, FinishCause::Cancelled);
    assert!(matches!(
        runner.cancel(50, AllocationId(1)),
        Err(RunnerError::UnknownJob { key }) if key.job_id == 50
    ));
}

fn signal_reaches_the_script() {
    let fixture = fixture();
    let runner = fixture.runner();
    runner
        .launch(&fixture.request(
            51,
            "trap 'exit 7' USR1\ntouch ready\nwhile :; do sleep 0.05; done",
        ))
        .expect("launch");
    fixture.wait_for_file("ready");
    runner
        .signal(51, AllocationId(1), libc::SIGUSR1)
        .expect("signal");
    let finished = wait_finished(&fixture, &runner, 51);
    assert_eq!(
        (finished.exit_status, finished.cause),
        (status(7, 0), FinishCause::Exited)
    );
    assert!(matches!(
        runner.signal(51, AllocationId(1), libc::SIGUSR1),
        Err(RunnerError::NotRunning { .. })
    ));
}

/// `scontrol update TimeLimit=`: a job launched without a limit gets one
/// (0 minutes: over at once) and ends by it; an older version arriving
/// late changes nothing.
fn a_time_limit_changed_while_running_is_enforced() {
    let fixture = fixture();
    let runner = fixture.runner();
    runner
        .launch(&fixture.request(
            61,
            "touch ready
sleep 30",
        ))
        .expect("launch");
    fixture.wait_for_file("ready");
    runner
        .set_time_limit(61, AllocationId(1), Some(0), 2)
        .expect("set the limit");
    // A late, older change (unlimited) must not undo it.
    runner
        .set_time_limit(61, AllocationId(1), None, 1)
        .expect("ignore the older change");
    let finished = wait_finished(&fixture, &runner, 61);
    assert_eq!(
        (finished.exit_status, finished.cause),
        (status(0, 15), FinishCause::TimeLimit)
    );
    // A job that ended has no limit left to change.
    runner
        .set_time_limit(61, AllocationId(1), Some(5), 3)
        .expect("nothing to do");
}

/// `scancel -b`: the shell gets the signal, the command it waits for does not.
fn a_shell_signal_spares_its_children() {
    let fixture = fixture();
    let runner = fixture.runner();
    runner
        .launch(&fixture.request(
            62,
            "trap 'echo shell >> got.txt' USR1
(trap 'echo child >> got.txt; exit' USR1; touch ready; while :; do sleep 0.05; done) &
wait
wait
kill %1",
        ))
        .expect("launch");
    fixture.wait_for_file("ready");
    runner
        .signal_parts(
            62,
            AllocationId(1),
            libc::SIGUSR1,
            BatchTarget::Shell,
            false,
        )
        .expect("signal");
    poll(
        || {
            fixture
                .read_optional("got.txt")
                .filter(|got| got.contains("shell"))
                .map(|_| ())
        },
        || format!("got: {:?}", fixture.read_optional("got.txt")),
    );
    runner.cancel(62, AllocationId(1)).expect("cancel");
    wait_finished(&fixture, &runner, 62);
    assert_eq!(fixture.read("got.txt"), "shell\n", "the child was spared");
}

/// As root: the script runs as `nobody` with its groups, and its output
/// file belongs to `nobody`. As anyone else: a job of another user is
/// refused, with the reason recorded.
fn the_job_runs_as_its_user() {
    let fixture = fixture();
    let runner = fixture.runner();
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        let mut request = fixture.request(52, "true");
        request.uid = 0;
        request.user = "root".to_string();
        runner.launch(&request).expect("launch");
        let finished = wait_finished(&fixture, &runner, 52);
        assert_eq!(finished.cause, FinishCause::LaunchFailed);
        assert!(finished.detail.unwrap_or_default().contains("not as root"));
        return;
    }
    let uid: u32 = command_output("id", &["-u", "nobody"])
        .parse()
        .expect("nobody's uid");
    let gid: u32 = command_output("id", &["-g", "nobody"])
        .parse()
        .expect("nobody's gid");
    let mut request = fixture.request(52, "id -u > uid.txt\nid -g >> uid.txt\necho out");
    request.uid = uid;
    request.gid = gid;
    request.user = "nobody".to_string();
    runner.launch(&request).expect("launch");
    let finished = wait_finished(&fixture, &runner, 52);
    assert_eq!(
        (finished.exit_status, finished.cause),
        (status(0, 0), FinishCause::Exited),
        "{:?}",
        finished.detail
    );
    assert_eq!(fixture.read("uid.txt"), format!("{uid}\n{gid}\n"));
    let output = fs::metadata(fixture.work.join("slurm-52.out")).expect("output file");
    assert_eq!((output.uid(), output.gid()), (uid, gid));
    assert_eq!(fixture.read("slurm-52.out"), "out\n");
}

fn launch_failures_are_recorded_not_lost() {
    let fixture = fixture();
    let runner = fixture.runner();
    let mut missing_dir = fixture.request(53, "true");
    missing_dir.work_dir = "/nonexistent/corral-test".to_string();
    let mut unknown_user = fixture.request(54, "true");
    unknown_user.uid = 3_999_999;
    unknown_user.user = "ghost".to_string();
    let mut bad_output = fixture.request(55, "true");
    bad_output.stdout_pattern = Some("no-such-dir/out.txt".to_string());
    let cases = [
        (
            missing_dir,
            "cannot change to the work directory /nonexistent/corral-test",
        ),
        (
            unknown_user,
            "user ghost (uid 3999999) does not exist on this node",
        ),
        (bad_output, "cannot open the output file"),
    ];
    for (request, _) in &cases {
        assert_eq!(runner.launch(request).expect("launch"), Launched::Started);
    }
    for (request, expected) in cases {
        let finished = wait_finished(&fixture, &runner, request.job_id);
        assert_eq!(
            (finished.exit_status, finished.cause),
            (status(1, 0), FinishCause::LaunchFailed)
        );
        let detail = finished.detail.unwrap_or_default();
        assert!(
            detail.contains(expected),
            "job {}: {detail}",
            request.job_id
        );
    }
}

fn acknowledged_ends_are_not_reported_again() {
    let fixture = fixture();
    {
        let runner = fixture.runner();
        runner
            .launch(&fixture.request(56, "exit 2"))
            .expect("launch");
        runner
            .launch(&fixture.request(57, "exit 0"))
            .expect("launch");
        wait_finished(&fixture, &runner, 56);
        wait_finished(&fixture, &runner, 57);
        assert!(matches!(
            runner.acknowledge(58, AllocationId(1)),
            Err(RunnerError::UnknownJob { .. })
        ));
        runner
            .acknowledge(56, AllocationId(1))
            .expect("acknowledge");
        let left: Vec<JobId> = runner
            .finished()
            .expect("finished")
            .iter()
            .map(|j| j.job_id)
            .collect();
        assert_eq!(left, [57]);
    }
    let runner = fixture.runner();
    let left: Vec<JobId> = runner
        .finished()
        .expect("finished")
        .iter()
        .map(|j| j.job_id)
        .collect();
    assert_eq!(left, [57], "the acknowledgement survives a restart");
    runner
        .acknowledge(57, AllocationId(1))
        .expect("acknowledge");
    assert!(runner.finished().expect("finished").is_empty());
    assert_eq!(runner.purge_acknowledged(Duration::ZERO).expect("purge"), 2);
    assert!(!fixture.spool(56).dir.exists());
}

fn a_vanished_supervisor_yields_an_end() {
    let fixture = fixture();
    let runner = fixture.runner();
    runner
        .launch(&fixture.request(59, "sleep 30"))
        .expect("launch");
    let job = fixture.wait_running(59);
    let Some(SupervisorRecord::Running(supervisor)) =
        fixture.spool(59).supervisor().expect("record")
    else {
        panic!("no supervisor record");
    };
    // SAFETY: killing the supervisor process this test started.
    unsafe { libc::kill(supervisor.pid, libc::SIGKILL) };
    poll(
        || (!supervisor.is_alive()).then_some(()),
        || "the supervisor survived SIGKILL".to_string(),
    );
    assert!(job.process.is_alive(), "the job outlives its supervisor");

    let finished = wait_finished(&fixture, &runner, 59);
    assert_eq!(
        (finished.exit_status, finished.cause),
        (status(0, 9), FinishCause::Exited)
    );
    assert!(finished
        .detail
        .unwrap_or_default()
        .contains("supervisor vanished"));
    poll(
        || (!job.process.is_alive()).then_some(()),
        || "the orphaned job was not killed".to_string(),
    );
}

/// The agent recorded a launch and stopped before starting its supervisor.
fn a_launch_the_agent_never_started_is_failed_and_stays_unstarted() {
    let fixture = fixture();
    drop(fixture.runner()); // creates the state directory
    let request = fixture.request(60, "echo ran > ran.txt");
    let spool = fixture.spool(60);
    journal::create_dir_durably(&spool.dir, 0o711).expect("spool");
    let record = LaunchRecord {
        request: request.clone(),
        time_limit_ms: None,
        kill_wait_ms: KILL_WAIT_MS,
        recorded_at_ms: journal::now_ms(),
        step_program: Vec::new(),
    };
    journal::write_durably(
        &spool.dir,
        journal::LAUNCH_FILE,
        &journal::to_json(&record).expect("json"),
        0o600,
    )
    .expect("record");

    let runner = fixture.runner();
    let finished = runner.finished().expect("finished");
    assert_eq!(finished.len(), 1);
    assert_eq!(
        (finished[0].exit_status, finished[0].cause),
        (status(1, 0), FinishCause::LaunchFailed)
    );
    assert!(finished[0]
        .detail
        .as_deref()
        .unwrap_or_default()
        .contains("before the job's supervisor started"));

    // The supervisor the old agent meant to start comes up late: it finds
    // the launch taken and runs nothing.
    let late = Command::new(std::env::current_exe().expect("exe"))
        .args(["job-supervisor", "--spool"])
        .arg(&spool.dir)
        .status()
        .expect("late supervisor");
    assert_eq!(
        late.code(),
        Some(corral_agent::supervisor::EXIT_ALREADY_CLAIMED)
    );
    assert_eq!(
        runner.launch(&request).expect("launch"),
        Launched::AlreadyLaunched
    );
    std::thread::sleep(Duration::from_millis(100));
    assert!(!fixture.work.join("ran.txt").exists());
    assert!(runner.active().expect("active").is_empty());
}

fn one_runner_per_state_directory() {
    let fixture = fixture();
    let _first = fixture.runner();
    let impatient = RunnerConfig {
        lock_wait_ms: 50,
        ..fixture.config()
    };
    assert!(matches!(
        Runner::open(impatient),
        Err(RunnerError::Locked(_))
    ));
}

/// A step part of job `job_id`: two tasks (numbers 2 and 3) of a step of
/// four on nodes n0 and n1, this node being n1, reporting to `io_address`.
fn step_request(
    fixture: &Fixture,
    job_id: JobId,
    command: &str,
    io_address: &str,
) -> LaunchRequest {
    let mut request = fixture.request(job_id, "");
    request.script.clear();
    request.step = Some(corral_agent::StepLaunch {
        step_id: 5,
        spec: corral_state::StepSpec {
            name: "sh".to_string(),
            argv: vec!["sh".to_string(), "-c".to_string(), command.to_string()],
            environment: vec![("PATH".to_string(), "/usr/bin:/bin".to_string())],
            work_dir: fixture.work.display().to_string(),
            ntasks: 4,
            cpus_per_task: 1,
            io_address: io_address.to_string(),
            io_key: "secret".to_string(),
            ..Default::default()
        },
        nodes: vec![
            corral_state::StepNode {
                node: "n0".to_string(),
                first_task: 0,
                tasks: 2,
                end: None,
            },
            corral_state::StepNode {
                node: "n1".to_string(),
                first_task: 2,
                tasks: 2,
                end: None,
            },
        ],
        job_start_time_ms: journal::now_ms(),
    });
    request
}

fn a_step_part_runs_its_tasks_and_reports_to_srun() {
    use corral_agent::step_io::Frame;
    let fixture = fixture();
    let runner = fixture.runner();
    let srun = std::net::TcpListener::bind("127.0.0.1:0").expect("listen");
    let address = srun.local_addr().expect("address").to_string();
    let command = "echo out $SLURM_PROCID $SLURM_LOCALID $SLURM_NODEID $SLURM_STEP_ID; echo err >&2; exit $SLURM_PROCID";
    let request = step_request(&fixture, 70, command, &address);
    assert_eq!(runner.launch(&request).expect("launch"), Launched::Started);
    assert_eq!(
        runner.launch(&request).expect("again"),
        Launched::AlreadyLaunched
    );
    let (mut stream, _) = srun.accept().expect("the node connects");
    let mut frames = Vec::new();
    let mut exits = 0;
    while exits < 2 {
        let frame = Frame::read_from(&mut stream)
            .expect("frame")
            .expect("not closed");
        if matches!(frame, Frame::Exit { .. }) {
            exits += 1;
        }
        frames.push(frame);
    }
    let Frame::Hello(hello) = &frames[0] else {
        panic!("the node must say hello first: {frames:?}");
    };
    assert_eq!(
        (hello.key.as_str(), hello.job_id, hello.step_id),
        ("secret", 70, 5)
    );
    assert_eq!(
        (hello.node.as_str(), hello.first_task, hello.tasks),
        ("n1", 2, 2)
    );
    for task in [2u32, 3] {
        let out: Vec<u8> = frames
            .iter()
            .filter_map(|f| match f {
                Frame::Stdout { task: t, data } if *t == task => Some(data.clone()),
                _ => None,
            })
            .flatten()
            .collect();
        assert_eq!(
            String::from_utf8_lossy(&out),
            format!("out {task} {} 1 5\n", task - 2)
        );
        let err_position = frames
            .iter()
            .position(|f| matches!(f, Frame::Stderr { task: t, .. } if *t == task))
            .expect("stderr forwarded");
        let exit_position = frames
            .iter()
            .position(|f| matches!(f, Frame::Exit { task: t, .. } if *t == task))
            .expect("an exit");
        assert!(err_position < exit_position, "output comes before the exit");
        assert!(frames.contains(&Frame::Exit {
            task,
            code: task as u8,
            signal: 0
        }));
    }
    let finished = wait_finished(&fixture, &runner, 70);
    assert_eq!(finished.step, Some(5));
    assert_eq!(finished.exit_status, status(3, 0), "the worst task's exit");
    assert_eq!(runner.active_steps().expect("active"), []);
    runner
        .acknowledge_launch(corral_agent::journal::LaunchKey::step(
            70,
            AllocationId(1),
            5,
        ))
        .expect("acknowledge");
    assert!(runner.finished().expect("finished").is_empty());
}

fn a_step_part_ends_when_srun_goes_away() {
    use corral_agent::step_io::Frame;
    let fixture = fixture();
    let runner = fixture.runner();
    let srun = std::net::TcpListener::bind("127.0.0.1:0").expect("listen");
    let address = srun.local_addr().expect("address").to_string();
    let request = step_request(&fixture, 71, "echo started; exec sleep 60", &address);
    runner.launch(&request).expect("launch");
    let (mut stream, _) = srun.accept().expect("the node connects");
    let mut started = 0;
    while started < 2 {
        if let Some(Frame::Stdout { .. }) = Frame::read_from(&mut stream).expect("frame") {
            started += 1;
        }
    }
    assert_eq!(
        runner.active_steps().expect("active"),
        [(71, AllocationId(1), 5)]
    );
    drop(stream);
    drop(srun);
    let finished = wait_finished(&fixture, &runner, 71);
    assert_eq!(finished.step, Some(5));
    assert_eq!(finished.exit_status, status(0, libc::SIGTERM as u8));
}

/// `--open-mode=append`: the output file keeps what an earlier run wrote.
fn open_mode_append_keeps_earlier_output() {
    let fixture = fixture();
    let runner = fixture.runner();
    let mut request = fixture.request(61, "echo second");
    request.stdout_pattern = Some("log.txt".to_string());
    request.open_mode = OpenMode::Append;
    fs::write(fixture.work.join("log.txt"), "first\n").expect("write");
    runner.launch(&request).expect("launch");
    wait_finished(&fixture, &runner, 61);
    assert_eq!(fixture.read("log.txt"), "first\nsecond\n");
}

/// A script whose shell and background child each note a SIGUSR1 in
/// `got.txt`; it waits until the shell has had one, then ends the child.
const WARNED_SCRIPT: &str = "got=no
trap 'echo shell >> got.txt; got=yes' USR1
sh -c 'trap \"echo child >> got.txt; exit 0\" USR1; touch child-ready; while :; do sleep 0.05; done' &
child=$!
while [ ! -f child-ready ]; do sleep 0.05; done
touch ready
while [ $got = no ]; do sleep 0.05; done
sleep 0.5
kill $child 2>/dev/null
wait";

/// `--signal=USR1@5700` on a 100-minute limit (40 s here): the signal
/// comes 95 minutes early, 2 s after the start. Returns the lines of
/// `got.txt`, sorted, once the job has ended.
fn warned(job_id: JobId, batch_only: bool) -> Vec<String> {
    let fixture = fixture();
    let runner = fixture.runner();
    let mut request = fixture.request(job_id, WARNED_SCRIPT);
    request.time_limit_minutes = Some(100);
    request.signal = Some(JobSignal {
        number: libc::SIGUSR1 as u16,
        seconds_before_limit: 5_700,
        batch_only,
        reservation: false,
    });
    let launched = Instant::now();
    runner.launch(&request).expect("launch");
    fixture.wait_for_file("ready");
    let finished = wait_finished(&fixture, &runner, job_id);
    assert_eq!(
        (finished.exit_status.signal, finished.cause),
        (0, FinishCause::Exited),
        "{}",
        fixture.diagnostics(job_id)
    );
    let lead_ms = 5_700 * 100 * MINUTE_MS / 100 / 60;
    assert!(
        launched.elapsed() >= Duration::from_millis(100 * MINUTE_MS - lead_ms),
        "the signal came before its time"
    );
    let mut lines: Vec<String> = fixture
        .read("got.txt")
        .lines()
        .map(str::to_string)
        .collect();
    lines.sort();
    lines
}

fn the_signal_option_warns_the_process_group() {
    assert_eq!(warned(62, false), ["child", "shell"]);
}

fn the_signal_option_with_b_warns_the_batch_shell_only() {
    assert_eq!(warned(63, true), ["shell"]);
}
