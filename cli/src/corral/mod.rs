//! `corral`: the controller daemon, administration and the dev cluster.

mod agent;
mod bench;
mod certs;
mod config_check;
mod controller;
pub mod dev;
mod membership;
pub mod snapshot;
pub mod status;
pub mod user;

use std::path::PathBuf;

use clap::{Parser, Subcommand};
use corral_config::Config;

#[derive(Parser)]
#[command(
    name = "corral",
    version,
    about = "Corral: a Slurm-compatible workload manager replicated with Raft"
)]
struct Cli {
    /// Configuration file [default: $CORRAL_CONF, else /etc/corral/corral.toml]
    #[arg(long, global = true, value_name = "PATH")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a controller daemon (`--id N`), or change the controllers:
    /// add, remove, list.
    Controller(controller::Args),
    /// Run a compute node's agent.
    Agent(agent::Args),
    /// Create the cluster CA and certificates.
    #[command(subcommand)]
    Certs(certs::Command),
    /// Check a configuration file (`corral config check [FILE]`).
    #[command(subcommand)]
    Config(config_check::Command),
    /// Manage users and their tokens (administrators).
    #[command(subcommand)]
    User(user::Command),
    /// Back up the replicated state and seed a new cluster from a backup.
    #[command(subcommand)]
    Snapshot(snapshot::Command),
    /// Show every controller's Raft role, term and indexes; exit 0 only when a leader is known.
    Status,
    /// A local cluster on this machine, for trying Corral out and for tests.
    #[command(subcommand)]
    Dev(dev::Command),
    /// Benchmarks: each prints median, min and max over repeated runs and writes JSON.
    #[command(subcommand)]
    Bench(bench::Command),
    /// Supervises one batch job (started by the agent, never by hand).
    #[command(hide = true)]
    JobSupervisor {
        #[arg(long)]
        spool: PathBuf,
    },
    /// Runs one node's tasks of a job step (started by a job supervisor).
    #[command(hide = true)]
    StepTasks { plan: PathBuf },
}

pub fn main(args: Vec<String>) -> u8 {
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(error) => {
            let _ = error.print();
            return if error.use_stderr() { 2 } else { 0 };
        }
    };
    let config_path = cli.config.clone().unwrap_or_else(Config::default_path);
    let result = match cli.command {
        Command::Controller(args) => controller::run(&config_path, args),
        Command::Agent(args) => agent::run(&config_path, args),
        Command::Certs(command) => certs::run(command),
        Command::Config(command) => config_check::run(&config_path, command),
        Command::User(command) => {
            runtime().and_then(|rt| rt.block_on(user::run(&config_path, command)))
        }
        Command::Snapshot(command) => {
            runtime().and_then(|rt| rt.block_on(snapshot::run(&config_path, command)))
        }
        Command::Status => runtime().and_then(|rt| rt.block_on(status::run(&config_path))),
        Command::Dev(command) => dev::run(command),
        Command::Bench(command) => bench::run(command),
        Command::JobSupervisor { spool } => {
            return u8::try_from(corral_agent::supervisor::main(&spool)).unwrap_or(1)
        }
        Command::StepTasks { plan } => {
            return u8::try_from(corral_agent::step_tasks::main(&plan)).unwrap_or(1)
        }
    };
    match result {
        Ok(code) => code,
        Err(error) => {
            eprintln!("corral: error: {error:#}");
            1
        }
    }
}

/// A small runtime for client commands: they make a handful of calls.
pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?)
}

/// Loads the config for a client command, saying where it looked.
pub fn load_config(path: &std::path::Path) -> anyhow::Result<Config> {
    Ok(Config::load(path)?)
}
