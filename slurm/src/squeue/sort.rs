//! squeue's `-S/--sort` (`squeue/sort.c`): a list of field letters, each
//! optionally after `+` (ascending, the default) or `-` (descending),
//! separated by commas or nothing (`P,t,-p` or `Pt-p`), and the word
//! `cluster`. Slurm sorts stably by each key from the last to the first,
//! so the first key decides and later keys break ties.
//!
//! Before the keys, jobs are ordered by start time, latest first, jobs
//! without one last (`sort_jobs_by_start_time`), then by id: that is the
//! order left among jobs equal on every key.
//!
//! Letters squeue accepts but does not sort on (`c f h n O`) change
//! nothing; `b` prints `squeue: Invalid sort specification: b` and changes
//! nothing; any other letter is `squeue: error: Invalid sort
//! specification: X`, exit 1, after the header line, as in Slurm.

use std::cmp::Ordering;

use corral_state::{Job, JobState};

use crate::cluster_view::hostlist_order;
use crate::display::{DisplayContext, LimitView};
use crate::error::{error_line, SlurmError, EXIT_FAILURE};
use crate::scontrol::JobTimes;
use crate::time::TimeLimit;

/// Slurm's default: partition, state, priority from high to low.
pub const DEFAULT_SORT: &str = "P,t,-p";
/// `--start` without `-S`: by start time.
pub const START_SORT: &str = "S";

/// What a sort key compares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SortKey {
    BatchHost,
    Cpus,
    TmpDisk,
    Nodes,
    EndTime,
    GroupName,
    GroupId,
    /// `H I J z`: sockets, cores, threads; Corral's jobs never set them.
    Topology,
    JobId,
    Name,
    TimeLimit,
    TimeLeft,
    MinMemory,
    TimeUsed,
    NodeList,
    Priority,
    Partition,
    StartTime,
    StateCompact,
    State,
    UserName,
    UserId,
    /// `v`: no job has a reservation.
    Reservation,
    SubmitTime,
    /// `cluster`: one cluster only.
    Cluster,
}

/// A parsed `-S` list, in the order written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SortSpec {
    /// Key and whether it is descending.
    keys: Vec<(SortKey, bool)>,
    /// What squeue prints on stderr while reading it (`b`), carrying on.
    pub notes: Vec<String>,
}

const CLUSTER_WORD: &str = "cluster";

impl SortSpec {
    /// Reads a sort list as Slurm's loop reads it, from the end.
    pub fn parse(text: &str) -> Result<SortSpec, SlurmError> {
        let chars: Vec<char> = text.chars().collect();
        let word: Vec<char> = CLUSTER_WORD.chars().collect();
        let mut keys = Vec::new();
        let mut notes = Vec::new();
        let mut index = chars.len();
        while index > 0 {
            index -= 1;
            let letter = chars[index];
            if matches!(letter, ',' | '+' | '-') {
                continue;
            }
            let end = index + 1;
            if end >= word.len()
                && chars[end - word.len()..end]
                    .iter()
                    .zip(&word)
                    .all(|(c, w)| c.eq_ignore_ascii_case(w))
            {
                let start = end - word.len();
                let descending = start > 0 && chars[start - 1] == '-';
                keys.push((SortKey::Cluster, descending));
                index = start;
                continue;
            }
            let descending = index > 0 && chars[index - 1] == '-';
            let key = match letter {
                'B' => SortKey::BatchHost,
                'b' => {
                    notes.push("squeue: Invalid sort specification: b".to_string());
                    continue;
                }
                'c' | 'f' | 'h' | 'n' | 'O' => continue,
                'C' => SortKey::Cpus,
                'd' => SortKey::TmpDisk,
                'D' => SortKey::Nodes,
                'e' => SortKey::EndTime,
                'g' => SortKey::GroupName,
                'G' => SortKey::GroupId,
                'H' | 'I' | 'J' | 'z' => SortKey::Topology,
                'i' => SortKey::JobId,
                'j' => SortKey::Name,
                'l' => SortKey::TimeLimit,
                'L' => SortKey::TimeLeft,
                'm' => SortKey::MinMemory,
                'M' => SortKey::TimeUsed,
                'N' => SortKey::NodeList,
                'p' | 'Q' => SortKey::Priority,
                'P' => SortKey::Partition,
                'S' => SortKey::StartTime,
                't' => SortKey::StateCompact,
                'T' => SortKey::State,
                'u' => SortKey::UserName,
                'U' => SortKey::UserId,
                'v' => SortKey::Reservation,
                'V' => SortKey::SubmitTime,
                other => {
                    return Err(SlurmError::new(
                        vec![error_line(
                            "squeue",
                            &format!("Invalid sort specification: {other}"),
                        )],
                        EXIT_FAILURE,
                    ));
                }
            };
            keys.push((key, descending));
        }
        keys.reverse();
        Ok(SortSpec { keys, notes })
    }

