//! The controller daemon.
//!
//! A controller is one Raft node (openraft, storage from `corral-raft-store`)
//! and one gRPC server (tonic over rustls) carrying two services on the same
//! port: `Raft`, for its peers, which requires a client certificate naming a
//! controller of this cluster; and `Corral`, for clients, which requires a
//! bearer token.
//!
//! Code map:
//! - [`node`]: opening the store, building the Raft node, bootstrapping, the run loop.
//! - [`network`]: openraft's network to peers (gRPC client side).
//! - [`raft_service`]: the peer-facing gRPC service (server side).
//! - [`client_service`]: the client-facing gRPC service.
//! - [`propose`]: the one write path into the log, and linearizable reads.
//! - [`auth`]: tokens to actors.
//! - [`leader`]: work done only while leader.
//! - [`http`]: `/metrics`, `/health` and `/leader` over plain HTTP.
//! - [`membership`]: adding and removing controllers online (`corral controller add|remove|list`).
//! - [`snapshot`]: `SaveSnapshot`, a backup of the state (`corral snapshot save`).

pub mod accounting;
pub mod auth;
pub mod client_service;
pub mod gateway;
pub mod http;
pub mod leader;
pub mod membership;
pub mod network;
pub mod node;
pub mod propose;
pub mod raft_service;
pub mod signal;
pub mod snapshot;
#[cfg(feature = "upgrade-test-variant")]
pub mod upgrade_test;

pub use node::{run, RunOptions};

/// Largest gRPC message a controller sends or accepts: a batch of log
/// entries carrying job scripts, or a snapshot chunk.
pub const GRPC_MESSAGE_BYTES_MAX: usize = 64 * 1024 * 1024;

/// Errors that stop a controller from starting or running.
#[derive(Debug, thiserror::Error)]
pub enum ControllerError {
    #[error(transparent)]
    Config(#[from] corral_config::ConfigError),
    #[error("{0}")]
    Tls(String),
    #[error("opening the store: {0}")]
    Store(#[from] corral_raft_store::StoreError),
    #[error("raft: {0}")]
    Raft(String),
    #[error("{address}: {message}")]
    Serve { address: String, message: String },
    #[error("{0}")]
    Accounting(String),
}
