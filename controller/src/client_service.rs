//! The client-facing gRPC service (`Corral` in `proto/corral.proto`).
//!
//! Each leader-only call first redirects when this controller is not the
//! leader (before authenticating: a follower's copy of the user table may
//! lag), then authenticates, then writes through [`Proposer::propose`] or
//! reads through [`Proposer::read`].

use corral_proto as wire;
use corral_proto::corral_server::Corral;
use corral_raft_store::Raft;
use corral_state::{Command, JobQuery, NodeChange, Outcome, RequestId, StepSpec, User};
use openraft::ServerState;
use tonic::{Request, Response, Status};

use std::sync::Arc;

use corral_accounting::AccountingDb;

use crate::accounting::AccountingFilter;
use crate::auth::Authenticator;
use crate::gateway::Hub;
use crate::membership::Membership;
use crate::propose::{wall_clock_ms, Proposer};
use crate::signal;

/// Longest accepted request id: a UUID needs 36 bytes.
pub const REQUEST_ID_BYTES_MAX: usize = 128;

pub struct ClientService {
    raft: Raft,
    proposer: Proposer,
    membership: Membership,
    authenticator: Authenticator,
    address: String,
    cluster_name: String,
    accounting: Arc<AccountingDb>,
    /// The attached agents, for `scancel --signal` (leader-only, not
    /// replicated).
    hub: Arc<Hub>,
}

impl ClientService {
    pub fn new(
        membership: Membership,
        proposer: Proposer,
        authenticator: Authenticator,
        address: String,
        cluster_name: String,
        accounting: Arc<AccountingDb>,
        hub: Arc<Hub>,
    ) -> ClientService {
        ClientService {
            raft: proposer.raft().clone(),
            proposer,
            membership,
            authenticator,
            address,
            cluster_name,
            accounting,
            hub,
        }
    }
}

fn role_name(state: ServerState) -> &'static str {
    match state {
        ServerState::Leader => "leader",
        ServerState::Follower => "follower",
        ServerState::Candidate => "candidate",
        ServerState::Learner => "learner",
        ServerState::Shutdown => "shutdown",
    }
}

fn check_request_id(request_id: &str) -> Result<(), Status> {
    if request_id.is_empty() || request_id.len() > REQUEST_ID_BYTES_MAX {
        return Err(Status::invalid_argument(format!(
            "request_id must be 1 to {REQUEST_ID_BYTES_MAX} bytes"
        )));
    }
    Ok(())
}

fn rejection_of(outcome: &Outcome) -> Option<wire::Rejection> {
    match outcome {
        Outcome::Rejected(rejection) => Some(rejection.into()),
        _ => None,
    }
}

#[tonic::async_trait]
impl Corral for ClientService {
    async fn controller_status(
        &self,
        _request: Request<wire::ControllerStatusRequest>,
    ) -> Result<Response<wire::ControllerStatusReply>, Status> {
        let metrics = self.raft.metrics().borrow().clone();
        let leader_address = metrics
            .current_leader
            .and_then(|leader| {
                metrics
                    .membership_config
                    .membership()
                    .get_node(&leader)
                    .map(|node| node.addr.clone())
            })
            .unwrap_or_default();
        let (accounting_waiting, accounting_acked_upto, accounting_dropped) =
            self.proposer.state().read(|state| {
                let outbox = state.accounting();
                (
                    outbox.pending_len() as u64,
                    outbox.acked_upto(),
                    outbox.dropped(),
                )
            });
        Ok(Response::new(wire::ControllerStatusReply {
            id: metrics.id,
            address: self.address.clone(),
            role: role_name(metrics.state).to_string(),
            term: metrics.current_term,
            last_log_index: metrics.last_log_index,
            applied_index: metrics.last_applied.map(|log_id| log_id.index),
            leader_id: metrics.current_leader,
            leader_address,
            cluster_name: self.cluster_name.clone(),
            accounting_waiting,
            accounting_acked_upto,
            accounting_dropped,
            members: crate::membership::membership_reply(&metrics, String::new()).members,
        }))
    }

