//! Clients of the controllers: the Slurm commands, `corral`, the chaos
//! harness and the benchmarks all reach the cluster through [`Client`].
//!
//! Architecture invariant: there is exactly one retry loop for leader
//! redirects ([`Client::call`]). A follower answers a leader-only request with
//! `UNAVAILABLE` and, when it knows one, the leader's address; the loop goes
//! there, tries the other controllers when nobody answers, and gives up after
//! a bounded total wait with an error that lists what it tried.

mod channel;
mod retry;
mod settings;

pub use channel::{endpoint, ClientTls};
pub use retry::{Client, ClientError};
pub use settings::{ClientSettings, ControllerAddress, CONTROLLERS_ENV, TOKEN_ENV};

pub use corral_proto as proto;
