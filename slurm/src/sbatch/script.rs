//! The batch script: Slurm's checks on it (`_get_script_buffer`), `--wrap`,
//! and the scan for `#SBATCH` directives (`_opt_batch_script`,
//! `get_argument`).
//!
//! Directives are read from the top of the script down to the first line
//! that holds a command (any character other than whitespace before a `#`);
//! blank lines and comments do not stop the scan. A line starting with
//! `#SBATCH` (or `#SLURM`, with a warning) contributes the words after it,
//! split at whitespace; `'` and `"` group words, a backslash takes the next
//! character literally (except whitespace, which still ends the word), an
//! unquoted `#` starts a comment, and a word that comes out empty (`""`)
//! ends the line, as in Slurm.

use crate::c_number::is_c_space;
use crate::error::{error_line, fatal_line, SlurmError, EXIT_FAILURE};

use super::COMMAND;

/// A batch script that passed Slurm's checks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BatchScript {
    text: String,
}

impl BatchScript {
    /// Checks a script read from a file or stdin, with Slurm's messages: empty,
    /// only whitespace, no `#!`, a NUL byte, DOS line breaks. Corral also
    /// needs UTF-8.
    pub fn from_bytes(bytes: &[u8]) -> Result<BatchScript, SlurmError> {
        let failure = |lines: &[&str]| {
            SlurmError::new(
                lines.iter().map(|line| error_line(COMMAND, line)).collect(),
                EXIT_FAILURE,
            )
        };
        if bytes.is_empty() {
            return Err(failure(&["Batch script is empty!"]));
        }
        if bytes.iter().all(|b| is_c_space(char::from(*b))) {
            return Err(failure(&["Batch script contains only whitespace!"]));
        }
        if !bytes.starts_with(b"#!") {
            return Err(failure(&[
                "This does not look like a batch script.  The first",
                "line must start with #! followed by the path to an interpreter.",
                "For instance: #!/bin/sh",
            ]));
        }
        if bytes.contains(&0) {
            return Err(failure(&[
                "The Slurm controller does not allow scripts that",
                "contain a NULL character '\\0'.",
            ]));
        }
        if bytes.windows(2).any(|pair| pair == b"\r\n") {
            return Err(failure(&[
                "Batch script contains DOS line breaks (\\r\\n)",
                "instead of expected UNIX line breaks (\\n).",
            ]));
        }
        let text = String::from_utf8(bytes.to_vec())
            .map_err(|_| failure(&["Batch script is not valid UTF-8, which Corral requires."]))?;
        Ok(BatchScript { text })
    }

    /// The script `sbatch --wrap` builds around a command.
    pub fn wrap(command: &str) -> BatchScript {
        BatchScript {
            text: format!("#!/bin/sh\n# This script was created by sbatch --wrap.\n\n{command}\n"),
        }
    }

    pub fn text(&self) -> &str {
        &self.text
    }

    pub fn into_text(self) -> String {
        self.text
    }
}

/// `sbatch: error: Unable to open file <path>`, exit 1, for a script the
/// caller could not read.
pub fn unable_to_open_error(path: &str) -> SlurmError {
    SlurmError::command_error(
        COMMAND,
        &format!("Unable to open file {path}"),
        EXIT_FAILURE,
    )
}

/// The words of a script's directives, in order, and the warnings met.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Directives {
    pub words: Vec<String>,
    pub warnings: Vec<String>,
}

const MAGIC_WORD: &str = "#SBATCH";
const OLD_MAGIC_WORD: &str = "#SLURM";

