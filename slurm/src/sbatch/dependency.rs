//! `--dependency`: the conditions a job waits for, in Slurm's syntax.
//!
//! Slurm's sbatch sends the text as given; slurmctld parses it and refuses
//! anything malformed with `ESLURM_DEPENDENCY`, which sbatch prints as
//! `sbatch: error: Batch job submission failed: Job dependency problem`.
//! Corral parses it before submitting and answers the same. A well-formed
//! condition on a job the cluster does not know is accepted (Slurm runs
//! such a job at once, reference 94); the controller resolves that.

use std::fmt;

use corral_state::{DependencyCondition, DependencyKind, DependencySpec};

use super::unsigned_decimal;

/// slurmctld's text for `ESLURM_DEPENDENCY`.
pub const DEPENDENCY_PROBLEM: &str = "Job dependency problem";

/// Why a `--dependency` value was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DependencyError {
    /// Malformed: Slurm's `Job dependency problem`.
    Invalid,
    /// A Slurm dependency type Corral does not implement (`aftercorr`,
    /// `afterburstbuffer`), by its name.
    Unsupported(&'static str),
}

impl fmt::Display for DependencyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DependencyError::Invalid => f.write_str(DEPENDENCY_PROBLEM),
            DependencyError::Unsupported(kind) => {
                write!(f, "--dependency={kind} is not supported by Corral yet")
            }
        }
    }
}

impl std::error::Error for DependencyError {}

/// The types a condition may name, as Slurm spells them (in any case).
const KINDS: [(&str, DependencyKind); 5] = [
    ("after", DependencyKind::After),
    ("afterany", DependencyKind::AfterAny),
    ("afterok", DependencyKind::AfterOk),
    ("afternotok", DependencyKind::AfterNotOk),
    ("singleton", DependencyKind::Singleton),
];

/// Slurm 22.05 types Corral recognises but cannot evaluate.
const UNSUPPORTED_KINDS: [&str; 2] = ["aftercorr", "afterburstbuffer"];

/// Parses `--dependency`. `Ok(None)`: no dependency at all, which is what
/// slurmctld makes of an empty value or `0` (so a later `--dependency=`
/// cancels one given in the script).
///
/// Conditions are separated by `,` (all must hold) or by `?` (any one
/// suffices); one value cannot mix both. A condition is `singleton` or
/// `TYPE:ID[:ID...]` with `TYPE` one of `after`, `afterany`, `afterok`,
/// `afternotok`; each `ID` is a job id (`123`), one task of an array
/// (`123_4`) or every task of it (`123_*`), optionally followed by `+MIN`,
/// minutes to wait once that condition holds (the man page documents it
/// for `after`, slurmctld takes it for every type). Each `ID` makes one
/// condition: `afterok:1:2` is two. A repeated condition counts once.
/// Slurm's older form, a lone job id, is `afterany` on that job.
pub fn parse_dependency(text: &str) -> Result<Option<DependencySpec>, DependencyError> {
    if text.is_empty() || text == "0" {
        return Ok(None);
    }
    if let Some(condition) = lone_job_id(text) {
        return Ok(Some(DependencySpec {
            any: false,
            conditions: vec![condition],
        }));
    }
    let any = text.contains('?');
    if any && text.contains(',') {
        return Err(DependencyError::Invalid);
    }
    let mut conditions: Vec<DependencyCondition> = Vec::new();
    for item in text.split(if any { '?' } else { ',' }) {
        for condition in parse_item(item)? {
            if !conditions.contains(&condition) {
                conditions.push(condition);
            }
        }
    }
    Ok(Some(DependencySpec { any, conditions }))
}

/// Slurm's "old format": the whole value is one job (or task) id.
fn lone_job_id(text: &str) -> Option<DependencyCondition> {
    if text.contains('+') {
        return None;
    }
    parse_target(DependencyKind::AfterAny, text)
}

/// One item between separators: `singleton` or `TYPE:ID[:ID...]`.
fn parse_item(item: &str) -> Result<Vec<DependencyCondition>, DependencyError> {
    let (name, ids) = match item.split_once(':') {
        Some((name, ids)) => (name, Some(ids)),
        None => (item, None),
    };
    match (kind_named(name)?, ids) {
        (DependencyKind::Singleton, None) => Ok(vec![DependencyCondition {
            kind: DependencyKind::Singleton,
            job_id: 0,
            task: None,
            delay_minutes: 0,
        }]),
        (DependencyKind::Singleton, Some(_)) | (_, None) => Err(DependencyError::Invalid),
        (kind, Some(ids)) => ids
            .split(':')
            .map(|id| parse_target(kind, id).ok_or(DependencyError::Invalid))
            .collect(),
    }
}

