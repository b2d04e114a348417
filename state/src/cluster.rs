//! [`ClusterState`], the one `match` that applies commands to it, and reads.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::allocation::AllocationId;
use crate::command::{Command, Outcome};
use crate::job::{Job, JobId, JobReason, JobState, RequestId};
use crate::node::Node;
use crate::outbox::Outbox;
use crate::partition::Partition;
use crate::policy::Policy;
use crate::request_window::RequestWindow;
use crate::user::User;

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
    #[serde(default)]
    pub(crate) nodes: BTreeMap<String, Node>,
    /// The id the next started allocation gets. Only ever grows.
    #[serde(default = "first_allocation_id")]
    pub(crate) next_allocation_id: AllocationId,
    /// Pending jobs with dependency conditions not yet resolved.
    #[serde(default)]
    pub(crate) waiting: BTreeSet<JobId>,
    /// Records for the accounting database, not yet acknowledged.
    #[serde(default)]
    pub(crate) accounting: Outbox,
    /// Jobs and steps the command being applied changed (empty between
    /// commands): their records go to the outbox when it is applied.
    #[serde(skip)]
    pub(crate) touched: BTreeSet<JobId>,
    #[serde(skip)]
    pub(crate) touched_steps: BTreeSet<(JobId, u32)>,
    /// Accounts, associations and their enforcement.
    #[serde(default)]
    pub(crate) policy: Policy,
    /// Jobs `scontrol requeue` is ending (COMPLETING): once the agent
    /// reports the end, each goes back to PENDING with this reason.
    #[serde(default)]
    pub(crate) requeues: BTreeMap<JobId, JobReason>,
    /// Active jobs whose time limit `scontrol update` changed, with the
    /// number of changes: the leader sends each change to the job's agent
    /// until it confirms, and the agent keeps only the newest.
    #[serde(default)]
    pub(crate) time_limit_versions: BTreeMap<JobId, u32>,
}

