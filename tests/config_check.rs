//! `corral config check` as an administrator runs it: every problem of a
//! file at once, each with the file and the key, and the exit code.

use std::net::TcpListener;
use std::path::Path;
use std::process::Command;

const CORRAL: &str = env!("CARGO_BIN_EXE_corral");

fn check(file: &Path, extra: &[&str]) -> (i32, Vec<String>) {
    let output = Command::new(CORRAL)
        .args(["config", "check"])
        .arg(file)
        .args(extra)
        .env_remove("CORRAL_CONF")
        .output()
        .expect("run corral config check");
    let stdout = String::from_utf8(output.stdout).unwrap();
    let lines = stdout.lines().map(str::to_string).collect();
    (output.status.code().unwrap_or(-1), lines)
}

/// A port nothing listens on: bound by the OS, then closed.
fn closed_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn write_config(dir: &Path, controllers: &str, rest: &str) -> std::path::PathBuf {
    let path = dir.join("corral.toml");
    let text = format!(
        "cluster_name = \"lab\"\n{controllers}\n[tls]\nca = \"ca.pem\"\ncert = \"controller.pem\"\nkey = \"controller-key.pem\"\n\n[auth]\nroot_token_file = \"root.token\"\n{rest}"
    );
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn every_problem_is_printed_with_its_key_and_the_exit_code_is_1() {
    let dir = tempfile::tempdir().unwrap();
    let controllers = "[[controller]]\nid = 1\naddress = \"127.0.0.1:7001\"\nport = 7001\n\n[[controller]]\nid = 1\naddress = \"nosuchhost.invalid:7002\"\n";
    let rest = "\n[raft]\nheartbeat_interval_ms = 100\nelection_timeout_ms = 300\n\n[[node]]\nnames = \"gpu[1-4]\"\ncpus = 8\nmemory_mb = 1000\n\n[[node]]\nnames = \"gpu4\"\ncpus = 8\nmemory_mb = 1000\n\n[[partition]]\nname = \"batch\"\nnodes = \"gpu[1-6]\"\n";
    let file = write_config(dir.path(), controllers, rest);
    let (code, lines) = check(&file, &[]);
    let shown = file.display().to_string();
    let expected = [
        "key `controller[0].port`: unknown field `port`",
        "key `raft.election_timeout_ms`: unknown field `election_timeout_ms`",
        "key `controller[1].id`: id 1 is used twice",
        "key `node[1].names`: node gpu4 is declared twice",
        "key `partition[0].nodes`: names nodes no [[node]] declares: gpu[5-6]",
        "key `controller[1].address`: nosuchhost.invalid:7002 does not resolve",
    ];
    for expected in expected {
        assert!(
            lines
                .iter()
                .any(|line| line.starts_with(&format!("{shown}: ")) && line.contains(expected)),
            "{expected:?} not in {lines:#?}"
        );
    }
    assert_eq!(
        lines.last().unwrap(),
        &format!("{shown}: 6 problems"),
        "{lines:#?}"
    );
    assert_eq!(code, 1);
}

#[test]
fn a_good_file_passes_and_a_silent_controller_is_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let listening = TcpListener::bind("127.0.0.1:0").unwrap();
    let open = listening.local_addr().unwrap().port();
    let closed = closed_port();
    let controllers = format!(
        "[[controller]]\nid = 1\naddress = \"127.0.0.1:{open}\"\n\n[[controller]]\nid = 2\naddress = \"127.0.0.1:{closed}\"\n"
    );
    let file = write_config(dir.path(), &controllers, "");
    let shown = file.display().to_string();
    let (code, lines) = check(&file, &[]);
    assert_eq!(code, 0, "{lines:#?}");
    assert_eq!(
        lines[0],
        format!(
            "{shown}: key `controller[1].address`: warning: nothing answers at 127.0.0.1:{closed} now (Connection refused (os error 111))"
        )
    );
    assert_eq!(
        lines[1],
        format!("{shown}: no problems (2 controllers, 0 partitions, 0 declared nodes, 1 warning)")
    );
    assert_eq!(lines.len(), 2, "{lines:#?}");

    // The files controller 1 needs on this host are missing.
    let (code, lines) = check(&file, &["--offline", "--controller", "1"]);
    assert_eq!(code, 1, "{lines:#?}");
    assert!(
        lines[0].starts_with(&format!("{shown}: key `tls.ca`: ")) && lines[0].contains("ca.pem"),
        "{lines:#?}"
    );
    for name in [
        "ca.pem",
        "controller.pem",
        "controller-key.pem",
        "root.token",
    ] {
        std::fs::write(dir.path().join(name), "x").unwrap();
    }
    let (code, lines) = check(&file, &["--offline", "--controller", "1"]);
    assert_eq!(code, 0, "{lines:#?}");
    drop(listening);
}

#[test]
fn a_file_that_is_not_toml_is_one_problem() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("corral.toml");
    std::fs::write(&file, "cluster_name = \"lab\n").unwrap();
    let (code, lines) = check(&file, &[]);
    assert_eq!(code, 1);
    assert!(lines[0].contains("line 1"), "{lines:#?}");
    assert!(lines.last().unwrap().ends_with(": 1 problem"), "{lines:#?}");

    let (code, lines) = check(&dir.path().join("absent.toml"), &[]);
    assert_eq!(code, 1);
    assert!(lines[0].contains("cannot read"), "{lines:#?}");
}
