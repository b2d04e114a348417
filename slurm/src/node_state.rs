//! A node's state in Slurm's words, from Corral's [`Node`].
//!
//! Slurm keeps a base state (`UNKNOWN`, `DOWN`, `IDLE`, `ALLOCATED`,
//! `MIXED`) and flags; Corral keeps an availability, a drain mark, a reason
//! and the usage. The mapping:
//!
//! | Corral | Slurm |
//! |---|---|
//! | `Unknown` (declared, never heard from) | `UNKNOWN` + `NO_RESPOND` (`unk*`), as a configured node whose slurmd never registered |
//! | `Down`, reason set by the system (user `slurm`) | `DOWN` + `NO_RESPOND` (`down*`) |
//! | `Down`, set by an administrator | `DOWN` (`down`) |
//! | `Up`, no CPU allocated | `IDLE` |
//! | `Up`, some CPUs allocated | `ALLOCATED`, which sinfo and scontrol show as `MIXED` unless all CPUs are taken |
//! | `drain` | the `DRAIN` flag: `drain`/`drained` without jobs, `drng`/`draining` with |
//!
//! Names come in Slurm's three spellings: compact (`sinfo %t`: `mix`,
//! `drng`, `down*`), long (`sinfo %T`: `mixed`, `draining`) and complete
//! (`scontrol show node`: `MIXED+DRAIN`, `DOWN+NOT_RESPONDING`).
//!
//! [`StateSelection`] is `sinfo -t`.

use corral_state::{Node, NodeAvailability, SYSTEM_REASON_USER};

use crate::error::{error_line, SlurmError, EXIT_FAILURE};

/// Slurm's base node state (`enum node_states`), without the ones Corral
/// never has (`FUTURE`, `ERROR`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BaseState {
    Unknown,
    Down,
    Idle,
    Allocated,
    Mixed,
}

impl BaseState {
    /// The value in Slurm's `enum node_states` (sinfo sorts on it).
    fn slurm_value(self) -> u32 {
        match self {
            BaseState::Unknown => 0,
            BaseState::Down => 1,
            BaseState::Idle => 2,
            BaseState::Allocated => 3,
            BaseState::Mixed => 5,
        }
    }

    fn long_name(self) -> &'static str {
        match self {
            BaseState::Unknown => "UNKNOWN",
            BaseState::Down => "DOWN",
            BaseState::Idle => "IDLE",
            BaseState::Allocated => "ALLOCATED",
            BaseState::Mixed => "MIXED",
        }
    }

    fn compact_name(self) -> &'static str {
        match self {
            BaseState::Unknown => "UNK",
            BaseState::Down => "DOWN",
            BaseState::Idle => "IDLE",
            BaseState::Allocated => "ALLOC",
            BaseState::Mixed => "MIX",
        }
    }
}

/// Slurm's `NODE_STATE_DRAIN`.
const DRAIN_FLAG: u32 = 0x200;
/// Slurm's `NODE_STATE_NO_RESPOND`.
const NO_RESPOND_FLAG: u32 = 0x800;

/// A node's state as Slurm holds it: a base state and the flags Corral can
/// set.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NodeState {
    pub base: BaseState,
    pub drain: bool,
    pub not_responding: bool,
}

impl NodeState {
    /// The controller's view: `ALLOCATED` as soon as one CPU is allocated.
    pub fn of(node: &Node) -> NodeState {
        let system_down = node
            .reason
            .as_ref()
            .is_none_or(|reason| reason.user == SYSTEM_REASON_USER);
        let (base, not_responding) = match node.availability {
            NodeAvailability::Unknown => (BaseState::Unknown, true),
            NodeAvailability::Down => (BaseState::Down, system_down),
            NodeAvailability::Up if node.usage.cpus > 0 => (BaseState::Allocated, false),
            NodeAvailability::Up => (BaseState::Idle, false),
        };
        NodeState {
            base,
            drain: node.drain,
            not_responding,
        }
    }

    /// As sinfo shows it: `MIXED` when some but not all CPUs are allocated,
    /// except on a drained node ("the whole node is being drained").
    pub fn for_sinfo(node: &Node) -> NodeState {
        let state = NodeState::of(node);
        if state.drain {
            state
        } else {
            state.with_mixed(node)
        }
    }

    /// As `scontrol show node` shows it: `MIXED` even when drained.
    pub fn for_scontrol(node: &Node) -> NodeState {
        NodeState::of(node).with_mixed(node)
    }

