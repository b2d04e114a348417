//! rustls server and client configurations for Corral's transports.
//!
//! Every configuration is built on `rustls::crypto::ring::default_provider()`
//! passed explicitly, never on the process-wide default, so a binary that
//! links another provider by accident still cannot use it here. Peers are
//! verified against the cluster CA only: no system roots, because a public CA
//! has no business vouching for a controller.

use std::sync::Arc;

use rustls::crypto::CryptoProvider;
use rustls::server::danger::ClientCertVerifier;
use rustls::server::{VerifierBuilderError, WebPkiClientVerifier};
use rustls::{ClientConfig, ServerConfig, SupportedProtocolVersion};

use crate::load::{CaCertificates, Identity};

/// ALPN for gRPC: tonic and hyper speak HTTP/2 only.
pub const ALPN_GRPC: &[&[u8]] = &[b"h2"];

/// No ALPN, for transports that do not negotiate an application protocol.
pub const ALPN_NONE: &[&[u8]] = &[];

/// TLS 1.3 only: every peer is Corral's own rustls, TLS 1.3 encrypts the
/// client certificate (so node names do not cross the wire in clear), and
/// QUIC requires it.
const PROTOCOL_VERSIONS: &[&SupportedProtocolVersion] = &[&rustls::version::TLS13];

/// Whether a server asks clients for a certificate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientAuth {
    /// A client must present a certificate issued by the cluster CA
    /// (controller to controller, agent to controller).
    Required,
    /// A client may present one; if it does, it must be from the cluster CA.
    /// For a listener shared by controllers and token-authenticated CLIs.
    Optional,
    /// Clients are not asked for a certificate (CLI-only listeners).
    None,
}

/// Why a rustls configuration could not be built.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{}: cannot verify peers against this CA: {source}", ca_path.display())]
    Verifier {
        ca_path: std::path::PathBuf,
        source: VerifierBuilderError,
    },

    #[error("{}: rustls refused this certificate and key: {source}", cert_path.display())]
    Identity {
        cert_path: std::path::PathBuf,
        source: rustls::Error,
    },

    #[error("rustls refused the protocol versions: {0}")]
    ProtocolVersions(rustls::Error),
}

/// A server configuration presenting `identity` and checking client
/// certificates against `ca` as `client_auth` says.
///
/// `alpn` is the list of protocols offered, e.g. [`ALPN_GRPC`].
pub fn server_config(
    ca: &CaCertificates,
    identity: &Identity,
    client_auth: ClientAuth,
    alpn: &[&[u8]],
) -> Result<ServerConfig, ConfigError> {
    let provider = ring_provider();
    let verifier = client_verifier(ca, client_auth, &provider)?;
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(PROTOCOL_VERSIONS)
        .map_err(ConfigError::ProtocolVersions)?
        .with_client_cert_verifier(verifier)
        .with_single_cert(identity.chain().certs().to_vec(), identity.key().der())
        .map_err(|source| ConfigError::Identity {
            cert_path: identity.chain().path().to_owned(),
            source,
        })?;
    config.alpn_protocols = alpn_list(alpn);
    Ok(config)
}

/// A client configuration that trusts `ca` only and, when given, presents
/// `identity` to servers that ask for a certificate.
///
/// `alpn` is the list of protocols offered, e.g. [`ALPN_GRPC`].
pub fn client_config(
    ca: &CaCertificates,
    identity: Option<&Identity>,
    alpn: &[&[u8]],
) -> Result<ClientConfig, ConfigError> {
    // with_root_certificates verifies with the builder's (ring) algorithms.
    let builder = ClientConfig::builder_with_provider(ring_provider())
        .with_protocol_versions(PROTOCOL_VERSIONS)
        .map_err(ConfigError::ProtocolVersions)?
        .with_root_certificates(ca.roots());
    let mut config = match identity {
        None => builder.with_no_client_auth(),
        Some(identity) => builder
            .with_client_auth_cert(identity.chain().certs().to_vec(), identity.key().der())
            .map_err(|source| ConfigError::Identity {
                cert_path: identity.chain().path().to_owned(),
                source,
            })?,
    };
    config.alpn_protocols = alpn_list(alpn);
    Ok(config)
}

fn ring_provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn client_verifier(
    ca: &CaCertificates,
    client_auth: ClientAuth,
    provider: &Arc<CryptoProvider>,
) -> Result<Arc<dyn ClientCertVerifier>, ConfigError> {
    let builder = WebPkiClientVerifier::builder_with_provider(ca.roots(), Arc::clone(provider));
    let built = match client_auth {
        ClientAuth::None => return Ok(WebPkiClientVerifier::no_client_auth()),
        ClientAuth::Required => builder.build(),
        ClientAuth::Optional => builder.allow_unauthenticated().build(),
    };
    built.map_err(|source| ConfigError::Verifier {
        ca_path: ca.path().to_owned(),
        source,
    })
}

fn alpn_list(alpn: &[&[u8]]) -> Vec<Vec<u8>> {
    alpn.iter().map(|protocol| protocol.to_vec()).collect()
}
