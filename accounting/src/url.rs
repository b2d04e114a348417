//! Accounting database URLs: which backend, which nodes, and how to name a
//! URL in a message without its password.

use std::str::FromStr;

use sqlx::mysql::MySqlConnectOptions;
use sqlx::sqlite::SqliteConnectOptions;

use crate::error::Error;

/// What the URL list points at.
#[derive(Debug)]
pub(crate) enum Target {
    /// MariaDB or MySQL: one node, or the nodes of one Galera cluster, in the
    /// order they are tried.
    MySql(Vec<MySqlNode>),
    Sqlite(Box<SqliteFile>),
}

#[derive(Debug)]
pub(crate) struct MySqlNode {
    /// The URL with its password replaced by `***`.
    pub redacted_url: String,
    pub options: MySqlConnectOptions,
}

#[derive(Debug)]
pub(crate) struct SqliteFile {
    pub redacted_url: String,
    pub options: SqliteConnectOptions,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Scheme {
    MySql,
    Sqlite,
}

/// Reads the URL list: `mysql://USER:PASSWORD@HOST:PORT/DATABASE` (or
/// `mariadb://`), one or several, or exactly one `sqlite://PATH`.
pub(crate) fn parse_targets(urls: &[String]) -> Result<Target, Error> {
    let Some(first) = urls.first() else {
        return Err(Error::NoUrls);
    };
    let first_scheme = scheme_of(first)?;
    for other in &urls[1..] {
        let scheme = scheme_of(other)?;
        if scheme != first_scheme {
            return Err(Error::MixedSchemes {
                first: redact(first),
                other: redact(other),
            });
        }
    }
    match first_scheme {
        Scheme::Sqlite if urls.len() > 1 => Err(Error::SeveralSqliteUrls {
            count: urls.len(),
            first: redact(first),
        }),
        Scheme::Sqlite => Ok(Target::Sqlite(Box::new(parse_sqlite(first)?))),
        Scheme::MySql => Ok(Target::MySql(
            urls.iter()
                .map(|url| parse_mysql(url))
                .collect::<Result<_, _>>()?,
        )),
    }
}

fn scheme_of(url: &str) -> Result<Scheme, Error> {
    let scheme = url.split_once("://").map(|(scheme, _)| scheme);
    match scheme {
        Some("mysql" | "mariadb") => Ok(Scheme::MySql),
        Some("sqlite") => Ok(Scheme::Sqlite),
        _ => Err(invalid(
            url,
            "expected mysql://USER:PASSWORD@HOST:PORT/DATABASE or sqlite://PATH",
        )),
    }
}

fn parse_mysql(url: &str) -> Result<MySqlNode, Error> {
    // sqlx reads `mysql://` only; `mariadb://` is the same protocol.
    let normalized = match url.strip_prefix("mariadb://") {
        Some(rest) => format!("mysql://{rest}"),
        None => url.to_string(),
    };
    let options = MySqlConnectOptions::from_str(&normalized)
        .map_err(|error| invalid(url, &scrub(url, &error.to_string())))?;
    if options.get_database().is_none() {
        return Err(invalid(
            url,
            "names no database (mysql://USER:PASSWORD@HOST:PORT/DATABASE)",
        ));
    }
    Ok(MySqlNode {
        redacted_url: redact(url),
        options,
    })
}

fn parse_sqlite(url: &str) -> Result<SqliteFile, Error> {
    let options = SqliteConnectOptions::from_str(url)
        .map_err(|error| invalid(url, &scrub(url, &error.to_string())))?;
    let text = options.get_filename().to_string_lossy().into_owned();
    if text.is_empty() {
        return Err(invalid(url, "names no file (sqlite://PATH)"));
    }
    if text == ":memory:" || text.starts_with("file:sqlx-in-memory") {
        return Err(invalid(
            url,
            "an in-memory database would lose the accounting records; name a file",
        ));
    }
    Ok(SqliteFile {
        redacted_url: redact(url),
        options,
    })
}

fn invalid(url: &str, reason: &str) -> Error {
    Error::InvalidUrl {
        url: redact(url),
        reason: reason.to_string(),
    }
}

/// The text between `://` and the first `/`, `?` or `#` after it.
fn authority_of(url: &str) -> Option<(usize, usize)> {
    let start = url.find("://")? + 3;
    let end = url[start..]
        .find(['/', '?', '#'])
        .map_or(url.len(), |offset| start + offset);
    Some((start, end))
}

fn password_of(url: &str) -> Option<&str> {
    let (start, end) = authority_of(url)?;
    let (user_info, _) = url[start..end].rsplit_once('@')?;
    let (_, password) = user_info.split_once(':')?;
    Some(password).filter(|password| !password.is_empty())
}

/// The URL with the password of its user part replaced by `***`, for
/// messages and logs: `mysql://corral:***@db1:3306/acct`.
pub fn redact(url: &str) -> String {
    let Some((start, end)) = authority_of(url) else {
        return url.to_string();
    };
    let authority = &url[start..end];
    let Some((user_info, host)) = authority.rsplit_once('@') else {
        return url.to_string();
    };
    let Some((user, _password)) = user_info.split_once(':') else {
        return url.to_string();
    };
    format!("{}{user}:***@{host}{}", &url[..start], &url[end..])
}

/// Removes the URL's password from a message that may quote it.
fn scrub(url: &str, message: &str) -> String {
    match password_of(url) {
        Some(password) => message.replace(password, "***"),
        None => message.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn urls(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    fn error_text(list: &[&str]) -> String {
        match parse_targets(&urls(list)) {
            Ok(target) => panic!("{list:?} parsed as {target:?}"),
            Err(error) => error.to_string(),
        }
    }

    #[test]
    fn redaction_replaces_only_the_password() {
        let cases = [
            (
                "mysql://corral:s3cret@db1:3306/acct",
                "mysql://corral:***@db1:3306/acct",
            ),
            (
                "mysql://corral:p@ss@db1/acct?ssl-mode=required",
                "mysql://corral:***@db1/acct?ssl-mode=required",
            ),
            ("mysql://corral@db1/acct", "mysql://corral@db1/acct"),
            ("mysql://db1/acct", "mysql://db1/acct"),
            (
                "sqlite:///var/lib/corral/acct.db",
                "sqlite:///var/lib/corral/acct.db",
            ),
            ("not a url", "not a url"),
        ];
        for (url, expected) in cases {
            assert_eq!(redact(url), expected, "{url}");
        }
    }

    #[test]
    fn a_list_of_mysql_urls_is_the_nodes_in_order() {
        let target = parse_targets(&urls(&[
            "mysql://corral:pw@127.0.0.1:3306/acct",
            "mariadb://corral:pw@127.0.0.1:3307/acct",
        ]))
        .unwrap();
        let Target::MySql(nodes) = target else {
            panic!("not MySQL: {target:?}");
        };
        let ports: Vec<u16> = nodes.iter().map(|n| n.options.get_port()).collect();
        assert_eq!(ports, [3306, 3307]);
        assert_eq!(
            nodes[1].redacted_url,
            "mariadb://corral:***@127.0.0.1:3307/acct"
        );
    }

    #[test]
    fn one_sqlite_url_is_a_file() {
        let target = parse_targets(&urls(&["sqlite:///tmp/acct.db"])).unwrap();
        let Target::Sqlite(file) = target else {
            panic!("not SQLite: {target:?}");
        };
        assert_eq!(
            file.options.get_filename(),
            std::path::Path::new("/tmp/acct.db")
        );
    }

    #[test]
    fn bad_url_lists_are_clear_errors_without_the_password() {
        // (urls, text the message must contain)
        let cases: &[(&[&str], &str)] = &[
            (&[], "no accounting database URL given"),
            (
                &["postgres://u:hunter2@h/db"],
                "\"postgres://u:***@h/db\": expected mysql://",
            ),
            (&["db1:3306"], "\"db1:3306\": expected mysql://"),
            (
                &["mysql://u:hunter2@h"],
                "\"mysql://u:***@h\": names no database",
            ),
            (
                &["mysql://u:hunter2@h:99999/db"],
                "\"mysql://u:***@h:99999/db\"",
            ),
            (
                &["mysql://u:hunter2@/db"],
                "\"mysql://u:***@/db\": error with configuration: empty host",
            ),
            (
                &["mysql://u:hunter2@h/db", "sqlite:///tmp/a.db"],
                "mix SQLite and MySQL/MariaDB (\"mysql://u:***@h/db\", \"sqlite:///tmp/a.db\")",
            ),
            (
                &["sqlite:///tmp/a.db", "sqlite:///tmp/b.db"],
                "2 SQLite accounting URLs",
            ),
            (&["sqlite://:memory:"], "in-memory database"),
            (&["sqlite://"], "names no file"),
        ];
        for (list, expected) in cases {
            let text = error_text(list);
            assert!(text.contains(expected), "{list:?}: {text}");
            assert!(
                !text.contains("hunter2"),
                "{list:?} leaks the password: {text}"
            );
        }
    }
}
