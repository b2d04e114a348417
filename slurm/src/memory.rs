//! Memory sizes as Slurm reads and prints them.
//!
//! [`parse_megabytes`] is `str_to_mbytes` (`proc_args.c`), used for `--mem`,
//! `--mem-per-cpu`, `--tmp`: a whole number, default unit MiB, optionally
//! followed by `K`, `M`, `G` or `T` (any case, optionally followed by `B`);
//! kibibytes round up to whole MiB; `0` is zero (for `--mem`: all the memory
//! of each node). [`format_megabytes`] is `convert_num_unit` in its "exact"
//! mode, as squeue's `MIN_MEMORY` and scontrol's `MinMemoryNode` and `TRES`
//! print: `100M`, `2G`, `1.50G`, `16000M`, `0`.

use crate::c_number::strtol;
use crate::error::{error_line, SlurmError, EXIT_OPTION_ERROR};

const KIBIBYTES_PER_MEBIBYTE: u64 = 1_024;
const UNIT_DIVISOR: u64 = 1_024;

/// A memory size Slurm rejects.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InvalidMemory {
    pub text: String,
}

/// Parses a size into MiB as `str_to_mbytes` does. Values too large for
/// Slurm's 64-bit arithmetic are rejected rather than wrapped.
pub fn parse_megabytes(text: &str) -> Result<u64, InvalidMemory> {
    let invalid = || InvalidMemory {
        text: text.to_string(),
    };
    let parsed = strtol(text);
    if parsed.overflowed || parsed.rest.len() == text.len() || parsed.value < 0 {
        return Err(invalid());
    }
    let value = u64::try_from(parsed.value).map_err(|_| invalid())?;
    let mut suffix = parsed.rest.chars();
    let multiplier_or_kib = match suffix.next() {
        None => return Ok(value),
        Some(unit) => unit.to_ascii_uppercase(),
    };
    let ends_after_unit = matches!(suffix.as_str(), "" | "B" | "b");
    if !ends_after_unit {
        return Err(invalid());
    }
    match multiplier_or_kib {
        'K' => Ok(value.div_ceil(KIBIBYTES_PER_MEBIBYTE)),
        'M' => Ok(value),
        'G' => value.checked_mul(UNIT_DIVISOR).ok_or_else(invalid),
        'T' => value
            .checked_mul(UNIT_DIVISOR * UNIT_DIVISOR)
            .ok_or_else(invalid),
        _ => Err(invalid()),
    }
}

/// `{command}: error: Invalid {option} specification`, exit 255, as Slurm
/// prints for a bad `--mem` (`option` is `--mem`, `--mem-per-cpu`, ...).
pub fn invalid_specification_error(command: &str, option: &str) -> SlurmError {
    SlurmError::new(
        vec![error_line(
            command,
            &format!("Invalid {option} specification"),
        )],
        EXIT_OPTION_ERROR,
    )
}

/// Prints MiB as `convert_num_unit(.., UNIT_MEGA, NO_VAL,
/// CONVERT_NUM_UNIT_EXACT)`: moves to the next unit while the value stays a
/// whole number of half units, printing two decimals when it is not whole.
pub fn format_megabytes(megabytes: u64) -> String {
    const UNITS: [char; 4] = ['M', 'G', 'T', 'P'];
    if megabytes == 0 {
        return "0".to_string();
    }
    // Work in halves of the current unit so that 1.5G stays exact.
    let mut unit = 0;
    let mut whole = megabytes;
    let mut half = false;
    while unit + 1 < UNITS.len()
        && !half
        && whole >= UNIT_DIVISOR
        && whole.is_multiple_of(UNIT_DIVISOR / 2)
    {
        half = !whole.is_multiple_of(UNIT_DIVISOR);
        whole /= UNIT_DIVISOR;
        unit += 1;
    }
    if half {
        format!("{whole}.50{}", UNITS[unit])
    } else {
        format!("{whole}{}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_sizes() {
        for (text, megabytes) in [
            ("0", 0),
            ("100", 100),
            ("100M", 100),
            ("100m", 100),
            ("100MB", 100),
            ("2G", 2_048),
            ("2g", 2_048),
            ("2GB", 2_048),
            ("2gb", 2_048),
            ("1T", 1_048_576),
            ("1K", 1),
            ("1025K", 2),
            ("1024k", 1),
            (" 5", 5),
            ("+5", 5),
            ("0G", 0),
        ] {
            assert_eq!(parse_megabytes(text), Ok(megabytes), "{text:?}");
        }
    }

    #[test]
    fn rejects_bad_sizes() {
        for bad in [
            "",
            "abc",
            "G",
            "-1",
            "1X",
            "1GBB",
            "1.5G",
            "1 G",
            "99999999999999999999",
            "18014398509481984T",
        ] {
            assert!(parse_megabytes(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn invalid_mem_matches_reference_89() {
        let error = invalid_specification_error("sbatch", "--mem");
        assert_eq!(
            error.stderr_text(),
            "sbatch: error: Invalid --mem specification\n"
        );
        assert_eq!(error.exit_code, 255);
    }

    #[test]
    fn formats_exact_units() {
        for (megabytes, text) in [
            (0, "0"),
            (100, "100M"),
            (1_024, "1G"),
            (1_536, "1.50G"),
            (2_048, "2G"),
            (16_000, "16000M"),
            (1_048_576, "1T"),
            (1_572_864, "1.50T"),
            (512, "512M"),
            (1_025, "1025M"),
        ] {
            assert_eq!(format_megabytes(megabytes), text, "{megabytes}");
        }
    }

    proptest! {
        #[test]
        fn parse_never_panics(text in "\\PC{0,24}") {
            let _ = parse_megabytes(&text);
        }

        #[test]
        fn format_never_panics(megabytes in any::<u64>()) {
            prop_assert!(!format_megabytes(megabytes).is_empty());
        }
    }
}
