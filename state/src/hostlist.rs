//! Slurm hostlist expressions: `node[001-004,010]` and the node names they
//! stand for.
//!
//! [`expand`] turns an expression into names the way Slurm's
//! `hostlist_create` reads it: comma- (or whitespace-) separated items, each
//! an optional run of text and bracket groups such as `gpu[1-2]-ib` or
//! `rack[1-2]-node[01-02]` (several groups expand to their cartesian
//! product, leftmost group outermost). The width of a range's first number
//! sets the zero padding of the whole range (`[08-10]` gives `08 09 10`,
//! `[8-10]` gives `8 9 10`).
//!
//! [`compress`] prints names back as Slurm's `hostlist_ranged_string` does:
//! a name splits into a prefix and its trailing number; consecutive numbers
//! with the same prefix and a compatible zero padding join into one range;
//! neighbouring ranges with the same prefix share one bracket (`n[1-3,5]`); a
//! lone name stays bare (`vm`). Order is kept, as Slurm keeps it;
//! [`compress_sorted`] first sorts and removes duplicates (`hostlist_uniq`).
//!
//! `compress(expand(x))` gives back `x` when `x` is already in that canonical
//! form; in general `expand(compress(names)) == names` holds for any names
//! `compress` accepts. Text after a bracket (`gpu[1-2]-ib`) is not
//! re-bracketed by Slurm either: it prints as `gpu1-ib,gpu2-ib`.

use std::fmt;

use thiserror::Error;

/// The most names one expression may expand to. Slurm's own bound is in the
/// same range (`MAX_RANGES`); it keeps a typo like `node[1-999999999]` from
/// exhausting memory.
pub const EXPANDED_NAMES_MAX: usize = 65_536;

/// The longest trailing number treated as a number (fits in `u64`); longer
/// digit runs are ordinary text.
const NUMBER_DIGITS_MAX: usize = 18;

/// A hostlist expression that cannot be expanded.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[error("invalid hostlist expression \"{expression}\": {reason}")]
pub struct HostlistError {
    pub expression: String,
    pub reason: String,
}

impl HostlistError {
    fn new(expression: &str, reason: impl Into<String>) -> HostlistError {
        HostlistError {
            expression: expression.to_string(),
            reason: reason.into(),
        }
    }
}

/// Expands a hostlist expression into node names, in order, duplicates kept.
/// An empty expression is an empty list.
pub fn expand(expression: &str) -> Result<Vec<String>, HostlistError> {
    let mut names = Vec::new();
    for item in split_items(expression)? {
        let pieces = parse_item(expression, item)?;
        let count = pieces.iter().try_fold(1usize, |total, piece| {
            total
                .checked_mul(piece.alternatives_len())
                .filter(|n| names.len().saturating_add(*n) <= EXPANDED_NAMES_MAX)
        });
        if count.is_none() {
            return Err(HostlistError::new(
                expression,
                format!("expands to more than {EXPANDED_NAMES_MAX} names"),
            ));
        }
        push_product(&pieces, 0, &mut String::new(), &mut names);
    }
    Ok(names)
}

/// Splits at commas and whitespace outside brackets; checks bracket nesting.
fn split_items(expression: &str) -> Result<Vec<&str>, HostlistError> {
    let mut items = Vec::new();
    let mut depth = 0usize;
    let mut start = 0usize;
    for (index, c) in expression.char_indices() {
        match c {
            '[' if depth > 0 => return Err(HostlistError::new(expression, "nested '['")),
            '[' => depth = 1,
            ']' if depth == 0 => return Err(HostlistError::new(expression, "']' without '['")),
            ']' => depth = 0,
            c if depth == 0 && (c == ',' || c.is_whitespace()) => {
                items.push(&expression[start..index]);
                start = index + c.len_utf8();
            }
            c if depth > 0 && c.is_whitespace() => {
                return Err(HostlistError::new(expression, "whitespace inside brackets"))
            }
            _ => {}
        }
    }
    if depth > 0 {
        return Err(HostlistError::new(expression, "'[' without ']'"));
    }
    items.push(&expression[start..]);
    Ok(items.into_iter().filter(|item| !item.is_empty()).collect())
}

/// One part of an item: literal text, or the numbers of a bracket group.
enum Piece<'a> {
    Text(&'a str),
    Numbers(Vec<NumberRange>),
}

impl Piece<'_> {
    fn alternatives_len(&self) -> usize {
        match self {
            Piece::Text(_) => 1,
            Piece::Numbers(ranges) => ranges
                .iter()
                .map(NumberRange::len)
                .fold(0usize, usize::saturating_add),
        }
    }
}

