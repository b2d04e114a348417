//! The tables' columns and the conversion between records and rows. Pure:
//! the backends bind [`Value`]s and read columns through [`RowSource`].
//!
//! Conventions (documented for sites in `docs/accounting.md`): times are
//! whole seconds since the Unix epoch (records keep milliseconds; the
//! sub-second part is dropped, as `sacct` shows seconds), unknown times are
//! NULL; node lists are Slurm hostlist expressions (`node[01-04]`, empty
//! before a job starts); states are Slurm's long names; the batch step has
//! `step_id = -5`, Slurm's own number for it.

use corral_state::hostlist;
use corral_state::{ExitStatus, JobRecord, JobState, StepId, StepRecord};

use crate::error::Error;

/// The longest cluster name the schema stores (`cluster VARCHAR(64)`).
pub const CLUSTER_NAME_CHARS_MAX: usize = 64;

/// `step_id` of the batch step: Slurm's `SLURM_BATCH_SCRIPT` as a signed
/// 32-bit number, as in Slurm's own step table.
pub const BATCH_STEP_ID: i64 = -5;

/// One bound parameter.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Value {
    Int(i64),
    OptionalInt(Option<i64>),
    Text(String),
    OptionalText(Option<String>),
}

/// A table as the statements need it: its name, the columns of its key, and
/// all columns in order, `seq` last.
pub(crate) struct Table {
    pub name: &'static str,
    pub key: &'static [&'static str],
    pub columns: &'static [&'static str],
}

pub(crate) const JOB_TABLE: Table = Table {
    name: "job",
    key: &["cluster", "job_id"],
    columns: &[
        "cluster",
        "job_id",
        "array_job_id",
        "array_task_id",
        "job_name",
        "user_name",
        "uid",
        "gid",
        "account",
        "partition_name",
        "qos",
        "state",
        "cancelled_by_uid",
        "exit_code",
        "exit_signal",
        "derived_exit_code",
        "derived_exit_signal",
        "submit_time_s",
        "eligible_time_s",
        "start_time_s",
        "end_time_s",
        "time_limit_minutes",
        "node_list",
        "alloc_cpus",
        "alloc_gpus",
        "alloc_memory_mb",
        "req_nodes",
        "req_cpus",
        "req_tasks",
        "req_memory_per_node_mb",
        "req_gpus_per_node",
        "work_dir",
        "reason",
        "requeue_count",
        "comment",
        "seq",
    ],
};

pub(crate) const STEP_TABLE: Table = Table {
    name: "step",
    key: &["cluster", "job_id", "step_id"],
    columns: &[
        "cluster",
        "job_id",
        "step_id",
        "step_name",
        "state",
        "exit_code",
        "exit_signal",
        "start_time_s",
        "end_time_s",
        "node_list",
        "ntasks",
        "alloc_cpus",
        "seq",
    ],
};

pub(crate) fn check_cluster(cluster: &str) -> Result<(), Error> {
    let reason = if cluster.is_empty() {
        "it is empty".to_string()
    } else if cluster.chars().count() > CLUSTER_NAME_CHARS_MAX {
        format!("it is longer than {CLUSTER_NAME_CHARS_MAX} characters")
    } else {
        return Ok(());
    };
    Err(Error::InvalidCluster {
        cluster: cluster.to_string(),
        reason,
    })
}

fn seconds(time_ms: u64) -> i64 {
    // u64::MAX / 1000 < i64::MAX: always fits.
    (time_ms / 1000) as i64
}

fn big(seq: u64, field: &'static str, value: u64) -> Result<i64, Error> {
    i64::try_from(value).map_err(|_| Error::UnrepresentableRecord { seq, field, value })
}

fn step_number(step_id: StepId) -> i64 {
    match step_id {
        StepId::Batch => BATCH_STEP_ID,
        StepId::Numbered(number) => i64::from(number),
    }
}

