//! `-b/--begin`: Slurm's `parse_time` (`src/common/parse_time.c`), which
//! turns a time expression into an absolute time. sbatch knows `now`, so it
//! resolves the expression before it submits; the controller only compares.
//!
//! The forms, any case, combinable the way Slurm's loop combines them
//! (`tomorrow 10:00`, `2026-12-01T08:00`):
//!
//! - `today`, `tomorrow`; `midnight`, `noon`, `elevenses` (11:00), `fika`
//!   (15:00), `teatime` (16:00);
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

use crate::c_number::{is_c_space, strtol};

const SECONDS_PER_DAY: i64 = 86_400;
const MILLISECONDS_PER_SECOND: i64 = 1_000;
/// `utsNNNN` below this is refused, as Slurm refuses it.
const UTS_MIN_SECONDS: i64 = 1_000_000;
/// Slurm's `tm_year` counts from 1900.
const TM_YEAR_ORIGIN: i64 = 1_900;
/// The largest `now+COUNT` taken, in seconds (about 10 000 years): far
/// beyond any use, and small enough for the calendar arithmetic.
const DELTA_MAX_SECONDS: i64 = 10_000 * 366 * SECONDS_PER_DAY;

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
    Invalid { pos: usize },
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
    let seconds = parse_time(text, clock)?;
    let milliseconds = seconds.saturating_mul(MILLISECONDS_PER_SECOND).max(0);
    Ok(u64::try_from(milliseconds).unwrap_or(0))
}

/// `struct tm`'s fields that Slurm's parser reads and writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Tm {
    /// Years since 1900.
    year: i64,
    /// 0 to 11.
    month: i64,
    mday: i64,
    hour: i64,
    minute: i64,
    second: i64,
}

/// Seconds since the epoch → the local calendar time.
fn local_tm(seconds: i64, utc_offset_seconds: i32) -> Tm {
    let local = seconds.saturating_add(i64::from(utc_offset_seconds));
    let days = local.div_euclid(SECONDS_PER_DAY);
    let of_day = local.rem_euclid(SECONDS_PER_DAY);
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let mday = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    Tm {
        year: year - TM_YEAR_ORIGIN,
        month: month - 1,
        mday,
        hour: of_day / 3_600,
        minute: of_day / 60 % 60,
        second: of_day % 60,
    }
}

/// `mktime` at a fixed offset: a day past the month's end rolls over.
fn make_time(tm: Tm, utc_offset_seconds: i32) -> i64 {
    // Howard Hinnant's days_from_civil, the month normalised first.
    let year = tm.year + TM_YEAR_ORIGIN + tm.month.div_euclid(12);
    let month = tm.month.rem_euclid(12) + 1;
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let doy = (153 * (if month > 2 { month - 3 } else { month + 9 }) + 2) / 5 + tm.mday - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    days * SECONDS_PER_DAY + tm.hour * 3_600 + tm.minute * 60 + tm.second
        - i64::from(utc_offset_seconds)
}

/// Slurm's unit names for `now+COUNT`, longest first where one prefixes
/// another, with their multipliers.
const UNITS: &[(&str, i64)] = &[
    ("seconds", 1),
    ("second", 1),
    ("minutes", 60),
    ("minute", 60),
    ("hours", 3_600),
    ("hour", 3_600),
    ("days", SECONDS_PER_DAY),
    ("day", SECONDS_PER_DAY),
    ("weeks", 7 * SECONDS_PER_DAY),
    ("week", 7 * SECONDS_PER_DAY),
];

/// The text as C sees it: a byte at any index, NUL past the end.
struct Text<'a> {
    bytes: &'a [u8],
}

impl Text<'_> {
    fn at(&self, index: usize) -> u8 {
        self.bytes.get(index).copied().unwrap_or(0)
    }

    fn digit(&self, index: usize) -> Option<i64> {
        let byte = self.at(index);
        byte.is_ascii_digit().then(|| i64::from(byte - b'0'))
    }

    /// `xstrncasecmp(text + index, word, strlen(word)) == 0`.
    fn starts_with(&self, index: usize, word: &str) -> bool {
        self.bytes
            .get(index..index + word.len())
            .is_some_and(|part| part.eq_ignore_ascii_case(word.as_bytes()))
    }

    fn ends(&self, index: usize) -> bool {
        matches!(self.at(index), 0 | b'\n')
    }
}

/// The fields set so far by the expression.
struct Parsed {
    hour: i64,
    minute: i64,
    second: i64,
    month: i64,
    mday: i64,
    year: i64,
}

