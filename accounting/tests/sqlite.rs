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

#[tokio::test]
async fn the_policy_mirror_replaces_the_clusters_rows() {
    use corral_state::{Policy, PolicyChange};
    use sqlx::Row;
    let dir = tempfile::tempdir().unwrap();
    let db = db_in(&dir);
    let mut state = corral_state::ClusterState::default();
    let change = |state: &mut corral_state::ClusterState, change: PolicyChange| {
        state.apply(&corral_state::Command::ChangePolicy {
            change,
            actor: corral_state::Actor::root(),
            now_ms: 1,
        });
    };
    change(
        &mut state,
        PolicyChange::AddAccount {
            name: "research".into(),
            description: None,
            organization: None,
            parent: None,
        },
    );
    change(
        &mut state,
        PolicyChange::AddUser {
            name: "alice".into(),
            accounts: vec!["research".into()],
            default_account: None,
            admin_level: None,
        },
    );
    let policy: Policy = state.policy().clone();
    db.write_policy("lab", &policy).await.unwrap();
    // Another cluster's rows are its own.
    db.write_policy("other", &Policy::default()).await.unwrap();

    let url = format!("sqlite://{}", dir.path().join("accounting.db").display());
    let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
    let rows = |sql: &'static str| {
        let pool = pool.clone();
        async move {
            sqlx::query(sql)
                .fetch_all(&pool)
                .await
                .unwrap()
                .iter()
                .map(|row| row.get::<String, _>(0))
                .collect::<Vec<String>>()
        }
    };
    assert_eq!(
        rows("SELECT name FROM account WHERE cluster = 'lab' ORDER BY name").await,
        ["research", "root"]
    );
    assert_eq!(
        rows(
            "SELECT account || ':' || user_name FROM association WHERE cluster = 'lab' ORDER BY 1"
        )
        .await,
        ["research:", "research:alice", "root:", "root:root"]
    );
    assert_eq!(
        rows("SELECT CAST(version AS TEXT) FROM policy_version WHERE cluster = 'lab'").await,
        [policy.version.to_string()]
    );

    change(
        &mut state,
        PolicyChange::DeleteUser {
            name: "alice".into(),
            account: None,
        },
    );
    db.write_policy("lab", state.policy()).await.unwrap();
    assert_eq!(
        rows("SELECT name FROM account_user WHERE cluster = 'lab' ORDER BY name").await,
        ["root"]
    );
    assert_eq!(
        rows("SELECT name FROM account_user WHERE cluster = 'other'").await,
        ["root"]
    );
}
