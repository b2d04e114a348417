//! The hosts of a chaos run and the network between them.
//!
//! With network namespaces (root, `ip` from iproute2), each host is a
//! namespace with one interface (`eth0`) on a bridge in the root namespace,
//! where the harness itself runs, so the harness reaches every host
//! whatever faults separate the hosts from each other:
//!
//! ```text
//!  root namespace (the harness)            namespace crl17-controller-1
//!  bridge crl17-br 10.213.17.1/24 ── veth crl17-0 ── eth0 10.213.17.2
//!                                 ── veth crl17-1 ── eth0 10.213.17.3  (crl17-controller-2)
//!                                 ── ...
//! ```
//!
//! Every name starts with `crl<slot>-`, where the slot (0 to 255) is also the
//! third byte of the run's subnet, `10.213.<slot>.0/24`. A run owns its slot
//! by holding an exclusive `flock` on `/run/corral-chaos/slot-<slot>.lock`
//! for as long as it lives, so concurrent runs (and concurrent tests of one
//! process) never share a subnet, and names of a slot whose lock nobody
//! holds are leftovers of a dead run: [`clean_up_leftovers`] (called by
//! every [`Network::create`]) kills the processes left in them and deletes
//! them.
//!
//! Without namespaces (not root, no `ip`), [`Network::create`] falls back to
//! [`Network::Loopback`]: every host is `127.0.0.1`, services get distinct
//! ports, and partitions are refused with [`NetError::Unavailable`].
//!
//! Packet delay, loss and duplication need the kernel's `sch_netem` qdisc:
//! [`Network::netem_available`] says whether this machine has it, and
//! [`Network::set_netem`] refuses, never fakes, when it has not.

mod loopback;
mod namespaces;
mod teardown;

use std::fmt;
use std::net::IpAddr;

pub use loopback::Loopback;
pub use namespaces::{clean_up_leftovers, Namespaces, LOCK_DIR, NAME_PREFIX, SUBNET_PREFIX};
pub(crate) use teardown::{register, Registration, Stage};
pub use teardown::{tear_down_everything, tear_down_on_signals};

/// The most hosts a run may have: `.2` to `.254` of its `/24`.
pub const HOSTS_MAX: usize = 253;
/// The longest host name (a namespace is named `crl<slot>-<host>`).
pub const HOST_NAME_LENGTH_MAX: usize = 48;

/// The name of a host: a controller's (`controller-1`) or a compute node's
/// (`node001`). Lowercase letters, digits and `-`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct HostName(String);

