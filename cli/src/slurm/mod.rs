//! The Slurm commands (being written).

pub enum SlurmCommand {}

pub fn command_named(_name: &str) -> Option<SlurmCommand> {
    None
}

pub fn run(command: SlurmCommand, _args: Vec<String>) -> u8 {
    match command {}
}
