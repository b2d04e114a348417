//! Slurm's `parse_time` (`src/common/parse_time.c`): the dates `sacct -S/-E`
//! and `sreport start=/end=` take.
//!
//! Accepted, in any combination Slurm accepts: `HH:MM[:SS] [AM|PM]`,
//! `MMDD[YY]`, `MM/DD[/YY]`, `MM.DD[.YY]`, `MM/DD[/YY]-HH:MM[:SS]`,
//! `YYYY-MM-DD[THH:MM[:SS]]`, `today`, `tomorrow`, `midnight`, `noon`,
//! `fika` (15:00), `teatime` (16:00),
//! `now[{+|-}count[seconds|minutes|hours|days|weeks]]` and `uts<seconds>`.
//! A time without a date is today (for `past`, as sacct asks) and a date
//! without a year is this year, or last year when its month is later than
//! this one. Day overflow rolls over as `mktime` does (`2024-02-31` is
//! March 2nd).
//!
//! Everything is resolved against `now` and a fixed UTC offset (the
//! caller's local zone at `now`; Corral applies no daylight-saving change
//! inside one command). Errors carry the byte position Slurm prints:
//! `Invalid time specification (pos=4): now+1h`.

use crate::c_number::strtol;

const SECONDS_PER_DAY: i64 = 86_400;
/// `uts` values below this are refused, as Slurm refuses them.
const UTS_SECONDS_MIN: i64 = 1_000_000;

/// A time `parse_time` rejects: Slurm prints
/// `Invalid time specification (pos=N): TEXT` and sacct exits 1.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InvalidTime {
    pub position: i64,
    pub text: String,
}

impl InvalidTime {
    /// The line Slurm writes on stderr (no program prefix).
    pub fn message(&self) -> String {
        format!(
            "Invalid time specification (pos={}): {}",
            self.position, self.text
        )
    }
}

/// What the text names: nothing (Slurm's 0, "not given") or a time in
/// seconds since the epoch.
pub type ParsedTime = Option<i64>;

/// The fields of a local calendar time (`struct tm` with a full year and
/// a 1-based month).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Civil {
    year: i64,
    month: i64,
    day: i64,
    hour: i64,
    minute: i64,
    second: i64,
}

fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(month <= 2), month, day)
}

fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    // Months outside 1..=12 are carried into the year, as mktime does.
    let year = year + (month - 1).div_euclid(12);
    let month = (month - 1).rem_euclid(12) + 1;
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let doy = (153 * (if month > 2 { month - 3 } else { month + 9 }) + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// `localtime_r` in a fixed offset.
fn local(seconds: i64, utc_offset_seconds: i32) -> Civil {
    let local = seconds + i64::from(utc_offset_seconds);
    let (year, month, day) = civil_from_days(local.div_euclid(SECONDS_PER_DAY));
    let of_day = local.rem_euclid(SECONDS_PER_DAY);
    Civil {
        year,
        month,
        day,
        hour: of_day / 3_600,
        minute: of_day / 60 % 60,
        second: of_day % 60,
    }
}

/// `mktime` in a fixed offset; out-of-range days roll over.
pub(crate) fn local_to_seconds(
    (year, month, day): (i64, i64, i64),
    (hour, minute, second): (i64, i64, i64),
    utc_offset_seconds: i32,
) -> i64 {
    days_from_civil(year, month, day) * SECONDS_PER_DAY + hour * 3_600 + minute * 60 + second
        - i64::from(utc_offset_seconds)
}

/// Midnight (local) of the day `seconds` falls in, `days_back` days before.
pub(crate) fn local_midnight(seconds: i64, days_back: i64, utc_offset_seconds: i32) -> i64 {
    let now = local(seconds, utc_offset_seconds);
    local_to_seconds(
        (now.year, now.month, now.day - days_back),
        (0, 0, 0),
        utc_offset_seconds,
    )
}

/// The local calendar fields of a time: (year, month, day, hour, minute,
/// second).
pub(crate) fn local_fields(seconds: i64, utc_offset_seconds: i32) -> [i64; 6] {
    let t = local(seconds, utc_offset_seconds);
    [t.year, t.month, t.day, t.hour, t.minute, t.second]
}

/// The C string, read past its end as NUL bytes.
struct Text<'a>(&'a [u8]);

