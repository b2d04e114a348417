//! One scheduling pass: the queue walked in priority order, each job
//! started, reserved for, or told why it waits.

use std::collections::HashMap;

use corral_state::{
    ClusterState, Command, Job, JobId, JobReason, NodeShare, PlannedAllocation, Resolution,
};

use crate::capacity::{Demand, FailedDemands};
use crate::config::SchedulerConfig;
use crate::eligibility::{capacity_reason, partition_reason};
use crate::node_filter::NodeFilter;
use crate::priority::queue;
use crate::reservation::{reserve, Reservation};
use crate::view::ClusterView;

/// What the scheduler proposes: jobs to start where, and new reasons for
/// jobs that wait.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Plan {
    /// In priority order; `apply` starts them in this order.
    pub allocations: Vec<PlannedAllocation>,
    /// Only for pending, unheld jobs whose reason changes, so a pass over
    /// a quiet cluster proposes nothing.
    pub reasons: Vec<(JobId, JobReason)>,
    /// The job backfill protects, if any: not replicated, for display and
    /// tests (`squeue --start`).
    pub reservation: Option<PlannedReservation>,
}

/// When and where the highest-priority waiting job is expected to start.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlannedReservation {
    pub job_id: JobId,
    pub start_ms: u64,
    /// In name order.
    pub nodes: Vec<String>,
}

impl Plan {
    /// Nothing to start and no reason to change: nothing to propose.
    pub fn is_empty(&self) -> bool {
        self.allocations.is_empty() && self.reasons.is_empty()
    }

    /// The command that carries the plan through Raft.
    pub fn into_command(self, now_ms: u64) -> Command {
        Command::ApplyPlan {
            allocations: self.allocations,
            reasons: self.reasons,
            now_ms,
        }
    }
}

/// Plans what to start at `now_ms`. Deterministic: the same state, time
/// and configuration give the same plan.
pub fn schedule(state: &ClusterState, now_ms: u64, config: &SchedulerConfig) -> Plan {
    let jobs = queue(state, now_ms, config);
    if jobs.is_empty() {
        return Plan::default();
    }
    let mut pass = Pass::new(state, ClusterView::new(state, now_ms));
    for job in jobs {
        pass.take_turn(job);
    }
    pass.finish()
}

/// Demands known to fail in one partition, by how they were tried.
#[derive(Clone, Debug, Default)]
struct Failures {
    /// Not free now.
    now: FailedDemands,
    /// Not free now outside the reservation.
    beside_reservation: FailedDemands,
    /// Not even after all work with a time limit ends.
    ever: FailedDemands,
}

enum Turn {
    Start(Vec<NodeShare>),
    Wait(JobReason),
}

/// A job's placement question: its partition, demand and node lists.
struct Placing<'f> {
    partition: usize,
    demand: Demand,
    filter: Option<&'f NodeFilter>,
}

struct Pass<'a> {
    state: &'a ClusterState,
    /// Tasks started in this pass, by array, for `%N` throttles.
    array_started: HashMap<JobId, usize>,
    view: ClusterView<'a>,
    reservation: Option<Reservation>,
    failures: Vec<Failures>,
    capacity_reasons: HashMap<(usize, Demand), Option<JobReason>>,
    plan: Plan,
}

