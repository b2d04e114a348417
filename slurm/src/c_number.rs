//! The C library's number parsing, which Slurm's option values go through;
//! emulated so that `-c " 4"`, `-c 4x` and overflow behave as in Slurm.

/// The result of C's `strtol`/`strtoll` on a string.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Strtol<'a> {
    /// The value, clamped to the `i64` range on overflow (`errno == ERANGE`).
    pub value: i64,
    /// What follows the number (`endptr`); the whole input when no digits.
    pub rest: &'a str,
    pub overflowed: bool,
}

/// C's `isspace` in the "C" locale.
pub(crate) fn is_c_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\u{0b}' | '\u{0c}' | '\r')
}

/// `strtol(text, &end, 10)` on a 64-bit `long`.
pub(crate) fn strtol(text: &str) -> Strtol<'_> {
    let unsigned = text.trim_start_matches(is_c_space);
    let (negative, digits_start) = match unsigned.as_bytes().first() {
        Some(b'-') => (true, &unsigned[1..]),
        Some(b'+') => (false, &unsigned[1..]),
        _ => (false, unsigned),
    };
    let digits_len = digits_start.bytes().take_while(u8::is_ascii_digit).count();
    if digits_len == 0 {
        return Strtol {
            value: 0,
            rest: text,
            overflowed: false,
        };
    }
    let mut magnitude: i128 = 0;
    let mut overflowed = false;
    for b in digits_start[..digits_len].bytes() {
        magnitude = magnitude * 10 + i128::from(b - b'0');
        if magnitude > i128::from(i64::MAX) + 1 {
            overflowed = true;
            magnitude = i128::from(i64::MAX) + 1;
        }
    }
    let signed = if negative { -magnitude } else { magnitude };
    let value = match i64::try_from(signed) {
        Ok(value) => value,
        Err(_) => {
            overflowed = true;
            if negative {
                i64::MIN
            } else {
                i64::MAX
            }
        }
    };
    Strtol {
        value,
        rest: &digits_start[digits_len..],
        overflowed,
    }
}

/// Slurm's `parse_int(name, value, positive)` (`proc_args.c`): a whole
/// decimal `int`, or the message it prints before `exit(1)`.
pub(crate) fn parse_int(name: &str, text: &str, positive: bool) -> Result<i32, String> {
    let parsed = strtol(text);
    if !parsed.rest.is_empty() || parsed.value < 0 || (positive && parsed.value <= 0) {
        return Err(format!("Invalid numeric value \"{text}\" for {name}."));
    }
    i32::try_from(parsed.value)
        .map_err(|_| format!("Numeric argument ({}) to big for {name}.", parsed.value))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strtol_matches_c() {
        let cases: &[(&str, i64, &str, bool)] = &[
            ("42", 42, "", false),
            ("  -7x", -7, "x", false),
            ("+3", 3, "", false),
            ("abc", 0, "abc", false),
            ("", 0, "", false),
            ("-", 0, "-", false),
            (" +", 0, " +", false),
            ("99999999999999999999", i64::MAX, "", true),
            ("-99999999999999999999", i64::MIN, "", true),
            ("-9223372036854775808", i64::MIN, "", false),
        ];
        for (text, value, rest, overflowed) in cases {
            let parsed = strtol(text);
            assert_eq!(
                (parsed.value, parsed.rest, parsed.overflowed),
                (*value, *rest, *overflowed),
                "{text:?}"
            );
        }
    }

    #[test]
    fn parse_int_messages() {
        assert_eq!(parse_int("--ntasks", "4", true), Ok(4));
        assert_eq!(parse_int("--ntasks", " 4", true), Ok(4));
        assert_eq!(parse_int("--nice", "0", false), Ok(0));
        let invalid = |v: &str| format!("Invalid numeric value \"{v}\" for --ntasks.");
        for bad in ["0", "-1", "4x", "", "abc", "4 "] {
            assert_eq!(
                parse_int("--ntasks", bad, true),
                Err(invalid(bad)),
                "{bad:?}"
            );
        }
        assert_eq!(
            parse_int("--ntasks", "3000000000", true),
            Err("Numeric argument (3000000000) to big for --ntasks.".to_string())
        );
    }
}
