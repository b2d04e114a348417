//! The clients of a chaos run and the history they record.
//!
//! Submitters submit jobs (and, after an unknown outcome, sometimes retry
//! with the same request id, as a careful client would); a canceller cancels
//! jobs it has seen acknowledged; a reader reads every job's state. Each
//! operation is written to the history with its invocation and completion
//! times and its outcome: Ok, Failed (certainly did not happen) or Unknown
//! (may have happened).

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use corral_client::{Client, ClientError};
use corral_proto as wire;
use tonic::Code;

use crate::history::{Entry, ObservedJob, OkValue, Operation, OperationKind, Outcome};
use crate::nemesis::Rng;

/// How long a client keeps trying one operation before calling its outcome unknown.
pub const OPERATION_WAIT_MS: u64 = 5_000;
/// Pause between a reader's reads.
pub const READ_INTERVAL_MS: u64 = 500;
/// Pause between a canceller's attempts.
pub const CANCEL_INTERVAL_MS: u64 = 700;
/// Pause between a submitter's submissions (plus up to half as much
/// again, at random). Four submitters then ask for about 15 jobs a second,
/// which two 4-CPU nodes run as they come: a queue that only grows would
/// leave the run's last jobs, and the probe after healing, waiting.
pub const SUBMIT_INTERVAL_MS: u64 = 200;

/// Writes the history, one JSON line per entry, and keeps the run's clock.
pub struct Recorder {
    started: Instant,
    file: Mutex<BufWriter<File>>,
    next_id: AtomicU64,
}

impl Recorder {
    pub fn create(path: &Path) -> std::io::Result<Recorder> {
        Ok(Recorder {
            started: Instant::now(),
            file: Mutex::new(BufWriter::new(File::create(path)?)),
            next_id: AtomicU64::new(1),
        })
    }

    /// Milliseconds since the run started.
    pub fn now_ms(&self) -> u64 {
        self.started.elapsed().as_millis() as u64
    }

    /// The run's start, as wall-clock milliseconds since the Unix epoch.
    pub fn started_unix_ms(&self) -> u64 {
        let since = self.started.elapsed().as_millis() as u64;
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0)
            .saturating_sub(since)
    }

    pub fn next_id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    pub fn record(&self, entry: &Entry) {
        let line = serde_json::to_string(entry).expect("history entries serialize");
        let mut file = self.file.lock().expect("history writer poisoned");
        let _ = writeln!(file, "{line}");
        let _ = file.flush();
    }
}

/// The shared state of the workload.
pub struct Workload {
    pub client: Arc<Client>,
    pub recorder: Arc<Recorder>,
    pub stop: Arc<AtomicBool>,
    /// Where jobs record their runs (one line `JOBID NODE` per run).
    pub runs_file: PathBuf,
    /// Job ids acknowledged so far, for the canceller.
    pub acknowledged: Mutex<Vec<u32>>,
}

impl Workload {
    /// A job that records its run and lasts a moment (0 to 0.4 s).
    fn job_spec(&self, name: &str) -> wire::JobSpec {
        let script = format!(
            "#!/bin/sh\necho \"$SLURM_JOB_ID $SLURMD_NODENAME\" >> {}\nsleep 0.$((SLURM_JOB_ID % 5))\n",
            self.runs_file.display()
        );
        wire::JobSpec {
            name: name.to_string(),
            nodes: 1,
            ntasks: 1,
            cpus_per_task: 1,
            work_dir: "/tmp".to_string(),
            script,
            ..Default::default()
        }
    }

    fn stopped(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }

    fn finish(&self, client: u32, kind: OperationKind, invoked_ms: u64, outcome: Outcome) {
        let operation = Operation {
            id: self.recorder.next_id(),
            client,
            kind,
            invoked_ms,
            completed_ms: self.recorder.now_ms(),
            outcome,
        };
        self.recorder.record(&Entry::Operation(operation));
    }
}

/// Failed when the cluster certainly refused; Unknown when it may have acted.
fn outcome_of(error: &ClientError) -> Outcome {
    match error {
        ClientError::Rpc(status)
            if matches!(
                status.code(),
                Code::InvalidArgument | Code::Unauthenticated | Code::PermissionDenied
            ) =>
        {
            Outcome::Failed(status.message().to_string())
        }
        other => Outcome::Unknown(other.to_string()),
    }
}

