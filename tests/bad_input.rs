//! Bad input gets a clear error and loses nothing: configuration mistakes
//! name the file and the key, a peer with a foreign certificate is refused,
//! tokens are checked, malformed sbatch input gets Slurm's own messages and
//! exit codes, and an unreachable cluster is reported in bounded time.

mod support;

use std::io::Write;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use support::{assert_success, stderr, DevCluster, CORRAL};

fn reference_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../slurm/tests/reference")
}

/// What real Slurm printed for a reference case, and its exit code.
fn reference(name: &str) -> (String, i32) {
    let text = std::fs::read_to_string(reference_dir().join(name)).expect("reference file");
    let mut lines: Vec<&str> = text.lines().skip(1).collect();
    let exit_line = lines.pop().expect("exit line");
    let code = exit_line
        .trim_start_matches("[exit=")
        .trim_end_matches(']')
        .parse()
        .expect("exit code");
    let mut output = lines.join("\n");
    if !output.is_empty() {
        output.push('\n');
    }
    (output, code)
}

/// Runs `sbatch` (as argv[0] `argv0`) with no cluster configured at all:
/// these errors must come before any attempt to reach one.
fn sbatch_offline(dir: &Path, argv0: &str, args: &[&str], stdin: &[u8]) -> Output {
    let link = dir.join("sbatch");
    if !link.exists() {
        std::os::unix::fs::symlink(CORRAL, &link).unwrap();
    }
    let mut child = Command::new(&link)
        .arg0(argv0)
        .args(args)
        .current_dir(dir)
        .env("CORRAL_CONF", dir.join("no-such-config.toml"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("sbatch");
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    child.wait_with_output().unwrap()
}

fn assert_matches_reference(output: &Output, reference_name: &str) {
    let (expected, code) = reference(reference_name);
    let actual = format!("{}{}", support::stdout(output), stderr(output));
    assert_eq!(actual, expected, "output differs from {reference_name}");
    assert_eq!(
        output.status.code(),
        Some(code),
        "exit code differs from {reference_name}"
    );
}

#[test]
fn malformed_sbatch_input_gets_slurms_messages_and_exit_codes() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("empty.sh"), "").unwrap();
    std::fs::write(dir.path().join("noshebang.sh"), "echo no shebang\n").unwrap();
    let cases: [(&str, &[&str], &[u8], &str); 8] = [
        (
            "sbatch",
            &["-t", "abc", "--wrap", "true"],
            b"",
            "78_err_invalid_time.txt",
        ),
        (
            "sbatch",
            &["-t", "1:2:3:4:5", "--wrap", "true"],
            b"",
            "79_err_invalid_time2.txt",
        ),
        (
            "/usr/bin/sbatch",
            &["--bogus", "--wrap", "true"],
            b"",
            "88_err_unknown_option.txt",
        ),
        (
            "sbatch",
            &["--mem=abc", "--wrap", "true"],
            b"",
            "89_err_mem_abc.txt",
        ),
        ("sbatch", &["empty.sh"], b"", "90_err_empty_script.txt"),
        (
            "sbatch",
            &["noshebang.sh"],
            b"",
            "91_err_script_without_shebang.txt",
        ),
        ("sbatch", &[], b"", "92_err_stdin_no_script.txt"),
        (
            "sbatch",
            &["/nonexistent/file.sh"],
            b"",
            "93_err_missing_file.txt",
        ),
    ];
    for (argv0, args, stdin, reference_name) in cases {
        let output = sbatch_offline(dir.path(), argv0, args, stdin);
        assert_matches_reference(&output, reference_name);
    }
}

#[test]
fn malformed_sbatch_directives_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("bad.sh");
    std::fs::write(&script, "#!/bin/sh\n#SBATCH --bogus\ntrue\n").unwrap();
    let output = sbatch_offline(dir.path(), "sbatch", &["bad.sh"], b"");
    assert_eq!(output.status.code(), Some(255), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("unrecognized option '--bogus'"),
        "{}",
        stderr(&output)
    );

    std::fs::write(&script, "#!/bin/sh\n#SBATCH -t abc\ntrue\n").unwrap();
    let output = sbatch_offline(dir.path(), "sbatch", &["bad.sh"], b"");
    assert_eq!(output.status.code(), Some(255));
    assert_eq!(
        stderr(&output),
        "sbatch: error: Invalid --time specification\n"
    );

    let output = sbatch_offline(
        dir.path(),
        "sbatch",
        &["--contiguous", "--wrap", "true"],
        b"",
    );
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains("--contiguous is not supported by Corral yet"),
        "{}",
        stderr(&output)
    );
}

