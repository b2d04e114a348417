//! `report.md`: the seed and the command that replays the run first, then
//! the verdict, failover times, faults, unavailability, every violation
//! with its evidence, the checks that ran, and what was not checked.

use std::fmt::Write;

use super::measures::{Measures, UNAVAILABLE_GAP_MIN_MS};
use super::stats::Stats;
use super::{verdict, RunInfo};
use crate::checkers::{NotChecked, CHECKERS};
use crate::history::{History, Violation};

/// Violations shown per checker; the rest are in `report.json`.
const VIOLATIONS_SHOWN_PER_CHECKER_MAX: usize = 20;
/// Evidence lines shown per violation.
const EVIDENCE_SHOWN_MAX: usize = 12;
/// Unavailability windows listed.
const WINDOWS_SHOWN_MAX: usize = 20;

pub(super) fn render(
    info: &RunInfo,
    history: &History,
    violations: &[Violation],
    measures: &Measures,
    not_checked: &[NotChecked],
) -> String {
    let mut out = String::new();
    header(&mut out, info, violations, measures);
    failover(&mut out, measures);
    faults(&mut out, history, measures);
    unavailability(&mut out, measures);
    violation_list(&mut out, violations);
    checks(&mut out, violations);
    not_checked_list(&mut out, not_checked);
    out
}

fn header(out: &mut String, info: &RunInfo, violations: &[Violation], measures: &Measures) {
    let _ = writeln!(out, "# Corral chaos run, seed {}\n", info.seed);
    let _ = writeln!(out, "Reproduce: {}\n", code(&info.command));
    let _ = writeln!(out, "{}\n", verdict(violations));
    let kinds = if info.fault_kinds.is_empty() {
        "none".to_string()
    } else {
        info.fault_kinds.join(", ")
    };
    let _ = writeln!(
        out,
        "{} controllers, {} agents, {} from {}; fault kinds: {kinds}.\n",
        info.controllers,
        info.agents,
        seconds(info.duration_ms),
        utc(info.started_unix_ms)
    );
    let operations: Vec<String> = ["submit", "cancel", "read"]
        .into_iter()
        .filter_map(|kind| Some((kind, measures.operations.get(kind)?)))
        .map(|(kind, counts)| {
            format!(
                "{kind} {} (ok {}, failed {}, unknown {})",
                counts.total(),
                counts.ok,
                counts.failed,
                counts.unknown
            )
        })
        .collect();
    let _ = writeln!(out, "Operations: {}.\n", operations.join("; "));
    let _ = writeln!(
        out,
        "Timeline: `timeline.svg`. Everything below is also in `report.json`.\n"
    );
}

fn failover(out: &mut String, measures: &Measures) {
    let _ = writeln!(out, "## Failover\n");
    let _ = writeln!(out, "| ms | samples | min | median | p99 | max |");
    let _ = writeln!(out, "|---|---:|---:|---:|---:|---:|");
    let recovered = measures
        .failovers
        .iter()
        .filter(|f| f.recovered_ms.is_some())
        .count();
    stats_row(
        out,
        "fault on the leader → first acknowledged submission",
        recovered,
        measures.failover_ms,
    );
    stats_row(
        out,
        "job end committed after its script ended, during faults or with no leader",
        measures.unreported_disturbed_count,
        measures.unreported_disturbed_ms,
    );
    stats_row(
        out,
        "job end committed after its script ended, otherwise",
        measures.unreported_steady_count,
        measures.unreported_steady_ms,
    );
    let unrecovered = measures.failovers.len() - recovered;
    if unrecovered > 0 {
        let _ = writeln!(
            out,
            "\n{unrecovered} fault(s) on the leader were followed by no acknowledged submission."
        );
    }
    out.push('\n');
}

fn stats_row(out: &mut String, what: &str, samples: usize, stats: Option<Stats>) {
    let cells = match stats {
        Some(s) => format!("{} | {} | {} | {}", s.min, s.median, s.p99, s.max),
        None => "- | - | - | -".to_string(),
    };
    let _ = writeln!(out, "| {what} | {samples} | {cells} |");
}

