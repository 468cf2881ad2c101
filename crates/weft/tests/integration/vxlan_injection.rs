//! VXLAN only from the VTEPs weft configured, and on a segment inside
//! WireGuard (`--over`) only through WireGuard: attackers send hand-made
//! VXLAN packets (the right port and VNI, a broadcast and a gratuitous ARP
//! inside) to a weft host, and captures in its workloads count what
//! arrives. The attackers: a stranger on the underlay, the same stranger
//! forging a VTEP's underlay address against the `--over` segment, and a
//! workload of the WireGuard network that carries it. The same packets
//! sent by the real VTEPs arrive (the controls). A filter rule deleted by
//! hand is put back by the drift repair; deleted with nobody to repair it,
//! it lets the stranger's frames in (what happened before these rules).

use std::time::{Duration, Instant};
use weft_testkit::*;

const WEFT: &str = env!("CARGO_BIN_EXE_weft");

/// How long a repair may take: the default pass runs every 2 s.
const REPAIRED_WITHIN: Duration = Duration::from_secs(5);

const SEND: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/vxlan_send.py");

/// A segment as an attacker addresses it: its VNI, and a source address
/// of its subnet for the inner frame (the hosts' source checks drop any
/// other once the frame is on the segment).
struct Segment {
    vni: u32,
    inner: &'static str,
}

const RED: Segment = Segment {
    vni: 100,
    inner: "10.50.9.9",
};
const SEC: Segment = Segment {
    vni: 300,
    inner: "10.60.9.9",
};

/// Send one hand-made VXLAN packet for `segment` from `ns` to `dst`'s
/// port 4789 (see `vxlan_send.py`).
fn send(lab: &Lab, ns: &str, dst: &str, segment: &Segment, kind: &str, extra: &str) {
    let Segment { vni, inner } = segment;
    lab.exec_ok(
        ns,
        &format!("python3 {SEND} {dst} 4789 {vni} {kind} --inner {inner} {extra}"),
    );
}

fn mac_of(lab: &Lab, ns: &str, dev: &str) -> String {
    let out = lab.exec_ok(ns, &format!("ip -j link show {dev}"));
    let link: serde_json::Value = serde_json::from_str(&out).unwrap();
    link[0]["address"].as_str().unwrap().to_string()
}

/// The MAC `ns` has for `ip` (`ip neigh`), if any.
fn neighbour(lab: &Lab, ns: &str, ip: &str) -> Option<String> {
    let out = lab.exec_ok(ns, &format!("ip -j neigh show {ip}"));
    let entries: serde_json::Value = serde_json::from_str(&out).unwrap();
    entries
        .as_array()?
        .iter()
        .find_map(|e| Some(e["lladdr"].as_str()?.to_string()))
}

/// The packets counted by the drop rule of chain `chain` on `host`.
fn dropped(lab: &Lab, host: &str, chain: &str) -> u64 {
    let out = lab.exec_ok(host, &format!("nft -j list chain inet weft {chain}"));
    let listing: serde_json::Value = serde_json::from_str(&out).unwrap();
    listing["nftables"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|o| o.get("rule"))
        .flat_map(|r| r["expr"].as_array().unwrap().iter())
        .filter_map(|s| s.get("counter")?["packets"].as_u64())
        .sum()
}

/// The handle of the drop rule of chain `vxlan-from-red` on h1, if it
/// has one.
fn drop_rule(lab: &Lab) -> Option<String> {
    let listing = lab.exec_ok("h1", "nft -a list chain inet weft vxlan-from-red");
    listing
        .lines()
        .find(|l| l.contains("drop"))
        .and_then(|l| l.rsplit("# handle ").next())
        .map(|h| h.trim().to_string())
}

fn ping(lab: &Lab, from: &str, to: &str) -> bool {
    lab.exec(from, &format!("ping -c 1 -W 2 {to}"))
        .status
        .success()
}

