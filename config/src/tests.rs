use std::path::Path;

use super::*;

const GOOD: &str = r#"
cluster_name = "lab"

[[controller]]
id = 1
address = "127.0.0.1:7001"

[[controller]]
id = 2
address = "127.0.0.1:7002"
tls_cert = "certs/two.pem"

[tls]
ca = "certs/ca.pem"
cert = "certs/controller.pem"
key = "certs/controller-key.pem"

[auth]
root_token_file = "root.token"

[[partition]]
name = "debug"
nodes = "node[1-4]"
default = true
"#;

fn parse(text: &str) -> Result<Config, ConfigError> {
    Config::parse(Path::new("/etc/corral/corral.toml"), text)
}

fn error_text(text: &str) -> String {
    parse(text).unwrap_err().to_string()
}

#[test]
fn a_good_file_parses_with_defaults() {
    let config = parse(GOOD).unwrap();
    assert_eq!(config.file.cluster_name, "lab");
    assert_eq!(config.file.controllers.len(), 2);
    assert_eq!(config.file.raft, RaftSection::default());
    assert_eq!(config.partitions()[0].name, "debug");
    assert_eq!(config.controller(2).unwrap().display_name(), "controller-2");
}

#[test]
fn an_unknown_key_names_the_file_and_the_key() {
    let text = GOOD.replace("[auth]", "[auth]\nroot_tokn_file = \"x\"");
    let message = error_text(&text);
    assert!(
        message.starts_with("/etc/corral/corral.toml: "),
        "{message}"
    );
    assert!(message.contains("root_tokn_file"), "{message}");
    assert!(message.contains("line"), "{message}");
}

#[test]
fn a_misspelt_raft_key_is_an_error_not_a_default() {
    let text = format!("{GOOD}\n[raft]\nelection_timeout_max = 5\n");
    assert!(error_text(&text).contains("election_timeout_max"));
}

#[test]
fn duplicate_controller_ids_are_refused() {
    let text = GOOD.replace("id = 2", "id = 1");
    let message = error_text(&text);
    assert!(message.contains("key `controller[1].id`"), "{message}");
}

#[test]
fn a_bad_address_is_refused() {
    let text = GOOD.replace("127.0.0.1:7002", "127.0.0.1");
    let message = error_text(&text);
    assert!(message.contains("key `controller[1].address`"), "{message}");
}

#[test]
fn election_timeouts_must_exceed_heartbeat() {
    let text =
        format!("{GOOD}\n[raft]\nheartbeat_interval_ms = 500\nelection_timeout_min_ms = 400\n");
    let message = error_text(&text);
    assert!(
        message.contains("raft.election_timeout_min_ms"),
        "{message}"
    );
}

#[test]
fn two_default_partitions_are_refused() {
    let text = format!("{GOOD}\n[[partition]]\nname = \"gpu\"\ndefault = true\n");
    let message = error_text(&text);
    assert!(message.contains("partition[1].default"), "{message}");
}

#[test]
fn missing_certificate_names_the_key_and_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("corral.toml");
    std::fs::create_dir(dir.path().join("certs")).unwrap();
    for file in ["certs/ca.pem", "certs/controller-key.pem", "root.token"] {
        std::fs::write(dir.path().join(file), "x").unwrap();
    }
    std::fs::write(&path, GOOD).unwrap();
    let config = Config::load(&path).unwrap();
    let message = config.controller_settings(1).unwrap_err().to_string();
    assert!(
        message.starts_with(&format!("{}: key `tls.cert`", path.display())),
        "{message}"
    );
    assert!(message.contains("certs/controller.pem"), "{message}");
    // Controller 2 has its own certificate setting, and that is the key named.
    let message = config.controller_settings(2).unwrap_err().to_string();
    assert!(
        message.contains("key `controller[1].tls_cert`"),
        "{message}"
    );

    std::fs::write(dir.path().join("certs/controller.pem"), "x").unwrap();
    let settings = config.controller_settings(1).unwrap();
    assert_eq!(settings.tls_cert, dir.path().join("certs/controller.pem"));
    assert_eq!(settings.data_dir, Path::new(DEFAULT_DATA_DIR));
}

#[test]
fn an_unknown_controller_id_lists_the_known_ones() {
    let config = parse(GOOD).unwrap();
    let message = config.controller_settings(7).unwrap_err().to_string();
    assert!(
        message.contains("no [[controller]] with id 7 (ids: 1, 2)"),
        "{message}"
    );
}

#[test]
fn a_written_file_reads_back_the_same() {
    let config = parse(GOOD).unwrap();
    let text = toml::to_string(&config.file).unwrap();
    assert_eq!(parse(&text).unwrap().file, config.file);
}

