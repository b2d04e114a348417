//! sbatch 22.05's option table: every option it accepts, in the order of
//! Slurm's `common_options[]` (the order glibc lists ambiguous candidates
//! in), with its argument kind. Corral implements some; the others are
//! recognised and refused, never ignored.

use crate::getopt::{HasArg, OptionDef};

/// What an sbatch option does in Corral.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SbatchKey {
    JobName,
    Partition,
    Time,
    CpusPerTask,
    Ntasks,
    Nodes,
    Memory,
    Output,
    Error,
    Input,
    Chdir,
    Hold,
    Parsable,
    Wrap,
    Help,
    Usage,
    Version,
    Quiet,
    Verbose,
    Gres,
    Gpus,
    GpusPerNode,
    Requeue,
    NoRequeue,
    /// `-W`: wait for the job to end and exit with its exit code.
    Wait,
    Account,
    Array,
    Comment,
    Dependency,
    MailType,
    MailUser,
    Nice,
    Qos,
    /// `-b/--begin`.
    Begin,
    /// `-x/--exclude`.
    Exclude,
    /// `--exclusive[=exclusive]`.
    Exclusive,
    Export,
    MemoryPerCpu,
    /// `-w/--nodelist`.
    Nodelist,
    /// `--ntasks-per-node` and its old name `--tasks-per-node`.
    NtasksPerNode,
    OpenMode,
    Signal,
    TimeMin,
    /// A real sbatch option Corral does not implement yet, by its canonical
    /// long name (aliases such as `--tasks-per-node` share it).
    Unsupported(&'static str),
}

impl SbatchKey {
    /// Options Slurm handles in its first pass over the command line only;
    /// in a script (and the second pass) they are skipped.
    pub fn is_early(self) -> bool {
        matches!(
            self,
            SbatchKey::Help
                | SbatchKey::Usage
                | SbatchKey::Version
                | SbatchKey::Quiet
                | SbatchKey::Verbose
                | SbatchKey::Wrap
        )
    }
}

const fn implemented(
    long: &'static str,
    short: Option<char>,
    has_arg: HasArg,
    key: SbatchKey,
) -> OptionDef<SbatchKey> {
    OptionDef::new(Some(long), short, has_arg, key)
}

const fn refused(long: &'static str, short: Option<char>, has_arg: HasArg) -> OptionDef<SbatchKey> {
    OptionDef::new(Some(long), short, has_arg, SbatchKey::Unsupported(long))
}

use HasArg::{No, Optional, Required};
use SbatchKey as K;

