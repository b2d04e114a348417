//! The schema, as sqlx migrations embedded at compile time (without sqlx's
//! `macros` feature: the files are included as text and numbered here).

use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::SqlSafeStr;

/// (version, description, MySQL/MariaDB text, SQLite text). Versions only
/// grow; an applied migration is never edited.
const MIGRATIONS: &[(i64, &str, &str, &str)] = &[
    (
        1,
        "job and step",
        include_str!("../migrations/mysql/0001_job_and_step.sql"),
        include_str!("../migrations/sqlite/0001_job_and_step.sql"),
    ),
    (
        2,
        "policy",
        include_str!("../migrations/mysql/0002_policy.sql"),
        include_str!("../migrations/sqlite/0002_policy.sql"),
    ),
];

#[derive(Clone, Copy)]
pub(crate) enum Flavor {
    MySql,
    Sqlite,
}

pub(crate) fn migrator(flavor: Flavor) -> Migrator {
    let migrations = MIGRATIONS
        .iter()
        .map(|(version, description, mysql, sqlite)| {
            let sql = match flavor {
                Flavor::MySql => mysql,
                Flavor::Sqlite => sqlite,
            };
            Migration::new(
                *version,
                (*description).into(),
                MigrationType::Simple,
                sql.into_sql_str(),
                false,
            )
        })
        .collect();
    let mut migrator = Migrator::with_migrations(migrations);
    // Galera does not support GET_LOCK, which sqlx's lock uses; the
    // migrations are `IF NOT EXISTS` and one writer runs them at a time.
    migrator.set_locking(false);
    // A controller of an older version keeps writing to a schema that a
    // newer one extended: migrations only ever add.
    migrator.set_ignore_missing(true);
    migrator
}
