//! Hosts as network namespaces on a bridge, with `ip` (iproute2).

use std::collections::{BTreeMap, BTreeSet};
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::net::{IpAddr, Ipv4Addr};
use std::os::fd::AsRawFd;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use super::{register, CutStyle, HostName, NetError, Registration, Stage};

/// Where runs hold the locks of their slots (`slot-<n>.lock`).
pub const LOCK_DIR: &str = "/run/corral-chaos";
/// Every namespace, veth and bridge of a run is named `crl<slot>-...`.
pub const NAME_PREFIX: &str = "crl";
/// Runs take their `/24` in `10.213.0.0/16`: `10.213.<slot>.0/24`.
pub const SUBNET_PREFIX: [u8; 2] = [10, 213];
/// The interface inside each host's namespace.
pub const HOST_DEVICE: &str = "eth0";
/// A locally administered MAC address no interface has: a host whose
/// neighbour entry for another points here sends into the void.
pub const NOWHERE_MAC: &str = "02:00:00:de:ad:00";
/// How long tearing down waits for the processes in a namespace to die.
pub const PROCESS_EXIT_WAIT_MS: u64 = 5_000;
/// The longest bridge alias the kernel keeps (IFALIASZ - 1).
const ALIAS_LENGTH_MAX: usize = 127;
const SLOT_COUNT: usize = 256;

/// Why namespaces could not be made.
pub(super) enum CreateError {
    /// This machine does not let us (a container without the capability):
    /// fall back to loopback.
    NotPermitted(String),
    Failed(NetError),
}

impl From<NetError> for CreateError {
    fn from(error: NetError) -> CreateError {
        let refused = match &error {
            NetError::Command { message, .. } => message.contains("Operation not permitted"),
            NetError::Io { source, .. } => source.kind() == std::io::ErrorKind::PermissionDenied,
            _ => false,
        };
        if refused {
            CreateError::NotPermitted(error.to_string())
        } else {
            CreateError::Failed(error)
        }
    }
}

/// A run's namespaces, veths and bridge, and the lock on its slot.
pub struct Namespaces {
    slot: u8,
    hosts: Vec<HostName>,
    /// Cut links, by host indexes (smaller first).
    cuts: Mutex<BTreeMap<(usize, usize), CutStyle>>,
    netem_unavailable: OnceLock<Option<String>>,
    /// Held (flock) for as long as the slot is ours.
    lock: Option<File>,
    registration: Option<Registration>,
}

impl Namespaces {
    pub(super) fn create(run_name: &str, hosts: &[HostName]) -> Result<Namespaces, CreateError> {
        clean_up_leftovers()?;
        let (slot, lock) = claim_slot(run_name)?;
        let mut namespaces = Namespaces {
            slot,
            hosts: hosts.to_vec(),
            cuts: Mutex::new(BTreeMap::new()),
            netem_unavailable: OnceLock::new(),
            lock: Some(lock),
            registration: Some(register(Stage::Network, move || {
                if let Err(error) = tear_down_slot(slot) {
                    eprintln!("corral-chaos: removing the namespaces of slot {slot}: {error}");
                }
            })),
        };
        if let Err(error) = namespaces.build(run_name) {
            let _ = namespaces.destroy();
            return Err(error.into());
        }
        tracing::info!(
            run = run_name,
            "network: {} hosts in namespaces {}*, subnet {}/24",
            hosts.len(),
            slot_prefix(slot),
            subnet_address(slot, 0)
        );
        Ok(namespaces)
    }

    fn build(&self, run_name: &str) -> Result<(), NetError> {
        let slot = self.slot;
        let bridge = bridge_name(slot);
        let mut alias = format!("corral-chaos run {run_name} (pid {})", std::process::id());
        alias.truncate(ALIAS_LENGTH_MAX);
        ip(&["link", "add", &bridge, "type", "bridge"])?;
        ip(&["link", "set", "dev", &bridge, "alias", &alias])?;
        let bridge_cidr = format!("{}/24", self.bridge_address());
        ip(&["addr", "add", &bridge_cidr, "dev", &bridge])?;
        ip(&["link", "set", "dev", &bridge, "up"])?;
        for (index, host) in self.hosts.iter().enumerate() {
            let namespace = namespace_name(slot, host);
            let veth = veth_name(slot, index);
            let cidr = format!("{}/24", host_address(slot, index));
            ip(&["netns", "add", &namespace])?;
            ip(&[
                "link",
                "add",
                &veth,
                "type",
                "veth",
                "peer",
                "name",
                HOST_DEVICE,
                "netns",
                &namespace,
            ])?;
            ip(&["link", "set", "dev", &veth, "master", &bridge, "up"])?;
            ip(&["-n", &namespace, "addr", "add", &cidr, "dev", HOST_DEVICE])?;
            ip(&["-n", &namespace, "link", "set", "dev", HOST_DEVICE, "up"])?;
            ip(&["-n", &namespace, "link", "set", "dev", "lo", "up"])?;
        }
        Ok(())
    }

