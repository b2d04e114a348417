//! The checkers and the report end to end: a `history.jsonl` as the
//! workload writes it, read back, checked, and reported.

use std::io::Write;

use corral_chaos::checkers;
use corral_chaos::history::{
    ControllerReport, Entry, Fault, FinalJob, FinalState, History, JobRun, LeaderObservation,
    ObservedJob, OkValue, Operation, OperationKind, Outcome,
};
use corral_chaos::report::{self, RunInfo};

fn submit(id: u64, request: &str, invoked_ms: u64, completed_ms: u64, outcome: Outcome) -> Entry {
    Entry::Operation(Operation {
        id,
        client: (id % 4) as u32,
        kind: OperationKind::Submit {
            request_id: request.to_string(),
            attempt: 0,
        },
        invoked_ms,
        completed_ms,
        outcome,
    })
}

fn read(id: u64, invoked_ms: u64, completed_ms: u64, jobs: &[(u32, &str)]) -> Entry {
    let jobs = jobs
        .iter()
        .map(|(job_id, state)| ObservedJob {
            job_id: *job_id,
            state: state.to_string(),
            requeue_count: 0,
        })
        .collect();
    Entry::Operation(Operation {
        id,
        client: 9,
        kind: OperationKind::Read,
        invoked_ms,
        completed_ms,
        outcome: Outcome::Ok(OkValue::Observed(jobs)),
    })
}

fn final_job(job_id: u32, request: &str, state: &str) -> FinalJob {
    FinalJob {
        job_id,
        request_id: request.to_string(),
        state: state.to_string(),
        requeue_count: 0,
        end_committed_ms: Some(9_000 + u64::from(job_id)),
        script_ended_ms: Some(8_000),
    }
}

/// Controller 1 is cut off from 2000 to 6000 ms and keeps claiming term 1;
/// job 2, acknowledged at 2600 ms, is gone afterwards.
fn entries(lose_job_two: bool) -> Vec<Entry> {
    let ok = |job_id| Outcome::Ok(OkValue::Submitted { job_id });
    let mut jobs = vec![
        final_job(1, "r1", "COMPLETED"),
        final_job(3, "r3", "COMPLETED"),
    ];
    if !lose_job_two {
        jobs.push(final_job(2, "r2", "COMPLETED"));
    }
    vec![
        // In any order: the history sorts them.
        Entry::Final(FinalState {
            jobs,
            controllers: (1..=3)
                .map(|id| ControllerReport {
                    id,
                    applied_index: Some(40),
                    alarms: Vec::new(),
                })
                .collect(),
            runs: (1..=3)
                .map(|job_id| JobRun {
                    job_id,
                    node: "node001".to_string(),
                })
                .collect(),
            serves_after_healing: Some(Ok(4)),
            accounting: None,
        }),
        submit(3, "r3", 6_500, 7_200, ok(3)),
        submit(1, "r1", 100, 150, ok(1)),
        submit(2, "r2", 2_500, 2_600, ok(2)),
        submit(
            4,
            "r4",
            2_700,
            6_400,
            Outcome::Unknown("deadline exceeded".to_string()),
        ),
        if lose_job_two {
            read(5, 7_300, 7_310, &[(1, "COMPLETED"), (3, "RUNNING")])
        } else {
            read(
                5,
                7_300,
                7_310,
                &[(1, "COMPLETED"), (2, "COMPLETED"), (3, "RUNNING")],
            )
        },
        Entry::Fault(Fault {
            id: 1,
            kind: "isolate-leader".to_string(),
            targets: vec!["controller-1".to_string()],
            hit_leader: true,
            started_ms: 2_000,
            healed_ms: Some(6_000),
            detail: "cut from controller-2,controller-3".to_string(),
        }),
        Entry::Leader(LeaderObservation {
            at_ms: 0,
            leader: Some(1),
            term: 1,
        }),
        Entry::Leader(LeaderObservation {
            at_ms: 3_000,
            leader: Some(1),
            term: 1,
        }),
        Entry::Leader(LeaderObservation {
            at_ms: 3_000,
            leader: Some(2),
            term: 2,
        }),
    ]
}

fn history_file(entries: &[Entry]) -> (tempfile::TempDir, History) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("history.jsonl");
    let mut file = std::fs::File::create(&path).unwrap();
    for entry in entries {
        writeln!(file, "{}", serde_json::to_string(entry).unwrap()).unwrap();
    }
    drop(file);
    let history = History::read(&path).unwrap();
    (dir, history)
}

fn info() -> RunInfo {
    RunInfo {
        seed: 20_260_102,
        command: "corral-chaos --seed 20260102 --controllers 3 --agents 1 --faults partition"
            .to_string(),
        controllers: 3,
        agents: 1,
        duration_ms: 8_000,
        fault_kinds: vec!["isolate-leader".to_string(), "split".to_string()],
        started_unix_ms: 1_767_323_045_000,
    }
}

