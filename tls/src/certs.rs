//! The cluster CA and the certificates it issues (what `corral certs` does).
//!
//! Keys are ECDSA P-256 (rcgen's default): small, fast to verify, and accepted
//! by rustls, tonic and quinn alike. Every leaf is usable as a TLS server and
//! as a TLS client, because controllers are both to each other and agents may
//! later accept connections too.

use std::fs::{OpenOptions, Permissions};
use std::io::{self, Write};
use std::net::IpAddr;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use rcgen::string::Ia5String;
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, SanType,
};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, DnsName};
use time::{Duration, OffsetDateTime};
use x509_parser::certificate::X509Certificate;
use x509_parser::prelude::FromDer;

use crate::identity::{controller_dns_name, node_dns_name};
use crate::load::{load_identity, LoadError};

/// How long the cluster CA is valid. Replacing a CA means re-issuing every
/// certificate, so it is made to outlive the hardware.
pub const CA_VALIDITY_DAYS: i64 = 3650;

/// How long a controller or node certificate is valid, at most: a leaf is
/// never valid beyond its CA, since the chain would fail then anyway.
pub const LEAF_VALIDITY_DAYS: i64 = 1825;

/// How far `notBefore` is set in the past, so that a certificate made on one
/// machine is already valid on another whose clock runs behind.
pub const CLOCK_SKEW_ALLOWANCE_SECONDS: i64 = 3600;

/// Permissions of private key files: readable by their owner only.
pub const KEY_FILE_MODE: u32 = 0o600;

/// Permissions of certificate files: public, like the certificates themselves.
pub const CERT_FILE_MODE: u32 = 0o644;

/// File name of the cluster CA certificate inside a certificate directory.
pub const CA_CERT_FILE_NAME: &str = "ca.pem";

/// File name of the cluster CA private key inside a certificate directory.
pub const CA_KEY_FILE_NAME: &str = "ca-key.pem";

/// Why a certificate could not be generated or written.
#[derive(Debug, thiserror::Error)]
pub enum CertError {
    #[error("cluster name must not be empty")]
    EmptyClusterName,

