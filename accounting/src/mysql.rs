//! MariaDB/MySQL, one node or the nodes of a Galera cluster: one
//! connection for writing and one for reading, both on the node in use;
//! on a node failure the connection is dropped and the next attempt goes
//! to the next node.

use std::sync::atomic::{AtomicUsize, Ordering};

use corral_state::{JobRecord, StepRecord};
use sqlx::mysql::{MySqlArguments, MySqlConnection, MySqlDatabaseError, MySqlRow};
use sqlx::query::Query;
use sqlx::{AssertSqlSafe, ConnectOptions, Connection, MySql, Row};
use tokio::sync::Mutex;
use tokio::time::timeout;

use crate::columns::{job_from_row, step_from_row, RowSource, Value};
use crate::counters::{add, Counters};
use crate::error::Error;
use crate::limits::AccountingLimits;
use crate::retry::{classify_driver_error, Failure, Retry};
use crate::schema::{migrator, Flavor};
use crate::statements::{select_steps, Statement, IDS_PER_STATEMENT_MAX};
use crate::url::MySqlNode;

/// MariaDB error numbers that mean "the transaction lost a conflict, run it
/// again": deadlock (also Galera's certification failure) and lock wait
/// timeout.
const CONFLICT_ERRORS: [u16; 2] = [1213, 1205];

/// Errors about the request itself, which no other node or later attempt
/// would accept either: unknown column or table, bad value, too long,
/// NULL where not allowed, wrong column count, syntax.
const REQUEST_ERRORS: [u16; 9] = [1048, 1054, 1064, 1136, 1146, 1264, 1292, 1366, 1406];

/// `ER_UNKNOWN_SYSTEM_VARIABLE`: a MySQL without Galera has no
/// `wsrep_sync_wait`.
const UNKNOWN_SYSTEM_VARIABLE: u16 = 1193;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Role {
    Writer,
    Reader,
}

struct Session {
    node: usize,
    connection: MySqlConnection,
}

pub(crate) struct MySqlBackend {
    nodes: Vec<MySqlNode>,
    /// The node the next attempt goes to (index into `nodes`).
    current: AtomicUsize,
    writer: Mutex<Option<Session>>,
    reader: Mutex<Option<Session>>,
    schema_ready: Mutex<bool>,
    limits: AccountingLimits,
}

fn database_failure(url: &str, error: sqlx::Error) -> Failure {
    let number = match &error {
        sqlx::Error::Database(database) => database
            .try_downcast_ref::<MySqlDatabaseError>()
            .map(MySqlDatabaseError::number),
        _ => None,
    };
    match number {
        Some(number) if CONFLICT_ERRORS.contains(&number) => Failure::Conflict(error.to_string()),
        Some(number) if REQUEST_ERRORS.contains(&number) => Failure::Fatal(Error::Rejected {
            url: url.to_string(),
            message: error.to_string(),
        }),
        // Any other server error: this node cannot take it now (not ready,
        // shutting down, out of connections, ...).
        Some(_) => Failure::Node(error.to_string()),
        None => classify_driver_error(url, &error),
    }
}

fn bind<'q>(
    mut query: Query<'q, MySql, MySqlArguments>,
    values: &[Value],
) -> Query<'q, MySql, MySqlArguments> {
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

fn prepared(statement: &Statement) -> Query<'static, MySql, MySqlArguments> {
    bind(
        sqlx::query(AssertSqlSafe(statement.sql.clone())),
        &statement.values,
    )
}

impl RowSource for MySqlRow {
    fn int(&self, column: &'static str) -> Result<Option<i64>, String> {
        self.try_get::<Option<i64>, _>(column)
            .map_err(|e| e.to_string())
    }
    fn text(&self, column: &'static str) -> Result<Option<String>, String> {
        self.try_get::<Option<String>, _>(column)
            .map_err(|e| e.to_string())
    }
}

impl MySqlBackend {
    pub fn new(nodes: Vec<MySqlNode>, limits: AccountingLimits) -> MySqlBackend {
        MySqlBackend {
            nodes,
            current: AtomicUsize::new(0),
            writer: Mutex::new(None),
            reader: Mutex::new(None),
            schema_ready: Mutex::new(false),
            limits,
        }
    }

    pub fn current_url(&self) -> &str {
        &self.nodes[self.current.load(Ordering::Relaxed)].redacted_url
    }

    pub fn urls(&self) -> Vec<String> {
        self.nodes.iter().map(|n| n.redacted_url.clone()).collect()
    }

    /// Moves on from a node that failed, unless the other role already did.
    fn move_on_from(&self, failed: usize, counters: &Counters) {
        let next = (failed + 1) % self.nodes.len();
        if next != failed
            && self
                .current
                .compare_exchange(failed, next, Ordering::SeqCst, Ordering::SeqCst)
                .is_ok()
        {
            add(&counters.node_switches, 1);
            tracing::warn!(
                from = %self.nodes[failed].redacted_url,
                to = %self.nodes[next].redacted_url,
                "accounting database: moving to the next node"
            );
        }
    }

