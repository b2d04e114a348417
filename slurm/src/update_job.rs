//! `scontrol update JobId=LIST key=value ...` (also `update job LIST
//! ...`), read as scontrol 22.05's `scontrol_update_job` reads it, and the
//! job lists of `hold`, `uhold`, `release`, `requeue`, `requeuehold`
//! (`_is_job_id`, `_next_job_id`).
//!
//! Keys match case-insensitively and may be abbreviated to Slurm's
//! minimum (`TimeL`, `Pa`, `Ni`, `Na`/`JobN`, `Com`, `JobI`); a key
//! without `=` takes the next word as its value, except a bare `Nice`
//! (nice 100). Corral changes `TimeLimit` (Slurm's formats, `+N`/`-N`
//! relative to the current limit, `UNLIMITED`), `Partition`, `Nice`,
//! `Name`/`JobName` and `Comment`; Slurm's other job keys are recognised
//! and refused; unknown keys get Slurm's message.

use crate::c_number::strtol;
use crate::error::{error_line, SlurmError, EXIT_FAILURE};
use crate::node_state::keyword_matches;
use crate::time::{parse_time_limit, TimeLimit};

const COMMAND: &str = "scontrol";

/// `NICE_OFFSET - 3`: the largest nice value Slurm takes.
pub const NICE_MAGNITUDE_MAX: i64 = 2_147_483_645;

/// `TimeLimit=`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimeLimitChange {
    Set(TimeLimit),
    /// `+N`: the current limit plus N minutes.
    Increase(u32),
    /// `-N`: the current limit less N minutes.
    Decrease(u32),
}

/// Which jobs an update names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum JobSelection {
    /// `JobId=LIST`.
    Ids(Vec<JobTarget>),
    /// `JobName=NAME` without `JobId`: the jobs of that name.
    Named(String),
}

/// A valid job update.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JobUpdateRequest {
    pub jobs: JobSelection,
    pub time_limit: Option<TimeLimitChange>,
    pub partition: Option<String>,
    pub nice: Option<i32>,
    pub name: Option<String>,
    pub comment: Option<String>,
}

/// One job of a list: `14` (a job, or every task of array 14) or `14_3`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JobTarget {
    pub job_id: u32,
    pub task: Option<u32>,
}

impl JobTarget {
    /// As scontrol names it in its messages.
    pub fn text(&self) -> String {
        match self.task {
            Some(task) => format!("{}_{task}", self.job_id),
            None => self.job_id.to_string(),
        }
    }
}

fn lines(lines: &[&str]) -> SlurmError {
    SlurmError::new(lines.iter().map(|l| l.to_string()).collect(), EXIT_FAILURE)
}

fn error(message: &str) -> SlurmError {
    SlurmError::new(vec![error_line(COMMAND, message)], EXIT_FAILURE)
}

fn refused(key: &str) -> SlurmError {
    SlurmError::command_error(
        COMMAND,
        &format!("update of {key} is not supported by Corral yet"),
        EXIT_FAILURE,
    )
}

/// `Invalid job id specified for job TEXT`: scontrol's message for a list
/// it cannot read.
pub fn invalid_job_list(text: &str) -> SlurmError {
    lines(&[&format!("Invalid job id specified for job {text}")])
}

/// Reads a job list (`14`, `14,15_3`, `14_[1-3,5]`); `None` when it is
/// not one, as `_is_job_id` judges.
pub fn parse_job_list(text: &str) -> Option<Vec<JobTarget>> {
    let mut targets = Vec::new();
    for item in split_outside_brackets(text)? {
        let (job, tasks) = match item.split_once('_') {
            Some((job, tasks)) => (job, Some(tasks)),
            None => (item, None),
        };
        let job_id = job.parse::<u32>().ok().filter(|id| *id > 0)?;
        match tasks {
            None => targets.push(JobTarget { job_id, task: None }),
            Some(tasks) => {
                let inner = match tasks.strip_prefix('[') {
                    Some(rest) => rest.strip_suffix(']')?,
                    None => tasks,
                };
                for task in expand_indices(inner)? {
                    targets.push(JobTarget {
                        job_id,
                        task: Some(task),
                    });
                }
            }
        }
    }
    (!targets.is_empty()).then_some(targets)
}

/// Commas (and spaces) outside brackets separate items.
fn split_outside_brackets(text: &str) -> Option<Vec<&str>> {
    let mut items = Vec::new();
    let mut depth = 0i32;
    let mut start = 0;
    for (index, c) in text.char_indices() {
        match c {
            '[' => depth += 1,
            ']' => depth -= 1,
            ',' | ' ' if depth == 0 => {
                items.push(&text[start..index]);
                start = index + 1;
            }
            _ => {}
        }
        if depth < 0 {
            return None;
        }
    }
    if depth != 0 {
        return None;
    }
    items.push(&text[start..]);
    Some(items.into_iter().filter(|item| !item.is_empty()).collect())
}

