//! Corral's chaos harness (`corral-chaos`): starts a real cluster (each
//! controller and agent a process in its own network namespace), runs a
//! workload of concurrent clients while a seeded schedule of faults kills,
//! pauses and cuts off controllers, heals, and checks every promise of the
//! design against the recorded history.
//!
//! - [`net`]: network namespaces, the bridge, cutting and healing links.
//! - [`cluster`]: certificates, configuration and processes of a run.
//! - [`nemesis`]: the faults, chosen from the seed.
//! - [`workload`]: the clients and the history they record.
//! - [`history`]: what the checkers read.
//! - [`checkers`]: one module per promise.
//! - [`report`]: `report.md`, `report.json` and `timeline.svg`.

pub mod checkers;
pub mod cluster;
pub mod history;
pub mod nemesis;
pub mod net;
pub mod report;
pub mod workload;
