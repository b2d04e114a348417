//! Golden tests of `sacct`: accounting rows built to match the jobs of the
//! reference captures of real Slurm 22.05 (`tests/reference/`, copied from
//! `shared/slurm-reference/`), run through the real command line parser and
//! renderer, and compared byte for byte with what Slurm printed.
//!
//! Captures compared: 08 (running job, ReqMem and Timelimit), 41 (cancelled
//! running and pending jobs, Elapsed), 44 (`-j`, default columns), 45 and
//! 48 (`--parsable2`, NodeList), 46 (`-X -P -n`, default window), 47
//! (default window and columns, pending and running jobs), 49 (`-b`), 50
//! (unknown job: header only), 63, 64, 100, 101 (array tasks, JobIDRaw),
//! 66 (held array cancelled before it ran: one `15_[1-5]` line), 105
//! (`-X -j`), 106 (`-s CA` and `-s CD` without `-S`: nothing), 107
//! (`CANCELLED by 0`, DerivedExitCode of a step), 108 (failed job), 138
//! (multi-node job, a numbered step, Submit).
//!
//! Normalised: nothing in the output. The rows carry the captures' job
//! ids, names and times (2026-11-22, UTC, as captured), and the cluster
//! name `lab`. Two situations are reconstructed rather than recorded: the
//! queue of 46 lacks job 13 (submitted between 46 and 47), and the array
//! tasks of 63/64 carry Slurm's numbering (the last task keeps the array's
//! id 14), which Corral's id assignment does not produce.

use corral_slurm::sacct::{self, Invocation, SacctContext};
use corral_slurm::time::unix_ms_from_civil;
use corral_state::{ExitStatus, JobRecord, JobState, StepId, StepRecord};

mod common;
use common::capture;

/// 2026-11-22 at the given time, in UTC (the captures' zone).
fn at(hour: i64, minute: i64, second: i64) -> u64 {
    unix_ms_from_civil((2026, 11, 22), (hour, minute, second), 0)
}

type Row = (JobRecord, Vec<StepRecord>);

/// A job of user root, account root, partition debug, submitted (and
/// eligible) at `submit`, on `vm` once it starts.
fn job(id: u32, name: &str, cpus: u32, submit: u64) -> JobRecord {
    JobRecord {
        job_id: id,
        array_job_id: None,
        array_task_id: None,
        name: name.to_string(),
        user: "root".to_string(),
        uid: 0,
        gid: 0,
        account: Some("root".to_string()),
        partition: "debug".to_string(),
        qos: None,
        state: JobState::Pending,
        cancelled_by_uid: None,
        exit_status: ExitStatus::default(),
        derived_exit_status: ExitStatus::default(),
        submit_time_ms: submit,
        eligible_time_ms: Some(submit),
        start_time_ms: None,
        end_time_ms: None,
        time_limit_minutes: None,
        nodes: Vec::new(),
        alloc_cpus: 0,
        alloc_gpus: 0,
        alloc_memory_mb: 0,
        req_nodes: 1,
        req_cpus: cpus,
        req_tasks: 1,
        req_memory_per_node_mb: None,
        req_gpus_per_node: 0,
        work_dir: "/home/alice/work".to_string(),
        reason: "None".to_string(),
        requeue_count: 0,
        comment: None,
    }
}

fn started(mut job: JobRecord, start: u64) -> JobRecord {
    job.state = JobState::Running;
    job.start_time_ms = Some(start);
    job.nodes = vec!["vm".to_string()];
    job.alloc_cpus = job.req_cpus;
    job
}

fn ended(mut job: JobRecord, state: JobState, end: u64) -> JobRecord {
    job.state = state;
    job.end_time_ms = Some(end);
    job
}

/// The batch step of a started job, in the job's state.
fn batch(job: &JobRecord) -> StepRecord {
    StepRecord {
        job_id: job.job_id,
        step_id: StepId::Batch,
        name: "batch".to_string(),
        state: job.state,
        exit_status: job.exit_status,
        start_time_ms: job.start_time_ms.expect("a started job"),
        end_time_ms: job.end_time_ms,
        nodes: job.nodes.iter().take(1).cloned().collect(),
        ntasks: 1,
        alloc_cpus: job.alloc_cpus,
    }
}

fn with_batch(job: JobRecord) -> Row {
    let step = batch(&job);
    (job, vec![step])
}

