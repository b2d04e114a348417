//! Golden tests: Jobs built to match the jobs of the reference captures of
//! real Slurm 22.05 (`tests/reference/`, copied from
//! `shared/slurm-reference/`), formatted, and compared byte for byte with
//! what Slurm printed.
//!
//! Normalised, because the job data cannot reproduce them:
//! - squeue (09, 10, 11, 16, 17, 18): the row of job 12 is removed: it
//!   waits for its `--begin` time (`BeginTime`), which Slurm shows as its
//!   `StartTime` and Corral's squeue does not.
//! - scontrol (23, 24, 25, 43): `AllocNode:Sid=localhost:2188` becomes
//!   `localhost:0` (Corral records no session id).
//! - scontrol 24 (pending): `LastSchedEval` becomes the submit time, and the
//!   `mem=16000M` Slurm adds to the requested TRES of a job without `--mem`
//!   (the node's whole memory) is removed.
//! - sbatch 88: Slurm was run as `/usr/bin/sbatch`, which is the argv[0]
//!   glibc prints; the test passes that argv[0].
//! - scontrol show config (29, 30, 128): Corral prints only the keys it
//!   has a value for; the test compares those lines (and the header and
//!   the controllers' status after a blank line) with the capture's,
//!   with the lab's values (`MaxArraySize`, `SLURM_CONF`) given to it.
//! - squeue 12 (`-O`) and 15 (`--start`) keep job 12: its reason is
//!   replaced by `BeginTime` and its start time by the one Slurm had
//!   planned for it, the two values `--begin` would have given it.

use std::collections::BTreeMap;

use corral_slurm::sbatch::{self, BatchScript, Invocation, ScriptSource};
use corral_slurm::scontrol::{self, Layout};
use corral_slurm::squeue::options::{self as squeue_options, Invocation as SqueueInvocation};
use corral_slurm::squeue::{self, JobFormat};
use corral_slurm::time::unix_ms_from_civil;
use corral_slurm::{DisplayContext, SlurmError};
use corral_state::{
    ArraySpec, ArrayTask, ConditionState, Dependencies, DependencyCondition, DependencyKind,
    ExitStatus, Job, JobReason, JobSpec, JobState, RequestId,
};

mod common;
use common::capture;

fn without_lines_of_jobs(output: &str, ids: &[&str]) -> String {
    output
        .lines()
        .filter(|line| {
            let first = line.split([' ', '|']).find(|w| !w.is_empty());
            !first.is_some_and(|w| ids.contains(&w))
        })
        .map(|line| format!("{line}\n"))
        .collect()
}

/// 2026-11-22 at the given time, in UTC (the captures' zone).
fn at(hour: i64, minute: i64, second: i64) -> u64 {
    unix_ms_from_civil((2026, 11, 22), (hour, minute, second), 0)
}

fn wrap_job(id: u32, name: &str, state: JobState) -> Job {
    Job {
        id,
        request_id: RequestId(format!("request-{id}")),
        spec: std::sync::Arc::new(JobSpec {
            name: name.to_string(),
            work_dir: "/home/alice/work".to_string(),
            script: BatchScript::wrap("sleep 100").into_text(),
            submit_host: "localhost".to_string(),
            ..JobSpec::default()
        }),
        partition: "debug".to_string(),
        user: "root".to_string(),
        uid: 0,
        gid: 0,
        state,
        reason: JobReason::None,
        submit_time_ms: at(0, 3, 35),
        start_time_ms: None,
        end_time_ms: None,
        exit_status: ExitStatus::default(),
        cancelled_by_uid: None,
        allocation: None,
        requeue_count: 0,
        array: None,
        dependencies: None,
        steps: Vec::new(),
        next_step_id: 0,
        account: None,
    }
}

