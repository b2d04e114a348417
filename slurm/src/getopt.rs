//! glibc's `getopt_long`, as Slurm's commands call it.
//!
//! Short options cluster (`-vvJname`) and take their argument attached
//! (`-Jname`) or as the next word (`-J name`); a required argument is taken
//! even when it starts with `-`. Long options take `--opt=value` or, when the
//! argument is required, `--opt value`; an optional argument must be attached.
//! A long option may be abbreviated to any unambiguous prefix (`--parsa`); an
//! exact name wins over longer names it prefixes (`--mem` vs `--mem-bind`);
//! two names for the same option (same key and argument kind) are not
//! ambiguous. `--` ends the options. [`Ordering::Permute`] is glibc's default
//! (operands may come anywhere); [`Ordering::RequireOrder`] is a leading `+` in
//! the option string, as Slurm's sbatch/srun/salloc use: the first operand
//! ends the options and everything after it belongs to the script.
//!
//! Errors carry glibc 2.36's exact texts through [`GetoptError::message`].
//! Unlike glibc, iteration stops at the first error: every Slurm command
//! exits on it.

use std::fmt;

/// Whether an option takes an argument (`no_argument`, ...).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HasArg {
    No,
    Required,
    Optional,
}

/// One option: its long name and/or short letter, and the key the caller
/// matches on. Options sharing a key are one option with several names.
#[derive(Clone, Copy, Debug)]
pub struct OptionDef<K> {
    pub long: Option<&'static str>,
    pub short: Option<char>,
    pub has_arg: HasArg,
    pub key: K,
}

impl<K> OptionDef<K> {
    pub const fn new(
        long: Option<&'static str>,
        short: Option<char>,
        has_arg: HasArg,
        key: K,
    ) -> OptionDef<K> {
        OptionDef {
            long,
            short,
            has_arg,
            key,
        }
    }
}

/// Where operands may appear.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ordering {
    /// glibc's default: operands may be mixed with options.
    Permute,
    /// An option string starting with `+`: the first operand ends the options.
    RequireOrder,
}

/// One option found on the command line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Found<K> {
    pub key: K,
    pub argument: Option<String>,
    /// How the option is named in messages: `-J`, or `--job-name` (the full
    /// name, even when the user abbreviated it).
    pub name: String,
}

/// A command line getopt rejects.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GetoptError {
    /// `--bogus` (the text as given, `=value` included).
    UnrecognizedOption { given: String },
    /// `--par` matching several options, listed in table order.
    AmbiguousOption {
        given: String,
        candidates: Vec<&'static str>,
    },
    /// `--parsable=1`.
    ArgumentNotAllowed { name: &'static str },
    /// `--job-name` as the last word.
    ArgumentRequired { name: &'static str },
    /// `-z`.
    InvalidOption { letter: char },
    /// `-J` as the last word.
    ShortArgumentRequired { letter: char },
}

impl GetoptError {
    /// The line glibc prints, with `argv0` exactly as the program was called.
    pub fn message(&self, argv0: &str) -> String {
        match self {
            GetoptError::UnrecognizedOption { given } => {
                format!("{argv0}: unrecognized option '{given}'")
            }
            GetoptError::AmbiguousOption { given, candidates } => {
                let list: String = candidates.iter().map(|c| format!(" '--{c}'")).collect();
                format!("{argv0}: option '{given}' is ambiguous; possibilities:{list}")
            }
            GetoptError::ArgumentNotAllowed { name } => {
                format!("{argv0}: option '--{name}' doesn't allow an argument")
            }
            GetoptError::ArgumentRequired { name } => {
                format!("{argv0}: option '--{name}' requires an argument")
            }
            GetoptError::InvalidOption { letter } => {
                format!("{argv0}: invalid option -- '{letter}'")
            }
            GetoptError::ShortArgumentRequired { letter } => {
                format!("{argv0}: option requires an argument -- '{letter}'")
            }
        }
    }
}

impl fmt::Display for GetoptError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message("getopt"))
    }
}

/// Iterates over the options of `argv` (whose first word is the program
/// name), yielding each option in order, then `None`; after that,
/// [`Getopt::operands`] gives the non-option words.
pub struct Getopt<'a, K> {
    defs: &'a [OptionDef<K>],
    argv: &'a [String],
    ordering: Ordering,
    /// The word being read.
    index: usize,
    /// Byte offset inside a short-option cluster (`0`: not inside one).
    cluster_offset: usize,
    operands: Vec<String>,
    finished: bool,
}

impl<'a, K: Copy + Eq> Getopt<'a, K> {
    pub fn new(defs: &'a [OptionDef<K>], argv: &'a [String], ordering: Ordering) -> Self {
        Getopt {
            defs,
            argv,
            ordering,
            index: 1,
            cluster_offset: 0,
            operands: Vec::new(),
            finished: argv.len() <= 1,
        }
    }

