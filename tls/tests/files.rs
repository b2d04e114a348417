//! Certificate directories on disk: writing them, reading them back, and the
//! errors an administrator sees when a file is wrong.

mod common;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use common::Cluster;
use corral_tls::certs::{
    init_dir, issue_controller_files, issue_node_files, CertError, CertPaths, KEY_FILE_MODE,
};
use corral_tls::check::{verify_issued_by, IssuerCheckError};
use corral_tls::identity::{controller_id_of, node_name_of, peer_names};
use corral_tls::load::{
    load_ca_certificates, load_cert_chain, load_identity, load_private_key, LoadError,
};
use rustls::pki_types::UnixTime;

const SECONDS_PER_YEAR: u64 = 365 * 24 * 3600;

fn controllers() -> Vec<(u64, Vec<String>)> {
    vec![
        (1, vec!["127.0.0.1".to_owned(), "ctl1.example".to_owned()]),
        (2, vec!["10.0.0.2".to_owned()]),
        (3, vec![]),
    ]
}

fn mode_of(path: &Path) -> u32 {
    fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn init_dir_writes_a_ca_and_controllers_that_chain_to_it() {
    let dir = tempfile::tempdir().unwrap();
    let cluster_dir = dir.path().join("certs");
    let paths = init_dir(&cluster_dir, "alpha", &controllers()).unwrap();

    assert_eq!(paths.ca, CertPaths::ca(&cluster_dir));
    assert_eq!(paths.ca.cert, cluster_dir.join("ca.pem"));
    assert_eq!(paths.ca.key, cluster_dir.join("ca-key.pem"));
    let ca = load_ca_certificates(&paths.ca.cert).unwrap();
    for (id, controller) in &paths.controllers {
        assert_eq!(
            controller.cert,
            cluster_dir.join(format!("controller-{id}.pem"))
        );
        assert_eq!(
            controller.key,
            cluster_dir.join(format!("controller-{id}-key.pem"))
        );
        let identity = load_identity(&controller.cert, &controller.key).unwrap();
        assert_eq!(controller_id_of(identity.chain().end_entity()), Some(*id));
        verify_issued_by(identity.chain(), &ca, UnixTime::now()).unwrap();
    }
    let controller_1 = load_cert_chain(&paths.controllers[0].1.cert).unwrap();
    assert_eq!(
        peer_names(controller_1.end_entity()),
        ["controller-1", "localhost", "ctl1.example"]
    );
    assert!(controller_1
        .pem()
        .starts_with(b"-----BEGIN CERTIFICATE-----"));
}

#[test]
fn key_files_are_private_and_certificates_public() {
    let dir = tempfile::tempdir().unwrap();
    let paths = init_dir(dir.path(), "alpha", &controllers()).unwrap();
    let node = issue_node_files(dir.path(), "node001").unwrap();
    let everything = std::iter::once(&paths.ca)
        .chain(paths.controllers.iter().map(|(_, controller)| controller))
        .chain(std::iter::once(&node));
    for pair in everything {
        assert_eq!(mode_of(&pair.key), KEY_FILE_MODE, "{}", pair.key.display());
        assert_eq!(mode_of(&pair.cert), 0o644, "{}", pair.cert.display());
    }
}

#[test]
fn init_dir_refuses_to_overwrite_a_ca_and_leaves_it_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let first = init_dir(dir.path(), "alpha", &controllers()).unwrap();
    let ca_before = fs::read(&first.ca.cert).unwrap();
    let controller_before = fs::read(&first.controllers[0].1.cert).unwrap();

    let error = init_dir(dir.path(), "alpha", &controllers()).unwrap_err();
    assert!(matches!(&error, CertError::CaExists { path } if *path == first.ca.cert));
    let message = error.to_string();
    assert!(
        message.contains("ca.pem") && message.contains("refusing to overwrite"),
        "{message}"
    );
    assert_eq!(fs::read(&first.ca.cert).unwrap(), ca_before);
    assert_eq!(
        fs::read(&first.controllers[0].1.cert).unwrap(),
        controller_before
    );
}

