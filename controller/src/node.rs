//! Starting and running one controller.

use std::future::Future;
use std::sync::Arc;

use corral_client::ClientTls;
use corral_config::{Config, ControllerSettings};
use corral_proto::corral_server::CorralServer;
use corral_proto::raft_server::RaftServer;
use corral_raft_store::{Node, Raft, StoreOptions};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tonic::transport::server::TcpIncoming;
use tonic::transport::{Certificate, Identity, Server, ServerTlsConfig};

use crate::auth::Authenticator;
use crate::client_service::ClientService;
use crate::gateway::{self, Hub};
use crate::http::{self, ControllerMetrics, HttpContext, SubmitTimerLayer};
use crate::membership::Membership;
use crate::network::PeerNetwork;
use crate::propose::Proposer;
use crate::raft_service::RaftService;
use crate::{leader, ControllerError, GRPC_MESSAGE_BYTES_MAX};

/// How one controller process is started.
pub struct RunOptions {
    pub config: Config,
    pub id: u64,
    /// Initialise a new cluster whose members are the configured controllers.
    /// Done once, on one controller, when the cluster is first created; a
    /// controller that is already initialised ignores it.
    pub bootstrap: bool,
    /// Check `ClusterState::invariants()` after every applied command.
    pub check_invariants: bool,
}

