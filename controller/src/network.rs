//! openraft's network to peer controllers: gRPC over mutual TLS.
//!
//! Requests and responses are openraft's own types as JSON inside a
//! `RaftPayload`; the remote side answers with the JSON of the whole
//! `Result`, so a Raft-level error (a higher vote, say) travels back as such
//! and only transport failures become `Unreachable`/`Network` errors.

use std::error::Error;
use std::fmt;

use corral_client::{endpoint, ClientTls};
use corral_proto::raft_client::RaftClient;
use corral_proto::RaftPayload;
use corral_raft_store::typ::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotError, InstallSnapshotRequest,
    InstallSnapshotResponse, RaftError, RpcError, VoteRequest, VoteResponse,
};
use corral_raft_store::{Node, NodeId, TypeConfig};
use openraft::error::{NetworkError, RemoteError, Unreachable};
use openraft::network::{RPCOption, RaftNetwork, RaftNetworkFactory};
use serde::de::DeserializeOwned;
use serde::Serialize;
use tonic::transport::Channel;

use crate::GRPC_MESSAGE_BYTES_MAX;

/// Builds one [`PeerClient`] per peer, each with a lazily connected channel.
pub struct PeerNetwork {
    tls: ClientTls,
}

impl PeerNetwork {
    /// `tls` must carry this controller's own certificate: peers refuse a
    /// caller without one.
    pub fn new(tls: ClientTls) -> PeerNetwork {
        PeerNetwork { tls }
    }
}

impl RaftNetworkFactory<TypeConfig> for PeerNetwork {
    type Network = PeerClient;

    async fn new_client(&mut self, target: NodeId, node: &Node) -> PeerClient {
        let client = endpoint(&node.addr, &self.tls).map(|endpoint| {
            RaftClient::new(endpoint.connect_lazy())
                .max_decoding_message_size(GRPC_MESSAGE_BYTES_MAX)
                .max_encoding_message_size(GRPC_MESSAGE_BYTES_MAX)
        });
        PeerClient {
            target,
            address: node.addr.clone(),
            client: client.map_err(|error| error.to_string()),
        }
    }
}

pub struct PeerClient {
    target: NodeId,
    address: String,
    /// An address that cannot make an endpoint is reported on every call.
    client: Result<RaftClient<Channel>, String>,
}

/// A transport failure, as an error openraft can hold.
#[derive(Debug)]
struct TransportError(String);

impl fmt::Display for TransportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Error for TransportError {}

enum Rpc {
    Vote,
    AppendEntries,
    InstallSnapshot,
}

impl PeerClient {
    async fn call<Req, Resp, E>(
        &mut self,
        rpc: Rpc,
        request: &Req,
        option: &RPCOption,
    ) -> Result<Resp, RpcError<RaftError<E>>>
    where
        Req: Serialize,
        Resp: DeserializeOwned,
        E: Error,
        RaftError<E>: DeserializeOwned,
    {
        let client = match &mut self.client {
            Ok(client) => client,
            Err(error) => {
                return Err(RpcError::Unreachable(Unreachable::new(&TransportError(
                    format!("{}: {error}", self.address),
                ))))
            }
        };
        let json = serde_json::to_vec(request)
            .map_err(|error| RpcError::Network(NetworkError::new(&error)))?;
        let mut message = tonic::Request::new(RaftPayload { json });
        message.set_timeout(option.hard_ttl());
        let reply = match rpc {
            Rpc::Vote => client.vote(message).await,
            Rpc::AppendEntries => client.append_entries(message).await,
            Rpc::InstallSnapshot => client.install_snapshot(message).await,
        };
        let payload = reply.map_err(|status| transport_error(&self.address, status))?;
        let result: Result<Resp, RaftError<E>> = serde_json::from_slice(&payload.into_inner().json)
            .map_err(|error| RpcError::Network(NetworkError::new(&error)))?;
        result.map_err(|error| RpcError::RemoteError(RemoteError::new(self.target, error)))
    }
}

/// Connection failures make openraft back off from the peer; anything else
/// is retried at the next heartbeat.
fn transport_error<E: Error>(address: &str, status: tonic::Status) -> RpcError<E> {
    let error = TransportError(format!("{address}: {}", status.message()));
    match status.code() {
        tonic::Code::Unavailable => RpcError::Unreachable(Unreachable::new(&error)),
        _ => RpcError::Network(NetworkError::new(&error)),
    }
}

impl RaftNetwork<TypeConfig> for PeerClient {
    async fn append_entries(
        &mut self,
        request: AppendEntriesRequest,
        option: RPCOption,
    ) -> Result<AppendEntriesResponse, RpcError<RaftError>> {
        self.call(Rpc::AppendEntries, &request, &option).await
    }

    async fn install_snapshot(
        &mut self,
        request: InstallSnapshotRequest,
        option: RPCOption,
    ) -> Result<InstallSnapshotResponse, RpcError<RaftError<InstallSnapshotError>>> {
        self.call(Rpc::InstallSnapshot, &request, &option).await
    }

    async fn vote(
        &mut self,
        request: VoteRequest,
        option: RPCOption,
    ) -> Result<VoteResponse, RpcError<RaftError>> {
        self.call(Rpc::Vote, &request, &option).await
    }
}