#[test]
fn init_dir_refuses_when_only_the_ca_key_is_left_behind() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("ca-key.pem"), "old key").unwrap();
    let error = init_dir(dir.path(), "alpha", &controllers()).unwrap_err();
    assert!(error.to_string().contains("ca-key.pem"), "{error}");
    assert!(!dir.path().join("ca.pem").exists());
}

#[test]
fn init_dir_writes_nothing_when_a_controller_file_is_in_the_way() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("controller-2-key.pem"), "old key").unwrap();
    let error = init_dir(dir.path(), "alpha", &controllers()).unwrap_err();
    assert!(
        error.to_string().contains("controller-2-key.pem"),
        "{error}"
    );
    assert!(!dir.path().join("ca.pem").exists());
    assert!(!dir.path().join("controller-1.pem").exists());
}

#[test]
fn nodes_and_late_controllers_are_issued_from_the_ca_on_disk() {
    let dir = tempfile::tempdir().unwrap();
    init_dir(dir.path(), "alpha", &controllers()).unwrap();
    let ca = load_ca_certificates(&dir.path().join("ca.pem")).unwrap();

    let node = issue_node_files(dir.path(), "gpu-07").unwrap();
    assert_eq!(node.cert, dir.path().join("node-gpu-07.pem"));
    assert_eq!(node.key, dir.path().join("node-gpu-07-key.pem"));
    let node_identity = load_identity(&node.cert, &node.key).unwrap();
    assert_eq!(
        node_name_of(node_identity.chain().end_entity()),
        Some("gpu-07".to_owned())
    );
    verify_issued_by(node_identity.chain(), &ca, UnixTime::now()).unwrap();

    let late = issue_controller_files(dir.path(), 4, &["10.0.0.4".to_owned()]).unwrap();
    let late_chain = load_cert_chain(&late.cert).unwrap();
    assert_eq!(controller_id_of(late_chain.end_entity()), Some(4));
    verify_issued_by(&late_chain, &ca, UnixTime::now()).unwrap();

    let again = issue_node_files(dir.path(), "gpu-07").unwrap_err();
    assert!(
        matches!(&again, CertError::FileExists { path } if *path == node.cert),
        "{again}"
    );
}

#[test]
fn issuing_a_node_without_a_ca_names_the_missing_file() {
    let dir = tempfile::tempdir().unwrap();
    let error = issue_node_files(dir.path(), "node001")
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("ca.pem") && error.contains("not found"),
        "{error}"
    );
}

#[test]
fn certificate_from_another_ca_is_reported_as_not_issued_by_it() {
    let dir = tempfile::tempdir().unwrap();
    let (ours, theirs) = (dir.path().join("ours"), dir.path().join("theirs"));
    init_dir(&ours, "alpha", &controllers()).unwrap();
    init_dir(&theirs, "beta", &controllers()).unwrap();
    let ca = load_ca_certificates(&ours.join("ca.pem")).unwrap();
    let stranger = load_cert_chain(&theirs.join("controller-2.pem")).unwrap();

    let error = verify_issued_by(&stranger, &ca, UnixTime::now()).unwrap_err();
    assert!(matches!(error, IssuerCheckError::NotIssuedBy { .. }));
    let message = error.to_string();
    assert!(
        message.contains("theirs/controller-2.pem was not issued by"),
        "{message}"
    );
    assert!(message.ends_with("ours/ca.pem"), "{message}");
}

#[test]
fn certificate_past_its_lifetime_is_reported_as_expired() {
    let cluster = Cluster::new("alpha");
    let eleven_years_later = UnixTime::since_unix_epoch(std::time::Duration::from_secs(
        UnixTime::now().as_secs() + 11 * SECONDS_PER_YEAR,
    ));
    let error = verify_issued_by(
        cluster.controller_1.chain(),
        &cluster.ca,
        eleven_years_later,
    )
    .unwrap_err();
    assert!(matches!(error, IssuerCheckError::Expired { .. }), "{error}");
}

