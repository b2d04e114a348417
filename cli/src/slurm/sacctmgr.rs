//! `sacctmgr`: the policy (accounts, users, associations) lives in the
//! replicated state, so it works while the accounting database is down.
//! The command reads it from the leader, lets `corral_slurm::sacctmgr`
//! decide what to print and change, asks for confirmation as Slurm does
//! (unless `-i`), and sends the changes.

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::mpsc;
use std::time::Duration;

use corral_client::Client;
use corral_proto as wire;
use corral_slurm::sacctmgr::{
    self, answer_text, AccountRow, AccountingView, AdminLevel, AssociationRow, Change, ClusterRow,
    Invocation, UserRow, COMMIT_PROMPT, CONFIRMATION_TIMEOUT_S,
};
use corral_slurm::SlurmError;
use corral_state::{Policy, PolicyChange};

use super::connection::{call_failed, connect};

const COMMAND: &str = "sacctmgr";
/// Slurm 22.05's RPC protocol version, as `show cluster` prints it.
const RPC_VERSION: u32 = 9728;

pub fn run(args: &[String]) -> Result<u8, SlurmError> {
    let (options, command) = match sacctmgr::parse_command_line(args)? {
        Invocation::Print(text) => {
            print!("{text}");
            return Ok(0);
        }
        Invocation::Run { options, command } => (options, command),
    };
    let client = connect(COMMAND)?;
    let runtime = super::runtime(COMMAND)?;
    let reply = runtime
        .block_on(
            client.call(wire::GetPolicyRequest {}, |mut c, r| async move {
                c.get_policy(r).await
            }),
        )
        .map_err(|error| call_failed(COMMAND, format!("{COMMAND}: error: "), &error))?;
    let policy = wire::policy_from_wire(&reply).map_err(|error| {
        SlurmError::command_error(COMMAND, &format!("malformed reply: {error}"), 1)
    })?;
    let view = view_of(&policy, &reply.cluster_name, &reply.leader_address);
    let execution = sacctmgr::execute(&command, &options, &view);
    print!("{}", execution.stdout);
    eprint!("{}", execution.stderr);
    if execution.changes.is_empty() {
        return Ok(exit_code(execution.exit_code));
    }
    if execution.needs_confirmation && !confirmed() {
        return Ok(exit_code(execution.exit_code));
    }
    let changes = policy_changes(&execution.changes, &reply.cluster_name)?;
    apply(&client, &runtime, changes)?;
    Ok(exit_code(execution.exit_code))
}

fn exit_code(code: i32) -> u8 {
    u8::try_from(code.rem_euclid(256)).unwrap_or(1)
}

/// Asks Slurm's question and waits (bounded) for the answer on stdin.
fn confirmed() -> bool {
    print!("{COMMIT_PROMPT}");
    let _ = std::io::stdout().flush();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let answer = match std::io::stdin().read_line(&mut line) {
            Ok(0) | Err(_) => None,
            Ok(_) => Some(line.trim().chars().next().unwrap_or('n')),
        };
        let _ = tx.send(answer);
    });
    let answer = rx
        .recv_timeout(Duration::from_secs(CONFIRMATION_TIMEOUT_S))
        .ok()
        .flatten();
    let (text, commit) = answer_text(answer);
    print!("{text}");
    let _ = std::io::stdout().flush();
    commit
}

/// The policy as sacctmgr's rows.
fn view_of(policy: &Policy, cluster: &str, leader_address: &str) -> AccountingView {
    let (host, port) = leader_address
        .rsplit_once(':')
        .map(|(host, port)| (host.to_string(), port.parse().unwrap_or(0)))
        .unwrap_or_else(|| (leader_address.to_string(), 0));
    let associations = policy
        .associations()
        .into_iter()
        .map(|(account, user)| AssociationRow {
            cluster: cluster.to_string(),
            parent_account: match &user {
                None => policy.accounts.get(&account).and_then(|a| a.parent.clone()),
                Some(_) => None,
            },
            account,
            user,
            partition: None,
            shares: 1,
            qos: vec!["normal".to_string()],
            default_qos: None,
        })
        .collect();
    AccountingView {
        clusters: vec![ClusterRow {
            name: cluster.to_string(),
            control_host: host,
            control_port: port,
            rpc_version: RPC_VERSION,
        }],
        accounts: policy
            .accounts
            .values()
            .map(|account| AccountRow {
                name: account.name.clone(),
                description: account.description.clone(),
                organization: account.organization.clone(),
            })
            .collect(),
        users: policy
            .users
            .values()
            .map(|user| UserRow {
                name: user.name.clone(),
                default_account: user.default_account.clone(),
                admin_level: admin_level(user.admin_level),
            })
            .collect(),
        associations,
    }
}

