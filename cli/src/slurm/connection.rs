//! Reaching the cluster from a Slurm command, and saying what went wrong in
//! Slurm's words (plus one line of Corral's own detail).

use std::time::Duration;

use corral_client::{Client, ClientError};
use corral_config::Config;
use corral_slurm::SlurmError;
use tonic::Code;

/// A client for `command` from `CORRAL_CONF` (or the default config).
pub fn connect(command: &str) -> Result<Client, SlurmError> {
    let path = Config::default_path();
    let config = Config::load(&path)
        .map_err(|error| SlurmError::command_error(command, &error.to_string(), 1))?;
    Client::from_config(&config)
        .map_err(|error| SlurmError::command_error(command, &error.to_string(), 1))
}

/// Slurm's text for why a call failed, as `slurm_strerror` would put it.
pub fn slurm_reason(error: &ClientError) -> &'static str {
    match error {
        ClientError::NoLeader { .. } => "Unable to contact slurm controller (connect failure)",
        ClientError::Settings(_) => "Unable to contact slurm controller (connect failure)",
        ClientError::Rpc(status) => match status.code() {
            Code::Unauthenticated => "Protocol authentication error",
            Code::PermissionDenied => "Access/permission denied",
            Code::InvalidArgument => "Invalid argument",
            _ => "Unexpected message received",
        },
    }
}

/// A failed call: `{first_line_prefix}{Slurm's reason}`, then Corral's detail
/// as `{command}: error: ...`.
pub fn call_failed(command: &str, first_line: String, error: &ClientError) -> SlurmError {
    SlurmError::new(
        vec![
            format!("{first_line}{}", slurm_reason(error)),
            format!("{command}: error: {error}"),
        ],
        1,
    )
}

/// The time a reply's `now_ms` leaves for local rendering: the controller's
/// clock, or ours if it sent none.
pub fn now_ms(reported_ms: u64) -> u64 {
    if reported_ms > 0 {
        return reported_ms;
    }
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_millis() as u64
}

/// This machine's offset from UTC, for printing timestamps in local time.
pub fn local_utc_offset_seconds() -> i32 {
    // SAFETY: localtime_r writes into the struct we own.
    unsafe {
        let now = libc::time(std::ptr::null_mut());
        let mut local: libc::tm = std::mem::zeroed();
        if libc::localtime_r(&now, &mut local).is_null() {
            return 0;
        }
        local.tm_gmtoff as i32
    }
}

/// This machine's host name.
pub fn host_name() -> String {
    let mut buffer = [0u8; 256];
    // SAFETY: gethostname writes at most buffer.len() bytes into our buffer.
    let result = unsafe { libc::gethostname(buffer.as_mut_ptr().cast(), buffer.len()) };
    if result != 0 {
        return "localhost".to_string();
    }
    let end = buffer.iter().position(|b| *b == 0).unwrap_or(buffer.len());
    String::from_utf8_lossy(&buffer[..end]).into_owned()
}
