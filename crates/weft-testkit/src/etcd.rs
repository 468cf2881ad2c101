//! Real etcd for tests: Debian's `etcd` as one member on loopback, a
//! three-member cluster on loopback, or members inside given network
//! namespaces bound to given addresses (the lab's HA tests).
//!
//! - A member's data lives in a temporary directory (in /dev/shm when
//!   there is one: etcd preallocates 64 MiB of WAL per member, which the
//!   shared disk cannot spare, and tmpfs makes its fsyncs free).
//! - Members are spawned by one thread that lives as long as the test
//!   process, with a parent-death signal: when the process ends (a
//!   `static` member never dropped, a panic, a kill), its members die too.
//!   A member dropped is killed by PID and its directory removed; one
//!   never dropped is killed and removed when the process exits normally;
//!   a directory left by a process killed outright is removed by the next
//!   harness that starts.
//! - [`Member::kill`] is `kill -9`; [`Member::restart`] brings it back on
//!   the same data directory and ports.

use crate::process::{run, which};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, OnceLock, PoisonError, mpsc};
use std::time::{Duration, Instant};

/// How long a member may take to answer its health check.
const HEALTHY: Duration = Duration::from_secs(30);
/// Where data directories go, named by the owning process.
const DIR_PREFIX: &str = "weft-etcd-";

/// True when Debian's etcd and etcdctl are installed. Otherwise, under CI
/// (`CI=true`) panics; elsewhere records the skip and returns false.
pub fn available() -> bool {
    if which("etcd").is_some() && which("etcdctl").is_some() {
        return true;
    }
    if std::env::var("CI").is_ok_and(|ci| ci == "true") {
        panic!(
            "etcd not installed (CI must have it: scripts/deps installs etcd-server and etcd-client)"
        );
    }
    crate::skip("etcd not installed (scripts/deps installs etcd-server and etcd-client)");
    false
}

/// Where one member listens and runs.
#[derive(Debug, Clone)]
pub struct MemberSpec {
    pub name: String,
    pub ip: String,
    pub client_port: u16,
    pub peer_port: u16,
    /// A named network namespace to run in (`ip netns exec`), or none.
    pub netns: Option<String>,
}

impl MemberSpec {
    fn peer_url(&self) -> String {
        format!("http://{}:{}", self.ip, self.peer_port)
    }

    fn client_url(&self) -> String {
        format!("http://{}:{}", self.ip, self.client_port)
    }
}

/// One etcd process; killed and its data removed on drop.
#[derive(Debug)]
pub struct Member {
    spec: MemberSpec,
    initial_cluster: String,
    dir: tempfile::TempDir,
    child: Option<Child>,
}

impl Member {
    /// A single-member cluster on loopback with free ports; `None` (the
    /// skip recorded) when etcd is not installed.
    pub fn start() -> Option<Member> {
        if !available() {
            return None;
        }
        let spec = loopback_specs(&["single"]).remove(0);
        let initial = format!("{}={}", spec.name, spec.peer_url());
        let mut member = Member::spawn(spec, initial);
        member.wait_healthy();
        Some(member)
    }

    fn spawn(spec: MemberSpec, initial_cluster: String) -> Member {
        sweep_leftovers();
        let dir = tempfile::Builder::new()
            .prefix(&format!("{DIR_PREFIX}{}-", std::process::id()))
            .tempdir_in(scratch())
            .unwrap_or_else(|e| panic!("make a data directory for etcd: {e}"));
        let mut member = Member {
            spec,
            initial_cluster,
            dir,
            child: None,
        };
        member.launch();
        member
    }

