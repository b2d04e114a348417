//! sacct 22.05's field table (`fields[]` in `src/sacct/sacct.c`) and the
//! `--format` language: `Name[%WIDTH]` items separated by commas, names
//! matched case-insensitively as prefixes in table order (`jobn` is
//! JobName, `a`/`al`/`all` is every field), a width that applies to every
//! use of the field (Slurm stores it in the shared table), a negative width
//! aligning left.

use crate::error::{error_line, fatal_line, SlurmError, EXIT_FAILURE};

use super::COMMAND;

/// What a column shows. Fields Corral records no value for (step usage
/// statistics, energy, reservations, wckeys, ...) are [`Field::NotRecorded`]
/// and print blank, as Slurm prints them for a job without that data.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Field {
    Account,
    AllocCpus,
    AllocNodes,
    AllocTres,
    Cluster,
    Comment,
    CpuTime,
    CpuTimeRaw,
    DerivedExitCode,
    Elapsed,
    ElapsedRaw,
    Eligible,
    End,
    ExitCode,
    Gid,
    Group,
    JobId,
    JobIdRaw,
    JobName,
    NNodes,
    NodeList,
    NTasks,
    Partition,
    Qos,
    Reason,
    ReqCpus,
    ReqMem,
    ReqNodes,
    ReqTres,
    Start,
    State,
    Submit,
    Timelimit,
    TimelimitRaw,
    Uid,
    User,
    WorkDir,
    NotRecorded,
}

use Field::*;

/// Every 22.05 field, in table order: name, default width, what it shows.
pub const FIELDS: &[(&str, i32, Field)] = &[
    ("Account", 10, Account),
    ("AdminComment", 15, NotRecorded),
    ("AllocCPUS", 10, AllocCpus),
    ("AllocNodes", 10, AllocNodes),
    ("AllocTRES", 10, AllocTres),
    ("AssocID", 7, NotRecorded),
    ("AveCPU", 10, NotRecorded),
    ("AveCPUFreq", 10, NotRecorded),
    ("AveDiskRead", 14, NotRecorded),
    ("AveDiskWrite", 14, NotRecorded),
    ("AvePages", 10, NotRecorded),
    ("AveRSS", 10, NotRecorded),
    ("AveVMSize", 10, NotRecorded),
    ("BlockID", 16, NotRecorded),
    ("Cluster", 10, Cluster),
    ("Comment", 14, Comment),
    ("Constraints", 19, NotRecorded),
    ("ConsumedEnergy", 14, NotRecorded),
    ("ConsumedEnergyRaw", 17, NotRecorded),
    ("Container", 19, NotRecorded),
    ("CPUTime", 10, CpuTime),
    ("CPUTimeRAW", 10, CpuTimeRaw),
    ("DBIndex", -10, NotRecorded),
    ("DerivedExitCode", 15, DerivedExitCode),
    ("Elapsed", 10, Elapsed),
    ("ElapsedRaw", 10, ElapsedRaw),
    ("Eligible", 19, Eligible),
    ("End", 19, End),
    ("ExitCode", 8, ExitCode),
    ("Flags", 19, NotRecorded),
    ("GID", 6, Gid),
    ("Group", 9, Group),
    ("JobID", -12, JobId),
    ("JobIDRaw", -12, JobIdRaw),
    ("JobName", 10, JobName),
    ("Layout", 9, NotRecorded),
    ("MaxDiskRead", 12, NotRecorded),
    ("MaxDiskReadNode", 15, NotRecorded),
    ("MaxDiskReadTask", 15, NotRecorded),
    ("MaxDiskWrite", 12, NotRecorded),
    ("MaxDiskWriteNode", 16, NotRecorded),
    ("MaxDiskWriteTask", 16, NotRecorded),
    ("MaxPages", 8, NotRecorded),
    ("MaxPagesNode", 12, NotRecorded),
    ("MaxPagesTask", 14, NotRecorded),
    ("MaxRSS", 10, NotRecorded),
    ("MaxRSSNode", 10, NotRecorded),
    ("MaxRSSTask", 10, NotRecorded),
    ("MaxVMSize", 10, NotRecorded),
    ("MaxVMSizeNode", 14, NotRecorded),
    ("MaxVMSizeTask", 14, NotRecorded),
    ("McsLabel", 12, NotRecorded),
    ("MinCPU", 10, NotRecorded),
    ("MinCPUNode", 10, NotRecorded),
    ("MinCPUTask", 10, NotRecorded),
    ("NCPUS", 10, AllocCpus),
    ("NNodes", 8, NNodes),
    ("NodeList", 15, NodeList),
    ("NTasks", 8, NTasks),
    ("Partition", 10, Partition),
    ("Priority", 10, NotRecorded),
    ("QOS", 10, Qos),
    ("QOSRAW", 6, NotRecorded),
    ("Reason", 22, Reason),
    ("ReqCPUFreq", 10, NotRecorded),
    ("ReqCPUFreqGov", 13, NotRecorded),
    ("ReqCPUFreqMax", 13, NotRecorded),
    ("ReqCPUFreqMin", 13, NotRecorded),
    ("ReqCPUS", 8, ReqCpus),
    ("ReqMem", 10, ReqMem),
    ("ReqNodes", 8, ReqNodes),
    ("ReqTRES", 10, ReqTres),
    ("Reservation", 20, NotRecorded),
    ("ReservationId", 8, NotRecorded),
    ("Reserved", 10, NotRecorded),
    ("ResvCPU", 10, NotRecorded),
    ("ResvCPURAW", 10, NotRecorded),
    ("Start", 19, Start),
    ("State", 10, State),
    ("Submit", 19, Submit),
    ("SubmitLine", 20, NotRecorded),
    ("Suspended", 10, NotRecorded),
    ("SystemComment", 15, NotRecorded),
    ("SystemCPU", 10, NotRecorded),
    ("Timelimit", 10, Timelimit),
    ("TimelimitRaw", 10, TimelimitRaw),
    ("TotalCPU", 10, NotRecorded),
    ("TRESUsageInAve", 14, NotRecorded),
    ("TRESUsageInMax", 14, NotRecorded),
    ("TRESUsageInMaxNode", 18, NotRecorded),
    ("TRESUsageInMaxTask", 18, NotRecorded),
    ("TRESUsageInMin", 14, NotRecorded),
    ("TRESUsageInMinNode", 18, NotRecorded),
    ("TRESUsageInMinTask", 18, NotRecorded),
    ("TRESUsageInTot", 14, NotRecorded),
    ("TRESUsageOutAve", 15, NotRecorded),
    ("TRESUsageOutMax", 15, NotRecorded),
    ("TRESUsageOutMaxNode", 19, NotRecorded),
    ("TRESUsageOutMaxTask", 19, NotRecorded),
    ("TRESUsageOutMin", 15, NotRecorded),
    ("TRESUsageOutMinNode", 19, NotRecorded),
    ("TRESUsageOutMinTask", 19, NotRecorded),
    ("TRESUsageOutTot", 15, NotRecorded),
    ("UID", 6, Uid),
    ("User", 9, User),
    ("UserCPU", 10, NotRecorded),
    ("WCKey", 10, NotRecorded),
    ("WCKeyID", 10, NotRecorded),
    ("WorkDir", 20, WorkDir),
];

