//! Real MariaDB servers for the tests and the benchmark: a single server,
//! or a three-node Galera cluster, on loopback ports chosen free at run
//! time, with data directories in a temporary directory.
//!
//! Every `mariadbd` runs as the `mysql` user (when the tests run as root:
//! Galera's rsync state transfer, run as root, drops to `nobody` and
//! cannot write the data directory). Processes are stopped by `Drop`; for a
//! cluster kept in a `static` (shared by the tests of one binary), an
//! `atexit` handler kills what is left and removes the directories when the
//! test binary exits, and every server is started with a parent-death
//! signal, so that even a test binary that is killed leaves no server
//! behind.

use std::collections::HashSet;
use std::fs;
use std::io;
use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::sync::{Mutex, Once, OnceLock};
use std::time::{Duration, Instant};

/// The database and the account the tests use.
pub const DATABASE: &str = "corral_acct";
pub const USER: &str = "corral";
pub const PASSWORD: &str = "test-password-7f3a";

/// How long a server may take to come up (Galera joiners copy the data
/// directory first). Generous: the machine is shared.
const SERVER_READY_TIMEOUT_MS: u64 = 180_000;
const SERVER_STOP_TIMEOUT_MS: u64 = 60_000;
const POLL_INTERVAL_MS: u64 = 200;

const GALERA_PROVIDER: &str = "/usr/lib/galera/libgalera_smm.so";

fn program(name: &str) -> PathBuf {
    for dir in ["/usr/sbin", "/usr/bin", "/sbin", "/bin"] {
        let path = Path::new(dir).join(name);
        if path.exists() {
            return path;
        }
    }
    panic!(
        "`{name}` is not installed: these tests run real MariaDB servers. \
         Install them with `apt-get install mariadb-server galera-4 rsync` \
         (.ci/run does)."
    );
}

// ---------------------------------------------------------------------------
// Processes: spawned from one long-lived thread with a parent-death signal,
// recorded for the exit handler.

static LIVE_PIDS: Mutex<Vec<u32>> = Mutex::new(Vec::new());
static LIVE_DIRS: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());
static EXIT_HANDLER: Once = Once::new();

extern "C" fn kill_leftovers() {
    let pids = std::mem::take(&mut *LIVE_PIDS.lock().unwrap_or_else(|e| e.into_inner()));
    for pid in pids {
        // SAFETY: plain syscalls on a process this binary started.
        unsafe {
            libc::kill(pid as libc::pid_t, libc::SIGKILL);
            libc::waitpid(pid as libc::pid_t, std::ptr::null_mut(), 0);
        }
    }
    let dirs = std::mem::take(&mut *LIVE_DIRS.lock().unwrap_or_else(|e| e.into_inner()));
    for dir in dirs {
        let _ = fs::remove_dir_all(dir);
    }
}

fn register_exit_handler() {
    EXIT_HANDLER.call_once(|| {
        // SAFETY: registers a function that only makes syscalls and
        // removes directories.
        unsafe { libc::atexit(kill_leftovers) };
    });
}

type SpawnRequest = (Command, mpsc::Sender<io::Result<Child>>);

/// Starts `command` from a thread that lives as long as the test binary:
/// the parent-death signal fires when the spawning *thread* ends, and a
/// test's own thread ends with the test.
fn spawn(mut command: Command) -> io::Result<Child> {
    static SPAWNER: OnceLock<Mutex<mpsc::Sender<SpawnRequest>>> = OnceLock::new();
    register_exit_handler();
    // SAFETY: prctl is async-signal-safe; nothing else runs between fork
    // and exec here.
    unsafe {
        command.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                return Err(io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let spawner = SPAWNER.get_or_init(|| {
        let (sender, receiver) = mpsc::channel::<SpawnRequest>();
        std::thread::Builder::new()
            .name("mariadb-spawner".into())
            .spawn(move || {
                for (mut command, reply) in receiver {
                    let _ = reply.send(command.spawn());
                }
            })
            .expect("spawner thread");
        Mutex::new(sender)
    });
    let (reply, answer) = mpsc::channel();
    spawner
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .send((command, reply))
        .expect("spawner thread alive");
    let child = answer.recv().expect("spawner thread answers")?;
    LIVE_PIDS
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push(child.id());
    Ok(child)
}

fn forget_pid(pid: u32) {
    LIVE_PIDS
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .retain(|p| *p != pid);
}

/// The user and group the servers run as: `mysql` when we are root.
fn server_identity() -> Option<(u32, u32)> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return None;
    }
    let name = std::ffi::CString::new("mysql").unwrap();
    // SAFETY: getpwnam with a valid C string; the result is read at once.
    let entry = unsafe { libc::getpwnam(name.as_ptr()) };
    assert!(
        !entry.is_null(),
        "there is no `mysql` user: install mariadb-server (it creates the user)"
    );
    // SAFETY: non-null pointer from getpwnam.
    let entry = unsafe { &*entry };
    Some((entry.pw_uid, entry.pw_gid))
}

