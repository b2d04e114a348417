//! `scontrol show hostnames|hostlist|hostlistsorted` (scontrol's
//! `scontrol_print_hosts` and `scontrol_encode_hostlist`), and reading the
//! words after `show` for them and for `show config`.

use corral_state::hostlist;

use crate::error::{SlurmError, EXIT_FAILURE};

/// A file of host names longer than this is refused (Slurm reads at most
/// 1 MiB).
pub const HOSTLIST_FILE_BYTES_MAX: usize = 1024 * 1024;

/// A `show` that needs no job or node data from the cluster's state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LocalShow {
    /// `show config`.
    Config,
    /// `show hostnames [LIST]`.
    Hostnames(Option<String>),
    /// `show hostlist LIST` (`sorted: false`) or `show hostlistsorted LIST`.
    Hostlist { list: Option<String>, sorted: bool },
}

/// Reads the words after `show` as `_show_it` does: a tag, in any case and
/// abbreviated down to Slurm's minimum (`c` for `config`, `hostn`,
/// `hostl`, `hostlists`), its value attached (`tag=value`) or as the next
/// word. `None` when the tag is none of these.
pub fn parse_show(words: &[&str]) -> Option<LocalShow> {
    let first = words.first()?;
    let (tag, attached) = match first.split_once('=') {
        Some((tag, value)) => (tag, Some(value)),
        None => (*first, None),
    };
    let value = attached.or(words.get(1).copied()).map(str::to_string);
    let matches = |keyword: &str, minimum: usize| {
        tag.len() >= minimum
            && keyword
                .get(..tag.len())
                .is_some_and(|start| start.eq_ignore_ascii_case(tag))
    };
    if matches("config", 1) {
        Some(LocalShow::Config)
    } else if matches("hostnames", 5) {
        Some(LocalShow::Hostnames(value))
    } else if matches("hostlist", 5) {
        Some(LocalShow::Hostlist {
            list: value,
            sorted: false,
        })
    } else if matches("hostlistsorted", 9) {
        Some(LocalShow::Hostlist {
            list: value,
            sorted: true,
        })
    } else {
        None
    }
}

/// What a hostlist command prints and its exit code.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Output {
    pub stdout: String,
    pub stderr: String,
    pub exit_code: i32,
}

/// `show hostnames [LIST]`: one name per line. Without a list, the one in
/// `SLURM_JOB_NODELIST` (passed in); without either, `scontrol: error: host
/// list is empty`. Slurm's exit code stays 0 on these errors.
pub fn hostnames(list: Option<&str>) -> Output {
    let Some(list) = list else {
        return Output {
            stdout: String::new(),
            stderr: "scontrol: error: host list is empty\n".to_string(),
            exit_code: 0,
        };
    };
    match hostlist::expand(list) {
        Ok(names) => Output {
            stdout: names.iter().map(|name| format!("{name}\n")).collect(),
            stderr: String::new(),
            exit_code: 0,
        },
        Err(_) => Output {
            stdout: String::new(),
            stderr: format!("Invalid hostlist: {list}\n"),
            exit_code: 0,
        },
    }
}

/// A file's contents as a hostlist (`_reformat_hostlist`): newlines
/// become commas, runs of commas one comma.
pub fn file_as_hostlist(contents: &str) -> String {
    let with_commas = contents.replace('\n', ",");
    let mut out = String::with_capacity(with_commas.len());
    for c in with_commas.chars() {
        if !(c == ',' && out.ends_with(',')) {
            out.push(c);
        }
    }
    out
}

/// `show hostlist LIST` and `show hostlistsorted LIST`: the names as one
/// expression, in their order or sorted. `Invalid hostlist: LIST`, exit 1.
pub fn encode(list: &str, sorted: bool) -> Result<String, SlurmError> {
    let names = hostlist::expand(list)
        .map_err(|_| SlurmError::new(vec![format!("Invalid hostlist: {list}")], EXIT_FAILURE))?;
    let text = if sorted {
        hostlist::compress_sorted(&names)
    } else {
        hostlist::compress(&names)
    };
    Ok(format!("{text}\n"))
}

