//! Fetching jobs for `squeue` and `scontrol show job`, with what the
//! formatters need to print them.

use corral_client::Client;
use corral_proto as wire;
use corral_slurm::{DisplayContext, SlurmError};
use corral_state::Job;

use super::connection::{call_failed, local_utc_offset_seconds, now_ms};

/// Slurm's `priority/basic`: 2^32 - 2^16 minus the job id, so older jobs
/// come first; a held job has priority 0. Corral's scheduler will replace
/// this with its own when it exists.
pub fn basic_priority(job: &Job) -> u32 {
    const TOP: u32 = u32::MAX - u16::MAX as u32;
    if job.reason.is_hold() {
        0
    } else {
        TOP.saturating_sub(job.id)
    }
}

/// The jobs matching `query` and the context to display them, or
/// `{prefix}{Slurm's reason}` when the cluster cannot be asked.
pub fn fetch(
    command: &str,
    client: &Client,
    query: wire::GetJobsRequest,
    error_prefix: &str,
) -> Result<(Vec<Job>, DisplayContext), SlurmError> {
    let runtime = super::runtime(command)?;
    let reply = runtime
        .block_on(client.call(query, |mut c, r| async move { c.get_jobs(r).await }))
        .map_err(|error| call_failed(command, error_prefix.to_string(), &error))?;
    let jobs = reply
        .jobs
        .into_iter()
        .map(wire::job_from_wire)
        .collect::<Result<Vec<Job>, _>>()
        .map_err(|error| {
            SlurmError::command_error(command, &format!("malformed reply: {error}"), 1)
        })?;
    let mut context = DisplayContext::new(now_ms(reply.now_ms), local_utc_offset_seconds());
    context.partition_time_limits = reply
        .partitions
        .into_iter()
        .map(|p| (p.name, p.max_time_minutes))
        .collect();
    context.priorities = jobs
        .iter()
        .map(|job| (job.id, basic_priority(job)))
        .collect();
    // Each distinct group once: a lookup reads /etc/group (or asks NSS),
    // and a queue of thousands of jobs has a handful of groups.
    let gids: std::collections::BTreeSet<u32> = jobs.iter().map(|job| job.gid).collect();
    context.group_names = gids
        .into_iter()
        .filter_map(|gid| group_name(gid).map(|name| (gid, name)))
        .collect();
    context.node_names = jobs
        .iter()
        .filter(|job| job.state != corral_state::JobState::Pending)
        .filter_map(|job| job.allocation.as_ref().map(|a| (job.id, a.node_names())))
        .collect();
    Ok((jobs, context))
}

/// The local name of a group id, if this machine knows it.
pub fn group_name(gid: u32) -> Option<String> {
    // SAFETY: getgrgid returns static storage or null; the name is copied
    // out before any other call.
    unsafe {
        let entry = libc::getgrgid(gid);
        if entry.is_null() {
            return None;
        }
        Some(
            std::ffi::CStr::from_ptr((*entry).gr_name)
                .to_string_lossy()
                .into_owned(),
        )
    }
}
