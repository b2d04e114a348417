//! Reading the cluster's nodes and partitions for `sinfo` and `scontrol
//! show node|partition`.

use corral_client::Client;
use corral_proto as wire;
use corral_slurm::cluster_view::ClusterView;
use corral_slurm::SlurmError;
use corral_state::{Node, Partition};

use super::connection::{call_failed, local_utc_offset_seconds, now_ms};

/// Every node and partition, or `{error_prefix}{Slurm's reason}` when the
/// cluster cannot be asked.
pub fn fetch(
    command: &str,
    client: &Client,
    error_prefix: &str,
) -> Result<ClusterView, SlurmError> {
    let runtime = super::runtime(command)?;
    let reply = runtime
        .block_on(
            client.call(wire::GetNodesRequest::default(), |mut c, r| async move {
                c.get_nodes(r).await
            }),
        )
        .map_err(|error| call_failed(command, error_prefix.to_string(), &error))?;
    let malformed = |error: wire::ConversionError| {
        SlurmError::command_error(command, &format!("malformed reply: {error}"), 1)
    };
    let nodes = reply
        .nodes
        .into_iter()
        .map(wire::node_from_wire)
        .collect::<Result<Vec<Node>, _>>()
        .map_err(malformed)?;
    let partitions = reply
        .partitions
        .into_iter()
        .map(Partition::try_from)
        .collect::<Result<Vec<Partition>, _>>()
        .map_err(malformed)?;
    Ok(ClusterView {
        nodes,
        partitions,
        now_ms: now_ms(reply.now_ms),
        utc_offset_seconds: local_utc_offset_seconds(),
    })
}