impl Text<'_> {
    fn at(&self, index: i64) -> u8 {
        usize::try_from(index)
            .ok()
            .and_then(|i| self.0.get(i).copied())
            .unwrap_or(0)
    }

    fn is_digit(&self, index: i64) -> bool {
        self.at(index).is_ascii_digit()
    }

    fn digit(&self, index: i64) -> i64 {
        i64::from(self.at(index)) - i64::from(b'0')
    }

    fn starts_with_ignore_case(&self, index: i64, word: &str) -> bool {
        word.bytes()
            .enumerate()
            .all(|(i, w)| self.at(index + i as i64).eq_ignore_ascii_case(&w))
    }

    fn ends_at(&self, index: i64) -> bool {
        matches!(self.at(index), 0 | b'\n')
    }
}

fn is_blank(byte: u8) -> bool {
    byte == b' ' || byte == b'\t'
}

fn is_space(byte: u8) -> bool {
    matches!(byte, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)
}

const UNITS: [(&str, i64); 10] = [
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

/// `_get_delta`: the count after `+`/`-` at `pos`, with an optional unit.
fn get_delta(text: &Text, pos: &mut i64) -> Option<i64> {
    let mut count: i64 = 0;
    let mut digits = 0;
    let mut offset = *pos + 1;
    while !text.ends_at(offset) {
        if is_space(text.at(offset)) {
            offset += 1;
            continue;
        }
        if let Some((name, multiplier)) = UNITS
            .iter()
            .find(|(name, _)| text.starts_with_ignore_case(offset, name))
        {
            offset += name.len() as i64;
            count = count.wrapping_mul(*multiplier);
            break;
        }
        if text.is_digit(offset) {
            count = count.wrapping_mul(10).wrapping_add(text.digit(offset));
            digits += 1;
            offset += 1;
            continue;
        }
        *pos = offset - 1;
        return None;
    }
    if digits == 0 {
        return None;
    }
    *pos = offset - 1;
    Some(count)
}

/// `_get_time`: `HH:MM[:SS] [AM|PM]` at `pos`.
fn get_time(text: &Text, pos: &mut i64) -> Option<(i64, i64, i64)> {
    let mut offset = *pos;
    let result = (|| {
        if !text.is_digit(offset) {
            return None;
        }
        let mut hour = text.digit(offset);
        offset += 1;
        if text.at(offset) != b':' {
            if !text.is_digit(offset) {
                return None;
            }
            hour = hour * 10 + text.digit(offset);
            offset += 1;
        }
        if hour > 23 {
            offset -= 2;
            return None;
        }
        if text.at(offset) != b':' {
            return None;
        }
        offset += 1;
        let minute = two_digits(text, &mut offset, 59)?;
        let second = if text.at(offset) == b':' {
            offset += 1;
            two_digits(text, &mut offset, 59)?
        } else {
            0
        };
        while is_space(text.at(offset)) {
            offset += 1;
        }
        if text.starts_with_ignore_case(offset, "pm") {
            hour += 12;
            if hour > 23 {
                if hour != 24 {
                    return None;
                }
                hour = 12;
            }
            offset += 2;
        } else if text.starts_with_ignore_case(offset, "am") {
            if hour > 11 {
                if hour != 12 {
                    return None;
                }
                hour = 0;
            }
            offset += 2;
        }
        Some((hour, minute, second))
    })();
    *pos = if result.is_some() { offset - 1 } else { offset };
    result
}

/// Two digits at `offset`, at most `max`; on a value too large the offset
/// goes back to its first digit, as Slurm reports it.
fn two_digits(text: &Text, offset: &mut i64, max: i64) -> Option<i64> {
    if !text.is_digit(*offset) {
        return None;
    }
    let mut value = text.digit(*offset);
    *offset += 1;
    if !text.is_digit(*offset) {
        return None;
    }
    value = value * 10 + text.digit(*offset);
    *offset += 1;
    if value > max {
        *offset -= 2;
        return None;
    }
    Some(value)
}

/// A date: month (1-based), day, and the year when given.
type Date = (i64, i64, Option<i64>);

/// `_get_date`: `YYYY-MM-DD` or `MMDD[YY]`, `MM/DD[/YY]`, `MM.DD[.YY]`.
fn get_date(text: &Text, pos: &mut i64) -> Option<Date> {
    let mut offset = *pos;
    let len = text.0.len() as i64;
    let result = (|| {
        let iso = len >= offset + 7 && text.at(offset + 4) == b'-' && text.at(offset + 7) == b'-';
        if iso {
            let mut year = 0;
            for _ in 0..4 {
                if !text.is_digit(offset) {
                    return None;
                }
                year = year * 10 + text.digit(offset);
                offset += 1;
            }
            offset += 1;
            let month = month_or_day(text, &mut offset, 12)?;
            offset += 1;
            if !text.is_digit(offset) {
                return None;
            }
            let day = month_or_day(text, &mut offset, 31)?;
            return Some((month, day, Some(year)));
        }
        let month = month_or_day(text, &mut offset, 12)?;
        if matches!(text.at(offset), b'.' | b'/') {
            offset += 1;
        }
        if !text.is_digit(offset) {
            return None;
        }
        let day = month_or_day(text, &mut offset, 31)?;
        if matches!(text.at(offset), b'.' | b'/') {
            offset += 1;
        }
        let mut year = None;
        if text.is_digit(offset) {
            let tens = text.digit(offset);
            offset += 1;
            if !text.is_digit(offset) {
                return None;
            }
            let two = tens * 10 + text.digit(offset);
            offset += 1;
            // A two-digit year of 00 reads as no year at all, as in Slurm.
            year = (two != 0).then_some(2000 + two);
        }
        Some((month, day, year))
    })();
    *pos = if result.is_some() { offset - 1 } else { offset };
    result
}

/// One or two characters read as digits (the first unchecked, as Slurm
/// reads a month), in `1..=max`; on a bad value the offset goes back two.
fn month_or_day(text: &Text, offset: &mut i64, max: i64) -> Option<i64> {
    let mut value = text.digit(*offset);
    *offset += 1;
    if text.is_digit(*offset) {
        value = value * 10 + text.digit(*offset);
        *offset += 1;
    }
    if !(1..=max).contains(&value) {
        *offset -= 2;
        return None;
    }
    Some(value)
}

/// Slurm's `parse_time(text, past)`; `now_seconds` is the time "now" and
/// `today` refer to.
pub fn parse_time(
    text: &str,
    past: bool,
    now_seconds: i64,
    utc_offset_seconds: i32,
) -> Result<ParsedTime, InvalidTime> {
    let invalid = |position: i64| InvalidTime {
        position,
        text: text.to_string(),
    };
    if text.len() >= 3 && text[..3].eq_ignore_ascii_case("uts") {
        let parsed = strtol(&text[3..]);
        if parsed.value < UTS_SECONDS_MIN
            || parsed.value == i64::MAX
            || parsed.overflowed
            || !parsed.rest.is_empty()
        {
            return Err(invalid(0));
        }
        return Ok(Some(parsed.value));
    }
    let bytes = Text(text.as_bytes());
    let now = local(now_seconds, utc_offset_seconds);
    let (mut hour, mut minute, mut second) = (-1i64, -1i64, 0i64);
    let (mut month, mut day, mut year) = (-1i64, -1i64, None::<i64>);
    let mut pos: i64 = 0;
    let set_date = |t: &Civil, month: &mut i64, day: &mut i64, year: &mut Option<i64>| {
        *month = t.month;
        *day = t.day;
        *year = Some(t.year);
    };
    while !bytes.ends_at(pos) {
        let c = bytes.at(pos);
        if is_blank(c) || c == b'-' || c == b'T' {
            pos += 1;
            continue;
        }
        if bytes.starts_with_ignore_case(pos, "today") {
            set_date(&now, &mut month, &mut day, &mut year);
            pos += 5;
            continue;
        }
        if bytes.starts_with_ignore_case(pos, "tomorrow") {
            let later = local(now_seconds + SECONDS_PER_DAY, utc_offset_seconds);
            set_date(&later, &mut month, &mut day, &mut year);
            pos += 8;
            continue;
        }
        let named_hour = [("midnight", 0), ("noon", 12), ("fika", 15), ("teatime", 16)]
            .into_iter()
            .find(|(word, _)| bytes.starts_with_ignore_case(pos, word));
        if let Some((word, at)) = named_hour {
            (hour, minute, second) = (at, 0, 0);
            pos += word.len() as i64;
            continue;
        }
        if bytes.starts_with_ignore_case(pos, "now") {
            let mut delta = 0i64;
            let mut i = pos + 3;
            loop {
                match bytes.at(i) {
                    b'+' | b'-' => {
                        let negative = bytes.at(i) == b'-';
                        // Slurm adds the index to the position here.
                        pos += i;
                        delta = get_delta(&bytes, &mut pos).ok_or_else(|| invalid(pos))?;
                        if negative {
                            delta = delta.wrapping_neg();
                        }
                        break;
                    }
                    b if is_blank(b) => i += 1,
                    0 | b'\n' => {
                        pos += i - 1;
                        break;
                    }
                    _ => {
                        pos += i;
                        return Err(invalid(pos));
                    }
                }
            }
            let later = local(now_seconds.wrapping_add(delta), utc_offset_seconds);
            set_date(&later, &mut month, &mut day, &mut year);
            (hour, minute, second) = (later.hour, later.minute, later.second);
            pos += 1;
            continue;
        }
        if !c.is_ascii_digit() {
            return Err(invalid(pos));
        }
        if bytes.at(pos + 1) == b':' || bytes.at(pos + 2) == b':' {
            (hour, minute, second) = get_time(&bytes, &mut pos).ok_or_else(|| invalid(pos))?;
        } else {
            let date = get_date(&bytes, &mut pos).ok_or_else(|| invalid(pos))?;
            (month, day) = (date.0, date.1);
            if let Some(given) = date.2 {
                year = Some(given);
            }
        }
        pos += 1;
    }
    if hour == -1 && month == -1 {
        return Ok(None);
    }
    if hour == -1 {
        (hour, minute) = (0, 0);
    } else if month == -1 {
        let today = past || hour > now.hour || (hour == now.hour && minute > now.minute);
        let date = if today {
            now
        } else {
            local(now_seconds + SECONDS_PER_DAY, utc_offset_seconds)
        };
        set_date(&date, &mut month, &mut day, &mut year);
    }
    let year = match year {
        Some(year) => year,
        None if past => {
            if month > now.month {
                now.year - 1
            } else {
                now.year
            }
        }
        None => {
            let later_this_year =
                (month, day, hour, minute) > (now.month, now.day, now.hour, now.minute);
            if later_this_year {
                now.year
            } else {
                now.year + 1
            }
        }
    };
    let seconds = local_to_seconds(
        (year, month, day),
        (hour, minute, second),
        utc_offset_seconds,
    );
    if seconds == -1 {
        return Err(invalid(pos));
    }
    Ok(Some(seconds))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// 2026-12-02T18:04:41 UTC, a Wednesday: the time the expected values
    /// below were produced with real Slurm 22.05.8 (`sacct -v -S TEXT`,
    /// TZ=UTC), whose verbose line prints the resolved window.
    const NOW: i64 = 1_796_234_681;

    fn at(text: &str) -> String {
        match parse_time(text, true, NOW, 0) {
            Ok(Some(seconds)) => {
                crate::time::format_timestamp(u64::try_from(seconds).expect("after 1970") * 1000, 0)
            }
            Ok(None) => "none".to_string(),
            Err(e) => e.message(),
        }
    }

    #[test]
    fn resolves_what_slurm_resolves() {
        for (text, expected) in [
            ("2024-01-01", "2024-01-01T00:00:00"),
            ("2024-02-31T10:00", "2024-03-02T10:00:00"),
            ("0101", "2026-01-01T00:00:00"),
            ("01/02/24", "2024-01-02T00:00:00"),
            ("10:00pm", "2026-12-02T22:00:00"),
            ("now-1day", "2026-12-01T18:04:41"),
            ("now - 2 hours", "2026-12-02T16:04:41"),
            ("today", "2026-12-02T00:00:00"),
            ("midnight", "2026-12-02T00:00:00"),
            ("teatime", "2026-12-02T16:00:00"),
            ("uts1700000000", "2023-11-14T22:13:20"),
            ("", "none"),
            ("  ", "none"),
            ("T", "none"),
            ("12/31", "2026-12-31T00:00:00"),
            ("12:30:15", "2026-12-02T12:30:15"),
            ("12:00am", "2026-12-02T00:00:00"),
            ("12:00 PM", "2026-12-02T12:00:00"),
            ("2025-06-07T08:09:10", "2025-06-07T08:09:10"),
            ("06/07-08:09", "2026-06-07T08:09:00"),
            ("now+3weeks", "2026-12-23T18:04:41"),
            ("NOW+90", "2026-12-02T18:06:11"),
            ("tomorrow", "2026-12-03T00:00:00"),
            ("noon", "2026-12-02T12:00:00"),
            ("fika", "2026-12-02T15:00:00"),
            ("010100", "2026-01-01T00:00:00"),
        ] {
            assert_eq!(at(text), expected, "{text:?}");
        }
    }

    #[test]
    fn errors_report_slurms_position() {
        for (text, position) in [
            ("bogus", 0),
            ("now+1h", 4),
            ("12:61", 3),
            ("2024-13-01", 5),
            ("now+", 3),
            ("nowx", 3),
            ("25:00", 0),
            ("13/01", 0),
            ("1:2", 3),
            ("0", -1),
            ("2024-0x-01", 4),
            ("10:5", 4),
            ("1231235959", 6),
            ("1/1/2", 5),
            ("2024-1-5", 0),
            ("uts12", 0),
            ("uts1700000000x", 0),
        ] {
            let error = parse_time(text, true, NOW, 0).unwrap_err();
            assert_eq!(error.position, position, "{text:?}");
            assert_eq!(
                error.message(),
                format!("Invalid time specification (pos={position}): {text}")
            );
        }
    }

    #[test]
    fn offsets_move_local_times() {
        // 10:00 in UTC+2 is 08:00 UTC.
        let seconds = parse_time("2026-12-02T10:00", true, NOW, 7_200)
            .unwrap()
            .unwrap();
        assert_eq!(seconds, local_to_seconds((2026, 12, 2), (8, 0, 0), 0));
        assert_eq!(
            local_midnight(NOW, 0, 0),
            local_to_seconds((2026, 12, 2), (0, 0, 0), 0)
        );
        assert_eq!(
            local_midnight(NOW, 1, -3_600),
            local_to_seconds((2026, 12, 1), (1, 0, 0), 0)
        );
    }

    proptest! {
        #[test]
        fn never_panics(text in "[0-9a-zA-Z:/.+ T-]{0,20}", past in any::<bool>()) {
            let _ = parse_time(&text, past, NOW, 3_600);
        }
    }
}
