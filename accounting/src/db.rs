//! [`AccountingDb`]: the writer behind the accounting pump and the reader
//! behind `sacct`.

use corral_state::{JobRecord, OutboxEntry, StepRecord};

use crate::counters::{add, AccountingCounters, Counters};
use crate::error::Error;
use crate::filter::JobFilter;
use crate::limits::AccountingLimits;
use crate::mysql::MySqlBackend;
use crate::sqlite::SqliteBackend;
use crate::statements::{batch_statements, policy_statements, select_jobs, Dialect};
use crate::url::{parse_targets, Target};

enum Backend {
    MySql(MySqlBackend),
    Sqlite(SqliteBackend),
}

/// The accounting database: one SQLite file, or one MariaDB node, or the
/// nodes of one Galera cluster written one at a time.
///
/// Building it opens nothing: the first `write_batch` or `query` connects
/// (and creates or migrates the schema), so a controller starts while the
/// database is down. Every call is bounded by [`AccountingLimits`] and
/// ends in a result or an [`Error`]; none waits for the database to come
/// back. Calls may come from several tasks at once: writes are serialised
/// (one writer), reads are serialised among themselves, and a read does
/// not wait for a write.
pub struct AccountingDb {
    backend: Backend,
    counters: Counters,
}

impl AccountingDb {
    /// From the configured URLs with the default limits.
    pub fn new(urls: &[String]) -> Result<AccountingDb, Error> {
        AccountingDb::with_limits(urls, AccountingLimits::default())
    }

    /// From `mysql://USER:PASSWORD@HOST:PORT/DATABASE` URLs (several: the
    /// nodes of one Galera cluster, tried in this order) or exactly one
    /// `sqlite://PATH`. A malformed list is an error naming the URL, without
    /// its password. Needs no runtime and does no I/O.
    pub fn with_limits(urls: &[String], limits: AccountingLimits) -> Result<AccountingDb, Error> {
        let backend = match parse_targets(urls)? {
            Target::MySql(nodes) => Backend::MySql(MySqlBackend::new(nodes, limits)),
            Target::Sqlite(file) => Backend::Sqlite(SqliteBackend::new(*file, limits)),
        };
        Ok(AccountingDb {
            backend,
            counters: Counters::default(),
        })
    }

    fn dialect(&self) -> Dialect {
        match self.backend {
            Backend::MySql(_) => Dialect::MySql,
            Backend::Sqlite(_) => Dialect::Sqlite,
        }
    }

    /// Writes the entries of `cluster` in one transaction and returns the
    /// highest `seq` among them (0 for no entries): everything up to it is
    /// now in the database, and the pump may propose
    /// `AccountingAck { upto }` with it.
    ///
    /// Each record upserts its row, and a row changes only for a record
    /// with a higher `seq` than the row's: writing a batch again, or an
    /// older record after a newer one, changes nothing. Conflicts (1213,
    /// 1205) are retried on the same node, a lost or failed node makes the
    /// next attempt go to the next node, all within `attempts_max` and
    /// `call_timeout_ms`.
    pub async fn write_batch(&self, cluster: &str, entries: &[OutboxEntry]) -> Result<u64, Error> {
        let result = self.write_entries(cluster, entries).await;
        match &result {
            Ok(_) => {
                add(&self.counters.batches_written, 1);
                add(&self.counters.records_written, entries.len() as u64);
            }
            Err(_) => add(&self.counters.batches_failed, 1),
        }
        result
    }

    /// Replaces `cluster`'s mirrored policy (tables `account`,
    /// `account_user`, `association`, and its version in
    /// `policy_version`) in one transaction, with the same retries and
    /// bounds as [`AccountingDb::write_batch`].
    pub async fn write_policy(
        &self,
        cluster: &str,
        policy: &corral_state::Policy,
    ) -> Result<(), Error> {
        let statements = policy_statements(self.dialect(), cluster, policy)?;
        match &self.backend {
            Backend::MySql(mysql) => mysql.write(&statements, &self.counters).await,
            Backend::Sqlite(sqlite) => sqlite.write(&statements, &self.counters).await,
        }
    }

