//! A lab for privileged end-to-end tests: network namespaces standing in for
//! hosts and containers, real `weft agent` processes inside them, and the
//! real `weft` CLI. Everything a lab makes it removes on drop, even when the
//! test fails, and `assert_clean` proves it.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

pub const WEFT: &str = env!("CARGO_BIN_EXE_weft");

/// Root is needed for namespaces; without it a test says so and passes.
pub fn require_root(test: &str) -> bool {
    if nix_is_root() {
        return true;
    }
    eprintln!("skipped: {test} needs root (network namespaces)");
    false
}

fn nix_is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(2).map(|e| e == "0"))
        })
        .unwrap_or(false)
}

/// Is this tool on PATH (or in ~/.cargo/bin)?
pub fn which(tool: &str) -> Option<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect())
        .unwrap_or_default();
    if let Some(home) = std::env::var_os("HOME") {
        dirs.push(Path::new(&home).join(".cargo/bin"));
    }
    dirs.into_iter().map(|d| d.join(tool)).find(|p| p.is_file())
}

/// A shell command line that runs all of `cmd` inside namespace `ns`.
pub fn in_netns(ns: &str, cmd: &str) -> String {
    format!("ip netns exec {ns} sh -c '{}'", cmd.replace('\'', r"'\''"))
}

