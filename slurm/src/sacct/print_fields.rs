//! Slurm's `src/common/print_fields.c`: the column printer `sacct`,
//! `sacctmgr` and `sreport` share.
//!
//! A column has a name and a width; a negative width aligns left. In the
//! fixed layout every value is followed by one space, text longer than the
//! width is cut and ends in `+` (`CANCELLED+`), numbers are never cut, and
//! an absent value prints as blanks. With `-p` every value ends in the
//! delimiter (`|` unless `--delimiter`); with `-P` all but the last do.

/// `-p` / `-P` / neither.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Parsable {
    #[default]
    No,
    /// `-p`: a delimiter after every value, the last one too.
    Ending,
    /// `-P`: a delimiter between values.
    NoEnding,
}

/// How columns are printed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PrintStyle {
    pub parsable: Parsable,
    /// `--delimiter` (only used with `-p`/`-P`).
    pub delimiter: Option<String>,
    /// `-n` clears it.
    pub header: bool,
}

impl Default for PrintStyle {
    fn default() -> Self {
        PrintStyle {
            parsable: Parsable::No,
            delimiter: None,
            header: true,
        }
    }
}

/// One value to print.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Cell {
    /// `print_fields_str`: cut to the width with a `+`; `None` is blank.
    Text(Option<String>),
    /// `print_fields_uint*`: never cut; `None` (`NO_VAL`) is blank.
    Number(Option<u64>),
    /// `print_fields_date`, already formatted: cut to the width even when
    /// parsable (Slurm formats it into a buffer of the column's width).
    Date(String),
    /// `sreport`'s `slurmdb_report_print_time`, already formatted: cut
    /// without a `+`; `None` is blank.
    Clipped(Option<String>),
}

impl Cell {
    pub fn text(value: impl Into<String>) -> Cell {
        Cell::Text(Some(value.into()))
    }
}

fn width_of(width: i32) -> usize {
    usize::try_from(width.unsigned_abs()).unwrap_or(usize::MAX)
}

fn pad(text: &str, width: i32) -> String {
    let abs = width_of(width);
    if width < 0 {
        format!("{text:<abs$} ")
    } else {
        format!("{text:>abs$} ")
    }
}

fn cut(text: &str, width: usize) -> String {
    text.chars().take(width).collect()
}

impl PrintStyle {
    fn delimiter(&self) -> &str {
        self.delimiter.as_deref().unwrap_or("|")
    }

    /// A parsable value: itself, then the delimiter unless `-P` and last.
    fn parsable_value(&self, value: &str, last: bool) -> String {
        if self.parsable == Parsable::NoEnding && last {
            value.to_string()
        } else {
            format!("{value}{}", self.delimiter())
        }
    }

    /// One value of a row.
    pub fn cell(&self, cell: &Cell, width: i32, last: bool) -> String {
        let abs = width_of(width);
        let parsable = self.parsable != Parsable::No;
        match cell {
            Cell::Text(value) if parsable => {
                self.parsable_value(value.as_deref().unwrap_or(""), last)
            }
            Cell::Text(None) => pad(" ", width),
            Cell::Text(Some(value)) => {
                let shown = if value.chars().count() > abs && abs > 0 {
                    format!("{}+", cut(value, abs - 1))
                } else {
                    cut(value, abs)
                };
                pad(&shown, width)
            }
            Cell::Number(value) if parsable => {
                let text = value.map(|v| v.to_string()).unwrap_or_default();
                self.parsable_value(&text, last)
            }
            Cell::Number(None) => pad(" ", width),
            Cell::Number(Some(value)) => pad(&value.to_string(), width),
            Cell::Date(text) => {
                let shown = cut(text, abs);
                if parsable {
                    self.parsable_value(&shown, last)
                } else {
                    pad(&shown, width)
                }
            }
            Cell::Clipped(value) if parsable => {
                self.parsable_value(value.as_deref().unwrap_or(""), last)
            }
            Cell::Clipped(None) => format!("{:<abs$} ", " "),
            Cell::Clipped(Some(value)) => pad(&cut(value, abs), width),
        }
    }

    /// A whole row, with its newline.
    pub fn row(&self, cells: &[(Cell, i32)]) -> String {
        let mut line: String = cells
            .iter()
            .enumerate()
            .map(|(index, (cell, width))| self.cell(cell, *width, index + 1 == cells.len()))
            .collect();
        line.push('\n');
        line
    }

    /// `print_fields_header`: the names, and in the fixed layout a line of
    /// dashes; nothing with `-n`.
    pub fn header(&self, columns: &[(&str, i32)]) -> String {
        if !self.header {
            return String::new();
        }
        let mut out = String::new();
        for (index, (name, width)) in columns.iter().enumerate() {
            let last = index + 1 == columns.len();
            if self.parsable != Parsable::No {
                out.push_str(&self.parsable_value(name, last));
            } else {
                out.push_str(&pad(&cut(name, width_of(*width)), *width));
            }
        }
        out.push('\n');
        if self.parsable != Parsable::No {
            return out;
        }
        for (_, width) in columns {
            out.push_str(&"-".repeat(width_of(*width)));
            out.push(' ');
        }
        out.push('\n');
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixed() -> PrintStyle {
        PrintStyle::default()
    }

    #[test]
    fn fixed_layout_cuts_text_with_a_plus_and_never_numbers() {
        let style = fixed();
        assert_eq!(
            style.cell(&Cell::text("CANCELLED by 0"), 10, false),
            "CANCELLED+ "
        );
        assert_eq!(
            style.cell(&Cell::text("6.batch"), -12, false),
            "6.batch      "
        );
        assert_eq!(style.cell(&Cell::Text(None), 10, false), "           ");
        assert_eq!(style.cell(&Cell::Number(Some(123456)), 3, false), "123456 ");
        assert_eq!(style.cell(&Cell::Number(None), -4, false), "     ");
        assert_eq!(style.cell(&Cell::text("abc"), 0, false), " ");
        assert_eq!(
            style.cell(&Cell::Date("2026-11-22T00:54:43".into()), 10, false),
            "2026-11-22 "
        );
    }

    #[test]
    fn parsable_layouts_end_or_not_in_the_delimiter() {
        let mut style = fixed();
        style.parsable = Parsable::NoEnding;
        let row = style.row(&[(Cell::text("6"), -12), (Cell::Text(None), 10)]);
        assert_eq!(row, "6|\n");
        style.parsable = Parsable::Ending;
        style.delimiter = Some(",".into());
        assert_eq!(style.row(&[(Cell::text("6"), -12)]), "6,\n");
        assert_eq!(
            style.header(&[("JobID", -12), ("State", 10)]),
            "JobID,State,\n"
        );
    }

    #[test]
    fn header_has_names_cut_without_plus_and_dashes() {
        let style = fixed();
        assert_eq!(
            style.header(&[("JobID", -12), ("DerivedExitCode", 5)]),
            "JobID        Deriv \n------------ ----- \n"
        );
        let quiet = PrintStyle {
            header: false,
            ..fixed()
        };
        assert_eq!(quiet.header(&[("JobID", -12)]), "");
    }
}
