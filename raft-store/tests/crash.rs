//! Crash durability with a real SIGKILL.
//!
//! This binary plays two parts. Run by `cargo test`, it is the checker: it
//! starts itself again as a writer process on a store directory, reads what
//! the writer reports durable, SIGKILLs it at a random moment during heavy
//! writes, reopens the store and checks that everything reported is there,
//! byte for byte. It repeats that on the same directory for a few rounds.
//!
//! As the writer (environment variable [`WRITER_DIR_ENV`] set), it appends
//! batches of 1 to 50 real `SubmitJob` entries, some over 64 KiB, one
//! `append` call per batch, and prints `acked <last index>` after each
//! batch's flush callback; every few batches it saves a higher vote and
//! prints `vote <term>` after `save_vote` returns. A line on stdout is a
//! promise of durability.
//!
//! The seed is printed first; `CORRAL_CRASH_SEED=<seed>` replays a run.

mod common;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::{command_entry, open_store, submit_job, NODE_ID};
use corral_raft_store::{Entry, Vote};
use openraft::storage::{RaftLogStorage, RaftLogStorageExt};
use openraft::RaftLogReader;

const WRITER_DIR_ENV: &str = "CORRAL_CRASH_WRITER_DIR";
const WRITER_ROUND_ENV: &str = "CORRAL_CRASH_WRITER_ROUND";
const WRITER_SEED_ENV: &str = "CORRAL_CRASH_WRITER_SEED";
const SEED_ENV: &str = "CORRAL_CRASH_SEED";

const ROUNDS: u64 = 4;
const APPEND_BATCH_ENTRIES_MAX: u64 = 50;
/// One entry in this many carries a script over 64 KiB.
const LARGE_ENTRY_EVERY: u64 = 16;
const LARGE_SCRIPT_BYTES_MIN: u64 = 66 * 1024;
const LARGE_SCRIPT_BYTES_MAX: u64 = 160 * 1024;
const SMALL_SCRIPT_BYTES_MAX: u64 = 4 * 1024;
const VOTE_EVERY_APPENDS: u64 = 3;
/// Votes of round `r` start at `r * VOTE_TERMS_PER_ROUND`, so they grow
/// across rounds whatever the previous writer managed to save.
const VOTE_TERMS_PER_ROUND: u64 = 1_000_000;
const ACKS_BEFORE_KILL_MIN: u64 = 10;
const ACKS_BEFORE_KILL_MAX: u64 = 80;
const KILL_DELAY_US_MAX: u64 = 3_000;
/// A writer that is never killed stops by itself after this many appends.
const WRITER_APPENDS_MAX: u64 = 10_000;
/// The test's time budget; it fails rather than silently growing slow.
const TEST_DURATION_MS_MAX: u128 = 30_000;

fn main() {
    match std::env::var_os(WRITER_DIR_ENV) {
        Some(dir) => run_writer(
            Path::new(&dir),
            env_number(WRITER_ROUND_ENV),
            env_number(WRITER_SEED_ENV),
        ),
        None => run_checker(),
    }
}

fn env_number(name: &str) -> u64 {
    let value = std::env::var(name).unwrap_or_else(|_| panic!("{name} is not set"));
    value
        .parse()
        .unwrap_or_else(|_| panic!("{name}={value} is not a number"))
}

/// splitmix64: a small deterministic generator, so a seed replays a run.
struct Random(u64);

impl Random {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `low..=high`.
    fn between(&mut self, low: u64, high: u64) -> u64 {
        low + self.next() % (high - low + 1)
    }
}

/// The entry the writer of round `term` puts at `index`: a function of both,
/// so the checker can rebuild any entry it finds.
fn writer_entry(term: u64, index: u64) -> Entry {
    let mut sizes = Random(index);
    let script_bytes = if index.is_multiple_of(LARGE_ENTRY_EVERY) {
        sizes.between(LARGE_SCRIPT_BYTES_MIN, LARGE_SCRIPT_BYTES_MAX)
    } else {
        sizes.between(16, SMALL_SCRIPT_BYTES_MAX)
    };
    command_entry(
        term,
        index,
        submit_job(index * 100 + term, script_bytes as usize),
    )
}

