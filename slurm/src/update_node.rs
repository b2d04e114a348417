//! `scontrol update NodeName=LIST State=... Reason=...`, read as scontrol
//! 22.05 reads it (`_update_it`, then `scontrol_update_node`).
//!
//! Words are `Key=Value`; keys match case-insensitively and may be
//! abbreviated (`nodename`, `NodeN`, `n` after the entity is known,
//! `state`, `r`). The entity is found first: a `NodeName` key (at least
//! three letters) makes it a node update; job, step, reservation,
//! partition and other updates are refused. Then each word in order:
//! `NodeName` (a hostlist), `Reason` (one pair of surrounding quotes
//! dropped) and `State`: `DRAIN`, `DOWN`, `RESUME` and `UNDRAIN`, each
//! abbreviable to three letters. Slurm's other node keys and states are
//! recognised and refused; unknown ones get Slurm's messages.
//!
//! Corral has no separate `UNDRAIN`: it asks for `RESUME`, which on a node
//! that is down also brings it back (Slurm's `UNDRAIN` would leave it down).

use corral_state::hostlist;

use crate::error::{error_line, SlurmError, EXIT_FAILURE};
use crate::node_state::keyword_matches;

const COMMAND: &str = "scontrol";

/// Slurm's text for an unknown node (`ESLURM_INVALID_NODE_NAME`).
pub const INVALID_NODE_NAME: &str = "Invalid node name specified";
/// Slurm's text for an update by someone not an administrator
/// (`ESLURM_USER_ID_MISSING`).
pub const INVALID_USER_ID: &str = "Invalid user id";

/// What to do to the nodes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NodeChange {
    Drain {
        reason: String,
    },
    Down {
        reason: String,
    },
    Resume,
    /// Sent as `Resume` (see the module documentation).
    Undrain,
}

/// A valid node update.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeUpdate {
    /// The expanded `NodeName` hostlist.
    pub names: Vec<String>,
    pub change: NodeChange,
}

/// `slurm_update error: {reason}`, exit 1: how scontrol reports the
/// controller refusing an update.
pub fn update_error(reason: &str) -> SlurmError {
    SlurmError::new(vec![format!("slurm_update error: {reason}")], EXIT_FAILURE)
}

fn lines(lines: &[&str]) -> SlurmError {
    SlurmError::new(lines.iter().map(|l| l.to_string()).collect(), EXIT_FAILURE)
}

fn refused(what: &str) -> SlurmError {
    SlurmError::command_error(
        COMMAND,
        &format!("{what} is not supported by Corral yet"),
        EXIT_FAILURE,
    )
}

/// The key of a word (`Key=Value`, or a bare word) for finding the entity:
/// `+=` and `-=` count as `=`.
fn entity_key(word: &str) -> &str {
    match word.split_once('=') {
        Some((key, _)) => key
            .strip_suffix('+')
            .or_else(|| key.strip_suffix('-'))
            .unwrap_or(key),
        None => word,
    }
}

/// The entity an update names, as scontrol finds it (`_update_it`): the
/// first of `JobId`/`JobNAME`, `StepId`, `ReservationName`, `NodeName`,
/// ... that any word's key names (a bare key takes the next word as its
/// value).
pub fn update_entity(words: &[&str]) -> Option<&'static str> {
    // Every entity named, in the order scontrol tries them: jobs first
    // (a job update may name a partition), then steps, reservations, nodes.
    const ENTITIES: &[(&str, usize)] = &[
        ("JobId", 3),
        ("JobNAME", 3),
        ("StepId", 4),
        ("ReservationName", 3),
        ("NodeName", 3),
        ("FrontendName", 2),
        ("PartitionName", 3),
        ("SlurmctldDebug", 2),
        ("SuspendExcNodes", 11),
        ("SuspendExcParts", 11),
        ("SuspendExcStates", 11),
    ];
    let mut named = vec![false; ENTITIES.len()];
    let mut index = 0;
    while index < words.len() {
        let word = words[index];
        if !word.contains('=') {
            // A bare key takes the next word as its value.
            index += 1;
        }
        let key = entity_key(word);
        if let Some(position) = ENTITIES
            .iter()
            .position(|(entity, minimum)| keyword_matches(key, entity, *minimum))
        {
            named[position] = true;
        }
        index += 1;
    }
    named.iter().position(|named| *named).map(|i| ENTITIES[i].0)
}

/// Reads the words after `update` (`scontrol update nodename=vm state=drain
/// reason=test` gives `["nodename=vm", "state=drain", "reason=test"]`).
pub fn parse_update(words: &[&str]) -> Result<NodeUpdate, SlurmError> {
    if words.is_empty() {
        return Err(lines(&["too few arguments for keyword:update"]));
    }
    match update_entity(words) {
        Some("NodeName") => parse_node_update(words),
        Some(entity) => Err(refused(&format!("update {entity}"))),
        None => Err(lines(&[
            "No valid entity in update command",
            "Input line must include \"NodeName\", \"PartitionName\", \"Reservation\", \"JobId\", or \"SlurmctldDebug\"",
        ])),
    }
}