/// `sacct` without `-o`: `DEFAULT_FIELDS`.
pub const DEFAULT_FIELDS: &str = "jobid,jobname,partition,account,alloccpus,state,exitcode";
/// `-b`: `BRIEF_FIELDS`.
pub const BRIEF_FIELDS: &str = "jobid,state,exitcode";
/// `-l`: `LONG_FIELDS`.
pub const LONG_FIELDS: &str = "jobid,jobidraw,jobname,partition,maxvmsize,maxvmsizenode,maxvmsizetask,avevmsize,maxrss,maxrssnode,maxrsstask,averss,maxpages,maxpagesnode,maxpagestask,avepages,mincpu,mincpunode,mincputask,avecpu,ntasks,alloccpus,elapsed,state,exitcode,avecpufreq,reqcpufreqmin,reqcpufreqmax,reqcpufreqgov,reqmem,consumedenergy,maxdiskread,maxdiskreadnode,maxdiskreadtask,avediskread,maxdiskwrite,maxdiskwritenode,maxdiskwritetask,avediskwrite,reqtres,alloctres,tresusageinave,tresusageinmax,tresusageinmaxn,tresusageinmaxt,tresusageinmin,tresusageinminn,tresusageinmint,tresusageintot,tresusageoutmax,tresusageoutmaxn,tresusageoutmaxt,tresusageoutave,tresusageouttot";

/// One column of the output.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Column {
    pub name: &'static str,
    pub width: i32,
    pub field: Field,
}

/// C's `atoi`: leading blanks, a sign, digits; anything else ends it.
fn atoi(text: &str) -> i32 {
    let parsed = crate::c_number::strtol(text);
    i32::try_from(parsed.value).unwrap_or(if parsed.value < 0 { i32::MIN } else { i32::MAX })
}