fn kind_named(name: &str) -> Result<DependencyKind, DependencyError> {
    if let Some((_, kind)) = KINDS
        .iter()
        .find(|(known, _)| known.eq_ignore_ascii_case(name))
    {
        return Ok(*kind);
    }
    match UNSUPPORTED_KINDS
        .iter()
        .find(|known| known.eq_ignore_ascii_case(name))
    {
        Some(known) => Err(DependencyError::Unsupported(known)),
        None => Err(DependencyError::Invalid),
    }
}

/// `ID`, `ID_TASK` or `ID_*`, then optionally `+MIN`. The job id must be
/// positive, the delay at least a minute (slurmctld refuses `+0`).
fn parse_target(kind: DependencyKind, text: &str) -> Option<DependencyCondition> {
    let (target, delay_minutes) = match text.split_once('+') {
        Some((target, delay)) => (target, positive(delay)?),
        None => (text, 0),
    };
    let (job, task) = match target.split_once('_') {
        Some((job, "*")) => (job, None),
        Some((job, task)) => (job, Some(unsigned_decimal(task)?)),
        None => (target, None),
    };
    Some(DependencyCondition {
        kind,
        job_id: positive(job)?,
        task,
        delay_minutes,
    })
}

fn positive(text: &str) -> Option<u32> {
    unsigned_decimal(text).filter(|value| *value > 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use corral_state::JobId;
    use proptest::prelude::*;
    use DependencyKind::*;

    fn condition(kind: DependencyKind, job_id: JobId) -> DependencyCondition {
        DependencyCondition {
            kind,
            job_id,
            task: None,
            delay_minutes: 0,
        }
    }

    fn parsed(text: &str) -> DependencySpec {
        parse_dependency(text).unwrap().unwrap()
    }

    #[test]
    fn one_condition_per_job_id() {
        assert_eq!(
            parsed("afterok:12"),
            DependencySpec {
                any: false,
                conditions: vec![condition(AfterOk, 12)],
            }
        );
        assert_eq!(
            parsed("afterok:1:2").conditions,
            vec![condition(AfterOk, 1), condition(AfterOk, 2)]
        );
        assert_eq!(
            parsed("afternotok:5,afterany:6,after:7").conditions,
            vec![
                condition(AfterNotOk, 5),
                condition(AfterAny, 6),
                condition(After, 7)
            ]
        );
    }

    #[test]
    fn tasks_delays_and_singleton() {
        let conditions = parsed("after:5+10:6_3:7_*+1,singleton").conditions;
        assert_eq!(
            conditions,
            vec![
                DependencyCondition {
                    delay_minutes: 10,
                    ..condition(After, 5)
                },
                DependencyCondition {
                    task: Some(3),
                    ..condition(After, 6)
                },
                DependencyCondition {
                    delay_minutes: 1,
                    ..condition(After, 7)
                },
                condition(Singleton, 0),
            ]
        );
        assert_eq!(
            parsed("afterok:4_0+2").conditions,
            vec![DependencyCondition {
                task: Some(0),
                delay_minutes: 2,
                ..condition(AfterOk, 4)
            }]
        );
    }

    #[test]
    fn a_question_mark_means_any() {
        let spec = parsed("afterok:1?afternotok:2");
        assert!(spec.any);
        assert_eq!(spec.conditions.len(), 2);
        assert!(!parsed("afterok:1,afternotok:2").any);
        assert!(!parsed("afterok:1:2").any);
    }

    #[test]
    fn types_ignore_case_and_repeats_count_once() {
        assert_eq!(
            parsed("AfterOK:3,SINGLETON").conditions,
            vec![condition(AfterOk, 3), condition(Singleton, 0)]
        );
        assert_eq!(
            parsed("afterok:3:3,afterok:3,singleton,singleton").conditions,
            vec![condition(AfterOk, 3), condition(Singleton, 0)]
        );
    }

    #[test]
    fn a_lone_job_id_is_afterany() {
        assert_eq!(parsed("42").conditions, vec![condition(AfterAny, 42)]);
        assert_eq!(
            parsed("42_1").conditions,
            vec![DependencyCondition {
                task: Some(1),
                ..condition(AfterAny, 42)
            }]
        );
    }

    #[test]
    fn nothing_or_zero_means_no_dependency() {
        assert_eq!(parse_dependency(""), Ok(None));
        assert_eq!(parse_dependency("0"), Ok(None));
    }

    #[test]
    fn unknown_job_ids_are_well_formed() {
        assert_eq!(
            parsed("afterok:999999").conditions,
            vec![condition(AfterOk, 999_999)]
        );
        assert_eq!(parsed("afterok:4294967295").conditions[0].job_id, u32::MAX);
    }

    #[test]
    fn malformed_values_are_refused() {
        for text in [
            "afterok",
            "afterok:",
            "afterok:x",
            "afterok:1:",
            "afterok::1",
            "afterok:0",
            "afterok:-1",
            "afterok:+1",
            "afterok: 1",
            "afterok:1 ",
            "afterok:1+0",
            "afterok:1+",
            "afterok:1+x",
            "afterok:1_",
            "afterok:1_x",
            "afterok:_1",
            "afterok:1_2_3",
            "afterok:1+2+3",
            "afterok:4294967296",
            "afterok:1,afterany:2?after:3",
            "afterok:1?afterany:2,after:3",
            "afterok:1,",
            ",afterok:1",
            "afterok:1??afterok:2",
            "bogus:1",
            "before:1",
            "after_ok:1",
            "singleton:1",
            "singletons",
            "expand:1",
            "x",
            "00",
            "1+5",
            "1,2",
            "?",
            ",",
            ":",
        ] {
            assert_eq!(
                parse_dependency(text),
                Err(DependencyError::Invalid),
                "{text:?}"
            );
        }
    }

    #[test]
    fn slurm_types_corral_lacks_say_so() {
        assert_eq!(
            parse_dependency("aftercorr:5"),
            Err(DependencyError::Unsupported("aftercorr"))
        );
        assert_eq!(
            parse_dependency("afterok:1,AfterBurstBuffer:2"),
            Err(DependencyError::Unsupported("afterburstbuffer"))
        );
        assert_eq!(
            DependencyError::Unsupported("aftercorr").to_string(),
            "--dependency=aftercorr is not supported by Corral yet"
        );
        assert_eq!(
            DependencyError::Invalid.to_string(),
            "Job dependency problem"
        );
    }

    fn any_condition() -> impl Strategy<Value = DependencyCondition> {
        let kind = prop::sample::select(vec![After, AfterAny, AfterOk, AfterNotOk, Singleton]);
        (
            kind,
            1..=JobId::MAX,
            prop::option::of(0u32..2000),
            0u32..10_000,
        )
            .prop_map(|(kind, job_id, task, delay_minutes)| match kind {
                Singleton => condition(Singleton, 0),
                kind => DependencyCondition {
                    kind,
                    job_id,
                    task,
                    delay_minutes,
                },
            })
    }

    proptest! {
        #[test]
        fn any_text_parses_or_is_refused(
            text in "[a-zA-Z0-9:,?+_*]{0,24}|(after|afterok|singleton)[:,?+_0-9]{0,12}|\\PC{0,16}",
        ) {
            match parse_dependency(&text) {
                Ok(Some(spec)) => {
                    prop_assert!(!spec.conditions.is_empty());
                    for condition in &spec.conditions {
                        prop_assert_eq!(condition.kind == Singleton, condition.job_id == 0);
                    }
                }
                Ok(None) => prop_assert!(text.is_empty() || text == "0"),
                Err(_) => {}
            }
        }

        #[test]
        fn printed_conditions_parse_back(
            generated in prop::collection::vec(any_condition(), 1..6),
            any in any::<bool>(),
        ) {
            let mut conditions: Vec<DependencyCondition> = Vec::new();
            for condition in generated {
                if !conditions.contains(&condition) {
                    conditions.push(condition);
                }
            }
            let texts: Vec<String> = conditions.iter().map(ToString::to_string).collect();
            let text = texts.join(if any { "?" } else { "," });
            let spec = parsed(&text);
            prop_assert_eq!(spec.conditions, conditions.clone());
            prop_assert_eq!(spec.any, any && conditions.len() > 1);
        }
    }
}
