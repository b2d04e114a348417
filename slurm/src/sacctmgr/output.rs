//! What each sacctmgr command prints and changes
//! (`src/sacctmgr/{account,user,cluster,association}_functions.c`).

use crate::error::EXIT_FAILURE;
use crate::sacct::print_fields::{Cell, PrintStyle};

use super::{
    keyword, AccountRow, AccountingView, AdminLevel, AssociationRow, Change, ClusterRow,
    Conditions, Entity, SacctmgrCommand, SacctmgrOptions, Settings, UserRow,
};

/// What Slurm prints before it waits for an answer (`commit_check`).
pub const COMMIT_PROMPT: &str =
    "Would you like to commit changes? (You have 30 seconds to decide)\n(N/y): ";
/// How long Slurm waits for the answer.
pub const CONFIRMATION_TIMEOUT_S: u64 = 30;
/// The QOS every association has (Slurm's default `normal`).
const DEFAULT_QOS: &str = "normal";
/// The shares of a new association.
const DEFAULT_SHARES: u32 = 1;

/// What a command prints, its exit code, and what it changes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Execution {
    pub stdout: String,
    pub stderr: String,
    pub exit_code: i32,
    /// To apply, in order, once committed.
    pub changes: Vec<Change>,
    /// Ask [`COMMIT_PROMPT`] before applying (`-i` was not given and
    /// there is something to commit).
    pub needs_confirmation: bool,
}

/// What sacctmgr prints after the answer to [`COMMIT_PROMPT`] (`None`:
/// no answer within [`CONFIRMATION_TIMEOUT_S`]), and whether to commit.
/// Answers other than y/n/empty make Slurm ask again; the caller passes
/// only the final one.
pub fn answer_text(answer: Option<char>) -> (String, bool) {
    match answer {
        Some('y' | 'Y') => ("\n".to_string(), true),
        Some(_) => ("\n Changes Discarded\n".to_string(), false),
        None => ("timeout\n Changes Discarded\n".to_string(), false),
    }
}

fn same(a: &str, b: &str) -> bool {
    a.eq_ignore_ascii_case(b)
}

fn matches_any(list: &[String], value: &str) -> bool {
    list.is_empty() || list.iter().any(|item| same(item, value))
}

/// Runs a command against the accounting state.
pub fn execute(
    command: &SacctmgrCommand,
    options: &SacctmgrOptions,
    view: &AccountingView,
) -> Execution {
    let mut execution = match command {
        SacctmgrCommand::Add {
            entity: Entity::Account,
            conditions,
            settings,
        } => add_accounts(conditions, settings, view),
        SacctmgrCommand::Add {
            entity: Entity::User,
            conditions,
            settings,
        } => add_users(conditions, settings, view),
        SacctmgrCommand::Add {
            entity: Entity::Cluster,
            conditions,
            ..
        } => add_clusters(conditions, view),
        SacctmgrCommand::Add { .. } => failure(" Unknown entity.\n"),
        SacctmgrCommand::Show {
            entity,
            conditions,
            format,
        } => show(*entity, conditions, format.as_deref(), options, view),
        SacctmgrCommand::Modify {
            entity,
            conditions,
            settings,
        } => modify(*entity, conditions, settings, view),
        SacctmgrCommand::Delete { entity, conditions } => delete(*entity, conditions, view),
    };
    execution.needs_confirmation = !options.immediate && !execution.changes.is_empty();
    execution
}

fn failure(stderr: &str) -> Execution {
    Execution {
        stderr: stderr.to_string(),
        exit_code: EXIT_FAILURE,
        ..Execution::default()
    }
}

fn account_exists(view: &AccountingView, name: &str) -> bool {
    view.accounts.iter().any(|a| same(&a.name, name))
}

fn account_association(view: &AccountingView, account: &str, cluster: &str) -> bool {
    view.associations
        .iter()
        .any(|a| a.user.is_none() && same(&a.account, account) && same(&a.cluster, cluster))
}

fn new_association(
    cluster: &str,
    account: &str,
    user: Option<&str>,
    parent: Option<&str>,
) -> AssociationRow {
    AssociationRow {
        cluster: cluster.to_string(),
        account: account.to_string(),
        user: user.map(str::to_string),
        partition: None,
        parent_account: parent.map(str::to_string),
        shares: DEFAULT_SHARES,
        qos: vec![DEFAULT_QOS.to_string()],
        default_qos: None,
    }
}

