//! `corral config check`: every problem of a configuration file, each
//! naming the file and the key, and whether the addresses it names answer.

use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::time::Duration;

use corral_config::{Config, ConfigError};

/// How long `config check` waits for one address to answer.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);

#[derive(clap::Subcommand)]
pub enum Command {
    /// Check a configuration file and print every problem with its key:
    /// unknown keys, wrong types, duplicate ids, addresses and node names,
    /// partitions naming undeclared nodes, bad timing, addresses that do
    /// not resolve or answer. Exits 1 when there is a problem (warnings
    /// alone exit 0).
    Check(CheckArgs),
}

#[derive(clap::Args)]
pub struct CheckArgs {
    /// The file to check [default: --config, else $CORRAL_CONF, else /etc/corral/corral.toml]
    file: Option<PathBuf>,
    /// Also check the files controller ID needs on this host (certificates,
    /// root token). Repeatable.
    #[arg(long = "controller", value_name = "ID")]
    controllers: Vec<u64>,
    /// Also check the files the agent of NODE needs on this host. Repeatable.
    #[arg(long = "node", value_name = "NODE")]
    nodes: Vec<String>,
    /// Do not look up or connect to the controllers and databases.
    #[arg(long)]
    offline: bool,
}

pub fn run(config_path: &Path, command: Command) -> anyhow::Result<u8> {
    let Command::Check(args) = command;
    let path = args
        .file
        .clone()
        .unwrap_or_else(|| config_path.to_path_buf());
    let report = Config::check_file(&path);
    let mut problems: Vec<String> = report.problems.iter().map(ToString::to_string).collect();
    let mut warnings = Vec::new();
    if let Some(config) = &report.config {
        problems.extend(host_files(config, &args));
        let addresses = if args.offline {
            Vec::new()
        } else {
            addresses(config)
        };
        for (key, address) in &addresses {
            let answer = resolve(address).map(|resolved| answers(address, &resolved));
            let shown = path.display();
            match answer {
                Err(problem) => problems.push(format!("{shown}: key `{key}`: {problem}")),
                Ok(Err(warning)) => {
                    warnings.push(format!("{shown}: key `{key}`: warning: {warning}"))
                }
                Ok(Ok(())) => {}
            }
        }
    }
    for line in problems.iter().chain(&warnings) {
        println!("{line}");
    }
    match (&report.config, problems.len()) {
        (Some(config), 0) => {
            println!(
                "{}: no problems ({} controllers, {} partitions, {} declared nodes{})",
                path.display(),
                config.file.controllers.len(),
                config.file.partitions.len(),
                config.node_definitions().len(),
                match warnings.len() {
                    0 => String::new(),
                    1 => ", 1 warning".to_string(),
                    n => format!(", {n} warnings"),
                }
            );
            Ok(0)
        }
        (_, count) => {
            let noun = if count == 1 { "problem" } else { "problems" };
            println!("{}: {count} {noun}", path.display());
            Ok(1)
        }
    }
}

/// The files the controllers and nodes named on the command line need here.
fn host_files(config: &Config, args: &CheckArgs) -> Vec<String> {
    let controllers = args
        .controllers
        .iter()
        .filter_map(|id| config.controller_settings(*id).err());
    let nodes = args
        .nodes
        .iter()
        .filter_map(|node| config.agent_settings(node).err());
    controllers
        .chain(nodes)
        .map(|error: ConfigError| error.to_string())
        .collect()
}

/// Every network address in the file with its key: the controllers and the
/// MariaDB servers of `accounting.urls`.
fn addresses(config: &Config) -> Vec<(String, String)> {
    let controllers = config
        .file
        .controllers
        .iter()
        .enumerate()
        .map(|(index, c)| (format!("controller[{index}].address"), c.address.clone()));
    let databases = config
        .file
        .accounting
        .urls
        .iter()
        .enumerate()
        .filter_map(|(index, url)| {
            database_address(url).map(|address| (format!("accounting.urls[{index}]"), address))
        });
    controllers.chain(databases).collect()
}

/// `host:port` of a `mysql://` or `mariadb://` URL (port 3306 by default).
fn database_address(url: &str) -> Option<String> {
    let rest = url
        .strip_prefix("mysql://")
        .or_else(|| url.strip_prefix("mariadb://"))?;
    let authority = rest.split(['/', '?']).next()?;
    let host = authority
        .rsplit_once('@')
        .map_or(authority, |(_, host)| host);
    let has_port = host
        .rsplit_once(':')
        .is_some_and(|(_, port)| !port.contains(']'));
    Some(if has_port {
        host.to_string()
    } else {
        format!("{host}:3306")
    })
}

fn resolve(address: &str) -> Result<Vec<SocketAddr>, String> {
    match address.to_socket_addrs() {
        Ok(resolved) => {
            let resolved: Vec<SocketAddr> = resolved.collect();
            if resolved.is_empty() {
                Err(format!("{address} resolves to no address"))
            } else {
                Ok(resolved)
            }
        }
        Err(error) => Err(format!("{address} does not resolve: {error}")),
    }
}

/// Whether something accepts TCP connections at one of `resolved`.
fn answers(address: &str, resolved: &[SocketAddr]) -> Result<(), String> {
    let mut last = String::new();
    for socket in resolved {
        match TcpStream::connect_timeout(socket, CONNECT_TIMEOUT) {
            Ok(_) => return Ok(()),
            Err(error) => last = error.to_string(),
        }
    }
    Err(format!("nothing answers at {address} now ({last})"))
}

#[cfg(test)]
mod tests {
    use super::database_address;

    #[test]
    fn database_addresses_come_from_the_url() {
        let cases = [
            ("mysql://u:p@127.0.0.1:3307/corral", Some("127.0.0.1:3307")),
            ("mariadb://db1.example/corral", Some("db1.example:3306")),
            (
                "mysql://u@[::1]:3308/corral?ssl-mode=disabled",
                Some("[::1]:3308"),
            ),
            ("mysql://u@[::1]/corral", Some("[::1]:3306")),
            ("sqlite:///var/lib/corral/accounting.sqlite", None),
        ];
        for (url, expected) in cases {
            assert_eq!(database_address(url).as_deref(), expected, "{url}");
        }
    }
}
