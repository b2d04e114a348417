//! Users and who is acting.

use serde::{Deserialize, Serialize};

/// A user known to the cluster. Tokens are stored only as SHA-256 digests
/// (lowercase hex): the state never holds a usable credential.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
    pub admin: bool,
    pub token_sha256: Vec<String>,
}

/// Who issued a command, as the leader established it from the caller's
/// token before proposing. `apply` decides permissions from this alone.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    pub user: String,
    pub uid: u32,
    pub gid: u32,
    pub admin: bool,
}

impl Actor {
    /// The cluster's root identity (the controllers' root token).
    pub fn root() -> Actor {
        Actor {
            user: "root".to_string(),
            uid: 0,
            gid: 0,
            admin: true,
        }
    }

    /// Whether this actor may change a job owned by `owner`.
    pub fn may_modify_job_of(&self, owner: &str) -> bool {
        self.admin || self.user == owner
    }
}
