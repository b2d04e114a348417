//! The faults of a chaos run, chosen from the seed.
//!
//! Every choice (which fault, when, for how long, which minority) comes from
//! one seeded generator, so the same seed replays the same schedule of
//! faults against the same kind of cluster. The nemesis never takes down a
//! majority of controllers: faults hit the leader or a minority.

use std::fmt;
use std::time::{Duration, Instant};

use crate::history::{Entry, Fault};
use crate::workload::Recorder;

/// A small, seeded, reproducible generator (splitmix64). Not for secrets.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..bound` (`bound` > 0).
    pub fn below(&mut self, bound: u64) -> u64 {
        self.next_u64() % bound.max(1)
    }

    /// A duration between `low_ms` and `high_ms`.
    pub fn between_ms(&mut self, low_ms: u64, high_ms: u64) -> Duration {
        Duration::from_millis(low_ms + self.below(high_ms.saturating_sub(low_ms) + 1))
    }

    /// `count` distinct items of `items`, in a random order.
    pub fn choose<T: Clone>(&mut self, items: &[T], count: usize) -> Vec<T> {
        let mut pool: Vec<T> = items.to_vec();
        let mut chosen = Vec::new();
        while chosen.len() < count && !pool.is_empty() {
            let index = self.below(pool.len() as u64) as usize;
            chosen.push(pool.swap_remove(index));
        }
        chosen
    }
}

/// What the nemesis can do to the cluster. Blocking calls.
pub trait Hosts: Send + Sync {
    fn controllers(&self) -> Vec<String>;
    fn agents(&self) -> Vec<String>;
    /// The name of the current leader (`controller-N`), if one is known.
    fn leader(&self) -> Option<String>;
    fn kill(&self, name: &str) -> Result<(), String>;
    fn start(&self, name: &str) -> Result<(), String>;
    fn pause(&self, name: &str) -> Result<(), String>;
    fn resume(&self, name: &str) -> Result<(), String>;
    /// Cuts every link between a host of `side` and a host of `other`.
    fn cut(&self, side: &[String], other: &[String]) -> Result<(), String>;
    fn heal_network(&self) -> Result<(), String>;
    /// Whether hosts can be cut off from each other (network namespaces).
    fn partitions_available(&self) -> bool;
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FaultKind {
    /// SIGKILL the leader, restart it later.
    KillLeader,
    /// SIGKILL a random minority of controllers, restart them later.
    KillMinority,
    /// SIGSTOP the leader past the election timeout, SIGCONT it later: a
    /// deposed leader that wakes up.
    PauseLeader,
    /// Cut the leader off from every other controller.
    IsolateLeader,
    /// Split the controllers into a majority and a minority.
    Split,
    /// Two sides that cannot reach each other, and one controller that
    /// reaches both (Jepsen's "bridge"): no side alone is a majority.
    Bridge,
    /// SIGKILL an agent (sometimes past `slurmd_timeout`), restart it.
    KillAgent,
}

impl FaultKind {
    pub fn name(self) -> &'static str {
        match self {
            FaultKind::KillLeader => "kill-leader",
            FaultKind::KillMinority => "kill-minority",
            FaultKind::PauseLeader => "pause-leader",
            FaultKind::IsolateLeader => "isolate-leader",
            FaultKind::Split => "split",
            FaultKind::Bridge => "bridge",
            FaultKind::KillAgent => "kill-agent",
        }
    }

    /// How long the fault lasts before it is healed, in ms.
    fn hold_ms(self) -> (u64, u64) {
        match self {
            FaultKind::KillLeader | FaultKind::KillMinority => (2_000, 6_000),
            FaultKind::PauseLeader => (2_000, 5_000),
            FaultKind::IsolateLeader | FaultKind::Split | FaultKind::Bridge => (3_000, 8_000),
            FaultKind::KillAgent => (3_000, 15_000),
        }
    }

    fn needs_network(self) -> bool {
        matches!(
            self,
            FaultKind::IsolateLeader | FaultKind::Split | FaultKind::Bridge
        )
    }
}

