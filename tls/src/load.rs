//! Reading certificates and keys back from PEM files.
//!
//! Every error names the file and says what was wrong with it, because the
//! person reading it is an administrator with a config file open. The parsed
//! DER is kept next to the raw PEM: rustls wants DER, tonic's
//! `Identity::from_pem` and `Certificate::from_pem` want PEM.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::pem::{PemObject, SectionKind};
use rustls::pki_types::{
    CertificateDer, PrivateKeyDer, PrivatePkcs1KeyDer, PrivatePkcs8KeyDer, PrivateSec1KeyDer,
};
use rustls::sign::CertifiedKey;
use rustls::RootCertStore;
use x509_parser::certificate::X509Certificate;
use x509_parser::prelude::FromDer;

/// Why a certificate or key file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("{}: file not found", path.display())]
    Missing { path: PathBuf },

    #[error("{}: cannot read: {source}", path.display())]
    Read { path: PathBuf, source: io::Error },

    #[error("{}: not a PEM file (no -----BEGIN ...----- block found)", path.display())]
    NotPem { path: PathBuf },

    #[error("{}: malformed PEM: {reason}", path.display())]
    BadPem { path: PathBuf, reason: String },

    #[error("{}: no certificate inside (found {found})", path.display())]
    NoCertificate { path: PathBuf, found: String },

    #[error("{}: certificate {index} does not parse: {reason}", path.display())]
    BadCertificate {
        path: PathBuf,
        /// Position of the certificate in the file, counting from 1.
        index: usize,
        reason: String,
    },

    #[error("{}: certificate {index} is not a CA certificate (basicConstraints CA is not true)", path.display())]
    NotCa { path: PathBuf, index: usize },

    #[error("{}: no private key inside (found {found})", path.display())]
    NoPrivateKey { path: PathBuf, found: String },

    #[error("{}: private key does not parse: {reason}", path.display())]
    BadKey { path: PathBuf, reason: String },

    #[error("{}: private key does not match the certificate in {}", key_path.display(), cert_path.display())]
    KeyMismatch {
        key_path: PathBuf,
        cert_path: PathBuf,
    },
}

/// A certificate chain, end-entity certificate first, as read from one file.
#[derive(Clone, Debug)]
pub struct CertChain {
    path: PathBuf,
    pem: Vec<u8>,
    certs: Vec<CertificateDer<'static>>,
}

impl CertChain {
    /// Parses `pem`; `path` is where it came from and is named in errors
    /// (use a descriptive pseudo-path for certificates that never touched disk).
    pub fn from_pem(path: impl Into<PathBuf>, pem: Vec<u8>) -> Result<Self, LoadError> {
        let path = path.into();
        let certs = certificates_in(&path, &pem)?;
        Ok(Self { path, pem, certs })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The file's bytes, for APIs that take PEM.
    pub fn pem(&self) -> &[u8] {
        &self.pem
    }

    /// Every certificate in file order; never empty.
    pub fn certs(&self) -> &[CertificateDer<'static>] {
        &self.certs
    }

    /// The first certificate: the one the private key belongs to.
    pub fn end_entity(&self) -> &CertificateDer<'static> {
        &self.certs[0]
    }
}

/// The cluster CA certificate(s) a peer must chain to.
///
/// Usually one certificate; more than one while a CA is being replaced.
#[derive(Clone, Debug)]
pub struct CaCertificates {
    chain: CertChain,
    roots: Arc<RootCertStore>,
}

impl CaCertificates {
    /// Parses `pem` and checks every certificate in it is a CA.
    pub fn from_pem(path: impl Into<PathBuf>, pem: Vec<u8>) -> Result<Self, LoadError> {
        let chain = CertChain::from_pem(path, pem)?;
        let roots = root_store(&chain)?;
        Ok(Self {
            chain,
            roots: Arc::new(roots),
        })
    }

    pub fn path(&self) -> &Path {
        self.chain.path()
    }

    /// The file's bytes, for tonic's `Certificate::from_pem`.
    pub fn pem(&self) -> &[u8] {
        self.chain.pem()
    }