    /// Sorts jobs as squeue prints them.
    pub fn sort(&self, jobs: &mut [Job], context: &DisplayContext) {
        jobs.sort_by_key(|job| job.id);
        jobs.sort_by_key(|job| std::cmp::Reverse(start_rank(job)));
        jobs.sort_by(|a, b| {
            self.keys
                .iter()
                .map(|(key, descending)| {
                    let order = compare(*key, a, b, context);
                    if *descending {
                        order.reverse()
                    } else {
                        order
                    }
                })
                .find(|order| order.is_ne())
                .unwrap_or(Ordering::Equal)
        });
    }
}

/// The start time the first, pre-key sort uses: none sorts lowest.
fn start_rank(job: &Job) -> u64 {
    job.start_time_ms.unwrap_or(0)
}

/// Slurm's `INFINITE` and `NO_VAL` time limits, which sort above any limit.
const LIMIT_INFINITE: u64 = 0xffff_ffff;
const LIMIT_NOT_SET: u64 = 0xffff_fffe;

fn limit_rank(limit: LimitView) -> u64 {
    match limit {
        LimitView::Limit(TimeLimit::Minutes(minutes)) => u64::from(minutes),
        LimitView::Limit(TimeLimit::Unlimited) => LIMIT_INFINITE,
        LimitView::NotSet => LIMIT_NOT_SET,
    }
}

fn compare(key: SortKey, a: &Job, b: &Job, context: &DisplayContext) -> Ordering {
    let by = |f: &dyn Fn(&Job) -> i128| f(a).cmp(&f(b));
    match key {
        SortKey::BatchHost => {
            let host = |job: &Job| context.nodes(job).first().cloned().unwrap_or_default();
            host(a).cmp(&host(b))
        }
        SortKey::Cpus => by(&|job| i128::from(context.cpu_count(job))),
        SortKey::Nodes => by(&|job| i128::from(context.node_count(job))),
        SortKey::EndTime => {
            by(&|job| i128::from(JobTimes::of(job, context).end_ms.unwrap_or(0) / 1_000))
        }
        SortKey::GroupName => {
            let name = |job: &Job| {
                context
                    .group_names
                    .get(&job.gid)
                    .cloned()
                    .unwrap_or_default()
            };
            name(a).cmp(&name(b))
        }
        SortKey::GroupId => by(&|job| i128::from(job.gid)),
        SortKey::JobId => {
            let id = |job: &Job| match job.array {
                Some(task) => (task.array_job_id, task.task_id),
                None => (job.id, u32::MAX - 1),
            };
            id(a).cmp(&id(b))
        }
        SortKey::Name => a.spec.name.cmp(&b.spec.name),
        SortKey::TimeLimit => by(&|job| i128::from(limit_rank(context.time_limit(job)))),
        SortKey::TimeLeft => by(&|job| match context.time_limit(job) {
            LimitView::Limit(TimeLimit::Minutes(minutes)) => {
                i128::from(minutes) * 60 - i128::from(context.time_used_seconds(job))
            }
            _ => i128::from(LIMIT_INFINITE),
        }),
        SortKey::MinMemory => by(&|job| i128::from(job.spec.memory_per_node_mb.unwrap_or(0))),
        SortKey::TimeUsed => by(&|job| i128::from(context.time_used_seconds(job))),
        SortKey::NodeList => {
            let first = |job: &Job| {
                let mut names = context.nodes(job).to_vec();
                names.sort_by(|x, y| hostlist_order(x, y));
                names.into_iter().next()
            };
            match (first(a), first(b)) {
                (Some(x), Some(y)) => hostlist_order(&x, &y),
                (x, y) => x.is_some().cmp(&y.is_some()),
            }
        }
        SortKey::Priority => by(&|job| i128::from(context.priority(job))),
        SortKey::Partition => a.partition.cmp(&b.partition),
        SortKey::StartTime => by(&|job| start_time_key(job, context)),
        SortKey::StateCompact => a.state.slurm_short_name().cmp(b.state.slurm_short_name()),
        SortKey::State => a.state.slurm_name().cmp(b.state.slurm_name()),
        SortKey::UserName => a.user.cmp(&b.user),
        SortKey::UserId => by(&|job| i128::from(job.uid)),
        SortKey::SubmitTime => by(&|job| i128::from(job.submit_time_ms / 1_000)),
        SortKey::TmpDisk | SortKey::Topology | SortKey::Reservation | SortKey::Cluster => {
            Ordering::Equal
        }
    }
}