fn as_server_user(command: &mut Command) {
    if let Some((uid, gid)) = server_identity() {
        command.uid(uid).gid(gid);
    }
}

fn chown_to_server_user(path: &Path) {
    if let Some((uid, gid)) = server_identity() {
        std::os::unix::fs::chown(path, Some(uid), Some(gid)).expect("chown data directory");
    }
}

/// A loopback port nothing listens on, not handed out before in this run.
pub fn free_port() -> u16 {
    static GIVEN: Mutex<Option<HashSet<u16>>> = Mutex::new(None);
    let mut given = GIVEN.lock().unwrap_or_else(|e| e.into_inner());
    let given = given.get_or_insert_with(HashSet::new);
    loop {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("bind a loopback port")
            .port();
        if given.insert(port) {
            return port;
        }
    }
}

fn temp_base(prefix: &str) -> tempfile::TempDir {
    let dir = tempfile::Builder::new()
        .prefix(prefix)
        .tempdir()
        .expect("temporary directory");
    // The server user must reach the data directories inside.
    fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).expect("chmod");
    LIVE_DIRS
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push(dir.path().to_path_buf());
    dir
}

fn forget_dir(path: &Path) {
    LIVE_DIRS
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .retain(|d| d != path);
}

fn run(mut command: Command, what: &str) -> Output {
    let output = command
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(
        output.status.success(),
        "{what} failed ({}):\n{}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

fn tail(path: &Path, lines: usize) -> String {
    let text = fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

// ---------------------------------------------------------------------------
// One server process.

#[derive(Clone, Copy, Debug)]
struct GaleraPorts {
    gmcast: u16,
    ist: u16,
    sst: u16,
}

/// One `mariadbd`: its directory, ports and process.
pub struct Node {
    name: String,
    datadir: PathBuf,
    pub sql_port: u16,
    galera: Option<GaleraPorts>,
    child: Option<Child>,
}

impl Node {
    fn new(base: &Path, name: &str, galera: bool) -> Node {
        let datadir = base.join(name);
        fs::create_dir(&datadir).expect("data directory");
        chown_to_server_user(&datadir);
        Node {
            name: name.to_string(),
            datadir,
            sql_port: free_port(),
            galera: galera.then(|| GaleraPorts {
                gmcast: free_port(),
                ist: free_port(),
                sst: free_port(),
            }),
            child: None,
        }
    }

    fn socket(&self) -> PathBuf {
        self.datadir.join("mysqld.sock")
    }

    fn pid_file(&self) -> PathBuf {
        self.datadir.join("mysqld.pid")
    }

    fn error_log(&self) -> PathBuf {
        self.datadir.join("error.log")
    }

    pub fn url(&self) -> String {
        format!(
            "mysql://{USER}:{PASSWORD}@127.0.0.1:{}/{DATABASE}",
            self.sql_port
        )
    }

    pub fn is_running(&mut self) -> bool {
        match &mut self.child {
            Some(child) => matches!(child.try_wait(), Ok(None)),
            None => false,
        }
    }

    fn install(&self) {
        let mut command = Command::new(program("mariadb-install-db"));
        command.args([
            "--no-defaults",
            &format!("--datadir={}", self.datadir.display()),
            "--auth-root-authentication-method=socket",
            "--skip-test-db",
            "--innodb-log-file-size=16M",
        ]);
        as_server_user(&mut command);
        run(command, "mariadb-install-db");
    }

    /// The options every start shares (also `--wsrep-recover`).
    fn server_args(&self, cluster_address: &str) -> Vec<String> {
        let mut args = vec![
            "--no-defaults".to_string(),
            format!("--datadir={}", self.datadir.display()),
            format!("--socket={}", self.socket().display()),
            format!("--pid-file={}", self.pid_file().display()),
            format!("--port={}", self.sql_port),
            "--bind-address=127.0.0.1".to_string(),
            "--skip-name-resolve".to_string(),
            format!("--log-error={}", self.error_log().display()),
            "--innodb-log-file-size=16M".to_string(),
            "--innodb-buffer-pool-size=64M".to_string(),
            "--performance-schema=OFF".to_string(),
        ];
        if let Some(ports) = self.galera {
            args.extend([
                "--binlog-format=ROW".to_string(),
                "--innodb-autoinc-lock-mode=2".to_string(),
                "--wsrep-on=ON".to_string(),
                format!("--wsrep-provider={GALERA_PROVIDER}"),
                "--wsrep-cluster-name=corral_test".to_string(),
                format!("--wsrep-cluster-address={cluster_address}"),
                "--wsrep-node-address=127.0.0.1".to_string(),
                format!("--wsrep-node-name={}", self.name),
                "--wsrep-sst-method=rsync".to_string(),
                format!("--wsrep-sst-receive-address=127.0.0.1:{}", ports.sst),
                format!(
                    "--wsrep-provider-options=gmcast.listen_addr=tcp://127.0.0.1:{};ist.recv_addr=127.0.0.1:{};gcache.size=64M",
                    ports.gmcast, ports.ist
                ),
            ]);
        }
        args
    }

    fn start(&mut self, cluster_address: &str, extra: &[String]) {
        assert!(self.child.is_none(), "{} already started", self.name);
        // A killed server leaves its pid file, which stops the next start.
        let _ = fs::remove_file(self.pid_file());
        let mut command = Command::new(program("mariadbd"));
        command
            .args(self.server_args(cluster_address))
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        as_server_user(&mut command);
        self.child = Some(spawn(command).expect("start mariadbd"));
    }

    /// `mariadbd --wsrep-recover`: the position this node's data ends at,
    /// so that it rejoins by incremental state transfer.
    fn recovered_position(&self, cluster_address: &str) -> Option<String> {
        let _ = fs::remove_file(self.pid_file());
        let log = self.datadir.join("recover.log");
        let _ = fs::remove_file(&log);
        let mut command = Command::new(program("mariadbd"));
        command
            .args(self.server_args(cluster_address))
            .arg("--wsrep-recover")
            .arg(format!("--log-error={}", log.display()));
        as_server_user(&mut command);
        run(command, "mariadbd --wsrep-recover");
        let text = fs::read_to_string(&log).unwrap_or_default();
        text.lines()
            .rev()
            .find_map(|line| line.split("Recovered position: ").nth(1))
            .map(|position| position.trim().to_string())
            .filter(|position| !position.ends_with(":-1"))
    }

    /// Runs SQL as the server's root over its socket; `None` if the server
    /// does not answer.
    pub fn sql(&self, query: &str) -> Option<String> {
        let output = Command::new(program("mariadb"))
            .args([
                "--no-defaults",
                &format!("--socket={}", self.socket().display()),
                "-uroot",
                "-N",
                "-B",
                "-e",
                query,
            ])
            .stdin(Stdio::null())
            .output()
            .ok()?;
        output
            .status
            .success()
            .then(|| String::from_utf8_lossy(&output.stdout).trim().to_string())
    }

    fn status(&self, variable: &str) -> Option<String> {
        let line = self.sql(&format!("SHOW STATUS LIKE '{variable}'"))?;
        line.split('\t').nth(1).map(str::to_string)
    }

    fn wait_until(&mut self, what: &str, mut ready: impl FnMut(&Node) -> bool) {
        let deadline = Instant::now() + Duration::from_millis(SERVER_READY_TIMEOUT_MS);
        loop {
            if ready(self) {
                return;
            }
            if !self.is_running() {
                panic!(
                    "{} exited before it was {what}; its log ends:\n{}",
                    self.name,
                    tail(&self.error_log(), 30)
                );
            }
            if Instant::now() > deadline {
                panic!(
                    "{} not {what} after {SERVER_READY_TIMEOUT_MS} ms; its log ends:\n{}",
                    self.name,
                    tail(&self.error_log(), 30)
                );
            }
            std::thread::sleep(Duration::from_millis(POLL_INTERVAL_MS));
        }
    }

    fn wait_answering(&mut self) {
        self.wait_until("answering", |node| node.sql("SELECT 1").is_some());
    }

    fn wait_synced(&mut self) {
        self.wait_until("synced", |node| {
            node.status("wsrep_local_state_comment").as_deref() == Some("Synced")
                && node.status("wsrep_ready").as_deref() == Some("ON")
        });
    }

    fn create_database_and_user(&self) {
        let setup = format!(
            "CREATE DATABASE IF NOT EXISTS {DATABASE}; \
             CREATE USER IF NOT EXISTS '{USER}'@'127.0.0.1' IDENTIFIED BY '{PASSWORD}'; \
             GRANT ALL ON {DATABASE}.* TO '{USER}'@'127.0.0.1';"
        );
        assert!(
            self.sql(&setup).is_some(),
            "creating the test database on {}",
            self.name
        );
    }

    /// SIGKILL, and wait for the process to be gone.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
            forget_pid(child.id());
        }
    }

    /// SIGTERM (a clean shutdown), and wait for the process to be gone.
    pub fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        // SAFETY: signalling our own child.
        unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_millis(SERVER_STOP_TIMEOUT_MS);
        loop {
            match child.try_wait() {
                Ok(Some(_)) | Err(_) => break,
                Ok(None) if Instant::now() > deadline => {
                    let _ = child.kill();
                    let _ = child.wait();
                    break;
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(POLL_INTERVAL_MS)),
            }
        }
        forget_pid(child.id());
    }

    fn grastate(&self) -> (bool, i64) {
        let text = fs::read_to_string(self.datadir.join("grastate.dat")).unwrap_or_default();
        let field = |name: &str| {
            text.lines()
                .find_map(|line| line.strip_prefix(name))
                .map(|rest| rest.trim().to_string())
        };
        let safe = field("safe_to_bootstrap:").as_deref() == Some("1");
        let seqno = field("seqno:").and_then(|s| s.parse().ok()).unwrap_or(-1);
        (safe, seqno)
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.kill();
    }
}

