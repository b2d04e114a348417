//! squeue 22.05: the format engine (`squeue/opts.c` and `print.c`) here;
//! what each field shows in [`fields`], the sort keys of `-S` in [`sort`],
//! the command line and the `SQUEUE_*` variables in [`options`].
//!
//! A `-o` format is a prefix, then fields `%[.][width]X`, each followed by
//! the literal text up to the next `%` (`%%` does not print a percent sign:
//! like Slurm's `strtok`, it is skipped). `.` right-aligns; the default is
//! left. A left-aligned value is always cut to its width; a right-aligned
//! one is cut too, except durations and node lists, which Slurm lets
//! overflow. A character that is no field letter prints back as written
//! (`%-5j`) and yields the line `squeue: error: Invalid job format
//! specification: -`.
//!
//! A `-O` format is a comma-separated list of `name[:[.]width[suffix]]`
//! (any case); without `:` a field is 20 wide, left-aligned, with nothing
//! after it. An unknown name prints only its suffix and yields `squeue:
//! error: Invalid job format specification: name`.

mod fields;
pub mod options;
pub mod sort;
pub mod steps;

pub use fields::FieldKind;

use corral_state::Job;

use crate::display::DisplayContext;
use crate::error::{error_line, SlurmError, EXIT_FAILURE};

/// `squeue` without `-o`.
pub const DEFAULT_FORMAT: &str = "%.18i %.9P %.8j %.8u %.2t %.10M %.6D %R";
/// `squeue -l`.
pub const LONG_FORMAT: &str = "%.18i %.9P %.8j %.8u %.8T %.10M %.9l %.6D %R";
/// `squeue --start` without a format.
pub const START_FORMAT: &str = "%.18i %.9P %.8j %.8u %.2t %.19S %.6D %20Y %R";

/// One field of a format.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Field {
    pub kind: FieldKind,
    pub width: usize,
    pub right_aligned: bool,
    /// Literal text printed after the field.
    pub suffix: String,
}

/// A parsed `-o` or `-O` format.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JobFormat {
    /// Literal text before the first field.
    pub prefix: String,
    pub fields: Vec<Field>,
}

/// An `-O` field without `:width` (`_parse_long_token`).
const LONG_FIELD_WIDTH_DEFAULT: usize = 20;

impl JobFormat {
    /// Parses `-o`; unknown letters come back as the lines squeue prints
    /// on stderr (it carries on regardless).
    pub fn parse(format: &str) -> (JobFormat, Vec<String>) {
        if format.eq_ignore_ascii_case("%all") {
            return (JobFormat::parse(&all_letters_format()).0, Vec::new());
        }
        let mut warnings = Vec::new();
        let (prefix, body) = match format.find('%') {
            Some(index) => (&format[..index], &format[index..]),
            None => (format, ""),
        };
        let fields = body
            .split('%')
            .filter(|token| !token.is_empty())
            .map(|token| {
                let field = parse_token(token);
                if field.kind == FieldKind::Invalid {
                    let letter = token
                        .trim_start_matches('.')
                        .trim_start_matches(|c: char| c.is_ascii_digit());
                    let letter: String = letter.chars().take(1).collect();
                    warnings.push(error_line(
                        "squeue",
                        &format!("Invalid job format specification: {letter}"),
                    ));
                }
                field
            })
            .collect();
        (
            JobFormat {
                prefix: prefix.to_string(),
                fields,
            },
            warnings,
        )
    }

    /// Parses `-O`. Unknown names come back as squeue's stderr lines; a
    /// name Slurm has whose data Corral lacks is refused.
    pub fn parse_long(format: &str) -> Result<(JobFormat, Vec<String>), SlurmError> {
        let mut warnings = Vec::new();
        let mut fields = Vec::new();
        for token in format.split(',').filter(|token| !token.is_empty()) {
            let (name, width, right_aligned, suffix) = parse_long_token(token);
            if let Some(refused) = fields::REFUSED_NAMES
                .iter()
                .find(|refused| refused.eq_ignore_ascii_case(name))
            {
                return Err(SlurmError::command_error(
                    "squeue",
                    &format!("-O {refused} is not supported by Corral yet"),
                    EXIT_FAILURE,
                ));
            }
            let kind = FieldKind::from_long_name(name).unwrap_or(FieldKind::Invalid);
            if kind == FieldKind::Invalid {
                warnings.push(error_line(
                    "squeue",
                    &format!("Invalid job format specification: {name}"),
                ));
            }
            fields.push(Field {
                kind,
                // Slurm prints only the suffix of an unknown field.
                width: if kind == FieldKind::Invalid { 0 } else { width },
                right_aligned,
                suffix,
            });
        }
        Ok((
            JobFormat {
                prefix: String::new(),
                fields,
            },
            warnings,
        ))
    }
}

