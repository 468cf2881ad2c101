//! Several isolated networks per workload, egress NAT and DNS names across
//! hosts: hosts h1, h2; networks blue and red (and an internal green on h1);
//! c1 on blue and red (h1), c2 on blue (h2), c3 on red (h2), c4 on green
//! (h1); a "world" namespace reachable only through h1's uplink.

use weft_testkit::*;

const WEFT: &str = env!("CARGO_BIN_EXE_weft");
use std::time::{Duration, Instant};

/// A script in tests/fixtures.
fn fixture(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn ping(lab: &Lab, from: &str, to: &str) -> bool {
    lab.exec(from, &format!("ping -c1 -W1 {to}"))
        .status
        .success()
}

fn reaches(lab: &Lab, from: &str, to: &str) -> bool {
    // A few tries: the first packet may wait for a handshake.
    (0..5).any(|_| ping(lab, from, to))
}

fn dig(lab: &Lab, from: &str, server: &str, args: &str) -> String {
    let out = lab.exec(from, &format!("dig @{server} +time=2 +tries=1 {args}"));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn dig_short(lab: &Lab, from: &str, server: &str, name: &str) -> String {
    dig(lab, from, server, &format!("+short {name}"))
        .trim()
        .to_string()
}

/// Wait (up to 15 s) until c1 resolves c2.mesh.local through h1's blue DNS.
fn c2_resolves_from_c1(lab: &Lab, what: &str) {
    wait_for_value(
        what,
        Duration::from_secs(15),
        || dig_short(lab, "c1", "10.42.1.1", "c2.mesh.local"),
        |answer| answer == "10.42.2.2",
    );
}

fn peer_both_ways(lab: &Lab, network: &str, octet: u8, port: u16) {
    lab.peer("h1", "h2", network, octet, port);
    lab.peer("h2", "h1", network, octet, port);
}

fn weft_table(lab: &Lab, host: &str) -> String {
    lab.exec_ok(host, "nft -j list table inet weft")
}

#[test]
fn isolated_networks_egress_and_dns() {
    require_root!();
    let mut lab = Lab::new(WEFT);
    lab.add_namespaces(["h1", "h2", "world", "c1", "c2", "c3", "c4"]);
    lab.underlay("h1", "h2");
    let (h1, world) = (lab.ns("h1"), lab.ns("world"));
    sh(&format!(
        "ip link add name uplink netns {h1} type veth peer name eth0 netns {world} && \
         ip -n {h1} addr add 198.51.100.1/24 dev uplink && ip -n {h1} link set uplink up && \
         ip -n {world} addr add 198.51.100.2/24 dev eth0 && ip -n {world} link set eth0 up"
    ));
    lab.fixture(
        "world",
        &fixture("upstream_dns.py"),
        &["198.51.100.2", "198.51.100.99"],
    );
    lab.fixture("world", &fixture("who_is_it.py"), &["198.51.100.2", "8080"]);
    for h in ["h1", "h2"] {
        lab.start_agent_with(h, &["--host-name", h, "--dns-upstream", "198.51.100.2:53"]);
    }
    for h in ["h1", "h2"] {
        lab.network_on(h, "blue", 42);
        lab.network_on(h, "red", 43);
    }
    lab.weft_ok(
        "h1",
        &[
            "network",
            "create",
            "green",
            "--subnet",
            "10.44.0.0/16",
            "--internal",
        ],
    );
    peer_both_ways(&lab, "blue", 42, 51820);
    peer_both_ways(&lab, "red", 43, 51821);
    let attach = |host: &str, net: &str, id: &str| lab.attach(host, net, id, &["--name", id]);
    let c1_blue = attach("h1", "blue", "c1");
    let c1_red = attach("h1", "red", "c1");
    assert_eq!(
        (c1_blue["ifname"].as_str(), c1_red["ifname"].as_str()),
        (Some("eth0"), Some("eth1"))
    );
    assert_eq!(c1_blue["dns"]["nameservers"][0], "10.42.1.1");
    assert_eq!(c1_blue["dns"]["search"][0], "mesh.local");
    attach("h2", "blue", "c2");
    attach("h2", "red", "c3");
    attach("h1", "green", "c4");
    // One default route, via the first network; red's subnet via eth1.
    let routes = lab.exec_ok("c1", "ip route");
    assert!(
        routes.contains("default via 10.42.1.1 dev eth0"),
        "{routes}"
    );
    assert!(
        routes.contains("10.43.0.0/16 via 10.43.1.1 dev eth1"),
        "{routes}"
    );
    assert_eq!(routes.matches("default").count(), 1, "{routes}");

    // The matrix.
    assert!(reaches(&lab, "c1", "10.42.2.2"), "c1 -> c2 on blue");
    assert!(reaches(&lab, "c2", "10.42.1.2"), "c2 -> c1 on blue");
    assert!(reaches(&lab, "c1", "10.43.2.2"), "c1 -> c3 on red");
    assert!(reaches(&lab, "c3", "10.43.1.2"), "c3 -> c1 on red");
    assert!(!ping(&lab, "c2", "10.43.2.2"), "c2 -> c3 must be blocked");
    assert!(!ping(&lab, "c3", "10.42.2.2"), "c3 -> c2 must be blocked");
    assert!(
        !ping(&lab, "c2", "10.43.1.2"),
        "c2 -> c1's red address must be blocked"
    );
    assert!(
        !ping(&lab, "c2", "10.43.2.1"),
        "c2 -> h2's red address must be blocked"
    );
    // Routes added by hand change nothing.
    lab.exec_ok("c2", "ip route add 10.43.0.0/16 via 10.42.2.1 dev eth0");
    lab.exec_ok("c3", "ip route add 10.42.0.0/16 via 10.43.2.1 dev eth0");
    assert!(
        !ping(&lab, "c2", "10.43.2.2") && !ping(&lab, "c3", "10.42.2.2"),
        "blocked after routes by hand"
    );
    // Negative control: without weft's table the same ping goes through, so
    // the check above can fail; an agent restart puts the table back.
    lab.exec_ok("h2", "nft delete table inet weft");
    assert!(
        reaches(&lab, "c2", "10.43.2.2"),
        "control: unfiltered, c2 reaches c3"
    );
    lab.kill_agent("h2");
    lab.start_agent_with(
        "h2",
        &["--host-name", "h2", "--dns-upstream", "198.51.100.2:53"],
    );
    assert!(
        !ping(&lab, "c2", "10.43.2.2"),
        "the restarted agent rebuilt the rules"
    );
    assert!(
        reaches(&lab, "c1", "10.42.2.2"),
        "blue still works after h2's restart"
    );

    // Egress: masqueraded behind h1's uplink; none from the internal network.
    let seen = lab.exec_ok("c1", "python3 -c \"import socket; s=socket.create_connection(('198.51.100.2',8080),timeout=3); print(s.recv(64).decode())\"");
    assert_eq!(
        seen.trim(),
        "198.51.100.1",
        "world sees h1's uplink address"
    );
    let internal = lab.exec(
        "c4",
        "python3 -c \"import socket; socket.create_connection(('198.51.100.2',8080),timeout=2)\"",
    );
    assert!(
        !internal.status.success(),
        "internal network reached the world"
    );
    assert!(
        reaches(&lab, "c4", "10.44.0.1"),
        "the internal network still reaches its gateway"
    );

    // DNS across hosts, once the peers' names have been fetched.
    c2_resolves_from_c1(&lab, "c2.mesh.local to resolve on h1");
    assert_eq!(
        dig_short(&lab, "c1", "10.43.1.1", "c3.mesh.local"),
        "10.43.2.2"
    );
    assert_eq!(
        dig_short(&lab, "c1", "10.42.1.1", "C2.Mesh.Local"),
        "10.42.2.2",
        "case-insensitive"
    );
    assert_eq!(
        dig_short(&lab, "c1", "10.42.1.1", "h2.mesh.local"),
        "10.42.2.1",
        "host names"
    );
    assert_eq!(
        dig_short(&lab, "c1", "10.42.1.1", "c1.mesh.local"),
        "10.42.1.2"
    );
    // c3 is only on red: blue's names are not its to see…
    assert!(
        dig(&lab, "c3", "10.43.2.1", "c2.mesh.local").contains("status: NXDOMAIN"),
        "c2 is not on red"
    );
    // …while c1, on both, finds blue's names through red's responder too.
    assert_eq!(
        dig_short(&lab, "c1", "10.43.1.1", "c2.mesh.local"),
        "10.42.2.2"
    );
    assert!(dig(&lab, "c1", "10.42.1.1", "nobody.mesh.local").contains("status: NXDOMAIN"));
    assert_eq!(
        dig_short(&lab, "c1", "10.42.1.1", "example.test"),
        "198.51.100.99",
        "forwarded upstream"
    );
    assert_eq!(
        dig_short(&lab, "c1", "10.42.1.1", "+tcp c2.mesh.local"),
        "10.42.2.2"
    );
    assert_eq!(
        dig_short(&lab, "c1", "10.42.1.1", "+tcp example.test"),
        "198.51.100.99"
    );
    assert!(dig(&lab, "c1", "10.42.1.1", "+tcp nobody.mesh.local").contains("status: NXDOMAIN"));
    let refused = dig(&lab, "c4", "10.44.0.1", "example.test");
    assert!(
        refused.contains("status: REFUSED"),
        "internal networks never forward: {refused}"
    );
    // A client holding a TCP connection open delays nobody.
    let holder = std::process::Command::new("ip")
        .args(["netns", "exec", &lab.ns("c1"), "python3", "-c",
               "import socket,time; s=socket.create_connection(('10.42.1.1',53)); s.send(b'\\x00'); time.sleep(30)"])
        .spawn()
        .unwrap();
    lab.keep(holder);
    wait_for("the holder's connection", Duration::from_secs(5), || {
        lab.exec_ok("c1", "ss -Htn state established dst 10.42.1.1:53")
            .contains("10.42.1.1:53")
    });
    let start = Instant::now();
    for _ in 0..10 {
        assert_eq!(
            dig_short(&lab, "c1", "10.42.1.1", "+tcp c2.mesh.local"),
            "10.42.2.2"
        );
        assert_eq!(
            dig_short(&lab, "c1", "10.42.1.1", "c2.mesh.local"),
            "10.42.2.2"
        );
    }
    assert!(
        start.elapsed() < Duration::from_secs(10),
        "queries were held up: {:?}",
        start.elapsed()
    );

    // Detaching c1 from red leaves blue alone.
    lab.weft_ok("h1", &["detach", "red", "--id", "c1"]);
    assert!(!lab.exec("c1", "ip link show eth1").status.success());
    assert!(
        reaches(&lab, "c1", "10.42.2.2"),
        "c1 -> c2 after leaving red"
    );
    assert!(
        lab.exec_ok("c1", "ip route")
            .contains("default via 10.42.1.1 dev eth0")
    );
    // …and attaching again gives eth1 back without disturbing eth0.
    lab.attach("h1", "red", "c1", &["--name", "c1"]);
    assert!(reaches(&lab, "c1", "10.43.2.2") && reaches(&lab, "c1", "10.42.2.2"));

    // Restart: the same rules, byte for byte, and DNS still answers.
    let before = weft_table(&lab, "h1");
    lab.kill_agent("h1");
    lab.start_agent_with(
        "h1",
        &["--host-name", "h1", "--dns-upstream", "198.51.100.2:53"],
    );
    assert_eq!(
        weft_table(&lab, "h1"),
        before,
        "nft ruleset changed across a restart"
    );
    c2_resolves_from_c1(&lab, "DNS to come back");
    assert!(reaches(&lab, "c1", "10.42.2.2"));

    // Removing the networks leaves no table, chain, rule, interface or listener.
    for net in ["blue", "red", "green"] {
        lab.weft_ok("h1", &["network", "rm", net, "--force"]);
    }
    let tables = lab.exec_ok("h1", "nft list tables");
    assert!(!tables.contains("weft"), "{tables}");
    let links = lab.exec_ok("h1", "ip -br link");
    assert!(
        !links.contains("wg") && !links.contains("w0-") && !links.contains("w1-"),
        "{links}"
    );
    let listening = lab.exec_ok("h1", "ss -lntup");
    assert!(
        !listening.contains(":53 ") && !listening.contains(":7945 "),
        "{listening}"
    );
    lab.finish();
}
