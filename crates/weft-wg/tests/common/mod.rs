//! Helpers for the privileged tests: network namespaces that are deleted
//! even when a test panics, processes that are killed likewise, and running
//! `wg` (or a peer daemon) with a per-test directory mounted where `wg`
//! looks for UAPI sockets.
//!
//! Nothing here touches the host's links, routes or firewall: links are
//! created inside the test's namespaces, and mounts happen in throwaway
//! mount namespaces.

#![allow(dead_code)] // each test binary uses a different part

pub mod traffic;

use std::fs::File;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// Root is needed for namespaces, TUN devices and mounts. The tools are
/// required where root is (CI): a missing one fails loudly.
pub fn privileged() -> bool {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("skipped: needs root (network namespaces, TUN, mounts)");
        return false;
    }
    for tool in ["ip", "wg", "ping", "ss", "unshare", "mount"] {
        assert!(
            find_binary(tool).is_some(),
            "{tool} is required (iproute2, wireguard-tools, iputils-ping, util-linux)"
        );
    }
    true
}

pub fn run(program: &str, args: &[&str]) -> Output {
    Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("run {program}: {e}"))
}

/// Run and insist on success; returns stdout.
#[track_caller]
pub fn ok(program: &str, args: &[&str]) -> String {
    let out = run(program, args);
    assert!(
        out.status.success(),
        "{program} {args:?} failed ({}):\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

static NEXT: AtomicU32 = AtomicU32::new(0);

/// A network namespace, deleted on drop.
pub struct Netns {
    pub name: String,
}

impl Netns {
    pub fn new() -> Self {
        let name = format!(
            "weftwg-test-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::SeqCst)
        );
        ok("ip", &["netns", "add", &name]);
        let ns = Netns { name };
        ns.ip(&["link", "set", "lo", "up"]);
        ns
    }

    /// `ip -n <ns> …`
    #[track_caller]
    pub fn ip(&self, args: &[&str]) -> String {
        let mut all = vec!["-n", &self.name];
        all.extend_from_slice(args);
        ok("ip", &all)
    }

    /// `ip netns exec <ns> …`
    pub fn exec(&self, args: &[&str]) -> Output {
        let mut all = vec!["netns", "exec", &self.name];
        all.extend_from_slice(args);
        run("ip", &all)
    }

    #[track_caller]
    pub fn exec_ok(&self, args: &[&str]) -> String {
        let mut all = vec!["netns", "exec", &self.name];
        all.extend_from_slice(args);
        ok("ip", &all)
    }

    pub fn path(&self) -> PathBuf {
        PathBuf::from("/run/netns").join(&self.name)
    }

    /// The namespace's identity, as in `/proc/<pid>/task/<tid>/ns/net`.
    pub fn inode(&self) -> u64 {
        std::fs::metadata(self.path()).unwrap().ino()
    }

    /// Run `f` on a fresh thread that has entered this namespace; threads it
    /// spawns stay in the namespace.
    pub fn run_inside<T: Send + 'static>(&self, f: impl FnOnce() -> T + Send + 'static) -> T {
        let file = File::open(self.path()).unwrap();
        std::thread::spawn(move || {
            nix::sched::setns(&file, nix::sched::CloneFlags::CLONE_NEWNET).expect("setns");
            f()
        })
        .join()
        .expect("thread inside the namespace panicked")
    }

    /// `wg <args>` inside this namespace, with `uapi_dir` where `wg` looks
    /// for sockets (mounted in a private mount namespace).
    pub fn wg(&self, uapi_dir: &Path, args: &[&str]) -> Output {
        let mut script = String::from("wg");
        for arg in args {
            script.push(' ');
            script.push_str(arg);
        }
        self.exec(&[
            "unshare",
            "-m",
            "sh",
            "-c",
            &with_uapi_dir(uapi_dir, &format!("exec {script}")),
        ])
    }

    #[track_caller]
    pub fn wg_ok(&self, uapi_dir: &Path, args: &[&str]) -> String {
        let out = self.wg(uapi_dir, args);
        assert!(
            out.status.success(),
            "wg {args:?} in {} failed: {}",
            self.name,
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let out = run("ip", &["netns", "del", &self.name]);
        if !out.status.success() {
            eprintln!(
                "cleanup: ip netns del {}: {}",
                self.name,
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
}

/// Shell text that makes `/var/run/wireguard` (→ `/run/wireguard`) be
/// `dir` in the current (private) mount namespace, then runs `then`.
pub fn with_uapi_dir(dir: &Path, then: &str) -> String {
    format!(
        "mount -t tmpfs weftwg-run /run && mkdir -p /run/wireguard && mount --bind '{}' /run/wireguard && {then}",
        dir.display()
    )
}

/// Two namespaces joined by a veth: 192.0.2.1/24 and 192.0.2.2/24.
pub fn underlay() -> (Netns, Netns) {
    let (ns1, ns2) = (Netns::new(), Netns::new());
    ns1.ip(&[
        "link", "add", "veth1", "type", "veth", "peer", "name", "veth2", "netns", &ns2.name,
    ]);
    ns1.ip(&["addr", "add", "192.0.2.1/24", "dev", "veth1"]);
    ns2.ip(&["addr", "add", "192.0.2.2/24", "dev", "veth2"]);
    ns1.ip(&["link", "set", "veth1", "up"]);
    ns2.ip(&["link", "set", "veth2", "up"]);
    (ns1, ns2)
}

/// Give a tunnel interface its address and bring it up (the agent's job).
pub fn address(ns: &Netns, ifname: &str, cidr: &str) {
    ns.ip(&["addr", "add", cidr, "dev", ifname]);
    ns.ip(&["link", "set", ifname, "mtu", "1420", "up"]);
}

/// Two userspace engines, `wg1` in one namespace and `wg2` in the other,
/// peered over the underlay: 10.9.0.1/fd00::1 and 10.9.0.2/fd00::2.
pub struct EnginePair {
    // Engines stop before their namespaces go.
    pub backend1: weft_wg::Userspace,
    pub backend2: weft_wg::Userspace,
    pub key1: weft_wg::PrivateKey,
    pub key2: weft_wg::PrivateKey,
    pub ns1: Netns,
    pub ns2: Netns,
    _dir: tempfile::TempDir,
}

pub fn engine_pair(
    options1: weft_wg::userspace::EngineOptions,
    options2: weft_wg::userspace::EngineOptions,
) -> EnginePair {
    use weft_wg::{Backend, DeviceConfig, PeerConfig, PrivateKey, Userspace};
    let (ns1, ns2) = underlay();
    let dir = tempfile::tempdir().unwrap();
    let start = |ns: &Netns, name: &'static str, options| {
        let uapi = dir.path().join(name);
        ns.run_inside(move || {
            let backend = Userspace::with_options(uapi, options);
            backend.create(name).map(|()| backend)
        })
        .unwrap()
    };
    let backend1 = start(&ns1, "wg1", options1);
    let backend2 = start(&ns2, "wg2", options2);
    let (key1, key2) = (PrivateKey::generate(), PrivateKey::generate());
    for (backend, ifname, own, other, endpoint, host) in [
        (&backend1, "wg1", &key1, &key2, "192.0.2.2:51820", "2"),
        (&backend2, "wg2", &key2, &key1, "192.0.2.1:51820", "1"),
    ] {
        let mut peer = PeerConfig::new(other.public_key());
        peer.endpoint = Some(endpoint.parse().unwrap());
        peer.allowed_ips = vec![
            format!("10.9.0.{host}/32").parse().unwrap(),
            format!("fd00::{host}/128").parse().unwrap(),
        ];
        backend
            .configure(
                ifname,
                &DeviceConfig {
                    private_key: Some(own.clone()),
                    listen_port: Some(51820),
                    peers: vec![peer],
                    ..Default::default()
                },
            )
            .unwrap();
    }
    for (ns, ifname, host) in [(&ns1, "wg1", "1"), (&ns2, "wg2", "2")] {
        address(ns, ifname, &format!("10.9.0.{host}/24"));
        ns.ip(&[
            "addr",
            "add",
            &format!("fd00::{host}/64"),
            "dev",
            ifname,
            "nodad",
        ]);
    }
    EnginePair {
        backend1,
        backend2,
        key1,
        key2,
        ns1,
        ns2,
        _dir: dir,
    }
}

/// A counter of the namespace's IP stack (`/proc/net/snmp` "Ip:" rows, or
/// `/proc/net/snmp6`), e.g. "FragCreates" / "Ip6FragCreates".
pub fn ip_counter(ns: &Netns, name: &str) -> u64 {
    if let Some(v6) = name.strip_prefix("Ip6") {
        let text = ns.exec_ok(&["cat", "/proc/net/snmp6"]);
        return text
            .lines()
            .find_map(|l| {
                let mut f = l.split_whitespace();
                (f.next() == Some(&format!("Ip6{v6}")[..]))
                    .then(|| f.next().unwrap().parse().unwrap())
            })
            .unwrap_or_else(|| panic!("no {name} in snmp6"));
    }
    let text = ns.exec_ok(&["cat", "/proc/net/snmp"]);
    let mut rows = text.lines().filter(|l| l.starts_with("Ip:"));
    let (names, values) = (rows.next().unwrap(), rows.next().unwrap());
    let i = names
        .split_whitespace()
        .position(|n| n == name)
        .unwrap_or_else(|| panic!("no {name} in snmp"));
    values.split_whitespace().nth(i).unwrap().parse().unwrap()
}

/// A spawned process, killed (and reaped) on drop.
pub struct Spawned {
    pub child: Child,
    pub log: PathBuf,
}

impl Spawned {
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Spawned {
    fn drop(&mut self) {
        let pid = nix::unistd::Pid::from_raw(self.child.id() as i32);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        let deadline = Instant::now() + Duration::from_secs(3);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn wait_for(what: &str, timeout: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A binary from PATH or cargo's bin directory.
pub fn find_binary(name: &str) -> Option<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect())
        .unwrap_or_default();
    if let Some(cargo_home) = std::env::var_os("CARGO_HOME") {
        dirs.push(PathBuf::from(cargo_home).join("bin"));
    }
    if let Some(home) = std::env::var_os("HOME") {
        dirs.push(PathBuf::from(home).join(".cargo/bin"));
    }
    dirs.into_iter().map(|d| d.join(name)).find(|p| p.is_file())
}

/// Threads of this process whose name starts with `prefix`, with the
/// inode of their network namespace.
pub fn threads_named(prefix: &str) -> Vec<(String, u64)> {
    let mut found = Vec::new();
    for task in std::fs::read_dir("/proc/self/task").unwrap().flatten() {
        let Ok(comm) = std::fs::read_to_string(task.path().join("comm")) else {
            continue;
        };
        let comm = comm.trim_end().to_owned();
        if comm.starts_with(prefix)
            && let Ok(meta) = std::fs::metadata(task.path().join("ns/net"))
        {
            found.push((comm, meta.ino()));
        }
    }
    found
}

/// One peer line of `wg show <if> dump`.
#[derive(Debug)]
pub struct DumpPeer {
    pub public_key: String,
    pub endpoint: String,
    pub allowed_ips: String,
    pub latest_handshake: u64,
    pub rx: u64,
    pub tx: u64,
    pub keepalive: String,
}

/// Parse `wg show <if> dump`: (interface fields, peers).
pub fn parse_dump(text: &str) -> (Vec<String>, Vec<DumpPeer>) {
    let mut lines = text.lines();
    let device = lines
        .next()
        .expect("interface line")
        .split('\t')
        .map(str::to_owned)
        .collect();
    let peers = lines
        .map(|line| {
            let f: Vec<&str> = line.split('\t').collect();
            assert_eq!(f.len(), 8, "peer line: {line}");
            DumpPeer {
                public_key: f[0].into(),
                endpoint: f[2].into(),
                allowed_ips: f[3].into(),
                latest_handshake: f[4].parse().unwrap(),
                rx: f[5].parse().unwrap(),
                tx: f[6].parse().unwrap(),
                keepalive: f[7].into(),
            }
        })
        .collect();
    (device, peers)
}

/// A private key written to a 0600 file, for `wg set … private-key FILE`.
pub fn key_file(dir: &Path, name: &str, key: &weft_wg::PrivateKey) -> PathBuf {
    use std::os::unix::fs::OpenOptionsExt;
    let path = dir.join(name);
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)
        .unwrap();
    std::io::Write::write_all(&mut file, format!("{}\n", key.to_base64()).as_bytes()).unwrap();
    path
}