#[test]
fn paths_resolve_against_the_file_and_home() {
    let config = parse(GOOD).unwrap();
    assert_eq!(
        config.resolve(Path::new("certs/ca.pem")),
        Path::new("/etc/corral/certs/ca.pem")
    );
    assert_eq!(config.resolve(Path::new("/abs")), Path::new("/abs"));
    let home = std::env::var_os("HOME").expect("HOME is set");
    assert_eq!(
        config.resolve(Path::new("~/.corral/token")),
        Path::new(&home).join(".corral/token")
    );
}

#[test]
fn nodes_expand_and_duplicates_are_refused() {
    let text =
        format!("{GOOD}\n[[node]]\nnames = \"n[1-2]\"\ncpus = 8\nmemory_mb = 1000\ngpus = 2\n");
    let config = parse(&text).unwrap();
    let nodes = config.node_definitions();
    assert_eq!(nodes.len(), 2);
    assert_eq!(nodes[1].name, "n2");
    assert_eq!(nodes[1].resources.gpus.len(), 2);

    let twice = format!("{text}\n[[node]]\nnames = \"n2\"\ncpus = 1\nmemory_mb = 1\n");
    let message = error_text(&twice);
    assert!(
        message.contains("key `node[1].names`: node n2 is declared twice"),
        "{message}"
    );

    let bad = format!("{GOOD}\n[[node]]\nnames = \"n[1-\"\ncpus = 8\nmemory_mb = 1\n");
    assert!(error_text(&bad).contains("key `node[0].names`"));
}

#[test]
fn agent_paths_take_the_node_name() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("corral.toml");
    let text = format!(
        "{GOOD}\n[agent]\nspool_dir = \"spool/{{node}}\"\ntls_cert = \"certs/node-{{node}}.pem\"\ntls_key = \"certs/node-{{node}}-key.pem\"\n"
    );
    std::fs::write(&path, text).unwrap();
    std::fs::create_dir(dir.path().join("certs")).unwrap();
    std::fs::write(dir.path().join("certs/ca.pem"), "x").unwrap();
    let config = Config::load(&path).unwrap();
    let message = config.agent_settings("n1").unwrap_err().to_string();
    assert!(message.contains("key `agent.tls_cert`"), "{message}");
    assert!(message.contains("certs/node-n1.pem"), "{message}");
    for file in ["certs/node-n1.pem", "certs/node-n1-key.pem"] {
        std::fs::write(dir.path().join(file), "x").unwrap();
    }
    let settings = config.agent_settings("n1").unwrap();
    assert_eq!(settings.spool_dir, dir.path().join("spool/n1"));
    assert!(config.agent_settings("../etc").is_err());
}

#[test]
fn accounting_urls_are_checked_and_default_to_sqlite_beside_the_file() {
    let config = parse(GOOD).unwrap();
    assert_eq!(
        config.accounting_urls(),
        ["sqlite:///etc/corral/accounting.sqlite"]
    );
    let error = error_text(&format!(
        "{GOOD}\n[accounting]\nurls = [\"postgres://x\"]\n"
    ));
    assert!(error.contains("accounting.urls[0]"), "{error}");
    let error = error_text(&format!(
        "{GOOD}\n[accounting]\nurls = [\"sqlite:///a\", \"mysql://u@h/db\"]\n"
    ));
    assert!(error.contains("accounting.urls"), "{error}");
    let config = parse(&format!(
        "{GOOD}\n[accounting]\nurls = [\"mysql://u:p@127.0.0.1:3306/corral\", \"mysql://u:p@127.0.0.1:3307/corral\"]\nenforce_associations = true\n"
    ))
    .unwrap();
    assert_eq!(config.accounting_urls().len(), 2);
    assert!(config.file.accounting.enforce_associations);
}

fn check(text: &str) -> Vec<String> {
    Config::check_text(Path::new("/etc/corral/corral.toml"), text)
        .problems
        .iter()
        .map(ToString::to_string)
        .collect()
}

#[test]
fn a_good_file_has_nothing_to_report() {
    let report = Config::check_text(Path::new("/etc/corral/corral.toml"), GOOD);
    assert!(report.problems.is_empty(), "{:?}", report.problems);
    assert_eq!(report.config.unwrap().file.controllers.len(), 2);
}