    async fn write_entries(&self, cluster: &str, entries: &[OutboxEntry]) -> Result<u64, Error> {
        let statements = batch_statements(self.dialect(), cluster, entries)?;
        let Some(upto) = entries.iter().map(|e| e.seq).max() else {
            return Ok(0);
        };
        match &self.backend {
            Backend::MySql(mysql) => mysql.write(&statements, &self.counters).await?,
            Backend::Sqlite(sqlite) => sqlite.write(&statements, &self.counters).await?,
        }
        Ok(upto)
    }

    /// The jobs of `cluster` that `filter` selects, lowest job id first,
    /// each with its steps (`batch` first, then by number), as the records
    /// they were written from (times at whole seconds).
    pub async fn query(
        &self,
        cluster: &str,
        filter: &JobFilter,
    ) -> Result<Vec<(JobRecord, Vec<StepRecord>)>, Error> {
        let result = self.read(cluster, filter).await;
        match &result {
            Ok(_) => add(&self.counters.queries, 1),
            Err(_) => add(&self.counters.queries_failed, 1),
        }
        result
    }

    async fn read(
        &self,
        cluster: &str,
        filter: &JobFilter,
    ) -> Result<Vec<(JobRecord, Vec<StepRecord>)>, Error> {
        crate::columns::check_cluster(cluster)?;
        let jobs = select_jobs(cluster, filter);
        match &self.backend {
            Backend::MySql(mysql) => mysql.read(cluster, &jobs, &self.counters).await,
            Backend::Sqlite(sqlite) => sqlite.read(cluster, &jobs, &self.counters).await,
        }
    }

    /// Connects and creates or migrates the schema now, within the same
    /// bounds as a write: for a start-up check that logs a warning (a
    /// controller still starts when this fails).
    pub async fn check(&self) -> Result<(), Error> {
        let nothing = JobFilter {
            jobs_max: Some(0),
            ..JobFilter::default()
        };
        self.read("-", &nothing).await.map(|_| ())
    }

    /// What the writer and the reader did so far, for metrics.
    pub fn counters(&self) -> AccountingCounters {
        self.counters.snapshot()
    }

    /// The URL (password hidden) of the node the next attempt goes to.
    pub fn current_url(&self) -> &str {
        match &self.backend {
            Backend::MySql(mysql) => mysql.current_url(),
            Backend::Sqlite(sqlite) => sqlite.url(),
        }
    }

    /// All URLs, in order, passwords hidden.
    pub fn urls(&self) -> Vec<String> {
        match &self.backend {
            Backend::MySql(mysql) => mysql.urls(),
            Backend::Sqlite(sqlite) => vec![sqlite.url().to_string()],
        }
    }
}

/// Gives each job its steps; `steps` come in job order, as selected.
pub(crate) fn attach_steps(
    mut jobs: Vec<(JobRecord, Vec<StepRecord>)>,
    steps: Vec<StepRecord>,
) -> Vec<(JobRecord, Vec<StepRecord>)> {
    let mut index = 0;
    for step in steps {
        while index < jobs.len() && jobs[index].0.job_id < step.job_id {
            index += 1;
        }
        if let Some((job, job_steps)) = jobs.get_mut(index) {
            if job.job_id == step.job_id {
                job_steps.push(step);
            }
        }
    }
    jobs
}

/// Compile-time check: the controller spawns tasks that call these, and
/// shares one `AccountingDb` between them.
#[allow(dead_code)]
fn tasks_calling_it_can_be_spawned(db: std::sync::Arc<AccountingDb>, entries: Vec<OutboxEntry>) {
    fn spawnable<T: std::future::Future + Send + 'static>(_: T) {}
    let writer = db.clone();
    spawnable(async move { writer.write_batch("c", &entries).await });
    let reader = db.clone();
    spawnable(async move { reader.query("c", &JobFilter::default()).await });
    spawnable(async move { db.check().await });
}