fn completed(id: u32, name: &str, cpus: u32, submit: u64) -> Row {
    let job = started(job(id, name, cpus, submit), submit);
    with_batch(ended(job, JobState::Completed, submit))
}

/// Job 8 (`long2`, 4 CPUs): running from 00:03:38, cancelled by root
/// three seconds later; its batch step ended by SIGTERM.
fn cancelled_running_8() -> Row {
    let mut job = started(job(8, "long2", 4, at(0, 3, 35)), at(0, 3, 38));
    job = ended(job, JobState::Cancelled, at(0, 3, 41));
    job.cancelled_by_uid = Some(0);
    let mut step = batch(&job);
    step.exit_status = ExitStatus {
        code: 0,
        signal: 15,
    };
    (job, vec![step])
}

/// Job 10 (`held`): cancelled while held, never eligible, never started.
fn cancelled_held_10() -> Row {
    let mut job = job(10, "held", 1, at(0, 3, 35));
    job.eligible_time_ms = None;
    job.state = JobState::Cancelled;
    job.cancelled_by_uid = Some(0);
    job.end_time_ms = Some(at(0, 3, 50));
    (job, Vec::new())
}

/// The first queue (captures 41-50): jobs 1-6 done, 7 running, 8 and 10
/// cancelled, 9 pending for resources, 11 waiting on a dependency, 12
/// held back by a begin time, 13 pending.
fn first_queue(with_job_13: bool) -> Vec<Row> {
    let mut rows = vec![
        completed(1, "wrap", 1, at(0, 1, 0)),
        completed(2, "wrap", 1, at(0, 1, 10)),
        completed(3, "wrap", 1, at(0, 1, 20)),
        completed(4, "wrap", 1, at(0, 1, 30)),
        completed(5, "demo", 2, at(0, 2, 0)),
        completed(6, "demo", 2, at(0, 2, 30)),
        with_batch(started(job(7, "long1", 1, at(0, 3, 35)), at(0, 3, 38))),
        cancelled_running_8(),
        (job(9, "big", 64, at(0, 3, 36)), Vec::new()),
        cancelled_held_10(),
    ];
    let mut waiting = job(11, "dep", 1, at(0, 3, 37));
    waiting.eligible_time_ms = None;
    rows.push((waiting, Vec::new()));
    let mut later = job(12, "begin", 1, at(0, 3, 37));
    later.eligible_time_ms = Some(at(2, 0, 0));
    rows.push((later, Vec::new()));
    if with_job_13 {
        rows.push((job(13, "wrap", 1, at(0, 5, 0)), Vec::new()));
    }
    rows
}

fn now() -> u64 {
    at(1, 0, 0)
}

/// Runs `sacct ARGS` as root over the rows, as the CLI will.
fn sacct(args: &str, rows: &[Row]) -> (String, i32) {
    let argv: Vec<String> = std::iter::once("sacct")
        .chain(args.split_whitespace())
        .map(String::from)
        .collect();
    let context = SacctContext {
        now_ms: now(),
        utc_offset_seconds: 0,
        caller_uid: 0,
    };
    match sacct::parse_command_line(&argv, &[], &context).expect("a valid command line") {
        Invocation::Show(config) => {
            let output = sacct::render(rows, &config, now(), "lab", &|_| Some("root".into()));
            (output.stdout + &output.stderr, output.exit_code)
        }
        Invocation::Print(text) => (text, 0),
    }
}

fn assert_matches(name: &str, args: &str, rows: &[Row]) {
    let reference = capture(name);
    let (output, exit_code) = sacct(args, rows);
    assert_eq!(output, reference.output, "{name}");
    assert_eq!(exit_code, reference.exit_code, "{name}");
}

#[test]
fn running_job_with_memory_and_limit_08() {
    let mut demo = started(job(6, "demo", 2, at(0, 2, 30)), at(0, 2, 30));
    demo.req_memory_per_node_mb = Some(100);
    demo.alloc_memory_mb = 100;
    demo.time_limit_minutes = Some(5);
    assert_matches(
        "08_sacct_demo.txt",
        "-j 6 -o JobID,JobName,AllocCPUS,ReqMem,Timelimit,State,ExitCode",
        &[with_batch(demo)],
    );
}

#[test]
fn cancelled_jobs_41() {
    assert_matches(
        "41_sacct_after_scancel.txt",
        "-j 10,8 -o JobID,JobName,State,ExitCode,Elapsed",
        &first_queue(true),
    );
}