#[test]
fn missing_file_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("absent.pem");
    let error = load_cert_chain(&path).unwrap_err();
    assert!(matches!(&error, LoadError::Missing { path: named } if *named == path));
    assert_eq!(
        error.to_string(),
        format!("{}: file not found", path.display())
    );
}

#[test]
fn garbage_is_not_pem() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("garbage.pem");
    fs::write(&path, "this is not a certificate\n").unwrap();
    for error in [
        load_cert_chain(&path).unwrap_err(),
        load_private_key(&path).unwrap_err(),
        load_ca_certificates(&path).unwrap_err(),
    ] {
        assert!(
            matches!(&error, LoadError::NotPem { path: named } if *named == path),
            "{error}"
        );
        assert!(error.to_string().starts_with(&path.display().to_string()));
    }
}

#[test]
fn broken_base64_and_broken_der_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let bad_base64 = dir.path().join("bad-base64.pem");
    fs::write(
        &bad_base64,
        "-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n",
    )
    .unwrap();
    let error = load_cert_chain(&bad_base64).unwrap_err();
    assert!(matches!(error, LoadError::BadPem { .. }), "{error}");

    let bad_der = dir.path().join("bad-der.pem");
    fs::write(
        &bad_der,
        "-----BEGIN CERTIFICATE-----\nAAEC\n-----END CERTIFICATE-----\n",
    )
    .unwrap();
    let error = load_cert_chain(&bad_der).unwrap_err();
    assert!(
        matches!(error, LoadError::BadCertificate { index: 1, .. }),
        "{error}"
    );
    assert!(error.to_string().contains("bad-der.pem"), "{error}");

    let bad_key = dir.path().join("bad-key.pem");
    fs::write(
        &bad_key,
        "-----BEGIN PRIVATE KEY-----\nAAEC\n-----END PRIVATE KEY-----\n",
    )
    .unwrap();
    let error = load_private_key(&bad_key).unwrap_err();
    assert!(matches!(error, LoadError::BadKey { .. }), "{error}");
    assert!(
        error
            .to_string()
            .contains("bad-key.pem: private key does not parse"),
        "{error}"
    );
}

#[test]
fn swapped_certificate_and_key_paths_say_what_was_found() {
    let dir = tempfile::tempdir().unwrap();
    let paths = init_dir(dir.path(), "alpha", &controllers()).unwrap();
    let controller = &paths.controllers[0].1;

    let error = load_cert_chain(&controller.key).unwrap_err().to_string();
    assert!(
        error.contains("controller-1-key.pem: no certificate inside"),
        "{error}"
    );
    assert!(error.contains("PRIVATE KEY"), "{error}");
    let error = load_private_key(&controller.cert).unwrap_err().to_string();
    assert!(
        error.contains("controller-1.pem: no private key inside"),
        "{error}"
    );
    assert!(error.contains("CERTIFICATE"), "{error}");
}

#[test]
fn key_of_another_certificate_is_a_mismatch_naming_both_files() {
    let dir = tempfile::tempdir().unwrap();
    let paths = init_dir(dir.path(), "alpha", &controllers()).unwrap();
    let (one, two) = (&paths.controllers[0].1, &paths.controllers[1].1);

    let error = load_identity(&one.cert, &two.key).unwrap_err();
    assert!(matches!(error, LoadError::KeyMismatch { .. }), "{error}");
    let message = error.to_string();
    assert!(message.contains("controller-2-key.pem"), "{message}");
    assert!(
        message.contains("does not match the certificate in"),
        "{message}"
    );
    assert!(message.contains("controller-1.pem"), "{message}");
}

#[test]
fn leaf_certificate_is_not_accepted_as_the_ca() {
    let dir = tempfile::tempdir().unwrap();
    let paths = init_dir(dir.path(), "alpha", &controllers()).unwrap();
    let error = load_ca_certificates(&paths.controllers[0].1.cert).unwrap_err();
    assert!(
        matches!(error, LoadError::NotCa { index: 1, .. }),
        "{error}"
    );
    assert!(error.to_string().contains("controller-1.pem"), "{error}");
}
