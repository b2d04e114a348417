//! How a [`ClusterState`] is encoded in a snapshot (the bytes openraft sends
//! to followers, stored in the snapshot file and in backups), with its
//! format version.
//!
//! | version | encoding |
//! |---|---|
//! | 1 | the `ClusterState` as JSON: exactly what every Corral wrote before versions existed |
//! | 2 and later | a line `corral-state N`, then the JSON |
//!
//! The version is bumped when the state gains something an older Corral
//! would drop while decoding (serde ignores unknown fields): such a state
//! is refused by the older one instead of being silently truncated.

use corral_state::ClusterState;

/// The newest state format version this build understands and writes.
pub const STATE_FORMAT_VERSION: u32 = 1;
/// What starts a stamped (version 2 and later) state.
const STATE_FORMAT_PREFIX: &[u8] = b"corral-state ";

/// Why snapshot data is not a state this build can load.
#[derive(Debug, thiserror::Error)]
pub enum StateFormatError {
    #[error(
        "the state is in state format version {found}, newer than this Corral understands \
         (up to {STATE_FORMAT_VERSION}): it was written by a newer Corral; upgrade this binary"
    )]
    Newer { found: u32 },
    #[error("the state does not decode: {0}")]
    Corrupt(String),
}

/// Encodes the state in the newest format this build writes.
pub fn encode_state(state: &ClusterState) -> serde_json::Result<Vec<u8>> {
    serde_json::to_vec(state)
}

/// Decodes a state written in any format version up to
/// [`STATE_FORMAT_VERSION`].
pub fn decode_state(data: &[u8]) -> Result<ClusterState, StateFormatError> {
    let (version, json) = state_format_version(data)?;
    if version > STATE_FORMAT_VERSION {
        return Err(StateFormatError::Newer { found: version });
    }
    serde_json::from_slice(json).map_err(|error| StateFormatError::Corrupt(error.to_string()))
}

/// The version of encoded state data, and the JSON after its stamp.
fn state_format_version(data: &[u8]) -> Result<(u32, &[u8]), StateFormatError> {
    let Some(rest) = data.strip_prefix(STATE_FORMAT_PREFIX) else {
        return Ok((1, data));
    };
    let line_end = rest
        .iter()
        .position(|&byte| byte == b'\n')
        .ok_or_else(|| StateFormatError::Corrupt("the format line is not terminated".into()))?;
    let version = std::str::from_utf8(&rest[..line_end])
        .ok()
        .and_then(|text| text.trim().parse().ok())
        .ok_or_else(|| StateFormatError::Corrupt("the format line has no version number".into()))?;
    Ok((version, &rest[line_end + 1..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unstamped_state_is_version_1_and_round_trips() {
        let state = ClusterState::default();
        let data = encode_state(&state).unwrap();
        assert!(data.starts_with(b"{"));
        assert_eq!(decode_state(&data).unwrap(), state);
    }

    #[test]
    fn a_newer_state_is_refused_naming_both_versions() {
        let error = decode_state(b"corral-state 7\n{}").unwrap_err().to_string();
        assert!(error.contains("state format version 7"), "{error}");
        assert!(error.contains("up to 1"), "{error}");
        assert!(matches!(
            decode_state(b"corral-state x\n{}"),
            Err(StateFormatError::Corrupt(_))
        ));
        assert!(matches!(
            decode_state(b"{not json"),
            Err(StateFormatError::Corrupt(_))
        ));
    }
}
