//! The scheduler's tests as data: every `tests/scenarios/*.txt` is a
//! scenario, read and run here line by line. `SCENARIO=word cargo test`
//! runs only the files whose name contains `word`.
//!
//! All times are in **minutes** (`at=`, `since=`, `now=`, `time=`,
//! `maxtime=`, `max_age=`); job ids are those `apply` assigns (1, 2, ...),
//! and `id=` must match them. `#` starts a comment.
//!
//! ```text
//! config weight_age=N weight_size=N max_age=MIN    priority weights (default: the crate's)
//! node HOSTLIST cpus=N mem=MB [gpus=N] [unregistered]
//! partition NAME nodes=HOSTLIST [default] [maxtime=MIN] [state=up|down|drain|inactive]
//! submit id=N [cpus=N] [ntasks=N] [nodes=N] [mem=MB] [gpus=N] [time=MIN]
//!        [partition=NAME] [at=MIN] [hold]          cpus= is CPUs per task
//!        [nodelist=HOSTLIST] [exclude=HOSTLIST]    -w and -x
//!        [exclusive] [mem_per_cpu=MB] [begin=MIN]  --exclusive, --mem-per-cpu, --begin
//! run id=N on=HOSTLIST since=MIN [submit's keys]   submitted and started at `since`
//!                                                   (an exclusive one on whole nodes)
//! finish id=N at=MIN
//! drain|down|resume HOSTLIST
//! schedule now=MIN                                  plans; the plan must apply cleanly
//! expect start ID on HOSTLIST [gpus=I,J] [cpus=N] [mem=MB]   shares in this node order (each with these)
//! expect started ID... | none                       exactly these starts, in plan order
//! expect reason ID REASON                           the plan sets this reason
//! expect no-reason ID                               the plan neither starts ID nor changes its reason
//! expect reservation ID at=MIN on=HOSTLIST | none
//! expect empty                                      nothing to propose
//! check invariants                                  apply the plan: nothing refused, invariants hold
//! ```

#[allow(dead_code)] // each test binary uses part of the support module
mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use corral_sched::{schedule, Plan, SchedulerConfig};
use corral_state::hostlist;
use corral_state::{JobId, JobReason, JobSpec, NodeChange, Partition, PartitionState};
use support::{resources, TestCluster};

const MS_PER_MINUTE: u64 = 60_000;

#[test]
fn scenarios() {
    let directory = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/scenarios");
    let filter = std::env::var("SCENARIO").unwrap_or_default();
    let mut files: Vec<PathBuf> = std::fs::read_dir(&directory)
        .expect("tests/scenarios exists")
        .map(|entry| entry.expect("readable directory").path())
        .filter(|path| path.extension().is_some_and(|e| e == "txt"))
        .filter(|path| path.to_string_lossy().contains(&filter))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no scenario matches {filter:?}");
    let failures: Vec<String> = files.iter().filter_map(|f| run_file(f).err()).collect();
    assert!(
        failures.is_empty(),
        "{} of {} scenarios failed:\n{}",
        failures.len(),
        files.len(),
        failures.join("\n")
    );
}

fn run_file(path: &Path) -> Result<(), String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut scenario = Scenario::new();
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    for (index, line) in text.lines().enumerate() {
        let line = line.split('#').next().unwrap_or_default().trim();
        if line.is_empty() {
            continue;
        }
        scenario
            .step(line)
            .map_err(|error| format!("{name}:{}: {error}\n    {line}", index + 1))?;
    }
    if scenario.expectations == 0 {
        return Err(format!("{name}: asserts nothing"));
    }
    Ok(())
}

struct Scenario {
    cluster: TestCluster,
    config: SchedulerConfig,
    /// The latest plan and the time it was made for.
    plan: Option<(Plan, u64)>,
    /// The latest time mentioned, for commands that take none.
    clock_ms: u64,
    expectations: usize,
}

impl Scenario {
    fn new() -> Scenario {
        Scenario {
            cluster: TestCluster::new(),
            config: SchedulerConfig::default(),
            plan: None,
            clock_ms: 0,
            expectations: 0,
        }
    }

    fn step(&mut self, line: &str) -> Result<(), String> {
        let words: Vec<&str> = line.split_whitespace().collect();
        let (command, rest) = words.split_first().ok_or("empty line")?;
        match *command {
            "config" => self.configure(&Words::parse(rest, &CONFIG_KEYS)?),
            "node" => self.node(&Words::parse(rest, &NODE_KEYS)?),
            "partition" => self.partition(&Words::parse(rest, &PARTITION_KEYS)?),
            "submit" => self.submit(&Words::parse(rest, &SUBMIT_KEYS)?),
            "run" => self.run(&Words::parse(rest, &RUN_KEYS)?),
            "finish" => self.finish(&Words::parse(rest, &["id", "at"])?),
            "drain" | "down" | "resume" => self.change_nodes(command, rest),
            "schedule" => self.schedule(&Words::parse(rest, &["now"])?),
            "expect" => {
                self.expectations += 1;
                self.expect(rest)
            }
            "check" if rest == ["invariants"] => {
                self.expectations += 1;
                self.check_invariants()
            }
            other => Err(format!("unknown command {other:?}")),
        }
    }