/// The queue of captures 09-25: jobs 9 (`-c 64`, waits for resources), 10
/// (held), 7 and 8 (`-c 4`) running on `vm` since 00:03:38.
fn first_queue() -> (Vec<Job>, DisplayContext) {
    let mut big = wrap_job(9, "big", JobState::Pending);
    std::sync::Arc::make_mut(&mut big.spec).cpus_per_task = 64;
    big.reason = JobReason::Resources;
    let mut dep = wrap_job(11, "dep", JobState::Pending);
    dep.reason = JobReason::Dependency;
    dep.dependencies = Some(afterok_7_unfulfilled());
    let mut held = wrap_job(10, "held", JobState::Pending);
    held.reason = JobReason::JobHeldUser;
    std::sync::Arc::make_mut(&mut held.spec).hold = true;
    let mut long1 = wrap_job(7, "long1", JobState::Running);
    long1.start_time_ms = Some(at(0, 3, 38));
    let mut long2 = wrap_job(8, "long2", JobState::Running);
    std::sync::Arc::make_mut(&mut long2.spec).cpus_per_task = 4;
    long2.start_time_ms = Some(at(0, 3, 38));

    let mut context = DisplayContext::new(at(0, 3, 39), 0);
    context.partition_time_limits = BTreeMap::from([("debug".to_string(), None)]);
    context.node_names = BTreeMap::from([(7, vec!["vm".to_string()]), (8, vec!["vm".to_string()])]);
    context.priorities = BTreeMap::from([
        (9, 4_294_901_751),
        (11, 4_294_901_750),
        (10, 0),
        (7, 4_294_901_753),
        (8, 4_294_901_752),
    ]);
    context.accounts = [7, 8, 9, 10, 11]
        .into_iter()
        .map(|id| (id, "root".to_string()))
        .collect();
    context.group_names = BTreeMap::from([(0, "root".to_string())]);
    (vec![big, dep, held, long1, long2], context)
}

/// Job 11's `--dependency=afterok:7`, job 7 still running.
fn afterok_7_unfulfilled() -> Dependencies {
    Dependencies {
        any: false,
        conditions: vec![(
            DependencyCondition {
                kind: DependencyKind::AfterOk,
                job_id: 7,
                task: None,
                delay_minutes: 0,
            },
            ConditionState::Unfulfilled,
        )],
    }
}

fn squeue_output(jobs: &[Job], context: &DisplayContext, format: &str, header: bool) -> String {
    let (format, warnings) = JobFormat::parse(format);
    assert!(warnings.is_empty());
    squeue::format_jobs(jobs, &format, context, header)
}

#[test]
fn squeue_default_format_09_and_10() {
    let (jobs, context) = first_queue();
    assert_eq!(
        squeue::DEFAULT_FORMAT,
        "%.18i %.9P %.8j %.8u %.2t %.10M %.6D %R"
    );
    for name in ["09_squeue_default.txt", "10_squeue_o_formats.txt"] {
        let reference = capture(name);
        let expected = without_lines_of_jobs(&reference.output, &["12"]);
        assert_eq!(
            squeue_output(&jobs, &context, squeue::DEFAULT_FORMAT, true),
            expected,
            "{name}"
        );
        assert_eq!(reference.exit_code, 0);
    }
}

#[test]
fn squeue_many_fields_11() {
    let (jobs, context) = first_queue();
    let expected = without_lines_of_jobs(&capture("11_squeue_o_more.txt").output, &["12"]);
    let format = "%i|%j|%T|%r|%C|%D|%m|%l|%L|%M|%V|%S|%Q|%u|%a|%P|%N|%Z|%o";
    assert_eq!(squeue_output(&jobs, &context, format, true), expected);
}

#[test]
fn squeue_long_18() {
    let (jobs, context) = first_queue();
    let expected = without_lines_of_jobs(&capture("18_squeue_long.txt").output, &["12"]);
    let output = squeue::long_list_time_line(&context)
        + &squeue_output(&jobs, &context, squeue::LONG_FORMAT, true);
    assert_eq!(output, expected);
}