/// `lo-hi` printed zero-padded to `width`.
#[derive(Clone, Copy)]
struct NumberRange {
    lo: u64,
    hi: u64,
    width: usize,
}

impl NumberRange {
    fn len(&self) -> usize {
        usize::try_from(self.hi - self.lo)
            .unwrap_or(usize::MAX)
            .saturating_add(1)
    }
}

fn parse_item<'a>(expression: &str, item: &'a str) -> Result<Vec<Piece<'a>>, HostlistError> {
    let mut pieces = Vec::new();
    let mut rest = item;
    while let Some(open) = rest.find('[') {
        if open > 0 {
            pieces.push(Piece::Text(&rest[..open]));
        }
        // split_items guarantees a matching ']' with nothing nested.
        let close = open + rest[open..].find(']').unwrap_or(rest.len() - open);
        let group = &rest[open + 1..close];
        pieces.push(Piece::Numbers(parse_group(expression, group)?));
        rest = rest.get(close + 1..).unwrap_or("");
    }
    if !rest.is_empty() {
        pieces.push(Piece::Text(rest));
    }
    Ok(pieces)
}

fn parse_group(expression: &str, group: &str) -> Result<Vec<NumberRange>, HostlistError> {
    if group.is_empty() {
        return Err(HostlistError::new(expression, "empty brackets"));
    }
    group
        .split(',')
        .map(|range| parse_range(expression, range))
        .collect()
}

fn parse_range(expression: &str, range: &str) -> Result<NumberRange, HostlistError> {
    let (lo_text, hi_text) = range.split_once('-').unwrap_or((range, range));
    let lo = parse_number(expression, lo_text)?;
    let hi = parse_number(expression, hi_text)?;
    if hi < lo {
        return Err(HostlistError::new(
            expression,
            format!("range \"{range}\" runs backwards"),
        ));
    }
    Ok(NumberRange {
        lo,
        hi,
        width: lo_text.len(),
    })
}

fn parse_number(expression: &str, text: &str) -> Result<u64, HostlistError> {
    let valid = !text.is_empty()
        && text.len() <= NUMBER_DIGITS_MAX
        && text.bytes().all(|b| b.is_ascii_digit());
    if !valid {
        return Err(HostlistError::new(
            expression,
            format!("\"{text}\" is not a number of at most {NUMBER_DIGITS_MAX} digits"),
        ));
    }
    text.parse()
        .map_err(|_| HostlistError::new(expression, format!("\"{text}\" is not a number")))
}

