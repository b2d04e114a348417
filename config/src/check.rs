//! Reading a whole file for `corral config check`: every unknown or
//! malformed key and every failed check, not only the first.

use std::path::Path;

use serde_path_to_error::Segment;

use crate::{validate, Config, ConfigError, ConfigFile};

/// Keys left out one by one before giving up on a file's schema: a file
/// with more wrong keys than this is not worth listing further.
const KEYS_LEFT_OUT_MAX: usize = 100;

/// What `corral config check` found in one file.
pub struct CheckReport {
    /// The file as read, once its schema could be read with the wrong keys
    /// left out; absent when it could not (a syntax error, a missing key).
    pub config: Option<Config>,
    /// Every problem, in the order found, each naming the file and the key.
    pub problems: Vec<ConfigError>,
}

impl Config {
    /// Reads and checks the file at `path`, collecting every problem.
    pub fn check_file(path: &Path) -> CheckReport {
        match std::fs::read_to_string(path) {
            Ok(text) => Config::check_text(path, &text),
            Err(source) => CheckReport {
                config: None,
                problems: vec![ConfigError::Read {
                    path: path.to_path_buf(),
                    source,
                }],
            },
        }
    }

    /// Checks `text` as if read from `path`, collecting every problem.
    pub fn check_text(path: &Path, text: &str) -> CheckReport {
        let (file, mut problems) = read_schema(path, text);
        let config = file.map(|file| Config {
            path: path.to_path_buf(),
            file,
        });
        if let Some(config) = &config {
            problems.extend(validate::problems(config));
            problems.extend(validate::doubtful(config));
        }
        CheckReport { config, problems }
    }
}

/// Reads the schema; a key that is unknown or of the wrong type is
/// recorded, left out, and the rest read again, so that every such key is
/// found. A syntax error or a missing key ends the reading.
fn read_schema(path: &Path, text: &str) -> (Option<ConfigFile>, Vec<ConfigError>) {
    let mut table: toml::Table = match toml::from_str(text) {
        Ok(table) => table,
        Err(error) => {
            let problem = ConfigError::Parse {
                path: path.to_path_buf(),
                message: error.to_string().trim_end().to_string(),
            };
            return (None, vec![problem]);
        }
    };
    let mut problems = Vec::new();
    for _ in 0..KEYS_LEFT_OUT_MAX {
        let error = match serde_path_to_error::deserialize::<_, ConfigFile>(table.clone()) {
            Ok(file) => return (Some(file), problems),
            Err(error) => error,
        };
        // The message's first line; toml adds a second naming the table,
        // which the key already does.
        let message = error.inner().to_string();
        let problem = message.lines().next().unwrap_or_default().to_string();
        let missing = problem.starts_with("missing field");
        problems.push(ConfigError::Invalid {
            path: path.to_path_buf(),
            key: key_name(error.path()),
            problem,
        });
        if missing || !leave_out(&mut table, error.path()) {
            break;
        }
    }
    (None, problems)
}

/// `controller[0].address`, as the other messages name keys; the file
/// itself (a key missing at the top) is `(top level)`.
fn key_name(path: &serde_path_to_error::Path) -> String {
    let mut name = String::new();
    for segment in path.iter() {
        match segment {
            Segment::Seq { index } => name.push_str(&format!("[{index}]")),
            Segment::Map { key } | Segment::Enum { variant: key } => {
                if !name.is_empty() {
                    name.push('.');
                }
                name.push_str(key);
            }
            Segment::Unknown => name.push_str(".?"),
        }
    }
    if name.is_empty() {
        name.push_str("(top level)");
    }
    name
}

/// Removes the value at `path`; false when there is nothing to remove.
fn leave_out(table: &mut toml::Table, path: &serde_path_to_error::Path) -> bool {
    let segments: Vec<&Segment> = path.iter().collect();
    let Some((last, parents)) = segments.split_last() else {
        return false;
    };
    let mut value = None::<&mut toml::Value>;
    for segment in parents {
        let next = match (value.take(), segment) {
            (None, Segment::Map { key }) => table.get_mut(key.as_str()),
            (Some(toml::Value::Table(inner)), Segment::Map { key }) => inner.get_mut(key.as_str()),
            (Some(toml::Value::Array(items)), Segment::Seq { index }) => items.get_mut(*index),
            _ => None,
        };
        match next {
            Some(next) => value = Some(next),
            None => return false,
        }
    }
    match (value, last) {
        (None, Segment::Map { key }) => table.remove(key.as_str()).is_some(),
        (Some(toml::Value::Table(inner)), Segment::Map { key }) => {
            inner.remove(key.as_str()).is_some()
        }
        (Some(toml::Value::Array(items)), Segment::Seq { index }) if *index < items.len() => {
            items.remove(*index);
            true
        }
        _ => false,
    }
}
