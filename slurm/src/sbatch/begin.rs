//! `-b/--begin`: Slurm's `parse_time` (`src/common/parse_time.c`, in
//! [`crate::sacct::parse_time`], which `sacct -S/-E` use too) in its
//! future mode: sbatch knows `now`, so it resolves the expression to an
//! absolute time before it submits; the controller only compares.
//!
//! The forms, any case, combinable the way Slurm's loop combines them
//! (`tomorrow 10:00`, `2026-12-01T08:00`):
//!
//! - `today`, `tomorrow`; `midnight`, `noon`, `fika` (15:00), `teatime`
//!   (16:00) (22.05 has no `elevenses`: checked against its sacct);
//! - `HH:MM[:SS] [AM|PM]`: the next such time (today, else tomorrow);
//! - `MMDD[YY]`, `MM/DD[/YY]`, `MM.DD[.YY]`, `YYYY-MM-DD`, each optionally
//!   followed by `-HH:MM[:SS]` or `THH:MM[:SS]`: a date alone means 00:00;
//!   a date without a year is the next one to come;
//! - `now[{+|-}COUNT[seconds|minutes|hours|days|weeks]]` (seconds by default);
//! - `utsNNNN`: seconds since the epoch.
//!
//! Calendar arithmetic uses the caller's fixed UTC offset, as the other
//! timestamps of this crate do (a daylight-saving change between now and
//! the time asked for is not applied).

use crate::sacct::parse_time;

const MILLISECONDS_PER_SECOND: i64 = 1_000;

/// What sbatch knows of the time: now, and the local UTC offset.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Clock {
    pub now_ms: u64,
    pub utc_offset_seconds: i32,
}

/// Why `parse_time` gave 0.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TimeError {
    /// Slurm prints `Invalid time specification (pos=N): TEXT` first.
    Invalid { pos: i64 },
    /// The expression names no date and no time (empty, blanks, dashes).
    Nothing,
}

impl TimeError {
    /// The line `parse_time` writes to stderr (without Slurm's prefix), if any.
    pub fn diagnostic(&self, text: &str) -> Option<String> {
        match self {
            TimeError::Invalid { pos } => {
                Some(format!("Invalid time specification (pos={pos}): {text}"))
            }
            TimeError::Nothing => None,
        }
    }
}