#[test]
fn squeue_without_header_13_14_16_17() {
    let (jobs, context) = first_queue();
    let job = |id: u32| jobs.iter().find(|j| j.id == id).unwrap().clone();
    assert_eq!(
        squeue_output(&[job(7)], &context, "%T", false),
        capture("13_squeue_h_j_T_running.txt").output
    );
    assert_eq!(
        squeue_output(&[job(10)], &context, "%T", false),
        capture("14_squeue_h_j_T_pending.txt").output
    );
    let pending: Vec<Job> = jobs
        .iter()
        .filter(|j| j.state == JobState::Pending)
        .cloned()
        .collect();
    let expected = without_lines_of_jobs(&capture("16_squeue_states_pending.txt").output, &["12"]);
    assert_eq!(
        squeue_output(&pending, &context, "%i %T %r", false),
        expected
    );
    let expected = without_lines_of_jobs(&capture("17_squeue_user_me.txt").output, &["12"]);
    assert_eq!(squeue_output(&jobs, &context, "%i %j %T", false), expected);
}

#[test]
fn squeue_multi_node_135() {
    // `sbatch -N 2 -c 4` (job 4) and `sbatch -n 40` (job 5), both on n1 and n2.
    let mut four = wrap_job(4, "wrap", JobState::Running);
    std::sync::Arc::make_mut(&mut four.spec).nodes = 2;
    std::sync::Arc::make_mut(&mut four.spec).ntasks = 2;
    std::sync::Arc::make_mut(&mut four.spec).cpus_per_task = 4;
    let mut five = wrap_job(5, "wrap", JobState::Running);
    std::sync::Arc::make_mut(&mut five.spec).ntasks = 40;
    for job in [&mut four, &mut five] {
        job.start_time_ms = Some(at(0, 55, 0));
    }
    let mut context = DisplayContext::new(at(0, 55, 2), 0);
    let nodes = vec!["n1".to_string(), "n2".to_string()];
    context.node_names = BTreeMap::from([(4, nodes.clone()), (5, nodes)]);
    let jobs = [four, five];
    let output = squeue_output(&jobs, &context, squeue::DEFAULT_FORMAT, true)
        + &squeue_output(&jobs, &context, "%i %T %D %N %C", true);
    assert_eq!(output, capture("135_multi_squeue_running.txt").output);
}

fn normalise_sid(output: &str) -> String {
    output.replace("AllocNode:Sid=localhost:2188", "AllocNode:Sid=localhost:0")
}

#[test]
fn scontrol_running_23_and_one_line_25() {
    let (jobs, context) = first_queue();
    let job = |id: u32| jobs.iter().find(|j| j.id == id).unwrap();
    let reference = capture("23_scontrol_show_job_running.txt");
    assert_eq!(
        scontrol::show_job(job(7), &context, Layout::Lines),
        normalise_sid(&reference.output)
    );
    let reference = capture("25_scontrol_show_job_oneliner.txt");
    assert_eq!(
        scontrol::show_job(job(8), &context, Layout::OneLine),
        normalise_sid(&reference.output)
    );
}

#[test]
fn scontrol_pending_24() {
    let (jobs, context) = first_queue();
    let expected = normalise_sid(&capture("24_scontrol_show_job_pending.txt").output)
        .replace(
            "LastSchedEval=2026-11-22T00:03:38",
            "LastSchedEval=2026-11-22T00:03:35",
        )
        .replace("TRES=cpu=64,mem=16000M,node=1", "TRES=cpu=64,node=1");
    assert_eq!(
        scontrol::show_job(&jobs[0], &context, Layout::Lines),
        expected
    );
}

#[test]
fn scontrol_cancelled_43() {
    let (jobs, mut context) = first_queue();
    let mut long2 = jobs.iter().find(|job| job.id == 8).unwrap().clone();
    long2.state = JobState::Cancelled;
    long2.end_time_ms = Some(at(0, 3, 41));
    long2.exit_status = ExitStatus {
        code: 0,
        signal: 15,
    };
    long2.cancelled_by_uid = Some(0);
    context.now_ms = at(0, 3, 45);
    let expected = normalise_sid(&capture("43_scontrol_show_job_cancelled.txt").output);
    assert_eq!(
        scontrol::show_job(&long2, &context, Layout::Lines),
        expected
    );
}

