//! `--export` (and `SBATCH_EXPORT`): which of the submitter's variables the
//! job gets, decided in sbatch before the job is sent, as Slurm's
//! `_fill_job_desc_from_opts` and `_env_merge_filter` decide it.
//!
//! - not given, or `ALL` (any case): the whole environment;
//! - `NONE`: only the variables whose names start with `SLURM`;
//! - otherwise a comma-separated list, items in order, a later one
//!   overriding an earlier one: `ALL` adds the whole environment, `NAME`
//!   the submitter's value of `NAME` (if set), `NAME=value` that value;
//!   then every `SLURM_*` variable of the submitter is added over them.
//!   Commas inside quotes do not split (`A='x,y'`, the quotes kept, as
//!   Slurm keeps them; a token quoted whole loses its quotes).
//!
//! sbatch also sets `SLURM_EXPORT_ENV` to any value but `ALL`, unless the
//! submitter has it already, so that the job's steps see the same choice.

/// The environment variable `--export` is passed on in.
pub const EXPORT_VARIABLE: &str = "SLURM_EXPORT_ENV";

/// What `--export` asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Export {
    /// The whole environment (the default).
    All,
    /// `SLURM*` variables only.
    None,
    /// Items in order, then the `SLURM_*` variables.
    List(Vec<ExportItem>),
}

/// One item of an `--export` list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ExportItem {
    All,
    Copy(String),
    Set(String, String),
}

/// A parsed `--export` value and the complaints Slurm prints about it
/// (`Improperly formed environment variable (...)`), without the prefix.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParsedExport {
    pub export: Export,
    pub complaints: Vec<String>,
}

/// Reads an `--export` value.
pub fn parse_export(text: &str) -> ParsedExport {
    if text.eq_ignore_ascii_case("ALL") {
        return ParsedExport {
            export: Export::All,
            complaints: Vec::new(),
        };
    }
    if text.eq_ignore_ascii_case("NONE") {
        return ParsedExport {
            export: Export::None,
            complaints: Vec::new(),
        };
    }
    let (tokens, complaints) = quote_tokens(text);
    let items = tokens
        .into_iter()
        .filter_map(|token| {
            if token.eq_ignore_ascii_case("ALL") {
                Some(ExportItem::All)
            } else if let Some((name, value)) = token.split_once('=') {
                (!name.is_empty()).then(|| ExportItem::Set(name.to_string(), value.to_string()))
            } else {
                (!token.is_empty()).then(|| ExportItem::Copy(token.to_string()))
            }
        })
        .collect();
    ParsedExport {
        export: Export::List(items),
        complaints,
    }
}

/// Slurm's `find_quote_token` over the whole value: the tokens between
/// commas outside quotes, a token quoted whole without its quotes.
fn quote_tokens(text: &str) -> (Vec<String>, Vec<String>) {
    let mut tokens = Vec::new();
    let mut complaints = Vec::new();
    let bytes = text.as_bytes();
    let mut start = 0;
    while start < bytes.len() {
        let (mut single, mut double) = (false, false);
        let mut end = start;
        loop {
            match bytes.get(end) {
                Some(b'\'') => single = !single,
                Some(b'"') => double = !double,
                Some(b',') if !single && !double => break,
                None if !single && !double => break,
                None => {
                    complaints.push(format!(
                        "Improperly formed environment variable ({})",
                        &text[start..]
                    ));
                    break;
                }
                Some(_) => {}
            }
            end += 1;
        }
        let token = &text[start..end.min(bytes.len())];
        let quoted_whole = token.len() >= 2
            && !single
            && !double
            && ((token.starts_with('\'') && token.ends_with('\''))
                || (token.starts_with('"') && token.ends_with('"')));
        if quoted_whole {
            tokens.push(token[1..token.len() - 1].to_string());
            // Slurm resumes on the separator itself, which reads as one
            // more, empty, token: it names nothing.
            start = end;
            if start < bytes.len() {
                tokens.push(String::new());
                start += 1;
            }
        } else {
            tokens.push(token.to_string());
            start = end + 1;
        }
    }
    (tokens, complaints)
}