    /// The program name as given (`argv[0]`), for error messages.
    pub fn argv0(&self) -> &'a str {
        self.argv.first().map(String::as_str).unwrap_or("")
    }

    /// The operands, in order: words that are not options, and everything
    /// after `--` (or, in [`Ordering::RequireOrder`], after the first operand).
    /// Complete only once iteration has returned `None`.
    pub fn operands(&self) -> &[String] {
        &self.operands
    }

    pub fn into_operands(self) -> Vec<String> {
        self.operands
    }

    fn finish_with_rest(&mut self, from: usize) {
        self.operands
            .extend(self.argv[from.min(self.argv.len())..].iter().cloned());
        self.finished = true;
    }

    fn next_option(&mut self) -> Option<Result<Found<K>, GetoptError>> {
        loop {
            if self.cluster_offset > 0 {
                return Some(self.next_short());
            }
            let word = self.argv.get(self.index)?;
            if word == "--" {
                self.finish_with_rest(self.index + 1);
                return None;
            }
            if let Some(long) = word.strip_prefix("--") {
                self.index += 1;
                return Some(self.long_option(long));
            }
            if word.len() > 1 && word.starts_with('-') {
                self.cluster_offset = 1;
                continue;
            }
            match self.ordering {
                Ordering::RequireOrder => {
                    self.finish_with_rest(self.index);
                    return None;
                }
                Ordering::Permute => {
                    self.operands.push(word.clone());
                    self.index += 1;
                }
            }
        }
    }

    fn long_option(&mut self, given: &str) -> Result<Found<K>, GetoptError> {
        let (name, attached) = match given.split_once('=') {
            Some((name, value)) => (name, Some(value)),
            None => (given, None),
        };
        let def = self.match_long(name, given)?;
        let full_name = def.long.unwrap_or_default();
        let argument = match (def.has_arg, attached) {
            (HasArg::No, Some(_)) => {
                return Err(GetoptError::ArgumentNotAllowed { name: full_name })
            }
            (HasArg::No, None) | (HasArg::Optional, None) => None,
            (_, Some(value)) => Some(value.to_string()),
            (HasArg::Required, None) => match self.argv.get(self.index) {
                Some(next) => {
                    self.index += 1;
                    Some(next.clone())
                }
                None => return Err(GetoptError::ArgumentRequired { name: full_name }),
            },
        };
        Ok(Found {
            key: def.key,
            argument,
            name: format!("--{full_name}"),
        })
    }

    /// glibc's rule: an exact name wins; otherwise a unique prefix match, where
    /// matches with the same key and argument kind count as one.
    fn match_long(&self, name: &str, given: &str) -> Result<&'a OptionDef<K>, GetoptError> {
        let named = || self.defs.iter().filter(|d| d.long.is_some());
        if let Some(exact) = named().find(|d| d.long == Some(name)) {
            return Ok(exact);
        }
        let mut matches = named().filter(|d| d.long.is_some_and(|l| l.starts_with(name)));
        let Some(first) = matches.next() else {
            return Err(GetoptError::UnrecognizedOption {
                given: format!("--{given}"),
            });
        };
        let differing: Vec<&OptionDef<K>> = matches
            .filter(|d| d.has_arg != first.has_arg || d.key != first.key)
            .collect();
        if differing.is_empty() {
            return Ok(first);
        }
        let candidates = named()
            .filter(|d| std::ptr::eq(*d, first) || differing.iter().any(|x| std::ptr::eq(*x, *d)))
            .filter_map(|d| d.long)
            .collect();
        Err(GetoptError::AmbiguousOption {
            given: format!("--{given}"),
            candidates,
        })
    }

    fn next_short(&mut self) -> Result<Found<K>, GetoptError> {
        let word = &self.argv[self.index];
        let letter = word[self.cluster_offset..].chars().next().unwrap_or('?');
        let after = self.cluster_offset + letter.len_utf8();
        let rest = &word[after..];
        let at_end = rest.is_empty();
        if at_end {
            self.index += 1;
            self.cluster_offset = 0;
        } else {
            self.cluster_offset = after;
        }
        let def = self
            .defs
            .iter()
            .find(|d| d.short == Some(letter) && letter != ':' && letter != ';')
            .ok_or(GetoptError::InvalidOption { letter })?;
        let argument = match def.has_arg {
            HasArg::No => None,
            HasArg::Optional if at_end => None,
            HasArg::Optional | HasArg::Required if !at_end => {
                self.index += 1;
                self.cluster_offset = 0;
                Some(rest.to_string())
            }
            _ => match self.argv.get(self.index) {
                Some(next) => {
                    self.index += 1;
                    Some(next.clone())
                }
                None => return Err(GetoptError::ShortArgumentRequired { letter }),
            },
        };
        Ok(Found {
            key: def.key,
            argument,
            name: format!("-{letter}"),
        })
    }
}

