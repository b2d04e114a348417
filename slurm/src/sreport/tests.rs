use proptest::prelude::*;

use corral_state::{ExitStatus, JobRecord, JobState};

use super::*;

/// 2026-11-22T10:20:40 UTC.
fn now_ms() -> u64 {
    u64::try_from(local_to_seconds((2026, 11, 22), (10, 20, 40), 0)).unwrap() * 1000
}

fn seconds(day: i64, hour: i64, minute: i64) -> i64 {
    local_to_seconds((2026, 11, day), (hour, minute, 0), 0)
}

fn parse(line: &str) -> Result<SreportConfig, SlurmError> {
    let argv: Vec<String> = std::iter::once("sreport")
        .chain(line.split_whitespace())
        .map(String::from)
        .collect();
    match parse_command_line(&argv, now_ms(), 0)? {
        Invocation::Show(config) => Ok(*config),
        Invocation::Print(text) => panic!("printed {text}"),
    }
}

fn job(user: &str, cpus: u32, start: i64, end: Option<i64>) -> JobRecord {
    let ms = |s: i64| u64::try_from(s).unwrap() * 1000;
    JobRecord {
        job_id: 1,
        array_job_id: None,
        array_task_id: None,
        name: "wrap".into(),
        user: user.into(),
        uid: 0,
        gid: 0,
        account: Some("research".into()),
        partition: "debug".into(),
        qos: None,
        state: if end.is_some() {
            JobState::Completed
        } else {
            JobState::Running
        },
        cancelled_by_uid: None,
        exit_status: ExitStatus::default(),
        derived_exit_status: ExitStatus::default(),
        submit_time_ms: ms(start),
        eligible_time_ms: Some(ms(start)),
        start_time_ms: Some(ms(start)),
        end_time_ms: end.map(ms),
        time_limit_minutes: None,
        nodes: vec!["vm".into()],
        alloc_cpus: cpus,
        alloc_gpus: 0,
        alloc_memory_mb: 0,
        req_nodes: 1,
        req_cpus: cpus,
        req_tasks: 1,
        req_memory_per_node_mb: None,
        req_gpus_per_node: 0,
        work_dir: "/".into(),
        reason: "None".into(),
        requeue_count: 0,
        comment: None,
    }
}

#[test]
fn default_window_is_yesterday() {
    let config = parse("cluster utilization").unwrap();
    assert_eq!(
        (config.start_seconds, config.end_seconds),
        (seconds(21, 0, 0), seconds(22, 0, 0))
    );
    assert_eq!(config.report, Report::ClusterUtilization);
}

#[test]
fn given_times_round_to_the_hour_and_stop_at_now() {
    let config = parse("cluster utilization start=2026-11-20T08:29:30 end=2026-12-01").unwrap();
    // 08:29:30 rounds to 08:30 and then up to 09:00; an end after now is now
    // (10:20:40), which rounds to 10:00.
    assert_eq!(
        (config.start_seconds, config.end_seconds),
        (seconds(20, 9, 0), seconds(22, 10, 0))
    );
    let short = parse("user top start=2026-11-22T10:00 end=2026-11-22T10:10").unwrap();
    assert_eq!(short.end_seconds - short.start_seconds, 3_600);
}

#[test]
fn options_and_conditions() {
    let config =
        parse("-t percent -P -n user top topcount=3 users=alice,bob accounts=research").unwrap();
    assert_eq!(config.time_format, TimeFormat::Percent);
    assert_eq!(config.style.parsable, Parsable::NoEnding);
    assert!(!config.style.header);
    assert_eq!(
        config.report,
        Report::UserTop {
            top_count: 3,
            users: vec!["alice".into(), "bob".into()],
            accounts: vec!["research".into()]
        }
    );
    assert_eq!(
        parse("-t hourper cl ut").unwrap().time_format,
        TimeFormat::HoursPercent
    );
    assert_eq!(
        parse("-t bogus cluster utilization").unwrap_err().lines,
        vec!["unknown time format bogus"]
    );
    assert_eq!(
        parse("user top bogus=1").unwrap_err().lines,
        vec![
            " Unknown condition: bogus=1",
            "Use keyword set to modify value"
        ]
    );
    assert_eq!(
        parse("user x").unwrap_err().lines,
        vec!["Not valid report x", "Valid user reports are, \"Top\""]
    );
    assert_eq!(
        parse("job sizes").unwrap_err().lines,
        vec!["sreport: error: job reports are not supported by Corral yet"]
    );
    assert_eq!(
        parse("cluster utilization start=bogus").unwrap_err().lines,
        vec!["Invalid time specification (pos=0): bogus"]
    );
}

