use super::*;
use proptest::prelude::*;

/// Runs the three steps the CLI runs. `script` stands for the file or stdin.
fn run(
    argv: &[&str],
    environment: &[(&str, &str)],
    script: &str,
) -> Result<SbatchRequest, SlurmError> {
    run_any(argv, environment, script)
        .map(|request| request.expect("a request, not printed output"))
}

/// As [`run`], with `None` for an invocation that only prints (`--help`).
fn run_any(
    argv: &[&str],
    environment: &[(&str, &str)],
    script: &str,
) -> Result<Option<SbatchRequest>, SlurmError> {
    let argv: Vec<String> = argv.iter().map(|s| s.to_string()).collect();
    let environment: Vec<(String, String)> = environment
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let command_line = match parse_command_line(&argv)? {
        Invocation::Submit(command_line) => command_line,
        Invocation::Print(_) => return Ok(None),
    };
    let script = match command_line.script_source() {
        ScriptSource::Wrapped(script) => script,
        ScriptSource::File(_) | ScriptSource::Stdin => BatchScript::from_bytes(script.as_bytes())?,
    };
    build_request(&command_line, &environment, script, CLOCK).map(Some)
}

/// 2026-11-22T00:03:35 UTC, the references' clock.
const CLOCK: Clock = Clock {
    now_ms: 1_795_305_815_000,
    utc_offset_seconds: 0,
};

fn ok(argv: &[&str], environment: &[(&str, &str)], script: &str) -> SbatchRequest {
    run(argv, environment, script).unwrap()
}

fn fails(argv: &[&str], environment: &[(&str, &str)], script: &str) -> (Vec<String>, i32) {
    let error = run(argv, environment, script).unwrap_err();
    (error.lines, error.exit_code)
}

const DEMO_SH: &str = "#!/bin/bash
#SBATCH -J demo
#SBATCH -o out-%j-%x.txt
#SBATCH -e err-%j-%x.txt
#SBATCH -t 00:05:00
#SBATCH -c 2
#SBATCH --mem=100M
#SBATCH -N 1
echo \"hello from $SLURM_JOB_ID $SLURM_JOB_NAME cpus=$SLURM_CPUS_PER_TASK\"
echo \"to stderr\" >&2
";

const TRUE_SH: &str = "#!/bin/sh\ntrue\n";

#[test]
fn wrap_as_in_reference_01() {
    let request = ok(&["sbatch", "--wrap", "hostname"], &[], "");
    assert_eq!(request.job_name, "wrap");
    assert_eq!(
        request.script,
        "#!/bin/sh\n# This script was created by sbatch --wrap.\n\nhostname\n"
    );
    assert_eq!(
        request.submitted_message(2).as_deref(),
        Some("Submitted batch job 2\n")
    );
    assert_eq!(
        (request.min_nodes, request.ntasks, request.cpus_per_task),
        (1, 1, 1)
    );
}

#[test]
fn parsable_as_in_reference_02() {
    let request = ok(&["sbatch", "--parsable", "--wrap", "sleep 1"], &[], "");
    assert_eq!(request.submitted_message(3).as_deref(), Some("3\n"));
    let quiet = ok(&["sbatch", "-Q", "--wrap=true"], &[], "");
    assert_eq!(quiet.submitted_message(3), None);
}

#[test]
fn demo_script_as_in_reference_05() {
    let request = ok(&["sbatch", "demo.sh"], &[], DEMO_SH);
    assert_eq!(request.job_name, "demo");
    assert_eq!(request.stdout.as_deref(), Some("out-%j-%x.txt"));
    assert_eq!(request.stderr.as_deref(), Some("err-%j-%x.txt"));
    assert_eq!(request.time_limit, Some(TimeLimit::Minutes(5)));
    assert_eq!(request.cpus_per_task, 2);
    assert_eq!(request.memory_per_node_mb, Some(100));
    assert_eq!(
        (request.min_nodes, request.max_nodes, request.ntasks),
        (1, None, 1)
    );

    let spec = request.to_job_spec(
        "/home/alice/work",
        vec![("HOME".into(), "/root".into())],
        "vm",
    );
    assert_eq!(
        spec.stdout_pattern.as_deref(),
        Some("/home/alice/work/out-%j-%x.txt")
    );
    assert_eq!(spec.work_dir, "/home/alice/work");
    assert_eq!(spec.time_limit_minutes, Some(5));
    assert_eq!(spec.script, DEMO_SH);
    assert_eq!(spec.submit_host, "vm");
    assert!(spec
        .environment
        .contains(&("SLURM_SUBMIT_DIR".into(), "/home/alice/work".into())));
    assert!(spec
        .environment
        .contains(&("SLURM_SUBMIT_HOST".into(), "vm".into())));
    assert!(spec.environment.contains(&("HOME".into(), "/root".into())));
}

#[test]
fn job_names_default_by_source() {
    assert_eq!(
        ok(&["sbatch", "/home/a/run.sh"], &[], TRUE_SH).job_name,
        "run.sh"
    );
    assert_eq!(ok(&["sbatch"], &[], TRUE_SH).job_name, "sbatch");
    assert_eq!(ok(&["sbatch", "-J", "", "x.sh"], &[], TRUE_SH).job_name, "");
}

/// (argv, environment, script, stderr lines, exit code): what Slurm prints.
type ErrorCase = (
    &'static [&'static str],
    &'static [(&'static str, &'static str)],
    &'static str,
    &'static [&'static str],
    i32,
);

