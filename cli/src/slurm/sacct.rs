//! `sacct`: parse, ask the leader for the rows (from the accounting
//! database and the replicated state), and print them as Slurm does.

use corral_proto as wire;
use corral_slurm::sacct::{self, Invocation, SacctContext, UserSelection};
use corral_slurm::SlurmError;

use super::connection::{call_failed, connect, local_utc_offset_seconds, now_ms};
use super::jobs::group_name;

const COMMAND: &str = "sacct";

pub fn run(args: &[String]) -> Result<u8, SlurmError> {
    let environment: Vec<(String, String)> = std::env::vars().collect();
    let context = SacctContext {
        now_ms: now_ms(0),
        utc_offset_seconds: local_utc_offset_seconds(),
        // SAFETY: getuid has no preconditions.
        caller_uid: unsafe { libc::getuid() },
    };
    let config = match sacct::parse_command_line(args, &environment, &context)? {
        Invocation::Print(text) => {
            print!("{text}");
            return Ok(0);
        }
        Invocation::Show(config) => config,
    };
    let seconds_to_ms = |seconds: i64| u64::try_from(seconds).ok().map(|s| s.saturating_mul(1000));
    let users = match &config.users {
        Some(users) if users.iter().all(|u| matches!(u, UserSelection::Name(_))) => users
            .iter()
            .filter_map(|u| match u {
                UserSelection::Name(name) => Some(name.clone()),
                UserSelection::Uid(_) => None,
            })
            .collect(),
        _ => Vec::new(),
    };
    let request = wire::GetAccountingRequest {
        job_ids: config
            .jobs
            .iter()
            .flatten()
            .map(|selection| selection.job_id)
            .collect(),
        users,
        window_start_ms: seconds_to_ms(config.window.start_seconds),
        window_end_ms: seconds_to_ms(config.window.end_seconds),
    };
    let client = connect(COMMAND)?;
    let runtime = super::runtime(COMMAND)?;
    let reply = runtime
        .block_on(client.call(request, |mut c, r| async move { c.get_accounting(r).await }))
        .map_err(|error| call_failed(COMMAND, format!("{COMMAND}: error: "), &error))?;
    let rows = reply
        .jobs
        .into_iter()
        .map(wire::accounting_job_from_wire)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| {
            SlurmError::command_error(COMMAND, &format!("malformed reply: {error}"), 1)
        })?;
    let output = sacct::render(
        &rows,
        &config,
        now_ms(reply.now_ms),
        &reply.cluster_name,
        &group_name,
    );
    print!("{}", output.stdout);
    eprint!("{}", output.stderr);
    Ok(u8::try_from(output.exit_code.rem_euclid(256)).unwrap_or(1))
}
