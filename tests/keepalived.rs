//! The keepalived set-up of `deploy/keepalived/`, for real: three
//! controllers, each in its own network namespace on a bridge (the chaos
//! harness's network), Debian's keepalived in each namespace with the
//! template and check script as shipped, and a VIP on the bridge's subnet.
//! The VIP must sit on the leader's namespace, and follow the leader
//! through two leader kills. Needs root, iproute2 and keepalived (CI has
//! all three; `.ci/run` installs keepalived).

mod support;

use std::fs;
use std::net::IpAddr;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use corral_chaos::cluster::{Cluster, ClusterOptions};
use corral_chaos::net::{namespaces_unavailable_reason, Network};

const TEMPLATE: &str = include_str!("../deploy/keepalived/keepalived.conf");
const CHECK_SCRIPT: &str = include_str!("../deploy/keepalived/corral-leader-check");
/// Each controller's HTTP port, on its namespace's address.
const HTTP_PORT: u16 = 7001;
/// The VIP's last byte in the run's `/24`.
const VIP_HOST_BYTE: u8 = 250;
const INTERFACE: &str = "eth0";
const VIRTUAL_ROUTER_ID: u8 = 51;
/// Generous: a leader election (about a second) plus a check interval plus
/// VRRP's takeover, on a loaded machine.
const VIP_MOVE_WAIT: Duration = Duration::from_secs(60);

/// The keepalived processes this test started, stopped by their ids (on
/// failure too), and the root-only directory holding the check script.
struct Keepaliveds {
    children: Vec<Child>,
    script_dir: PathBuf,
}