/// Collects the directive words of a script. `file` names the script in
/// fatal messages (its base name, or `stdin`).
pub(crate) fn scan_directives(script: &str, file: &str) -> Result<Directives, SlurmError> {
    let mut directives = Directives::default();
    for (index, line) in script.split('\n').enumerate() {
        let line_number = index + 1;
        let rest = if let Some(rest) = line.strip_prefix(MAGIC_WORD) {
            rest
        } else if let Some(rest) = line.strip_prefix(OLD_MAGIC_WORD) {
            if directives.warnings.is_empty() {
                directives.warnings.push(error_line(
                    COMMAND,
                    "Change from #SLURM to #SBATCH in your script and verify the options are valid in sbatch",
                ));
            }
            rest
        } else if is_command(line) {
            break;
        } else {
            continue;
        };
        if is_heterogeneous_separator(line) {
            return Err(SlurmError::command_error(
                COMMAND,
                "heterogeneous jobs (#SBATCH hetjob) are not supported by Corral yet",
                EXIT_FAILURE,
            ));
        }
        let mut remaining = rest;
        while let Some((word, consumed)) = next_word(file, line_number, remaining)? {
            directives.words.push(word);
            remaining = &remaining[consumed..];
        }
    }
    Ok(directives)
}

/// Whether a line holds something other than whitespace before any `#`.
fn is_command(line: &str) -> bool {
    line.chars()
        .find(|c| !is_c_space(*c))
        .is_some_and(|c| c != '#')
}

/// Slurm starts a new heterogeneous job component at a directive line that
/// mentions `hetjob` (or the older `packjob`) anywhere, in any case.
fn is_heterogeneous_separator(line: &str) -> bool {
    let lower = line.to_ascii_lowercase();
    lower.contains("hetjob") || lower.contains("packjob")
}