/// Task indices at most this many in one list (a bounded expansion).
const TASKS_PER_LIST_MAX: usize = 100_000;

/// `1-3,5`: the indices.
fn expand_indices(text: &str) -> Option<Vec<u32>> {
    let mut indices = Vec::new();
    for part in text.split(',') {
        let (low, high) = match part.split_once('-') {
            Some((low, high)) => (low.parse::<u32>().ok()?, high.parse::<u32>().ok()?),
            None => {
                let index = part.parse::<u32>().ok()?;
                (index, index)
            }
        };
        if low > high || indices.len() + (high - low) as usize >= TASKS_PER_LIST_MAX {
            return None;
        }
        indices.extend(low..=high);
    }
    Some(indices)
}

/// Slurm's job keys Corral does not change, with their minimum lengths,
/// in the order scontrol tries them.
const REFUSED_KEYS: &[(&str, usize)] = &[
    ("AdminComment", 3),
    ("ArrayTaskThrottle", 10),
    ("DelayBoot", 5),
    ("TimeMin", 5),
    ("Priority", 2),
    ("CPUsPerTask", 6),
    ("NumCPUs", 6),
    ("NumTasks", 8),
    ("ReqProcs", 8),
    ("Requeue", 4),
    ("ReqNodes", 8),
    ("NumNodes", 8),
    ("ReqSockets", 4),
    ("ReqCores", 4),
    ("TasksPerNode", 2),
    ("ReqThreads", 4),
    ("MinCPUsNode", 4),
    ("MinMemoryNode", 10),
    ("MinMemoryCPU", 10),
    ("MinTmpDiskNode", 5),
    ("QOS", 2),
    ("ReservationName", 3),
    ("WCKey", 1),
    ("StdOut", 6),
    ("Switches", 5),
    ("wait-for-switch", 5),
    ("OverSubscribe", 2),
    ("Shared", 2),
    ("Contiguous", 3),
    ("CoreSpec", 4),
    ("ThreadSpec", 4),
    ("ExcNodeList", 3),
    ("NodeList", 8),
    ("ReqNodeList", 8),
    ("Features", 1),
    ("Gres", 2),
    ("Account", 1),
    ("BurstBuffer", 1),
    ("Dependency", 1),
    ("Licenses", 1),
    ("EligibleTime", 2),
    ("StartTime", 2),
    ("EndTime", 2),
    ("Reboot", 3),
    ("UserID", 3),
    ("Deadline", 3),
    ("MailType", 5),
    ("MailUser", 5),
];