    pub fn certs(&self) -> &[CertificateDer<'static>] {
        self.chain.certs()
    }

    /// The certificates as rustls trust anchors.
    pub fn roots(&self) -> Arc<RootCertStore> {
        Arc::clone(&self.roots)
    }
}

/// A private key as read from one file. Its `Debug` never shows the key.
pub struct PrivateKey {
    path: PathBuf,
    pem: Vec<u8>,
    key: PrivateKeyDer<'static>,
}

impl PrivateKey {
    /// Parses the first private key in `pem` and checks ring can use it.
    pub fn from_pem(path: impl Into<PathBuf>, pem: Vec<u8>) -> Result<Self, LoadError> {
        let path = path.into();
        let key = private_key_in(&path, &pem)?;
        rustls::crypto::ring::sign::any_supported_type(&key).map_err(|error| {
            LoadError::BadKey {
                path: path.clone(),
                reason: error.to_string(),
            }
        })?;
        Ok(Self { path, pem, key })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The file's bytes, for APIs that take PEM.
    pub fn pem(&self) -> &[u8] {
        &self.pem
    }

    /// The key in DER, as rustls takes it.
    pub fn der(&self) -> PrivateKeyDer<'static> {
        self.key.clone_key()
    }
}

impl Clone for PrivateKey {
    fn clone(&self) -> Self {
        Self {
            path: self.path.clone(),
            pem: self.pem.clone(),
            key: self.key.clone_key(),
        }
    }
}

impl fmt::Debug for PrivateKey {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("PrivateKey")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

/// A certificate chain and the private key that belongs to its first certificate.
#[derive(Clone, Debug)]
pub struct Identity {
    chain: CertChain,
    key: PrivateKey,
}

impl Identity {
    /// Pairs `chain` with `key`, refusing a key that belongs to another certificate.
    pub fn new(chain: CertChain, key: PrivateKey) -> Result<Self, LoadError> {
        let signing_key =
            rustls::crypto::ring::sign::any_supported_type(&key.key).map_err(|error| {
                LoadError::BadKey {
                    path: key.path.clone(),
                    reason: error.to_string(),
                }
            })?;
        let certified = CertifiedKey::new(chain.certs.clone(), signing_key);
        match certified.keys_match() {
            Ok(()) => Ok(Self { chain, key }),
            Err(_) => Err(LoadError::KeyMismatch {
                key_path: key.path.clone(),
                cert_path: chain.path.clone(),
            }),
        }
    }

    /// Builds an identity from in-memory PEM; `label` names it in errors.
    pub fn from_pem(label: &str, cert_pem: &str, key_pem: &str) -> Result<Self, LoadError> {
        let chain = CertChain::from_pem(label, cert_pem.as_bytes().to_vec())?;
        let key = PrivateKey::from_pem(format!("{label} (key)"), key_pem.as_bytes().to_vec())?;
        Self::new(chain, key)
    }

    pub fn chain(&self) -> &CertChain {
        &self.chain
    }

    pub fn key(&self) -> &PrivateKey {
        &self.key
    }
}

/// Reads a PEM certificate chain, end-entity first.
pub fn load_cert_chain(path: &Path) -> Result<CertChain, LoadError> {
    CertChain::from_pem(path, read(path)?)
}

/// Reads a PEM private key (PKCS#8, PKCS#1 or SEC1).
pub fn load_private_key(path: &Path) -> Result<PrivateKey, LoadError> {
    PrivateKey::from_pem(path, read(path)?)
}

/// Reads the cluster CA bundle.
pub fn load_ca_certificates(path: &Path) -> Result<CaCertificates, LoadError> {
    CaCertificates::from_pem(path, read(path)?)
}

/// Reads a certificate chain and its key, and checks they belong together.
pub fn load_identity(cert_path: &Path, key_path: &Path) -> Result<Identity, LoadError> {
    Identity::new(load_cert_chain(cert_path)?, load_private_key(key_path)?)
}

fn read(path: &Path) -> Result<Vec<u8>, LoadError> {
    std::fs::read(path).map_err(|source| match source.kind() {
        io::ErrorKind::NotFound => LoadError::Missing {
            path: path.to_owned(),
        },
        _ => LoadError::Read {
            path: path.to_owned(),
            source,
        },
    })
}

/// Every PEM section in `pem`; an error if there is none.
fn sections(path: &Path, pem: &[u8]) -> Result<Vec<(SectionKind, Vec<u8>)>, LoadError> {
    let sections = <(SectionKind, Vec<u8>)>::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| LoadError::BadPem {
            path: path.to_owned(),
            reason: error.to_string(),
        })?;
    match sections.is_empty() {
        true => Err(LoadError::NotPem {
            path: path.to_owned(),
        }),
        false => Ok(sections),
    }
}

