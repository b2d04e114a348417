-- Corral accounting schema, SQLite: the accounting policy (accounts, users,
-- associations) mirrored from the replicated state for reporting.
CREATE TABLE IF NOT EXISTS account (
    cluster       TEXT NOT NULL,
    name          TEXT NOT NULL,
    description   TEXT NOT NULL,
    organization  TEXT NOT NULL,
    parent        TEXT NULL,
    PRIMARY KEY (cluster, name)
);

CREATE TABLE IF NOT EXISTS account_user (
    cluster          TEXT NOT NULL,
    name             TEXT NOT NULL,
    default_account  TEXT NOT NULL,
    admin_level      TEXT NOT NULL,
    PRIMARY KEY (cluster, name)
);

CREATE TABLE IF NOT EXISTS association (
    cluster    TEXT NOT NULL,
    account    TEXT NOT NULL,
    user_name  TEXT NOT NULL,
    PRIMARY KEY (cluster, account, user_name)
);

CREATE TABLE IF NOT EXISTS policy_version (
    cluster  TEXT    NOT NULL PRIMARY KEY,
    version  INTEGER NOT NULL
);
