//! `corral certs`: the cluster CA and certificates.

use std::path::PathBuf;

use anyhow::{bail, Context};

#[derive(clap::Subcommand)]
pub enum Command {
    /// Create a cluster CA and a certificate for each controller in DIR.
    Init {
        #[arg(long)]
        dir: PathBuf,
        /// The cluster's name, written into the CA certificate.
        #[arg(long, default_value = "corral")]
        cluster: String,
        /// Controllers as ID=HOST, comma-separated (HOST as clients reach
        /// it: an IP address or a DNS name), e.g. 1=10.0.0.1,2=10.0.0.2,3=ctl3.example.org
        #[arg(long)]
        controllers: String,
    },
    /// Create a certificate for a controller added later (`corral controller
    /// add`) from the CA in DIR.
    Controller {
        #[arg(long)]
        dir: PathBuf,
        /// Its id: the certificate names controller-ID.
        #[arg(long)]
        id: u64,
        /// The host clients reach it at (an IP address or a DNS name).
        #[arg(long)]
        host: String,
    },
    /// Create a certificate for a compute node from the CA in DIR.
    Node {
        #[arg(long)]
        dir: PathBuf,
        /// The node's name, as in the configuration (e.g. node001).
        name: String,
    },
}

pub fn run(command: Command) -> anyhow::Result<u8> {
    match command {
        Command::Init {
            dir,
            cluster,
            controllers,
        } => {
            let controllers = parse_controllers(&controllers)?;
            std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
            let paths = corral_tls::certs::init_dir(&dir, &cluster, &controllers)?;
            println!("CA certificate: {}", paths.ca.cert.display());
            println!(
                "CA key:         {} (keep it offline)",
                paths.ca.key.display()
            );
            for (id, controller) in &paths.controllers {
                println!(
                    "controller {id}:   {} and {}",
                    controller.cert.display(),
                    controller.key.display()
                );
            }
        }
        Command::Controller { dir, id, host } => {
            if id == 0 {
                bail!("--id: a controller id must be 1 or more");
            }
            let paths = corral_tls::certs::issue_controller_files(&dir, id, &[host])?;
            println!(
                "controller {id}: {} and {}",
                paths.cert.display(),
                paths.key.display()
            );
        }
        Command::Node { dir, name } => {
            let paths = corral_tls::certs::issue_node_files(&dir, &name)?;
            println!(
                "node {name}: {} and {}",
                paths.cert.display(),
                paths.key.display()
            );
        }
    }
    Ok(0)
}

/// Parses `1=host,2=host`.
fn parse_controllers(text: &str) -> anyhow::Result<Vec<(u64, Vec<String>)>> {
    let mut controllers = Vec::new();
    for entry in text.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        let Some((id, host)) = entry.split_once('=') else {
            bail!("--controllers: {entry:?} is not ID=HOST");
        };
        let id: u64 = id
            .trim()
            .parse()
            .ok()
            .filter(|id| *id > 0)
            .with_context(|| format!("--controllers: {id:?} is not a controller id (1, 2, ...)"))?;
        if controllers.iter().any(|(seen, _)| *seen == id) {
            bail!("--controllers: id {id} appears twice");
        }
        let host = host.trim();
        if host.is_empty() {
            bail!("--controllers: controller {id} has no host");
        }
        controllers.push((id, vec![host.to_string()]));
    }
    if controllers.is_empty() {
        bail!("--controllers names no controller (expected ID=HOST,...)");
    }
    Ok(controllers)
}

#[cfg(test)]
mod tests {
    use super::parse_controllers;

    #[test]
    fn controllers_parse() {
        let parsed = parse_controllers("1=10.0.0.1, 2=ctl2.example.org").unwrap();
        assert_eq!(
            parsed,
            vec![
                (1, vec!["10.0.0.1".to_string()]),
                (2, vec!["ctl2.example.org".to_string()])
            ]
        );
        assert!(parse_controllers("1=a,1=b").is_err());
        assert!(parse_controllers("0=a").is_err());
        assert!(parse_controllers("x").is_err());
        assert!(parse_controllers("").is_err());
    }
}
