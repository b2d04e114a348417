//! Job dependencies (`sbatch --dependency`), evaluated as Slurm does.
//!
//! A job's conditions are resolved in `apply`, whenever a command may have
//! moved a job they name: each condition goes from unfulfilled to
//! fulfilled or failed once, and stays there, so purging the job it names
//! later changes nothing. A condition on a job id the cluster does not know
//! is fulfilled at once: Slurm 22.05 runs `--dependency=afterok:999999`
//! immediately.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::array::MAX_ARRAY_SIZE;
use crate::cluster::ClusterState;
use crate::job::{Job, JobId, JobReason, JobState};

/// What a condition waits for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum DependencyKind {
    /// The job started (or ended without starting).
    After,
    /// The job ended, whatever its state.
    AfterAny,
    /// The job completed with exit code 0.
    AfterOk,
    /// The job ended in any other way (failed, cancelled, timed out...).
    AfterNotOk,
    /// No earlier job of the same user and name is still pending or running.
    Singleton,
}

impl DependencyKind {
    pub fn slurm_name(self) -> &'static str {
        match self {
            DependencyKind::After => "after",
            DependencyKind::AfterAny => "afterany",
            DependencyKind::AfterOk => "afterok",
            DependencyKind::AfterNotOk => "afternotok",
            DependencyKind::Singleton => "singleton",
        }
    }
}

/// One condition: `afterok:12`, `afterany:7_3`, `after:5+10`, `singleton`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DependencyCondition {
    pub kind: DependencyKind,
    /// The job (or array) it names; 0 for `singleton`.
    pub job_id: JobId,
    /// `ID_N`: one task of array `job_id`; `None`: the job, or every task
    /// when `job_id` is an array.
    pub task: Option<u32>,
    /// `+time`: minutes to wait once the condition is fulfilled.
    pub delay_minutes: u32,
}

impl fmt::Display for DependencyCondition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.kind.slurm_name())?;
        if self.kind == DependencyKind::Singleton {
            return Ok(());
        }
        write!(f, ":{}", self.job_id)?;
        if let Some(task) = self.task {
            write!(f, "_{task}")?;
        }
        if self.delay_minutes > 0 {
            write!(f, "+{}", self.delay_minutes)?;
        }
        Ok(())
    }
}

/// `--dependency` as submitted: conditions joined by `,` (all must hold)
/// or by `?` (any one suffices).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DependencySpec {
    pub any: bool,
    pub conditions: Vec<DependencyCondition>,
}

/// Where one condition stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ConditionState {
    Unfulfilled,
    Fulfilled {
        at_ms: u64,
    },
    /// Can never be fulfilled (`afterok` on a job that failed).
    Failed,
}

/// A job's conditions and where each stands.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dependencies {
    pub any: bool,
    pub conditions: Vec<(DependencyCondition, ConditionState)>,
}

/// What the conditions together allow.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Resolution {
    Waiting,
    /// The job may start from this time on (delays included).
    Satisfied {
        eligible_ms: u64,
    },
    NeverSatisfied,
}

impl Dependencies {
    pub fn resolution(&self) -> Resolution {
        let eligible = |condition: &DependencyCondition, at_ms: u64| {
            at_ms.saturating_add(u64::from(condition.delay_minutes) * 60_000)
        };
        let fulfilled = self.conditions.iter().filter_map(|(c, s)| match s {
            ConditionState::Fulfilled { at_ms } => Some(eligible(c, *at_ms)),
            _ => None,
        });
        let states = || self.conditions.iter().map(|(_, state)| *state);
        if self.any {
            if let Some(eligible_ms) = fulfilled.min() {
                Resolution::Satisfied { eligible_ms }
            } else if states().any(|s| s == ConditionState::Unfulfilled) {
                Resolution::Waiting
            } else {
                Resolution::NeverSatisfied
            }
        } else if states().any(|s| s == ConditionState::Failed) {
            Resolution::NeverSatisfied
        } else if states().any(|s| s == ConditionState::Unfulfilled) {
            Resolution::Waiting
        } else {
            Resolution::Satisfied {
                eligible_ms: fulfilled.max().unwrap_or(0),
            }
        }
    }

