//! Resource detection on this machine, which has no NVIDIA driver.

use std::io::Write;
use std::sync::{Arc, Mutex};

use corral_agent::resources::{self, ResourceOverrides};

/// Collects what the subscriber writes.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("lock").extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn without_nvml_there_are_no_gpus_and_one_line_says_why() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_ansi(false)
        .with_max_level(tracing::Level::INFO)
        .with_writer(move || writer.clone())
        .finish();
    let library = std::ffi::OsStr::new("libnvidia-ml-corral-test-absent.so.1");
    let detected =
        tracing::subscriber::with_default(subscriber, || resources::detect_with(library))
            .expect("detection");
    assert!(detected.gpus.is_empty());
    assert!(detected.cpus >= 1);
    assert!(detected.memory_mb > 0);
    let log = String::from_utf8(captured.0.lock().expect("lock").clone()).expect("utf-8");
    let lines: Vec<&str> = log.lines().collect();
    assert_eq!(lines.len(), 1, "{log}");
    assert!(lines[0].contains(" INFO "), "{log}");
    assert!(
        lines[0].contains(
            "no NVIDIA GPUs: NVML unavailable (libnvidia-ml-corral-test-absent.so.1 not found); GPUs come only from the configuration"
        ),
        "{log}"
    );
    let node = resources::node_resources(
        &detected,
        &ResourceOverrides {
            gpu_count: Some(2),
            gpu_model: Some("declared".to_string()),
            ..ResourceOverrides::default()
        },
    );
    assert_eq!(node.gpus.len(), 2, "configured GPUs stand without NVML");
    assert_eq!(node.cpus, detected.cpus);

    // The real library name: on a machine without a driver this logs the
    // same line; with one, every GPU has a model and a UUID. (One test, so
    // that no other thread registers the log call site without a subscriber.)
    let detected = resources::detect().expect("detection");
    for gpu in &detected.gpus {
        assert!(
            !gpu.model.is_empty() && gpu.uuid.starts_with("GPU-"),
            "{gpu:?}"
        );
    }
}
