//! What controllers and agents serve over plain HTTP for monitoring:
//! the Prometheus text exposition format ([`Exposition`]), duration
//! histograms ([`Histogram`]) and the small server ([`serve`]) that answers
//! `/metrics`, `/health` and (on controllers) `/leader`.
//!
//! The format is written here rather than through a metrics registry: all
//! but a few series are read at scrape time from state that already exists
//! (Raft's metrics, the replicated state, the agent's journal), so a
//! registry would only hold copies. The official Rust client
//! (prometheus-client) also speaks only OpenMetrics, not the classic text
//! format that every Prometheus and every parser reads.
//!
//! Architecture invariant: nothing here is on the path of a write. A scrape
//! reads; the two things recorded as they happen (durations) are atomic
//! increments.

mod exposition;
mod histogram;
mod server;

pub use exposition::{Exposition, Kind, CONTENT_TYPE};
pub use histogram::{Histogram, HistogramSnapshot, DURATION_BUCKETS_SECONDS};
pub use server::{bind, plain_text, serve, CONNECTIONS_MAX, HEADER_READ_TIMEOUT_MS};