    pub fn slot(&self) -> u8 {
        self.slot
    }

    pub fn hosts(&self) -> &[HostName] {
        &self.hosts
    }

    pub fn bridge_address(&self) -> IpAddr {
        IpAddr::V4(subnet_address(self.slot, 1))
    }

    pub fn address_of(&self, host: &str) -> Result<IpAddr, NetError> {
        Ok(IpAddr::V4(host_address(self.slot, self.index(host)?)))
    }

    pub fn namespace_of(&self, host: &str) -> Result<String, NetError> {
        let index = self.index(host)?;
        Ok(namespace_name(self.slot, &self.hosts[index]))
    }

    pub fn exec_prefix(&self, host: &str) -> Result<Vec<String>, NetError> {
        let namespace = self.namespace_of(host)?;
        Ok(vec!["ip".into(), "netns".into(), "exec".into(), namespace])
    }

    pub(super) fn processes_in(&self, host: &str) -> Result<Vec<i32>, NetError> {
        namespace_pids(&self.namespace_of(host)?)
    }

    pub(super) fn kill_processes_in(&self, host: &str) -> Result<(), NetError> {
        kill_processes_in(&self.namespace_of(host)?)
    }

    pub(super) fn cut(&self, a: &str, b: &str, style: CutStyle) -> Result<(), NetError> {
        let key = self.link(a, b)?;
        let mut cuts = self.cuts.lock().expect("cut table poisoned");
        match cuts.get(&key) {
            Some(existing) if *existing == style => return Ok(()),
            Some(existing) => {
                self.restore(key, *existing)?;
                cuts.remove(&key);
            }
            None => {}
        }
        if let Err(error) = self
            .block(key.0, key.1, style)
            .and_then(|_| self.block(key.1, key.0, style))
        {
            let _ = self.restore(key, style);
            return Err(error);
        }
        cuts.insert(key, style);
        Ok(())
    }

    pub(super) fn heal(&self, a: &str, b: &str) -> Result<(), NetError> {
        let key = self.link(a, b)?;
        let mut cuts = self.cuts.lock().expect("cut table poisoned");
        if let Some(style) = cuts.get(&key).copied() {
            self.restore(key, style)?;
            cuts.remove(&key);
        }
        Ok(())
    }

    pub(super) fn heal_all(&self) -> Result<(), NetError> {
        let mut cuts = self.cuts.lock().expect("cut table poisoned");
        let mut first_error = None;
        for (key, style) in std::mem::take(&mut *cuts) {
            if let Err(error) = self.restore(key, style) {
                cuts.insert(key, style);
                first_error.get_or_insert(error);
            }
        }
        first_error.map_or(Ok(()), Err)
    }

    pub(super) fn cuts(&self) -> Vec<(HostName, HostName, CutStyle)> {
        let cuts = self.cuts.lock().expect("cut table poisoned");
        cuts.iter()
            .map(|((a, b), style)| (self.hosts[*a].clone(), self.hosts[*b].clone(), *style))
            .collect()
    }

    /// Makes `from` unable to reach `to`.
    fn block(&self, from: usize, to: usize, style: CutStyle) -> Result<(), NetError> {
        let namespace = namespace_name(self.slot, &self.hosts[from]);
        let target = host_address(self.slot, to).to_string();
        match style {
            CutStyle::Drop => ip(&[
                "-n",
                &namespace,
                "neigh",
                "replace",
                &target,
                "lladdr",
                NOWHERE_MAC,
                "nud",
                "permanent",
                "dev",
                HOST_DEVICE,
            ]),
            CutStyle::Reject => ip(&[
                "-n",
                &namespace,
                "route",
                "replace",
                "blackhole",
                &format!("{target}/32"),
            ]),
        }
        .map(|_| ())
    }

