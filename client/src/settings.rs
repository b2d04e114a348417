//! Where a client finds the controllers, the CA and its token.

use std::path::PathBuf;

use corral_config::Config;

use crate::ClientError;

/// Comma-separated `host:port` list overriding the config's controllers.
pub const CONTROLLERS_ENV: &str = "CORRAL_CONTROLLERS";
/// The token itself, overriding `client.token_file`.
pub const TOKEN_ENV: &str = "CORRAL_TOKEN";
/// How long a command looks for a leader by default.
pub const LEADER_WAIT_DEFAULT_MS: u64 = 30_000;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ControllerAddress {
    /// The controller's id, when known from the config.
    pub id: Option<u64>,
    pub name: String,
    pub address: String,
}

#[derive(Clone, Debug)]
pub struct ClientSettings {
    pub cluster_name: String,
    pub controllers: Vec<ControllerAddress>,
    pub ca_file: PathBuf,
    /// `None` when no token is configured; calls that need one then fail
    /// with a message saying how to provide it.
    pub token: Option<String>,
    pub leader_wait_ms: u64,
}

impl ClientSettings {
    /// Settings from the config file, with `CORRAL_CONTROLLERS` and
    /// `CORRAL_TOKEN` taking precedence over it.
    pub fn from_config(config: &Config) -> Result<ClientSettings, ClientError> {
        let controllers = match std::env::var(CONTROLLERS_ENV) {
            Ok(list) => parse_controller_list(&list)?,
            Err(_) => config
                .file
                .controllers
                .iter()
                .map(|c| ControllerAddress {
                    id: Some(c.id),
                    name: c.display_name(),
                    address: c.address.clone(),
                })
                .collect(),
        };
        let token = match std::env::var(TOKEN_ENV) {
            Ok(token) => Some(token.trim().to_string()),
            Err(_) => read_token_file(config)?,
        };
        Ok(ClientSettings {
            cluster_name: config.file.cluster_name.clone(),
            controllers,
            ca_file: config.resolve(&config.file.tls.ca),
            token,
            leader_wait_ms: config
                .file
                .client
                .leader_wait_ms
                .unwrap_or(LEADER_WAIT_DEFAULT_MS),
        })
    }
}

fn read_token_file(config: &Config) -> Result<Option<String>, ClientError> {
    let Some(path) = &config.file.client.token_file else {
        return Ok(None);
    };
    let path = config.resolve(path);
    match std::fs::read_to_string(&path) {
        Ok(text) => Ok(Some(text.trim().to_string())),
        Err(error) => Err(ClientError::Settings(format!(
            "{}: key `client.token_file`: {}: {error}",
            config.path.display(),
            path.display()
        ))),
    }
}

/// Parses `host:port,host:port`.
pub fn parse_controller_list(list: &str) -> Result<Vec<ControllerAddress>, ClientError> {
    let controllers: Vec<ControllerAddress> = list
        .split(',')
        .map(str::trim)
        .filter(|entry| !entry.is_empty())
        .map(|address| ControllerAddress {
            id: None,
            name: address.to_string(),
            address: address.to_string(),
        })
        .collect();
    if controllers.is_empty() {
        return Err(ClientError::Settings(format!(
            "{CONTROLLERS_ENV} is set but names no controller (expected host:port,host:port)"
        )));
    }
    if let Some(bad) = controllers.iter().find(|c| {
        c.address
            .rsplit_once(':')
            .and_then(|(_, port)| port.parse::<u16>().ok())
            .is_none()
    }) {
        return Err(ClientError::Settings(format!(
            "{CONTROLLERS_ENV}: {:?} is not host:port",
            bad.address
        )));
    }
    Ok(controllers)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controller_list_parses_and_rejects_garbage() {
        let list = parse_controller_list("127.0.0.1:7001, 127.0.0.1:7002").unwrap();
        assert_eq!(list.len(), 2);
        assert_eq!(list[1].address, "127.0.0.1:7002");
        assert!(parse_controller_list("").is_err());
        assert!(parse_controller_list("localhost").is_err());
    }
}