#[test]
fn scontrol_completed_104_first_lines() {
    let mut done = wrap_job(36, "wrap", JobState::Completed);
    done.start_time_ms = Some(at(0, 4, 0));
    done.end_time_ms = Some(at(0, 4, 0));
    let mut context = DisplayContext::new(at(0, 5, 0), 0);
    context.priorities.insert(36, 4_294_901_733);
    context.accounts.insert(36, "root".to_string());
    context.group_names.insert(0, "root".to_string());
    let output = scontrol::show_job(&done, &context, Layout::Lines);
    let head: String = output.lines().take(5).map(|l| format!("{l}\n")).collect();
    assert_eq!(
        head,
        capture("104_followup_scontrol_show_completed_job.txt").output
    );
}

#[test]
fn scontrol_multi_node_134_lines() {
    // `sbatch -N 2` ran on n1 and n2; the capture greps some lines.
    let mut job = wrap_job(3, "wrap", JobState::Completed);
    std::sync::Arc::make_mut(&mut job.spec).nodes = 2;
    std::sync::Arc::make_mut(&mut job.spec).ntasks = 2;
    job.start_time_ms = Some(at(0, 54, 46));
    job.end_time_ms = Some(at(0, 54, 47));
    let mut context = DisplayContext::new(at(0, 55, 0), 0);
    context
        .node_names
        .insert(3, vec!["n1".to_string(), "n2".to_string()]);
    let output = scontrol::show_job(&job, &context, Layout::Lines);
    let grepped: Vec<&str> = output
        .lines()
        .filter(|l| l.contains("NodeList") || l.contains("NumNodes") || l.contains("JobState"))
        .collect();
    let reference = capture("134_multi_sbatch_N2.txt");
    let expected: Vec<&str> = reference
        .output
        .lines()
        .filter(|l| l.starts_with("   "))
        .collect();
    assert_eq!(grepped, expected);
}

/// Runs sbatch's three steps; `script` is what the file (or stdin) holds,
/// `None` when it cannot be opened.
fn sbatch(argv: &[&str], script: Option<&[u8]>) -> Result<sbatch::SbatchRequest, SlurmError> {
    let argv: Vec<String> = argv.iter().map(|s| s.to_string()).collect();
    let Invocation::Submit(command_line) = sbatch::parse_command_line(&argv)? else {
        panic!("sbatch printed instead of submitting");
    };
    let script = match command_line.script_source() {
        ScriptSource::Wrapped(script) => script,
        ScriptSource::File(path) => match script {
            Some(bytes) => BatchScript::from_bytes(bytes)?,
            None => return Err(sbatch::unable_to_open_error(&path)),
        },
        ScriptSource::Stdin => BatchScript::from_bytes(script.unwrap_or_default())?,
    };
    // The references' clock; none of these submissions uses --begin.
    let clock = sbatch::Clock {
        now_ms: 1_795_305_815_000,
        utc_offset_seconds: 0,
    };
    sbatch::build_request(&command_line, &[], script, clock)
}

#[test]
fn sbatch_submissions_01_02() {
    let request = sbatch(&["sbatch", "--wrap", "hostname"], None).unwrap();
    assert_eq!(
        request.submitted_message(2).unwrap(),
        capture("01_sbatch_wrap_hostname.txt").output
    );
    let request = sbatch(&["sbatch", "--parsable", "--wrap", "sleep 1"], None).unwrap();
    assert_eq!(
        request.submitted_message(3).unwrap(),
        capture("02_sbatch_parsable.txt").output
    );
}

