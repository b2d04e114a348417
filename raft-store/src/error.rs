//! [`StoreError`]: what can go wrong opening a store, and the conversion of
//! everything that goes wrong later into openraft's `StorageError`.

use std::io;
use std::path::{Path, PathBuf};

use openraft::{AnyError, ErrorSubject, ErrorVerb, StorageIOError};

use crate::StorageError;

/// A failure of the store's own files. Each variant names the path.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot {action} {path}: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        source: io::Error,
    },
    #[error("sled database {path}: cannot {action}: {source}")]
    Sled {
        action: &'static str,
        path: PathBuf,
        source: sled::Error,
    },
    /// The async runtime shut down while storage work ran on its blocking
    /// pool; whether that work finished is unknown.
    #[error("storage work was cancelled: the async runtime is shutting down")]
    Cancelled,
    /// Something stored does not decode: the store is damaged, or was
    /// written by an incompatible version.
    #[error("{path} is corrupt: {reason}")]
    Corrupt { path: PathBuf, reason: String },
    /// Something stored was written by a newer Corral, in a format version
    /// this build does not know.
    #[error(
        "{path}: {what} format version {found} is newer than this Corral understands \
         (up to {newest}): it was written by a newer Corral; upgrade this binary"
    )]
    NewerFormat {
        path: PathBuf,
        what: &'static str,
        found: u32,
        newest: u32,
    },
}

impl StoreError {
    pub(crate) fn io(action: &'static str, path: &Path, source: io::Error) -> StoreError {
        StoreError::Io {
            action,
            path: path.to_path_buf(),
            source,
        }
    }

    pub(crate) fn sled(action: &'static str, path: &Path, source: sled::Error) -> StoreError {
        StoreError::Sled {
            action,
            path: path.to_path_buf(),
            source,
        }
    }

    pub(crate) fn corrupt(path: &Path, reason: impl Into<String>) -> StoreError {
        StoreError::Corrupt {
            path: path.to_path_buf(),
            reason: reason.into(),
        }
    }

    /// Wraps this error for openraft, saying what was being done to what.
    pub(crate) fn into_storage(self, subject: ErrorSubject<u64>, verb: ErrorVerb) -> StorageError {
        StorageIOError::new(subject, verb, AnyError::new(&self)).into()
    }
}

/// Shorthand for the common case: an I/O failure while doing `verb` on `subject`.
pub(crate) fn storage_io(
    subject: ErrorSubject<u64>,
    verb: ErrorVerb,
    source: impl std::error::Error + 'static,
) -> StorageError {
    StorageIOError::new(subject, verb, AnyError::new(&source)).into()
}
