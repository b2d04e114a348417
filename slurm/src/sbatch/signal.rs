//! `--signal=[{R|B}:]SIG[@TIME]`, read as Slurm's `get_signal_opts` and
//! `sig_name2num` (`src/common/proc_args.c`) read it.

use corral_state::JobSignal;

use crate::c_number::{is_c_space, strtol};

/// Seconds before the time limit when no `@TIME` is given.
pub const SIGNAL_LEAD_DEFAULT_SECONDS: u16 = 60;

/// The names `sig_name2num` knows (after an optional `SIG`), with Linux's
/// numbers.
const SIGNAL_NAMES: &[(&str, u16)] = &[
    ("HUP", 1),
    ("INT", 2),
    ("QUIT", 3),
    ("ABRT", 6),
    ("KILL", 9),
    ("ALRM", 14),
    ("TERM", 15),
    ("USR1", 10),
    ("USR2", 12),
    ("URG", 23),
    ("CONT", 18),
    ("STOP", 19),
    ("TSTP", 20),
    ("TTIN", 21),
    ("TTOU", 22),
];

/// A `--signal` value Slurm refuses (`Invalid --signal specification`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InvalidSignal;

/// Parses a `--signal` value. As in Slurm, `R` and `B` may come in either
/// order and the colon after them is optional (`B:USR1`, `BUSR1`, `RB:10`).
pub fn parse_signal(text: &str) -> Result<JobSignal, InvalidSignal> {
    let mut rest = text;
    let mut reservation = false;
    let mut batch_only = false;
    let take = |rest: &mut &str, letter: char| -> bool {
        let found = rest
            .chars()
            .next()
            .is_some_and(|c| c.eq_ignore_ascii_case(&letter));
        if found {
            *rest = &rest[1..];
        }
        found
    };
    reservation |= take(&mut rest, 'R');
    batch_only |= take(&mut rest, 'B');
    reservation |= take(&mut rest, 'R');
    rest = rest.strip_prefix(':').unwrap_or(rest);
    let (name, time) = match rest.split_once('@') {
        Some((name, time)) => (name, Some(time)),
        None => (rest, None),
    };
    // Slurm keeps the low 16 bits of the number: `-1` reads as 65535.
    let number = signal_number(name) as u16;
    if number == 0 {
        return Err(InvalidSignal);
    }
    let seconds_before_limit = match time {
        None => SIGNAL_LEAD_DEFAULT_SECONDS,
        Some(time) => {
            let parsed = strtol(time);
            if !parsed.rest.is_empty() || !(0..=i64::from(u16::MAX)).contains(&parsed.value) {
                return Err(InvalidSignal);
            }
            parsed.value as u16
        }
    };
    Ok(JobSignal {
        number,
        seconds_before_limit,
        batch_only,
        reservation,
    })
}

/// `sig_name2num`: a number (with only blanks after it), or a name with
/// an optional `SIG` prefix in any case; 0 when it is neither.
fn signal_number(text: &str) -> i64 {
    let parsed = strtol(text);
    if parsed.rest.len() != text.len() {
        return if parsed.rest.chars().all(is_c_space) {
            parsed.value
        } else {
            0
        };
    }
    let name = text.trim_start_matches(is_c_space);
    let name = match name.get(..3) {
        Some(prefix) if prefix.eq_ignore_ascii_case("SIG") => &name[3..],
        _ => name,
    };
    SIGNAL_NAMES
        .iter()
        .find(|(known, _)| {
            name.get(..known.len())
                .is_some_and(|head| head.eq_ignore_ascii_case(known))
                && name[known.len()..].chars().all(is_c_space)
        })
        .map_or(0, |(_, number)| i64::from(*number))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signal(number: u16, seconds: u16, batch_only: bool, reservation: bool) -> JobSignal {
        JobSignal {
            number,
            seconds_before_limit: seconds,
            batch_only,
            reservation,
        }
    }

    #[test]
    fn values_read_as_slurm_reads_them() {
        let cases: &[(&str, JobSignal)] = &[
            ("USR1", signal(10, 60, false, false)),
            ("SIGUSR2@30", signal(12, 30, false, false)),
            ("sigterm@0", signal(15, 0, false, false)),
            ("10@65535", signal(10, 65_535, false, false)),
            ("B:USR1@90", signal(10, 90, true, false)),
            ("b:10", signal(10, 60, true, false)),
            ("R:HUP", signal(1, 60, false, true)),
            ("RB:INT", signal(2, 60, true, true)),
            ("BR:INT", signal(2, 60, true, true)),
            ("BUSR1", signal(10, 60, true, false)),
            (" TERM", signal(15, 60, false, false)),
            ("KILL ", signal(9, 60, false, false)),
            ("-1", signal(65_535, 60, false, false)),
            ("64", signal(64, 60, false, false)),
            // strtol reads nothing after the '@' as 0, and nothing is left.
            ("USR1@", signal(10, 0, false, false)),
        ];
        for (text, expected) in cases {
            assert_eq!(parse_signal(text), Ok(*expected), "{text}");
        }
    }

    #[test]
    fn malformed_values_are_refused() {
        for text in [
            "",
            "0",
            "USR3",
            "USR1x",
            "10x",
            "@60",
            "USR1@-1",
            "USR1@65536",
            "USR1@6x",
            "B:",
            "R:B:USR1",
            "65536",
        ] {
            assert_eq!(parse_signal(text), Err(InvalidSignal), "{text:?}");
        }
    }
}
