//! `scontrol`: `ping`, `show job [ID]`, `show node [LIST]`, `show partition
//! [NAME]`, `show config`, `show hostnames|hostlist|hostlistsorted`,
//! `update NodeName=LIST State=... Reason=...`, `hold ID`, `release ID`,
//! `version`, with `-o` and `-d`.

use std::sync::Arc;

use corral_client::Client;
use corral_proto as wire;
use corral_slurm::display::LimitView;
use corral_slurm::getopt::{Getopt, HasArg, OptionDef, Ordering};
use corral_slurm::hostlist_command;
use corral_slurm::node_info::{self, ShowEntity};
use corral_slurm::scontrol::{
    malformed_job_id_error, show_jobs_with, unknown_job_error, Details, Layout,
};
use corral_slurm::show_config::{self, ConfigView, ControllerView};
use corral_slurm::time::TimeLimit;
use corral_slurm::update_job::{self, JobSelection, JobTarget};
use corral_slurm::update_node::{self, NodeChange, NodeUpdate};
use corral_slurm::SlurmError;

use super::connection::{call_failed, connect};
use super::{jobs, nodes};

const COMMAND: &str = "scontrol";

#[derive(Clone, Copy, PartialEq, Eq)]
enum Key {
    OneLiner,
    Details,
    Quiet,
    Verbose,
    Help,
    Usage,
    Version,
    Unsupported(&'static str),
}

use HasArg::{No, Required};

const fn option(
    long: &'static str,
    short: Option<char>,
    has_arg: HasArg,
    key: Key,
) -> OptionDef<Key> {
    OptionDef::new(Some(long), short, has_arg, key)
}

/// scontrol 22.05's options.
const OPTIONS: &[OptionDef<Key>] = &[
    option("all", Some('a'), No, Key::Unsupported("all")),
    option("cluster", Some('M'), Required, Key::Unsupported("clusters")),
    option("clusters", None, Required, Key::Unsupported("clusters")),
    option("details", Some('d'), No, Key::Details),
    option("federation", None, No, Key::Unsupported("federation")),
    option("future", Some('F'), No, Key::Unsupported("future")),
    option("help", Some('h'), No, Key::Help),
    option("hide", None, No, Key::Unsupported("hide")),
    option("local", None, No, Key::Unsupported("local")),
    option("oneliner", Some('o'), No, Key::OneLiner),
    option("quiet", Some('Q'), No, Key::Quiet),
    option("sibling", None, No, Key::Unsupported("sibling")),
    option("usage", Some('u'), No, Key::Usage),
    option("verbose", Some('v'), No, Key::Verbose),
    option("version", Some('V'), No, Key::Version),
    option("json", None, No, Key::Unsupported("json")),
    option("yaml", None, No, Key::Unsupported("yaml")),
];

const USAGE: &str = "Usage: scontrol [<OPTION>] [<COMMAND>]
  Corral implements: ping, show job [<jobid>], show node [<nodes>],
  show partition [<name>], show config, show hostnames [<list>],
  show hostlist <list>, show hostlistsorted <list>,
  show step [<jobid>[.<stepid>]],
  update NodeName=<nodes> State=<state> Reason=<text>,
  update JobId=<jobs> TimeLimit|Partition|Nice|JobName|Comment=<value>,
  hold|uhold|release|requeue|requeuehold <job_list>, version
  and the options -o (--oneliner), -d (--details), -Q, -v, -V.
";

pub fn run(args: &[String]) -> Result<u8, SlurmError> {
    let mut layout = Layout::Lines;
    let mut details = Details::Plain;
    let mut getopt = Getopt::new(OPTIONS, args, Ordering::RequireOrder);
    let argv0 = getopt.argv0().to_string();
    for found in getopt.by_ref() {
        let found = found.map_err(|e| {
            SlurmError::new(
                vec![
                    e.message(&argv0),
                    "Try \"scontrol --help\" for more information".to_string(),
                ],
                1,
            )
        })?;
        match found.key {
            Key::OneLiner => layout = Layout::OneLine,
            Key::Details => details = Details::Allocation,
            Key::Quiet | Key::Verbose => {}
            Key::Help | Key::Usage => {
                print!("{USAGE}");
                return Ok(0);
            }
            Key::Version => {
                println!("slurm {}", corral_slurm::SLURM_VERSION);
                return Ok(0);
            }
            Key::Unsupported(name) => {
                return Err(SlurmError::command_error(
                    COMMAND,
                    &format!("--{name} is not supported by Corral yet"),
                    1,
                ))
            }
        }
    }
    let words = getopt.into_operands();
    let words: Vec<&str> = words.iter().map(String::as_str).collect();
    if let ["show", rest @ ..] = words.as_slice() {
        if let Some(parsed) = node_info::parse_show(rest) {
            let (entity, name) = parsed?;
            return show_nodes_or_partitions(entity, name.as_deref(), layout);
        }
        if let Some(code) = show_local(rest)? {
            return Ok(code);
        }
    }
    match words.as_slice() {
        [] => Err(SlurmError::command_error(
            COMMAND,
            "interactive mode is not supported by Corral yet; give a command",
            1,
        )),
        ["ping"] => ping(),
        ["version"] => {
            println!("slurm {}", corral_slurm::SLURM_VERSION);
            Ok(0)
        }
        ["update", rest @ ..] => update(rest),
        ["show", "job" | "jobs", rest @ ..] | ["show", "jobid", rest @ ..] => {
            show_job(rest, layout, details)
        }
        ["show", "step" | "steps", rest @ ..] => show_step(rest, layout),
        ["hold", ids @ ..] if !ids.is_empty() => {
            job_action(wire::job_action_request::Action::Hold, ids)
        }
        ["uhold" | "holdu", ids @ ..] if !ids.is_empty() => {
            job_action(wire::job_action_request::Action::UserHold, ids)
        }
        ["release", ids @ ..] if !ids.is_empty() => {
            job_action(wire::job_action_request::Action::Release, ids)
        }
        ["requeue", ids @ ..] if !ids.is_empty() => {
            job_action(wire::job_action_request::Action::Requeue, ids)
        }
        ["requeuehold", ids @ ..] if !ids.is_empty() => {
            job_action(wire::job_action_request::Action::RequeueHold, ids)
        }
        [command @ ("hold" | "uhold" | "holdu" | "release" | "requeue" | "requeuehold")] => Err(
            SlurmError::new(vec![format!("too few arguments for keyword:{command}")], 1),
        ),
        [command, ..] => Err(SlurmError::new(
            vec![format!("invalid keyword: {command}")],
            1,
        )),
    }
}

/// `Slurmctld(primary) at NAME is UP` for the leader, `(backup)` for the
/// others, `DOWN` for those that do not answer; Slurm's banner when no
/// controller leads.
fn ping() -> Result<u8, SlurmError> {
    print!("{}", ping_report()?);
    Ok(0)
}

/// What `ping` prints, also the end of `show config`.
fn ping_report() -> Result<String, SlurmError> {
    let client = Arc::new(connect(COMMAND)?);
    let runtime = super::runtime(COMMAND)?;
    let rows = runtime.block_on(crate::corral::status::collect(client.clone()));
    let mut leader_seen = false;
    let mut out = String::new();
    for row in &rows {
        let leader = row.status.as_ref().is_some_and(|s| s.role == "leader");
        leader_seen |= leader;
        let role = if leader { "primary" } else { "backup" };
        let state = if row.status.is_some() { "UP" } else { "DOWN" };
        out.push_str(&format!(
            "Slurmctld({role}) at {} is {state}\n",
            row.controller.name
        ));
    }
    if !leader_seen {
        out.push_str("*****************************************\n");
        out.push_str("** RESTORE SLURMCTLD DAEMON TO SERVICE **\n");
        out.push_str("*****************************************\n");
    }
    Ok(out)
}

/// `show config`, `show hostnames|hostlist|hostlistsorted`: `None` when
/// the entity is none of these.
fn show_local(words: &[&str]) -> Result<Option<u8>, SlurmError> {
    use hostlist_command::LocalShow;
    let Some(show) = hostlist_command::parse_show(words) else {
        return Ok(None);
    };
    match show {
        LocalShow::Config => show_configuration().map(Some),
        LocalShow::Hostnames(list) => {
            let list = list.or_else(|| std::env::var("SLURM_JOB_NODELIST").ok());
            let output = hostlist_command::hostnames(list.as_deref());
            print!("{}", output.stdout);
            eprint!("{}", output.stderr);
            Ok(Some(u8::try_from(output.exit_code).unwrap_or(1)))
        }
        LocalShow::Hostlist { list, sorted } => {
            let list = list.ok_or_else(hostlist_command::missing_list_error)?;
            let list = if list.starts_with('/') {
                read_hostlist_file(&list)?
            } else {
                list
            };
            print!("{}", hostlist_command::encode(&list, sorted)?);
            Ok(Some(0))
        }
    }
}

/// A file of host names, one or more a line.
fn read_hostlist_file(path: &str) -> Result<String, SlurmError> {
    use std::io::Read;
    let file =
        std::fs::File::open(path).map_err(|_| hostlist_command::unreadable_file_error(path))?;
    let mut contents = Vec::new();
    let limit = hostlist_command::HOSTLIST_FILE_BYTES_MAX as u64;
    file.take(limit)
        .read_to_end(&mut contents)
        .map_err(|_| hostlist_command::unreadable_file_error(path))?;
    if contents.len() as u64 >= limit {
        return Err(hostlist_command::file_too_large_error(path));
    }
    Ok(hostlist_command::file_as_hostlist(
        &String::from_utf8_lossy(&contents),
    ))
}

/// `show config`: the keys Corral has, from the configuration file, then a
/// blank line and the controllers' status.
fn show_configuration() -> Result<u8, SlurmError> {
    let path = corral_config::Config::default_path();
    let config = corral_config::Config::load(&path)
        .map_err(|error| SlurmError::command_error(COMMAND, &error.to_string(), 1))?;
    let file = &config.file;
    let view = ConfigView {
        cluster_name: file.cluster_name.clone(),
        controllers: file
            .controllers
            .iter()
            .map(|controller| ControllerView {
                name: controller.display_name(),
                address: controller.address.clone(),
            })
            .collect(),
        // The id a new cluster gives its first job.
        first_job_id: corral_state::ClusterState::default().next_job_id(),
        kill_wait_s: file.timeouts.kill_wait_s,
        max_array_size: corral_state::MAX_ARRAY_SIZE,
        min_job_age_s: file.timeouts.min_job_age_s,
        slurmd_timeout_s: file.timeouts.slurmd_timeout_s,
        config_path: config.path.display().to_string(),
        now_ms: super::connection::now_ms(0),
        utc_offset_seconds: super::connection::local_utc_offset_seconds(),
    };
    let report = show_config::show_config(&view);
    let status = ping_report()?;
    print!("{report}\n{status}");
    Ok(0)
}

fn show_job(ids: &[&str], layout: Layout, details: Details) -> Result<u8, SlurmError> {
    // `14_3`: task 3 of array 14.
    let mut task = None;
    let job_ids = match ids {
        [] => Vec::new(),
        [id] => {
            let (id, task_text) = id
                .split_once('_')
                .map_or((*id, None), |(i, t)| (i, Some(t)));
            if let Some(text) = task_text {
                task = Some(text.parse::<u32>().map_err(|_| malformed_job_id_error())?);
            }
            vec![id
                .parse::<u32>()
                .ok()
                .filter(|id| *id > 0)
                .ok_or_else(malformed_job_id_error)?]
        }
        [_, extra, ..] => {
            return Err(SlurmError::new(
                vec![format!("invalid keyword: {extra}")],
                1,
            ))
        }
    };
    let client = connect(COMMAND)?;
    let query = wire::GetJobsRequest {
        job_ids: job_ids.clone(),
        ..Default::default()
    };
    let (mut jobs, context) = jobs::fetch(COMMAND, &client, query, "slurm_load_jobs error: ")?;
    if let Some(task) = task {
        jobs.retain(|job| job.array.is_some_and(|a| a.task_id == task));
    }
    if jobs.is_empty() {
        if job_ids.is_empty() {
            println!("No jobs in the system");
            return Ok(0);
        }
        return Err(unknown_job_error());
    }
    print!("{}", show_jobs_with(&jobs, &context, layout, details));
    Ok(0)
}

/// `show node [LIST]`, `show partition [NAME]`: what exists is printed,
/// `Node X not found` (stdout, exit 1) for what does not.
fn show_nodes_or_partitions(
    entity: ShowEntity,
    name: Option<&str>,
    layout: Layout,
) -> Result<u8, SlurmError> {
    let client = connect(COMMAND)?;
    let error_prefix = match entity {
        ShowEntity::Nodes => "slurm_load_node error: ",
        ShowEntity::Partitions => "slurm_load_partitions error: ",
    };
    let view = nodes::fetch(COMMAND, &client, error_prefix)?;
    let report = match entity {
        ShowEntity::Nodes => node_info::show_nodes(name, &view, layout)?,
        ShowEntity::Partitions => node_info::show_partitions(name, &view, layout),
    };
    print!("{}", report.stdout);
    Ok(u8::try_from(report.exit_code).unwrap_or(1))
}

/// `update NodeName=LIST State=... Reason=...`: silent on success;
/// `slurm_update error: ...` when the controller refuses (an unknown node,
/// a user who is not an administrator).
fn update(words: &[&str]) -> Result<u8, SlurmError> {
    if matches!(update_node::update_entity(words), Some("JobId" | "JobNAME")) {
        return update_job(words);
    }
    let NodeUpdate { names, change } = update_node::parse_update(words)?;
    use wire::update_node_request::Change;
    let (change, reason) = match change {
        NodeChange::Drain { reason } => (Change::Drain, reason),
        NodeChange::Down { reason } => (Change::Down, reason),
        // Corral has no separate undrain: resume clears the drain.
        NodeChange::Resume | NodeChange::Undrain => (Change::Resume, String::new()),
    };
    let request = wire::UpdateNodeRequest {
        names,
        change: change as i32,
        reason,
    };
    let client = connect(COMMAND)?;
    let runtime = super::runtime(COMMAND)?;
    let reply = runtime
        .block_on(client.call(request, |mut c, r| async move { c.update_node(r).await }))
        .map_err(|error| call_failed(COMMAND, "slurm_update error: ".to_string(), &error))?;
    match reply.rejection {
        None => Ok(0),
        Some(rejection) => {
            use wire::rejection::Kind;
            let reason = match Kind::try_from(rejection.kind) {
                Ok(Kind::InvalidNode) => update_node::INVALID_NODE_NAME,
                Ok(Kind::AccessDenied) => update_node::INVALID_USER_ID,
                _ => rejection.message.as_str(),
            };
            Err(update_node::update_error(reason))
        }
    }
}

/// `hold|uhold|release|requeue|requeuehold LIST...`: each list (`14`,
/// `14_3`, `14_[1-3],15`; `JobId=` and `Job=` prefixes dropped) acted on
/// job by job; a refusal is `REASON for job ID` on stderr and exit 1.
fn job_action(action: wire::job_action_request::Action, words: &[&str]) -> Result<u8, SlurmError> {
    let mut exit_code = 0;
    let mut targets = Vec::new();
    for word in words {
        if word.len() >= 6 && word[..6].eq_ignore_ascii_case("state=") {
            return Err(SlurmError::command_error(
                COMMAND,
                &format!("requeuehold {word} is not supported by Corral yet"),
                1,
            ));
        }
        let list = strip_job_prefix(word);
        match update_job::parse_job_list(list) {
            Some(list) => targets.extend(list),
            None => {
                eprintln!("Invalid job id specified for job {list}");
                exit_code = 1;
            }
        }
    }
    let resolved = resolve_targets(&targets)?;
    let client: Client = connect(COMMAND)?;
    let runtime = super::runtime(COMMAND)?;
    for (text, job_id) in resolved {
        let Some(job_id) = job_id else {
            eprintln!("Invalid job id specified for job {text}");
            exit_code = 1;
            continue;
        };
        let request = wire::JobActionRequest {
            action: action as i32,
            job_id,
        };
        let reply = runtime
            .block_on(client.call(request, |mut c, r| async move { c.job_action(r).await }))
            .map_err(|error| call_failed(COMMAND, format!("{COMMAND}: error: "), &error))?;
        if let Some(rejection) = reply.rejection {
            eprintln!("{} for job {text}", rejection.message);
            exit_code = 1;
        }
    }
    Ok(exit_code)
}

/// `JobId=14` and `Job=14` name the job list `14`.
fn strip_job_prefix(word: &str) -> &str {
    for prefix in ["jobid=", "job="] {
        if word.len() >= prefix.len() && word[..prefix.len()].eq_ignore_ascii_case(prefix) {
            return &word[prefix.len()..];
        }
    }
    word
}

/// Each target as scontrol names it, with its job id: the job (or array)
/// itself, or the id of task `ID_N` if the cluster knows it.
fn resolve_targets(targets: &[JobTarget]) -> Result<Vec<(String, Option<u32>)>, SlurmError> {
    let arrays: Vec<u32> = targets
        .iter()
        .filter(|target| target.task.is_some())
        .map(|target| target.job_id)
        .collect();
    let jobs = if arrays.is_empty() {
        Vec::new()
    } else {
        let query = wire::GetJobsRequest {
            job_ids: arrays,
            ..Default::default()
        };
        jobs::fetch(
            COMMAND,
            &connect(COMMAND)?,
            query,
            "slurm_load_jobs error: ",
        )?
        .0
    };
    Ok(targets
        .iter()
        .map(|target| {
            let job_id = match target.task {
                None => Some(target.job_id),
                Some(task) => jobs
                    .iter()
                    .find(|job| {
                        job.array
                            .is_some_and(|a| a.array_job_id == target.job_id && a.task_id == task)
                    })
                    .map(|job| job.id),
            };
            (target.text(), job_id)
        })
        .collect())
}

/// `update JobId=LIST key=value ...`: silent on success; each refusal is
/// `REASON for job ID`, then `slurm_update error: REASON`, exit 1.
fn update_job(words: &[&str]) -> Result<u8, SlurmError> {
    let request = update_job::parse_job_update(words)?;
    let (jobs, context) = {
        let query = match &request.jobs {
            JobSelection::Ids(targets) => wire::GetJobsRequest {
                job_ids: targets.iter().map(|target| target.job_id).collect(),
                ..Default::default()
            },
            JobSelection::Named(_) => wire::GetJobsRequest::default(),
        };
        jobs::fetch(
            COMMAND,
            &connect(COMMAND)?,
            query,
            "slurm_load_jobs error: ",
        )?
    };
    let targets: Vec<(String, Option<u32>)> = match &request.jobs {
        JobSelection::Ids(targets) => resolve_targets(targets)?,
        JobSelection::Named(name) => {
            let named: Vec<(String, Option<u32>)> = jobs
                .iter()
                .filter(|job| &job.spec.name == name)
                .map(|job| (context.job_id_text(job), Some(job.id)))
                .collect();
            if named.is_empty() {
                return Err(SlurmError::command_error(
                    COMMAND,
                    &format!("No jobs with name '{name}'"),
                    1,
                ));
            }
            named
        }
    };
    let client: Client = connect(COMMAND)?;
    let runtime = super::runtime(COMMAND)?;
    let mut last_refusal = None;
    for (text, job_id) in targets {
        let Some(job_id) = job_id else {
            eprintln!("Invalid job id specified for job {text}");
            last_refusal = Some("Invalid job id specified".to_string());
            continue;
        };
        let mut update = wire::UpdateJobRequest {
            job_id,
            partition: request.partition.clone(),
            nice: request.nice,
            name: request.name.clone(),
            comment: request.comment.clone(),
            ..Default::default()
        };
        if let Some(change) = request.time_limit {
            let current = jobs
                .iter()
                .find(|job| job.id == job_id)
                .map(|job| context.time_limit(job));
            let current = match current {
                Some(LimitView::Limit(TimeLimit::Minutes(minutes))) => Some(minutes),
                _ => None,
            };
            match update_job::resolve_time_limit(change, current)? {
                TimeLimit::Unlimited => update.time_limit_unlimited = true,
                TimeLimit::Minutes(minutes) => update.time_limit_minutes = Some(minutes),
            }
        }
        let reply = runtime
            .block_on(client.call(update, |mut c, r| async move { c.update_job(r).await }))
            .map_err(|error| call_failed(COMMAND, "slurm_update error: ".to_string(), &error))?;
        if let Some(rejection) = reply.rejection {
            eprintln!("{} for job {text}", rejection.message);
            last_refusal = Some(rejection.message);
        }
    }
    match last_refusal {
        None => Ok(0),
        Some(reason) => Err(update_node::update_error(&reason)),
    }
}

/// `show step [ID[.STEP]]`: the running steps in Slurm's layout.
fn show_step(words: &[&str], layout: Layout) -> Result<u8, SlurmError> {
    let wanted = match words {
        [] => None,
        [text] => {
            let Some((job, task, step)) = corral_slurm::scontrol::parse_step_id(text) else {
                return Err(SlurmError::new(
                    vec![format!("Invalid job step id: {text}")],
                    1,
                ));
            };
            Some((*text, job, task, step))
        }
        [_, extra, ..] => {
            return Err(SlurmError::new(
                vec![format!("invalid keyword: {extra}")],
                1,
            ))
        }
    };
    let query = wire::GetJobsRequest {
        job_ids: wanted.map(|(_, job, _, _)| vec![job]).unwrap_or_default(),
        ..Default::default()
    };
    let (mut jobs, context) =
        jobs::fetch(COMMAND, &connect(COMMAND)?, query, "slurm_load_job error: ")?;
    if let Some((_, _, Some(task), _)) = wanted {
        jobs.retain(|job| job.array.is_some_and(|a| a.task_id == task));
    }
    let filter = wanted.map(|(_, job, task, step)| {
        let job = match task {
            Some(_) => jobs.first().map_or(0, |job| job.id),
            None => job,
        };
        (job, step)
    });
    match corral_slurm::scontrol::show_steps(&jobs, filter, &context, layout) {
        Some(text) => {
            print!("{text}");
            Ok(0)
        }
        None => match wanted {
            None => {
                println!("No job steps in the system");
                Ok(0)
            }
            Some((text, ..)) => {
                println!("Job step {text} not found");
                Ok(1)
            }
        },
    }
}
