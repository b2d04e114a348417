//! Corral's configuration: one TOML file (`/etc/corral/corral.toml`, or the
//! path in `CORRAL_CONF`) read by controllers, agents and clients alike.
//!
//! Every error names the file, and where it is about one setting, the key and
//! what was expected. Unknown keys are errors, not warnings: a misspelt
//! `election_timeout_max_ms` must not silently fall back to a default.
//! Relative paths are relative to the directory of the file.

mod check;
mod file;
mod validate;

use std::path::{Path, PathBuf};

pub use check::CheckReport;
pub use file::{
    AccountingSection, AgentSection, AuthSection, ClientSection, ConfigFile, ControllerEntry,
    NodeEntry, PartitionEntry, RaftSection, TimeoutsSection, TlsSection, DEFAULT_CONFIG_PATH,
    DEFAULT_DATA_DIR,
};

/// Environment variable naming the config file.
pub const CONFIG_PATH_ENV: &str = "CORRAL_CONF";

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{path}: cannot read: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("{path}: key `{key}`: {problem}")]
    Invalid {
        path: PathBuf,
        key: String,
        problem: String,
    },
}

/// A parsed and checked configuration file.
#[derive(Clone, Debug)]
pub struct Config {
    /// Where the file was read from.
    pub path: PathBuf,
    pub file: ConfigFile,
}

/// What one agent process needs, resolved from the file for its node.
#[derive(Clone, Debug)]
pub struct AgentSettings {
    pub node: String,
    pub spool_dir: PathBuf,
    pub tls_ca: PathBuf,
    pub tls_cert: PathBuf,
    pub tls_key: PathBuf,
    /// Where to serve `/metrics` and `/health`; `None`: nowhere.
    pub http_address: Option<String>,
}

/// What one controller process needs, resolved from the file for its id.
#[derive(Clone, Debug)]
pub struct ControllerSettings {
    pub id: u64,
    pub address: String,
    pub data_dir: PathBuf,
    pub tls_ca: PathBuf,
    pub tls_cert: PathBuf,
    pub tls_key: PathBuf,
    pub root_token_file: PathBuf,
    /// Where to serve `/metrics`, `/health` and `/leader`; `None`: nowhere.
    pub http_address: Option<String>,
}

impl Config {
    /// The config file named by `CORRAL_CONF`, or the default path.
    pub fn default_path() -> PathBuf {
        std::env::var_os(CONFIG_PATH_ENV)
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(DEFAULT_CONFIG_PATH))
    }

    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Config::parse(path, &text)
    }

    /// Parses and checks `text` as if read from `path`.
    pub fn parse(path: &Path, text: &str) -> Result<Config, ConfigError> {
        let file: ConfigFile = toml::from_str(text).map_err(|error| ConfigError::Parse {
            path: path.to_path_buf(),
            message: error.to_string().trim_end().to_string(),
        })?;
        let config = Config {
            path: path.to_path_buf(),
            file,
        };
        validate::check(&config)?;
        Ok(config)
    }

    /// Resolves a path from the file: `~/` is the user's home directory,
    /// other relative paths are relative to the file's directory.
    /// The accounting database URLs, with the embedded default: the
    /// SQLite file `accounting.sqlite` beside the configuration file.
    pub fn accounting_urls(&self) -> Vec<String> {
        if !self.file.accounting.urls.is_empty() {
            return self.file.accounting.urls.clone();
        }
        let path = self.resolve(Path::new("accounting.sqlite"));
        vec![format!("sqlite://{}", path.display())]
    }

    pub fn resolve(&self, path: &Path) -> PathBuf {
        if path.is_absolute() {
            return path.to_path_buf();
        }
        if let (Ok(rest), Some(home)) = (path.strip_prefix("~"), std::env::var_os("HOME")) {
            return PathBuf::from(home).join(rest);
        }
        self.path
            .parent()
            .unwrap_or_else(|| Path::new("."))
            .join(path)
    }

    pub fn controller(&self, id: u64) -> Option<&ControllerEntry> {
        self.file.controllers.iter().find(|c| c.id == id)
    }

    /// Settings for controller `id`, with every file it needs checked to exist.
    pub fn controller_settings(&self, id: u64) -> Result<ControllerSettings, ConfigError> {
        validate::controller_settings(self, id)
    }

    /// Settings for the agent of `node`, with its certificate files checked.
    pub fn agent_settings(&self, node: &str) -> Result<AgentSettings, ConfigError> {
        validate::agent_settings(self, node)
    }

    pub(crate) fn invalid(
        &self,
        key: impl Into<String>,
        problem: impl Into<String>,
    ) -> ConfigError {
        ConfigError::Invalid {
            path: self.path.clone(),
            key: key.into(),
            problem: problem.into(),
        }
    }
}

#[cfg(test)]
mod tests;
