//! Two hosts, two containers, encrypted traffic — the foundation end to end:
//! agents in two host namespaces joined by an underlay, network `blue`,
//! peers both ways, a container on each host. Then a `kill -9` restart and
//! a detach.

use weft_testkit::*;

const WEFT: &str = env!("CARGO_BIN_EXE_weft");
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The ICMP payload pattern (`ping -p`) and the TCP message: plaintext
/// markers that must never show on the underlay.
const PATTERN: &str = "77656674736563726574"; // "weftsecret"
const MARKER: &[u8] = b"weftsecret";

fn ping(lab: &Lab, from: &str, to: &str) -> bool {
    lab.exec(from, &format!("ping -c 2 -i 0.2 -W 2 -p {PATTERN} {to}"))
        .status
        .success()
}

fn ping_eventually(lab: &Lab, from: &str, to: &str) {
    wait_for(
        &format!("{from} to reach {to}"),
        Duration::from_secs(20),
        || ping(lab, from, to),
    );
}

/// A TCP exchange from `client` to `server_ip`:7000 (a one-shot echo server
/// in `server`), sending the marker.
fn tcp_exchange(lab: &mut Lab, server: &str, server_ip: &str, client: &str) {
    let script = format!(
        "import socket\ns=socket.socket()\ns.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1)\n\
         s.bind(('{server_ip}',7000))\ns.listen(1)\nc,_=s.accept()\nd=c.recv(100)\nc.sendall(b'echo:'+d)\nc.close()\n"
    );
    let child = std::process::Command::new("ip")
        .args(["netns", "exec", &lab.ns(server), "python3", "-c", &script])
        .spawn()
        .expect("python3");
    lab.keep(child);
    let client_script = format!(
        "import socket,time\nfor i in range(50):\n  try:\n    c=socket.create_connection(('{server_ip}',7000),timeout=3);break\n  except OSError:\n    time.sleep(0.1)\n\
         c.sendall(b'weftsecret over tcp')\nprint(c.recv(100).decode())\n"
    );
    let out = lab.exec_ok(client, &format!("python3 -c \"{client_script}\""));
    assert_eq!(out.trim(), "echo:weftsecret over tcp");
}

