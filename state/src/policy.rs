//! Accounting policy: accounts, the users who may charge them
//! (associations), and whether submissions are held to them. Unlike
//! Slurm's, which lives in `slurmdbd`, it is replicated state: `sacctmgr`
//! works while the database is down, and the leader mirrors it to the
//! database for reporting.
//!
//! Every cluster starts as Slurm's does: the account `root` and the user
//! `root`, an administrator, associated with it.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::cluster::ClusterState;
use crate::command::{Outcome, Rejection};
use crate::user::Actor;

/// The account every cluster has, at the top of the tree.
pub const ROOT_ACCOUNT: &str = "root";

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    pub name: String,
    pub description: String,
    pub organization: String,
    /// `None` only for `root`.
    pub parent: Option<String>,
}

/// Slurm's `AdminLevel` of an accounting user.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum AdminLevel {
    #[default]
    None,
    Operator,
    Administrator,
}

impl AdminLevel {
    /// `None`, `Operator`, `Administrator` (sacctmgr's spelling).
    pub fn slurm_name(self) -> &'static str {
        match self {
            AdminLevel::None => "None",
            AdminLevel::Operator => "Operator",
            AdminLevel::Administrator => "Administrator",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountUser {
    pub name: String,
    pub default_account: String,
    pub admin_level: AdminLevel,
    /// The accounts this user may charge (its associations).
    pub accounts: BTreeSet<String>,
}

/// A change `sacctmgr` asks for.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum PolicyChange {
    /// `add account`: `None` fields take Slurm's defaults (the name for
    /// the description and organization, `root` for the parent).
    AddAccount {
        name: String,
        description: Option<String>,
        organization: Option<String>,
        parent: Option<String>,
    },
    /// `modify account NAME set ...`.
    ModifyAccount {
        name: String,
        description: Option<String>,
        organization: Option<String>,
        parent: Option<String>,
    },
    /// `delete account`: refused while users or sub-accounts use it.
    DeleteAccount { name: String },
    /// `add user NAME account=A,B [defaultaccount=] [adminlevel=]`: new
    /// associations for the user (created if new).
    AddUser {
        name: String,
        accounts: Vec<String>,
        default_account: Option<String>,
        admin_level: Option<AdminLevel>,
    },
    /// `modify user NAME set defaultaccount= adminlevel=`.
    ModifyUser {
        name: String,
        default_account: Option<String>,
        admin_level: Option<AdminLevel>,
    },
    /// `delete user NAME [account=A]`: the user, or one association.
    DeleteUser {
        name: String,
        account: Option<String>,
    },
    /// Whether `sbatch -A` must name one of the user's accounts
    /// (`accounting.enforce_associations` in the configuration).
    SetEnforcement { enforce: bool },
}

/// The policy part of the replicated state.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Policy {
    pub accounts: BTreeMap<String, Account>,
    pub users: BTreeMap<String, AccountUser>,
    pub enforce_associations: bool,
    /// Grows with every change, so the mirror knows when to rewrite.
    pub version: u64,
}

impl Default for Policy {
    fn default() -> Self {
        let root = Account {
            name: ROOT_ACCOUNT.to_string(),
            description: "default root account".to_string(),
            organization: ROOT_ACCOUNT.to_string(),
            parent: None,
        };
        let root_user = AccountUser {
            name: "root".to_string(),
            default_account: ROOT_ACCOUNT.to_string(),
            admin_level: AdminLevel::Administrator,
            accounts: BTreeSet::from([ROOT_ACCOUNT.to_string()]),
        };
        Policy {
            accounts: BTreeMap::from([(ROOT_ACCOUNT.to_string(), root)]),
            users: BTreeMap::from([("root".to_string(), root_user)]),
            enforce_associations: false,
            version: 0,
        }
    }
}

impl Policy {
    /// The account a job of `user` is charged to: the one it asked for,
    /// or the user's default. `Err` when enforcement is on and the user
    /// may not charge it (or has no association at all).
    pub fn account_for(
        &self,
        user: &str,
        requested: Option<&str>,
    ) -> Result<Option<String>, Rejection> {
        let known = self.users.get(user);
        let account = requested
            .map(str::to_string)
            .or_else(|| known.map(|u| u.default_account.clone()));
        if !self.enforce_associations {
            return Ok(account);
        }
        match (&account, known) {
            (Some(account), Some(known)) if known.accounts.contains(account) => {
                Ok(Some(account.clone()))
            }
            _ => Err(Rejection::InvalidAccount),
        }
    }

