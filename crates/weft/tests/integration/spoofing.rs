//! A workload sends only from its own address (and, on a bridge, its own
//! MAC): forged sources — a neighbour's, another network's, an outside
//! one — never leave the host, masqueraded or not. Real agents, real
//! workloads; a capture on the underlay shows what left.

use std::time::Duration;
use weft_testkit::*;

const WEFT: &str = env!("CARGO_BIN_EXE_weft");

/// One UDP datagram from `ns`, sent from `source` (an address the test put
/// on the workload's own interface) to the outside world's 192.0.2.2:`port`.
fn send_from(lab: &Lab, ns: &str, source: &str, port: u16) {
    let py = format!(
        "import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); \
         s.bind(('{source}', 0)); s.sendto(b'from {source}', ('192.0.2.2', {port}))"
    );
    lab.exec_ok(ns, &format!("python3 -c \"{py}\""));
}

/// What the capture holds so far, decoded.
fn captured(file: &std::path::Path) -> String {
    sh(&format!("tcpdump -r {} -n 2>/dev/null", file.display()))
}

#[test]
fn forged_sources_never_leave_the_host() {
    require_root!();
    require_tools!("tcpdump", "python3");
    let mut lab = Lab::new(WEFT);
    lab.add_namespaces(["h1", "world", "c1", "c2", "c3", "c4"]);
    lab.underlay("h1", "world");
    lab.exec_ok("h1", "ip route add default via 192.0.2.2 dev u0");
    lab.start_agent("h1");
    lab.network_on("h1", "blue", 42);
    lab.bridge_on("h1", "br", "10.88.0.0/16");
    for (net, ws) in [("blue", ["c1", "c2"]), ("br", ["c3", "c4"])] {
        for w in ws {
            lab.attach("h1", net, w, &[]);
        }
    }
    // The bridge workloads carry the MAC weft derived for them, which is
    // what their ports are pinned to: they reach each other.
    assert!(ping_from(
        std::path::Path::new(&lab.netns_path("c3")),
        "10.88.0.3",
        5
    ));

    let dir = tempfile::tempdir().unwrap();
    let capture = capture::start(&lab.ns("world"), "u0", &dir.path().join("u0.pcap"));
    let forged = [
        ("c1", "10.42.1.3"),   // its neighbour c2
        ("c1", "10.88.0.2"),   // c3, on another network
        ("c1", "203.0.113.7"), // the outside world
        ("c3", "10.88.0.3"),   // its neighbour c4, on the same bridge
        ("c3", "10.42.1.2"),   // c1, on another network
        ("c3", "198.51.100.9"),
    ];
    for (ns, source) in forged {
        lab.exec_ok(ns, &format!("ip addr add {source}/32 dev eth0"));
        for _ in 0..3 {
            send_from(&lab, ns, source, 9999);
        }
    }
    // What a workload sends as itself leaves, masqueraded (to ports of its
    // own, so the two are told apart): the capture works, and datagrams
    // sent after the forged ones on the same paths got out.
    let file = dir.path().join("u0.pcap");
    wait_for(
        "both honest datagrams on the underlay",
        Duration::from_secs(20),
        || {
            send_from(&lab, "c1", "10.42.1.2", 9998);
            send_from(&lab, "c3", "10.88.0.2", 9997);
            let seen = captured(&file);
            seen.contains("192.0.2.1.")
                && seen.contains("192.0.2.2.9998")
                && seen.contains("192.0.2.2.9997")
        },
    );
    std::thread::sleep(Duration::from_millis(300));
    let (lines, _) = capture.stop();
    let forged_out: Vec<&String> = lines
        .iter()
        .filter(|l| l.contains("192.0.2.2.9999"))
        .collect();
    assert!(
        forged_out.is_empty(),
        "forged datagrams left: {forged_out:#?}"
    );
    let honest: Vec<&String> = lines
        .iter()
        .filter(|l| l.contains("192.0.2.2.9998") || l.contains("192.0.2.2.9997"))
        .collect();
    assert!(
        honest.iter().all(|l| l.contains("IP 192.0.2.1.")),
        "honest datagrams leave masqueraded: {honest:#?}"
    );

    // And the firewall counted what it dropped.
    let table = lab.exec_ok("h1", "nft list ruleset");
    let dropped: u64 = table
        .lines()
        .filter(|l| l.contains("drop"))
        .filter_map(|l| l.split("packets ").nth(1))
        .filter_map(|rest| rest.split(' ').next()?.parse::<u64>().ok())
        .sum();
    // At least c1's nine datagrams (routed: the reverse-path check sees
    // each). c3's may be stopped earlier: its ARP for the gateway can go
    // out from the forged address, and the ARP pin drops that instead.
    assert!(dropped >= 9, "{dropped} drops counted in\n{table}");
    lab.finish();
}
