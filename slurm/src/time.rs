//! Slurm's durations and timestamps (`src/common/parse_time.c`,
//! `squeue/print.c`).
//!
//! Parsing follows `time_str2secs`/`time_str2mins`: `MM`, `MM:SS`,
//! `HH:MM:SS`, `D-HH`, `D-HH:MM`, `D-HH:MM:SS`, and `-1`/`INFINITE`/
//! `UNLIMITED` (any case); seconds round up to whole minutes (`0:30` is one
//! minute). `0` parses to zero minutes: `sbatch`, like Slurm, then reads a
//! zero limit as unlimited (see [`TimeLimit::from_option_minutes`]).
//!
//! Formatting comes in the three shapes Slurm prints:
//! [`squeue_duration`] (`0:00`, `1:05`, `1:00:00`, `1-02:03:04`),
//! [`clock_duration`] (`00:00:01`, `1-00:00:00`, scontrol's `RunTime`), and
//! [`limit_minutes_text`] (scontrol's `TimeLimit`). Timestamps print as
//! `2026-11-22T00:03:35` in the caller's UTC offset; `0`/unset prints as
//! `Unknown`, as `slurm_make_time_str` does.

use std::fmt;

const SECONDS_PER_MINUTE: i64 = 60;
const SECONDS_PER_HOUR: i64 = 3_600;
const SECONDS_PER_DAY: i64 = 86_400;
const MILLISECONDS_PER_SECOND: i64 = 1_000;
/// squeue prints `INVALID` for durations longer than this (one year).
const SQUEUE_DURATION_MAX_SECONDS: i64 = 365 * SECONDS_PER_DAY;
/// The largest duration Slurm's `int` arithmetic holds; longer is invalid.
const DURATION_MAX_SECONDS: i64 = i32::MAX as i64 - 2;
/// Cap on one field of a duration before range checking (no overflow).
const FIELD_MAX: i64 = 1_000_000_000_000;

/// A job time limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimeLimit {
    Unlimited,
    Minutes(u32),
}

impl TimeLimit {
    /// Slurm's `--time`/`--time-min` rule: a zero limit means unlimited.
    pub fn from_option_minutes(limit: TimeLimit) -> TimeLimit {
        match limit {
            TimeLimit::Minutes(0) => TimeLimit::Unlimited,
            other => other,
        }
    }

    /// `None` for unlimited, as [`corral_state::JobSpec`] stores it.
    pub fn minutes(self) -> Option<u32> {
        match self {
            TimeLimit::Unlimited => None,
            TimeLimit::Minutes(minutes) => Some(minutes),
        }
    }
}

/// A duration Slurm's `time_str2secs` rejects.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InvalidDuration {
    pub text: String,
}

impl fmt::Display for InvalidDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid time specification \"{}\"", self.text)
    }
}

impl std::error::Error for InvalidDuration {}

/// A duration in seconds, or unlimited (`time_str2secs`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Duration {
    Unlimited,
    Seconds(u32),
}

/// Parses a duration as Slurm's `time_str2secs` does.
pub fn parse_duration(text: &str) -> Result<Duration, InvalidDuration> {
    let invalid = || InvalidDuration {
        text: text.to_string(),
    };
    if ["-1", "INFINITE", "UNLIMITED"]
        .iter()
        .any(|word| text.eq_ignore_ascii_case(word))
    {
        return Ok(Duration::Unlimited);
    }
    // C's `%d` would read a leading minus as a negative day or minute count;
    // Slurm then computes a negative limit. Reject that instead.
    if text.starts_with('-') || !is_valid_timespec(text) {
        return Err(invalid());
    }
    let seconds = if let Some((days, clock)) = text.split_once('-') {
        // days-[hours[:minutes[:seconds]]]; sscanf stops at the first gap.
        let fields = scan_fields(days, clock);
        let [d, h, m, s] = [fields[0], fields[1], fields[2], fields[3]];
        d * SECONDS_PER_DAY + h * SECONDS_PER_HOUR + m * SECONDS_PER_MINUTE + s
    } else {
        let fields = scan_fields("", text);
        match text.matches(':').count() {
            // hours:minutes:seconds
            2 => fields[1] * SECONDS_PER_HOUR + fields[2] * SECONDS_PER_MINUTE + fields[3],
            // minutes[:seconds]
            _ => fields[1] * SECONDS_PER_MINUTE + fields[2],
        }
    };
    match u32::try_from(seconds) {
        Ok(seconds) if i64::from(seconds) <= DURATION_MAX_SECONDS => Ok(Duration::Seconds(seconds)),
        _ => Err(invalid()),
    }
}

