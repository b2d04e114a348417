//! What the writer and the reader did, for the controller's metrics.

use std::sync::atomic::{AtomicU64, Ordering};

/// A snapshot of the counters of one [`crate::AccountingDb`]. All counts
/// only grow, from 0 when the `AccountingDb` was built.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AccountingCounters {
    /// `write_batch` calls that succeeded, and the outbox entries in them.
    pub batches_written: u64,
    pub records_written: u64,
    /// `write_batch` calls that returned an error.
    pub batches_failed: u64,
    /// Attempts repeated after a conflict: MariaDB's deadlock 1213 (a Galera
    /// certification failure is reported as one), lock wait timeout 1205,
    /// SQLite's busy or locked.
    pub conflict_retries: u64,
    /// Attempts that failed on the node itself: lost or refused connection,
    /// a node not ready (Galera's 1047), a timeout. The next attempt goes to
    /// the next node.
    pub node_failures: u64,
    /// Of those, the attempts that hit `attempt_timeout_ms`.
    pub attempt_timeouts: u64,
    /// Times the node in use changed to another of the URLs.
    pub node_switches: u64,
    /// `query` calls that succeeded and that returned an error.
    pub queries: u64,
    pub queries_failed: u64,
}

#[derive(Default)]
pub(crate) struct Counters {
    pub batches_written: AtomicU64,
    pub records_written: AtomicU64,
    pub batches_failed: AtomicU64,
    pub conflict_retries: AtomicU64,
    pub node_failures: AtomicU64,
    pub attempt_timeouts: AtomicU64,
    pub node_switches: AtomicU64,
    pub queries: AtomicU64,
    pub queries_failed: AtomicU64,
}

pub(crate) fn add(counter: &AtomicU64, count: u64) {
    counter.fetch_add(count, Ordering::Relaxed);
}

impl Counters {
    pub fn snapshot(&self) -> AccountingCounters {
        let read = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        AccountingCounters {
            batches_written: read(&self.batches_written),
            records_written: read(&self.records_written),
            batches_failed: read(&self.batches_failed),
            conflict_retries: read(&self.conflict_retries),
            node_failures: read(&self.node_failures),
            attempt_timeouts: read(&self.attempt_timeouts),
            node_switches: read(&self.node_switches),
            queries: read(&self.queries),
            queries_failed: read(&self.queries_failed),
        }
    }
}