#[test]
fn a_clean_run_passes_and_reports_its_failover() {
    let (dir, history) = history_file(&entries(false));
    let violations = checkers::all(&history);
    assert_eq!(violations, Vec::new());
    report::write(dir.path(), &info(), &history, &violations).unwrap();

    let markdown = std::fs::read_to_string(dir.path().join("report.md")).unwrap();
    assert!(markdown.starts_with(
        "# Corral chaos run, seed 20260102\n\nReproduce: `corral-chaos --seed 20260102"
    ));
    assert!(markdown.contains("\nPASS: no violation\n"));

    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("report.json")).unwrap())
            .unwrap();
    assert_eq!(json["seed"], 20_260_102);
    // Fault at 2000 ms; the first submission invoked after it acknowledged at 2600 ms.
    assert_eq!(json["failover_ms"]["median"], 600);
    assert_eq!(json["faults"][0]["heal_ms"], 6_000);
    assert_eq!(json["operations"]["submit"]["ok"], 3);
    assert_eq!(json["unreported_ms"]["steady"]["samples"], 3);

    let svg = std::fs::read_to_string(dir.path().join("timeline.svg")).unwrap();
    assert!(svg.starts_with("<?xml"));
    assert_eq!(svg.matches(r#"class="fault""#).count(), 1);
    assert!(svg.trim_end().ends_with("</svg>"));
}

#[test]
fn a_job_acknowledged_by_the_isolated_leader_and_lost_fails_the_run() {
    let (dir, history) = history_file(&entries(true));
    let violations = checkers::all(&history);
    let checkers: Vec<&str> = violations.iter().map(|v| v.checker.as_str()).collect();
    // Its script ran, too: a run of a job that no longer exists.
    assert_eq!(
        checkers,
        vec![
            "acknowledged-present",
            "ran-at-most-once",
            "isolated-leader"
        ],
        "{violations:#?}"
    );
    assert!(violations[2]
        .message
        .contains("while controller 1 still claimed term 1"));
    assert!(violations[2].evidence.contains(
        &"still claiming after the cut: at 3000 ms controller 1 claimed to lead term 1".to_string()
    ));

    report::write(dir.path(), &info(), &history, &violations).unwrap();
    let markdown = std::fs::read_to_string(dir.path().join("report.md")).unwrap();
    assert!(markdown.contains("\nFAIL: 3 violations\n"));
    assert!(markdown.contains("### isolated-leader (1)"));
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("report.json")).unwrap())
            .unwrap();
    assert_eq!(json["violations"].as_array().unwrap().len(), 3);
    assert_eq!(
        json["violations"][0]["evidence"][0],
        "op 2 (client 2) submit r2 attempt 0, 2500..2600 ms: Ok job 2 -> never seen by a read"
    );
}

/// A long run's worth of history (half a million sightings of jobs by reads) is
/// checked in seconds, not minutes.
#[test]
fn a_large_clean_history_passes_quickly() {
    const JOBS: u32 = 5_000;
    const READS: u64 = 200;
    let mut history = History::default();
    let mut id = 0;
    for job_id in 1..=JOBS {
        id += 1;
        let invoked_ms = u64::from(job_id) * 20;
        history.operations.push(Operation {
            id,
            client: job_id % 8,
            kind: OperationKind::Submit {
                request_id: format!("r{job_id}"),
                attempt: 0,
            },
            invoked_ms,
            completed_ms: invoked_ms + 15,
            outcome: Outcome::Ok(OkValue::Submitted { job_id }),
        });
    }
    for read_number in 0..READS {
        id += 1;
        let invoked_ms = read_number * 500 + 7;
        let jobs = (1..=JOBS)
            .filter(|job_id| u64::from(*job_id) * 20 + 15 < invoked_ms)
            .map(|job_id| ObservedJob {
                job_id,
                state: if u64::from(job_id) * 20 + 1_000 < invoked_ms {
                    "COMPLETED"
                } else {
                    "PENDING"
                }
                .to_string(),
                requeue_count: 0,
            })
            .collect();
        history.operations.push(Operation {
            id,
            client: 99,
            kind: OperationKind::Read,
            invoked_ms,
            completed_ms: invoked_ms + 3,
            outcome: Outcome::Ok(OkValue::Observed(jobs)),
        });
    }
    history.operations.sort_by_key(|op| (op.invoked_ms, op.id));
    history.final_state = FinalState {
        jobs: (1..=JOBS)
            .map(|job_id| final_job(job_id, &format!("r{job_id}"), "COMPLETED"))
            .collect(),
        controllers: Vec::new(),
        runs: (1..=JOBS)
            .map(|job_id| JobRun {
                job_id,
                node: "node001".to_string(),
            })
            .collect(),
        serves_after_healing: Some(Ok(JOBS + 1)),
        accounting: None,
    };
    let started = std::time::Instant::now();
    assert_eq!(checkers::all(&history), Vec::new());
    let elapsed = started.elapsed();
    assert!(elapsed.as_secs() < 10, "checking took {elapsed:?}");
}
