//! Checks that every backend must pass, each on its own cluster name so
//! that they can share one database.

use corral_accounting::{AccountingDb, JobFilter};
use corral_state::{AccountingRecord, JobRecord, StepId, StepRecord};

use super::records::{expected, job, jobs_with_steps, numbered, step};

async fn everything(db: &AccountingDb, cluster: &str) -> Vec<(JobRecord, Vec<StepRecord>)> {
    db.query(cluster, &JobFilter::default())
        .await
        .unwrap_or_else(|e| panic!("query {cluster}: {e}"))
}

/// Writing a batch again (a replay after a failover) changes nothing, and
/// so does writing it again after newer records.
pub async fn replaying_a_batch_writes_nothing_twice(db: &AccountingDb, cluster: &str) {
    let first = numbered(1, jobs_with_steps(1..21, 0, 2));
    assert_eq!(db.write_batch(cluster, &first).await.unwrap(), 80);
    let after_first = everything(db, cluster).await;
    assert_eq!(after_first, expected(&first));

    assert_eq!(db.write_batch(cluster, &first).await.unwrap(), 80);
    assert_eq!(
        everything(db, cluster).await,
        after_first,
        "replay changed the rows"
    );

    let newer = numbered(81, jobs_with_steps(1..11, 1, 3));
    assert_eq!(db.write_batch(cluster, &newer).await.unwrap(), 81 + 50 - 1);
    let all: Vec<_> = first.iter().chain(&newer).cloned().collect();
    let after_newer = everything(db, cluster).await;
    assert_eq!(after_newer, expected(&all));
    assert_eq!(after_newer.len(), 20, "one row per job");

    // Replaying the first batch after the newer one (a new leader resuming
    // from an older watermark): still nothing changes.
    db.write_batch(cluster, &first).await.unwrap();
    assert_eq!(
        everything(db, cluster).await,
        after_newer,
        "replay of the older batch"
    );
    db.write_batch(cluster, &newer).await.unwrap();
    assert_eq!(everything(db, cluster).await, after_newer);
}

/// An older record, written after a newer one of the same row (in a later
/// batch or in the same batch), leaves the newer row.
pub async fn an_older_record_never_overwrites_a_newer_one(db: &AccountingDb, cluster: &str) {
    let newer_job = AccountingRecord::Job(job(7, 3));
    let older_job = AccountingRecord::Job(job(7, 2));
    let newer_step = AccountingRecord::Step(step(7, StepId::Numbered(0), 5));
    let older_step = AccountingRecord::Step(step(7, StepId::Numbered(0), 4));
    let newer = vec![
        corral_state::OutboxEntry {
            seq: 10,
            record: newer_job.clone(),
        },
        corral_state::OutboxEntry {
            seq: 11,
            record: newer_step.clone(),
        },
    ];
    let older = vec![
        corral_state::OutboxEntry {
            seq: 4,
            record: older_job.clone(),
        },
        corral_state::OutboxEntry {
            seq: 5,
            record: older_step.clone(),
        },
    ];
    db.write_batch(cluster, &newer).await.unwrap();
    assert_eq!(db.write_batch(cluster, &older).await.unwrap(), 5);
    let want = vec![(job(7, 3), vec![step(7, StepId::Numbered(0), 5)])];
    assert_eq!(
        everything(db, cluster).await,
        want,
        "older batch after newer"
    );

    // Both in one batch, the newer first: the newer stays.
    let mixed = vec![
        corral_state::OutboxEntry {
            seq: 21,
            record: AccountingRecord::Job(job(8, 1)),
        },
        corral_state::OutboxEntry {
            seq: 20,
            record: AccountingRecord::Job(job(8, 0)),
        },
        corral_state::OutboxEntry {
            seq: 23,
            record: AccountingRecord::Step(step(8, StepId::Batch, 1)),
        },
        corral_state::OutboxEntry {
            seq: 22,
            record: AccountingRecord::Step(step(8, StepId::Batch, 0)),
        },
    ];
    assert_eq!(db.write_batch(cluster, &mixed).await.unwrap(), 23);
    let found = everything(db, cluster).await;
    assert_eq!(
        found[1],
        (job(8, 1), vec![step(8, StepId::Batch, 1)]),
        "same batch"
    );

    // An equal seq does not rewrite the row either.
    let same_seq = vec![corral_state::OutboxEntry {
        seq: 10,
        record: older_job,
    }];
    db.write_batch(cluster, &same_seq).await.unwrap();
    assert_eq!(everything(db, cluster).await[0].0, job(7, 3), "equal seq");
}

