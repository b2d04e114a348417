//! Only in builds with the `upgrade-test-variant` feature: a leader started
//! with `CORRAL_UPGRADE_TEST_PROPOSE=FILE` proposes the newer command variant
//! once FILE exists, as a newer Corral whose new feature is first used would
//! (`tests/upgrade.rs`).

use std::time::Duration;

use corral_raft_store::Raft;
use corral_state::Command;

use crate::propose::Proposer;

/// The environment variable naming the file whose existence makes a leader
/// propose the variant.
pub const PROPOSE_ENV: &str = "CORRAL_UPGRADE_TEST_PROPOSE";

/// Proposes `Command::UpgradeTestVariant` once this controller leads and
/// the file exists, retrying until it commits; does nothing without
/// [`PROPOSE_ENV`].
pub async fn propose_when_leader(raft: Raft, proposer: Proposer) {
    let Some(trigger) = std::env::var_os(PROPOSE_ENV).map(std::path::PathBuf::from) else {
        return;
    };
    loop {
        tokio::time::sleep(Duration::from_millis(200)).await;
        if !trigger.exists() {
            continue;
        }
        let leads = {
            let metrics = raft.metrics().borrow().clone();
            metrics.current_leader == Some(metrics.id)
        };
        if !leads {
            continue;
        }
        let proposed = proposer
            .propose(|now_ms| Command::UpgradeTestVariant {
                note: "proposed by the newer build of tests/upgrade.rs".to_string(),
                now_ms,
            })
            .await;
        match proposed {
            Ok(_) => {
                tracing::info!("committed the upgrade test's newer command variant");
                return;
            }
            Err(status) => tracing::warn!("proposing the upgrade test variant: {status}"),
        }
    }
}
