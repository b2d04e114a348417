//! `corral snapshot save|restore|inspect`: backups of the replicated state.
//!
//! `save` asks the leader for a linearizable copy (`SaveSnapshot`, an
//! administrator's token), or reads a stopped controller's data directory
//! (`--from-data-dir`, for disaster recovery), and writes the backup file
//! atomically. `restore` seeds the empty data directory of one controller
//! of a new cluster from it. The file format is `corral_raft_store::Backup`;
//! `docs/operations-backup.md` is the procedure.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use corral_client::Client;
use corral_proto as wire;
use corral_raft_store::{read_stopped_store, Backup, Node};

#[derive(clap::Subcommand)]
pub enum Command {
    /// Save a consistent copy of the cluster's state, with the log index and
    /// term it reflects, to FILE (written atomically).
    Save {
        file: PathBuf,
        /// Read a stopped controller's data directory instead of asking the
        /// running cluster: its snapshot with every entry of its log applied
        /// (disaster recovery, when no majority is left).
        #[arg(long, value_name = "DIR")]
        from_data_dir: Option<PathBuf>,
    },
    /// Seed the data directory of controller ID of a new cluster from FILE.
    /// The new cluster's members are the controllers of the configuration
    /// file; start this controller without --bootstrap, the others empty.
    Restore {
        file: PathBuf,
        /// The controller (of the configuration file) whose data directory to seed.
        #[arg(long)]
        id: u64,
    },
    /// Check FILE and print what its header says.
    Inspect { file: PathBuf },
}

pub async fn run(config_path: &Path, command: Command) -> anyhow::Result<u8> {
    match command {
        Command::Save {
            file,
            from_data_dir: None,
        } => save_online(config_path, &file).await,
        Command::Save {
            file,
            from_data_dir: Some(dir),
        } => save_offline(config_path, &dir, &file),
        Command::Restore { file, id } => restore(config_path, &file, id),
        Command::Inspect { file } => {
            let backup = read_backup(&file)?;
            print_summary(&backup);
            Ok(0)
        }
    }
}

async fn save_online(config_path: &Path, file: &Path) -> anyhow::Result<u8> {
    let config = super::load_config(config_path)?;
    let client = Client::from_config(&config)?;
    let reply = client
        .call(wire::SaveSnapshotRequest {}, |mut c, r| async move {
            c.save_snapshot(r).await
        })
        .await
        .context("saving a snapshot")?;
    let backup = Backup::decode(&reply.backup)
        .context("the controller sent a backup that does not check out")?;
    write_atomically(file, &reply.backup)?;
    println!("saved {}", file.display());
    print_summary(&backup);
    Ok(0)
}

fn save_offline(config_path: &Path, dir: &Path, file: &Path) -> anyhow::Result<u8> {
    let config = super::load_config(config_path)?;
    let stopped = read_stopped_store(dir).with_context(|| {
        format!(
            "reading the data directory {} (the controller must be stopped)",
            dir.display()
        )
    })?;
    let backup = Backup::of(
        &stopped.copy,
        &config.file.cluster_name,
        corral_controller::propose::wall_clock_ms(),
    )
    .map_err(anyhow::Error::msg)?;
    write_atomically(file, &backup.encode())?;
    println!("saved {} from {}", file.display(), dir.display());
    println!(
        "last committed index recorded: {}",
        stopped
            .committed_index
            .map_or("none".to_string(), |index| index.to_string())
    );
    print_summary(&backup);
    Ok(0)
}

fn restore(config_path: &Path, file: &Path, id: u64) -> anyhow::Result<u8> {
    let config = super::load_config(config_path)?;
    let backup = read_backup(file)?;
    if backup.header.cluster_name != config.file.cluster_name {
        bail!(
            "{} is a backup of cluster {:?}, but {} names cluster {:?} (cluster_name): refusing to restore it there",
            file.display(),
            backup.header.cluster_name,
            config.path.display(),
            config.file.cluster_name
        );
    }
    let settings = config.controller_settings(id)?;
    let members: BTreeMap<u64, Node> = config
        .file
        .controllers
        .iter()
        .map(|controller| {
            (
                controller.id,
                Node::with_http(controller.address.clone(), controller.http_address.clone()),
            )
        })
        .collect();
    backup
        .seed_data_dir(&settings.data_dir, id, &members)
        .with_context(|| format!("restoring {}", file.display()))?;
    println!(
        "restored {} into {} (controller {id})",
        file.display(),
        settings.data_dir.display()
    );
    print_summary(&backup);
    println!(
        "members: {}; start controller {id} without --bootstrap and the others with empty data directories",
        members.keys().map(u64::to_string).collect::<Vec<_>>().join(", ")
    );
    Ok(0)
}

fn read_backup(file: &Path) -> anyhow::Result<Backup> {
    let bytes = fs::read(file).with_context(|| format!("reading {}", file.display()))?;
    Backup::decode(&bytes).with_context(|| format!("{}", file.display()))
}

fn print_summary(backup: &Backup) {
    let header = &backup.header;
    println!("cluster: {}", header.cluster_name);
    println!("index: {}", header.index);
    println!("term: {}", header.term);
    println!("created: {} ms since the Unix epoch", header.created_at_ms);
    println!(
        "jobs: {} (next job id {})",
        backup.state.job_count(),
        backup.state.next_job_id()
    );
    println!("nodes: {}", backup.state.nodes().count());
    println!("users: {}", backup.state.users().count());
    println!(
        "formats: state {}, command {}; {} bytes, sha256 {}",
        header.state_format_version,
        header.command_format_version,
        header.state_bytes,
        header.state_sha256
    );
}

/// Writes `bytes` to a temporary file beside `path`, syncs it, renames it
/// over `path` and syncs the directory: `path` is the old file or the new
/// one, whole, whatever happens.
fn write_atomically(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let dir = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path
        .file_name()
        .with_context(|| format!("{} names no file", path.display()))?;
    let tmp = dir.join(format!(
        ".{}.tmp-{}",
        name.to_string_lossy(),
        std::process::id()
    ));
    let written = (|| {
        let mut file = File::create(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        fs::rename(&tmp, path)?;
        File::open(&dir)?.sync_all()
    })();
    if written.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    written.with_context(|| format!("writing {}", path.display()))
}
