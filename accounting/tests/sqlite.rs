//! The accounting database on SQLite: the same checks as on MariaDB.

mod support;

use corral_accounting::{AccountingDb, Error};
use support::scenarios;

fn db_in(dir: &tempfile::TempDir) -> AccountingDb {
    let url = format!("sqlite://{}", dir.path().join("accounting.db").display());
    AccountingDb::new(&[url]).unwrap()
}

#[tokio::test]
async fn replaying_a_batch_writes_nothing_twice() {
    let dir = tempfile::tempdir().unwrap();
    scenarios::replaying_a_batch_writes_nothing_twice(&db_in(&dir), "sqlite").await;
}

#[tokio::test]
async fn an_older_record_never_overwrites_a_newer_one() {
    let dir = tempfile::tempdir().unwrap();
    scenarios::an_older_record_never_overwrites_a_newer_one(&db_in(&dir), "sqlite").await;
}

#[tokio::test]
async fn rows_read_back_equal_what_was_written() {
    let dir = tempfile::tempdir().unwrap();
    scenarios::rows_read_back_equal_what_was_written(&db_in(&dir), "sqlite").await;
}

#[tokio::test]
async fn filters_select_the_jobs_sacct_asks_for() {
    let dir = tempfile::tempdir().unwrap();
    scenarios::filters_select_the_jobs_sacct_asks_for(&db_in(&dir), "sqlite").await;
}

#[tokio::test]
async fn records_survive_reopening_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let entries = support::records::numbered(1, support::records::jobs_with_steps(1..4, 0, 1));
    db_in(&dir).write_batch("c", &entries).await.unwrap();
    let reopened = db_in(&dir);
    let found = reopened.query("c", &Default::default()).await.unwrap();
    assert_eq!(found, support::records::expected(&entries));
}

#[tokio::test]
async fn a_file_that_cannot_be_created_is_an_error_naming_the_url() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!(
        "sqlite://{}/no/such/dir/accounting.db",
        dir.path().display()
    );
    let db = AccountingDb::new(std::slice::from_ref(&url)).unwrap();
    let entries = support::records::numbered(1, support::records::jobs_with_steps(1..2, 0, 0));
    let error = db.write_batch("c", &entries).await.unwrap_err();
    assert!(error.is_retryable(), "{error}");
    assert!(error.to_string().contains(&url), "{error}");
    assert_eq!(db.counters().batches_failed, 1);
}

#[test]
fn building_the_writer_needs_no_runtime_and_checks_the_urls() {
    let dir = tempfile::tempdir().unwrap();
    let _ = db_in(&dir);
    let error = AccountingDb::new(&["sqlite://".to_string()]).err().unwrap();
    assert!(matches!(error, Error::InvalidUrl { .. }), "{error}");
}