    fn with_mixed(self, node: &Node) -> NodeState {
        let total = node.resources.cpus;
        let used = node.usage.cpus.min(total);
        if used > 0 && used < total {
            NodeState {
                base: BaseState::Mixed,
                ..self
            }
        } else {
            self
        }
    }

    /// Whether jobs still run on a drained node (`DRNG`, not `DRAIN`).
    fn draining(self) -> bool {
        self.drain && matches!(self.base, BaseState::Allocated | BaseState::Mixed)
    }

    fn star(self) -> &'static str {
        if self.not_responding {
            "*"
        } else {
            ""
        }
    }

    /// `node_state_string`: `MIXED`, `DRAINING`, `DRAINED*`, `DOWN*`.
    pub fn long_name(self) -> String {
        let name = match (self.drain, self.draining()) {
            (true, true) => "DRAINING",
            (true, false) => "DRAINED",
            (false, _) => self.base.long_name(),
        };
        format!("{name}{}", self.star())
    }

    /// `node_state_string_compact`: `MIX`, `DRNG`, `DRAIN*`, `UNK*`.
    pub fn compact_name(self) -> String {
        let name = match (self.drain, self.draining()) {
            (true, true) => "DRNG",
            (true, false) => "DRAIN",
            (false, _) => self.base.compact_name(),
        };
        format!("{name}{}", self.star())
    }

    /// `node_state_string_complete`: the base state, then each flag in
    /// Slurm's order: `MIXED+DRAIN`, `DOWN+DRAIN+NOT_RESPONDING`.
    pub fn complete_name(self) -> String {
        let mut name = self.base.long_name().to_string();
        if self.drain {
            name.push_str("+DRAIN");
        }
        if self.not_responding {
            name.push_str("+NOT_RESPONDING");
        }
        name
    }

    /// The state as Slurm's number, which `sinfo` sorts on (`-t` in
    /// `#P,-t`): flags above base states.
    pub fn slurm_value(self) -> u32 {
        let mut value = self.base.slurm_value();
        if self.drain {
            value |= DRAIN_FLAG;
        }
        if self.not_responding {
            value |= NO_RESPOND_FLAG;
        }
        value
    }
}

/// One state of `sinfo -t` (`_node_state_id`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StateFilter {
    /// `unknown`, `down`, `mixed`: the base state, whatever the flags.
    Base(BaseState),
    /// `idle`: idle with no flag but `NO_RESPOND`.
    Idle,
    /// `allocated`: any CPU allocated, drained or not.
    Allocated,
    /// `drain`: the drain flag.
    Drain,
    /// `drained`: drained, no job left.
    Drained,
    /// `draining`: drained, jobs still running.
    Draining,
    /// `no_respond`.
    NotResponding,
    /// A state or flag Corral's nodes never have (`future`, `fail`,
    /// `maint`, `completing`, `power_down`, ...).
    Never,
}

/// `sinfo -t`: every state, or some.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StateSelection {
    /// `all` (any case).
    All,
    /// A node passes if it matches one of these (none: no node passes).
    Only(Vec<StateFilter>),
}

impl StateSelection {
    /// What `sinfo -R` lists without `-t`: `down,fail,drain`.
    pub fn reasons_default() -> StateSelection {
        StateSelection::Only(vec![
            StateFilter::Base(BaseState::Down),
            StateFilter::Never,
            StateFilter::Drain,
        ])
    }

    /// Parses a comma-separated list (`_build_state_list`). Each name may be
    /// abbreviated to any prefix of a compact or long state name, tried in
    /// Slurm's order (`d` is `down`).
    pub fn parse(text: &str) -> Result<StateSelection, SlurmError> {
        if text.eq_ignore_ascii_case("all") {
            return Ok(StateSelection::All);
        }
        text.split(',')
            .filter(|name| !name.is_empty())
            .map(|name| {
                StateFilter::parse_one(name).ok_or_else(|| {
                    SlurmError::new(
                        vec![
                            error_line("sinfo", &format!("Bad state string: \"{name}\"")),
                            error_line("sinfo", &format!("valid states: {VALID_STATES}")),
                        ],
                        EXIT_FAILURE,
                    )
                })
            })
            .collect::<Result<Vec<_>, _>>()
            .map(StateSelection::Only)
    }

    pub fn matches(&self, node: &Node) -> bool {
        match self {
            StateSelection::All => true,
            StateSelection::Only(filters) => filters.iter().any(|filter| filter.matches(node)),
        }
    }
}

