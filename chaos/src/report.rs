//! The report of a run, seed first: `report.md` for people, `report.json`
//! for tools, `timeline.svg` to see the faults, the leaders and the
//! unavailability side by side.
//!
//! Everything here is computed from the [`History`], the checkers'
//! [`Violation`]s and the [`RunInfo`]; [`write()`] is the only function that
//! touches the disk.
//!
//! - [`mod@stats`]: min, median, p99 and max (nearest rank).
//! - [`measures`]: failover times, unreported job ends, operation counts,
//!   unavailability windows.
//! - `json`, `markdown`, `timeline`: the three files.

mod json;
mod markdown;
pub mod measures;
pub mod stats;
mod timeline;

use std::io;
use std::path::Path;

use serde::Serialize;

use crate::checkers::{self, NotChecked};
use crate::history::{History, Violation};

pub use measures::{Measures, Window};
pub use stats::{stats, Stats};

/// What a reader needs to know about a run besides its history.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct RunInfo {
    pub seed: u64,
    /// One line that replays the run (`corral-chaos --seed ... --faults ...`).
    pub command: String,
    pub controllers: usize,
    pub agents: usize,
    pub duration_ms: u64,
    /// The fault kinds the run could choose from (`kill-leader`, ...).
    pub fault_kinds: Vec<String>,
    /// When the run started, in ms since the Unix epoch.
    pub started_unix_ms: u64,
}

/// `PASS: no violation` or `FAIL: N violations`.
pub fn verdict(violations: &[Violation]) -> String {
    match violations.len() {
        0 => "PASS: no violation".to_string(),
        1 => "FAIL: 1 violation".to_string(),
        count => format!("FAIL: {count} violations"),
    }
}

/// What the harness did not check: promises without a checker, then what
/// this run gave some checker nothing to look at.
pub fn not_checked(history: &History) -> Vec<NotChecked> {
    let mut list = checkers::not_checked();
    list.extend(checkers::unexercised(history));
    list
}

/// Writes `report.md`, `report.json` and `timeline.svg` into `dir`
/// (created if missing).
pub fn write(
    dir: &Path,
    info: &RunInfo,
    history: &History,
    violations: &[Violation],
) -> io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let measures = Measures::new(history);
    let not_checked = not_checked(history);
    let json = json::render(info, history, violations, &measures, &not_checked);
    std::fs::write(dir.join("report.json"), json)?;
    let markdown = markdown::render(info, history, violations, &measures, &not_checked);
    std::fs::write(dir.join("report.md"), markdown)?;
    let svg = timeline::render(info, history, &measures);
    std::fs::write(dir.join("timeline.svg"), svg)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkers::testing::clean_history;

    #[test]
    fn the_verdict_counts_violations() {
        let violation = Violation {
            checker: "x".to_string(),
            message: String::new(),
            evidence: Vec::new(),
        };
        assert_eq!(verdict(&[]), "PASS: no violation");
        assert_eq!(
            verdict(std::slice::from_ref(&violation)),
            "FAIL: 1 violation"
        );
        assert_eq!(
            verdict(&[violation.clone(), violation]),
            "FAIL: 2 violations"
        );
    }

    #[test]
    fn write_creates_the_three_files() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("run-1");
        let info = RunInfo {
            seed: 7,
            command: "corral-chaos --seed 7".to_string(),
            controllers: 3,
            agents: 2,
            duration_ms: 12_000,
            fault_kinds: vec!["isolate-leader".to_string()],
            started_unix_ms: 0,
        };
        write(&out, &info, &clean_history(), &[]).unwrap();
        for file in ["report.md", "report.json", "timeline.svg"] {
            assert!(out.join(file).is_file(), "{file}");
        }
    }
}