/// "a PRIVATE KEY block", "a CERTIFICATE block and an X509 CRL block", ...:
/// what a file held instead of what was expected, to catch swapped paths.
fn describe(sections: &[(SectionKind, Vec<u8>)]) -> String {
    let labels: Vec<String> = sections
        .iter()
        .map(|(kind, _)| format!("a {} block", label_of(*kind)))
        .collect();
    labels.join(" and ")
}

fn label_of(kind: SectionKind) -> &'static str {
    match kind {
        SectionKind::Certificate => "CERTIFICATE",
        SectionKind::PublicKey => "PUBLIC KEY",
        SectionKind::RsaPrivateKey => "RSA PRIVATE KEY",
        SectionKind::PrivateKey => "PRIVATE KEY",
        SectionKind::EcPrivateKey => "EC PRIVATE KEY",
        SectionKind::Crl => "X509 CRL",
        SectionKind::Csr => "CERTIFICATE REQUEST",
        _ => "non-certificate",
    }
}

fn certificates_in(path: &Path, pem: &[u8]) -> Result<Vec<CertificateDer<'static>>, LoadError> {
    let sections = sections(path, pem)?;
    let certs: Vec<CertificateDer<'static>> = sections
        .iter()
        .filter(|(kind, _)| *kind == SectionKind::Certificate)
        .map(|(_, der)| CertificateDer::from(der.clone()))
        .collect();
    if certs.is_empty() {
        return Err(LoadError::NoCertificate {
            path: path.to_owned(),
            found: describe(&sections),
        });
    }
    for (position, cert) in certs.iter().enumerate() {
        parse_x509(path, position + 1, cert)?;
    }
    Ok(certs)
}

fn parse_x509<'a>(
    path: &Path,
    index: usize,
    cert: &'a CertificateDer<'_>,
) -> Result<X509Certificate<'a>, LoadError> {
    X509Certificate::from_der(cert.as_ref())
        .map(|(_, parsed)| parsed)
        .map_err(|error| LoadError::BadCertificate {
            path: path.to_owned(),
            index,
            reason: error.to_string(),
        })
}

fn root_store(chain: &CertChain) -> Result<RootCertStore, LoadError> {
    let mut roots = RootCertStore::empty();
    for (position, cert) in chain.certs.iter().enumerate() {
        let index = position + 1;
        if !parse_x509(&chain.path, index, cert)?.is_ca() {
            return Err(LoadError::NotCa {
                path: chain.path.clone(),
                index,
            });
        }
        roots
            .add(cert.clone())
            .map_err(|error| LoadError::BadCertificate {
                path: chain.path.clone(),
                index,
                reason: error.to_string(),
            })?;
    }
    Ok(roots)
}

fn private_key_in(path: &Path, pem: &[u8]) -> Result<PrivateKeyDer<'static>, LoadError> {
    let sections = sections(path, pem)?;
    sections
        .iter()
        .find_map(|(kind, der)| match kind {
            SectionKind::PrivateKey => Some(PrivatePkcs8KeyDer::from(der.clone()).into()),
            SectionKind::RsaPrivateKey => Some(PrivatePkcs1KeyDer::from(der.clone()).into()),
            SectionKind::EcPrivateKey => Some(PrivateSec1KeyDer::from(der.clone()).into()),
            _ => None,
        })
        .ok_or_else(|| LoadError::NoPrivateKey {
            path: path.to_owned(),
            found: describe(&sections),
        })
}