fn clusters_for(conditions: &Conditions, view: &AccountingView) -> Vec<String> {
    if conditions.clusters.is_empty() {
        view.clusters.iter().map(|c| c.name.clone()).collect()
    } else {
        conditions.clusters.clone()
    }
}

/// `sacctmgr_add_account`.
fn add_accounts(conditions: &Conditions, settings: &Settings, view: &AccountingView) -> Execution {
    if conditions.names.is_empty() {
        return failure(" Need name of account to add.\n");
    }
    let clusters = clusters_for(conditions, view);
    if clusters.is_empty() {
        return failure(
            "  Can't add accounts, no cluster defined yet.\n Please contact your administrator.\n",
        );
    }
    let parent = settings.parent.as_deref().unwrap_or("root");
    let mut execution = Execution::default();
    let (mut account_lines, mut association_lines) = (String::new(), String::new());
    let mut new_accounts = Vec::new();
    let mut new_associations = Vec::new();
    for name in &conditions.names {
        if !account_exists(view, name) {
            let organization = match (&settings.organization, parent) {
                (Some(organization), _) => organization.clone(),
                (None, "root") => name.clone(),
                (None, parent) => parent.to_string(),
            };
            new_accounts.push(AccountRow {
                name: name.clone(),
                description: settings.description.clone().unwrap_or_else(|| name.clone()),
                organization,
            });
            account_lines.push_str(&format!("  {name}\n"));
        }
        for cluster in &clusters {
            if account_association(view, name, cluster) {
                continue;
            }
            if !account_association(view, parent, cluster) {
                execution.exit_code = EXIT_FAILURE;
                execution.stderr.push_str(&format!(
                    " Parent account '{parent}' doesn't exist on cluster {cluster}\n        Contact your admin to add this account.\n"
                ));
                continue;
            }
            new_associations.push(new_association(cluster, name, None, Some(parent)));
            association_lines.push_str(&format!("  A = {name:<10.10} C = {cluster:<10.10}\n"));
        }
    }
    if new_accounts.is_empty() && new_associations.is_empty() {
        execution.stdout.push_str(" Nothing new added.\n");
        execution.exit_code = EXIT_FAILURE;
        return execution;
    }
    if association_lines.is_empty() {
        execution.stderr.push_str(" No associations created.\n");
        execution.exit_code = EXIT_FAILURE;
        return execution;
    }
    if !account_lines.is_empty() {
        execution
            .stdout
            .push_str(&format!(" Adding Account(s)\n{account_lines} Settings\n"));
        execution.stdout.push_str(&format!(
            "  Description     = {}\n  Organization    = {}\n",
            settings.description.as_deref().unwrap_or("Account Name"),
            settings
                .organization
                .as_deref()
                .unwrap_or("Parent/Account Name"),
        ));
    }
    execution
        .stdout
        .push_str(&format!(" Associations\n{association_lines}"));
    execution
        .changes
        .extend(new_accounts.into_iter().map(Change::AddAccount));
    execution
        .changes
        .extend(new_associations.into_iter().map(Change::AddAssociation));
    execution
}