/// `show hostlist` without a list.
pub fn missing_list_error() -> SlurmError {
    SlurmError::new(vec!["invalid encode argument".to_string()], EXIT_FAILURE)
}

/// Reading a file named as the list failed.
pub fn unreadable_file_error(path: &str) -> SlurmError {
    SlurmError::new(vec![format!("Can not open {path}")], EXIT_FAILURE)
}

/// A file named as the list is 1 MiB or more.
pub fn file_too_large_error(path: &str) -> SlurmError {
    SlurmError::new(vec![format!("File {path} is too large")], EXIT_FAILURE)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn reads_show_tags_as_slurm_does() {
        assert_eq!(parse_show(&["config"]), Some(LocalShow::Config));
        assert_eq!(parse_show(&["C"]), Some(LocalShow::Config));
        assert_eq!(
            parse_show(&["HOSTN", "n[1-2]"]),
            Some(LocalShow::Hostnames(Some("n[1-2]".to_string())))
        );
        assert_eq!(
            parse_show(&["hostnames=a,b"]),
            Some(LocalShow::Hostnames(Some("a,b".to_string())))
        );
        assert_eq!(parse_show(&["hostnames"]), Some(LocalShow::Hostnames(None)));
        assert_eq!(
            parse_show(&["hostl", "x"]),
            Some(LocalShow::Hostlist {
                list: Some("x".to_string()),
                sorted: false
            })
        );
        assert_eq!(
            parse_show(&["hostlists"]),
            Some(LocalShow::Hostlist {
                list: None,
                sorted: true
            })
        );
        for unknown in ["host", "hostlistsortedx", "configs", "", "é", "hostñ"] {
            assert_eq!(parse_show(&[unknown]), None, "{unknown}");
        }
        assert_eq!(parse_show(&[]), None);
    }

    #[test]
    fn expands_one_per_line() {
        let out = hostnames(Some("n[1-3],gpu01"));
        assert_eq!(out.stdout, "n1\nn2\nn3\ngpu01\n");
        assert_eq!(out.exit_code, 0);
        let out = hostnames(None);
        assert_eq!(out.stderr, "scontrol: error: host list is empty\n");
        let out = hostnames(Some("n[1-"));
        assert_eq!(out.stderr, "Invalid hostlist: n[1-\n");
        assert_eq!(out.stdout, "");
    }

    #[test]
    fn encodes_in_order_or_sorted() {
        assert_eq!(encode("n3,n1,n2", false).unwrap(), "n[3,1-2]\n");
        assert_eq!(encode("n3,n1,n2", true).unwrap(), "n[1-3]\n");
        assert_eq!(encode("b1,a2,a1", true).unwrap(), "a[1-2],b1\n");
        let error = encode("n[3-", false).unwrap_err();
        assert_eq!(error.stderr_text(), "Invalid hostlist: n[3-\n");
        assert_eq!(error.exit_code, 1);
    }

    #[test]
    fn files_become_lists() {
        assert_eq!(file_as_hostlist("n1\nn2\n\nn3\n"), "n1,n2,n3,");
        assert_eq!(
            encode(&file_as_hostlist("n1\nn2\n"), false).unwrap(),
            "n[1-2]\n"
        );
    }

    proptest! {
        #[test]
        fn any_show_words_parse(words in proptest::collection::vec("\\PC{0,10}", 0..3)) {
            let words: Vec<&str> = words.iter().map(String::as_str).collect();
            let _ = parse_show(&words);
        }

        #[test]
        fn any_list_is_handled(list in "\\PC{0,20}") {
            let _ = hostnames(Some(&list));
            let _ = encode(&list, true);
            let _ = encode(&file_as_hostlist(&list), false);
        }
    }
}
