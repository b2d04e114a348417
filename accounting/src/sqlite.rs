//! SQLite, the embedded database of a one-machine cluster: one file, in WAL
//! mode with full sync (a batch the pump acknowledges is on disk), one
//! writer at a time (`BEGIN IMMEDIATE`), readers alongside.

use std::time::Duration;

use corral_state::{JobRecord, StepRecord};
use sqlx::query::Query;
use sqlx::sqlite::{
    SqliteArguments, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow, SqliteSynchronous,
};
use sqlx::{AssertSqlSafe, Row, Sqlite};
use tokio::sync::Mutex;
use tokio::time::timeout;

use crate::columns::{job_from_row, step_from_row, RowSource, Value};
use crate::counters::Counters;
use crate::error::Error;
use crate::limits::AccountingLimits;
use crate::retry::{classify_driver_error, Failure, Retry};
use crate::schema::{migrator, Flavor};
use crate::statements::{select_steps, Statement, IDS_PER_STATEMENT_MAX};
use crate::url::SqliteFile;

/// Connections to the file: one writer and a few readers.
const CONNECTIONS_MAX: u32 = 4;

/// SQLite's primary result codes for "another connection holds the lock".
const SQLITE_BUSY: i64 = 5;
const SQLITE_LOCKED: i64 = 6;

pub(crate) struct SqliteBackend {
    redacted_url: String,
    pool: SqlitePool,
    /// Serialises writers inside this process (SQLite allows one anyway).
    writer: Mutex<()>,
    schema_ready: Mutex<bool>,
    limits: AccountingLimits,
}

fn database_failure(url: &str, error: sqlx::Error) -> Failure {
    match &error {
        sqlx::Error::Database(database) => {
            let primary = database
                .code()
                .and_then(|code| code.parse::<i64>().ok())
                .map(|code| code & 0xff);
            match primary {
                Some(SQLITE_BUSY | SQLITE_LOCKED) => Failure::Conflict(error.to_string()),
                // Cannot open, disk full, I/O error, read-only file...:
                // something outside that may be fixed; try again later.
                _ => Failure::Node(error.to_string()),
            }
        }
        _ => classify_driver_error(url, &error),
    }
}

fn bind<'q>(
    mut query: Query<'q, Sqlite, SqliteArguments>,
    values: &[Value],
) -> Query<'q, Sqlite, SqliteArguments> {
    for value in values {
        query = match value {
            Value::Int(v) => query.bind(*v),
            Value::OptionalInt(v) => query.bind(*v),
            Value::Text(v) => query.bind(v.clone()),
            Value::OptionalText(v) => query.bind(v.clone()),
        };
    }
    query
}

fn prepared(statement: &Statement) -> Query<'static, Sqlite, SqliteArguments> {
    bind(
        sqlx::query(AssertSqlSafe(statement.sql.clone())),
        &statement.values,
    )
}

impl RowSource for SqliteRow {
    fn int(&self, column: &'static str) -> Result<Option<i64>, String> {
        self.try_get::<Option<i64>, _>(column)
            .map_err(|e| e.to_string())
    }
    fn text(&self, column: &'static str) -> Result<Option<String>, String> {
        self.try_get::<Option<String>, _>(column)
            .map_err(|e| e.to_string())
    }
}

impl SqliteBackend {
    pub fn new(file: SqliteFile, limits: AccountingLimits) -> SqliteBackend {
        let options = file
            .options
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(Duration::from_secs(u64::from(limits.lock_wait_timeout_s)));
        let pool = SqlitePoolOptions::new()
            .max_connections(CONNECTIONS_MAX)
            .min_connections(0)
            // No maintenance task: the pool needs no runtime until it is used.
            .max_lifetime(None)
            .idle_timeout(None)
            .acquire_timeout(Duration::from_millis(limits.connect_timeout_ms))
            .connect_lazy_with(options);
        SqliteBackend {
            redacted_url: file.redacted_url,
            pool,
            writer: Mutex::new(()),
            schema_ready: Mutex::new(false),
            limits,
        }
    }