/// `sacctmgr_add_user`.
fn add_users(conditions: &Conditions, settings: &Settings, view: &AccountingView) -> Execution {
    if conditions.names.is_empty() {
        return failure(" Need name of user to add.\n");
    }
    let mut accounts = conditions.accounts.clone();
    if let Some(default) = &settings.default_account {
        if !accounts.iter().any(|a| same(a, default)) {
            accounts.insert(0, default.clone());
        }
    }
    if accounts.is_empty() {
        return failure(" Need name of account to add user to.\n");
    }
    let default_account = settings
        .default_account
        .clone()
        .unwrap_or_else(|| accounts[0].clone());
    let clusters = clusters_for(conditions, view);
    let mut execution = Execution::default();
    let (mut user_lines, mut association_lines) = (String::new(), String::new());
    let mut reported = Vec::new();
    for name in &conditions.names {
        let known = view.users.iter().any(|u| same(&u.name, name));
        if !known {
            // Slurm checks an explicit DefaultAccount before adding the
            // user; without one the account loop below reports it.
            if settings.default_account.is_some() && !account_exists(view, &default_account) {
                if !reported.contains(&default_account) {
                    execution.stderr.push_str(&format!(
                        " This account '{default_account}' doesn't exist.\n        Contact your admin to add this account.\n"
                    ));
                    reported.push(default_account.clone());
                }
                execution.exit_code = EXIT_FAILURE;
                continue;
            }
            execution.changes.push(Change::AddUser(UserRow {
                name: name.clone(),
                default_account: default_account.clone(),
                admin_level: settings.admin_level.unwrap_or(AdminLevel::None),
            }));
            user_lines.push_str(&format!("  {name}\n"));
        }
        for account in &accounts {
            if !account_exists(view, account) {
                if !reported.contains(account) {
                    execution.stderr.push_str(&format!(
                        " This account '{account}' doesn't exist.\n        Contact your admin to add this account.\n"
                    ));
                    reported.push(account.clone());
                }
                execution.exit_code = EXIT_FAILURE;
                continue;
            }
            for cluster in &clusters {
                if !account_association(view, account, cluster) {
                    execution.stderr.push_str(&format!(
                        " This account '{account}' doesn't exist on cluster {cluster}\n        Contact your admin to add this account.\n"
                    ));
                    execution.exit_code = EXIT_FAILURE;
                    continue;
                }
                let exists = view.associations.iter().any(|a| {
                    a.user.as_deref().is_some_and(|u| same(u, name))
                        && same(&a.account, account)
                        && same(&a.cluster, cluster)
                });
                if exists {
                    continue;
                }
                execution
                    .changes
                    .push(Change::AddAssociation(new_association(
                        cluster,
                        account,
                        Some(name),
                        None,
                    )));
                association_lines.push_str(&format!(
                    "  U = {name:<9.9} A = {account:<10.10} C = {cluster:<10.10}\n"
                ));
            }
        }
    }
    if execution.changes.is_empty() {
        execution.stdout.push_str(" Nothing new added.\n");
        execution.exit_code = EXIT_FAILURE;
        return execution;
    }
    if association_lines.is_empty() {
        execution
            .stderr
            .push_str(" No associations or wckeys created.\n");
        execution.exit_code = EXIT_FAILURE;
        execution.changes.clear();
        return execution;
    }
    if !user_lines.is_empty() {
        execution
            .stdout
            .push_str(&format!(" Adding User(s)\n{user_lines}"));
        if settings.default_account.is_some() || settings.admin_level.is_some() {
            execution.stdout.push_str(" Settings =\n");
        }
        if let Some(default) = &settings.default_account {
            execution
                .stdout
                .push_str(&format!("  Default Account = {default}\n"));
        }
        if let Some(level) = settings.admin_level {
            execution
                .stdout
                .push_str(&format!("  Admin Level     = {}\n", level.slurm_name()));
        }
    }
    if !association_lines.is_empty() {
        execution
            .stdout
            .push_str(&format!(" Associations =\n{association_lines}"));
    }
    // Account=, Cluster= and Partition= are association settings to
    // Slurm, which then prints this (empty) section.
    if !conditions.accounts.is_empty()
        || !conditions.clusters.is_empty()
        || !conditions.partitions.is_empty()
    {
        execution.stdout.push_str(" Non Default Settings\n");
    }
    execution
}

/// `sacctmgr_add_cluster`.
fn add_clusters(conditions: &Conditions, view: &AccountingView) -> Execution {
    if conditions.names.is_empty() {
        return failure(" Need name of cluster to add.\n");
    }
    let mut execution = Execution::default();
    let mut names = Vec::new();
    for name in &conditions.names {
        if view.clusters.iter().any(|c| same(&c.name, name)) {
            execution.stdout.push_str(&format!(
                " This cluster {name} already exists.  Not adding.\n"
            ));
        } else {
            names.push(name.clone());
        }
    }
    if names.is_empty() {
        execution.exit_code = EXIT_FAILURE;
        return execution;
    }
    execution.stdout.push_str(" Adding Cluster(s)\n");
    for name in names {
        execution
            .stdout
            .push_str(&format!("  Name           = {name}\n"));
        execution.changes.push(Change::AddCluster(ClusterRow {
            name: name.clone(),
            control_host: String::new(),
            control_port: 0,
            rpc_version: 0,
        }));
        execution
            .changes
            .push(Change::AddAssociation(new_association(
                &name, "root", None, None,
            )));
    }
    execution
}

