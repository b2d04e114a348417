//! The Prometheus text exposition format, version 0.0.4: for each metric a
//! `# HELP` and a `# TYPE` line, then its samples.

use std::fmt::Write;

use crate::HistogramSnapshot;

/// The `Content-Type` of the text format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Gauge,
    Counter,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Gauge => "gauge",
            Kind::Counter => "counter",
        }
    }
}

/// One scrape's text, metric by metric.
#[derive(Default)]
pub struct Exposition {
    text: String,
}

impl Exposition {
    pub fn new() -> Exposition {
        Exposition::default()
    }

    /// A metric without labels.
    pub fn single(&mut self, kind: Kind, name: &str, help: &str, value: f64) {
        self.header(name, help, kind.name());
        self.sample(name, &[], value);
    }

    /// A metric with labels: one sample per entry of `samples`.
    pub fn family<'a>(
        &mut self,
        kind: Kind,
        name: &str,
        help: &str,
        samples: impl IntoIterator<Item = (Vec<(&'a str, String)>, f64)>,
    ) {
        self.header(name, help, kind.name());
        for (labels, value) in samples {
            let labels: Vec<(&str, &str)> = labels.iter().map(|(k, v)| (*k, v.as_str())).collect();
            self.sample(name, &labels, value);
        }
    }

    /// A histogram: cumulative `_bucket{le=...}` samples, `_sum` and `_count`.
    pub fn histogram(&mut self, name: &str, help: &str, histogram: &HistogramSnapshot) {
        self.header(name, help, "histogram");
        let bucket = format!("{name}_bucket");
        for (upper, count) in histogram.cumulative() {
            let le = format_value(upper);
            self.sample(&bucket, &[("le", &le)], count as f64);
        }
        self.sample(&format!("{name}_sum"), &[], histogram.sum_seconds());
        self.sample(&format!("{name}_count"), &[], histogram.count() as f64);
    }

    pub fn finish(self) -> String {
        self.text
    }

    fn header(&mut self, name: &str, help: &str, kind: &str) {
        debug_assert!(valid_name(name), "{name} is not a metric name");
        let _ = writeln!(self.text, "# HELP {name} {}", escape_help(help));
        let _ = writeln!(self.text, "# TYPE {name} {kind}");
    }

    fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: f64) {
        self.text.push_str(name);
        if !labels.is_empty() {
            self.text.push('{');
            for (index, (key, value)) in labels.iter().enumerate() {
                debug_assert!(valid_name(key), "{key} is not a label name");
                if index > 0 {
                    self.text.push(',');
                }
                let _ = write!(self.text, "{key}=\"{}\"", escape_label(value));
            }
            self.text.push('}');
        }
        let _ = writeln!(self.text, " {}", format_value(value));
    }
}

fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

/// `\` and newlines are escaped in help text.
fn escape_help(text: &str) -> String {
    text.replace('\\', "\\\\").replace('\n', "\\n")
}

/// `\`, `"` and newlines are escaped in label values.
fn escape_label(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// Integers without a fraction, infinities as Go writes them.
fn format_value(value: f64) -> String {
    if value.is_nan() {
        "NaN".to_string()
    } else if value.is_infinite() {
        if value > 0.0 { "+Inf" } else { "-Inf" }.to_string()
    } else if value.fract() == 0.0 && value.abs() < 1e15 {
        format!("{}", value as i64)
    } else {
        format!("{value}")
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::Histogram;

    fn parse(text: &str) -> prometheus_parse::Scrape {
        for line in text.lines() {
            assert_ne!(
                prometheus_parse::LineInfo::parse(line),
                prometheus_parse::LineInfo::Ignored,
                "the parser does not understand {line:?}"
            );
        }
        prometheus_parse::Scrape::parse(text.lines().map(|l| Ok(l.to_string()))).unwrap()
    }

    #[test]
    fn every_line_parses_and_values_round_trip() {
        let mut out = Exposition::new();
        out.single(Kind::Gauge, "corral_raft_term", "The current term.", 7.0);
        out.single(
            Kind::Counter,
            "x_total",
            "A back\\slash\nand a newline.",
            3.0,
        );
        out.family(
            Kind::Gauge,
            "corral_jobs",
            "Jobs by state.",
            [
                (vec![("state", "pending".to_string())], 2.0),
                (vec![("state", "a \"quoted\" one".to_string())], 0.5),
            ],
        );
        let histogram = Histogram::new(&[0.01, 0.1]);
        histogram.observe(Duration::from_millis(5));
        histogram.observe(Duration::from_millis(50));
        histogram.observe(Duration::from_secs(1));
        out.histogram(
            "corral_submit_duration_seconds",
            "Submit latency.",
            &histogram.snapshot(),
        );
        let text = out.finish();
        let scrape = parse(&text);
        let value = |name: &str| {
            scrape
                .samples
                .iter()
                .find(|s| s.metric == name)
                .map(|s| s.value.clone())
        };
        assert_eq!(
            value("corral_raft_term"),
            Some(prometheus_parse::Value::Gauge(7.0))
        );
        assert_eq!(
            value("x_total"),
            Some(prometheus_parse::Value::Counter(3.0))
        );
        let Some(prometheus_parse::Value::Histogram(buckets)) =
            value("corral_submit_duration_seconds")
        else {
            panic!("no histogram in\n{text}");
        };
        let counts: Vec<(f64, f64)> = buckets.iter().map(|b| (b.less_than, b.count)).collect();
        assert_eq!(counts, [(0.01, 1.0), (0.1, 2.0), (f64::INFINITY, 3.0)]);
        assert!(
            text.contains("corral_submit_duration_seconds_count 3\n"),
            "{text}"
        );
        assert!(
            text.contains("corral_submit_duration_seconds_sum 1.055\n"),
            "{text}"
        );
        assert!(
            text.contains(r#"corral_jobs{state="a \"quoted\" one"} 0.5"#),
            "{text}"
        );
        assert!(
            text.contains("# HELP x_total A back\\\\slash\\nand a newline.\n"),
            "{text}"
        );
    }

    #[test]
    fn values_are_written_as_prometheus_reads_them() {
        assert_eq!(format_value(3.0), "3");
        assert_eq!(format_value(0.25), "0.25");
        assert_eq!(format_value(f64::INFINITY), "+Inf");
        assert_eq!(format_value(f64::NAN), "NaN");
        assert_eq!(format_value(-2.0), "-2");
    }
}
