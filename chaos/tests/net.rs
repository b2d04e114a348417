//! The network of a chaos run, for real: namespaces on a bridge, links cut
//! and healed, and nothing left behind. Helper processes (tiny `python3`
//! servers and clients) run inside the hosts through `exec_prefix`; the test
//! itself talks from the root namespace with `std::net`, as the harness does.
//!
//! Tests that need namespaces print why and pass when this machine cannot
//! make them (not root, no `ip`); the loopback test runs everywhere.

use std::io::{BufRead, BufReader};
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::os::fd::AsRawFd;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use corral_chaos::net::{self, CutStyle, HostName, NetError, Network};

const PORT: u16 = 7000;
/// How long a connection attempt across a link may take before it counts
/// as cut.
const CONNECT_TIMEOUT_S: f64 = 1.0;

fn namespaces_available(test: &str) -> bool {
    match net::namespaces_unavailable_reason() {
        None => true,
        Some(reason) => {
            eprintln!("SKIPPED {test}: this machine cannot make network namespaces: {reason}");
            false
        }
    }
}

fn hosts(names: &[&str]) -> Vec<HostName> {
    names.iter().map(|n| HostName::new(*n).unwrap()).collect()
}

fn namespaces(run: &str, names: &[&str]) -> Network {
    let network = Network::create(run, &hosts(names)).unwrap();
    assert!(
        network.partitions_available(),
        "fell back to loopback as root: {:?}",
        network.fallback_reason()
    );
    network
}

/// A TCP server inside a host that accepts and closes connections.
struct Server {
    child: Child,
}