const ERROR_CASES: &[ErrorCase] = &[
    // References 78, 79, 88, 89.
    (&["sbatch", "-t", "abc", "--wrap", "true"], &[], "", &["sbatch: error: Invalid --time specification"], 255),
    (&["sbatch", "-t", "1:2:3:4:5", "--wrap", "true"], &[], "", &["sbatch: error: Invalid --time specification"], 255),
    (&["/usr/bin/sbatch", "--bogus", "--wrap", "true"], &[], "",
     &["/usr/bin/sbatch: unrecognized option '--bogus'", "Try \"sbatch --help\" for more information"], 255),
    (&["sbatch", "--mem=abc", "--wrap", "true"], &[], "", &["sbatch: error: Invalid --mem specification"], 255),
    // References 90, 91, 92.
    (&["sbatch", "empty.sh"], &[], "", &["sbatch: error: Batch script is empty!"], 1),
    (&["sbatch"], &[], "", &["sbatch: error: Batch script is empty!"], 1),
    (&["sbatch", "noshebang.sh"], &[], "echo no shebang\n", &[
        "sbatch: error: This does not look like a batch script.  The first",
        "sbatch: error: line must start with #! followed by the path to an interpreter.",
        "sbatch: error: For instance: #!/bin/sh",
    ], 1),
    // getopt's other errors, argv[0] as given.
    (&["sbatch", "--par", "x.sh"], &[], TRUE_SH,
     &["sbatch: option '--par' is ambiguous; possibilities: '--parsable' '--partition'",
       "Try \"sbatch --help\" for more information"], 255),
    (&["sbatch", "--no", "x.sh"], &[], TRUE_SH,
     &["sbatch: option '--no' is ambiguous; possibilities: '--no-kill' '--no-requeue' '--nodefile' '--nodelist' '--nodes'",
       "Try \"sbatch --help\" for more information"], 255),
    (&["sbatch", "-vz", "x.sh"], &[], TRUE_SH, &["sbatch: invalid option -- 'z'", "Try \"sbatch --help\" for more information"], 255),
    (&["sbatch", "x.sh", "-J"], &[], TRUE_SH, &[], 0),
    (&["sbatch", "-J"], &[], TRUE_SH, &["sbatch: option requires an argument -- 'J'", "Try \"sbatch --help\" for more information"], 255),
    (&["sbatch", "--job-name"], &[], TRUE_SH, &["sbatch: option '--job-name' requires an argument", "Try \"sbatch --help\" for more information"], 255),
    (&["sbatch", "--parsable=yes", "x.sh"], &[], TRUE_SH,
     &["sbatch: option '--parsable' doesn't allow an argument", "Try \"sbatch --help\" for more information"], 255),
    // Values.
    (&["sbatch", "-c", "0", "x.sh"], &[], TRUE_SH, &["sbatch: error: Invalid numeric value \"0\" for --cpus-per-task."], 1),
    (&["sbatch", "-n", "2x", "x.sh"], &[], TRUE_SH, &["sbatch: error: Invalid numeric value \"2x\" for --ntasks."], 1),
    (&["sbatch", "-N", "abc", "x.sh"], &[], TRUE_SH, &["sbatch: error: \"abc\" is not a valid node count"], 255),
    (&["sbatch", "-N", "4-2", "x.sh"], &[], TRUE_SH, &["sbatch: error: Maximum node count 2 is less than minimum node count 4"], 255),
    (&["sbatch", "-N", "0", "x.sh"], &[], TRUE_SH, &["sbatch: error: --nodes=0 is not supported by Corral yet"], 1),
    (&["sbatch", "-Q", "-v", "x.sh"], &[], TRUE_SH, &["sbatch: error: don't specify both --verbose (-v) and --quiet (-Q)"], 1),
    (&["sbatch", "--wrap", "true", "x.sh"], &[], TRUE_SH, &["sbatch: error: Script arguments not permitted with --wrap option"], 1),
    // Recognised but not implemented.
    (&["sbatch", "--contiguous", "x.sh"], &[], TRUE_SH, &["sbatch: error: --contiguous is not supported by Corral yet"], 1),
    (&["sbatch", "--ntasks-per-core=2", "x.sh"], &[], TRUE_SH, &["sbatch: error: --ntasks-per-core is not supported by Corral yet"], 1),
    (&["sbatch", "--dependency=aftercorr:1", "x.sh"], &[], TRUE_SH, &["sbatch: error: --dependency=aftercorr is not supported by Corral yet"], 1),
    // Arrays: reference 95, whatever the mistake and wherever it comes from.
    (&["sbatch", "--array=abc", "--wrap", "true"], &[], "", &["sbatch: error: Batch job submission failed: Invalid job array specification"], 1),
    (&["sbatch", "-a", "5-1", "x.sh"], &[], TRUE_SH, &["sbatch: error: Batch job submission failed: Invalid job array specification"], 1),
    (&["sbatch", "--arr=1-3:0", "x.sh"], &[], TRUE_SH, &["sbatch: error: Batch job submission failed: Invalid job array specification"], 1),
    (&["sbatch", "--array=", "x.sh"], &[], TRUE_SH, &["sbatch: error: Batch job submission failed: Invalid job array specification"], 1),
    (&["sbatch", "--array=1-5%0", "x.sh"], &[], TRUE_SH, &["sbatch: error: Batch job submission failed: Invalid job array specification"], 1),
    (&["sbatch", "x.sh"], &[], "#!/bin/sh\n#SBATCH --array=1001\n", &["sbatch: error: Batch job submission failed: Invalid job array specification"], 1),
    (&["sbatch", "x.sh"], &[("SBATCH_ARRAY_INX", "0-1001")], TRUE_SH, &["sbatch: error: Batch job submission failed: Invalid job array specification"], 1),
    // Dependencies.
    (&["sbatch", "--dependency=bogus:1", "x.sh"], &[], TRUE_SH, &["sbatch: error: Batch job submission failed: Job dependency problem"], 1),
    (&["sbatch", "-d", "afterok", "x.sh"], &[], TRUE_SH, &["sbatch: error: Batch job submission failed: Job dependency problem"], 1),
    (&["sbatch", "--dep", "afterok:x", "x.sh"], &[], TRUE_SH, &["sbatch: error: Batch job submission failed: Job dependency problem"], 1),
    (&["sbatch", "-d", "afterok:1,afterok:2?afterok:3", "x.sh"], &[], TRUE_SH, &["sbatch: error: Batch job submission failed: Job dependency problem"], 1),
    (&["sbatch", "x.sh"], &[], "#!/bin/sh\n#SBATCH -d singleton:4\n", &["sbatch: error: Batch job submission failed: Job dependency problem"], 1),
    // Option errors come before what the controller would check, arrays before dependencies.
    (&["sbatch", "--array=abc", "-t", "xyz", "x.sh"], &[], TRUE_SH, &["sbatch: error: Invalid --time specification"], 255),
    (&["sbatch", "-d", "x", "--array=abc", "x.sh"], &[], TRUE_SH, &["sbatch: error: Batch job submission failed: Invalid job array specification"], 1),
    // Mail, nice, account.
    (&["sbatch", "--mail-type=bogus", "x.sh"], &[], TRUE_SH, &["sbatch: error: Invalid --mail-type specification"], 255),
    (&["sbatch", "--mail-type=BEGIN", "--mail-type=soon", "x.sh"], &[], TRUE_SH, &["sbatch: error: Invalid --mail-type specification"], 255),
    (&["sbatch", "--mail", "x", "x.sh"], &[], TRUE_SH,
     &["sbatch: option '--mail' is ambiguous; possibilities: '--mail-type' '--mail-user'", "Try \"sbatch --help\" for more information"], 255),
    (&["sbatch", "--nice=3000000000", "x.sh"], &[], TRUE_SH, &["sbatch: error: Invalid --nice value, out of range (+/- 2147483645)"], 255),
    (&["sbatch", "--nice=-2147483646", "x.sh"], &[], TRUE_SH, &["sbatch: error: Invalid --nice value, out of range (+/- 2147483645)"], 255),
    (&["sbatch", "-A"], &[], TRUE_SH, &["sbatch: option requires an argument -- 'A'", "Try \"sbatch --help\" for more information"], 255),
    (&["sbatch", "x.sh"], &[], "#!/bin/sh\n#SBATCH --gres=nic:1\n", &["sbatch: error: --gres=nic is not supported by Corral yet (only gpu)"], 1),
    (&["sbatch", "--gres=gpu:x", "x.sh"], &[], "#!/bin/sh\n", &["sbatch: error: Invalid generic resource (gres) specification"], 1),
    // Malformed directives.
    (&["sbatch", "x.sh"], &[], "#!/bin/sh\n#SBATCH --bogus\n",
     &["sbatch: unrecognized option '--bogus'", "Try \"sbatch --help\" for more information"], 255),
    (&["sbatch", "x.sh"], &[], "#!/bin/sh\n#SBATCH -J name extra\n", &["sbatch: error: Invalid directive found in batch script: extra"], 255),
    (&["sbatch", "x.sh"], &[], "#!/bin/sh\n#SBATCH --hold yes\n", &["sbatch: error: Invalid directive found in batch script: yes"], 255),
    (&["sbatch", "x.sh"], &[], "#!/bin/sh\n#SBATCH -t abc\n#SBATCH --bogus\n", &["sbatch: error: Invalid --time specification"], 255),
    (&["sbatch", "/a/x.sh"], &[], "#!/bin/sh\n#SBATCH -J 'x\n", &["sbatch: fatal: x.sh: line 2: Unmatched `'` in [ 'x]"], 1),
    // Placement and launch options.
    (&["sbatch", "--begin=abc", "x.sh"], &[], TRUE_SH,
     &["Invalid time specification (pos=0): abc", "sbatch: error: Invalid --begin specification"], 255),
    (&["sbatch", "-b", "now+3x", "x.sh"], &[], TRUE_SH,
     &["Invalid time specification (pos=4): now+3x", "sbatch: error: Invalid --begin specification"], 255),
    (&["sbatch", "--begin=", "x.sh"], &[], TRUE_SH, &["sbatch: error: Invalid --begin specification"], 255),
    (&["sbatch", "x.sh"], &[], "#!/bin/sh\n#SBATCH --begin=25:00\n",
     &["Invalid time specification (pos=0): 25:00", "sbatch: error: Invalid --begin specification"], 255),
    (&["sbatch", "--time-min=abc", "x.sh"], &[], TRUE_SH, &["sbatch: error: Invalid --time-min specification"], 255),
    (&["sbatch", "-t", "10", "--time-min=20", "x.sh"], &[], TRUE_SH,
     &["sbatch: error: Batch job submission failed: Invalid time-min specification (exceeds job's time or other limits)"], 1),
    (&["sbatch", "-t", "10", "--time-min=0", "x.sh"], &[], TRUE_SH,
     &["sbatch: error: Batch job submission failed: Invalid time-min specification (exceeds job's time or other limits)"], 1),
    (&["sbatch", "--signal=USR3", "x.sh"], &[], TRUE_SH, &["sbatch: error: Invalid --signal specification"], 255),
    (&["sbatch", "--signal=USR1@70000", "x.sh"], &[], TRUE_SH, &["sbatch: error: Invalid --signal specification"], 255),
    (&["sbatch", "x.sh"], &[("SBATCH_SIGNAL", "B:")], TRUE_SH, &["sbatch: error: Invalid --signal specification"], 255),
    (&["sbatch", "--open-mode=overwrite", "x.sh"], &[], TRUE_SH, &["sbatch: error: Invalid --open-mode specification"], 255),
    (&["sbatch", "x.sh"], &[("SBATCH_OPEN_MODE", "")], TRUE_SH, &["sbatch: error: Invalid --open-mode specification"], 255),
    (&["sbatch", "--exclusive=bogus", "x.sh"], &[], TRUE_SH, &["sbatch: error: Invalid --exclusive specification"], 255),
    (&["sbatch", "--exclusive=User", "x.sh"], &[], TRUE_SH, &["sbatch: error: --exclusive=user is not supported by Corral yet"], 1),
    (&["sbatch", "x.sh"], &[("SBATCH_EXCLUSIVE", "mcs")], TRUE_SH, &["sbatch: error: --exclusive=mcs is not supported by Corral yet"], 1),
    (&["sbatch", "--mem-per-cpu=abc", "x.sh"], &[], TRUE_SH, &["sbatch: error: Invalid --mem-per-cpu specification"], 255),
    (&["sbatch", "--mem=1G", "--mem-per-cpu=1G", "x.sh"], &[], TRUE_SH,
     &["sbatch: fatal: --mem, --mem-per-cpu, and --mem-per-gpu are mutually exclusive."], 1),
    (&["sbatch", "--mem-per-cpu=1G", "x.sh"], &[], "#!/bin/sh\n#SBATCH --mem=2G\n",
     &["sbatch: fatal: --mem, --mem-per-cpu, and --mem-per-gpu are mutually exclusive."], 1),
    (&["sbatch", "x.sh"], &[("SBATCH_MEM_PER_NODE", "1G"), ("SBATCH_MEM_PER_CPU", "1G")], TRUE_SH,
     &["sbatch: fatal: SLURM_MEM_PER_CPU, SLURM_MEM_PER_GPU, and SLURM_MEM_PER_NODE are mutually exclusive."], 1),
    (&["sbatch", "--ntasks-per-node=0", "x.sh"], &[], TRUE_SH, &["sbatch: error: Invalid numeric value \"0\" for --ntasks-per-node."], 1),
    (&["sbatch", "--tasks-per-node=x", "x.sh"], &[], TRUE_SH, &["sbatch: error: Invalid numeric value \"x\" for --ntasks-per-node."], 1),
    (&["sbatch", "-N", "2", "-n", "8", "--ntasks-per-node=2", "x.sh"], &[], TRUE_SH,
     &["sbatch: error: Batch job submission failed: Requested node configuration is not available"], 1),
    (&["sbatch", "-N", "2", "-w", "n[1-3]", "x.sh"], &[], TRUE_SH, &["sbatch: error: invalid number of nodes (-N 3-2)"], 1),
    (&["sbatch", "-w", "n[1-", "x.sh"], &[], TRUE_SH, &["sbatch: error: Batch job submission failed: Invalid node name specified"], 1),
    (&["sbatch", "-x", "n[1,", "x.sh"], &[], TRUE_SH, &["sbatch: error: Batch job submission failed: Invalid node name specified"], 1),
    (&["sbatch", "-w", "n1", "-x", "n[1-2]", "x.sh"], &[], TRUE_SH, &["sbatch: error: Batch job submission failed: Invalid node name specified"], 1),
    (&["sbatch", "--nodelist=./hosts", "x.sh"], &[], TRUE_SH, &["sbatch: error: --nodelist=<node file> is not supported by Corral yet"], 1),
    (&["sbatch", "-x", "/etc/hosts", "x.sh"], &[], TRUE_SH, &["sbatch: error: --exclude=<node file> is not supported by Corral yet"], 1),
    // The environment.
    (&["sbatch", "x.sh"], &[("SBATCH_TIMELIMIT", "soon")], TRUE_SH, &["sbatch: error: Invalid --time specification"], 255),
    (&["sbatch", "x.sh"], &[("SBATCH_DEBUG", "yes")], TRUE_SH, &["sbatch: error: Invalid numeric value \"yes\" for --verbose."], 1),
];

