//! Conversions between protobuf messages and `corral-state` domain types.

use corral_state as domain;

use crate::generated as wire;

/// A message from the wire that does not describe a valid domain value.
#[derive(Debug, thiserror::Error)]
pub enum ConversionError {
    #[error("unknown job state {0}")]
    UnknownJobState(i32),
    #[error("unknown job reason {0:?}")]
    UnknownReason(String),
    #[error("unknown partition state {0:?}")]
    UnknownPartitionState(String),
    #[error("job {0} has no spec")]
    MissingSpec(u32),
    #[error("exit status {0}:{1} is out of range")]
    ExitStatusOutOfRange(u32, u32),
    #[error("unknown node availability {0:?}")]
    UnknownNodeAvailability(String),
    #[error("unknown dependency {0:?}")]
    UnknownDependency(String),
    #[error("unknown step {0:?}")]
    UnknownStep(String),
    #[error("an accounting row without its job")]
    MissingRecord,
    #[error("unknown admin level {0:?}")]
    UnknownAdminLevel(String),
    #[error("unknown policy change {0}")]
    UnknownPolicyChange(i32),
    #[error("signal {0} is out of range")]
    SignalOutOfRange(u32),
    #[error("unknown open mode {0:?}")]
    UnknownOpenMode(String),
}

impl From<&domain::JobSpec> for wire::JobSpec {
    fn from(spec: &domain::JobSpec) -> Self {
        spec_to_wire(spec, true)
    }
}

/// The wire form of a spec; without its script and environment unless
/// `with_script` (the kilobytes a listing of thousands of jobs never shows,
/// not even copied).
fn spec_to_wire(spec: &domain::JobSpec, with_script: bool) -> wire::JobSpec {
    let (script, environment) = if with_script {
        (spec.script.clone(), environment_to_wire(&spec.environment))
    } else {
        Default::default()
    };
    wire::JobSpec {
        name: spec.name.clone(),
        partition: spec.partition.clone(),
        time_limit_minutes: spec.time_limit_minutes,
        nodes: spec.nodes,
        ntasks: spec.ntasks,
        cpus_per_task: spec.cpus_per_task,
        memory_per_node_mb: spec.memory_per_node_mb,
        stdout_pattern: spec.stdout_pattern.clone(),
        stderr_pattern: spec.stderr_pattern.clone(),
        stdin_path: spec.stdin_path.clone(),
        work_dir: spec.work_dir.clone(),
        script,
        arguments: spec.arguments.clone(),
        environment,
        hold: spec.hold,
        submit_host: spec.submit_host.clone(),
        gpus_per_node: spec.gpus_per_node,
        requeue: spec.requeue,
        array: spec.array.as_ref().map(|array| wire::ArraySpec {
            indices: array.indices.clone(),
            max_running: array.max_running,
        }),
        dependency: spec
            .dependency
            .as_ref()
            .map(|dependency| wire::Dependencies {
                any: dependency.any,
                conditions: dependency
                    .conditions
                    .iter()
                    .map(|c| condition_to_wire(c, domain::ConditionState::Unfulfilled))
                    .collect(),
            }),
        nice: spec.nice,
        comment: spec.comment.clone(),
        mail_type: spec.mail_type.clone(),
        mail_user: spec.mail_user.clone(),
        account: spec.account.clone(),
        qos: spec.qos.clone(),
        required_nodes: spec.required_nodes.clone(),
        excluded_nodes: spec.excluded_nodes.clone(),
        exclusive: spec.exclusive,
        memory_per_cpu_mb: spec.memory_per_cpu_mb,
        ntasks_per_node: spec.ntasks_per_node,
        begin_time_ms: spec.begin_time_ms,
        time_min_minutes: spec.time_min_minutes,
        signal_number: spec.signal.map(|signal| u32::from(signal.number)),
        signal_seconds_before_limit: spec
            .signal
            .map_or(0, |signal| u32::from(signal.seconds_before_limit)),
        signal_batch_only: spec.signal.is_some_and(|signal| signal.batch_only),
        signal_reservation: spec.signal.is_some_and(|signal| signal.reservation),
        open_mode: match spec.open_mode {
            None => String::new(),
            Some(domain::OpenMode::Append) => "append".to_string(),
            Some(domain::OpenMode::Truncate) => "truncate".to_string(),
        },
    }
}