    /// Every association as sacctmgr lists it: the account's own (no
    /// user), then its users', accounts in tree order from `root`.
    pub fn associations(&self) -> Vec<(String, Option<String>)> {
        let mut rows = Vec::new();
        let mut stack = vec![ROOT_ACCOUNT.to_string()];
        let mut seen = BTreeSet::new();
        while let Some(account) = stack.pop() {
            if !seen.insert(account.clone()) {
                continue;
            }
            rows.push((account.clone(), None));
            for user in self
                .users
                .values()
                .filter(|u| u.accounts.contains(&account))
            {
                rows.push((account.clone(), Some(user.name.clone())));
            }
            let children: Vec<String> = self
                .accounts
                .values()
                .filter(|a| a.parent.as_deref() == Some(account.as_str()))
                .map(|a| a.name.clone())
                .collect();
            stack.extend(children.into_iter().rev());
        }
        rows
    }

    pub(crate) fn consistent(&self) -> Result<(), String> {
        if !self.accounts.contains_key(ROOT_ACCOUNT) {
            return Err("the root account is missing".to_string());
        }
        for account in self.accounts.values() {
            match &account.parent {
                None if account.name == ROOT_ACCOUNT => {}
                Some(parent) if self.accounts.contains_key(parent) => {}
                _ => return Err(format!("account {} has no valid parent", account.name)),
            }
        }
        for user in self.users.values() {
            if user.accounts.is_empty() || !user.accounts.contains(&user.default_account) {
                return Err(format!(
                    "user {} is not associated with its default account",
                    user.name
                ));
            }
            if let Some(missing) = user
                .accounts
                .iter()
                .find(|a| !self.accounts.contains_key(*a))
            {
                return Err(format!(
                    "user {} is associated with unknown account {missing}",
                    user.name
                ));
            }
        }
        Ok(())
    }

    fn apply(&mut self, change: &PolicyChange) -> Outcome {
        let outcome = match change {
            PolicyChange::AddAccount {
                name,
                description,
                organization,
                parent,
            } => self.add_account(name, description, organization, parent),
            PolicyChange::ModifyAccount {
                name,
                description,
                organization,
                parent,
            } => self.modify_account(name, description, organization, parent),
            PolicyChange::DeleteAccount { name } => self.delete_account(name),
            PolicyChange::AddUser {
                name,
                accounts,
                default_account,
                admin_level,
            } => self.add_user(name, accounts, default_account.as_deref(), *admin_level),
            PolicyChange::ModifyUser {
                name,
                default_account,
                admin_level,
            } => self.modify_user(name, default_account.as_deref(), *admin_level),
            PolicyChange::DeleteUser { name, account } => {
                self.delete_user(name, account.as_deref())
            }
            PolicyChange::SetEnforcement { enforce } => {
                if self.enforce_associations == *enforce {
                    Outcome::NothingNew
                } else {
                    self.enforce_associations = *enforce;
                    Outcome::Done
                }
            }
        };
        if outcome == Outcome::Done {
            self.version += 1;
        }
        outcome
    }

    fn add_account(
        &mut self,
        name: &str,
        description: &Option<String>,
        organization: &Option<String>,
        parent: &Option<String>,
    ) -> Outcome {
        if self.accounts.contains_key(name) {
            return Outcome::NothingNew;
        }
        if !valid_name(name) {
            return Outcome::Rejected(Rejection::InvalidAccountName(name.to_string()));
        }
        let parent = parent.clone().unwrap_or_else(|| ROOT_ACCOUNT.to_string());
        if !self.accounts.contains_key(&parent) {
            return Outcome::Rejected(Rejection::UnknownAccount(parent));
        }
        self.accounts.insert(
            name.to_string(),
            Account {
                name: name.to_string(),
                description: description.clone().unwrap_or_else(|| name.to_string()),
                organization: organization.clone().unwrap_or_else(|| {
                    if parent == ROOT_ACCOUNT {
                        name.to_string()
                    } else {
                        parent.clone()
                    }
                }),
                parent: Some(parent),
            },
        );
        Outcome::Done
    }