// ---------------------------------------------------------------------------

/// A single MariaDB server (no Galera).
pub struct Server {
    node: Node,
    dir: tempfile::TempDir,
}

impl Server {
    pub fn start() -> Server {
        let dir = temp_base("corral-mariadb-");
        let mut node = Node::new(dir.path(), "single", false);
        node.install();
        node.start("", &[]);
        node.wait_answering();
        node.create_database_and_user();
        Server { node, dir }
    }

    pub fn url(&self) -> String {
        self.node.url()
    }

    pub fn node(&self) -> &Node {
        &self.node
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.node.kill();
        forget_dir(self.dir.path());
    }
}

/// A three-node Galera cluster.
pub struct Galera {
    nodes: Vec<Node>,
    dir: tempfile::TempDir,
}

impl Galera {
    pub const SIZE: usize = 3;

    /// Bootstraps the first node, creates the test database and user on
    /// it, then starts the others (they copy it by rsync).
    pub fn start() -> Galera {
        let dir = temp_base("corral-galera-");
        let nodes: Vec<Node> = (1..=Self::SIZE)
            .map(|i| Node::new(dir.path(), &format!("galera{i}"), true))
            .collect();
        let mut galera = Galera { nodes, dir };
        galera.nodes[0].install();
        let address = galera.cluster_address();
        galera.nodes[0].start(&address, &["--wsrep-new-cluster".to_string()]);
        galera.nodes[0].wait_synced();
        galera.nodes[0].create_database_and_user();
        for node in &mut galera.nodes[1..] {
            node.start(&address, &[]);
        }
        for node in &mut galera.nodes[1..] {
            node.wait_synced();
        }
        galera.wait_cluster_size(Self::SIZE);
        galera
    }

