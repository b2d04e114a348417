//! The agent's plain-HTTP endpoint (`[agent] http_address`, or the node's
//! entry in `[agent.http_addresses]`):
//!
//! - `GET /metrics`: Prometheus text format: whether the agent is attached
//!   to the leader and to which controller, its running jobs and job-step
//!   parts, and the job ends it has reported that the leader has not
//!   acknowledged yet (all described in docs/monitoring.md).
//! - `GET /health`: 200 when this process serves HTTP and can read its
//!   journal (the spool directory); 503 otherwise. Being detached from the
//!   leader is not unhealthy (the agent keeps trying, and its jobs run on);
//!   the body says whether it is attached.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use corral_metrics::{Exposition, Kind};
use tokio::net::TcpListener;

use crate::runner::Runner;

/// The session's side of the metrics: which controller the agent is
/// attached to, if any.
#[derive(Default)]
pub struct AgentStatus {
    controller: Mutex<Option<String>>,
    sessions: AtomicU64,
}

impl AgentStatus {
    /// A session with the leader at `address` began.
    pub fn attached(&self, address: &str) {
        *self.controller.lock().expect("agent status poisoned") = Some(address.to_string());
        self.sessions.fetch_add(1, Ordering::Relaxed);
    }

    /// The session ended.
    pub fn detached(&self) {
        *self.controller.lock().expect("agent status poisoned") = None;
    }

    pub fn controller(&self) -> Option<String> {
        self.controller
            .lock()
            .expect("agent status poisoned")
            .clone()
    }
}

#[derive(Clone)]
pub struct HttpContext {
    pub node: String,
    pub runner: Arc<Runner>,
    pub status: Arc<AgentStatus>,
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
        .with_state(context);
    corral_metrics::serve(listener, router, shutdown).await
}

/// What the journal says, read on a blocking thread.
struct JournalCounts {
    jobs: usize,
    steps: usize,
    unacknowledged: usize,
}

async fn journal_counts(runner: Arc<Runner>) -> Result<JournalCounts, String> {
    let read = tokio::task::spawn_blocking(move || {
        let active = runner.active().map_err(|e| e.to_string())?;
        let steps = runner.active_steps().map_err(|e| e.to_string())?;
        let finished = runner.finished().map_err(|e| e.to_string())?;
        Ok(JournalCounts {
            jobs: active.len(),
            steps: steps.len(),
            unacknowledged: finished.len(),
        })
    });
    read.await
        .map_err(|error| format!("reading the journal: {error}"))?
        .map_err(|error: String| format!("reading the journal: {error}"))
}

async fn metrics_page(State(context): State<HttpContext>) -> Response {
    let counts = journal_counts(context.runner.clone()).await;
    let controller = context.status.controller();
    let mut out = Exposition::new();
    out.family(
        Kind::Gauge,
        "corral_agent_info",
        "Always 1; the labels name this agent's node.",
        [(
            vec![
                ("node", context.node.clone()),
                ("version", env!("CARGO_PKG_VERSION").to_string()),
            ],
            1.0,
        )],
    );
    out.single(
        Kind::Gauge,
        "corral_agent_connected",
        "1 while the agent is attached to the leader over QUIC, 0 otherwise.",
        if controller.is_some() { 1.0 } else { 0.0 },
    );
    out.family(
        Kind::Gauge,
        "corral_agent_controller",
        "1 for the controller the agent is attached to (no sample while detached).",
        controller.map(|address| (vec![("address", address)], 1.0)),
    );
    out.single(
        Kind::Counter,
        "corral_agent_sessions_total",
        "Sessions with a leader begun since the agent started.",
        context.status.sessions.load(Ordering::Relaxed) as f64,
    );
    out.single(
        Kind::Gauge,
        "corral_agent_journal_readable",
        "1 when the agent could read its journal for this scrape, 0 otherwise.",
        if counts.is_ok() { 1.0 } else { 0.0 },
    );
    if let Ok(counts) = &counts {
        out.single(
            Kind::Gauge,
            "corral_agent_jobs_running",
            "Batch jobs this node runs (launched, not yet ended).",
            counts.jobs as f64,
        );
        out.single(
            Kind::Gauge,
            "corral_agent_steps_running",
            "This node's parts of job steps (srun) running.",
            counts.steps as f64,
        );
        out.single(
            Kind::Gauge,
            "corral_agent_reports_unacknowledged",
            "Job and step ends this node reported (or will) that the leader has not acknowledged yet.",
            counts.unacknowledged as f64,
        );
    }
    (
        [(header::CONTENT_TYPE, corral_metrics::CONTENT_TYPE)],
        out.finish(),
    )
        .into_response()
}

async fn health(State(context): State<HttpContext>) -> Response {
    let attached = match context.status.controller() {
        Some(address) => format!("attached to the leader at {address}"),
        None => "not attached to a leader".to_string(),
    };
    match journal_counts(context.runner.clone()).await {
        Ok(counts) => corral_metrics::plain_text(
            StatusCode::OK,
            format!(
                "ok: agent of {} serves and reads its journal ({} jobs running); {attached}",
                context.node, counts.jobs
            ),
        ),
        Err(problem) => corral_metrics::plain_text(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("unhealthy: {problem}; {attached}"),
        ),
    }
}