/// A column of `show`: its header, width and value.
struct ShowColumn {
    name: &'static str,
    width: i32,
    kind: ColumnKind,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum ColumnKind {
    Account,
    AdminLevel,
    Cluster,
    ControlHost,
    ControlPort,
    DefaultAccount,
    DefaultQos,
    Description,
    Organization,
    ParentName,
    Partition,
    Qos,
    Rpc,
    Share,
    User,
    /// A limit Corral does not set: always blank.
    Limit,
}

/// Slurm's `_get_print_field`, for the fields Corral has, in its order:
/// (keyword, minimum abbreviation, header, width, kind).
const SHOW_FIELDS: &[(&str, usize, &str, i32, ColumnKind)] = &[
    ("Account", 3, "Account", 10, ColumnKind::Account),
    ("Acct", 4, "Account", 10, ColumnKind::Account),
    ("AdminLevel", 2, "Admin", 9, ColumnKind::AdminLevel),
    ("Clusters", 2, "Cluster", 10, ColumnKind::Cluster),
    ("ControlHost", 8, "ControlHost", 15, ColumnKind::ControlHost),
    ("ControlPort", 8, "ControlPort", 12, ColumnKind::ControlPort),
    (
        "DefaultAccount",
        8,
        "Def Acct",
        10,
        ColumnKind::DefaultAccount,
    ),
    ("DefaultQOS", 8, "Def QOS", 9, ColumnKind::DefaultQos),
    ("Description", 3, "Descr", 20, ColumnKind::Description),
    ("GrpTRES", 7, "GrpTRES", 13, ColumnKind::Limit),
    ("GrpTRESMins", 7, "GrpTRESMins", 13, ColumnKind::Limit),
    ("GrpTRESRunMins", 7, "GrpTRESRunMins", 13, ColumnKind::Limit),
    ("GrpJobs", 4, "GrpJobs", 7, ColumnKind::Limit),
    ("GrpSubmitJobs", 4, "GrpSubmit", 9, ColumnKind::Limit),
    ("GrpWall", 4, "GrpWall", 11, ColumnKind::Limit),
    ("MaxTRES", 7, "MaxTRES", 13, ColumnKind::Limit),
    ("MaxTRESPerJob", 11, "MaxTRES", 13, ColumnKind::Limit),
    (
        "MaxTRESPerNode",
        11,
        "MaxTRESPerNode",
        14,
        ColumnKind::Limit,
    ),
    ("MaxTRESMinsPerJob", 8, "MaxTRESMins", 13, ColumnKind::Limit),
    ("MaxJobs", 4, "MaxJobs", 7, ColumnKind::Limit),
    ("MaxSubmitJobs", 4, "MaxSubmit", 9, ColumnKind::Limit),
    ("MaxWallDurationPerJob", 4, "MaxWall", 11, ColumnKind::Limit),
    ("Organization", 1, "Org", 20, ColumnKind::Organization),
    ("ParentName", 7, "ParentName", 10, ColumnKind::ParentName),
    ("Partition", 4, "Partition", 10, ColumnKind::Partition),
    ("Priority", 3, "Priority", 10, ColumnKind::Limit),
    ("QOSLevel", 3, "QOS", 20, ColumnKind::Qos),
    ("RPC", 1, "RPC", 5, ColumnKind::Rpc),
    ("Share", 1, "Share", 9, ColumnKind::Share),
    ("FairShare", 2, "Share", 9, ColumnKind::Share),
    ("User", 1, "User", 10, ColumnKind::User),
];

fn show_columns(format: &[String]) -> Result<Vec<ShowColumn>, Execution> {
    format
        .iter()
        .map(|item| {
            let (name, width) = match item.split_once('%') {
                Some((name, width)) => (name, width.trim().parse::<i32>().ok()),
                None => (item.as_str(), None),
            };
            SHOW_FIELDS
                .iter()
                .find(|(word, min, ..)| keyword(name, word, *min))
                .map(|(_, _, header, default, kind)| ShowColumn {
                    name: header,
                    width: width.filter(|w| *w != 0).unwrap_or(*default),
                    kind: *kind,
                })
                .ok_or_else(|| {
                    failure(&format!(
                        "sacctmgr: error: format field {name} is not supported by Corral yet\n"
                    ))
                })
        })
        .collect()
}

/// The default columns of `show ENTITY`.
fn default_format(entity: Entity) -> &'static str {
    match entity {
        Entity::Account => "Acc,Des,O",
        Entity::User => "U,DefaultA,Ad",
        Entity::Cluster => "Cl,Controlh,Controlp,RPC,Fa,GrpJ,GrpTRES,GrpS,MaxJ,MaxTRES,MaxS,MaxW,QOS,DefaultQOS",
        Entity::Association => "Cluster,Account,User,Part,Share,Priority,GrpJ,GrpTRES,GrpS,GrpWall,GrpTRESMins,MaxJ,MaxTRES,MaxTRESPerN,MaxS,MaxW,MaxTRESMins,QOS,DefaultQOS,GrpTRESRunMins",
    }
}