#[test]
fn errors_match_slurm() {
    for (argv, environment, script, lines, exit_code) in ERROR_CASES {
        if *exit_code == 0 {
            assert!(run(argv, environment, script).is_ok(), "{argv:?}");
            continue;
        }
        assert_eq!(
            fails(argv, environment, script),
            (lines.iter().map(|l| l.to_string()).collect(), *exit_code),
            "{argv:?} {script:?}"
        );
    }
}

#[test]
fn precedence_is_command_line_then_environment_then_script() {
    let script = "#!/bin/sh\n#SBATCH -J from-script -p script-part -t 10\n";
    let env = [("SBATCH_JOB_NAME", "from-env"), ("SBATCH_TIMELIMIT", "20")];
    let request = ok(&["sbatch", "-J", "from-cli", "x.sh"], &env, script);
    assert_eq!(request.job_name, "from-cli");
    assert_eq!(request.time_limit, Some(TimeLimit::Minutes(20)));
    assert_eq!(request.partition.as_deref(), Some("script-part"));
    let request = ok(&["sbatch", "x.sh"], &env, script);
    assert_eq!(request.job_name, "from-env");
    let request = ok(&["sbatch", "x.sh"], &[], script);
    assert_eq!(request.job_name, "from-script");
    let request = ok(
        &["sbatch", "x.sh"],
        &[
            ("SBATCH_PARTITION", "env-part"),
            ("SBATCH_MEM_PER_NODE", "2G"),
        ],
        script,
    );
    assert_eq!(request.partition.as_deref(), Some("env-part"));
    assert_eq!(request.memory_per_node_mb, Some(2048));
}