    pub fn url(&self) -> &str {
        &self.redacted_url
    }

    async fn ensure_schema(&self) -> Result<(), Failure> {
        let mut ready = self.schema_ready.lock().await;
        if *ready {
            return Ok(());
        }
        let url = &self.redacted_url;
        let mut connection = self
            .pool
            .acquire()
            .await
            .map_err(|e| database_failure(url, e))?;
        // `run_direct`: see `MySqlBackend::ensure_schema`.
        migrator(Flavor::Sqlite)
            .run_direct(None, &mut *connection, false)
            .await
            .map_err(|error| match error {
                sqlx::migrate::MigrateError::Execute(e)
                | sqlx::migrate::MigrateError::ExecuteMigration(e, _) => database_failure(url, e),
                other => Failure::Fatal(Error::Rejected {
                    url: url.clone(),
                    message: format!("schema migration: {other}"),
                }),
            })?;
        *ready = true;
        Ok(())
    }

    async fn write_attempt(&self, statements: &[Statement]) -> Result<(), Failure> {
        let url = &self.redacted_url;
        self.ensure_schema().await?;
        let mut transaction = self
            .pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(|e| database_failure(url, e))?;
        for statement in statements {
            prepared(statement)
                .execute(&mut *transaction)
                .await
                .map_err(|e| database_failure(url, e))?;
        }
        transaction
            .commit()
            .await
            .map_err(|e| database_failure(url, e))
    }

    async fn read_attempt(
        &self,
        cluster: &str,
        jobs: &Statement,
    ) -> Result<Vec<(JobRecord, Vec<StepRecord>)>, Failure> {
        let url = &self.redacted_url;
        self.ensure_schema().await?;
        let mut transaction = self
            .pool
            .begin()
            .await
            .map_err(|e| database_failure(url, e))?;
        let job_rows = prepared(jobs)
            .fetch_all(&mut *transaction)
            .await
            .map_err(|e| database_failure(url, e))?;
        let mut found = Vec::with_capacity(job_rows.len());
        for row in &job_rows {
            found.push((job_from_row(row).map_err(Failure::Fatal)?.0, Vec::new()));
        }
        let ids: Vec<u32> = found.iter().map(|(job, _)| job.job_id).collect();
        let mut steps = Vec::new();
        for chunk in ids.chunks(IDS_PER_STATEMENT_MAX) {
            let rows = prepared(&select_steps(cluster, chunk))
                .fetch_all(&mut *transaction)
                .await
                .map_err(|e| database_failure(url, e))?;
            for row in &rows {
                steps.push(step_from_row(row).map_err(Failure::Fatal)?.0);
            }
        }
        transaction
            .commit()
            .await
            .map_err(|e| database_failure(url, e))?;
        Ok(crate::db::attach_steps(found, steps))
    }

    pub async fn write(&self, statements: &[Statement], counters: &Counters) -> Result<(), Error> {
        let _writer = self.writer.lock().await;
        let mut retry = Retry::new(self.limits, counters);
        loop {
            let bound = retry.attempt_timeout();
            let failure = match timeout(bound, self.write_attempt(statements)).await {
                Ok(Ok(())) => return Ok(()),
                Ok(Err(failure)) => failure,
                Err(_) => Failure::Timeout(bound.as_millis() as u64),
            };
            let pause = retry.failed(failure, &self.redacted_url)?;
            tokio::time::sleep(pause).await;
        }
    }

    pub async fn read(
        &self,
        cluster: &str,
        jobs: &Statement,
        counters: &Counters,
    ) -> Result<Vec<(JobRecord, Vec<StepRecord>)>, Error> {
        let mut retry = Retry::new(self.limits, counters);
        loop {
            let bound = retry.attempt_timeout();
            let failure = match timeout(bound, self.read_attempt(cluster, jobs)).await {
                Ok(Ok(found)) => return Ok(found),
                Ok(Err(failure)) => failure,
                Err(_) => Failure::Timeout(bound.as_millis() as u64),
            };
            let pause = retry.failed(failure, &self.redacted_url)?;
            tokio::time::sleep(pause).await;
        }
    }
}
