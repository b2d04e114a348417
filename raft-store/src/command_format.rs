//! [`LogCommand`]: how a [`Command`] is encoded in the log, with its format
//! version, and how an entry written by a newer Corral is recognised.
//!
//! Encoding (JSON, inside openraft's `Entry`):
//!
//! | command's [`Command::format_version`] | encoded as |
//! |---|---|
//! | 1 | the `Command` itself, `{"SubmitJob":{...}}`: exactly what every Corral wrote before versions existed, so old logs are version 1 as they stand |
//! | 2 and later | `{"format_version":N,"command":{"Variant":{...}}}` |
//!
//! Decoding never mistakes a newer entry for garbage: an entry stamped with
//! a version above [`COMMAND_FORMAT_VERSION`], or naming a variant this build
//! does not know, decodes to [`LogCommand::Newer`], which keeps the entry's
//! exact JSON. The log stores and replicates it like any other entry (Raft's
//! log does not need to understand its payload), and applying it fails with
//! [`NewerCommand::refusal`]: the state machine stops before it, and a
//! controller upgraded later applies it from the intact log. Anything else
//! that does not decode is corruption, an error as before.

use std::fmt;

use corral_state::{Command, COMMAND_FORMAT_VERSION};
use serde::de::{self, Deserializer};
use serde::ser::{SerializeStruct, Serializer};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::Value;

use crate::LogId;

/// The key of the version in a stamped entry.
const FORMAT_VERSION_KEY: &str = "format_version";
/// The key of the command in a stamped entry.
const COMMAND_KEY: &str = "command";

/// The application data of a log entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LogCommand {
    /// A command this build knows.
    Known(Command),
    /// An entry written by a newer Corral: kept verbatim, never applied.
    Newer(NewerCommand),
}

/// An entry this build cannot apply, as it was encoded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewerCommand {
    /// The version it is stamped with; `None` for an unstamped entry naming
    /// an unknown variant.
    pub version: Option<u32>,
    /// Its variant's name, when it has the shape of a command.
    pub variant: Option<String>,
    json: String,
}

impl From<Command> for LogCommand {
    fn from(command: Command) -> LogCommand {
        LogCommand::Known(command)
    }
}

impl NewerCommand {
    /// Why the entry at `log_id` is not applied, for the controller's log.
    pub fn refusal(&self, log_id: &LogId) -> String {
        let what = match (&self.variant, self.version) {
            (Some(variant), Some(version)) => {
                format!("command `{variant}` of command format version {version}")
            }
            (None, Some(version)) => format!("a command of command format version {version}"),
            (Some(variant), None) => format!("command `{variant}`, unknown to this controller,"),
            (None, None) => "a command unknown to this controller".to_string(),
        };
        format!(
            "log entry {} (term {}) holds {what} written by a newer Corral; this controller understands \
             command format versions up to {COMMAND_FORMAT_VERSION}. Upgrade this controller's binary: \
             nothing from entry {} on was applied, and the stored log is intact",
            log_id.index, log_id.leader_id.term, log_id.index
        )
    }
}

impl fmt::Display for LogCommand {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LogCommand::Known(command) => write!(f, "{command:?}"),
            LogCommand::Newer(newer) => write!(f, "newer command {}", newer.json),
        }
    }
}

impl Serialize for LogCommand {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            LogCommand::Known(command) if command.format_version() <= 1 => {
                command.serialize(serializer)
            }
            LogCommand::Known(command) => {
                let mut stamped = serializer.serialize_struct("LogCommand", 2)?;
                stamped.serialize_field(FORMAT_VERSION_KEY, &command.format_version())?;
                stamped.serialize_field(COMMAND_KEY, command)?;
                stamped.end()
            }
            LogCommand::Newer(newer) => RawValue::from_string(newer.json.clone())
                .map_err(serde::ser::Error::custom)?
                .serialize(serializer),
        }
    }
}

impl<'de> Deserialize<'de> for LogCommand {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<LogCommand, D::Error> {
        let raw = Box::<RawValue>::deserialize(deserializer)?;
        decode(raw.get()).map_err(de::Error::custom)
    }
}