#[test]
fn sbatch_errors_78_to_93() {
    type Case<'a> = (&'a str, &'a [&'a str], Option<&'a [u8]>);
    let cases: &[Case] = &[
        (
            "78_err_invalid_time.txt",
            &["sbatch", "-t", "abc", "--wrap", "true"],
            None,
        ),
        (
            "79_err_invalid_time2.txt",
            &["sbatch", "-t", "1:2:3:4:5", "--wrap", "true"],
            None,
        ),
        (
            "88_err_unknown_option.txt",
            &["/usr/bin/sbatch", "--bogus", "--wrap", "true"],
            None,
        ),
        (
            "89_err_mem_abc.txt",
            &["sbatch", "--mem=abc", "--wrap", "true"],
            None,
        ),
        (
            "90_err_empty_script.txt",
            &["sbatch", "empty.sh"],
            Some(b""),
        ),
        (
            "91_err_script_without_shebang.txt",
            &["sbatch", "noshebang.sh"],
            Some(b"echo no shebang\n"),
        ),
        ("92_err_stdin_no_script.txt", &["sbatch"], Some(b"")),
        (
            "93_err_missing_file.txt",
            &["sbatch", "/nonexistent/file.sh"],
            None,
        ),
    ];
    for (name, argv, script) in cases {
        let reference = capture(name);
        let error = sbatch(argv, *script).unwrap_err();
        assert_eq!(error.stderr_text(), reference.output, "{name}");
        assert_eq!(error.exit_code, reference.exit_code, "{name}");
    }
}

#[test]
fn dependency_in_squeue_and_scontrol_69_70() {
    let (jobs, context) = first_queue();
    let dep = jobs.iter().find(|job| job.id == 11).unwrap();
    assert_eq!(
        squeue_output(std::slice::from_ref(dep), &context, "%i %T %r %E", false),
        capture("69_squeue_dependency_pending.txt").output
    );
    let shown = scontrol::show_job(dep, &context, Layout::Lines);
    let grepped: String = shown
        .lines()
        .filter(|line| line.contains("JobState") || line.contains("Dependency"))
        .map(|line| format!("{line}\n"))
        .collect();
    assert_eq!(
        grepped,
        capture("70_scontrol_show_job_dependency.txt").output
    );
}

/// The tasks of array `array_id` (`--array=INDICES%max`), with the ids
/// Corral gives them: the ids right after the array's own.
fn array_tasks(array_id: u32, indices: &[u32], max_running: Option<u32>) -> Vec<Job> {
    let spec = std::sync::Arc::new(JobSpec {
        name: "wrap".to_string(),
        work_dir: "/home/alice/work".to_string(),
        script: BatchScript::wrap("echo $SLURM_ARRAY_TASK_ID").into_text(),
        array: Some(ArraySpec {
            indices: indices.to_vec(),
            max_running,
        }),
        ..JobSpec::default()
    });
    indices
        .iter()
        .enumerate()
        .map(|(offset, task_id)| {
            let mut job = wrap_job(array_id + 1 + offset as u32, "wrap", JobState::Pending);
            job.spec = spec.clone();
            job.array = Some(ArrayTask {
                array_job_id: array_id,
                task_id: *task_id,
            });
            job
        })
        .collect()
}

fn array_context(jobs: &[Job]) -> DisplayContext {
    let mut context = DisplayContext::new(at(0, 3, 50), 0);
    context.partition_time_limits = BTreeMap::from([("debug".to_string(), None)]);
    for job in jobs.iter().filter(|job| job.state == JobState::Running) {
        context.node_names.insert(job.id, vec!["vm".to_string()]);
    }
    context
}

/// `squeue -j A` (pending tasks on one line) followed by `squeue -h -r -j A
/// -o FORMAT` (one line per task), as the captures run them.
fn array_listing(jobs: &[Job], format: &str) -> String {
    let mut context = array_context(jobs);
    let mut grouped = jobs.to_vec();
    corral_slurm::display::group_pending_tasks(&mut grouped, &mut context);
    let mut output = squeue_output(&grouped, &context, squeue::DEFAULT_FORMAT, true);
    output += &squeue_output(jobs, &array_context(jobs), format, false);
    output
}

#[test]
fn array_right_after_submission_59() {
    let tasks = array_tasks(14, &[1, 2, 3, 4, 5], None);
    assert_eq!(
        array_listing(&tasks, "%i %A %F %K %T"),
        capture("59_squeue_array_right_after.txt").output
    );
}

