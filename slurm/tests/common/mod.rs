//! What the golden tests share: reading a reference capture of real Slurm
//! 22.05 (`tests/reference/NN_*.txt`: the command, what it printed, then
//! `[exit=N]`).

use std::path::Path;

/// A reference capture: what it printed and its exit code.
pub struct Capture {
    pub output: String,
    pub exit_code: i32,
}

pub fn capture(name: &str) -> Capture {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/reference")
        .join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let body = text.split_once('\n').expect("a command line").1;
    let (output, exit) = body.rsplit_once("[exit=").expect("an exit line");
    Capture {
        output: output.to_string(),
        exit_code: exit
            .trim_end()
            .trim_end_matches(']')
            .parse()
            .expect("an exit code"),
    }
}
