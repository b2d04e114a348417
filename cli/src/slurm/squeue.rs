//! `squeue`: options, filters, formats and sorting are
//! `corral_slurm::squeue`'s; here the environment is read, the cluster
//! asked (again every `-i` seconds), and the result printed.

use std::time::Duration;

use corral_proto as wire;
use corral_slurm::squeue::options::{self, Invocation, Query};
use corral_slurm::SlurmError;

use super::connection::{connect, host_name};
use super::{jobs, nodes};

const COMMAND: &str = "squeue";

/// The environment variables squeue reads.
fn squeue_environment() -> Vec<(String, String)> {
    std::env::vars()
        .filter(|(name, _)| name.starts_with("SQUEUE_"))
        .collect()
}

pub fn run(args: &[String]) -> Result<u8, SlurmError> {
    let current_user = crate::corral::user::current_user_name().unwrap_or_default();
    let mut query = match options::parse_command_line(args, &squeue_environment(), &current_user)? {
        Invocation::Print(text) => {
            print!("{text}");
            return Ok(0);
        }
        Invocation::List(query) => *query,
    };
    for warning in &query.warnings {
        eprintln!("{warning}");
    }
    // Each read builds its own client: a client's connections belong to
    // the runtime of the call that opened them.
    if query.nodes.is_some() {
        let view = nodes::fetch(COMMAND, &connect(COMMAND)?, "slurm_load_node error: ")?;
        let names: Vec<String> = view.nodes.iter().map(|node| node.name.clone()).collect();
        query.check_nodes(&names, &host_name())?;
    }
    let cluster_name = corral_config::Config::load(&corral_config::Config::default_path())
        .ok()
        .map(|config| config.file.cluster_name);
    let Some(seconds) = query.iterate_seconds else {
        return one_round(&query, cluster_name);
    };
    // `-i`: print, a blank line, sleep, again, until interrupted. A round
    // that fails says why and the next one tries again, as squeue does.
    loop {
        if let Err(error) = one_round(&query, cluster_name.clone()) {
            eprint!("{}", error.stderr_text());
        }
        println!();
        std::thread::sleep(Duration::from_secs(seconds));
    }
}

fn one_round(query: &Query, cluster_name: Option<String>) -> Result<u8, SlurmError> {
    let client = connect(COMMAND)?;
    let request = wire::GetJobsRequest {
        job_ids: query.job_ids.clone(),
        users: query.users.clone(),
        partitions: query.partitions.clone(),
        ..Default::default()
    };
    let (jobs, mut context) = jobs::fetch(COMMAND, &client, request, "slurm_load_jobs error: ")?;
    // Asked for exactly one job that does not exist at all: Slurm's error.
    if query.job_ids.len() == 1 && jobs.is_empty() {
        return Err(corral_slurm::scontrol::unknown_job_error());
    }
    context.cluster_name = cluster_name;
    let rendered = query.render(jobs, context);
    print!("{}", rendered.stdout);
    match rendered.error {
        Some(error) => Err(error),
        None => Ok(0),
    }
}