/// One row of `show`, as the values of its kinds.
#[derive(Default)]
struct ShowRow<'a> {
    account: Option<&'a str>,
    admin: Option<AdminLevel>,
    cluster: Option<&'a ClusterRow>,
    cluster_name: Option<&'a str>,
    default_account: Option<&'a str>,
    default_qos: Option<&'a str>,
    description: Option<&'a str>,
    organization: Option<&'a str>,
    parent: Option<&'a str>,
    partition: Option<&'a str>,
    qos: Option<String>,
    shares: Option<u32>,
    user: Option<&'a str>,
}

fn cell(row: &ShowRow, kind: ColumnKind) -> Cell {
    let text = |value: Option<&str>| Cell::Text(value.map(str::to_string));
    match kind {
        ColumnKind::Account => text(row.account),
        ColumnKind::AdminLevel => text(row.admin.map(AdminLevel::slurm_name)),
        ColumnKind::Cluster => text(row.cluster_name),
        ColumnKind::ControlHost => text(row.cluster.map(|c| c.control_host.as_str())),
        ColumnKind::ControlPort => Cell::Number(row.cluster.map(|c| u64::from(c.control_port))),
        ColumnKind::DefaultAccount => text(row.default_account),
        ColumnKind::DefaultQos => text(row.default_qos),
        ColumnKind::Description => text(row.description),
        ColumnKind::Organization => text(row.organization),
        ColumnKind::ParentName => text(row.parent),
        ColumnKind::Partition => text(row.partition),
        ColumnKind::Qos => Cell::Clipped(row.qos.clone()),
        ColumnKind::Rpc => Cell::Number(row.cluster.map(|c| u64::from(c.rpc_version))),
        ColumnKind::Share => Cell::Number(row.shares.map(u64::from)),
        ColumnKind::User => text(row.user),
        ColumnKind::Limit => Cell::Text(None),
    }
}

/// Associations in Slurm's tree order: an account, its users, then its
/// sub-accounts, each level by name.
fn tree_order<'a>(associations: &[&'a AssociationRow]) -> Vec<&'a AssociationRow> {
    fn visit<'a>(
        account: &str,
        cluster: &str,
        all: &[&'a AssociationRow],
        out: &mut Vec<&'a AssociationRow>,
    ) {
        let mut here: Vec<&AssociationRow> = all
            .iter()
            .copied()
            .filter(|a| same(&a.cluster, cluster) && same(&a.account, account))
            .collect();
        here.sort_by(|a, b| a.user.cmp(&b.user));
        out.extend(here);
        let mut children: Vec<&AssociationRow> = all
            .iter()
            .copied()
            .filter(|a| {
                a.user.is_none()
                    && same(&a.cluster, cluster)
                    && a.parent_account
                        .as_deref()
                        .is_some_and(|p| same(p, account))
            })
            .collect();
        children.sort_by(|a, b| a.account.cmp(&b.account));
        for child in children {
            visit(&child.account, cluster, all, out);
        }
    }
    let mut clusters: Vec<&str> = associations.iter().map(|a| a.cluster.as_str()).collect();
    clusters.sort_unstable();
    clusters.dedup();
    let mut out = Vec::new();
    for cluster in clusters {
        let mut roots: Vec<&AssociationRow> = associations
            .iter()
            .copied()
            .filter(|a| a.user.is_none() && same(&a.cluster, cluster) && a.parent_account.is_none())
            .collect();
        roots.sort_by(|a, b| a.account.cmp(&b.account));
        for root in roots {
            visit(&root.account, cluster, associations, &mut out);
        }
    }
    // Associations whose account has no parent chain still show, last.
    for association in associations {
        if !out.iter().any(|a| std::ptr::eq(*a, *association)) {
            out.push(association);
        }
    }
    out
}