#[test]
fn one_job_in_default_and_brief_and_parsable_columns_44_45_48_49() {
    let rows = first_queue(true);
    assert_matches("44_sacct_j.txt", "-j 6", &rows);
    assert_matches(
        "45_sacct_j_parsable2.txt",
        "-j 6 --parsable2 -o JobID,JobName,State,ExitCode,Elapsed,NodeList",
        &rows,
    );
    assert_matches(
        "48_sacct_format_submitit.txt",
        "-o JobID,State,NodeList --parsable2 -j 6",
        &rows,
    );
    assert_matches("49_sacct_brief.txt", "-b -j 6", &rows);
}

#[test]
fn default_window_46_47() {
    assert_matches(
        "46_sacct_X_P_n.txt",
        "-X -P -n -o JobID,State",
        &first_queue(false),
    );
    assert_matches("47_sacct_default.txt", "", &first_queue(true));
}

#[test]
fn unknown_job_prints_the_header_50() {
    assert_matches("50_sacct_unknown_job.txt", "-j 999999", &first_queue(true));
}

/// Array 14 (`--array=1-5`), as the database knows it: task 5 keeps the
/// array's id, tasks 1-4 got ids 17-20 when they started.
fn array_14(tasks: &[u32]) -> Vec<Row> {
    tasks
        .iter()
        .map(|&task| {
            let id = if task == 5 { 14 } else { 16 + task };
            let mut record = job(id, "wrap", 1, at(0, 20, 0));
            record.array_job_id = Some(14);
            record.array_task_id = Some(task);
            let record = started(record, at(0, 20, i64::from(task)));
            with_batch(ended(record, JobState::Completed, at(0, 20, 10)))
        })
        .collect()
}

#[test]
fn array_tasks_63_64_100_101() {
    assert_matches(
        "63_sacct_array.txt",
        "-j 14 -o JobID,JobIDRaw,JobName,State,ExitCode",
        &array_14(&[5]),
    );
    assert_matches(
        "64_sacct_array_X_P.txt",
        "-X -P -n -j 14 -o JobID,JobIDRaw,State",
        &array_14(&[5]),
    );
    let all = array_14(&[5, 3, 1, 4, 2]);
    assert_matches(
        "100_followup_sacct_array_after_db_caught_up.txt",
        "-j 14 -o JobID,JobIDRaw,JobName,State,ExitCode",
        &all,
    );
    assert_matches(
        "101_followup_sacct_array_X_P.txt",
        "-X -P -n -j 14 -o JobID,JobIDRaw,State",
        &all,
    );
}

#[test]
fn held_array_cancelled_before_it_ran_is_one_line_66() {
    let rows: Vec<Row> = (1..=5)
        .map(|task| {
            let mut record = job(15 + task, "wrap", 1, at(0, 21, 0));
            record.array_job_id = Some(15);
            record.array_task_id = Some(task);
            record.eligible_time_ms = None;
            record.state = JobState::Cancelled;
            record.cancelled_by_uid = Some(0);
            record.end_time_ms = Some(at(0, 21, 5));
            (record, Vec::new())
        })
        .collect();
    // The shell's `scancel 15; sleep 1;` printed nothing.
    assert_matches(
        "66_scancel_array_held.txt",
        "-X -P -n -j 15 -o JobID,State",
        &rows,
    );
}

#[test]
fn later_captures_105_106_107_108() {
    let mut rows = first_queue(true);
    rows.push(completed(36, "wrap", 1, at(0, 40, 0)));
    let failed = started(job(23, "wrap", 1, at(0, 30, 0)), at(0, 30, 1));
    let mut failed = ended(failed, JobState::Failed, at(0, 30, 2));
    failed.exit_status = ExitStatus { code: 3, signal: 0 };
    failed.derived_exit_status = failed.exit_status;
    rows.push(with_batch(failed));
    assert_matches(
        "105_followup_sacct_dep_on_unknown_job.txt",
        "-X -j 36 -o JobID,JobName,State,ExitCode",
        &rows,
    );
    let cancelled = sacct("-X -P -n -s CA -o JobID,State", &rows);
    let done = sacct("-X -P -n -s CD -o JobID,State", &rows);
    assert_eq!(
        cancelled.0 + &done.0,
        capture("106_followup_sacct_state_filters.txt").output
    );
    assert_matches(
        "107_followup_sacct_cancelled_running_exitcode.txt",
        "-j 8 -P -o JobID,State,ExitCode,DerivedExitCode",
        &rows,
    );
    assert_matches(
        "108_followup_sacct_failed_job.txt",
        "-j 23 -P -o JobID,JobName,State,ExitCode",
        &rows,
    );
}