impl Parsed {
    fn set_date(&mut self, tm: Tm) {
        (self.month, self.mday, self.year) = (tm.month, tm.mday, tm.year);
    }

    fn set_clock(&mut self, hour: i64, minute: i64, second: i64) {
        (self.hour, self.minute, self.second) = (hour, minute, second);
    }
}

/// Named times of day: (word, hour).
const TIMES_OF_DAY: &[(&str, i64)] = &[
    ("midnight", 0),
    ("noon", 12),
    ("elevenses", 11),
    ("fika", 15),
    ("teatime", 16),
];

/// Slurm's `parse_time(time_str, past = 0)`: seconds since the epoch.
fn parse_time(text: &str, clock: Clock) -> Result<i64, TimeError> {
    let t = Text {
        bytes: text.as_bytes(),
    };
    if t.starts_with(0, "uts") {
        let parsed = strtol(&text[3..]);
        if parsed.value < UTS_MIN_SECONDS
            || parsed.value == i64::MAX
            || !parsed.rest.is_empty()
            || parsed.rest.len() == text.len() - 3
        {
            return Err(TimeError::Invalid { pos: 0 });
        }
        return Ok(parsed.value);
    }
    // Milliseconds in a u64 are seconds well inside the calendar's range.
    let now_seconds = i64::try_from(clock.now_ms / 1_000).unwrap_or(i64::MAX);
    let offset = clock.utc_offset_seconds;
    let now = local_tm(now_seconds, offset);
    let mut p = Parsed {
        hour: -1,
        minute: -1,
        second: 0,
        month: -1,
        mday: -1,
        year: -1,
    };
    let mut pos = 0;
    // Each `continue` of Slurm's `for` loop moves one past `pos`.
    while !t.ends(pos) {
        let byte = t.at(pos);
        if matches!(byte, b' ' | b'\t' | b'-' | b'T') {
            pos += 1;
            continue;
        }
        if t.starts_with(pos, "today") {
            p.set_date(now);
            pos += 5;
            continue;
        }
        if t.starts_with(pos, "tomorrow") {
            p.set_date(local_tm(now_seconds + SECONDS_PER_DAY, offset));
            pos += 8;
            continue;
        }
        if let Some((word, hour)) = TIMES_OF_DAY
            .iter()
            .find(|(word, _)| t.starts_with(pos, word))
        {
            p.set_clock(*hour, 0, 0);
            pos += word.len();
            continue;
        }
        if t.starts_with(pos, "now") {
            let delta = now_delta(&t, &mut pos)?;
            let later = local_tm(now_seconds + delta, offset);
            p.set_date(later);
            p.set_clock(later.hour, later.minute, later.second);
            pos += 1;
            continue;
        }
        if !byte.is_ascii_digit() {
            return Err(TimeError::Invalid { pos });
        }
        if t.at(pos + 1) == b':' || t.at(pos + 2) == b':' {
            let (hour, minute, second) = clock_time(&t, &mut pos)?;
            p.set_clock(hour, minute, second);
        } else {
            calendar_date(&t, &mut pos, &mut p)?;
        }
        pos += 1;
    }
    resolve(p, now, now_seconds, offset)
}

/// `now` and what follows it, up to the end or the count's unit; leaves
/// `pos` where Slurm leaves it. Slurm adds the absolute index of the sign
/// to `pos` (right only when `now` opens the expression); so does this.
fn now_delta(t: &Text, pos: &mut usize) -> Result<i64, TimeError> {
    let mut i = *pos + 3;
    loop {
        match t.at(i) {
            sign @ (b'+' | b'-') => {
                *pos += i;
                let delta = count_and_unit(t, pos)?;
                return Ok(if sign == b'-' { -delta } else { delta });
            }
            b' ' | b'\t' => i += 1,
            0 | b'\n' => {
                *pos += i - 1;
                return Ok(0);
            }
            _ => {
                *pos += i;
                return Err(TimeError::Invalid { pos: *pos });
            }
        }
    }
}