/// The time `text` names, in milliseconds since the epoch (times before
/// 1970 are 0: they have passed).
pub fn parse_begin(text: &str, clock: Clock) -> Result<u64, TimeError> {
    let now_seconds = i64::try_from(clock.now_ms / 1_000).unwrap_or(i64::MAX);
    let seconds = match parse_time(text, false, now_seconds, clock.utc_offset_seconds) {
        Ok(Some(seconds)) => seconds,
        Ok(None) => return Err(TimeError::Nothing),
        Err(invalid) => {
            return Err(TimeError::Invalid {
                pos: invalid.position,
            })
        }
    };
    let milliseconds = seconds.saturating_mul(MILLISECONDS_PER_SECOND).max(0);
    Ok(u64::try_from(milliseconds).unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2026-11-22T00:03:35 UTC, a Sunday (the references' clock).
    const NOW_MS: u64 = 1_795_305_815_000;

    fn at(utc_offset_seconds: i32) -> Clock {
        Clock {
            now_ms: NOW_MS,
            utc_offset_seconds,
        }
    }

    /// `--begin` in seconds, as the tests compare it.
    fn seconds(text: &str, clock: Clock) -> Result<i64, TimeError> {
        parse_begin(text, clock).map(|ms| (ms / 1_000) as i64)
    }

    /// Seconds since the epoch of a UTC calendar time.
    fn utc(year: i64, month: i64, mday: i64, hour: i64, minute: i64, second: i64) -> i64 {
        let y = if month <= 2 { year - 1 } else { year };
        let era = y.div_euclid(400);
        let yoe = y.rem_euclid(400);
        let doy = (153 * (if month > 2 { month - 3 } else { month + 9 }) + 2) / 5 + mday - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        let days = era * 146_097 + doe - 719_468;
        days * 86_400 + hour * 3_600 + minute * 60 + second
    }

    #[test]
    fn forms_resolve_as_slurm_resolves_them() {
        let cases: &[(&str, i64)] = &[
            ("now", utc(2026, 11, 22, 0, 3, 35)),
            ("now+3", utc(2026, 11, 22, 0, 3, 38)),
            ("NOW+ 2 minutes", utc(2026, 11, 22, 0, 5, 35)),
            ("now+1hour", utc(2026, 11, 22, 1, 3, 35)),
            ("now+2days", utc(2026, 11, 24, 0, 3, 35)),
            ("now+1week", utc(2026, 11, 29, 0, 3, 35)),
            ("now-60", utc(2026, 11, 22, 0, 2, 35)),
            ("16:00", utc(2026, 11, 22, 16, 0, 0)),
            ("00:03", utc(2026, 11, 23, 0, 3, 0)),
            ("00:04:10", utc(2026, 11, 22, 0, 4, 10)),
            ("4:30pm", utc(2026, 11, 22, 16, 30, 0)),
            ("12:00 AM", utc(2026, 11, 23, 0, 0, 0)),
            ("12:00pm", utc(2026, 11, 22, 12, 0, 0)),
            ("today", utc(2026, 11, 22, 0, 0, 0)),
            ("tomorrow", utc(2026, 11, 23, 0, 0, 0)),
            ("midnight", utc(2026, 11, 23, 0, 0, 0)),
            ("noon", utc(2026, 11, 22, 12, 0, 0)),
            ("fika", utc(2026, 11, 22, 15, 0, 0)),
            ("teatime", utc(2026, 11, 22, 16, 0, 0)),
            ("tomorrow noon", utc(2026, 11, 23, 12, 0, 0)),
            ("today 00:00", utc(2026, 11, 22, 0, 0, 0)),
            ("2026-12-01", utc(2026, 12, 1, 0, 0, 0)),
            ("2026-12-01T08:30", utc(2026, 12, 1, 8, 30, 0)),
            ("2027-01-05T08:30:15", utc(2027, 1, 5, 8, 30, 15)),
            ("2025-01-05", utc(2025, 1, 5, 0, 0, 0)),
            ("1225", utc(2026, 12, 25, 0, 0, 0)),
            ("12/25", utc(2026, 12, 25, 0, 0, 0)),
            ("01.02", utc(2027, 1, 2, 0, 0, 0)),
            ("12/25/27", utc(2027, 12, 25, 0, 0, 0)),
            ("122527", utc(2027, 12, 25, 0, 0, 0)),
            ("12/25-10:00", utc(2026, 12, 25, 10, 0, 0)),
            ("11/22", utc(2027, 11, 22, 0, 0, 0)),
            ("02/31/27", utc(2027, 3, 3, 0, 0, 0)),
            ("uts1800000000", 1_800_000_000),
        ];
        for (text, expected) in cases {
            assert_eq!(seconds(text, at(0)), Ok(*expected), "{text}");
        }
    }

    #[test]
    fn local_times_use_the_offset() {
        // 00:03:35 UTC is 01:03:35 at UTC+1: 16:00 local is 15:00 UTC.
        assert_eq!(seconds("16:00", at(3_600)), Ok(utc(2026, 11, 22, 15, 0, 0)));
        // At UTC-1 it is still the 21st: "today" is the 21st, local midnight.
        assert_eq!(seconds("today", at(-3_600)), Ok(utc(2026, 11, 21, 1, 0, 0)));
    }

    #[test]
    fn mistakes_report_where_slurm_reports_them() {
        let cases: &[(&str, TimeError)] = &[
            ("abc", TimeError::Invalid { pos: 0 }),
            ("now+", TimeError::Invalid { pos: 3 }),
            ("now+3x", TimeError::Invalid { pos: 4 }),
            ("now+3h", TimeError::Invalid { pos: 4 }),
            ("nowx", TimeError::Invalid { pos: 3 }),
            ("25:00", TimeError::Invalid { pos: 0 }),
            ("12:60", TimeError::Invalid { pos: 3 }),
            ("1:2", TimeError::Invalid { pos: 3 }),
            ("13:00pm", TimeError::Invalid { pos: 5 }),
            ("13/01", TimeError::Invalid { pos: 0 }),
            ("12/32", TimeError::Invalid { pos: 3 }),
            ("2026-13-01", TimeError::Invalid { pos: 5 }),
            ("12/25/2", TimeError::Invalid { pos: 7 }),
            ("uts12", TimeError::Invalid { pos: 0 }),
            ("uts", TimeError::Invalid { pos: 0 }),
            ("uts1800000000x", TimeError::Invalid { pos: 0 }),
            ("", TimeError::Nothing),
            ("  -T", TimeError::Nothing),
        ];
        for (text, expected) in cases {
            assert_eq!(seconds(text, at(0)), Err(expected.clone()), "{text}");
        }
        assert_eq!(
            TimeError::Invalid { pos: 3 }.diagnostic("now+").as_deref(),
            Some("Invalid time specification (pos=3): now+")
        );
        assert_eq!(TimeError::Nothing.diagnostic(""), None);
    }

    #[test]
    fn huge_counts_never_panic() {
        // Slurm 22.05 takes them (its sacct resolves them to a far year);
        // whatever they give, they give it without a panic.
        let _ = seconds("now+99999999999999999999", at(0));
        let _ = seconds("now+9999999999999999weeks", at(0));
        assert_eq!(parse_begin("1969-12-31", at(0)), Ok(0));
    }
}