    /// Slurm's `Dependency=` and `%E`: the conditions not yet fulfilled,
    /// with their state, or `(null)` when none is left.
    pub fn slurm_text(&self) -> String {
        let separator = if self.any { "?" } else { "," };
        let open: Vec<String> = self
            .conditions
            .iter()
            .filter_map(|(condition, state)| match state {
                ConditionState::Unfulfilled => Some(format!("{condition}(unfulfilled)")),
                ConditionState::Failed => Some(format!("{condition}(failed)")),
                ConditionState::Fulfilled { .. } => None,
            })
            .collect();
        if open.is_empty() {
            "(null)".to_string()
        } else {
            open.join(separator)
        }
    }
}

/// How one job stands against a condition on it.
fn job_state_for(kind: DependencyKind, job: &Job) -> ConditionState {
    let ended = job
        .state
        .is_terminal()
        .then_some(job.end_time_ms.unwrap_or(0));
    let ok = job.state == JobState::Completed && job.exit_status.code == 0;
    match (kind, ended) {
        (DependencyKind::After, _) => match job.start_time_ms.or(ended) {
            Some(at_ms) => ConditionState::Fulfilled { at_ms },
            None => ConditionState::Unfulfilled,
        },
        (_, None) => ConditionState::Unfulfilled,
        (DependencyKind::AfterAny, Some(at_ms)) => ConditionState::Fulfilled { at_ms },
        (DependencyKind::AfterOk, Some(at_ms)) if ok => ConditionState::Fulfilled { at_ms },
        (DependencyKind::AfterNotOk, Some(at_ms)) if !ok => ConditionState::Fulfilled { at_ms },
        (DependencyKind::AfterOk | DependencyKind::AfterNotOk, Some(_)) => ConditionState::Failed,
        (DependencyKind::Singleton, Some(_)) => unreachable!("singleton names no job"),
    }
}

impl ClusterState {
    /// The jobs a condition names: the job, one task, or every task of an
    /// array. Empty when the cluster does not know them.
    pub(crate) fn jobs_named_by(&self, condition: &DependencyCondition) -> Vec<&Job> {
        match (self.jobs.get(&condition.job_id), condition.task) {
            (Some(job), None) => vec![job],
            (Some(_), Some(_)) => Vec::new(),
            (None, task) => self
                .array_tasks(condition.job_id)
                .filter(|job| task.is_none_or(|task| job.array.is_some_and(|a| a.task_id == task)))
                .collect(),
        }
    }

