use super::*;
use crate::cluster_view::tests::{node, partition};
use crate::node_state::{BaseState, StateFilter};
use corral_state::{NodeAvailability, NodeReason, PartitionState, SYSTEM_REASON_USER};
use proptest::prelude::*;

fn argv(words: &[&str]) -> Vec<String> {
    std::iter::once("sinfo")
        .chain(words.iter().copied())
        .map(String::from)
        .collect()
}

fn query(words: &[&str]) -> Query {
    match parse_command_line(&argv(words), &[]).unwrap() {
        Invocation::Show(query) => query,
        Invocation::Print(text) => panic!("printed {text}"),
    }
}

fn error(words: &[&str]) -> String {
    parse_command_line(&argv(words), &[])
        .unwrap_err()
        .stderr_text()
}

fn run(words: &[&str], view: &ClusterView) -> String {
    render(&query(words), view)
}

fn reason(text: &str, user: &str, time_ms: u64) -> Option<NodeReason> {
    Some(NodeReason {
        text: text.to_string(),
        user: user.to_string(),
        uid: 0,
        time_ms,
    })
}

/// Four nodes in two partitions: n1 idle, n2 mixed, n3 drained, n4 down;
/// `debug` (default) has all, `long` (2 hours) has n3 and n4.
fn cluster() -> ClusterView {
    let n1 = node("n1", 8, 1_000);
    let mut n2 = node("n2", 8, 1_000);
    n2.usage.cpus = 2;
    let mut n3 = node("n3", 16, 2_000);
    n3.drain = true;
    n3.reason = reason("disk", "root", 60_000);
    let mut n4 = node("n4", 8, 1_000);
    n4.availability = NodeAvailability::Down;
    n4.reason = reason("Not responding", SYSTEM_REASON_USER, 120_000);
    let mut long = partition("long", "n[3-4]", false);
    long.max_time_minutes = Some(120);
    ClusterView {
        nodes: vec![n1, n2, n3, n4],
        partitions: vec![partition("debug", "n[1-4]", true), long],
        now_ms: 0,
        utc_offset_seconds: 0,
    }
}

#[test]
fn default_partition_view() {
    assert_eq!(
        run(&[], &cluster()),
        "\
PARTITION AVAIL  TIMELIMIT  NODES  STATE NODELIST
debug*       up   infinite      1  down* n4
debug*       up   infinite      1  drain n3
debug*       up   infinite      1    mix n2
debug*       up   infinite      1   idle n1
long         up    2:00:00      1  down* n4
long         up    2:00:00      1  drain n3
"
    );
}

#[test]
fn node_view_and_long_node_view() {
    let view = cluster();
    assert_eq!(
        run(&["-N"], &view),
        "\
NODELIST   NODES PARTITION STATE 
n1             1    debug* idle  
n2             1    debug* mix   
n3             1    debug* drain 
n3             1      long drain 
n4             1    debug* down* 
n4             1      long down* 
"
    );
    let long = run(&["-N", "-l"], &view);
    assert!(long.starts_with("Thu Jan  1 00:00:00 1970\nNODELIST   NODES PARTITION       STATE CPUS    S:C:T MEMORY TMP_DISK WEIGHT AVAIL_FE REASON              \n"));
    assert!(long.contains(
        "\nn3             1    debug*     drained 16     1:16:1   2000        0      1   (null) disk                \n"
    ));
    assert!(long.contains("      mixed "));
    assert!(run(&["-N", "-l", "-h"], &view).starts_with("n1 "));
}

#[test]
fn reasons_view() {
    let view = cluster();
    assert_eq!(
        run(&["-R"], &view),
        "\
REASON               USER      TIMESTAMP           NODELIST
Not responding       slurm     1970-01-01T00:02:00 n4
disk                 root      1970-01-01T00:01:00 n3
"
    );
    assert_eq!(
        run(&["-R", "-l"], &view),
        "\
Thu Jan  1 00:00:00 1970
REASON               USER         TIMESTAMP           STATE  NODELIST
Not responding       slurm(0)     1970-01-01T00:02:00 down*  n4
disk                 root(0)      1970-01-01T00:01:00 drain  n3
"
    );
    assert_eq!(
        run(&["-R", "-t", "idle"], &view),
        "REASON               USER      TIMESTAMP           NODELIST\nnone                 Unknown   Unknown             n1\n"
    );
}