#[test]
fn check_reports_every_wrong_key_and_every_failed_check() {
    let text = GOOD
        .replace("[auth]", "[auth]\nroot_tokn_file = \"x\"")
        .replace("id = 2\n", "id = 2\nadress = \"x\"\n")
        .replace("address = \"127.0.0.1:7002\"", "address = \"127.0.0.1:0\"")
        .replace("default = true", "default = true\nnodes_extra = 1")
        + "\n[raft]\nheartbeat_interval_ms = \"fast\"\nelection_timeout_min_ms = 50\n";
    let problems = check(&text);
    let expected = [
        "key `controller[1].adress`: unknown field `adress`",
        "key `auth.root_tokn_file`: unknown field `root_tokn_file`",
        "key `partition[0].nodes_extra`: unknown field `nodes_extra`",
        "key `raft.heartbeat_interval_ms`: invalid type: string \"fast\"",
        "key `controller[1].address`: \"127.0.0.1:0\" is not host:port",
        "key `raft.election_timeout_min_ms`: 50 must be above raft.heartbeat_interval_ms (100)",
    ];
    for expected in expected {
        assert!(
            problems
                .iter()
                .any(|problem| problem.starts_with("/etc/corral/corral.toml: ")
                    && problem.contains(expected)),
            "{expected:?} not in {problems:#?}"
        );
    }
    assert_eq!(problems.len(), expected.len(), "{problems:#?}");
}

#[test]
fn check_stops_at_a_syntax_error_or_a_missing_key() {
    let problems = check(&GOOD.replace("[auth]", "[auth"));
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(problems[0].contains("line"), "{problems:?}");

    let problems = check(&GOOD.replace("cluster_name = \"lab\"", "clustr_name = \"lab\""));
    assert_eq!(problems.len(), 2, "{problems:?}");
    assert!(
        problems[0].contains("key `clustr_name`: unknown field"),
        "{problems:?}"
    );
    assert!(
        problems[1].contains("missing field `cluster_name`"),
        "{problems:?}"
    );
}

#[test]
fn check_names_partition_nodes_no_declaration_has_but_loading_accepts_them() {
    let text = format!("{GOOD}\n[[node]]\nnames = \"node[1-2]\"\ncpus = 8\nmemory_mb = 1000\n");
    let problems = check(&text);
    assert_eq!(
        problems,
        ["/etc/corral/corral.toml: key `partition[0].nodes`: names nodes no [[node]] declares: node[3-4]"]
    );
    assert!(
        parse(&text).is_ok(),
        "a node may register itself undeclared"
    );
    assert!(
        check(GOOD).is_empty(),
        "without declarations any node may register"
    );

    let bad = GOOD.replace("node[1-4]", "node[1-");
    assert!(error_text(&bad).contains("key `partition[0].nodes`"));
}

#[test]
fn check_reports_overlapping_node_declarations_all_at_once() {
    let text = format!(
        "{GOOD}\n[[node]]\nnames = \"node[1-3]\"\ncpus = 8\nmemory_mb = 1\n\n[[node]]\nnames = \"node[2-4]\"\ncpus = 0\nmemory_mb = 1\n"
    );
    let problems = check(&text);
    assert_eq!(
        problems,
        [
            "/etc/corral/corral.toml: key `node[1].names`: node node2 is declared twice",
            "/etc/corral/corral.toml: key `node[1].names`: node node3 is declared twice",
            "/etc/corral/corral.toml: key `node[1].cpus`: a node needs at least one CPU",
        ]
    );
}

#[test]
fn http_addresses_are_optional_and_checked() {
    let config = parse(GOOD).unwrap();
    assert_eq!(config.file.controllers[0].http_address, None);
    assert_eq!(config.file.agent.http_address, None);

    let text = GOOD.replace(
        "address = \"127.0.0.1:7002\"",
        "address = \"127.0.0.1:7002\"\nhttp_address = \"127.0.0.1:9102\"",
    );
    let config = parse(&text).unwrap();
    assert_eq!(
        config.file.controllers[1].http_address.as_deref(),
        Some("127.0.0.1:9102")
    );

    let bad = GOOD.replace(
        "address = \"127.0.0.1:7002\"",
        "address = \"127.0.0.1:7002\"\nhttp_address = \"9102\"",
    );
    let message = error_text(&bad);
    assert!(
        message.contains("key `controller[1].http_address`"),
        "{message}"
    );

    let clash = GOOD.replace(
        "address = \"127.0.0.1:7002\"",
        "address = \"127.0.0.1:7002\"\nhttp_address = \"127.0.0.1:7001\"",
    );
    let message = error_text(&clash);
    assert!(message.contains("already used"), "{message}");
}

#[test]
fn an_agent_http_address_may_be_set_per_node() {
    let text = format!(
        "{GOOD}\n[agent]\nhttp_address = \"0.0.0.0:9200\"\n[agent.http_addresses]\nn2 = \"127.0.0.1:9202\"\n"
    );
    let config = parse(&text).unwrap();
    assert_eq!(
        config.file.agent.http_address.as_deref(),
        Some("0.0.0.0:9200")
    );
    assert_eq!(config.file.agent.http_addresses["n2"], "127.0.0.1:9202");

    let bad = format!("{GOOD}\n[agent.http_addresses]\nn2 = \"nowhere\"\n");
    let message = error_text(&bad);
    assert!(
        message.contains("key `agent.http_addresses.n2`"),
        "{message}"
    );
}