fn first_allocation_id() -> AllocationId {
    AllocationId(1)
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
            nodes: BTreeMap::new(),
            next_allocation_id: first_allocation_id(),
            waiting: BTreeSet::new(),
            accounting: Outbox::default(),
            touched: BTreeSet::new(),
            touched_steps: BTreeSet::new(),
            policy: Policy::default(),
            requeues: BTreeMap::new(),
            time_limit_versions: BTreeMap::new(),
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
        let outcome = match command {
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
            Command::HoldJob {
                job_id,
                actor,
                user_hold,
                ..
            } => self.apply_hold_job(*job_id, actor, *user_hold),
            Command::ReleaseJob { job_id, actor, .. } => self.apply_release_job(*job_id, actor),
            Command::PutUser { user, actor, .. } => self.apply_put_user(user, actor),
            Command::SetPartitions { partitions, .. } => self.apply_set_partitions(partitions),
            Command::SetNodes { nodes, .. } => self.apply_set_nodes(nodes),
            Command::RegisterNode {
                name,
                resources,
                now_ms,
            } => self.apply_register_node(name, resources, *now_ms),
            Command::ApplyPlan {
                allocations,
                reasons,
                now_ms,
            } => self.apply_plan(allocations, reasons, *now_ms),
            Command::JobFinished {
                job_id,
                allocation_id,
                exit_status,
                cause,
                now_ms,
            } => self.apply_job_finished(*job_id, *allocation_id, *exit_status, *cause, *now_ms),
            Command::NodeDown {
                name,
                reason,
                now_ms,
            } => self.apply_node_down(name, reason, *now_ms),
            Command::UpdateNode {
                name,
                change,
                actor,
                now_ms,
            } => self.apply_update_node(name, change, actor, *now_ms),
            Command::PurgeJobs {
                finished_before_ms, ..
            } => self.apply_purge_jobs(*finished_before_ms),
            Command::StartStep {
                job_id,
                request_id,
                actor,
                spec,
                now_ms,
            } => self.apply_start_step(*job_id, request_id, actor, spec, *now_ms),
            Command::StepFinished {
                job_id,
                allocation_id,
                step_id,
                node,
                exit_status,
                cause,
                now_ms,
            } => self.apply_step_finished(
                *job_id,
                *allocation_id,
                *step_id,
                node,
                *exit_status,
                *cause,
                *now_ms,
            ),
            Command::AccountingAck { upto, .. } => self.apply_accounting_ack(*upto),
            Command::ChangePolicy { change, actor, .. } => self.apply_policy(change, actor),
            Command::UpdateJob {
                job_id,
                actor,
                update,
                ..
            } => self.apply_update_job(*job_id, actor, update),
            Command::RequeueJob {
                job_id,
                actor,
                hold,
                now_ms,
            } => self.apply_requeue_job(*job_id, actor, *hold, *now_ms),
            #[cfg(feature = "upgrade-test-variant")]
            Command::UpgradeTestVariant { .. } => Outcome::Done,
        };
        if !self.waiting.is_empty() {
            self.resolve_dependencies(command.now_ms());
        }
        self.record_touched();
        outcome
    }

    // ---- reads ----

    pub fn job(&self, job_id: JobId) -> Option<&Job> {
        self.jobs.get(&job_id)
    }

    /// Jobs matching `query`, in job id order. An id that is an array's
    /// names all its tasks.
    pub fn jobs<'a>(&'a self, query: &'a JobQuery) -> impl Iterator<Item = &'a Job> + 'a {
        let by_id: Box<dyn Iterator<Item = &Job>> = if query.job_ids.is_empty() {
            Box::new(self.jobs.values())
        } else {
            let mut ids = query.job_ids.clone();
            ids.sort_unstable();
            ids.dedup();
            Box::new(
                ids.into_iter()
                    .flat_map(|id| -> Box<dyn Iterator<Item = &Job>> {
                        match self.jobs.get(&id) {
                            Some(job) => Box::new(std::iter::once(job)),
                            None => Box::new(self.array_tasks(id)),
                        }
                    }),
            )
        };
        by_id.filter(move |job| {
            (query.states.is_empty() || query.states.contains(&job.state))
                && (query.users.is_empty() || query.users.contains(&job.user))
                && (query.partitions.is_empty() || query.partitions.contains(&job.partition))
        })
    }

    /// The tasks of array `array_job_id` still known, in task order.
    pub fn tasks_of_array(&self, array_job_id: JobId) -> impl Iterator<Item = &Job> {
        self.array_tasks(array_job_id)
    }

    pub fn all_jobs(&self) -> impl Iterator<Item = &Job> {
        self.jobs.values()
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

    pub fn nodes(&self) -> impl Iterator<Item = &Node> {
        self.nodes.values()
    }

    pub fn node(&self, name: &str) -> Option<&Node> {
        self.nodes.get(name)
    }

    /// The names of a partition's nodes that exist, in name order.
    pub fn partition_nodes(&self, partition: &Partition) -> Vec<String> {
        partition.node_names(self.nodes.keys())
    }

    pub fn latest_now_ms(&self) -> u64 {
        self.latest_now_ms
    }

    /// Whether `scontrol requeue` is ending the job, and the reason it
    /// will pend with.
    pub fn requeue_requested(&self, job_id: JobId) -> Option<JobReason> {
        self.requeues.get(&job_id).copied()
    }

    /// How many times `scontrol update` changed an active job's time
    /// limit (0: never).
    pub fn time_limit_version(&self, job_id: JobId) -> u32 {
        self.time_limit_versions.get(&job_id).copied().unwrap_or(0)
    }

    /// The active jobs whose time limit changed, with their versions.
    pub fn time_limit_updates(&self) -> impl Iterator<Item = (JobId, u32)> + '_ {
        self.time_limit_versions.iter().map(|(id, v)| (*id, *v))
    }

    /// The accounting records waiting for the database.
    pub fn accounting(&self) -> &Outbox {
        &self.accounting
    }
}
