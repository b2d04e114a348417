//! Slurm 22.05's command-line language, pure: no I/O, no clock, no
//! environment reads. Everything a command needs (argv, the environment, the
//! script text, the time, the jobs) comes in as arguments, and everything it
//! would print comes back as text or as a [`SlurmError`] whose lines are
//! exactly what Slurm writes to stderr.
//!
//! - [`getopt`]: glibc `getopt_long`, messages included.
//! - [`time`], [`memory`]: Slurm's duration, timestamp and size formats.
//! - [`sbatch`]: an `sbatch` invocation (argv, `SBATCH_*` variables,
//!   `#SBATCH` directives) validated into an [`sbatch::SbatchRequest`].
//! - [`squeue`]: the `-o` format engine; [`scontrol`]: `show job`.
//! - [`display`]: what both need to know about a job beyond [`corral_state::Job`].
//! - [`sinfo`]: sinfo's options, formats and grouping; [`node_info`]:
//!   `scontrol show node|partition`; [`update_node`]: `scontrol update
//!   NodeName=...`; [`node_state`]: a node's state in Slurm's words;
//!   [`cluster_view`]: the nodes and partitions they print.
//! - [`sacct`]: sacct's options, time window and job listing.
//! - [`sacctmgr`]: clusters, accounts, users and associations.
//! - [`sreport`]: `cluster utilization` and `user top`.
//! - [`show_config`]: `scontrol show config`; [`hostlist_command`]:
//!   `scontrol show hostnames|hostlist|hostlistsorted`.

mod c_number;
pub mod cluster_view;
pub mod display;
mod error;
pub mod getopt;
pub mod hostlist_command;
pub mod memory;
pub mod node_info;
pub mod node_state;
pub mod sacct;
pub mod sacctmgr;
pub mod sbatch;
pub mod scontrol;
pub mod show_config;
pub mod sinfo;
pub mod squeue;
pub mod sreport;
pub mod srun;
pub mod steps;
pub mod time;
pub mod update_job;
pub mod update_node;

pub use display::DisplayContext;
pub use error::{SlurmError, EXIT_FAILURE, EXIT_OPTION_ERROR};

/// The Slurm release whose behaviour this crate reproduces; `-V` prints it.
pub const SLURM_VERSION: &str = "22.05.8";
