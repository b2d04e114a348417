//! The agent daemon (`corral agent --node NAME`): checks its certificate,
//! finds its resources, opens its journal, and keeps a session with the
//! leader, wherever the leader is.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use corral_config::{Config, ConfigError};
use corral_state::NodeResources;

use crate::http::{self, AgentStatus};
use crate::resources::{self, ResourceOverrides};
use crate::runner::{Runner, RunnerConfig};
use crate::session::{
    self, LearnedControllers, SessionContext, SessionEnd, RECONNECT_BACKOFF_MAX_MS,
    RECONNECT_BACKOFF_MIN_MS,
};

/// A session that lasted this long was a real one: reconnect at once.
pub const SESSION_STABLE_MS: u64 = 5_000;
/// How often the spools of acknowledged jobs are looked at for removal.
pub const SPOOL_PURGE_INTERVAL_MS: u64 = 10 * 60 * 1000;
/// How long a finished job's spool is kept after its end was acknowledged.
/// While it exists, a late duplicate of its launch (from a deposed leader
/// that has not heard of its end) is recognised and runs nothing.
pub const SPOOL_RETENTION_MS: u64 = 60 * 60 * 1000;

pub struct AgentOptions {
    pub config: Config,
    pub node: String,
}

#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("{0}")]
    Tls(String),
    #[error("{0}")]
    Resources(String),
    #[error("the journal: {0}")]
    Journal(String),
    #[error("{0}")]
    Http(String),
}

/// Runs the agent until `shutdown` completes. Jobs keep running after it
/// returns: each has its own supervisor.
pub async fn run(
    options: AgentOptions,
    shutdown: impl Future<Output = ()>,
) -> Result<(), AgentError> {
    let config = &options.config;
    let settings = config.agent_settings(&options.node)?;
    let tls_error = |error: corral_tls::load::LoadError| AgentError::Tls(error.to_string());
    let ca = corral_tls::load::load_ca_certificates(&settings.tls_ca).map_err(tls_error)?;
    let identity = corral_tls::load::load_identity(&settings.tls_cert, &settings.tls_key)
        .map_err(tls_error)?;
    let named = identity
        .chain()
        .certs()
        .first()
        .and_then(corral_tls::identity::node_name_of);
    if named.as_deref() != Some(options.node.as_str()) {
        return Err(AgentError::Tls(format!(
            "{}: the certificate names {} but this is node {}",
            settings.tls_cert.display(),
            named.map_or("no node".to_string(), |name| format!("node {name}")),
            options.node
        )));
    }
    let resources = node_resources(config, &options.node)?;
    let mut runner_config = RunnerConfig::new(&settings.spool_dir)
        .map_err(|error| AgentError::Journal(error.to_string()))?;
    runner_config.kill_wait_ms = config.file.timeouts.kill_wait_s * 1000;
    let runner =
        Runner::open(runner_config).map_err(|error| AgentError::Journal(error.to_string()))?;
    let endpoint = session::client_endpoint(&ca, &identity).map_err(AgentError::Tls)?;
    let http_listener = match &settings.http_address {
        Some(address) => Some(
            corral_metrics::bind(address)
                .await
                .map_err(AgentError::Http)?,
        ),
        None => None,
    };
    tracing::info!(
        node = %options.node,
        cpus = resources.cpus,
        memory_mb = resources.memory_mb,
        gpus = resources.gpus.len(),
        spool = %settings.spool_dir.display(),
        "agent started"
    );
    let context = SessionContext {
        node: options.node.clone(),
        cluster_name: config.file.cluster_name.clone(),
        resources,
        heartbeat_interval: Duration::from_millis(config.file.timeouts.agent_heartbeat_interval_ms),
        report_interval: Duration::from_millis(session::REPORT_INTERVAL_MS),
        runner: Arc::new(runner),
        status: Arc::new(AgentStatus::default()),
        learned: Arc::new(LearnedControllers::default()),
    };
    let http = async {
        match http_listener {
            Some(listener) => {
                let http_context = http::HttpContext {
                    node: options.node.clone(),
                    runner: context.runner.clone(),
                    status: context.status.clone(),
                };
                http::serve(listener, http_context, std::future::pending()).await
            }
            None => std::future::pending().await,
        }
    };
    let controllers: Vec<String> = config
        .file
        .controllers
        .iter()
        .map(|c| c.address.clone())
        .collect();
    tokio::select! {
        _ = stay_attached(&endpoint, &controllers, &context) => {}
        _ = purge_spools(context.runner.clone()) => {}
        _ = http => {}
        _ = shutdown => tracing::info!("agent stopping; its jobs keep running"),
    }
    endpoint.close(0u32.into(), b"agent stopping");
    Ok(())
}

