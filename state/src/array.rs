//! Job arrays (`sbatch --array`): one submission, one task per index.
//!
//! A submission with an [`ArraySpec`] creates one job per index at once,
//! with consecutive job ids; the first id is the array job id (Slurm's
//! `ArrayJobId`, `%A`), so the tasks of array `A` are exactly the jobs
//! `A ..= A + count - 1` whose [`ArrayTask::array_job_id`] is `A`.

use serde::{Deserialize, Serialize};

use crate::job::JobId;

/// Slurm's default `MaxArraySize`: every index must be below it.
pub const MAX_ARRAY_SIZE: u32 = 1001;

/// `--array=1-9:2,20%3`: the task indices, sorted and distinct, and how
/// many tasks may run at once (`%N`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArraySpec {
    pub indices: Vec<u32>,
    pub max_running: Option<u32>,
}

impl ArraySpec {
    /// `SLURM_ARRAY_TASK_STEP`: the common difference of the indices when
    /// they are one arithmetic progression, else 1.
    pub fn step(&self) -> u32 {
        let mut gaps = self.indices.windows(2).map(|pair| pair[1] - pair[0]);
        match gaps.next() {
            Some(first) if gaps.all(|gap| gap == first) => first,
            _ => 1,
        }
    }

    /// Slurm's compact form of some of the indices, with the throttle:
    /// `1-3,7`, `3-4%2`. `indices` must be sorted.
    pub fn compact(indices: &[u32], max_running: Option<u32>) -> String {
        let mut text = compact_indices(indices);
        if let Some(max) = max_running {
            text.push_str(&format!("%{max}"));
        }
        text
    }
}

/// `1,2,3,7` → `1-3,7`: runs of consecutive indices as ranges (Slurm's
/// `bit_fmt`; it writes no steps).
fn compact_indices(indices: &[u32]) -> String {
    let mut parts = Vec::new();
    let mut i = 0;
    while i < indices.len() {
        let mut end = i;
        while end + 1 < indices.len() && indices[end + 1] == indices[end] + 1 {
            end += 1;
        }
        parts.push(if end == i {
            indices[i].to_string()
        } else {
            format!("{}-{}", indices[i], indices[end])
        });
        i = end + 1;
    }
    parts.join(",")
}

/// The array a job is a task of.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArrayTask {
    pub array_job_id: JobId,
    pub task_id: u32,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compacts_like_slurm() {
        assert_eq!(ArraySpec::compact(&[1, 2, 3, 4, 5], None), "1-5");
        assert_eq!(ArraySpec::compact(&[3, 4], Some(2)), "3-4%2");
        assert_eq!(ArraySpec::compact(&[1, 2, 3, 7], None), "1-3,7");
        assert_eq!(ArraySpec::compact(&[1, 3, 5, 7, 9], None), "1,3,5,7,9");
        assert_eq!(ArraySpec::compact(&[1, 3], None), "1,3");
        assert_eq!(ArraySpec::compact(&[0, 1, 3], None), "0-1,3");
        assert_eq!(ArraySpec::compact(&[5], None), "5");
        assert_eq!(ArraySpec::compact(&[], None), "");
    }

    #[test]
    fn step_is_the_common_difference() {
        let spec = |indices: Vec<u32>| ArraySpec {
            indices,
            max_running: None,
        };
        assert_eq!(spec(vec![1, 3, 5]).step(), 2);
        assert_eq!(spec(vec![1, 2, 5]).step(), 1);
        assert_eq!(spec(vec![7]).step(), 1);
    }
}
