//! The one error type of every command in this crate.

use thiserror::Error;

/// Exit code of Slurm's `exit(error_exit)`: bad partition, bad script, ...
pub const EXIT_FAILURE: i32 = 1;
/// Exit code of Slurm's `exit(-1)`: unknown option, bad `--time`, bad `--mem`.
pub const EXIT_OPTION_ERROR: i32 = 255;

/// What a Slurm command prints on stderr before it exits, and its exit code.
/// Each line is exact (`sbatch: error: Invalid --time specification`),
/// without its newline.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[error("{}", lines.join("\n"))]
pub struct SlurmError {
    pub lines: Vec<String>,
    pub exit_code: i32,
}

impl SlurmError {
    pub fn new(lines: Vec<String>, exit_code: i32) -> SlurmError {
        SlurmError { lines, exit_code }
    }

    /// One `{command}: error: {message}` line, as Slurm's `error()` prints it.
    pub fn command_error(command: &str, message: &str, exit_code: i32) -> SlurmError {
        SlurmError::new(vec![error_line(command, message)], exit_code)
    }

    /// The lines as written to stderr, each ending in a newline.
    pub fn stderr_text(&self) -> String {
        self.lines.iter().map(|line| format!("{line}\n")).collect()
    }
}

/// `{command}: error: {message}`.
pub fn error_line(command: &str, message: &str) -> String {
    format!("{command}: error: {message}")
}

/// `{command}: fatal: {message}` (Slurm's `fatal()`, which exits 1).
pub fn fatal_line(command: &str, message: &str) -> String {
    format!("{command}: fatal: {message}")
}