/// `[days, a, b, c]` where `a:b:c` are the colon fields read left to right
/// the way `sscanf("%d:%d:%d")` fills them (missing fields are zero).
fn scan_fields(days: &str, clock: &str) -> [i64; 4] {
    let mut fields = [0i64; 4];
    fields[0] = leading_number(days).unwrap_or(0);
    for (slot, part) in fields[1..].iter_mut().zip(clock.split(':')) {
        match leading_number(part) {
            Some(value) => *slot = value,
            None => break,
        }
    }
    fields
}

/// The digits a `%d` conversion reads (no sign: the timespec check allows none).
fn leading_number(text: &str) -> Option<i64> {
    let digits: &str = &text[..text.bytes().take_while(u8::is_ascii_digit).count()];
    if digits.is_empty() {
        return None;
    }
    // Larger numbers overflow Slurm's int; capped here, they are rejected by
    // the range check of the caller without overflowing ours.
    Some(digits.parse().unwrap_or(FIELD_MAX).min(FIELD_MAX))
}

/// Slurm's `_is_valid_timespec`: only digits, `-` and `:`, at most one dash
/// (before any colon) and two colons, with enough numbers for the shape.
fn is_valid_timespec(text: &str) -> bool {
    let (mut digit_groups, mut dashes, mut colons) = (0, 0, 0);
    let mut in_digits = false;
    for c in text.chars() {
        match c {
            '0'..='9' => {
                if !in_digits {
                    digit_groups += 1;
                    in_digits = true;
                }
            }
            '-' => {
                in_digits = false;
                dashes += 1;
                if colons > 0 {
                    return false;
                }
            }
            ':' => {
                in_digits = false;
                colons += 1;
            }
            _ => return false,
        }
    }
    if digit_groups == 0 || dashes > 1 || colons > 2 {
        return false;
    }
    let groups_needed = match (dashes, colons) {
        (1, 1) => 3,
        (1, 2) => 4,
        (0, 1) => 2,
        (0, 2) => 3,
        _ => 0,
    };
    digit_groups >= groups_needed
}

/// Parses a time limit into minutes (`time_str2mins`), seconds rounded up.
pub fn parse_time_limit(text: &str) -> Result<TimeLimit, InvalidDuration> {
    Ok(match parse_duration(text)? {
        Duration::Unlimited => TimeLimit::Unlimited,
        Duration::Seconds(seconds) => TimeLimit::Minutes(seconds.div_ceil(60)),
    })
}

/// squeue's `TIME`/`TIME_LIMIT`/`TIME_LEFT` shape (`_print_secs`):
/// `M:SS`, `H:MM:SS`, `D-HH:MM:SS`; `INVALID` below zero or above a year.
pub fn squeue_duration(seconds: i64) -> String {
    if !(0..=SQUEUE_DURATION_MAX_SECONDS).contains(&seconds) {
        return "INVALID".to_string();
    }
    let (days, hours, minutes, secs) = split_seconds(seconds);
    if days > 0 {
        format!("{days}-{hours:02}:{minutes:02}:{secs:02}")
    } else if hours > 0 {
        format!("{hours}:{minutes:02}:{secs:02}")
    } else {
        format!("{minutes}:{secs:02}")
    }
}

/// squeue's time-limit column: `UNLIMITED` or [`squeue_duration`].
pub fn squeue_time_limit(limit: TimeLimit) -> String {
    match limit {
        TimeLimit::Unlimited => "UNLIMITED".to_string(),
        TimeLimit::Minutes(minutes) => squeue_duration(i64::from(minutes) * SECONDS_PER_MINUTE),
    }
}

/// `secs2time_str`: `HH:MM:SS` or `D-HH:MM:SS` (scontrol's `RunTime`).
pub fn clock_duration(seconds: i64) -> String {
    if seconds < 0 {
        return "INVALID".to_string();
    }
    let (days, hours, minutes, secs) = split_seconds(seconds);
    if days > 0 {
        format!("{days}-{hours:02}:{minutes:02}:{secs:02}")
    } else {
        format!("{hours:02}:{minutes:02}:{secs:02}")
    }
}

/// `mins2time_str`: `UNLIMITED`, `00:30:00`, `365-00:00:00` (scontrol's
/// `TimeLimit`).
pub fn limit_minutes_text(limit: TimeLimit) -> String {
    match limit {
        TimeLimit::Unlimited => "UNLIMITED".to_string(),
        TimeLimit::Minutes(minutes) => clock_duration(i64::from(minutes) * SECONDS_PER_MINUTE),
    }
}

fn split_seconds(seconds: i64) -> (i64, i64, i64, i64) {
    (
        seconds / SECONDS_PER_DAY,
        seconds / SECONDS_PER_HOUR % 24,
        seconds / SECONDS_PER_MINUTE % 60,
        seconds % 60,
    )
}

