//! Corral's wire schema and the conversions between it and the domain types
//! of `corral-state`. This is the only crate that knows about protobuf.

#[allow(clippy::all, clippy::pedantic)]
mod generated {
    tonic::include_proto!("corral.v1");
}

mod accounting;
mod convert;
pub mod frame;

pub use accounting::{
    accounting_job_from_wire, accounting_job_to_wire, admin_level_from_name, job_record_from_wire,
    job_record_to_wire, policy_change_from_wire, policy_change_to_wire, policy_from_wire,
    policy_to_wire, step_record_from_wire, step_record_to_wire,
};
pub use convert::{
    allocation_from_wire, allocation_to_wire, job_from_wire, job_state_from_wire, job_to_wire,
    node_from_wire, signal_from_wire, step_from_wire, step_nodes_to_wire, step_to_wire,
    ConversionError,
};
pub use generated::*;

/// Metadata key carrying the leader's id in a follower's "not leader" answer.
pub const LEADER_ID_METADATA: &str = "corral-leader-id";
/// Metadata key carrying the leader's client address in a "not leader" answer.
pub const LEADER_ADDRESS_METADATA: &str = "corral-leader-addr";
/// Metadata key of the caller's token (`Bearer <token>`).
pub const AUTHORIZATION_METADATA: &str = "authorization";