#[test]
fn summarize_and_long_partition_view() {
    let view = cluster();
    assert_eq!(
        run(&["-s"], &view),
        "\
PARTITION AVAIL  TIMELIMIT   NODES(A/I/O/T) NODELIST
debug*       up   infinite          1/1/2/4 n[1-4]
long         up    2:00:00          0/0/2/2 n[3-4]
"
    );
    let long = run(&["-l", "-p", "long"], &view);
    assert_eq!(
        long,
        "\
Thu Jan  1 00:00:00 1970
PARTITION AVAIL  TIMELIMIT   JOB_SIZE ROOT OVERSUBS     GROUPS  NODES       STATE NODELIST
long         up    2:00:00 1-infinite   no       NO        all      1       down* n4
long         up    2:00:00 1-infinite   no       NO        all      1     drained n3
"
    );
}

#[test]
fn partitions_without_matching_nodes_still_show() {
    let view = cluster();
    assert_eq!(
        run(&["-t", "idle"], &view),
        "\
PARTITION AVAIL  TIMELIMIT  NODES  STATE NODELIST
debug*       up   infinite      1   idle n1
long         up    2:00:00      0    n/a 
"
    );
    assert_eq!(
        run(&["-p", "nosuch"], &view),
        "PARTITION AVAIL  TIMELIMIT  NODES  STATE NODELIST\n"
    );
    assert_eq!(
        run(&["-N", "-t", "idle", "-p", "long"], &view),
        "NODELIST   NODES PARTITION STATE \n"
    );
}

#[test]
fn custom_formats_group_by_what_they_show() {
    let view = cluster();
    // Without a state or partition field, nodes group across partitions.
    assert_eq!(
        run(&["-h", "-o", "%D %N %C %m %c"], &view),
        "4 n[1-4] 2/14/24/40 1000+ 8+\n"
    );
    assert_eq!(
        run(&["-h", "-e", "-o", "%D %N %m %c"], &view),
        "1 n3 2000 16\n3 n[1-2,4] 1000 8\n"
    );
    assert_eq!(
        run(&["-h", "-o", "%R|%A|%F|%E|%t"], &view),
        "debug|0/0|0/0/1/1|Not responding|down*\ndebug|0/0|0/0/1/1|disk|drain\ndebug|1/0|1/0/0/1|none|mix\ndebug|0/1|0/1/0/1|none|idle\nlong|0/0|0/0/1/1|Not responding|down*\nlong|0/0|0/0/1/1|disk|drain\n"
    );
    assert_eq!(
        run(&["-h", "-N", "-n", "n[2-3]", "-o", "%N %P %T %e %O %v %V %z %G %X %Y %Z %w %d %b %f %g %h %I %p %L %M %r %s %S %B %a %l %u %U %H"], &view),
        "\
n2 debug* mixed N/A N/A N/A N/A 1:8:1 (null) 1 8 1 1 0 (null) (null) all NO 1 1 n/a OFF no 1-infinite all UNLIMITED up infinite Unknown Unknown Unknown
n3 debug* drained N/A N/A N/A N/A 1:16:1 (null) 1 16 1 1 0 (null) (null) all NO 1 1 n/a OFF no 1-infinite all UNLIMITED up infinite root root(0) 1970-01-01T00:01:00
n3 long drained N/A N/A N/A N/A 1:16:1 (null) 1 16 1 1 0 (null) (null) all NO 1 1 n/a OFF no 1-infinite all UNLIMITED up 2:00:00 root root(0) 1970-01-01T00:01:00
"
    );
}

#[test]
fn long_format_fields() {
    let view = cluster();
    assert_eq!(
        run(&["-N", "-n", "n2", "-O", "NodeList:6,StateLong:.8|,CPUsState,AllocMem:3,GresUsed"], &view),
        "NODELI   STATE|CPUS(A/I/O/T)       ALLGRES_USED           \nn2       mixed|2/6/0/8             0  (null)              \n"
    );
}

