//! Golden tests of `sacctmgr`: accounting state built to match the
//! reference captures of real Slurm 22.05 (`tests/reference/`), commands
//! run through the real parser and `execute`, output compared byte for
//! byte (stdout, then stderr, as the captures show them together).
//!
//! Captures compared: 51 (`-i add account research`), 52 (`-i add user
//! alice account=research`), 53 (adding it again: `Nothing new added.`,
//! exit 1), 54 (`show account`), 55 (`show user`, `Administ+`), 56 (`-P
//! show assoc`, tree order), 57 (`show cluster`), 98 (an unknown account).
//!
//! Normalised: nothing. The state carries the captures' cluster `lab`,
//! its control address 127.0.0.1:6817 and RPC version 9728.

use corral_slurm::sacctmgr::{
    self, AccountRow, AccountingView, AdminLevel, AssociationRow, Change, ClusterRow, Invocation,
    UserRow,
};

mod common;
use common::capture;

fn association(account: &str, user: Option<&str>, parent: Option<&str>) -> AssociationRow {
    AssociationRow {
        cluster: "lab".into(),
        account: account.into(),
        user: user.map(String::from),
        partition: None,
        parent_account: parent.map(String::from),
        shares: 1,
        qos: vec!["normal".into()],
        default_qos: None,
    }
}

/// A fresh cluster: `lab`, the root account and user root.
fn fresh() -> AccountingView {
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
        associations: vec![
            association("root", None, None),
            association("root", Some("root"), None),
        ],
    }
}

/// Applies changes as the controller will.
fn apply(view: &mut AccountingView, changes: Vec<Change>) {
    for change in changes {
        match change {
            Change::AddCluster(row) => view.clusters.push(row),
            Change::AddAccount(row) => view.accounts.push(row),
            Change::AddUser(row) => view.users.push(row),
            Change::AddAssociation(row) => view.associations.push(row),
            other => panic!("unexpected change {other:?}"),
        }
    }
}

/// Runs `sacctmgr LINE` against the state, applying what it commits.
fn sacctmgr(line: &str, view: &mut AccountingView) -> (String, i32) {
    let argv: Vec<String> = std::iter::once("sacctmgr")
        .chain(line.split_whitespace())
        .map(String::from)
        .collect();
    let Invocation::Run { options, command } =
        sacctmgr::parse_command_line(&argv).expect("a valid command line")
    else {
        panic!("{line}: printed")
    };
    let execution = sacctmgr::execute(&command, &options, view);
    assert!(!execution.needs_confirmation, "{line}: -i commits at once");
    apply(view, execution.changes);
    (execution.stdout + &execution.stderr, execution.exit_code)
}

fn assert_matches(name: &str, line: &str, view: &mut AccountingView) {
    let reference = capture(name);
    let (output, exit_code) = sacctmgr(line, view);
    assert_eq!(output, reference.output, "{name}");
    assert_eq!(exit_code, reference.exit_code, "{name}");
}

#[test]
fn the_accounting_session_51_to_57() {
    let mut view = fresh();
    assert_matches(
        "51_sacctmgr_add_account.txt",
        "-i add account research",
        &mut view,
    );
    assert_matches(
        "52_sacctmgr_add_user.txt",
        "-i add user alice account=research",
        &mut view,
    );
    assert_matches(
        "53_sacctmgr_add_account_again.txt",
        "-i add account research",
        &mut view,
    );
    assert_matches("54_sacctmgr_show_account.txt", "show account", &mut view);
    assert_matches("55_sacctmgr_show_user.txt", "show user", &mut view);
    assert_matches("56_sacctmgr_P_show_assoc.txt", "-P show assoc", &mut view);
    assert_matches("57_sacctmgr_show_cluster.txt", "show cluster", &mut view);
}

#[test]
fn unknown_account_98() {
    let mut view = fresh();
    assert_matches(
        "98_err_sacctmgr_bad.txt",
        "-i add user bob account=nosuchaccount",
        &mut view,
    );
    assert_eq!(view, fresh(), "nothing was added");
}

#[test]
fn show_with_format_and_where() {
    let mut view = fresh();
    sacctmgr("-i add account research", &mut view);
    sacctmgr("-i add user alice account=research", &mut view);
    let (text, _) = sacctmgr(
        "-n -P show assoc where user=alice format=User,Account,ParentName",
        &mut view,
    );
    assert_eq!(text, "alice|research|\n");
    let (text, _) = sacctmgr(
        "-p show assoc account=research format=acc,user,parentn",
        &mut view,
    );
    assert_eq!(
        text,
        "Account|User|ParentName|\nresearch||root|\nresearch|alice||\n"
    );
    let (text, _) = sacctmgr("show user alice format=User%-6,Ad", &mut view);
    assert_eq!(
        text,
        "User       Admin \n------ --------- \nalice       None \n"
    );
}
