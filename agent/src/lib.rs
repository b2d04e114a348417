//! The node-local half of Corral's compute-node agent: what a node has
//! ([`resources`]), what the controller asks it to run ([`launch`]), the
//! local journal that makes a launch happen at most once ([`journal`]),
//! the agent's handle on its jobs ([`runner`]) and the per-job process that
//! runs a batch script and outlives the agent ([`supervisor`]). A node's
//! part of a job step (`srun`) is launched the same way; its supervisor
//! runs the task launcher ([`step_tasks`], planned by [`step_plan`]),
//! which talks to `srun` directly ([`step_io`]).
//!
//! The session with the leader ([`session`], QUIC with mutual TLS) drives
//! a [`runner::Runner`]: `launch` for each `LaunchJob`, `finished` and
//! `acknowledge` for the job ends it reports, `cancel` and `signal`.
//! [`daemon`] ties them together as `corral agent --node NAME`, and
//! [`http`] serves its `/metrics` and `/health`.
//!
//! Architecture invariant: a job's processes never depend on the agent's.
//! Each job has its own supervisor in its own session; the agent can be
//! stopped, upgraded or crash while jobs run, and a new agent on the same
//! state directory finds every job where the old one left it. (Under
//! systemd this needs `KillMode=process`, as `slurmd`'s unit has.)

pub mod daemon;
mod exec;
pub mod http;
pub mod journal;
pub mod launch;
pub mod resources;
pub mod runner;
pub mod session;
pub mod step_io;
pub mod step_plan;
pub mod step_tasks;
pub mod supervisor;
pub mod time_limit;

pub use launch::{ArrayTask, LaunchRequest, OpenMode, StdioPaths, StepLaunch};
pub use resources::{DetectedGpu, DetectedResources, ResourceOverrides};
pub use runner::{
    BatchTarget, FinishedJob, LaunchError, Launched, Runner, RunnerConfig, RunnerError,
};
