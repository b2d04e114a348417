//! Conversions of accounting rows and policy between the wire and
//! `corral-state`.

use corral_state as domain;

use crate::convert::{job_state_from_wire, ConversionError};
use crate::generated as wire;

fn exit_to_wire(exit: domain::ExitStatus) -> Option<wire::ExitPair> {
    Some(wire::ExitPair {
        code: u32::from(exit.code),
        signal: u32::from(exit.signal),
    })
}

fn exit_from_wire(exit: Option<wire::ExitPair>) -> Result<domain::ExitStatus, ConversionError> {
    let exit = exit.unwrap_or_default();
    match (u8::try_from(exit.code), u8::try_from(exit.signal)) {
        (Ok(code), Ok(signal)) => Ok(domain::ExitStatus { code, signal }),
        _ => Err(ConversionError::ExitStatusOutOfRange(
            exit.code,
            exit.signal,
        )),
    }
}

pub fn job_record_to_wire(record: &domain::JobRecord) -> wire::JobRecord {
    wire::JobRecord {
        job_id: record.job_id,
        array_job_id: record.array_job_id,
        array_task_id: record.array_task_id,
        name: record.name.clone(),
        user: record.user.clone(),
        uid: record.uid,
        gid: record.gid,
        account: record.account.clone(),
        partition: record.partition.clone(),
        qos: record.qos.clone(),
        state: wire::JobState::from(record.state) as i32,
        cancelled_by_uid: record.cancelled_by_uid,
        exit_status: exit_to_wire(record.exit_status),
        derived_exit_status: exit_to_wire(record.derived_exit_status),
        submit_time_ms: record.submit_time_ms,
        eligible_time_ms: record.eligible_time_ms,
        start_time_ms: record.start_time_ms,
        end_time_ms: record.end_time_ms,
        time_limit_minutes: record.time_limit_minutes,
        nodes: record.nodes.clone(),
        alloc_cpus: record.alloc_cpus,
        alloc_gpus: record.alloc_gpus,
        alloc_memory_mb: record.alloc_memory_mb,
        req_nodes: record.req_nodes,
        req_cpus: record.req_cpus,
        req_tasks: record.req_tasks,
        req_memory_per_node_mb: record.req_memory_per_node_mb,
        req_gpus_per_node: record.req_gpus_per_node,
        work_dir: record.work_dir.clone(),
        reason: record.reason.clone(),
        requeue_count: record.requeue_count,
        comment: record.comment.clone(),
    }
}

pub fn job_record_from_wire(record: wire::JobRecord) -> Result<domain::JobRecord, ConversionError> {
    Ok(domain::JobRecord {
        job_id: record.job_id,
        array_job_id: record.array_job_id,
        array_task_id: record.array_task_id,
        name: record.name,
        user: record.user,
        uid: record.uid,
        gid: record.gid,
        account: record.account,
        partition: record.partition,
        qos: record.qos,
        state: job_state_from_wire(record.state)?,
        cancelled_by_uid: record.cancelled_by_uid,
        exit_status: exit_from_wire(record.exit_status)?,
        derived_exit_status: exit_from_wire(record.derived_exit_status)?,
        submit_time_ms: record.submit_time_ms,
        eligible_time_ms: record.eligible_time_ms,
        start_time_ms: record.start_time_ms,
        end_time_ms: record.end_time_ms,
        time_limit_minutes: record.time_limit_minutes,
        nodes: record.nodes,
        alloc_cpus: record.alloc_cpus,
        alloc_gpus: record.alloc_gpus,
        alloc_memory_mb: record.alloc_memory_mb,
        req_nodes: record.req_nodes,
        req_cpus: record.req_cpus,
        req_tasks: record.req_tasks,
        req_memory_per_node_mb: record.req_memory_per_node_mb,
        req_gpus_per_node: record.req_gpus_per_node,
        work_dir: record.work_dir,
        reason: record.reason,
        requeue_count: record.requeue_count,
        comment: record.comment,
    })
}

pub fn step_record_to_wire(record: &domain::StepRecord) -> wire::StepRecord {
    wire::StepRecord {
        job_id: record.job_id,
        step_id: record.step_id.to_string(),
        name: record.name.clone(),
        state: wire::JobState::from(record.state) as i32,
        exit_status: exit_to_wire(record.exit_status),
        start_time_ms: record.start_time_ms,
        end_time_ms: record.end_time_ms,
        nodes: record.nodes.clone(),
        ntasks: record.ntasks,
        alloc_cpus: record.alloc_cpus,
    }
}

