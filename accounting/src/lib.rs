//! Corral's accounting database.
//!
//! The replicated state keeps a bounded outbox of accounting records
//! ([`corral_state::OutboxEntry`]); the leader's accounting pump writes them
//! here with [`AccountingDb::write_batch`] and then proposes
//! `AccountingAck { upto }`; `sacct` reads them back with
//! [`AccountingDb::query`]. Each record is a whole row (a job, or one of its
//! steps) with the sequence number it was given: writing is an upsert that
//! only a newer `seq` changes, so a replay after a failover writes nothing
//! twice and an older record never overwrites a newer one.
//!
//! Backends: MariaDB (a single server, or Galera written one node at a
//! time, moving to the next node on failure) and SQLite (one file). The
//! crate creates and migrates its schema itself (`migrations/`); the tables
//! are documented for sites in `docs/accounting.md`.
//!
//! ```no_run
//! # async fn pump(outbox: Vec<corral_state::OutboxEntry>) -> Result<(), corral_accounting::Error> {
//! use corral_accounting::{AccountingDb, JobFilter};
//! let db = AccountingDb::new(&["mysql://corral:secret@db1:3306/corral_acct".to_string(),
//!                              "mysql://corral:secret@db2:3306/corral_acct".to_string()])?;
//! let upto = db.write_batch("mycluster", &outbox).await?; // then propose AccountingAck { upto }
//! let jobs = db.query("mycluster", &JobFilter { users: vec!["alice".into()], ..Default::default() }).await?;
//! # Ok(()) }
//! ```

mod columns;
mod counters;
mod db;
mod error;
mod filter;
mod limits;
mod mysql;
mod retry;
mod schema;
mod sqlite;
mod statements;
mod url;

pub use columns::{BATCH_STEP_ID, CLUSTER_NAME_CHARS_MAX};
pub use counters::AccountingCounters;
pub use db::AccountingDb;
pub use error::Error;
pub use filter::JobFilter;
pub use limits::AccountingLimits;
pub use url::redact;