#[test]
fn later_occurrences_win_and_clusters_split() {
    let request = ok(
        &["sbatch", "-J", "a", "--job-name=b", "-HJc", "x.sh"],
        &[],
        TRUE_SH,
    );
    assert_eq!(request.job_name, "c");
    assert!(request.hold);
    let request = ok(
        &["sbatch", "--parsa", "--parti=debug", "--job", "n", "x.sh"],
        &[],
        TRUE_SH,
    );
    assert!(request.parsable);
    assert_eq!(request.partition.as_deref(), Some("debug"));
    assert_eq!(request.job_name, "n");
}

#[test]
fn everything_after_the_script_belongs_to_it() {
    let request = ok(
        &["sbatch", "-J", "x", "job.sh", "-J", "y", "--bogus"],
        &[],
        TRUE_SH,
    );
    assert_eq!(request.job_name, "x");
    assert_eq!(request.script_arguments, vec!["-J", "y", "--bogus"]);
    let request = ok(&["sbatch", "--", "job.sh", "-v"], &[], TRUE_SH);
    assert_eq!(request.script_path.as_deref(), Some("job.sh"));
    assert_eq!(request.script_arguments, vec!["-v"]);
}

#[test]
fn directives_stop_at_the_first_command() {
    let script = "#!/bin/sh\n\n# comment\n#SBATCH -J early\nhostname\n#SBATCH --array=1-9\n";
    assert_eq!(ok(&["sbatch", "x.sh"], &[], script).job_name, "early");
}

#[test]
fn first_pass_options_are_ignored_in_scripts() {
    let script = "#!/bin/sh\n#SBATCH --wrap=hostname -v --help -V --usage -Q\n";
    let request = ok(&["sbatch", "x.sh"], &[], script);
    assert_eq!(request.script, script);
    assert_eq!((request.verbose, request.quiet), (0, 0));
}

#[test]
fn nodes_and_tasks() {
    let request = ok(&["sbatch", "-N", "2", "x.sh"], &[], TRUE_SH);
    assert_eq!(
        (request.min_nodes, request.max_nodes, request.ntasks),
        (2, None, 2)
    );
    let request = ok(&["sbatch", "-N", "2-4", "x.sh"], &[], TRUE_SH);
    assert_eq!(
        (request.min_nodes, request.max_nodes, request.ntasks),
        (2, Some(4), 2)
    );
    let request = ok(&["sbatch", "-N", "2-4", "-n", "3", "x.sh"], &[], TRUE_SH);
    assert_eq!(
        (request.min_nodes, request.max_nodes, request.ntasks),
        (2, Some(3), 3)
    );
    let request = ok(&["sbatch", "-N", "3", "-n", "2", "x.sh"], &[], TRUE_SH);
    assert_eq!((request.min_nodes, request.ntasks), (2, 2));
    assert_eq!(
        request.warnings,
        vec!["sbatch: Warning: can't run 2 processes on 3 nodes, setting nnodes to 2"]
    );
    let request = ok(&["sbatch", "-n", "40", "x.sh"], &[], TRUE_SH);
    assert_eq!((request.min_nodes, request.ntasks), (1, 40));
    let request = ok(&["sbatch", "-N", "1k", "x.sh"], &[], TRUE_SH);
    assert_eq!(request.min_nodes, 1024);
    let request = ok(&["sbatch", "-N", "2-", "x.sh"], &[], TRUE_SH);
    assert_eq!((request.min_nodes, request.max_nodes), (2, None));
}

#[test]
fn zero_time_limit_is_unlimited() {
    let request = ok(&["sbatch", "-t", "0", "x.sh"], &[], TRUE_SH);
    assert_eq!(request.time_limit, Some(TimeLimit::Unlimited));
    assert_eq!(
        request.to_job_spec("/w", vec![], "h").time_limit_minutes,
        None
    );
    let request = ok(&["sbatch", "-t", "UNLIMITED", "x.sh"], &[], TRUE_SH);
    assert_eq!(request.time_limit, Some(TimeLimit::Unlimited));
}

#[test]
fn paths_resolve_against_the_work_directory() {
    let request = ok(
        &[
            "sbatch", "-D", "./sub", "-o", "out.txt", "-e", "none", "-i", "/in", "x.sh",
        ],
        &[],
        TRUE_SH,
    );
    let spec = request.to_job_spec("/home/alice/", vec![], "vm");
    assert_eq!(spec.work_dir, "/home/alice/sub");
    assert_eq!(
        spec.stdout_pattern.as_deref(),
        Some("/home/alice/sub/out.txt")
    );
    assert_eq!(spec.stderr_pattern.as_deref(), Some("/dev/null"));
    assert_eq!(spec.stdin_path.as_deref(), Some("/in"));
    let spec =
        ok(&["sbatch", "-D", "/scratch", "x.sh"], &[], TRUE_SH).to_job_spec("/home", vec![], "vm");
    assert_eq!(spec.work_dir, "/scratch");
    assert!(spec
        .environment
        .contains(&("SLURM_SUBMIT_DIR".into(), "/home".into())));
}

#[test]
fn verbosity_from_the_environment() {
    assert_eq!(
        ok(&["sbatch", "x.sh"], &[("SBATCH_DEBUG", "2")], TRUE_SH).verbose,
        2
    );
    assert_eq!(
        ok(&["sbatch", "-v", "x.sh"], &[("SBATCH_DEBUG", "3")], TRUE_SH).verbose,
        1
    );
    assert_eq!(
        ok(
            &["sbatch", "-vv", "x.sh"],
            &[("SBATCH_DEBUG", "0")],
            TRUE_SH
        )
        .verbose,
        0
    );
}

