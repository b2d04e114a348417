//! End to end with real processes: controllers added and removed online
//! (`corral dev add-controller`, `corral controller add|remove|list`) while
//! a thread keeps submitting jobs. Three controllers grow to five, the
//! leader is killed, they shrink back to three; a change that would leave
//! no quorum is refused with its reason; a controller whose disk was lost
//! is removed, wiped and added back, catching up by snapshot. Every job
//! `sbatch` acknowledged is there at the end, exactly once.

mod support;

use std::collections::BTreeSet;
use std::process::{Command, Output};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use support::{assert_success, stderr, stdout, DevCluster, CORRAL};

/// One line of `corral controller list`.
#[derive(Debug, Clone)]
struct Member {
    id: u64,
    address: String,
    http_address: String,
    voter: bool,
    leader: bool,
}

fn members(cluster: &DevCluster) -> Vec<Member> {
    parse_members(&cluster.corral(&["controller", "list"]))
}

fn parse_members(output: &Output) -> Vec<Member> {
    assert_success(output, "corral controller list");
    stdout(output)
        .lines()
        .skip(1)
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            (fields.len() == 6).then(|| Member {
                id: fields[0].parse().expect("member id"),
                address: fields[1].to_string(),
                http_address: fields[2].to_string(),
                voter: fields[3] == "voter",
                leader: fields[4] == "yes",
            })
        })
        .collect()
}

fn voter_ids(cluster: &DevCluster) -> BTreeSet<u64> {
    members(cluster)
        .into_iter()
        .filter(|m| m.voter)
        .map(|m| m.id)
        .collect()
}

fn leader_id(cluster: &DevCluster) -> u64 {
    cluster.wait_for("a leader in the membership", || {
        members(cluster)
            .into_iter()
            .find(|m| m.leader)
            .map(|m| m.id)
    })
}

/// `corral dev add-controller`, then the `corral controller add` it prints.
fn grow(cluster: &DevCluster, id: Option<u64>) -> u64 {
    let dir = cluster.path().to_string_lossy().into_owned();
    let mut args = vec!["dev", "add-controller", "--dir", &dir];
    let id_text = id.map(|id| id.to_string());
    if let Some(id) = &id_text {
        args.extend(["--id", id]);
    }
    let output = cluster.corral(&args);
    assert_success(&output, "corral dev add-controller");
    let line = stdout(&output)
        .lines()
        .find_map(|line| line.trim().strip_prefix("corral ").map(str::to_string))
        .expect("dev add-controller prints the corral controller add line");
    let add: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(&add[..2], ["controller", "add"], "{line}");
    let output = cluster.corral(&add);
    assert_success(&output, &format!("corral {line}"));
    add[2].parse().expect("controller id")
}

fn add_back(cluster: &DevCluster, member: &Member) {
    let id = member.id.to_string();
    let output = cluster.corral(&[
        "controller",
        "add",
        &id,
        &member.address,
        "--http-address",
        &member.http_address,
    ]);
    assert_success(&output, &format!("corral controller add {id}"));
}

fn remove(cluster: &DevCluster, id: u64) {
    let output = cluster.corral(&["controller", "remove", &id.to_string()]);
    assert_success(&output, &format!("corral controller remove {id}"));
}

struct StopOnDrop<'a>(&'a AtomicBool);

impl Drop for StopOnDrop<'_> {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// A thread's steady `sbatch` load, recording every acknowledged job id.
struct Load {
    acknowledged: Mutex<Vec<u32>>,
    failures: Mutex<Vec<String>>,
    stop: AtomicBool,
}

impl Load {
    fn run(&self, cluster: &DevCluster) {
        while !self.stop.load(Ordering::Relaxed) {
            let output = cluster
                .slurm("sbatch")
                .args(["--parsable", "--wrap", "true"])
                .output()
                .expect("sbatch");
            if output.status.success() {
                let id = stdout(&output).trim().parse().expect("job id");
                self.acknowledged.lock().unwrap().push(id);
            } else {
                self.failures.lock().unwrap().push(stderr(&output));
            }
        }
    }

