//! The SQL text of every statement, with its parameters as [`Value`]s.
//! Pure: the backends only bind and run them. Both MySQL and SQLite take
//! `?` placeholders; only the upsert clause differs.

use std::collections::BTreeMap;

use corral_state::{AccountingRecord, JobRecord, OutboxEntry, StepId, StepRecord};

use crate::columns::{self, Table, Value, JOB_TABLE, STEP_TABLE};
use crate::error::Error;
use crate::filter::JobFilter;

/// Rows per `INSERT` statement. 200 rows of the job table are 7,200
/// parameters: below SQLite's 32,766 and MySQL's 65,535, and well below
/// MariaDB's default 16 MB packet for ordinary rows.
pub(crate) const ROWS_PER_STATEMENT_MAX: usize = 200;

/// Job ids per `IN (...)` list when fetching the steps of the jobs found.
pub(crate) const IDS_PER_STATEMENT_MAX: usize = 500;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Dialect {
    MySql,
    Sqlite,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Statement {
    pub sql: String,
    pub values: Vec<Value>,
}

/// The newest record of each row in a batch, in key order (the same order
/// for every writer, so two writers on one node lock rows in one order).
/// A row appearing several times in one batch is written once, from its
/// highest `seq`: each record is the whole row, so that is the row.
pub(crate) struct LatestRows<'a> {
    pub jobs: Vec<(u64, &'a JobRecord)>,
    pub steps: Vec<(u64, &'a StepRecord)>,
}

pub(crate) fn latest_rows(entries: &[OutboxEntry]) -> LatestRows<'_> {
    let mut jobs: BTreeMap<u32, (u64, &JobRecord)> = BTreeMap::new();
    let mut steps: BTreeMap<(u32, StepId), (u64, &StepRecord)> = BTreeMap::new();
    for entry in entries {
        match &entry.record {
            AccountingRecord::Job(job) => {
                let slot = jobs.entry(job.job_id).or_insert((entry.seq, job));
                if entry.seq > slot.0 {
                    *slot = (entry.seq, job);
                }
            }
            AccountingRecord::Step(step) => {
                let slot = steps
                    .entry((step.job_id, step.step_id))
                    .or_insert((entry.seq, step));
                if entry.seq > slot.0 {
                    *slot = (entry.seq, step);
                }
            }
        }
    }
    LatestRows {
        jobs: jobs.into_values().collect(),
        steps: steps.into_values().collect(),
    }
}

/// The statements that write a batch, in order, each at most
/// [`ROWS_PER_STATEMENT_MAX`] rows.
pub(crate) fn batch_statements(
    dialect: Dialect,
    cluster: &str,
    entries: &[OutboxEntry],
) -> Result<Vec<Statement>, Error> {
    columns::check_cluster(cluster)?;
    let rows = latest_rows(entries);
    let job_rows = rows
        .jobs
        .iter()
        .map(|(seq, job)| columns::job_values(cluster, *seq, job))
        .collect::<Result<Vec<_>, _>>()?;
    let step_rows = rows
        .steps
        .iter()
        .map(|(seq, step)| columns::step_values(cluster, *seq, step))
        .collect::<Result<Vec<_>, _>>()?;
    let mut statements = Vec::new();
    for (table, rows) in [(&JOB_TABLE, job_rows), (&STEP_TABLE, step_rows)] {
        for chunk in rows.chunks(ROWS_PER_STATEMENT_MAX) {
            statements.push(Statement {
                sql: upsert_sql(dialect, table, chunk.len()),
                values: chunk.iter().flatten().cloned().collect(),
            });
        }
    }
    Ok(statements)
}

/// `INSERT` of `rows` rows that never lets an older `seq` overwrite a newer
/// row. MySQL evaluates the assignments of `ON DUPLICATE KEY UPDATE` left to
/// right, each seeing the columns already assigned: `seq` is assigned last
/// so that every test before it compares with the row's old `seq`.
pub(crate) fn upsert_sql(dialect: Dialect, table: &Table, rows: usize) -> String {
    let columns = table.columns.join(", ");
    let placeholders = format!("({})", vec!["?"; table.columns.len()].join(", "));
    let all_rows = vec![placeholders; rows].join(", ");
    let updated: Vec<&str> = table
        .columns
        .iter()
        .copied()
        .filter(|c| !table.key.contains(c) && *c != "seq")
        .chain(["seq"])
        .collect();
    let name = table.name;
    match dialect {
        Dialect::MySql => {
            let assignments: Vec<String> = updated
                .iter()
                .map(|c| format!("{c} = IF(VALUES(seq) > seq, VALUES({c}), {c})"))
                .collect();
            format!(
                "INSERT INTO {name} ({columns}) VALUES {all_rows} ON DUPLICATE KEY UPDATE {}",
                assignments.join(", ")
            )
        }
        Dialect::Sqlite => {
            let assignments: Vec<String> = updated
                .iter()
                .map(|c| format!("{c} = excluded.{c}"))
                .collect();
            format!(
                "INSERT INTO {name} ({columns}) VALUES {all_rows} ON CONFLICT ({}) DO UPDATE SET {} WHERE excluded.seq > {name}.seq",
                table.key.join(", "),
                assignments.join(", ")
            )
        }
    }
}

fn in_list(column: &str, count: usize) -> String {
    format!("{column} IN ({})", vec!["?"; count].join(", "))
}

/// The jobs a filter selects, lowest job id first.
pub(crate) fn select_jobs(cluster: &str, filter: &JobFilter) -> Statement {
    let mut conditions = vec!["cluster = ?".to_string()];
    let mut values = vec![Value::Text(cluster.to_string())];
    if !filter.job_ids.is_empty() {
        let count = filter.job_ids.len();
        conditions.push(format!(
            "({} OR {})",
            in_list("job_id", count),
            in_list("array_job_id", count)
        ));
        for _ in 0..2 {
            values.extend(filter.job_ids.iter().map(|id| Value::Int(i64::from(*id))));
        }
    }
    if !filter.users.is_empty() {
        conditions.push(in_list("user_name", filter.users.len()));
        values.extend(filter.users.iter().cloned().map(Value::Text));
    }
    if !filter.states.is_empty() {
        conditions.push(in_list("state", filter.states.len()));
        values.extend(
            filter
                .states
                .iter()
                .map(|s| Value::Text(s.slurm_name().to_string())),
        );
    }
    if !filter.partitions.is_empty() {
        conditions.push(in_list("partition_name", filter.partitions.len()));
        values.extend(filter.partitions.iter().cloned().map(Value::Text));
    }
    if let Some(start_ms) = filter.window_start_ms {
        conditions.push("(end_time_s IS NULL OR end_time_s >= ?)".to_string());
        values.push(Value::Int((start_ms / 1000) as i64));
    }
    if let Some(end_ms) = filter.window_end_ms {
        conditions.push("submit_time_s <= ?".to_string());
        values.push(Value::Int((end_ms / 1000) as i64));
    }
    let mut sql = format!(
        "SELECT {} FROM job WHERE {} ORDER BY job_id",
        JOB_TABLE.columns.join(", "),
        conditions.join(" AND ")
    );
    if let Some(jobs_max) = filter.jobs_max {
        sql.push_str(" LIMIT ?");
        values.push(Value::Int(i64::from(jobs_max)));
    }
    Statement { sql, values }
}

/// The steps of these jobs (at most [`IDS_PER_STATEMENT_MAX`] of them),
/// in job then step order (`batch` first, as `sacct` lists them).
pub(crate) fn select_steps(cluster: &str, job_ids: &[u32]) -> Statement {
    let sql = format!(
        "SELECT {} FROM step WHERE cluster = ? AND {} ORDER BY job_id, step_id",
        STEP_TABLE.columns.join(", "),
        in_list("job_id", job_ids.len())
    );
    let mut values = vec![Value::Text(cluster.to_string())];
    values.extend(job_ids.iter().map(|id| Value::Int(i64::from(*id))));
    Statement { sql, values }
}

/// The statements that replace `cluster`'s mirrored policy with `policy`:
/// every account, user and association row, and the policy's version.
pub(crate) fn policy_statements(
    dialect: Dialect,
    cluster: &str,
    policy: &corral_state::Policy,
) -> Result<Vec<Statement>, Error> {
    columns::check_cluster(cluster)?;
    let text = |value: &str| Value::Text(value.to_string());
    let mut statements: Vec<Statement> = ["account", "account_user", "association"]
        .iter()
        .map(|table| Statement {
            sql: format!("DELETE FROM {table} WHERE cluster = ?"),
            values: vec![text(cluster)],
        })
        .collect();
    let accounts: Vec<Vec<Value>> = policy
        .accounts
        .values()
        .map(|a| {
            vec![
                text(cluster),
                text(&a.name),
                text(&a.description),
                text(&a.organization),
                Value::OptionalText(a.parent.clone()),
            ]
        })
        .collect();
    let users: Vec<Vec<Value>> = policy
        .users
        .values()
        .map(|u| {
            vec![
                text(cluster),
                text(&u.name),
                text(&u.default_account),
                text(u.admin_level.slurm_name()),
            ]
        })
        .collect();
    let associations: Vec<Vec<Value>> = policy
        .associations()
        .into_iter()
        .map(|(account, user)| {
            vec![
                text(cluster),
                text(&account),
                text(&user.unwrap_or_default()),
            ]
        })
        .collect();
    let tables: [(&str, &str, Vec<Vec<Value>>); 3] = [
        (
            "account",
            "cluster, name, description, organization, parent",
            accounts,
        ),
        (
            "account_user",
            "cluster, name, default_account, admin_level",
            users,
        ),
        ("association", "cluster, account, user_name", associations),
    ];
    for (table, columns, rows) in tables {
        let width = columns.split(", ").count();
        for chunk in rows.chunks(ROWS_PER_STATEMENT_MAX) {
            let placeholders = format!("({})", vec!["?"; width].join(", "));
            statements.push(Statement {
                sql: format!(
                    "INSERT INTO {table} ({columns}) VALUES {}",
                    vec![placeholders; chunk.len()].join(", ")
                ),
                values: chunk.iter().flatten().cloned().collect(),
            });
        }
    }
    let version = i64::try_from(policy.version).map_err(|_| Error::UnrepresentableRecord {
        seq: 0,
        field: "policy.version",
        value: policy.version,
    })?;
    statements.push(Statement {
        sql: match dialect {
            Dialect::MySql => "INSERT INTO policy_version (cluster, version) VALUES (?, ?) \
                 ON DUPLICATE KEY UPDATE version = VALUES(version)"
                .to_string(),
            Dialect::Sqlite => "INSERT INTO policy_version (cluster, version) VALUES (?, ?) \
                 ON CONFLICT (cluster) DO UPDATE SET version = excluded.version"
                .to_string(),
        },
        values: vec![text(cluster), Value::Int(version)],
    });
    Ok(statements)
}

#[cfg(test)]
mod tests {
    use corral_state::JobState;

    use super::*;

    const SMALL: Table = Table {
        name: "t",
        key: &["cluster", "id"],
        columns: &["cluster", "id", "a", "b", "seq"],
    };

    #[test]
    fn mysql_upsert_assigns_seq_last_and_guards_every_column() {
        assert_eq!(
            upsert_sql(Dialect::MySql, &SMALL, 2),
            "INSERT INTO t (cluster, id, a, b, seq) VALUES (?, ?, ?, ?, ?), (?, ?, ?, ?, ?) \
             ON DUPLICATE KEY UPDATE a = IF(VALUES(seq) > seq, VALUES(a), a), \
             b = IF(VALUES(seq) > seq, VALUES(b), b), \
             seq = IF(VALUES(seq) > seq, VALUES(seq), seq)"
        );
    }

    #[test]
    fn sqlite_upsert_updates_only_from_a_newer_seq() {
        assert_eq!(
            upsert_sql(Dialect::Sqlite, &SMALL, 1),
            "INSERT INTO t (cluster, id, a, b, seq) VALUES (?, ?, ?, ?, ?) \
             ON CONFLICT (cluster, id) DO UPDATE SET a = excluded.a, b = excluded.b, seq = excluded.seq \
             WHERE excluded.seq > t.seq"
        );
    }

    fn step(job_id: u32, step_id: StepId, name: &str) -> StepRecord {
        StepRecord {
            job_id,
            step_id,
            name: name.to_string(),
            state: JobState::Running,
            exit_status: Default::default(),
            start_time_ms: 0,
            end_time_ms: None,
            nodes: vec![],
            ntasks: 1,
            alloc_cpus: 1,
        }
    }

    #[test]
    fn a_batch_keeps_the_newest_record_of_each_row_in_key_order() {
        let entries: Vec<OutboxEntry> = [
            (5, step(2, StepId::Numbered(0), "old")),
            (9, step(2, StepId::Numbered(0), "new")),
            (7, step(1, StepId::Numbered(3), "a")),
            (8, step(1, StepId::Batch, "b")),
            (6, step(2, StepId::Numbered(0), "older than 9")),
        ]
        .into_iter()
        .map(|(seq, s)| OutboxEntry {
            seq,
            record: AccountingRecord::Step(s),
        })
        .collect();
        let rows = latest_rows(&entries);
        let seen: Vec<(u64, &str)> = rows
            .steps
            .iter()
            .map(|(seq, s)| (*seq, s.name.as_str()))
            .collect();
        assert_eq!(seen, [(8, "b"), (7, "a"), (9, "new")]);
        assert!(rows.jobs.is_empty());
    }

    #[test]
    fn large_batches_are_split_into_bounded_statements() {
        let entries: Vec<OutboxEntry> = (0..450)
            .map(|i| OutboxEntry {
                seq: u64::from(i) + 1,
                record: AccountingRecord::Step(step(i, StepId::Batch, "batch")),
            })
            .collect();
        let statements = batch_statements(Dialect::Sqlite, "c", &entries).unwrap();
        let rows: Vec<usize> = statements
            .iter()
            .map(|s| s.values.len() / STEP_TABLE.columns.len())
            .collect();
        assert_eq!(rows, [200, 200, 50]);
    }

    #[test]
    fn a_filter_becomes_conditions_with_bound_values() {
        let filter = JobFilter {
            job_ids: vec![14, 15],
            users: vec!["alice".into()],
            states: vec![JobState::Completed, JobState::Failed],
            partitions: vec!["gpu".into()],
            window_start_ms: Some(10_500),
            window_end_ms: Some(20_000),
            jobs_max: Some(3),
        };
        let statement = select_jobs("c1", &filter);
        let where_clause = statement.sql.split(" WHERE ").nth(1).unwrap();
        assert_eq!(
            where_clause,
            "cluster = ? AND (job_id IN (?, ?) OR array_job_id IN (?, ?)) AND user_name IN (?) \
             AND state IN (?, ?) AND partition_name IN (?) AND (end_time_s IS NULL OR end_time_s >= ?) \
             AND submit_time_s <= ? ORDER BY job_id LIMIT ?"
        );
        use Value::*;
        assert_eq!(
            statement.values,
            [
                Text("c1".into()),
                Int(14),
                Int(15),
                Int(14),
                Int(15),
                Text("alice".into()),
                Text("COMPLETED".into()),
                Text("FAILED".into()),
                Text("gpu".into()),
                Int(10),
                Int(20),
                Int(3),
            ]
        );
    }

    #[test]
    fn an_empty_filter_selects_the_whole_cluster() {
        let statement = select_jobs("c1", &JobFilter::default());
        assert!(
            statement
                .sql
                .ends_with("FROM job WHERE cluster = ? ORDER BY job_id"),
            "{}",
            statement.sql
        );
        assert_eq!(statement.values, [Value::Text("c1".into())]);
    }
}