/// Decodes one entry's JSON: the common case (a command this build knows,
/// unstamped) at the cost of one parse; the others looked at closely.
fn decode(json: &str) -> Result<LogCommand, String> {
    let bare_error = match serde_json::from_str::<Command>(json) {
        Ok(command) => return Ok(LogCommand::Known(command)),
        Err(error) => error,
    };
    let value: Value = serde_json::from_str(json).map_err(|error| error.to_string())?;
    let newer = |version, variant| {
        LogCommand::Newer(NewerCommand {
            version,
            variant,
            json: json.to_string(),
        })
    };
    let Some(stamped) = value
        .as_object()
        .filter(|o| o.contains_key(FORMAT_VERSION_KEY))
    else {
        return match variant_of(&value) {
            Some(variant) if !is_known(&variant) => Ok(newer(None, Some(variant))),
            _ => Err(format!("not a command: {bare_error}")),
        };
    };
    let version = stamped[FORMAT_VERSION_KEY]
        .as_u64()
        .and_then(|version| u32::try_from(version).ok())
        .ok_or_else(|| format!("`{FORMAT_VERSION_KEY}` is not a version number"))?;
    let command = stamped
        .get(COMMAND_KEY)
        .ok_or_else(|| format!("a stamped entry without `{COMMAND_KEY}`"))?;
    let variant = variant_of(command);
    if version > COMMAND_FORMAT_VERSION {
        return Ok(newer(Some(version), variant));
    }
    match Command::deserialize(command) {
        Ok(command) => Ok(LogCommand::Known(command)),
        // Stamped with a version this build knows but naming a variant it
        // does not: written by a build of another line of development.
        Err(_) if variant.as_deref().is_some_and(|v| !is_known(v)) => {
            Ok(newer(Some(version), variant))
        }
        Err(error) => Err(format!("command of format version {version}: {error}")),
    }
}

/// The external tag of an encoded enum: `{"Variant": ...}` or `"Variant"`.
fn variant_of(value: &Value) -> Option<String> {
    match value {
        Value::Object(object) if object.len() == 1 => object.keys().next().cloned(),
        Value::String(name) => Some(name.clone()),
        _ => None,
    }
}

fn is_known(variant: &str) -> bool {
    Command::variant_names().contains(&variant)
}

#[cfg(test)]
mod tests {
    use openraft::CommittedLeaderId;

    use super::*;

    fn ack() -> Command {
        Command::AccountingAck {
            upto: 7,
            now_ms: 1_000,
        }
    }

    #[test]
    fn a_version_1_command_encodes_exactly_as_before_versions() {
        let encoded = serde_json::to_string(&LogCommand::Known(ack())).unwrap();
        assert_eq!(encoded, serde_json::to_string(&ack()).unwrap());
        let decoded: LogCommand = serde_json::from_str(&encoded).unwrap();
        assert_eq!(decoded, LogCommand::Known(ack()));
    }

    #[test]
    fn a_stamped_command_of_a_known_version_decodes() {
        let json = format!(
            r#"{{"format_version":1,"command":{}}}"#,
            serde_json::to_string(&ack()).unwrap()
        );
        let decoded: LogCommand = serde_json::from_str(&json).unwrap();
        assert_eq!(decoded, LogCommand::Known(ack()));
    }

    #[test]
    fn a_newer_version_is_kept_verbatim_and_refused_with_both_versions() {
        let json = r#"{"format_version":9,"command":{"Teleport":{"node":"n1","now_ms":5}}}"#;
        let decoded: LogCommand = serde_json::from_str(json).unwrap();
        let LogCommand::Newer(newer) = &decoded else {
            panic!("{decoded:?}")
        };
        assert_eq!(newer.version, Some(9));
        assert_eq!(newer.variant.as_deref(), Some("Teleport"));
        assert_eq!(serde_json::to_string(&decoded).unwrap(), json);
        let log_id = LogId::new(CommittedLeaderId::new(3, 1), 42);
        let refusal = newer.refusal(&log_id);
        assert!(refusal.contains("log entry 42 (term 3)"), "{refusal}");
        assert!(
            refusal.contains("`Teleport` of command format version 9"),
            "{refusal}"
        );
        assert!(
            refusal.contains(&format!("up to {COMMAND_FORMAT_VERSION}")),
            "{refusal}"
        );
    }

    #[test]
    fn an_unknown_unstamped_variant_is_newer_not_garbage() {
        let decoded: LogCommand = serde_json::from_str(r#"{"Teleport":{"now_ms":5}}"#).unwrap();
        assert!(
            matches!(&decoded, LogCommand::Newer(n) if n.version.is_none() && n.variant.as_deref() == Some("Teleport")),
            "{decoded:?}"
        );
    }

    #[test]
    fn garbage_is_an_error() {
        for json in [
            r#"{"SubmitJob":{"bogus":1}}"#,
            r#"[1,2]"#,
            r#"{"format_version":"x","command":{}}"#,
            r#"{"format_version":1}"#,
        ] {
            assert!(serde_json::from_str::<LogCommand>(json).is_err(), "{json}");
        }
    }

    #[test]
    fn inside_an_entry_the_raw_value_survives() {
        let entry = r#"{"log_id":{"leader_id":{"term":2,"node_id":1},"index":5},"payload":{"Normal":{"format_version":9,"command":{"Teleport":{}}}}}"#;
        let decoded: crate::Entry = serde_json::from_str(entry).unwrap();
        assert_eq!(serde_json::to_string(&decoded).unwrap(), entry);
        let known = crate::Entry {
            log_id: LogId::new(CommittedLeaderId::new(2, 1), 6),
            payload: openraft::EntryPayload::Normal(LogCommand::Known(ack())),
        };
        let json = serde_json::to_vec(&known).unwrap();
        let decoded: crate::Entry = serde_json::from_slice(&json).unwrap();
        assert_eq!(decoded, known);
    }
}