    async fn submit_job(
        &self,
        request: Request<wire::SubmitJobRequest>,
    ) -> Result<Response<wire::SubmitJobReply>, Status> {
        self.proposer.redirect_unless_leader()?;
        let actor = self.authenticator.actor(request.metadata())?;
        let request = request.into_inner();
        check_request_id(&request.request_id)?;
        let spec = request
            .spec
            .ok_or_else(|| Status::invalid_argument("submission without a job spec"))?;
        let spec: corral_state::JobSpec = spec
            .try_into()
            .map_err(|error| Status::invalid_argument(format!("invalid job spec: {error}")))?;
        let request_id = RequestId(request.request_id);
        let outcome = self
            .proposer
            .propose(|now_ms| Command::SubmitJob {
                request_id,
                actor,
                spec: Box::new(spec),
                now_ms,
            })
            .await?;
        let reply = match &outcome {
            Outcome::Submitted { job_id, duplicate } => wire::SubmitJobReply {
                result: Some(wire::submit_job_reply::Result::JobId(*job_id)),
                duplicate: *duplicate,
            },
            Outcome::Rejected(rejection) => wire::SubmitJobReply {
                result: Some(wire::submit_job_reply::Result::Rejection(rejection.into())),
                duplicate: false,
            },
            _ => return Err(Status::internal("submission applied without a job id")),
        };
        Ok(Response::new(reply))
    }

    async fn job_action(
        &self,
        request: Request<wire::JobActionRequest>,
    ) -> Result<Response<wire::JobActionReply>, Status> {
        use wire::job_action_request::Action;
        self.proposer.redirect_unless_leader()?;
        let actor = self.authenticator.actor(request.metadata())?;
        let request = request.into_inner();
        let job_id = request.job_id;
        let action = Action::try_from(request.action)
            .ok()
            .filter(|action| *action != Action::Unspecified)
            .ok_or_else(|| {
                Status::invalid_argument(format!("unknown job action {}", request.action))
            })?;
        let outcome = self
            .proposer
            .propose(|now_ms| match action {
                Action::Cancel | Action::Unspecified => Command::CancelJob {
                    job_id,
                    actor,
                    now_ms,
                },
                Action::Hold | Action::UserHold => Command::HoldJob {
                    job_id,
                    actor,
                    now_ms,
                    user_hold: action == Action::UserHold,
                },
                Action::Requeue | Action::RequeueHold => Command::RequeueJob {
                    job_id,
                    actor,
                    hold: action == Action::RequeueHold,
                    now_ms,
                },
                Action::Release => Command::ReleaseJob {
                    job_id,
                    actor,
                    now_ms,
                },
            })
            .await?;
        Ok(Response::new(wire::JobActionReply {
            rejection: rejection_of(&outcome),
        }))
    }

    async fn update_job(
        &self,
        request: Request<wire::UpdateJobRequest>,
    ) -> Result<Response<wire::UpdateJobReply>, Status> {
        self.proposer.redirect_unless_leader()?;
        let actor = self.authenticator.actor(request.metadata())?;
        let request = request.into_inner();
        let job_id = request.job_id;
        let time_limit = match (request.time_limit_unlimited, request.time_limit_minutes) {
            (true, _) => Some(corral_state::TimeLimitUpdate::Unlimited),
            (false, minutes) => minutes.map(corral_state::TimeLimitUpdate::Minutes),
        };
        let update = corral_state::JobUpdate {
            time_limit,
            partition: request.partition,
            nice: request.nice,
            name: request.name,
            comment: request.comment,
        };
        let outcome = self
            .proposer
            .propose(|now_ms| Command::UpdateJob {
                job_id,
                actor,
                update,
                now_ms,
            })
            .await?;
        Ok(Response::new(wire::UpdateJobReply {
            rejection: rejection_of(&outcome),
        }))
    }

