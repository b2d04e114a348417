//! `corral user`: users and their tokens.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use corral_client::Client;
use corral_proto as wire;

use crate::token;

#[derive(clap::Subcommand)]
pub enum Command {
    /// Add a user (or give an existing one a new token) and print the token.
    Add {
        name: String,
        /// Numeric user id [default: from this machine's user database]
        #[arg(long)]
        uid: Option<u32>,
        /// Numeric group id [default: from this machine's user database]
        #[arg(long)]
        gid: Option<u32>,
        /// Make the user a Corral administrator.
        #[arg(long)]
        admin: bool,
        /// Write the token to this new file (mode 0600) instead of printing it.
        #[arg(long)]
        token_file: Option<PathBuf>,
    },
}

pub async fn run(config_path: &Path, command: Command) -> anyhow::Result<u8> {
    let Command::Add {
        name,
        uid,
        gid,
        admin,
        token_file,
    } = command;
    let config = super::load_config(config_path)?;
    let client = Client::from_config(&config)?;
    let local = local_ids(&name);
    let (Some(uid), Some(gid)) = (uid.or(local.map(|l| l.0)), gid.or(local.map(|l| l.1))) else {
        bail!("user {name} is not in this machine's user database: give --uid and --gid");
    };
    let secret = token::generate()?;
    put_user(&client, &name, uid, gid, admin, &token::digest(&secret)).await?;
    match token_file {
        Some(path) => {
            token::write_file(&path, &secret)?;
            println!(
                "user {name} (uid {uid}): token written to {}",
                path.display()
            );
        }
        None => println!("{secret}"),
    }
    Ok(0)
}

pub async fn put_user(
    client: &Client,
    name: &str,
    uid: u32,
    gid: u32,
    admin: bool,
    token_sha256: &str,
) -> anyhow::Result<()> {
    let request = wire::PutUserRequest {
        name: name.to_string(),
        uid,
        gid,
        admin,
        token_sha256: token_sha256.to_string(),
    };
    let reply = client
        .call(request, |mut c, r| async move { c.put_user(r).await })
        .await
        .context("adding the user")?;
    if let Some(rejection) = reply.rejection {
        bail!("adding user {name}: {}", rejection.message);
    }
    Ok(())
}

/// Uid and gid of `name` in this machine's user database.
pub fn local_ids(name: &str) -> Option<(u32, u32)> {
    let name = std::ffi::CString::new(name).ok()?;
    // SAFETY: getpwnam returns a pointer into static storage or null; we copy
    // the two integers out before any other call could overwrite it.
    unsafe {
        let entry = libc::getpwnam(name.as_ptr());
        if entry.is_null() {
            None
        } else {
            Some(((*entry).pw_uid, (*entry).pw_gid))
        }
    }
}

/// The name of the user running this process.
pub fn current_user_name() -> Option<String> {
    // SAFETY: as in `local_ids`; the name is copied out immediately.
    unsafe {
        let entry = libc::getpwuid(libc::getuid());
        if entry.is_null() {
            return None;
        }
        let name = std::ffi::CStr::from_ptr((*entry).pw_name);
        Some(name.to_string_lossy().into_owned())
    }
}