    async fn connect(&self, node: usize, role: Role) -> Result<Session, Failure> {
        let url = &self.nodes[node].redacted_url;
        let bound_ms = self.limits.connect_timeout_ms;
        let connecting = self.nodes[node].options.connect();
        let mut connection =
            match timeout(std::time::Duration::from_millis(bound_ms), connecting).await {
                Err(_) => return Err(Failure::Timeout(bound_ms)),
                Ok(result) => result.map_err(|e| database_failure(url, e))?,
            };
        let lock_wait = format!(
            "SET SESSION innodb_lock_wait_timeout = {}",
            self.limits.lock_wait_timeout_s
        );
        sqlx::query(AssertSqlSafe(lock_wait))
            .execute(&mut connection)
            .await
            .map_err(|e| database_failure(url, e))?;
        if role == Role::Reader {
            // Causal reads on Galera: a read waits until this node has
            // applied every write committed anywhere before it, so `sacct`
            // sees what the pump wrote through another node.
            match sqlx::query("SET SESSION wsrep_sync_wait = 1")
                .execute(&mut connection)
                .await
            {
                Ok(_) => {}
                Err(sqlx::Error::Database(e))
                    if e.try_downcast_ref::<MySqlDatabaseError>()
                        .is_some_and(|e| e.number() == UNKNOWN_SYSTEM_VARIABLE) => {}
                Err(e) => return Err(database_failure(url, e)),
            }
        }
        Ok(Session { node, connection })
    }

    async fn ensure_schema(
        &self,
        node: usize,
        connection: &mut MySqlConnection,
    ) -> Result<(), Failure> {
        let mut ready = self.schema_ready.lock().await;
        if *ready {
            return Ok(());
        }
        let url = &self.nodes[node].redacted_url;
        let migrator = migrator(Flavor::MySql);
        // `run_direct`, not `run`: `run`'s `Acquire` bound makes the
        // future not `Send` for every lifetime ("not general enough"),
        // so a task calling `write_batch` could not be spawned. sqlx keeps
        // `run_direct` public for this reason.
        let result = match migrator.run_direct(None, &mut *connection, false).await {
            // MySQL commits DDL implicitly: an attempt cut off in the middle
            // of a migration leaves its row marked unfinished. Ours are
            // `IF NOT EXISTS` and can run again: forget the row, retry once.
            Err(sqlx::migrate::MigrateError::Dirty(version)) => {
                sqlx::query("DELETE FROM _sqlx_migrations WHERE version = ? AND success = FALSE")
                    .bind(version)
                    .execute(&mut *connection)
                    .await
                    .map_err(|e| database_failure(url, e))?;
                migrator.run_direct(None, &mut *connection, false).await
            }
            other => other,
        };
        result.map_err(|error| match error {
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

    /// A connected session on `node` in `slot`, opening one if needed.
    async fn session<'s>(
        &self,
        node: usize,
        role: Role,
        slot: &'s mut Option<Session>,
    ) -> Result<&'s mut MySqlConnection, Failure> {
        if slot.as_ref().is_some_and(|s| s.node != node) {
            *slot = None;
        }
        if slot.is_none() {
            *slot = Some(self.connect(node, role).await?);
        }
        let session = slot.as_mut().expect("just connected");
        self.ensure_schema(node, &mut session.connection).await?;
        Ok(&mut session.connection)
    }

    async fn write_attempt(
        &self,
        node: usize,
        slot: &mut Option<Session>,
        statements: &[Statement],
    ) -> Result<(), Failure> {
        let url = &self.nodes[node].redacted_url;
        let connection = self.session(node, Role::Writer, slot).await?;
        let mut transaction = connection
            .begin()
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
        node: usize,
        slot: &mut Option<Session>,
        cluster: &str,
        jobs: &Statement,
    ) -> Result<Vec<(JobRecord, Vec<StepRecord>)>, Failure> {
        let url = &self.nodes[node].redacted_url;
        let connection = self.session(node, Role::Reader, slot).await?;
        // One transaction: the steps are read from the same snapshot as the jobs.
        let mut transaction = connection
            .begin()
            .await
            .map_err(|e| database_failure(url, e))?;
        let job_rows = prepared(jobs)
            .fetch_all(&mut *transaction)
            .await
            .map_err(|e| database_failure(url, e))?;
        let mut found = Vec::with_capacity(job_rows.len());
        for row in &job_rows {
            let (job, _seq) = job_from_row(row).map_err(Failure::Fatal)?;
            found.push((job, Vec::new()));
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
        let mut slot = self.writer.lock().await;
        let mut retry = Retry::new(self.limits, counters);
        loop {
            let node = self.current.load(Ordering::SeqCst);
            let bound = retry.attempt_timeout();
            let failure =
                match timeout(bound, self.write_attempt(node, &mut slot, statements)).await {
                    Ok(Ok(())) => return Ok(()),
                    Ok(Err(failure)) => failure,
                    Err(_) => Failure::Timeout(bound.as_millis() as u64),
                };
            if failure.drops_connection() {
                *slot = None;
                self.move_on_from(node, counters);
            }
            let pause = retry.failed(failure, &self.nodes[node].redacted_url)?;
            tokio::time::sleep(pause).await;
        }
    }

    pub async fn read(
        &self,
        cluster: &str,
        jobs: &Statement,
        counters: &Counters,
    ) -> Result<Vec<(JobRecord, Vec<StepRecord>)>, Error> {
        let mut slot = self.reader.lock().await;
        let mut retry = Retry::new(self.limits, counters);
        loop {
            let node = self.current.load(Ordering::SeqCst);
            let bound = retry.attempt_timeout();
            let failure =
                match timeout(bound, self.read_attempt(node, &mut slot, cluster, jobs)).await {
                    Ok(Ok(found)) => return Ok(found),
                    Ok(Err(failure)) => failure,
                    Err(_) => Failure::Timeout(bound.as_millis() as u64),
                };
            if failure.drops_connection() {
                *slot = None;
                self.move_on_from(node, counters);
            }
            let pause = retry.failed(failure, &self.nodes[node].redacted_url)?;
            tokio::time::sleep(pause).await;
        }
    }
}