    async fn signal(
        &self,
        request: Request<wire::SignalRequest>,
    ) -> Result<Response<wire::SignalReply>, Status> {
        self.proposer.redirect_unless_leader()?;
        let actor = self.authenticator.actor(request.metadata())?;
        let request = request.into_inner();
        if !(1..=signal::SIGNAL_MAX).contains(&request.signal) {
            return Err(Status::invalid_argument(format!(
                "signal {} is out of range",
                request.signal
            )));
        }
        let scope = wire::signal_request::Scope::try_from(request.scope)
            .map_err(|_| Status::invalid_argument(format!("unknown scope {}", request.scope)))?;
        let plan = self
            .proposer
            .read(|state| signal::plan(state, &actor, request.job_id, request.signal, scope))
            .await?;
        let rejection = match plan {
            Ok(deliveries) => {
                for (node, message) in deliveries {
                    if !self.hub.send(&node, message) {
                        tracing::warn!(%node, job = request.job_id, "signal not sent: the node's agent is not attached");
                    }
                }
                None
            }
            Err(rejection) => Some((&rejection).into()),
        };
        Ok(Response::new(wire::SignalReply { rejection }))
    }

    async fn get_jobs(
        &self,
        request: Request<wire::GetJobsRequest>,
    ) -> Result<Response<wire::GetJobsReply>, Status> {
        self.proposer.redirect_unless_leader()?;
        self.authenticator.actor(request.metadata())?;
        let request = request.into_inner();
        let states = request
            .states
            .iter()
            .map(|state| {
                wire::job_state_from_wire(*state)
                    .map_err(|error| Status::invalid_argument(error.to_string()))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let query = JobQuery {
            job_ids: request.job_ids,
            states,
            users: request.users,
            partitions: request.partitions,
        };
        let with_script = request.with_script;
        let (jobs, partitions) = self
            .proposer
            .read(|state| {
                let jobs = state
                    .jobs(&query)
                    .map(|job| wire::job_to_wire(job, with_script))
                    .collect();
                let partitions = state.partitions().map(wire::Partition::from).collect();
                (jobs, partitions)
            })
            .await?;
        Ok(Response::new(wire::GetJobsReply {
            jobs,
            now_ms: wall_clock_ms(),
            partitions,
        }))
    }

    async fn get_partitions(
        &self,
        request: Request<wire::GetPartitionsRequest>,
    ) -> Result<Response<wire::GetPartitionsReply>, Status> {
        self.proposer.redirect_unless_leader()?;
        self.authenticator.actor(request.metadata())?;
        let partitions = self
            .proposer
            .read(|state| state.partitions().map(wire::Partition::from).collect())
            .await?;
        Ok(Response::new(wire::GetPartitionsReply { partitions }))
    }

    async fn put_user(
        &self,
        request: Request<wire::PutUserRequest>,
    ) -> Result<Response<wire::PutUserReply>, Status> {
        self.proposer.redirect_unless_leader()?;
        let actor = self.authenticator.actor(request.metadata())?;
        let request = request.into_inner();
        let token_is_digest = request.token_sha256.len() == 64
            && request
                .token_sha256
                .bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase());
        if !request.token_sha256.is_empty() && !token_is_digest {
            return Err(Status::invalid_argument(
                "token_sha256 must be 64 lowercase hex digits",
            ));
        }
        let user = User {
            name: request.name,
            uid: request.uid,
            gid: request.gid,
            admin: request.admin,
            token_sha256: if request.token_sha256.is_empty() {
                Vec::new()
            } else {
                vec![request.token_sha256]
            },
        };
        let outcome = self
            .proposer
            .propose(|now_ms| Command::PutUser {
                user,
                actor,
                now_ms,
            })
            .await?;
        Ok(Response::new(wire::PutUserReply {
            rejection: rejection_of(&outcome),
        }))
    }

    async fn who_am_i(
        &self,
        request: Request<wire::WhoAmIRequest>,
    ) -> Result<Response<wire::WhoAmIReply>, Status> {
        let actor = self.authenticator.actor(request.metadata())?;
        Ok(Response::new(wire::WhoAmIReply {
            user: actor.user,
            uid: actor.uid,
            gid: actor.gid,
            admin: actor.admin,
        }))
    }

    async fn get_nodes(
        &self,
        request: Request<wire::GetNodesRequest>,
    ) -> Result<Response<wire::GetNodesReply>, Status> {
        self.proposer.redirect_unless_leader()?;
        self.authenticator.actor(request.metadata())?;
        let names = request.into_inner().names;
        let (nodes, partitions) = self
            .proposer
            .read(|state| {
                let nodes = state
                    .nodes()
                    .filter(|node| names.is_empty() || names.contains(&node.name))
                    .map(wire::Node::from)
                    .collect();
                let partitions = state.partitions().map(wire::Partition::from).collect();
                (nodes, partitions)
            })
            .await?;
        Ok(Response::new(wire::GetNodesReply {
            nodes,
            partitions,
            now_ms: wall_clock_ms(),
        }))
    }

    async fn update_node(
        &self,
        request: Request<wire::UpdateNodeRequest>,
    ) -> Result<Response<wire::UpdateNodeReply>, Status> {
        use wire::update_node_request::Change;
        self.proposer.redirect_unless_leader()?;
        let actor = self.authenticator.actor(request.metadata())?;
        let request = request.into_inner();
        let change = match Change::try_from(request.change) {
            Ok(Change::Drain) => NodeChange::Drain {
                reason: request.reason,
            },
            Ok(Change::Resume) => NodeChange::Resume,
            Ok(Change::Down) => NodeChange::Down {
                reason: request.reason,
            },
            _ => {
                return Err(Status::invalid_argument(format!(
                    "unknown node change {}",
                    request.change
                )))
            }
        };
        for name in request.names {
            let outcome = self
                .proposer
                .propose(|now_ms| Command::UpdateNode {
                    name,
                    change: change.clone(),
                    actor: actor.clone(),
                    now_ms,
                })
                .await?;
            if let Some(rejection) = rejection_of(&outcome) {
                return Ok(Response::new(wire::UpdateNodeReply {
                    rejection: Some(rejection),
                }));
            }
        }
        Ok(Response::new(wire::UpdateNodeReply { rejection: None }))
    }

    async fn start_step(
        &self,
        request: Request<wire::StartStepRequest>,
    ) -> Result<Response<wire::StartStepReply>, Status> {
        self.proposer.redirect_unless_leader()?;
        let actor = self.authenticator.actor(request.metadata())?;
        let request = request.into_inner();
        check_request_id(&request.request_id)?;
        let spec: StepSpec = request
            .spec
            .ok_or_else(|| Status::invalid_argument("a step without a spec"))?
            .into();
        if spec.argv.is_empty() || spec.argv[0].is_empty() {
            return Err(Status::invalid_argument("a step without a program"));
        }
        if spec.io_address.parse::<std::net::SocketAddr>().is_err() || spec.io_key.is_empty() {
            return Err(Status::invalid_argument(format!(
                "a step's io_address must be host:port with an io_key (got {:?})",
                spec.io_address
            )));
        }
        let job_id = request.job_id;
        let request_id = RequestId(request.request_id);
        let outcome = self
            .proposer
            .propose(|now_ms| Command::StartStep {
                job_id,
                request_id,
                actor,
                spec: Box::new(spec),
                now_ms,
            })
            .await?;
        let reply = match &outcome {
            Outcome::StepStarted {
                step_id, duplicate, ..
            } => {
                let nodes = self.proposer.state().read(|state| {
                    state
                        .job(job_id)
                        .and_then(|job| job.steps.iter().find(|s| s.id == *step_id))
                        .map(|step| wire::step_nodes_to_wire(&step.nodes))
                        .unwrap_or_default()
                });
                wire::StartStepReply {
                    result: Some(wire::start_step_reply::Result::StepId(*step_id)),
                    duplicate: *duplicate,
                    nodes,
                }
            }
            Outcome::Rejected(rejection) => wire::StartStepReply {
                result: Some(wire::start_step_reply::Result::Rejection(rejection.into())),
                duplicate: false,
                nodes: Vec::new(),
            },
            _ => return Err(Status::internal("step applied without a step id")),
        };
        Ok(Response::new(reply))
    }

    async fn get_accounting(
        &self,
        request: Request<wire::GetAccountingRequest>,
    ) -> Result<Response<wire::GetAccountingReply>, Status> {
        self.proposer.redirect_unless_leader()?;
        self.authenticator.actor(request.metadata())?;
        let filter = AccountingFilter::from_wire(request.into_inner());
        let fresh = self
            .proposer
            .read(|state| crate::accounting::rows_in_state(state, &filter))
            .await?;
        let stored =
            crate::accounting::rows_in_database(&self.accounting, &self.cluster_name, &filter)
                .await;
        let database_read = stored.is_some();
        let jobs = crate::accounting::overlay(stored.unwrap_or_default(), fresh);
        Ok(Response::new(wire::GetAccountingReply {
            jobs: jobs
                .iter()
                .map(|(job, steps)| wire::accounting_job_to_wire(job, steps))
                .collect(),
            now_ms: wall_clock_ms(),
            cluster_name: self.cluster_name.clone(),
            database_read,
        }))
    }

    async fn get_policy(
        &self,
        request: Request<wire::GetPolicyRequest>,
    ) -> Result<Response<wire::GetPolicyReply>, Status> {
        self.proposer.redirect_unless_leader()?;
        self.authenticator.actor(request.metadata())?;
        let policy = self.proposer.read(|state| state.policy().clone()).await?;
        Ok(Response::new(wire::policy_to_wire(
            &policy,
            &self.cluster_name,
            &self.address,
        )))
    }

    async fn change_policy(
        &self,
        request: Request<wire::ChangePolicyRequest>,
    ) -> Result<Response<wire::ChangePolicyReply>, Status> {
        self.proposer.redirect_unless_leader()?;
        let actor = self.authenticator.actor(request.metadata())?;
        let changes = request
            .into_inner()
            .changes
            .into_iter()
            .map(wire::policy_change_from_wire)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|error| Status::invalid_argument(error.to_string()))?;
        let mut outcomes = Vec::new();
        for change in changes {
            let outcome = self
                .proposer
                .propose(|now_ms| Command::ChangePolicy {
                    change,
                    actor: actor.clone(),
                    now_ms,
                })
                .await?;
            let rejected = matches!(outcome, Outcome::Rejected(_));
            outcomes.push(wire::PolicyOutcome {
                changed: outcome == Outcome::Done,
                rejection: rejection_of(&outcome),
            });
            if rejected {
                break;
            }
        }
        Ok(Response::new(wire::ChangePolicyReply { outcomes }))
    }