/// Submits until stopped; after an unknown outcome, retries the same request
/// id half of the time.
pub async fn submitter(workload: Arc<Workload>, client: u32, seed: u64) {
    let mut rng = Rng::new(seed ^ (u64::from(client) << 32));
    let mut sequence = 0u64;
    let mut retry: Option<(String, u32)> = None;
    while !workload.stopped() {
        let (request_id, attempt) = retry.take().unwrap_or_else(|| {
            sequence += 1;
            (format!("chaos-{client}-{sequence}"), 0)
        });
        let invoked_ms = workload.recorder.now_ms();
        let request = wire::SubmitJobRequest {
            request_id: request_id.clone(),
            spec: Some(workload.job_spec(&format!("c{client}"))),
        };
        let result = workload
            .client
            .call(request, |mut c, r| async move { c.submit_job(r).await })
            .await;
        let outcome = match result {
            Ok(wire::SubmitJobReply {
                result: Some(wire::submit_job_reply::Result::JobId(job_id)),
                ..
            }) => {
                workload.acknowledged.lock().expect("poisoned").push(job_id);
                Outcome::Ok(OkValue::Submitted { job_id })
            }
            Ok(reply) => Outcome::Failed(format!("rejected: {reply:?}")),
            Err(error) => {
                let outcome = outcome_of(&error);
                if matches!(outcome, Outcome::Unknown(_)) && rng.below(2) == 0 {
                    retry = Some((request_id.clone(), attempt + 1));
                }
                outcome
            }
        };
        workload.finish(
            client,
            OperationKind::Submit {
                request_id,
                attempt,
            },
            invoked_ms,
            outcome,
        );
        tokio::time::sleep(Duration::from_millis(
            SUBMIT_INTERVAL_MS + rng.below(SUBMIT_INTERVAL_MS / 2),
        ))
        .await;
    }
}

/// Cancels a random acknowledged job now and then.
pub async fn canceller(workload: Arc<Workload>, client: u32, seed: u64) {
    let mut rng = Rng::new(seed ^ 0xCA4C_E11E);
    while !workload.stopped() {
        tokio::time::sleep(Duration::from_millis(CANCEL_INTERVAL_MS)).await;
        let target = {
            let acknowledged = workload.acknowledged.lock().expect("poisoned");
            if acknowledged.is_empty() {
                continue;
            }
            acknowledged[rng.below(acknowledged.len() as u64) as usize]
        };
        let invoked_ms = workload.recorder.now_ms();
        let request = wire::JobActionRequest {
            action: wire::job_action_request::Action::Cancel as i32,
            job_id: target,
        };
        let result = workload
            .client
            .call(request, |mut c, r| async move { c.job_action(r).await })
            .await;
        let outcome = match result {
            Ok(wire::JobActionReply { rejection: None }) => Outcome::Ok(OkValue::Cancelled),
            Ok(wire::JobActionReply {
                rejection: Some(rejection),
            }) => Outcome::Failed(rejection.message),
            Err(error) => outcome_of(&error),
        };
        workload.finish(
            client,
            OperationKind::Cancel { job_id: target },
            invoked_ms,
            outcome,
        );
    }
}

/// Reads every job's state now and then.
pub async fn reader(workload: Arc<Workload>, client: u32) {
    while !workload.stopped() {
        tokio::time::sleep(Duration::from_millis(READ_INTERVAL_MS)).await;
        let invoked_ms = workload.recorder.now_ms();
        let result = workload
            .client
            .call(wire::GetJobsRequest::default(), |mut c, r| async move {
                c.get_jobs(r).await
            })
            .await;
        let outcome = match result {
            Ok(reply) => Outcome::Ok(OkValue::Observed(observed(&reply.jobs))),
            Err(error) => outcome_of(&error),
        };
        workload.finish(client, OperationKind::Read, invoked_ms, outcome);
    }
}

/// The states a read saw.
pub fn observed(jobs: &[wire::Job]) -> Vec<ObservedJob> {
    jobs.iter()
        .filter_map(|job| {
            let state = corral_proto::job_state_from_wire(job.state).ok()?;
            Some(ObservedJob {
                job_id: job.id,
                state: state.slurm_name().to_string(),
                requeue_count: job.requeue_count,
            })
        })
        .collect()
}