#[test]
fn unimplemented_environment_is_reported_not_applied() {
    let request = ok(
        &["sbatch", "x.sh"],
        &[
            ("SBATCH_WCKEY", "proj"),
            ("SBATCH_NO_KILL", "1"),
            ("SBATCH_ACCOUNT", "applied"),
            ("SBATCH_REQUEUE", ""),
            ("SBATCH_GPUS_PER_NODE", "2"),
            ("OTHER", "x"),
        ],
        TRUE_SH,
    );
    assert_eq!(
        request.ignored_environment,
        vec!["SBATCH_NO_KILL", "SBATCH_WCKEY"]
    );
    // Never silently: each one is named on stderr.
    assert_eq!(
        request.warnings,
        vec![
            "sbatch: warning: SBATCH_NO_KILL is set but not supported by Corral yet; it has no effect",
            "sbatch: warning: SBATCH_WCKEY is set but not supported by Corral yet; it has no effect",
        ]
    );
    assert_eq!(request.account.as_deref(), Some("applied"));
    assert!(request.requeue);
    assert_eq!(request.gpus_per_node, 2);
}

#[test]
fn help_usage_and_version_answer_first() {
    let print = |argv: &[&str]| match parse_command_line(
        &argv.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
    ) {
        Ok(Invocation::Print(text)) => text,
        other => panic!("{other:?}"),
    };
    assert!(print(&["sbatch", "--help"]).starts_with("Usage: sbatch [OPTIONS(0)...]"));
    assert!(print(&["sbatch", "-h", "--bogus"]).contains("--wrap[=command string]"));
    assert!(print(&["sbatch", "--usage"]).starts_with("Usage: sbatch [-N nnodes]"));
    assert_eq!(print(&["sbatch", "-V"]), "slurm 22.05.8\n");
    assert_eq!(print(&["sbatch", "--vers"]), "slurm 22.05.8\n");
    assert!(run(&["sbatch", "--bogus", "--help"], &[], "").is_err());
}

#[test]
fn heterogeneous_jobs_are_refused() {
    let (lines, code) = fails(&["sbatch", "-N1", ":", "-N2", "x.sh"], &[], TRUE_SH);
    assert!(lines[0].contains("not supported by Corral yet"));
    assert_eq!(code, 1);
}

#[test]
fn old_magic_word_warns() {
    let request = ok(&["sbatch", "x.sh"], &[], "#!/bin/sh\n#SLURM -J old\n");
    assert_eq!(request.job_name, "old");
    assert_eq!(request.warnings.len(), 1);
}

#[test]
fn controller_error_texts() {
    assert_eq!(
        invalid_partition_error("nosuch").stderr_text(),
        "sbatch: error: invalid partition specified: nosuch\nsbatch: error: Batch job submission failed: Invalid partition name specified\n"
    );
    assert_eq!(
        submission_failed_error("Requested node configuration is not available").exit_code,
        1
    );
}

#[test]
fn every_refused_option_names_itself() {
    for def in SBATCH_OPTIONS {
        let SbatchKey::Unsupported(name) = def.key else {
            continue;
        };
        let long = def.long.unwrap();
        let word = match def.has_arg {
            crate::getopt::HasArg::No | crate::getopt::HasArg::Optional => format!("--{long}"),
            crate::getopt::HasArg::Required => format!("--{long}=x"),
        };
        let (lines, code) = fails(&["sbatch", &word, "x.sh"], &[], TRUE_SH);
        assert_eq!(
            lines,
            vec![format!(
                "sbatch: error: --{name} is not supported by Corral yet"
            )]
        );
        assert_eq!(code, 1);
    }
}

proptest! {
    #[test]
    fn any_command_line_gives_a_request_or_an_error(
        words in prop::collection::vec("(-{1,2}[a-zA-Z-]{0,12}(=[a-z0-9:]{0,4})?|[a-z0-9:./-]{0,8})", 0..6),
    ) {
        let mut argv = vec!["sbatch".to_string()];
        argv.extend(words);
        let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
        match run_any(&argv, &[], TRUE_SH) {
            Ok(Some(request)) => prop_assert!(request.ntasks >= 1 && request.min_nodes >= 1),
            Ok(None) => {}
            Err(error) => {
                prop_assert!(!error.lines.is_empty());
                prop_assert!(error.exit_code == 1 || error.exit_code == 255);
            }
        }
    }

    #[test]
    fn any_script_gives_a_request_or_an_error(body in "(#SBATCH [ -~]{0,20}\n|#[ -~]{0,10}\n|[ -~]{0,10}\n){0,6}") {
        let script = format!("#!/bin/sh\n{body}");
        match run(&["sbatch", "x.sh"], &[], &script) {
            Ok(request) => prop_assert_eq!(request.script, script),
            Err(error) => prop_assert!(error.exit_code == 1 || error.exit_code == 255),
        }
    }
}

#[test]
fn gpus_and_requeue_reach_the_job() {
    let request = ok(
        &["sbatch", "--gres=gpu:2", "--requeue", "x.sh"],
        &[],
        "#!/bin/sh\n",
    );
    assert_eq!((request.gpus_per_node, request.requeue), (2, true));
    let request = ok(
        &["sbatch", "-N", "2", "--gpus=4", "x.sh"],
        &[],
        "#!/bin/sh\n#SBATCH --requeue\n",
    );
    assert_eq!(request.gpus_per_node, 2);
    let request = ok(
        &["sbatch", "--no-requeue", "x.sh"],
        &[],
        "#!/bin/sh\n#SBATCH --requeue\n",
    );
    assert!(!request.requeue, "the command line wins over the script");
    let request = ok(
        &["sbatch", "--gpus-per-node=a100:3", "x.sh"],
        &[],
        "#!/bin/sh\n",
    );
    assert_eq!(request.gpus_per_node, 3);
    let spec =
        ok(&["sbatch", "--gres=gpu", "x.sh"], &[], "#!/bin/sh\n").to_job_spec("/w", vec![], "h");
    assert_eq!(spec.gpus_per_node, 1);
    let (lines, _) = fails(
        &["sbatch", "-N", "2", "--gpus=3", "x.sh"],
        &[],
        "#!/bin/sh\n",
    );
    assert!(lines[0].contains("--gpus=3 over 2 nodes"), "{lines:?}");
}

#[test]
fn arrays_reach_the_job() {
    let request = ok(&["sbatch", "--array=1-5%2", "--wrap", "true"], &[], "");
    let array = request.array.clone().unwrap();
    assert_eq!(array.indices, vec![1, 2, 3, 4, 5]);
    assert_eq!(array.max_running, Some(2));
    assert_eq!(request.to_job_spec("/w", vec![], "h").array, Some(array));
    let request = ok(&["sbatch", "-a", "0-15:4,20%3", "x.sh"], &[], TRUE_SH);
    assert_eq!(request.array.unwrap().indices, vec![0, 4, 8, 12, 20]);
    assert_eq!(ok(&["sbatch", "x.sh"], &[], TRUE_SH).array, None);
    let request = ok(&["sbatch", "-a2", "x.sh"], &[], TRUE_SH);
    assert_eq!(request.array.unwrap().indices, vec![2]);
}