#[test]
fn multi_node_job_with_a_step_138() {
    let nodes = vec!["n1".to_string(), "n2".to_string()];
    let mut record = job(3, "wrap", 1, at(0, 54, 43));
    record.req_nodes = 2;
    let mut record = started(record, at(0, 54, 46));
    record.nodes = nodes.clone();
    let record = ended(record, JobState::Completed, at(0, 54, 47));
    let first = batch(&record);
    let step = StepRecord {
        step_id: StepId::Numbered(0),
        name: "hostname".to_string(),
        nodes,
        ntasks: 2,
        ..first.clone()
    };
    assert_matches(
        "138_multi_sacct_same_job_later.txt",
        "-j 3 -P -o JobID,JobName,NodeList,State,Submit",
        &[(record, vec![step, first])],
    );
}

/// States during a window, with explicit times: a job that ended inside
/// the window is found by its final state, a job still running by
/// `RUNNING`, and a job that ended before the window by neither.
#[test]
fn state_filters_use_the_window() {
    let rows = first_queue(true);
    let (text, _) = sacct(
        "-X -P -n -s CA,R -S 00:03:40 -E 00:09:00 -o JobID,State",
        &rows,
    );
    assert_eq!(text, "7|RUNNING\n8|CANCELLED by 0\n10|CANCELLED by 0\n");
    let (text, _) = sacct("-X -P -n -s CD -S 00:01:15 -E 00:01:25 -o JobID", &rows);
    assert_eq!(text, "3\n");
    let (text, _) = sacct("-X -P -n -s PD -o JobID", &rows);
    assert_eq!(text, "9\n13\n");
}

#[test]
fn job_filters_and_steps() {
    let rows = first_queue(true);
    let (text, _) = sacct("-P -n -j 8.batch,6 -o JobID", &rows);
    assert_eq!(text, "6\n6.batch\n8.batch\n");
    let (text, _) = sacct("-P -n -X --name demo -o JobID,User,UID,Group,GID", &rows);
    assert_eq!(text, "5|root|0|root|0\n6|root|0|root|0\n");
    let (text, _) = sacct("-P -n -X -r other -o JobID", &rows);
    assert_eq!(text, "");
    let (text, _) = sacct("-P -n -X -u 1000 -o JobID", &rows);
    assert_eq!(text, "");
    let (text, _) = sacct("-P -n -X -u root -A root -N vm -o JobID", &rows);
    assert_eq!(text, "1\n2\n3\n4\n5\n6\n7\n8\n");
}

#[test]
fn times_and_sizes() {
    let mut record = started(job(40, "big", 4, at(0, 1, 0)), at(0, 2, 0));
    record.alloc_memory_mb = 2048;
    record.req_memory_per_node_mb = Some(2048);
    record.alloc_gpus = 1;
    record.time_limit_minutes = Some(90);
    let rows = vec![with_batch(record)];
    let (text, _) = sacct(
        "-P -n -j 40 -o Elapsed,ElapsedRaw,CPUTime,CPUTimeRAW,ReqMem,AllocTRES,ReqTRES,Timelimit,TimelimitRaw,Start,End,NNodes,NTasks,QOS,Cluster",
        &rows,
    );
    assert_eq!(
        text,
        "00:58:00|3480|03:52:00|13920|2G|billing=4,cpu=4,gres/gpu=1,mem=2G,node=1|billing=4,cpu=4,mem=2G,node=1|01:30:00|90|2026-11-22T00:02:00|Unknown|1||normal|lab\n\
         00:58:00|3480|03:52:00|13920||cpu=4,node=1||||2026-11-22T00:02:00|Unknown|1|1||lab\n"
    );
    let (text, _) = sacct("-P -n -X --noconvert -j 40 -o ReqMem", &rows);
    assert_eq!(text, "2048M\n");
    let (text, _) = sacct("-n -X -j 10 -o Start,End,NodeList%-14", &first_queue(true));
    assert_eq!(
        text,
        "               None 2026-11-22T00:03:50 None assigned  \n"
    );
}
