//! Every host on `127.0.0.1`: the fallback where namespaces cannot be made.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, TcpListener, UdpSocket};
use std::sync::Mutex;

use super::{HostName, NetError};

pub const ADDRESS: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
/// Ports tried before giving up on finding one free for TCP and UDP alike.
pub const FREE_PORT_ATTEMPTS_MAX: usize = 100;

/// Hosts that share loopback; services tell themselves apart by port.
pub struct Loopback {
    hosts: Vec<HostName>,
    reason: String,
    /// (host, preferred port) to the port handed out for it.
    ports: Mutex<BTreeMap<(HostName, u16), u16>>,
}

impl Loopback {
    pub(super) fn new(hosts: &[HostName], reason: String) -> Loopback {
        Loopback {
            hosts: hosts.to_vec(),
            reason,
            ports: Mutex::new(BTreeMap::new()),
        }
    }

    pub fn hosts(&self) -> &[HostName] {
        &self.hosts
    }

    /// Why namespaces were not used.
    pub fn reason(&self) -> &str {
        &self.reason
    }

    pub fn address_of(&self, host: &str) -> Result<IpAddr, NetError> {
        self.host(host).map(|_| ADDRESS)
    }

    /// A port free on both TCP and UDP right now (a controller serves gRPC
    /// and QUIC on the same number). Another process could take it before
    /// the service binds it; the service then says so in its log.
    pub fn service_port(&self, host: &str, preferred: u16) -> Result<u16, NetError> {
        let host = self.host(host)?.clone();
        let mut ports = self.ports.lock().expect("port map poisoned");
        if let Some(port) = ports.get(&(host.clone(), preferred)) {
            return Ok(*port);
        }
        let port = free_port().map_err(|source| NetError::Io {
            path: "127.0.0.1:0".to_string(),
            source,
        })?;
        ports.insert((host, preferred), port);
        Ok(port)
    }

    pub(super) fn unavailable(&self, what: &'static str) -> NetError {
        NetError::Unavailable {
            what,
            reason: self.reason.clone(),
        }
    }

    fn host(&self, host: &str) -> Result<&HostName, NetError> {
        self.hosts
            .iter()
            .find(|h| h.as_str() == host)
            .ok_or_else(|| NetError::UnknownHost(host.to_string()))
    }
}

fn free_port() -> std::io::Result<u16> {
    for _ in 0..FREE_PORT_ATTEMPTS_MAX {
        let listener = TcpListener::bind((ADDRESS, 0))?;
        let port = listener.local_addr()?.port();
        if UdpSocket::bind((ADDRESS, port)).is_ok() {
            return Ok(port);
        }
    }
    Err(std::io::Error::other(format!(
        "no port free for both TCP and UDP in {FREE_PORT_ATTEMPTS_MAX} attempts"
    )))
}
