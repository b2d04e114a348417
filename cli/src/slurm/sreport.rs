//! `sreport cluster utilization` and `sreport user top`: the jobs of the
//! window from the accounting rows, and the cluster's CPUs from its nodes.

use corral_proto as wire;
use corral_slurm::sreport::{self, Invocation, Report};
use corral_slurm::SlurmError;

use super::connection::{call_failed, connect, local_utc_offset_seconds, now_ms};

const COMMAND: &str = "sreport";

pub fn run(args: &[String]) -> Result<u8, SlurmError> {
    let now = now_ms(0);
    let config = match sreport::parse_command_line(args, now, local_utc_offset_seconds())? {
        Invocation::Print(text) => {
            print!("{text}");
            return Ok(0);
        }
        Invocation::Show(config) => config,
    };
    let to_ms = |seconds: i64| u64::try_from(seconds).unwrap_or(0).saturating_mul(1000);
    let client = connect(COMMAND)?;
    let runtime = super::runtime(COMMAND)?;
    let failed = |error| call_failed(COMMAND, format!("{COMMAND}: error: "), &error);
    let reply = runtime
        .block_on(client.call(
            wire::GetAccountingRequest {
                window_start_ms: Some(to_ms(config.start_seconds)),
                window_end_ms: Some(to_ms(config.end_seconds)),
                ..Default::default()
            },
            |mut c, r| async move { c.get_accounting(r).await },
        ))
        .map_err(failed)?;
    let nodes = runtime
        .block_on(
            client.call(wire::GetNodesRequest::default(), |mut c, r| async move {
                c.get_nodes(r).await
            }),
        )
        .map_err(failed)?;
    let jobs = reply
        .jobs
        .into_iter()
        .map(|job| wire::accounting_job_from_wire(job).map(|(job, _)| job))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| {
            SlurmError::command_error(COMMAND, &format!("malformed reply: {error}"), 1)
        })?;
    let window_seconds = u64::try_from(config.end_seconds - config.start_seconds).unwrap_or(0);
    let cpus: u64 = nodes.nodes.iter().map(|node| u64::from(node.cpus)).sum();
    let total_cpu_seconds = cpus * window_seconds;
    let usage = sreport::cpu_usage(
        &jobs,
        config.start_seconds,
        config.end_seconds,
        now_ms(reply.now_ms),
    );
    let (stdout, stderr, code) = match &config.report {
        Report::ClusterUtilization => {
            let allocated: u64 = usage.iter().map(|user| user.cpu_seconds).sum();
            sreport::render_cluster_utilization(
                &config,
                &reply.cluster_name,
                allocated,
                total_cpu_seconds,
            )
        }
        Report::UserTop { .. } => sreport::render_user_top(
            &config,
            &reply.cluster_name,
            &usage,
            total_cpu_seconds,
            &proper_name,
        ),
    };
    print!("{stdout}");
    eprint!("{stderr}");
    Ok(u8::try_from(code.rem_euclid(256)).unwrap_or(1))
}

/// The GECOS name of a login, as sreport's "Proper Name".
fn proper_name(login: &str) -> Option<String> {
    let name = std::ffi::CString::new(login).ok()?;
    // SAFETY: getpwnam returns static storage or null; the field is copied
    // out before any other call.
    unsafe {
        let entry = libc::getpwnam(name.as_ptr());
        if entry.is_null() || (*entry).pw_gecos.is_null() {
            return None;
        }
        let gecos = std::ffi::CStr::from_ptr((*entry).pw_gecos).to_string_lossy();
        let first = gecos.split(',').next().unwrap_or_default().to_string();
        (!first.is_empty()).then_some(first)
    }
}