fn faults(out: &mut String, history: &History, measures: &Measures) {
    let _ = writeln!(out, "## Faults\n");
    if history.faults.is_empty() {
        let _ = writeln!(out, "No fault was injected.\n");
        return;
    }
    let _ = writeln!(
        out,
        "| # | kind | targets | hit leader | start | healed | held | failover ms | detail |"
    );
    let _ = writeln!(out, "|---:|---|---|---|---:|---:|---:|---:|---|");
    for fault in &history.faults {
        let healed = fault.healed_ms.map_or("never".to_string(), seconds);
        let held = fault.healed_ms.map_or("-".to_string(), |healed| {
            seconds(healed.saturating_sub(fault.started_ms))
        });
        let failover = match measures.failover_of(fault.id) {
            Some(f) => f
                .recovered_ms
                .map_or("none".to_string(), |ms| ms.to_string()),
            None => "-".to_string(),
        };
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {healed} | {held} | {failover} | {} |",
            fault.id,
            cell(&fault.kind),
            cell(&fault.targets.join(", ")),
            if fault.hit_leader { "yes" } else { "no" },
            seconds(fault.started_ms),
            cell(&fault.detail),
        );
    }
    out.push('\n');
}

fn unavailability(out: &mut String, measures: &Measures) {
    let _ = writeln!(out, "## Unavailability\n");
    let windows = &measures.unavailable;
    let Some(longest) = windows.iter().max_by_key(|w| w.length_ms()) else {
        let _ = writeln!(
            out,
            "No span of {} or more with submissions attempted and none acknowledged.\n",
            seconds(UNAVAILABLE_GAP_MIN_MS)
        );
        return;
    };
    let total: u64 = windows.iter().map(|w| w.length_ms()).sum();
    let _ = writeln!(
        out,
        "{} span(s) of {} or more with submissions attempted and none acknowledged, {} in all; the longest {} (from {} to {}).\n",
        windows.len(),
        seconds(UNAVAILABLE_GAP_MIN_MS),
        seconds(total),
        seconds(longest.length_ms()),
        seconds(longest.start_ms),
        seconds(longest.end_ms)
    );
    for window in windows.iter().take(WINDOWS_SHOWN_MAX) {
        let _ = writeln!(
            out,
            "- {} to {} ({})",
            seconds(window.start_ms),
            seconds(window.end_ms),
            seconds(window.length_ms())
        );
    }
    more(out, windows.len(), WINDOWS_SHOWN_MAX, "");
    out.push('\n');
}

fn violation_list(out: &mut String, violations: &[Violation]) {
    let _ = writeln!(out, "## Violations\n");
    if violations.is_empty() {
        let _ = writeln!(out, "None.\n");
        return;
    }
    // In the order of the promises, then any checker not in CHECKERS.
    let mut checkers: Vec<&str> = CHECKERS.iter().map(|c| c.name).collect();
    for violation in violations {
        if !checkers.contains(&violation.checker.as_str()) {
            checkers.push(&violation.checker);
        }
    }
    for checker in checkers {
        let of_checker: Vec<&Violation> =
            violations.iter().filter(|v| v.checker == checker).collect();
        if of_checker.is_empty() {
            continue;
        }
        let _ = writeln!(out, "### {checker} ({})\n", of_checker.len());
        for violation in of_checker.iter().take(VIOLATIONS_SHOWN_PER_CHECKER_MAX) {
            let _ = writeln!(out, "- {}", text(&violation.message));
            for line in violation.evidence.iter().take(EVIDENCE_SHOWN_MAX) {
                let _ = writeln!(out, "  - {}", code(line));
            }
            more(out, violation.evidence.len(), EVIDENCE_SHOWN_MAX, "  ");
        }
        more(out, of_checker.len(), VIOLATIONS_SHOWN_PER_CHECKER_MAX, "");
        out.push('\n');
    }
}

fn checks(out: &mut String, violations: &[Violation]) {
    let _ = writeln!(out, "## Checks\n");
    let _ = writeln!(out, "| checker | promise | violations |");
    let _ = writeln!(out, "|---|---|---:|");
    for checker in CHECKERS {
        let count = violations
            .iter()
            .filter(|v| v.checker == checker.name)
            .count();
        let _ = writeln!(
            out,
            "| {} | {} | {count} |",
            checker.name,
            cell(checker.promise)
        );
    }
    out.push('\n');
}

fn not_checked_list(out: &mut String, not_checked: &[NotChecked]) {
    let _ = writeln!(out, "## Not checked\n");
    for item in not_checked {
        let _ = writeln!(out, "- {}: {}", text(&item.what), text(&item.why));
    }
    if not_checked.is_empty() {
        let _ = writeln!(out, "Nothing.");
    }
}

/// `- ... and N more (report.json)` when a list was cut.
fn more(out: &mut String, count: usize, shown: usize, indent: &str) {
    if count > shown {
        let _ = writeln!(
            out,
            "{indent}- ... and {} more (see `report.json`)",
            count - shown
        );
    }
}

/// `12.3 s`.
fn seconds(ms: u64) -> String {
    format!("{:.1} s", ms as f64 / 1000.0)
}

