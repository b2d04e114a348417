//! `--array`: the task indices of a job array, in Slurm's syntax.
//!
//! Slurm's sbatch sends the text as given; slurmctld parses it and refuses
//! anything malformed with `ESLURM_INVALID_ARRAY`, which sbatch prints as
//! `sbatch: error: Batch job submission failed: Invalid job array
//! specification` (reference 95). Corral parses it before submitting and
//! answers the same.

use std::collections::BTreeSet;
use std::fmt;

use corral_state::{ArraySpec, MAX_ARRAY_SIZE};

use super::unsigned_decimal;

/// slurmctld's text for `ESLURM_INVALID_ARRAY`.
pub const INVALID_ARRAY: &str = "Invalid job array specification";

/// A malformed `--array` value; there is one message for every mistake.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InvalidArray;

impl fmt::Display for InvalidArray {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(INVALID_ARRAY)
    }
}

impl std::error::Error for InvalidArray {}

/// Parses `--array`: items separated by `,`, each `N`, `N-M` or `N-M:S`
/// (every `S`-th index from `N` to `M`), then optionally `%K`, at most `K`
/// tasks running at once: `1-5%2`, `0-15:4,20%3`.
///
/// As in slurmctld, empty items (`1,,3`, `1-3,`) are skipped, and every
/// index must be below `MaxArraySize` ([`MAX_ARRAY_SIZE`]). Corral refuses
/// what Slurm would turn into an array without tasks (an empty value) and
/// a throttle of `%0`; it does not take Slurm's undocumented brackets
/// (`[1-3]`) nor signs or spaces around the numbers.
pub fn parse_array(text: &str) -> Result<ArraySpec, InvalidArray> {
    let (list, max_running) = match text.split_once('%') {
        Some((list, throttle)) => (list, Some(parse_throttle(throttle)?)),
        None => (text, None),
    };
    let mut indices = BTreeSet::new();
    for item in list.split(',').filter(|item| !item.is_empty()) {
        indices.extend(item_indices(item)?);
    }
    if indices.is_empty() {
        return Err(InvalidArray);
    }
    Ok(ArraySpec {
        indices: indices.into_iter().collect(),
        max_running,
    })
}

/// `%K`: a positive number of tasks.
fn parse_throttle(text: &str) -> Result<u32, InvalidArray> {
    unsigned_decimal(text)
        .filter(|max| *max > 0)
        .ok_or(InvalidArray)
}

/// The indices of one item: `N`, `N-M` or `N-M:S`. A step needs a range
/// (`5:2` is refused, as in Slurm), and a range must not run backwards.
fn item_indices(item: &str) -> Result<impl Iterator<Item = u32>, InvalidArray> {
    let (range, step) = match item.split_once(':') {
        Some((range, step)) => (range, Some(unsigned_decimal(step).ok_or(InvalidArray)?)),
        None => (item, None),
    };
    let (first, last) = match (range.split_once('-'), step) {
        (Some((first, last)), _) => (index(first)?, index(last)?),
        (None, None) => (index(range)?, index(range)?),
        (None, Some(_)) => return Err(InvalidArray),
    };
    let step = usize::try_from(step.unwrap_or(1)).map_err(|_| InvalidArray)?;
    if last < first || step == 0 {
        return Err(InvalidArray);
    }
    Ok((first..=last).step_by(step))
}