    /// The tasks of array `array_job_id` still in the state. They hold the
    /// ids right after the array's own, at most `MAX_ARRAY_SIZE` of them.
    pub(crate) fn array_tasks(&self, array_job_id: JobId) -> impl Iterator<Item = &Job> + '_ {
        let first = array_job_id.saturating_add(1);
        self.jobs
            .range(first..=first.saturating_add(MAX_ARRAY_SIZE))
            .map(|(_, job)| job)
            .filter(move |job| job.array.is_some_and(|a| a.array_job_id == array_job_id))
    }

    /// Where `condition` of job `waiter` stands now.
    fn evaluate(
        &self,
        waiter: &Job,
        condition: &DependencyCondition,
        now_ms: u64,
    ) -> ConditionState {
        if condition.kind == DependencyKind::Singleton {
            let blocked = self.jobs.range(..waiter.id).any(|(_, other)| {
                !other.state.is_terminal()
                    && other.user == waiter.user
                    && other.spec.name == waiter.spec.name
            });
            return if blocked {
                ConditionState::Unfulfilled
            } else {
                ConditionState::Fulfilled { at_ms: now_ms }
            };
        }
        let named = self.jobs_named_by(condition);
        if named.is_empty() {
            return ConditionState::Fulfilled { at_ms: now_ms };
        }
        let mut latest = 0;
        for job in named {
            match job_state_for(condition.kind, job) {
                ConditionState::Fulfilled { at_ms } => latest = latest.max(at_ms),
                other => return other,
            }
        }
        ConditionState::Fulfilled { at_ms: latest }
    }

    /// The conditions of a new job, each evaluated once.
    pub(crate) fn new_dependencies(
        &self,
        waiter: &Job,
        spec: &DependencySpec,
        now_ms: u64,
    ) -> Dependencies {
        Dependencies {
            any: spec.any,
            conditions: spec
                .conditions
                .iter()
                .map(|condition| (condition.clone(), self.evaluate(waiter, condition, now_ms)))
                .collect(),
        }
    }

    /// Re-evaluates the unfulfilled conditions of every waiting job; a job
    /// leaves the waiting set once its conditions are resolved or it is no
    /// longer pending.
    pub(crate) fn resolve_dependencies(&mut self, now_ms: u64) {
        let waiting: Vec<JobId> = self.waiting.iter().copied().collect();
        for job_id in waiting {
            let Some(job) = self.jobs.get(&job_id) else {
                self.waiting.remove(&job_id);
                continue;
            };
            let Some(dependencies) = &job.dependencies else {
                self.waiting.remove(&job_id);
                continue;
            };
            if job.state != JobState::Pending {
                self.waiting.remove(&job_id);
                continue;
            }
            let updated: Vec<ConditionState> = dependencies
                .conditions
                .iter()
                .map(|(condition, state)| match state {
                    ConditionState::Unfulfilled => self.evaluate(job, condition, now_ms),
                    resolved => *resolved,
                })
                .collect();
            let job = self.jobs.get_mut(&job_id).expect("looked up above");
            let dependencies = job.dependencies.as_mut().expect("looked up above");
            for ((_, state), new) in dependencies.conditions.iter_mut().zip(updated) {
                *state = new;
            }
            let resolution = dependencies.resolution();
            if !job.reason.is_hold() {
                job.reason = match resolution {
                    Resolution::Waiting => JobReason::Dependency,
                    Resolution::NeverSatisfied => JobReason::DependencyNeverSatisfied,
                    Resolution::Satisfied { .. } => JobReason::None,
                };
            }
            if resolution != Resolution::Waiting {
                self.waiting.remove(&job_id);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn condition(kind: DependencyKind, job_id: JobId) -> DependencyCondition {
        DependencyCondition {
            kind,
            job_id,
            task: None,
            delay_minutes: 0,
        }
    }

    fn deps(any: bool, states: &[ConditionState]) -> Dependencies {
        Dependencies {
            any,
            conditions: states
                .iter()
                .enumerate()
                .map(|(i, s)| (condition(DependencyKind::AfterOk, i as JobId + 1), *s))
                .collect(),
        }
    }

    #[test]
    fn all_conditions_must_hold_with_a_comma() {
        use ConditionState::*;
        let done = Fulfilled { at_ms: 5 };
        assert_eq!(
            deps(false, &[done, Unfulfilled]).resolution(),
            Resolution::Waiting
        );
        assert_eq!(
            deps(false, &[done, Fulfilled { at_ms: 9 }]).resolution(),
            Resolution::Satisfied { eligible_ms: 9 }
        );
        assert_eq!(
            deps(false, &[Unfulfilled, Failed]).resolution(),
            Resolution::NeverSatisfied
        );
    }

    #[test]
    fn any_condition_suffices_with_a_question_mark() {
        use ConditionState::*;
        assert_eq!(
            deps(true, &[Failed, Fulfilled { at_ms: 3 }]).resolution(),
            Resolution::Satisfied { eligible_ms: 3 }
        );
        assert_eq!(
            deps(true, &[Failed, Unfulfilled]).resolution(),
            Resolution::Waiting
        );
        assert_eq!(
            deps(true, &[Failed, Failed]).resolution(),
            Resolution::NeverSatisfied
        );
    }

    #[test]
    fn a_delay_postpones_eligibility() {
        let mut dependencies = deps(false, &[ConditionState::Fulfilled { at_ms: 1_000 }]);
        dependencies.conditions[0].0.delay_minutes = 2;
        assert_eq!(
            dependencies.resolution(),
            Resolution::Satisfied {
                eligible_ms: 121_000
            }
        );
    }

    #[test]
    fn slurm_text_lists_what_is_left() {
        use ConditionState::*;
        let mut dependencies = deps(false, &[Fulfilled { at_ms: 1 }, Unfulfilled, Failed]);
        dependencies.conditions[1].0.task = Some(4);
        assert_eq!(
            dependencies.slurm_text(),
            "afterok:2_4(unfulfilled),afterok:3(failed)"
        );
        let dependencies = deps(true, &[Unfulfilled, Unfulfilled]);
        assert_eq!(
            dependencies.slurm_text(),
            "afterok:1(unfulfilled)?afterok:2(unfulfilled)"
        );
        assert_eq!(
            deps(false, &[Fulfilled { at_ms: 1 }]).slurm_text(),
            "(null)"
        );
    }
}