    /// Undoes `block` both ways; a side never blocked is fine.
    fn restore(&self, (a, b): (usize, usize), style: CutStyle) -> Result<(), NetError> {
        let mut first_error = None;
        for (from, to) in [(a, b), (b, a)] {
            let namespace = namespace_name(self.slot, &self.hosts[from]);
            let target = host_address(self.slot, to).to_string();
            let result = match style {
                CutStyle::Drop => ip(&[
                    "-n",
                    &namespace,
                    "neigh",
                    "del",
                    &target,
                    "dev",
                    HOST_DEVICE,
                ]),
                CutStyle::Reject => ip(&[
                    "-n",
                    &namespace,
                    "route",
                    "del",
                    "blackhole",
                    &format!("{target}/32"),
                ]),
            };
            match result {
                Err(NetError::Command { message, .. })
                    if message.contains("No such") || message.contains("Cannot find") => {}
                Err(error) => {
                    first_error.get_or_insert(error);
                }
                Ok(_) => {}
            }
        }
        first_error.map_or(Ok(()), Err)
    }

    pub(super) fn netem_unavailable_reason(&self) -> Option<String> {
        self.netem_unavailable
            .get_or_init(|| self.probe_netem())
            .clone()
    }

    /// Adds a no-op netem qdisc to the first host and removes it again.
    fn probe_netem(&self) -> Option<String> {
        let Some(host) = self.hosts.first() else {
            return Some("no host to try it on".to_string());
        };
        let namespace = namespace_name(self.slot, host);
        let added = run(
            "tc",
            &[
                "-n",
                &namespace,
                "qdisc",
                "add",
                "dev",
                HOST_DEVICE,
                "root",
                "netem",
                "delay",
                "0ms",
            ],
        );
        match added {
            Ok(_) => {
                let _ = run(
                    "tc",
                    &["-n", &namespace, "qdisc", "del", "dev", HOST_DEVICE, "root"],
                );
                None
            }
            Err(error) => Some(error.to_string()),
        }
    }

    pub(super) fn set_netem(&self, host: &str, spec: &str) -> Result<(), NetError> {
        let namespace = self.namespace_of(host)?;
        let mut args = vec![
            "-n",
            &namespace,
            "qdisc",
            "replace",
            "dev",
            HOST_DEVICE,
            "root",
            "netem",
        ];
        args.extend(spec.split_whitespace());
        run("tc", &args).map(|_| ())
    }

    pub(super) fn clear_netem(&self, host: &str) -> Result<(), NetError> {
        let namespace = self.namespace_of(host)?;
        match run(
            "tc",
            &["-n", &namespace, "qdisc", "del", "dev", HOST_DEVICE, "root"],
        ) {
            Err(NetError::Command { message, .. })
                if message.contains("handle of zero") || message.contains("No such") =>
            {
                Ok(())
            }
            other => other.map(|_| ()),
        }
    }

    pub(super) fn destroy(&mut self) -> Result<(), NetError> {
        let Some(lock) = self.lock.take() else {
            return Ok(());
        };
        let result = tear_down_slot(self.slot);
        self.registration = None;
        drop(lock);
        result
    }

    fn index(&self, host: &str) -> Result<usize, NetError> {
        self.hosts
            .iter()
            .position(|h| h.as_str() == host)
            .ok_or_else(|| NetError::UnknownHost(host.to_string()))
    }

    /// The two hosts' indexes, smaller first.
    fn link(&self, a: &str, b: &str) -> Result<(usize, usize), NetError> {
        let (i, j) = (self.index(a)?, self.index(b)?);
        if i == j {
            return Err(NetError::SameHost(a.to_string()));
        }
        Ok((i.min(j), i.max(j)))
    }
}

impl Drop for Namespaces {
    fn drop(&mut self) {
        if let Err(error) = self.destroy() {
            tracing::warn!("network: removing slot {}: {error}", self.slot);
        }
    }
}

/// Removes what dead runs left behind: for every slot with names of ours
/// whose lock nobody holds, kills the processes inside its namespaces and
/// deletes its namespaces, veths and bridge. Returns how many slots it
/// cleaned. Live runs (their locks held) are left alone.
pub fn clean_up_leftovers() -> Result<usize, NetError> {
    let mut slots = BTreeSet::new();
    for name in namespace_names()?.into_iter().chain(link_names()?) {
        if let Some(slot) = slot_of(&name) {
            slots.insert(slot);
        }
    }
    let mut cleaned = 0;
    for slot in slots {
        if let Some(_lock) = try_lock_slot(slot)? {
            tracing::info!(
                "network: removing leftovers of a dead run ({}*)",
                slot_prefix(slot)
            );
            tear_down_slot(slot)?;
            cleaned += 1;
        }
    }
    Ok(cleaned)
}