    fn launch(&mut self) {
        let spec = &self.spec;
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path())
            .unwrap_or_else(|e| panic!("open etcd's log: {e}"));
        let data = self.dir.path().join("data");
        let mut command = match &spec.netns {
            Some(ns) => {
                let mut c = Command::new("ip");
                c.args(["netns", "exec", ns, "etcd"]);
                c
            }
            None => Command::new("etcd"),
        };
        command
            .arg(format!("--name={}", spec.name))
            .arg(format!("--data-dir={}", data.display()))
            .arg(format!("--listen-client-urls={}", spec.client_url()))
            .arg(format!("--advertise-client-urls={}", spec.client_url()))
            .arg(format!("--listen-peer-urls={}", spec.peer_url()))
            .arg(format!("--initial-advertise-peer-urls={}", spec.peer_url()))
            .arg(format!("--initial-cluster={}", self.initial_cluster))
            .arg("--initial-cluster-state=new")
            .arg(format!(
                "--initial-cluster-token=weft-test-{}",
                std::process::id()
            ))
            .arg("--logger=zap")
            .arg("--log-level=warn")
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("duplicate the log's descriptor"))
            .stderr(log);
        let child = spawn_kept(command);
        alive(self.dir.path(), Some(child.id()));
        self.child = Some(child);
    }

    pub fn spec(&self) -> &MemberSpec {
        &self.spec
    }

    /// `http://ip:port`, what clients connect to.
    pub fn client_url(&self) -> String {
        self.spec.client_url()
    }

    /// The process's id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// The member's directory (its data and log), removed on drop.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    pub fn log_path(&self) -> PathBuf {
        self.dir.path().join("etcd.log")
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    /// `kill -9` the member (its data stays for [`Member::restart`]).
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Start the member again on its data directory and ports; returns at
    /// once (see [`Member::wait_healthy`]).
    pub fn restart(&mut self) {
        self.kill();
        self.launch();
    }

    /// Whether the member answers `etcdctl endpoint health` now.
    pub fn is_healthy(&self) -> bool {
        let endpoint = format!("--endpoints={}", self.client_url());
        let args = [
            endpoint.as_str(),
            "--command-timeout=2s",
            "--dial-timeout=1s",
            "endpoint",
            "health",
        ];
        let out = match &self.spec.netns {
            Some(ns) => {
                let mut all = vec!["netns", "exec", ns.as_str(), "etcdctl"];
                all.extend(args);
                run("ip", &all)
            }
            None => run("etcdctl", &args),
        };
        out.status.success()
    }

    /// Wait until the member is healthy (it has joined a cluster that has
    /// a leader); panics with its log after 30 s or when it exits.
    #[track_caller]
    pub fn wait_healthy(&mut self) {
        let deadline = Instant::now() + HEALTHY;
        while !self.is_healthy() {
            if let Some(child) = self.child.as_mut()
                && let Ok(Some(status)) = child.try_wait()
            {
                panic!("etcd {} exited ({status}):\n{}", self.spec.name, self.log());
            }
            assert!(
                Instant::now() < deadline,
                "etcd {} not healthy after {HEALTHY:?}:\n{}",
                self.spec.name,
                self.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Member {
    fn drop(&mut self) {
        self.kill();
        alive(self.dir.path(), None);
    }
}

/// Members running now, by directory, for [`at_exit`].
static ALIVE: Mutex<Vec<(PathBuf, u32)>> = Mutex::new(Vec::new());

/// Record that the member in `dir` runs as `pid` (or no longer runs).
fn alive(dir: &Path, pid: Option<u32>) {
    static HOOK: std::sync::Once = std::sync::Once::new();
    // SAFETY: atexit takes a plain `extern "C" fn()`, which `at_exit`
    // is; it ignores every error rather than panic (a panic there would
    // abort the process at exit).
    HOOK.call_once(|| unsafe {
        libc::atexit(at_exit);
    });
    let mut alive = ALIVE.lock().unwrap_or_else(PoisonError::into_inner);
    alive.retain(|(d, _)| d != dir);
    if let Some(pid) = pid {
        alive.push((dir.to_path_buf(), pid));
    }
}

/// At the test process's exit, kill the members nobody dropped (a
/// `static` one shared by a test binary) and remove their directories.
extern "C" fn at_exit() {
    let alive = match ALIVE.lock() {
        Ok(mut alive) => std::mem::take(&mut *alive),
        Err(poisoned) => std::mem::take(&mut *poisoned.into_inner()),
    };
    for (dir, pid) in alive {
        let pid = nix::unistd::Pid::from_raw(pid as i32);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL);
        let _ = nix::sys::wait::waitpid(pid, None);
        let _ = std::fs::remove_dir_all(dir);
    }
}

/// Several members forming one cluster.
#[derive(Debug)]
pub struct Cluster {
    pub members: Vec<Member>,
}

impl Cluster {
    /// Three members on loopback with free ports; `None` (the skip
    /// recorded) when etcd is not installed.
    pub fn start() -> Option<Cluster> {
        if !available() {
            return None;
        }
        let specs = loopback_specs(&["m0", "m1", "m2"]);
        Some(Cluster::start_with(specs))
    }

    /// One member in each named network namespace, bound to the given
    /// address there (ports 2379 and 2380). The caller checks
    /// [`available`] first.
    pub fn start_in(namespaces: &[(&str, &str)]) -> Cluster {
        let specs = namespaces
            .iter()
            .enumerate()
            .map(|(i, (ns, ip))| MemberSpec {
                name: format!("m{i}"),
                ip: ip.to_string(),
                client_port: 2379,
                peer_port: 2380,
                netns: Some(ns.to_string()),
            })
            .collect();
        Cluster::start_with(specs)
    }

    /// The members of `specs`, started together, healthy on return.
    pub fn start_with(specs: Vec<MemberSpec>) -> Cluster {
        let initial = specs
            .iter()
            .map(|s| format!("{}={}", s.name, s.peer_url()))
            .collect::<Vec<_>>()
            .join(",");
        let mut members: Vec<Member> = specs
            .into_iter()
            .map(|spec| Member::spawn(spec, initial.clone()))
            .collect();
        for member in &mut members {
            member.wait_healthy();
        }
        Cluster { members }
    }

    /// Every member's client URL.
    pub fn endpoints(&self) -> Vec<String> {
        self.members.iter().map(Member::client_url).collect()
    }
}

/// Members on 127.0.0.1, each with two ports free now: all are bound at
/// once (so no two are the same) and released just before etcd binds them.
fn loopback_specs(names: &[&str]) -> Vec<MemberSpec> {
    let mut held = Vec::new();
    let mut port = || {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a free port");
        let port = listener.local_addr().expect("local address").port();
        held.push(listener);
        port
    };
    names
        .iter()
        .map(|name| MemberSpec {
            name: name.to_string(),
            ip: "127.0.0.1".into(),
            client_port: port(),
            peer_port: port(),
            netns: None,
        })
        .collect()
}

fn scratch() -> PathBuf {
    let shm = Path::new("/dev/shm");
    if shm.is_dir() && nix::unistd::access(shm, nix::unistd::AccessFlags::W_OK).is_ok() {
        shm.to_path_buf()
    } else {
        std::env::temp_dir()
    }
}

/// Remove data directories whose process is gone (a test binary that
/// ended holding a `static` member).
fn sweep_leftovers() {
    let Ok(entries) = std::fs::read_dir(scratch()) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(pid) = name
            .strip_prefix(DIR_PREFIX)
            .and_then(|rest| rest.split('-').next())
            .and_then(|pid| pid.parse::<u32>().ok())
        else {
            continue;
        };
        if !Path::new(&format!("/proc/{pid}")).exists() {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

type SpawnRequest = (Command, mpsc::Sender<std::io::Result<Child>>);

/// Spawn on the keeper thread, which never ends: a child's parent-death
/// signal fires when the thread that spawned it ends, so spawning from a
/// test's own thread would kill the member with that test.
fn spawn_kept(command: Command) -> Child {
    static KEEPER: OnceLock<Mutex<mpsc::Sender<SpawnRequest>>> = OnceLock::new();
    let keeper = KEEPER.get_or_init(|| {
        let (requests, incoming) = mpsc::channel::<SpawnRequest>();
        std::thread::Builder::new()
            .name("etcd-keeper".into())
            .spawn(move || {
                for (mut command, reply) in incoming {
                    // SAFETY: prctl is async-signal-safe and touches no
                    // memory of the parent; it runs between fork and exec.
                    unsafe {
                        std::os::unix::process::CommandExt::pre_exec(&mut command, || {
                            nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGKILL)
                                .map_err(std::io::Error::from)
                        });
                    }
                    let _ = reply.send(command.spawn());
                }
            })
            .expect("start the etcd keeper thread");
        Mutex::new(requests)
    });
    let (reply, answer) = mpsc::channel();
    keeper
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .send((command, reply))
        .expect("the etcd keeper thread is gone");
    answer
        .recv()
        .expect("the etcd keeper thread is gone")
        .unwrap_or_else(|e| panic!("start etcd: {e}"))
}