    fn count(&self) -> usize {
        self.acknowledged.lock().unwrap().len()
    }

    /// Waits until `more` further submissions have been acknowledged.
    fn wait_flowing(&self, cluster: &DevCluster, what: &str, more: usize) {
        let start = self.count();
        cluster.wait_for(&format!("{more} jobs acknowledged {what}"), || {
            (self.count() >= start + more).then_some(())
        });
    }
}

/// An applied index by which every controller has built a snapshot and
/// purged its log behind it, with the intervals of [`with_small_snapshots`]:
/// a snapshot every 200 entries, stretched by up to 3/8 per controller id
/// (`staggered` in controller/src/node.rs), twice over.
const LOG_PURGED_BY_INDEX: u64 = 2 * (200 + 200 * 3 / 8);

/// Restarts the dev cluster with small snapshot intervals, so the log is
/// purged behind snapshots during the test and a controller that joins
/// late must catch up by snapshot.
fn with_small_snapshots(cluster: &DevCluster) {
    let dir = cluster.path().to_string_lossy().into_owned();
    assert_success(&cluster.corral(&["dev", "down", "--dir", &dir]), "dev down");
    let path = cluster.config_path();
    let text = std::fs::read_to_string(&path).unwrap();
    let text = text
        .replace(
            "snapshot_after_entries = 20000",
            "snapshot_after_entries = 200",
        )
        .replace(
            "entries_kept_after_snapshot = 5000",
            "entries_kept_after_snapshot = 20",
        );
    assert!(text.contains("snapshot_after_entries = 200\n"), "{text}");
    std::fs::write(&path, text).unwrap();
    assert_success(&cluster.corral(&["dev", "up", "--dir", &dir]), "dev up");
}