#[test]
fn array_precedence_and_sources() {
    let script = "#!/bin/sh\n#SBATCH --array=1-3\n";
    let env = [("SBATCH_ARRAY_INX", "7-8")];
    let indices = |argv: &[&str], env: &[(&str, &str)], script: &str| {
        ok(argv, env, script).array.unwrap().indices
    };
    assert_eq!(indices(&["sbatch", "x.sh"], &[], script), vec![1, 2, 3]);
    assert_eq!(indices(&["sbatch", "x.sh"], &env, script), vec![7, 8]);
    assert_eq!(
        indices(&["sbatch", "-a", "9", "x.sh"], &env, script),
        vec![9]
    );
    // Only the value that wins is checked, as slurmctld sees only that one.
    let bad_script = "#!/bin/sh\n#SBATCH --array=abc\n";
    assert_eq!(
        indices(&["sbatch", "--array=4", "x.sh"], &[], bad_script),
        vec![4]
    );
}

#[test]
fn dependencies_reach_the_job() {
    use corral_state::{DependencyCondition, DependencyKind};
    let condition = |kind, job_id| DependencyCondition {
        kind,
        job_id,
        task: None,
        delay_minutes: 0,
    };
    // Reference 94: an unknown job is well-formed.
    let request = ok(
        &["sbatch", "--dependency=afterok:999999", "--wrap", "true"],
        &[],
        "",
    );
    let dependency = request.dependency.clone().unwrap();
    assert!(!dependency.any);
    assert_eq!(
        dependency.conditions,
        vec![condition(DependencyKind::AfterOk, 999_999)]
    );
    assert_eq!(
        request.to_job_spec("/w", vec![], "h").dependency,
        Some(dependency)
    );
    let request = ok(
        &["sbatch", "-d", "afterok:1:2?singleton", "x.sh"],
        &[],
        TRUE_SH,
    );
    let dependency = request.dependency.unwrap();
    assert!(dependency.any);
    assert_eq!(
        dependency.conditions,
        vec![
            condition(DependencyKind::AfterOk, 1),
            condition(DependencyKind::AfterOk, 2),
            condition(DependencyKind::Singleton, 0),
        ]
    );
    let script = "#!/bin/sh\n#SBATCH --dependency=afterany:3\n";
    let request = ok(&["sbatch", "x.sh"], &[], script);
    assert_eq!(
        request.dependency.unwrap().conditions,
        vec![condition(DependencyKind::AfterAny, 3)]
    );
    // An empty value (or 0) clears it, as in slurmctld.
    assert_eq!(
        ok(&["sbatch", "--dependency=", "x.sh"], &[], script).dependency,
        None
    );
    assert_eq!(ok(&["sbatch", "-d0", "x.sh"], &[], script).dependency, None);
}

#[test]
fn nice_defaults_and_values() {
    let nice = |argv: &[&str], script: &str| ok(argv, &[], script).nice;
    assert_eq!(nice(&["sbatch", "x.sh"], TRUE_SH), 0);
    assert_eq!(nice(&["sbatch", "--nice", "x.sh"], TRUE_SH), 100);
    assert_eq!(nice(&["sbatch", "--nice=5", "x.sh"], TRUE_SH), 5);
    assert_eq!(nice(&["sbatch", "--nice=-5", "x.sh"], TRUE_SH), -5);
    assert_eq!(
        nice(&["sbatch", "--nice=2147483645", "x.sh"], TRUE_SH),
        2_147_483_645
    );
    // strtoll: what follows the number is ignored, no number reads as 0.
    assert_eq!(nice(&["sbatch", "--nice=12abc", "x.sh"], TRUE_SH), 12);
    assert_eq!(nice(&["sbatch", "--nice=abc", "x.sh"], TRUE_SH), 0);
    let script = "#!/bin/sh\n#SBATCH --nice=7\n";
    assert_eq!(nice(&["sbatch", "x.sh"], script), 7);
    assert_eq!(nice(&["sbatch", "--nice=1", "x.sh"], script), 1);
    let spec = ok(&["sbatch", "--nice", "x.sh"], &[], TRUE_SH).to_job_spec("/w", vec![], "h");
    assert_eq!(spec.nice, 100);
}

#[test]
fn recorded_strings_reach_the_job() {
    let script = "#!/bin/sh\n#SBATCH --comment='from script' -A script-acct --qos=low\n";
    let request = ok(
        &[
            "sbatch",
            "--mail-type=END,begin",
            "--mail-user=alice@example.org",
            "-q",
            "high",
            "x.sh",
        ],
        &[],
        script,
    );
    let spec = request.to_job_spec("/w", vec![], "h");
    assert_eq!(spec.comment.as_deref(), Some("from script"));
    assert_eq!(spec.account.as_deref(), Some("script-acct"));
    assert_eq!(spec.qos.as_deref(), Some("high"));
    assert_eq!(spec.mail_type.as_deref(), Some("BEGIN,END"));
    assert_eq!(spec.mail_user.as_deref(), Some("alice@example.org"));
    let spec = ok(&["sbatch", "x.sh"], &[], TRUE_SH).to_job_spec("/w", vec![], "h");
    assert_eq!(
        (
            spec.comment,
            spec.account,
            spec.qos,
            spec.mail_type,
            spec.mail_user
        ),
        (None, None, None, None, None)
    );
}

#[test]
fn account_and_qos_from_the_environment() {
    let env = [("SBATCH_ACCOUNT", "env-acct"), ("SBATCH_QOS", "env-qos")];
    let script = "#!/bin/sh\n#SBATCH -A script-acct -q script-qos\n";
    let request = ok(&["sbatch", "x.sh"], &env, script);
    assert_eq!(request.account.as_deref(), Some("env-acct"));
    assert_eq!(request.qos.as_deref(), Some("env-qos"));
    assert!(request.ignored_environment.is_empty());
    let request = ok(&["sbatch", "--account=cli", "x.sh"], &env, script);
    assert_eq!(request.account.as_deref(), Some("cli"));
}

#[test]
fn mail_types_add_up_across_sources() {
    let script = "#!/bin/sh\n#SBATCH --mail-type=FAIL\n";
    let mail_type = |argv: &[&str]| ok(argv, &[], script).mail_type;
    assert_eq!(mail_type(&["sbatch", "x.sh"]).as_deref(), Some("FAIL"));
    assert_eq!(
        mail_type(&["sbatch", "--mail-type=begin,bogus", "x.sh"]).as_deref(),
        Some("BEGIN,FAIL")
    );
    assert_eq!(
        mail_type(&["sbatch", "--mail-type=NONE", "x.sh"]).as_deref(),
        Some("FAIL"),
        "NONE clears only its own value"
    );
    assert_eq!(
        ok(&["sbatch", "--mail-type=none", "x.sh"], &[], TRUE_SH)
            .mail_type
            .as_deref(),
        Some("NONE")
    );
}

proptest! {
    #[test]
    fn any_array_or_dependency_value_gives_a_request_or_exit_1(
        array in "[0-9,:%-]{0,10}|\\PC{0,8}",
        dependency in "[a-z0-9:,?+_*]{0,14}|\\PC{0,8}",
    ) {
        let array = format!("--array={array}");
        let dependency = format!("--dependency={dependency}");
        match run(&["sbatch", &array, &dependency, "x.sh"], &[], TRUE_SH) {
            Ok(request) => prop_assert!(request.array.is_some()),
            Err(error) => prop_assert_eq!(error.exit_code, 1),
        }
    }
}

