//! The names Corral puts in certificates and how to read them back.
//!
//! A controller's certificate carries the DNS SAN `controller-<id>`, a node's
//! carries `node-<name>`. The prefixes are disjoint, so a node certificate can
//! never be read as a controller's and the other way round. Parsing uses
//! `x509-parser`, which rcgen already compiles to rebuild the CA issuer; rustls
//! and webpki do not expose a certificate's SANs.

use rustls::pki_types::CertificateDer;
use x509_parser::certificate::X509Certificate;
use x509_parser::extensions::GeneralName;
use x509_parser::prelude::FromDer;

/// Prefix of the DNS SAN that names a controller: `controller-<id>`.
pub const CONTROLLER_NAME_PREFIX: &str = "controller-";

/// Prefix of the DNS SAN that names a compute node: `node-<name>`.
pub const NODE_NAME_PREFIX: &str = "node-";

/// The DNS name a controller's certificate carries, and that peers dial it by
/// when they do not use an address.
pub fn controller_dns_name(id: u64) -> String {
    format!("{CONTROLLER_NAME_PREFIX}{id}")
}

/// The DNS name a node's certificate carries.
pub fn node_dns_name(node_name: &str) -> String {
    format!("{NODE_NAME_PREFIX}{node_name}")
}

/// The DNS subject alternative names in a certificate, in certificate order.
///
/// A certificate that does not parse names nobody, so it yields an empty list:
/// callers use this on certificates rustls has already verified, and "no
/// identity" is the safe answer for anything else.
pub fn peer_names(cert: &CertificateDer<'_>) -> Vec<String> {
    let Ok((_, parsed)) = X509Certificate::from_der(cert.as_ref()) else {
        return Vec::new();
    };
    let Ok(Some(san)) = parsed.subject_alternative_name() else {
        return Vec::new();
    };
    san.value
        .general_names
        .iter()
        .filter_map(|name| match name {
            GeneralName::DNSName(dns) => Some((*dns).to_owned()),
            _ => None,
        })
        .collect()
}

/// The controller id a certificate names, from its `controller-<id>` SAN.
///
/// `None` when there is no such SAN, when the id is not a plain decimal number
/// (`controller-01` and `controller-+1` are refused so that one id has one
/// spelling), or when the certificate names two different controllers.
pub fn controller_id_of(cert: &CertificateDer<'_>) -> Option<u64> {
    single(
        peer_names(cert)
            .iter()
            .filter_map(|name| name.strip_prefix(CONTROLLER_NAME_PREFIX))
            .filter_map(parse_canonical_id),
    )
}

/// The node name a certificate names, from its `node-<name>` SAN.
///
/// `None` when there is no such SAN or when it names two different nodes.
pub fn node_name_of(cert: &CertificateDer<'_>) -> Option<String> {
    single(
        peer_names(cert)
            .iter()
            .filter_map(|name| name.strip_prefix(NODE_NAME_PREFIX))
            .filter(|name| !name.is_empty())
            .map(str::to_owned),
    )
}

/// The one distinct value of `values`; `None` if there are none or several.
fn single<T: PartialEq>(mut values: impl Iterator<Item = T>) -> Option<T> {
    let first = values.next()?;
    match values.all(|other| other == first) {
        true => Some(first),
        false => None,
    }
}

fn parse_canonical_id(text: &str) -> Option<u64> {
    let all_digits = !text.is_empty() && text.bytes().all(|byte| byte.is_ascii_digit());
    let leading_zero = text.len() > 1 && text.starts_with('0');
    match all_digits && !leading_zero {
        true => text.parse().ok(),
        false => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controller_ids_have_one_spelling() {
        assert_eq!(parse_canonical_id("0"), Some(0));
        assert_eq!(parse_canonical_id("42"), Some(42));
        assert_eq!(parse_canonical_id("042"), None);
        assert_eq!(parse_canonical_id("+4"), None);
        assert_eq!(parse_canonical_id(""), None);
        assert_eq!(parse_canonical_id("18446744073709551616"), None);
    }

    #[test]
    fn garbage_names_nobody() {
        let garbage = CertificateDer::from(vec![0x30, 0x03, 0x01, 0x02]);
        assert!(peer_names(&garbage).is_empty());
        assert_eq!(controller_id_of(&garbage), None);
        assert_eq!(node_name_of(&garbage), None);
    }
}