// ---- the writer ----

fn run_writer(dir: &Path, round: u64, seed: u64) {
    let runtime = tokio::runtime::Runtime::new().expect("writer runtime");
    runtime.block_on(write_until_killed(dir, round, seed));
}

async fn write_until_killed(dir: &Path, round: u64, seed: u64) {
    let (mut log, _state_machine) = open_store(dir);
    let log_state = log.get_log_state().await.expect("log state");
    let mut next_index = log_state.last_log_id.map_or(1, |log_id| log_id.index + 1);
    let mut vote_term = round * VOTE_TERMS_PER_ROUND;
    let mut random = Random(seed);
    report(&format!("start {next_index}"));
    for append in 1..=WRITER_APPENDS_MAX {
        let batch = random.between(1, APPEND_BATCH_ENTRIES_MAX);
        let entries: Vec<Entry> = (next_index..next_index + batch)
            .map(|index| writer_entry(round, index))
            .collect();
        log.blocking_append(entries).await.expect("append");
        next_index += batch;
        report(&format!("acked {}", next_index - 1));
        if append.is_multiple_of(VOTE_EVERY_APPENDS) {
            vote_term += 1;
            log.save_vote(&Vote::new(vote_term, NODE_ID))
                .await
                .expect("save vote");
            report(&format!("vote {vote_term}"));
        }
    }
}

/// Prints one promise and makes sure it left the process.
fn report(line: &str) {
    let mut stdout = std::io::stdout().lock();
    if writeln!(stdout, "{line}")
        .and_then(|()| stdout.flush())
        .is_err()
    {
        std::process::exit(1);
    }
}

// ---- the checker ----

/// What the writers promised so far.
#[derive(Default)]
struct Promises {
    /// For each acknowledged index, the round (= log term) that wrote it.
    acked_term_by_index: BTreeMap<u64, u64>,
    vote_term: u64,
}

fn run_checker() {
    let started = Instant::now();
    let seed = std::env::var(SEED_ENV)
        .ok()
        .and_then(|seed| seed.parse().ok())
        .unwrap_or_else(|| {
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
        });
    println!("crash durability: seed {seed} (replay with {SEED_ENV}={seed})");
    let mut random = Random(seed);
    let dir = tempfile::tempdir().expect("temporary directory");
    let mut promises = Promises::default();

    for round in 1..=ROUNDS {
        let acks_before_kill = random.between(ACKS_BEFORE_KILL_MIN, ACKS_BEFORE_KILL_MAX);
        let kill_delay = Duration::from_micros(random.between(0, KILL_DELAY_US_MAX));
        let (first, last) = run_round(
            dir.path(),
            round,
            random.next(),
            acks_before_kill,
            kill_delay,
            &mut promises,
        );
        let checked = check_store(dir.path(), &promises);
        println!(
            "round {round}: wrote from {first}, killed after {acks_before_kill} acks (+{kill_delay:?}), \
             last acked {last}, store holds {checked} entries, vote term {}",
            promises.vote_term
        );
    }

    let elapsed = started.elapsed();
    println!("crash durability: ok, {ROUNDS} rounds in {elapsed:?}");
    assert!(
        elapsed.as_millis() < TEST_DURATION_MS_MAX,
        "the crash test took {elapsed:?}, over its {TEST_DURATION_MS_MAX} ms budget"
    );
}