/// The job's row, in [`JOB_TABLE`]'s column order.
pub(crate) fn job_values(cluster: &str, seq: u64, job: &JobRecord) -> Result<Vec<Value>, Error> {
    use Value::*;
    let int = |value: u32| Int(i64::from(value));
    let optional_int = |value: Option<u32>| OptionalInt(value.map(i64::from));
    let optional_seconds = |value: Option<u64>| OptionalInt(value.map(seconds));
    Ok(vec![
        Text(cluster.to_string()),
        int(job.job_id),
        optional_int(job.array_job_id),
        optional_int(job.array_task_id),
        Text(job.name.clone()),
        Text(job.user.clone()),
        int(job.uid),
        int(job.gid),
        OptionalText(job.account.clone()),
        Text(job.partition.clone()),
        OptionalText(job.qos.clone()),
        Text(job.state.slurm_name().to_string()),
        optional_int(job.cancelled_by_uid),
        Int(i64::from(job.exit_status.code)),
        Int(i64::from(job.exit_status.signal)),
        Int(i64::from(job.derived_exit_status.code)),
        Int(i64::from(job.derived_exit_status.signal)),
        Int(seconds(job.submit_time_ms)),
        optional_seconds(job.eligible_time_ms),
        optional_seconds(job.start_time_ms),
        optional_seconds(job.end_time_ms),
        optional_int(job.time_limit_minutes),
        Text(hostlist::compress(&job.nodes)),
        int(job.alloc_cpus),
        int(job.alloc_gpus),
        Int(big(seq, "alloc_memory_mb", job.alloc_memory_mb)?),
        int(job.req_nodes),
        int(job.req_cpus),
        int(job.req_tasks),
        OptionalInt(
            job.req_memory_per_node_mb
                .map(|mb| big(seq, "req_memory_per_node_mb", mb))
                .transpose()?,
        ),
        int(job.req_gpus_per_node),
        Text(job.work_dir.clone()),
        Text(job.reason.clone()),
        int(job.requeue_count),
        OptionalText(job.comment.clone()),
        Int(big(seq, "seq", seq)?),
    ])
}

/// The step's row, in [`STEP_TABLE`]'s column order.
pub(crate) fn step_values(cluster: &str, seq: u64, step: &StepRecord) -> Result<Vec<Value>, Error> {
    use Value::*;
    Ok(vec![
        Text(cluster.to_string()),
        Int(i64::from(step.job_id)),
        Int(step_number(step.step_id)),
        Text(step.name.clone()),
        Text(step.state.slurm_name().to_string()),
        Int(i64::from(step.exit_status.code)),
        Int(i64::from(step.exit_status.signal)),
        Int(seconds(step.start_time_ms)),
        OptionalInt(step.end_time_ms.map(seconds)),
        Text(hostlist::compress(&step.nodes)),
        Int(i64::from(step.ntasks)),
        Int(i64::from(step.alloc_cpus)),
        Int(big(seq, "seq", seq)?),
    ])
}

/// Column access over a backend's row. `Ok(None)` is SQL NULL.
pub(crate) trait RowSource {
    fn int(&self, column: &'static str) -> Result<Option<i64>, String>;
    fn text(&self, column: &'static str) -> Result<Option<String>, String>;
}

/// Reads columns of one row, naming the row in errors.
struct Reader<'a> {
    row: &'a dyn RowSource,
    table: &'static str,
    key: String,
}

impl Reader<'_> {
    fn corrupt(&self, column: &'static str, value: impl Into<String>) -> Error {
        Error::CorruptRow {
            table: self.table,
            key: self.key.clone(),
            column,
            value: value.into(),
        }
    }

    fn optional_int(&self, column: &'static str) -> Result<Option<i64>, Error> {
        self.row.int(column).map_err(|e| self.corrupt(column, e))
    }

    fn int(&self, column: &'static str) -> Result<i64, Error> {
        self.optional_int(column)?
            .ok_or_else(|| self.corrupt(column, "NULL"))
    }

    fn optional_u32(&self, column: &'static str) -> Result<Option<u32>, Error> {
        self.optional_int(column)?
            .map(|v| u32::try_from(v).map_err(|_| self.corrupt(column, v.to_string())))
            .transpose()
    }

