//! What to tear down if the harness is interrupted.
//!
//! Drop removes a network and stops a cluster on a normal exit or a panic.
//! A SIGINT or SIGTERM would end the process without running any drop (and
//! the cluster's processes, in their own sessions, would not even see the
//! Ctrl-C), so every live network and cluster registers how to tear itself
//! down, and [`tear_down_on_signals`] runs all of that before exiting.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, Once};

/// Processes go first (they need their namespaces' names to be found),
/// then the networks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Stage {
    Processes,
    Network,
}

type Action = Box<dyn Fn() + Send + Sync>;

static ACTIONS: Mutex<BTreeMap<(Stage, u64), Action>> = Mutex::new(BTreeMap::new());
static NEXT_KEY: AtomicU64 = AtomicU64::new(0);
static INSTALLED: Once = Once::new();

/// Unregisters its action when dropped.
pub(crate) struct Registration {
    key: (Stage, u64),
}

impl Drop for Registration {
    fn drop(&mut self) {
        actions().remove(&self.key);
    }
}

pub(crate) fn register(stage: Stage, action: impl Fn() + Send + Sync + 'static) -> Registration {
    let key = (stage, NEXT_KEY.fetch_add(1, Ordering::Relaxed));
    actions().insert(key, Box::new(action));
    Registration { key }
}

fn actions() -> std::sync::MutexGuard<'static, BTreeMap<(Stage, u64), Action>> {
    // An action that panicked must not stop the others from running.
    ACTIONS
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Kills every cluster's processes and removes every network this process
/// still has, as an interrupted run must. Each is done once.
pub fn tear_down_everything() {
    let taken = std::mem::take(&mut *actions());
    for action in taken.into_values() {
        action();
    }
}

/// On SIGINT or SIGTERM: prints a line, tears everything down and exits
/// with 130 or 143. Call once, early in `main`, before starting anything.
/// (Registers through tokio, so other tokio signal listeners in the
/// process still hear the signal, but this one ends the process.)
pub fn tear_down_on_signals() -> std::io::Result<()> {
    let mut result = Ok(());
    INSTALLED.call_once(|| result = install());
    result
}

fn install() -> std::io::Result<()> {
    let (ready, installed) = std::sync::mpsc::channel();
    std::thread::Builder::new()
        .name("corral-chaos-signals".to_string())
        .spawn(move || {
            let runtime = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(runtime) => runtime,
                Err(error) => {
                    let _ = ready.send(Err(error));
                    return;
                }
            };
            let code = runtime.block_on(async move {
                use tokio::signal::unix::{signal, SignalKind};
                let listeners = signal(SignalKind::interrupt())
                    .and_then(|interrupt| Ok((interrupt, signal(SignalKind::terminate())?)));
                let (mut interrupt, mut terminate) = match listeners {
                    Ok(listeners) => listeners,
                    Err(error) => {
                        let _ = ready.send(Err(error));
                        return None;
                    }
                };
                let _ = ready.send(Ok(()));
                tokio::select! {
                    _ = interrupt.recv() => Some(130),
                    _ = terminate.recv() => Some(143),
                }
            });
            if let Some(code) = code {
                eprintln!(
                    "corral-chaos: interrupted; stopping the cluster and removing the network"
                );
                tear_down_everything();
                std::process::exit(code);
            }
        })?;
    installed
        .recv()
        .unwrap_or_else(|_| Err(std::io::Error::other("the signal thread died")))
}