#[test]
fn usage_counts_only_the_overlap() {
    let (start, end) = (seconds(21, 0, 0), seconds(22, 0, 0));
    let jobs = vec![
        job("alice", 4, seconds(20, 23, 0), Some(seconds(21, 1, 0))),
        job("bob", 2, seconds(21, 12, 0), None),
        job("alice", 1, seconds(19, 0, 0), Some(seconds(19, 1, 0))),
    ];
    let usage = cpu_usage(&jobs, start, end, now_ms());
    assert_eq!(
        usage,
        vec![
            UserUsage {
                user: "alice".into(),
                accounts: vec!["research".into()],
                cpu_seconds: 4 * 3_600
            },
            UserUsage {
                user: "bob".into(),
                accounts: vec!["research".into()],
                cpu_seconds: 2 * 12 * 3_600
            },
        ]
    );
}

#[test]
fn cluster_utilization_layout() {
    let config = parse("cluster utilization").unwrap();
    let (text, _, code) = render_cluster_utilization(&config, "lab", 14_400, 64 * 86_400);
    assert_eq!(code, 0);
    assert_eq!(
        text,
        "--------------------------------------------------------------------------------\n\
         Cluster Utilization 2026-11-21T00:00:00 - 2026-11-21T23:59:59\n\
         Usage reported in CPU Minutes\n\
         --------------------------------------------------------------------------------\n\
         \x20 Cluster    Allocated       Down  PLND Down         Idle   Planned     Reported \n\
         --------- ------------ ---------- ---------- ------------ --------- ------------ \n\
         \x20     lab          240          0          0        91920         0        92160 \n"
    );
    let config = parse("-t percent -P cluster utilization format=cluster,allocated,idle").unwrap();
    let (text, _, _) = render_cluster_utilization(&config, "lab", 14_400, 57_600);
    assert!(text.ends_with("Usage reported in Percentage of Total\n--------------------------------------------------------------------------------\nCluster|Allocated|Idle\nlab|25.00%|75.00%\n"));
}

#[test]
fn user_top_layout() {
    let config = parse("-t minper user top").unwrap();
    let usage = vec![
        UserUsage {
            user: "bob".into(),
            accounts: vec!["research".into()],
            cpu_seconds: 600,
        },
        UserUsage {
            user: "alice".into(),
            accounts: vec!["research".into(), "root".into()],
            cpu_seconds: 1_200,
        },
    ];
    let proper = |user: &str| (user == "alice").then(|| "Alice A.".to_string());
    let (text, _, _) = render_user_top(&config, "lab", &usage, usage_total(), &proper);
    assert_eq!(
        text,
        "--------------------------------------------------------------------------------\n\
         Top 10 Users 2026-11-21T00:00:00 - 2026-11-21T23:59:59 (86400 secs)\n\
         Usage reported in CPU Minutes/Percentage of Total\n\
         --------------------------------------------------------------------------------\n\
         \x20 Cluster     Login     Proper Name         Account              Used            Energy \n\
         --------- --------- --------------- --------------- ----------------- ----------------- \n\
         \x20     lab     alice        Alice A.   research,root        20(50.00%)          0(0.00%) \n\
         \x20     lab       bob                        research        10(25.00%)          0(0.00%) \n"
    );
}

fn usage_total() -> u64 {
    2_400
}

proptest! {
    #[test]
    fn random_command_lines_never_panic(
        words in prop::collection::vec("(-[a-zA-Z]{1,2}|[a-zA-Z]{1,8}(=[a-z0-9:-]{0,10})?)", 0..6)
    ) {
        let mut argv = vec!["sreport".to_string()];
        argv.extend(words);
        let _ = parse_command_line(&argv, now_ms(), 3_600);
    }
}
