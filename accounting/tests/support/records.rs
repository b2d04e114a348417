//! Accounting records for the tests: varied, with every optional field
//! both present and absent, times in whole seconds (the schema's unit).

use corral_state::{
    AccountingRecord, ExitStatus, JobRecord, JobState, OutboxEntry, StepId, StepRecord,
};

/// 2023-11-14T22:13:20Z, in milliseconds.
pub const EPOCH_MS: u64 = 1_700_000_000_000;

/// A job record whose fields all depend on `job_id` and `variant`, so that
/// two variants of one job differ in every column that can differ.
pub fn job(job_id: u32, variant: u32) -> JobRecord {
    let odd = (job_id + variant) % 2 == 1;
    let states = [
        JobState::Pending,
        JobState::Running,
        JobState::Completing,
        JobState::Completed,
        JobState::Failed,
        JobState::Cancelled,
        JobState::Timeout,
        JobState::NodeFail,
    ];
    let state = states[((job_id + variant) % 8) as usize];
    let started = !matches!(state, JobState::Pending);
    let submit_time_ms = EPOCH_MS + u64::from(job_id) * 60_000;
    JobRecord {
        job_id,
        array_job_id: odd.then_some(job_id - job_id % 10),
        array_task_id: odd.then_some(job_id % 10),
        name: format!("job-{job_id}-v{variant} \"ünïcödé\" 'quoted' \\ %_"),
        user: ["alice", "bob", "carol"][(job_id % 3) as usize].to_string(),
        uid: 1000 + job_id % 3,
        gid: 100 + variant,
        account: odd.then(|| format!("account{variant}")),
        partition: ["batch", "gpu"][(job_id % 2) as usize].to_string(),
        qos: (!odd).then(|| "normal".to_string()),
        state,
        cancelled_by_uid: matches!(state, JobState::Cancelled).then_some(variant),
        exit_status: ExitStatus {
            code: (variant % 256) as u8,
            signal: (job_id % 16) as u8,
        },
        derived_exit_status: ExitStatus {
            code: ((variant + 1) % 256) as u8,
            signal: 0,
        },
        submit_time_ms,
        eligible_time_ms: odd.then_some(submit_time_ms + 1_000),
        start_time_ms: started.then_some(submit_time_ms + 2_000 + u64::from(variant) * 1_000),
        end_time_ms: state
            .is_terminal()
            .then_some(submit_time_ms + 3_600_000 + u64::from(variant) * 1_000),
        time_limit_minutes: odd.then_some(60 + variant),
        nodes: if started {
            (1..=(1 + job_id % 4))
                .map(|n| format!("node{:03}", n + variant))
                .chain(odd.then(|| "login".to_string()))
                .collect()
        } else {
            Vec::new()
        },
        alloc_cpus: if started { 4 * (1 + job_id % 4) } else { 0 },
        alloc_gpus: if started { job_id % 3 } else { 0 },
        alloc_memory_mb: if started {
            1_024 * u64::from(1 + job_id % 4)
        } else {
            0
        },
        req_nodes: 1 + job_id % 4,
        req_cpus: 4 * (1 + job_id % 4),
        req_tasks: 1 + variant,
        req_memory_per_node_mb: odd.then_some(1_024),
        req_gpus_per_node: job_id % 3,
        work_dir: format!("/home/user{}/run{variant}", job_id % 3),
        reason: ["None", "Resources", "NonZeroExitCode"][(variant % 3) as usize].to_string(),
        requeue_count: variant,
        comment: odd.then(|| format!("comment of {job_id}, variant {variant}")),
    }
}

pub fn step(job_id: u32, step_id: StepId, variant: u32) -> StepRecord {
    let done = variant % 2 == 1;
    StepRecord {
        job_id,
        step_id,
        name: match step_id {
            StepId::Batch => "batch".to_string(),
            StepId::Numbered(n) => format!("prog{n}-v{variant}"),
        },
        state: if done {
            JobState::Completed
        } else {
            JobState::Running
        },
        exit_status: ExitStatus {
            code: (variant % 3) as u8,
            signal: 0,
        },
        start_time_ms: EPOCH_MS + u64::from(job_id) * 60_000 + 2_000,
        end_time_ms: done.then_some(EPOCH_MS + u64::from(job_id) * 60_000 + 9_000),
        nodes: vec![format!("node{:03}", 1 + job_id % 4)],
        ntasks: 1 + variant,
        alloc_cpus: 2 + variant,
    }
}

/// Numbers records from `first_seq` on, in order.
pub fn numbered(first_seq: u64, records: Vec<AccountingRecord>) -> Vec<OutboxEntry> {
    records
        .into_iter()
        .enumerate()
        .map(|(i, record)| OutboxEntry {
            seq: first_seq + i as u64,
            record,
        })
        .collect()
}

/// Jobs `ids`, each with a batch step and `numbered_steps` numbered steps.
pub fn jobs_with_steps(
    ids: std::ops::Range<u32>,
    variant: u32,
    numbered_steps: u32,
) -> Vec<AccountingRecord> {
    let mut records = Vec::new();
    for id in ids {
        records.push(AccountingRecord::Job(job(id, variant)));
        records.push(AccountingRecord::Step(step(id, StepId::Batch, variant)));
        for n in 0..numbered_steps {
            records.push(AccountingRecord::Step(step(
                id,
                StepId::Numbered(n),
                variant,
            )));
        }
    }
    records
}

/// What the database should hold after `entries` were written (in any
/// order, any number of times): for each row the record of highest `seq`,
/// jobs by id, steps in `sacct` order.
pub fn expected(entries: &[OutboxEntry]) -> Vec<(JobRecord, Vec<StepRecord>)> {
    use std::collections::BTreeMap;
    let mut jobs: BTreeMap<u32, (u64, JobRecord)> = BTreeMap::new();
    let mut steps: BTreeMap<(u32, StepId), (u64, StepRecord)> = BTreeMap::new();
    for entry in entries {
        match &entry.record {
            AccountingRecord::Job(job) => {
                let slot = jobs.entry(job.job_id).or_insert((0, job.clone()));
                if entry.seq >= slot.0 {
                    *slot = (entry.seq, job.clone());
                }
            }
            AccountingRecord::Step(step) => {
                let slot = steps
                    .entry((step.job_id, step.step_id))
                    .or_insert((0, step.clone()));
                if entry.seq >= slot.0 {
                    *slot = (entry.seq, step.clone());
                }
            }
        }
    }
    jobs.into_values()
        .map(|(_, job)| {
            let job_steps = steps
                .range((job.job_id, StepId::Batch)..=(job.job_id, StepId::Numbered(u32::MAX)))
                .map(|(_, (_, step))| step.clone())
                .collect();
            (job, job_steps)
        })
        .collect()
}
