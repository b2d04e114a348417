//! Promise 6, elections: at most one leader per term (Raft's election
//! safety), without which a cut-off leader could commit.
//!
//! Flags every term in which the leader observations name two or more
//! different controllers as leader, citing the first claim of each.
//!
//! Cannot detect: two leaders of one term that the polling never caught
//! (a claim shorter than the polling interval), nor anything about terms
//! whose leader was never observed. A deposed leader claiming its old term
//! while another leads a newer one is legal and not flagged.

use std::collections::BTreeMap;

use super::{evidence, violation, Index, Violation};
use crate::history::{History, LeaderObservation};

pub const NAME: &str = "one-leader-per-term";

pub(crate) fn check_indexed(index: &Index) -> Vec<Violation> {
    check(index.history)
}

pub fn check(history: &History) -> Vec<Violation> {
    let mut claims: BTreeMap<u64, BTreeMap<u64, &LeaderObservation>> = BTreeMap::new();
    for observation in &history.leaders {
        if let Some(leader) = observation.leader {
            let first = claims
                .entry(observation.term)
                .or_default()
                .entry(leader)
                .or_insert(observation);
            if observation.at_ms < first.at_ms {
                *first = observation;
            }
        }
    }
    claims
        .into_iter()
        .filter(|(_, leaders)| leaders.len() > 1)
        .map(|(term, leaders)| {
            violation(
                NAME,
                format!(
                    "term {term} had {} leaders (controllers {})",
                    leaders.len(),
                    leaders
                        .keys()
                        .map(u64::to_string)
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                leaders
                    .values()
                    .map(|observation| evidence::leader(observation))
                    .collect(),
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkers::testing::*;

    #[test]
    fn one_leader_per_term_passes_even_with_a_deposed_leader_still_claiming() {
        assert_eq!(check(&clean_history()), Vec::new());
        let history = History {
            leaders: vec![
                leader_at(0, Some(1), 3),
                leader_at(100, None, 3),
                leader_at(200, Some(2), 4),
                leader_at(200, Some(1), 3),
            ],
            ..History::default()
        };
        assert_eq!(check(&history), Vec::new());
    }

    #[test]
    fn two_leaders_in_one_term_are_flagged() {
        let history = History {
            leaders: vec![
                leader_at(0, Some(1), 3),
                leader_at(200, Some(2), 3),
                leader_at(300, Some(2), 3),
            ],
            ..History::default()
        };
        let violations = check(&history);
        assert_eq!(violations.len(), 1, "{violations:?}");
        assert_eq!(violations[0].checker, NAME);
        assert_eq!(
            violations[0].message,
            "term 3 had 2 leaders (controllers 1, 2)"
        );
        assert_eq!(
            violations[0].evidence,
            vec![
                "at 0 ms controller 1 claimed to lead term 3".to_string(),
                "at 200 ms controller 2 claimed to lead term 3".to_string(),
            ]
        );
    }
}
