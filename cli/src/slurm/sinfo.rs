//! `sinfo`: options, formats and grouping are `corral_slurm::sinfo`'s; here
//! the environment is read, the cluster asked, the result printed.

use corral_slurm::sinfo::{self, Invocation};
use corral_slurm::SlurmError;

use super::connection::connect;
use super::nodes;

const COMMAND: &str = "sinfo";

/// The environment variables sinfo reads.
fn sinfo_environment() -> Vec<(String, String)> {
    std::env::vars()
        .filter(|(name, _)| name.starts_with("SINFO_") || name == "SLURM_CLUSTERS")
        .collect()
}

pub fn run(args: &[String]) -> Result<u8, SlurmError> {
    let query = match sinfo::parse_command_line(args, &sinfo_environment())? {
        Invocation::Print(text) => {
            print!("{text}");
            return Ok(0);
        }
        Invocation::Show(query) => query,
    };
    for warning in &query.warnings {
        eprintln!("{warning}");
    }
    let Some(seconds) = query.iterate_seconds else {
        let view = nodes::fetch(COMMAND, &connect(COMMAND)?, "slurm_load_partitions: ")?;
        print!("{}", sinfo::render(&query, &view));
        return Ok(0);
    };
    // `-i`: print, a blank line, sleep, again, until interrupted; a round
    // that cannot read the cluster says why and the next one tries again.
    // Each round builds its own client: a client's connections belong to
    // the runtime of the call that opened them.
    loop {
        let view = connect(COMMAND)
            .and_then(|client| nodes::fetch(COMMAND, &client, "slurm_load_partitions: "));
        match view {
            Ok(view) => print!("{}", sinfo::render(&query, &view)),
            Err(error) => eprint!("{}", error.stderr_text()),
        }
        println!();
        std::thread::sleep(std::time::Duration::from_secs(seconds));
    }
}