    fn cluster_address(&self) -> String {
        let members: Vec<String> = self
            .nodes
            .iter()
            .map(|n| format!("127.0.0.1:{}", n.galera.expect("galera node").gmcast))
            .collect();
        format!("gcomm://{}", members.join(","))
    }

    pub fn urls(&self) -> Vec<String> {
        self.nodes.iter().map(Node::url).collect()
    }

    pub fn node(&self, index: usize) -> &Node {
        &self.nodes[index]
    }

    /// Which node a URL (as given, or redacted) points at.
    pub fn index_of(&self, url: &str) -> Option<usize> {
        self.nodes
            .iter()
            .position(|n| url.contains(&format!("127.0.0.1:{}/", n.sql_port)))
    }

    fn wait_cluster_size(&mut self, size: usize) {
        let deadline = Instant::now() + Duration::from_millis(SERVER_READY_TIMEOUT_MS);
        let wanted = size.to_string();
        loop {
            let sizes: Vec<Option<String>> = self
                .nodes
                .iter()
                .map(|n| n.status("wsrep_cluster_size"))
                .collect();
            if sizes.iter().all(|s| s.as_deref() == Some(&wanted)) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "Galera cluster size not {size} after {SERVER_READY_TIMEOUT_MS} ms: {sizes:?}"
            );
            std::thread::sleep(Duration::from_millis(POLL_INTERVAL_MS));
        }
    }

    /// SIGKILLs one node.
    pub fn kill(&mut self, index: usize) {
        self.nodes[index].kill();
    }

    /// Restarts a node that was killed or stopped: recovers its position
    /// and rejoins (by IST when the others still hold the writes it missed).
    pub fn restart(&mut self, index: usize) {
        let address = self.cluster_address();
        let node = &mut self.nodes[index];
        node.kill();
        let extra: Vec<String> = node
            .recovered_position(&address)
            .map(|position| format!("--wsrep-start-position={position}"))
            .into_iter()
            .collect();
        node.start(&address, &extra);
        node.wait_synced();
        self.wait_cluster_size(Self::SIZE);
    }

    /// Stops every node cleanly, the last one first (so the first node is
    /// the last to leave and may bootstrap the cluster again).
    pub fn stop_all(&mut self) {
        for node in self.nodes.iter_mut().rev() {
            node.stop();
        }
    }

    /// Starts a stopped cluster again: bootstraps from the node that may
    /// (`safe_to_bootstrap: 1`, else the highest seqno), then the others.
    pub fn start_all(&mut self) {
        let address = self.cluster_address();
        let first = (0..self.nodes.len())
            .max_by_key(|&i| {
                let (safe, seqno) = self.nodes[i].grastate();
                (safe, seqno)
            })
            .expect("nodes");
        let grastate = self.nodes[first].datadir.join("grastate.dat");
        if let Ok(text) = fs::read_to_string(&grastate) {
            // After a crash no node is marked safe: mark the chosen one.
            let _ = fs::write(
                &grastate,
                text.replace("safe_to_bootstrap: 0", "safe_to_bootstrap: 1"),
            );
        }
        let position = self.nodes[first].recovered_position(&address);
        let mut extra = vec!["--wsrep-new-cluster".to_string()];
        extra.extend(position.map(|p| format!("--wsrep-start-position={p}")));
        self.nodes[first].start(&address, &extra);
        self.nodes[first].wait_synced();
        for index in (0..self.nodes.len()).filter(|&i| i != first) {
            let position = self.nodes[index].recovered_position(&address);
            let extra: Vec<String> = position
                .map(|p| format!("--wsrep-start-position={p}"))
                .into_iter()
                .collect();
            self.nodes[index].start(&address, &extra);
        }
        for node in &mut self.nodes {
            node.wait_synced();
        }
        self.wait_cluster_size(Self::SIZE);
    }

    /// Restarts whatever a previous test left down.
    pub fn ensure_all_up(&mut self) {
        let down: Vec<usize> = (0..self.nodes.len())
            .filter(|&i| !self.nodes[i].is_running())
            .collect();
        if down.len() == self.nodes.len() {
            self.start_all();
        } else {
            for index in down {
                self.restart(index);
            }
        }
    }
}

impl Drop for Galera {
    fn drop(&mut self) {
        for node in &mut self.nodes {
            node.kill();
        }
        forget_dir(self.dir.path());
    }
}

/// The Galera cluster shared by the tests of one binary, started on first
/// use; tests take turns (the guard), and each starts with all nodes up.
pub fn shared_galera() -> std::sync::MutexGuard<'static, Galera> {
    static SHARED: OnceLock<Mutex<Galera>> = OnceLock::new();
    let mut galera = SHARED
        .get_or_init(|| Mutex::new(Galera::start()))
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    galera.ensure_all_up();
    galera
}

/// The single server shared by the tests of one binary.
pub fn shared_server() -> &'static Server {
    static SHARED: OnceLock<Server> = OnceLock::new();
    SHARED.get_or_init(Server::start)
}