impl Drop for Keepaliveds {
    fn drop(&mut self) {
        for child in &self.children {
            // SAFETY: kill(2) on a process this test started.
            unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        for child in &mut self.children {
            while child.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = fs::remove_dir_all(&self.script_dir);
    }
}

fn require(program: &str, arg: &str) {
    let ran = Command::new(program)
        .arg(arg)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    assert!(
        ran.is_ok_and(|status| status.success()),
        "this test needs `{program}` (Debian's {program} package; .ci/run installs it)"
    );
}

/// The template with every placeholder filled in for `host`.
fn render(host_ip: IpAddr, peers: &[IpAddr], vip: &str, script: &Path, name: &str) -> String {
    let peer_lines: Vec<String> = peers.iter().map(|ip| format!("        {ip}")).collect();
    let text = TEMPLATE
        .replace("@ROUTER_ID@", name)
        .replace("@CHECK_SCRIPT@", &script.display().to_string())
        .replace("@HTTP_ADDRESS@", &format!("{host_ip}:{HTTP_PORT}"))
        .replace("@INTERFACE@", INTERFACE)
        .replace("@VIRTUAL_ROUTER_ID@", &VIRTUAL_ROUTER_ID.to_string())
        .replace("@SELF_IP@", &host_ip.to_string())
        .replace("@PEER_IPS@", &peer_lines.join("\n"))
        .replace("@VIP@", vip);
    let body: String = text
        .lines()
        .filter(|line| !line.trim_start().starts_with('#'))
        .collect::<Vec<_>>()
        .join("\n");
    assert!(!body.contains('@'), "a placeholder is left:\n{body}");
    text
}

/// The controllers (host names) whose namespace holds `vip` on eth0.
fn vip_holders(network: &Network, hosts: &[String], vip: &str) -> Vec<String> {
    let address = vip.split('/').next().expect("an address");
    hosts
        .iter()
        .filter(|host| {
            let namespace = network
                .namespace_of(host)
                .expect("namespace")
                .expect("a namespace");
            let output = Command::new("ip")
                .args([
                    "-n", &namespace, "-4", "-o", "addr", "show", "dev", INTERFACE,
                ])
                .output()
                .expect("ip addr");
            String::from_utf8_lossy(&output.stdout)
                .split_whitespace()
                .any(|word| word.split('/').next() == Some(address))
        })
        .cloned()
        .collect()
}

fn wait_for_vip_on(
    cluster: &Cluster,
    hosts: &[String],
    vip: &str,
    logs: &Path,
    not: Option<&str>,
) -> String {
    let deadline = Instant::now() + VIP_MOVE_WAIT;
    loop {
        let leader = cluster.leader_name().filter(|l| Some(l.as_str()) != not);
        let holders = vip_holders(cluster.network(), hosts, vip);
        if let Some(leader) = &leader {
            if holders == [leader.clone()] {
                return leader.clone();
            }
        }
        if Instant::now() > deadline {
            let mut text = String::new();
            for host in hosts {
                let log = fs::read_to_string(logs.join(format!("keepalived-{host}.log")))
                    .unwrap_or_default();
                let lines: Vec<&str> = log.lines().collect();
                text.push_str(&format!("--- keepalived of {host} ---\n"));
                text.push_str(&lines[lines.len().saturating_sub(20)..].join("\n"));
                text.push('\n');
            }
            panic!(
                "the VIP {vip} is not on the leader after {VIP_MOVE_WAIT:?}: leader {:?}, VIP on {:?}\n{text}",
                leader, holders
            );
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn the_vip_follows_the_leader_through_two_leader_kills() {
    if let Some(reason) = namespaces_unavailable_reason() {
        panic!("this test needs network namespaces (run it as root, as CI does): {reason}");
    }
    require("keepalived", "--version");
    let hosts = Cluster::host_names(3, 0);
    let network = Network::create("keepalived-test", &hosts).expect("network");
    let slot = match &network {
        Network::Namespaces(namespaces) => namespaces.slot(),
        Network::Loopback(loopback) => panic!(
            "this test needs network namespaces and could not make them: {}",
            loopback.reason()
        ),
    };
    let dir = tempfile::Builder::new()
        .prefix("corral-keepalived-")
        .tempdir()
        .expect("temporary directory");
    let options = ClusterOptions {
        corral_binary: Some(PathBuf::from(support::CORRAL)),
        http_port: Some(HTTP_PORT),
        wait_for_agents: false,
        ..ClusterOptions::default()
    };
    let cluster = Cluster::create(&dir.path().join("cluster"), network, 3, 0, options)
        .expect("a cluster in namespaces");
    let names: Vec<String> = hosts.iter().map(|h| h.to_string()).collect();

    // keepalived refuses a script in a directory anyone may write to, as
    // enable_script_security asks: the script goes under /run.
    let script_dir = PathBuf::from(format!(
        "/run/corral-keepalived-test-{}",
        std::process::id()
    ));
    fs::create_dir_all(&script_dir).expect("script directory");
    let script = script_dir.join("corral-leader-check");
    fs::write(&script, CHECK_SCRIPT).expect("check script");
    fs::set_permissions(&script, fs::Permissions::from_mode(0o755)).expect("chmod");
    let mut keepaliveds = Keepaliveds {
        children: Vec::new(),
        script_dir,
    };
    let vip = format!("10.213.{slot}.{VIP_HOST_BYTE}/24");
    let logs = dir.path().to_path_buf();
    let network = cluster.network();
    let ips: Vec<IpAddr> = names
        .iter()
        .map(|h| network.address_of(h).expect("address"))
        .collect();
    for (index, host) in names.iter().enumerate() {
        let peers: Vec<IpAddr> = ips
            .iter()
            .enumerate()
            .filter(|(other, _)| *other != index)
            .map(|(_, ip)| *ip)
            .collect();
        let conf = dir.path().join(format!("keepalived-{host}.conf"));
        fs::write(&conf, render(ips[index], &peers, &vip, &script, host)).expect("config");
        let log = fs::File::create(logs.join(format!("keepalived-{host}.log"))).expect("log");
        let namespace = network.namespace_of(host).expect("ns").expect("ns");
        let pid = |kind: &str| dir.path().join(format!("{kind}-{host}.pid"));
        let child = Command::new("ip")
            .args(["netns", "exec", &namespace, "keepalived"])
            .args(["--dont-fork", "--log-console", "--log-detail", "--vrrp"])
            .arg("--use-file")
            .arg(&conf)
            .arg("--pid")
            .arg(pid("keepalived"))
            .arg("--vrrp_pid")
            .arg(pid("vrrp"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("starting keepalived");
        keepaliveds.children.push(child);
    }

    let mut leader = wait_for_vip_on(&cluster, &names, &vip, &logs, None);
    for kill in 1..=2 {
        cluster.kill(&leader).expect("killing the leader");
        let next = wait_for_vip_on(&cluster, &names, &vip, &logs, Some(&leader));
        assert_ne!(next, leader, "kill {kill}: a new leader");
        // Bring the killed one back as a follower, so the next kill leaves
        // a majority; the VIP stays where it is.
        cluster.start(&leader).expect("restarting the old leader");
        leader = wait_for_vip_on(&cluster, &names, &vip, &logs, None);
        assert_eq!(leader, next, "kill {kill}: the VIP stays on the new leader");
    }
    drop(keepaliveds);
    cluster.shut_down().expect("shutting the cluster down");
}
