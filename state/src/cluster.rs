//! [`ClusterState`] and the one `match` that applies commands to it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::command::{Command, Outcome, Rejection};
use crate::job::{ExitStatus, Job, JobId, JobReason, JobSpec, JobState, RequestId};
use crate::partition::Partition;
use crate::request_window::RequestWindow;
use crate::user::{Actor, User};

/// The whole replicated state of a cluster.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClusterState {
    /// The id the next accepted submission gets. Only ever grows.
    pub(crate) next_job_id: JobId,
    pub(crate) jobs: BTreeMap<JobId, Job>,
    pub(crate) requests: RequestWindow,
    pub(crate) users: BTreeMap<String, User>,
    /// Token digest to user name; always the inverse of `users[*].token_sha256`.
    pub(crate) user_by_token: BTreeMap<String, String>,
    pub(crate) partitions: BTreeMap<String, Partition>,
    /// The largest `now_ms` applied so far.
    pub(crate) latest_now_ms: u64,
}

impl Default for ClusterState {
    fn default() -> Self {
        ClusterState {
            next_job_id: 1,
            jobs: BTreeMap::new(),
            requests: RequestWindow::default(),
            users: BTreeMap::new(),
            user_by_token: BTreeMap::new(),
            partitions: BTreeMap::new(),
            latest_now_ms: 0,
        }
    }
}

/// Which jobs a reader wants. Empty filters match everything.
#[derive(Clone, Debug, Default)]
pub struct JobQuery {
    pub job_ids: Vec<JobId>,
    pub states: Vec<JobState>,
    pub users: Vec<String>,
    pub partitions: Vec<String>,
}

impl ClusterState {
    /// Applies one committed command. Deterministic: the result depends only
    /// on `self` and `command`.
    pub fn apply(&mut self, command: &Command) -> Outcome {
        self.latest_now_ms = self.latest_now_ms.max(command.now_ms());
        match command {
            Command::SubmitJob {
                request_id,
                actor,
                spec,
                now_ms,
            } => self.apply_submit_job(request_id, actor, spec, *now_ms),
            Command::CancelJob {
                job_id,
                actor,
                now_ms,
            } => self.apply_cancel_job(*job_id, actor, *now_ms),
            Command::HoldJob { job_id, actor, .. } => self.apply_hold_job(*job_id, actor),
            Command::ReleaseJob { job_id, actor, .. } => self.apply_release_job(*job_id, actor),
            Command::PutUser { user, actor, .. } => self.apply_put_user(user, actor),
            Command::SetPartitions { partitions, .. } => self.apply_set_partitions(partitions),
        }
    }

    fn apply_submit_job(
        &mut self,
        request_id: &RequestId,
        actor: &Actor,
        spec: &JobSpec,
        now_ms: u64,
    ) -> Outcome {
        self.requests.expire(now_ms);
        if let Some(job_id) = self.requests.get(request_id) {
            return Outcome::Submitted {
                job_id,
                duplicate: true,
            };
        }
        let partition = match self.resolve_partition(spec.partition.as_deref()) {
            Ok(partition) => partition.name.clone(),
            Err(rejection) => return Outcome::Rejected(rejection),
        };
        let job_id = self.next_job_id;
        self.next_job_id += 1;
        let reason = if spec.hold {
            JobReason::JobHeldUser
        } else {
            JobReason::None
        };
        let job = Job {
            id: job_id,
            request_id: request_id.clone(),
            spec: spec.clone(),
            partition,
            user: actor.user.clone(),
            uid: actor.uid,
            gid: actor.gid,
            state: JobState::Pending,
            reason,
            submit_time_ms: now_ms,
            start_time_ms: None,
            end_time_ms: None,
            exit_status: ExitStatus::default(),
            cancelled_by_uid: None,
        };
        self.jobs.insert(job_id, job);
        self.requests.insert(request_id.clone(), job_id, now_ms);
        Outcome::Submitted {
            job_id,
            duplicate: false,
        }
    }

    fn resolve_partition(&self, requested: Option<&str>) -> Result<&Partition, Rejection> {
        match requested {
            Some(name) => self
                .partitions
                .get(name)
                .ok_or_else(|| Rejection::InvalidPartition(name.to_string())),
            None => self
                .partitions
                .values()
                .find(|p| p.default)
                .ok_or(Rejection::NoDefaultPartition),
        }
    }

    /// Finds a job the actor may change, or says why not.
    fn modifiable_job(&mut self, job_id: JobId, actor: &Actor) -> Result<&mut Job, Rejection> {
        let job = self
            .jobs
            .get_mut(&job_id)
            .ok_or(Rejection::InvalidJobId(job_id))?;
        if !actor.may_modify_job_of(&job.user) {
            return Err(Rejection::AccessDenied);
        }
        Ok(job)
    }