fn admin_level(level: corral_state::AdminLevel) -> AdminLevel {
    match level {
        corral_state::AdminLevel::None => AdminLevel::None,
        corral_state::AdminLevel::Operator => AdminLevel::Operator,
        corral_state::AdminLevel::Administrator => AdminLevel::Administrator,
    }
}

fn state_admin_level(level: AdminLevel) -> corral_state::AdminLevel {
    match level {
        AdminLevel::None => corral_state::AdminLevel::None,
        AdminLevel::Operator => corral_state::AdminLevel::Operator,
        AdminLevel::Administrator => corral_state::AdminLevel::Administrator,
    }
}

/// sacctmgr's changes as replicated policy changes, in order: a new
/// account with its parent, a user with every account it joins.
fn policy_changes(changes: &[Change], cluster: &str) -> Result<Vec<PolicyChange>, SlurmError> {
    let parent_of: BTreeMap<&str, Option<String>> = changes
        .iter()
        .filter_map(|change| match change {
            Change::AddAssociation(row) if row.user.is_none() => {
                Some((row.account.as_str(), row.parent_account.clone()))
            }
            _ => None,
        })
        .collect();
    let mut user_accounts: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for change in changes {
        if let Change::AddAssociation(AssociationRow {
            user: Some(user),
            account,
            ..
        }) = change
        {
            user_accounts.entry(user).or_default().push(account.clone());
        }
    }
    let new_users: Vec<&str> = changes
        .iter()
        .filter_map(|change| match change {
            Change::AddUser(row) => Some(row.name.as_str()),
            _ => None,
        })
        .collect();
    let one_cluster = |name: &str| {
        SlurmError::command_error(
            COMMAND,
            &format!("Corral runs one cluster ({cluster}); {name} cannot be added or removed"),
            1,
        )
    };
    let mut result = Vec::new();
    for change in changes {
        match change {
            Change::AddCluster(row) if row.name == cluster => {}
            Change::AddCluster(row) => return Err(one_cluster(&row.name)),
            Change::DeleteCluster(name) => return Err(one_cluster(name)),
            Change::AddAccount(row) => result.push(PolicyChange::AddAccount {
                name: row.name.clone(),
                description: Some(row.description.clone()),
                organization: Some(row.organization.clone()),
                parent: parent_of.get(row.name.as_str()).cloned().flatten(),
            }),
            Change::AddUser(row) => result.push(PolicyChange::AddUser {
                name: row.name.clone(),
                accounts: user_accounts
                    .get(row.name.as_str())
                    .cloned()
                    .unwrap_or_default(),
                default_account: Some(row.default_account.clone()),
                admin_level: Some(state_admin_level(row.admin_level)),
            }),
            Change::AddAssociation(AssociationRow {
                user: Some(user),
                account,
                ..
            }) if !new_users.contains(&user.as_str()) => result.push(PolicyChange::AddUser {
                name: user.clone(),
                accounts: vec![account.clone()],
                default_account: None,
                admin_level: None,
            }),
            Change::AddAssociation(_) => {}
            Change::ModifyAccount {
                name,
                description,
                organization,
            } => result.push(PolicyChange::ModifyAccount {
                name: name.clone(),
                description: description.clone(),
                organization: organization.clone(),
                parent: None,
            }),
            Change::ModifyUser {
                name,
                default_account,
                admin_level,
            } => result.push(PolicyChange::ModifyUser {
                name: name.clone(),
                default_account: default_account.clone(),
                admin_level: admin_level.map(state_admin_level),
            }),
            Change::DeleteAccount(name) => {
                result.push(PolicyChange::DeleteAccount { name: name.clone() })
            }
            Change::DeleteUser(name) => result.push(PolicyChange::DeleteUser {
                name: name.clone(),
                account: None,
            }),
        }
    }
    Ok(result)
}

fn apply(
    client: &Client,
    runtime: &tokio::runtime::Runtime,
    changes: Vec<PolicyChange>,
) -> Result<(), SlurmError> {
    let request = wire::ChangePolicyRequest {
        changes: changes
            .iter()
            .filter_map(wire::policy_change_to_wire)
            .collect(),
    };
    let reply = runtime
        .block_on(client.call(request, |mut c, r| async move { c.change_policy(r).await }))
        .map_err(|error| call_failed(COMMAND, format!("{COMMAND}: error: "), &error))?;
    match reply.outcomes.iter().find_map(|o| o.rejection.as_ref()) {
        Some(rejection) => Err(SlurmError::command_error(COMMAND, &rejection.message, 1)),
        None => Ok(()),
    }
}