fn condition_to_wire(
    condition: &domain::DependencyCondition,
    state: domain::ConditionState,
) -> wire::DependencyCondition {
    let (state, fulfilled_ms) = match state {
        domain::ConditionState::Unfulfilled => ("unfulfilled", 0),
        domain::ConditionState::Fulfilled { at_ms } => ("fulfilled", at_ms),
        domain::ConditionState::Failed => ("failed", 0),
    };
    wire::DependencyCondition {
        kind: condition.kind.slurm_name().to_string(),
        job_id: condition.job_id,
        task: condition.task,
        delay_minutes: condition.delay_minutes,
        state: state.to_string(),
        fulfilled_ms,
    }
}

fn condition_from_wire(
    condition: wire::DependencyCondition,
) -> Result<(domain::DependencyCondition, domain::ConditionState), ConversionError> {
    use domain::DependencyKind as K;
    let kind = [
        K::After,
        K::AfterAny,
        K::AfterOk,
        K::AfterNotOk,
        K::Singleton,
    ]
    .into_iter()
    .find(|kind| kind.slurm_name() == condition.kind)
    .ok_or_else(|| ConversionError::UnknownDependency(condition.kind.clone()))?;
    let state = match condition.state.as_str() {
        "unfulfilled" | "" => domain::ConditionState::Unfulfilled,
        "fulfilled" => domain::ConditionState::Fulfilled {
            at_ms: condition.fulfilled_ms,
        },
        "failed" => domain::ConditionState::Failed,
        other => return Err(ConversionError::UnknownDependency(other.to_string())),
    };
    Ok((
        domain::DependencyCondition {
            kind,
            job_id: condition.job_id,
            task: condition.task,
            delay_minutes: condition.delay_minutes,
        },
        state,
    ))
}

fn dependencies_from_wire(
    dependencies: wire::Dependencies,
) -> Result<domain::Dependencies, ConversionError> {
    Ok(domain::Dependencies {
        any: dependencies.any,
        conditions: dependencies
            .conditions
            .into_iter()
            .map(condition_from_wire)
            .collect::<Result<_, _>>()?,
    })
}

impl TryFrom<wire::JobSpec> for domain::JobSpec {
    type Error = ConversionError;

    fn try_from(spec: wire::JobSpec) -> Result<Self, ConversionError> {
        Ok(domain::JobSpec {
            name: spec.name,
            partition: spec.partition,
            time_limit_minutes: spec.time_limit_minutes,
            nodes: spec.nodes,
            ntasks: spec.ntasks,
            cpus_per_task: spec.cpus_per_task,
            memory_per_node_mb: spec.memory_per_node_mb,
            stdout_pattern: spec.stdout_pattern,
            stderr_pattern: spec.stderr_pattern,
            stdin_path: spec.stdin_path,
            work_dir: spec.work_dir,
            script: spec.script,
            arguments: spec.arguments,
            environment: spec
                .environment
                .into_iter()
                .map(|variable| (variable.name, variable.value))
                .collect(),
            hold: spec.hold,
            submit_host: spec.submit_host,
            gpus_per_node: spec.gpus_per_node,
            requeue: spec.requeue,
            array: spec.array.map(|array| domain::ArraySpec {
                indices: array.indices,
                max_running: array.max_running,
            }),
            dependency: spec
                .dependency
                .map(dependencies_from_wire)
                .transpose()?
                .map(|dependencies| domain::DependencySpec {
                    any: dependencies.any,
                    conditions: dependencies
                        .conditions
                        .into_iter()
                        .map(|(c, _)| c)
                        .collect(),
                }),
            nice: spec.nice,
            comment: spec.comment,
            mail_type: spec.mail_type,
            mail_user: spec.mail_user,
            account: spec.account,
            qos: spec.qos,
            required_nodes: spec.required_nodes,
            excluded_nodes: spec.excluded_nodes,
            exclusive: spec.exclusive,
            memory_per_cpu_mb: spec.memory_per_cpu_mb,
            ntasks_per_node: spec.ntasks_per_node,
            begin_time_ms: spec.begin_time_ms,
            time_min_minutes: spec.time_min_minutes,
            signal: spec
                .signal_number
                .map(|number| {
                    signal_from_wire(
                        number,
                        spec.signal_seconds_before_limit,
                        spec.signal_batch_only,
                        spec.signal_reservation,
                    )
                })
                .transpose()?,
            open_mode: match spec.open_mode.as_str() {
                "" => None,
                "append" => Some(domain::OpenMode::Append),
                "truncate" => Some(domain::OpenMode::Truncate),
                other => return Err(ConversionError::UnknownOpenMode(other.to_string())),
            },
        })
    }
}

