//! Who is calling: bearer tokens to [`Actor`]s.
//!
//! The root token lives in a file on the controllers (`auth.root_token_file`)
//! and makes its bearer `root`, an administrator; it is how the first users
//! are created. Every other token belongs to a user in the replicated state,
//! which keeps only its SHA-256 digest.

use corral_proto::AUTHORIZATION_METADATA;
use corral_raft_store::StateHandle;
use corral_state::Actor;
use tonic::metadata::MetadataMap;
use tonic::Status;

/// SHA-256 of a token, lowercase hex: how tokens are stored and compared.
pub fn token_digest(token: &str) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, token.trim().as_bytes());
    digest.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

pub struct Authenticator {
    root_token_digest: String,
    state: StateHandle,
}

impl Authenticator {
    pub fn new(root_token: &str, state: StateHandle) -> Authenticator {
        Authenticator {
            root_token_digest: token_digest(root_token),
            state,
        }
    }

    /// The actor behind the request's token, or UNAUTHENTICATED with a
    /// message that says what to do.
    pub fn actor(&self, metadata: &MetadataMap) -> Result<Actor, Status> {
        let token = bearer_token(metadata)?;
        let digest = token_digest(token);
        if constant_time_eq(digest.as_bytes(), self.root_token_digest.as_bytes()) {
            return Ok(Actor::root());
        }
        self.state
            .read(|state| {
                state.user_by_token(&digest).map(|user| Actor {
                    user: user.name.clone(),
                    uid: user.uid,
                    gid: user.gid,
                    admin: user.admin,
                })
            })
            .ok_or_else(|| {
                Status::unauthenticated(
                    "invalid token: it belongs to no user of this cluster (ask an administrator for one: corral user add)",
                )
            })
    }
}

fn bearer_token(metadata: &MetadataMap) -> Result<&str, Status> {
    let value = metadata.get(AUTHORIZATION_METADATA).ok_or_else(|| {
        Status::unauthenticated(
            "no token: set CORRAL_TOKEN or client.token_file in the config (an administrator creates tokens with corral user add)",
        )
    })?;
    value
        .to_str()
        .ok()
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|token| !token.is_empty())
        .ok_or_else(|| {
            Status::unauthenticated("malformed authorization header: expected `Bearer <token>`")
        })
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_is_sha256_hex() {
        assert_eq!(
            token_digest("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(token_digest(" abc\n"), token_digest("abc"));
    }

    #[test]
    fn malformed_headers_are_refused() {
        let mut metadata = MetadataMap::new();
        assert!(bearer_token(&metadata).is_err());
        metadata.insert(AUTHORIZATION_METADATA, "Basic xyz".parse().unwrap());
        assert!(bearer_token(&metadata).is_err());
        metadata.insert(AUTHORIZATION_METADATA, "Bearer  tok ".parse().unwrap());
        assert_eq!(bearer_token(&metadata).unwrap(), "tok");
    }
}
