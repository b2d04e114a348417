//! What each squeue field shows (`squeue/print.c`): its `-o` letter, its
//! `-O` name, its header, and its value for a job.
//!
//! Values Corral does not track print what Slurm prints for an unset value
//! (`(null)` for a string it never set, `N/A`, `*` for sockets, cores and
//! threads, 0 for counts), so that the columns stay where tools expect
//! them.

use corral_state::{hostlist, Job, JobState};

use crate::display::{reason_text, stream_path, DisplayContext, LimitView, Stream};
use crate::memory::format_megabytes;
use crate::scontrol::{tres_text, JobTimes};
use crate::time::{squeue_duration, squeue_time_limit, TimeLimit};

/// What a field shows. The letter is the `-o` letter; fields without one
/// exist only in `-O`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FieldKind {
    /// `%a` ACCOUNT
    Account,
    /// `%A` JOBID (the job's own id)
    JobIdRaw,
    /// `%b` TRES_PER_NODE (the GPUs asked per node)
    TresPerNode,
    /// `%B` EXEC_HOST: the node running the batch script.
    BatchHost,
    /// `%c` MIN_CPUS (CPUs per task)
    MinCpus,
    /// `%C` CPUS
    Cpus,
    /// `%d` MIN_TMP_DISK
    MinTmpDisk,
    /// `%D` NODES
    Nodes,
    /// `%e` END_TIME
    EndTime,
    /// `%E` DEPENDENCY
    Dependency,
    /// `%f` FEATURES
    Features,
    /// `%F` ARRAY_JOB_ID
    ArrayJobId,
    /// `%g` GROUP (name)
    GroupName,
    /// `%G` GROUP (id)
    GroupId,
    /// `%h` OVER_SUBSCRIBE
    OverSubscribe,
    /// `%H` SOCKETS_PER_NODE
    Sockets,
    /// `%i` JOBID (`ID`, `ARRAY_TASK`, `ARRAY_[1-5]`)
    JobId,
    /// `%I` CORES_PER_SOCKET
    Cores,
    /// `%j` NAME
    Name,
    /// `%J` THREADS_PER_CORE
    Threads,
    /// `%k` COMMENT
    Comment,
    /// `%K` ARRAY_TASK_ID
    ArrayTaskId,
    /// `%l` TIME_LIMIT
    TimeLimit,
    /// `%L` TIME_LEFT
    TimeLeft,
    /// `%m` MIN_MEMORY
    MinMemory,
    /// `%M` TIME (used)
    TimeUsed,
    /// `%n` REQ_NODES
    RequestedNodes,
    /// `%N` NODELIST
    NodeList,
    /// `%o` COMMAND
    Command,
    /// `%O` CONTIGUOUS
    Contiguous,
    /// `%p` PRIORITY as a fraction of the largest
    PriorityFraction,
    /// `%P` PARTITION
    Partition,
    /// `%q` QOS
    Qos,
    /// `%Q` PRIORITY
    Priority,
    /// `%r` REASON
    Reason,
    /// `%R` NODELIST(REASON)
    ReasonList,
    /// `%s` the select plugin's job information (empty for cons_tres)
    SelectJobInfo,
    /// `%S` START_TIME
    StartTime,
    /// `%t` ST
    StateCompact,
    /// `%T` STATE
    State,
    /// `%u` USER
    User,
    /// `%U` UID
    UserId,
    /// `%v` RESERVATION
    Reservation,
    /// `%V` SUBMIT_TIME
    SubmitTime,
    /// `%w` WCKEY
    Wckey,
    /// `%W` LICENSES
    Licenses,
    /// `%x` EXC_NODES
    ExcludedNodes,
    /// `%X` CORE_SPEC
    CoreSpec,
    /// `%y` NICE
    Nice,
    /// `%Y` SCHEDNODES
    SchedNodes,
    /// `%z` S:C:T
    SocketsCoresThreads,
    /// `%Z` WORK_DIR
    WorkDir,
    /// `-O AccrueTime`
    AccrueTime,
    /// `-O AdminComment`
    AdminComment,
    /// `-O AllocNodes`: the host the job was submitted from.
    AllocNodes,
    /// `-O AllocSID`
    AllocSid,
    /// `-O BatchFlag`
    BatchFlag,
    /// `-O BoardsPerNode`
    BoardsPerNode,
    /// `-O BurstBuffer`
    BurstBuffer,
    /// `-O BurstBufferState`
    BurstBufferState,
    /// `-O Cluster`
    Cluster,
    /// `-O ClusterFeature`
    ClusterFeatures,
    /// `-O Container`
    Container,
    /// `-O cpus-per-task`
    CpusPerTask,
    /// `-O DelayBoot`
    DelayBoot,
    /// `-O Deadline`
    Deadline,
    /// `-O DerivedEC`
    DerivedExitCode,
    /// `-O EligibleTime`
    EligibleTime,
    /// `-O exit_code`: the wait status (code × 256 + signal).
    ExitCode,
    /// `-O HetJobId`, `HetJobOffset`, `HetJobIdSet`
    HetJobId,
    HetJobOffset,
    HetJobIdSet,
    /// `-O LastSchedEval`
    LastSchedEval,
    /// `-O MaxCPUs`
    MaxCpus,
    /// `-O MaxNodes`
    MaxNodes,
    /// `-O MCSLabel`
    McsLabel,
    /// `-O MinTime`
    MinTime,
    /// `-O Network`
    Network,
    /// `-O NTPerBoard`, `NTPerCore`, `NTPerNode`, `NTPerSocket`
    TasksPerBoard,
    TasksPerCore,
    TasksPerNode,
    TasksPerSocket,
    /// `-O NumTasks`
    NumTasks,
    /// `-O Origin`, `OriginRaw`, `SiblingsActive(Raw)`, `SiblingsViable(Raw)`:
    /// `NA` outside a federation.
    Federation(&'static str),
    /// `-O PendingTime`: seconds waited.
    PendingTime,
    /// `-O PreemptTime`
    PreemptTime,
    /// `-O Profile`
    Profile,
    /// `-O Reboot`
    Reboot,
    /// `-O ReqSwitch`
    RequestedSwitch,
    /// `-O Requeue`
    Requeue,
    /// `-O ResizeTime`
    ResizeTime,
    /// `-O RestartCnt`
    RestartCount,
    /// `-O SPerBoard`
    SocketsPerBoard,
    /// `-O STDERR`, `STDIN`, `STDOUT`
    Stderr,
    Stdin,
    Stdout,
    /// `-O SystemComment`
    SystemComment,
    /// `-O tres-alloc` (`tres`)
    TresAllocated,
    /// `-O tres-bind`, `tres-freq`, `tres-per-job`, `tres-per-socket`,
    /// `tres-per-task`, `cpus-per-tres`, `mem-per-tres`: `N/A`.
    TresUnset(&'static str),
    /// `-O Wait4Switch`
    WaitForSwitch,
    /// A letter or name squeue does not know: prints only its suffix.
    Invalid,
}

use FieldKind::*;

/// The `-o` letters.
const LETTERS: &[(char, FieldKind)] = &[
    ('a', Account),
    ('A', JobIdRaw),
    ('b', TresPerNode),
    ('B', BatchHost),
    ('c', MinCpus),
    ('C', Cpus),
    ('d', MinTmpDisk),
    ('D', Nodes),
    ('e', EndTime),
    ('E', Dependency),
    ('f', Features),
    ('F', ArrayJobId),
    ('g', GroupName),
    ('G', GroupId),
    ('h', OverSubscribe),
    ('H', Sockets),
    ('i', JobId),
    ('I', Cores),
    ('j', Name),
    ('J', Threads),
    ('k', Comment),
    ('K', ArrayTaskId),
    ('l', TimeLimit),
    ('L', TimeLeft),
    ('m', MinMemory),
    ('M', TimeUsed),
    ('n', RequestedNodes),
    ('N', NodeList),
    ('o', Command),
    ('O', Contiguous),
    ('p', PriorityFraction),
    ('P', Partition),
    ('q', Qos),
    ('Q', Priority),
    ('r', Reason),
    ('R', ReasonList),
    ('s', SelectJobInfo),
    ('S', StartTime),
    ('t', StateCompact),
    ('T', State),
    ('u', User),
    ('U', UserId),
    ('v', Reservation),
    ('V', SubmitTime),
    ('w', Wckey),
    ('W', Licenses),
    ('x', ExcludedNodes),
    ('X', CoreSpec),
    ('y', Nice),
    ('Y', SchedNodes),
    ('z', SocketsCoresThreads),
    ('Z', WorkDir),
];

/// The `-O` names, compared without regard to case (`parse_long_format`).
const NAMES: &[(&str, FieldKind)] = &[
    ("account", Account),
    ("jobid", JobIdRaw),
    ("gres", TresPerNode),
    ("batchhost", BatchHost),
    ("burstbuffer", BurstBuffer),
    ("burstbufferstate", BurstBufferState),
    ("cluster", Cluster),
    ("container", Container),
    ("delayboot", DelayBoot),
    ("mincpus", MinCpus),
    ("numcpus", Cpus),
    ("mintmpdisk", MinTmpDisk),
    ("numnodes", Nodes),
    ("endtime", EndTime),
    ("dependency", Dependency),
    ("feature", Features),
    ("clusterfeature", ClusterFeatures),
    ("arrayjobid", ArrayJobId),
    ("groupname", GroupName),
    ("groupid", GroupId),
    ("oversubscribe", OverSubscribe),
    ("shared", OverSubscribe),
    ("sockets", Sockets),
    ("jobarrayid", JobId),
    ("cores", Cores),
    ("name", Name),
    ("threads", Threads),
    ("admin_comment", AdminComment),
    ("system_comment", SystemComment),
    ("comment", Comment),
    ("arraytaskid", ArrayTaskId),
    ("timelimit", TimeLimit),
    ("timeleft", TimeLeft),
    ("minmemory", MinMemory),
    ("timeused", TimeUsed),
    ("reqnodes", RequestedNodes),
    ("nodelist", NodeList),
    ("command", Command),
    ("contiguous", Contiguous),
    ("priority", PriorityFraction),
    ("partition", Partition),
    ("qos", Qos),
    ("prioritylong", Priority),
    ("reason", Reason),
    ("reasonlist", ReasonList),
    ("selectjobinfo", SelectJobInfo),
    ("starttime", StartTime),
    ("lastschedeval", LastSchedEval),
    ("statecompact", StateCompact),
    ("state", State),
    ("userid", UserId),
    ("username", User),
    ("reservation", Reservation),
    ("submittime", SubmitTime),
    ("pendingtime", PendingTime),
    ("wckey", Wckey),
    ("licenses", Licenses),
    ("corespec", CoreSpec),
    ("nice", Nice),
    ("schednodes", SchedNodes),
    ("sct", SocketsCoresThreads),
    ("workdir", WorkDir),
    ("accruetime", AccrueTime),
    ("allocnodes", AllocNodes),
    ("allocsid", AllocSid),
    ("batchflag", BatchFlag),
    ("boardspernode", BoardsPerNode),
    ("cpuspertask", CpusPerTask),
    ("cpus-per-task", CpusPerTask),
    ("derivedec", DerivedExitCode),
    ("eligibletime", EligibleTime),
    ("exit_code", ExitCode),
    ("origin", Federation("ORIGIN")),
    ("originraw", Federation("ORIGIN_RAW")),
    ("siblingsactive", Federation("ACTIVE_SIBLINGS")),
    ("siblingsactiveraw", Federation("ACTIVE_SIBLINGS_RAW")),
    ("siblingsviable", Federation("VIABLE_SIBLINGS")),
    // Slurm's own spelling.
    ("siblingsviableraw", Federation("VIALBLE_SIBLINGS_RAW")),
    ("maxcpus", MaxCpus),
    ("maxnodes", MaxNodes),
    ("network", Network),
    ("ntpercore", TasksPerCore),
    ("ntpernode", TasksPerNode),
    ("ntpersocket", TasksPerSocket),
    ("ntperboard", TasksPerBoard),
    ("preempttime", PreemptTime),
    ("profile", Profile),
    ("reboot", Reboot),
    ("reqswitch", RequestedSwitch),
    ("requeue", Requeue),
    ("resizetime", ResizeTime),
    ("restartcnt", RestartCount),
    ("sperboard", SocketsPerBoard),
    ("stderr", Stderr),
    ("stdin", Stdin),
    ("stdout", Stdout),
    ("mintime", MinTime),
    ("wait4switch", WaitForSwitch),
    ("cpus-per-tres", TresUnset("CPUS_PER_TRES")),
    ("mem-per-tres", TresUnset("MEM_PER_TRES")),
    ("tres", TresAllocated),
    ("tres-alloc", TresAllocated),
    ("tres-bind", TresUnset("TRES_BIND")),
    ("tres-freq", TresUnset("TRES_FREQ")),
    ("tres-per-job", TresUnset("TRES_PER_JOB")),
    ("tres-per-node", TresPerNode),
    ("tres-per-socket", TresUnset("TRES_PER_SOCKET")),
    ("tres-per-task", TresUnset("TRES_PER_TASK")),
    ("mcslabel", McsLabel),
    ("deadline", Deadline),
    ("packjobid", HetJobId),
    ("hetjobid", HetJobId),
    ("packjoboffset", HetJobOffset),
    ("hetjoboffset", HetJobOffset),
    ("packjobidset", HetJobIdSet),
    ("hetjobidset", HetJobIdSet),
];

/// `-O` names Slurm knows whose data Corral does not have: refused rather
/// than printed with an invented value.
pub(crate) const REFUSED_NAMES: &[&str] = &["associd"];

/// Slurm's `NO_VAL`-free largest priority, the divisor of `%p`.
const PRIORITY_MAX: f64 = u32::MAX as f64;

impl FieldKind {
    pub(crate) fn from_letter(letter: char) -> Option<FieldKind> {
        LETTERS
            .iter()
            .find(|(l, _)| *l == letter)
            .map(|(_, kind)| *kind)
    }

    /// `numtask...` matches any name starting so, as Slurm's
    /// `xstrncasecmp(token, "numtasks", strlen("numtask"))` does.
    pub(crate) fn from_long_name(name: &str) -> Option<FieldKind> {
        if name
            .get(..7)
            .is_some_and(|start| start.eq_ignore_ascii_case("numtask"))
        {
            return Some(NumTasks);
        }
        NAMES
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, kind)| *kind)
    }

    pub(crate) fn header(self) -> &'static str {
        match self {
            Account => "ACCOUNT",
            JobIdRaw | JobId => "JOBID",
            TresPerNode => "TRES_PER_NODE",
            BatchHost => "EXEC_HOST",
            MinCpus => "MIN_CPUS",
            Cpus => "CPUS",
            MinTmpDisk => "MIN_TMP_DISK",
            Nodes => "NODES",
            EndTime => "END_TIME",
            Dependency => "DEPENDENCY",
            Features => "FEATURES",
            ArrayJobId => "ARRAY_JOB_ID",
            GroupName | GroupId => "GROUP",
            OverSubscribe => "OVER_SUBSCRIBE",
            Sockets => "SOCKETS_PER_NODE",
            Cores => "CORES_PER_SOCKET",
            Name => "NAME",
            Threads => "THREADS_PER_CORE",
            Comment => "COMMENT",
            ArrayTaskId => "ARRAY_TASK_ID",
            TimeLimit => "TIME_LIMIT",
            TimeLeft => "TIME_LEFT",
            MinMemory => "MIN_MEMORY",
            TimeUsed => "TIME",
            RequestedNodes => "REQ_NODES",
            NodeList => "NODELIST",
            Command => "COMMAND",
            Contiguous => "CONTIGUOUS",
            PriorityFraction | Priority => "PRIORITY",
            Partition => "PARTITION",
            Qos => "QOS",
            Reason => "REASON",
            ReasonList => "NODELIST(REASON)",
            SelectJobInfo => "",
            StartTime => "START_TIME",
            StateCompact => "ST",
            State => "STATE",
            User => "USER",
            UserId => "UID",
            Reservation => "RESERVATION",
            SubmitTime => "SUBMIT_TIME",
            Wckey => "WCKEY",
            Licenses => "LICENSES",
            ExcludedNodes => "EXC_NODES",
            CoreSpec => "CORE_SPEC",
            Nice => "NICE",
            SchedNodes => "SCHEDNODES",
            SocketsCoresThreads => "S:C:T",
            WorkDir => "WORK_DIR",
            AccrueTime => "ACCRUE_TIME",
            AdminComment => "ADMIN_COMMENT",
            AllocNodes => "ALLOC_NODES",
            AllocSid => "ALLOC_SID",
            BatchFlag => "BATCH_FLAG",
            BoardsPerNode => "BOARDS_PER_NODE",
            BurstBuffer => "BURST_BUFFER",
            BurstBufferState => "BURST_BUFFER_STATE",
            Cluster => "CLUSTER",
            ClusterFeatures => "CLUSTER_FEATURES",
            Container => "CONTAINER",
            CpusPerTask => "CPUS_PER_TASK",
            DelayBoot => "DELAY_BOOT",
            Deadline => "DEADLINE",
            DerivedExitCode => "DERIVED_EC",
            EligibleTime => "ELIGIBLE_TIME",
            ExitCode => "EXIT_CODE",
            HetJobId => "HET_JOB_ID",
            HetJobOffset => "HET_JOB_OFFSET",
            HetJobIdSet => "HET_JOB_ID_SET",
            LastSchedEval => "LAST_SCHED_EVAL",
            MaxCpus => "MAX_CPUS",
            MaxNodes => "MAX_NODES",
            McsLabel => "MCSLABEL",
            MinTime => "TIME_MIN",
            Network => "NETWORK",
            TasksPerBoard => "NTASKS_PER_BOARD",
            TasksPerCore => "NTASKS_PER_CORE",
            TasksPerNode => "NTASKS_PER_NODE",
            TasksPerSocket => "NTASKS_PER_SOCKET",
            NumTasks => "TASKS",
            Federation(header) | TresUnset(header) => header,
            PendingTime => "PENDING_TIME",
            PreemptTime => "PREEMPT_TIME",
            Profile => "PROFILE",
            Reboot => "REBOOT",
            RequestedSwitch => "REQ_SWITCH",
            Requeue => "REQUEUE",
            ResizeTime => "RESIZE_TIME",
            RestartCount => "RESTART_COUNT",
            SocketsPerBoard => "SOCKETS_PER_BOARD",
            Stderr => "STDERR",
            Stdin => "STDIN",
            Stdout => "STDOUT",
            SystemComment => "SYSTEM_COMMENT",
            TresAllocated => "TRES_ALLOC",
            WaitForSwitch => "WAIT4SWITCH",
            Invalid => "",
        }
    }

    /// Node lists print their header uncut (`_print_str(.., false)`).
    pub(crate) fn header_is_cut(self) -> bool {
        !matches!(self, NodeList | ReasonList | SchedNodes)
    }

    /// The value and whether a right-aligned value is cut to the width
    /// (Slurm lets durations and node lists overflow).
    pub(crate) fn value(self, job: &Job, context: &DisplayContext) -> (String, bool) {
        let cut = |text: String| (text, true);
        let text = |text: &str| (text.to_string(), true);
        let null_or = |value: Option<&String>| cut(value.cloned().unwrap_or_else(null));
        match self {
            Account => cut(context.account(job)),
            JobId => cut(context.job_id_text(job)),
            JobIdRaw => cut(context.raw_job_id(job).to_string()),
            ArrayJobId => cut(job
                .array
                .map_or(job.id, |task| task.array_job_id)
                .to_string()),
            ArrayTaskId => cut(context.array_task_text(job)),
            BatchHost => cut(context
                .nodes(job)
                .first()
                .cloned()
                .unwrap_or_else(|| "n/a".to_string())),
            Dependency => cut(job
                .dependencies
                .as_ref()
                .map_or_else(null, |d| d.slurm_text())),
            TresPerNode => cut(match job.spec.gpus_per_node {
                0 => "N/A".to_string(),
                gpus => format!("gres:gpu:{gpus}"),
            }),
            Cpus | MaxCpus => cut(context.cpu_count(job).to_string()),
            MinCpus | CpusPerTask => cut(job.spec.cpus_per_task.to_string()),
            Nodes | MaxNodes => cut(context.node_count(job).to_string()),
            NumTasks => cut(job.spec.ntasks.to_string()),
            Name => cut(job.spec.name.clone()),
            TimeLimit => limit_value(context.time_limit(job), squeue_time_limit),
            TimeLeft => limit_value(context.time_limit(job), |limit| match limit {
                TimeLimit::Unlimited => squeue_time_limit(limit),
                TimeLimit::Minutes(minutes) => {
                    squeue_duration(i64::from(minutes) * 60 - context.time_used_seconds(job))
                }
            }),
            MinMemory => cut(format_megabytes(job.spec.memory_per_node_mb.unwrap_or(0))),
            MinTmpDisk => text("0"),
            TimeUsed => (squeue_duration(context.time_used_seconds(job)), false),
            NodeList => (context.node_list(job), false),
            RequestedNodes | ExcludedNodes => (String::new(), false),
            Command => text("(null)"),
            Contiguous | Reboot | RequestedSwitch | SocketsPerBoard | AllocSid
            | DerivedExitCode => text("0"),
            PriorityFraction => cut(format!(
                "{:16.14}",
                f64::from(context.priority(job)) / PRIORITY_MAX
            )),
            Partition => cut(job.partition.clone()),
            Qos => cut(job.spec.qos.clone().unwrap_or_else(|| "normal".to_string())),
            Priority => cut(context.priority(job).to_string()),
            Reason => cut(reason_text(job).to_string()),
            ReasonList => reason_list(job, context),
            SelectJobInfo => (String::new(), true),
            StartTime => cut(time_or_na(job.start_time_ms, context)),
            EndTime => cut(end_time_text(job, context)),
            StateCompact => text(job.state.slurm_short_name()),
            State => text(job.state.slurm_name()),
            User => cut(job.user.clone()),
            UserId => cut(job.uid.to_string()),
            GroupName => cut(context.group_name(job.gid)),
            GroupId => cut(job.gid.to_string()),
            SubmitTime => cut(context.timestamp(job.submit_time_ms)),
            WorkDir => cut(job.spec.work_dir.clone()),
            Comment => null_or(job.spec.comment.as_ref()),
            Nice => cut(job.spec.nice.to_string()),
            OverSubscribe => text("OK"),
            Sockets | Cores | Threads => text("*"),
            SocketsCoresThreads => text("*:*:*"),
            CoreSpec | BoardsPerNode | TasksPerBoard | TasksPerCore | TasksPerNode
            | TasksPerSocket | HetJobId | HetJobOffset | HetJobIdSet | TresUnset(_) => text("N/A"),
            Features | Reservation | Wckey | Licenses | AdminComment | SystemComment
            | BurstBuffer | BurstBufferState | ClusterFeatures | Container | McsLabel | Network => {
                text("(null)")
            }
            SchedNodes => ("(null)".to_string(), false),
            Federation(_) => text("NA"),
            Cluster => null_or(context.cluster_name.as_ref()),
            DelayBoot | MinTime | WaitForSwitch => text("0:00"),
            Deadline | PreemptTime => text("N/A"),
            ResizeTime => ("N/A".to_string(), false),
            Profile => text("NotSet"),
            BatchFlag | Requeue => text("1"),
            RestartCount => cut(job.requeue_count.to_string()),
            AllocNodes => cut(if job.spec.submit_host.is_empty() {
                null()
            } else {
                job.spec.submit_host.clone()
            }),
            ExitCode => cut((u32::from(job.exit_status.code) * 256
                + u32::from(job.exit_status.signal))
            .to_string()),
            EligibleTime | AccrueTime => {
                cut(time_or_na(JobTimes::of(job, context).eligible_ms, context))
            }
            LastSchedEval => cut(time_or_na(
                JobTimes::of(job, context).last_schedule_ms,
                context,
            )),
            PendingTime => cut(pending_seconds(job, context).to_string()),
            Stdout => cut(match &job.spec.stdout_pattern {
                Some(pattern) => pattern.clone(),
                None => default_output(job),
            }),
            Stderr => cut(
                match job
                    .spec
                    .stderr_pattern
                    .as_ref()
                    .or(job.spec.stdout_pattern.as_ref())
                {
                    Some(pattern) => pattern.clone(),
                    None => default_output(job),
                },
            ),
            Stdin => cut(stream_path(job, Stream::Stdin)),
            TresAllocated => cut(tres_text(job, context)),
            Invalid => (String::new(), true),
        }
    }
}