#[test]
fn two_hosts_two_containers_encrypted() {
    require_root!();
    let mut lab = Lab::new(WEFT);
    lab.add_namespaces(["h1", "h2", "c1", "c2"]);
    lab.underlay("h1", "h2");
    lab.start_agent("h1");
    lab.start_agent("h2");

    for host in ["h1", "h2"] {
        let net = lab.network_on(host, "blue", 42);
        assert_eq!(net["interface"], "wg0");
        assert_eq!(net["listen_port"], 51820);
    }
    let (k1, k2) = (lab.public_key("h1", "blue"), lab.public_key("h2", "blue"));
    assert_ne!(k1, k2);
    lab.peer("h1", "h2", "blue", 42, 51820);
    lab.peer("h2", "h1", "blue", 42, 51820);

    let c1 = lab.attach("h1", "blue", "c1", &["--name", "c1"]);
    let c2 = lab.attach("h2", "blue", "c2", &["--name", "c2"]);
    assert_eq!(c1["address"], "10.42.1.2/32");
    assert_eq!(c1["ifname"], "eth0");
    assert_eq!(c1["gateway"], "10.42.1.1");
    assert_eq!(c2["address"], "10.42.2.2/32");
    // The container side as the kernel sees it.
    let addr = lab.exec_ok("c1", "ip -j addr show dev eth0");
    assert!(addr.contains("\"10.42.1.2\""), "{addr}");
    let routes = lab.exec_ok("c1", "ip route show default");
    assert!(routes.contains("via 10.42.1.1 dev eth0"), "{routes}");

    // Encrypted traffic, captured on the underlay.
    let pcap = lab.dir.path().join("underlay.pcap");
    let cap = capture::start(&lab.ns("h1"), "u0", &pcap);
    ping_eventually(&lab, "c1", "10.42.2.2");
    assert!(ping(&lab, "c2", "10.42.1.2"), "c2 -> c1");
    tcp_exchange(&mut lab, "c2", "10.42.2.2", "c1");
    let (lines, raw) = cap.stop();
    let packets = capture::only_wireguard(&lines, &raw, 51820, MARKER).unwrap_or_else(|e| {
        panic!(
            "underlay carried more than WireGuard: {e}\n{}",
            lines.join("\n")
        )
    });
    assert!(packets >= 8, "too few WireGuard packets: {packets}");

    // Negative control: the same check on traffic that crosses in the clear.
    let plain = lab.dir.path().join("plain.pcap");
    let cap = capture::start(&lab.ns("h1"), "u0", &plain);
    assert!(ping(&lab, "h1", "192.0.2.2"));
    let (lines, raw) = cap.stop();
    let verdict = capture::only_wireguard(&lines, &raw, 51820, MARKER);
    assert!(
        verdict.is_err(),
        "the check must catch plaintext: {lines:?}"
    );

    // The real `wg` against the userspace engine's UAPI socket.
    let dump = lab.in_agent("h1", "wg show wg0 dump");
    assert!(
        dump.status.success(),
        "wg show: {}",
        String::from_utf8_lossy(&dump.stderr)
    );
    let dump = String::from_utf8_lossy(&dump.stdout).to_string();
    let peer_line = dump
        .lines()
        .nth(1)
        .unwrap_or_else(|| panic!("no peer in wg show: {dump}"));
    let f: Vec<&str> = peer_line.split('\t').collect();
    assert_eq!(f[0], k2);
    assert_eq!(f[2], "192.0.2.2:51820");
    assert_eq!(f[3], "10.42.2.0/24");
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let handshake: i64 = f[4].parse().unwrap();
    assert!(
        handshake > 0 && now - handshake < 120,
        "stale handshake {handshake} (now {now})"
    );
    let (wg_rx, wg_tx): (u64, u64) = (f[5].parse().unwrap(), f[6].parse().unwrap());
    assert!(wg_rx > 0 && wg_tx > 0, "no transfer: {peer_line}");
    let human = lab.in_agent("h1", "wg show wg0");
    let human = String::from_utf8_lossy(&human.stdout);
    assert!(
        human.contains("latest handshake") && human.contains("transfer"),
        "{human}"
    );

    // `weft status` reads the same live data.
    let status = lab.weft_json("h1", &["status"]);
    assert_eq!(status["backend"], "userspace");
    let net = &status["networks"][0];
    assert_eq!(net["interface"], "wg0");
    assert_eq!(net["public_key"], k1.as_str());
    let peer = &net["peers"][0];
    assert_eq!(peer["public_key"], k2.as_str());
    assert_eq!(peer["endpoint"], "192.0.2.2:51820");
    assert_eq!(peer["latest_handshake"].as_i64().unwrap(), handshake);
    assert!(peer["rx_bytes"].as_u64().unwrap() >= wg_rx);
    assert!(peer["tx_bytes"].as_u64().unwrap() >= wg_tx);
    let table = lab.weft_ok("h1", &["status"]);
    assert!(table.contains(&k2) && table.contains("ago"), "{table}");

    // kill -9 the agent on h1: its userspace interface dies with it; a new
    // agent reconciles and traffic flows again without re-attaching.
    lab.kill_agent("h1");
    assert!(!ping(&lab, "c1", "10.42.2.2"), "no agent, no tunnel");
    lab.start_agent("h1");
    ping_eventually(&lab, "c1", "10.42.2.2");
    let links = lab.exec_ok("h1", "ip -o link show");
    assert_eq!(links.matches("w0-c1").count(), 1, "{links}");
    let atts = lab.weft_json("h1", &["attachments"]);
    assert_eq!(atts.as_array().unwrap().len(), 1);
    assert_eq!(atts[0]["address"], "10.42.1.2/32");

    // Detach removes the veth (both ends) and frees the address.
    lab.weft_ok("h1", &["detach", "blue", "--id", "c1"]);
    assert!(
        !lab.exec("h1", "ip link show w0-c1").status.success(),
        "host veth left"
    );
    assert!(
        !lab.exec("c1", "ip link show eth0").status.success(),
        "container veth left"
    );
    assert!(
        lab.weft_json("h1", &["attachments"])
            .as_array()
            .unwrap()
            .is_empty()
    );
    let again = lab.weft_json(
        "h1",
        &[
            "attach",
            "blue",
            "--netns",
            &lab.netns_path("c1"),
            "--id",
            "c1b",
        ],
    );
    assert_eq!(
        again["address"], "10.42.1.2/32",
        "the freed address is reused"
    );
    // Detaching an unknown workload succeeds.
    lab.weft_ok("h1", &["detach", "blue", "--id", "never-attached"]);

    lab.finish();
}
