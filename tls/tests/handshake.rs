//! Real rustls handshakes between configurations built by `corral_tls::config`.

mod common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use common::{connect, Cluster, Failure};
use corral_tls::config::{client_config, server_config, ClientAuth, ALPN_GRPC};
use corral_tls::identity::{controller_id_of, node_name_of, peer_names};
use rustls::pki_types::ServerName;
use rustls::{CertificateError, ClientConnection, Error, ServerConnection, StreamOwned};

/// Long enough for a loaded CI machine, short enough that a broken handshake
/// fails the test instead of hanging it.
const SOCKET_TIMEOUT_SECONDS: u64 = 10;

fn is_unknown_issuer(error: &Error) -> bool {
    matches!(
        error,
        Error::InvalidCertificate(CertificateError::UnknownIssuer)
    )
}

fn is_wrong_name(error: &Error) -> bool {
    matches!(
        error,
        Error::InvalidCertificate(
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. }
        )
    )
}

#[test]
fn controllers_authenticate_each_other_and_see_each_others_names() {
    let cluster = Cluster::new("alpha");
    let connected = connect(
        &cluster.ca,
        &cluster.controller_1,
        ClientAuth::Required,
        &cluster.ca,
        Some(&cluster.controller_2),
        "controller-1",
    )
    .unwrap();

    let client_seen = &connected.client.peer_certificates().unwrap()[0];
    let server_seen = &connected.server.peer_certificates().unwrap()[0];
    assert_eq!(controller_id_of(client_seen), Some(1));
    assert_eq!(controller_id_of(server_seen), Some(2));
    assert_eq!(
        peer_names(client_seen),
        ["controller-1", "localhost", "ctl1.example"]
    );
    assert_eq!(node_name_of(server_seen), None);
    assert_eq!(connected.client.alpn_protocol(), Some(&b"h2"[..]));
    assert_eq!(connected.server.alpn_protocol(), Some(&b"h2"[..]));
}

#[test]
fn agent_certificate_names_its_node_and_no_controller() {
    let cluster = Cluster::new("alpha");
    let connected = connect(
        &cluster.ca,
        &cluster.controller_1,
        ClientAuth::Required,
        &cluster.ca,
        Some(&cluster.node),
        "controller-1",
    )
    .unwrap();

    let agent = &connected.server.peer_certificates().unwrap()[0];
    assert_eq!(node_name_of(agent), Some("node001".to_owned()));
    assert_eq!(controller_id_of(agent), None);
    assert_eq!(peer_names(agent), ["node-node001"]);
}

#[test]
fn client_certificate_from_a_foreign_ca_is_refused_when_required() {
    let cluster = Cluster::new("alpha");
    let foreign = Cluster::new("beta");
    let failure = connect(
        &cluster.ca,
        &cluster.controller_1,
        ClientAuth::Required,
        &cluster.ca,
        Some(&foreign.controller_2),
        "controller-1",
    )
    .err()
    .expect("a foreign controller was let in");
    assert!(
        matches!(&failure, Failure::Server(error) if is_unknown_issuer(error)),
        "{failure:?}"
    );
}

#[test]
fn client_certificate_from_a_foreign_ca_is_refused_even_when_optional() {
    let cluster = Cluster::new("alpha");
    let foreign = Cluster::new("beta");
    let failure = connect(
        &cluster.ca,
        &cluster.controller_1,
        ClientAuth::Optional,
        &cluster.ca,
        Some(&foreign.node),
        "controller-1",
    )
    .err()
    .expect("a foreign node was let in");
    assert!(
        matches!(&failure, Failure::Server(error) if is_unknown_issuer(error)),
        "{failure:?}"
    );
}

#[test]
fn client_without_certificate_is_refused_when_required() {
    let cluster = Cluster::new("alpha");
    let failure = connect(
        &cluster.ca,
        &cluster.controller_1,
        ClientAuth::Required,
        &cluster.ca,
        None,
        "controller-1",
    )
    .err()
    .expect("an anonymous client was let in");
    assert!(
        matches!(failure, Failure::Server(Error::NoCertificatesPresented)),
        "{failure:?}"
    );
}

