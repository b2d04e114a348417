//! A cluster built the way a real one is, through `ClusterState::apply`,
//! with `invariants()` checked after every command; shared by the scenario
//! runner and the property tests.

use corral_sched::Plan;
use corral_state::{
    Actor, ClusterState, Command, ExitStatus, FinishCause, Gpu, JobId, JobSpec, NodeChange,
    NodeDefinition, NodeResources, NodeShare, Outcome, Partition, PlannedAllocation, RequestId,
};

pub struct TestCluster {
    pub state: ClusterState,
    /// Every node declared so far: `SetNodes` replaces the whole set.
    nodes: Vec<NodeDefinition>,
    /// Every partition so far: `SetPartitions` replaces the whole set.
    partitions: Vec<Partition>,
}

pub fn resources(cpus: u32, memory_mb: u64, gpus: u32) -> NodeResources {
    NodeResources {
        cpus,
        memory_mb,
        gpus: (0..gpus)
            .map(|index| Gpu {
                index,
                model: String::new(),
            })
            .collect(),
    }
}

impl TestCluster {
    pub fn new() -> TestCluster {
        TestCluster {
            state: ClusterState::default(),
            nodes: Vec::new(),
            partitions: Vec::new(),
        }
    }

    /// Applies a command and checks the invariants after it.
    pub fn apply(&mut self, command: Command) -> Result<Outcome, String> {
        let outcome = self.state.apply(&command);
        self.state
            .invariants()
            .map_err(|violation| format!("invariant broken: {violation} after {command:?}"))?;
        Ok(outcome)
    }

    fn expect_done(&mut self, command: Command) -> Result<(), String> {
        match self.apply(command)? {
            Outcome::Done => Ok(()),
            other => Err(format!("expected Done, got {other:?}")),
        }
    }

    /// Declares nodes and, unless `registered` is false, registers their agents.
    pub fn add_nodes(
        &mut self,
        names: &[String],
        resources: &NodeResources,
        registered: bool,
        now_ms: u64,
    ) -> Result<(), String> {
        for name in names {
            self.nodes.retain(|node| &node.name != name);
            self.nodes.push(NodeDefinition {
                name: name.clone(),
                resources: resources.clone(),
            });
        }
        self.expect_done(Command::SetNodes {
            nodes: self.nodes.clone(),
            now_ms,
        })?;
        if !registered {
            return Ok(());
        }
        for name in names {
            self.expect_done(Command::RegisterNode {
                name: name.clone(),
                resources: resources.clone(),
                now_ms,
            })?;
        }
        Ok(())
    }

    pub fn add_partition(&mut self, partition: Partition, now_ms: u64) -> Result<(), String> {
        self.partitions.retain(|p| p.name != partition.name);
        self.partitions.push(partition);
        self.expect_done(Command::SetPartitions {
            partitions: self.partitions.clone(),
            now_ms,
        })
    }

    pub fn submit(&mut self, spec: JobSpec, now_ms: u64) -> Result<JobId, String> {
        let request_id = RequestId(format!("request-{}", self.state.next_job_id()));
        match self.apply(Command::SubmitJob {
            request_id,
            actor: Actor::root(),
            spec: Box::new(spec),
            now_ms,
        })? {
            Outcome::Submitted { job_id, .. } => Ok(job_id),
            other => Err(format!("submission refused: {other:?}")),
        }
    }

    /// Starts a pending job on these nodes, with the share the scheduler
    /// would give it and the lowest free GPUs.
    pub fn start(&mut self, job_id: JobId, nodes: &[String], now_ms: u64) -> Result<(), String> {
        let spec = self
            .state
            .job(job_id)
            .ok_or(format!("no job {job_id}"))?
            .spec
            .clone();
        let mut shares = Vec::new();
        for name in nodes {
            let node = self.state.node(name).ok_or(format!("no node {name}"))?;
            // An exclusive job holds every CPU (with --mem-per-cpu, memory
            // for each).
            let cpus = if spec.exclusive {
                node.resources.cpus
            } else {
                spec.cpus_per_node()
            };
            let memory_mb = match spec.memory_per_cpu_mb {
                Some(per_cpu) => per_cpu * u64::from(cpus),
                None => spec.memory_per_node(),
            };
            shares.push(NodeShare {
                node: name.clone(),
                cpus,
                memory_mb,
                gpus: node
                    .free_gpus()
                    .into_iter()
                    .take(spec.gpus_per_node as usize)
                    .collect(),
            });
        }
        let plan = Plan {
            allocations: vec![PlannedAllocation { job_id, shares }],
            ..Plan::default()
        };
        self.apply_plan(&plan, now_ms)
    }

    /// Applies a plan through `ApplyPlan`: every allocation must be accepted.
    pub fn apply_plan(&mut self, plan: &Plan, now_ms: u64) -> Result<(), String> {
        match self.apply(plan.clone().into_command(now_ms))? {
            Outcome::Planned { started, refused } if refused.is_empty() => {
                if started.len() == plan.allocations.len() {
                    Ok(())
                } else {
                    Err(format!("started {started:?} of {:?}", plan.allocations))
                }
            }
            other => Err(format!("plan not fully accepted: {other:?}")),
        }
    }

    /// The job's script exited with code 0.
    pub fn finish(&mut self, job_id: JobId, now_ms: u64) -> Result<(), String> {
        let allocation_id = self
            .state
            .job(job_id)
            .and_then(|job| job.allocation.as_ref())
            .ok_or(format!("job {job_id} holds no allocation"))?
            .id;
        self.expect_done(Command::JobFinished {
            job_id,
            allocation_id,
            exit_status: ExitStatus::default(),
            cause: FinishCause::Exited,
            now_ms,
        })
    }

    /// `scancel`: a running job moves to COMPLETING and keeps its resources.
    pub fn cancel(&mut self, job_id: JobId, now_ms: u64) -> Result<(), String> {
        self.expect_done(Command::CancelJob {
            job_id,
            actor: Actor::root(),
            now_ms,
        })
    }

    pub fn change_node(
        &mut self,
        name: &str,
        change: NodeChange,
        now_ms: u64,
    ) -> Result<(), String> {
        self.expect_done(Command::UpdateNode {
            name: name.to_string(),
            change,
            actor: Actor::root(),
            now_ms,
        })
    }
}
