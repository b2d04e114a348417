//! Corral's cluster certificates and the rustls configurations built from them.
//!
//! One cluster CA (made by `corral certs`) signs every controller and node
//! certificate. Controllers authenticate each other with mutual TLS, CLI
//! clients verify the controller against the same CA (they authenticate with
//! tokens, not certificates), and agents present a certificate whose name is
//! the node they claim to be.
//!
//! - [`certs`]: generate the CA and the certificates it issues; write them to a
//!   cluster directory.
//! - [`load`]: read PEM files back, with errors that name the file.
//! - [`config`]: rustls server and client configurations, always on the ring
//!   provider and trusting the cluster CA only.
//! - [`identity`]: who a verified peer certificate names (`controller-<id>`,
//!   `node-<name>`).
//! - [`check`]: was this certificate issued by that CA (for config checks).
//!
//! Architecture invariant: there is exactly one crypto provider, ring. Nothing
//! here consults the system trust store or the process-wide default provider.

pub mod certs;
pub mod check;
pub mod config;
pub mod identity;
pub mod load;

pub use certs::{CaBundle, CertBundle, CertError, CertPaths, ClusterCertPaths};
pub use check::{verify_issued_by, IssuerCheckError};
pub use config::{client_config, server_config, ClientAuth, ConfigError, ALPN_GRPC, ALPN_NONE};
pub use identity::{controller_id_of, node_name_of, peer_names};
pub use load::{CaCertificates, CertChain, Identity, LoadError, PrivateKey};