#[test]
fn wait_is_read_from_every_source() {
    assert!(ok(&["sbatch", "-W", "x.sh"], &[], TRUE_SH).wait);
    assert!(
        ok(
            &["sbatch", "x.sh"],
            &[],
            "#!/bin/sh\n#SBATCH --wait\ntrue\n"
        )
        .wait
    );
    assert!(!ok(&["sbatch", "x.sh"], &[], TRUE_SH).wait);
}

fn variable<'a>(spec: &'a corral_state::JobSpec, name: &str) -> Option<&'a str> {
    spec.environment
        .iter()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.as_str())
}

#[test]
fn node_lists_set_the_node_count() {
    let request = ok(&["sbatch", "-w", "n[3,1],n1", "x.sh"], &[], TRUE_SH);
    assert_eq!(request.required_nodes, vec!["n1", "n3"]);
    assert_eq!((request.min_nodes, request.ntasks), (2, 2));
    let request = ok(
        &["sbatch", "-N", "3", "--nodelist=n1", "x.sh"],
        &[],
        TRUE_SH,
    );
    assert_eq!((request.min_nodes, request.required_nodes.len()), (3, 1));
    let request = ok(
        &["sbatch", "-N", "1-4", "-w", "n[1-2]", "x.sh"],
        &[],
        TRUE_SH,
    );
    assert_eq!((request.min_nodes, request.max_nodes), (2, Some(4)));
    // Fewer tasks than nodes: Slurm's warning, and the last nodes go.
    let request = ok(&["sbatch", "-n", "1", "-w", "n[1-3]", "x.sh"], &[], TRUE_SH);
    assert_eq!((request.min_nodes, request.ntasks), (1, 1));
    assert_eq!(request.required_nodes, vec!["n1"]);
    assert_eq!(
        request.warnings,
        vec!["sbatch: Warning: can't run 1 processes on 3 nodes, setting nnodes to 1"]
    );
    let request = ok(
        &["sbatch", "x.sh"],
        &[],
        "#!/bin/sh\n#SBATCH -x n[2-3],n2\n",
    );
    assert_eq!(request.excluded_nodes, vec!["n2", "n3"]);
    let spec = request.to_job_spec("/w", vec![], "h");
    assert_eq!(spec.excluded_nodes, vec!["n2", "n3"]);
    assert_eq!(spec.nodes, 1);
    // The command line replaces a script's list.
    let request = ok(
        &["sbatch", "-w", "b1", "x.sh"],
        &[],
        "#!/bin/sh\n#SBATCH -w a[1-2]\n",
    );
    assert_eq!(request.required_nodes, vec!["b1"]);
}

#[test]
fn exclusive_from_every_source() {
    assert!(!ok(&["sbatch", "x.sh"], &[], TRUE_SH).exclusive);
    assert!(ok(&["sbatch", "--exclusive", "x.sh"], &[], TRUE_SH).exclusive);
    assert!(ok(&["sbatch", "--exclusive=EXCLUSIVE", "x.sh"], &[], TRUE_SH).exclusive);
    assert!(ok(&["sbatch", "x.sh"], &[("SBATCH_EXCLUSIVE", "")], TRUE_SH).exclusive);
    assert!(ok(&["sbatch", "x.sh"], &[], "#!/bin/sh\n#SBATCH --exclusive\n").exclusive);
    let spec = ok(&["sbatch", "--exclusive", "x.sh"], &[], TRUE_SH).to_job_spec("/w", vec![], "h");
    assert!(spec.exclusive);
}

#[test]
fn memory_per_cpu_and_its_precedence() {
    let request = ok(
        &["sbatch", "-c", "4", "--mem-per-cpu=2G", "x.sh"],
        &[],
        TRUE_SH,
    );
    assert_eq!(
        (request.memory_per_node_mb, request.memory_per_cpu_mb),
        (None, Some(2048))
    );
    let spec = request.to_job_spec("/w", vec![], "h");
    assert_eq!(spec.memory_per_cpu_mb, Some(2048));
    assert_eq!(spec.memory_per_node(), 8192);
    assert_eq!(variable(&spec, "SLURM_MEM_PER_CPU"), Some("2048"));
    // An option beats the other's variable, whichever it is.
    let request = ok(
        &["sbatch", "--mem-per-cpu=100", "x.sh"],
        &[("SBATCH_MEM_PER_NODE", "1G")],
        TRUE_SH,
    );
    assert_eq!(
        (request.memory_per_node_mb, request.memory_per_cpu_mb),
        (None, Some(100))
    );
    let request = ok(
        &["sbatch", "x.sh"],
        &[("SBATCH_MEM_PER_CPU", "512")],
        "#!/bin/sh\n#SBATCH --mem=1G\n",
    );
    assert_eq!(
        (request.memory_per_node_mb, request.memory_per_cpu_mb),
        (Some(1024), None)
    );
    let request = ok(
        &["sbatch", "x.sh"],
        &[("SBATCH_MEM_PER_CPU", "512")],
        TRUE_SH,
    );
    assert_eq!(request.memory_per_cpu_mb, Some(512));
    // A variable set over a directive makes the option the variable's.
    let request = ok(
        &["sbatch", "--mem=3G", "x.sh"],
        &[("SBATCH_MEM_PER_CPU", "512")],
        "#!/bin/sh\n#SBATCH --mem-per-cpu=1G\n",
    );
    assert_eq!(
        (request.memory_per_node_mb, request.memory_per_cpu_mb),
        (Some(3072), None)
    );
}

#[test]
fn tasks_per_node_make_tasks_or_nodes() {
    let request = ok(
        &["sbatch", "-N", "2", "--ntasks-per-node=3", "x.sh"],
        &[],
        TRUE_SH,
    );
    assert_eq!((request.min_nodes, request.ntasks), (2, 6));
    let spec = request.to_job_spec(
        "/w",
        vec![("SLURM_NTASKS_PER_NODE".into(), "9".into())],
        "h",
    );
    assert_eq!(
        (spec.nodes, spec.ntasks, spec.ntasks_per_node),
        (2, 6, Some(3))
    );
    assert_eq!(spec.cpus_per_node(), 3);
    assert_eq!(variable(&spec, "SLURM_NTASKS_PER_NODE"), Some("3"));
    let request = ok(
        &["sbatch", "-n", "5", "--ntasks-per-node=2", "x.sh"],
        &[],
        TRUE_SH,
    );
    assert_eq!((request.min_nodes, request.ntasks), (3, 5));
    let request = ok(&["sbatch", "--tasks-per-node=2", "x.sh"], &[], TRUE_SH);
    assert_eq!(
        (request.min_nodes, request.ntasks, request.ntasks_per_node),
        (1, 2, Some(2))
    );
    // -n wins over the per-node count, which is then a maximum.
    let request = ok(
        &[
            "sbatch",
            "-N",
            "2",
            "-n",
            "2",
            "--ntasks-per-node=4",
            "x.sh",
        ],
        &[],
        TRUE_SH,
    );
    assert_eq!((request.min_nodes, request.ntasks), (2, 2));
    let request = ok(
        &[
            "sbatch",
            "-N",
            "2-4",
            "-n",
            "8",
            "--ntasks-per-node=2",
            "x.sh",
        ],
        &[],
        TRUE_SH,
    );
    assert_eq!(
        (request.min_nodes, request.max_nodes, request.ntasks),
        (4, None, 8)
    );
    let spec = ok(&["sbatch", "x.sh"], &[], TRUE_SH).to_job_spec("/w", vec![], "h");
    assert_eq!(variable(&spec, "SLURM_NTASKS_PER_NODE"), None);
}