/// The state asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Drain,
    Down,
    Resume,
    Undrain,
}

/// `scontrol_update_node`.
fn parse_node_update(words: &[&str]) -> Result<NodeUpdate, SlurmError> {
    let mut names: Option<&str> = None;
    let mut reason: Option<String> = None;
    let mut state: Option<State> = None;
    for word in words {
        let Some((key, value)) = word.split_once('=') else {
            return Err(SlurmError::new(
                vec![error_line(
                    COMMAND,
                    &format!("Invalid input: {word}  Request aborted"),
                )],
                EXIT_FAILURE,
            ));
        };
        let refused_keys: &[(&str, usize)] = &[("NodeAddr", 5), ("NodeHostName", 5)];
        let refused_after_name: &[(&str, usize)] = &[
            ("ActiveFeatures", 3),
            ("CpuBind", 7),
            ("Extra", 1),
            ("Features", 1),
            ("AvailableFeatures", 3),
            ("Gres", 1),
            ("Weight", 1),
        ];
        if let Some((refused_key, _)) = refused_keys
            .iter()
            .find(|(k, minimum)| keyword_matches(key, k, *minimum))
        {
            return Err(refused(&format!("update of {refused_key}")));
        } else if keyword_matches(key, "NodeName", 1) {
            names = Some(value);
        } else if let Some((refused_key, _)) = refused_after_name
            .iter()
            .find(|(k, minimum)| keyword_matches(key, k, *minimum))
        {
            return Err(refused(&format!("update of {refused_key}")));
        } else if keyword_matches(key, "Reason", 1) {
            reason = Some(unquote(value).to_string());
        } else if keyword_matches(key, "State", 1) {
            state = Some(parse_state(word, value)?);
        } else {
            return Err(lines(&[
                &format!("Update of this parameter is not supported: {word}"),
                "Request aborted",
            ]));
        }
    }
    let reason_given = reason.as_deref().is_some_and(|r| !r.is_empty());
    if matches!(state, Some(State::Drain | State::Down)) && !reason_given {
        return Err(lines(&[
            "You must specify a reason when DOWNING or DRAINING a node. Request denied",
        ]));
    }
    let change = match state {
        Some(State::Drain) => NodeChange::Drain {
            reason: reason.unwrap_or_default(),
        },
        Some(State::Down) => NodeChange::Down {
            reason: reason.unwrap_or_default(),
        },
        Some(State::Resume) => NodeChange::Resume,
        Some(State::Undrain) => NodeChange::Undrain,
        None if reason.is_some() => return Err(refused("update of Reason without State")),
        None => return Err(lines(&["No changes specified"])),
    };
    // The controller refuses a node list it cannot read, or none.
    let names = names
        .and_then(|names| hostlist::expand(names).ok())
        .filter(|names| !names.is_empty())
        .ok_or_else(|| update_error(INVALID_NODE_NAME))?;
    Ok(NodeUpdate { names, change })
}

/// `Reason="two words"` arrives with its quotes when the shell left them.
fn unquote(value: &str) -> &str {
    let value = value.strip_prefix('"').unwrap_or(value);
    value.strip_suffix('"').unwrap_or(value)
}

