//! `sacctmgr`, as Slurm 22.05 runs it, for clusters, accounts, users and
//! associations: [`parse_command_line`] reads argv into a
//! [`SacctmgrCommand`]; the caller reads the accounting state into an
//! [`AccountingView`]; [`execute`] decides what the command prints and
//! which [`Change`]s it makes.
//!
//! **Confirmation.** Without `-i`, Slurm asks `Would you like to commit
//! changes? (You have 30 seconds to decide)` before committing. Here that
//! is a pure decision: [`Execution::needs_confirmation`] says whether the
//! caller must ask; it prints [`COMMIT_PROMPT`], reads one answer (or
//! times out after [`CONFIRMATION_TIMEOUT_S`]), and prints
//! [`answer_text`], which also says whether to apply the changes.
//!
//! Keywords are matched as Slurm matches them: case-insensitive, with the
//! same minimum abbreviations (`add`, `create`; `show`, `list`; `modify`,
//! `update`; `delete`, `remove`; `acc`, `assoc`, `cl`, `u`). Names of
//! accounts and clusters are compared case-insensitively.

mod output;

pub use output::{answer_text, execute, Execution, COMMIT_PROMPT, CONFIRMATION_TIMEOUT_S};

use crate::error::{SlurmError, EXIT_FAILURE};
use crate::getopt::{Getopt, HasArg, OptionDef, Ordering};
use crate::sacct::Parsable;

/// Slurm's admin levels.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum AdminLevel {
    None,
    Operator,
    Administrator,
}

impl AdminLevel {
    /// `slurmdb_admin_level_str`.
    pub fn slurm_name(self) -> &'static str {
        match self {
            AdminLevel::None => "None",
            AdminLevel::Operator => "Operator",
            AdminLevel::Administrator => "Administrator",
        }
    }

    /// `str_2_slurmdb_admin_level`: only the first letter counts (`N`one,
    /// `O`perator, `S`uperUser or `A`dmin); anything else leaves it unset.
    fn parse(text: &str) -> Option<AdminLevel> {
        match text.bytes().next().map(|b| b.to_ascii_lowercase()) {
            Some(b'n') => Some(AdminLevel::None),
            Some(b'o') => Some(AdminLevel::Operator),
            Some(b's' | b'a') => Some(AdminLevel::Administrator),
            _ => None,
        }
    }
}

/// A cluster as `show cluster` lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClusterRow {
    pub name: String,
    pub control_host: String,
    pub control_port: u32,
    /// The RPC protocol version (9728 for 22.05).
    pub rpc_version: u32,
}

/// An account.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccountRow {
    pub name: String,
    pub description: String,
    pub organization: String,
}

/// A user.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserRow {
    pub name: String,
    pub default_account: String,
    pub admin_level: AdminLevel,
}

/// An association: an account's (`user == None`) or a user's in an
/// account, on a cluster.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AssociationRow {
    pub cluster: String,
    pub account: String,
    pub user: Option<String>,
    pub partition: Option<String>,
    /// The parent account of an account's association (`None` for root).
    pub parent_account: Option<String>,
    pub shares: u32,
    pub qos: Vec<String>,
    pub default_qos: Option<String>,
}

/// What the accounting state holds, as `execute` reads it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AccountingView {
    pub clusters: Vec<ClusterRow>,
    pub accounts: Vec<AccountRow>,
    pub users: Vec<UserRow>,
    pub associations: Vec<AssociationRow>,
}

/// What `execute` asks the caller to write.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Change {
    AddCluster(ClusterRow),
    AddAccount(AccountRow),
    AddUser(UserRow),
    AddAssociation(AssociationRow),
    ModifyAccount {
        name: String,
        description: Option<String>,
        organization: Option<String>,
    },
    ModifyUser {
        name: String,
        default_account: Option<String>,
        admin_level: Option<AdminLevel>,
    },
    DeleteCluster(String),
    DeleteAccount(String),
    DeleteUser(String),
}

/// The entities Corral's sacctmgr knows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Entity {
    Cluster,
    Account,
    User,
    Association,
}