/// sbatch's options, in Slurm 22.05's table order.
pub const SBATCH_OPTIONS: &[OptionDef<SbatchKey>] = &[
    implemented("account", Some('A'), Required, K::Account),
    refused("acctg-freq", None, Required),
    implemented("array", Some('a'), Required, K::Array),
    refused("batch", None, Required),
    implemented("begin", Some('b'), Required, K::Begin),
    refused("bb", None, Required),
    refused("bbf", None, Required),
    refused("cluster-constraint", None, Required),
    implemented("chdir", Some('D'), Required, K::Chdir),
    refused("cluster", None, Required),
    refused("clusters", Some('M'), Required),
    implemented("comment", None, Required, K::Comment),
    refused("container", None, Required),
    refused("context", None, Required),
    refused("contiguous", None, No),
    refused("constraint", Some('C'), Required),
    refused("core-spec", Some('S'), Required),
    refused("cores-per-socket", None, Required),
    refused("cpu-freq", None, Required),
    refused("cpus-per-gpu", None, Required),
    implemented("cpus-per-task", Some('c'), Required, K::CpusPerTask),
    refused("deadline", None, Required),
    refused("delay-boot", None, Required),
    implemented("dependency", Some('d'), Required, K::Dependency),
    refused("distribution", Some('m'), Required),
    implemented("error", Some('e'), Required, K::Error),
    implemented("exclude", Some('x'), Required, K::Exclude),
    implemented("exclusive", None, Optional, K::Exclusive),
    implemented("export", None, Required, K::Export),
    refused("export-file", None, Required),
    refused("extra-node-info", Some('B'), Required),
    refused("get-user-env", None, Optional),
    refused("gid", None, Required),
    refused("gpu-bind", None, Required),
    refused("gpu-freq", None, Required),
    implemented("gpus", Some('G'), Required, K::Gpus),
    implemented("gpus-per-node", None, Required, K::GpusPerNode),
    refused("gpus-per-socket", None, Required),
    refused("gpus-per-task", None, Required),
    implemented("gres", None, Required, K::Gres),
    refused("gres-flags", None, Required),
    implemented("help", Some('h'), No, K::Help),
    refused("hint", None, Required),
    implemented("hold", Some('H'), No, K::Hold),
    refused("ignore-pbs", None, No),
    implemented("input", Some('i'), Required, K::Input),
    implemented("job-name", Some('J'), Required, K::JobName),
    refused("kill-on-invalid-dep", None, Required),
    refused("licenses", Some('L'), Required),
    implemented("mail-type", None, Required, K::MailType),
    implemented("mail-user", None, Required, K::MailUser),
    refused("mcs-label", None, Required),
    implemented("mem", None, Required, K::Memory),
    refused("mem-bind", None, Required),
    implemented("mem-per-cpu", None, Required, K::MemoryPerCpu),
    refused("mem-per-gpu", None, Required),
    refused("mincpus", None, Required),
    refused("network", None, Required),
    implemented("nice", None, Optional, K::Nice),
    refused("no-kill", Some('k'), Optional),
    implemented("no-requeue", None, No, K::NoRequeue),
    refused("nodefile", Some('F'), Required),
    implemented("nodelist", Some('w'), Required, K::Nodelist),
    implemented("nodes", Some('N'), Required, K::Nodes),
    implemented("ntasks", Some('n'), Required, K::Ntasks),
    refused("ntasks-per-core", None, Required),
    refused("ntasks-per-gpu", None, Required),
    implemented("ntasks-per-node", None, Required, K::NtasksPerNode),
    refused("ntasks-per-socket", None, Required),
    refused("ntasks-per-tres", None, Required),
    implemented("open-mode", None, Required, K::OpenMode),
    implemented("output", Some('o'), Required, K::Output),
    refused("overcommit", Some('O'), No),
    refused("oversubscribe", Some('s'), No),
    implemented("parsable", None, No, K::Parsable),
    implemented("partition", Some('p'), Required, K::Partition),
    refused("power", None, Required),
    refused("prefer", None, Required),
    refused("priority", None, Required),
    refused("profile", None, Required),
    refused("propagate", None, Optional),
    implemented("qos", Some('q'), Required, K::Qos),
    implemented("quiet", Some('Q'), No, K::Quiet),
    refused("reboot", None, No),
    implemented("requeue", None, No, K::Requeue),
    refused("reservation", None, Required),
    implemented("signal", None, Required, K::Signal),
    refused("sockets-per-node", None, Required),
    refused("spread-job", None, No),
    refused("switches", None, Required),
    // Slurm's old name of --ntasks-per-node.
    implemented("tasks-per-node", None, Required, K::NtasksPerNode),
    refused("test-only", None, No),
    refused("thread-spec", None, Required),
    refused("threads-per-core", None, Required),
    implemented("time", Some('t'), Required, K::Time),
    implemented("time-min", None, Required, K::TimeMin),
    refused("tmp", None, Required),
    refused("uid", None, Required),
    refused("use-min-nodes", None, No),
    implemented("verbose", Some('v'), No, K::Verbose),
    implemented("version", Some('V'), No, K::Version),
    implemented("usage", None, No, K::Usage),
    implemented("wait", Some('W'), No, K::Wait),
    refused("wait-all-nodes", None, Required),
    refused("wckey", None, Required),
    implemented("wrap", None, Required, K::Wrap),
];

