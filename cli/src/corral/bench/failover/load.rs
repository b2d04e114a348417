//! The steady submit load of the failover benchmark.
//!
//! Each task has its own client (its own connections and idea of the leader,
//! as independent sbatch users would) and submits one job after another,
//! each call bounded by a per-call timeout. Every finished call is recorded
//! with when it started and finished, in the order calls finish.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use corral_client::Client;
use corral_proto as wire;
use tokio::runtime::Runtime;
use tokio::task::JoinHandle;

use super::super::submission::{submit, RequestIds};

/// How often a paused task looks whether it may go on.
const PAUSED_POLL_MS: u64 = 5;
/// A task waits this long after a failed call, so that an error returned at
/// once cannot make it spin.
const AFTER_FAILURE_PAUSE_MS: u64 = 10;

/// One finished load call.
pub struct Submission {
    pub started: Instant,
    pub finished: Instant,
    pub request_id: String,
    pub answer: Answer,
}

pub enum Answer {
    /// Committed: the job id the cluster acknowledged.
    Acknowledged(u32),
    /// An error or the per-call timeout; the outcome is unknown.
    Failed(String),
}

impl Submission {
    pub fn job_id(&self) -> Option<u32> {
        match self.answer {
            Answer::Acknowledged(job_id) => Some(job_id),
            Answer::Failed(_) => None,
        }
    }

    pub fn error(&self) -> Option<&str> {
        match &self.answer {
            Answer::Acknowledged(_) => None,
            Answer::Failed(message) => Some(message),
        }
    }
}

/// What the tasks and the benchmark share.
struct Shared {
    submissions: Mutex<Vec<Submission>>,
    paused: AtomicBool,
    stopped: AtomicBool,
}

pub struct Load {
    shared: Arc<Shared>,
    tasks: Vec<JoinHandle<()>>,
}

impl Load {
    /// Starts one task per client on `runtime`.
    pub fn start(
        runtime: &Runtime,
        clients: Vec<Arc<Client>>,
        spec: Arc<wire::JobSpec>,
        ids: Arc<RequestIds>,
        call_timeout: Duration,
    ) -> Load {
        let shared = Arc::new(Shared {
            submissions: Mutex::new(Vec::new()),
            paused: AtomicBool::new(false),
            stopped: AtomicBool::new(false),
        });
        let tasks = clients
            .into_iter()
            .map(|client| {
                runtime.spawn(submit_until_stopped(
                    client,
                    spec.clone(),
                    ids.clone(),
                    call_timeout,
                    shared.clone(),
                ))
            })
            .collect();
        Load { shared, tasks }
    }

    /// Calls already started go on; no new one starts until [`Load::resume`].
    pub fn pause(&self) {
        self.shared.paused.store(true, Ordering::SeqCst);
    }

    pub fn resume(&self) {
        self.shared.paused.store(false, Ordering::SeqCst);
    }

    /// How many calls have finished so far: a mark for the queries below.
    pub fn submission_count(&self) -> usize {
        self.submissions().len()
    }

    /// When the first call that started at or after `instant` was
    /// acknowledged, among the calls finished after `mark`.
    pub fn first_commit_started_after(&self, mark: usize, instant: Instant) -> Option<Instant> {
        let submissions = self.submissions();
        submissions
            .get(mark..)?
            .iter()
            .filter(|s| s.started >= instant && s.job_id().is_some())
            .map(|s| s.finished)
            .min()
    }

    /// Calls finished after `mark` that failed or timed out.
    pub fn failures_since(&self, mark: usize) -> usize {
        let submissions = self.submissions();
        submissions
            .get(mark..)
            .map_or(0, |s| s.iter().filter(|s| s.job_id().is_none()).count())
    }

    /// Stops the tasks, waits for their calls to finish, and returns every call.
    pub fn stop(mut self, runtime: &Runtime) -> Vec<Submission> {
        self.shared.stopped.store(true, Ordering::SeqCst);
        for task in std::mem::take(&mut self.tasks) {
            // A task only ends by returning; a panic would already have been printed.
            let _ = runtime.block_on(task);
        }
        std::mem::take(&mut *self.submissions())
    }

    fn submissions(&self) -> std::sync::MutexGuard<'_, Vec<Submission>> {
        self.shared
            .submissions
            .lock()
            .expect("load records poisoned")
    }
}

async fn submit_until_stopped(
    client: Arc<Client>,
    spec: Arc<wire::JobSpec>,
    ids: Arc<RequestIds>,
    call_timeout: Duration,
    shared: Arc<Shared>,
) {
    while !shared.stopped.load(Ordering::SeqCst) {
        if shared.paused.load(Ordering::SeqCst) {
            tokio::time::sleep(Duration::from_millis(PAUSED_POLL_MS)).await;
            continue;
        }
        let request_id = ids.next();
        let started = Instant::now();
        let call = submit(&client, &spec, request_id.clone());
        let answer = match tokio::time::timeout(call_timeout, call).await {
            Ok(Ok(job_id)) => Answer::Acknowledged(job_id),
            Ok(Err(error)) => Answer::Failed(format!("{error:#}")),
            Err(_) => Answer::Failed(format!(
                "no answer within the per-call timeout of {} ms",
                call_timeout.as_millis()
            )),
        };
        let failed = matches!(answer, Answer::Failed(_));
        let submission = Submission {
            started,
            finished: Instant::now(),
            request_id,
            answer,
        };
        shared
            .submissions
            .lock()
            .expect("load records poisoned")
            .push(submission);
        if failed {
            tokio::time::sleep(Duration::from_millis(AFTER_FAILURE_PAUSE_MS)).await;
        }
    }
}
