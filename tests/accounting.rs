//! End to end: job history into a real three-node MariaDB Galera cluster,
//! through faults. A dev cluster of three controllers and two agents runs
//! 500 jobs while the Galera node the pump writes to is SIGKILLed and the
//! Corral leader is SIGKILLed; then every database node is stopped while
//! 200 more jobs run (scheduling must not stop), and started again. At the
//! end every job is in the database exactly once, with its state, exit
//! code, times and steps; `sacct` answered from the replicated state and
//! `sacctmgr` worked while the database was away, and the policy it changed
//! reached the database's mirror.

mod support;

#[path = "../accounting/tests/support/mariadb.rs"]
#[allow(dead_code)]
mod mariadb;

use std::collections::BTreeMap;
use std::time::Duration;

use support::{assert_success, stdout, DevCluster};

/// Jobs before the database outage, and during it.
const JOBS_FIRST: u32 = 500;
const JOBS_DURING_OUTAGE: u32 = 200;
/// Every this many jobs runs a step with srun as well.
const STEP_EVERY: u32 = 10;

/// `job_id -> (state, exit code, start, end)` of every job row, from one node.
fn job_rows(node: &mariadb::Node) -> Option<BTreeMap<u32, (String, u32, bool, bool)>> {
    let text = node.sql(&format!(
        "SELECT job_id, state, exit_code, start_time_s IS NOT NULL, end_time_s IS NOT NULL \
         FROM {}.job ORDER BY job_id",
        mariadb::DATABASE
    ))?;
    let mut rows = BTreeMap::new();
    for line in text.lines().filter(|l| !l.is_empty()) {
        let fields: Vec<&str> = line.split('\t').collect();
        let id: u32 = fields[0].parse().ok()?;
        let previous = rows.insert(
            id,
            (
                fields[1].to_string(),
                fields[2].parse().ok()?,
                fields[3] == "1",
                fields[4] == "1",
            ),
        );
        assert!(previous.is_none(), "job {id} has two rows");
    }
    Some(rows)
}

/// `(job_id, step_id)` of every step row.
fn step_rows(node: &mariadb::Node) -> Vec<(u32, i64, String)> {
    let text = node
        .sql(&format!(
            "SELECT job_id, step_id, state FROM {}.step ORDER BY job_id, step_id",
            mariadb::DATABASE
        ))
        .unwrap_or_default();
    text.lines()
        .filter(|l| !l.is_empty())
        .map(|line| {
            let fields: Vec<&str> = line.split('\t').collect();
            (
                fields[0].parse().unwrap(),
                fields[1].parse().unwrap(),
                fields[2].to_string(),
            )
        })
        .collect()
}

/// The Galera node the controllers hold connections to (the pump writes
/// to one node at a time).
fn node_in_use(galera: &mariadb::Galera) -> Option<usize> {
    (0..mariadb::Galera::SIZE).find(|index| {
        galera
            .node(*index)
            .sql(&format!(
                "SELECT COUNT(*) FROM information_schema.processlist WHERE user = '{}'",
                mariadb::USER
            ))
            .and_then(|count| count.parse::<u32>().ok())
            .is_some_and(|count| count > 0)
    })
}

fn submit_jobs(cluster: &DevCluster, work: &std::path::Path, first: u32, count: u32) -> Vec<u32> {
    let srun = cluster.path().join("bin/srun");
    (first..first + count)
        .map(|index| {
            let script = if index % STEP_EVERY == 0 {
                format!("{} -n1 true", srun.display())
            } else {
                "true".to_string()
            };
            cluster.submit_in(work, &["--wrap", &script])
        })
        .collect()
}

fn all_completed(cluster: &DevCluster, jobs: &[u32]) -> bool {
    let states = cluster.job_states();
    jobs.iter()
        .all(|id| states.get(id).map(String::as_str) == Some("COMPLETED"))
}

