//! `weft network rotate-key` while traffic flows, with the control plane:
//! a ping every 10 ms and a TCP stream (iperf3) from a container on h2 to
//! one on h3 while h3 rotates its key on `blue`. Counted and printed: the
//! pings lost (at most one) and the TCP stream's resets (none). Then the
//! old private key is gone from h3 (its engine and every file of its state
//! directory), and a stranger holding it — a weft agent of its own posing
//! as h3 — gets nothing through to h2, while the real h3 does.

use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;
use weft_testkit::*;

use crate::control_common::{self, TenantCurl};

const WEFT: &str = env!("CARGO_BIN_EXE_weft");
const CP: &str = "192.0.2.1";
/// How long the traffic runs; the rotation happens a third of the way in.
const TRAFFIC_SECS: u64 = 12;

/// A ping every 10 ms and an iperf3 TCP stream from `from` to `to`, each
/// writing its report to a file of the lab's.
pub struct Traffic {
    ping: process::Spawned,
    stream: process::Spawned,
    ping_out: PathBuf,
    stream_out: PathBuf,
}

/// What the traffic saw.
#[derive(Debug)]
pub struct Seen {
    pub pings_sent: u64,
    pub pings_lost: u64,
    /// The stream ended in an error (a reset) rather than completing.
    pub stream_resets: u64,
    pub stream_bytes: u64,
    /// One-second intervals in which the stream moved nothing.
    pub stream_stalls: u64,
}

impl Seen {
    /// Print what was seen across `what`, and fail unless traffic flowed,
    /// at most one ping was lost and the stream never reset.
    pub fn assert_dropped_nothing(&self, what: &str) {
        eprintln!(
            "{what}: {} pings every 10 ms, {} lost; TCP stream: {} resets, {} bytes, {} silent seconds",
            self.pings_sent,
            self.pings_lost,
            self.stream_resets,
            self.stream_bytes,
            self.stream_stalls
        );
        assert!(self.pings_sent > 0 && self.stream_bytes > 0, "{self:?}");
        assert!(self.pings_lost <= 1, "{self:?}");
        assert_eq!(self.stream_resets, 0, "{self:?}");
    }
}

impl Traffic {
    /// Start both from lab namespace `from`; the iperf3 server at `to_ip`
    /// must be up.
    pub fn start(lab: &Lab, from: &str, to_ip: &str, tag: &str) -> Traffic {
        let ns = lab.ns(from);
        Traffic::start_with(
            lab.dir.path(),
            || {
                let mut command = Command::new("ip");
                command.args(["netns", "exec", &ns]);
                command
            },
            to_ip,
            tag,
            TRAFFIC_SECS,
        )
    }

    /// Start both for `secs` seconds through commands `place` makes (the
    /// program and its arguments are appended), reports under `dir`.
    pub fn start_with(
        dir: &Path,
        place: impl Fn() -> Command,
        to_ip: &str,
        tag: &str,
        secs: u64,
    ) -> Traffic {
        let ping_out = dir.join(format!("ping-{tag}.out"));
        let stream_out = dir.join(format!("iperf-{tag}.json"));
        let spawn = |args: &[&str], out: &Path| {
            let child = place()
                .args(args)
                .stdin(Stdio::null())
                .stdout(std::fs::File::create(out).unwrap())
                .stderr(Stdio::null())
                .spawn()
                .unwrap();
            process::Spawned::new(child)
        };
        let secs = secs.to_string();
        let ping = spawn(
            &["ping", "-q", "-i", "0.01", "-W", "1", "-w", &secs, to_ip],
            &ping_out,
        );
        let stream = spawn(
            &["iperf3", "-c", to_ip, "-t", &secs, "-b", "20M", "-J"],
            &stream_out,
        );
        Traffic {
            ping,
            stream,
            ping_out,
            stream_out,
        }
    }

    /// Wait for both to end; what they saw.
    pub fn finish(mut self) -> Seen {
        self.ping.child.wait().unwrap();
        let streamed = self.stream.child.wait().unwrap();
        let summary = std::fs::read_to_string(&self.ping_out).unwrap();
        let count = |suffix: &str| -> u64 {
            summary
                .split([',', '\n'])
                .find_map(|part| part.trim().strip_suffix(suffix))
                .and_then(|n| n.trim().parse().ok())
                .unwrap_or_else(|| panic!("no {suffix:?} in ping's summary: {summary}"))
        };
        let (sent, received) = (count(" packets transmitted"), count(" received"));
        let text = std::fs::read_to_string(&self.stream_out).unwrap();
        let report: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        let failed = !streamed.success() || report["error"].is_string();
        if failed {
            eprintln!("iperf3: {text}");
        }
        let intervals = report["intervals"].as_array().cloned().unwrap_or_default();
        Seen {
            pings_sent: sent,
            pings_lost: sent - received,
            stream_resets: u64::from(failed),
            stream_bytes: report["end"]["sum_received"]["bytes"].as_u64().unwrap_or(0),
            stream_stalls: intervals
                .iter()
                .filter(|i| i["sum"]["bytes"].as_u64() == Some(0))
                .count() as u64,
        }
    }
}

