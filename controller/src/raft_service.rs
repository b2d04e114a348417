//! The peer-facing gRPC service: hands openraft's messages to the local node.
//!
//! Only a caller presenting a certificate from the cluster CA that names a
//! controller (`controller-<id>`) gets through; TLS has already verified the
//! chain against the CA, this checks what the certificate claims to be.

use corral_proto::raft_server::Raft as RaftRpc;
use corral_proto::RaftPayload;
use corral_raft_store::typ::{AppendEntriesRequest, InstallSnapshotRequest, VoteRequest};
use corral_raft_store::Raft;
use serde::de::DeserializeOwned;
use serde::Serialize;
use tonic::{Request, Response, Status};

pub struct RaftService {
    raft: Raft,
}

impl RaftService {
    pub fn new(raft: Raft) -> RaftService {
        RaftService { raft }
    }
}

/// The controller id the caller's verified certificate names.
fn authorize_peer<T>(request: &Request<T>) -> Result<u64, Status> {
    let certs = request.peer_certs().ok_or_else(|| {
        Status::permission_denied("Raft calls need a controller certificate from the cluster CA")
    })?;
    certs
        .first()
        .and_then(corral_tls::identity::controller_id_of)
        .ok_or_else(|| {
            Status::permission_denied("the presented certificate does not name a controller")
        })
}

fn decode<T: DeserializeOwned>(request: Request<RaftPayload>) -> Result<T, Status> {
    authorize_peer(&request)?;
    serde_json::from_slice(&request.into_inner().json)
        .map_err(|error| Status::invalid_argument(format!("malformed Raft message: {error}")))
}

fn encode<T: Serialize>(reply: &T) -> Result<Response<RaftPayload>, Status> {
    serde_json::to_vec(reply)
        .map(|json| Response::new(RaftPayload { json }))
        .map_err(|error| Status::internal(format!("encoding Raft reply: {error}")))
}

#[tonic::async_trait]
impl RaftRpc for RaftService {
    async fn vote(&self, request: Request<RaftPayload>) -> Result<Response<RaftPayload>, Status> {
        let vote: VoteRequest = decode(request)?;
        encode(&self.raft.vote(vote).await)
    }

    async fn append_entries(
        &self,
        request: Request<RaftPayload>,
    ) -> Result<Response<RaftPayload>, Status> {
        let append: AppendEntriesRequest = decode(request)?;
        encode(&self.raft.append_entries(append).await)
    }

    async fn install_snapshot(
        &self,
        request: Request<RaftPayload>,
    ) -> Result<Response<RaftPayload>, Status> {
        let chunk: InstallSnapshotRequest = decode(request)?;
        encode(&self.raft.install_snapshot(chunk).await)
    }
}