/// `where` conditions (and the names given without a key).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Conditions {
    pub names: Vec<String>,
    pub clusters: Vec<String>,
    pub accounts: Vec<String>,
    pub users: Vec<String>,
    pub partitions: Vec<String>,
}

/// `set` values (and, for `add`, the settings given with the names).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Settings {
    pub description: Option<String>,
    pub organization: Option<String>,
    pub parent: Option<String>,
    pub default_account: Option<String>,
    pub admin_level: Option<AdminLevel>,
}

/// A parsed sacctmgr command.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SacctmgrCommand {
    Add {
        entity: Entity,
        conditions: Conditions,
        settings: Settings,
    },
    Show {
        entity: Entity,
        conditions: Conditions,
        /// `format=`; `None`: the entity's default columns.
        format: Option<Vec<String>>,
    },
    Modify {
        entity: Entity,
        conditions: Conditions,
        settings: Settings,
    },
    Delete {
        entity: Entity,
        conditions: Conditions,
    },
}

/// The global options.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SacctmgrOptions {
    /// `-i`: commit without asking.
    pub immediate: bool,
    pub header: bool,
    pub parsable: Parsable,
    /// `-Q`: no informational lines.
    pub quiet: bool,
}

/// What the command line asked for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Invocation {
    /// Print this and exit 0 (`-h`, `-V`).
    Print(String),
    Run {
        options: SacctmgrOptions,
        command: Box<SacctmgrCommand>,
    },
}

