//! The one retry-on-redirect loop.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use corral_config::Config;
use corral_proto::corral_client::CorralClient;
use corral_proto::{AUTHORIZATION_METADATA, LEADER_ADDRESS_METADATA};
use tonic::transport::Channel;
use tonic::{Code, Status};

use crate::channel::{endpoint, ClientTls};
use crate::settings::ClientSettings;

/// The longest a single attempt may take before the loop moves on. A leader
/// cut off from the majority holds a write until it steps down; the retry
/// goes elsewhere instead of waiting for it.
pub const ATTEMPT_TIMEOUT_MS: u64 = 5_000;
/// Pause after a round in which no controller answered, doubling up to the
/// maximum. The maximum is short: while no leader is elected, a longer pause
/// only adds to the time a client sees after the election.
pub const ROUND_BACKOFF_MIN_MS: u64 = 20;
pub const ROUND_BACKOFF_MAX_MS: u64 = 100;

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("{0}")]
    Settings(String),
    #[error("no leader reachable within {waited_ms} ms (tried {tried}); last error: {last_error}")]
    NoLeader {
        waited_ms: u64,
        tried: String,
        last_error: String,
    },
    #[error("{}", .0.message())]
    Rpc(Status),
}

impl ClientError {
    /// The gRPC status of a refused call, if that is what this is.
    pub fn status(&self) -> Option<&Status> {
        match self {
            ClientError::Rpc(status) => Some(status),
            _ => None,
        }
    }
}

pub struct Client {
    settings: ClientSettings,
    tls: ClientTls,
    channels: Mutex<HashMap<String, Channel>>,
    /// Where the last successful call went: the leader, most likely.
    preferred: Mutex<Option<String>>,
}

/// What to do after one attempt failed.
enum Next {
    /// The controller named the leader: go there.
    Redirect(String),
    /// Nobody useful answered here: try another controller.
    Elsewhere(String),
}

impl Client {
    pub fn new(settings: ClientSettings, tls: ClientTls) -> Client {
        Client {
            settings,
            tls,
            channels: Mutex::new(HashMap::new()),
            preferred: Mutex::new(None),
        }
    }

    /// A client configured from the config file and the environment.
    pub fn from_config(config: &Config) -> Result<Client, ClientError> {
        let settings = ClientSettings::from_config(config)?;
        let ca_pem = std::fs::read(&settings.ca_file).map_err(|error| {
            ClientError::Settings(format!(
                "{}: key `tls.ca`: {}: {error}",
                config.path.display(),
                settings.ca_file.display()
            ))
        })?;
        let tls = ClientTls {
            ca_pem,
            identity_pem: None,
        };
        Ok(Client::new(settings, tls))
    }

    pub fn settings(&self) -> &ClientSettings {
        &self.settings
    }

    fn channel(&self, address: &str) -> Result<Channel, Status> {
        let mut channels = self.channels.lock().expect("channel map poisoned");
        if let Some(channel) = channels.get(address) {
            return Ok(channel.clone());
        }
        let channel = endpoint(address, &self.tls)
            .map_err(|error| Status::invalid_argument(format!("{address}: {error}")))?
            .connect_lazy();
        channels.insert(address.to_string(), channel.clone());
        Ok(channel)
    }

    fn request<T>(&self, message: T, timeout: Duration) -> tonic::Request<T> {
        let mut request = tonic::Request::new(message);
        request.set_timeout(timeout);
        if let Some(token) = &self.settings.token {
            if let Ok(value) = format!("Bearer {token}").parse() {
                request.metadata_mut().insert(AUTHORIZATION_METADATA, value);
            }
        }
        request
    }

    /// One call to one controller, without redirects: for status and ping.
    pub async fn call_one<Req, Resp, F, Fut>(
        &self,
        address: &str,
        message: Req,
        timeout: Duration,
        call: F,
    ) -> Result<Resp, Status>
    where
        F: FnOnce(CorralClient<Channel>, tonic::Request<Req>) -> Fut,
        Fut: Future<Output = Result<tonic::Response<Resp>, Status>>,
    {
        let client = CorralClient::new(self.channel(address)?);
        let attempt = call(client, self.request(message, timeout));
        match tokio::time::timeout(timeout, attempt).await {
            Ok(result) => result.map(tonic::Response::into_inner),
            Err(_) => Err(Status::deadline_exceeded(format!(
                "{address} did not answer within {} ms",
                timeout.as_millis()
            ))),
        }
    }