/// Every field of every record, and every step, reads back as written.
pub async fn rows_read_back_equal_what_was_written(db: &AccountingDb, cluster: &str) {
    // 8 variants cover all eight states, and with the odd/even split, every
    // optional field both set and unset.
    let mut records = Vec::new();
    for id in 1..=16u32 {
        records.push(AccountingRecord::Job(job(id, id % 8)));
        records.push(AccountingRecord::Step(step(id, StepId::Batch, id)));
        if id % 2 == 0 {
            records.push(AccountingRecord::Step(step(id, StepId::Numbered(0), id)));
            records.push(AccountingRecord::Step(step(
                id,
                StepId::Numbered(u32::MAX),
                id,
            )));
        }
    }
    // The biggest values each column takes.
    let mut big = job(999_999, 1);
    big.job_id = u32::MAX;
    big.uid = u32::MAX;
    big.gid = u32::MAX;
    big.alloc_memory_mb = i64::MAX as u64;
    big.exit_status = corral_state::ExitStatus {
        code: 255,
        signal: 255,
    };
    big.name = "x".repeat(100_000);
    big.nodes = (1..=2_000).map(|n| format!("n{n:05}")).collect();
    records.push(AccountingRecord::Job(big));
    let entries = numbered(1, records);
    db.write_batch(cluster, &entries).await.unwrap();
    let found = everything(db, cluster).await;
    let want = expected(&entries);
    assert_eq!(found.len(), want.len());
    for (found, want) in found.iter().zip(&want) {
        assert_eq!(found, want, "job {}", want.0.job_id);
    }
}

/// `sacct`'s selections.
pub async fn filters_select_the_jobs_sacct_asks_for(db: &AccountingDb, cluster: &str) {
    let mut array_task = job(102, 0);
    array_task.array_job_id = Some(100);
    array_task.array_task_id = Some(2);
    let mut records = vec![AccountingRecord::Job(array_task)];
    for id in [100, 200, 300, 400] {
        records.push(AccountingRecord::Job(job(id, 0)));
    }
    records.push(AccountingRecord::Step(step(200, StepId::Batch, 0)));
    let entries = numbered(1, records);
    db.write_batch(cluster, &entries).await.unwrap();
    // A job of another cluster is never returned.
    db.write_batch(
        &format!("{cluster}-other"),
        &numbered(1, vec![AccountingRecord::Job(job(100, 1))]),
    )
    .await
    .unwrap();

    let ids = |found: Vec<(JobRecord, Vec<StepRecord>)>| -> Vec<u32> {
        found.iter().map(|(job, _)| job.job_id).collect()
    };
    let by = |filter: JobFilter| async move { ids(db.query(cluster, &filter).await.unwrap()) };

    assert_eq!(by(JobFilter::default()).await, [100, 102, 200, 300, 400]);
    let array = JobFilter {
        job_ids: vec![100, 300],
        ..Default::default()
    };
    assert_eq!(
        by(array).await,
        [100, 102, 300],
        "-j of an array job selects its tasks"
    );
    let user = job(200, 0).user;
    let users = JobFilter {
        users: vec![user.clone()],
        ..Default::default()
    };
    let want: Vec<u32> = [100, 102, 200, 300, 400]
        .into_iter()
        .filter(|id| job(*id, 0).user == user)
        .collect();
    assert_eq!(by(users).await, want);
    let state = job(300, 0).state;
    let states = JobFilter {
        states: vec![state],
        ..Default::default()
    };
    let want: Vec<u32> = [100, 102, 200, 300, 400]
        .into_iter()
        .filter(|id| job(*id, 0).state == state)
        .collect();
    assert_eq!(by(states).await, want);
    let partitions = JobFilter {
        partitions: vec!["no-such".into()],
        ..Default::default()
    };
    assert_eq!(by(partitions).await, Vec::<u32>::new());
    // Jobs 200..400 were submitted at EPOCH + id minutes: a window around
    // job 300's submission that closes before job 400 was submitted.
    let window = JobFilter {
        window_start_ms: Some(job(300, 0).submit_time_ms),
        window_end_ms: Some(job(300, 0).submit_time_ms + 1_000),
        ..Default::default()
    };
    let want: Vec<u32> = [100, 102, 200, 300, 400]
        .into_iter()
        .filter(|id| {
            let j = job(*id, 0);
            j.submit_time_ms <= job(300, 0).submit_time_ms + 1_000
                && j.end_time_ms
                    .is_none_or(|end| end >= job(300, 0).submit_time_ms)
        })
        .collect();
    assert!(want.contains(&300) && !want.contains(&400), "{want:?}");
    assert_eq!(by(window).await, want);
    let limited = JobFilter {
        jobs_max: Some(2),
        ..Default::default()
    };
    assert_eq!(by(limited).await, [100, 102]);
    let steps = db
        .query(
            cluster,
            &JobFilter {
                job_ids: vec![200],
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(
        steps,
        vec![(job(200, 0), vec![step(200, StepId::Batch, 0)])]
    );
    assert_eq!(
        db.query(&format!("{cluster}-other"), &JobFilter::default())
            .await
            .unwrap(),
        vec![(job(100, 1), vec![])]
    );
}
