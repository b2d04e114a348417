//! `scontrol show hostnames|hostlist|hostlistsorted` (scontrol's
//! `scontrol_print_hosts` and `scontrol_encode_hostlist`).

use corral_state::hostlist;

use crate::error::{SlurmError, EXIT_FAILURE};

/// A file of host names longer than this is refused (Slurm reads at most
/// 1 MiB).
pub const HOSTLIST_FILE_BYTES_MAX: usize = 1024 * 1024;

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
        fn any_list_is_handled(list in "\\PC{0,20}") {
            let _ = hostnames(Some(&list));
            let _ = encode(&list, true);
            let _ = encode(&file_as_hostlist(&list), false);
        }
    }
}