#[test]
fn state_filters_and_dead_or_responding() {
    let view = cluster();
    let nodes = |words: &[&str]| {
        let mut all = vec!["-h", "-N", "-o", "%N"];
        all.extend_from_slice(words);
        run(&all, &view)
            .lines()
            .map(String::from)
            .collect::<Vec<_>>()
    };
    assert_eq!(nodes(&["-t", "alloc"]), vec!["n2"]);
    assert_eq!(nodes(&["-t", "drain,down"]), vec!["n3", "n3", "n4", "n4"]);
    assert_eq!(nodes(&["-d"]), vec!["n4", "n4"]);
    assert_eq!(nodes(&["-r", "-p", "debug"]), vec!["n1", "n2", "n3"]);
    assert_eq!(nodes(&["-t", "all", "-p", "debug"]).len(), 4);
    assert_eq!(nodes(&["-n", "n1,n9"]), vec!["n1"]);
}

#[test]
fn unknown_and_not_responding_nodes() {
    let mut view = cluster();
    view.nodes[0].availability = NodeAvailability::Unknown;
    view.partitions[0].state = PartitionState::Drain;
    let out = run(&["-h", "-p", "debug", "-o", "%a %t %T"], &view);
    assert!(out.contains("drain unk* unknown*\n"), "{out}");
}

#[test]
fn parses_options() {
    let q = query(&[
        "-Nleh",
        "-p",
        "a,b",
        "--states=idle",
        "-n",
        "n[1-2]",
        "--noconvert",
        "extra",
    ]);
    assert!(q.node_view && q.long && q.exact && !q.header && !q.convert_units);
    assert_eq!(q.partitions, Some(vec!["a".to_string(), "b".to_string()]));
    assert_eq!(q.nodes, Some(vec!["n1".to_string(), "n2".to_string()]));
    assert_eq!(
        q.states,
        Some(StateSelection::Only(vec![StateFilter::Idle]))
    );
    assert!(q.node_field_flag && q.part_field_flag);
    let q = query(&["-R"]);
    assert_eq!(q.states, Some(StateSelection::reasons_default()));
    assert_eq!(
        q.states,
        Some(StateSelection::Only(vec![
            StateFilter::Base(BaseState::Down),
            StateFilter::Never,
            StateFilter::Drain
        ]))
    );
    let q = query(&["-R", "-t", "ALL"]);
    assert_eq!(q.states, Some(StateSelection::All));
    let q = query(&["-o", "%P %Q"]);
    assert_eq!(q.warnings, vec!["Invalid node format specification: Q"]);
    assert!(!q.part_field_flag);
    // -O then -o: the last format, still read as -O.
    let q = query(&["-O", "nodelist", "-o", "partition"]);
    assert_eq!(q.format.fields[0].kind, FieldKind::Partition);
}

#[test]
fn prints_help_usage_and_version() {
    let print = |words: &[&str]| match parse_command_line(&argv(words), &[]).unwrap() {
        Invocation::Print(text) => text,
        Invocation::Show(_) => panic!("no print"),
    };
    assert_eq!(print(&["-V"]), "slurm 22.05.8\n");
    assert!(print(&["--usage"]).starts_with("Usage: sinfo [-adelNRrsTv]"));
    assert!(print(&["--help"]).starts_with("Usage: sinfo [OPTIONS]\n"));
}

#[test]
fn refuses_what_corral_lacks() {
    for (words, option) in [
        (&["-T"][..], "reservation"),
        (&["-M", "lab"][..], "clusters"),
        (&["--json"][..], "json"),
        (&["--yaml"][..], "yaml"),
    ] {
        assert_eq!(
            error(words),
            format!("sinfo: error: --{option} is not supported by Corral yet\n")
        );
    }
    let env = [("SLURM_CLUSTERS".to_string(), "lab".to_string())];
    assert_eq!(
        parse_command_line(&argv(&[]), &env)
            .unwrap_err()
            .stderr_text(),
        "sinfo: error: SLURM_CLUSTERS is not supported by Corral yet\n"
    );
}

