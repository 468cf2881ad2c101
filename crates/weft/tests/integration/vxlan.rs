//! VXLAN networks end to end: three lab hosts on one switched underlay, a
//! container on each, one L2 segment (`--mode vxlan`); then a second
//! segment with another VNI and the same subnet on two more hosts; then a
//! segment carried inside a WireGuard network (`--over`). Captures on the
//! underlay show what crosses it.

use std::time::Duration;
use weft_testkit::*;

const WEFT: &str = env!("CARGO_BIN_EXE_weft");

/// The ICMP payload pattern (`ping -p`): "weftsecret", which must never
/// show on the underlay of an encrypted segment.
const PATTERN: &str = "77656674736563726574";
const MARKER: &[u8] = b"weftsecret";

/// The gateway every host of 10.50.0.0/16 carries.
const GATEWAY: &str = "10.50.255.254";

fn ping(lab: &Lab, from: &str, to: &str) -> bool {
    lab.exec(from, &format!("ping -c 1 -W 2 -p {PATTERN} {to}"))
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

/// A ping of `size` bytes of IP packet with DF set.
fn df_ping(lab: &Lab, from: &str, to: &str, size: u32) -> bool {
    let payload = size - 28;
    lab.exec(from, &format!("ping -c 1 -W 2 -M do -s {payload} {to}"))
        .status
        .success()
}

/// Send one UDP broadcast carrying `marker` from `from` to port 9999 of
/// `broadcast`.
fn broadcast(lab: &Lab, from: &str, broadcast: &str, marker: &str) {
    lab.exec_ok(
        from,
        &format!(
            "python3 -c \"import socket;s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM);\
             s.setsockopt(socket.SOL_SOCKET,socket.SO_BROADCAST,1);\
             s.sendto(b'{marker}',('{broadcast}',9999))\""
        ),
    );
}

/// Create VXLAN network `name` on `host`: 10.50.0.0/16, block
/// 10.50.N.0/24, with `extra` arguments.
fn vxlan_on(
    lab: &Lab,
    host: &str,
    name: &str,
    vni: u32,
    n: u8,
    extra: &[&str],
) -> serde_json::Value {
    let vni = vni.to_string();
    let block = format!("10.50.{n}.0/24");
    let mut args = vec![
        "network",
        "create",
        name,
        "--mode",
        "vxlan",
        "--subnet",
        "10.50.0.0/16",
        "--block",
        &block,
        "--vni",
        &vni,
    ];
    args.extend_from_slice(extra);
    lab.weft_json(host, &args)
}

/// Make host `to` (hN, underlay 192.0.2.N, block 10.50.N.0/24) a VTEP of
/// `name` on `from`.
fn vtep(lab: &Lab, from: &str, to: &str, name: &str) {
    let n = to.trim_start_matches('h');
    lab.weft_ok(
        from,
        &[
            "peer",
            "add",
            name,
            "--endpoint",
            &format!("192.0.2.{n}"),
            "--allowed-ips",
            &format!("10.50.{n}.0/24"),
        ],
    );
}

/// The flooding destinations of a host's VXLAN device, sorted, as
/// `bridge fdb` shows them.
fn flooding(lab: &Lab, host: &str, dev: &str) -> Vec<String> {
    let out = lab.exec_ok(host, &format!("bridge -j fdb show dev {dev}"));
    let entries: serde_json::Value = serde_json::from_str(&out).unwrap();
    let mut dsts: Vec<String> = entries
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["mac"] == "00:00:00:00:00:00")
        .map(|e| e["dst"].as_str().unwrap_or("?").to_string())
        .collect();
    dsts.sort();
    dsts
}

fn mac_of(lab: &Lab, ns: &str, dev: &str) -> String {
    let out = lab.exec_ok(ns, &format!("ip -j link show {dev}"));
    let link: serde_json::Value = serde_json::from_str(&out).unwrap();
    link[0]["address"].as_str().unwrap().to_string()
}