/// One task index: decimal digits, below [`MAX_ARRAY_SIZE`].
fn index(text: &str) -> Result<u32, InvalidArray> {
    unsigned_decimal(text)
        .filter(|index| *index < MAX_ARRAY_SIZE)
        .ok_or(InvalidArray)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn indices(text: &str) -> Vec<u32> {
        parse_array(text).unwrap().indices
    }

    #[test]
    fn single_indices_ranges_and_steps() {
        assert_eq!(indices("7"), vec![7]);
        assert_eq!(indices("0"), vec![0]);
        assert_eq!(indices("1-5"), vec![1, 2, 3, 4, 5]);
        assert_eq!(indices("3-3"), vec![3]);
        assert_eq!(indices("0-15:4"), vec![0, 4, 8, 12]);
        assert_eq!(indices("1-10:3"), vec![1, 4, 7, 10]);
        assert_eq!(indices("1-3:100"), vec![1]);
        assert_eq!(indices("0-1000"), (0..=1000).collect::<Vec<_>>());
        assert_eq!(indices("1-3:4294967295"), vec![1]);
    }

    #[test]
    fn items_are_merged_sorted_and_distinct() {
        assert_eq!(indices("9,1-3,2"), vec![1, 2, 3, 9]);
        assert_eq!(indices("0-15:4,20"), vec![0, 4, 8, 12, 20]);
        assert_eq!(indices("5,5,5"), vec![5]);
        assert_eq!(indices("1,,3"), vec![1, 3], "empty items are skipped");
        assert_eq!(indices("1-2,"), vec![1, 2]);
        assert_eq!(indices("007"), vec![7]);
    }

    #[test]
    fn a_throttle_ends_the_list() {
        let spec = parse_array("1-5%2").unwrap();
        assert_eq!(spec.indices, vec![1, 2, 3, 4, 5]);
        assert_eq!(spec.max_running, Some(2));
        let spec = parse_array("0-15:4,20%3").unwrap();
        assert_eq!(spec.indices, vec![0, 4, 8, 12, 20]);
        assert_eq!(spec.max_running, Some(3));
        assert_eq!(parse_array("1-5").unwrap().max_running, None);
        assert_eq!(parse_array("4%100000").unwrap().max_running, Some(100_000));
    }

    #[test]
    fn malformed_values_are_refused() {
        for text in [
            "",
            "abc",
            "5-1",
            "1-3:0",
            "%0",
            "1-5%0",
            "1-5%",
            "%3",
            "1-5%2%3",
            "1-5%x",
            "1001",
            "0-1001",
            "1000-1001",
            "99999999999",
            "-1",
            "1-",
            "-3",
            "1--3",
            "1-3-5",
            "1-3:",
            "1-3:2:2",
            "5:2",
            "1-3:-1",
            ",",
            ",,",
            " 1",
            "1 ",
            "+1",
            "1.5",
            "[1-3]",
            "1;2",
            "a-b",
            "1-3%2,4",
            "٣",
        ] {
            assert_eq!(parse_array(text), Err(InvalidArray), "{text:?}");
        }
    }

    #[test]
    fn the_error_reads_as_slurm_prints_it() {
        assert_eq!(InvalidArray.to_string(), "Invalid job array specification");
    }

    /// The indices of `first-last:step`, by counting.
    fn expected(first: u32, last: u32, step: u32) -> Vec<u32> {
        (first..=last)
            .filter(|i| (i - first).is_multiple_of(step))
            .collect()
    }

    proptest! {
        #[test]
        fn any_text_parses_or_is_refused(text in "[0-9,:%-]{0,16}|\\PC{0,16}") {
            if let Ok(spec) = parse_array(&text) {
                prop_assert!(!spec.indices.is_empty());
                prop_assert!(spec.indices.windows(2).all(|pair| pair[0] < pair[1]));
                prop_assert!(spec.indices.iter().all(|i| *i < MAX_ARRAY_SIZE));
                prop_assert!(spec.max_running != Some(0));
            }
        }

        #[test]
        fn compact_text_parses_back_to_its_indices(
            set in prop::collection::btree_set(0..MAX_ARRAY_SIZE, 1..40),
            max_running in prop::option::of(1u32..50),
        ) {
            let indices: Vec<u32> = set.into_iter().collect();
            let text = ArraySpec::compact(&indices, max_running);
            let spec = parse_array(&text).unwrap();
            prop_assert_eq!(spec.indices, indices);
            prop_assert_eq!(spec.max_running, max_running);
        }

        #[test]
        fn stepped_ranges_give_every_step_th_index(
            items in prop::collection::vec((0..MAX_ARRAY_SIZE, 0u32..200, 1u32..20), 1..6),
        ) {
            let mut text = Vec::new();
            let mut model = BTreeSet::new();
            for (first, length, step) in items {
                let last = (first + length).min(MAX_ARRAY_SIZE - 1);
                text.push(format!("{first}-{last}:{step}"));
                model.extend(expected(first, last, step));
            }
            let spec = parse_array(&text.join(",")).unwrap();
            prop_assert_eq!(spec.indices, model.into_iter().collect::<Vec<_>>());
        }
    }
}
