-- Corral accounting schema, MySQL/MariaDB: the accounting policy (accounts,
-- users, associations) mirrored from the replicated state for reporting.
-- The controllers rewrite a cluster's rows whenever its policy changes.
CREATE TABLE IF NOT EXISTS account (
    cluster       VARCHAR(64)  NOT NULL,
    name          VARCHAR(255) NOT NULL,
    description   TEXT         NOT NULL,
    organization  TEXT         NOT NULL,
    parent        VARCHAR(255) NULL,
    PRIMARY KEY (cluster, name)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE IF NOT EXISTS account_user (
    cluster          VARCHAR(64)  NOT NULL,
    name             VARCHAR(255) NOT NULL,
    default_account  VARCHAR(255) NOT NULL,
    admin_level      VARCHAR(16)  NOT NULL,
    PRIMARY KEY (cluster, name)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE IF NOT EXISTS association (
    cluster    VARCHAR(64)  NOT NULL,
    account    VARCHAR(255) NOT NULL,
    user_name  VARCHAR(255) NOT NULL,
    PRIMARY KEY (cluster, account, user_name)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE IF NOT EXISTS policy_version (
    cluster  VARCHAR(64) NOT NULL,
    version  BIGINT      NOT NULL,
    PRIMARY KEY (cluster)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
