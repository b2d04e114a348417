use proptest::prelude::*;

use super::parse_time::local_to_seconds;
use super::*;

/// 2026-11-22T00:05:00 UTC.
fn now_seconds() -> i64 {
    local_to_seconds((2026, 11, 22), (0, 5, 0), 0)
}

fn context(uid: u32) -> SacctContext {
    SacctContext {
        now_ms: u64::try_from(now_seconds()).unwrap() * 1000,
        utc_offset_seconds: 0,
        caller_uid: uid,
    }
}

fn argv(words: &[&str]) -> Vec<String> {
    std::iter::once("sacct")
        .chain(words.iter().copied())
        .map(String::from)
        .collect()
}

fn parse_as(words: &[&str], uid: u32) -> Result<Invocation, SlurmError> {
    parse_command_line(&argv(words), &[], &context(uid))
}

fn config(words: &[&str]) -> SacctConfig {
    match parse_as(words, 0).unwrap() {
        Invocation::Show(config) => *config,
        other => panic!("{words:?}: {other:?}"),
    }
}

fn error(words: &[&str]) -> (Vec<String>, i32) {
    let e = parse_as(words, 0).unwrap_err();
    (e.lines, e.exit_code)
}

fn column_names(config: &SacctConfig) -> Vec<&'static str> {
    config.columns.iter().map(|c| c.name).collect()
}

#[test]
fn defaults_brief_long_and_format() {
    assert_eq!(
        column_names(&config(&[])),
        vec![
            "JobID",
            "JobName",
            "Partition",
            "Account",
            "AllocCPUS",
            "State",
            "ExitCode"
        ]
    );
    assert_eq!(
        column_names(&config(&["-b"])),
        vec!["JobID", "State", "ExitCode"]
    );
    assert_eq!(
        column_names(&config(&["-o", "jobid", "--format=state", "-b"])),
        vec!["JobID", "State", "JobID", "State", "ExitCode"]
    );
    let long = config(&["-l"]);
    assert_eq!(long.columns.len(), 54);
    assert_eq!(long.columns[1].name, "JobIDRaw");
    let from_environment = parse_command_line(
        &argv(&[]),
        &[("SACCT_FORMAT".to_string(), "jobid,user".to_string())],
        &context(0),
    )
    .unwrap();
    let Invocation::Show(from_environment) = from_environment else {
        panic!()
    };
    assert_eq!(column_names(&from_environment), vec!["JobID", "User"]);
}

#[test]
fn jobs_list_ids_tasks_and_steps() {
    let jobs = config(&["-j", "6,14_5,8.batch,9.0,6", "-j", "7.extern"])
        .jobs
        .unwrap();
    assert_eq!(
        jobs,
        vec![
            JobSelection {
                job_id: 6,
                array_task_id: None,
                step: StepSelection::Whole
            },
            JobSelection {
                job_id: 14,
                array_task_id: Some(5),
                step: StepSelection::Whole
            },
            JobSelection {
                job_id: 8,
                array_task_id: None,
                step: StepSelection::Step(StepId::Batch)
            },
            JobSelection {
                job_id: 9,
                array_task_id: None,
                step: StepSelection::Step(StepId::Numbered(0))
            },
            JobSelection {
                job_id: 7,
                array_task_id: None,
                step: StepSelection::Absent
            },
        ]
    );
    assert_eq!(
        error(&["-j", "abc"]),
        (
            vec!["sacct: fatal: Bad job/step specified: abc".to_string()],
            1
        )
    );
    assert_eq!(
        error(&["-j", "5.x"]),
        (vec!["sacct: fatal: Bad step specified: 5".to_string()], 1)
    );
    assert_eq!(
        error(&["-j", "5_x"]),
        (
            vec!["sacct: fatal: Bad job array element specified: 5".to_string()],
            1
        )
    );
}

#[test]
fn users_follow_slurms_defaults() {
    // Root sees every user; anyone else only themself, unless -a, -j, -N.
    assert_eq!(config(&[]).users, None);
    let Invocation::Show(mine) = parse_as(&[], 1000).unwrap() else {
        panic!()
    };
    assert_eq!(mine.users, Some(vec![UserSelection::Uid(1000)]));
    for words in [&["-a"][..], &["-j", "5"], &["-N", "vm"], &["-u", "-1"]] {
        let Invocation::Show(all) = parse_as(words, 1000).unwrap() else {
            panic!()
        };
        assert_eq!(all.users, None, "{words:?}");
    }
    assert_eq!(
        config(&["-u", "alice,1001", "-a", "--uid=bob"]).users,
        Some(vec![
            UserSelection::Name("alice".into()),
            UserSelection::Uid(1001),
            UserSelection::Name("bob".into())
        ])
    );
    assert_eq!(error(&["-u", "alice", "-u", "alice"]), (vec![], 1));
}

#[test]
fn states_take_long_and_short_names() {
    assert_eq!(
        config(&["-s", "r,CD,Cancelled,oom"]).states,
        Some(vec![
            StateSelection::Job(JobState::Running),
            StateSelection::Job(JobState::Completed),
            StateSelection::Job(JobState::Cancelled),
            StateSelection::Never
        ])
    );
    assert_eq!(
        error(&["-s", "bogus"]),
        (
            vec!["sacct: fatal: unrecognized job state value 'bogus'".to_string()],
            1
        )
    );
    assert_eq!(
        error(&["-s", "bogus,r"]),
        (
            vec!["sacct: fatal: unrecognized job state value bogus".to_string()],
            1
        )
    );
}