/// h1 and h2 share plain VXLAN network red (VNI 100, c1 and c2) and, on
/// the same UDP port, VXLAN network sec (VNI 300, c3) inside internal
/// WireGuard network blue (c4, a workload of blue on h2). h3 is a stranger
/// on the same switched underlay.
fn lab() -> Lab {
    let mut lab = Lab::new(WEFT);
    lab.add_namespaces(["h1", "h2", "h3", "c1", "c2", "c3", "c4"]);
    lab.switched_underlay(&["h1", "h2", "h3"]);
    lab.start_agent("h1");
    lab.start_agent("h2");
    for (host, n, other) in [("h1", 1, 2), ("h2", 2, 1)] {
        let block = format!("10.42.{n}.0/24");
        lab.weft_json(
            host,
            &[
                "network",
                "create",
                "blue",
                "--subnet",
                "10.42.0.0/16",
                "--block",
                &block,
                "--internal",
            ],
        );
        let vxlan = |name: &str, subnet: &str, block: &str, vni: &str, under: [&str; 2]| {
            lab.weft_json(
                host,
                &[
                    "network", "create", name, "--mode", "vxlan", "--subnet", subnet, "--block",
                    block, "--vni", vni, under[0], under[1],
                ],
            )
        };
        let local = format!("192.0.2.{n}");
        vxlan(
            "red",
            "10.50.0.0/16",
            &format!("10.50.{n}.0/24"),
            "100",
            ["--local", &local],
        );
        vxlan(
            "sec",
            "10.60.0.0/16",
            &format!("10.60.{n}.0/24"),
            "300",
            ["--over", "blue"],
        );
        for (net, endpoint, block) in [
            (
                "red",
                format!("192.0.2.{other}"),
                format!("10.50.{other}.0/24"),
            ),
            (
                "sec",
                format!("10.42.{other}.1"),
                format!("10.60.{other}.0/24"),
            ),
        ] {
            lab.weft_ok(
                host,
                &[
                    "peer",
                    "add",
                    net,
                    "--endpoint",
                    &endpoint,
                    "--allowed-ips",
                    &block,
                ],
            );
        }
    }
    lab.peer("h1", "h2", "blue", 42, 51820);
    lab.peer("h2", "h1", "blue", 42, 51820);
    lab.attach("h1", "red", "c1", &[]);
    lab.attach("h2", "red", "c2", &[]);
    lab.attach("h1", "sec", "c3", &[]);
    lab.attach("h2", "blue", "c4", &[]);
    wait_for("c1 to reach c2", Duration::from_secs(20), || {
        ping(&lab, "c1", "10.50.2.2")
    });
    wait_for("c4 to reach h1 over blue", Duration::from_secs(20), || {
        ping(&lab, "c4", "10.42.1.1")
    });
    lab
}

/// Every attack of the module docs, three times each, then the controls
/// (marked `control-<tag>`) until both are seen; returns the raw captures
/// of c1's and c3's eth0 and h1's underlay.
fn attack(lab: &Lab, tag: &str) -> (Vec<u8>, Vec<u8>, Vec<u8>) {
    let dir = lab.dir.path();
    let c1_cap = capture::start(&lab.ns("c1"), "eth0", &dir.join(format!("c1-{tag}.pcap")));
    let c3_cap = capture::start(&lab.ns("c3"), "eth0", &dir.join(format!("c3-{tag}.pcap")));
    let u0_cap = capture::start(&lab.ns("h1"), "u0", &dir.join(format!("u0-{tag}.pcap")));
    for _ in 0..3 {
        // A stranger on the underlay, to each segment's VNI.
        send(
            lab,
            "h3",
            "192.0.2.1",
            &RED,
            &format!("broadcast:inject-red-{tag}"),
            "",
        );
        send(lab, "h3", "192.0.2.1", &RED, "garp:10.50.2.2", "");
        send(
            lab,
            "h3",
            "192.0.2.1",
            &SEC,
            &format!("broadcast:inject-sec-{tag}"),
            "",
        );
        // The stranger as h2, red's VTEP on the underlay, against sec.
        send(
            lab,
            "h3",
            "192.0.2.1",
            &SEC,
            &format!("broadcast:forged-sec-{tag}"),
            "--forge 192.0.2.2",
        );
        // A workload of blue, through blue's tunnel to h1's VTEP address.
        send(
            lab,
            "c4",
            "10.42.1.1",
            &SEC,
            &format!("broadcast:workload-sec-{tag}"),
            "",
        );
    }
    // The VTEPs themselves: h2 on the underlay (red), h2 through blue (sec).
    let control_red = format!("control-red-{tag}");
    let control_sec = format!("control-sec-{tag}");
    wait_for("the controls to arrive", Duration::from_secs(10), || {
        send(
            lab,
            "h2",
            "192.0.2.1",
            &RED,
            &format!("broadcast:{control_red}"),
            "",
        );
        send(
            lab,
            "h2",
            "10.42.1.1",
            &SEC,
            &format!("broadcast:{control_sec}"),
            "--bind 10.42.2.1",
        );
        std::thread::sleep(Duration::from_millis(200));
        let c1 = std::fs::read(&c1_cap.file).unwrap_or_default();
        let c3 = std::fs::read(&c3_cap.file).unwrap_or_default();
        capture::seen(&c1, &control_red) > 0 && capture::seen(&c3, &control_sec) > 0
    });
    let (_, c1) = c1_cap.stop();
    let (_, c3) = c3_cap.stop();
    let (_, u0) = u0_cap.stop();
    (c1, c3, u0)
}