/// Reads the words after `update` of a job update.
pub fn parse_job_update(words: &[&str]) -> Result<JobUpdateRequest, SlurmError> {
    let mut job_ids: Option<String> = None;
    let mut time_limit = None;
    let mut partition = None;
    let mut nice = None;
    let mut name = None;
    let mut comment = None;
    let mut changes = 0;
    let mut index = 0;
    while index < words.len() {
        let word = words[index];
        index += 1;
        let (tag, value) = match word.split_once('=') {
            Some((tag, value)) => (tag.strip_suffix('+').unwrap_or(tag), value.to_string()),
            None if keyword_matches(word, "Nice", 2) => {
                nice = Some(100);
                changes += 1;
                continue;
            }
            None if index < words.len() => {
                index += 1;
                (word, words[index - 1].to_string())
            }
            None => {
                return Err(lines(&[
                    &format!("Invalid input: {word}"),
                    "Request aborted",
                ]));
            }
        };
        if keyword_matches(tag, "JobId", 3) {
            job_ids = Some(value);
        } else if let Some((key, _)) = REFUSED_KEYS[..3]
            .iter()
            .find(|(key, minimum)| keyword_matches(tag, key, *minimum))
        {
            return Err(refused(key));
        } else if keyword_matches(tag, "Comment", 3) {
            comment = Some(value);
            changes += 1;
        } else if keyword_matches(tag, "TimeLimit", 5) {
            time_limit = Some(parse_time_limit_change(&value)?);
            changes += 1;
        } else if let Some((key, _)) = REFUSED_KEYS[3..5]
            .iter()
            .find(|(key, minimum)| keyword_matches(tag, key, *minimum))
        {
            return Err(refused(key));
        } else if keyword_matches(tag, "Nice", 2) {
            let parsed = strtol(&value).value;
            if parsed.abs() > NICE_MAGNITUDE_MAX {
                return Err(error(&format!(
                    "Nice value out of range (+/- {NICE_MAGNITUDE_MAX}). Value ignored"
                )));
            }
            nice = Some(parsed as i32);
            changes += 1;
        } else if let Some((key, _)) = REFUSED_KEYS[5..20]
            .iter()
            .find(|(key, minimum)| keyword_matches(tag, key, *minimum))
        {
            return Err(refused(key));
        } else if keyword_matches(tag, "Partition", 2) {
            partition = Some(value);
            changes += 1;
        } else if let Some((key, _)) = REFUSED_KEYS[20..22]
            .iter()
            .find(|(key, minimum)| keyword_matches(tag, key, *minimum))
        {
            return Err(refused(key));
        } else if keyword_matches(tag, "Name", 2) || keyword_matches(tag, "JobName", 4) {
            name = Some(value);
            changes += 1;
        } else if let Some((key, _)) = REFUSED_KEYS[22..]
            .iter()
            .find(|(key, minimum)| keyword_matches(tag, key, *minimum))
        {
            return Err(refused(key));
        } else {
            return Err(lines(&[
                &format!("Update of this parameter is not supported: {word}"),
                "Request aborted",
            ]));
        }
    }
    if changes == 0 {
        return Err(lines(&["No changes specified"]));
    }
    let jobs = match (job_ids, &name) {
        (Some(ids), _) => {
            JobSelection::Ids(parse_job_list(&ids).ok_or_else(|| invalid_job_list(&ids))?)
        }
        (None, Some(name)) => JobSelection::Named(name.clone()),
        (None, None) => return Err(error("No job ID specified")),
    };
    if matches!(
        time_limit,
        Some(TimeLimitChange::Increase(_) | TimeLimitChange::Decrease(_))
    ) && matches!(jobs, JobSelection::Named(_))
    {
        return Err(error("JobId must precede TimeLimit increment or decrement"));
    }
    Ok(JobUpdateRequest {
        jobs,
        time_limit,
        partition,
        nice,
        name,
        comment,
    })
}

fn parse_time_limit_change(value: &str) -> Result<TimeLimitChange, SlurmError> {
    let invalid = || error("Invalid TimeLimit value");
    let (sign, text) = match value.as_bytes().first() {
        Some(b'+') => (Some(true), &value[1..]),
        Some(b'-') if !value.eq_ignore_ascii_case("-1") => (Some(false), &value[1..]),
        _ => (None, value),
    };
    let limit = parse_time_limit(text).map_err(|_| invalid())?;
    match (sign, limit) {
        (None, limit) => Ok(TimeLimitChange::Set(limit)),
        (Some(_), TimeLimit::Unlimited) => Err(invalid()),
        (Some(true), TimeLimit::Minutes(minutes)) => Ok(TimeLimitChange::Increase(minutes)),
        (Some(false), TimeLimit::Minutes(minutes)) => Ok(TimeLimitChange::Decrease(minutes)),
    }
}

