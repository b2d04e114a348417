//! The accounting database on one MariaDB server (no Galera).

mod support;

use std::time::Duration;

use corral_accounting::{AccountingDb, AccountingLimits, Error};
use support::mariadb::{free_port, shared_server, PASSWORD};
use support::records::{jobs_with_steps, numbered};
use support::scenarios;

fn db() -> AccountingDb {
    AccountingDb::new(&[shared_server().url()]).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replaying_a_batch_writes_nothing_twice() {
    scenarios::replaying_a_batch_writes_nothing_twice(&db(), "replay").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_older_record_never_overwrites_a_newer_one() {
    scenarios::an_older_record_never_overwrites_a_newer_one(&db(), "older").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rows_read_back_equal_what_was_written() {
    scenarios::rows_read_back_equal_what_was_written(&db(), "roundtrip").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn filters_select_the_jobs_sacct_asks_for() {
    scenarios::filters_select_the_jobs_sacct_asks_for(&db(), "filters").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_schema_is_created_once_and_found_again() {
    let first = db();
    first.check().await.unwrap();
    // A second writer (a new leader) finds the schema migrated and writes.
    let second = db();
    let entries = numbered(1, jobs_with_steps(1..3, 0, 0));
    second.write_batch("schema", &entries).await.unwrap();
    let tables = shared_server()
        .node()
        .sql("SELECT COUNT(*) FROM corral_acct._sqlx_migrations WHERE success = 1")
        .unwrap();
    // Each migration applied once (0001 job and step, 0002 policy).
    assert_eq!(tables, "2");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_server_is_an_error_naming_the_url_without_its_password() {
    let url = format!(
        "mysql://corral:{PASSWORD}@127.0.0.1:{}/corral_acct",
        free_port()
    );
    let limits = AccountingLimits {
        attempts_max: 3,
        ..AccountingLimits::default()
    };
    // Building it does not connect: a controller starts while the database is down.
    let db = AccountingDb::with_limits(std::slice::from_ref(&url), limits).unwrap();
    let entries = numbered(1, jobs_with_steps(1..2, 0, 0));
    let result = tokio::time::timeout(Duration::from_secs(60), db.write_batch("c", &entries))
        .await
        .expect("write_batch returns within its bounds");
    let error = result.unwrap_err();
    let text = error.to_string();
    eprintln!("{text}");
    assert!(
        matches!(error, Error::Unavailable { attempts: 3, .. }),
        "{text}"
    );
    assert!(text.contains(&corral_accounting::redact(&url)), "{text}");
    assert!(!text.contains(PASSWORD), "{text}");
    let counters = db.counters();
    assert_eq!((counters.batches_failed, counters.node_failures), (1, 3));
    assert!(db.check().await.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_password_or_database_is_an_error_naming_the_url() {
    let server = shared_server();
    let port = server.node().sql_port;
    for url in [
        format!("mysql://corral:wrong-password@127.0.0.1:{port}/corral_acct"),
        format!("mysql://corral:{PASSWORD}@127.0.0.1:{port}/no_such_database"),
    ] {
        let db = AccountingDb::with_limits(
            std::slice::from_ref(&url),
            AccountingLimits {
                attempts_max: 2,
                ..Default::default()
            },
        )
        .unwrap();
        let error = db.check().await.unwrap_err();
        let text = error.to_string();
        eprintln!("{text}");
        assert!(text.contains(&corral_accounting::redact(&url)), "{text}");
        assert!(
            !text.contains("wrong-password") && !text.contains(PASSWORD),
            "{text}"
        );
    }
}

#[test]
fn a_malformed_url_is_an_error_at_start_up() {
    let error = AccountingDb::new(&[format!("mysql://corral:{PASSWORD}@127.0.0.1:3306")])
        .err()
        .expect("no database in the URL");
    let text = error.to_string();
    assert!(text.contains("names no database"), "{text}");
    assert!(!text.contains(PASSWORD), "{text}");
}