impl Server {
    fn start(network: &Network, host: &str) -> Server {
        let address = network.address_of(host).unwrap();
        let script = "import socket, sys\n\
                      s = socket.socket()\n\
                      s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n\
                      s.bind((sys.argv[1], int(sys.argv[2])))\n\
                      s.listen(64)\n\
                      print('ready', flush=True)\n\
                      while True:\n    s.accept()[0].close()\n";
        let mut child = network
            .command(host, "python3")
            .unwrap()
            .args(["-c", script, &address.to_string(), &PORT.to_string()])
            .stdout(Stdio::piped())
            .spawn()
            .expect("python3 runs");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert_eq!(line.trim(), "ready", "the server in {host} did not start");
        Server { child }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Connects from inside `from` to `to`'s server; the error Python gave if
/// it could not.
fn connect_from(network: &Network, from: &str, to: &str) -> Result<(), String> {
    let address = network.address_of(to).unwrap();
    let output = network
        .command(from, "python3")
        .unwrap()
        .args([
            "-c",
            "import socket, sys\nsocket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=float(sys.argv[3]))",
            &address.to_string(),
            &PORT.to_string(),
            &CONNECT_TIMEOUT_S.to_string(),
        ])
        .output()
        .unwrap();
    if output.status.success() {
        Ok(())
    } else {
        let stderr = String::from_utf8_lossy(&output.stderr);
        Err(stderr.lines().last().unwrap_or("").to_string())
    }
}

/// Connects from the root namespace, as the harness does.
fn connect_from_harness(network: &Network, to: &str) -> std::io::Result<TcpStream> {
    let address = SocketAddr::new(network.address_of(to).unwrap(), PORT);
    TcpStream::connect_timeout(&address, Duration::from_secs_f64(CONNECT_TIMEOUT_S))
}

fn net_namespace_of_process(pid: u32) -> String {
    std::fs::read_link(format!("/proc/{pid}/ns/net"))
        .unwrap()
        .display()
        .to_string()
}

fn ip(args: &[&str]) -> String {
    let output = Command::new("ip").args(args).output().unwrap();
    assert!(output.status.success(), "ip {args:?}: {output:?}");
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Names of ours (`crl<slot>-...`) that exist now: namespaces and links.
fn names_of_slot(prefix: &str) -> Vec<String> {
    let namespaces = ip(&["netns", "list"]);
    let links = ip(&["-o", "link", "show"]);
    let mut names: Vec<String> = namespaces
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .map(str::to_string)
        .collect();
    names.extend(
        links
            .lines()
            .filter_map(|l| l.split(": ").nth(1))
            .map(|n| n.split('@').next().unwrap().to_string()),
    );
    names.retain(|name| name.starts_with(prefix));
    names
}

/// `crl17-` for a network whose host `host` lives in `crl17-host`.
fn slot_prefix(network: &Network, host: &str) -> String {
    let namespace = network.namespace_of(host).unwrap().unwrap();
    let prefix = namespace.strip_suffix(host).unwrap().to_string();
    assert!(
        prefix.starts_with(net::NAME_PREFIX) && prefix.ends_with('-'),
        "{prefix}"
    );
    prefix
}

#[test]
fn hosts_talk_through_the_bridge_and_the_harness_reaches_them() {
    if !namespaces_available("hosts_talk_through_the_bridge_and_the_harness_reaches_them") {
        return;
    }
    let network = namespaces("talk", &["alpha", "beta"]);
    let (a, b) = (
        network.address_of("alpha").unwrap(),
        network.address_of("beta").unwrap(),
    );
    assert_ne!(a, b);
    for address in [a, b, network.harness_address()] {
        let IpAddr::V4(v4) = address else {
            panic!("{address} is not IPv4")
        };
        assert_eq!(v4.octets()[..2], net::SUBNET_PREFIX, "{address}");
    }
    let server = Server::start(&network, "alpha");
    assert_ne!(
        net_namespace_of_process(server.pid()),
        net_namespace_of_process(std::process::id()),
        "the server runs in the harness's namespace"
    );
    connect_from(&network, "beta", "alpha").expect("beta reaches alpha");
    connect_from_harness(&network, "alpha").expect("the harness reaches alpha");
    assert!(matches!(
        network.address_of("gamma"),
        Err(NetError::UnknownHost(_))
    ));
}

#[test]
fn a_cut_link_fails_both_ways_until_healed_and_spares_the_others() {
    if !namespaces_available("a_cut_link_fails_both_ways_until_healed_and_spares_the_others") {
        return;
    }
    let network = namespaces("cut", &["alpha", "beta", "gamma"]);
    let _servers = [
        Server::start(&network, "alpha"),
        Server::start(&network, "beta"),
    ];
    connect_from(&network, "beta", "alpha").expect("before the cut");

    network.cut("alpha", "beta").unwrap();
    let error = connect_from(&network, "beta", "alpha").unwrap_err();
    assert!(
        error.contains("timed out"),
        "a dropped link should time out: {error}"
    );
    let error = connect_from(&network, "alpha", "beta").unwrap_err();
    assert!(error.contains("timed out"), "{error}");
    connect_from(&network, "gamma", "alpha").expect("gamma is not cut");
    connect_from_harness(&network, "alpha").expect("the harness is never cut");
    connect_from_harness(&network, "beta").expect("the harness is never cut");
    assert_eq!(network.cuts().len(), 1);

    network.heal("beta", "alpha").unwrap();
    connect_from(&network, "beta", "alpha").expect("healed");
    connect_from(&network, "alpha", "beta").expect("healed");
    assert!(network.cuts().is_empty());

    network.cut_with("alpha", "beta", CutStyle::Reject).unwrap();
    let started = Instant::now();
    let error = connect_from(&network, "beta", "alpha").unwrap_err();
    assert!(
        !error.contains("timed out"),
        "a rejected link fails at once: {error}"
    );
    assert!(started.elapsed() < Duration::from_secs_f64(CONNECT_TIMEOUT_S));

    network.isolate("alpha", &["beta", "gamma"]).unwrap();
    assert_eq!(network.cuts().len(), 2);
    connect_from(&network, "gamma", "alpha").unwrap_err();
    connect_from(&network, "gamma", "beta").expect("isolating alpha spares beta and gamma");
    network.heal_all().unwrap();
    connect_from(&network, "beta", "alpha").expect("heal_all");
    connect_from(&network, "gamma", "alpha").expect("heal_all");
    assert!(matches!(
        network.cut("alpha", "alpha"),
        Err(NetError::SameHost(_))
    ));
}

#[test]
fn destroy_removes_every_namespace_link_and_process() {
    if !namespaces_available("destroy_removes_every_namespace_link_and_process") {
        return;
    }
    let mut network = namespaces("destroy", &["alpha", "beta"]);
    let prefix = slot_prefix(&network, "alpha");
    assert_eq!(
        names_of_slot(&prefix).len(),
        5,
        "2 namespaces, 2 veths, a bridge"
    );
    let mut server = Server::start(&network, "alpha");
    network.destroy().unwrap();
    assert_eq!(names_of_slot(&prefix), Vec::<String>::new());
    let status = server.child.wait().unwrap();
    assert!(!status.success(), "the server inside was killed: {status}");
    network.destroy().expect("destroying twice is fine");
}

#[test]
fn leftovers_of_a_dead_run_are_removed() {
    if !namespaces_available("leftovers_of_a_dead_run_are_removed") {
        return;
    }
    // Play a dead run: hold a free slot's lock while making a namespace
    // with a process in it, then let go of the lock as a dying run does.
    let (slot, lock) = (0..=255u8)
        .rev()
        .find_map(|slot| {
            std::fs::create_dir_all(net::LOCK_DIR).unwrap();
            let path = format!("{}/slot-{slot}.lock", net::LOCK_DIR);
            let file = std::fs::OpenOptions::new()
                .create(true)
                .truncate(false)
                .write(true)
                .open(path)
                .unwrap();
            // SAFETY: flock on a descriptor we own.
            let locked = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
            (locked == 0).then_some((slot, file))
        })
        .expect("a free slot");
    let namespace = format!("{}{slot}-leftover", net::NAME_PREFIX);
    ip(&["netns", "add", &namespace]);
    let mut orphan = Command::new("ip")
        .args(["netns", "exec", &namespace, "sleep", "600"])
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while ip(&["netns", "pids", &namespace]).trim().is_empty() {
        assert!(Instant::now() < deadline, "sleep never entered {namespace}");
        std::thread::sleep(Duration::from_millis(10));
    }
    drop(lock);

    net::clean_up_leftovers().unwrap();
    assert_eq!(
        names_of_slot(&format!("{}{slot}-", net::NAME_PREFIX)),
        Vec::<String>::new()
    );
    let status = orphan.wait().unwrap();
    assert!(!status.success(), "the orphan was killed: {status}");
}

#[test]
fn netem_is_used_where_the_kernel_has_it_and_refused_where_not() {
    if !namespaces_available("netem_is_used_where_the_kernel_has_it_and_refused_where_not") {
        return;
    }
    let network = namespaces("netem", &["alpha"]);
    match network.netem_unavailable_reason() {
        None => {
            network.set_netem("alpha", "delay 5ms").unwrap();
            network.clear_netem("alpha").unwrap();
        }
        Some(reason) => {
            eprintln!("netem is unavailable here: {reason}");
            assert!(!network.netem_available());
            let error = network.set_netem("alpha", "delay 5ms").unwrap_err();
            assert!(matches!(error, NetError::NetemUnavailable(_)), "{error}");
            assert!(error.to_string().contains(&reason), "{error}");
        }
    }
}

#[test]
fn loopback_gives_distinct_ports_and_refuses_partitions() {
    let mut network = Network::loopback(
        "loopback",
        &hosts(&["alpha", "beta"]),
        "chosen by the test".to_string(),
    );
    assert_eq!(network.fallback_reason(), Some("chosen by the test"));
    assert!(!network.partitions_available());
    assert!(network.address_of("alpha").unwrap().is_loopback());
    assert!(network.exec_prefix("alpha").unwrap().is_empty());
    let a = network.service_port("alpha", PORT).unwrap();
    let b = network.service_port("beta", PORT).unwrap();
    assert_ne!(a, b);
    assert_eq!(
        network.service_port("alpha", PORT).unwrap(),
        a,
        "remembered"
    );
    let error = network.cut("alpha", "beta").unwrap_err();
    assert!(
        error
            .to_string()
            .contains("unavailable without network namespaces (chosen by the test)"),
        "{error}"
    );
    assert!(network.isolate("alpha", &["beta"]).is_err());
    assert!(!network.netem_available());
    network.heal_all().unwrap();
    network.destroy().unwrap();
}

/// Set in a copy of this test binary that plays a harness run.
const HELPER_ENV: &str = "CORRAL_CHAOS_TEST_HELPER";
/// What the helper prints once its network is made (libtest prints
/// `test NAME ... ` before it, on the same line).
const HELPER_READY: &str = "HELPER-READY ";
/// A helper whose test went away ends by itself after this long.
const HELPER_LIFETIME: Duration = Duration::from_secs(60);

/// Plays a run: makes a network with a process inside, says where, waits
/// to be interrupted or killed.
fn play_a_run() -> ! {
    // SAFETY: prctl(PR_SET_PDEATHSIG) only sets a flag of this process:
    // if the test that started it dies, the helper is interrupted too.
    unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM) };
    net::tear_down_on_signals().unwrap();
    let network = namespaces("helper", &["alpha"]);
    let sleeper = network
        .command("alpha", "sleep")
        .unwrap()
        .arg("600")
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let namespace = network.namespace_of("alpha").unwrap().unwrap();
    println!("{HELPER_READY}{namespace} {}", sleeper.id());
    std::thread::sleep(HELPER_LIFETIME);
    net::tear_down_everything();
    std::process::exit(1);
}

/// Starts this test again as a helper run; returns it, its namespace and
/// the pid of the process it started inside.
fn start_a_run(test: &str) -> (Child, String, i32) {
    let mut helper = Command::new(std::env::current_exe().unwrap())
        .args([test, "--exact", "--nocapture", "--test-threads=1"])
        .env(HELPER_ENV, "1")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = BufReader::new(helper.stdout.take().unwrap());
    for line in stdout.lines() {
        let line = line.unwrap();
        if let Some((_, rest)) = line.split_once(HELPER_READY) {
            let (namespace, pid) = rest.trim().split_once(' ').unwrap();
            return (helper, namespace.to_string(), pid.parse().unwrap());
        }
    }
    panic!(
        "the helper run ended before it was ready: {:?}",
        helper.wait()
    );
}

fn is_alive(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| !stat.contains(") Z "))
}

