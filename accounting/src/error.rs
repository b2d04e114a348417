//! The one error type of this crate.

use thiserror::Error;

/// What went wrong with the accounting database. Every message that names a
/// database names it by its URL with the password replaced by `***`.
///
/// For the caller (the accounting pump), [`Error::is_retryable`] tells the
/// two kinds apart: the database was unreachable or busy (log, keep the
/// records, try again later), or the request itself cannot succeed as it is
/// (a configuration or data error that needs a person).
#[derive(Debug, Error)]
pub enum Error {
    #[error("no accounting database URL given")]
    NoUrls,

    /// A URL that cannot be used; the reason says what is wrong with it.
    #[error("accounting database URL \"{url}\": {reason}")]
    InvalidUrl { url: String, reason: String },

    #[error("accounting database URLs mix SQLite and MySQL/MariaDB (\"{first}\", \"{other}\"): give one sqlite:// URL or mysql:// URLs only")]
    MixedSchemes { first: String, other: String },

    #[error("{count} SQLite accounting URLs given (\"{first}\", ...): SQLite takes exactly one")]
    SeveralSqliteUrls { count: usize, first: String },

    /// The cluster name is empty or longer than the schema's column.
    #[error("cluster name \"{cluster}\" cannot be stored: {reason}")]
    InvalidCluster { cluster: String, reason: String },

    /// A record holds a number the schema cannot store (a 64-bit value above
    /// `i64::MAX`). Writing it again cannot succeed.
    #[error(
        "accounting record seq {seq}: {field} = {value} is larger than the database can store"
    )]
    UnrepresentableRecord {
        seq: u64,
        field: &'static str,
        value: u64,
    },

    /// Every attempt failed on a lost connection, a timeout, a node that
    /// refused the transaction, or repeated conflicts. Retry later.
    #[error("accounting database unavailable: {attempts} attempts in {elapsed_ms} ms failed; last, on {url}: {last_error}")]
    Unavailable {
        attempts: u32,
        elapsed_ms: u64,
        url: String,
        last_error: String,
    },

    /// The database answered, but not in a way a retry can fix: the schema
    /// migration or the statement was rejected for what it is.
    #[error("accounting database {url} rejected the request: {message}")]
    Rejected { url: String, message: String },

    /// A row in the database that does not read back as a record (edited by
    /// hand, or written by a newer version).
    #[error("accounting table {table}, row {key}: column {column} holds {value}, which is not a valid value")]
    CorruptRow {
        table: &'static str,
        key: String,
        column: &'static str,
        value: String,
    },
}

impl Error {
    /// Whether trying the same request again later may succeed: true when
    /// the database was unreachable, overloaded or in conflict.
    pub fn is_retryable(&self) -> bool {
        matches!(self, Error::Unavailable { .. })
    }
}
