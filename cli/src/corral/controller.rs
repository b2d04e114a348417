//! `corral controller`: the daemon (`--id N`), and the membership
//! (`add`, `remove`, `list`: see `membership.rs`).

use std::path::Path;

use anyhow::Context;
use corral_config::Config;
use corral_controller::RunOptions;

use super::membership;

#[derive(clap::Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct Args {
    #[command(subcommand)]
    membership: Option<membership::Command>,
    /// Run the controller daemon with this id (its entry in the configuration file).
    #[arg(long, required = true)]
    id: Option<u64>,
    /// Initialise a new cluster of the configured controllers. Give it once,
    /// to one controller, the first time the cluster starts.
    #[arg(long)]
    bootstrap: bool,
    /// Check the state's invariants after every applied command (tests, chaos runs).
    #[arg(long)]
    check_invariants: bool,
}

pub fn run(config_path: &Path, args: Args) -> anyhow::Result<u8> {
    if let Some(command) = args.membership {
        return super::runtime()?.block_on(membership::run(config_path, command));
    }
    let id = args.id.context("corral controller needs --id N")?;
    init_logging();
    abort_on_panic();
    let config = Config::load(config_path)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("corral-controller")
        .build()
        .context("starting the async runtime")?;
    let options = RunOptions {
        config,
        id,
        bootstrap: args.bootstrap,
        check_invariants: args.check_invariants,
    };
    runtime.block_on(corral_controller::run(options, shutdown_signal()))?;
    Ok(0)
}

/// What a controller logs unless `CORRAL_LOG` says otherwise. openraft's
/// replication reports every failed attempt to reach a dead peer (twice a
/// second, at ERROR); a dead peer shows in `corral status` instead.
pub const DEFAULT_LOG_FILTER: &str = "info,openraft=warn,openraft::replication=off,\
openraft::engine::handler::replication_handler=off,sled=warn,h2=warn,tower=warn";

/// Logs go to stderr; `CORRAL_LOG` takes `tracing` filter directives.
pub fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("CORRAL_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(DEFAULT_LOG_FILTER));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
}

/// A panic anywhere in a controller stops the whole process. The state
/// machine panics when an invariant breaks, possibly on a task of openraft's
/// that tokio would otherwise let die quietly; a controller that goes on with
/// a corrupt state is worse than one that stops (its peers carry on).
fn abort_on_panic() {
    let report = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        report(info);
        tracing::error!("panic: {info}; stopping the controller");
        std::process::abort();
    }));
}

/// Completes on SIGTERM or SIGINT.
pub async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut terminate), Ok(mut interrupt)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        tracing::error!("cannot install signal handlers; stop this controller with SIGKILL");
        return std::future::pending().await;
    };
    tokio::select! {
        _ = terminate.recv() => tracing::info!("SIGTERM: shutting down"),
        _ = interrupt.recv() => tracing::info!("SIGINT: shutting down"),
    }
}