    fn minutes(&mut self, value: u64) -> u64 {
        let ms = value * MS_PER_MINUTE;
        self.clock_ms = self.clock_ms.max(ms);
        ms
    }

    fn configure(&mut self, words: &Words) -> Result<(), String> {
        if let Some(weight) = words.get("weight_age")? {
            self.config.weight_age = weight;
        }
        if let Some(weight) = words.get("weight_size")? {
            self.config.weight_job_size = weight;
        }
        if let Some(minutes) = words.get::<u64>("max_age")? {
            self.config.max_age_ms = minutes * MS_PER_MINUTE;
        }
        Ok(())
    }

    fn node(&mut self, words: &Words) -> Result<(), String> {
        let names = expand(words.positional(0)?)?;
        let resources = resources(
            words.required("cpus")?,
            words.required("mem")?,
            words.get("gpus")?.unwrap_or(0),
        );
        let registered = !words.flag("unregistered");
        self.cluster
            .add_nodes(&names, &resources, registered, self.clock_ms)
    }

    fn partition(&mut self, words: &Words) -> Result<(), String> {
        let state = match words.text("state") {
            None => PartitionState::Up,
            Some(name) => {
                PartitionState::from_slurm_name(name).ok_or(format!("unknown state {name}"))?
            }
        };
        let partition = Partition {
            name: words.positional(0)?.to_string(),
            nodes: words.text("nodes").ok_or("nodes= missing")?.to_string(),
            default: words.flag("default"),
            max_time_minutes: words.get("maxtime")?,
            state,
        };
        self.cluster.add_partition(partition, self.clock_ms)
    }

    fn submit(&mut self, words: &Words) -> Result<(), String> {
        let at = words.get("at")?.unwrap_or(0);
        let at_ms = self.minutes(at);
        self.submit_at(words, at_ms).map(|_| ())
    }

    fn submit_at(&mut self, words: &Words, at_ms: u64) -> Result<JobId, String> {
        let names = |key: &str| -> Result<Vec<String>, String> {
            let mut names = words.text(key).map(expand).transpose()?.unwrap_or_default();
            names.sort();
            names.dedup();
            Ok(names)
        };
        let spec = JobSpec {
            partition: words.text("partition").map(str::to_string),
            time_limit_minutes: words.get("time")?,
            nodes: words.get("nodes")?.unwrap_or(1),
            ntasks: words.get("ntasks")?.unwrap_or(1),
            cpus_per_task: words.get("cpus")?.unwrap_or(1),
            memory_per_node_mb: words.get("mem")?,
            gpus_per_node: words.get("gpus")?.unwrap_or(0),
            hold: words.flag("hold"),
            required_nodes: names("nodelist")?,
            excluded_nodes: names("exclude")?,
            exclusive: words.flag("exclusive"),
            memory_per_cpu_mb: words.get("mem_per_cpu")?,
            begin_time_ms: words
                .get::<u64>("begin")?
                .map(|minutes| minutes * MS_PER_MINUTE),
            ..JobSpec::default()
        };
        let expected: JobId = words.required("id")?;
        let job_id = self.cluster.submit(spec, at_ms)?;
        if job_id != expected {
            return Err(format!("the job got id {job_id}, not {expected}"));
        }
        Ok(job_id)
    }

    fn run(&mut self, words: &Words) -> Result<(), String> {
        let since = words.required("since")?;
        let since_ms = self.minutes(since);
        let job_id = self.submit_at(words, since_ms)?;
        let nodes = expand(words.text("on").ok_or("on= missing")?)?;
        self.cluster.start(job_id, &nodes, since_ms)
    }

    fn finish(&mut self, words: &Words) -> Result<(), String> {
        let at = words.required("at")?;
        let at_ms = self.minutes(at);
        self.cluster.finish(words.required("id")?, at_ms)
    }

    fn change_nodes(&mut self, command: &str, rest: &[&str]) -> Result<(), String> {
        let [expression] = rest else {
            return Err(format!("{command} takes one hostlist"));
        };
        let change = match command {
            "drain" => NodeChange::Drain {
                reason: "scenario".into(),
            },
            "down" => NodeChange::Down {
                reason: "scenario".into(),
            },
            _ => NodeChange::Resume,
        };
        for name in expand(expression)? {
            self.cluster
                .change_node(&name, change.clone(), self.clock_ms)?;
        }
        Ok(())
    }