/// A code span that holds any text: fenced by more backticks than it contains.
fn code(text: &str) -> String {
    let one_line = text.replace(['\n', '\r'], " ");
    let mut longest = 0;
    let mut run = 0;
    for c in one_line.chars() {
        run = if c == '`' { run + 1 } else { 0 };
        longest = longest.max(run);
    }
    let fence = "`".repeat(longest + 1);
    if longest > 0 || one_line.starts_with(' ') || one_line.ends_with(' ') {
        format!("{fence} {one_line} {fence}")
    } else {
        format!("{fence}{one_line}{fence}")
    }
}

/// Prose from the checkers, with Markdown's and HTML's active characters escaped.
fn text(raw: &str) -> String {
    let mut escaped = String::with_capacity(raw.len());
    for c in raw.chars() {
        match c {
            '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '|' => {
                escaped.push('\\');
                escaped.push(c);
            }
            '\n' | '\r' => escaped.push(' '),
            _ => escaped.push(c),
        }
    }
    escaped
}

/// A table cell: prose with `|` escaped.
fn cell(raw: &str) -> String {
    text(raw)
}

/// `2026-01-02 03:04:05 UTC` from ms since the Unix epoch.
fn utc(unix_ms: u64) -> String {
    let seconds = unix_ms / 1000;
    let (days, day_seconds) = (seconds / 86_400, seconds % 86_400);
    let (year, month, day) = civil_from_days(days as i64);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02} UTC",
        day_seconds / 3600,
        day_seconds / 60 % 60,
        day_seconds % 60
    )
}

/// Year, month, day of a count of days since 1970-01-01 (Howard Hinnant's
/// `civil_from_days`, proleptic Gregorian calendar).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1_460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = (day_of_year - (153 * month_index + 2) / 5 + 1) as u32;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    } as u32;
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkers::testing::*;

    fn info() -> RunInfo {
        RunInfo {
            seed: 99,
            command: "corral-chaos --seed 99 --controllers 3 --faults kill,partition".to_string(),
            controllers: 3,
            agents: 4,
            duration_ms: 60_000,
            fault_kinds: vec!["kill-leader".to_string(), "isolate-leader".to_string()],
            started_unix_ms: 1_767_323_045_000,
        }
    }

    fn rendered(history: &History, violations: &[Violation]) -> String {
        render(
            &info(),
            history,
            violations,
            &Measures::new(history),
            &crate::report::not_checked(history),
        )
    }

    #[test]
    fn the_seed_and_the_command_come_first_then_the_verdict() {
        let report = rendered(&clean_history(), &[]);
        let lines: Vec<&str> = report.lines().filter(|l| !l.is_empty()).collect();
        assert_eq!(lines[0], "# Corral chaos run, seed 99");
        assert_eq!(
            lines[1],
            "Reproduce: `corral-chaos --seed 99 --controllers 3 --faults kill,partition`"
        );
        assert_eq!(lines[2], "PASS: no violation");
        assert!(report.contains("from 2026-01-02 03:04:05 UTC"), "{report}");
        assert!(report.contains(
            "| 1 | isolate-leader | controller-1 | yes | 5.0 s | 9.0 s | 4.0 s | 5150 |"
        ));
        assert!(report.contains("## Not checked\n\n- promise 7"));
    }

    #[test]
    fn violations_are_listed_with_their_evidence_and_counted() {
        let violations = vec![
            Violation {
                checker: "acknowledged-present".to_string(),
                message: "job 2 (request r_2) was acknowledged but is missing".to_string(),
                evidence: vec!["op 2 (client 0) submit r_2: Unknown (`grpc` said <no>)".to_string()],
            },
            Violation {
                checker: "stale-reads".to_string(),
                message: "read op 3 missed 1 job".to_string(),
                evidence: (0..15).map(|i| format!("line {i}")).collect(),
            },
        ];
        let report = rendered(&clean_history(), &violations);
        assert!(report.contains("\nFAIL: 2 violations\n"));
        assert!(report.contains("### acknowledged-present (1)\n\n- job 2 (request r\\_2) was acknowledged but is missing\n  - `` op 2 (client 0) submit r_2: Unknown (`grpc` said <no>) ``\n"));
        assert!(report.contains("  - `line 11`\n  - ... and 3 more (see `report.json`)\n"));
        assert!(report.contains("| acknowledged-present | "));
        assert!(report.contains(" | 1 |\n| ids-unique-increasing |"));
    }

    #[test]
    fn dates_are_converted_from_the_epoch() {
        assert_eq!(utc(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(utc(951_782_400_000), "2000-02-29 00:00:00 UTC");
        assert_eq!(utc(1_767_225_599_000), "2025-12-31 23:59:59 UTC");
    }
}
