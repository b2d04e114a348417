//! A real cluster in namespaces: three controllers and an agent, each a
//! `corral` process in its own host. Needs `target/<profile>/corral`
//! (`cargo build -p corral-cli`) and a machine that can make namespaces;
//! prints why and passes when it cannot make namespaces.

use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use corral_chaos::cluster::{self, Cluster, ClusterOptions};
use corral_chaos::net::{self, Network};
use corral_client::proto as wire;

/// Failovers take about a second; this is far beyond.
const FAILOVER_WAIT: Duration = Duration::from_secs(20);
const JOB_WAIT: Duration = Duration::from_secs(30);

fn wait_for<T>(what: &str, within: Duration, mut probe: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + within;
    loop {
        if let Some(found) = probe() {
            return found;
        }
        assert!(Instant::now() < deadline, "no {what} within {within:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A new leader other than `old_id`, in a later term than `old_term`.
fn wait_for_new_leader(cluster: &Cluster, old_id: u64, old_term: u64) -> (u64, u64) {
    wait_for("new leader", FAILOVER_WAIT, || {
        cluster
            .leader()
            .filter(|(id, term)| *id != old_id && *term > old_term)
    })
}

/// Until controller `id` answers and says it follows.
fn wait_until_follower(cluster: &Cluster, id: u64) {
    wait_for(&format!("controller {id} following"), FAILOVER_WAIT, || {
        cluster
            .controller_statuses()
            .into_iter()
            .find(|(answered, status)| {
                *answered == id && status.as_ref().is_some_and(|s| s.role == "follower")
            })
    });
}

fn submit(runtime: &tokio::runtime::Runtime, cluster: &Cluster, name: &str, script: &str) -> u32 {
    let client = cluster.client();
    let request = wire::SubmitJobRequest {
        request_id: format!("test-{name}"),
        spec: Some(wire::JobSpec {
            name: name.to_string(),
            nodes: 1,
            ntasks: 1,
            cpus_per_task: 1,
            work_dir: cluster.dir().display().to_string(),
            script: script.to_string(),
            ..Default::default()
        }),
    };
    let reply = runtime
        .block_on(client.call(request, |mut c, r| async move { c.submit_job(r).await }))
        .expect("submitted");
    match reply.result {
        Some(wire::submit_job_reply::Result::JobId(id)) => id,
        other => panic!("submission refused: {other:?}"),
    }
}

fn wait_job_state(
    runtime: &tokio::runtime::Runtime,
    cluster: &Cluster,
    job_id: u32,
    state: wire::JobState,
) {
    let client = cluster.client();
    wait_for(&format!("job {job_id} {state:?}"), JOB_WAIT, || {
        let request = wire::GetJobsRequest {
            job_ids: vec![job_id],
            ..Default::default()
        };
        let reply = runtime
            .block_on(client.call(request, |mut c, r| async move { c.get_jobs(r).await }))
            .ok()?;
        reply
            .jobs
            .iter()
            .find(|job| job.id == job_id && job.state == state as i32)
            .map(|_| ())
    });
}

fn namespace_names() -> String {
    let output = Command::new("ip").args(["netns", "list"]).output().unwrap();
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn a_cluster_in_namespaces_runs_jobs_survives_faults_and_leaves_nothing_behind() {
    if let Some(reason) = net::namespaces_unavailable_reason() {
        eprintln!("SKIPPED: this machine cannot make network namespaces: {reason}");
        return;
    }
    if let Err(error) = cluster::find_corral_binary() {
        panic!("{error}");
    }
    let scratch = tempfile::tempdir().unwrap();
    let network = Network::create("cluster-test", &Cluster::host_names(3, 1)).unwrap();
    let node_namespace = network
        .namespace_of("node001")
        .unwrap()
        .expect("namespaces");
    let namespaces: Vec<String> = network
        .hosts()
        .iter()
        .map(|h| network.namespace_of(h.as_str()).unwrap().unwrap())
        .collect();
    let cluster = Cluster::create(
        &scratch.path().join("cluster"),
        network,
        3,
        1,
        ClusterOptions::default(),
    )
    .unwrap_or_else(|error| panic!("{error}"));
    assert_eq!(
        cluster.controller_names(),
        ["controller-1", "controller-2", "controller-3"]
    );
    assert_eq!(cluster.agent_names(), ["agent-node001"]);
    let config = std::fs::read_to_string(cluster.config_path()).unwrap();
    let address = cluster.network().address_of("controller-2").unwrap();
    assert!(config.contains(&format!("\"{address}:7000\"")), "{config}");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();

    // A job runs on the agent, inside the agent's namespace.
    let ran = cluster.dir().join("ran");
    let job = submit(
        &runtime,
        &cluster,
        "where",
        &format!(
            "#!/bin/sh\nreadlink /proc/self/ns/net > {}\n",
            ran.display()
        ),
    );
    wait_job_state(&runtime, &cluster, job, wire::JobState::Completed);
    let inode = std::fs::metadata(Path::new("/run/netns").join(&node_namespace))
        .unwrap()
        .ino();
    assert_eq!(
        std::fs::read_to_string(&ran).unwrap().trim(),
        format!("net:[{inode}]")
    );

    // Killing the leader elects another; the old one comes back as a follower.
    let (old, term) = cluster.leader().expect("a leader");
    let old_name = format!("controller-{old}");
    cluster.kill(&old_name).unwrap();
    assert!(!cluster.is_running(&old_name));
    assert!(matches!(
        cluster.kill(&old_name),
        Err(cluster::ClusterError::NotRunning(_))
    ));
    let (_, term) = wait_for_new_leader(&cluster, old, term);
    cluster.start(&old_name).unwrap();
    wait_until_follower(&cluster, old);

    // A paused leader is replaced, and follows once resumed.
    let (paused, _) = cluster.leader().expect("a leader");
    let paused_name = format!("controller-{paused}");
    cluster.pause(&paused_name).unwrap();
    let (_, term) = wait_for_new_leader(&cluster, paused, term);
    cluster.resume(&paused_name).unwrap();
    wait_until_follower(&cluster, paused);

    // A leader cut off from the other controllers is replaced; the harness
    // still reaches it, and it follows once healed.
    let (isolated, _) = cluster.leader().expect("a leader");
    let isolated_name = format!("controller-{isolated}");
    let others: Vec<String> = cluster
        .controller_names()
        .into_iter()
        .filter(|n| *n != isolated_name)
        .collect();
    cluster
        .cut(std::slice::from_ref(&isolated_name), &others)
        .unwrap();
    wait_for_new_leader(&cluster, isolated, term);
    cluster.heal_network().unwrap();
    wait_until_follower(&cluster, isolated);

    // The cluster still runs jobs; leave one running for stop_all to kill.
    let sleeper = submit(&runtime, &cluster, "sleeper", "#!/bin/sh\nsleep 300\n");
    wait_job_state(&runtime, &cluster, sleeper, wire::JobState::Running);
    for name in cluster.controller_names() {
        assert_eq!(cluster.alarms(&name), Vec::<String>::new(), "{name}");
    }

    let pids: Vec<i32> = cluster
        .controller_names()
        .iter()
        .chain(&cluster.agent_names())
        .map(|name| cluster.pid(name).expect("running"))
        .collect();
    cluster.stop_all().unwrap();
    for pid in pids {
        assert!(
            !Path::new(&format!("/proc/{pid}")).exists(),
            "process {pid} outlived stop_all"
        );
    }
    for host in cluster.network().hosts() {
        assert_eq!(
            cluster.network().processes_in(host.as_str()).unwrap(),
            Vec::<i32>::new(),
            "{host}"
        );
    }
    cluster.shut_down().unwrap();
    let left = namespace_names();
    for namespace in &namespaces {
        assert!(
            !left.contains(namespace.as_str()),
            "{namespace} left behind: {left}"
        );
    }
}

#[test]
fn a_cluster_on_loopback_runs_jobs_and_fails_over_without_namespaces() {
    if let Err(error) = cluster::find_corral_binary() {
        panic!("{error}");
    }
    let scratch = tempfile::tempdir().unwrap();
    let network = Network::loopback(
        "loopback-cluster-test",
        &Cluster::host_names(3, 1),
        "chosen by the test".to_string(),
    );
    let cluster = Cluster::create(
        &scratch.path().join("cluster"),
        network,
        3,
        1,
        ClusterOptions::default(),
    )
    .unwrap_or_else(|error| panic!("{error}"));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let job = submit(&runtime, &cluster, "loopback", "#!/bin/sh\ntrue\n");
    wait_job_state(&runtime, &cluster, job, wire::JobState::Completed);

    let (old, term) = cluster.leader().expect("a leader");
    cluster.kill(&format!("controller-{old}")).unwrap();
    wait_for_new_leader(&cluster, old, term);
    let error = cluster
        .cut(&["controller-1".to_string()], &["controller-2".to_string()])
        .unwrap_err();
    assert!(
        error
            .to_string()
            .contains("unavailable without network namespaces"),
        "{error}"
    );

    let sleeper = submit(&runtime, &cluster, "sleeper", "#!/bin/sh\nsleep 300\n");
    wait_job_state(&runtime, &cluster, sleeper, wire::JobState::Running);
    let pids: Vec<i32> = cluster
        .controller_names()
        .iter()
        .chain(&cluster.agent_names())
        .filter_map(|name| cluster.pid(name))
        .collect();
    assert_eq!(pids.len(), 3, "two controllers and the agent run");
    cluster.stop_all().unwrap();
    for pid in pids {
        assert!(
            !Path::new(&format!("/proc/{pid}")).exists(),
            "process {pid} outlived stop_all"
        );
    }
    let leftovers = Command::new("pgrep")
        .args(["-f", &cluster.dir().display().to_string()])
        .output();
    if let Ok(output) = leftovers {
        assert!(
            output.stdout.is_empty(),
            "processes of the cluster left: {output:?}"
        );
    }
    cluster.shut_down().unwrap();
}