/// `S`: a start time, or now for a pending job whose time has passed. A
/// job without one sorts after every job with one, as capture 15 (`squeue
/// --start`) shows.
fn start_time_key(job: &Job, context: &DisplayContext) -> i128 {
    match job.start_time_ms {
        None => i128::MAX,
        Some(ms) if job.state == JobState::Pending && ms < context.now_ms => {
            i128::from(context.now_ms)
        }
        Some(ms) => i128::from(ms),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::display::tests::job;
    use proptest::prelude::*;

    fn ids(jobs: &[Job]) -> Vec<u32> {
        jobs.iter().map(|job| job.id).collect()
    }

    #[test]
    fn default_sort_is_partition_state_then_priority() {
        let mut context = DisplayContext::new(0, 0);
        let mut jobs = vec![
            job(1, "a", JobState::Running),
            job(2, "b", JobState::Pending),
            job(3, "c", JobState::Pending),
            job(4, "d", JobState::Completing),
        ];
        jobs[0].partition = "zeta".to_string();
        context.priorities = [(1, 9), (2, 5), (3, 7), (4, 1)].into_iter().collect();
        SortSpec::parse(DEFAULT_SORT)
            .unwrap()
            .sort(&mut jobs, &context);
        // debug: CG before PD (by the compact name), then priority high first.
        assert_eq!(ids(&jobs), vec![4, 3, 2, 1]);
    }

    #[test]
    fn signs_commas_and_cluster() {
        let spec = SortSpec::parse("-j,+i").unwrap();
        assert_eq!(
            spec.keys,
            vec![(SortKey::Name, true), (SortKey::JobId, false)]
        );
        let spec = SortSpec::parse("Pt-p").unwrap();
        assert_eq!(
            spec.keys,
            vec![
                (SortKey::Partition, false),
                (SortKey::StateCompact, false),
                (SortKey::Priority, true)
            ]
        );
        let spec = SortSpec::parse("-cluster,N").unwrap();
        assert_eq!(
            spec.keys,
            vec![(SortKey::Cluster, true), (SortKey::NodeList, false)]
        );
        let mut jobs = vec![
            job(1, "b", JobState::Pending),
            job(2, "a", JobState::Pending),
            job(3, "b", JobState::Pending),
        ];
        SortSpec::parse("-j,-i")
            .unwrap()
            .sort(&mut jobs, &DisplayContext::new(0, 0));
        assert_eq!(ids(&jobs), vec![3, 1, 2]);
    }

    #[test]
    fn malformed_sort_lists() {
        let error = SortSpec::parse("P,x").unwrap_err();
        assert_eq!(
            error.stderr_text(),
            "squeue: error: Invalid sort specification: x\n"
        );
        assert_eq!(error.exit_code, 1);
        assert_eq!(
            SortSpec::parse("P,é").unwrap_err().stderr_text(),
            "squeue: error: Invalid sort specification: é\n"
        );
        let spec = SortSpec::parse("b,c,f,h,n,O").unwrap();
        assert!(spec.keys.is_empty());
        assert_eq!(spec.notes, vec!["squeue: Invalid sort specification: b"]);
        assert!(SortSpec::parse("").unwrap().keys.is_empty());
        assert!(SortSpec::parse(",,-+").unwrap().keys.is_empty());
    }

    #[test]
    fn start_times_first_known_then_unknown() {
        let context = DisplayContext::new(1_000_000, 0);
        let mut later = job(12, "later", JobState::Pending);
        later.start_time_ms = Some(5_000_000);
        let mut jobs = vec![
            job(9, "a", JobState::Pending),
            later,
            job(10, "b", JobState::Pending),
        ];
        SortSpec::parse(START_SORT)
            .unwrap()
            .sort(&mut jobs, &context);
        assert_eq!(ids(&jobs), vec![12, 9, 10]);
    }

    proptest! {
        #[test]
        fn any_sort_text_parses_or_errs(text in "\\PC{0,20}") {
            if let Ok(spec) = SortSpec::parse(&text) {
                let mut jobs = vec![job(1, "a", JobState::Running), job(2, "b", JobState::Pending)];
                spec.sort(&mut jobs, &DisplayContext::new(0, 0));
            }
        }
    }
}
