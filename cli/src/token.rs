//! Tokens: random secrets for users and the root, stored as files only
//! their owner can read.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use anyhow::Context;

/// Bytes of randomness in a token (printed as twice as many hex digits).
pub const TOKEN_BYTES: usize = 32;

pub fn generate() -> anyhow::Result<String> {
    let mut bytes = [0u8; TOKEN_BYTES];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut bytes)
        .map_err(|_| anyhow::anyhow!("the system random number generator failed"))?;
    Ok(hex(&bytes))
}

/// SHA-256 of a token, lowercase hex, as the controllers store it.
pub fn digest(token: &str) -> String {
    hex(ring::digest::digest(&ring::digest::SHA256, token.trim().as_bytes()).as_ref())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Writes a token to a new file readable by its owner only.
pub fn write_file(path: &Path, token: &str) -> anyhow::Result<()> {
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    writeln!(file, "{token}").with_context(|| format!("writing {}", path.display()))?;
    file.sync_all()
        .with_context(|| format!("syncing {}", path.display()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn digest_matches_the_controller() {
        assert_eq!(
            super::digest("abc\n"),
            corral_controller::auth::token_digest("abc")
        );
    }

    #[test]
    fn tokens_are_long_and_distinct() {
        let a = super::generate().unwrap();
        let b = super::generate().unwrap();
        assert_eq!(a.len(), 2 * super::TOKEN_BYTES);
        assert_ne!(a, b);
    }
}
