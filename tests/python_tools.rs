//! A Python tool from PyPI that drives Slurm through its command line,
//! used unmodified against a dev cluster: `simple_slurm` (installed by
//! `.ci/run` with pip). The workflow is `tests/data/simple_slurm_workflow.py`.

mod support;

use std::path::Path;
use std::process::Command;

use support::{stderr, stdout, DevCluster};

#[test]
fn simple_slurm_submits_queries_and_cancels() {
    let import = Command::new("python3")
        .args(["-c", "import simple_slurm"])
        .output()
        .expect("python3");
    assert!(
        import.status.success(),
        "simple_slurm is not installed (pip install simple_slurm==0.3.6): {}",
        stderr(&import)
    );
    let cluster = DevCluster::with_agents(3, 1, &[]);
    let work = tempfile::tempdir().unwrap();
    let script =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/data/simple_slurm_workflow.py");
    let path = format!(
        "{}:{}",
        cluster.path().join("bin").display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let run = Command::new("python3")
        .arg(&script)
        .arg(work.path())
        .env("PATH", path)
        .env("CORRAL_CONF", cluster.config_path())
        .env_remove("CORRAL_CONTROLLERS")
        .env_remove("CORRAL_TOKEN")
        .output()
        .expect("python3");
    assert!(
        run.status.success(),
        "the workflow failed:\n{}\n{}",
        stdout(&run),
        stderr(&run)
    );
    assert!(stdout(&run).ends_with("ok\n"), "{}", stdout(&run));
}
