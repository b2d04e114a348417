//! A time limit changed while the job runs (`scontrol update TimeLimit=`):
//! the agent records the newest change in the job's spool
//! ([`TIME_LIMIT_FILE`], written whole and fsynced, so it holds across agent
//! restarts) and wakes the supervisor, which reads it and enforces it from
//! then on, counting from the script's start as for the limit it got at
//! launch.
//!
//! Each change carries the version the replicated state gave it; a record
//! is only ever replaced by a newer version, so a late or repeated message
//! from a leader never brings an older limit back.

use serde::{Deserialize, Serialize};

use crate::journal::{self, JournalError, Spool};

/// The newest limit the leader sent, in the job's spool.
pub const TIME_LIMIT_FILE: &str = "time_limit.json";

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimeLimitRecord {
    pub version: u32,
    /// From the script's start; `None`: no limit.
    pub time_limit_ms: Option<u64>,
}

/// The recorded change, if the job's limit changed since its launch.
pub fn recorded(spool: &Spool) -> Result<Option<TimeLimitRecord>, JournalError> {
    if !spool.has(TIME_LIMIT_FILE) {
        return Ok(None);
    }
    spool.read(TIME_LIMIT_FILE)
}

/// Records `record` unless a change of the same or a newer version is
/// recorded; returns whether it wrote it. The caller serialises writers.
pub fn record(spool: &Spool, record: TimeLimitRecord) -> Result<bool, JournalError> {
    if recorded(spool)?.is_some_and(|known| known.version >= record.version) {
        return Ok(false);
    }
    journal::write_durably(
        &spool.dir,
        TIME_LIMIT_FILE,
        &journal::to_json(&record)?,
        0o600,
    )?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use corral_state::AllocationId;

    #[test]
    fn only_a_newer_version_replaces_the_record() {
        let dir = tempfile::tempdir().unwrap();
        let spool = Spool::new(dir.path(), 7, AllocationId(3));
        std::fs::create_dir_all(&spool.dir).unwrap();
        assert_eq!(recorded(&spool).unwrap(), None);
        let second = TimeLimitRecord {
            version: 2,
            time_limit_ms: Some(60_000),
        };
        assert!(record(&spool, second).unwrap());
        let older = TimeLimitRecord {
            version: 1,
            time_limit_ms: None,
        };
        assert!(!record(&spool, older).unwrap());
        assert!(!record(&spool, second).unwrap(), "a repeat changes nothing");
        assert_eq!(recorded(&spool).unwrap(), Some(second));
        let third = TimeLimitRecord {
            version: 3,
            time_limit_ms: None,
        };
        assert!(record(&spool, third).unwrap());
        assert_eq!(recorded(&spool).unwrap(), Some(third));
    }
}