    fn modify_account(
        &mut self,
        name: &str,
        description: &Option<String>,
        organization: &Option<String>,
        parent: &Option<String>,
    ) -> Outcome {
        if let Some(parent) = parent {
            if !self.accounts.contains_key(parent) || self.descends_from(parent, name) {
                return Outcome::Rejected(Rejection::UnknownAccount(parent.clone()));
            }
        }
        let Some(account) = self.accounts.get_mut(name) else {
            return Outcome::NothingNew;
        };
        let before = account.clone();
        if let Some(description) = description {
            account.description = description.clone();
        }
        if let Some(organization) = organization {
            account.organization = organization.clone();
        }
        if let (Some(parent), true) = (parent, name != ROOT_ACCOUNT) {
            account.parent = Some(parent.clone());
        }
        if *account == before {
            Outcome::NothingNew
        } else {
            Outcome::Done
        }
    }

    /// Whether `account` is `ancestor` or below it.
    fn descends_from(&self, account: &str, ancestor: &str) -> bool {
        let mut current = Some(account.to_string());
        let mut hops = 0;
        while let Some(name) = current {
            if name == ancestor {
                return true;
            }
            hops += 1;
            if hops > self.accounts.len() {
                return false;
            }
            current = self.accounts.get(&name).and_then(|a| a.parent.clone());
        }
        false
    }

    fn delete_account(&mut self, name: &str) -> Outcome {
        if name == ROOT_ACCOUNT || !self.accounts.contains_key(name) {
            return Outcome::NothingNew;
        }
        let in_use = self.users.values().any(|u| u.accounts.contains(name))
            || self
                .accounts
                .values()
                .any(|a| a.parent.as_deref() == Some(name));
        if in_use {
            return Outcome::Rejected(Rejection::AccountInUse(name.to_string()));
        }
        self.accounts.remove(name);
        Outcome::Done
    }

    fn add_user(
        &mut self,
        name: &str,
        accounts: &[String],
        default_account: Option<&str>,
        admin_level: Option<AdminLevel>,
    ) -> Outcome {
        if !valid_name(name) {
            return Outcome::Rejected(Rejection::InvalidUser(format!(
                "{name:?} is not a valid user name"
            )));
        }
        let mut wanted: Vec<String> = accounts.to_vec();
        if let Some(default) = default_account {
            if !wanted.iter().any(|a| a == default) {
                wanted.push(default.to_string());
            }
        }
        if let Some(missing) = wanted.iter().find(|a| !self.accounts.contains_key(*a)) {
            return Outcome::Rejected(Rejection::UnknownAccount(missing.clone()));
        }
        match self.users.get_mut(name) {
            None => {
                let Some(first) = wanted.first() else {
                    return Outcome::Rejected(Rejection::NoAccountGiven);
                };
                self.users.insert(
                    name.to_string(),
                    AccountUser {
                        name: name.to_string(),
                        default_account: default_account.unwrap_or(first).to_string(),
                        admin_level: admin_level.unwrap_or_default(),
                        accounts: wanted.into_iter().collect(),
                    },
                );
                Outcome::Done
            }
            Some(user) => {
                let before = user.clone();
                user.accounts.extend(wanted);
                if let Some(default) = default_account {
                    user.default_account = default.to_string();
                }
                if let Some(level) = admin_level {
                    user.admin_level = level;
                }
                if *user == before {
                    Outcome::NothingNew
                } else {
                    Outcome::Done
                }
            }
        }
    }

    fn modify_user(
        &mut self,
        name: &str,
        default_account: Option<&str>,
        admin_level: Option<AdminLevel>,
    ) -> Outcome {
        let Some(user) = self.users.get_mut(name) else {
            return Outcome::NothingNew;
        };
        let before = user.clone();
        if let Some(default) = default_account {
            if !user.accounts.contains(default) {
                return Outcome::Rejected(Rejection::UnknownAccount(default.to_string()));
            }
            user.default_account = default.to_string();
        }
        if let Some(level) = admin_level {
            user.admin_level = level;
        }
        if *user == before {
            Outcome::NothingNew
        } else {
            Outcome::Done
        }
    }

    fn delete_user(&mut self, name: &str, account: Option<&str>) -> Outcome {
        let Some(user) = self.users.get_mut(name) else {
            return Outcome::NothingNew;
        };
        match account {
            None => {
                self.users.remove(name);
                Outcome::Done
            }
            Some(account) => {
                if !user.accounts.remove(account) {
                    return Outcome::NothingNew;
                }
                if user.accounts.is_empty() {
                    self.users.remove(name);
                } else if user.default_account == account {
                    user.default_account = user.accounts.iter().next().cloned().unwrap_or_default();
                }
                Outcome::Done
            }
        }
    }
}

