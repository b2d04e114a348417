-- Corral accounting schema, SQLite. The same tables and columns as the
-- MySQL/MariaDB schema (docs/accounting.md). Never edit an applied
-- migration: add a new file.
CREATE TABLE IF NOT EXISTS job (
    cluster                TEXT    NOT NULL,
    job_id                 INTEGER NOT NULL,
    array_job_id           INTEGER NULL,
    array_task_id          INTEGER NULL,
    job_name               TEXT    NOT NULL,
    user_name              TEXT    NOT NULL,
    uid                    INTEGER NOT NULL,
    gid                    INTEGER NOT NULL,
    account                TEXT    NULL,
    partition_name         TEXT    NOT NULL,
    qos                    TEXT    NULL,
    state                  TEXT    NOT NULL,
    cancelled_by_uid       INTEGER NULL,
    exit_code              INTEGER NOT NULL,
    exit_signal            INTEGER NOT NULL,
    derived_exit_code      INTEGER NOT NULL,
    derived_exit_signal    INTEGER NOT NULL,
    submit_time_s          INTEGER NOT NULL,
    eligible_time_s        INTEGER NULL,
    start_time_s           INTEGER NULL,
    end_time_s             INTEGER NULL,
    time_limit_minutes     INTEGER NULL,
    node_list              TEXT    NOT NULL,
    alloc_cpus             INTEGER NOT NULL,
    alloc_gpus             INTEGER NOT NULL,
    alloc_memory_mb        INTEGER NOT NULL,
    req_nodes              INTEGER NOT NULL,
    req_cpus               INTEGER NOT NULL,
    req_tasks              INTEGER NOT NULL,
    req_memory_per_node_mb INTEGER NULL,
    req_gpus_per_node      INTEGER NOT NULL,
    work_dir               TEXT    NOT NULL,
    reason                 TEXT    NOT NULL,
    requeue_count          INTEGER NOT NULL,
    comment                TEXT    NULL,
    seq                    INTEGER NOT NULL,
    PRIMARY KEY (cluster, job_id)
);
CREATE INDEX IF NOT EXISTS job_array ON job (cluster, array_job_id);
CREATE INDEX IF NOT EXISTS job_user ON job (cluster, user_name);
CREATE INDEX IF NOT EXISTS job_submit ON job (cluster, submit_time_s);
CREATE INDEX IF NOT EXISTS job_end ON job (cluster, end_time_s);

CREATE TABLE IF NOT EXISTS step (
    cluster      TEXT    NOT NULL,
    job_id       INTEGER NOT NULL,
    step_id      INTEGER NOT NULL,
    step_name    TEXT    NOT NULL,
    state        TEXT    NOT NULL,
    exit_code    INTEGER NOT NULL,
    exit_signal  INTEGER NOT NULL,
    start_time_s INTEGER NOT NULL,
    end_time_s   INTEGER NULL,
    node_list    TEXT    NOT NULL,
    ntasks       INTEGER NOT NULL,
    alloc_cpus   INTEGER NOT NULL,
    seq          INTEGER NOT NULL,
    PRIMARY KEY (cluster, job_id, step_id)
);
