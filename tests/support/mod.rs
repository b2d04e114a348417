//! A real dev cluster for end-to-end tests: `corral dev up` in a temporary
//! directory, the Slurm commands run as real processes against it, and
//! `corral dev down` (by process id) when the test ends. When a test fails,
//! the end of every controller's log is printed.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

pub const CORRAL: &str = env!("CARGO_BIN_EXE_corral");

/// Generous bound for anything a test waits on: the machine is small and shared.
pub const WAIT_MAX: Duration = Duration::from_secs(60);

pub struct DevCluster {
    pub dir: tempfile::TempDir,
    pub controllers: usize,
    pub agents: usize,
}

/// One line of `corral status`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StatusRow {
    pub id: u64,
    pub address: String,
    pub role: String,
    pub term: Option<u64>,
    pub last_log_index: Option<u64>,
    pub applied_index: Option<u64>,
}

impl DevCluster {
    /// A cluster of controllers only (no agents, so no job runs).
    pub fn up(controllers: usize) -> DevCluster {
        DevCluster::launch(controllers, 0, &[])
    }

    /// A cluster with `agents` compute nodes (node001, ...) on this machine;
    /// `extra` goes to `corral dev up` (e.g. `--agent-gpus 2`). Returns once
    /// every node is up.
    pub fn with_agents(controllers: usize, agents: usize, extra: &[&str]) -> DevCluster {
        let cluster = DevCluster::launch(controllers, agents, extra);
        cluster.wait_for("every node up", || {
            let nodes = cluster.nodes();
            let up = nodes
                .iter()
                .filter(|node| node.availability == "UP")
                .count();
            (up == agents).then_some(())
        });
        cluster
    }