#[test]
fn held_array_60() {
    let mut tasks = array_tasks(15, &[1, 2, 3, 4, 5], None);
    for task in &mut tasks {
        task.reason = JobReason::JobHeldUser;
    }
    assert_eq!(
        array_listing(&tasks, "%i %T %r"),
        capture("60_squeue_array_held.txt").output
    );
}

#[test]
fn throttled_array_61() {
    let mut tasks = array_tasks(16, &[1, 2, 3, 4], Some(2));
    for task in &mut tasks {
        if task.array.unwrap().task_id <= 2 {
            task.state = JobState::Running;
            task.start_time_ms = Some(at(0, 3, 49));
        } else {
            task.reason = JobReason::JobArrayTaskLimit;
        }
    }
    // The capture lists the pending tasks first, then 2 before 1.
    let order = [3, 4, 2, 1];
    let ordered: Vec<Job> = order
        .iter()
        .map(|index| {
            tasks
                .iter()
                .find(|task| task.array.unwrap().task_id == *index)
                .unwrap()
                .clone()
        })
        .collect();
    assert_eq!(
        array_listing(&ordered, "%i %T %r"),
        capture("61_squeue_array_running_throttled.txt").output
    );
}

#[test]
fn scontrol_array_task_65_first_line_and_files() {
    let mut task = array_tasks(14, &[1, 2, 3, 4, 5], None).remove(2);
    task.id = 19;
    task.state = JobState::Completed;
    let context = array_context(std::slice::from_ref(&task));
    let shown = scontrol::show_job(&task, &context, Layout::Lines);
    let reference = capture("65_scontrol_show_job_array_task.txt").output;
    let pick = |text: &str| -> Vec<String> {
        text.lines()
            .filter(|line| line.starts_with("JobId=") || line.contains("/slurm-"))
            .map(str::to_string)
            .collect()
    };
    assert_eq!(pick(&shown), pick(&reference));
}

/// The queue of captures 09-25 with job 12 (`--begin=now+1hour`, submitted
/// at 00:03:36) as Slurm showed it, for the captures that keep its row.
fn first_queue_with_begin_job() -> (Vec<Job>, DisplayContext) {
    let (mut jobs, mut context) = first_queue();
    let mut later = wrap_job(12, "later", JobState::Pending);
    later.submit_time_ms = at(0, 3, 36);
    later.start_time_ms = Some(at(1, 3, 36));
    context.priorities.insert(12, 4_294_901_749);
    context.accounts.insert(12, "root".to_string());
    jobs.push(later);
    (jobs, context)
}

/// squeue's stdout for `argv` (without `squeue`) over the given jobs, the
/// way the command runs: parse, filter, group, sort, print.
fn squeue_run(words: &[&str], jobs: Vec<Job>, context: DisplayContext) -> String {
    let argv: Vec<String> = std::iter::once("squeue")
        .chain(words.iter().copied())
        .map(str::to_string)
        .collect();
    let SqueueInvocation::List(query) =
        squeue_options::parse_command_line(&argv, &[], "root").unwrap()
    else {
        panic!("squeue printed instead of listing");
    };
    assert!(query.warnings.is_empty(), "{:?}", query.warnings);
    let rendered = query.render(jobs, context);
    assert!(rendered.error.is_none());
    rendered.stdout
}

/// Job 12's reason, which Corral has no variant for, as Slurm printed it.
fn with_begin_time_reason(output: String) -> String {
    output
        .replace(
            "12                  later               PENDING             None      ",
            "12                  later               PENDING             BeginTime ",
        )
        .replace(
            "(null)               (None)",
            "(null)               (BeginTime)",
        )
}

#[test]
fn squeue_long_format_12() {
    let (jobs, context) = first_queue_with_begin_job();
    let output = squeue_run(
        &[
            "-O",
            "JobID,Name,State,Reason,NumCPUs,TimeLimit,SubmitTime,StartTime",
        ],
        jobs,
        context,
    );
    let reference = capture("12_squeue_O_long.txt");
    assert_eq!(with_begin_time_reason(output), reference.output);
    assert_eq!(reference.exit_code, 0);
}