    /// Plans, and checks what every plan must satisfy: the same plan again
    /// for the same input, and acceptance by `apply` (on a copy).
    fn schedule(&mut self, words: &Words) -> Result<(), String> {
        let now = words.required("now")?;
        let now_ms = self.minutes(now);
        let plan = schedule(&self.cluster.state, now_ms, &self.config);
        if plan != schedule(&self.cluster.state, now_ms, &self.config) {
            return Err("two passes over the same state disagree".into());
        }
        let mut copy = TestCluster::new();
        copy.state = self.cluster.state.clone();
        copy.apply_plan(&plan, now_ms)?;
        self.plan = Some((plan, now_ms));
        Ok(())
    }

    fn check_invariants(&mut self) -> Result<(), String> {
        let (plan, now_ms) = self.plan.take().ok_or("no plan to apply")?;
        self.cluster.apply_plan(&plan, now_ms)
    }

    fn plan(&self) -> Result<&Plan, String> {
        self.plan
            .as_ref()
            .map(|(plan, _)| plan)
            .ok_or("no plan: `schedule` first".into())
    }

    fn expect(&self, rest: &[&str]) -> Result<(), String> {
        let plan = self.plan()?;
        match rest {
            ["start", id, "on", nodes, more @ ..] => expect_start(plan, id, nodes, more),
            ["started", ids @ ..] => expect_started(plan, ids),
            ["reason", id, reason] => expect_reason(plan, id, reason),
            ["no-reason", id] => expect_no_reason(plan, id),
            ["reservation", "none"] => match &plan.reservation {
                None => Ok(()),
                Some(reservation) => Err(format!("reservation {reservation:?}")),
            },
            ["reservation", id, more @ ..] => expect_reservation(plan, id, more),
            ["empty"] if plan.is_empty() => Ok(()),
            ["empty"] => Err(format!("the plan is not empty: {}", describe(plan))),
            _ => Err("unknown expectation".into()),
        }
    }
}

const CONFIG_KEYS: [&str; 3] = ["weight_age", "weight_size", "max_age"];
const NODE_KEYS: [&str; 4] = ["cpus", "mem", "gpus", "unregistered"];
const PARTITION_KEYS: [&str; 4] = ["nodes", "default", "maxtime", "state"];
const SUBMIT_KEYS: [&str; 15] = [
    "id",
    "cpus",
    "ntasks",
    "nodes",
    "mem",
    "gpus",
    "time",
    "partition",
    "at",
    "hold",
    "nodelist",
    "exclude",
    "exclusive",
    "mem_per_cpu",
    "begin",
];
const RUN_KEYS: [&str; 12] = [
    "id",
    "cpus",
    "ntasks",
    "nodes",
    "mem",
    "gpus",
    "time",
    "partition",
    "on",
    "since",
    "exclusive",
    "mem_per_cpu",
];

fn expect_start(plan: &Plan, id: &str, nodes: &str, more: &[&str]) -> Result<(), String> {
    let id = parse::<JobId>(id)?;
    let allocation = plan
        .allocations
        .iter()
        .find(|a| a.job_id == id)
        .ok_or(format!("job {id} does not start: {}", describe(plan)))?;
    let actual: Vec<&str> = allocation.shares.iter().map(|s| s.node.as_str()).collect();
    if actual != expand(nodes)? {
        return Err(format!("job {id} starts on {actual:?}"));
    }
    let words = Words::parse(more, &["gpus", "cpus", "mem"])?;
    if let Some(list) = words.text("gpus") {
        let expected: Vec<u32> = list
            .split(',')
            .filter(|index| !index.is_empty())
            .map(parse::<u32>)
            .collect::<Result<_, _>>()?;
        if let Some(share) = allocation.shares.iter().find(|s| s.gpus != expected) {
            return Err(format!(
                "job {id} has GPUs {:?} on {}",
                share.gpus, share.node
            ));
        }
    }
    if let Some(cpus) = words.get::<u32>("cpus")? {
        if let Some(share) = allocation.shares.iter().find(|s| s.cpus != cpus) {
            return Err(format!(
                "job {id} has {} CPUs on {}",
                share.cpus, share.node
            ));
        }
    }
    if let Some(memory_mb) = words.get::<u64>("mem")? {
        if let Some(share) = allocation.shares.iter().find(|s| s.memory_mb != memory_mb) {
            return Err(format!(
                "job {id} has {} MB on {}",
                share.memory_mb, share.node
            ));
        }
    }
    if !words.positional.is_empty() || !words.flags.is_empty() {
        return Err("expected only gpus=, cpus= and mem= after the nodes".into());
    }
    Ok(())
}

