//! `corral controller add|remove|list`: the Raft membership, changed online
//! through the leader (see `controller/src/membership.rs` and
//! docs/membership.md).

use std::path::Path;
use std::time::Duration;

use anyhow::bail;
use corral_client::{Client, ClientError};
use corral_proto as wire;

#[derive(clap::Subcommand)]
pub enum Command {
    /// Add a controller, already started with an empty data directory (no
    /// --bootstrap): it joins as a learner, catches up (by snapshot if
    /// needed), then becomes a voter.
    Add {
        /// Its id (its certificate names controller-ID).
        id: u64,
        /// host:port of its gRPC service (and, over UDP, its agent gateway).
        address: String,
        /// host:port of its /metrics, /health and /leader, if it serves them.
        #[arg(long)]
        http_address: Option<String>,
    },
    /// Remove a controller (voter or learner) from the cluster.
    Remove { id: u64 },
    /// Show the members: id, addresses, voter or learner, the leader.
    List,
}

pub async fn run(config_path: &Path, command: Command) -> anyhow::Result<u8> {
    let config = super::load_config(config_path)?;
    let client = Client::from_config(&config)?;
    let reply = match command {
        Command::Add {
            id,
            address,
            http_address,
        } => {
            let request = wire::AddControllerRequest {
                id,
                address,
                http_address: http_address.unwrap_or_default(),
            };
            let attempt =
                Duration::from_millis(corral_controller::membership::ADD_ATTEMPT_TIMEOUT_MS);
            client
                .call_with_attempt_timeout(attempt, request, |mut c, r| async move {
                    c.add_controller(r).await
                })
                .await
        }
        Command::Remove { id } => {
            client
                .call(
                    wire::RemoveControllerRequest { id },
                    |mut c, r| async move { c.remove_controller(r).await },
                )
                .await
        }
        Command::List => {
            client
                .call(wire::GetControllersRequest {}, |mut c, r| async move {
                    c.get_controllers(r).await
                })
                .await
        }
    };
    let reply = match reply {
        Ok(reply) => reply,
        Err(ClientError::Rpc(status)) => bail!("refused: {}", status.message()),
        Err(error) => return Err(error.into()),
    };
    if !reply.message.is_empty() {
        println!("{}", reply.message);
    }
    print!("{}", render(&reply));
    Ok(0)
}

/// The members as a table, one line each.
pub fn render(reply: &wire::MembershipReply) -> String {
    let mut lines = vec![[
        "ID".to_string(),
        "ADDRESS".to_string(),
        "HTTP_ADDRESS".to_string(),
        "ROLE".to_string(),
        "LEADER".to_string(),
        "MATCHED_INDEX".to_string(),
    ]];
    for member in &reply.members {
        lines.push([
            member.id.to_string(),
            member.address.clone(),
            if member.http_address.is_empty() {
                "-".to_string()
            } else {
                member.http_address.clone()
            },
            if member.voter { "voter" } else { "learner" }.to_string(),
            if member.leader { "yes" } else { "-" }.to_string(),
            member
                .matched_index
                .map_or("-".to_string(), |index| index.to_string()),
        ]);
    }
    let mut out = super::status::align_columns(&lines);
    out.push_str(&format!(
        "term {}, last log index {}, membership at index {}\n",
        reply.term,
        reply
            .last_log_index
            .map_or("-".to_string(), |index| index.to_string()),
        reply
            .membership_index
            .map_or("-".to_string(), |index| index.to_string()),
    ));
    out
}