/// `--signal` from its wire fields; Slurm's range is 1 to 65535 for the
/// signal and 0 to 65535 for the time.
pub fn signal_from_wire(
    number: u32,
    seconds_before_limit: u32,
    batch_only: bool,
    reservation: bool,
) -> Result<domain::JobSignal, ConversionError> {
    let number = u16::try_from(number)
        .ok()
        .filter(|number| *number >= 1)
        .ok_or(ConversionError::SignalOutOfRange(number))?;
    let seconds_before_limit = u16::try_from(seconds_before_limit)
        .map_err(|_| ConversionError::SignalOutOfRange(seconds_before_limit))?;
    Ok(domain::JobSignal {
        number,
        seconds_before_limit,
        batch_only,
        reservation,
    })
}

impl From<domain::JobState> for wire::JobState {
    fn from(state: domain::JobState) -> Self {
        use domain::JobState as D;
        match state {
            D::Pending => wire::JobState::Pending,
            D::Running => wire::JobState::Running,
            D::Completing => wire::JobState::Completing,
            D::Completed => wire::JobState::Completed,
            D::Failed => wire::JobState::Failed,
            D::Cancelled => wire::JobState::Cancelled,
            D::Timeout => wire::JobState::Timeout,
            D::NodeFail => wire::JobState::NodeFail,
        }
    }
}

/// A job state from its wire number.
pub fn job_state_from_wire(value: i32) -> Result<domain::JobState, ConversionError> {
    {
        use domain::JobState as D;
        match wire::JobState::try_from(value) {
            Ok(wire::JobState::Pending) => Ok(D::Pending),
            Ok(wire::JobState::Running) => Ok(D::Running),
            Ok(wire::JobState::Completing) => Ok(D::Completing),
            Ok(wire::JobState::Completed) => Ok(D::Completed),
            Ok(wire::JobState::Failed) => Ok(D::Failed),
            Ok(wire::JobState::Cancelled) => Ok(D::Cancelled),
            Ok(wire::JobState::Timeout) => Ok(D::Timeout),
            Ok(wire::JobState::NodeFail) => Ok(D::NodeFail),
            Ok(wire::JobState::Unspecified) | Err(_) => {
                Err(ConversionError::UnknownJobState(value))
            }
        }
    }
}