impl fmt::Display for FaultKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The fault kinds a `--faults` list names: `kill`, `pause`, `partition`,
/// `agents`, or any single kind by its name. `netem` (packet delay, loss and
/// duplication) needs the kernel's netem qdisc; the caller reports it.
pub fn parse_faults(list: &str) -> Result<Vec<FaultKind>, String> {
    let mut kinds = Vec::new();
    for word in list.split(',').map(str::trim).filter(|w| !w.is_empty()) {
        let named: &[FaultKind] = match word {
            "kill" => &[FaultKind::KillLeader, FaultKind::KillMinority],
            "pause" => &[FaultKind::PauseLeader],
            "partition" => &[FaultKind::IsolateLeader, FaultKind::Split, FaultKind::Bridge],
            "agents" => &[FaultKind::KillAgent],
            "kill-leader" => &[FaultKind::KillLeader],
            "kill-minority" => &[FaultKind::KillMinority],
            "pause-leader" => &[FaultKind::PauseLeader],
            "isolate-leader" => &[FaultKind::IsolateLeader],
            "split" => &[FaultKind::Split],
            "bridge" => &[FaultKind::Bridge],
            "kill-agent" => &[FaultKind::KillAgent],
            "netem" => {
                return Err(
                    "netem (packet delay, loss, duplication) needs the kernel's sch_netem qdisc, which this machine does not have"
                        .to_string(),
                )
            }
            other => {
                return Err(format!(
                    "unknown fault {other:?} (kill, pause, partition, agents, or one of kill-leader, kill-minority, pause-leader, isolate-leader, split, bridge, kill-agent)"
                ))
            }
        };
        for kind in named {
            if !kinds.contains(kind) {
                kinds.push(*kind);
            }
        }
    }
    if kinds.is_empty() {
        return Err("--faults names no fault".to_string());
    }
    Ok(kinds)
}

/// What a fault did, to be undone when it heals.
enum Undo {
    Start(Vec<String>),
    Resume(String),
    Network,
}

/// Injects faults from `kinds` until `until`, healing each before the next.
/// Prints every fault as it injects and heals it, and records it.
pub fn run(
    hosts: &dyn Hosts,
    kinds: &[FaultKind],
    rng: &mut Rng,
    recorder: &Recorder,
    until: Instant,
) {
    let mut next_id = 1;
    let available: Vec<FaultKind> = kinds
        .iter()
        .copied()
        .filter(|kind| !kind.needs_network() || hosts.partitions_available())
        .collect();
    if available.len() < kinds.len() {
        println!("nemesis: no network namespaces here; partition faults are skipped");
    }
    if available.is_empty() {
        return;
    }
    while Instant::now() + Duration::from_secs(1) < until {
        std::thread::sleep(rng.between_ms(2_000, 5_000));
        if Instant::now() >= until {
            break;
        }
        let kind = available[rng.below(available.len() as u64) as usize];
        let leader = hosts.leader();
        let (targets, undo, detail) = match inject(hosts, kind, leader.as_deref(), rng) {
            Ok(done) => done,
            Err(error) => {
                println!(
                    "[{:>8.1}s] nemesis: {kind} not injected: {error}",
                    secs(recorder.now_ms())
                );
                continue;
            }
        };
        // The fault holds from here: the process is gone or stopped, the
        // routes are in place (finding the leader and killing take time).
        let started_ms = recorder.now_ms();
        let hit_leader = leader.as_ref().is_some_and(|l| targets.contains(l));
        println!(
            "[{:>8.1}s] fault #{next_id} {kind} {}{}",
            secs(started_ms),
            targets.join(","),
            if hit_leader { " (the leader)" } else { "" }
        );
        let (low, high) = kind.hold_ms();
        std::thread::sleep(rng.between_ms(low, high));
        if let Err(error) = heal(hosts, undo) {
            println!("nemesis: healing fault #{next_id} failed: {error}");
        }
        let healed_ms = recorder.now_ms();
        println!("[{:>8.1}s] healed #{next_id}", secs(healed_ms));
        recorder.record(&Entry::Fault(Fault {
            id: next_id,
            kind: kind.name().to_string(),
            targets,
            hit_leader,
            started_ms,
            healed_ms: Some(healed_ms),
            detail,
        }));
        next_id += 1;
    }
}

fn secs(ms: u64) -> f64 {
    ms as f64 / 1000.0
}