/// A calendar time in some UTC offset.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct CivilTime {
    year: i64,
    month: u32,
    day: u32,
    hour: i64,
    minute: i64,
    second: i64,
    /// 0 is Sunday.
    weekday: usize,
}

fn civil_time(unix_ms: u64, utc_offset_seconds: i32) -> CivilTime {
    let local =
        i64::try_from(unix_ms / 1_000).unwrap_or(i64::MAX / 2) + i64::from(utc_offset_seconds);
    let days = local.div_euclid(SECONDS_PER_DAY);
    let of_day = local.rem_euclid(SECONDS_PER_DAY);
    let (year, month, day) = civil_from_days(days);
    CivilTime {
        year,
        month,
        day,
        hour: of_day / SECONDS_PER_HOUR,
        minute: of_day / SECONDS_PER_MINUTE % 60,
        second: of_day % 60,
        // 1970-01-01 was a Thursday.
        weekday: usize::try_from((days + 4).rem_euclid(7)).unwrap_or(0),
    }
}

/// Howard Hinnant's `civil_from_days`: proleptic Gregorian date of a day count.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = u32::try_from(doy - (153 * mp + 2) / 5 + 1).unwrap_or(1);
    let month = u32::try_from(if mp < 10 { mp + 3 } else { mp - 9 }).unwrap_or(1);
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// The timestamp of a calendar time given in a UTC offset (the inverse of
/// [`format_timestamp`]); times before 1970 clamp to 0.
pub fn unix_ms_from_civil(
    (year, month, day): (i64, u32, u32),
    (hour, minute, second): (i64, i64, i64),
    utc_offset_seconds: i32,
) -> u64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let seconds =
        days * SECONDS_PER_DAY + hour * SECONDS_PER_HOUR + minute * SECONDS_PER_MINUTE + second
            - i64::from(utc_offset_seconds);
    u64::try_from(seconds.saturating_mul(MILLISECONDS_PER_SECOND)).unwrap_or(0)
}

#[cfg(test)]
fn unix_ms(year: i64, month: u32, day: u32, hour: i64, minute: i64, second: i64) -> u64 {
    unix_ms_from_civil((year, month, day), (hour, minute, second), 0)
}

/// `%FT%T` of a timestamp in the given UTC offset: `2026-11-22T00:03:35`.
pub fn format_timestamp(unix_ms: u64, utc_offset_seconds: i32) -> String {
    let t = civil_time(unix_ms, utc_offset_seconds);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
        t.year, t.month, t.day, t.hour, t.minute, t.second
    )
}

/// `slurm_make_time_str`: `Unknown` for an unset (or zero) time, else
/// [`format_timestamp`].
pub fn slurm_time_text(unix_ms: Option<u64>, utc_offset_seconds: i32) -> String {
    match unix_ms {
        Some(ms) if ms >= MILLISECONDS_PER_SECOND as u64 => {
            format_timestamp(ms, utc_offset_seconds)
        }
        _ => "Unknown".to_string(),
    }
}