#[test]
fn three_to_five_to_three_under_load_and_a_wiped_controller_replaced() {
    let cluster = DevCluster::with_agents(3, 1, &[]);
    with_small_snapshots(&cluster);
    assert_eq!(voter_ids(&cluster), BTreeSet::from([1, 2, 3]));
    let load = Load {
        acknowledged: Mutex::new(Vec::new()),
        failures: Mutex::new(Vec::new()),
        stop: AtomicBool::new(false),
    };
    std::thread::scope(|scope| {
        scope.spawn(|| load.run(&cluster));
        // Stops the load however this scope ends (a failed assertion too:
        // the scope waits for its threads before the panic goes on).
        let _stop = StopOnDrop(&load.stop);
        load.wait_flowing(&cluster, "before any change", 5);

        // 3 -> 5.
        let four = grow(&cluster, None);
        let five = grow(&cluster, None);
        assert_eq!((four, five), (4, 5));
        assert_eq!(voter_ids(&cluster), BTreeSet::from([1, 2, 3, 4, 5]));
        load.wait_flowing(&cluster, "with five controllers", 5);
        // The agent was told of the new controllers by the leader.
        let added = members(&cluster)
            .into_iter()
            .find(|m| m.id == 5)
            .unwrap()
            .address;
        cluster.wait_for("the agent to learn controller 5", || {
            agent_log_since(&cluster, 0)
                .lines()
                .any(|l| l.contains("learned the controllers") && l.contains(&added))
                .then_some(())
        });

        // Kill the leader of five; the other four carry on.
        let old_leader = leader_id(&cluster);
        cluster.kill(&format!("controller-{old_leader}"));
        cluster.wait_for("a new leader among the other four", || {
            let members = members_quietly(&cluster)?;
            let leader = members.iter().find(|m| m.leader)?;
            (leader.id != old_leader && members.iter().filter(|m| m.voter).count() == 5)
                .then_some(())
        });
        load.wait_flowing(&cluster, "after the leader of five died", 5);
        cluster.start(&format!("controller-{old_leader}"));

        // 5 -> 3: remove the two added controllers (one may be the leader).
        remove(&cluster, 4);
        remove(&cluster, 5);
        assert_eq!(voter_ids(&cluster), BTreeSet::from([1, 2, 3]));
        cluster.kill("controller-4");
        cluster.kill("controller-5");
        load.wait_flowing(&cluster, "back to three controllers", 5);

        // Refused changes say why and exit non-zero.
        let leader = leader_id(&cluster);
        let followers: Vec<u64> = [1, 2, 3].into_iter().filter(|id| *id != leader).collect();
        let (dead, other) = (followers[0], followers[1]);
        cluster.kill(&format!("controller-{dead}"));
        let refused = cluster.corral(&["controller", "remove", &other.to_string()]);
        assert!(
            !refused.status.success(),
            "removing {other} with {dead} dead was allowed"
        );
        assert!(
            stderr(&refused).contains("would leave no quorum")
                && stderr(&refused).contains(&format!("controller {dead} does not answer")),
            "{}",
            stderr(&refused)
        );
        let members_now = members(&cluster);
        let leader_member = members_now.iter().find(|m| m.id == leader).unwrap();
        let refused = cluster.corral(&[
            "controller",
            "add",
            &leader.to_string(),
            &leader_member.address,
        ]);
        assert!(!refused.status.success());
        assert!(
            stderr(&refused).contains("already a voter"),
            "{}",
            stderr(&refused)
        );
        let refused = cluster.corral(&["controller", "add", "9", "127.0.0.1:1"]);
        assert!(!refused.status.success());
        assert!(
            stderr(&refused).contains("does not answer"),
            "{}",
            stderr(&refused)
        );
        assert_eq!(voter_ids(&cluster), BTreeSet::from([1, 2, 3]));
        load.wait_flowing(&cluster, "after the refusals", 3);

        // Replace the dead controller as if its disk was lost: remove it,
        // wipe its data directory, start it empty and add it back. First
        // let the leader's log be purged behind a snapshot, so that the
        // empty controller cannot catch up from the log alone.
        cluster.wait_for("the leader's log to be purged behind a snapshot", || {
            let applied = cluster.leader().applied_index?;
            (applied >= LOG_PURGED_BY_INDEX).then_some(())
        });
        let dead_member = members_now.iter().find(|m| m.id == dead).unwrap().clone();
        remove(&cluster, dead);
        assert_eq!(voter_ids(&cluster), BTreeSet::from([leader, other]));
        std::fs::remove_dir_all(cluster.path().join(format!("data/controller-{dead}"))).unwrap();
        cluster.start(&format!("controller-{dead}"));
        cluster.wait_for(&format!("the empty controller {dead} to answer"), || {
            let answers = cluster
                .status()
                .iter()
                .any(|row| row.id == dead && row.term.is_some());
            answers.then_some(())
        });
        add_back(&cluster, &dead_member);
        assert_eq!(voter_ids(&cluster), BTreeSet::from([1, 2, 3]));
        load.wait_flowing(&cluster, "after the replacement", 5);
        assert!(
            cluster
                .log(dead)
                .contains("installed a snapshot from the leader"),
            "controller {dead} rejoined without a snapshot; its log:\n{}",
            cluster.log(dead)
        );
    });

    let acknowledged = load.acknowledged.into_inner().unwrap();
    let listed = cluster.job_states(); // panics on a job listed twice
    let missing: Vec<&u32> = acknowledged
        .iter()
        .filter(|id| !listed.contains_key(id))
        .collect();
    assert!(missing.is_empty(), "acknowledged jobs lost: {missing:?}");
    let unique: BTreeSet<&u32> = acknowledged.iter().collect();
    assert_eq!(
        unique.len(),
        acknowledged.len(),
        "a job id acknowledged twice"
    );
    eprintln!(
        "{} jobs acknowledged, {} submissions failed",
        acknowledged.len(),
        load.failures.into_inner().unwrap().len()
    );
}

/// `corral controller list`, or `None` while it fails (during an election).
fn members_quietly(cluster: &DevCluster) -> Option<Vec<Member>> {
    let output = cluster.corral(&["controller", "list"]);
    output.status.success().then(|| parse_members(&output))
}

/// [`members_quietly`] asking the controllers at `addresses`.
fn members_via(cluster: &DevCluster, addresses: &str) -> Option<Vec<Member>> {
    let output = via(cluster, addresses, "corral", &["controller", "list"]);
    output.status.success().then(|| parse_members(&output))
}

