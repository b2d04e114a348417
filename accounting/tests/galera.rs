//! The accounting database on a three-node MariaDB Galera cluster, with
//! nodes killed, all stopped, and two writers in conflict. The tests of
//! this binary share one cluster and take turns.
//!
//! Each test holds the cluster's (std) mutex guard for its whole run,
//! across awaits, on purpose: that is how the tests take turns. Each test
//! has its own runtime on its own thread, so a waiting test blocks only
//! itself.
#![allow(clippy::await_holding_lock)]

mod support;

use std::time::Duration;

use corral_accounting::{AccountingDb, AccountingLimits, JobFilter};
use corral_state::{AccountingRecord, OutboxEntry};
use support::mariadb::shared_galera;
use support::records::{expected, job, jobs_with_steps, numbered};
use support::scenarios;

/// A bound no correct call comes near; it only turns a hang into a failure.
const CALL_BOUND: Duration = Duration::from_secs(120);

async fn write_until_ok(db: &AccountingDb, cluster: &str, entries: &[OutboxEntry]) -> u32 {
    // What the pump does: keep the records and try again later.
    let mut failures = 0;
    loop {
        match tokio::time::timeout(CALL_BOUND, db.write_batch(cluster, entries))
            .await
            .expect("write_batch returns within its bounds")
        {
            Ok(upto) => {
                assert_eq!(Some(upto), entries.iter().map(|e| e.seq).max());
                return failures;
            }
            Err(error) => {
                assert!(error.is_retryable(), "{error}");
                failures += 1;
                assert!(failures < 20, "still failing: {error}");
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replay_and_order_hold_on_galera() {
    let galera = shared_galera();
    let db = AccountingDb::new(&galera.urls()).unwrap();
    scenarios::replaying_a_batch_writes_nothing_twice(&db, "galera-replay").await;
    scenarios::an_older_record_never_overwrites_a_newer_one(&db, "galera-older").await;
    scenarios::rows_read_back_equal_what_was_written(&db, "galera-roundtrip").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reader_on_another_node_sees_what_was_written() {
    let galera = shared_galera();
    let urls = galera.urls();
    let writer = AccountingDb::new(&urls[..1]).unwrap();
    let reader = AccountingDb::new(&urls[2..]).unwrap();
    for round in 0..20u64 {
        let entries = numbered(1 + round * 10, jobs_with_steps(1..4, round as u32, 2));
        writer.write_batch("galera-causal", &entries).await.unwrap();
        // wsrep_sync_wait: the read waits for the write to be applied there.
        let found = reader
            .query("galera-causal", &JobFilter::default())
            .await
            .unwrap();
        assert_eq!(found, expected(&entries), "round {round}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_the_node_being_written_moves_the_writer_on_and_loses_nothing() {
    let mut galera = shared_galera();
    let db = AccountingDb::new(&galera.urls()).unwrap();
    let cluster = "galera-kill";
    let batches = 40u32;
    let per_batch = 25u32;
    let mut all = Vec::new();
    let mut killed = None;
    for batch in 0..batches {
        // Each batch adds new jobs and rewrites the jobs of the batch before.
        let first_id = 1 + batch * per_batch;
        let mut records = jobs_with_steps(first_id..first_id + per_batch, batch, 1);
        if batch > 0 {
            records.extend(
                (first_id - per_batch..first_id).map(|id| AccountingRecord::Job(job(id, batch))),
            );
        }
        let entries = numbered(all.len() as u64 + 1, records);
        let started = std::time::Instant::now();
        let failures = write_until_ok(&db, cluster, &entries).await;
        if failures > 0 || started.elapsed() > Duration::from_secs(1) {
            eprintln!(
                "batch {batch}: {failures} failed calls, {:?}, {:?}",
                started.elapsed(),
                db.counters()
            );
        }
        all.extend(entries);
        if batch == batches / 4 {
            let index = galera
                .index_of(db.current_url())
                .expect("a node of the cluster");
            galera.kill(index);
            killed = Some(index);
        }
    }
    let killed = killed.unwrap();
    let counters = db.counters();
    assert!(
        counters.node_failures >= 1 && counters.node_switches >= 1,
        "{counters:?}"
    );
    assert_ne!(galera.index_of(db.current_url()), Some(killed));

    let want = expected(&all);
    let found = tokio::time::timeout(CALL_BOUND, db.query(cluster, &JobFilter::default()))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.len(), (batches * per_batch) as usize);
    assert_eq!(found, want);

    // The killed node rejoins and holds the same rows.
    galera.restart(killed);
    let on_killed = AccountingDb::new(&galera.urls()[killed..=killed]).unwrap();
    assert_eq!(
        on_killed
            .query(cluster, &JobFilter::default())
            .await
            .unwrap(),
        want
    );
    let rows = galera
        .node(killed)
        .sql("SELECT COUNT(*), COUNT(DISTINCT job_id) FROM corral_acct.job WHERE cluster = 'galera-kill'")
        .unwrap();
    assert_eq!(rows, format!("{0}\t{0}", batches * per_batch));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_every_node_down_writes_fail_in_bounded_time_and_resume_after() {
    let mut galera = shared_galera();
    let db = AccountingDb::new(&galera.urls()).unwrap();
    let cluster = "galera-down";
    let before = numbered(1, jobs_with_steps(1..11, 0, 1));
    db.write_batch(cluster, &before).await.unwrap();

    galera.stop_all();
    let during = numbered(21, jobs_with_steps(1..11, 1, 1));
    let limits = AccountingLimits::default();
    let result = tokio::time::timeout(CALL_BOUND, db.write_batch(cluster, &during))
        .await
        .expect("write_batch returns within its bounds");
    let error = result.unwrap_err();
    assert!(error.is_retryable(), "{error}");
    match &error {
        corral_accounting::Error::Unavailable {
            attempts,
            elapsed_ms,
            ..
        } => {
            assert!(*attempts <= limits.attempts_max, "{error}");
            assert!(*elapsed_ms <= limits.call_timeout_ms, "{error}");
        }
        other => panic!("{other}"),
    }
    assert!(db.query(cluster, &JobFilter::default()).await.is_err());

    galera.start_all();
    write_until_ok(&db, cluster, &during).await;
    let all: Vec<_> = before.iter().chain(&during).cloned().collect();
    assert_eq!(
        db.query(cluster, &JobFilter::default()).await.unwrap(),
        expected(&all)
    );
    assert!(db.counters().batches_failed >= 1);
}

/// Batches rewriting `jobs`, one per round; writer 0 uses odd seqs,
/// writer 1 even ones, both rising.
async fn write_rounds(
    db: &AccountingDb,
    cluster: &str,
    jobs: std::ops::Range<u32>,
    first_round: u64,
    rounds: u64,
    parity: u64,
) {
    for round in first_round..first_round + rounds {
        let seq = 2 * round + parity + 1;
        let entries: Vec<OutboxEntry> = jobs
            .clone()
            .map(|id| OutboxEntry {
                seq,
                record: AccountingRecord::Job(job(id, seq as u32)),
            })
            .collect();
        write_until_ok(db, cluster, &entries).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_writers_on_two_nodes_conflict_and_the_retries_absorb_it() {
    let galera = shared_galera();
    let urls = galera.urls();
    // Two writers, as an old and a new leader would be for a moment, each
    // on its own node, updating the same rows.
    let first = AccountingDb::new(&urls[0..1]).unwrap();
    let second = AccountingDb::new(&urls[1..2]).unwrap();
    let cluster = "galera-conflict";
    let jobs = 1..31u32;
    // Rounds of concurrent batches until at least one conflict was retried
    // (9 in 120 batches here), at most `ROUNDS_MAX`.
    const ROUNDS_MAX: u64 = 600;
    let rounds_per_turn = 30u64;
    let mut rounds = 0;
    while rounds < ROUNDS_MAX {
        tokio::join!(
            write_rounds(&first, cluster, jobs.clone(), rounds, rounds_per_turn, 0),
            write_rounds(&second, cluster, jobs.clone(), rounds, rounds_per_turn, 1)
        );
        rounds += rounds_per_turn;
        if first.counters().conflict_retries + second.counters().conflict_retries > 0 {
            break;
        }
    }

    let last_seq = 2 * rounds;
    let want: Vec<_> = jobs.map(|id| (job(id, last_seq as u32), vec![])).collect();
    assert_eq!(
        first.query(cluster, &JobFilter::default()).await.unwrap(),
        want
    );
    assert_eq!(
        second.query(cluster, &JobFilter::default()).await.unwrap(),
        want
    );
    let (a, b) = (first.counters(), second.counters());
    eprintln!("writer counters: {a:?} {b:?}");
    assert!(
        a.conflict_retries + b.conflict_retries >= 1,
        "no certification conflict in {rounds} rounds each: {a:?} {b:?}"
    );
    assert_eq!((a.batches_failed, b.batches_failed), (0, 0), "{a:?} {b:?}");
}
