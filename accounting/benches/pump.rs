//! Records per second that `write_batch` stores, as the accounting pump
//! calls it: one batch after the other, each one transaction, on a real
//! three-node MariaDB Galera cluster (writing to one node) and on SQLite.
//!
//! `cargo bench -p corral-accounting` (the figures are in docs/accounting.md).
//! Each repetition writes new jobs (a job row and its batch step: two
//! records per job) in batches of 1, 100 and 1000 records.

#[path = "../tests/support/mod.rs"]
mod support;

use std::time::Instant;

use corral_accounting::AccountingDb;
use support::mariadb::Galera;
use support::records::{jobs_with_steps, numbered};

const REPETITIONS: usize = 5;
const BATCH_SIZES: [usize; 3] = [1, 100, 1000];

/// Records written per repetition for a batch size: enough batches that a
/// repetition takes about a second or more.
fn records_per_repetition(batch_size: usize) -> usize {
    match batch_size {
        1 => 400,
        100 => 4_000,
        _ => 20_000,
    }
}

struct Sequence {
    next_job_id: u32,
    next_seq: u64,
}

impl Sequence {
    /// `count` records of new jobs, numbered on from the last ones.
    fn records(&mut self, count: usize) -> Vec<corral_state::OutboxEntry> {
        let jobs = count.div_ceil(2) as u32;
        let mut records = jobs_with_steps(self.next_job_id..self.next_job_id + jobs, 0, 0);
        records.truncate(count);
        self.next_job_id += jobs;
        let entries = numbered(self.next_seq, records);
        self.next_seq += entries.len() as u64;
        entries
    }
}

fn summary(name: &str, batch_size: usize, mut rates: Vec<f64>) {
    rates.sort_by(|a, b| a.total_cmp(b));
    let median = rates[rates.len() / 2];
    println!(
        "{name:<8} batch {batch_size:>5}: median {median:>9.0} records/s  (min {:>9.0}, max {:>9.0}, {} runs)",
        rates[0],
        rates[rates.len() - 1],
        rates.len()
    );
}

async fn measure(name: &str, db: &AccountingDb) {
    let mut sequence = Sequence {
        next_job_id: 1,
        next_seq: 1,
    };
    // Warm up: connect, create the schema.
    let warm_up = sequence.records(10);
    db.write_batch("bench", &warm_up)
        .await
        .expect("warm-up batch");
    for batch_size in BATCH_SIZES {
        let mut rates = Vec::new();
        for _ in 0..REPETITIONS {
            let entries = sequence.records(records_per_repetition(batch_size));
            let started = Instant::now();
            for batch in entries.chunks(batch_size) {
                db.write_batch("bench", batch).await.expect("batch written");
            }
            rates.push(entries.len() as f64 / started.elapsed().as_secs_f64());
        }
        summary(name, batch_size, rates);
    }
    let counters = db.counters();
    println!("{name:<8} counters: {counters:?}");
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");

    let dir = tempfile::tempdir().expect("temporary directory");
    let sqlite_url = format!("sqlite://{}", dir.path().join("bench.db").display());
    let sqlite = AccountingDb::new(&[sqlite_url]).expect("SQLite URL");
    runtime.block_on(measure("sqlite", &sqlite));

    let started = Instant::now();
    let galera = Galera::start();
    println!(
        "galera   three nodes up in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let db = AccountingDb::new(&galera.urls()).expect("Galera URLs");
    runtime.block_on(measure("galera", &db));
}