impl<'a> Pass<'a> {
    fn new(state: &'a ClusterState, view: ClusterView<'a>) -> Pass<'a> {
        Pass {
            state,
            array_started: HashMap::new(),
            failures: vec![Failures::default(); view.partitions.len()],
            view,
            reservation: None,
            capacity_reasons: HashMap::new(),
            plan: Plan::default(),
        }
    }

    fn take_turn(&mut self, job: &Job) {
        match self.turn(job) {
            Turn::Start(shares) => {
                if let Some(task) = job.array {
                    *self.array_started.entry(task.array_job_id).or_default() += 1;
                }
                self.plan.allocations.push(PlannedAllocation {
                    job_id: job.id,
                    shares,
                })
            }
            Turn::Wait(reason) if reason != job.reason => self.plan.reasons.push((job.id, reason)),
            Turn::Wait(_) => {}
        }
    }

    fn turn(&mut self, job: &Job) -> Turn {
        if let Some(reason) = self.held_back(job) {
            return Turn::Wait(reason);
        }
        let demand = Demand::of(&job.spec);
        let partition = self.view.partition_of(job);
        if let Some(reason) = partition_reason(&self.view, partition, job, &demand) {
            return Turn::Wait(reason);
        }
        let partition = partition.expect("a job without a partition has a reason");
        let filter = NodeFilter::of(&self.view, job);
        if let Some(reason) = self.capacity_reason(partition, &demand, filter.as_ref()) {
            return Turn::Wait(reason);
        }
        let end_ms = self
            .view
            .time_limit_ms(job)
            .map(|limit_ms| self.view.now_ms.saturating_add(limit_ms));
        let placing = Placing {
            partition,
            demand,
            filter: filter.as_ref(),
        };
        match &self.reservation {
            None => self.first_come(job, &placing, end_ms),
            Some(reservation) => {
                let beside = end_ms.is_none_or(|end_ms| end_ms > reservation.start_ms);
                match self.find(&placing, beside) {
                    Some(slots) => Turn::Start(self.start(slots, &demand, end_ms, beside)),
                    None => Turn::Wait(JobReason::Priority),
                }
            }
        }
    }

    /// Kept from starting by its dependencies, its `--begin` time or its
    /// array's throttle, before it may take anything (a reservation
    /// included), in Slurm's order.
    fn held_back(&self, job: &Job) -> Option<JobReason> {
        if let Some(dependencies) = &job.dependencies {
            match dependencies.resolution() {
                Resolution::Waiting => return Some(JobReason::Dependency),
                Resolution::NeverSatisfied => return Some(JobReason::DependencyNeverSatisfied),
                Resolution::Satisfied { eligible_ms } if eligible_ms > self.view.now_ms => {
                    return Some(JobReason::Dependency)
                }
                Resolution::Satisfied { .. } => {}
            }
        }
        if job
            .spec
            .begin_time_ms
            .is_some_and(|begin_ms| begin_ms > self.view.now_ms)
        {
            return Some(JobReason::BeginTime);
        }
        let (task, max) = (job.array?, job.spec.array.as_ref()?.max_running?);
        let started = self
            .array_started
            .get(&task.array_job_id)
            .copied()
            .unwrap_or(0);
        let active = self.state.array_active_tasks(task.array_job_id) + started;
        (active >= max as usize).then_some(JobReason::JobArrayTaskLimit)
    }

    /// Remembered per demand for jobs without node lists, whose verdict
    /// depends on nothing else.
    fn capacity_reason(
        &mut self,
        partition: usize,
        demand: &Demand,
        filter: Option<&NodeFilter>,
    ) -> Option<JobReason> {
        if filter.is_some() {
            return capacity_reason(&self.view, partition, demand, filter);
        }
        *self
            .capacity_reasons
            .entry((partition, *demand))
            .or_insert_with(|| capacity_reason(&self.view, partition, demand, None))
    }

    /// Before any reservation: start the job if it fits, else reserve for
    /// it (unless work without a time limit keeps it out for good).
    fn first_come(&mut self, job: &Job, placing: &Placing, end_ms: Option<u64>) -> Turn {
        if let Some(slots) = self.find(placing, false) {
            return Turn::Start(self.start(slots, &placing.demand, end_ms, false));
        }
        let (partition, demand) = (placing.partition, placing.demand);
        if !self.failures[partition].ever.rules_out(&demand) {
            self.reservation = reserve(&self.view, partition, &demand, placing.filter, job.id);
            if self.reservation.is_none() && placing.filter.is_none() {
                self.failures[partition].ever.remember(demand);
            }
        }
        Turn::Wait(JobReason::Resources)
    }

    /// Nodes for the job free now; `beside_reservation` for work that
    /// would still run when the reserved job starts. What fails without
    /// node lists is remembered: a demand that covers it fails too, with
    /// or without lists (they only narrow the choice).
    fn find(&mut self, placing: &Placing, beside_reservation: bool) -> Option<Vec<usize>> {
        let (partition, demand) = (placing.partition, &placing.demand);
        let failures = &mut self.failures[partition];
        if failures.now.rules_out(demand)
            || (beside_reservation && failures.beside_reservation.rules_out(demand))
        {
            return None;
        }
        let view = &self.view;
        let found = match (&self.reservation, beside_reservation) {
            (Some(reservation), true) => {
                view.place(partition, demand, placing.filter, &mut |slot| {
                    reservation.admits(slot, &view.slots[slot], demand)
                })
            }
            _ => view.place(partition, demand, placing.filter, &mut |_| true),
        };
        if found.is_none() && placing.filter.is_none() {
            if beside_reservation {
                failures.beside_reservation.remember(*demand);
            } else {
                failures.now.remember(*demand);
            }
        }
        found
    }

    /// Takes a share on each slot and describes it for the plan.
    fn start(
        &mut self,
        slots: Vec<usize>,
        demand: &Demand,
        end_ms: Option<u64>,
        beside_reservation: bool,
    ) -> Vec<NodeShare> {
        slots
            .into_iter()
            .map(|slot| {
                let share = demand.share_on(&self.view.slots[slot].total);
                let kept = match (&mut self.reservation, beside_reservation) {
                    (Some(reservation), true) => {
                        reservation.consume(slot, &share);
                        reservation.kept_gpus(slot)
                    }
                    _ => &[],
                };
                let gpus = self.view.pick_gpus(slot, share.gpus, kept);
                let node_share = NodeShare {
                    node: self.view.slots[slot].name.to_string(),
                    cpus: share.cpus,
                    memory_mb: share.memory_mb,
                    gpus: gpus.clone(),
                };
                self.view.take(slot, &share, gpus, end_ms);
                node_share
            })
            .collect()
    }

    fn finish(mut self) -> Plan {
        self.plan.reservation = self.reservation.map(|reservation| PlannedReservation {
            job_id: reservation.job_id,
            start_ms: reservation.start_ms,
            nodes: reservation
                .slots()
                .map(|slot| self.view.slots[slot].name.to_string())
                .collect(),
        });
        self.plan
    }
}