/// A job for the wire; its script and environment only when asked for,
/// since `squeue` of many jobs needs neither.
pub fn job_to_wire(job: &domain::Job, with_script: bool) -> wire::Job {
    let spec = spec_to_wire(&job.spec, with_script);
    wire::Job {
        id: job.id,
        request_id: job.request_id.0.clone(),
        spec: Some(Box::new(spec)),
        partition: job.partition.clone(),
        user: job.user.clone(),
        uid: job.uid,
        gid: job.gid,
        state: wire::JobState::from(job.state) as i32,
        reason: job.reason.slurm_name().to_string(),
        submit_time_ms: job.submit_time_ms,
        start_time_ms: job.start_time_ms,
        end_time_ms: job.end_time_ms,
        exit_code: u32::from(job.exit_status.code),
        exit_signal: u32::from(job.exit_status.signal),
        cancelled_by_uid: job.cancelled_by_uid,
        allocation: job.allocation.as_ref().map(allocation_to_wire),
        requeue_count: job.requeue_count,
        array_job_id: job.array.map(|task| task.array_job_id),
        array_task_id: job.array.map(|task| task.task_id),
        dependencies: job
            .dependencies
            .as_ref()
            .map(|dependencies| wire::Dependencies {
                any: dependencies.any,
                conditions: dependencies
                    .conditions
                    .iter()
                    .map(|(condition, state)| condition_to_wire(condition, *state))
                    .collect(),
            }),
        steps: job.steps.iter().map(step_to_wire).collect(),
        account: job.account.clone(),
    }
}

pub fn step_to_wire(step: &domain::Step) -> wire::Step {
    wire::Step {
        id: step.id,
        name: step.spec.name.clone(),
        state: wire::JobState::from(step.state) as i32,
        nodes: step_nodes_to_wire(&step.nodes),
        start_time_ms: step.start_time_ms,
        end_time_ms: step.end_time_ms,
        exit_code: u32::from(step.exit_status.code),
        exit_signal: u32::from(step.exit_status.signal),
        cpus_per_task: step.spec.cpus_per_task,
        argv: step.spec.argv.clone(),
        time_limit_minutes: step.spec.time_limit_minutes,
        request_id: step.request_id.0.clone(),
    }
}

pub fn step_nodes_to_wire(nodes: &[domain::StepNode]) -> Vec<wire::StepNode> {
    nodes
        .iter()
        .map(|part| {
            let end = part.end.map(|end| end.exit_status).unwrap_or_default();
            wire::StepNode {
                node: part.node.clone(),
                first_task: part.first_task,
                tasks: part.tasks,
                ended: part.end.is_some(),
                exit_code: u32::from(end.code),
                exit_signal: u32::from(end.signal),
            }
        })
        .collect()
}

fn exit_status_from_wire(code: u32, signal: u32) -> Result<domain::ExitStatus, ConversionError> {
    match (u8::try_from(code), u8::try_from(signal)) {
        (Ok(code), Ok(signal)) => Ok(domain::ExitStatus { code, signal }),
        _ => Err(ConversionError::ExitStatusOutOfRange(code, signal)),
    }
}

/// A step as read back from the wire (what clients display). Its node
/// ends carry their exit, with the cause `Exited`: the wire does not say.
pub fn step_from_wire(
    step: wire::Step,
    allocation_id: domain::AllocationId,
) -> Result<domain::Step, ConversionError> {
    let nodes = step
        .nodes
        .into_iter()
        .map(|part| {
            let end = if part.ended {
                Some(domain::StepNodeEnd {
                    exit_status: exit_status_from_wire(part.exit_code, part.exit_signal)?,
                    cause: domain::FinishCause::Exited,
                })
            } else {
                None
            };
            Ok(domain::StepNode {
                node: part.node,
                first_task: part.first_task,
                tasks: part.tasks,
                end,
            })
        })
        .collect::<Result<Vec<_>, ConversionError>>()?;
    let ntasks = nodes.iter().map(|part| part.tasks).sum();
    Ok(domain::Step {
        id: step.id,
        request_id: domain::RequestId(step.request_id),
        allocation_id,
        spec: std::sync::Arc::new(domain::StepSpec {
            name: step.name,
            argv: step.argv,
            ntasks,
            cpus_per_task: step.cpus_per_task,
            time_limit_minutes: step.time_limit_minutes,
            ..domain::StepSpec::default()
        }),
        state: job_state_from_wire(step.state)?,
        nodes,
        start_time_ms: step.start_time_ms,
        end_time_ms: step.end_time_ms,
        exit_status: exit_status_from_wire(step.exit_code, step.exit_signal)?,
    })
}

