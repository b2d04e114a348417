//! The JSON report a benchmark writes: raw samples, summary, command line,
//! date and machine.
//!
//! The report is an edge format written once per benchmark, so a small JSON
//! value type lives here rather than a serialization dependency in the CLI.

use std::fmt::{Display, Write as _};
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::Context;

/// A JSON value. Objects keep their fields in the order given.
#[derive(Clone, Debug, PartialEq)]
pub enum Json {
    Null,
    Bool(bool),
    /// Written with at most three decimals; not finite is written as `null`.
    Number(f64),
    Integer(i64),
    Text(String),
    Array(Vec<Json>),
    Object(Vec<(String, Json)>),
}

impl Json {
    pub fn object<'a>(fields: impl IntoIterator<Item = (&'a str, Json)>) -> Json {
        Json::Object(
            fields
                .into_iter()
                .map(|(name, value)| (name.to_string(), value))
                .collect(),
        )
    }

    pub fn text(value: impl Display) -> Json {
        Json::Text(value.to_string())
    }

    pub fn count(value: impl TryInto<i64>) -> Json {
        value.try_into().map_or(Json::Null, Json::Integer)
    }

    pub fn numbers(values: &[f64]) -> Json {
        Json::Array(values.iter().copied().map(Json::Number).collect())
    }

    /// Indented two spaces per level; arrays of plain values stay on one line.
    pub fn render(&self) -> String {
        let mut out = String::new();
        self.render_into(&mut out, 0);
        out.push('\n');
        out
    }

    fn render_into(&self, out: &mut String, depth: usize) {
        match self {
            Json::Null => out.push_str("null"),
            Json::Bool(value) => out.push_str(if *value { "true" } else { "false" }),
            Json::Number(value) if value.is_finite() => {
                let _ = write!(out, "{}", (value * 1_000.0).round() / 1_000.0);
            }
            Json::Number(_) => out.push_str("null"),
            Json::Integer(value) => {
                let _ = write!(out, "{value}");
            }
            Json::Text(text) => escape_into(out, text),
            Json::Array(items) if items.iter().all(Json::is_plain) => {
                out.push('[');
                for (index, item) in items.iter().enumerate() {
                    if index > 0 {
                        out.push_str(", ");
                    }
                    item.render_into(out, depth + 1);
                }
                out.push(']');
            }
            Json::Array(items) => {
                out.push('[');
                for (index, item) in items.iter().enumerate() {
                    out.push_str(if index > 0 { ",\n" } else { "\n" });
                    indent(out, depth + 1);
                    item.render_into(out, depth + 1);
                }
                out.push('\n');
                indent(out, depth);
                out.push(']');
            }
            Json::Object(fields) if fields.is_empty() => out.push_str("{}"),
            Json::Object(fields) => {
                out.push('{');
                for (index, (name, value)) in fields.iter().enumerate() {
                    out.push_str(if index > 0 { ",\n" } else { "\n" });
                    indent(out, depth + 1);
                    escape_into(out, name);
                    out.push_str(": ");
                    value.render_into(out, depth + 1);
                }
                out.push('\n');
                indent(out, depth);
                out.push('}');
            }
        }
    }

    fn is_plain(&self) -> bool {
        !matches!(self, Json::Array(_) | Json::Object(_))
    }
}

fn indent(out: &mut String, depth: usize) {
    out.extend(std::iter::repeat_n("  ", depth));
}

fn escape_into(out: &mut String, text: &str) {
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if u32::from(c) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Writes the report: `benchmark`, `system` (`corral`), the command line, the date, the machine,
/// the cluster, then `body` (parameters, runs, summary).
pub fn write(
    path: &Path,
    benchmark: &str,
    cluster: Json,
    body: Vec<(&str, Json)>,
) -> anyhow::Result<()> {
    write_for(path, "corral", benchmark, cluster, body)
}

/// [`write`] for the system measured: `corral`, or `slurm` for a workload
/// run against real Slurm (`--slurm-conf`).
pub fn write_for(
    path: &Path,
    system: &str,
    benchmark: &str,
    cluster: Json,
    body: Vec<(&str, Json)>,
) -> anyhow::Result<()> {
    let command_line: Vec<Json> = std::env::args().map(Json::Text).collect();
    let mut fields = vec![
        ("benchmark", Json::text(benchmark)),
        ("system", Json::text(system)),
        ("command_line", Json::Array(command_line)),
        ("date_utc", Json::Text(utc_timestamp(SystemTime::now()))),
        ("machine", machine()),
        ("cluster", cluster),
    ];
    fields.extend(body);
    std::fs::write(path, Json::object(fields).render())
        .with_context(|| format!("writing {}", path.display()))
}

/// What the figures depend on: cores, memory, CPU and how corral was built.
fn machine() -> Json {
    let nproc = std::thread::available_parallelism().map_or(0, |n| n.get());
    Json::object([
        ("nproc", Json::count(nproc)),
        (
            "memory_total_bytes",
            memory_total_bytes().map_or(Json::Null, Json::count),
        ),
        ("cpu_model", cpu_model().map_or(Json::Null, Json::Text)),
        ("corral_build", Json::text(super::build_profile())),
        ("corral_version", Json::text(env!("CARGO_PKG_VERSION"))),
    ])
}

/// `MemTotal` from `/proc/meminfo`.
fn memory_total_bytes() -> Option<u64> {
    let meminfo = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = meminfo.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kibibytes: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kibibytes * 1024)
}

/// The first `model name` in `/proc/cpuinfo`.
fn cpu_model() -> Option<String> {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").ok()?;
    let line = cpuinfo.lines().find(|l| l.starts_with("model name"))?;
    Some(line.split_once(':')?.1.trim().to_string())
}

/// `YYYY-MM-DDTHH:MM:SSZ`.
pub fn utc_timestamp(time: SystemTime) -> String {
    let seconds = time.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let (year, month, day) = civil_from_days((seconds / 86_400) as i64);
    let of_day = seconds % 86_400;
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        of_day / 3_600,
        of_day / 60 % 60,
        of_day % 60
    )
}

/// The proleptic Gregorian date of a day counted from 1970-01-01
/// (Howard Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1_460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = (day_of_year - (153 * month_index + 2) / 5 + 1) as u32;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    } as u32;
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use super::{utc_timestamp, Json};

    #[test]
    fn timestamps_are_utc_calendar_dates() {
        assert_eq!(utc_timestamp(UNIX_EPOCH), "1970-01-01T00:00:00Z");
        // 2000-02-29 (a leap day) 12:34:56 UTC.
        let leap_day = UNIX_EPOCH + Duration::from_secs(951_827_696);
        assert_eq!(utc_timestamp(leap_day), "2000-02-29T12:34:56Z");
        let recent = UNIX_EPOCH + Duration::from_secs(1_763_776_800);
        assert_eq!(utc_timestamp(recent), "2025-11-22T02:00:00Z");
    }

    #[test]
    fn renders_nested_values_and_escapes_text() {
        let value = Json::object([
            ("name", Json::text("a \"b\"\n")),
            ("samples", Json::numbers(&[1.0, 2.5, 1.0 / 3.0, f64::NAN])),
            ("empty", Json::object([])),
            (
                "runs",
                Json::Array(vec![Json::object([("ok", Json::Bool(true))])]),
            ),
        ]);
        let expected = "{\n  \"name\": \"a \\\"b\\\"\\n\",\n  \"samples\": [1, 2.5, 0.333, null],\n  \"empty\": {},\n  \"runs\": [\n    {\n      \"ok\": true\n    }\n  ]\n}\n";
        assert_eq!(value.render(), expected);
    }
}
