//! Summary statistics of a handful of durations.

use serde::Serialize;

/// Min, median, 99th percentile and max of a sample, by nearest rank: the
/// p-th percentile is the smallest value with at least p % of the sample at
/// or below it (so the median of an even sample is its lower middle, and
/// the p99 of fewer than 100 values may be the max).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Stats {
    pub min: u64,
    pub median: u64,
    pub p99: u64,
    pub max: u64,
}

/// `None` for an empty sample.
pub fn stats(values: &[u64]) -> Option<Stats> {
    let mut sorted = values.to_vec();
    sorted.sort_unstable();
    Some(Stats {
        min: *sorted.first()?,
        median: nearest_rank(&sorted, 50),
        p99: nearest_rank(&sorted, 99),
        max: *sorted.last()?,
    })
}

/// The value at rank ceil(p/100 * n) (1-based) of a sorted, non-empty sample.
fn nearest_rank(sorted: &[u64], percent: usize) -> u64 {
    let rank = (percent * sorted.len()).div_ceil(100).max(1);
    sorted[rank - 1]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_sample_has_no_stats() {
        assert_eq!(stats(&[]), None);
    }

    #[test]
    fn one_value_is_every_statistic() {
        assert_eq!(
            stats(&[42]),
            Some(Stats {
                min: 42,
                median: 42,
                p99: 42,
                max: 42
            })
        );
    }

    #[test]
    fn the_median_of_an_even_sample_is_its_lower_middle_and_order_does_not_matter() {
        let stats = stats(&[40, 10, 30, 20]).unwrap();
        assert_eq!((stats.min, stats.median, stats.max), (10, 20, 40));
        assert_eq!(stats.p99, 40);
    }

    #[test]
    fn p99_is_by_nearest_rank() {
        let hundred: Vec<u64> = (1..=100).collect();
        let s = stats(&hundred).unwrap();
        assert_eq!((s.median, s.p99, s.max), (50, 99, 100));
        let two_hundred: Vec<u64> = (1..=200).rev().collect();
        let s = stats(&two_hundred).unwrap();
        assert_eq!((s.min, s.median, s.p99), (1, 100, 198));
        let with_outlier = [5, 5, 5, 5, 5, 5, 5, 5, 5, 1_000];
        assert_eq!(stats(&with_outlier).unwrap().p99, 1_000);
    }
}