    /// The nodes as the leader sees them.
    pub fn nodes(&self) -> Vec<corral_proto::Node> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let config = corral_config::Config::load(&self.config_path()).expect("config");
        let client = corral_client::Client::from_config(&config).expect("client");
        runtime
            .block_on(client.call(
                corral_proto::GetNodesRequest::default(),
                |mut c, r| async move { c.get_nodes(r).await },
            ))
            .map(|reply| reply.nodes)
            .unwrap_or_default()
    }

    /// A job's state name (`squeue -t all -o %T`), if the job is known.
    pub fn job_state(&self, job_id: u32) -> Option<String> {
        self.job_states().remove(&job_id)
    }

    /// Waits until the job is in `state`; panics (with the logs) otherwise.
    pub fn wait_job_state(&self, job_id: u32, state: &str) {
        self.wait_for(&format!("job {job_id} to be {state}"), || {
            (self.job_state(job_id).as_deref() == Some(state)).then_some(())
        });
    }

    /// `scontrol show job` of one job.
    pub fn show_job(&self, job_id: u32) -> String {
        let output = self
            .slurm("scontrol")
            .args(["show", "job", &job_id.to_string()])
            .output()
            .expect("scontrol");
        assert_success(&output, "scontrol show job");
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    fn launch(controllers: usize, agents: usize, extra: &[&str]) -> DevCluster {
        let dir = tempfile::Builder::new()
            .prefix("corral-test-")
            .tempdir()
            .expect("temporary directory");
        let cluster = DevCluster {
            dir,
            controllers,
            agents,
        };
        let dir_arg = cluster.path().to_string_lossy().into_owned();
        let controllers_arg = controllers.to_string();
        let agents_arg = agents.to_string();
        let mut args = vec![
            "dev",
            "up",
            "--dir",
            &dir_arg,
            "--controllers",
            &controllers_arg,
            "--agents",
            &agents_arg,
            "--check-invariants",
        ];
        args.extend_from_slice(extra);
        let output = cluster.corral(&args);
        assert_success(&output, "corral dev up");
        cluster
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn config_path(&self) -> PathBuf {
        self.path().join("corral.toml")
    }

    /// Runs `corral ARGS` with this cluster's config.
    pub fn corral(&self, args: &[&str]) -> Output {
        Command::new(CORRAL)
            .args(args)
            .env("CORRAL_CONF", self.config_path())
            .env_remove("CORRAL_CONTROLLERS")
            .env_remove("CORRAL_TOKEN")
            .output()
            .expect("running corral")
    }

    /// A Slurm command (`sbatch`, `squeue`, ...) from the cluster's `bin/`,
    /// pointed at the cluster, run from its directory.
    pub fn slurm(&self, name: &str) -> Command {
        let mut command = Command::new(self.path().join("bin").join(name));
        command
            .env("CORRAL_CONF", self.config_path())
            .env_remove("CORRAL_CONTROLLERS")
            .env_remove("CORRAL_TOKEN")
            .current_dir(self.path());
        command
    }

    pub fn status(&self) -> Vec<StatusRow> {
        let output = self.corral(&["status"]);
        parse_status(&String::from_utf8_lossy(&output.stdout))
    }

    /// Waits for a leader and returns its status line: the leader of the
    /// highest term (a controller restarted after being killed as leader
    /// believes it leads its old term until it hears from the new leader).
    pub fn leader(&self) -> StatusRow {
        self.wait_for("a leader", || {
            self.status()
                .into_iter()
                .filter(|row| row.role == "leader")
                .max_by_key(|row| row.term)
        })
    }

    /// Runs `sbatch ARGS` in `dir`, returning the job id.
    pub fn submit_in(&self, dir: &Path, args: &[&str]) -> u32 {
        let output = self
            .slurm("sbatch")
            .current_dir(dir)
            .arg("--parsable")
            .args(args)
            .output()
            .expect("sbatch");
        assert_success(&output, "sbatch");
        let text = String::from_utf8_lossy(&output.stdout);
        text.trim()
            .parse()
            .unwrap_or_else(|_| panic!("sbatch --parsable printed {text:?}"))
    }

    /// Stops every controller and starts them again (`dev down`, `dev up`).
    pub fn restart_all(&self) {
        let dir = self.path().to_string_lossy().into_owned();
        assert_success(
            &self.corral(&["dev", "down", "--dir", &dir]),
            "corral dev down",
        );
        assert_success(
            &self.corral(&["dev", "up", "--dir", &dir]),
            "corral dev up (restart)",
        );
    }

    /// A controller's log so far.
    pub fn log(&self, id: u64) -> String {
        std::fs::read_to_string(self.path().join(format!("logs/controller-{id}.log")))
            .unwrap_or_default()
    }

    pub fn kill(&self, target: &str) {
        let output = self.corral(&[
            "dev",
            "kill",
            "--dir",
            &self.path().to_string_lossy(),
            target,
        ]);
        assert_success(&output, &format!("corral dev kill {target}"));
    }

    pub fn start(&self, target: &str) {
        let output = self.corral(&[
            "dev",
            "start",
            "--dir",
            &self.path().to_string_lossy(),
            target,
        ]);
        assert_success(&output, &format!("corral dev start {target}"));
    }

    /// Waits until every controller answers, one leads, and all have
    /// applied the same index; returns that index.
    pub fn wait_converged(&self) -> u64 {
        self.wait_for("every controller at the same applied index", || {
            let rows = self.status();
            let applied: Vec<Option<u64>> = rows.iter().map(|r| r.applied_index).collect();
            let all_up =
                rows.len() == self.controllers && rows.iter().all(|r| r.role != "unreachable");
            let one_leader = rows.iter().filter(|r| r.role == "leader").count() == 1;
            let same = applied.windows(2).all(|w| w[0] == w[1]);
            (all_up && one_leader && same).then(|| applied[0]).flatten()
        })
    }

    /// Polls `probe` until it returns a value, for at most [`WAIT_MAX`].
    pub fn wait_for<T>(&self, what: &str, probe: impl FnMut() -> Option<T>) -> T {
        self.wait_for_within(what, WAIT_MAX, probe)
    }

    /// Polls `probe` until it returns a value, for at most `bound`.
    pub fn wait_for_within<T>(
        &self,
        what: &str,
        bound: Duration,
        mut probe: impl FnMut() -> Option<T>,
    ) -> T {
        let deadline = Instant::now() + bound;
        loop {
            if let Some(value) = probe() {
                return value;
            }
            if Instant::now() > deadline {
                panic!(
                    "gave up waiting for {what} after {bound:?}; status:\n{:?}",
                    self.status()
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// `sbatch --parsable ARGS`, returning the job id; panics on failure.
    pub fn submit(&self, args: &[&str]) -> u32 {
        let output = self
            .slurm("sbatch")
            .arg("--parsable")
            .args(args)
            .output()
            .expect("sbatch");
        assert_success(&output, "sbatch");
        let text = String::from_utf8_lossy(&output.stdout);
        text.trim()
            .parse()
            .unwrap_or_else(|_| panic!("sbatch --parsable printed {text:?}"))
    }

    /// Every job's id and state, from `squeue -h -t all -o '%i %T'`.
    pub fn job_states(&self) -> BTreeMap<u32, String> {
        let output = self
            .slurm("squeue")
            .args(["-h", "-t", "all", "-o", "%i %T"])
            .output()
            .expect("squeue");
        assert_success(&output, "squeue");
        let mut jobs = BTreeMap::new();
        for line in String::from_utf8_lossy(&output.stdout).lines() {
            let (id, state) = line.split_once(' ').expect("id and state");
            let id: u32 = id.parse().expect("numeric job id");
            assert!(
                jobs.insert(id, state.to_string()).is_none(),
                "job {id} listed twice"
            );
        }
        jobs
    }

    /// The end of every log in `logs/`: the configured controllers, the
    /// agents, and controllers added at runtime.
    fn log_tails(&self) -> String {
        let mut paths: Vec<PathBuf> = std::fs::read_dir(self.path().join("logs"))
            .map(|entries| entries.flatten().map(|entry| entry.path()).collect())
            .unwrap_or_default();
        paths.sort();
        let mut text = String::new();
        for path in paths {
            let log = std::fs::read_to_string(&path).unwrap_or_default();
            let lines: Vec<&str> = log.lines().collect();
            text.push_str(&format!("--- {} ---\n", path.display()));
            text.push_str(&lines[lines.len().saturating_sub(25)..].join("\n"));
            text.push('\n');
        }
        text
    }
}

impl Drop for DevCluster {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("{}", self.log_tails());
        }
        let _ = self.corral(&["dev", "down", "--dir", &self.path().to_string_lossy()]);
    }
}

pub fn parse_status(text: &str) -> Vec<StatusRow> {
    let number = |s: &str| s.parse::<u64>().ok();
    text.lines()
        .skip(1)
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            (fields.len() == 6).then(|| StatusRow {
                id: number(fields[0]).unwrap_or(0),
                address: fields[1].to_string(),
                role: fields[2].to_string(),
                term: number(fields[3]),
                last_log_index: number(fields[4]),
                applied_index: number(fields[5]),
            })
        })
        .collect()
}

pub fn assert_success(output: &Output, what: &str) {
    assert!(
        output.status.success(),
        "{what} failed ({}):\nstdout: {}\nstderr: {}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}
