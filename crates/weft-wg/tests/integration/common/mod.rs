//! weft-wg's own helpers for the privileged tests: running `wg` (or a peer
//! daemon) with a per-test directory mounted where `wg` looks for UAPI
//! sockets, two engines peered over an underlay, and reading what the
//! kernel and `wg` report. Namespaces, processes, waiting and skips come
//! from weft-testkit.
//!
//! Nothing here touches the host's links, routes or firewall: links are
//! created inside the test's namespaces, and mounts happen in throwaway
//! mount namespaces.

#![allow(dead_code)] // each test binary uses a different part

pub mod traffic;

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Output;

pub use weft_testkit::NamedNetns as Netns;
#[allow(unused_imports)] // each test binary uses a different part
pub use weft_testkit::{Spawned, ok, run, wait_for, wait_for_value, which};

/// Root is needed for namespaces, TUN devices and mounts (without it the
/// test records its skip). The tools are required where root is (CI): a
/// missing one fails loudly.
pub fn privileged() -> bool {
    if !weft_testkit::require_root() {
        return false;
    }
    for tool in ["ip", "wg", "ping", "ss", "unshare", "mount"] {
        assert!(
            which(tool).is_some(),
            "{tool} is required (iproute2, wireguard-tools, iputils-ping, util-linux)"
        );
    }
    true
}

/// `wg` inside a test namespace, with a UAPI directory of the test's.
pub trait WgCli {
    /// `wg <args>` inside this namespace, with `uapi_dir` where `wg` looks
    /// for sockets (mounted in a private mount namespace).
    fn wg(&self, uapi_dir: &Path, args: &[&str]) -> Output;

    #[track_caller]
    fn wg_ok(&self, uapi_dir: &Path, args: &[&str]) -> String;
}

impl WgCli for Netns {
    fn wg(&self, uapi_dir: &Path, args: &[&str]) -> Output {
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
    fn wg_ok(&self, uapi_dir: &Path, args: &[&str]) -> String {
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

/// Shell text that makes `/var/run/wireguard` (→ `/run/wireguard`) be
/// `dir` in the current (private) mount namespace, then runs `then`.
pub fn with_uapi_dir(dir: &Path, then: &str) -> String {
    format!(
        "mount -t tmpfs weftwg-run /run && mkdir -p /run/wireguard && mount --bind '{}' /run/wireguard && {then}",
        dir.display()
    )
}

/// Two namespaces joined by a veth: 192.0.2.1/24 on veth1 and
/// 192.0.2.2/24 on veth2.
pub fn underlay() -> (Netns, Netns) {
    let (ns1, ns2) = (Netns::new(), Netns::new());
    weft_testkit::netns::underlay(&ns1.name, "veth1", &ns2.name, "veth2");
    (ns1, ns2)
}

/// Give a tunnel interface its address and bring it up (the agent's job).
pub fn address(ns: &Netns, ifname: &str, cidr: &str) {
    ns.ip(&["addr", "add", cidr, "dev", ifname]);
    ns.ip(&["link", "set", ifname, "mtu", "1420", "up"]);
}

/// A userspace engine with interface `ifname`, created from a thread inside
/// `ns` (so its threads and TUN live there), its UAPI socket in `uapi`.
pub fn start_engine(
    ns: &Netns,
    uapi: PathBuf,
    ifname: &'static str,
    options: weft_wg::userspace::EngineOptions,
) -> weft_wg::Userspace {
    use weft_wg::Backend;
    ns.run_inside(move || {
        let backend = weft_wg::Userspace::with_options(uapi, options);
        backend.create(ifname).map(|()| backend)
    })
    .unwrap_or_else(|e| panic!("create {ifname} in {}: {e}", ns.name))
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
    use weft_wg::{Backend, DeviceConfig, PeerConfig, PrivateKey};
    let (ns1, ns2) = underlay();
    let dir = tempfile::tempdir().unwrap();
    let backend1 = start_engine(&ns1, dir.path().join("wg1"), "wg1", options1);
    let backend2 = start_engine(&ns2, dir.path().join("wg2"), "wg2", options2);
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
