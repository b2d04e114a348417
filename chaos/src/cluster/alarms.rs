//! Finding, in a process's log, what says it broke: a panic (the state
//! machine panics when `ClusterState::invariants()` fails after an apply,
//! and the controller then aborts), a broken invariant, or an exit nobody
//! asked for (noted in the log by the harness when it finds the process gone).

/// The start of every line the harness itself writes into a process's log.
pub const HARNESS_NOTE_PREFIX: &str = "corral-chaos:";
/// How the harness notes a process that exited without being stopped.
pub const EXITED_BY_ITSELF: &str = "exited by itself";

/// What the controller appends to a panic before aborting.
const CONTROLLER_PANIC_SUFFIX: &str = "; stopping the controller";

/// The alarms in a log, in order, each once. A panic is reported by Rust's
/// hook and again by the controller's (`panic: panicked at ...`), each with
/// the location on one line and the message on the next: both become one
/// alarm, `panicked at LOCATION: MESSAGE`.
pub fn scan(log: &str) -> Vec<String> {
    let lines: Vec<&str> = log.lines().collect();
    let mut alarms: Vec<String> = Vec::new();
    let mut push = |alarm: String| {
        if !alarms.contains(&alarm) {
            alarms.push(alarm);
        }
    };
    let mut index = 0;
    while index < lines.len() {
        let line = lines[index];
        if let Some(start) = line.find("panicked at ") {
            let location = line[start..].trim_end().trim_end_matches(':');
            let message = lines.get(index + 1).map_or("", |next| next.trim());
            let message = message
                .strip_suffix(CONTROLLER_PANIC_SUFFIX)
                .unwrap_or(message);
            push(format!("{location}: {message}"));
            index += 2;
            continue;
        }
        let noted_exit = line.starts_with(HARNESS_NOTE_PREFIX) && line.contains(EXITED_BY_ITSELF);
        if noted_exit || line.contains("violates an invariant") {
            push(line.trim().to_string());
        }
        index += 1;
    }
    alarms
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_quiet_log_has_no_alarm() {
        let log =
            "2025-01-01T00:00:00Z  INFO corral_controller::node: serving on 10.213.3.2:7000\n\
                   corral-chaos: starting controller-1 on controller-1\n";
        assert!(scan(log).is_empty());
    }

    #[test]
    fn a_broken_invariant_is_one_alarm_though_reported_twice() {
        let log = "\
2025-01-01T00:00:01Z  INFO openraft: something
thread 'corral-controller' panicked at raft-store/src/state_machine.rs:90:13:
the replicated state violates an invariant after applying log entry 7: node node001 over-allocated; the state is corrupt, refusing to go on (command: X)
note: run with `RUST_BACKTRACE=1` environment variable to display a backtrace
2025-01-01T00:00:01Z ERROR corral::corral::controller: panic: panicked at raft-store/src/state_machine.rs:90:13:
the replicated state violates an invariant after applying log entry 7: node node001 over-allocated; the state is corrupt, refusing to go on (command: X); stopping the controller
corral-chaos: controller-2 (pid 4242) exited by itself: signal: 6 (SIGABRT) (core dumped)
";
        let alarms = scan(log);
        assert_eq!(alarms.len(), 2, "{alarms:#?}");
        assert!(alarms[0].starts_with("panicked at raft-store/src/state_machine.rs:90:13: the replicated state violates an invariant after applying log entry 7"));
        assert!(alarms[0].ends_with("(command: X)"), "{}", alarms[0]);
        assert!(
            alarms[1].contains("exited by itself: signal: 6"),
            "{}",
            alarms[1]
        );
    }

    #[test]
    fn an_invariant_reported_without_a_panic_is_an_alarm() {
        let log =
            "2025-01-01T00:00:01Z ERROR x: the state violates an invariant: job 3 in two places\n";
        assert_eq!(scan(log).len(), 1);
    }
}