/// Injects one fault; returns what it hit, how to undo it, and a detail.
fn inject(
    hosts: &dyn Hosts,
    kind: FaultKind,
    leader: Option<&str>,
    rng: &mut Rng,
) -> Result<(Vec<String>, Undo, String), String> {
    let controllers = hosts.controllers();
    let leader = || leader.map(str::to_string).ok_or("no leader known");
    match kind {
        FaultKind::KillLeader => {
            let leader = leader()?;
            hosts.kill(&leader)?;
            Ok((
                vec![leader.clone()],
                Undo::Start(vec![leader]),
                String::new(),
            ))
        }
        FaultKind::KillMinority => {
            let minority = (controllers.len() - 1) / 2;
            let count = 1 + rng.below(minority.max(1) as u64) as usize;
            let victims = rng.choose(&controllers, count.min(minority.max(1)));
            for victim in &victims {
                hosts.kill(victim)?;
            }
            Ok((victims.clone(), Undo::Start(victims), String::new()))
        }
        FaultKind::PauseLeader => {
            let leader = leader()?;
            hosts.pause(&leader)?;
            Ok((vec![leader.clone()], Undo::Resume(leader), String::new()))
        }
        FaultKind::IsolateLeader => {
            let leader = leader()?;
            let others: Vec<String> = controllers
                .iter()
                .filter(|c| **c != leader)
                .cloned()
                .collect();
            hosts.cut(std::slice::from_ref(&leader), &others)?;
            Ok((
                vec![leader],
                Undo::Network,
                format!("cut from {}", others.join(",")),
            ))
        }
        FaultKind::Split => {
            let minority = ((controllers.len() - 1) / 2).max(1);
            let side = rng.choose(&controllers, minority);
            let rest: Vec<String> = controllers
                .iter()
                .filter(|c| !side.contains(c))
                .cloned()
                .collect();
            hosts.cut(&side, &rest)?;
            Ok((side, Undo::Network, format!("majority {}", rest.join(","))))
        }
        FaultKind::Bridge => {
            let shuffled = rng.choose(&controllers, controllers.len());
            let side = (controllers.len() - 1) / 2;
            let (left, rest) = shuffled.split_at(side.max(1));
            let (bridge, right) = rest
                .split_first()
                .ok_or("too few controllers for a bridge")?;
            if right.is_empty() {
                return Err("too few controllers for a bridge".to_string());
            }
            hosts.cut(left, right)?;
            Ok((
                left.iter().chain(right).cloned().collect(),
                Undo::Network,
                format!(
                    "{} cut from {}, {bridge} reaches both",
                    left.join(","),
                    right.join(",")
                ),
            ))
        }
        FaultKind::KillAgent => {
            let agents = hosts.agents();
            let victim = rng.choose(&agents, 1).pop().ok_or("no agent to kill")?;
            hosts.kill(&victim)?;
            Ok((
                vec![victim.clone()],
                Undo::Start(vec![victim]),
                String::new(),
            ))
        }
    }
}

fn heal(hosts: &dyn Hosts, undo: Undo) -> Result<(), String> {
    match undo {
        Undo::Start(names) => names.iter().try_for_each(|name| hosts.start(name)),
        Undo::Resume(name) => hosts.resume(&name),
        Undo::Network => hosts.heal_network(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_gives_the_same_choices() {
        let mut a = Rng::new(7);
        let mut b = Rng::new(7);
        let items = ["c1", "c2", "c3", "c4", "c5"];
        for _ in 0..100 {
            assert_eq!(a.choose(&items, 2), b.choose(&items, 2));
            assert_eq!(a.between_ms(100, 200), b.between_ms(100, 200));
        }
        let chosen = Rng::new(3).choose(&items, 2);
        assert_ne!(chosen[0], chosen[1]);
    }

    #[test]
    fn fault_lists_parse_and_refuse_the_unavailable() {
        assert_eq!(
            parse_faults("kill,pause").unwrap(),
            vec![
                FaultKind::KillLeader,
                FaultKind::KillMinority,
                FaultKind::PauseLeader
            ]
        );
        assert_eq!(parse_faults("partition,split").unwrap().len(), 3);
        assert_eq!(parse_faults("bridge").unwrap(), vec![FaultKind::Bridge]);
        assert!(parse_faults("netem").unwrap_err().contains("sch_netem"));
        assert!(parse_faults("bogus").unwrap_err().contains("unknown fault"));
        assert!(parse_faults("").is_err());
    }
}