#[test]
fn begin_is_resolved_with_the_clock() {
    let begin = |argv: &[&str], script: &str| ok(argv, &[], script).begin_time_ms;
    assert_eq!(
        begin(&["sbatch", "--begin=now+3", "x.sh"], TRUE_SH),
        Some(CLOCK.now_ms + 3_000)
    );
    assert_eq!(
        begin(&["sbatch", "-b", "16:00", "x.sh"], TRUE_SH),
        Some(1_795_363_200_000)
    );
    assert_eq!(
        begin(&["sbatch", "x.sh"], "#!/bin/sh\n#SBATCH --begin=tomorrow\n"),
        Some(1_795_392_000_000)
    );
    assert_eq!(begin(&["sbatch", "x.sh"], TRUE_SH), None);
    let spec = ok(
        &["sbatch", "--begin=2026-12-01T08:00", "x.sh"],
        &[],
        TRUE_SH,
    )
    .to_job_spec("/w", vec![], "h");
    assert_eq!(spec.begin_time_ms, Some(1_796_112_000_000));
}

#[test]
fn time_min_is_recorded_within_the_limit() {
    let spec = |argv: &[&str]| ok(argv, &[], TRUE_SH).to_job_spec("/w", vec![], "h");
    assert_eq!(
        spec(&["sbatch", "-t", "30", "--time-min=10", "x.sh"]).time_min_minutes,
        Some(10)
    );
    assert_eq!(
        spec(&["sbatch", "-t", "30", "--time-min=30", "x.sh"]).time_min_minutes,
        Some(30)
    );
    assert_eq!(
        spec(&["sbatch", "--time-min=1-0", "x.sh"]).time_min_minutes,
        Some(1_440)
    );
    assert_eq!(
        spec(&["sbatch", "-t", "UNLIMITED", "--time-min=0", "x.sh"]).time_min_minutes,
        Some(corral_state::TIME_MIN_UNLIMITED)
    );
    assert_eq!(spec(&["sbatch", "x.sh"]).time_min_minutes, None);
}

#[test]
fn signal_and_open_mode_from_every_source() {
    let request = ok(
        &["sbatch", "--signal=B:USR1@90", "--open-mode=append", "x.sh"],
        &[],
        TRUE_SH,
    );
    assert_eq!(
        request.signal,
        Some(corral_state::JobSignal {
            number: 10,
            seconds_before_limit: 90,
            batch_only: true,
            reservation: false,
        })
    );
    assert_eq!(request.open_mode, Some(OpenMode::Append));
    let environment = [("SBATCH_SIGNAL", "USR2"), ("SBATCH_OPEN_MODE", "a")];
    let request = ok(
        &["sbatch", "x.sh"],
        &environment,
        "#!/bin/sh\n#SBATCH --signal=TERM --open-mode=t\n",
    );
    assert_eq!(
        request.signal.map(|s| (s.number, s.seconds_before_limit)),
        Some((12, 60))
    );
    assert_eq!(request.open_mode, Some(OpenMode::Append));
    let request = ok(
        &["sbatch", "--signal=HUP", "--open-mode=Truncate", "x.sh"],
        &environment,
        TRUE_SH,
    );
    assert_eq!(request.signal.map(|s| s.number), Some(1));
    assert_eq!(request.open_mode, Some(OpenMode::Truncate));
    let spec = request.to_job_spec("/w", vec![], "h");
    assert_eq!(spec.open_mode, Some(OpenMode::Truncate));
    assert_eq!(spec.signal.map(|s| s.number), Some(1));
}

#[test]
fn export_filters_the_submitted_environment() {
    let submitter = || -> Vec<(String, String)> {
        [
            ("HOME", "/home/a"),
            ("EDITOR", "vi"),
            ("SLURM_CONF", "/etc/slurm.conf"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    };
    let names = |spec: &corral_state::JobSpec| -> Vec<String> {
        spec.environment
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect()
    };
    let spec =
        ok(&["sbatch", "--export=NONE", "x.sh"], &[], TRUE_SH).to_job_spec("/w", submitter(), "h");
    assert_eq!(
        names(&spec),
        [
            "SLURM_CONF=/etc/slurm.conf",
            "SLURM_EXPORT_ENV=NONE",
            "SLURM_SUBMIT_DIR=/w",
            "SLURM_SUBMIT_HOST=h"
        ]
    );
    let spec = ok(&["sbatch", "--export=EDITOR,X=1", "x.sh"], &[], TRUE_SH).to_job_spec(
        "/w",
        submitter(),
        "h",
    );
    assert_eq!(
        names(&spec),
        [
            "EDITOR=vi",
            "X=1",
            "SLURM_CONF=/etc/slurm.conf",
            "SLURM_EXPORT_ENV=EDITOR,X=1",
            "SLURM_SUBMIT_DIR=/w",
            "SLURM_SUBMIT_HOST=h"
        ]
    );
    // SBATCH_EXPORT, and ALL: everything, without SLURM_EXPORT_ENV.
    let request = ok(&["sbatch", "x.sh"], &[("SBATCH_EXPORT", "NONE")], TRUE_SH);
    assert_eq!(request.export, Export::None);
    let request = ok(
        &["sbatch", "--export=all", "x.sh"],
        &[("SBATCH_EXPORT", "NONE")],
        TRUE_SH,
    );
    let spec = request.to_job_spec("/w", submitter(), "h");
    assert_eq!(variable(&spec, "HOME"), Some("/home/a"));
    assert_eq!(variable(&spec, "SLURM_EXPORT_ENV"), None);
    // A submitter's own SLURM_EXPORT_ENV is kept.
    let mut environment = submitter();
    environment.push(("SLURM_EXPORT_ENV".into(), "ALL".into()));
    let spec =
        ok(&["sbatch", "--export=NONE", "x.sh"], &[], TRUE_SH).to_job_spec("/w", environment, "h");
    assert_eq!(variable(&spec, "SLURM_EXPORT_ENV"), Some("ALL"));
    assert_eq!(variable(&spec, "HOME"), None);
    // An unclosed quote is reported, and the rest taken as it is.
    let request = ok(&["sbatch", "--export=A='x", "x.sh"], &[], TRUE_SH);
    assert_eq!(
        request.warnings,
        vec!["sbatch: error: Improperly formed environment variable (A='x)"]
    );
}