    fn apply_cancel_job(&mut self, job_id: JobId, actor: &Actor, now_ms: u64) -> Outcome {
        let job = match self.modifiable_job(job_id, actor) {
            Ok(job) => job,
            Err(rejection) => return Outcome::Rejected(rejection),
        };
        if job.state.is_terminal() {
            return Outcome::Rejected(Rejection::AlreadyDone(job_id));
        }
        job.state = JobState::Cancelled;
        job.reason = JobReason::None;
        job.end_time_ms = Some(now_ms);
        job.cancelled_by_uid = Some(actor.uid);
        Outcome::Done
    }

    fn apply_hold_job(&mut self, job_id: JobId, actor: &Actor) -> Outcome {
        let job = match self.modifiable_job(job_id, actor) {
            Ok(job) => job,
            Err(rejection) => return Outcome::Rejected(rejection),
        };
        if job.state != JobState::Pending {
            return Outcome::Rejected(Rejection::JobNotPending(job_id));
        }
        job.reason = if actor.admin && actor.user != job.user {
            JobReason::JobHeldAdmin
        } else {
            JobReason::JobHeldUser
        };
        Outcome::Done
    }

    fn apply_release_job(&mut self, job_id: JobId, actor: &Actor) -> Outcome {
        let job = match self.modifiable_job(job_id, actor) {
            Ok(job) => job,
            Err(rejection) => return Outcome::Rejected(rejection),
        };
        if job.state != JobState::Pending {
            return Outcome::Rejected(Rejection::JobNotPending(job_id));
        }
        if job.reason == JobReason::JobHeldAdmin && !actor.admin {
            return Outcome::Rejected(Rejection::AccessDenied);
        }
        if matches!(job.reason, JobReason::JobHeldUser | JobReason::JobHeldAdmin) {
            job.reason = JobReason::None;
        }
        Outcome::Done
    }

    fn apply_put_user(&mut self, user: &User, actor: &Actor) -> Outcome {
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
        let entry = self
            .users
            .entry(user.name.clone())
            .or_insert_with(|| User {
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
            self.user_by_token
                .insert(digest.clone(), user.name.clone());
        }
        Outcome::Done
    }

    fn apply_set_partitions(&mut self, partitions: &[Partition]) -> Outcome {
        self.partitions = partitions
            .iter()
            .map(|p| (p.name.clone(), p.clone()))
            .collect();
        Outcome::Done
    }

    // ---- reads ----

    pub fn job(&self, job_id: JobId) -> Option<&Job> {
        self.jobs.get(&job_id)
    }

    /// Jobs matching `query`, in job id order.
    pub fn jobs<'a>(&'a self, query: &'a JobQuery) -> impl Iterator<Item = &'a Job> + 'a {
        let by_id: Box<dyn Iterator<Item = &Job>> = if query.job_ids.is_empty() {
            Box::new(self.jobs.values())
        } else {
            let mut ids = query.job_ids.clone();
            ids.sort_unstable();
            ids.dedup();
            Box::new(ids.into_iter().filter_map(|id| self.jobs.get(&id)))
        };
        by_id.filter(move |job| {
            (query.states.is_empty() || query.states.contains(&job.state))
                && (query.users.is_empty() || query.users.contains(&job.user))
                && (query.partitions.is_empty() || query.partitions.contains(&job.partition))
        })
    }

    pub fn job_count(&self) -> usize {
        self.jobs.len()
    }

    /// The id the next submission will get.
    pub fn next_job_id(&self) -> JobId {
        self.next_job_id
    }

    /// The job a request id created, while the request is remembered.
    pub fn job_for_request(&self, request_id: &RequestId) -> Option<JobId> {
        self.requests.get(request_id)
    }

    pub fn user(&self, name: &str) -> Option<&User> {
        self.users.get(name)
    }

    pub fn users(&self) -> impl Iterator<Item = &User> {
        self.users.values()
    }

    /// The user holding a token, by the token's SHA-256 digest (lowercase hex).
    pub fn user_by_token(&self, token_sha256: &str) -> Option<&User> {
        self.user_by_token
            .get(token_sha256)
            .and_then(|name| self.users.get(name))
    }

    pub fn partitions(&self) -> impl Iterator<Item = &Partition> {
        self.partitions.values()
    }

    pub fn partition(&self, name: &str) -> Option<&Partition> {
        self.partitions.get(name)
    }

    pub fn latest_now_ms(&self) -> u64 {
        self.latest_now_ms
    }
}
