//! How long the writer and the reader may wait, and how often they try.

/// Bounds on every call into the database, so that an unreachable or
/// stalled database costs the caller a bounded time and then an error.
///
/// A Galera node that died stalls the others' commits for about 5 s (until
/// `evs.suspect_timeout` evicts it): `attempt_timeout_ms` is below that, so
/// an attempt stuck behind a stall gives up and the next attempt goes to
/// the next node.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AccountingLimits {
    /// Opening a connection (TCP, TLS, authentication, session setup).
    pub connect_timeout_ms: u64,
    /// One attempt: connect if needed, the whole transaction, commit.
    pub attempt_timeout_ms: u64,
    /// Attempts per call before it returns [`crate::Error::Unavailable`].
    pub attempts_max: u32,
    /// The whole call, all attempts and pauses included.
    pub call_timeout_ms: u64,
    /// Pause after a conflict or a failed attempt, doubled each time up to
    /// `retry_backoff_max_ms`, with some jitter.
    pub retry_backoff_ms: u64,
    pub retry_backoff_max_ms: u64,
    /// MariaDB's `innodb_lock_wait_timeout` for our sessions (error 1205
    /// after that) and SQLite's busy timeout.
    pub lock_wait_timeout_s: u32,
}

impl Default for AccountingLimits {
    fn default() -> Self {
        AccountingLimits {
            connect_timeout_ms: 2_000,
            attempt_timeout_ms: 4_000,
            attempts_max: 8,
            call_timeout_ms: 20_000,
            retry_backoff_ms: 20,
            retry_backoff_max_ms: 1_000,
            lock_wait_timeout_s: 2,
        }
    }
}