/// Parses the accumulated field list (every item ends with a comma, as
/// sacct builds it) into columns.
pub fn parse_format(list: &str) -> Result<Vec<Column>, SlurmError> {
    // Indices into FIELDS, in output order, and the widths set so far.
    let mut chosen: Vec<usize> = Vec::new();
    let mut widths: Vec<i32> = FIELDS.iter().map(|(_, width, _)| *width).collect();
    let items: Vec<&str> = list.split(',').collect();
    // The text after the last comma is not an item (sacct stops there).
    for item in &items[..items.len().saturating_sub(1)] {
        let item = item.trim_start_matches(|c: char| c.is_ascii_whitespace());
        if item.is_empty() {
            continue;
        }
        let (name, width) = match item.split_once('%') {
            Some((name, width)) => (name, Some(atoi(width))),
            None => (item, None),
        };
        let prefix_of =
            |full: &str| full.len() >= name.len() && full[..name.len()].eq_ignore_ascii_case(name);
        if prefix_of("ALL") {
            for (index, slot) in widths.iter_mut().enumerate() {
                if let Some(width) = width {
                    *slot = width;
                }
                chosen.push(index);
            }
            continue;
        }
        match FIELDS.iter().position(|(full, _, _)| prefix_of(full)) {
            Some(index) => {
                if let Some(width) = width {
                    widths[index] = width;
                }
                chosen.push(index);
            }
            None => return Err(unknown_field(name)),
        }
    }
    Ok(chosen
        .into_iter()
        .map(|index| Column {
            name: FIELDS[index].0,
            width: widths[index],
            field: FIELDS[index].2,
        })
        .collect())
}

fn unknown_field(name: &str) -> SlurmError {
    if name.eq_ignore_ascii_case("AllocGRES") {
        return SlurmError::new(
            vec![fatal_line(
                COMMAND,
                "AllocGRES has been removed, please use AllocTRES",
            )],
            EXIT_FAILURE,
        );
    }
    if name.eq_ignore_ascii_case("ReqGRES") {
        return SlurmError::new(
            vec![fatal_line(
                COMMAND,
                "ReqGRES has been removed, please use ReqTRES",
            )],
            EXIT_FAILURE,
        );
    }
    SlurmError::new(
        vec![error_line(
            COMMAND,
            &format!("Invalid field requested: \"{name}\""),
        )],
        EXIT_FAILURE,
    )
}

/// `sacct -e`: the names, four to a line, each padded to 19.
pub fn help_fields_text() -> String {
    let mut out = String::new();
    for (index, (name, _, _)) in FIELDS.iter().enumerate() {
        if index & 3 != 0 {
            out.push(' ');
        } else if index != 0 {
            out.push('\n');
        }
        out.push_str(&format!("{name:<19}"));
    }
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &str) -> Vec<(&'static str, i32)> {
        parse_format(list)
            .unwrap()
            .into_iter()
            .map(|c| (c.name, c.width))
            .collect()
    }

    #[test]
    fn names_are_case_insensitive_prefixes_in_table_order() {
        assert_eq!(
            names("jobid,JOBNAME,state,exitcode,"),
            vec![
                ("JobID", -12),
                ("JobName", 10),
                ("State", 10),
                ("ExitCode", 8)
            ]
        );
        assert_eq!(
            names("jobn,st,su,"),
            vec![("JobName", 10), ("Start", 19), ("Submit", 19)]
        );
        assert_eq!(names(" nodelist,,"), vec![("NodeList", 15)]);
        assert_eq!(names("a,").len(), FIELDS.len());
    }

    #[test]
    fn widths_apply_to_every_use_of_a_field() {
        assert_eq!(
            names("JobID%5,State,JobID%-20,"),
            vec![("JobID", -20), ("State", 10), ("JobID", -20)]
        );
        assert_eq!(names("State%x,"), vec![("State", 0)]);
        assert_eq!(names("State%-3,"), vec![("State", -3)]);
    }

    #[test]
    fn unknown_fields_are_slurms_errors() {
        let error = parse_format("JobID,Restarts,").unwrap_err();
        assert_eq!(
            error.lines,
            vec!["sacct: error: Invalid field requested: \"Restarts\""]
        );
        assert_eq!(error.exit_code, 1);
        let error = parse_format("allocgres,").unwrap_err();
        assert_eq!(
            error.lines,
            vec!["sacct: fatal: AllocGRES has been removed, please use AllocTRES"]
        );
    }

    #[test]
    fn help_lists_four_names_a_line() {
        let text = help_fields_text();
        let first = text.lines().next().unwrap();
        assert_eq!(
            first,
            "Account             AdminComment        AllocCPUS           AllocNodes         "
        );
        assert_eq!(text.lines().count(), FIELDS.len().div_ceil(4));
    }
}
