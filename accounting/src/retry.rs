//! The bounded retry policy shared by both backends: what a failed attempt
//! means, how long to pause, when to give up.

use std::time::{Duration, Instant, SystemTime};

use crate::counters::{add, Counters};
use crate::error::Error;
use crate::limits::AccountingLimits;

/// Why one attempt failed.
#[derive(Debug)]
pub(crate) enum Failure {
    /// The transaction lost a conflict (deadlock, certification failure,
    /// lock wait, SQLite busy): try again on the same node.
    Conflict(String),
    /// The node failed (connection lost or refused, node not ready): drop
    /// the connection and try the next node.
    Node(String),
    /// The attempt took longer than its bound (milliseconds): as a node
    /// failure.
    Timeout(u64),
    /// No retry can fix it.
    Fatal(Error),
}

impl Failure {
    pub fn drops_connection(&self) -> bool {
        matches!(self, Failure::Node(_) | Failure::Timeout(_))
    }
}

/// Classifies a driver error that is not a database's own error number.
pub(crate) fn classify_driver_error(url: &str, error: &sqlx::Error) -> Failure {
    match error {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::Protocol(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed
        | sqlx::Error::BeginFailed => Failure::Node(error.to_string()),
        _ => Failure::Fatal(Error::Rejected {
            url: url.to_string(),
            message: error.to_string(),
        }),
    }
}

/// One call's attempts: counts them, paces them, and turns the last
/// failure into the call's error.
pub(crate) struct Retry<'a> {
    limits: AccountingLimits,
    counters: &'a Counters,
    started: Instant,
    attempts: u32,
    pause_ms: u64,
}

impl<'a> Retry<'a> {
    pub fn new(limits: AccountingLimits, counters: &'a Counters) -> Retry<'a> {
        Retry {
            limits,
            counters,
            started: Instant::now(),
            attempts: 0,
            pause_ms: limits.retry_backoff_ms,
        }
    }

    fn elapsed_ms(&self) -> u64 {
        u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// The bound for the next attempt: `attempt_timeout_ms`, or less when
    /// the call's own bound is nearer.
    pub fn attempt_timeout(&self) -> Duration {
        let left_ms = self
            .limits
            .call_timeout_ms
            .saturating_sub(self.elapsed_ms());
        Duration::from_millis(self.limits.attempt_timeout_ms.min(left_ms).max(1))
    }

    /// Records a failed attempt on `url`: the pause before the next one, or
    /// the error that ends the call.
    pub fn failed(&mut self, failure: Failure, url: &str) -> Result<Duration, Error> {
        self.attempts += 1;
        let conflict = matches!(failure, Failure::Conflict(_));
        let last_error = match failure {
            Failure::Fatal(error) => return Err(error),
            Failure::Conflict(message) => message,
            Failure::Node(message) => {
                add(&self.counters.node_failures, 1);
                message
            }
            Failure::Timeout(bound_ms) => {
                add(&self.counters.node_failures, 1);
                add(&self.counters.attempt_timeouts, 1);
                format!("no answer within {bound_ms} ms")
            }
        };
        let pause_ms = self.pause_ms + jitter_ms(self.pause_ms / 2);
        let out_of_time = self.elapsed_ms().saturating_add(pause_ms) >= self.limits.call_timeout_ms;
        if self.attempts >= self.limits.attempts_max || out_of_time {
            return Err(Error::Unavailable {
                attempts: self.attempts,
                elapsed_ms: self.elapsed_ms(),
                url: url.to_string(),
                last_error,
            });
        }
        if conflict {
            add(&self.counters.conflict_retries, 1);
        }
        self.pause_ms = (self.pause_ms * 2).min(self.limits.retry_backoff_max_ms);
        Ok(Duration::from_millis(pause_ms))
    }
}

/// A small pseudo-random pause so that two writers that conflicted do not
/// retry in step. Not for anything that needs real randomness.
fn jitter_ms(range_ms: u64) -> u64 {
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    u64::from(nanos) % (range_ms + 1)
}