#[test]
fn an_interrupted_run_removes_its_network() {
    if std::env::var_os(HELPER_ENV).is_some() {
        play_a_run();
    }
    if !namespaces_available("an_interrupted_run_removes_its_network") {
        return;
    }
    let (mut helper, namespace, sleeper) = start_a_run("an_interrupted_run_removes_its_network");
    assert!(namespace_names_now().contains(&namespace));
    // SAFETY: kill(2) on our own child.
    unsafe { libc::kill(helper.id() as i32, libc::SIGINT) };
    let status = helper.wait().unwrap();
    assert_eq!(status.code(), Some(130), "{status}");
    assert!(
        !namespace_names_now().contains(&namespace),
        "{namespace} left behind"
    );
    assert!(!is_alive(sleeper), "the process inside outlived the run");
}

#[test]
fn a_killed_run_is_cleaned_up_by_the_next() {
    if std::env::var_os(HELPER_ENV).is_some() {
        play_a_run();
    }
    if !namespaces_available("a_killed_run_is_cleaned_up_by_the_next") {
        return;
    }
    let (mut helper, namespace, sleeper) = start_a_run("a_killed_run_is_cleaned_up_by_the_next");
    helper.kill().unwrap();
    helper.wait().unwrap();
    assert!(
        namespace_names_now().contains(&namespace),
        "SIGKILL cannot clean up"
    );
    assert!(is_alive(sleeper));
    net::clean_up_leftovers().unwrap();
    assert!(
        !namespace_names_now().contains(&namespace),
        "{namespace} left behind"
    );
    let deadline = Instant::now() + Duration::from_secs(5);
    while is_alive(sleeper) {
        assert!(Instant::now() < deadline, "the orphan {sleeper} survived");
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn namespace_names_now() -> Vec<String> {
    ip(&["netns", "list"])
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .map(str::to_string)
        .collect()
}
