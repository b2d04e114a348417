//! The controller's plain-HTTP endpoint, for monitoring and for a VIP
//! that follows the leader (`[[controller]] http_address`):
//!
//! - `GET /metrics`: Prometheus text format ([`metrics`]).
//! - `GET /health`: 200 when this process serves HTTP and its Raft node
//!   runs: openraft reports no fatal error, and its core loop answers a
//!   request (reading the commit index) within [`RAFT_ANSWER_TIMEOUT_MS`].
//!   503 otherwise. The body says which.
//! - `GET /leader`: 200 only on the leader, once a quorum has confirmed in
//!   this call that it still leads (`Raft::get_read_log_id`, a heartbeat
//!   round, as for a linearizable read);
//!   503 elsewhere. The one-line body names the leader as this controller
//!   knows it.
//!
//! No TLS and no token: the endpoint reveals counts and roles, never jobs'
//! contents; bind it to an address only the monitoring network reaches.

pub mod metrics;
pub mod submit_timer;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use corral_raft_store::{Raft, StateHandle};
use openraft::ServerState;
use tokio::net::TcpListener;

pub use metrics::ControllerMetrics;
pub use submit_timer::SubmitTimerLayer;

use crate::gateway::Hub;

/// How long `/health` and `/leader` wait for the Raft core to answer.
pub const RAFT_ANSWER_TIMEOUT_MS: u64 = 1_000;

/// What the handlers read.
#[derive(Clone)]
pub struct HttpContext {
    pub raft: Raft,
    pub state: StateHandle,
    pub hub: Arc<Hub>,
    pub metrics: Arc<ControllerMetrics>,
    pub address: String,
    pub cluster_name: String,
}

/// Serves the endpoint on `listener` until `shutdown` completes.
pub async fn serve(
    listener: TcpListener,
    context: HttpContext,
    shutdown: impl Future<Output = ()>,
) {
    let router = axum::Router::new()
        .route("/metrics", get(metrics_page))
        .route("/health", get(health))
        .route("/leader", get(leader))
        .with_state(context);
    corral_metrics::serve(listener, router, shutdown).await
}

async fn metrics_page(State(context): State<HttpContext>) -> Response {
    let committed = committed_index(&context.raft).await.ok().flatten();
    let text = metrics::render(&context, committed);
    ([(header::CONTENT_TYPE, corral_metrics::CONTENT_TYPE)], text).into_response()
}

async fn committed_index(raft: &Raft) -> Result<Option<u64>, String> {
    let asked = raft.with_raft_state(|state| state.committed.map(|log_id| log_id.index));
    match tokio::time::timeout(Duration::from_millis(RAFT_ANSWER_TIMEOUT_MS), asked).await {
        Ok(Ok(committed)) => Ok(committed),
        Ok(Err(fatal)) => Err(format!("the Raft core has stopped: {fatal}")),
        Err(_) => Err(format!(
            "the Raft core did not answer within {RAFT_ANSWER_TIMEOUT_MS} ms"
        )),
    }
}

async fn health(State(context): State<HttpContext>) -> Response {
    let metrics = context.raft.metrics().borrow().clone();
    if let Err(fatal) = &metrics.running_state {
        return corral_metrics::plain_text(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("unhealthy: the Raft node stopped: {fatal}"),
        );
    }
    match committed_index(&context.raft).await {
        Ok(_) => corral_metrics::plain_text(
            StatusCode::OK,
            format!(
                "ok: controller {} serves and its Raft node runs ({}, term {})",
                metrics.id,
                metrics::role_name(metrics.state),
                metrics.current_term
            ),
        ),
        Err(problem) => corral_metrics::plain_text(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("unhealthy: {problem}"),
        ),
    }
}

async fn leader(State(context): State<HttpContext>) -> Response {
    let metrics = context.raft.metrics().borrow().clone();
    let id = metrics.id;
    if metrics.state == ServerState::Leader {
        let confirmed = tokio::time::timeout(
            Duration::from_millis(RAFT_ANSWER_TIMEOUT_MS),
            context.raft.get_read_log_id(),
        )
        .await;
        return match confirmed {
            Ok(Ok(_)) => corral_metrics::plain_text(
                StatusCode::OK,
                format!(
                    "controller {id} ({}) is the leader, term {}",
                    context.address, metrics.current_term
                ),
            ),
            Ok(Err(error)) => corral_metrics::plain_text(
                StatusCode::SERVICE_UNAVAILABLE,
                format!("controller {id} is not the leader any more: {error}"),
            ),
            Err(_) => corral_metrics::plain_text(
                StatusCode::SERVICE_UNAVAILABLE,
                format!(
                    "controller {id} believes it leads term {} but no quorum confirmed it within {RAFT_ANSWER_TIMEOUT_MS} ms",
                    metrics.current_term
                ),
            ),
        };
    }
    let role = metrics::role_name(metrics.state);
    let body = match metrics.current_leader {
        Some(leader) => {
            let address = metrics
                .membership_config
                .membership()
                .get_node(&leader)
                .map(|node| node.addr.clone())
                .unwrap_or_default();
            format!(
                "controller {id} is a {role}; the leader is controller {leader} ({address}), term {}",
                metrics.current_term
            )
        }
        None => format!(
            "controller {id} is a {role}; no leader is known (term {})",
            metrics.current_term
        ),
    };
    corral_metrics::plain_text(StatusCode::SERVICE_UNAVAILABLE, body)
}