    fn u32(&self, column: &'static str) -> Result<u32, Error> {
        self.optional_u32(column)?
            .ok_or_else(|| self.corrupt(column, "NULL"))
    }

    fn optional_u64(&self, column: &'static str) -> Result<Option<u64>, Error> {
        self.optional_int(column)?
            .map(|v| u64::try_from(v).map_err(|_| self.corrupt(column, v.to_string())))
            .transpose()
    }

    fn u64(&self, column: &'static str) -> Result<u64, Error> {
        self.optional_u64(column)?
            .ok_or_else(|| self.corrupt(column, "NULL"))
    }

    fn optional_time_ms(&self, column: &'static str) -> Result<Option<u64>, Error> {
        self.optional_u64(column)?
            .map(|s| {
                s.checked_mul(1000)
                    .ok_or_else(|| self.corrupt(column, s.to_string()))
            })
            .transpose()
    }

    fn time_ms(&self, column: &'static str) -> Result<u64, Error> {
        self.optional_time_ms(column)?
            .ok_or_else(|| self.corrupt(column, "NULL"))
    }

    fn exit_status(&self, code: &'static str, signal: &'static str) -> Result<ExitStatus, Error> {
        let byte = |column| {
            let value = self.int(column)?;
            u8::try_from(value).map_err(|_| self.corrupt(column, value.to_string()))
        };
        Ok(ExitStatus {
            code: byte(code)?,
            signal: byte(signal)?,
        })
    }

    fn optional_text(&self, column: &'static str) -> Result<Option<String>, Error> {
        self.row.text(column).map_err(|e| self.corrupt(column, e))
    }

    fn text(&self, column: &'static str) -> Result<String, Error> {
        self.optional_text(column)?
            .ok_or_else(|| self.corrupt(column, "NULL"))
    }

    fn state(&self) -> Result<JobState, Error> {
        let name = self.text("state")?;
        JobState::from_slurm_name(&name)
            .filter(|state| state.slurm_name() == name)
            .ok_or_else(|| self.corrupt("state", format!("\"{name}\"")))
    }

    fn nodes(&self) -> Result<Vec<String>, Error> {
        let expression = self.text("node_list")?;
        hostlist::expand(&expression).map_err(|e| self.corrupt("node_list", e.to_string()))
    }
}

/// A job row back as the record it was written from, and its `seq`.
pub(crate) fn job_from_row(row: &dyn RowSource) -> Result<(JobRecord, u64), Error> {
    let key = match (row.text("cluster"), row.int("job_id")) {
        (Ok(Some(cluster)), Ok(Some(job_id))) => format!("({cluster}, {job_id})"),
        _ => "(unreadable key)".to_string(),
    };
    let r = Reader {
        row,
        table: JOB_TABLE.name,
        key,
    };
    let job = JobRecord {
        job_id: r.u32("job_id")?,
        array_job_id: r.optional_u32("array_job_id")?,
        array_task_id: r.optional_u32("array_task_id")?,
        name: r.text("job_name")?,
        user: r.text("user_name")?,
        uid: r.u32("uid")?,
        gid: r.u32("gid")?,
        account: r.optional_text("account")?,
        partition: r.text("partition_name")?,
        qos: r.optional_text("qos")?,
        state: r.state()?,
        cancelled_by_uid: r.optional_u32("cancelled_by_uid")?,
        exit_status: r.exit_status("exit_code", "exit_signal")?,
        derived_exit_status: r.exit_status("derived_exit_code", "derived_exit_signal")?,
        submit_time_ms: r.time_ms("submit_time_s")?,
        eligible_time_ms: r.optional_time_ms("eligible_time_s")?,
        start_time_ms: r.optional_time_ms("start_time_s")?,
        end_time_ms: r.optional_time_ms("end_time_s")?,
        time_limit_minutes: r.optional_u32("time_limit_minutes")?,
        nodes: r.nodes()?,
        alloc_cpus: r.u32("alloc_cpus")?,
        alloc_gpus: r.u32("alloc_gpus")?,
        alloc_memory_mb: r.u64("alloc_memory_mb")?,
        req_nodes: r.u32("req_nodes")?,
        req_cpus: r.u32("req_cpus")?,
        req_tasks: r.u32("req_tasks")?,
        req_memory_per_node_mb: r.optional_u64("req_memory_per_node_mb")?,
        req_gpus_per_node: r.u32("req_gpus_per_node")?,
        work_dir: r.text("work_dir")?,
        reason: r.text("reason")?,
        requeue_count: r.u32("requeue_count")?,
        comment: r.optional_text("comment")?,
    };
    Ok((job, r.u64("seq")?))
}