pub fn step_record_from_wire(
    record: wire::StepRecord,
) -> Result<domain::StepRecord, ConversionError> {
    Ok(domain::StepRecord {
        job_id: record.job_id,
        step_id: domain::StepId::parse(&record.step_id)
            .ok_or_else(|| ConversionError::UnknownStep(record.step_id.clone()))?,
        name: record.name,
        state: job_state_from_wire(record.state)?,
        exit_status: exit_from_wire(record.exit_status)?,
        start_time_ms: record.start_time_ms,
        end_time_ms: record.end_time_ms,
        nodes: record.nodes,
        ntasks: record.ntasks,
        alloc_cpus: record.alloc_cpus,
    })
}

pub fn accounting_job_to_wire(
    job: &domain::JobRecord,
    steps: &[domain::StepRecord],
) -> wire::AccountingJob {
    wire::AccountingJob {
        job: Some(job_record_to_wire(job)),
        steps: steps.iter().map(step_record_to_wire).collect(),
    }
}

pub fn accounting_job_from_wire(
    job: wire::AccountingJob,
) -> Result<(domain::JobRecord, Vec<domain::StepRecord>), ConversionError> {
    let record = job.job.ok_or(ConversionError::MissingRecord)?;
    let steps = job
        .steps
        .into_iter()
        .map(step_record_from_wire)
        .collect::<Result<Vec<_>, _>>()?;
    Ok((job_record_from_wire(record)?, steps))
}

pub fn admin_level_from_name(name: &str) -> Option<domain::AdminLevel> {
    [
        domain::AdminLevel::None,
        domain::AdminLevel::Operator,
        domain::AdminLevel::Administrator,
    ]
    .into_iter()
    .find(|level| level.slurm_name() == name)
}

pub fn policy_to_wire(
    policy: &domain::Policy,
    cluster_name: &str,
    leader_address: &str,
) -> wire::GetPolicyReply {
    wire::GetPolicyReply {
        accounts: policy
            .accounts
            .values()
            .map(|account| wire::PolicyAccount {
                name: account.name.clone(),
                description: account.description.clone(),
                organization: account.organization.clone(),
                parent: account.parent.clone(),
            })
            .collect(),
        users: policy
            .users
            .values()
            .map(|user| wire::PolicyUser {
                name: user.name.clone(),
                default_account: user.default_account.clone(),
                admin_level: user.admin_level.slurm_name().to_string(),
                accounts: user.accounts.iter().cloned().collect(),
            })
            .collect(),
        enforce_associations: policy.enforce_associations,
        cluster_name: cluster_name.to_string(),
        leader_address: leader_address.to_string(),
    }
}

pub fn policy_from_wire(reply: &wire::GetPolicyReply) -> Result<domain::Policy, ConversionError> {
    let accounts = reply
        .accounts
        .iter()
        .map(|account| {
            (
                account.name.clone(),
                domain::Account {
                    name: account.name.clone(),
                    description: account.description.clone(),
                    organization: account.organization.clone(),
                    parent: account.parent.clone(),
                },
            )
        })
        .collect();
    let users = reply
        .users
        .iter()
        .map(|user| {
            let admin_level = admin_level_from_name(&user.admin_level)
                .ok_or_else(|| ConversionError::UnknownAdminLevel(user.admin_level.clone()))?;
            Ok((
                user.name.clone(),
                domain::AccountUser {
                    name: user.name.clone(),
                    default_account: user.default_account.clone(),
                    admin_level,
                    accounts: user.accounts.iter().cloned().collect(),
                },
            ))
        })
        .collect::<Result<_, ConversionError>>()?;
    Ok(domain::Policy {
        accounts,
        users,
        enforce_associations: reply.enforce_associations,
        version: 0,
    })
}

