//! [`Backup`]: a copy of the replicated state taken from a running cluster
//! (or from a stopped controller's data directory), as one file, and how a
//! new controller's data directory is seeded from it.
//!
//! File format, version 1:
//!
//! ```text
//! corral-backup 1\n
//! <BackupHeader as one line of JSON>\n
//! <the state, as in a snapshot (module `state_format`), to the end of the file>
//! ```
//!
//! The header names the cluster, the log index and term the state reflects,
//! when the copy was taken, and the length and SHA-256 of the state, so a
//! truncated or damaged file is refused before anything is written.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io;
use std::path::Path;

use openraft::{CommittedLeaderId, Membership};
use serde::{Deserialize, Serialize};

use crate::snapshot_file::SnapshotFiles;
use crate::state_format::{decode_state, encode_state, StateFormatError, STATE_FORMAT_VERSION};
use crate::{LogId, Node, NodeId, SnapshotMeta, StateCopy, StoreError, StoredMembership, Vote};
use corral_state::{ClusterState, COMMAND_FORMAT_VERSION};

/// The newest backup file format version this build understands and writes.
pub const BACKUP_FORMAT_VERSION: u32 = 1;
const BACKUP_FORMAT_PREFIX: &str = "corral-backup ";

/// What a backup file says about its content.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackupHeader {
    pub cluster_name: String,
    /// The log index of the last entry the state reflects.
    pub index: u64,
    /// That entry's term.
    pub term: u64,
    /// The controller that led in that term (part of openraft's log id).
    pub leader_id: NodeId,
    /// When the copy was taken, in milliseconds since the Unix epoch.
    pub created_at_ms: u64,
    /// The format of the state that follows the header.
    pub state_format_version: u32,
    /// The newest command format the writer understood (for the record).
    pub command_format_version: u32,
    pub state_bytes: u64,
    /// SHA-256 of the state, lowercase hex.
    pub state_sha256: String,
}

/// A decoded, checked backup.
#[derive(Clone, Debug)]
pub struct Backup {
    pub header: BackupHeader,
    pub state: ClusterState,
    state_data: Vec<u8>,
}

/// Why a backup file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error("not a Corral backup: it does not start with `{BACKUP_FORMAT_PREFIX}N`")]
    NotABackup,
    #[error(
        "backup format version {found} is newer than this Corral understands (up to \
         {BACKUP_FORMAT_VERSION}): it was written by a newer Corral; use that version to restore it"
    )]
    NewerFormat { found: u32 },
    #[error("the backup is truncated: {0}")]
    Truncated(String),
    #[error("the backup is corrupt: {0}")]
    Corrupt(String),
    #[error("{0}")]
    State(#[from] StateFormatError),
}

impl Backup {
    /// A backup of `copy`, taken at `created_at_ms`. `copy` must reflect at
    /// least one log entry.
    pub fn of(copy: &StateCopy, cluster_name: &str, created_at_ms: u64) -> Result<Backup, String> {
        let log_id = copy
            .last_applied
            .ok_or("the state reflects no log entry yet: nothing to back up")?;
        let state_data =
            encode_state(&copy.state).map_err(|error| format!("encoding the state: {error}"))?;
        Ok(Backup {
            header: BackupHeader {
                cluster_name: cluster_name.to_string(),
                index: log_id.index,
                term: log_id.leader_id.term,
                leader_id: log_id.leader_id.node_id,
                created_at_ms,
                state_format_version: STATE_FORMAT_VERSION,
                command_format_version: COMMAND_FORMAT_VERSION,
                state_bytes: state_data.len() as u64,
                state_sha256: sha256_hex(&state_data),
            },
            state: copy.state.clone(),
            state_data,
        })
    }

    /// The log id the state reflects.
    pub fn log_id(&self) -> LogId {
        LogId::new(
            CommittedLeaderId::new(self.header.term, self.header.leader_id),
            self.header.index,
        )
    }

    /// The file's bytes.
    pub fn encode(&self) -> Vec<u8> {
        let header = serde_json::to_vec(&self.header).expect("a backup header always encodes");
        let mut bytes = format!("{BACKUP_FORMAT_PREFIX}{BACKUP_FORMAT_VERSION}\n").into_bytes();
        bytes.extend_from_slice(&header);
        bytes.push(b'\n');
        bytes.extend_from_slice(&self.state_data);
        bytes
    }