/// A step row back as the record it was written from, and its `seq`.
pub(crate) fn step_from_row(row: &dyn RowSource) -> Result<(StepRecord, u64), Error> {
    let key = match (row.text("cluster"), row.int("job_id"), row.int("step_id")) {
        (Ok(Some(cluster)), Ok(Some(job_id)), Ok(Some(step_id))) => {
            format!("({cluster}, {job_id}, {step_id})")
        }
        _ => "(unreadable key)".to_string(),
    };
    let r = Reader {
        row,
        table: STEP_TABLE.name,
        key,
    };
    let step_number = r.int("step_id")?;
    let step_id = match step_number {
        BATCH_STEP_ID => StepId::Batch,
        _ => StepId::Numbered(
            u32::try_from(step_number)
                .map_err(|_| r.corrupt("step_id", step_number.to_string()))?,
        ),
    };
    let step = StepRecord {
        job_id: r.u32("job_id")?,
        step_id,
        name: r.text("step_name")?,
        state: r.state()?,
        exit_status: r.exit_status("exit_code", "exit_signal")?,
        start_time_ms: r.time_ms("start_time_s")?,
        end_time_ms: r.optional_time_ms("end_time_s")?,
        nodes: r.nodes()?,
        ntasks: r.u32("ntasks")?,
        alloc_cpus: r.u32("alloc_cpus")?,
    };
    Ok((step, r.u64("seq")?))
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    /// A row as a map from column to value, built from the values written.
    struct MapRow(HashMap<&'static str, Value>);

    impl MapRow {
        fn new(table: &Table, values: Vec<Value>) -> MapRow {
            assert_eq!(table.columns.len(), values.len(), "{}", table.name);
            MapRow(table.columns.iter().copied().zip(values).collect())
        }
    }

    impl RowSource for MapRow {
        fn int(&self, column: &'static str) -> Result<Option<i64>, String> {
            match self.0.get(column) {
                Some(Value::Int(v)) => Ok(Some(*v)),
                Some(Value::OptionalInt(v)) => Ok(*v),
                other => Err(format!("{other:?}")),
            }
        }
        fn text(&self, column: &'static str) -> Result<Option<String>, String> {
            match self.0.get(column) {
                Some(Value::Text(v)) => Ok(Some(v.clone())),
                Some(Value::OptionalText(v)) => Ok(v.clone()),
                other => Err(format!("{other:?}")),
            }
        }
    }

    fn job() -> JobRecord {
        JobRecord {
            job_id: 4_000_000_000,
            array_job_id: Some(3_999_999_990),
            array_task_id: Some(10),
            name: "train ☃".to_string(),
            user: "alice".to_string(),
            uid: 1000,
            gid: 100,
            account: Some("physics".to_string()),
            partition: "gpu".to_string(),
            qos: None,
            state: JobState::Cancelled,
            cancelled_by_uid: Some(0),
            exit_status: ExitStatus {
                code: 0,
                signal: 15,
            },
            derived_exit_status: ExitStatus {
                code: 255,
                signal: 0,
            },
            submit_time_ms: 1_700_000_000_000,
            eligible_time_ms: Some(1_700_000_001_000),
            start_time_ms: Some(1_700_000_002_000),
            end_time_ms: None,
            time_limit_minutes: None,
            nodes: vec!["gpu01".into(), "gpu02".into(), "login".into()],
            alloc_cpus: 64,
            alloc_gpus: 8,
            alloc_memory_mb: 512_000,
            req_nodes: 2,
            req_cpus: 64,
            req_tasks: 2,
            req_memory_per_node_mb: Some(256_000),
            req_gpus_per_node: 4,
            work_dir: "/home/alice".to_string(),
            reason: "None".to_string(),
            requeue_count: 3,
            comment: Some("it's \"quoted\"".to_string()),
        }
    }

    #[test]
    fn a_job_row_reads_back_as_the_record() {
        let row = MapRow::new(&JOB_TABLE, job_values("c1", 77, &job()).unwrap());
        assert_eq!(job_from_row(&row).unwrap(), (job(), 77));
    }

    #[test]
    fn a_step_row_reads_back_as_the_record() {
        for step_id in [
            StepId::Batch,
            StepId::Numbered(0),
            StepId::Numbered(u32::MAX),
        ] {
            let step = StepRecord {
                job_id: 7,
                step_id,
                name: "batch".to_string(),
                state: JobState::Failed,
                exit_status: ExitStatus { code: 2, signal: 0 },
                start_time_ms: 1_000,
                end_time_ms: Some(9_000),
                nodes: vec!["n1".into()],
                ntasks: 1,
                alloc_cpus: 4,
            };
            let row = MapRow::new(&STEP_TABLE, step_values("c1", 5, &step).unwrap());
            assert_eq!(step_from_row(&row).unwrap(), (step, 5));
        }
    }

    #[test]
    fn times_are_stored_as_whole_seconds() {
        let mut record = job();
        record.submit_time_ms = 1_700_000_000_999;
        let values = job_values("c1", 1, &record).unwrap();
        let row = MapRow::new(&JOB_TABLE, values);
        assert_eq!(row.int("submit_time_s").unwrap(), Some(1_700_000_000));
        assert_eq!(
            job_from_row(&row).unwrap().0.submit_time_ms,
            1_700_000_000_000
        );
    }

    #[test]
    fn numbers_beyond_the_schema_are_an_error_naming_the_field() {
        let mut record = job();
        record.alloc_memory_mb = u64::MAX;
        let error = job_values("c1", 9, &record).unwrap_err();
        assert!(
            matches!(
                error,
                Error::UnrepresentableRecord {
                    seq: 9,
                    field: "alloc_memory_mb",
                    ..
                }
            ),
            "{error}"
        );
    }

    #[test]
    fn rows_that_are_not_records_are_corrupt_rows_naming_the_column() {
        // (column, bad value, column named in the error)
        let cases = [
            ("state", Value::Text("RUNNING+".into()), "state"),
            ("state", Value::Text("R".into()), "state"),
            ("uid", Value::Int(-1), "uid"),
            ("job_id", Value::Int(i64::from(u32::MAX) + 1), "job_id"),
            ("exit_code", Value::Int(256), "exit_code"),
            ("node_list", Value::Text("n[1-".into()), "node_list"),
            ("submit_time_s", Value::OptionalInt(None), "submit_time_s"),
        ];
        for (column, value, named) in cases {
            let mut row = MapRow::new(&JOB_TABLE, job_values("c1", 1, &job()).unwrap());
            row.0.insert(column, value.clone());
            match job_from_row(&row) {
                Err(Error::CorruptRow {
                    column,
                    table: "job",
                    ..
                }) => {
                    assert_eq!(column, named, "{value:?}")
                }
                other => panic!("{column} = {value:?}: {other:?}"),
            }
        }
    }

    #[test]
    fn cluster_names_must_fit_the_column() {
        assert!(check_cluster("corral").is_ok());
        assert!(check_cluster(&"x".repeat(CLUSTER_NAME_CHARS_MAX)).is_ok());
        assert!(check_cluster("").is_err());
        assert!(check_cluster(&"x".repeat(CLUSTER_NAME_CHARS_MAX + 1)).is_err());
    }
}
