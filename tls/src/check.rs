//! Was a certificate issued by a given CA? For `corral certs check` and the
//! config check, which must say "controller-2.pem was not issued by ca.pem"
//! before a controller starts rather than after a handshake fails.
//!
//! The check is the one rustls runs in a handshake (webpki path building on
//! the ring algorithms), so "passes here" means "would be accepted there",
//! apart from the peer's name. It checks the server-auth purpose, which every
//! certificate `certs` issues carries.

use std::path::PathBuf;

use rustls::client::verify_server_cert_signed_by_trust_anchor;
use rustls::pki_types::UnixTime;
use rustls::server::ParsedCertificate;
use rustls::{CertificateError, Error};

use crate::load::{CaCertificates, CertChain};

/// Why a certificate does not chain to the CA it was checked against.
#[derive(Debug, thiserror::Error)]
pub enum IssuerCheckError {
    #[error("{} was not issued by {}", cert_path.display(), ca_path.display())]
    NotIssuedBy {
        cert_path: PathBuf,
        ca_path: PathBuf,
    },

    #[error("{} has expired (checked against {})", cert_path.display(), ca_path.display())]
    Expired {
        cert_path: PathBuf,
        ca_path: PathBuf,
    },

    #[error("{} is not valid yet; is this machine's clock right? (checked against {})", cert_path.display(), ca_path.display())]
    NotValidYet {
        cert_path: PathBuf,
        ca_path: PathBuf,
    },

    #[error("{} cannot be verified against {}: {reason}", cert_path.display(), ca_path.display())]
    Invalid {
        cert_path: PathBuf,
        ca_path: PathBuf,
        reason: String,
    },
}

/// Checks that `cert` chains to one of the certificates in `ca` and is valid
/// at `now` (pass `UnixTime::now()` outside tests).
pub fn verify_issued_by(
    cert: &CertChain,
    ca: &CaCertificates,
    now: UnixTime,
) -> Result<(), IssuerCheckError> {
    let algorithms = rustls::crypto::ring::default_provider()
        .signature_verification_algorithms
        .all;
    let verified = ParsedCertificate::try_from(cert.end_entity()).and_then(|parsed| {
        let intermediates = &cert.certs()[1..];
        verify_server_cert_signed_by_trust_anchor(
            &parsed,
            &ca.roots(),
            intermediates,
            now,
            algorithms,
        )
    });
    verified.map_err(|error| classify(error, cert, ca))
}

fn classify(error: Error, cert: &CertChain, ca: &CaCertificates) -> IssuerCheckError {
    let cert_path = cert.path().to_owned();
    let ca_path = ca.path().to_owned();
    let Error::InvalidCertificate(reason) = error else {
        return IssuerCheckError::Invalid {
            cert_path,
            ca_path,
            reason: error.to_string(),
        };
    };
    match reason {
        CertificateError::UnknownIssuer | CertificateError::BadSignature => {
            IssuerCheckError::NotIssuedBy { cert_path, ca_path }
        }
        CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
            IssuerCheckError::Expired { cert_path, ca_path }
        }
        CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
            IssuerCheckError::NotValidYet { cert_path, ca_path }
        }
        other => IssuerCheckError::Invalid {
            cert_path,
            ca_path,
            reason: Error::InvalidCertificate(other).to_string(),
        },
    }
}