/// Slurm's `get_argument`: the next word of a directive line and how many
/// bytes of `line` it used, or `None` when the line has no more words.
fn next_word(
    file: &str,
    line_number: usize,
    line: &str,
) -> Result<Option<(String, usize)>, SlurmError> {
    let fatal =
        |message: String| SlurmError::new(vec![fatal_line(COMMAND, &message)], EXIT_FAILURE);
    let start = line.len() - line.trim_start_matches(is_c_space).len();
    let mut chars = line[start..]
        .char_indices()
        .map(|(i, c)| (start + i, c))
        .peekable();
    match chars.peek() {
        None => return Ok(None),
        Some((_, ':')) => {
            return Err(fatal(format!(
                "{file}: line {line_number}: Unexpected `:` in [{line}]"
            )))
        }
        Some(_) => {}
    }
    let mut word = String::new();
    let mut copied_any = false;
    let mut escaped = false;
    let mut quote: Option<char> = None;
    let mut end = line.len();
    for (offset, c) in chars {
        if quote.is_none() && is_c_space(c) {
            end = offset;
            break;
        }
        if escaped {
            escaped = false;
        } else if c == '\\' {
            escaped = true;
            continue;
        } else if let Some(q) = quote {
            if c == q {
                quote = None;
                continue;
            }
        } else if c == '"' || c == '\'' {
            quote = Some(c);
            continue;
        } else if c == '#' {
            end = offset;
            break;
        }
        word.push(c);
        copied_any = true;
    }
    if let Some(q) = quote {
        return Err(fatal(format!(
            "{file}: line {line_number}: Unmatched `{q}` in [{line}]"
        )));
    }
    Ok(copied_any.then_some((word, end)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(script: &str) -> Vec<String> {
        scan_directives(script, "job.sh").unwrap().words
    }

    #[test]
    fn script_checks_use_slurm_messages() {
        let lines = |bytes: &[u8]| BatchScript::from_bytes(bytes).unwrap_err().lines;
        assert_eq!(lines(b""), vec!["sbatch: error: Batch script is empty!"]);
        assert_eq!(
            lines(b" \n\t\n"),
            vec!["sbatch: error: Batch script contains only whitespace!"]
        );
        assert_eq!(
            lines(b"echo no shebang\n"),
            vec![
                "sbatch: error: This does not look like a batch script.  The first",
                "sbatch: error: line must start with #! followed by the path to an interpreter.",
                "sbatch: error: For instance: #!/bin/sh",
            ]
        );
        assert_eq!(
            lines(b"#!/bin/sh\n\0"),
            vec![
                "sbatch: error: The Slurm controller does not allow scripts that",
                "sbatch: error: contain a NULL character '\\0'.",
            ]
        );
        assert_eq!(
            lines(b"#!/bin/sh\r\ntrue\r\n")[0],
            "sbatch: error: Batch script contains DOS line breaks (\\r\\n)"
        );
        assert_eq!(
            BatchScript::from_bytes(b"#!/bin/sh\ntrue\n")
                .unwrap()
                .text(),
            "#!/bin/sh\ntrue\n"
        );
        assert_eq!(BatchScript::from_bytes(b"#!").unwrap().text(), "#!");
        assert_eq!(BatchScript::from_bytes(b"").unwrap_err().exit_code, 1);
    }

    #[test]
    fn wrap_matches_slurm() {
        assert_eq!(
            BatchScript::wrap("hostname").text(),
            "#!/bin/sh\n# This script was created by sbatch --wrap.\n\nhostname\n"
        );
        assert_eq!(
            unable_to_open_error("/nonexistent/file.sh").stderr_text(),
            "sbatch: error: Unable to open file /nonexistent/file.sh\n"
        );
    }

    #[test]
    fn scans_only_the_header() {
        let script = "#!/bin/bash\n#SBATCH -J demo\n\n# a comment\n   \n#SBATCH -o out-%j.txt\necho hi\n#SBATCH -p late\n";
        assert_eq!(words(script), vec!["-J", "demo", "-o", "out-%j.txt"]);
        assert_eq!(
            words("#!/bin/sh\n  # indented comment\n#SBATCH -N 2"),
            vec!["-N", "2"]
        );
        assert_eq!(
            words("#!/bin/sh\n  x=1\n#SBATCH -N 2"),
            Vec::<String>::new()
        );
        assert_eq!(
            words("#!/bin/sh\n # SBATCH -N 2\n#sbatch -N 3\n"),
            Vec::<String>::new()
        );
    }

    #[test]
    fn splits_words_like_get_argument() {
        let cases: &[(&str, &[&str])] = &[
            (
                "#SBATCH --job-name=\"my job\" -p debug",
                &["--job-name=my job", "-p", "debug"],
            ),
            ("#SBATCH -J 'a \"b\"'", &["-J", "a \"b\""]),
            ("#SBATCH -J a\\\"b", &["-J", "a\"b"]),
            ("#SBATCH -J a\\ b", &["-J", "a", "b"]),
            ("#SBATCH -J x # a comment -p y", &["-J", "x"]),
            ("#SBATCH -J x#y", &["-J", "x"]),
            ("#SBATCH -J \"x#y\"", &["-J", "x#y"]),
            ("#SBATCH -J \\#x", &["-J", "#x"]),
            ("#SBATCH -J \"\" -p y", &["-J"]),
            ("#SBATCH", &[]),
            ("#SBATCH   ", &[]),
            ("#SBATCHX -J y", &["X", "-J", "y"]),
            ("#SBATCH\t-t\t5", &["-t", "5"]),
            ("#SBATCH -J a\"b c\"d", &["-J", "ab cd"]),
        ];
        for (line, expected) in cases {
            assert_eq!(words(&format!("#!/bin/sh\n{line}\n")), *expected, "{line}");
        }
    }

    #[test]
    fn malformed_lines_are_fatal() {
        let error = scan_directives("#!/bin/sh\n#SBATCH -J \"abc\n", "job.sh").unwrap_err();
        assert_eq!(
            error.lines,
            vec!["sbatch: fatal: job.sh: line 2: Unmatched `\"` in [ \"abc]"]
        );
        assert_eq!(error.exit_code, 1);
        let error = scan_directives("#!/bin/sh\n#SBATCH -N 1 : -N 2\n", "stdin").unwrap_err();
        assert_eq!(
            error.lines,
            vec!["sbatch: fatal: stdin: line 2: Unexpected `:` in [ : -N 2]"]
        );
        let error = scan_directives("#!/bin/sh\n#SBATCH hetjob\n", "stdin").unwrap_err();
        assert!(error.lines[0].contains("not supported by Corral yet"));
    }

    #[test]
    fn old_magic_word_warns_once() {
        let directives = scan_directives("#!/bin/sh\n#SLURM -J a\n#SLURM -p b\n", "x").unwrap();
        assert_eq!(directives.words, vec!["-J", "a", "-p", "b"]);
        assert_eq!(
            directives.warnings,
            vec!["sbatch: error: Change from #SLURM to #SBATCH in your script and verify the options are valid in sbatch"]
        );
    }
}
