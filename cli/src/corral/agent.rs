//! `corral agent`: the compute-node daemon.

use std::path::Path;

use anyhow::Context;
use corral_agent::daemon::{self, AgentOptions};
use corral_config::Config;

#[derive(clap::Args)]
pub struct Args {
    /// The node this agent runs [default: this machine's host name].
    #[arg(long)]
    node: Option<String>,
}

pub fn run(config_path: &Path, args: Args) -> anyhow::Result<u8> {
    super::controller::init_logging();
    let config = Config::load(config_path)?;
    let node = args.node.unwrap_or_else(crate::slurm::host_name);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .thread_name("corral-agent")
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(daemon::run(
        AgentOptions { config, node },
        super::controller::shutdown_signal(),
    ))?;
    Ok(0)
}