fn push_product(pieces: &[Piece<'_>], index: usize, name: &mut String, names: &mut Vec<String>) {
    let Some(piece) = pieces.get(index) else {
        names.push(name.clone());
        return;
    };
    let length = name.len();
    match piece {
        Piece::Text(text) => {
            name.push_str(text);
            push_product(pieces, index + 1, name, names);
        }
        Piece::Numbers(ranges) => {
            for range in ranges {
                for number in range.lo..=range.hi {
                    name.truncate(length);
                    name.push_str(&format!("{number:0width$}", width = range.width));
                    push_product(pieces, index + 1, name, names);
                }
            }
        }
    }
    name.truncate(length);
}

/// A name split into its prefix and trailing number.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct HostName<'a> {
    prefix: &'a str,
    number: Option<(u64, &'a str)>,
}

impl<'a> HostName<'a> {
    fn parse(name: &'a str) -> HostName<'a> {
        let digits = name.bytes().rev().take_while(u8::is_ascii_digit).count();
        if digits == 0 || digits > NUMBER_DIGITS_MAX {
            return HostName {
                prefix: name,
                number: None,
            };
        }
        let (prefix, text) = name.split_at(name.len() - digits);
        match text.parse() {
            Ok(number) => HostName {
                prefix,
                number: Some((number, text)),
            },
            Err(_) => HostName {
                prefix: name,
                number: None,
            },
        }
    }
}

/// Consecutive numbers sharing a prefix, printable with one zero padding.
struct Run<'a> {
    prefix: &'a str,
    lo: u64,
    hi: u64,
    /// Paddings every member prints correctly with: `width_min..=width_max`.
    width_min: usize,
    width_max: usize,
}

impl<'a> Run<'a> {
    fn new(prefix: &'a str, number: u64, text: &str) -> Run<'a> {
        let (width_min, width_max) = admissible_widths(text);
        Run {
            prefix,
            lo: number,
            hi: number,
            width_min,
            width_max,
        }
    }

    /// Extends the run by the next number if it continues it; says whether it did.
    fn extend(&mut self, prefix: &str, number: u64, text: &str) -> bool {
        let (width_min, width_max) = admissible_widths(text);
        let width_min = width_min.max(self.width_min);
        let width_max = width_max.min(self.width_max);
        let continues = prefix == self.prefix
            && self.hi.checked_add(1) == Some(number)
            && width_min <= width_max;
        if continues {
            self.hi = number;
            self.width_min = width_min;
            self.width_max = width_max;
        }
        continues
    }

    fn write_numbers(&self, out: &mut String) {
        let width = self.width_min;
        out.push_str(&format!("{:0width$}", self.lo));
        if self.hi > self.lo {
            out.push_str(&format!("-{:0width$}", self.hi));
        }
    }
}

/// The zero paddings that print `text` back exactly: a number written with a
/// leading zero needs exactly its width; one without fits any width up to its
/// own length.
fn admissible_widths(text: &str) -> (usize, usize) {
    if text.len() > 1 && text.starts_with('0') {
        (text.len(), text.len())
    } else {
        (1, text.len())
    }
}

enum Entry<'a> {
    Bare(&'a str),
    Numbered(Run<'a>),
}

/// Prints names as one hostlist expression, keeping their order, the way
/// Slurm prints a node list (`node[001-003,010]`, `vm`, `a1,b[1-2]`). Names
/// are node names: no `,`, `[`, `]` or whitespace in them.
pub fn compress(names: &[String]) -> String {
    let mut entries: Vec<Entry<'_>> = Vec::new();
    for name in names {
        let host = HostName::parse(name);
        let Some((number, text)) = host.number else {
            entries.push(Entry::Bare(name));
            continue;
        };
        let extended = match entries.last_mut() {
            Some(Entry::Numbered(run)) => run.extend(host.prefix, number, text),
            _ => false,
        };
        if !extended {
            entries.push(Entry::Numbered(Run::new(host.prefix, number, text)));
        }
    }
    write_entries(&entries)
}

/// Sorts names (by prefix, then number) and drops duplicates before
/// compressing, as Slurm's `hostlist_uniq` does.
pub fn compress_sorted(names: &[String]) -> String {
    let mut sorted: Vec<&String> = names.iter().collect();
    sorted.sort_by(|a, b| HostName::parse(a).cmp(&HostName::parse(b)).then(a.cmp(b)));
    sorted.dedup();
    let sorted: Vec<String> = sorted.into_iter().cloned().collect();
    compress(&sorted)
}

fn write_entries(entries: &[Entry<'_>]) -> String {
    let mut out = String::new();
    let mut index = 0;
    while index < entries.len() {
        if !out.is_empty() {
            out.push(',');
        }
        match &entries[index] {
            Entry::Bare(name) => {
                out.push_str(name);
                index += 1;
            }
            Entry::Numbered(first) => {
                let group_len = entries[index..]
                    .iter()
                    .take_while(|e| matches!(e, Entry::Numbered(r) if r.prefix == first.prefix))
                    .count();
                out.push_str(first.prefix);
                let bracketed = group_len > 1 || first.hi > first.lo;
                if bracketed {
                    out.push('[');
                }
                for (offset, entry) in entries[index..index + group_len].iter().enumerate() {
                    if offset > 0 {
                        out.push(',');
                    }
                    if let Entry::Numbered(run) = entry {
                        run.write_numbers(&mut out);
                    }
                }
                if bracketed {
                    out.push(']');
                }
                index += group_len;
            }
        }
    }
    out
}

/// A parsed hostlist, for places that keep the expression and its
/// names together (partitions, allocations).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hostlist {
    names: Vec<String>,
}

impl Hostlist {
    pub fn parse(expression: &str) -> Result<Hostlist, HostlistError> {
        Ok(Hostlist {
            names: expand(expression)?,
        })
    }

    pub fn names(&self) -> &[String] {
        &self.names
    }
}

impl fmt::Display for Hostlist {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&compress(&self.names))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    /// (expression, names) pairs that must expand exactly.
    const EXPANSIONS: &[(&str, &[&str])] = &[
        ("", &[]),
        ("vm", &["vm"]),
        (
            "node[001-004,010]",
            &["node001", "node002", "node003", "node004", "node010"],
        ),
        ("gpu[1-2]-ib", &["gpu1-ib", "gpu2-ib"]),
        ("n[8-10]", &["n8", "n9", "n10"]),
        ("n[08-10]", &["n08", "n09", "n10"]),
        ("n[98-100]", &["n98", "n99", "n100"]),
        ("r[1-2]n[1-2]", &["r1n1", "r1n2", "r2n1", "r2n2"]),
        ("a,b[1-2],c", &["a", "b1", "b2", "c"]),
        ("a b\tc", &["a", "b", "c"]),
        ("a,,b,", &["a", "b"]),
        ("[1-3]", &["1", "2", "3"]),
        ("n[5]", &["n5"]),
        ("n[3,1]", &["n3", "n1"]),
    ];

    #[test]
    fn expands_expressions() {
        for (expression, expected) in EXPANSIONS {
            assert_eq!(expand(expression).unwrap(), names(expected), "{expression}");
        }
    }

    #[test]
    fn rejects_malformed_expressions() {
        for bad in [
            "n[1-2",
            "n1-2]",
            "n[[1]]",
            "n[]",
            "n[a-b]",
            "n[3-1]",
            "n[1,,2]",
            "n[1-]",
            "n[-1]",
            "n[1 2]",
            "n[1234567890123456789]",
        ] {
            let error = expand(bad).unwrap_err();
            assert_eq!(error.expression, bad);
            assert!(error.to_string().starts_with("invalid hostlist expression"));
        }
    }

    #[test]
    fn bounds_the_expansion() {
        assert!(expand("n[1-65536]").is_ok());
        let error = expand("n[1-65537]").unwrap_err();
        assert!(error.reason.contains("more than 65536"));
        assert!(expand("n[1-99999999999999999]").is_err());
        assert!(expand("a[1-300]b[1-300]").is_err());
        assert!(expand("n[1-65536],m").is_err());
    }

    /// (names, expression) pairs as Slurm prints them.
    const COMPRESSIONS: &[(&[&str], &str)] = &[
        (&[], ""),
        (&["vm"], "vm"),
        (
            &["node001", "node002", "node003", "node010"],
            "node[001-003,010]",
        ),
        (&["n1", "n2"], "n[1-2]"),
        (&["n8", "n9", "n10"], "n[8-10]"),
        (&["n08", "n09", "n10"], "n[08-10]"),
        (&["n9", "n10", "n011"], "n[9-10,011]"),
        (&["n1", "n3", "n5"], "n[1,3,5]"),
        (&["n2", "n1"], "n[2,1]"),
        (&["n1", "m1", "n2"], "n1,m1,n2"),
        (&["gpu1-ib", "gpu2-ib"], "gpu1-ib,gpu2-ib"),
        (&["n5"], "n5"),
        (&["1", "2"], "[1-2]"),
        (&["n1", "n1"], "n[1,1]"),
    ];

    #[test]
    fn compresses_names() {
        for (list, expected) in COMPRESSIONS {
            assert_eq!(compress(&names(list)), *expected, "{list:?}");
        }
    }

    #[test]
    fn sorted_compression_orders_and_deduplicates() {
        let list = names(&["n3", "n1", "n2", "n1", "a10", "a9"]);
        assert_eq!(compress_sorted(&list), "a[9-10],n[1-3]");
    }

    #[test]
    fn hostlist_displays_compressed() {
        let hostlist = Hostlist::parse("n[1-3],n4").unwrap();
        assert_eq!(hostlist.names().len(), 4);
        assert_eq!(hostlist.to_string(), "n[1-4]");
    }

    fn expression_strategy() -> impl Strategy<Value = String> {
        let range = (0u64..200, 0u64..20, 1usize..4).prop_map(|(lo, span, width)| {
            let hi = lo + span;
            if span == 0 {
                format!("{lo:0width$}")
            } else {
                format!("{lo:0width$}-{hi:0width$}")
            }
        });
        let item = (
            "[a-z]{1,4}",
            prop::collection::vec(range, 0..4),
            "(-[a-z]{1,2})?",
        )
            .prop_map(|(prefix, ranges, suffix)| {
                if ranges.is_empty() {
                    prefix
                } else {
                    format!("{prefix}[{}]{suffix}", ranges.join(","))
                }
            });
        prop::collection::vec(item, 0..4).prop_map(|items| items.join(","))
    }

    proptest! {
        #[test]
        fn compress_then_expand_round_trips(expression in expression_strategy()) {
            let expanded = expand(&expression).unwrap();
            let compressed = compress(&expanded);
            prop_assert_eq!(expand(&compressed).unwrap(), expanded.clone());
            // A canonical expression is a fixed point.
            prop_assert_eq!(compress(&expand(&compressed).unwrap()), compressed);
        }

        #[test]
        fn any_text_expands_or_errors(text in "\\PC{0,40}") {
            let _ = expand(&text);
        }

        #[test]
        fn any_names_compress_and_expand_back(list in prop::collection::vec("[a-z]{0,3}[0-9]{0,4}", 0..8)) {
            let list: Vec<String> = list.into_iter().filter(|n| !n.is_empty()).collect();
            let compressed = compress(&list);
            prop_assert_eq!(expand(&compressed).unwrap(), list);
        }
    }
}
