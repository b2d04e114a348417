//! `SaveSnapshot`: a backup of the replicated state from a running cluster.
//!
//! Linearizable: the leader confirms with a quorum that it still leads and
//! has applied everything committed before the call (`Proposer::read`),
//! then copies the state at its applied log id, all at one instant. The
//! backup reflects at least every write acknowledged before the call.

use corral_proto as wire;
use corral_raft_store::Backup;
use tonic::{Request, Response, Status};

use crate::auth::Authenticator;
use crate::propose::{wall_clock_ms, Proposer};

/// Serves `SaveSnapshot` for administrators.
pub async fn save(
    proposer: &Proposer,
    authenticator: &Authenticator,
    cluster_name: &str,
    request: Request<wire::SaveSnapshotRequest>,
) -> Result<Response<wire::SaveSnapshotReply>, Status> {
    proposer.redirect_unless_leader()?;
    let actor = authenticator.actor(request.metadata())?;
    if !actor.admin {
        return Err(Status::permission_denied(format!(
            "saving a snapshot needs an administrator; {} is not one",
            actor.user
        )));
    }
    proposer.read(|_| ()).await?;
    let copy = proposer.state().copy();
    let backup = tokio::task::spawn_blocking({
        let cluster_name = cluster_name.to_string();
        move || Backup::of(&copy, &cluster_name, wall_clock_ms()).map(|b| (b.encode(), b.log_id()))
    })
    .await
    .map_err(|error| Status::internal(format!("encoding the backup: {error}")))?;
    let (bytes, log_id) = backup.map_err(Status::failed_precondition)?;
    tracing::info!(
        index = log_id.index,
        term = log_id.leader_id.term,
        bytes = bytes.len(),
        by = %actor.user,
        "snapshot saved for a backup"
    );
    Ok(Response::new(wire::SaveSnapshotReply {
        backup: bytes,
        index: log_id.index,
        term: log_id.leader_id.term,
    }))
}
