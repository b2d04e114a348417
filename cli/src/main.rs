//! `corral`, and by the name it is called with, the Slurm commands.
//!
//! One binary serves every role so that an installation is one file plus
//! links: `sbatch`, `squeue`, `scontrol` and `scancel` are links to
//! `corral`, which looks at `argv[0]`.

mod corral;
mod slurm;
mod token;

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let invoked_as = args
        .first()
        .map(|arg0| {
            std::path::Path::new(arg0)
                .file_name()
                .map(|name| name.to_string_lossy().into_owned())
                .unwrap_or_default()
        })
        .unwrap_or_default();
    let code = match slurm::command_named(&invoked_as) {
        Some(command) => slurm::run(command, args),
        None => corral::main(args),
    };
    ExitCode::from(code)
}
