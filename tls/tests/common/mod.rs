//! A cluster's worth of certificates and an in-memory TLS handshake.
//!
//! The handshake is real rustls on both ends, with real keys and real
//! verification; only the wire is a pair of byte buffers.

#![allow(dead_code)] // each test binary uses a different part of this module

use std::ops::DerefMut;
use std::sync::Arc;

use corral_tls::certs::{generate_ca, issue_controller, issue_node, CaBundle, CertBundle};
use corral_tls::config::{client_config, server_config, ClientAuth, ALPN_GRPC};
use corral_tls::load::{CaCertificates, Identity};
use rustls::pki_types::ServerName;
use rustls::{ClientConnection, ConnectionCommon, ServerConnection};

/// A handshake takes a handful of flights; more means something loops.
const HANDSHAKE_ROUNDS_MAX: usize = 16;

/// One cluster CA with two controllers and a node, as `corral certs` makes them.
pub struct Cluster {
    pub ca_bundle: CaBundle,
    pub ca: CaCertificates,
    pub controller_1: Identity,
    pub controller_2: Identity,
    pub node: Identity,
}

impl Cluster {
    pub fn new(name: &str) -> Self {
        let ca_bundle = generate_ca(name).unwrap();
        let ca = CaCertificates::from_pem(
            format!("{name}/ca.pem"),
            ca_bundle.cert_pem.clone().into_bytes(),
        )
        .unwrap();
        let hosts_1 = ["127.0.0.1".to_owned(), "ctl1.example".to_owned()];
        let controller_1 = identity(
            &format!("{name}/controller-1.pem"),
            &issue_controller(&ca_bundle, 1, &hosts_1).unwrap(),
        );
        let hosts_2 = ["127.0.0.2".to_owned()];
        let controller_2 = identity(
            &format!("{name}/controller-2.pem"),
            &issue_controller(&ca_bundle, 2, &hosts_2).unwrap(),
        );
        let node = identity(
            &format!("{name}/node-node001.pem"),
            &issue_node(&ca_bundle, "node001").unwrap(),
        );
        Self {
            ca_bundle,
            ca,
            controller_1,
            controller_2,
            node,
        }
    }
}

pub fn identity(label: &str, bundle: &CertBundle) -> Identity {
    Identity::from_pem(label, &bundle.cert_pem, &bundle.key_pem).unwrap()
}

/// Which side gave up, and why.
#[derive(Debug)]
pub enum Failure {
    Client(rustls::Error),
    Server(rustls::Error),
}

/// Both ends of a finished handshake, for inspecting what each side saw.
pub struct Connected {
    pub client: ClientConnection,
    pub server: ServerConnection,
}

/// Runs a gRPC-style (ALPN h2) handshake: `server_identity` listening with
/// `client_auth`, a client trusting `client_ca` and presenting
/// `client_identity`, dialling `server_name`.
pub fn connect(
    server_ca: &CaCertificates,
    server_identity: &Identity,
    client_auth: ClientAuth,
    client_ca: &CaCertificates,
    client_identity: Option<&Identity>,
    server_name: &str,
) -> Result<Connected, Failure> {
    let server_config = server_config(server_ca, server_identity, client_auth, ALPN_GRPC).unwrap();
    let client_config = client_config(client_ca, client_identity, ALPN_GRPC).unwrap();
    let name = ServerName::try_from(server_name.to_owned()).unwrap();
    let mut client = ClientConnection::new(Arc::new(client_config), name).unwrap();
    let mut server = ServerConnection::new(Arc::new(server_config)).unwrap();
    handshake(&mut client, &mut server)?;
    Ok(Connected { client, server })
}

fn handshake(client: &mut ClientConnection, server: &mut ServerConnection) -> Result<(), Failure> {
    for _ in 0..HANDSHAKE_ROUNDS_MAX {
        transfer(client, server);
        server.process_new_packets().map_err(Failure::Server)?;
        transfer(server, client);
        client.process_new_packets().map_err(Failure::Client)?;
        let quiet = !client.wants_write() && !server.wants_write();
        if quiet && !client.is_handshaking() && !server.is_handshaking() {
            return Ok(());
        }
    }
    panic!("handshake did not finish in {HANDSHAKE_ROUNDS_MAX} rounds");
}

/// Moves every pending TLS byte from `from` to `to`.
fn transfer<From, To, FromData, ToData>(from: &mut From, to: &mut To)
where
    From: DerefMut<Target = ConnectionCommon<FromData>>,
    To: DerefMut<Target = ConnectionCommon<ToData>>,
{
    let mut wire = Vec::new();
    while from.wants_write() {
        from.write_tls(&mut wire).unwrap();
    }
    let mut pending = &wire[..];
    while !pending.is_empty() {
        to.read_tls(&mut pending).unwrap();
    }
}
