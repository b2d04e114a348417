use super::*;
use crate::display::tests::job;

fn argv(words: &[&str]) -> Vec<String> {
    std::iter::once("squeue")
        .chain(words.iter().copied())
        .map(str::to_string)
        .collect()
}

fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn query(words: &[&str], environment: &[(&str, &str)]) -> Query {
    match parse_command_line(&argv(words), &env(environment), "alice").unwrap() {
        Invocation::List(query) => *query,
        Invocation::Print(text) => panic!("printed {text}"),
    }
}

fn error(words: &[&str], environment: &[(&str, &str)]) -> SlurmError {
    parse_command_line(&argv(words), &env(environment), "alice").unwrap_err()
}

fn header(query: &Query) -> String {
    header_line(&query.format)
}

#[test]
fn command_line_overrides_the_environment() {
    let q = query(&["-S", "i"], &[("SQUEUE_SORT", "-i")]);
    assert_eq!(q.sort, SortSpec::parse("i").unwrap());
    let q = query(&[], &[("SQUEUE_SORT", "-i")]);
    assert_eq!(q.sort, SortSpec::parse("-i").unwrap());
    let q = query(&["-u", "bob"], &[("SQUEUE_USERS", "carol")]);
    assert_eq!(q.users, vec!["bob"]);
    let q = query(&["--me"], &[("SQUEUE_USERS", "carol")]);
    assert_eq!(q.users, vec!["alice"]);
    let q = query(&[], &[("SQUEUE_USERS", "carol,dave")]);
    assert_eq!(q.users, vec!["carol", "dave"]);
    let q = query(
        &[
            "-A", "phys", "-q", "high", "-n", "x", "-p", "gpu", "-t", "R",
        ],
        &[
            ("SQUEUE_ACCOUNT", "chem"),
            ("SQUEUE_QOS", "low"),
            ("SQUEUE_NAMES", "y"),
            ("SQUEUE_PARTITION", "debug"),
            ("SQUEUE_STATES", "PD"),
        ],
    );
    assert_eq!(
        (q.accounts, q.qos, q.names, q.partitions, q.states),
        (
            vec!["phys".to_string()],
            vec!["high".to_string()],
            vec!["x".to_string()],
            vec!["gpu".to_string()],
            Some(vec![JobState::Running])
        )
    );
    let q = query(
        &[],
        &[
            ("SQUEUE_ACCOUNT", "chem"),
            ("SQUEUE_QOS", "low"),
            ("SQUEUE_STATES", "PD,R"),
            ("SQUEUE_ARRAY", ""),
        ],
    );
    assert_eq!(q.accounts, vec!["chem"]);
    assert_eq!(q.qos, vec!["low"]);
    assert_eq!(q.states, Some(vec![JobState::Pending, JobState::Running]));
    assert!(q.array_tasks);
}

#[test]
fn format_variables_yield_to_any_format_option() {
    let q = query(&[], &[("SQUEUE_FORMAT", "%i"), ("SQUEUE_FORMAT2", "name")]);
    assert_eq!(header(&q), "JOBID\n");
    let q = query(&[], &[("SQUEUE_FORMAT2", "name:5")]);
    assert_eq!(header(&q), "NAME \n");
    let q = query(&["-o", "%j"], &[("SQUEUE_FORMAT", "%i")]);
    assert_eq!(header(&q), "NAME\n");
    // `-l` and `--start` use their own formats, not SQUEUE_FORMAT.
    let q = query(&["-l"], &[("SQUEUE_FORMAT", "%i")]);
    assert!(header(&q).contains("TIME_LIMI "));
    let q = query(&["--start"], &[("SQUEUE_FORMAT", "%i")]);
    assert!(header(&q).contains("SCHEDNODES"));
}

#[test]
fn start_sets_its_format_sort_and_states() {
    let q = query(&["--start"], &[]);
    assert_eq!(q.states, Some(vec![JobState::Pending]));
    assert_eq!(q.sort, SortSpec::parse("S").unwrap());
    // Slurm's `--start` format even replaces `-O`.
    let q = query(&["--start", "-O", "name"], &[]);
    assert!(header(&q).starts_with("             JOBID"));
    let q = query(&["--start", "-t", "all", "-S", "i"], &[]);
    assert_eq!(q.states, Some(JobState::ALL.to_vec()));
    assert_eq!(q.sort, SortSpec::parse("i").unwrap());
}