/// Takes the first slot that is free: its lock not held, no address of the
/// machine in its subnet. Starts from the process id, so that concurrent
/// runs rarely try the same slots.
fn claim_slot(run_name: &str) -> Result<(u8, File), NetError> {
    let start = std::process::id() as usize;
    for offset in 0..SLOT_COUNT {
        let slot = ((start + offset) % SLOT_COUNT) as u8;
        let Some(mut lock) = try_lock_slot(slot)? else {
            continue;
        };
        tear_down_slot(slot)?;
        if subnet_in_use(slot)? {
            continue;
        }
        // For people looking at the lock directory; the lock is the flock.
        let _ = lock.set_len(0);
        let _ = writeln!(lock, "pid {} run {run_name}", std::process::id());
        return Ok((slot, lock));
    }
    Err(NetError::NoFreeSlot)
}

fn lock_path(slot: u8) -> PathBuf {
    PathBuf::from(LOCK_DIR).join(format!("slot-{slot}.lock"))
}

/// The slot's lock file, locked, or `None` if another holder has it.
/// (`flock` locks belong to the open file, so two networks of one process
/// exclude each other too; the lock dies with the process.)
fn try_lock_slot(slot: u8) -> Result<Option<File>, NetError> {
    let io_error = |path: &PathBuf, source| NetError::Io {
        path: path.display().to_string(),
        source,
    };
    let dir = PathBuf::from(LOCK_DIR);
    std::fs::create_dir_all(&dir).map_err(|e| io_error(&dir, e))?;
    let path = lock_path(slot);
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(|e| io_error(&path, e))?;
    // SAFETY: flock on a descriptor we own; it does not outlive `file`.
    let locked = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } == 0;
    if locked {
        return Ok(Some(file));
    }
    let error = std::io::Error::last_os_error();
    if error.raw_os_error() == Some(libc::EWOULDBLOCK) {
        Ok(None)
    } else {
        Err(io_error(&path, error))
    }
}

/// Kills the processes in the slot's namespaces, then deletes its links
/// (veths and bridge) and namespaces. Goes on after an error, reports the first.
fn tear_down_slot(slot: u8) -> Result<(), NetError> {
    let prefix = slot_prefix(slot);
    let mut first_error = None;
    let namespaces: Vec<String> = namespace_names()?
        .into_iter()
        .filter(|name| name.starts_with(&prefix))
        .collect();
    for namespace in &namespaces {
        if let Err(error) = kill_processes_in(namespace) {
            first_error.get_or_insert(error);
        }
    }
    // Deleting the root side of a veth deletes both ends at once; deleting
    // a namespace alone leaves its veth to the kernel's later cleanup.
    let mut links: Vec<String> = link_names()?
        .into_iter()
        .filter(|name| name.starts_with(&prefix))
        .collect();
    links.sort_by_key(|name| name == &bridge_name(slot));
    for link in &links {
        match ip(&["link", "del", "dev", link]) {
            Err(NetError::Command { message, .. }) if message.contains("Cannot find") => {}
            Err(error) => {
                first_error.get_or_insert(error);
            }
            Ok(_) => {}
        }
    }
    for namespace in &namespaces {
        if let Err(error) = ip(&["netns", "del", namespace]) {
            first_error.get_or_insert(error);
        }
    }
    first_error.map_or(Ok(()), Err)
}