    /// Calls the leader, wherever it is: follows "not leader" redirects, tries
    /// the other controllers when one does not answer, and gives up after
    /// the configured wait. `call` is run once per attempt; requests must be
    /// safe to repeat (submissions carry a request id for that).
    pub async fn call<Req, Resp, F, Fut>(&self, message: Req, call: F) -> Result<Resp, ClientError>
    where
        Req: Clone,
        F: FnMut(CorralClient<Channel>, tonic::Request<Req>) -> Fut,
        Fut: Future<Output = Result<tonic::Response<Resp>, Status>>,
    {
        self.call_with_attempt_timeout(Duration::from_millis(ATTEMPT_TIMEOUT_MS), message, call)
            .await
    }

    /// [`Client::call`] for a call that may legitimately take longer than
    /// [`ATTEMPT_TIMEOUT_MS`] on the leader (`corral controller add` waits
    /// for the new controller to catch up): each attempt may take up to
    /// `attempt`, and the whole call at least that long.
    pub async fn call_with_attempt_timeout<Req, Resp, F, Fut>(
        &self,
        attempt: Duration,
        message: Req,
        mut call: F,
    ) -> Result<Resp, ClientError>
    where
        Req: Clone,
        F: FnMut(CorralClient<Channel>, tonic::Request<Req>) -> Fut,
        Fut: Future<Output = Result<tonic::Response<Resp>, Status>>,
    {
        let started = Instant::now();
        let deadline = started + Duration::from_millis(self.settings.leader_wait_ms).max(attempt);
        let mut target = self.first_target();
        let mut tried: Vec<String> = Vec::new();
        let mut attempts_this_round = 0;
        let mut backoff = Duration::from_millis(ROUND_BACKOFF_MIN_MS);
        let mut last_error: String;
        loop {
            let remaining = deadline.saturating_duration_since(Instant::now());
            let timeout = remaining.min(attempt);
            let result = self
                .call_one(&target, message.clone(), timeout, &mut call)
                .await;
            let status = match result {
                Ok(response) => {
                    *self.preferred.lock().expect("poisoned") = Some(target);
                    return Ok(response);
                }
                Err(status) => status,
            };
            if !tried.contains(&target) {
                tried.push(target.clone());
            }
            last_error = format!("{target}: {}", describe(&status));
            let next = match classify(&status, &target) {
                Some(next) => next,
                None => return Err(ClientError::Rpc(status)),
            };
            tracing::debug!(%target, error = %last_error, "retrying");
            attempts_this_round += 1;
            if Instant::now() >= deadline {
                break;
            }
            if attempts_this_round > self.settings.controllers.len() {
                attempts_this_round = 0;
                tokio::time::sleep(backoff.min(deadline.saturating_duration_since(Instant::now())))
                    .await;
                backoff = (backoff * 2).min(Duration::from_millis(ROUND_BACKOFF_MAX_MS));
            }
            target = match next {
                Next::Redirect(leader) => leader,
                Next::Elsewhere(failed) => self.after(&failed),
            };
        }
        Err(ClientError::NoLeader {
            waited_ms: started.elapsed().as_millis() as u64,
            tried: tried.join(", "),
            last_error,
        })
    }

    fn first_target(&self) -> String {
        if let Some(preferred) = self.preferred.lock().expect("poisoned").clone() {
            return preferred;
        }
        self.settings
            .controllers
            .first()
            .map(|c| c.address.clone())
            .unwrap_or_default()
    }

    /// The configured controller after `address`, wrapping around.
    fn after(&self, address: &str) -> String {
        let controllers = &self.settings.controllers;
        let position = controllers.iter().position(|c| c.address == address);
        let next = position.map_or(0, |p| (p + 1) % controllers.len());
        controllers[next].address.clone()
    }
}

/// Whether a failed attempt is worth retrying, and where.
fn classify(status: &Status, target: &str) -> Option<Next> {
    match status.code() {
        Code::Unavailable => {
            let leader = status
                .metadata()
                .get(LEADER_ADDRESS_METADATA)
                .and_then(|value| value.to_str().ok())
                .filter(|leader| !leader.is_empty() && *leader != target);
            Some(match leader {
                Some(leader) => Next::Redirect(leader.to_string()),
                None => Next::Elsewhere(target.to_string()),
            })
        }
        Code::DeadlineExceeded | Code::Cancelled | Code::Aborted | Code::Unknown => {
            Some(Next::Elsewhere(target.to_string()))
        }
        _ => None,
    }
}

fn describe(status: &Status) -> String {
    let message = status.message();
    if message.is_empty() {
        format!("{:?}", status.code())
    } else {
        message.to_string()
    }
}