/// C's `ctime` without its newline: `Sun Nov 22 00:03:39 2026` (squeue -l).
pub fn ctime_text(unix_ms: u64, utc_offset_seconds: i32) -> String {
    const WEEKDAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let t = civil_time(unix_ms, utc_offset_seconds);
    let month = MONTHS[usize::try_from(t.month).unwrap_or(1).saturating_sub(1) % 12];
    format!(
        "{} {} {:2} {:02}:{:02}:{:02} {}",
        WEEKDAYS[t.weekday], month, t.day, t.hour, t.minute, t.second, t.year
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// (input, minutes; None = unlimited) that Slurm accepts.
    const LIMITS: &[(&str, Option<u32>)] = &[
        ("0", Some(0)),
        ("5", Some(5)),
        ("30:00", Some(30)),
        ("0:30", Some(1)),
        ("1:01", Some(2)),
        ("00:05:00", Some(5)),
        ("1:00:00", Some(60)),
        ("1:00:01", Some(61)),
        ("2-0", Some(2880)),
        ("1-2", Some(1560)),
        ("1-2:30", Some(1590)),
        ("1-02:30:01", Some(1591)),
        ("3-", Some(4320)),
        ("UNLIMITED", None),
        ("unlimited", None),
        ("Infinite", None),
        ("-1", None),
        ("90", Some(90)),
        ("120:00", Some(120)),
    ];

    #[test]
    fn parses_limits_as_time_str2mins() {
        for (text, minutes) in LIMITS {
            let expected = minutes.map_or(TimeLimit::Unlimited, TimeLimit::Minutes);
            assert_eq!(parse_time_limit(text), Ok(expected), "{text}");
        }
    }

    #[test]
    fn rejects_what_slurm_rejects() {
        for bad in [
            "",
            "abc",
            "1:2:3:4:5",
            "1:",
            ":5",
            "1::2",
            "1-2-3",
            "1:2-3",
            "1h",
            " 5",
            "-2",
            "1-2:",
            "1-:3",
            "99999999999",
            "5.5",
            "99999999999999999999999-1",
        ] {
            assert!(parse_time_limit(bad).is_err(), "{bad:?} should be invalid");
        }
    }

    #[test]
    fn zero_limit_is_unlimited_for_options() {
        assert_eq!(
            TimeLimit::from_option_minutes(TimeLimit::Minutes(0)),
            TimeLimit::Unlimited
        );
        assert_eq!(
            TimeLimit::from_option_minutes(TimeLimit::Minutes(5)),
            TimeLimit::Minutes(5)
        );
    }

    #[test]
    fn squeue_durations() {
        for (seconds, text) in [
            (0, "0:00"),
            (1, "0:01"),
            (65, "1:05"),
            (3_600, "1:00:00"),
            (93_784, "1-02:03:04"),
            (86_400, "1-00:00:00"),
            (365 * 86_400, "365-00:00:00"),
            (365 * 86_400 + 1, "INVALID"),
            (-1, "INVALID"),
        ] {
            assert_eq!(squeue_duration(seconds), text);
        }
        assert_eq!(squeue_time_limit(TimeLimit::Unlimited), "UNLIMITED");
        assert_eq!(squeue_time_limit(TimeLimit::Minutes(30)), "30:00");
        assert_eq!(squeue_time_limit(TimeLimit::Minutes(60)), "1:00:00");
        assert_eq!(squeue_time_limit(TimeLimit::Minutes(1440)), "1-00:00:00");
    }

    #[test]
    fn clock_durations() {
        assert_eq!(clock_duration(1), "00:00:01");
        assert_eq!(clock_duration(3_661), "01:01:01");
        assert_eq!(clock_duration(86_400), "1-00:00:00");
        assert_eq!(
            limit_minutes_text(TimeLimit::Minutes(365 * 1440)),
            "365-00:00:00"
        );
        assert_eq!(limit_minutes_text(TimeLimit::Minutes(30)), "00:30:00");
        assert_eq!(limit_minutes_text(TimeLimit::Unlimited), "UNLIMITED");
    }

    #[test]
    fn timestamps() {
        let ms = unix_ms(2026, 11, 22, 0, 3, 35);
        assert_eq!(format_timestamp(ms, 0), "2026-11-22T00:03:35");
        assert_eq!(format_timestamp(ms, 3_600), "2026-11-22T01:03:35");
        assert_eq!(format_timestamp(ms, -3_600), "2026-11-21T23:03:35");
        assert_eq!(format_timestamp(0, 0), "1970-01-01T00:00:00");
        assert_eq!(
            format_timestamp(unix_ms(2024, 2, 29, 23, 59, 59), 0),
            "2024-02-29T23:59:59"
        );
        assert_eq!(slurm_time_text(None, 0), "Unknown");
        assert_eq!(slurm_time_text(Some(0), 0), "Unknown");
        assert_eq!(slurm_time_text(Some(ms), 0), "2026-11-22T00:03:35");
        assert_eq!(
            ctime_text(unix_ms(2026, 11, 22, 0, 3, 39), 0),
            "Sun Nov 22 00:03:39 2026"
        );
        assert_eq!(
            ctime_text(unix_ms(2026, 11, 2, 7, 0, 0), 0),
            "Mon Nov  2 07:00:00 2026"
        );
    }

    proptest! {
        #[test]
        fn parse_never_panics(text in "\\PC{0,16}") {
            let _ = parse_time_limit(&text);
        }

        #[test]
        fn digit_shapes_never_panic(text in "[0-9:-]{0,14}") {
            if let Ok(TimeLimit::Minutes(m)) = parse_time_limit(&text) {
                prop_assert!(i64::from(m) * 60 <= DURATION_MAX_SECONDS + 59);
            }
        }

        #[test]
        fn timestamps_round_trip(seconds in 0u64..10_000_000_000) {
            let text = format_timestamp(seconds * 1000, 0);
            let year: i64 = text[0..4].parse().unwrap();
            let month: u32 = text[5..7].parse().unwrap();
            let day: u32 = text[8..10].parse().unwrap();
            let hour: i64 = text[11..13].parse().unwrap();
            let minute: i64 = text[14..16].parse().unwrap();
            let second: i64 = text[17..19].parse().unwrap();
            prop_assert_eq!(unix_ms(year, month, day, hour, minute, second), seconds * 1000);
        }
    }
}