/// The limit a relative change gives, from the job's current limit in
/// minutes (`None`: unlimited); Slurm's messages when it cannot.
pub fn resolve_time_limit(
    change: TimeLimitChange,
    current: Option<u32>,
) -> Result<TimeLimit, SlurmError> {
    match (change, current) {
        (TimeLimitChange::Set(limit), _) => Ok(limit),
        (_, None) => Ok(TimeLimit::Unlimited),
        (TimeLimitChange::Increase(more), Some(current)) => {
            Ok(TimeLimit::Minutes(current.saturating_add(more)))
        }
        (TimeLimitChange::Decrease(less), Some(current)) if less > current => Err(error(&format!(
            "TimeLimit decrement larger than current time limit ({less} > {current})"
        ))),
        (TimeLimitChange::Decrease(less), Some(current)) => Ok(TimeLimit::Minutes(current - less)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn parse(line: &str) -> Result<JobUpdateRequest, SlurmError> {
        let words: Vec<&str> = line.split_whitespace().collect();
        parse_job_update(&words)
    }

    fn stderr(line: &str) -> String {
        parse(line).unwrap_err().stderr_text()
    }

    fn ids(list: &[(u32, Option<u32>)]) -> JobSelection {
        JobSelection::Ids(
            list.iter()
                .map(|(job_id, task)| JobTarget {
                    job_id: *job_id,
                    task: *task,
                })
                .collect(),
        )
    }

    #[test]
    fn the_keys_corral_changes() {
        let request =
            parse("JobId=5 TimeLimit=1:30:00 Partition=short Nice=10 Name=x Comment=hi").unwrap();
        assert_eq!(
            request,
            JobUpdateRequest {
                jobs: ids(&[(5, None)]),
                time_limit: Some(TimeLimitChange::Set(TimeLimit::Minutes(90))),
                partition: Some("short".into()),
                nice: Some(10),
                name: Some("x".into()),
                comment: Some("hi".into()),
            }
        );
        // `update job 5 ...`, abbreviations, bare Nice.
        let request = parse("job 5,6_2 timel=+10 ni jobn=y").unwrap();
        assert_eq!(request.jobs, ids(&[(5, None), (6, Some(2))]));
        assert_eq!(request.time_limit, Some(TimeLimitChange::Increase(10)));
        assert_eq!(
            (request.nice, request.name.as_deref()),
            (Some(100), Some("y"))
        );
        assert_eq!(
            parse("jobid=7 timelimit=UNLIMITED").unwrap().time_limit,
            Some(TimeLimitChange::Set(TimeLimit::Unlimited))
        );
        assert_eq!(
            parse("jobid=7 timelimit=-5").unwrap().time_limit,
            Some(TimeLimitChange::Decrease(5))
        );
        assert_eq!(
            parse("JobName=foo TimeLimit=5").unwrap().jobs,
            JobSelection::Named("foo".into())
        );
    }

    #[test]
    fn slurms_messages_for_bad_input() {
        assert_eq!(
            stderr("jobid=5 timelimit=abc"),
            "scontrol: error: Invalid TimeLimit value\n"
        );
        assert_eq!(
            stderr("jobid=5 timelimit=+UNLIMITED"),
            "scontrol: error: Invalid TimeLimit value\n"
        );
        assert_eq!(
            stderr("jobid=5 nice=2147483646"),
            "scontrol: error: Nice value out of range (+/- 2147483645). Value ignored\n"
        );
        assert_eq!(stderr("jobid=5"), "No changes specified\n");
        assert_eq!(
            stderr("timelimit=5"),
            "scontrol: error: No job ID specified\n"
        );
        assert_eq!(
            stderr("jobid=5 bogus=1"),
            "Update of this parameter is not supported: bogus=1\nRequest aborted\n"
        );
        assert_eq!(
            stderr("jobid=5 timelimit"),
            "Invalid input: timelimit\nRequest aborted\n"
        );
        assert_eq!(
            stderr("jobid=5x nice=1"),
            "Invalid job id specified for job 5x\n"
        );
        assert_eq!(
            stderr("jobid=5 qos=high"),
            "scontrol: error: update of QOS is not supported by Corral yet\n"
        );
        assert_eq!(
            stderr("jobid=5 pr=1"),
            "scontrol: error: update of Priority is not supported by Corral yet\n"
        );
        assert_eq!(
            stderr("jobname=x timelimit=+5"),
            "scontrol: error: JobId must precede TimeLimit increment or decrement\n"
        );
        assert!(parse("jobid=5 timelimit=1").is_ok());
        assert_eq!(parse("jobid=5 timelimit=abc").unwrap_err().exit_code, 1);
    }

    #[test]
    fn job_lists() {
        assert_eq!(
            parse_job_list("14_[1-3,5],15").unwrap(),
            [
                (14, Some(1)),
                (14, Some(2)),
                (14, Some(3)),
                (14, Some(5)),
                (15, None)
            ]
            .iter()
            .map(|(job_id, task)| JobTarget {
                job_id: *job_id,
                task: *task,
            })
            .collect::<Vec<_>>()
        );
        for bad in [
            "",
            "x",
            "0",
            "5-6",
            "5_",
            "5_[1-",
            "5_[3-1]",
            "5]",
            "5_1_2",
            "-1",
            "5_[1-999999999]",
        ] {
            assert_eq!(parse_job_list(bad), None, "{bad}");
        }
    }

    #[test]
    fn relative_limits() {
        assert_eq!(
            resolve_time_limit(TimeLimitChange::Increase(5), Some(10)).unwrap(),
            TimeLimit::Minutes(15)
        );
        assert_eq!(
            resolve_time_limit(TimeLimitChange::Decrease(5), Some(10)).unwrap(),
            TimeLimit::Minutes(5)
        );
        assert_eq!(
            resolve_time_limit(TimeLimitChange::Decrease(15), Some(10))
                .unwrap_err()
                .stderr_text(),
            "scontrol: error: TimeLimit decrement larger than current time limit (15 > 10)\n"
        );
    }

    proptest! {
        #[test]
        fn never_panics(words in prop::collection::vec("[a-zA-Z=+\\-\\[\\]0-9,_:é]{0,12}", 0..6)) {
            let words: Vec<&str> = words.iter().map(String::as_str).collect();
            let _ = parse_job_update(&words);
            for word in &words {
                let _ = parse_job_list(word);
            }
        }
    }
}
