//! The Slurm commands: `sbatch`, `squeue`, `sinfo`, `scontrol`, `scancel`,
//! `srun` inside a batch job, and `sacct`, `sacctmgr`, `sreport`.
//!
//! Each command parses its arguments with `corral-slurm` (pure), talks to the
//! leader through `corral_client::Client`, and prints what Slurm prints.
//! Every failure is a [`SlurmError`] printed in one place, [`run`], with
//! Slurm's exit code.

mod connection;
pub use connection::host_name;
mod jobs;
mod nodes;
mod sacct;
mod sacctmgr;
mod sbatch;
mod scancel;
mod scontrol;
mod sinfo;
mod squeue;
mod sreport;
mod srun;

use corral_slurm::SlurmError;

pub enum SlurmCommand {
    Sbatch,
    Squeue,
    Sinfo,
    Scontrol,
    Scancel,
    Srun,
    Sacct,
    Sacctmgr,
    Sreport,
}

pub fn command_named(name: &str) -> Option<SlurmCommand> {
    match name {
        "sbatch" => Some(SlurmCommand::Sbatch),
        "squeue" => Some(SlurmCommand::Squeue),
        "sinfo" => Some(SlurmCommand::Sinfo),
        "scontrol" => Some(SlurmCommand::Scontrol),
        "scancel" => Some(SlurmCommand::Scancel),
        "srun" => Some(SlurmCommand::Srun),
        "sacct" => Some(SlurmCommand::Sacct),
        "sacctmgr" => Some(SlurmCommand::Sacctmgr),
        "sreport" => Some(SlurmCommand::Sreport),
        _ => None,
    }
}

/// Runs a Slurm command and returns its exit code.
pub fn run(command: SlurmCommand, args: Vec<String>) -> u8 {
    let result = match command {
        SlurmCommand::Sbatch => sbatch::run(&args),
        SlurmCommand::Squeue => squeue::run(&args),
        SlurmCommand::Sinfo => sinfo::run(&args),
        SlurmCommand::Scontrol => scontrol::run(&args),
        SlurmCommand::Scancel => scancel::run(&args),
        SlurmCommand::Srun => srun::run(&args),
        SlurmCommand::Sacct => sacct::run(&args),
        SlurmCommand::Sacctmgr => sacctmgr::run(&args),
        SlurmCommand::Sreport => sreport::run(&args),
    };
    match result {
        Ok(code) => code,
        Err(error) => {
            eprint!("{}", error.stderr_text());
            u8::try_from(error.exit_code.rem_euclid(256)).unwrap_or(1)
        }
    }
}

/// A runtime for one command's few calls.
fn runtime(command: &str) -> Result<tokio::runtime::Runtime, SlurmError> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|error| SlurmError::command_error(command, &format!("cannot start: {error}"), 1))
}