const GOOD_CONFIG: &str = r#"
cluster_name = "lab"

[[controller]]
id = 1
address = "127.0.0.1:1"

[tls]
ca = "tls/ca.pem"
cert = "tls/controller-1.pem"
key = "tls/controller-1-key.pem"

[auth]
root_token_file = "root.token"
"#;

#[test]
fn a_config_with_a_wrong_key_is_refused_with_file_and_key() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("corral.toml");
    std::fs::write(
        &path,
        GOOD_CONFIG.replace("[auth]", "[auth]\nroot_tokn = \"x\""),
    )
    .unwrap();
    let output = Command::new(CORRAL)
        .args(["--config", &path.to_string_lossy(), "status"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let message = stderr(&output);
    assert!(message.contains(&*path.to_string_lossy()), "{message}");
    assert!(message.contains("root_tokn"), "{message}");

    // The Slurm commands report it the same way, in Slurm's format.
    let output = Command::new(CORRAL)
        .arg0("squeue")
        .env("CORRAL_CONF", &path)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let message = stderr(&output);
    assert!(message.starts_with("squeue: error: "), "{message}");
    assert!(message.contains("root_tokn"), "{message}");
}

#[test]
fn a_controller_with_a_missing_certificate_names_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let certs = Command::new(CORRAL)
        .args([
            "certs",
            "init",
            "--dir",
            &dir.path().join("tls").to_string_lossy(),
            "--controllers",
            "1=127.0.0.1",
        ])
        .output()
        .unwrap();
    assert_success(&certs, "corral certs init");
    std::fs::write(dir.path().join("root.token"), "x".repeat(64)).unwrap();
    let path = dir.path().join("corral.toml");
    std::fs::write(
        &path,
        GOOD_CONFIG.replace("tls/controller-1.pem", "tls/missing.pem"),
    )
    .unwrap();
    let output = Command::new(CORRAL)
        .args([
            "--config",
            &path.to_string_lossy(),
            "controller",
            "--id",
            "1",
        ])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let message = stderr(&output);
    assert!(
        message.contains(&format!("{}: key `tls.cert`", path.display())),
        "{message}"
    );
    assert!(message.contains("missing.pem"), "{message}");
}

mod peers {
    use corral_proto::raft_client::RaftClient;
    use corral_proto::RaftPayload;
    use tonic::transport::{Certificate, ClientTlsConfig, Endpoint, Identity};

    use super::*;

    /// A Raft vote request to `address`, presenting `identity` (PEM cert and
    /// key files) if given; the server is verified against `ca`.
    pub async fn vote(
        address: &str,
        ca: &Path,
        identity: Option<(PathBuf, PathBuf)>,
    ) -> Result<(), tonic::Status> {
        let mut tls = ClientTlsConfig::new()
            .ca_certificate(Certificate::from_pem(std::fs::read(ca).unwrap()))
            .domain_name("127.0.0.1");
        if let Some((cert, key)) = identity {
            tls = tls.identity(Identity::from_pem(
                std::fs::read(cert).unwrap(),
                std::fs::read(key).unwrap(),
            ));
        }
        let endpoint = Endpoint::from_shared(format!("https://{address}"))
            .unwrap()
            .tls_config(tls)
            .unwrap();
        let channel = endpoint
            .connect()
            .await
            .map_err(|e| tonic::Status::unavailable(format!("{e:?}")))?;
        // A vote for term 0 is stale: a controller that accepts the caller
        // answers it (with its own, higher vote) rather than granting it.
        let request =
            r#"{"vote":{"leader_id":{"term":0,"node_id":2},"committed":false},"last_log_id":null}"#;
        RaftClient::new(channel)
            .vote(RaftPayload {
                json: request.as_bytes().to_vec(),
            })
            .await
            .map(|_| ())
    }
}

