//! Applying the commands about users, partitions and housekeeping.

use crate::cluster::ClusterState;
use crate::command::{Outcome, Rejection};
use crate::partition::Partition;
use crate::user::{Actor, User};

impl ClusterState {
    pub(crate) fn apply_put_user(&mut self, user: &User, actor: &Actor) -> Outcome {
        if !actor.admin {
            return Outcome::Rejected(Rejection::AccessDenied);
        }
        if user.name.is_empty() {
            return Outcome::Rejected(Rejection::InvalidUser("empty name".to_string()));
        }
        if let Some(holder) = user
            .token_sha256
            .iter()
            .filter_map(|digest| self.user_by_token.get(digest))
            .find(|holder| **holder != user.name)
        {
            return Outcome::Rejected(Rejection::InvalidUser(format!(
                "token already belongs to {holder}"
            )));
        }
        let entry = self.users.entry(user.name.clone()).or_insert_with(|| User {
            token_sha256: Vec::new(),
            ..user.clone()
        });
        entry.uid = user.uid;
        entry.gid = user.gid;
        entry.admin = user.admin;
        for digest in &user.token_sha256 {
            if !entry.token_sha256.contains(digest) {
                entry.token_sha256.push(digest.clone());
            }
            self.user_by_token.insert(digest.clone(), user.name.clone());
        }
        Outcome::Done
    }

    pub(crate) fn apply_set_partitions(&mut self, partitions: &[Partition]) -> Outcome {
        self.partitions = partitions
            .iter()
            .map(|p| (p.name.clone(), p.clone()))
            .collect();
        Outcome::Done
    }

    pub(crate) fn apply_purge_jobs(&mut self, finished_before_ms: u64) -> Outcome {
        let before = self.jobs.len();
        self.jobs.retain(|_, job| {
            !(job.state.is_terminal()
                && job.end_time_ms.is_some_and(|end| end < finished_before_ms))
        });
        Outcome::Purged {
            jobs: before - self.jobs.len(),
        }
    }
}