#[test]
fn injected_vxlan_reaches_no_workload_plain_or_over_wireguard() {
    require_root!();
    require_tools!("tcpdump", "python3", "nft");
    let mut lab = lab();
    let c2_mac = mac_of(&lab, "c2", "eth0");
    assert_eq!(
        neighbour(&lab, "c1", "10.50.2.2").as_deref(),
        Some(&*c2_mac)
    );

    let (c1, c3, u0) = attack(&lab, "a");
    // Every attack reached h1 (so the zeros below are the filter's).
    for marker in ["inject-red-a", "inject-sec-a", "forged-sec-a"] {
        assert_eq!(capture::seen(&u0, marker), 3, "{marker} on h1's underlay");
    }
    for (capture, marker) in [
        (&c1, "inject-red-a"),
        (&c3, "inject-sec-a"),
        (&c3, "forged-sec-a"),
        (&c3, "workload-sec-a"),
    ] {
        assert_eq!(
            capture::seen(capture, marker),
            0,
            "{marker} reached the segment"
        );
    }
    assert!(capture::seen(&c1, "control-red-a") > 0 && capture::seen(&c3, "control-sec-a") > 0);
    // The gratuitous ARP did not move c1's neighbour entry for c2.
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(
        neighbour(&lab, "c1", "10.50.2.2").as_deref(),
        Some(&*c2_mac)
    );
    assert!(ping(&lab, "c1", "10.50.2.2"), "c1 -> c2 after the attack");
    // Counted where they were dropped: red's stranger (3 broadcasts, 3
    // ARPs), and sec's stranger, forger and workload (9).
    assert!(dropped(&lab, "h1", "vxlan-from-red") >= 6);
    assert!(dropped(&lab, "h1", "vxlan-from-sec") >= 9);

    // Drift: red's drop rule deleted by hand is back within seconds, and
    // the stranger is refused again.
    let handle = drop_rule(&lab).expect("vxlan-from-red has a drop rule");
    let start = Instant::now();
    lab.exec_ok(
        "h1",
        &format!("nft delete rule inet weft vxlan-from-red handle {handle}"),
    );
    let restored = poll_until(REPAIRED_WITHIN, Duration::from_millis(100), || {
        drop_rule(&lab).is_some()
    });
    assert!(
        restored,
        "the rule was not put back within {REPAIRED_WITHIN:?}\n{}",
        lab.agent_log("h1")
    );
    eprintln!(
        "vxlan-from-red's drop rule put back after {:?}",
        start.elapsed()
    );
    // The repair is logged once it is done: the rule may be seen back
    // before the line is written.
    let logged = poll_until(Duration::from_secs(5), Duration::from_millis(100), || {
        lab.agent_log("h1").lines().any(|l| {
            l.contains("WARN") && l.contains("table inet weft: not as weft made it, restored")
        })
    });
    assert!(logged, "the repair was not logged\n{}", lab.agent_log("h1"));
    let (c1, c3, _) = attack(&lab, "b");
    assert_eq!(capture::seen(&c1, "inject-red-b"), 0, "after the repair");
    assert_eq!(capture::seen(&c3, "inject-sec-b"), 0, "after the repair");

    // Negative control: with nobody to repair it, the same rule deleted
    // lets the stranger's frames onto the segment — what happened before
    // these rules existed.
    lab.kill_agent("h1");
    let handle = drop_rule(&lab).expect("vxlan-from-red has a drop rule");
    lab.exec_ok(
        "h1",
        &format!("nft delete rule inet weft vxlan-from-red handle {handle}"),
    );
    let cap = capture::start(&lab.ns("c1"), "eth0", &lab.dir.path().join("c1-open.pcap"));
    send(
        &lab,
        "h3",
        "192.0.2.1",
        &RED,
        "broadcast:inject-red-open",
        "",
    );
    send(&lab, "h3", "192.0.2.1", &RED, "garp:10.50.2.2", "");
    wait_for("the stranger's frame in c1", Duration::from_secs(5), || {
        capture::seen(
            &std::fs::read(&cap.file).unwrap_or_default(),
            "inject-red-open",
        ) > 0
    });
    cap.stop();
    wait_for(
        "c1's neighbour entry for c2 to be the stranger's",
        Duration::from_secs(5),
        || neighbour(&lab, "c1", "10.50.2.2").as_deref() == Some("02:66:66:66:66:6a"),
    );
    lab.finish();
}