impl HostName {
    pub fn new(name: impl Into<String>) -> Result<HostName, NetError> {
        let name = name.into();
        let valid = !name.is_empty()
            && name.len() <= HOST_NAME_LENGTH_MAX
            && !name.starts_with('-')
            && name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        if valid {
            Ok(HostName(name))
        } else {
            Err(NetError::InvalidHostName(name))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for HostName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for HostName {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// How a cut link fails.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CutStyle {
    /// Packets vanish silently, as behind a dead switch: connections hang
    /// and time out. (Each side's neighbour entry for the other points at
    /// a MAC address nobody has.)
    Drop,
    /// Each side has no route to the other: connecting and sending fail at
    /// once with an error. (A blackhole route in each namespace.)
    Reject,
}

#[derive(Debug, thiserror::Error)]
pub enum NetError {
    #[error("{0:?} is not a host name (lowercase letters, digits and '-', at most {HOST_NAME_LENGTH_MAX})")]
    InvalidHostName(String),
    #[error("host {0} is listed twice")]
    DuplicateHost(String),
    #[error("{count} hosts are more than a run's subnet holds ({HOSTS_MAX})")]
    TooManyHosts { count: usize },
    #[error("unknown host {0:?}")]
    UnknownHost(String),
    #[error("a host cannot be cut from itself ({0})")]
    SameHost(String),
    #[error("{what} is unavailable without network namespaces ({reason})")]
    Unavailable { what: &'static str, reason: String },
    #[error("netem (packet delay, loss, duplication) is unavailable here: {0}")]
    NetemUnavailable(String),
    #[error("no free subnet in {}.{}.0.0/16: every slot is taken by a live run or another interface", SUBNET_PREFIX[0], SUBNET_PREFIX[1])]
    NoFreeSlot,
    #[error("`{command}` failed: {message}")]
    Command { command: String, message: String },
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
}

/// The hosts of a run, in namespaces or, failing that, on loopback.
/// Callers use the methods of `Network` and need not care which.
pub enum Network {
    Namespaces(Namespaces),
    Loopback(Loopback),
}

impl Network {
    /// A namespace per host on a new bridge, or, when this machine cannot
    /// make namespaces, every host on loopback (logged, and told by
    /// [`Network::fallback_reason`]). Removes leftovers of dead runs first.
    pub fn create(run_name: &str, hosts: &[HostName]) -> Result<Network, NetError> {
        check_hosts(hosts)?;
        if let Some(reason) = namespaces_unavailable_reason() {
            return Ok(Network::loopback(run_name, hosts, reason));
        }
        match Namespaces::create(run_name, hosts) {
            Ok(namespaces) => Ok(Network::Namespaces(namespaces)),
            Err(namespaces::CreateError::NotPermitted(reason)) => {
                Ok(Network::loopback(run_name, hosts, reason))
            }
            Err(namespaces::CreateError::Failed(error)) => Err(error),
        }
    }

    /// Every host on `127.0.0.1`, whatever this machine can do.
    pub fn loopback(run_name: &str, hosts: &[HostName], reason: String) -> Network {
        tracing::warn!(
            run = run_name,
            "no network namespaces ({reason}): every host runs on 127.0.0.1; partitions are unavailable"
        );
        Network::Loopback(Loopback::new(hosts, reason))
    }

    /// Why this network is on loopback; `None` with namespaces.
    pub fn fallback_reason(&self) -> Option<&str> {
        match self {
            Network::Namespaces(_) => None,
            Network::Loopback(loopback) => Some(loopback.reason()),
        }
    }

    pub fn hosts(&self) -> &[HostName] {
        match self {
            Network::Namespaces(n) => n.hosts(),
            Network::Loopback(l) => l.hosts(),
        }
    }

    /// The address a host's services listen on and others reach it at.
    pub fn address_of(&self, host: &str) -> Result<IpAddr, NetError> {
        match self {
            Network::Namespaces(n) => n.address_of(host),
            Network::Loopback(l) => l.address_of(host),
        }
    }

    /// The harness's own address as the hosts see it (the bridge's).
    pub fn harness_address(&self) -> IpAddr {
        match self {
            Network::Namespaces(n) => n.bridge_address(),
            Network::Loopback(_) => loopback::ADDRESS,
        }
    }

    /// The port a service of `host` should listen on: `preferred` when each
    /// host has its own address, a port free right now on loopback
    /// (remembered: the same host and preferred port give the same answer).
    pub fn service_port(&self, host: &str, preferred: u16) -> Result<u16, NetError> {
        match self {
            Network::Namespaces(n) => n.address_of(host).map(|_| preferred),
            Network::Loopback(l) => l.service_port(host, preferred),
        }
    }

    /// The words that start a program inside `host`
    /// (`ip netns exec crl17-node001`); empty on loopback.
    pub fn exec_prefix(&self, host: &str) -> Result<Vec<String>, NetError> {
        match self {
            Network::Namespaces(n) => n.exec_prefix(host),
            Network::Loopback(l) => l.address_of(host).map(|_| Vec::new()),
        }
    }

    /// `program` (with no arguments yet) to be run inside `host`.
    pub fn command(
        &self,
        host: &str,
        program: impl AsRef<std::ffi::OsStr>,
    ) -> Result<std::process::Command, NetError> {
        let prefix = self.exec_prefix(host)?;
        Ok(match prefix.split_first() {
            Some((first, rest)) => {
                let mut command = std::process::Command::new(first);
                command.args(rest).arg(program);
                command
            }
            None => std::process::Command::new(program),
        })
    }

    /// The namespace `host` lives in (`crl17-node001`); `None` on loopback.
    pub fn namespace_of(&self, host: &str) -> Result<Option<String>, NetError> {
        match self {
            Network::Namespaces(n) => n.namespace_of(host).map(Some),
            Network::Loopback(l) => l.address_of(host).map(|_| None),
        }
    }

    /// The processes running inside `host` (from `ip netns pids`): whatever
    /// was started there and whatever those started. Unknown on loopback.
    pub fn processes_in(&self, host: &str) -> Result<Vec<i32>, NetError> {
        match self {
            Network::Namespaces(n) => n.processes_in(host),
            Network::Loopback(l) => Err(l.unavailable("finding a host's processes")),
        }
    }

    /// SIGKILLs every process inside `host` and waits until none is left.
    pub fn kill_processes_in(&self, host: &str) -> Result<(), NetError> {
        match self {
            Network::Namespaces(n) => n.kill_processes_in(host),
            Network::Loopback(l) => Err(l.unavailable("finding a host's processes")),
        }
    }

    /// Whether hosts can be cut off from each other.
    pub fn partitions_available(&self) -> bool {
        matches!(self, Network::Namespaces(_))
    }

    /// Cuts the link between `a` and `b`, both ways, silently dropping
    /// packets ([`CutStyle::Drop`]). The harness still reaches both.
    pub fn cut(&self, a: &str, b: &str) -> Result<(), NetError> {
        self.cut_with(a, b, CutStyle::Drop)
    }

    pub fn cut_with(&self, a: &str, b: &str, style: CutStyle) -> Result<(), NetError> {
        match self {
            Network::Namespaces(n) => n.cut(a, b, style),
            Network::Loopback(l) => Err(l.unavailable("cutting links")),
        }
    }

    /// Restores the link between `a` and `b` (nothing to do if not cut).
    pub fn heal(&self, a: &str, b: &str) -> Result<(), NetError> {
        match self {
            Network::Namespaces(n) => n.heal(a, b),
            Network::Loopback(l) => Err(l.unavailable("healing links")),
        }
    }

    /// Cuts `host` from each of `from`.
    pub fn isolate(&self, host: &str, from: &[&str]) -> Result<(), NetError> {
        from.iter().try_for_each(|other| self.cut(host, other))
    }

    /// Cuts every link between a host of `side` and a host of `other`.
    pub fn split(&self, side: &[&str], other: &[&str]) -> Result<(), NetError> {
        for a in side {
            for b in other {
                self.cut(a, b)?;
            }
        }
        Ok(())
    }

    /// Restores every cut link. Nothing to do on loopback.
    pub fn heal_all(&self) -> Result<(), NetError> {
        match self {
            Network::Namespaces(n) => n.heal_all(),
            Network::Loopback(_) => Ok(()),
        }
    }

    /// The links cut now, each pair once.
    pub fn cuts(&self) -> Vec<(HostName, HostName, CutStyle)> {
        match self {
            Network::Namespaces(n) => n.cuts(),
            Network::Loopback(_) => Vec::new(),
        }
    }

    /// Whether this machine can delay, lose and duplicate packets (the
    /// kernel's `sch_netem` and `tc`). Probed once per network.
    pub fn netem_available(&self) -> bool {
        self.netem_unavailable_reason().is_none()
    }

    /// Why netem cannot be used here, if it cannot.
    pub fn netem_unavailable_reason(&self) -> Option<String> {
        match self {
            Network::Namespaces(n) => n.netem_unavailable_reason(),
            Network::Loopback(l) => Some(format!(
                "on loopback every host shares one interface ({})",
                l.reason()
            )),
        }
    }

    /// Applies netem to everything `host` sends, e.g. `delay 50ms 10ms loss 1%`
    /// (`tc qdisc replace ... netem SPEC`); refused when unavailable.
    pub fn set_netem(&self, host: &str, spec: &str) -> Result<(), NetError> {
        if let Some(reason) = self.netem_unavailable_reason() {
            return Err(NetError::NetemUnavailable(reason));
        }
        match self {
            Network::Namespaces(n) => n.set_netem(host, spec),
            Network::Loopback(_) => unreachable!("netem is never available on loopback"),
        }
    }

    /// Removes netem from `host` (nothing to do if none).
    pub fn clear_netem(&self, host: &str) -> Result<(), NetError> {
        match self {
            Network::Namespaces(n) => n.clear_netem(host),
            Network::Loopback(_) => Ok(()),
        }
    }

    /// Kills every process left inside the hosts and removes the
    /// namespaces, veths and bridge. Idempotent; also done on drop.
    pub fn destroy(&mut self) -> Result<(), NetError> {
        match self {
            Network::Namespaces(n) => n.destroy(),
            Network::Loopback(_) => Ok(()),
        }
    }
}

impl fmt::Debug for Network {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Network::Namespaces(n) => write!(f, "Network::Namespaces(slot {})", n.slot()),
            Network::Loopback(_) => f.write_str("Network::Loopback"),
        }
    }
}

/// Why this process cannot make network namespaces, if it cannot. (A
/// machine may still refuse later, e.g. a container without
/// `CAP_NET_ADMIN`: [`Network::create`] falls back then too.)
pub fn namespaces_unavailable_reason() -> Option<String> {
    // SAFETY: geteuid has no preconditions and cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        return Some(
            "not running as root: network namespaces need CAP_SYS_ADMIN and CAP_NET_ADMIN"
                .to_string(),
        );
    }
    match std::process::Command::new("ip")
        .arg("-V")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
    {
        Ok(status) if status.success() => None,
        Ok(status) => Some(format!("`ip -V` failed ({status})")),
        Err(error) => Some(format!("the `ip` command (iproute2) cannot run: {error}")),
    }
}

fn check_hosts(hosts: &[HostName]) -> Result<(), NetError> {
    if hosts.len() > HOSTS_MAX {
        return Err(NetError::TooManyHosts { count: hosts.len() });
    }
    let mut seen = std::collections::BTreeSet::new();
    for host in hosts {
        if !seen.insert(host) {
            return Err(NetError::DuplicateHost(host.to_string()));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_names_are_checked() {
        assert!(HostName::new("controller-1").is_ok());
        assert!(HostName::new("node001").is_ok());
        for bad in ["", "Node1", "a b", "-x", "a/b", &"x".repeat(49)] {
            assert!(HostName::new(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn duplicate_hosts_are_refused() {
        let a = HostName::new("a").unwrap();
        let error = check_hosts(&[a.clone(), a]).unwrap_err();
        assert!(error.to_string().contains("listed twice"), "{error}");
    }
}