/// An iperf3 server in `ns` for one client, stopped with the lab.
pub fn stream_server(lab: &mut Lab, ns: &str) {
    let child = Command::new("ip")
        .args(["netns", "exec", &lab.ns(ns), "iperf3", "-s", "-1"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    lab.keep(child);
    wait_for("iperf3 to listen", Duration::from_secs(10), || {
        !lab.exec_ok(ns, "ss -Htln 'sport = :5201'")
            .trim()
            .is_empty()
    });
}

/// Network `name` as `host`'s agent lists it.
pub fn network(lab: &Lab, host: &str, name: &str) -> Value {
    let nets = lab.weft_json(host, &["network", "ls"]);
    nets.as_array()
        .unwrap()
        .iter()
        .find(|n| n["name"] == name)
        .cloned()
        .unwrap_or_else(|| panic!("no {name} on {host}: {nets}"))
}

/// The public keys of `host`'s peers on `name`.
pub fn peer_keys(lab: &Lab, host: &str, name: &str) -> Vec<String> {
    let peers = lab.weft_json(host, &["peer", "ls", name]);
    peers
        .as_array()
        .map(|p| {
            p.iter()
                .filter_map(|p| p["public_key"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// The private key `host`'s engine holds for `ifname`, read through its
/// UAPI with `wg`.
pub fn engine_private_key(lab: &Lab, host: &str, ifname: &str) -> String {
    let out = lab.in_agent(host, &format!("wg show {ifname} private-key"));
    assert!(out.status.success(), "wg show: {out:?}");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Every file under `dir` that contains `needle` (as text or raw bytes).
pub fn files_holding(dir: &Path, needle: &[u8]) -> Vec<PathBuf> {
    let mut found = vec![];
    let mut dirs = vec![dir.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                dirs.push(path);
            } else if let Ok(bytes) = std::fs::read(&path)
                && bytes.windows(needle.len()).any(|w| w == needle)
            {
                found.push(path);
            }
        }
    }
    found
}

/// No file under `state` (a host's state directory) holds private key
/// `old`, as base64 or as bytes.
pub fn assert_key_gone(state: &Path, old: &str) {
    let raw = weft_model::PrivateKey::from_base64(old).unwrap();
    for needle in [old.as_bytes(), raw.as_bytes().as_slice()] {
        let holding = files_holding(state, needle);
        assert!(holding.is_empty(), "the old key is still in {holding:?}");
    }
}

#[test]
fn a_rotation_under_the_control_plane_drops_no_traffic() {
    require_root!();
    if !require_tools(&["curl", "iperf3", "wg", "ss"]) {
        return;
    }
    let mut lab = Lab::new(WEFT);
    lab.add_namespaces(["h1", "h2", "h3", "h4", "c2", "c3", "c4"]);
    lab.switched_underlay(&["h1", "h2", "h3", "h4"]);
    let state = lab.dir.path().join("control");
    let (out, log) = (
        lab.dir.path().join("control.out"),
        lab.dir.path().join("control.log"),
    );
    let (_control, first) =
        control_common::start_control_in(WEFT, &lab, "h1", CP, &state, (&out, &log), &[]);
    let fingerprint = control_common::fingerprint(&first);
    let (key, token) = control_common::tenant_with_token(WEFT, &state, "acme", 2);
    let url = format!("https://{CP}:50051");
    for host in ["h2", "h3"] {
        lab.start_agent_with(
            host,
            &control_common::enroll_args(host, &url, &fingerprint, &token),
        );
    }
    let tenant = TenantCurl {
        ns: "h1".into(),
        addr: CP.into(),
        ca: state.join("ca.pem").display().to_string(),
        key,
    };
    wait_for("h2 and h3 to enroll", Duration::from_secs(20), || {
        let (_, hosts) = tenant.call(&lab, "GET", "/v1/hosts", None);
        hosts.as_array().is_some_and(|h| h.len() == 2)
    });
    tenant.ok(
        &lab,
        "POST",
        "/v1/networks",
        Some(json!({"name": "blue", "subnet": "10.42.0.0/16"})),
    );
    wait_for(
        "blue with its peer on h2 and h3",
        Duration::from_secs(20),
        || {
            ["h2", "h3"].iter().all(|h| {
                lab.weft(h, &["peer", "ls", "blue"]).status.success()
                    && peer_keys(&lab, h, "blue").len() == 1
            })
        },
    );
    lab.attach("h2", "blue", "c2", &[]);
    let c3 = lab.attach("h3", "blue", "c3", &[])["address"]
        .as_str()
        .unwrap()
        .split('/')
        .next()
        .unwrap()
        .to_string();
    wait_for("c2 to reach c3", Duration::from_secs(20), || {
        lab.exec("c2", &format!("ping -c1 -W1 {c3}"))
            .status
            .success()
    });
    let blue3 = network(&lab, "h3", "blue");
    let ifname = blue3["interface"].as_str().unwrap().to_string();
    let old_public = blue3["public_key"].as_str().unwrap().to_string();
    let old_private = engine_private_key(&lab, "h3", &ifname);

    // Traffic, and a rotation on h3 in the middle of it.
    stream_server(&mut lab, "c3");
    let traffic = Traffic::start(&lab, "c2", &c3, "control");
    std::thread::sleep(Duration::from_secs(TRAFFIC_SECS / 3));
    let rotated = lab.weft_json("h3", &["network", "rotate-key", "blue"]);
    let new_public = rotated["public_key"].as_str().unwrap().to_string();
    assert_ne!(new_public, old_public);
    wait_for("h2 to learn h3's new key", Duration::from_secs(10), || {
        peer_keys(&lab, "h2", "blue") == [new_public.clone()]
    });
    // The tenant sees h3's new key and its age started again.
    let hosts = tenant.ok(&lab, "GET", "/v1/hosts", None);
    let key_of = |name: &str| -> Value {
        let host = hosts.as_array().unwrap().iter().find(|h| h["name"] == name);
        host.map(|h| h["keys"][0].clone()).unwrap_or_default()
    };
    assert_eq!(key_of("h3")["public_key"], new_public.as_str(), "{hosts}");
    assert!(
        key_of("h3")["since"].as_i64() > key_of("h2")["since"].as_i64(),
        "h3's key is the younger now: {hosts}"
    );
    // The same, as the tenant's table and the host's own table show it.
    let table = lab.exec_ok(
        "h1",
        &format!(
            "WEFT_API=https://{CP}:8443 WEFT_API_KEY={} WEFT_CA={} {WEFT} control host ls",
            tenant.key, tenant.ca
        ),
    );
    assert!(
        table.contains("KEY AGE") && table.contains("blue="),
        "{table}"
    );
    let table = String::from_utf8_lossy(&lab.weft("h3", &["network", "ls", "-o", "table"]).stdout)
        .into_owned();
    assert!(table.contains("KEY AGE"), "{table}");
    traffic
        .finish()
        .assert_dropped_nothing("rotation under the control plane");

    // The old key goes once h2 has shown it knows the new one.
    wait_for("h3 to forget its old key", Duration::from_secs(20), || {
        network(&lab, "h3", "blue")["retiring_public_key"]
            .as_str()
            .is_none_or(str::is_empty)
    });
    assert_ne!(engine_private_key(&lab, "h3", &ifname), old_private);
    assert_key_gone(&lab.agents["h3"].state_dir, &old_private);

    // A stranger holding the old key, posing as h3 to h2: nothing through.
    let h2 = network(&lab, "h2", "blue");
    stranger_with_old_key(&mut lab, &old_private, &blue3, &h2);
    for _ in 0..3 {
        let out = lab.exec("c4", &format!("ping -c1 -W1 {}", c2_address(&lab)));
        assert!(!out.status.success(), "the old key still gets through");
    }
    // Control: the real h3, under its new key, does.
    lab.exec_ok("c3", &format!("ping -c1 -W2 {}", c2_address(&lab)));
    lab.finish();
}

fn c2_address(lab: &Lab) -> String {
    lab.exec_ok(
        "c2",
        "ip -4 -o addr show dev eth0 | awk '{print $4}' | cut -d/ -f1",
    )
    .trim()
    .to_string()
}

/// A weft agent on h4 with h3's old private key and block on `blue`,
/// peered with h2 as h3 was, and container c4 on it.
fn stranger_with_old_key(lab: &mut Lab, old_private: &str, h3: &Value, h2: &Value) {
    use std::os::unix::fs::PermissionsExt as _;
    let key_file = lab.dir.path().join("leaked.key");
    std::fs::write(&key_file, old_private).unwrap();
    std::fs::set_permissions(&key_file, std::fs::Permissions::from_mode(0o600)).unwrap();
    lab.start_agent("h4");
    lab.weft_ok(
        "h4",
        &[
            "network",
            "create",
            "blue",
            "--subnet",
            "10.42.0.0/16",
            "--block",
            h3["block"].as_str().unwrap(),
            "--private-key-file",
            key_file.to_str().unwrap(),
        ],
    );
    lab.weft_ok(
        "h4",
        &[
            "peer",
            "add",
            "blue",
            "--public-key",
            h2["public_key"].as_str().unwrap(),
            "--endpoint",
            &format!("192.0.2.2:{}", h2["listen_port"]),
            "--allowed-ips",
            h2["block"].as_str().unwrap(),
        ],
    );
    lab.attach("h4", "blue", "c4", &[]);
}