/// The states of `State=`, in the order scontrol tries them.
fn parse_state(word: &str, value: &str) -> Result<State, SlurmError> {
    let table: &[(&str, usize, Option<State>)] = &[
        ("NoResp", 3, None),
        ("CANCEL_REBOOT", 3, None),
        ("DRAIN", 3, Some(State::Drain)),
        ("FAIL", 3, None),
        ("FUTURE", 3, None),
        ("RESUME", 3, Some(State::Resume)),
        ("POWER_DOWN_ASAP", 12, None),
        ("POWER_DOWN_FORCE", 12, None),
        ("POWER_DOWN", 7, None),
        ("POWER_UP", 7, None),
        ("UNDRAIN", 3, Some(State::Undrain)),
        // `node_state_string` of each base state.
        ("UNKNOWN", 3, None),
        ("DOWN", 3, Some(State::Down)),
        ("IDLE", 3, None),
        ("ALLOCATED", 3, None),
        ("?", 3, None),
        ("MIXED", 3, None),
    ];
    match table
        .iter()
        .find(|(name, minimum, _)| keyword_matches(value, name, *minimum))
    {
        Some((_, _, Some(state))) => Ok(*state),
        Some((name, _, None)) => Err(refused(&format!("State={name}"))),
        None => Err(lines(&[
            &format!("Invalid input: {word}"),
            "Request aborted",
            "Valid states are: NoResp DRAIN FAIL FUTURE RESUME POWER_DOWN POWER_UP UNDRAIN",
            "Not all states are valid given a node's prior state",
        ])),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn parse(line: &str) -> Result<NodeUpdate, SlurmError> {
        let words: Vec<&str> = line.split_whitespace().collect();
        parse_update(&words)
    }

    fn stderr(line: &str) -> String {
        parse(line).unwrap_err().stderr_text()
    }

    #[test]
    fn drain_resume_down_undrain() {
        assert_eq!(
            parse("nodename=vm state=drain reason=test").unwrap(),
            NodeUpdate {
                names: vec!["vm".into()],
                change: NodeChange::Drain {
                    reason: "test".into()
                }
            }
        );
        assert_eq!(
            parse("NodeName=n[1-3] State=RESUME").unwrap(),
            NodeUpdate {
                names: vec!["n1".into(), "n2".into(), "n3".into()],
                change: NodeChange::Resume
            }
        );
        assert_eq!(
            parse("NODEN=n1 s=Dow r=\"broken\"").unwrap().change,
            NodeChange::Down {
                reason: "broken".into()
            }
        );
        assert_eq!(
            parse("nodename=n1 state=undr").unwrap().change,
            NodeChange::Undrain
        );
        assert_eq!(
            parse("state=res nod=n2").unwrap().names,
            vec!["n2".to_string()]
        );
    }

    #[test]
    fn drain_and_down_need_a_reason() {
        let denied = "You must specify a reason when DOWNING or DRAINING a node. Request denied\n";
        assert_eq!(stderr("nodename=vm state=drain"), denied);
        assert_eq!(stderr("nodename=vm state=down reason="), denied);
        assert_eq!(stderr("nodename=vm state=down reason=\"\""), denied);
        assert_eq!(parse("nodename=vm state=drain").unwrap_err().exit_code, 1);
    }

    #[test]
    fn slurm_messages_for_bad_input() {
        assert_eq!(
            stderr("nodename=vm state=bogus"),
            "Invalid input: state=bogus\nRequest aborted\nValid states are: NoResp DRAIN FAIL FUTURE RESUME POWER_DOWN POWER_UP UNDRAIN\nNot all states are valid given a node's prior state\n"
        );
        assert_eq!(
            stderr("nodename=vm state=dr"),
            "Invalid input: state=dr\nRequest aborted\nValid states are: NoResp DRAIN FAIL FUTURE RESUME POWER_DOWN POWER_UP UNDRAIN\nNot all states are valid given a node's prior state\n"
        );
        assert_eq!(
            stderr("nodename=vm bogus=1 state=drain"),
            "Update of this parameter is not supported: bogus=1\nRequest aborted\n"
        );
        assert_eq!(
            stderr("nodename=vm drain"),
            "scontrol: error: Invalid input: drain  Request aborted\n"
        );
        assert_eq!(stderr("nodename=vm"), "No changes specified\n");
        assert_eq!(stderr(""), "too few arguments for keyword:update\n");
        assert_eq!(
            stderr("n=vm state=drain reason=x"),
            "No valid entity in update command\nInput line must include \"NodeName\", \"PartitionName\", \"Reservation\", \"JobId\", or \"SlurmctldDebug\"\n"
        );
        assert_eq!(
            stderr("nodename=n[1- state=resume"),
            "slurm_update error: Invalid node name specified\n"
        );
        assert_eq!(
            stderr("nodename= state=resume"),
            "slurm_update error: Invalid node name specified\n"
        );
    }

    #[test]
    fn other_updates_are_refused() {
        assert_eq!(
            stderr("jobid=3 nodename=x timelimit=5"),
            "scontrol: error: update JobId is not supported by Corral yet\n"
        );
        assert_eq!(
            stderr("partitionname=debug state=down"),
            "scontrol: error: update PartitionName is not supported by Corral yet\n"
        );
        assert_eq!(
            stderr("nodename=vm weight=5"),
            "scontrol: error: update of Weight is not supported by Corral yet\n"
        );
        assert_eq!(
            stderr("nodename=vm state=idle"),
            "scontrol: error: State=IDLE is not supported by Corral yet\n"
        );
        assert_eq!(
            stderr("nodename=vm state=power_down"),
            "scontrol: error: State=POWER_DOWN is not supported by Corral yet\n"
        );
        assert_eq!(
            stderr("nodename=vm reason=x"),
            "scontrol: error: update of Reason without State is not supported by Corral yet\n"
        );
    }

    proptest! {
        #[test]
        fn never_panics(words in prop::collection::vec("[a-zA-Z=\"+\\-\\[\\]0-9,é]{0,12}", 0..6)) {
            let words: Vec<&str> = words.iter().map(String::as_str).collect();
            let _ = parse_update(&words);
        }
    }
}