pub fn environment_to_wire(environment: &[(String, String)]) -> Vec<wire::EnvironmentVariable> {
    environment
        .iter()
        .map(|(name, value)| wire::EnvironmentVariable {
            name: name.clone(),
            value: value.clone(),
        })
        .collect()
}

impl From<&domain::StepSpec> for wire::StepSpec {
    fn from(spec: &domain::StepSpec) -> Self {
        wire::StepSpec {
            name: spec.name.clone(),
            argv: spec.argv.clone(),
            environment: environment_to_wire(&spec.environment),
            work_dir: spec.work_dir.clone(),
            ntasks: spec.ntasks,
            nodes: spec.nodes,
            cpus_per_task: spec.cpus_per_task,
            node_list: spec.node_list.clone(),
            stdout_pattern: spec.stdout_pattern.clone(),
            stderr_pattern: spec.stderr_pattern.clone(),
            stdin_pattern: spec.stdin_pattern.clone(),
            label: spec.label,
            unbuffered: spec.unbuffered,
            time_limit_minutes: spec.time_limit_minutes,
            io_address: spec.io_address.clone(),
            io_key: spec.io_key.clone(),
        }
    }
}

impl From<wire::StepSpec> for domain::StepSpec {
    fn from(spec: wire::StepSpec) -> Self {
        domain::StepSpec {
            name: spec.name,
            argv: spec.argv,
            environment: spec
                .environment
                .into_iter()
                .map(|variable| (variable.name, variable.value))
                .collect(),
            work_dir: spec.work_dir,
            ntasks: spec.ntasks,
            nodes: spec.nodes,
            cpus_per_task: spec.cpus_per_task,
            node_list: spec.node_list,
            stdout_pattern: spec.stdout_pattern,
            stderr_pattern: spec.stderr_pattern,
            stdin_pattern: spec.stdin_pattern,
            label: spec.label,
            unbuffered: spec.unbuffered,
            time_limit_minutes: spec.time_limit_minutes,
            io_address: spec.io_address,
            io_key: spec.io_key,
        }
    }
}

pub fn allocation_to_wire(allocation: &domain::Allocation) -> wire::Allocation {
    wire::Allocation {
        id: allocation.id.0,
        shares: allocation
            .shares
            .iter()
            .map(|share| wire::NodeShare {
                node: share.node.clone(),
                cpus: share.cpus,
                memory_mb: share.memory_mb,
                gpus: share.gpus.clone(),
            })
            .collect(),
    }
}

pub fn allocation_from_wire(allocation: wire::Allocation) -> domain::Allocation {
    domain::Allocation {
        id: domain::AllocationId(allocation.id),
        shares: allocation
            .shares
            .into_iter()
            .map(|share| domain::NodeShare {
                node: share.node,
                cpus: share.cpus,
                memory_mb: share.memory_mb,
                gpus: share.gpus,
            })
            .collect(),
    }
}