#[test]
fn client_without_certificate_is_accepted_when_optional_or_not_asked() {
    let cluster = Cluster::new("alpha");
    for client_auth in [ClientAuth::Optional, ClientAuth::None] {
        let connected = connect(
            &cluster.ca,
            &cluster.controller_1,
            client_auth,
            &cluster.ca,
            None,
            "controller-1",
        )
        .unwrap();
        assert!(connected.server.peer_certificates().is_none());
        let server_seen = &connected.client.peer_certificates().unwrap()[0];
        assert_eq!(controller_id_of(server_seen), Some(1));
    }
}

#[test]
fn server_certificate_from_a_foreign_ca_is_refused_by_the_client() {
    let cluster = Cluster::new("alpha");
    let foreign = Cluster::new("beta");
    let failure = connect(
        &foreign.ca,
        &foreign.controller_1,
        ClientAuth::None,
        &cluster.ca,
        None,
        "controller-1",
    )
    .err()
    .expect("the client trusted a foreign controller");
    assert!(
        matches!(&failure, Failure::Client(error) if is_unknown_issuer(error)),
        "{failure:?}"
    );
}

#[test]
fn server_name_must_be_one_of_the_certificates_sans() {
    let cluster = Cluster::new("alpha");
    let dial = |server_name: &str| {
        connect(
            &cluster.ca,
            &cluster.controller_1,
            ClientAuth::None,
            &cluster.ca,
            None,
            server_name,
        )
    };
    for accepted in ["127.0.0.1", "localhost", "controller-1", "ctl1.example"] {
        assert!(dial(accepted).is_ok(), "{accepted} refused");
    }
    for refused in ["127.0.0.2", "::1", "controller-2", "ctl2.example"] {
        let failure = dial(refused)
            .err()
            .unwrap_or_else(|| panic!("{refused} accepted"));
        assert!(
            matches!(&failure, Failure::Client(error) if is_wrong_name(error)),
            "{refused}: {failure:?}"
        );
    }
}

/// The same configurations over a real socket on 127.0.0.1, with data both ways.
#[test]
fn mutual_tls_over_loopback_tcp_carries_data() {
    let cluster = Cluster::new("alpha");
    let server_config = server_config(
        &cluster.ca,
        &cluster.controller_1,
        ClientAuth::Required,
        ALPN_GRPC,
    )
    .unwrap();
    let client_config = client_config(&cluster.ca, Some(&cluster.controller_2), ALPN_GRPC).unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();

    let server = thread::spawn(move || {
        let (socket, _) = listener.accept().unwrap();
        socket
            .set_read_timeout(Some(Duration::from_secs(SOCKET_TIMEOUT_SECONDS)))
            .unwrap();
        let connection = ServerConnection::new(Arc::new(server_config)).unwrap();
        let mut stream = StreamOwned::new(connection, socket);
        let mut request = [0u8; 4];
        stream.read_exact(&mut request).unwrap();
        let peer = controller_id_of(&stream.conn.peer_certificates().unwrap()[0]);
        stream.write_all(b"pong").unwrap();
        stream.flush().unwrap();
        (request, peer)
    });

    let name = ServerName::try_from("127.0.0.1").unwrap();
    let connection = ClientConnection::new(Arc::new(client_config), name).unwrap();
    let socket = TcpStream::connect(address).unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(SOCKET_TIMEOUT_SECONDS)))
        .unwrap();
    let mut stream = StreamOwned::new(connection, socket);
    stream.write_all(b"ping").unwrap();
    let mut reply = [0u8; 4];
    stream.read_exact(&mut reply).unwrap();

    let (request, client_id) = server.join().unwrap();
    assert_eq!(&request, b"ping");
    assert_eq!(&reply, b"pong");
    assert_eq!(client_id, Some(2));
    assert_eq!(
        controller_id_of(&stream.conn.peer_certificates().unwrap()[0]),
        Some(1)
    );
}
