use proptest::prelude::*;

use super::*;

fn argv(line: &str) -> Vec<String> {
    std::iter::once("sacctmgr")
        .chain(line.split_whitespace())
        .map(String::from)
        .collect()
}

fn run(line: &str) -> Result<(SacctmgrOptions, SacctmgrCommand), SlurmError> {
    match parse_command_line(&argv(line))? {
        Invocation::Run { options, command } => Ok((options, *command)),
        Invocation::Print(text) => panic!("printed {text}"),
    }
}

fn command(line: &str) -> SacctmgrCommand {
    run(line).unwrap().1
}

fn lab() -> AccountingView {
    AccountingView {
        clusters: vec![ClusterRow {
            name: "lab".into(),
            control_host: "127.0.0.1".into(),
            control_port: 6817,
            rpc_version: 9728,
        }],
        accounts: vec![AccountRow {
            name: "root".into(),
            description: "default root account".into(),
            organization: "root".into(),
        }],
        users: vec![UserRow {
            name: "root".into(),
            default_account: "root".into(),
            admin_level: AdminLevel::Administrator,
        }],
        associations: vec![AssociationRow {
            cluster: "lab".into(),
            account: "root".into(),
            user: None,
            partition: None,
            parent_account: None,
            shares: 1,
            qos: vec!["normal".into()],
            default_qos: None,
        }],
    }
}

#[test]
fn verbs_and_entities_abbreviate_as_in_slurm() {
    for line in [
        "add account x",
        "create acc x",
        "ADD Account x",
        "add acct x",
    ] {
        assert!(
            matches!(
                command(line),
                SacctmgrCommand::Add {
                    entity: Entity::Account,
                    ..
                }
            ),
            "{line}"
        );
    }
    assert!(matches!(
        command("list assoc"),
        SacctmgrCommand::Show {
            entity: Entity::Association,
            ..
        }
    ));
    assert!(matches!(
        command("sho cl"),
        SacctmgrCommand::Show {
            entity: Entity::Cluster,
            ..
        }
    ));
    assert!(matches!(
        command("m u where name=alice set adminlevel=operator"),
        SacctmgrCommand::Modify {
            entity: Entity::User,
            ..
        }
    ));
    assert!(matches!(
        command("remove user alice"),
        SacctmgrCommand::Delete {
            entity: Entity::User,
            ..
        }
    ));
    assert_eq!(
        run("ad account x").unwrap_err().lines,
        vec!["invalid keyword: ad"]
    );
}

#[test]
fn arguments_fill_conditions_and_settings() {
    let SacctmgrCommand::Add {
        conditions,
        settings,
        ..
    } = command(
        "add user alice,bob Account=research DefaultAccount=research AdminLevel=Admin cluster=lab",
    )
    else {
        panic!()
    };
    assert_eq!(conditions.names, vec!["alice", "bob"]);
    assert_eq!(conditions.accounts, vec!["research"]);
    assert_eq!(conditions.clusters, vec!["lab"]);
    assert_eq!(settings.default_account.as_deref(), Some("research"));
    assert_eq!(settings.admin_level, Some(AdminLevel::Administrator));
    let SacctmgrCommand::Show {
        format, conditions, ..
    } = command("show assoc format=Cluster,Account%20 where user=alice")
    else {
        panic!()
    };
    assert_eq!(
        format,
        Some(vec!["Cluster".to_string(), "Account%20".to_string()])
    );
    assert_eq!(conditions.users, vec!["alice"]);
    assert_eq!(
        run("add account x Bogus=1").unwrap_err().lines,
        vec![" Unknown option: Bogus=1"]
    );
}

#[test]
fn global_options() {
    let (options, _) = run("-i -n -P -Q show user").unwrap();
    assert!(options.immediate && !options.header && options.quiet);
    assert_eq!(options.parsable, Parsable::NoEnding);
    assert!(matches!(
        parse_command_line(&argv("-V")).unwrap(),
        Invocation::Print(text) if text == "slurm 22.05.8\n"
    ));
    assert!(matches!(
        parse_command_line(&argv("--help")).unwrap(),
        Invocation::Print(text) if text.starts_with("sacctmgr [<OPTION>] [<COMMAND>]")
    ));
    let error = parse_command_line(&argv("--bogus show user")).unwrap_err();
    assert_eq!(
        error.lines,
        vec![
            "sacctmgr: unrecognized option '--bogus'",
            "Try \"sacctmgr --help\" for more information"
        ]
    );
    assert_eq!(
        parse_command_line(&argv("-o show user")).unwrap_err().lines,
        vec!["sacctmgr: error: --oneliner is not supported by Corral yet"]
    );
    assert_eq!(
        parse_command_line(&argv("")).unwrap_err().lines,
        vec!["sacctmgr: error: interactive mode is not supported by Corral yet; give a command"]
    );
}

#[test]
fn without_immediate_the_caller_asks() {
    let (options, command) = run("add account research").unwrap();
    let execution = execute(&command, &options, &lab());
    assert!(execution.needs_confirmation);
    assert_eq!(execution.changes.len(), 2);
    assert_eq!(answer_text(Some('y')), ("\n".to_string(), true));
    assert_eq!(
        answer_text(Some('n')),
        ("\n Changes Discarded\n".to_string(), false)
    );
    assert_eq!(
        answer_text(None),
        ("timeout\n Changes Discarded\n".to_string(), false)
    );
    let (options, command) = run("show account").unwrap();
    assert!(!execute(&command, &options, &lab()).needs_confirmation);
}

#[test]
fn add_account_under_a_missing_parent() {
    let (options, command) = run("-i add account x parent=nosuch").unwrap();
    let execution = execute(&command, &options, &lab());
    assert_eq!(
        execution.stderr,
        " Parent account 'nosuch' doesn't exist on cluster lab\n        Contact your admin to add this account.\n No associations created.\n"
    );
    assert_eq!(execution.exit_code, 1);
}

#[test]
fn modify_and_delete() {
    let (options, command) = run("-i modify user where name=root set adminlevel=operator").unwrap();
    let execution = execute(&command, &options, &lab());
    assert_eq!(execution.stdout, " Modified users...\n  root\n");
    assert_eq!(
        execution.changes,
        vec![Change::ModifyUser {
            name: "root".into(),
            default_account: None,
            admin_level: Some(AdminLevel::Operator)
        }]
    );
    let (options, command) = run("-i delete user nosuch").unwrap();
    let execution = execute(&command, &options, &lab());
    assert_eq!(
        (execution.stdout.as_str(), execution.exit_code),
        (" Nothing deleted\n", 1)
    );
    let (options, command) = run("-i delete user").unwrap();
    assert_eq!(
        execute(&command, &options, &lab()).stderr,
        " No conditions given to remove, not executing.\n"
    );
    let (options, command) = run("-i add cluster lab").unwrap();
    let execution = execute(&command, &options, &lab());
    assert_eq!(
        execution.stdout,
        " This cluster lab already exists.  Not adding.\n"
    );
}

proptest! {
    #[test]
    fn random_command_lines_never_panic(
        words in prop::collection::vec("(-[a-zA-Z]{1,2}|[a-zA-Z]{1,8}(=[a-z,%0-9]{0,8})?)", 0..7)
    ) {
        let mut argv = vec!["sacctmgr".to_string()];
        argv.extend(words);
        if let Ok(Invocation::Run { options, command }) = parse_command_line(&argv) {
            let _ = execute(&command, &options, &lab());
        }
    }
}