pub fn job_from_wire(job: wire::Job) -> Result<domain::Job, ConversionError> {
    let spec = job.spec.ok_or(ConversionError::MissingSpec(job.id))?;
    let reason = domain::JobReason::from_slurm_name(&job.reason)
        .ok_or_else(|| ConversionError::UnknownReason(job.reason.clone()))?;
    let exit_status = exit_status_from_wire(job.exit_code, job.exit_signal)?;
    let allocation = job.allocation.map(allocation_from_wire);
    let allocation_id = allocation
        .as_ref()
        .map_or(domain::AllocationId(0), |a| a.id);
    let steps = job
        .steps
        .into_iter()
        .map(|step| step_from_wire(step, allocation_id))
        .collect::<Result<Vec<_>, ConversionError>>()?;
    Ok(domain::Job {
        id: job.id,
        request_id: domain::RequestId(job.request_id),
        spec: std::sync::Arc::new((*spec).try_into()?),
        partition: job.partition,
        user: job.user,
        uid: job.uid,
        gid: job.gid,
        state: job_state_from_wire(job.state)?,
        reason,
        submit_time_ms: job.submit_time_ms,
        start_time_ms: job.start_time_ms,
        end_time_ms: job.end_time_ms,
        exit_status,
        cancelled_by_uid: job.cancelled_by_uid,
        allocation,
        requeue_count: job.requeue_count,
        array: job
            .array_job_id
            .zip(job.array_task_id)
            .map(|(array_job_id, task_id)| domain::ArrayTask {
                array_job_id,
                task_id,
            }),
        dependencies: job.dependencies.map(dependencies_from_wire).transpose()?,
        next_step_id: steps.last().map_or(0, |step| step.id + 1),
        steps,
        account: job.account,
    })
}

impl From<&domain::Rejection> for wire::Rejection {
    fn from(rejection: &domain::Rejection) -> Self {
        use domain::Rejection as R;
        use wire::rejection::Kind;
        let (kind, job_id, name) = match rejection {
            R::InvalidPartition(name) => (Kind::InvalidPartition, 0, name.clone()),
            R::NoDefaultPartition => (Kind::NoDefaultPartition, 0, String::new()),
            R::InvalidJobId(id) => (Kind::InvalidJobId, *id, String::new()),
            R::AlreadyDone(id) => (Kind::AlreadyDone, *id, String::new()),
            R::JobNotPending(id) => (Kind::JobNotPending, *id, String::new()),
            R::AccessDenied => (Kind::AccessDenied, 0, String::new()),
            R::InvalidUser(reason) => (Kind::InvalidUser, 0, reason.clone()),
            R::StaleAllocation(id) => (Kind::StaleAllocation, *id, String::new()),
            R::InvalidNode(name) => (Kind::InvalidNode, 0, name.clone()),
            R::InvalidArray => (Kind::InvalidArray, 0, String::new()),
            R::JobPending(id) => (Kind::JobPending, *id, String::new()),
            R::TooManyProcessors => (Kind::TooManyProcessors, 0, String::new()),
            R::NodeConfigUnavailable => (Kind::NodeConfigUnavailable, 0, String::new()),
            R::StepLimit => (Kind::StepLimit, 0, String::new()),
            R::StaleAccountingAck(_) => (Kind::StaleAccountingAck, 0, String::new()),
            R::InvalidAccount => (Kind::InvalidAccount, 0, String::new()),
            R::UnknownAccount(name) => (Kind::UnknownAccount, 0, name.clone()),
            R::InvalidAccountName(name) => (Kind::InvalidAccountName, 0, name.clone()),
            R::AccountInUse(name) => (Kind::AccountInUse, 0, name.clone()),
            R::NoAccountGiven => (Kind::NoAccountGiven, 0, String::new()),
            R::JobFinished(id) => (Kind::JobFinished, *id, String::new()),
            R::TransitionState(id) => (Kind::TransitionState, *id, String::new()),
        };
        wire::Rejection {
            kind: kind as i32,
            message: rejection.to_string(),
            job_id,
            name,
        }
    }
}

impl From<&domain::Partition> for wire::Partition {
    fn from(partition: &domain::Partition) -> Self {
        wire::Partition {
            name: partition.name.clone(),
            nodes: partition.nodes.clone(),
            default: partition.default,
            max_time_minutes: partition.max_time_minutes,
            state: partition.state.slurm_name().to_string(),
        }
    }
}

impl TryFrom<wire::Partition> for domain::Partition {
    type Error = ConversionError;

    fn try_from(partition: wire::Partition) -> Result<Self, Self::Error> {
        let state = domain::PartitionState::from_slurm_name(&partition.state)
            .ok_or_else(|| ConversionError::UnknownPartitionState(partition.state.clone()))?;
        Ok(domain::Partition {
            name: partition.name,
            nodes: partition.nodes,
            default: partition.default,
            max_time_minutes: partition.max_time_minutes,
            state,
        })
    }
}