/// Runs one writer until it has acknowledged `acks_before_kill` appends,
/// SIGKILLs it after `kill_delay`, and records every promise it printed,
/// including those still in the pipe. Returns the first index written and
/// the last acknowledged.
fn run_round(
    dir: &Path,
    round: u64,
    writer_seed: u64,
    acks_before_kill: u64,
    kill_delay: Duration,
    promises: &mut Promises,
) -> (u64, u64) {
    let mut writer = spawn_writer(dir, round, writer_seed);
    let mut lines = BufReader::new(writer.stdout.take().expect("writer stdout"));
    let first = parse_line(&next_line(&mut lines, &mut writer), "start");
    let mut acked = first - 1;
    let mut acks = 0;
    while acks < acks_before_kill {
        let line = next_line(&mut lines, &mut writer);
        record(&line, round, &mut acked, promises);
        acks += u64::from(line.starts_with("acked "));
    }
    std::thread::sleep(kill_delay);
    writer.kill().expect("SIGKILL the writer");
    for line in lines.lines() {
        record(
            &line.expect("read writer stdout"),
            round,
            &mut acked,
            promises,
        );
    }
    let status = writer.wait().expect("reap the writer");
    assert!(
        status.code().is_none(),
        "the writer was meant to die by SIGKILL, but {status}"
    );
    (first, acked)
}

fn spawn_writer(dir: &Path, round: u64, seed: u64) -> Child {
    Command::new(std::env::current_exe().expect("own executable"))
        .env(WRITER_DIR_ENV, dir)
        .env(WRITER_ROUND_ENV, round.to_string())
        .env(WRITER_SEED_ENV, seed.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start the writer")
}

fn next_line(lines: &mut BufReader<ChildStdout>, writer: &mut Child) -> String {
    let mut line = String::new();
    let read = lines.read_line(&mut line).expect("read writer stdout");
    if read == 0 {
        let status = writer.wait().expect("reap the writer");
        panic!("the writer stopped before it was killed: {status}");
    }
    line.trim_end().to_string()
}

fn parse_line(line: &str, word: &str) -> u64 {
    line.strip_prefix(word)
        .and_then(|rest| rest.trim().parse().ok())
        .unwrap_or_else(|| panic!("expected `{word} <number>` from the writer, got `{line}`"))
}

fn record(line: &str, round: u64, acked: &mut u64, promises: &mut Promises) {
    if line.starts_with("acked ") {
        let last = parse_line(line, "acked");
        for index in *acked + 1..=last {
            promises.acked_term_by_index.insert(index, round);
        }
        *acked = last;
    } else {
        promises.vote_term = parse_line(line, "vote");
    }
}

/// Reopens the store and checks every promise; returns the number of
/// entries it holds.
fn check_store(dir: &Path, promises: &Promises) -> usize {
    let runtime = tokio::runtime::Runtime::new().expect("checker runtime");
    runtime.block_on(async {
        let (mut log, _state_machine) = open_store(dir);
        let vote = log
            .read_vote()
            .await
            .expect("read vote")
            .expect("a vote was saved");
        assert!(
            vote.leader_id.term >= promises.vote_term,
            "vote term {} was acknowledged, the store has {}",
            promises.vote_term,
            vote.leader_id.term
        );
        let entries = log.try_get_log_entries(..).await.expect("read the log");
        check_entries(&entries, promises);
        entries.len()
    })
}

fn check_entries(entries: &[Entry], promises: &Promises) {
    for (position, entry) in entries.iter().enumerate() {
        let index = entry.log_id.index;
        assert_eq!(
            index,
            position as u64 + 1,
            "the log has a hole before index {index}"
        );
        let term = entry.log_id.leader_id.term;
        assert!(
            *entry == writer_entry(term, index),
            "entry {index} (term {term}) differs from what was written"
        );
    }
    for (&index, &term) in &promises.acked_term_by_index {
        let found = entries
            .get(index as usize - 1)
            .map(|entry| entry.log_id.leader_id.term);
        assert_eq!(
            found,
            Some(term),
            "acknowledged entry {index} of round {term} is missing"
        );
    }
}