/// Slurm's `_get_delta`: digits after the sign at `pos`, blanks skipped,
/// ended by a unit name or the end of the text.
fn count_and_unit(t: &Text, pos: &mut usize) -> Result<i64, TimeError> {
    let mut count: i64 = 0;
    let mut digits = 0;
    let mut offset = *pos + 1;
    while !t.ends(offset) {
        if is_c_space(char::from(t.at(offset))) {
            offset += 1;
            continue;
        }
        if let Some((unit, multiplier)) = UNITS.iter().find(|(unit, _)| t.starts_with(offset, unit))
        {
            offset += unit.len();
            count = count
                .checked_mul(*multiplier)
                .ok_or(TimeError::Invalid { pos: offset - 1 })?;
            break;
        }
        match t.digit(offset) {
            Some(digit) => {
                count = count
                    .checked_mul(10)
                    .and_then(|count| count.checked_add(digit))
                    .ok_or(TimeError::Invalid { pos: offset })?;
                digits += 1;
                offset += 1;
            }
            None => {
                *pos = offset - 1;
                return Err(TimeError::Invalid { pos: *pos });
            }
        }
    }
    if digits == 0 {
        return Err(TimeError::Invalid { pos: *pos });
    }
    *pos = offset - 1;
    if count > DELTA_MAX_SECONDS {
        return Err(TimeError::Invalid { pos: *pos });
    }
    Ok(count)
}

/// Slurm's `_get_time`: `HH:MM[:SS]`, then blanks and an optional
/// `AM`/`PM`. On success `pos` is on the last character read.
fn clock_time(t: &Text, pos: &mut usize) -> Result<(i64, i64, i64), TimeError> {
    let mut offset = *pos;
    let invalid = |offset: usize| TimeError::Invalid { pos: offset };
    let mut hour = t.digit(offset).ok_or(invalid(offset))?;
    offset += 1;
    if t.at(offset) != b':' {
        hour = hour * 10 + t.digit(offset).ok_or(invalid(offset))?;
        offset += 1;
    }
    if hour > 23 {
        return Err(invalid(offset - 2));
    }
    if t.at(offset) != b':' {
        return Err(invalid(offset));
    }
    offset += 1;
    let two_digits = |offset: &mut usize, limit: i64| -> Result<i64, TimeError> {
        let high = t.digit(*offset).ok_or(invalid(*offset))?;
        *offset += 1;
        let value = high * 10 + t.digit(*offset).ok_or(invalid(*offset))?;
        *offset += 1;
        if value > limit {
            return Err(invalid(*offset - 2));
        }
        Ok(value)
    };
    let minute = two_digits(&mut offset, 59)?;
    let second = if t.at(offset) == b':' {
        offset += 1;
        two_digits(&mut offset, 59)?
    } else {
        0
    };
    while is_c_space(char::from(t.at(offset))) && t.at(offset) != 0 {
        offset += 1;
    }
    if t.starts_with(offset, "pm") {
        hour += 12;
        if hour > 23 {
            if hour != 24 {
                return Err(invalid(offset));
            }
            hour = 12;
        }
        offset += 2;
    } else if t.starts_with(offset, "am") {
        if hour > 11 {
            if hour != 12 {
                return Err(invalid(offset));
            }
            hour = 0;
        }
        offset += 2;
    }
    *pos = offset - 1;
    Ok((hour, minute, second))
}

/// Slurm's `_get_date`: `YYYY-MM-DD`, or `MMDD[YY]` with optional `.` or
/// `/` between the parts. On success `pos` is on the last character read.
fn calendar_date(t: &Text, pos: &mut usize, p: &mut Parsed) -> Result<(), TimeError> {
    let mut offset = *pos;
    let invalid = |offset: usize| TimeError::Invalid { pos: offset };
    // Slurm takes the month's first character as a digit unchecked.
    let raw = |offset: usize| i64::from(t.at(offset)) - i64::from(b'0');
    let month_and_day = |offset: &mut usize, separators: bool| -> Result<(i64, i64), TimeError> {
        let mut month = raw(*offset);
        *offset += 1;
        if let Some(digit) = t.digit(*offset) {
            month = month * 10 + digit;
            *offset += 1;
        }
        if !(1..=12).contains(&month) {
            return Err(invalid(*offset - 2));
        }
        if separators && matches!(t.at(*offset), b'.' | b'/') {
            *offset += 1;
        } else if !separators {
            *offset += 1; // the '-'
        }
        let mut day = t.digit(*offset).ok_or(invalid(*offset))?;
        *offset += 1;
        if let Some(digit) = t.digit(*offset) {
            day = day * 10 + digit;
            *offset += 1;
        }
        if !(1..=31).contains(&day) {
            return Err(invalid(*offset - 2));
        }
        Ok((month, day))
    };
    if t.bytes.len() >= offset + 7 && t.at(offset + 4) == b'-' && t.at(offset + 7) == b'-' {
        let mut year = 0;
        for _ in 0..4 {
            year = year * 10 + t.digit(offset).ok_or(invalid(offset))?;
            offset += 1;
        }
        offset += 1; // the '-'
        let (month, day) = month_and_day(&mut offset, false)?;
        *pos = offset - 1;
        (p.month, p.mday, p.year) = (month - 1, day, year - TM_YEAR_ORIGIN);
        return Ok(());
    }
    let (month, day) = month_and_day(&mut offset, true)?;
    if matches!(t.at(offset), b'.' | b'/') {
        offset += 1;
    }
    let year = match t.digit(offset) {
        Some(high) => {
            offset += 1;
            let low = t.digit(offset).ok_or(invalid(offset))?;
            offset += 1;
            high * 10 + low
        }
        None => 0,
    };
    *pos = offset - 1;
    (p.month, p.mday) = (month - 1, day);
    if year != 0 {
        p.year = year + 100;
    }
    Ok(())
}