impl<K: Copy + Eq> Iterator for Getopt<'_, K> {
    type Item = Result<Found<K>, GetoptError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.finished {
            return None;
        }
        let item = self.next_option();
        match &item {
            None => {
                self.finished = true;
                // Permute mode reaches the end of argv without `--`.
            }
            Some(Err(_)) => self.finished = true,
            Some(Ok(_)) => {}
        }
        item
    }
}

/// Parses a whole command line: the options in order, then the operands.
pub fn parse_all<K: Copy + Eq>(
    defs: &[OptionDef<K>],
    argv: &[String],
    ordering: Ordering,
) -> Result<(Vec<Found<K>>, Vec<String>), GetoptError> {
    let mut getopt = Getopt::new(defs, argv, ordering);
    let mut found = Vec::new();
    for item in getopt.by_ref() {
        found.push(item?);
    }
    Ok((found, getopt.into_operands()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use HasArg::*;

    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    enum Key {
        JobName,
        Parsable,
        Partition,
        Verbose,
        Nice,
        Mem,
        MemBind,
        NtasksPerNode,
        NoKill,
    }

    const DEFS: &[OptionDef<Key>] = &[
        OptionDef::new(Some("job-name"), Some('J'), Required, Key::JobName),
        OptionDef::new(Some("mem"), None, Required, Key::Mem),
        OptionDef::new(Some("mem-bind"), None, Required, Key::MemBind),
        OptionDef::new(Some("nice"), None, Optional, Key::Nice),
        OptionDef::new(Some("no-kill"), Some('k'), Optional, Key::NoKill),
        OptionDef::new(Some("ntasks-per-node"), None, Required, Key::NtasksPerNode),
        OptionDef::new(Some("parsable"), None, No, Key::Parsable),
        OptionDef::new(Some("partition"), Some('p'), Required, Key::Partition),
        OptionDef::new(Some("tasks-per-node"), None, Required, Key::NtasksPerNode),
        OptionDef::new(Some("verbose"), Some('v'), No, Key::Verbose),
    ];

    fn argv(words: &[&str]) -> Vec<String> {
        std::iter::once("prog")
            .chain(words.iter().copied())
            .map(String::from)
            .collect()
    }

    type Parsed = (Vec<(Key, Option<String>)>, Vec<String>);

    fn parse(words: &[&str], ordering: Ordering) -> Result<Parsed, String> {
        let argv = argv(words);
        parse_all(DEFS, &argv, ordering)
            .map(|(found, operands)| {
                (
                    found.into_iter().map(|f| (f.key, f.argument)).collect(),
                    operands,
                )
            })
            .map_err(|e| e.message("prog"))
    }

    fn ok(words: &[&str]) -> Vec<(Key, Option<String>)> {
        parse(words, Ordering::RequireOrder).unwrap().0
    }

    fn err(words: &[&str]) -> String {
        parse(words, Ordering::RequireOrder).unwrap_err()
    }

    fn some(s: &str) -> Option<String> {
        Some(s.to_string())
    }

    #[test]
    fn short_options_cluster_and_take_arguments() {
        assert_eq!(
            ok(&["-vvJname"]),
            vec![
                (Key::Verbose, None),
                (Key::Verbose, None),
                (Key::JobName, some("name"))
            ]
        );
        assert_eq!(ok(&["-J", "name"]), vec![(Key::JobName, some("name"))]);
        assert_eq!(ok(&["-J", "-v"]), vec![(Key::JobName, some("-v"))]);
        assert_eq!(ok(&["-J", ""]), vec![(Key::JobName, some(""))]);
        assert_eq!(ok(&["-k"]), vec![(Key::NoKill, None)]);
        assert_eq!(ok(&["-kno", "x"]), vec![(Key::NoKill, some("no"))]);
        assert_eq!(
            ok(&["-vk", "-v"]),
            vec![
                (Key::Verbose, None),
                (Key::NoKill, None),
                (Key::Verbose, None)
            ]
        );
    }

    #[test]
    fn long_options_take_arguments() {
        assert_eq!(ok(&["--job-name=x"]), vec![(Key::JobName, some("x"))]);
        assert_eq!(ok(&["--job-name", "x"]), vec![(Key::JobName, some("x"))]);
        assert_eq!(ok(&["--job-name="]), vec![(Key::JobName, some(""))]);
        assert_eq!(
            ok(&["--job-name", "--parsable"]),
            vec![(Key::JobName, some("--parsable"))]
        );
        assert_eq!(
            ok(&["--nice", "5"]).len(),
            1,
            "optional argument is never the next word"
        );
        assert_eq!(ok(&["--nice=5"]), vec![(Key::Nice, some("5"))]);
        assert_eq!(ok(&["--job-name=a=b"]), vec![(Key::JobName, some("a=b"))]);
    }

    #[test]
    fn abbreviations_resolve_or_are_ambiguous() {
        assert_eq!(ok(&["--parsa"]), vec![(Key::Parsable, None)]);
        assert_eq!(
            ok(&["--parti=debug"]),
            vec![(Key::Partition, some("debug"))]
        );
        assert_eq!(
            ok(&["--mem=1G"]),
            vec![(Key::Mem, some("1G"))],
            "exact wins over --mem-bind"
        );
        assert_eq!(ok(&["--mem-=x"]), vec![(Key::MemBind, some("x"))]);
        assert_eq!(ok(&["--j", "x"]), vec![(Key::JobName, some("x"))]);
        assert_eq!(
            err(&["--par"]),
            "prog: option '--par' is ambiguous; possibilities: '--parsable' '--partition'"
        );
        assert_eq!(
            err(&["--par=x"]),
            "prog: option '--par=x' is ambiguous; possibilities: '--parsable' '--partition'"
        );
        assert_eq!(
            err(&["--n"]),
            "prog: option '--n' is ambiguous; possibilities: '--nice' '--no-kill' '--ntasks-per-node'"
        );
    }

    #[test]
    fn aliases_of_one_option_are_not_ambiguous() {
        // Both names carry the same key and argument kind, as glibc compares.
        let defs = [
            OptionDef::new(Some("cpu-bind"), None, Required, Key::MemBind),
            OptionDef::new(Some("cpu_bind"), None, Required, Key::MemBind),
        ];
        let argv = argv(&["--cpu", "x"]);
        let (found, _) = parse_all(&defs, &argv, Ordering::Permute).unwrap();
        assert_eq!(found[0].name, "--cpu-bind");
    }

    #[test]
    fn errors_use_glibc_texts() {
        assert_eq!(err(&["--bogus"]), "prog: unrecognized option '--bogus'");
        assert_eq!(err(&["--bogus=1"]), "prog: unrecognized option '--bogus=1'");
        assert_eq!(err(&["-z"]), "prog: invalid option -- 'z'");
        assert_eq!(err(&["-vz"]), "prog: invalid option -- 'z'");
        assert_eq!(err(&["-:"]), "prog: invalid option -- ':'");
        assert_eq!(err(&["-J"]), "prog: option requires an argument -- 'J'");
        assert_eq!(
            err(&["--job-name"]),
            "prog: option '--job-name' requires an argument"
        );
        assert_eq!(
            err(&["--job"]),
            "prog: option '--job-name' requires an argument"
        );
        assert_eq!(
            err(&["--parsable=1"]),
            "prog: option '--parsable' doesn't allow an argument"
        );
        assert_eq!(
            err(&["--parsa=1"]),
            "prog: option '--parsable' doesn't allow an argument"
        );
    }

    #[test]
    fn require_order_stops_at_the_first_operand() {
        let (found, operands) = parse(
            &["-v", "script.sh", "-J", "x", "--", "y"],
            Ordering::RequireOrder,
        )
        .unwrap();
        assert_eq!(found, vec![(Key::Verbose, None)]);
        assert_eq!(operands, vec!["script.sh", "-J", "x", "--", "y"]);
        let (found, operands) = parse(&["-v", "--", "-J", "x"], Ordering::RequireOrder).unwrap();
        assert_eq!(found.len(), 1);
        assert_eq!(operands, vec!["-J", "x"]);
        let (_, operands) = parse(&["-", "-v"], Ordering::RequireOrder).unwrap();
        assert_eq!(operands, vec!["-", "-v"]);
    }

    #[test]
    fn permute_collects_operands_anywhere() {
        let (found, operands) =
            parse(&["a", "-v", "b", "-J", "x", "--", "-v"], Ordering::Permute).unwrap();
        assert_eq!(found, vec![(Key::Verbose, None), (Key::JobName, some("x"))]);
        assert_eq!(operands, vec!["a", "b", "-v"]);
    }

    #[test]
    fn names_are_reported_in_full() {
        let argv = argv(&["--parsa", "-p", "x"]);
        let (found, _) = parse_all(DEFS, &argv, Ordering::Permute).unwrap();
        assert_eq!(found[0].name, "--parsable");
        assert_eq!(found[1].name, "-p");
    }

    proptest! {
        #[test]
        fn never_panics(words in prop::collection::vec("(-{0,2}[a-zA-Z=:;-]{0,6}|[ -~]{0,8})", 0..8), permute in any::<bool>()) {
            let words: Vec<&str> = words.iter().map(String::as_str).collect();
            let ordering = if permute { Ordering::Permute } else { Ordering::RequireOrder };
            let _ = parse(&words, ordering);
        }
    }
}