/// Keeps a session with the leader forever: follows redirects, tries the
/// controllers in turn (those the leader last named, from the Raft
/// membership, then the configured ones), and backs off while none answers.
/// (Also the loop of each simulated node of `corral bench agents`.)
pub async fn stay_attached(
    endpoint: &quinn::Endpoint,
    controllers: &[String],
    context: &SessionContext,
) {
    let mut next = 0;
    let mut redirect: Option<String> = None;
    let mut backoff = Duration::from_millis(RECONNECT_BACKOFF_MIN_MS);
    loop {
        let target = redirect.take().unwrap_or_else(|| {
            let candidates = context.learned.candidates(controllers);
            next += 1;
            candidates[(next - 1) % candidates.len()].clone()
        });
        let started = Instant::now();
        match session::run(endpoint, &target, context).await {
            SessionEnd::Redirect(leader) => {
                tracing::debug!(from = %target, to = %leader, "redirected to the leader");
                redirect = Some(leader);
                continue;
            }
            SessionEnd::Lost(reason) => {
                if started.elapsed() >= Duration::from_millis(SESSION_STABLE_MS) {
                    tracing::warn!(controller = %target, "session with the leader lost: {reason}");
                    backoff = Duration::from_millis(RECONNECT_BACKOFF_MIN_MS);
                } else {
                    tracing::debug!(controller = %target, "no session: {reason}");
                }
            }
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_millis(RECONNECT_BACKOFF_MAX_MS));
    }
}

/// Removes old acknowledged spools now and then, so the state directory
/// does not grow with every job the node ever ran.
async fn purge_spools(runner: Arc<Runner>) {
    let mut interval = tokio::time::interval(Duration::from_millis(SPOOL_PURGE_INTERVAL_MS));
    loop {
        interval.tick().await;
        let runner = runner.clone();
        let retention = Duration::from_millis(SPOOL_RETENTION_MS);
        match tokio::task::spawn_blocking(move || runner.purge_acknowledged(retention)).await {
            Ok(Ok(0)) | Err(_) => {}
            Ok(Ok(purged)) => tracing::info!(purged, "removed the spools of old finished jobs"),
            Ok(Err(error)) => tracing::warn!("removing old spools: {error}"),
        }
    }
}

/// What the node has: detected, with the configuration's declaration (if
/// any) taking precedence, so that GPUs can be declared where none exist.
fn node_resources(config: &Config, node: &str) -> Result<NodeResources, AgentError> {
    let detected = resources::detect().map_err(|error| AgentError::Resources(error.to_string()))?;
    let declared = config
        .node_definitions()
        .into_iter()
        .find(|definition| definition.name == node);
    let overrides = match &declared {
        Some(definition) => ResourceOverrides {
            cpus: Some(definition.resources.cpus),
            memory_mb: Some(definition.resources.memory_mb),
            gpu_count: Some(definition.resources.gpus.len() as u32),
            gpu_model: definition
                .resources
                .gpus
                .first()
                .map(|gpu| gpu.model.clone()),
        },
        None => ResourceOverrides::default(),
    };
    Ok(resources::node_resources(&detected, &overrides))
}