fn expect_started(plan: &Plan, ids: &[&str]) -> Result<(), String> {
    let expected: Vec<JobId> = match ids {
        ["none"] => Vec::new(),
        ids => ids.iter().map(|id| parse(id)).collect::<Result<_, _>>()?,
    };
    let actual: Vec<JobId> = plan.allocations.iter().map(|a| a.job_id).collect();
    if actual == expected {
        Ok(())
    } else {
        Err(format!("started {actual:?}"))
    }
}

fn expect_reason(plan: &Plan, id: &str, reason: &str) -> Result<(), String> {
    let id = parse::<JobId>(id)?;
    let reason = JobReason::from_slurm_name(reason).ok_or(format!("unknown reason {reason}"))?;
    match plan.reasons.iter().find(|(job, _)| *job == id) {
        Some((_, actual)) if *actual == reason => Ok(()),
        Some((_, actual)) => Err(format!("job {id} gets {}", actual.slurm_name())),
        None => Err(format!("no reason for job {id}: {}", describe(plan))),
    }
}

fn expect_no_reason(plan: &Plan, id: &str) -> Result<(), String> {
    let id = parse::<JobId>(id)?;
    let started = plan.allocations.iter().any(|a| a.job_id == id);
    let reason = plan.reasons.iter().find(|(job, _)| *job == id);
    match (started, reason) {
        (false, None) => Ok(()),
        _ => Err(format!("job {id} is in the plan: {}", describe(plan))),
    }
}

fn expect_reservation(plan: &Plan, id: &str, more: &[&str]) -> Result<(), String> {
    let words = Words::parse(more, &["at", "on"])?;
    let id = parse::<JobId>(id)?;
    let reservation = plan
        .reservation
        .as_ref()
        .ok_or(format!("no reservation: {}", describe(plan)))?;
    let at_ms = words.required::<u64>("at")? * MS_PER_MINUTE;
    let nodes = expand(words.text("on").ok_or("on= missing")?)?;
    if reservation.job_id == id && reservation.start_ms == at_ms && reservation.nodes == nodes {
        Ok(())
    } else {
        Err(format!("reservation {reservation:?}"))
    }
}

/// A plan in one line, for failure messages.
fn describe(plan: &Plan) -> String {
    let starts: Vec<String> = plan
        .allocations
        .iter()
        .map(|a| {
            let nodes: Vec<&str> = a.shares.iter().map(|s| s.node.as_str()).collect();
            format!("{} on {}", a.job_id, nodes.join(","))
        })
        .collect();
    let reasons: Vec<String> = plan
        .reasons
        .iter()
        .map(|(job, reason)| format!("{job} {}", reason.slurm_name()))
        .collect();
    format!(
        "starts [{}], reasons [{}], reservation {:?}",
        starts.join("; "),
        reasons.join("; "),
        plan.reservation
    )
}

fn expand(expression: &str) -> Result<Vec<String>, String> {
    hostlist::expand(expression).map_err(|e| e.to_string())
}

fn parse<T: FromStr>(text: &str) -> Result<T, String> {
    text.parse()
        .map_err(|_| format!("cannot read {text:?} as a number"))
}

/// A line's words after the command: `key=value` pairs, bare flags from
/// the allowed keys, and the other words by position.
struct Words<'a> {
    values: BTreeMap<&'a str, &'a str>,
    flags: Vec<&'a str>,
    positional: Vec<&'a str>,
}

impl<'a> Words<'a> {
    fn parse(words: &[&'a str], allowed: &[&str]) -> Result<Words<'a>, String> {
        let mut parsed = Words {
            values: BTreeMap::new(),
            flags: Vec::new(),
            positional: Vec::new(),
        };
        for word in words {
            match word.split_once('=') {
                Some((key, value)) if allowed.contains(&key) => {
                    parsed.values.insert(key, value);
                }
                Some((key, _)) => return Err(format!("unknown key {key:?}")),
                None if allowed.contains(word) => parsed.flags.push(word),
                None => parsed.positional.push(word),
            }
        }
        Ok(parsed)
    }

    fn text(&self, key: &str) -> Option<&'a str> {
        self.values.get(key).copied()
    }

    fn get<T: FromStr>(&self, key: &str) -> Result<Option<T>, String> {
        self.text(key).map(parse).transpose()
    }

    fn required<T: FromStr>(&self, key: &str) -> Result<T, String> {
        self.get(key)?.ok_or(format!("{key}= missing"))
    }

    fn flag(&self, name: &str) -> bool {
        self.flags.contains(&name)
    }

    fn positional(&self, index: usize) -> Result<&'a str, String> {
        self.positional
            .get(index)
            .copied()
            .ok_or("a name is missing".into())
    }
}