#[test]
fn default_windows_follow_the_man_page() {
    let now = now_seconds();
    let midnight = local_to_seconds((2026, 11, 22), (0, 0, 0), 0);
    let window = |words: &[&str]| {
        let w = config(words).window;
        (w.start_seconds, w.end_seconds)
    };
    assert_eq!(window(&[]), (midnight, now + 1));
    assert_eq!(window(&["-j", "5"]), (0, now + 1));
    assert_eq!(window(&["-s", "CA"]), (now, now + 1));
    assert_eq!(window(&["-s", "CA", "-j", "5"]), (0, now + 1));
    let start = local_to_seconds((2026, 11, 1), (0, 0, 0), 0);
    assert_eq!(
        window(&["-s", "CA", "-S", "2026-11-01"]),
        (start, start + 1)
    );
    assert_eq!(window(&["-S", "2026-11-01"]), (start, now + 1));
    let end = local_to_seconds((2026, 11, 22), (0, 3, 0), 0);
    assert_eq!(window(&["-E", "2026-11-22T00:03"]), (midnight, end));
}

#[test]
fn bad_times_and_windows_are_slurms_errors() {
    assert_eq!(
        error(&["-S", "bogus"]),
        (
            vec!["Invalid time specification (pos=0): bogus".to_string()],
            1
        )
    );
    assert_eq!(
        error(&["-S", "2026-11-22T00:04", "-E", "2026-11-21"]),
        (
            vec!["sacct: error: Start time (2026-11-22T00:04:00) requested is after end time (2026-11-21T00:00:00).".to_string()],
            1
        )
    );
}

#[test]
fn checks_after_getopt_come_in_slurms_order() {
    assert_eq!(
        error(&["-l", "-o", "jobid"]).0,
        vec!["sacct: fatal: Options -o(--format) and -l(--long) are mutually exclusive. Please remove one and retry."]
    );
    assert_eq!(
        error(&["-h", "-o", "nosuch"]).0,
        vec!["sacct: error: Invalid field requested: \"nosuch\""]
    );
    assert_eq!(
        error(&["extra", "words"]).0,
        vec![
            "sacct: error: Unknown arguments:",
            "sacct: error:  extra",
            "sacct: error:  words"
        ]
    );
}

#[test]
fn help_usage_version_and_field_list() {
    let print = |words: &[&str]| match parse_as(words, 0).unwrap() {
        Invocation::Print(text) => text,
        other => panic!("{other:?}"),
    };
    assert!(print(&["--help"]).starts_with("sacct [<OPTION>]"));
    assert_eq!(
        print(&["--usage"]),
        "Usage: sacct [options]\n\tUse --help for help\n"
    );
    assert_eq!(print(&["-U"]), print(&["--usage"]));
    assert_eq!(print(&["-V", "--bogus"]), "slurm 22.05.8\n");
    assert!(print(&["-e"]).starts_with("Account             AdminComment"));
    assert_eq!(print(&["--help-fields"]), print(&["--helpformat"]));
}

#[test]
fn unsupported_and_unknown_options() {
    assert_eq!(
        error(&["-M", "lab"]),
        (
            vec!["sacct: error: --clusters is not supported by Corral yet".to_string()],
            1
        )
    );
    assert_eq!(
        error(&["--group=x"]).0,
        vec!["sacct: error: --gid is not supported by Corral yet"]
    );
    assert_eq!(
        error(&["--json"]).0,
        vec!["sacct: error: --json is not supported by Corral yet"]
    );
    assert_eq!(
        error(&["--bogus"]),
        (vec!["sacct: unrecognized option '--bogus'".to_string()], 1)
    );
    assert_eq!(error(&["-z"]).0, vec!["sacct: invalid option -- 'z'"]);
    assert_eq!(
        error(&["--he"]).0,
        vec!["sacct: option '--he' is ambiguous; possibilities: '--helpformat' '--help'"]
    );
}

#[test]
fn output_options() {
    let c = config(&["-P", "--delimiter=;", "-n", "-X", "-T", "-D", "--noconvert"]);
    assert_eq!(c.style.parsable, Parsable::NoEnding);
    assert_eq!(c.style.delimiter.as_deref(), Some(";"));
    assert!(!c.style.header);
    assert!(c.allocations_only && c.truncate && c.duplicates && !c.convert_units);
    assert_eq!(config(&["-p"]).style.parsable, Parsable::Ending);
    assert!(config(&["-t"]).allocations_only);
    let c = config(&[
        "-A", "a,b", "-r", "debug", "--name", "wrap", "-q", "normal", "-N", "n[1-2]",
    ]);
    assert_eq!(c.accounts, Some(vec!["a".into(), "b".into()]));
    assert_eq!(c.partitions, Some(vec!["debug".into()]));
    assert_eq!(c.names, Some(vec!["wrap".into()]));
    assert_eq!(c.qos, Some(vec!["normal".into()]));
    assert_eq!(c.nodes, Some(vec!["n1".into(), "n2".into()]));
}

#[test]
fn task_ranges_print_as_slurms_bitmaps() {
    assert_eq!(
        render::task_ranges_for_tests(&[3, 1, 2, 5, 7, 6]),
        "1-3,5-7"
    );
    assert_eq!(render::task_ranges_for_tests(&[4]), "4");
}

proptest! {
    #[test]
    fn random_command_lines_never_panic(
        words in prop::collection::vec(
            "(-[a-zA-Z]{1,3}|--[a-z-]{1,12}(=[ -~]{0,8})?|[0-9a-zA-Z_.,:%+/-]{0,10})",
            0..8
        ),
        uid in 0u32..2
    ) {
        let words: Vec<&str> = words.iter().map(String::as_str).collect();
        let _ = parse_as(&words, uid);
    }
}