/// Fills in what the expression left out, as Slurm does for a time in the
/// future: no time is 00:00; a time without a date is the next one; a
/// date without a year is the next one.
fn resolve(mut p: Parsed, now: Tm, now_seconds: i64, offset: i32) -> Result<i64, TimeError> {
    if p.hour == -1 && p.month == -1 {
        return Err(TimeError::Nothing);
    }
    if p.hour == -1 {
        (p.hour, p.minute) = (0, 0);
    } else if p.month == -1 {
        let later_today = p.hour > now.hour || (p.hour == now.hour && p.minute > now.minute);
        let day = if later_today {
            now
        } else {
            local_tm(now_seconds + SECONDS_PER_DAY, offset)
        };
        p.set_date(day);
    }
    if p.year == -1 {
        let this_year = p.month > now.month
            || (p.month == now.month && p.mday > now.mday)
            || (p.month == now.month && p.mday == now.mday && p.hour > now.hour)
            || (p.month == now.month
                && p.mday == now.mday
                && p.hour == now.hour
                && p.minute > now.minute);
        p.year = now.year + i64::from(!this_year);
    }
    Ok(make_time(
        Tm {
            year: p.year,
            month: p.month,
            mday: p.mday,
            hour: p.hour,
            minute: p.minute,
            second: p.second,
        },
        offset,
    ))
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

    /// Seconds since the epoch of a UTC calendar time.
    fn utc(year: i64, month: i64, mday: i64, hour: i64, minute: i64, second: i64) -> i64 {
        make_time(
            Tm {
                year: year - TM_YEAR_ORIGIN,
                month: month - 1,
                mday,
                hour,
                minute,
                second,
            },
            0,
        )
    }

    #[test]
    fn the_clock_round_trips() {
        let now = local_tm(1_795_305_815, 0);
        assert_eq!(
            now,
            Tm {
                year: 126,
                month: 10,
                mday: 22,
                hour: 0,
                minute: 3,
                second: 35
            }
        );
        assert_eq!(make_time(now, 0), 1_795_305_815);
        assert_eq!(
            make_time(local_tm(1_795_305_815, 3_600), 3_600),
            1_795_305_815
        );
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
            ("elevenses", utc(2026, 11, 22, 11, 0, 0)),
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
            assert_eq!(parse_time(text, at(0)), Ok(*expected), "{text}");
        }
    }

    #[test]
    fn local_times_use_the_offset() {
        // 00:03:35 UTC is 01:03:35 at UTC+1: 16:00 local is 15:00 UTC.
        assert_eq!(
            parse_time("16:00", at(3_600)),
            Ok(utc(2026, 11, 22, 15, 0, 0))
        );
        // At UTC-1 it is still the 21st: "today" is the 21st, local midnight.
        assert_eq!(
            parse_time("today", at(-3_600)),
            Ok(utc(2026, 11, 21, 1, 0, 0))
        );
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
            assert_eq!(parse_time(text, at(0)), Err(expected.clone()), "{text}");
        }
        assert_eq!(
            TimeError::Invalid { pos: 3 }.diagnostic("now+").as_deref(),
            Some("Invalid time specification (pos=3): now+")
        );
        assert_eq!(TimeError::Nothing.diagnostic(""), None);
    }

    #[test]
    fn huge_counts_are_mistakes_not_panics() {
        assert!(parse_time("now+99999999999999999999", at(0)).is_err());
        assert!(parse_time("now+9999999999999999weeks", at(0)).is_err());
        assert_eq!(parse_begin("1969-12-31", at(0)), Ok(0));
    }
}