/// Runs the controller until `shutdown` completes.
pub async fn run(
    options: RunOptions,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ControllerError> {
    let config = Arc::new(options.config);
    let settings = config.controller_settings(options.id)?;
    let tls = TlsFiles::load(&settings)?;
    let root_token = read_root_token(&config, &settings)?;

    let listener = TcpListener::bind(&settings.address)
        .await
        .map_err(|error| ControllerError::Serve {
            address: settings.address.clone(),
            message: format!("cannot listen: {error}"),
        })?;
    let http_listener =
        match &settings.http_address {
            Some(address) => Some(corral_metrics::bind(address).await.map_err(|message| {
                ControllerError::Serve {
                    address: address.clone(),
                    message: format!("{message} (http_address of controller {})", options.id),
                }
            })?),
            None => None,
        };
    let agent_endpoint =
        gateway::endpoint(&settings.address, &tls.ca, &tls.identity).map_err(|message| {
            ControllerError::Serve {
                address: settings.address.clone(),
                message,
            }
        })?;

    let store_options = StoreOptions {
        check_invariants: options.check_invariants,
        ..StoreOptions::default()
    };
    let (log_store, state_machine) = corral_raft_store::open(&settings.data_dir, store_options)?;
    let state = state_machine.handle();
    let peer_tls = ClientTls {
        ca_pem: tls.ca_pem.clone(),
        identity_pem: Some((tls.cert_pem.clone(), tls.key_pem.clone())),
    };
    let network = PeerNetwork::new(peer_tls.clone());
    let raft = Raft::new(
        options.id,
        Arc::new(raft_config(&config, options.id)?),
        network,
        log_store,
        state_machine,
    )
    .await
    .map_err(|error| ControllerError::Raft(error.to_string()))?;
    if options.bootstrap {
        bootstrap(&raft, &config).await?;
    }
    tracing::info!(
        id = options.id,
        address = %settings.address,
        data_dir = %settings.data_dir.display(),
        "controller started"
    );

    let proposer = Proposer::new(
        raft.clone(),
        state.clone(),
        config.file.raft.election_timeout_max_ms,
    );
    #[cfg(feature = "upgrade-test-variant")]
    let upgrade_test = tokio::spawn(crate::upgrade_test::propose_when_leader(
        raft.clone(),
        proposer.clone(),
    ));
    let hub = Arc::new(Hub::default());
    let metrics = Arc::new(ControllerMetrics::default());
    let elections = tokio::spawn({
        let (metrics, raft) = (metrics.clone(), raft.clone());
        async move { metrics.watch_elections(raft).await }
    });
    let (stop_http, http_stopped) = watch::channel(false);
    let http = http_listener.map(|listener| {
        let context = HttpContext {
            raft: raft.clone(),
            state: state.clone(),
            hub: hub.clone(),
            metrics: metrics.clone(),
            address: settings.address.clone(),
            cluster_name: config.file.cluster_name.clone(),
        };
        let mut stopped = http_stopped;
        tokio::spawn(http::serve(listener, context, async move {
            let _ = stopped.wait_for(|stop| *stop).await;
        }))
    });
    let agents = tokio::spawn(gateway::serve(
        agent_endpoint.clone(),
        hub.clone(),
        raft.clone(),
    ));
    let accounting = Arc::new(accounting_database(&config)?);
    let (stop_duties, duties_stopped) = watch::channel(false);
    let duties = tokio::spawn(leader::supervise(
        raft.clone(),
        proposer.clone(),
        config.clone(),
        hub.clone(),
        accounting.clone(),
        metrics.clone(),
        duties_stopped,
    ));
    let membership = Membership::new(
        raft.clone(),
        proposer.clone(),
        peer_tls,
        config.file.cluster_name.clone(),
    );
    let client_service = ClientService::new(
        membership,
        proposer,
        Authenticator::new(&root_token, state),
        settings.address.clone(),
        config.file.cluster_name.clone(),
        accounting,
        hub,
    );
    let submit_timer = SubmitTimerLayer::new(metrics);
    let (fatal_tx, fatal_rx) = tokio::sync::oneshot::channel();
    let fatal_watch = tokio::spawn(watch_fatal(raft.clone(), fatal_tx));
    let mut fatal_rx = fatal_rx;
    let stop = async move {
        tokio::select! {
            () = shutdown => {}
            _ = &mut fatal_rx => {}
        }
    };
    let served = serve(
        listener,
        &tls,
        raft.clone(),
        client_service,
        submit_timer,
        stop,
    )
    .await;
    fatal_watch.abort();
    #[cfg(feature = "upgrade-test-variant")]
    upgrade_test.abort();
    let fatal = fatal_watch.await.ok().flatten();
    let _ = stop_duties.send(true);
    let _ = duties.await;
    let _ = stop_http.send(true);
    if let Some(http) = http {
        let _ = http.await;
    }
    elections.abort();
    agent_endpoint.close(0u32.into(), b"controller shutting down");
    agents.abort();
    if let Err(error) = raft.shutdown().await {
        tracing::warn!("raft shutdown: {error}");
    }
    tracing::info!("controller stopped");
    if let Some(fatal) = fatal {
        return Err(ControllerError::Raft(fatal));
    }
    served.map_err(|message| ControllerError::Serve {
        address: settings.address.clone(),
        message,
    })
}

/// Waits until the Raft node stops on a fatal error (a storage error, such
/// as a log entry written by a newer Corral that this build refuses to
/// apply), logs it and returns it, after telling the server to stop. A
/// controller whose Raft node has stopped can only refuse every call; better
/// that it exits, loudly, so that its supervisor and its operator see it,
/// with its store as it was.
async fn watch_fatal(raft: Raft, stop: tokio::sync::oneshot::Sender<()>) -> Option<String> {
    let mut metrics = raft.metrics();
    loop {
        if let Err(fatal) = &metrics.borrow().running_state {
            let message = format!("the Raft node stopped: {fatal}");
            tracing::error!("{message}; stopping the controller");
            let _ = stop.send(());
            return Some(message);
        }
        if metrics.changed().await.is_err() {
            return None;
        }
    }
}

async fn serve(
    listener: TcpListener,
    tls: &TlsFiles,
    raft: Raft,
    client_service: ClientService,
    submit_timer: SubmitTimerLayer,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), String> {
    // Client certificates are optional at the TLS layer because clients use
    // tokens; a certificate that is presented must chain to the cluster CA,
    // and the Raft service requires one naming a controller.
    let tls_config = ServerTlsConfig::new()
        .identity(Identity::from_pem(&tls.cert_pem, &tls.key_pem))
        .client_ca_root(Certificate::from_pem(&tls.ca_pem))
        .client_auth_optional(true);
    let raft_service = RaftServer::new(RaftService::new(raft))
        .max_decoding_message_size(GRPC_MESSAGE_BYTES_MAX)
        .max_encoding_message_size(GRPC_MESSAGE_BYTES_MAX);
    let client_service = CorralServer::new(client_service)
        .max_decoding_message_size(GRPC_MESSAGE_BYTES_MAX)
        .max_encoding_message_size(GRPC_MESSAGE_BYTES_MAX);
    let incoming = TcpIncoming::from(listener).with_nodelay(Some(true));
    Server::builder()
        .tls_config(tls_config)
        .map_err(|error| format!("TLS configuration: {error}"))?
        .layer(submit_timer)
        .add_service(raft_service)
        .add_service(client_service)
        .serve_with_incoming_shutdown(incoming, shutdown)
        .await
        .map_err(|error| error.to_string())
}

/// The PEM files a controller serves and calls with, checked up front so a
/// bad file is reported by name at start-up rather than at the first call.
struct TlsFiles {
    ca_pem: Vec<u8>,
    cert_pem: Vec<u8>,
    key_pem: Vec<u8>,
    ca: corral_tls::load::CaCertificates,
    identity: corral_tls::load::Identity,
}

impl TlsFiles {
    fn load(settings: &ControllerSettings) -> Result<TlsFiles, ControllerError> {
        let tls_error =
            |error: corral_tls::load::LoadError| ControllerError::Tls(error.to_string());
        let ca = corral_tls::load::load_ca_certificates(&settings.tls_ca).map_err(tls_error)?;
        let identity = corral_tls::load::load_identity(&settings.tls_cert, &settings.tls_key)
            .map_err(tls_error)?;
        let controller = identity
            .chain()
            .certs()
            .first()
            .and_then(corral_tls::identity::controller_id_of);
        if controller != Some(settings.id) {
            return Err(ControllerError::Tls(format!(
                "{}: the certificate names {} but this is controller {}",
                settings.tls_cert.display(),
                controller.map_or("no controller".to_string(), |id| format!("controller {id}")),
                settings.id
            )));
        }
        Ok(TlsFiles {
            ca_pem: ca.pem().to_vec(),
            cert_pem: identity.chain().pem().to_vec(),
            key_pem: identity.key().pem().to_vec(),
            ca,
            identity,
        })
    }
}

fn read_root_token(
    config: &Config,
    settings: &ControllerSettings,
) -> Result<String, ControllerError> {
    let invalid = |problem: String| corral_config::ConfigError::Invalid {
        path: config.path.clone(),
        key: "auth.root_token_file".to_string(),
        problem,
    };
    let text = std::fs::read_to_string(&settings.root_token_file)
        .map_err(|error| invalid(format!("{}: {error}", settings.root_token_file.display())))?;
    let token = text.trim();
    if token.len() < ROOT_TOKEN_CHARS_MIN {
        return Err(invalid(format!(
            "{}: the root token must be at least {ROOT_TOKEN_CHARS_MIN} characters",
            settings.root_token_file.display()
        ))
        .into());
    }
    Ok(token.to_string())
}

/// A root token shorter than this is refused: it would be guessable.
pub const ROOT_TOKEN_CHARS_MIN: usize = 32;

/// The snapshot interval of controller `id`: the configured one, stretched
/// by an eighth per id (modulo 4), so that the controllers, which apply the
/// same entries at about the same time, do not all build a snapshot at once.
fn staggered(entries: u64, id: u64) -> u64 {
    entries + entries * (id % 4) / 8
}

fn raft_config(config: &Config, id: u64) -> Result<openraft::Config, ControllerError> {
    let raft = &config.file.raft;
    openraft::Config {
        cluster_name: config.file.cluster_name.clone(),
        heartbeat_interval: raft.heartbeat_interval_ms,
        election_timeout_min: raft.election_timeout_min_ms,
        election_timeout_max: raft.election_timeout_max_ms,
        snapshot_policy: openraft::SnapshotPolicy::LogsSinceLast(staggered(
            raft.snapshot_after_entries,
            id,
        )),
        max_in_snapshot_log_to_keep: raft.entries_kept_after_snapshot,
        install_snapshot_timeout: INSTALL_SNAPSHOT_TIMEOUT_MS,
        max_payload_entries: REPLICATION_BATCH_ENTRIES_MAX,
        ..openraft::Config::default()
    }
    .validate()
    .map_err(|error| ControllerError::Raft(format!("{}: [raft]: {error}", config.path.display())))
}

/// Time allowed to send one snapshot chunk to a follower.
pub const INSTALL_SNAPSHOT_TIMEOUT_MS: u64 = 10_000;
/// Log entries sent to a follower in one AppendEntries call at most.
/// openraft gives every AppendEntries call `heartbeat_interval_ms` (100 ms)
/// and resends the same batch when one takes longer: a batch must be
/// encoded, sent, decoded and appended well within that on a loaded
/// machine. With 1,000 entries (a submission with a shell's environment is
/// a few kilobytes of JSON) a follower that had missed more than that never
/// caught up. 64 entries of that size take a few milliseconds; a follower
/// 5,000 entries behind caught up in under two seconds on a loaded 2-core
/// machine (tests/snapshots.rs).
pub const REPLICATION_BATCH_ENTRIES_MAX: u64 = 64;

async fn bootstrap(raft: &Raft, config: &Config) -> Result<(), ControllerError> {
    let initialized = raft
        .is_initialized()
        .await
        .map_err(|error| ControllerError::Raft(error.to_string()))?;
    if initialized {
        tracing::info!(
            "--bootstrap: this controller is already part of an initialized cluster; nothing to do"
        );
        return Ok(());
    }
    let members: std::collections::BTreeMap<u64, Node> = config
        .file
        .controllers
        .iter()
        .map(|c| {
            (
                c.id,
                Node::with_http(c.address.clone(), c.http_address.clone()),
            )
        })
        .collect();
    tracing::info!(members = ?members.keys().collect::<Vec<_>>(), "initializing a new cluster");
    raft.initialize(members)
        .await
        .map_err(|error| ControllerError::Raft(format!("initializing the cluster: {error}")))
}

/// The accounting database named by the configuration. Nothing is
/// contacted yet: a controller starts while the database is down.
fn accounting_database(
    config: &Config,
) -> Result<corral_accounting::AccountingDb, ControllerError> {
    let urls = config.accounting_urls();
    let db = corral_accounting::AccountingDb::new(&urls).map_err(|error| {
        ControllerError::Accounting(format!(
            "{}: accounting.urls: {error}",
            config.path.display()
        ))
    })?;
    tracing::info!(databases = ?db.urls(), "accounting database configured");
    Ok(db)
}