/// `-o %all`: every letter, `a` to `z` then `A` to `Z`, separated by `|`.
fn all_letters_format() -> String {
    ('a'..='z')
        .chain('A'..='Z')
        .map(|letter| format!("%{letter}"))
        .collect::<Vec<_>>()
        .join("|")
}

/// `[.][digits]letter suffix`, as Slurm's `_parse_token` reads it.
fn parse_token(token: &str) -> Field {
    let right_aligned = token.starts_with('.');
    let rest = if right_aligned { &token[1..] } else { token };
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    let width = parse_width(&rest[..digits]);
    let after = &rest[digits..];
    let letter = after.chars().next();
    let suffix_start = letter.map_or(0, char::len_utf8);
    match letter.and_then(FieldKind::from_letter) {
        Some(kind) => Field {
            kind,
            width,
            right_aligned,
            suffix: after[suffix_start..].to_string(),
        },
        // Slurm prints an unknown field as the text it came from, unpadded.
        None => Field {
            kind: FieldKind::Invalid,
            width: 0,
            right_aligned,
            suffix: format!("%{token}"),
        },
    }
}

/// `name[:[.]width[suffix]]`: the width read as `strtol` reads it,
/// whatever follows is the suffix.
fn parse_long_token(token: &str) -> (&str, usize, bool, String) {
    let Some((name, spec)) = token.split_once(':') else {
        return (token, LONG_FIELD_WIDTH_DEFAULT, false, String::new());
    };
    let right_aligned = spec.starts_with('.');
    let spec = if right_aligned { &spec[1..] } else { spec };
    let digits = spec.bytes().take_while(u8::is_ascii_digit).count();
    (
        name,
        parse_width(&spec[..digits]),
        right_aligned,
        spec[digits..].to_string(),
    )
}

fn parse_width(digits: &str) -> usize {
    if digits.is_empty() {
        return 0;
    }
    digits.parse::<usize>().unwrap_or(WIDTH_MAX).min(WIDTH_MAX)
}

/// Widths beyond this are clamped (Slurm formats into a bounded buffer).
const WIDTH_MAX: usize = 4_096;

/// Slurm's `_print_str`, appended to `out`: right-aligned pads on the left
/// and, when `cut`, keeps the first `width` characters; left-aligned always
/// keeps the first `width` characters and pads on the right; width 0 prints
/// as is. No string of its own: it runs for every field of every job.
fn push_fitted(out: &mut String, text: &str, width: usize, right_aligned: bool, cut: bool) {
    if width == 0 {
        out.push_str(text);
        return;
    }
    let length = text.chars().count();
    let pad = width.saturating_sub(length);
    let kept = if right_aligned && !cut {
        text
    } else {
        match text.char_indices().nth(width) {
            Some((end, _)) => &text[..end],
            None => text,
        }
    };
    if right_aligned {
        out.extend(std::iter::repeat_n(' ', pad));
        out.push_str(kept);
    } else {
        out.push_str(kept);
        out.extend(std::iter::repeat_n(' ', pad));
    }
}

/// The header line of a format.
pub fn header_line(format: &JobFormat) -> String {
    let mut out = format.prefix.clone();
    for field in &format.fields {
        push_fitted(
            &mut out,
            field.kind.header(),
            field.width,
            field.right_aligned,
            field.kind.header_is_cut(),
        );
        out.push_str(&field.suffix);
    }
    out.push('\n');
    out
}

/// Prints jobs in the given format, one line each, with the header line
/// first unless `header` is false (`-h`).
pub fn format_jobs(
    jobs: &[Job],
    format: &JobFormat,
    context: &DisplayContext,
    header: bool,
) -> String {
    let mut out = if header {
        header_line(format)
    } else {
        String::new()
    };
    for job in jobs {
        out.push_str(&format.prefix);
        for field in &format.fields {
            let (value, cut) = field.kind.value(job, context);
            push_fitted(&mut out, &value, field.width, field.right_aligned, cut);
            out.push_str(&field.suffix);
        }
        out.push('\n');
    }
    out
}