fn show(
    entity: Entity,
    conditions: &Conditions,
    format: Option<&[String]>,
    options: &SacctmgrOptions,
    view: &AccountingView,
) -> Execution {
    let defaults: Vec<String>;
    let format = match format {
        Some(format) => format,
        None => {
            defaults = default_format(entity)
                .split(',')
                .map(String::from)
                .collect();
            &defaults
        }
    };
    let columns = match show_columns(format) {
        Ok(columns) => columns,
        Err(execution) => return execution,
    };
    let rows: Vec<ShowRow> = match entity {
        Entity::Account => {
            let mut accounts: Vec<&AccountRow> = view
                .accounts
                .iter()
                .filter(|a| matches_any(&conditions.names, &a.name))
                .collect();
            accounts.sort_by(|a, b| a.name.cmp(&b.name));
            accounts
                .into_iter()
                .map(|a| ShowRow {
                    account: Some(&a.name),
                    description: Some(&a.description),
                    organization: Some(&a.organization),
                    ..ShowRow::default()
                })
                .collect()
        }
        Entity::User => {
            let mut users: Vec<&UserRow> = view
                .users
                .iter()
                .filter(|u| matches_any(&conditions.names, &u.name))
                .filter(|u| matches_any(&conditions.accounts, &u.default_account))
                .collect();
            users.sort_by(|a, b| a.name.cmp(&b.name));
            users
                .into_iter()
                .map(|u| ShowRow {
                    user: Some(&u.name),
                    default_account: Some(&u.default_account),
                    admin: Some(u.admin_level),
                    ..ShowRow::default()
                })
                .collect()
        }
        Entity::Cluster => {
            let mut clusters: Vec<&ClusterRow> = view
                .clusters
                .iter()
                .filter(|c| matches_any(&conditions.names, &c.name))
                .collect();
            clusters.sort_by(|a, b| a.name.cmp(&b.name));
            clusters
                .into_iter()
                .map(|c| ShowRow {
                    cluster: Some(c),
                    cluster_name: Some(&c.name),
                    shares: Some(DEFAULT_SHARES),
                    qos: Some(DEFAULT_QOS.to_string()),
                    ..ShowRow::default()
                })
                .collect()
        }
        Entity::Association => {
            let selected: Vec<&AssociationRow> = view
                .associations
                .iter()
                .filter(|a| matches_any(&conditions.clusters, &a.cluster))
                .filter(|a| matches_any(&conditions.accounts, &a.account))
                .filter(|a| {
                    conditions.users.is_empty()
                        || a.user
                            .as_deref()
                            .is_some_and(|u| matches_any(&conditions.users, u))
                })
                .filter(|a| {
                    conditions.partitions.is_empty()
                        || a.partition
                            .as_deref()
                            .is_some_and(|p| matches_any(&conditions.partitions, p))
                })
                .collect();
            tree_order(&selected)
                .into_iter()
                .map(|a| ShowRow {
                    account: Some(&a.account),
                    cluster_name: Some(&a.cluster),
                    user: a.user.as_deref(),
                    partition: a.partition.as_deref(),
                    parent: a.parent_account.as_deref(),
                    shares: Some(a.shares),
                    qos: Some(a.qos.join(",")),
                    default_qos: a.default_qos.as_deref(),
                    ..ShowRow::default()
                })
                .collect()
        }
    };
    let style = PrintStyle {
        parsable: options.parsable,
        delimiter: None,
        header: options.header,
    };
    let header: Vec<(&str, i32)> = columns.iter().map(|c| (c.name, c.width)).collect();
    let mut stdout = style.header(&header);
    for row in &rows {
        let cells: Vec<(Cell, i32)> = columns
            .iter()
            .map(|c| (cell(row, c.kind), c.width))
            .collect();
        stdout.push_str(&style.row(&cells));
    }
    Execution {
        stdout,
        ..Execution::default()
    }
}