    #[error("host {host:?} is neither an IP address nor a DNS name{hint}")]
    InvalidHost { host: String, hint: &'static str },

    #[error("node name {name:?} cannot be put in a certificate: {reason}")]
    InvalidNodeName { name: String, reason: &'static str },

    #[error("controller id {id} is listed twice")]
    DuplicateControllerId { id: u64 },

    #[error("{}: a cluster CA already exists; refusing to overwrite it (move it away first to start a new cluster)", path.display())]
    CaExists { path: PathBuf },

    #[error("{}: already exists; refusing to overwrite it", path.display())]
    FileExists { path: PathBuf },

    #[error("{}: cannot create directory: {source}", path.display())]
    CreateDir { path: PathBuf, source: io::Error },

    #[error("{}: cannot write: {source}", path.display())]
    Write { path: PathBuf, source: io::Error },

    #[error(transparent)]
    Load(#[from] LoadError),

    #[error("the CA certificate or key cannot be used for signing: {source}")]
    UnusableCa { source: rcgen::Error },

    #[error("generating the certificate for {subject}: {source}")]
    Generate {
        subject: String,
        source: rcgen::Error,
    },
}

/// The cluster CA: its certificate and private key, in PEM.
#[derive(Clone)]
pub struct CaBundle {
    pub cert_pem: String,
    pub key_pem: String,
}

/// A controller's or node's certificate and private key, in PEM.
#[derive(Clone)]
pub struct CertBundle {
    pub cert_pem: String,
    pub key_pem: String,
}

impl std::fmt::Debug for CaBundle {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("CaBundle")
            .field("cert_pem", &self.cert_pem)
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for CertBundle {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("CertBundle")
            .field("cert_pem", &self.cert_pem)
            .finish_non_exhaustive()
    }
}

/// Where one certificate and its key live.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CertPaths {
    pub cert: PathBuf,
    pub key: PathBuf,
}

impl CertPaths {
    /// `ca.pem` and `ca-key.pem` in `dir`.
    pub fn ca(dir: &Path) -> Self {
        Self {
            cert: dir.join(CA_CERT_FILE_NAME),
            key: dir.join(CA_KEY_FILE_NAME),
        }
    }

    /// `controller-<id>.pem` and `controller-<id>-key.pem` in `dir`.
    pub fn controller(dir: &Path, id: u64) -> Self {
        Self::named(dir, &controller_dns_name(id))
    }

    /// `node-<name>.pem` and `node-<name>-key.pem` in `dir`.
    pub fn node(dir: &Path, node_name: &str) -> Self {
        Self::named(dir, &node_dns_name(node_name))
    }

    fn named(dir: &Path, stem: &str) -> Self {
        Self {
            cert: dir.join(format!("{stem}.pem")),
            key: dir.join(format!("{stem}-key.pem")),
        }
    }
}

/// What [`init_dir`] wrote.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClusterCertPaths {
    pub ca: CertPaths,
    pub controllers: Vec<(u64, CertPaths)>,
}

/// Creates a new cluster CA, valid for [`CA_VALIDITY_DAYS`].
pub fn generate_ca(cluster_name: &str) -> Result<CaBundle, CertError> {
    if cluster_name.trim().is_empty() {
        return Err(CertError::EmptyClusterName);
    }
    let subject = format!("Corral CA for cluster {cluster_name}");
    let generate = |source| CertError::Generate {
        subject: subject.clone(),
        source,
    };
    let key = KeyPair::generate().map_err(generate)?;
    let cert = ca_params(cluster_name, &subject, OffsetDateTime::now_utc())
        .self_signed(&key)
        .map_err(generate)?;
    Ok(CaBundle {
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
    })
}

/// Issues a controller certificate.
///
/// SANs: DNS `controller-<id>`, DNS `localhost`, then each of `address_hosts`
/// (an IP SAN when it parses as an IP address, a DNS SAN otherwise; give hosts
/// without ports).
pub fn issue_controller(
    ca: &CaBundle,
    id: u64,
    address_hosts: &[String],
) -> Result<CertBundle, CertError> {
    let name = controller_dns_name(id);
    let mut sans = vec![dns_san(&name)?, dns_san("localhost")?];
    for host in address_hosts {
        let san = host_san(host)?;
        if !sans.contains(&san) {
            sans.push(san);
        }
    }
    issue_leaf(ca, &name, sans)
}

/// Issues a node (agent) certificate: CN = `node_name`, SAN DNS `node-<name>`.
pub fn issue_node(ca: &CaBundle, node_name: &str) -> Result<CertBundle, CertError> {
    validate_node_name(node_name)?;
    let sans = vec![dns_san(&node_dns_name(node_name))?];
    issue_leaf(ca, node_name, sans)
}

/// Creates `dir` (if needed) and writes a new cluster CA and one certificate
/// per controller into it.
///
/// Refuses, before writing anything, if any target file exists: overwriting a
/// CA would orphan every certificate it issued.
pub fn init_dir(
    dir: &Path,
    cluster_name: &str,
    controllers: &[(u64, Vec<String>)],
) -> Result<ClusterCertPaths, CertError> {
    let paths = cluster_paths(dir, controllers)?;
    ensure_ca_absent(&paths.ca)?;
    for (_, controller) in &paths.controllers {
        ensure_absent(controller)?;
    }
    let ca = generate_ca(cluster_name)?;
    let issued = controllers
        .iter()
        .map(|(id, hosts)| issue_controller(&ca, *id, hosts))
        .collect::<Result<Vec<_>, _>>()?;
    create_dir(dir)?;
    write_pair(&paths.ca, &ca.cert_pem, &ca.key_pem)?;
    for ((_, controller_paths), bundle) in paths.controllers.iter().zip(&issued) {
        write_pair(controller_paths, &bundle.cert_pem, &bundle.key_pem)?;
    }
    Ok(paths)
}

/// Issues a certificate for a controller added later, signed by the CA in `dir`.
pub fn issue_controller_files(
    dir: &Path,
    id: u64,
    address_hosts: &[String],
) -> Result<CertPaths, CertError> {
    let paths = CertPaths::controller(dir, id);
    ensure_absent(&paths)?;
    let bundle = issue_controller(&load_ca_bundle(dir)?, id, address_hosts)?;
    write_pair(&paths, &bundle.cert_pem, &bundle.key_pem)?;
    Ok(paths)
}

/// Issues `node-<name>.pem` and `node-<name>-key.pem`, signed by the CA in `dir`.
pub fn issue_node_files(dir: &Path, node_name: &str) -> Result<CertPaths, CertError> {
    validate_node_name(node_name)?;
    let paths = CertPaths::node(dir, node_name);
    ensure_absent(&paths)?;
    let bundle = issue_node(&load_ca_bundle(dir)?, node_name)?;
    write_pair(&paths, &bundle.cert_pem, &bundle.key_pem)?;
    Ok(paths)
}

/// Reads `ca.pem` and `ca-key.pem` from `dir`, checking the key is the CA's.
pub fn load_ca_bundle(dir: &Path) -> Result<CaBundle, CertError> {
    let paths = CertPaths::ca(dir);
    let identity = load_identity(&paths.cert, &paths.key)?;
    Ok(CaBundle {
        cert_pem: String::from_utf8_lossy(identity.chain().pem()).into_owned(),
        key_pem: String::from_utf8_lossy(identity.key().pem()).into_owned(),
    })
}

fn ca_params(cluster_name: &str, subject: &str, now: OffsetDateTime) -> CertificateParams {
    let mut params = CertificateParams::default();
    params.distinguished_name = DistinguishedName::new();
    params.distinguished_name.push(DnType::CommonName, subject);
    params
        .distinguished_name
        .push(DnType::OrganizationName, cluster_name);
    // Path length 0: the cluster CA signs leaves only, never another CA.
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    params.not_before = now - Duration::seconds(CLOCK_SKEW_ALLOWANCE_SECONDS);
    params.not_after = now + Duration::days(CA_VALIDITY_DAYS);
    params
}

fn leaf_params(
    common_name: &str,
    sans: Vec<SanType>,
    not_after: OffsetDateTime,
) -> CertificateParams {
    let now = OffsetDateTime::now_utc();
    let mut params = CertificateParams::default();
    params.distinguished_name = DistinguishedName::new();
    params
        .distinguished_name
        .push(DnType::CommonName, common_name);
    params.subject_alt_names = sans;
    params.is_ca = IsCa::ExplicitNoCa;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![
        ExtendedKeyUsagePurpose::ServerAuth,
        ExtendedKeyUsagePurpose::ClientAuth,
    ];
    params.use_authority_key_identifier_extension = true;
    params.not_before = now - Duration::seconds(CLOCK_SKEW_ALLOWANCE_SECONDS);
    params.not_after = not_after.min(now + Duration::days(LEAF_VALIDITY_DAYS));
    params
}

fn issue_leaf(
    ca: &CaBundle,
    common_name: &str,
    sans: Vec<SanType>,
) -> Result<CertBundle, CertError> {
    let unusable = |source| CertError::UnusableCa { source };
    let ca_key = KeyPair::from_pem(&ca.key_pem).map_err(unusable)?;
    let issuer = Issuer::from_ca_cert_pem(&ca.cert_pem, ca_key).map_err(unusable)?;
    let params = leaf_params(common_name, sans, ca_not_after(ca)?);
    let generate = |source| CertError::Generate {
        subject: common_name.to_owned(),
        source,
    };
    let key = KeyPair::generate().map_err(generate)?;
    let cert = params.signed_by(&key, &issuer).map_err(generate)?;
    Ok(CertBundle {
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
    })
}

/// When the CA stops being valid; no leaf it issues should outlive it.
fn ca_not_after(ca: &CaBundle) -> Result<OffsetDateTime, CertError> {
    let unusable = || CertError::UnusableCa {
        source: rcgen::Error::CouldNotParseCertificate,
    };
    let der = CertificateDer::from_pem_slice(ca.cert_pem.as_bytes()).map_err(|_| unusable())?;
    let (_, parsed) = X509Certificate::from_der(der.as_ref()).map_err(|_| unusable())?;
    OffsetDateTime::from_unix_timestamp(parsed.validity().not_after.timestamp())
        .map_err(|_| unusable())
}

fn dns_san(name: &str) -> Result<SanType, CertError> {
    let invalid = || CertError::InvalidHost {
        host: name.to_owned(),
        hint: "",
    };
    DnsName::try_from(name).map_err(|_| invalid())?;
    let ia5 = Ia5String::try_from(name).map_err(|_| invalid())?;
    Ok(SanType::DnsName(ia5))
}

fn host_san(host: &str) -> Result<SanType, CertError> {
    if let Ok(address) = host.parse::<IpAddr>() {
        return Ok(SanType::IpAddress(address));
    }
    dns_san(host).map_err(|_| CertError::InvalidHost {
        host: host.to_owned(),
        hint: match host.contains(':') {
            true => " (give the host without a port)",
            false => "",
        },
    })
}

/// Node names become the DNS label(s) `node-<name>`, so they must be plain
/// hostnames: letters, digits, `-` and `.`, not starting or ending with either.
fn validate_node_name(name: &str) -> Result<(), CertError> {
    let invalid = |reason| CertError::InvalidNodeName {
        name: name.to_owned(),
        reason,
    };
    if name.is_empty() {
        return Err(invalid("it is empty"));
    }
    let allowed = |byte: u8| byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'.';
    if !name.bytes().all(allowed) {
        return Err(invalid("only letters, digits, '-' and '.' are allowed"));
    }
    if name.ends_with(['-', '.']) || name.starts_with(['-', '.']) {
        return Err(invalid("it must start and end with a letter or digit"));
    }
    DnsName::try_from(node_dns_name(name))
        .map(|_| ())
        .map_err(|_| {
            invalid("node-<name> is not a valid DNS name (labels of at most 63 characters)")
        })
}

fn cluster_paths(
    dir: &Path,
    controllers: &[(u64, Vec<String>)],
) -> Result<ClusterCertPaths, CertError> {
    let mut paths = ClusterCertPaths {
        ca: CertPaths::ca(dir),
        controllers: Vec::with_capacity(controllers.len()),
    };
    for (id, _) in controllers {
        if paths.controllers.iter().any(|(seen, _)| seen == id) {
            return Err(CertError::DuplicateControllerId { id: *id });
        }
        paths
            .controllers
            .push((*id, CertPaths::controller(dir, *id)));
    }
    Ok(paths)
}

fn ensure_ca_absent(paths: &CertPaths) -> Result<(), CertError> {
    for path in [&paths.cert, &paths.key] {
        if exists(path)? {
            return Err(CertError::CaExists { path: path.clone() });
        }
    }
    Ok(())
}

fn ensure_absent(paths: &CertPaths) -> Result<(), CertError> {
    for path in [&paths.cert, &paths.key] {
        if exists(path)? {
            return Err(CertError::FileExists { path: path.clone() });
        }
    }
    Ok(())
}

fn exists(path: &Path) -> Result<bool, CertError> {
    // symlink_metadata: a dangling symlink is still something we must not write through.
    match std::fs::symlink_metadata(path) {
        Ok(_) => Ok(true),
        Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(source) => Err(CertError::Write {
            path: path.to_owned(),
            source,
        }),
    }
}

fn create_dir(dir: &Path) -> Result<(), CertError> {
    std::fs::create_dir_all(dir).map_err(|source| CertError::CreateDir {
        path: dir.to_owned(),
        source,
    })
}

/// Writes the key first: a certificate without its key is useless, a key
/// without its certificate is merely incomplete.
fn write_pair(paths: &CertPaths, cert_pem: &str, key_pem: &str) -> Result<(), CertError> {
    write_new_file(&paths.key, key_pem, KEY_FILE_MODE)?;
    write_new_file(&paths.cert, cert_pem, CERT_FILE_MODE)
}

/// Creates `path` (never replacing an existing file) with exactly `mode`.
fn write_new_file(path: &Path, contents: &str, mode: u32) -> Result<(), CertError> {
    let failed = |source: io::Error| match source.kind() {
        io::ErrorKind::AlreadyExists => CertError::FileExists {
            path: path.to_owned(),
        },
        _ => CertError::Write {
            path: path.to_owned(),
            source,
        },
    };
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .map_err(failed)?;
    // The mode given to open() is reduced by the umask; set it exactly.
    file.set_permissions(Permissions::from_mode(mode))
        .map_err(failed)?;
    file.write_all(contents.as_bytes()).map_err(failed)?;
    file.sync_all().map_err(failed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_names_must_be_hostnames() {
        assert!(validate_node_name("node001").is_ok());
        assert!(validate_node_name("gpu-a1.rack3").is_ok());
        for bad in ["", "-x", "x-", "a b", "a_b", "*", "a..b", &"n".repeat(64)] {
            assert!(validate_node_name(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn hosts_become_ip_or_dns_sans() {
        assert!(matches!(host_san("10.0.0.1"), Ok(SanType::IpAddress(_))));
        assert!(matches!(host_san("::1"), Ok(SanType::IpAddress(_))));
        assert!(matches!(host_san("ctl1.example"), Ok(SanType::DnsName(_))));
        let error = host_san("ctl1:7000").unwrap_err().to_string();
        assert!(error.contains("without a port"), "{error}");
    }

    #[test]
    fn duplicate_controller_ids_are_refused() {
        let controllers = [(1, vec![]), (1, vec![])];
        let error = cluster_paths(Path::new("/x"), &controllers).unwrap_err();
        assert!(matches!(error, CertError::DuplicateControllerId { id: 1 }));
    }
}