/// `SBATCH_*` variables of implemented options, in Slurm's processing order.
pub const ENVIRONMENT_OPTIONS: &[(&str, SbatchKey)] = &[
    ("SBATCH_ACCOUNT", K::Account),
    ("SBATCH_ARRAY_INX", K::Array),
    ("SBATCH_DEBUG", K::Verbose),
    ("SBATCH_EXCLUSIVE", K::Exclusive),
    ("SBATCH_EXPORT", K::Export),
    ("SBATCH_GPUS", K::Gpus),
    ("SBATCH_GPUS_PER_NODE", K::GpusPerNode),
    ("SBATCH_GRES", K::Gres),
    ("SBATCH_JOB_NAME", K::JobName),
    ("SBATCH_MEM_PER_CPU", K::MemoryPerCpu),
    ("SBATCH_MEM_PER_NODE", K::Memory),
    ("SBATCH_NO_REQUEUE", K::NoRequeue),
    ("SBATCH_OPEN_MODE", K::OpenMode),
    ("SBATCH_PARTITION", K::Partition),
    ("SBATCH_QOS", K::Qos),
    ("SBATCH_REQUEUE", K::Requeue),
    ("SBATCH_SIGNAL", K::Signal),
    ("SBATCH_TIMELIMIT", K::Time),
];

/// Input variables sbatch 22.05 reads for options Corral does not implement.
/// They are not refused (sites export some of them for every user) but
/// reported back as ignored.
pub const IGNORED_ENVIRONMENT: &[&str] = &[
    "SBATCH_ACCTG_FREQ",
    "SBATCH_BATCH",
    "SBATCH_BURST_BUFFER",
    "SBATCH_CLUSTER_CONSTRAINT",
    "SBATCH_CLUSTERS",
    "SLURM_CLUSTERS",
    "SBATCH_CONSTRAINT",
    "SBATCH_CONTAINER",
    "SBATCH_CORE_SPEC",
    "SBATCH_CPU_FREQ_REQ",
    "SBATCH_CPUS_PER_GPU",
    "SBATCH_DELAY_BOOT",
    "SBATCH_DISTRIBUTION",
    "SBATCH_GET_USER_ENV",
    "SBATCH_GPU_BIND",
    "SBATCH_GPU_FREQ",
    "SBATCH_GPUS_PER_SOCKET",
    "SBATCH_GPUS_PER_TASK",
    "SBATCH_GRES_FLAGS",
    "SBATCH_HINT",
    "SLURM_HINT",
    "SBATCH_IGNORE_PBS",
    "SBATCH_MEM_BIND",
    "SBATCH_MEM_PER_GPU",
    "SBATCH_NETWORK",
    "SBATCH_NO_KILL",
    "SBATCH_OVERCOMMIT",
    "SBATCH_POWER",
    "SBATCH_PROFILE",
    "SBATCH_REQ_SWITCH",
    "SBATCH_RESERVATION",
    "SBATCH_SPREAD_JOB",
    "SBATCH_THREAD_SPEC",
    "SBATCH_THREADS_PER_CORE",
    "SBATCH_USE_MIN_NODES",
    "SBATCH_WAIT",
    "SBATCH_WAIT_ALL_NODES",
    "SBATCH_WAIT4SWITCH",
    "SBATCH_WCKEY",
];

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn names_and_letters_are_unique() {
        let mut longs = HashSet::new();
        let mut shorts = HashSet::new();
        for def in SBATCH_OPTIONS {
            assert!(longs.insert(def.long.unwrap()), "{:?}", def.long);
            if let Some(letter) = def.short {
                assert!(shorts.insert(letter), "{letter}");
            }
        }
    }

    #[test]
    fn every_implemented_key_has_one_option_but_the_old_alias() {
        let implemented: Vec<(&str, SbatchKey)> = SBATCH_OPTIONS
            .iter()
            .filter(|d| !matches!(d.key, SbatchKey::Unsupported(_)))
            .map(|d| (d.long.unwrap(), d.key))
            .collect();
        assert_eq!(implemented.len(), 44);
        let unique: HashSet<String> = implemented
            .iter()
            .filter(|(long, _)| *long != "tasks-per-node")
            .map(|(_, k)| format!("{k:?}"))
            .collect();
        assert_eq!(unique.len(), 43);
    }

    #[test]
    fn implemented_variables_are_not_reported_as_ignored() {
        for (name, _) in ENVIRONMENT_OPTIONS {
            assert!(!IGNORED_ENVIRONMENT.contains(name), "{name}");
        }
    }
}