/// The job's environment from the submitter's, as `export` asks.
pub fn export_environment(
    export: &Export,
    submitter: &[(String, String)],
) -> Vec<(String, String)> {
    match export {
        Export::All => submitter.to_vec(),
        Export::None => submitter
            .iter()
            .filter(|(name, _)| name.starts_with("SLURM"))
            .cloned()
            .collect(),
        Export::List(items) => {
            let mut environment: Vec<(String, String)> = Vec::new();
            for item in items {
                match item {
                    ExportItem::All => {
                        for (name, value) in submitter {
                            set(&mut environment, name, value);
                        }
                    }
                    ExportItem::Set(name, value) => set(&mut environment, name, value),
                    ExportItem::Copy(name) => {
                        if let Some((_, value)) = submitter.iter().find(|(n, _)| n == name) {
                            set(&mut environment, name, value);
                        }
                    }
                }
            }
            for (name, value) in submitter.iter().filter(|(n, _)| n.starts_with("SLURM_")) {
                set(&mut environment, name, value);
            }
            environment
        }
    }
}

/// `env_array_overwrite`: replaces a variable in place, or appends it.
pub(crate) fn set(environment: &mut Vec<(String, String)>, name: &str, value: &str) {
    match environment.iter_mut().find(|(key, _)| key == name) {
        Some(entry) => entry.1 = value.to_string(),
        None => environment.push((name.to_string(), value.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn environment(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(name, value)| (name.to_string(), value.to_string()))
            .collect()
    }

    const SUBMITTER: &[(&str, &str)] = &[
        ("HOME", "/home/a"),
        ("EDITOR", "vi"),
        ("SLURM_CONF", "/etc/slurm.conf"),
        ("SLURMD_DEBUG", "1"),
        ("PATH", "/bin"),
    ];

    fn exported(text: &str) -> Vec<(String, String)> {
        let parsed = parse_export(text);
        assert!(parsed.complaints.is_empty(), "{text}");
        export_environment(&parsed.export, &environment(SUBMITTER))
    }

    #[test]
    fn all_and_none() {
        assert_eq!(exported("ALL"), environment(SUBMITTER));
        assert_eq!(exported("all"), environment(SUBMITTER));
        assert_eq!(
            exported("NONE"),
            environment(&[("SLURM_CONF", "/etc/slurm.conf"), ("SLURMD_DEBUG", "1")])
        );
    }

    #[test]
    fn lists_copy_set_and_keep_slurm_variables() {
        assert_eq!(
            exported("EDITOR,ARG1=test,MISSING"),
            environment(&[
                ("EDITOR", "vi"),
                ("ARG1", "test"),
                ("SLURM_CONF", "/etc/slurm.conf")
            ])
        );
        // In order: the later item wins.
        let mut expected = environment(SUBMITTER);
        expected[1].1 = "emacs".to_string();
        assert_eq!(exported("ALL,EDITOR=emacs"), expected);
        assert_eq!(
            exported("EDITOR=emacs,ALL"),
            environment(&[
                ("EDITOR", "vi"),
                ("HOME", "/home/a"),
                ("SLURM_CONF", "/etc/slurm.conf"),
                ("SLURMD_DEBUG", "1"),
                ("PATH", "/bin")
            ])
        );
        assert_eq!(
            exported(""),
            environment(&[("SLURM_CONF", "/etc/slurm.conf")])
        );
    }

    #[test]
    fn quotes_protect_commas() {
        assert_eq!(
            exported("A='x,y',B=\"1,2\""),
            environment(&[
                ("A", "'x,y'"),
                ("B", "\"1,2\""),
                ("SLURM_CONF", "/etc/slurm.conf")
            ])
        );
        assert_eq!(
            exported("'C=3,4',EDITOR"),
            environment(&[
                ("C", "3,4"),
                ("EDITOR", "vi"),
                ("SLURM_CONF", "/etc/slurm.conf")
            ])
        );
        let parsed = parse_export("A='x,y");
        assert_eq!(
            parsed.complaints,
            vec!["Improperly formed environment variable (A='x,y)"]
        );
        assert_eq!(
            parsed.export,
            Export::List(vec![ExportItem::Set("A".into(), "'x,y".into())])
        );
    }
}
