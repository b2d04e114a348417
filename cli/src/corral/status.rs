//! `corral status`: every controller's own view of Raft.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use corral_client::{Client, ControllerAddress};
use corral_proto as wire;

/// How long `corral status` waits for each controller.
pub const STATUS_TIMEOUT_MS: u64 = 1_500;

/// One controller's answer, or none.
pub struct Row {
    pub controller: ControllerAddress,
    pub status: Option<wire::ControllerStatusReply>,
}

pub async fn run(config_path: &Path) -> anyhow::Result<u8> {
    let config = super::load_config(config_path)?;
    let client = Arc::new(Client::from_config(&config)?);
    let rows = collect(client).await;
    print!("{}", render(&rows));
    let leader_known = rows
        .iter()
        .any(|row| row.status.as_ref().is_some_and(|s| s.role == "leader"));
    Ok(if leader_known { 0 } else { 1 })
}

/// Asks every configured controller at once, then every member of the Raft
/// membership they name that the configuration does not (a controller added
/// at runtime); rows in configuration order, then by id.
pub async fn collect(client: Arc<Client>) -> Vec<Row> {
    let configured = client.settings().controllers.clone();
    let mut rows = ask(client.clone(), configured).await;
    let mut learned: Vec<ControllerAddress> = Vec::new();
    for member in rows
        .iter()
        .filter_map(|row| row.status.as_ref())
        .flat_map(|status| &status.members)
    {
        let known = rows
            .iter()
            .any(|row| row.controller.address == member.address)
            || learned.iter().any(|c| c.address == member.address);
        if !known {
            learned.push(ControllerAddress {
                id: Some(member.id),
                name: format!("controller-{}", member.id),
                address: member.address.clone(),
            });
        }
    }
    learned.sort_by_key(|c| c.id);
    rows.extend(ask(client, learned).await);
    rows
}

async fn ask(client: Arc<Client>, controllers: Vec<ControllerAddress>) -> Vec<Row> {
    let timeout = Duration::from_millis(STATUS_TIMEOUT_MS);
    let mut calls = tokio::task::JoinSet::new();
    for (index, controller) in controllers.into_iter().enumerate() {
        let client = client.clone();
        calls.spawn(async move {
            let status = client
                .call_one(
                    &controller.address,
                    wire::ControllerStatusRequest {},
                    timeout,
                    |mut c, r| async move { c.controller_status(r).await },
                )
                .await
                .ok();
            (index, Row { controller, status })
        });
    }
    let mut rows: Vec<(usize, Row)> = calls.join_all().await;
    rows.sort_by_key(|(index, _)| *index);
    rows.into_iter().map(|(_, row)| row).collect()
}

/// The leader among the answers: the controller claiming to lead in the
/// highest term. (One restarted after being killed as leader believes it
/// leads its old term until it hears from the new leader.)
pub fn leader(rows: Vec<Row>) -> Option<wire::ControllerStatusReply> {
    rows.into_iter()
        .filter_map(|row| row.status)
        .filter(|status| status.role == "leader")
        .max_by_key(|status| status.term)
}

fn optional(value: Option<u64>) -> String {
    value.map_or("-".to_string(), |v| v.to_string())
}

pub fn render(rows: &[Row]) -> String {
    let mut lines = vec![[
        "ID".to_string(),
        "ADDRESS".to_string(),
        "ROLE".to_string(),
        "TERM".to_string(),
        "LAST_LOG_INDEX".to_string(),
        "APPLIED_INDEX".to_string(),
    ]];
    for row in rows {
        let id = row
            .status
            .as_ref()
            .map(|s| s.id)
            .or(row.controller.id)
            .map_or("-".to_string(), |id| id.to_string());
        let line = match &row.status {
            Some(s) => [
                id,
                row.controller.address.clone(),
                s.role.clone(),
                s.term.to_string(),
                optional(s.last_log_index),
                optional(s.applied_index),
            ],
            None => [
                id,
                row.controller.address.clone(),
                "unreachable".to_string(),
                "-".to_string(),
                "-".to_string(),
                "-".to_string(),
            ],
        };
        lines.push(line);
    }
    align_columns(&lines)
}

/// Rows of cells as left-aligned columns two spaces apart, one line each.
pub(super) fn align_columns<const N: usize>(lines: &[[String; N]]) -> String {
    let widths: Vec<usize> = (0..N)
        .map(|column| {
            lines
                .iter()
                .map(|line| line[column].len())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for line in lines {
        let cells: Vec<String> = line
            .iter()
            .zip(&widths)
            .map(|(cell, width)| format!("{cell:<width$}"))
            .collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    out
}