/// Run a command, returning its output; panics with stderr if it fails.
pub fn sh(cmd: &str) -> String {
    let out = run_sh(cmd);
    assert!(
        out.status.success(),
        "`{cmd}` failed ({}): {}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn run_sh(cmd: &str) -> Output {
    Command::new("sh")
        .arg("-c")
        .arg(cmd)
        .stdin(Stdio::null())
        .output()
        .expect("spawn sh")
}

/// Poll `check` until it returns true or `timeout` passes.
pub fn wait_for(what: &str, timeout: Duration, mut check: impl FnMut() -> bool) {
    let start = Instant::now();
    while !check() {
        assert!(
            start.elapsed() < timeout,
            "timed out after {timeout:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

static LABS: AtomicU32 = AtomicU32::new(0);

pub struct Agent {
    pub host: String,
    pub child: Child,
    pub socket: PathBuf,
    pub state_dir: PathBuf,
    pub log: PathBuf,
}

impl Agent {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

/// A set of namespaces and agents, named with a prefix unique to this test
/// process and lab, so tests can run in parallel.
pub struct Lab {
    pub prefix: String,
    pub dir: tempfile::TempDir,
    namespaces: Vec<String>,
    pub agents: BTreeMap<String, Agent>,
    spawned: Vec<Child>,
}

impl Lab {
    pub fn new() -> Lab {
        let n = LABS.fetch_add(1, Ordering::SeqCst);
        let prefix = format!("wt{}x{n}-", std::process::id());
        let dir = tempfile::Builder::new()
            .prefix(&format!("weft-test-{prefix}"))
            .tempdir()
            .expect("temp dir");
        std::fs::create_dir_all("/run/wireguard").expect("mkdir /run/wireguard");
        Lab {
            prefix,
            dir,
            namespaces: vec![],
            agents: BTreeMap::new(),
            spawned: vec![],
        }
    }

    /// The full name of one of this lab's namespaces.
    pub fn ns(&self, name: &str) -> String {
        format!("{}{name}", self.prefix)
    }

    pub fn netns_path(&self, name: &str) -> String {
        format!("/run/netns/{}", self.ns(name))
    }

    pub fn add_netns(&mut self, name: &str) -> String {
        let full = self.ns(name);
        sh(&format!("ip netns add {full}"));
        self.namespaces.push(full.clone());
        sh(&format!("ip -n {full} link set lo up"));
        full
    }

    /// Run shell command `cmd` in namespace `ns`: all of it, pipes and
    /// `&&` included.
    pub fn exec(&self, ns: &str, cmd: &str) -> Output {
        run_sh(&in_netns(&self.ns(ns), cmd))
    }

    pub fn exec_ok(&self, ns: &str, cmd: &str) -> String {
        sh(&in_netns(&self.ns(ns), cmd))
    }

    /// Two host namespaces joined by a veth underlay: `a` gets 192.0.2.1/24
    /// on `u0`, `b` 192.0.2.2/24 on `u0`.
    pub fn underlay(&mut self, a: &str, b: &str) {
        let (na, nb) = (self.ns(a), self.ns(b));
        sh(&format!(
            "ip link add name u0 netns {na} type veth peer name u0 netns {nb} && \
             ip -n {na} addr add 192.0.2.1/24 dev u0 && ip -n {na} link set u0 up && \
             ip -n {nb} addr add 192.0.2.2/24 dev u0 && ip -n {nb} link set u0 up"
        ));
    }

    /// Start `weft agent` inside host namespace `host`, in a mount namespace
    /// of its own with a private /run/wireguard (so `wg` finds only this
    /// agent's interfaces there), with socket and state under the lab's dir.
    pub fn start_agent(&mut self, host: &str) -> &Agent {
        self.start_agent_with(host, &[])
    }

    pub fn start_agent_with(&mut self, host: &str, extra: &[&str]) -> &Agent {
        let base = self.dir.path().join(host);
        std::fs::create_dir_all(&base).unwrap();
        let socket = base.join("agent.sock");
        let state_dir = base.join("state");
        let log = base.join("agent.log");
        let logfile = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .unwrap();
        let script = format!(
            "mount -t tmpfs weft-uapi /run/wireguard && exec {WEFT} agent --socket {} --state-dir {} --log info,weft=debug,weft_agent=debug,weft_net=debug,weft_wg=debug {}",
            socket.display(),
            state_dir.display(),
            extra.join(" ")
        );
        let child = Command::new("ip")
            .args([
                "netns",
                "exec",
                &self.ns(host),
                "unshare",
                "-m",
                "--propagation",
                "slave",
                "sh",
                "-c",
                &script,
            ])
            .stdin(Stdio::null())
            .stdout(logfile.try_clone().unwrap())
            .stderr(logfile)
            .spawn()
            .expect("spawn weft agent");
        let agent = Agent {
            host: host.to_string(),
            child,
            socket: socket.clone(),
            state_dir,
            log: log.clone(),
        };
        self.agents.insert(host.to_string(), agent);
        let agent = self.agents.get_mut(host).unwrap();
        let start = Instant::now();
        loop {
            if std::os::unix::net::UnixStream::connect(&socket).is_ok() {
                break;
            }
            if let Ok(Some(status)) = agent.child.try_wait() {
                panic!(
                    "agent on {host} exited ({status}): {}",
                    std::fs::read_to_string(&log).unwrap_or_default()
                );
            }
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "agent on {host} not ready: {}",
                std::fs::read_to_string(&log).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        &self.agents[host]
    }

    /// `kill -9` the agent on `host` and reap it.
    pub fn kill_agent(&mut self, host: &str) {
        let mut agent = self.agents.remove(host).expect("agent exists");
        let _ = agent.child.kill();
        let _ = agent.child.wait();
    }

    /// Stop the agent on `host` with SIGTERM and wait for it.
    pub fn stop_agent(&mut self, host: &str) -> std::process::ExitStatus {
        let mut agent = self.agents.remove(host).expect("agent exists");
        sh(&format!("kill -TERM {}", agent.pid()));
        agent.child.wait().expect("wait for agent")
    }

    /// Run the `weft` CLI against the agent on `host`.
    pub fn weft(&self, host: &str, args: &[&str]) -> Output {
        let socket = self
            .agents
            .get(host)
            .map(|a| a.socket.clone())
            .unwrap_or_else(|| self.dir.path().join(host).join("agent.sock"));
        Command::new(WEFT)
            .args(args)
            .env("WEFT_SOCKET", socket)
            .stdin(Stdio::null())
            .output()
            .expect("spawn weft")
    }

    /// Like `weft` but the command must succeed; returns stdout.
    pub fn weft_ok(&self, host: &str, args: &[&str]) -> String {
        let out = self.weft(host, args);
        assert!(
            out.status.success(),
            "weft {args:?} on {host} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    pub fn weft_json(&self, host: &str, args: &[&str]) -> serde_json::Value {
        let mut all = args.to_vec();
        all.extend(["--output", "json"]);
        let text = self.weft_ok(host, &all);
        serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("weft {args:?}: bad JSON ({e}): {text}"))
    }

    /// Create network `name` on host `hN` (N = 1, 2, …) with subnet
    /// 10.<octet>.0.0/16 and block 10.<octet>.N.0/24; returns its JSON.
    pub fn network_on(&self, host: &str, name: &str, octet: u8) -> serde_json::Value {
        let n = host.trim_start_matches('h');
        self.weft_json(
            host,
            &[
                "network",
                "create",
                name,
                "--subnet",
                &format!("10.{octet}.0.0/16"),
                "--block",
                &format!("10.{octet}.{n}.0/24"),
            ],
        )
    }

    /// The public key of `host`'s network `name`.
    pub fn public_key(&self, host: &str, name: &str) -> String {
        let nets = self.weft_json(host, &["network", "ls"]);
        let net = nets
            .as_array()
            .unwrap()
            .iter()
            .find(|n| n["name"] == name)
            .unwrap_or_else(|| panic!("no {name} on {host}"));
        net["public_key"].as_str().unwrap().to_string()
    }

    /// Make host `to` (hN, underlay 192.0.2.N) a peer of `from` on network
    /// `name` (as made by [`Lab::network_on`]), listening on `port`.
    pub fn peer(&self, from: &str, to: &str, name: &str, octet: u8, port: u16) {
        let n = to.trim_start_matches('h');
        let key = self.public_key(to, name);
        self.weft_ok(
            from,
            &[
                "peer",
                "add",
                name,
                "--public-key",
                &key,
                "--endpoint",
                &format!("192.0.2.{n}:{port}"),
                "--allowed-ips",
                &format!("10.{octet}.{n}.0/24"),
            ],
        );
    }

    /// Run a command in the agent's network and mount namespaces (where its
    /// /run/wireguard is), e.g. `wg show`.
    pub fn in_agent(&self, host: &str, cmd: &str) -> Output {
        let pid = self.agents[host].pid();
        run_sh(&format!("nsenter -t {pid} -m -n {cmd}"))
    }

    /// Start a test fixture (tests/fixtures/NAME) with python3 inside
    /// namespace `ns`; returns once it prints "ready". Killed on drop.
    pub fn fixture(&mut self, ns: &str, name: &str, args: &[&str]) {
        use std::io::BufRead as _;
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/");
        let mut child = Command::new("ip")
            .args([
                "netns",
                "exec",
                &self.ns(ns),
                "python3",
                "-u",
                &format!("{script}{name}"),
            ])
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()
            .expect("spawn python3");
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert_eq!(line.trim(), "ready", "fixture {name} did not start");
        self.spawned.push(child);
    }

    /// Keep a spawned helper process to be killed on drop.
    pub fn keep(&mut self, child: Child) {
        self.spawned.push(child);
    }

    pub fn agent_log(&self, host: &str) -> String {
        std::fs::read_to_string(self.dir.path().join(host).join("agent.log")).unwrap_or_default()
    }

    /// Tear down now (drop does the same) and prove nothing is left.
    pub fn finish(mut self) {
        self.teardown();
        assert_clean(&self.prefix);
    }

    fn teardown(&mut self) {
        for child in &mut self.spawned {
            let _ = child.kill();
            let _ = child.wait();
        }
        self.spawned.clear();
        let hosts: Vec<String> = self.agents.keys().cloned().collect();
        for host in hosts {
            let mut agent = self.agents.remove(&host).unwrap();
            if std::thread::panicking() {
                eprintln!(
                    "--- agent log of {host} ---\n{}",
                    std::fs::read_to_string(&agent.log).unwrap_or_default()
                );
            }
            let _ = run_sh(&format!("kill -TERM {}", agent.pid()));
            let deadline = Instant::now() + Duration::from_secs(5);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = agent.child.try_wait() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = agent.child.kill();
            let _ = agent.child.wait();
        }
        // Containers first, then hosts: deleting a namespace destroys its links.
        for ns in self.namespaces.drain(..).rev() {
            let _ = run_sh(&format!(
                "ip netns pids {ns} | xargs -r kill -9; ip netns del {ns}"
            ));
        }
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        self.teardown();
    }
}

/// Nothing with this prefix remains: no namespace, no process, no link in
/// the host namespace, no socket file.
pub fn assert_clean(prefix: &str) {
    let namespaces = sh("ip netns list");
    assert!(
        !namespaces.lines().any(|l| l.starts_with(prefix)),
        "namespaces left: {namespaces}"
    );
    // The bracket keeps pgrep's own shell from matching the pattern.
    let (first, rest) = prefix.split_at(1);
    let procs = run_sh(&format!("pgrep -af 'weft-test-[{first}]{rest}'"));
    let procs = String::from_utf8_lossy(&procs.stdout);
    assert!(procs.trim().is_empty(), "processes left: {procs}");
    let links = sh("ip -j link show");
    assert!(
        !links.contains("\"weft:"),
        "weft links left in the host namespace: {links}"
    );
}
pub mod capture;
pub mod cni;