fn null() -> String {
    "(null)".to_string()
}

/// `_print_time`: a timestamp, `N/A` for none.
fn time_or_na(unix_ms: Option<u64>, context: &DisplayContext) -> String {
    match unix_ms {
        Some(ms) if ms > 0 => context.timestamp(ms),
        _ => "N/A".to_string(),
    }
}

/// `%e`: `NONE` for a running job without a limit (its end is in the
/// future, its limit infinite), else the end time or `N/A`.
fn end_time_text(job: &Job, context: &DisplayContext) -> String {
    let running = matches!(job.state, JobState::Running | JobState::Completing);
    if running && context.time_limit(job) == LimitView::Limit(TimeLimit::Unlimited) {
        return "NONE".to_string();
    }
    time_or_na(JobTimes::of(job, context).end_ms, context)
}

/// `PendingTime`: start minus submit for a started job, else now minus
/// submit, in seconds.
fn pending_seconds(job: &Job, context: &DisplayContext) -> i64 {
    let until_ms = match (job.state, job.start_time_ms) {
        (JobState::Pending, _) | (_, None) => context.now_ms,
        (_, Some(start_ms)) => start_ms.min(context.now_ms),
    };
    let seconds = (i128::from(until_ms) - i128::from(job.submit_time_ms)) / 1_000;
    i64::try_from(seconds).unwrap_or(i64::MAX)
}

/// squeue's `STDOUT` for a job without `-o`: `WORK_DIR/slurm-ID.out`.
fn default_output(job: &Job) -> String {
    format!("{}/slurm-{}.out", job.spec.work_dir, job.id)
}

/// `UNLIMITED`/`NOT_SET` are cut like text; a duration may overflow.
fn limit_value(limit: LimitView, duration: impl Fn(TimeLimit) -> String) -> (String, bool) {
    match limit {
        LimitView::NotSet => ("NOT_SET".to_string(), true),
        LimitView::Limit(TimeLimit::Unlimited) => (duration(TimeLimit::Unlimited), true),
        LimitView::Limit(limit) => (duration(limit), false),
    }
}

/// `%R`: `(Reason)` for a job that waits or failed (cut), else its nodes
/// (not cut).
fn reason_list(job: &Job, context: &DisplayContext) -> (String, bool) {
    match job.state {
        JobState::Pending | JobState::Timeout | JobState::Failed => {
            (format!("({})", reason_text(job)), true)
        }
        _ => (hostlist::compress(context.nodes(job)), false),
    }
}
