//! Order statistics of benchmark samples.

use super::report::Json;

/// The median, spread and tail of one set of samples.
#[derive(Clone, Debug, PartialEq)]
pub struct Summary {
    pub count: usize,
    pub min: f64,
    pub median: f64,
    pub p90: f64,
    pub p99: f64,
    pub max: f64,
}

impl Summary {
    /// `None` when there are no samples.
    pub fn of(samples: &[f64]) -> Option<Summary> {
        let mut sorted = samples.to_vec();
        sorted.sort_by(f64::total_cmp);
        Some(Summary {
            count: sorted.len(),
            min: *sorted.first()?,
            median: median(&sorted),
            p90: percentile(&sorted, 90.0),
            p99: percentile(&sorted, 99.0),
            max: *sorted.last()?,
        })
    }

    pub fn to_json(&self) -> Json {
        Json::object([
            ("count", Json::count(self.count)),
            ("min", Json::Number(self.min)),
            ("median", Json::Number(self.median)),
            ("p90", Json::Number(self.p90)),
            ("p99", Json::Number(self.p99)),
            ("max", Json::Number(self.max)),
        ])
    }
}

/// The summary of `samples` as JSON, `null` when there are none.
pub fn summary_json(samples: &[f64]) -> Json {
    Summary::of(samples).map_or(Json::Null, |summary| summary.to_json())
}

/// The middle sample, or the mean of the two middle ones.
fn median(sorted: &[f64]) -> f64 {
    let middle = sorted.len() / 2;
    if sorted.len() % 2 == 1 {
        sorted[middle]
    } else {
        (sorted[middle - 1] + sorted[middle]) / 2.0
    }
}

/// Nearest-rank percentile: the smallest sample with at least `percent` of
/// the samples at or below it. With fewer than 100 samples p99 is the maximum.
fn percentile(sorted: &[f64], percent: f64) -> f64 {
    let rank = (percent / 100.0 * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

#[cfg(test)]
mod tests {
    use super::Summary;

    #[test]
    fn one_to_a_hundred() {
        let samples: Vec<f64> = (1..=100).rev().map(f64::from).collect();
        let summary = Summary::of(&samples).unwrap();
        assert_eq!(
            (
                summary.min,
                summary.median,
                summary.p90,
                summary.p99,
                summary.max
            ),
            (1.0, 50.5, 90.0, 99.0, 100.0)
        );
        assert_eq!(summary.count, 100);
    }

    #[test]
    fn few_samples_have_the_maximum_as_p99() {
        let summary = Summary::of(&[3.0, 1.0, 2.0]).unwrap();
        assert_eq!((summary.median, summary.p99), (2.0, 3.0));
        let single = Summary::of(&[7.0]).unwrap();
        assert_eq!((single.min, single.median, single.max), (7.0, 7.0, 7.0));
    }

    #[test]
    fn no_samples_no_summary() {
        assert_eq!(Summary::of(&[]), None);
    }
}