    async fn save_snapshot(
        &self,
        request: Request<wire::SaveSnapshotRequest>,
    ) -> Result<Response<wire::SaveSnapshotReply>, Status> {
        crate::snapshot::save(
            &self.proposer,
            &self.authenticator,
            &self.cluster_name,
            request,
        )
        .await
    }

    async fn add_controller(
        &self,
        request: Request<wire::AddControllerRequest>,
    ) -> Result<Response<wire::MembershipReply>, Status> {
        self.proposer.redirect_unless_leader()?;
        let actor = self.authenticator.actor(request.metadata())?;
        let reply = self.membership.add(&actor, request.into_inner()).await?;
        Ok(Response::new(reply))
    }

    async fn remove_controller(
        &self,
        request: Request<wire::RemoveControllerRequest>,
    ) -> Result<Response<wire::MembershipReply>, Status> {
        self.proposer.redirect_unless_leader()?;
        let actor = self.authenticator.actor(request.metadata())?;
        let id = request.into_inner().id;
        let reply = self.membership.remove(&actor, id).await?;
        Ok(Response::new(reply))
    }

    async fn get_controllers(
        &self,
        request: Request<wire::GetControllersRequest>,
    ) -> Result<Response<wire::MembershipReply>, Status> {
        self.proposer.redirect_unless_leader()?;
        self.authenticator.actor(request.metadata())?;
        Ok(Response::new(self.membership.list().await?))
    }
}