#[test]
fn malformed_options() {
    let cases: &[(&[&str], &str)] = &[
        (&["-i", "0"], "squeue: error: --iterate=0\n\n"),
        (&["-i", "abc"], "squeue: error: --iterate=abc\n\n"),
        (&["-i", "-5"], "squeue: error: --iterate=-5\n\n"),
        (
            &["-w", "n[1-"],
            "squeue: error: 'n[1-' invalid entry for --nodelist\n",
        ),
        (
            &["-o", "%i", "-O", "name"],
            "squeue: error: -O (--Format) is incompatible with -o (--format)\n",
        ),
        (
            &["-O", "name", "-o", "%i"],
            "squeue: error: -o (--format) is incompatible with -O (--Format)\n",
        ),
        (
            &["-O", "name,AssocId"],
            "squeue: error: -O associd is not supported by Corral yet\n",
        ),
        (&["-j", "abc"], "squeue: error: Invalid job id: abc\n"),
        (
            &["--priority"],
            "squeue: error: --priority is not supported by Corral yet\n",
        ),
    ];
    for (words, stderr) in cases {
        let error = error(words, &[]);
        assert_eq!(&error.stderr_text(), stderr, "{words:?}");
        assert_eq!(error.exit_code, 1, "{words:?}");
    }
    let error = error(&[], &[("SQUEUE_STATES", "BOGUS")]);
    assert!(error.lines[0].ends_with("Invalid job state specified: BOGUS"));
    // `-i 5s` is 5, as atoi reads it.
    assert_eq!(query(&["-i", "5s"], &[]).iterate_seconds, Some(5));
}

#[test]
fn time_line_with_iterate_verbose_or_long_unless_no_header() {
    assert!(query(&["-i", "2"], &[]).time_line);
    assert!(query(&["-v"], &[]).time_line);
    assert!(query(&["-l"], &[]).time_line);
    assert!(!query(&["-l", "-h"], &[]).time_line);
    assert!(!query(&[], &[]).time_line);
}

#[test]
fn filters_accounts_qos_names_and_nodes() {
    let mut context = DisplayContext::new(0, 0);
    let mut physics = job(1, "Sim", JobState::Running);
    std::sync::Arc::make_mut(&mut physics.spec).account = Some("Physics".to_string());
    std::sync::Arc::make_mut(&mut physics.spec).qos = Some("high".to_string());
    context
        .node_names
        .insert(1, vec!["n1".to_string(), "n2".to_string()]);
    let plain = job(2, "other", JobState::Pending);
    let jobs = [physics, plain];
    let kept = |q: &Query| -> Vec<u32> {
        jobs.iter()
            .filter(|job| q.shows(job, &context))
            .map(|job| job.id)
            .collect()
    };
    assert_eq!(kept(&query(&["-A", "physics"], &[])), vec![1]);
    assert_eq!(kept(&query(&["-q", "normal"], &[])), vec![2]);
    assert_eq!(kept(&query(&["-q", "HIGH,normal"], &[])), vec![1, 2]);
    assert_eq!(kept(&query(&["-n", "sim"], &[])), vec![1]);
    let mut q = query(&["-w", "n[2-3]"], &[]);
    q.check_nodes(&["n1".into(), "n2".into(), "n3".into()], "host")
        .unwrap();
    assert_eq!(kept(&q), vec![1]);
    let mut q = query(&["-w", "n1,nx,ny"], &[]);
    assert_eq!(
        q.check_nodes(&["n1".into()], "host")
            .unwrap_err()
            .stderr_text(),
        "squeue: error: Invalid node name ny\n"
    );
    let mut q = query(&["-w", "localhost"], &[]);
    q.check_nodes(&["vm".into()], "vm.example.org").unwrap();
    assert_eq!(q.nodes, Some(vec!["vm".to_string()]));
}

#[test]
fn refused_sort_prints_the_header_first() {
    let q = query(&["-S", "x", "-o", "%i"], &[]);
    let rendered = q.render(
        vec![job(1, "a", JobState::Pending)],
        DisplayContext::new(0, 0),
    );
    assert_eq!(rendered.stdout, "JOBID\n");
    assert_eq!(
        rendered.error.unwrap().stderr_text(),
        "squeue: error: Invalid sort specification: x\n"
    );
}

#[test]
fn help_usage_and_version_print() {
    for word in ["--help", "--usage"] {
        assert_eq!(
            parse_command_line(&argv(&[word]), &[], "alice").unwrap(),
            Invocation::Print(USAGE.to_string())
        );
    }
    assert_eq!(
        parse_command_line(&argv(&["-V"]), &[], "alice").unwrap(),
        Invocation::Print("slurm 22.05.8\n".to_string())
    );
}

proptest::proptest! {
    #[test]
    fn any_arguments_parse_or_err(words in proptest::collection::vec("\\PC{0,8}", 0..5)) {
        let words: Vec<&str> = words.iter().map(String::as_str).collect();
        let _ = parse_command_line(&argv(&words), &[], "alice");
    }
}