pub(crate) const COMMAND: &str = "sacctmgr";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Key {
    Help,
    Immediate,
    NoHeader,
    Parsable,
    Parsable2,
    Quiet,
    Version,
    Unsupported(&'static str),
}

const OPTIONS: &[OptionDef<Key>] = &[
    OptionDef::new(Some("help"), Some('h'), HasArg::No, Key::Help),
    OptionDef::new(Some("usage"), None, HasArg::No, Key::Help),
    OptionDef::new(Some("immediate"), Some('i'), HasArg::No, Key::Immediate),
    OptionDef::new(Some("noheader"), Some('n'), HasArg::No, Key::NoHeader),
    OptionDef::new(
        Some("oneliner"),
        Some('o'),
        HasArg::No,
        Key::Unsupported("oneliner"),
    ),
    OptionDef::new(Some("parsable"), Some('p'), HasArg::No, Key::Parsable),
    OptionDef::new(Some("parsable2"), Some('P'), HasArg::No, Key::Parsable2),
    OptionDef::new(Some("quiet"), Some('Q'), HasArg::No, Key::Quiet),
    OptionDef::new(
        Some("readonly"),
        Some('r'),
        HasArg::No,
        Key::Unsupported("readonly"),
    ),
    OptionDef::new(
        Some("associations"),
        Some('s'),
        HasArg::No,
        Key::Unsupported("associations"),
    ),
    OptionDef::new(
        Some("verbose"),
        Some('v'),
        HasArg::No,
        Key::Unsupported("verbose"),
    ),
    OptionDef::new(Some("version"), Some('V'), HasArg::No, Key::Version),
];

/// `sacctmgr --help`, as Slurm 22.05.8 prints it.
pub const HELP: &str = include_str!("help.txt");

/// Slurm's `xstrncasecmp(word, keyword, MAX(len, min))`: `word` is a
/// case-insensitive prefix of `keyword` at least `min` long.
pub(crate) fn keyword(word: &str, keyword: &str, min: usize) -> bool {
    let length = word.len().max(min);
    length <= keyword.len() && word.len() == length && keyword[..length].eq_ignore_ascii_case(word)
}

fn error(lines: &[&str]) -> SlurmError {
    SlurmError::new(lines.iter().map(|l| l.to_string()).collect(), EXIT_FAILURE)
}

fn entity_of(word: &str) -> Option<Entity> {
    if keyword(word, "Accounts", 2) || keyword(word, "Acct", 4) {
        Some(Entity::Account)
    } else if keyword(word, "Associations", 2) {
        Some(Entity::Association)
    } else if keyword(word, "Clusters", 2) {
        Some(Entity::Cluster)
    } else if keyword(word, "Users", 1) {
        Some(Entity::User)
    } else {
        None
    }
}

/// Reads argv (`argv[0]` included).
pub fn parse_command_line(argv: &[String]) -> Result<Invocation, SlurmError> {
    let mut options = SacctmgrOptions {
        immediate: false,
        header: true,
        parsable: Parsable::No,
        quiet: false,
    };
    let mut getopt = Getopt::new(OPTIONS, argv, Ordering::RequireOrder);
    let argv0 = getopt.argv0().to_string();
    for found in getopt.by_ref() {
        let found = found.map_err(|e| {
            SlurmError::new(
                vec![
                    e.message(&argv0),
                    "Try \"sacctmgr --help\" for more information".to_string(),
                ],
                EXIT_FAILURE,
            )
        })?;
        match found.key {
            Key::Help => return Ok(Invocation::Print(HELP.to_string())),
            Key::Version => {
                return Ok(Invocation::Print(format!(
                    "slurm {}\n",
                    crate::SLURM_VERSION
                )))
            }
            Key::Immediate => options.immediate = true,
            Key::NoHeader => options.header = false,
            Key::Parsable => options.parsable = Parsable::Ending,
            Key::Parsable2 => options.parsable = Parsable::NoEnding,
            Key::Quiet => options.quiet = true,
            Key::Unsupported(name) => {
                return Err(SlurmError::command_error(
                    COMMAND,
                    &format!("--{name} is not supported by Corral yet"),
                    EXIT_FAILURE,
                ))
            }
        }
    }
    let words = getopt.into_operands();
    let command = parse_command(&words)?;
    Ok(Invocation::Run {
        options,
        command: Box::new(command),
    })
}

/// One command: `VERB ENTITY [NAMES] [where ...] [set ...]`.
pub fn parse_command(words: &[String]) -> Result<SacctmgrCommand, SlurmError> {
    let Some(verb) = words.first() else {
        return Err(SlurmError::command_error(
            COMMAND,
            "interactive mode is not supported by Corral yet; give a command",
            EXIT_FAILURE,
        ));
    };
    let entity_word = words.get(1).map(String::as_str).unwrap_or("");
    let rest = words.get(2..).unwrap_or(&[]);
    if keyword(verb, "add", 3) || keyword(verb, "create", 3) {
        let entity = entity_of(entity_word)
            .filter(|e| *e != Entity::Association)
            .ok_or_else(|| {
                error(&[
                    "No valid entity in add command",
                    "Input line must include \"Account\", \"Cluster\", \"Coordinator\", \"Federation\", \"QOS\", \"Resource\", or \"User\"",
                ])
            })?;
        let (conditions, settings) = parse_arguments(entity, rest, true)?;
        return Ok(SacctmgrCommand::Add {
            entity,
            conditions,
            settings,
        });
    }
    if keyword(verb, "show", 3) || keyword(verb, "list", 3) {
        let entity = entity_of(entity_word).ok_or_else(|| {
            error(&[
                "No valid entity in list command",
                "Input line must include \"Account\", \"Association\", \"Cluster\", \"Configuration\",",
                "\"Event\", \"Federation\", \"Problem\", \"QOS\", \"Resource\", \"Reservation\",",
                "\"RunAwayJobs\", \"Stats\", \"Transaction\", \"TRES\", \"User\", or \"WCKey\"",
            ])
        })?;
        let mut format = None;
        let mut kept = Vec::new();
        for word in rest {
            match word.split_once('=') {
                Some((key, value)) if keyword(key, "Format", 1) => {
                    format
                        .get_or_insert_with(Vec::new)
                        .extend(value.split(',').filter(|f| !f.is_empty()).map(String::from));
                }
                _ => kept.push(word.clone()),
            }
        }
        let (conditions, _) = parse_arguments(entity, &kept, false)?;
        return Ok(SacctmgrCommand::Show {
            entity,
            conditions,
            format,
        });
    }
    if keyword(verb, "modify", 1) || keyword(verb, "update", 1) {
        let entity = entity_of(entity_word)
            .filter(|e| matches!(e, Entity::Account | Entity::User))
            .ok_or_else(|| {
                error(&[
                    "No valid entity in modify command",
                    "Input line must include \"Account\", \"Cluster\", \"Federation\", \"Job\", \"QOS\", \"Resource\" or \"User\"",
                ])
            })?;
        let (conditions, settings) = parse_arguments(entity, rest, false)?;
        return Ok(SacctmgrCommand::Modify {
            entity,
            conditions,
            settings,
        });
    }
    if keyword(verb, "delete", 3) || keyword(verb, "remove", 3) {
        let entity = entity_of(entity_word)
            .filter(|e| *e != Entity::Association)
            .ok_or_else(|| {
                error(&[
                    "No valid entity in delete command",
                    "Input line must include \"Account\", \"Cluster\", \"Coordinator\", \"Federation\", \"QOS\", \"Resource\", \"User\", or \"WCKey\"",
                ])
            })?;
        let (conditions, _) = parse_arguments(entity, rest, false)?;
        return Ok(SacctmgrCommand::Delete { entity, conditions });
    }
    let known_elsewhere = [
        ("archive", 3),
        ("clear", 3),
        ("dump", 3),
        ("load", 2),
        ("reconfigure", 4),
        ("rollup", 2),
        ("shutdown", 4),
    ];
    if let Some((name, _)) = known_elsewhere
        .iter()
        .find(|(name, min)| keyword(verb, name, *min))
    {
        return Err(SlurmError::command_error(
            COMMAND,
            &format!("{name} is not supported by Corral yet"),
            EXIT_FAILURE,
        ));
    }
    Err(error(&[&format!("invalid keyword: {verb}")]))
}

/// The `KEY=VALUE` words (and bare names) after the entity, split on
/// `where` and `set`.
fn parse_arguments(
    entity: Entity,
    words: &[String],
    adding: bool,
) -> Result<(Conditions, Settings), SlurmError> {
    let mut conditions = Conditions::default();
    let mut settings = Settings::default();
    let mut setting = adding;
    let list = |value: &str| -> Vec<String> {
        value
            .split(',')
            .filter(|v| !v.is_empty())
            .map(String::from)
            .collect()
    };
    for word in words {
        let Some((key, value)) = word.split_once('=') else {
            if keyword(word, "Where", 5) {
                setting = false;
            } else if keyword(word, "Set", 3) {
                setting = true;
            } else {
                conditions.names.extend(list(word));
            }
            continue;
        };
        let key = key.trim_end_matches(['+', '-']);
        let value = value.trim_matches('"').trim_matches('\'');
        if keyword(key, "Names", 1)
            || (entity == Entity::User && keyword(key, "Users", 1))
            || (entity == Entity::Account && keyword(key, "Accounts", 3) && !adding && !setting)
        {
            conditions.names.extend(list(value));
        } else if keyword(key, "Clusters", 1) {
            conditions.clusters.extend(list(value));
        } else if keyword(key, "Accounts", 3) || keyword(key, "Acct", 4) {
            conditions.accounts.extend(list(value));
        } else if keyword(key, "Users", 1) {
            conditions.users.extend(list(value));
        } else if keyword(key, "Partitions", 3) {
            conditions.partitions.extend(list(value));
        } else if keyword(key, "Description", 1) {
            settings.description = Some(value.to_string());
        } else if keyword(key, "Organization", 1) {
            settings.organization = Some(value.to_string());
        } else if keyword(key, "Parent", 1) {
            settings.parent = Some(value.to_string());
        } else if keyword(key, "DefaultAccount", 8) {
            settings.default_account = Some(value.to_string());
        } else if keyword(key, "AdminLevel", 2) {
            settings.admin_level = AdminLevel::parse(value);
        } else {
            return Err(error(&[&format!(" Unknown option: {word}")]));
        }
    }
    Ok((conditions, settings))
}

#[cfg(test)]
mod tests;
