//! No acknowledged job is lost when controllers are SIGKILLed in the middle
//! of heavy writes: many submissions in flight through the client API while
//! the leader is killed twice (each time restarted), then every acknowledged
//! job must be present exactly once, with the request id it was submitted with.

mod support;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use corral_client::Client;
use corral_config::Config;
use corral_proto as wire;
use support::DevCluster;

/// Concurrent submitters; each keeps one request in flight.
const SUBMITTERS: usize = 16;

fn job_spec(index: usize) -> wire::JobSpec {
    wire::JobSpec {
        name: format!("load-{index}"),
        nodes: 1,
        ntasks: 1,
        cpus_per_task: 1,
        work_dir: "/tmp".to_string(),
        script: "#!/bin/sh\ntrue\n".to_string(),
        hold: true,
        ..Default::default()
    }
}

/// Submits until `stop`, recording request id -> job id for every success.
async fn submit_until(
    client: Arc<Client>,
    submitter: usize,
    stop: Arc<AtomicBool>,
    acknowledged: Arc<Mutex<BTreeMap<String, u32>>>,
) -> usize {
    let mut failures = 0;
    let mut sequence = 0;
    while !stop.load(Ordering::Relaxed) {
        sequence += 1;
        let request_id = format!("durability-{submitter}-{sequence}");
        let request = wire::SubmitJobRequest {
            request_id: request_id.clone(),
            spec: Some(job_spec(sequence)),
        };
        match client
            .call(request, |mut c, r| async move { c.submit_job(r).await })
            .await
        {
            Ok(wire::SubmitJobReply {
                result: Some(wire::submit_job_reply::Result::JobId(job_id)),
                ..
            }) => {
                acknowledged.lock().unwrap().insert(request_id, job_id);
            }
            // Unknown outcome (the call gave up): the job may or may not exist.
            _ => failures += 1,
        }
    }
    failures
}

#[test]
fn acknowledged_jobs_survive_leader_kills_under_load() {
    let cluster = DevCluster::up(3);
    let config = Config::load(&cluster.config_path()).unwrap();
    let client = Arc::new(Client::from_config(&config).unwrap());
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let acknowledged = Arc::new(Mutex::new(BTreeMap::new()));
    let submitters: Vec<_> = (0..SUBMITTERS)
        .map(|submitter| {
            runtime.spawn(submit_until(
                client.clone(),
                submitter,
                stop.clone(),
                acknowledged.clone(),
            ))
        })
        .collect();

    let acknowledged_count = || acknowledged.lock().unwrap().len();
    for round in 0..2 {
        let before = acknowledged_count();
        cluster.wait_for("submissions to flow", || {
            (acknowledged_count() > before + 200).then_some(())
        });
        let leader = cluster.leader();
        cluster.kill("leader");
        let at_kill = acknowledged_count();
        cluster.wait_for("submissions to flow after the kill", || {
            (acknowledged_count() > at_kill + 100).then_some(())
        });
        cluster.start(&format!("controller-{}", leader.id));
        eprintln!(
            "round {round}: killed controller-{}; {} acknowledged so far",
            leader.id,
            acknowledged_count()
        );
    }
    stop.store(true, Ordering::Relaxed);
    for submitter in submitters {
        runtime.block_on(submitter).unwrap();
    }
    cluster.wait_converged();

    let acknowledged = acknowledged.lock().unwrap().clone();
    let ids: Vec<u32> = acknowledged.values().copied().collect();
    let reply = runtime
        .block_on(client.call(
            wire::GetJobsRequest {
                job_ids: ids.clone(),
                ..Default::default()
            },
            |mut c, r| async move { c.get_jobs(r).await },
        ))
        .unwrap();
    let present: BTreeMap<u32, String> = reply
        .jobs
        .into_iter()
        .map(|job| (job.id, job.request_id))
        .collect();
    for (request_id, job_id) in &acknowledged {
        assert_eq!(
            present.get(job_id),
            Some(request_id),
            "acknowledged job {job_id} ({request_id}) is missing or belongs to another request"
        );
    }
    let mut unique = ids.clone();
    unique.sort_unstable();
    unique.dedup();
    assert_eq!(
        unique.len(),
        ids.len(),
        "two requests were acknowledged with the same job id"
    );
    eprintln!("{} acknowledged jobs, all present", acknowledged.len());
    // Let the runtime's connections close before the cluster goes down.
    drop(client);
    runtime.shutdown_timeout(Duration::from_secs(1));
}