    /// Decodes and checks a backup file's bytes: its format version, its
    /// length and checksum, and the state's format.
    pub fn decode(bytes: &[u8]) -> Result<Backup, BackupError> {
        let (format_line, rest) = split_line(bytes).ok_or(BackupError::NotABackup)?;
        let version: u32 = std::str::from_utf8(format_line)
            .ok()
            .and_then(|line| line.strip_prefix(BACKUP_FORMAT_PREFIX))
            .and_then(|version| version.trim().parse().ok())
            .ok_or(BackupError::NotABackup)?;
        if version > BACKUP_FORMAT_VERSION {
            return Err(BackupError::NewerFormat { found: version });
        }
        let (header_line, state_data) = split_line(rest)
            .ok_or_else(|| BackupError::Truncated("the header line is not terminated".into()))?;
        let header: BackupHeader = serde_json::from_slice(header_line).map_err(|error| {
            BackupError::Corrupt(format!("the header does not decode: {error}"))
        })?;
        if (state_data.len() as u64) < header.state_bytes {
            return Err(BackupError::Truncated(format!(
                "the header announces {} bytes of state, the file holds {}",
                header.state_bytes,
                state_data.len()
            )));
        }
        if state_data.len() as u64 != header.state_bytes {
            return Err(BackupError::Corrupt(format!(
                "the header announces {} bytes of state, the file holds {}",
                header.state_bytes,
                state_data.len()
            )));
        }
        let sha256 = sha256_hex(state_data);
        if sha256 != header.state_sha256 {
            return Err(BackupError::Corrupt(format!(
                "the state's SHA-256 is {sha256}, the header says {}",
                header.state_sha256
            )));
        }
        let state = decode_state(state_data)?;
        Ok(Backup {
            header,
            state,
            state_data: state_data.to_vec(),
        })
    }

    /// Seeds the empty data directory `dir` of controller `id` of a new
    /// cluster whose voters are `members`: a snapshot of this state at its
    /// log id, with that membership, and a vote in the backup's term (the
    /// new cluster's terms continue after it, so its log ids keep growing).
    /// The controller starts from it without `--bootstrap`; the others
    /// start empty and receive it from the leader. Refuses a `dir` that
    /// exists and is not empty.
    pub fn seed_data_dir(
        &self,
        dir: &Path,
        id: NodeId,
        members: &BTreeMap<NodeId, Node>,
    ) -> Result<(), StoreError> {
        if !members.contains_key(&id) {
            return Err(StoreError::io(
                "seed",
                dir,
                io::Error::other(format!("controller {id} is not among the new members")),
            ));
        }
        if let Ok(mut entries) = fs::read_dir(dir) {
            if entries.next().is_some() {
                return Err(StoreError::io(
                    "seed",
                    dir,
                    io::Error::other(
                        "the data directory is not empty; a restore never overwrites one",
                    ),
                ));
            }
        }
        fs::create_dir_all(dir).map_err(|source| StoreError::io("create", dir, source))?;
        let log_id = self.log_id();
        let voters: BTreeSet<NodeId> = members.keys().copied().collect();
        let membership = Membership::new(vec![voters], members.clone());
        let (files, _) = SnapshotFiles::open(dir)?;
        let meta = SnapshotMeta {
            snapshot_id: files.next_snapshot_id(Some(&log_id)),
            last_log_id: Some(log_id),
            last_membership: StoredMembership::new(Some(log_id), membership),
        };
        files.persist_installed(&meta, &self.state_data)?;
        let (log_store, _) = crate::open(dir, crate::StoreOptions::default())?;
        log_store.seed_vote(&Vote::new(log_id.leader_id.term, id))?;
        Ok(())
    }
}

fn split_line(bytes: &[u8]) -> Option<(&[u8], &[u8])> {
    let end = bytes.iter().position(|&byte| byte == b'\n')?;
    Some((&bytes[..end], &bytes[end + 1..]))
}

fn sha256_hex(data: &[u8]) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, data);
    digest.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn backup() -> Backup {
        let copy = StateCopy {
            state: ClusterState::default(),
            last_applied: Some(LogId::new(CommittedLeaderId::new(4, 2), 17)),
            last_membership: StoredMembership::default(),
        };
        Backup::of(&copy, "alpha", 1_700_000_000_000).unwrap()
    }

    #[test]
    fn a_backup_round_trips_with_its_header() {
        let original = backup();
        let decoded = Backup::decode(&original.encode()).unwrap();
        assert_eq!(decoded.header, original.header);
        assert_eq!(decoded.log_id(), original.log_id());
        assert_eq!(decoded.header.index, 17);
        assert_eq!(decoded.header.term, 4);
    }

    #[test]
    fn damaged_files_are_refused_saying_how() {
        let bytes = backup().encode();
        let error = |bytes: &[u8]| Backup::decode(bytes).unwrap_err().to_string();
        assert!(error(&bytes[..bytes.len() - 1]).contains("truncated"));
        let mut flipped = bytes.clone();
        *flipped.last_mut().unwrap() ^= 1;
        assert!(error(&flipped).contains("SHA-256"), "{}", error(&flipped));
        assert!(error(b"hello\n").contains("not a Corral backup"));
        let newer = String::from_utf8(bytes.clone()).unwrap().replacen(
            "corral-backup 1",
            "corral-backup 5",
            1,
        );
        let message = error(newer.as_bytes());
        assert!(
            message.contains("version 5") && message.contains("up to 1"),
            "{message}"
        );
    }

    #[test]
    fn seeding_refuses_a_directory_that_is_not_empty() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("something"), b"x").unwrap();
        let members = BTreeMap::from([(1, Node::new("127.0.0.1:1"))]);
        let error = backup()
            .seed_data_dir(dir.path(), 1, &members)
            .unwrap_err()
            .to_string();
        assert!(error.contains("not empty"), "{error}");
    }
}