/// `corral ARGS` (or a Slurm command of the cluster's `bin/`) with the
/// controllers named by `CORRAL_CONTROLLERS`: the way to reach a cluster
/// whose configured controllers are all gone.
fn via(cluster: &DevCluster, controllers: &str, program: &str, args: &[&str]) -> Output {
    let program = match program {
        "corral" => std::path::PathBuf::from(CORRAL),
        name => cluster.path().join("bin").join(name),
    };
    Command::new(program)
        .args(args)
        .env("CORRAL_CONF", cluster.config_path())
        .env("CORRAL_CONTROLLERS", controllers)
        .env_remove("CORRAL_TOKEN")
        .current_dir(cluster.path())
        .output()
        .expect("running a command of the cluster")
}

/// The agent's log from byte `from` on.
fn agent_log_since(cluster: &DevCluster, from: usize) -> String {
    let log =
        std::fs::read_to_string(cluster.path().join("logs/agent-node001.log")).unwrap_or_default();
    log.get(from..).unwrap_or_default().to_string()
}

#[test]
fn an_agent_finds_the_leader_among_controllers_it_only_learned_of() {
    let cluster = DevCluster::with_agents(3, 1, &[]);
    // Replace all three configured controllers with three added ones.
    let added: Vec<u64> = (0..3).map(|_| grow(&cluster, None)).collect();
    assert_eq!(added, [4, 5, 6]);
    let addresses = members(&cluster)
        .into_iter()
        .filter(|m| added.contains(&m.id))
        .map(|m| m.address)
        .collect::<Vec<_>>()
        .join(",");
    for id in [1, 2, 3] {
        remove(&cluster, id);
    }
    // The removed controllers know nothing more of the cluster (a removed
    // leader answers "no leader"): from here on, ask the added ones.
    let list = || {
        cluster.wait_for("a leader among 4, 5 and 6", || {
            members_via(&cluster, &addresses).filter(|members| members.iter().any(|m| m.leader))
        })
    };
    let voters: Vec<Member> = list().into_iter().filter(|m| m.voter).collect();
    assert_eq!(
        voters.iter().map(|m| m.id).collect::<BTreeSet<_>>(),
        BTreeSet::from([4, 5, 6])
    );
    let quoted = |m: &Member| format!("\"{}\"", m.address);
    cluster.wait_for(
        "the agent to learn that 4, 5 and 6 are the controllers",
        || {
            agent_log_since(&cluster, 0)
                .lines()
                .rfind(|l| l.contains("learned the controllers"))
                .filter(|l| voters.iter().all(|m| l.contains(&quoted(m))))
                .map(|_| ())
        },
    );
    for id in [1, 2, 3] {
        cluster.kill(&format!("controller-{id}"));
    }
    // Nothing in corral.toml answers now. Make the agent look for a leader
    // again: kill the leader among the added controllers.
    let old_leader = list().into_iter().find(|m| m.leader).unwrap().id;
    let log_before_kill = agent_log_since(&cluster, 0).len();
    cluster.kill(&format!("controller-{old_leader}"));
    let new_leader = cluster.wait_for("a new leader among the other two", || {
        members_via(&cluster, &addresses)?
            .into_iter()
            .find(|m| m.leader && m.id != old_leader)
    });
    cluster.wait_for("the agent attached to the new leader", || {
        agent_log_since(&cluster, log_before_kill)
            .lines()
            .any(|l| l.contains("attached to the leader") && l.contains(&new_leader.address))
            .then_some(())
    });
    // And it runs jobs for that leader.
    let submitted = via(
        &cluster,
        &addresses,
        "sbatch",
        &["--parsable", "--wrap", "true"],
    );
    assert_success(&submitted, "sbatch through the added controllers");
    let job_id = stdout(&submitted).trim().to_string();
    cluster.wait_for(&format!("job {job_id} to complete on node001"), || {
        let output = via(
            &cluster,
            &addresses,
            "squeue",
            &["-h", "-t", "all", "-j", &job_id, "-o", "%T %N"],
        );
        (stdout(&output).trim() == "COMPLETED node001").then_some(())
    });
}