/// What sinfo lists after `valid states:` (lower case, as it prints them).
const VALID_STATES: &str = "unknown,down,idle,allocated,?,mixed,future,drain,drained,draining,no_respond,reserved,perfctrs,cloud,completing,powering_down,powered_down,power_down,powering_up,fail,maint,reboot,reboot^,unknown";

impl StateFilter {
    fn parse_one(name: &str) -> Option<StateFilter> {
        use StateFilter::*;
        // The base states in `enum node_states` order, each by its compact
        // and its long name; then the flags, as `_node_state_id` tries them.
        let table: &[(&[&str], StateFilter)] = &[
            (&["UNK", "UNKNOWN"], Base(BaseState::Unknown)),
            (&["DOWN"], Base(BaseState::Down)),
            (&["IDLE"], Idle),
            (&["ALLOC", "ALLOCATED"], Allocated),
            (&["?"], Never),
            (&["MIX", "MIXED"], Base(BaseState::Mixed)),
            (&["FUTR", "FUTURE"], Never),
            (&["PLANNED", "PLND"], Never),
            (&["DRAIN"], Drain),
            (&["DRAINED"], Drained),
            (&["RESV", "RESERVED"], Never),
            (&["PERFCTRS", "NPC"], Never),
            (&["DRAINING", "DRNG"], Draining),
            (&["COMP", "COMPLETING"], Never),
            (&["NO_RESPOND"], NotResponding),
            (&["POWERING_DOWN", "POWRING_DN"], Never),
            (&["POWERED_DOWN", "POWERED_DN"], Never),
            (&["POWER_DOWN", "POW_DN"], Never),
            (&["POWERING_UP"], Never),
            (&["FAIL"], Never),
            (&["MAINT"], Never),
            (&["REBOOT", "BOOT"], Never),
            (&["REBOOT^", "BOOT^"], Never),
            (&["CLOUD"], Never),
        ];
        table
            .iter()
            .find(|(names, _)| names.iter().any(|full| is_prefix_of(name, full)))
            .map(|(_, filter)| *filter)
    }

    /// Whether a node passes this state (`_filter_out`).
    pub fn matches(self, node: &Node) -> bool {
        let state = NodeState::for_sinfo(node);
        match self {
            StateFilter::Base(base) => state.base == base,
            StateFilter::Idle => state.base == BaseState::Idle && !state.drain,
            StateFilter::Allocated => node.usage.cpus > 0,
            StateFilter::Drain => state.drain,
            StateFilter::Drained => state.drain && !state.draining(),
            StateFilter::Draining => state.draining(),
            StateFilter::NotResponding => state.not_responding,
            StateFilter::Never => false,
        }
    }
}

/// C's `strncasecmp(full, given, strlen(given)) == 0`: `given` is a prefix
/// of `full`, ignoring case.
fn is_prefix_of(given: &str, full: &str) -> bool {
    full.len() >= given.len()
        && full.is_char_boundary(given.len())
        && full[..given.len()].eq_ignore_ascii_case(given)
}