/// SIGKILLs every process in `namespace` until none is left.
fn kill_processes_in(namespace: &str) -> Result<(), NetError> {
    let deadline = Instant::now() + Duration::from_millis(PROCESS_EXIT_WAIT_MS);
    loop {
        let pids = namespace_pids(namespace)?;
        if pids.is_empty() {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(NetError::Command {
                command: format!("ip netns pids {namespace}"),
                message: format!(
                    "processes {pids:?} still alive {PROCESS_EXIT_WAIT_MS} ms after SIGKILL"
                ),
            });
        }
        for pid in pids {
            // SAFETY: kill(2) has no memory-safety preconditions; these are
            // processes inside a namespace this harness made.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The processes inside `namespace`. (A zombie has left every namespace:
/// killed children of the harness are not listed while they wait to be reaped.)
fn namespace_pids(namespace: &str) -> Result<Vec<i32>, NetError> {
    let output = ip(&["netns", "pids", namespace])?;
    Ok(output
        .split_whitespace()
        .filter_map(|pid| pid.parse().ok())
        .collect())
}

fn namespace_names() -> Result<Vec<String>, NetError> {
    let output = ip(&["netns", "list"])?;
    Ok(output
        .lines()
        .filter_map(|line| line.split_whitespace().next())
        .map(str::to_string)
        .collect())
}

/// Links of the root namespace, without their `@peer` part.
fn link_names() -> Result<Vec<String>, NetError> {
    let output = ip(&["-o", "link", "show"])?;
    Ok(output
        .lines()
        .filter_map(|line| line.split(": ").nth(1))
        .map(|name| name.split('@').next().unwrap_or(name).to_string())
        .collect())
}

fn subnet_in_use(slot: u8) -> Result<bool, NetError> {
    let subnet = format!("{}.{}.{slot}.", SUBNET_PREFIX[0], SUBNET_PREFIX[1]);
    let addresses = ip(&["-o", "-4", "addr", "show"])?;
    let routes = ip(&["-4", "route", "show", "table", "all"])?;
    Ok(addresses.contains(&format!("inet {subnet}"))
        || routes.lines().any(|l| l.starts_with(&subnet)))
}

/// `crl17-` for slot 17.
fn slot_prefix(slot: u8) -> String {
    format!("{NAME_PREFIX}{slot}-")
}

/// The slot of one of our names: `crl17-node001` is slot 17.
fn slot_of(name: &str) -> Option<u8> {
    let rest = name.strip_prefix(NAME_PREFIX)?;
    let (digits, _) = rest.split_once('-')?;
    let slot: u8 = digits.parse().ok()?;
    (slot.to_string() == digits).then_some(slot)
}

fn bridge_name(slot: u8) -> String {
    format!("{NAME_PREFIX}{slot}-br")
}

fn veth_name(slot: u8, index: usize) -> String {
    format!("{NAME_PREFIX}{slot}-{index}")
}

fn namespace_name(slot: u8, host: &HostName) -> String {
    format!("{NAME_PREFIX}{slot}-{host}")
}

fn subnet_address(slot: u8, last: u8) -> Ipv4Addr {
    Ipv4Addr::new(SUBNET_PREFIX[0], SUBNET_PREFIX[1], slot, last)
}

/// Host `index` is `.index+2` (the bridge is `.1`).
fn host_address(slot: u8, index: usize) -> Ipv4Addr {
    subnet_address(slot, (index + 2) as u8)
}

fn ip(args: &[&str]) -> Result<String, NetError> {
    run("ip", args)
}

/// Runs a command to completion; its stdout, or its stderr as the error.
fn run(program: &str, args: &[&str]) -> Result<String, NetError> {
    let command = format!("{program} {}", args.join(" "));
    let output = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|error| NetError::Command {
            command: command.clone(),
            message: error.to_string(),
        })?;
    if output.status.success() {
        return Ok(String::from_utf8_lossy(&output.stdout).into_owned());
    }
    let stderr = String::from_utf8_lossy(&output.stderr).trim().to_string();
    Err(NetError::Command {
        command,
        message: if stderr.is_empty() {
            output.status.to_string()
        } else {
            stderr
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_tell_their_slot() {
        assert_eq!(slot_of("crl17-node001"), Some(17));
        assert_eq!(slot_of("crl0-br"), Some(0));
        assert_eq!(slot_of("crl255-3"), Some(255));
        for other in ["crl256-x", "crl017-x", "crl-x", "crlx-1", "eth0", "crl17"] {
            assert_eq!(slot_of(other), None, "{other}");
        }
        assert_eq!(slot_of(&bridge_name(9)), Some(9));
        assert_eq!(slot_of(&veth_name(9, 12)), Some(9));
    }

    #[test]
    fn names_fit_the_kernel_limit() {
        // Interface names have at most 15 characters (IFNAMSIZ - 1).
        assert!(bridge_name(255).len() <= 15);
        assert!(veth_name(255, super::super::HOSTS_MAX - 1).len() <= 15);
    }

    #[test]
    fn addresses_leave_the_first_to_the_bridge() {
        assert_eq!(host_address(17, 0), Ipv4Addr::new(10, 213, 17, 2));
        assert_eq!(host_address(17, 252), Ipv4Addr::new(10, 213, 17, 254));
        assert_eq!(subnet_address(17, 1), Ipv4Addr::new(10, 213, 17, 1));
    }
}