#[test]
fn sort_keys_and_sinfo_sort() {
    let view = cluster();
    // By partition name backwards; records equal on it keep the order
    // they were built in.
    assert_eq!(
        run(&["-h", "-o", "%P %D %t", "-S", "-P"], &view),
        "long 1 drain\nlong 1 down*\ndebug* 1 idle\ndebug* 1 mix\ndebug* 1 drain\ndebug* 1 down*\n"
    );
    // By the partitions' order, then by state from the lowest value.
    assert_eq!(
        run(&["-h", "-o", "%P %t", "-S", "#P,t"], &view),
        "debug* idle\ndebug* mix\ndebug* drain\ndebug* down*\nlong drain\nlong down*\n"
    );
    // Ties keep the order of the earlier sort.
    assert_eq!(
        run(&["-h", "-N", "-o", "%N %c", "-S", "-c"], &view),
        "n3 16\nn3 16\nn1 8\nn2 8\nn4 8\nn4 8\n"
    );
    let env = [("SINFO_SORT".to_string(), "-N".to_string())];
    let Invocation::Show(from_env) =
        parse_command_line(&argv(&["-h", "-N", "-o", "%N"]), &env).unwrap()
    else {
        panic!("printed");
    };
    assert_eq!(render(&from_env, &view), "n4\nn4\nn3\nn3\nn2\nn1\n");
    // `-S` wins over SINFO_SORT; unknown letters are skipped.
    let Invocation::Show(overridden) =
        parse_command_line(&argv(&["-h", "-N", "-o", "%N", "-S", "qN"]), &env).unwrap()
    else {
        panic!("printed");
    };
    assert_eq!(render(&overridden, &view), "n1\nn2\nn3\nn3\nn4\nn4\n");
}

#[test]
fn iterate_and_verbose_print_the_time_first() {
    let view = cluster();
    assert_eq!(query(&["-i", "5"]).iterate_seconds, Some(5));
    assert_eq!(query(&["-i", "7x"]).iterate_seconds, Some(7));
    let time_line = "Thu Jan  1 00:00:00 1970\n";
    assert!(run(&["-i", "5"], &view).starts_with(time_line));
    assert!(run(&["-v"], &view).starts_with(time_line));
    assert!(!run(&["-v", "-h"], &view).starts_with(time_line));
    assert!(!run(&[], &view).starts_with(time_line));
    for bad in ["0", "-2", "abc", ""] {
        assert_eq!(
            error(&["-i", bad]),
            format!("sinfo: error: Error: invalid entry for --iterate={bad}\n")
        );
    }
}

#[test]
fn slurm_errors() {
    assert_eq!(
        error(&["--bogus"]),
        "sinfo: unrecognized option '--bogus'\nTry \"sinfo --help\" for more information\n"
    );
    assert_eq!(
        error(&["-x"]),
        "sinfo: invalid option -- 'x'\nTry \"sinfo --help\" for more information\n"
    );
    assert_eq!(
        error(&["-p"]),
        "sinfo: option requires an argument -- 'p'\nTry \"sinfo --help\" for more information\n"
    );
    assert_eq!(
        error(&["-a", "-p", "debug"]),
        "sinfo: error: Conflicting options, -a and -p, specified. Please choose one or the other.\n"
    );
    assert_eq!(
        error(&["-l", "-o", "%P"]),
        "sinfo: fatal: Options -o(--format) and -l(--long) are mutually exclusive. Please remove one and retry.\n"
    );
    assert_eq!(
        error(&["-n", "n[1-"]),
        "sinfo: error: 'n[1-' invalid entry for --nodes\n"
    );
    assert!(error(&["-t", "bogus"])
        .starts_with("sinfo: error: Bad state string: \"bogus\"\nsinfo: error: valid states: "));
    let env = [
        ("SINFO_ALL".to_string(), "1".to_string()),
        ("SINFO_PARTITION".to_string(), "debug".to_string()),
    ];
    assert_eq!(
        parse_command_line(&argv(&[]), &env).unwrap_err().exit_code,
        1
    );
}

#[test]
fn environment_format_and_partition() {
    let env = [
        ("SINFO_FORMAT".to_string(), "%P:%D".to_string()),
        ("SINFO_PARTITION".to_string(), "long".to_string()),
    ];
    let Invocation::Show(query) = parse_command_line(&argv(&["-h"]), &env).unwrap() else {
        panic!("no query");
    };
    assert_eq!(render(&query, &cluster()), "long:2\n");
}

proptest! {
    #[test]
    fn never_panics(words in prop::collection::vec("(-{0,2}[a-zA-Z=%.,]{0,6}|[ -~]{0,8})", 0..6)) {
        let words: Vec<&str> = words.iter().map(String::as_str).collect();
        if let Ok(Invocation::Show(query)) = parse_command_line(&argv(&words), &[]) {
            let _ = render(&query, &cluster());
        }
    }
}