#[test]
fn every_finished_job_reaches_galera_exactly_once_through_faults() {
    let mut galera = mariadb::Galera::start();
    let urls = galera.urls();
    let mut args = vec!["--agent-cpus", "8"];
    for url in &urls {
        args.extend(["--accounting-url", url.as_str()]);
    }
    let cluster = DevCluster::with_agents(3, 2, &args);
    let work = tempfile::tempdir().unwrap();

    // 500 jobs; the node written to is SIGKILLed after 150, the leader after 300.
    let mut jobs = submit_jobs(&cluster, work.path(), 0, 150);
    let in_use = cluster.wait_for("the pump to write to a Galera node", || {
        node_in_use(&galera)
    });
    galera.kill(in_use);
    jobs.extend(submit_jobs(&cluster, work.path(), 150, 150));
    let leader = cluster.leader();
    cluster.kill(&format!("controller-{}", leader.id));
    jobs.extend(submit_jobs(&cluster, work.path(), 300, JOBS_FIRST - 300));
    cluster.start(&format!("controller-{}", leader.id));
    galera.restart(in_use);
    cluster.wait_for_within(
        "the first 500 jobs to complete",
        Duration::from_secs(180),
        || all_completed(&cluster, &jobs).then_some(()),
    );

    let sacctmgr = |args: &[&str]| {
        let output = cluster
            .slurm("sacctmgr")
            .arg("-i")
            .args(args)
            .output()
            .unwrap();
        assert_success(&output, "sacctmgr");
    };
    sacctmgr(&["add", "account", "physics"]);

    // The whole database away: jobs still run, and sacctmgr still works.
    galera.stop_all();
    sacctmgr(&["add", "user", "bob", "account=physics"]);
    let during = submit_jobs(&cluster, work.path(), JOBS_FIRST, JOBS_DURING_OUTAGE);
    cluster.wait_for_within(
        "the jobs submitted while the database is down to complete",
        Duration::from_secs(180),
        || all_completed(&cluster, &during).then_some(()),
    );
    // sacct answers from the replicated state meanwhile.
    let last = *during.last().unwrap();
    let output = cluster
        .slurm("sacct")
        .args([
            "-X",
            "-P",
            "-n",
            "-j",
            &last.to_string(),
            "-o",
            "JobID,State",
        ])
        .output()
        .unwrap();
    assert_success(&output, "sacct while the database is down");
    assert_eq!(stdout(&output), format!("{last}|COMPLETED\n"));
    jobs.extend(during);
    galera.start_all();

    // Every job exactly once, as it ended, with its steps.
    let expected = jobs.len();
    let rows = cluster.wait_for_within(
        "every job's final row in the database",
        Duration::from_secs(180),
        || {
            let rows = job_rows(galera.node(0))?;
            let done = rows.len() == expected
                && rows
                    .values()
                    .all(|(state, _, _, ended)| state == "COMPLETED" && *ended);
            done.then_some(rows)
        },
    );
    let ids: Vec<u32> = rows.keys().copied().collect();
    let mut submitted = jobs.clone();
    submitted.sort_unstable();
    assert_eq!(
        ids, submitted,
        "the database holds exactly the submitted jobs"
    );
    for (id, (_, exit_code, started, _)) in &rows {
        assert_eq!(*exit_code, 0, "job {id}");
        assert!(*started, "job {id} has no start time");
    }
    let steps = cluster.wait_for("every step row", || {
        let steps = step_rows(galera.node(0));
        let with_srun = jobs.len() / STEP_EVERY as usize;
        (steps.len() == jobs.len() + with_srun).then_some(steps)
    });
    for (index, id) in jobs.iter().enumerate() {
        let batch = steps
            .iter()
            .filter(|(job, step, _)| job == id && *step == corral_accounting_batch_step())
            .count();
        assert_eq!(batch, 1, "job {id} has one batch step");
        let numbered = steps
            .iter()
            .filter(|(job, step, state)| job == id && *step == 0 && state == "COMPLETED")
            .count();
        let expected = usize::from((index as u32).is_multiple_of(STEP_EVERY));
        assert_eq!(numbered, expected, "job {id}: steps {:?}", steps);
    }
    // The policy changed during the outage reached the database's mirror.
    let associations = cluster.wait_for("the policy mirrored", || {
        galera
            .node(0)
            .sql(&format!(
                "SELECT CONCAT(account, ':', user_name) FROM {}.association ORDER BY 1",
                mariadb::DATABASE
            ))
            .filter(|rows| rows.contains("physics:bob"))
    });
    assert!(
        associations.contains(
            "physics:
"
        ),
        "{associations}"
    );
    // Another node sees the same rows (Galera replicated them).
    assert_eq!(job_rows(galera.node(1)).map(|r| r.len()), Some(expected));
    // sacct reads them back from the database now.
    let output = cluster
        .slurm("sacct")
        .args([
            "-X",
            "-P",
            "-n",
            "-j",
            &jobs[0].to_string(),
            "-o",
            "JobID,State,ExitCode",
        ])
        .output()
        .unwrap();
    assert_success(&output, "sacct");
    assert_eq!(stdout(&output), format!("{}|COMPLETED|0:0\n", jobs[0]));
}

/// How the database stores `ID.batch` (see `docs/accounting.md`).
fn corral_accounting_batch_step() -> i64 {
    -5
}

#[test]
fn an_unreachable_database_is_a_log_line_and_a_retry_not_a_crash() {
    let port = mariadb::free_port();
    let url = format!("mysql://corral:secret@127.0.0.1:{port}/corral");
    let cluster = DevCluster::with_agents(3, 1, &["--accounting-url", &url]);
    let work = tempfile::tempdir().unwrap();
    let job = cluster.submit_in(work.path(), &["--wrap", "true"]);
    cluster.wait_job_state(job, "COMPLETED");
    let leader = cluster.leader();
    let warned = cluster.wait_for("the pump's warning in the leader's log", || {
        let log = cluster.log(leader.id);
        log.lines()
            .find(|line| line.contains("accounting records not written, kept in the outbox"))
            .map(str::to_string)
    });
    assert!(warned.contains(&format!("127.0.0.1:{port}")), "{warned}");
    assert!(
        !warned.contains("secret"),
        "the password is never logged: {warned}"
    );
    // The controllers keep serving, and sacct answers from the state.
    let output = cluster
        .slurm("sacct")
        .args([
            "-X",
            "-P",
            "-n",
            "-j",
            &job.to_string(),
            "-o",
            "JobID,State",
        ])
        .output()
        .unwrap();
    assert_success(&output, "sacct");
    assert_eq!(stdout(&output), format!("{job}|COMPLETED\n"));
    assert_eq!(
        cluster
            .status()
            .iter()
            .filter(|r| r.role != "unreachable")
            .count(),
        3
    );
}