/// `xstrncasecmp(given, keyword, MAX(strlen(given), minimum)) == 0`, the way
/// scontrol matches its keywords: `given` is a prefix of `keyword` at least
/// `minimum` long (or all of it).
pub(crate) fn keyword_matches(given: &str, keyword: &str, minimum: usize) -> bool {
    given.len() >= minimum.min(keyword.len()) && is_prefix_of(given, keyword)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster_view::tests::node;
    use corral_state::NodeReason;

    fn reason(user: &str) -> Option<NodeReason> {
        Some(NodeReason {
            text: "why".to_string(),
            user: user.to_string(),
            uid: 0,
            time_ms: 0,
        })
    }

    fn names(node: &Node) -> (String, String, String) {
        let sinfo = NodeState::for_sinfo(node);
        (
            sinfo.compact_name().to_lowercase(),
            sinfo.long_name().to_lowercase(),
            NodeState::for_scontrol(node).complete_name(),
        )
    }

    fn triple(compact: &str, long: &str, complete: &str) -> (String, String, String) {
        (compact.into(), long.into(), complete.into())
    }

    #[test]
    fn names_of_every_corral_state() {
        let mut n = node("n1", 64, 1000);
        assert_eq!(names(&n), triple("idle", "idle", "IDLE"));
        n.usage.cpus = 5;
        assert_eq!(names(&n), triple("mix", "mixed", "MIXED"));
        n.usage.cpus = 64;
        assert_eq!(names(&n), triple("alloc", "allocated", "ALLOCATED"));
        n.usage.cpus = 5;
        n.drain = true;
        assert_eq!(names(&n), triple("drng", "draining", "MIXED+DRAIN"));
        n.usage.cpus = 0;
        assert_eq!(names(&n), triple("drain", "drained", "IDLE+DRAIN"));
        n.drain = false;
        n.availability = NodeAvailability::Down;
        n.reason = reason(SYSTEM_REASON_USER);
        assert_eq!(names(&n), triple("down*", "down*", "DOWN+NOT_RESPONDING"));
        n.reason = reason("root");
        assert_eq!(names(&n), triple("down", "down", "DOWN"));
        n.availability = NodeAvailability::Unknown;
        n.reason = None;
        assert_eq!(
            names(&n),
            triple("unk*", "unknown*", "UNKNOWN+NOT_RESPONDING")
        );
        n.drain = true;
        assert_eq!(
            names(&n),
            triple("drain*", "drained*", "UNKNOWN+DRAIN+NOT_RESPONDING")
        );
    }

    #[test]
    fn sort_values_put_flags_first() {
        let mut drained = node("n1", 4, 1);
        drained.drain = true;
        let idle = node("n2", 4, 1);
        assert!(
            NodeState::for_sinfo(&drained).slurm_value()
                > NodeState::for_sinfo(&idle).slurm_value()
        );
    }

    #[test]
    fn parses_state_lists() {
        use StateFilter::*;
        assert_eq!(StateSelection::parse("ALL").unwrap(), StateSelection::All);
        assert_eq!(
            StateSelection::parse("idle,d,MIX,alloc,drain,drained,drng,no_respond,fail").unwrap(),
            StateSelection::Only(vec![
                Idle,
                Base(BaseState::Down),
                Base(BaseState::Mixed),
                Allocated,
                Drain,
                Drained,
                Draining,
                NotResponding,
                Never
            ])
        );
        assert_eq!(
            StateSelection::parse(",,idle,").unwrap(),
            StateSelection::Only(vec![Idle])
        );
        assert_eq!(
            StateSelection::parse("").unwrap(),
            StateSelection::Only(vec![])
        );
        assert!(!StateSelection::parse("")
            .unwrap()
            .matches(&node("n1", 1, 1)));
        let error = StateSelection::parse("idle,bogus").unwrap_err();
        assert_eq!(error.exit_code, 1);
        assert_eq!(error.lines[0], "sinfo: error: Bad state string: \"bogus\"");
        assert!(error.lines[1].starts_with("sinfo: error: valid states: unknown,down,idle,"));
        assert!(StateSelection::parse("idlex").is_err());
        assert!(StateSelection::parse("é").is_err());
        assert!(StateSelection::parse("idle&drain").is_err());
    }

    #[test]
    fn state_filters_match_like_sinfo() {
        let mut busy_drained = node("n1", 4, 1);
        busy_drained.usage.cpus = 2;
        busy_drained.drain = true;
        assert!(StateFilter::Allocated.matches(&busy_drained));
        assert!(StateFilter::Draining.matches(&busy_drained));
        assert!(!StateFilter::Drained.matches(&busy_drained));
        assert!(!StateFilter::Base(BaseState::Mixed).matches(&busy_drained));
        let mut idle_drained = node("n2", 4, 1);
        idle_drained.drain = true;
        assert!(!StateFilter::Idle.matches(&idle_drained));
        assert!(StateFilter::Drained.matches(&idle_drained));
        let mut mixed = node("n3", 4, 1);
        mixed.usage.cpus = 1;
        assert!(StateFilter::Base(BaseState::Mixed).matches(&mixed));
        assert!(StateFilter::Allocated.matches(&mixed));
        assert!(!StateFilter::Idle.matches(&mixed));
        let mut unknown = node("n4", 4, 1);
        unknown.availability = NodeAvailability::Unknown;
        assert!(StateFilter::NotResponding.matches(&unknown));
        assert!(StateFilter::Base(BaseState::Unknown).matches(&unknown));
        assert!(!StateFilter::Never.matches(&unknown));
    }

    #[test]
    fn keywords_match_like_xstrncasecmp() {
        assert!(keyword_matches("dra", "DRAIN", 3));
        assert!(keyword_matches("Drain", "DRAIN", 3));
        assert!(!keyword_matches("dr", "DRAIN", 3));
        assert!(!keyword_matches("drains", "DRAIN", 3));
        assert!(keyword_matches("n", "NodeName", 1));
        assert!(!keyword_matches("", "NodeName", 1));
        assert!(keyword_matches("ALL", "ALL", 5));
    }
}