fn has_conditions(conditions: &Conditions) -> bool {
    !(conditions.names.is_empty()
        && conditions.clusters.is_empty()
        && conditions.accounts.is_empty()
        && conditions.users.is_empty()
        && conditions.partitions.is_empty())
}

fn modify(
    entity: Entity,
    conditions: &Conditions,
    settings: &Settings,
    view: &AccountingView,
) -> Execution {
    let mut execution = Execution::default();
    let mut lines = String::new();
    match entity {
        Entity::Account => {
            if settings.description.is_none() && settings.organization.is_none() {
                return failure(" Nothing to change\n");
            }
            for account in view.accounts.iter().filter(|a| {
                has_conditions(conditions)
                    && matches_any(&conditions.names, &a.name)
                    && matches_any(&conditions.accounts, &a.name)
            }) {
                lines.push_str(&format!("  {}\n", account.name));
                execution.changes.push(Change::ModifyAccount {
                    name: account.name.clone(),
                    description: settings.description.clone(),
                    organization: settings.organization.clone(),
                });
            }
            if lines.is_empty() {
                execution.stdout.push_str(" Nothing modified\n");
                execution.exit_code = EXIT_FAILURE;
            } else {
                execution.stdout = format!(" Modified accounts...\n{lines}");
            }
        }
        _ => {
            if settings.default_account.is_none() && settings.admin_level.is_none() {
                return failure(" Nothing to change\n");
            }
            if let Some(default) = &settings.default_account {
                if !account_exists(view, default) {
                    return failure(&format!(
                        " This account '{default}' doesn't exist.\n        Contact your admin to add this account.\n"
                    ));
                }
            }
            for user in view.users.iter().filter(|u| {
                has_conditions(conditions)
                    && matches_any(&conditions.names, &u.name)
                    && matches_any(&conditions.users, &u.name)
            }) {
                lines.push_str(&format!("  {}\n", user.name));
                execution.changes.push(Change::ModifyUser {
                    name: user.name.clone(),
                    default_account: settings.default_account.clone(),
                    admin_level: settings.admin_level,
                });
            }
            if lines.is_empty() {
                execution.stdout.push_str(" Nothing modified\n");
                execution.exit_code = EXIT_FAILURE;
            } else {
                execution.stdout = format!(" Modified users...\n{lines}");
            }
        }
    }
    execution
}

fn delete(entity: Entity, conditions: &Conditions, view: &AccountingView) -> Execution {
    if !has_conditions(conditions) {
        return failure(" No conditions given to remove, not executing.\n");
    }
    let (heading, names, change): (&str, Vec<String>, fn(String) -> Change) = match entity {
        Entity::Cluster => (
            " Deleting clusters...\n",
            view.clusters
                .iter()
                .filter(|c| matches_any(&conditions.names, &c.name))
                .map(|c| c.name.clone())
                .collect(),
            Change::DeleteCluster,
        ),
        Entity::Account => (
            " Deleting accounts...\n",
            view.accounts
                .iter()
                .filter(|a| matches_any(&conditions.names, &a.name) && !same(&a.name, "root"))
                .map(|a| a.name.clone())
                .collect(),
            Change::DeleteAccount,
        ),
        _ => (
            " Deleting users...\n",
            view.users
                .iter()
                .filter(|u| matches_any(&conditions.names, &u.name))
                .map(|u| u.name.clone())
                .collect(),
            Change::DeleteUser,
        ),
    };
    if names.is_empty() {
        return Execution {
            stdout: " Nothing deleted\n".to_string(),
            exit_code: EXIT_FAILURE,
            ..Execution::default()
        };
    }
    let mut stdout = heading.to_string();
    for name in &names {
        stdout.push_str(&format!("  {name}\n"));
    }
    Execution {
        stdout,
        changes: names.into_iter().map(change).collect(),
        ..Execution::default()
    }
}