#[test]
fn squeue_start_15() {
    let (jobs, context) = first_queue_with_begin_job();
    let output = squeue_run(&["--start"], jobs, context);
    let reference = capture("15_squeue_start.txt");
    assert_eq!(with_begin_time_reason(output), reference.output);
}

#[test]
fn squeue_default_sort_09_and_long_18_from_the_command_line() {
    // Jobs in id order, as the cluster returns them; squeue sorts them.
    let (mut jobs, context) = first_queue();
    jobs.sort_by_key(|job| job.id);
    let expected = without_lines_of_jobs(&capture("09_squeue_default.txt").output, &["12"]);
    assert_eq!(squeue_run(&[], jobs.clone(), context.clone()), expected);
    let expected = without_lines_of_jobs(&capture("18_squeue_long.txt").output, &["12"]);
    assert_eq!(squeue_run(&["-l"], jobs.clone(), context.clone()), expected);
    let expected = without_lines_of_jobs(&capture("16_squeue_states_pending.txt").output, &["12"]);
    assert_eq!(
        squeue_run(&["-t", "PENDING", "-h", "-o", "%i %T %r"], jobs, context),
        expected
    );
}

fn show_config_view(controllers: &[(&str, &str)]) -> corral_slurm::show_config::ConfigView {
    corral_slurm::show_config::ConfigView {
        cluster_name: "lab".to_string(),
        controllers: controllers
            .iter()
            .map(
                |(name, address)| corral_slurm::show_config::ControllerView {
                    name: name.to_string(),
                    address: address.to_string(),
                },
            )
            .collect(),
        first_job_id: 1,
        kill_wait_s: 30,
        max_array_size: 100_001,
        min_job_age_s: 300,
        slurmd_timeout_s: 300,
        config_path: "/srv/slurm/etc/slurm.conf".to_string(),
        now_ms: at(0, 3, 39),
        utc_offset_seconds: 0,
    }
}

/// The capture's lines for the keys Corral prints, in the capture's order.
fn config_lines_of(capture_text: &str, printed: &str) -> String {
    let keys: Vec<&str> = printed
        .lines()
        .filter_map(|line| line.split_once(" = ").map(|(key, _)| key.trim_end()))
        .collect();
    capture_text
        .lines()
        .filter(|line| {
            line.starts_with("Configuration data as of")
                || line
                    .split_once(" = ")
                    .is_some_and(|(key, _)| keys.contains(&key.trim_end()))
        })
        .map(|line| format!("{line}\n"))
        .collect()
}

#[test]
fn scontrol_show_config_29_30() {
    let printed = corral_slurm::show_config::show_config(&show_config_view(&[("vm", "vm:6817")]));
    let reference = capture("30_scontrol_show_config_full.txt");
    let expected = config_lines_of(&reference.output, &printed);
    assert_eq!(printed, expected);
    assert_eq!(printed.lines().count(), 11, "{printed}");
    // The report ends with a blank line and the controllers' status.
    assert!(reference
        .output
        .ends_with("\n\nSlurmctld(primary) at vm is UP\n"));
    let head = capture("29_scontrol_show_config_head60.txt");
    assert_eq!(
        printed.lines().next(),
        head.output.lines().next(),
        "the header line"
    );
}

#[test]
fn scontrol_show_config_controllers_128() {
    let printed = corral_slurm::show_config::show_config(&show_config_view(&[
        ("ctlA", "127.0.0.11:6817"),
        ("ctlB", "127.0.0.12:6817"),
    ]));
    let grepped: String = printed
        .lines()
        .filter(|line| line.starts_with("SlurmctldHost"))
        .map(|line| format!("{line}\n"))
        .collect();
    let expected: String = capture("128_ha_scontrol_show_config_controllers.txt")
        .output
        .lines()
        .filter(|line| line.starts_with("SlurmctldHost"))
        .map(|line| format!("{line}\n"))
        .collect();
    assert_eq!(grepped, expected);
}