fn availability_name(availability: domain::NodeAvailability) -> &'static str {
    match availability {
        domain::NodeAvailability::Unknown => "UNKNOWN",
        domain::NodeAvailability::Up => "UP",
        domain::NodeAvailability::Down => "DOWN",
    }
}

impl From<&domain::Node> for wire::Node {
    fn from(node: &domain::Node) -> Self {
        wire::Node {
            name: node.name.clone(),
            cpus: node.resources.cpus,
            memory_mb: node.resources.memory_mb,
            gpus: node
                .resources
                .gpus
                .iter()
                .map(|gpu| wire::Gpu {
                    index: gpu.index,
                    model: gpu.model.clone(),
                })
                .collect(),
            declared: node.declared,
            availability: availability_name(node.availability).to_string(),
            drain: node.drain,
            reason: node.reason.as_ref().map(|reason| wire::NodeReason {
                text: reason.text.clone(),
                user: reason.user.clone(),
                uid: reason.uid,
                time_ms: reason.time_ms,
            }),
            cpus_allocated: node.usage.cpus,
            memory_allocated_mb: node.usage.memory_mb,
            gpus_allocated: node.usage.gpus.iter().copied().collect(),
            registered_ms: node.registered_ms,
        }
    }
}

pub fn node_from_wire(node: wire::Node) -> Result<domain::Node, ConversionError> {
    let availability = match node.availability.as_str() {
        "UNKNOWN" => domain::NodeAvailability::Unknown,
        "UP" => domain::NodeAvailability::Up,
        "DOWN" => domain::NodeAvailability::Down,
        other => return Err(ConversionError::UnknownNodeAvailability(other.to_string())),
    };
    Ok(domain::Node {
        name: node.name,
        resources: domain::NodeResources {
            cpus: node.cpus,
            memory_mb: node.memory_mb,
            gpus: node
                .gpus
                .into_iter()
                .map(|gpu| domain::Gpu {
                    index: gpu.index,
                    model: gpu.model,
                })
                .collect(),
        },
        declared: node.declared,
        availability,
        drain: node.drain,
        reason: node.reason.map(|reason| domain::NodeReason {
            text: reason.text,
            user: reason.user,
            uid: reason.uid,
            time_ms: reason.time_ms,
        }),
        usage: domain::NodeUsage {
            cpus: node.cpus_allocated,
            memory_mb: node.memory_allocated_mb,
            gpus: node.gpus_allocated.into_iter().collect(),
        },
        registered_ms: node.registered_ms,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample_job() -> domain::Job {
        domain::Job {
            id: 42,
            request_id: domain::RequestId("abc".into()),
            spec: std::sync::Arc::new(domain::JobSpec {
                name: "demo".into(),
                partition: Some("debug".into()),
                time_limit_minutes: Some(30),
                memory_per_node_mb: Some(1024),
                environment: vec![("HOME".into(), "/root".into())],
                arguments: vec!["a".into()],
                hold: true,
                ..domain::JobSpec::default()
            }),
            partition: "debug".into(),
            user: "alice".into(),
            uid: 1000,
            gid: 100,
            state: domain::JobState::Cancelled,
            reason: domain::JobReason::None,
            submit_time_ms: 1,
            start_time_ms: None,
            end_time_ms: Some(5),
            exit_status: domain::ExitStatus {
                code: 0,
                signal: 15,
            },
            cancelled_by_uid: Some(0),
            allocation: None,
            requeue_count: 0,
            array: None,
            dependencies: None,
            steps: Vec::new(),
            next_step_id: 0,
            account: None,
        }
    }

    #[test]
    fn job_round_trips_with_script() {
        let job = sample_job();
        assert_eq!(job_from_wire(job_to_wire(&job, true)).unwrap(), job);
    }

    #[test]
    fn job_without_script_drops_only_script_and_environment() {
        let job = sample_job();
        let back = job_from_wire(job_to_wire(&job, false)).unwrap();
        assert!(back.spec.script.is_empty());
        assert!(back.spec.environment.is_empty());
        assert_eq!(back.spec.arguments, job.spec.arguments);
        assert_eq!(back.state, job.state);
    }

    #[test]
    fn steps_round_trip_with_what_clients_show() {
        let mut job = sample_job();
        job.state = domain::JobState::Running;
        job.allocation = Some(domain::Allocation {
            id: domain::AllocationId(7),
            shares: vec![],
        });
        job.steps = vec![domain::Step {
            id: 0,
            request_id: domain::RequestId("s".into()),
            allocation_id: domain::AllocationId(7),
            spec: std::sync::Arc::new(domain::StepSpec {
                name: "hostname".into(),
                argv: vec!["hostname".into(), "-s".into()],
                ntasks: 3,
                cpus_per_task: 2,
                time_limit_minutes: Some(5),
                ..domain::StepSpec::default()
            }),
            state: domain::JobState::Running,
            nodes: vec![
                domain::StepNode {
                    node: "n1".into(),
                    first_task: 0,
                    tasks: 2,
                    end: Some(domain::StepNodeEnd {
                        exit_status: domain::ExitStatus { code: 3, signal: 0 },
                        cause: domain::FinishCause::Exited,
                    }),
                },
                domain::StepNode {
                    node: "n2".into(),
                    first_task: 2,
                    tasks: 1,
                    end: None,
                },
            ],
            start_time_ms: 10,
            end_time_ms: None,
            exit_status: domain::ExitStatus::default(),
        }];
        job.next_step_id = 1;
        assert_eq!(job_from_wire(job_to_wire(&job, true)).unwrap(), job);
    }

    #[test]
    fn placement_and_launch_options_round_trip() {
        let spec = domain::JobSpec {
            required_nodes: vec!["n1".into(), "n3".into()],
            excluded_nodes: vec!["n2".into()],
            exclusive: true,
            memory_per_cpu_mb: Some(512),
            ntasks_per_node: Some(2),
            begin_time_ms: Some(1_700_000_000_000),
            time_min_minutes: Some(domain::TIME_MIN_UNLIMITED),
            signal: Some(domain::JobSignal {
                number: 10,
                seconds_before_limit: 65_535,
                batch_only: true,
                reservation: true,
            }),
            open_mode: Some(domain::OpenMode::Append),
            ..domain::JobSpec::default()
        };
        assert_eq!(
            domain::JobSpec::try_from(wire::JobSpec::from(&spec)).unwrap(),
            spec
        );
        let plain = domain::JobSpec::default();
        assert_eq!(
            domain::JobSpec::try_from(wire::JobSpec::from(&plain)).unwrap(),
            plain
        );
    }

    #[test]
    fn malformed_signal_and_open_mode_are_errors() {
        let mut wire_spec = wire::JobSpec::from(&domain::JobSpec::default());
        wire_spec.signal_number = Some(70_000);
        assert!(matches!(
            domain::JobSpec::try_from(wire_spec.clone()),
            Err(ConversionError::SignalOutOfRange(70_000))
        ));
        wire_spec.signal_number = Some(0);
        assert!(domain::JobSpec::try_from(wire_spec.clone()).is_err());
        wire_spec.signal_number = None;
        wire_spec.open_mode = "sideways".into();
        assert!(matches!(
            domain::JobSpec::try_from(wire_spec),
            Err(ConversionError::UnknownOpenMode(_))
        ));
    }

    #[test]
    fn unknown_state_is_an_error() {
        let mut wire_job = job_to_wire(&sample_job(), false);
        wire_job.state = 99;
        assert!(matches!(
            job_from_wire(wire_job),
            Err(ConversionError::UnknownJobState(99))
        ));
    }
}