/// The time line squeue prints first with `-l`, `-i` or `-v`: the time,
/// as `ctime` prints it.
pub fn long_list_time_line(context: &DisplayContext) -> String {
    format!(
        "{}\n",
        crate::time::ctime_text(context.now_ms, context.utc_offset_seconds)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::display::tests::job;
    use corral_state::JobState;
    use proptest::prelude::*;

    fn render(format: &str, jobs: &[Job], context: &DisplayContext, header: bool) -> String {
        let (format, warnings) = JobFormat::parse(format);
        assert!(warnings.is_empty(), "{warnings:?}");
        format_jobs(jobs, &format, context, header)
    }

    #[test]
    fn parses_fields_prefix_and_suffixes() {
        let (format, warnings) = JobFormat::parse("id:%.18i|%-5j%%@%x");
        assert_eq!(format.prefix, "id:");
        assert_eq!(format.fields[0].width, 18);
        assert!(format.fields[0].right_aligned);
        assert_eq!(format.fields[0].suffix, "|");
        // `-` is no flag for squeue: `%-5j` is the unknown letter `-`.
        assert_eq!(format.fields[1].kind, FieldKind::Invalid);
        assert_eq!(format.fields[1].suffix, "%-5j");
        assert_eq!(
            warnings,
            vec![
                "squeue: error: Invalid job format specification: -",
                "squeue: error: Invalid job format specification: @",
            ]
        );
        assert_eq!(format.fields[2].kind, FieldKind::Invalid);
        assert_eq!(format.fields[3].kind, FieldKind::ExcludedNodes);
    }

    /// What `push_fitted` appends, checking that it only appends.
    fn fit(text: &str, width: usize, right_aligned: bool, cut: bool) -> String {
        let mut out = String::from("kept:");
        push_fitted(&mut out, text, width, right_aligned, cut);
        assert!(out.starts_with("kept:"), "{out:?}");
        out.split_off("kept:".len())
    }

    #[test]
    fn fits_like_print_str() {
        assert_eq!(fit("JOBID", 18, true, true), "             JOBID");
        assert_eq!(fit("long2", 3, true, true), "lon");
        assert_eq!(fit("1-00:00:00", 4, true, false), "1-00:00:00");
        assert_eq!(fit("abcdef", 3, false, false), "abc");
        assert_eq!(fit("ab", 4, false, true), "ab  ");
        assert_eq!(fit("ab", 0, true, true), "ab");
        // Widths count characters, not bytes.
        assert_eq!(fit("ñandú", 3, false, false), "ñan");
        assert_eq!(fit("ñandú", 3, true, true), "ñan");
        assert_eq!(fit("ú", 3, true, true), "  ú");
        assert_eq!(fit("ú", 3, false, true), "ú  ");
    }

    #[test]
    fn format_without_fields_prints_its_text() {
        let context = DisplayContext::new(0, 0);
        let jobs = [job(1, "a", JobState::Pending)];
        assert_eq!(render("hello", &jobs, &context, true), "hello\nhello\n");
        assert_eq!(render("", &jobs, &context, false), "\n");
    }

    #[test]
    fn pending_and_finished_reasons() {
        let context = DisplayContext::new(0, 0);
        let mut failed = job(2, "f", JobState::Failed);
        failed.start_time_ms = Some(0);
        failed.end_time_ms = Some(65_000);
        let out = render(
            "%i %t %M %R %r",
            &[job(1, "p", JobState::Pending), failed],
            &context,
            false,
        );
        assert_eq!(
            out,
            "1 PD 0:00 (None) None\n2 F 1:05 (NonZeroExitCode) NonZeroExitCode\n"
        );
    }

    #[test]
    fn time_left_and_limits() {
        let mut context = DisplayContext::new(120_000, 0);
        let mut running = job(3, "r", JobState::Running);
        running.start_time_ms = Some(0);
        std::sync::Arc::make_mut(&mut running.spec).time_limit_minutes = Some(30);
        let out = render("%l %L %M", std::slice::from_ref(&running), &context, false);
        assert_eq!(out, "30:00 28:00 2:00\n");
        std::sync::Arc::make_mut(&mut running.spec).time_limit_minutes = None;
        assert_eq!(
            render("%l|%L", std::slice::from_ref(&running), &context, false),
            "NOT_SET|NOT_SET\n"
        );
        context
            .partition_time_limits
            .insert("debug".to_string(), None);
        assert_eq!(
            render("%.9l|%L", &[running], &context, false),
            "UNLIMITED|UNLIMITED\n"
        );
    }

    #[test]
    fn parses_long_formats() {
        let (format, warnings) =
            JobFormat::parse_long("JobID,name:.5|,bogus:3x,,NumTasks,numtask,state:").unwrap();
        assert_eq!(
            warnings,
            vec!["squeue: error: Invalid job format specification: bogus"]
        );
        let kinds: Vec<FieldKind> = format.fields.iter().map(|f| f.kind).collect();
        assert_eq!(
            kinds,
            vec![
                FieldKind::JobIdRaw,
                FieldKind::Name,
                FieldKind::Invalid,
                FieldKind::NumTasks,
                FieldKind::NumTasks,
                FieldKind::State
            ]
        );
        assert_eq!(format.fields[0].width, 20);
        assert_eq!(format.fields[0].suffix, "");
        assert_eq!(format.fields[1].width, 5);
        assert!(format.fields[1].right_aligned);
        assert_eq!(format.fields[1].suffix, "|");
        assert_eq!(format.fields[2].suffix, "x");
        assert_eq!(format.fields[5].width, 0);
        assert_eq!(
            JobFormat::parse_long("name:99999999999999999999")
                .unwrap()
                .0
                .fields[0]
                .width,
            WIDTH_MAX
        );
        let header = header_line(&format);
        assert_eq!(
            header,
            "JOBID                NAME|xTASKS               TASKS               STATE\n"
        );
    }

    #[test]
    fn all_is_every_letter() {
        let (format, warnings) = JobFormat::parse("%ALL");
        assert!(warnings.is_empty());
        assert_eq!(format.fields.len(), 52);
        assert_eq!(format.fields[0].kind, FieldKind::Account);
        assert_eq!(format.fields[0].suffix, "|");
        assert_eq!(format.fields[51].kind, FieldKind::WorkDir);
        assert_eq!(format.fields[51].suffix, "");
    }

    #[test]
    fn every_letter_is_a_field() {
        let letters: String = ('a'..='z')
            .chain('A'..='Z')
            .map(|c| format!("%{c}|"))
            .collect();
        let (_, warnings) = JobFormat::parse(&letters);
        assert!(warnings.is_empty(), "{warnings:?}");
    }

    #[test]
    fn fields_corral_knows_without_slurms_defaults() {
        let mut context = DisplayContext::new(120_000, 0);
        let mut running = job(3, "r", JobState::Running);
        running.start_time_ms = Some(60_000);
        running.submit_time_ms = 30_000;
        let spec = std::sync::Arc::make_mut(&mut running.spec);
        spec.comment = Some("hello".to_string());
        spec.qos = Some("high".to_string());
        spec.nice = -5;
        spec.time_limit_minutes = Some(10);
        context.node_names.insert(3, vec!["n1".into(), "n2".into()]);
        context.priorities.insert(3, u32::MAX / 2);
        let out = render(
            "%B|%k|%q|%y|%e|%n|%x|%X|%Y|%z|%p|%h|%d|%f|%g|%G",
            std::slice::from_ref(&running),
            &context,
            false,
        );
        assert_eq!(
            out,
            "n1|hello|high|-5|1970-01-01T00:11:00|||N/A|(null)|*:*:*|0.49999999988358|OK|0|(null)|0|0\n"
        );
        context
            .partition_time_limits
            .insert("debug".to_string(), None);
        std::sync::Arc::make_mut(&mut running.spec).time_limit_minutes = None;
        let pending = job(4, "p", JobState::Pending);
        let out = render("%e|%B|%k", &[running, pending], &context, false);
        assert_eq!(out, "NONE|n1|hello\nN/A|n/a|(null)\n");
        let (format, _) =
            JobFormat::parse_long("pendingtime,exit_code:3,cluster:8,stdout:0").unwrap();
        context.cluster_name = Some("lab".to_string());
        let mut failed = job(5, "f", JobState::Failed);
        failed.exit_status.code = 2;
        failed.start_time_ms = Some(90_000);
        let out = format_jobs(&[failed], &format, &context, false);
        assert_eq!(
            out,
            "90                  512lab     /home/alice/work/slurm-5.out\n"
        );
    }

    #[test]
    fn node_lists_overflow_right_aligned_columns() {
        let mut context = DisplayContext::new(0, 0);
        let running = job(3, "r", JobState::Running);
        context
            .node_names
            .insert(3, vec!["node1".into(), "node7".into()]);
        let (format, _) = JobFormat::parse("%.4N|%.4R");
        assert_eq!(
            format_jobs(&[running], &format, &context, true),
            "NODELIST|NODELIST(REASON)\nnode[1,7]|node[1,7]\n"
        );
    }

    proptest! {
        #[test]
        fn any_long_format_parses(format in "\\PC{0,30}") {
            let context = DisplayContext::new(0, 0);
            if let Ok((format, _)) = JobFormat::parse_long(&format) {
                let _ = format_jobs(&[job(1, "a", JobState::Running)], &format, &context, true);
            }
        }

        #[test]
        fn any_format_renders(format in "\\PC{0,30}") {
            let context = DisplayContext::new(0, 0);
            let (format, _) = JobFormat::parse(&format);
            let _ = format_jobs(&[job(1, "a", JobState::Running)], &format, &context, true);
        }
    }
}
