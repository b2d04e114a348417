//! `report.json`: top-level keys `seed`, `faults`, `violations`,
//! `failover_ms`, `unreported_ms`, `operations`, `not_checked`, and no
//! others. Statistics are `null` when there was nothing to measure.

use std::collections::BTreeMap;

use serde::Serialize;

use super::measures::{Measures, OutcomeCounts};
use super::stats::Stats;
use super::RunInfo;
use crate::checkers::NotChecked;
use crate::history::{History, Violation};

#[derive(Serialize)]
struct Report<'a> {
    seed: u64,
    faults: Vec<FaultEntry<'a>>,
    violations: &'a [Violation],
    failover_ms: FailoverEntry,
    unreported_ms: UnreportedEntry,
    operations: &'a BTreeMap<&'static str, OutcomeCounts>,
    not_checked: &'a [NotChecked],
}

#[derive(Serialize)]
struct FaultEntry<'a> {
    id: u64,
    kind: &'a str,
    targets: &'a [String],
    hit_leader: bool,
    start_ms: u64,
    /// `null`: never healed.
    heal_ms: Option<u64>,
    /// Only for a fault that hit the leader; `null` otherwise or if no
    /// submission was acknowledged after it.
    failover_ms: Option<u64>,
    detail: &'a str,
}

/// Statistics, every value `null` for an empty sample.
#[derive(Serialize)]
struct StatsEntry {
    min: Option<u64>,
    median: Option<u64>,
    p99: Option<u64>,
    max: Option<u64>,
    samples: usize,
}

impl StatsEntry {
    fn new(stats: Option<Stats>, samples: usize) -> StatsEntry {
        StatsEntry {
            min: stats.map(|s| s.min),
            median: stats.map(|s| s.median),
            p99: stats.map(|s| s.p99),
            max: stats.map(|s| s.max),
            samples,
        }
    }
}

#[derive(Serialize)]
struct FailoverEntry {
    #[serde(flatten)]
    stats: StatsEntry,
    /// Faults that hit the leader after which no submission was acknowledged.
    unrecovered: usize,
}

#[derive(Serialize)]
struct UnreportedEntry {
    /// Jobs whose script ended while no leader was known or during a fault.
    #[serde(flatten)]
    disturbed: StatsEntry,
    steady: StatsEntry,
}

pub(super) fn render(
    info: &RunInfo,
    history: &History,
    violations: &[Violation],
    measures: &Measures,
    not_checked: &[NotChecked],
) -> String {
    let recovered = measures
        .failovers
        .iter()
        .filter(|f| f.recovered_ms.is_some())
        .count();
    let report = Report {
        seed: info.seed,
        faults: history
            .faults
            .iter()
            .map(|fault| FaultEntry {
                id: fault.id,
                kind: &fault.kind,
                targets: &fault.targets,
                hit_leader: fault.hit_leader,
                start_ms: fault.started_ms,
                heal_ms: fault.healed_ms,
                failover_ms: measures.failover_of(fault.id).and_then(|f| f.recovered_ms),
                detail: &fault.detail,
            })
            .collect(),
        violations,
        failover_ms: FailoverEntry {
            stats: StatsEntry::new(measures.failover_ms, recovered),
            unrecovered: measures.failovers.len() - recovered,
        },
        unreported_ms: UnreportedEntry {
            disturbed: StatsEntry::new(
                measures.unreported_disturbed_ms,
                measures.unreported_disturbed_count,
            ),
            steady: StatsEntry::new(
                measures.unreported_steady_ms,
                measures.unreported_steady_count,
            ),
        },
        operations: &measures.operations,
        not_checked,
    };
    let mut text = serde_json::to_string_pretty(&report).expect("the report serializes");
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkers::testing::*;
    use serde_json::Value;

    fn rendered(history: &History, violations: &[Violation]) -> Value {
        let info = RunInfo {
            seed: 1234,
            ..RunInfo::default()
        };
        let measures = Measures::new(history);
        let text = render(
            &info,
            history,
            violations,
            &measures,
            &crate::report::not_checked(history),
        );
        serde_json::from_str(&text).unwrap()
    }

    #[test]
    fn the_top_level_keys_are_exactly_the_documented_ones() {
        let json = rendered(&clean_history(), &[]);
        let keys: Vec<&str> = json
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        let mut expected = vec![
            "seed",
            "faults",
            "violations",
            "failover_ms",
            "unreported_ms",
            "operations",
            "not_checked",
        ];
        expected.sort_unstable();
        let mut keys = keys;
        keys.sort_unstable();
        assert_eq!(keys, expected);
        assert_eq!(json["seed"], 1234);
        assert_eq!(json["violations"], Value::Array(vec![]));
    }

    #[test]
    fn faults_failover_and_operations_are_reported() {
        let json = rendered(&clean_history(), &[]);
        let fault = &json["faults"][0];
        assert_eq!(fault["kind"], "isolate-leader");
        assert_eq!(fault["targets"][0], "controller-1");
        assert_eq!(fault["start_ms"], 5_000);
        assert_eq!(fault["heal_ms"], 9_000);
        // The first submission invoked after 5000 ms acknowledged at 10150 ms.
        assert_eq!(fault["failover_ms"], 5_150);
        assert_eq!(json["failover_ms"]["min"], 5_150);
        assert_eq!(json["failover_ms"]["p99"], 5_150);
        assert_eq!(json["failover_ms"]["samples"], 1);
        assert_eq!(json["operations"]["submit"]["unknown"], 1);
        assert_eq!(
            json["not_checked"][0]["what"].as_str().unwrap().get(..9),
            Some("promise 7")
        );
    }

    #[test]
    fn statistics_are_null_without_samples_and_violations_carry_their_evidence() {
        let violation = Violation {
            checker: "acknowledged-present".to_string(),
            message: "job 2 lost".to_string(),
            evidence: vec!["op 2".to_string()],
        };
        let json = rendered(&History::default(), std::slice::from_ref(&violation));
        for key in ["min", "median", "p99", "max"] {
            assert_eq!(json["failover_ms"][key], Value::Null, "{key}");
            assert_eq!(json["unreported_ms"][key], Value::Null, "{key}");
            assert_eq!(json["unreported_ms"]["steady"][key], Value::Null, "{key}");
        }
        assert_eq!(json["violations"][0]["checker"], "acknowledged-present");
        assert_eq!(json["violations"][0]["message"], "job 2 lost");
        assert_eq!(json["violations"][0]["evidence"][0], "op 2");
    }
}