/// The MAC `ns` has resolved `ip` to (`ip neigh`), if any.
fn neighbour(lab: &Lab, ns: &str, ip: &str) -> Option<String> {
    let out = lab.exec_ok(ns, &format!("ip -j neigh show {ip}"));
    let entries: serde_json::Value = serde_json::from_str(&out).unwrap();
    entries
        .as_array()?
        .iter()
        .find_map(|e| Some(e["lladdr"].as_str()?.to_string()))
}

/// The names of a host's links of one kind.
fn links_of(lab: &Lab, host: &str, kind: &str) -> Vec<String> {
    let out = lab.exec_ok(host, &format!("ip -j link show type {kind}"));
    let links: serde_json::Value = serde_json::from_str(&out).unwrap();
    links
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["ifname"].as_str().unwrap().to_string())
        .collect()
}

/// Lines of a capture that mention `what`.
fn count(lines: &[String], what: &str) -> usize {
    lines.iter().filter(|l| l.contains(what)).count()
}

#[test]
fn three_hosts_one_segment_another_vni_restart_and_removal() {
    require_root!();
    let mut lab = Lab::new(WEFT);
    let hosts = ["h1", "h2", "h3", "h4", "h5"];
    lab.add_namespaces(hosts);
    lab.add_namespaces(["c1", "c2", "c3", "c4", "c5"]);
    lab.switched_underlay(&hosts);
    for host in hosts {
        lab.start_agent(host);
    }

    // Network red, VNI 100, on h1–h3; each host's tunnel endpoint is its
    // underlay address (h3 names its underlay interface instead).
    for (i, host) in ["h1", "h2", "h3"].iter().enumerate() {
        let local = format!("192.0.2.{}", i + 1);
        let underlay = match *host {
            "h3" => ["--underlay", "u0"],
            _ => ["--local", local.as_str()],
        };
        let net = vxlan_on(&lab, host, "red", 100, i as u8 + 1, &underlay);
        let want = match *host {
            "h3" => "device:u0".to_string(),
            _ => format!("local:{local}"),
        };
        assert_eq!(net["underlay"], want.as_str());
        assert_eq!(net["interface"], "weft-vbr0");
        assert_eq!(net["vxlan_interface"], "weft-vx0");
        assert_eq!(net["gateway"], GATEWAY);
        assert_eq!(net["mtu"], 1450);
        assert_eq!(net["vxlan_port"], 4789);
    }
    for from in ["h1", "h2", "h3"] {
        for to in ["h1", "h2", "h3"] {
            if from != to {
                vtep(&lab, from, to, "red");
            }
        }
    }
    // The device as iproute2 sees it: IANA's port (not the kernel's 8472),
    // learning off, on the bridge; one flooding entry per other host.
    let dev = lab.exec_ok("h1", "ip -d -j link show weft-vx0");
    let dev: serde_json::Value = serde_json::from_str(&dev).unwrap();
    let data = &dev[0]["linkinfo"]["info_data"];
    assert_eq!(data["id"], 100, "{dev}");
    assert_eq!(data["port"], 4789, "{dev}");
    assert_eq!(data["learning"], false, "{dev}");
    assert_eq!(dev[0]["master"], "weft-vbr0", "{dev}");
    assert_eq!(dev[0]["mtu"], 1450, "{dev}");
    assert_eq!(flooding(&lab, "h1", "weft-vx0"), ["192.0.2.2", "192.0.2.3"]);

    for (i, c) in ["c1", "c2"].iter().enumerate() {
        let host = format!("h{}", i + 1);
        let att = lab.attach(&host, "red", c, &["--name", c]);
        assert_eq!(att["address"], format!("10.50.{}.2/16", i + 1));
        assert_eq!(att["gateway"], GATEWAY);
        assert_eq!(att["mtu"], 1450);
        // DNS is this host's own address: the gateway is everyone's.
        assert_eq!(att["dns"]["nameservers"][0], format!("10.50.{}.1", i + 1));
    }
    // c3 joins through CNI, as Podman would attach it.
    let conf = serde_json::json!({
        "cniVersion": "1.1.0", "name": "red", "type": "weft", "mode": "vxlan",
        "agentSocket": lab.agents["h3"].socket.display().to_string(),
    })
    .to_string();
    let c3_netns = lab.netns_path("c3");
    let added = cni::plugin(
        &lab.weft,
        &lab.ns("h3"),
        &cni::vars("ADD", "c3", &c3_netns, "eth0"),
        &conf,
    );
    assert!(added.ok, "CNI ADD: {} {}", added.stdout, added.stderr);
    let result = added.json();
    assert_eq!(result["ips"][0]["address"], "10.50.3.2/16", "{result}");
    assert_eq!(result["ips"][0]["gateway"], GATEWAY, "{result}");
    assert_eq!(result["dns"]["nameservers"][0], "10.50.3.1", "{result}");
    let checked = cni::plugin(
        &lab.weft,
        &lab.ns("h3"),
        &cni::vars("CHECK", "c3", &c3_netns, "eth0"),
        &conf,
    );
    assert!(
        checked.ok,
        "CNI CHECK: {} {}",
        checked.stdout, checked.stderr
    );
    // A VXLAN network CNI cannot make (it needs a VNI and peers): the
    // spec's error, saying how to make it.
    let missing = conf.replace("\"red\"", "\"nosuch\"");
    let refused = cni::plugin(
        &lab.weft,
        &lab.ns("h3"),
        &cni::vars("ADD", "c3b", &c3_netns, "eth1"),
        &missing,
    );
    assert!(!refused.ok);
    assert!(
        refused.msg().contains("--mode vxlan --vni"),
        "{}",
        refused.stdout
    );

    // Containers on three hosts, one subnet: they reach each other, and
    // each resolves the others' addresses to their own MACs across hosts.
    let pcap = lab.dir.path().join("red.pcap");
    let cap = capture::start(&lab.ns("h1"), "u0", &pcap);
    ping_eventually(&lab, "c1", "10.50.2.2");
    ping_eventually(&lab, "c1", "10.50.3.2");
    ping_eventually(&lab, "c3", "10.50.2.2");
    assert_eq!(
        neighbour(&lab, "c1", "10.50.2.2"),
        Some(mac_of(&lab, "c2", "eth0"))
    );
    assert_eq!(
        neighbour(&lab, "c1", "10.50.3.2"),
        Some(mac_of(&lab, "c3", "eth0"))
    );
    // The gateway, the same address on every host, is each container's
    // own host: ARP for it never leaves the host.
    for (c, h) in [("c1", "h1"), ("c2", "h2"), ("c3", "h3")] {
        lab.exec_ok(c, "ip neigh flush all");
        assert!(ping(&lab, c, GATEWAY), "{c} -> its gateway");
        assert_eq!(
            neighbour(&lab, c, GATEWAY),
            Some(mac_of(&lab, h, "weft-vbr0")),
            "{c}'s gateway is not its own host's bridge"
        );
    }
    let (lines, raw) = cap.stop();
    let text = lines.join("\n");
    assert!(
        count(&lines, "192.0.2.2.4789: VXLAN") > 0 && count(&lines, "vni 100") > 0,
        "no VXLAN UDP 4789 with VNI 100 on the underlay:\n{text}"
    );
    assert_eq!(
        count(&lines, &format!("who-has {GATEWAY}")),
        0,
        "ARP for the gateway crossed the underlay:\n{text}"
    );
    // Plain VXLAN is not encrypted: the WireGuard-only check must say so.
    assert!(capture::only_wireguard(&lines, &raw, 51820, MARKER).is_err());

    // A broadcast reaches every other host once (head-end replication: one
    // copy per remote VTEP on the underlay, one datagram in each container).
    let pcap = lab.dir.path().join("broadcast.pcap");
    let cap = capture::start(&lab.ns("h1"), "u0", &pcap);
    let (c2_pcap, c3_pcap) = (
        lab.dir.path().join("c2.pcap"),
        lab.dir.path().join("c3.pcap"),
    );
    let c2_cap = capture::start(&lab.ns("c2"), "eth0", &c2_pcap);
    let c3_cap = capture::start(&lab.ns("c3"), "eth0", &c3_pcap);
    broadcast(&lab, "c1", "10.50.255.255", "weft-red-broadcast");
    std::thread::sleep(Duration::from_millis(500));
    let (underlay, _) = cap.stop();
    let (c2_lines, _) = c2_cap.stop();
    let (c3_lines, _) = c3_cap.stop();
    assert_eq!(count(&c2_lines, ".9999: UDP"), 1, "{c2_lines:?}");
    assert_eq!(count(&c3_lines, ".9999: UDP"), 1, "{c3_lines:?}");
    assert_eq!(
        count(&underlay, ".9999: UDP"),
        2,
        "one copy per remote host:\n{}",
        underlay.join("\n")
    );

    // Egress leaves through the container's own host, masqueraded: h4 has
    // no route back to 10.50.0.0/16 (green is not there yet).
    assert!(ping(&lab, "c1", "192.0.2.4"), "c1 -> the outside (h4)");

    // Names across hosts, from each host's own DNS responder.
    wait_for("c2's name on h1", Duration::from_secs(20), || {
        let out = lab.exec("c1", "dig @10.50.1.1 +short +time=2 +tries=1 c2.mesh.local");
        String::from_utf8_lossy(&out.stdout).trim() == "10.50.2.2"
    });

    // MTU: 1450 bytes with DF cross, 1451 do not.
    assert!(df_ping(&lab, "c1", "10.50.2.2", 1450), "1450 bytes with DF");
    assert!(
        !df_ping(&lab, "c1", "10.50.2.2", 1451),
        "1451 bytes with DF"
    );

    // Status: each remote VTEP, healthy while its agent answers over the
    // overlay, unhealthy when it does not.
    let vteps = |lab: &Lab| -> Vec<(String, String)> {
        let status = lab.weft_json("h1", &["status", "red"]);
        let mut peers: Vec<(String, String)> = status["networks"][0]["peers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| {
                (
                    p["endpoint"].as_str().unwrap().to_string(),
                    p["health"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        peers.sort();
        peers
    };
    wait_for("both VTEPs healthy", Duration::from_secs(20), || {
        vteps(&lab)
            == [
                ("192.0.2.2".to_string(), "healthy".to_string()),
                ("192.0.2.3".to_string(), "healthy".to_string()),
            ]
    });
    lab.stop_agent("h3");
    wait_for("h3's VTEP unhealthy", Duration::from_secs(20), || {
        vteps(&lab)[1] == ("192.0.2.3".to_string(), "unhealthy".to_string())
    });
    lab.start_agent("h3");

    // Negative control for the gateway: without the rule that keeps its
    // ARP local, the same capture sees it cross.
    // The agent's drift repair puts the set back within its interval
    // (2 s), so the set is flushed right before each try, the capture
    // already running, and a try the repair beat is made again.
    let pcap = lab.dir.path().join("gateway.pcap");
    let cap = capture::start(&lab.ns("h2"), "u0", &pcap);
    for _ in 0..3 {
        lab.exec_ok("h2", "nft flush set bridge weft local-gateways");
        lab.exec_ok("c2", "ip neigh flush all");
        assert!(ping(&lab, "c2", GATEWAY));
        if lab
            .exec("h2", "nft list set bridge weft local-gateways")
            .stdout
            .windows(GATEWAY.len())
            .all(|w| w != GATEWAY.as_bytes())
        {
            break;
        }
    }
    let (lines, _) = cap.stop();
    assert!(
        count(&lines, &format!("who-has {GATEWAY}")) > 0,
        "the capture must see gateway ARP when nothing holds it back: {lines:?}"
    );

    // Network green: VNI 200, the same subnet and blocks, on h4 and h5 —
    // and (misconfigured on purpose) flooding to h1 and h2 as well, so its
    // frames do reach red's hosts. They arrive with VNI 200 and are dropped.
    // h4 stands in for red's h1, h5 for h2: same blocks, same addresses.
    vxlan_on(&lab, "h4", "green", 200, 1, &[]);
    vxlan_on(&lab, "h5", "green", 200, 2, &[]);
    for (from, to) in [("h4", "192.0.2.5"), ("h5", "192.0.2.4")] {
        lab.weft_ok(from, &["peer", "add", "green", "--endpoint", to]);
    }
    for stray in ["192.0.2.1", "192.0.2.2"] {
        lab.weft_ok("h4", &["peer", "add", "green", "--endpoint", stray]);
    }
    lab.attach("h4", "green", "c4", &[]);
    lab.attach("h5", "green", "c5", &[]);
    let pcap = lab.dir.path().join("green.pcap");
    let cap = capture::start(&lab.ns("h1"), "u0", &pcap);
    let c1_pcap = lab.dir.path().join("c1.pcap");
    let c1_cap = capture::start(&lab.ns("c1"), "eth0", &c1_pcap);
    let c2_cap = capture::start(&lab.ns("c2"), "eth0", &c2_pcap);
    // c4 has c1's address and reaches c5, which has c2's.
    ping_eventually(&lab, "c4", "10.50.2.2");
    broadcast(&lab, "c4", "10.50.255.255", "weft-green-broadcast");
    std::thread::sleep(Duration::from_millis(500));
    let (underlay, _) = cap.stop();
    let (c1_lines, _) = c1_cap.stop();
    let (c2_lines, _) = c2_cap.stop();
    assert!(
        count(&underlay, "vni 200") > 0,
        "green's frames must reach h1 for this to show anything: {underlay:?}"
    );
    for (c, lines) in [("c1", &c1_lines), ("c2", &c2_lines)] {
        let crossed: Vec<&String> = lines
            .iter()
            .filter(|l| l.contains("ICMP echo") || l.contains(".9999: UDP"))
            .collect();
        assert!(
            crossed.is_empty(),
            "green's frames reached {c}: {crossed:?}"
        );
    }

    // kill -9 h1's agent; meanwhile an FDB entry is lost and a stranger's
    // appears. The new agent puts back exactly the network's entries.
    lab.kill_agent("h1");
    lab.exec_ok(
        "h1",
        "bridge fdb del 00:00:00:00:00:00 dev weft-vx0 dst 192.0.2.2 && \
         bridge fdb append 00:00:00:00:00:00 dev weft-vx0 dst 192.0.2.99",
    );
    lab.start_agent("h1");
    wait_for("h1's FDB restored", Duration::from_secs(10), || {
        flooding(&lab, "h1", "weft-vx0") == ["192.0.2.2", "192.0.2.3"]
    });
    assert_eq!(links_of(&lab, "h1", "bridge"), ["weft-vbr0"]);
    assert_eq!(links_of(&lab, "h1", "vxlan"), ["weft-vx0"]);
    ping_eventually(&lab, "c1", "10.50.2.2");

    // Drift: an entry deleted by hand is back within seconds.
    lab.exec_ok(
        "h1",
        "bridge fdb del 00:00:00:00:00:00 dev weft-vx0 dst 192.0.2.3",
    );
    wait_for("the drift repair", Duration::from_secs(10), || {
        flooding(&lab, "h1", "weft-vx0") == ["192.0.2.2", "192.0.2.3"]
    });

    // peer rm removes its entry; network rm leaves nothing.
    lab.weft_ok("h1", &["peer", "rm", "red", "--endpoint", "192.0.2.3"]);
    assert_eq!(flooding(&lab, "h1", "weft-vx0"), ["192.0.2.2"]);
    lab.weft_ok("h1", &["network", "rm", "red", "--force"]);
    assert!(links_of(&lab, "h1", "bridge").is_empty());
    assert!(links_of(&lab, "h1", "vxlan").is_empty());
    assert!(links_of(&lab, "h1", "veth").iter().all(|l| l == "u0"));
    let fdb = lab.exec_ok("h1", "bridge fdb show");
    assert!(!fdb.contains("dst "), "FDB entries left: {fdb}");
    lab.finish();
}

#[test]
fn a_segment_inside_wireguard_is_encrypted_with_mtu_1370() {
    require_root!();
    let mut lab = Lab::new(WEFT);
    lab.add_namespaces(["h1", "h2", "c1", "c2"]);
    lab.underlay("h1", "h2");
    lab.start_agent("h1");
    lab.start_agent("h2");
    // WireGuard network blue carries VXLAN network sec: the tunnel
    // endpoints are the hosts' addresses on blue (10.42.N.1). Blue is
    // internal: its hosts still take the segment's VXLAN port from it.
    for (host, n) in [("h1", 1), ("h2", 2)] {
        let block = format!("10.42.{n}.0/24");
        let args = [
            "network",
            "create",
            "blue",
            "--subnet",
            "10.42.0.0/16",
            "--block",
            &block,
            "--internal",
        ];
        lab.weft_json(host, &args);
    }
    lab.peer("h1", "h2", "blue", 42, 51820);
    lab.peer("h2", "h1", "blue", 42, 51820);
    for (host, n, other) in [("h1", 1, 2), ("h2", 2, 1)] {
        let net = vxlan_on(&lab, host, "sec", 300, n, &["--over", "blue"]);
        assert_eq!(net["mtu"], 1370, "blue's 1420 minus 50");
        assert_eq!(net["underlay"], "over:blue");
        lab.weft_ok(
            host,
            &[
                "peer",
                "add",
                "sec",
                "--endpoint",
                &format!("10.42.{other}.1"),
                "--allowed-ips",
                &format!("10.50.{other}.0/24"),
            ],
        );
    }
    let dev = lab.exec_ok("h1", "ip -d -j link show weft-vx0");
    let dev: serde_json::Value = serde_json::from_str(&dev).unwrap();
    let data = &dev[0]["linkinfo"]["info_data"];
    assert_eq!(data["local"], "10.42.1.1", "{dev}");
    assert_eq!(data["link"], "wg0", "{dev}");
    let c1 = lab.attach("h1", "sec", "c1", &[]);
    lab.attach("h2", "sec", "c2", &[]);
    assert_eq!(c1["mtu"], 1370);
    // c2 is on blue too (eth1, 10.42.2.2): from sec, blue stays closed,
    // though h1 would route there.
    lab.attach("h2", "blue", "c2", &[]);

    let pcap = lab.dir.path().join("over.pcap");
    let cap = capture::start(&lab.ns("h1"), "u0", &pcap);
    ping_eventually(&lab, "c1", "10.50.2.2");
    assert!(ping(&lab, "c2", "10.50.1.2"), "c2 -> c1");
    assert!(!ping(&lab, "c1", "10.42.2.2"), "sec must not reach blue");
    // MTU: 1370 bytes with DF cross, 1371 do not.
    assert!(df_ping(&lab, "c1", "10.50.2.2", 1370), "1370 bytes with DF");
    assert!(
        !df_ping(&lab, "c1", "10.50.2.2", 1371),
        "1371 bytes with DF"
    );
    let (lines, raw) = cap.stop();
    let packets = capture::only_wireguard(&lines, &raw, 51820, MARKER).unwrap_or_else(|e| {
        panic!(
            "the underlay carried more than WireGuard: {e}\n{}",
            lines.join("\n")
        )
    });
    assert!(packets >= 4, "too few WireGuard packets: {packets}");
    assert_eq!(count(&lines, "VXLAN"), 0, "{lines:?}");

    // Negative control: traffic in the clear on the same underlay fails
    // the same check.
    let plain = lab.dir.path().join("plain.pcap");
    let cap = capture::start(&lab.ns("h1"), "u0", &plain);
    assert!(ping(&lab, "h1", "192.0.2.2"));
    let (lines, raw) = cap.stop();
    assert!(capture::only_wireguard(&lines, &raw, 51820, MARKER).is_err());

    // Bad input: one line each, nothing created.
    // A port another program holds.
    let holder = std::process::Command::new("ip")
        .args(["netns", "exec", &lab.ns("h1"), "python3", "-c"])
        .arg("import socket,time\ns=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\ns.bind(('0.0.0.0',4790))\nprint('ready',flush=True)\ntime.sleep(60)")
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut holder = holder;
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(holder.stdout.take().unwrap()),
        &mut line,
    )
    .unwrap();
    lab.keep(holder);
    let refused = |args: &[&str], want: &str| {
        let out = lab.weft("h1", args);
        let err = String::from_utf8_lossy(&out.stderr).to_string();
        assert!(
            !out.status.success() && err.contains(want),
            "{args:?}: {err}"
        );
        assert_eq!(err.trim().lines().count(), 1, "{err}");
    };
    let create = |name: &'static str, rest: &[&'static str]| {
        let mut args = vec![
            "network",
            "create",
            name,
            "--mode",
            "vxlan",
            "--subnet",
            "10.70.0.0/16",
        ];
        args.extend_from_slice(rest);
        args
    };
    refused(&create("x", &["--vni", "0"]), "vni");
    refused(&create("x", &["--vni", "16777216"]), "16777215");
    refused(
        &create("x", &["--vni", "300"]),
        "already used by network \"sec\"",
    );
    refused(
        &create("x", &["--vni", "7", "--port", "51820"]),
        "WireGuard listen port",
    );
    refused(
        &create("x", &["--vni", "7", "--over", "sec"]),
        "not a WireGuard network",
    );
    refused(
        &create("x", &["--vni", "7", "--over", "nope"]),
        "not a WireGuard network",
    );
    refused(
        &create("x", &["--vni", "7", "--over", "blue", "--mtu", "1371"]),
        "at most 1370",
    );
    refused(
        &create("x", &["--vni", "7", "--underlay", "u0", "--mtu", "1451"]),
        "at most 1450",
    );
    refused(
        &create("x", &["--vni", "7", "--underlay", "nope0"]),
        "no such interface",
    );
    refused(
        &create("x", &["--vni", "7", "--local", "192.0.2.9"]),
        "not an address of this host",
    );
    refused(
        &create("x", &["--vni", "7", "--port", "4790"]),
        "in use by another program",
    );
    refused(&["network", "rm", "blue"], "carries VXLAN network \"sec\"");
    let nets = lab.weft_json("h1", &["network", "ls"]);
    assert_eq!(nets.as_array().unwrap().len(), 2, "{nets}");
    assert_eq!(links_of(&lab, "h1", "vxlan"), ["weft-vx0"]);

    // kill -9: the userspace WireGuard interface dies with the agent and
    // takes the VXLAN device over it along; the new agent makes both again.
    lab.kill_agent("h1");
    lab.start_agent("h1");
    ping_eventually(&lab, "c1", "10.50.2.2");
    assert_eq!(links_of(&lab, "h1", "vxlan"), ["weft-vx0"]);
    assert_eq!(flooding(&lab, "h1", "weft-vx0"), ["10.42.2.1"]);
    lab.finish();
}