pub fn policy_change_to_wire(change: &domain::PolicyChange) -> Option<wire::PolicyChange> {
    use domain::PolicyChange as C;
    use wire::policy_change::Kind;
    let mut message = wire::PolicyChange::default();
    match change {
        C::AddAccount {
            name,
            description,
            organization,
            parent,
        }
        | C::ModifyAccount {
            name,
            description,
            organization,
            parent,
        } => {
            message.kind = if matches!(change, C::AddAccount { .. }) {
                Kind::AddAccount
            } else {
                Kind::ModifyAccount
            } as i32;
            message.name = name.clone();
            message.description = description.clone();
            message.organization = organization.clone();
            message.parent = parent.clone();
        }
        C::DeleteAccount { name } => {
            message.kind = Kind::DeleteAccount as i32;
            message.name = name.clone();
        }
        C::AddUser {
            name,
            accounts,
            default_account,
            admin_level,
        } => {
            message.kind = Kind::AddUser as i32;
            message.name = name.clone();
            message.accounts = accounts.clone();
            message.default_account = default_account.clone();
            message.admin_level = admin_level.map(|l| l.slurm_name().to_string());
        }
        C::ModifyUser {
            name,
            default_account,
            admin_level,
        } => {
            message.kind = Kind::ModifyUser as i32;
            message.name = name.clone();
            message.default_account = default_account.clone();
            message.admin_level = admin_level.map(|l| l.slurm_name().to_string());
        }
        C::DeleteUser { name, account } => {
            message.kind = Kind::DeleteUser as i32;
            message.name = name.clone();
            message.account = account.clone();
        }
        // The leader sets enforcement from its configuration; no client does.
        C::SetEnforcement { .. } => return None,
    }
    Some(message)
}

pub fn policy_change_from_wire(
    change: wire::PolicyChange,
) -> Result<domain::PolicyChange, ConversionError> {
    use domain::PolicyChange as C;
    use wire::policy_change::Kind;
    let admin_level = change
        .admin_level
        .as_deref()
        .map(|name| {
            admin_level_from_name(name)
                .ok_or_else(|| ConversionError::UnknownAdminLevel(name.to_string()))
        })
        .transpose()?;
    Ok(match Kind::try_from(change.kind) {
        Ok(Kind::AddAccount) => C::AddAccount {
            name: change.name,
            description: change.description,
            organization: change.organization,
            parent: change.parent,
        },
        Ok(Kind::ModifyAccount) => C::ModifyAccount {
            name: change.name,
            description: change.description,
            organization: change.organization,
            parent: change.parent,
        },
        Ok(Kind::DeleteAccount) => C::DeleteAccount { name: change.name },
        Ok(Kind::AddUser) => C::AddUser {
            name: change.name,
            accounts: change.accounts,
            default_account: change.default_account,
            admin_level,
        },
        Ok(Kind::ModifyUser) => C::ModifyUser {
            name: change.name,
            default_account: change.default_account,
            admin_level,
        },
        Ok(Kind::DeleteUser) => C::DeleteUser {
            name: change.name,
            account: change.account,
        },
        _ => return Err(ConversionError::UnknownPolicyChange(change.kind)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_and_policy_round_trip() {
        let mut state = domain::ClusterState::default();
        state.apply(&domain::Command::SetPartitions {
            partitions: vec![domain::Partition {
                name: "debug".into(),
                nodes: String::new(),
                default: true,
                max_time_minutes: Some(30),
                state: domain::PartitionState::Up,
            }],
            now_ms: 0,
        });
        state.apply(&domain::Command::SubmitJob {
            request_id: domain::RequestId("r".into()),
            actor: domain::Actor::root(),
            spec: Box::new(domain::JobSpec {
                comment: Some("c".into()),
                ..domain::JobSpec::default()
            }),
            now_ms: 5,
        });
        let job = state.job(1).unwrap();
        let record = domain::job_record(job, Some(30));
        let step = domain::StepRecord {
            job_id: 1,
            step_id: domain::StepId::Numbered(2),
            name: "hostname".into(),
            state: domain::JobState::Failed,
            exit_status: domain::ExitStatus { code: 1, signal: 0 },
            start_time_ms: 7,
            end_time_ms: Some(9),
            nodes: vec!["n1".into()],
            ntasks: 2,
            alloc_cpus: 2,
        };
        let wire = accounting_job_to_wire(&record, std::slice::from_ref(&step));
        assert_eq!(
            accounting_job_from_wire(wire).unwrap(),
            (record, vec![step])
        );

        let mut policy = domain::Policy::default();
        policy.accounts.insert(
            "research".into(),
            domain::Account {
                name: "research".into(),
                description: "d".into(),
                organization: "o".into(),
                parent: Some("root".into()),
            },
        );
        let back = policy_from_wire(&policy_to_wire(&policy, "lab", "127.0.0.1:1")).unwrap();
        assert_eq!(back, policy);

        let change = domain::PolicyChange::AddUser {
            name: "alice".into(),
            accounts: vec!["research".into()],
            default_account: Some("research".into()),
            admin_level: Some(domain::AdminLevel::Operator),
        };
        let wire = policy_change_to_wire(&change).unwrap();
        assert_eq!(policy_change_from_wire(wire).unwrap(), change);
        assert!(policy_change_from_wire(wire::PolicyChange::default()).is_err());
    }
}