/// Account and user names as Slurm takes them: not empty, no spaces,
/// commas, quotes or `=`.
fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| !c.is_whitespace() && !matches!(c, ',' | '\'' | '"' | '=' | '\0'))
}

impl ClusterState {
    pub(crate) fn apply_policy(&mut self, change: &PolicyChange, actor: &Actor) -> Outcome {
        let leader_sync = matches!(change, PolicyChange::SetEnforcement { .. });
        if !actor.admin && !leader_sync {
            return Outcome::Rejected(Rejection::AccessDenied);
        }
        self.policy.apply(change)
    }

    pub fn policy(&self) -> &Policy {
        &self.policy
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn add_account(name: &str, parent: Option<&str>) -> PolicyChange {
        PolicyChange::AddAccount {
            name: name.into(),
            description: None,
            organization: None,
            parent: parent.map(str::to_string),
        }
    }

    fn add_user(name: &str, accounts: &[&str]) -> PolicyChange {
        PolicyChange::AddUser {
            name: name.into(),
            accounts: accounts.iter().map(|a| a.to_string()).collect(),
            default_account: None,
            admin_level: None,
        }
    }

    #[test]
    fn accounts_and_users_take_slurms_defaults() {
        let mut policy = Policy::default();
        assert_eq!(policy.apply(&add_account("research", None)), Outcome::Done);
        let research = &policy.accounts["research"];
        assert_eq!(
            (
                research.description.as_str(),
                research.organization.as_str()
            ),
            ("research", "research")
        );
        assert_eq!(research.parent.as_deref(), Some("root"));
        assert_eq!(
            policy.apply(&add_account("research", None)),
            Outcome::NothingNew
        );
        assert_eq!(
            policy.apply(&add_user("alice", &["research"])),
            Outcome::Done
        );
        assert_eq!(policy.users["alice"].default_account, "research");
        assert_eq!(
            policy.apply(&add_user("bob", &["nosuchaccount"])),
            Outcome::Rejected(Rejection::UnknownAccount("nosuchaccount".into()))
        );
        assert!(!policy.users.contains_key("bob"));
        assert_eq!(
            policy.associations(),
            [
                ("root".to_string(), None),
                ("root".to_string(), Some("root".to_string())),
                ("research".to_string(), None),
                ("research".to_string(), Some("alice".to_string())),
            ]
        );
        assert_eq!(policy.version, 2);
        assert!(policy.consistent().is_ok());
    }

    #[test]
    fn accounts_in_use_stay_and_trees_never_loop() {
        let mut policy = Policy::default();
        policy.apply(&add_account("physics", None));
        policy.apply(&add_account("lab1", Some("physics")));
        policy.apply(&add_user("alice", &["lab1"]));
        assert_eq!(
            policy.apply(&PolicyChange::DeleteAccount {
                name: "lab1".into()
            }),
            Outcome::Rejected(Rejection::AccountInUse("lab1".into()))
        );
        assert_eq!(
            policy.apply(&PolicyChange::ModifyAccount {
                name: "physics".into(),
                description: None,
                organization: None,
                parent: Some("lab1".into()),
            }),
            Outcome::Rejected(Rejection::UnknownAccount("lab1".into())),
            "an account cannot move under its own child"
        );
        policy.apply(&PolicyChange::DeleteUser {
            name: "alice".into(),
            account: Some("lab1".into()),
        });
        assert!(!policy.users.contains_key("alice"));
        assert_eq!(
            policy.apply(&PolicyChange::DeleteAccount {
                name: "lab1".into()
            }),
            Outcome::Done
        );
        assert!(policy.consistent().is_ok());
    }

    #[test]
    fn enforcement_holds_submissions_to_associations() {
        let mut policy = Policy::default();
        policy.apply(&add_account("research", None));
        policy.apply(&add_user("alice", &["research"]));
        assert_eq!(
            policy.account_for("alice", None),
            Ok(Some("research".into()))
        );
        assert_eq!(policy.account_for("carol", Some("x")), Ok(Some("x".into())));
        policy.apply(&PolicyChange::SetEnforcement { enforce: true });
        assert_eq!(
            policy.account_for("alice", Some("research")),
            Ok(Some("research".into()))
        );
        assert_eq!(
            policy.account_for("alice", Some("root")),
            Err(Rejection::InvalidAccount)
        );
        assert_eq!(
            policy.account_for("carol", None),
            Err(Rejection::InvalidAccount)
        );
    }
}