#[test]
fn a_peer_without_a_controller_certificate_from_the_cluster_ca_is_refused() {
    let cluster = DevCluster::up(3);
    let leader = cluster.leader();
    let tls = cluster.path().join("tls");
    let foreign = tempfile::tempdir().unwrap();
    let made = Command::new(CORRAL)
        .args([
            "certs",
            "init",
            "--dir",
            &foreign.path().to_string_lossy(),
            "--controllers",
            "2=127.0.0.1",
        ])
        .output()
        .unwrap();
    assert_success(&made, "corral certs init (foreign CA)");
    let node = Command::new(CORRAL)
        .args(["certs", "node", "--dir", &tls.to_string_lossy(), "node001"])
        .output()
        .unwrap();
    assert_success(&node, "corral certs node");

    let runtime = tokio::runtime::Runtime::new().unwrap();
    let ca = tls.join("ca.pem");
    let pair = |dir: &Path, name: &str| {
        Some((
            dir.join(format!("{name}.pem")),
            dir.join(format!("{name}-key.pem")),
        ))
    };

    // The genuine article gets through: the check can tell them apart.
    let genuine = runtime.block_on(peers::vote(
        &leader.address,
        &ca,
        pair(&tls, "controller-2"),
    ));
    assert!(
        genuine.is_ok(),
        "a real controller was refused: {genuine:?}"
    );

    let foreign_cert = runtime.block_on(peers::vote(
        &leader.address,
        &ca,
        pair(foreign.path(), "controller-2"),
    ));
    assert!(
        foreign_cert.is_err(),
        "a certificate from a foreign CA was accepted"
    );

    let no_cert = runtime
        .block_on(peers::vote(&leader.address, &ca, None))
        .unwrap_err();
    assert_eq!(no_cert.code(), tonic::Code::PermissionDenied, "{no_cert:?}");

    let node_cert = runtime
        .block_on(peers::vote(
            &leader.address,
            &ca,
            pair(&tls, "node-node001"),
        ))
        .unwrap_err();
    assert_eq!(
        node_cert.code(),
        tonic::Code::PermissionDenied,
        "{node_cert:?}"
    );
    assert!(
        node_cert.message().contains("does not name a controller"),
        "{node_cert:?}"
    );

    // Nothing was disturbed.
    assert_eq!(cluster.leader().id, leader.id);
}

#[test]
fn tokens_are_required_and_checked() {
    let cluster = DevCluster::up(3);
    let output = cluster
        .slurm("sbatch")
        .env("CORRAL_TOKEN", "not-a-token")
        .args(["--wrap", "true"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let message = stderr(&output);
    assert!(
        message.contains("Batch job submission failed: Protocol authentication error"),
        "{message}"
    );
    assert!(message.contains("invalid token"), "{message}");

    let tokenless = cluster.path().join("tokenless.toml");
    let text = std::fs::read_to_string(cluster.config_path()).unwrap();
    let text: String = text
        .lines()
        .filter(|l| !l.starts_with("token_file"))
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(&tokenless, text).unwrap();
    let output = cluster
        .slurm("squeue")
        .env("CORRAL_CONF", &tokenless)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let message = stderr(&output);
    assert!(
        message.contains("slurm_load_jobs error: Protocol authentication error"),
        "{message}"
    );
    assert!(message.contains("no token"), "{message}");

    // And with the token, the same cluster answers.
    assert_success(
        &cluster.slurm("squeue").output().unwrap(),
        "squeue with the token",
    );
}

#[test]
fn an_unknown_partition_is_slurms_error_and_creates_no_job() {
    let cluster = DevCluster::up(3);
    let output = cluster
        .slurm("sbatch")
        .args(["-p", "nosuch", "--wrap", "true"])
        .output()
        .unwrap();
    assert_matches_reference(&output, "77_err_invalid_partition.txt");
    assert!(cluster.job_states().is_empty());
}

#[test]
fn no_reachable_leader_is_reported_in_bounded_time() {
    let dir = tempfile::tempdir().unwrap();
    let certs = Command::new(CORRAL)
        .args([
            "certs",
            "init",
            "--dir",
            &dir.path().join("tls").to_string_lossy(),
            "--controllers",
            "1=127.0.0.1",
        ])
        .output()
        .unwrap();
    assert_success(&certs, "corral certs init");
    // A port nothing listens on: bind one, then close it.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let path = dir.path().join("corral.toml");
    let config = GOOD_CONFIG.replace("127.0.0.1:1", &format!("127.0.0.1:{port}"))
        + "\n[client]\nleader_wait_ms = 1500\n";
    std::fs::write(&path, config).unwrap();
    let started = Instant::now();
    let output = Command::new(CORRAL)
        .arg0("sbatch")
        .args(["--wrap", "true"])
        .env("CORRAL_CONF", &path)
        .env("CORRAL_TOKEN", "x")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let message = stderr(&output);
    assert!(
        message.starts_with("sbatch: error: Batch job submission failed: Unable to contact slurm controller (connect failure)\n"),
        "{message}"
    );
    assert!(message.contains("no leader reachable"), "{message}");
    assert!(message.contains(&format!("127.0.0.1:{port}")), "{message}");
    // Bounded: the configured wait plus start-up, with a generous margin.
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "took {:?}",
        started.elapsed()
    );
}
