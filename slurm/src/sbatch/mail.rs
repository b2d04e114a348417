//! `--mail-type`: which job events Slurm would mail about (Corral records
//! the choice and sends no mail).

/// Slurm's mail events, in the order `print_mail_type` writes them.
const EVENTS: [&str; 11] = [
    "ARRAY_TASKS",
    "INVALID_DEPEND",
    "BEGIN",
    "END",
    "FAIL",
    "REQUEUE",
    "STAGE_OUT",
    "TIME_LIMIT_50",
    "TIME_LIMIT_80",
    "TIME_LIMIT_90",
    "TIME_LIMIT",
];

/// What `ALL` stands for in Slurm 22.05 (not the array or time-limit
/// events).
const ALL: [&str; 6] = [
    "INVALID_DEPEND",
    "BEGIN",
    "END",
    "FAIL",
    "REQUEUE",
    "STAGE_OUT",
];

/// A set of mail events; the empty set is Slurm's `NONE`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct MailTypes(u16);

impl MailTypes {
    /// Slurm's `parse_mail_type`: comma-separated event names in any case.
    /// `NONE` stops the reading and clears what this value named; names
    /// Slurm does not know are skipped, and `None` (Slurm's `Invalid
    /// --mail-type specification`) comes only when no name was valid.
    pub(crate) fn parse(text: &str) -> Option<MailTypes> {
        let mut types = MailTypes::default();
        for name in text.split(',').filter(|name| !name.is_empty()) {
            if name.eq_ignore_ascii_case("NONE") {
                return Some(MailTypes::default());
            }
            if name.eq_ignore_ascii_case("ALL") {
                ALL.iter().for_each(|event| types.insert(event));
            } else {
                types.insert(name);
            }
        }
        (types.0 != 0).then_some(types)
    }

    /// Adds the event named `name`, if Slurm knows it.
    fn insert(&mut self, name: &str) {
        if let Some(bit) = EVENTS.iter().position(|e| e.eq_ignore_ascii_case(name)) {
            self.0 |= 1 << bit;
        }
    }

    /// Later `--mail-type` options add to earlier ones, as in Slurm.
    pub(crate) fn union(self, other: MailTypes) -> MailTypes {
        MailTypes(self.0 | other.0)
    }

    /// Slurm's `print_mail_type`: `NONE`, or the events in its order.
    pub(crate) fn slurm_text(self) -> String {
        if self.0 == 0 {
            return "NONE".to_string();
        }
        let names: Vec<&str> = EVENTS
            .iter()
            .enumerate()
            .filter(|(bit, _)| self.0 & (1 << bit) != 0)
            .map(|(_, name)| *name)
            .collect();
        names.join(",")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(value: &str) -> Option<String> {
        MailTypes::parse(value).map(MailTypes::slurm_text)
    }

    #[test]
    fn events_are_read_in_any_case_and_printed_in_slurm_order() {
        assert_eq!(text("END,begin").as_deref(), Some("BEGIN,END"));
        assert_eq!(
            text("all").as_deref(),
            Some("INVALID_DEPEND,BEGIN,END,FAIL,REQUEUE,STAGE_OUT")
        );
        assert_eq!(
            text("TIME_LIMIT,TIME_LIMIT_90,TIME_LIMIT_80,TIME_LIMIT_50,ARRAY_TASKS").as_deref(),
            Some("ARRAY_TASKS,TIME_LIMIT_50,TIME_LIMIT_80,TIME_LIMIT_90,TIME_LIMIT")
        );
        for event in EVENTS {
            assert_eq!(text(event).as_deref(), Some(event));
        }
    }

    #[test]
    fn none_clears_and_stops() {
        assert_eq!(text("NONE").as_deref(), Some("NONE"));
        assert_eq!(text("BEGIN,none,END").as_deref(), Some("NONE"));
        assert_eq!(text("none,bogus").as_deref(), Some("NONE"));
    }

    #[test]
    fn unknown_names_are_skipped_unless_nothing_is_valid() {
        assert_eq!(text("BEGIN,bogus").as_deref(), Some("BEGIN"));
        assert_eq!(text(",,FAIL,").as_deref(), Some("FAIL"));
        for invalid in ["", "bogus", "BEGIN END", "begin;end", ",", "TIME_LIMIT_70"] {
            assert_eq!(text(invalid), None, "{invalid:?}");
        }
    }

    #[test]
    fn occurrences_add_up() {
        let begin = MailTypes::parse("BEGIN").unwrap();
        let end = MailTypes::parse("END").unwrap();
        let none = MailTypes::parse("NONE").unwrap();
        assert_eq!(begin.union(end).slurm_text(), "BEGIN,END");
        assert_eq!(begin.union(none).slurm_text(), "BEGIN");
    }
}
