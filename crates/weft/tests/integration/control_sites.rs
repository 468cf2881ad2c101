//! Sites and their VXLAN networks from the control plane, end to end (issue
//! 24): `weft control serve` and four lab hosts, h1 and h2 enrolled into
//! site `east` and h3 and h4 into `west` by their tokens. A VXLAN network
//! of east reaches exactly east's hosts (ARP and ping between containers
//! there; no device, FDB entry or VXLAN frame on west's); one riding in
//! WireGuard network `blue` shows only WireGuard on the underlay; h2
//! moved to west moves its FDB entries on every host within 2 s.

use serde_json::{Value, json};
use std::time::{Duration, Instant};
use weft_testkit::*;

use crate::control_common::{self, TenantPlane, operator};

const WEFT: &str = env!("CARGO_BIN_EXE_weft");
/// The control plane's namespace, `h10`: 192.0.2.10 on the switch.
const CP: &str = "192.0.2.10";

/// The ICMP payload (`ping -p`) that must never show on the underlay of
/// the encrypted segment: "weftsecret".
const PATTERN: &str = "77656674736563726574";
const MARKER: &[u8] = b"weftsecret";

const SEND: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/vxlan_send.py");

/// One hand-made VXLAN broadcast carrying `marker` from `from` to h1's
/// VXLAN port, on network `vni` (see `vxlan_send.py`).
fn inject(lab: &Lab, from: &str, vni: u64, marker: &str) {
    lab.exec_ok(
        from,
        &format!("python3 {SEND} 192.0.2.1 4789 {vni} broadcast:{marker} --inner 10.50.9.9"),
    );
}

/// `host`'s VXLAN device of network `net` (its alias is `weft:<net>`):
/// its name and VNI.
fn device(lab: &Lab, host: &str, net: &str) -> Option<(String, u64)> {
    let links: Value =
        serde_json::from_str(&lab.exec_ok(host, "ip -d -j link show type vxlan")).unwrap();
    links.as_array()?.iter().find_map(|l| {
        (l["ifalias"] == format!("weft:{net}").as_str()).then(|| {
            let vni = l["linkinfo"]["info_data"]["id"].as_u64().unwrap();
            (l["ifname"].as_str().unwrap().to_string(), vni)
        })
    })
}

/// The flooding destinations (one per remote VTEP) of `host`'s VXLAN
/// device of network `net`, sorted; `None` when the host has no such
/// device.
fn flooding(lab: &Lab, host: &str, net: &str) -> Option<Vec<String>> {
    let (dev, _) = device(lab, host, net)?;
    // The device may go between the two calls (a host leaving the site).
    let fdb = lab.exec(host, &format!("bridge -j fdb show dev {dev}"));
    let entries: Value = serde_json::from_slice(&fdb.stdout).ok()?;
    let mut dsts: Vec<String> = (entries.as_array().unwrap().iter())
        .filter(|e| e["mac"] == "00:00:00:00:00:00")
        .filter_map(|e| Some(e["dst"].as_str()?.to_string()))
        .collect();
    dsts.sort();
    Some(dsts)
}

/// Every FDB entry with a tunnel destination on `host`, whatever device.
fn tunnel_entries(lab: &Lab, host: &str) -> Vec<String> {
    let fdb: Value = serde_json::from_str(&lab.exec_ok(host, "bridge -j fdb show")).unwrap();
    (fdb.as_array().unwrap().iter())
        .filter(|e| e["dst"].is_string())
        .map(|e| e.to_string())
        .collect()
}

fn underlay(host: &str) -> String {
    format!("192.0.2.{}", host.trim_start_matches('h'))
}

/// The addresses of `site`'s hosts but `host`, sorted: `host`'s VTEPs.
fn others(host: &str, site: &[&str], address: &dyn Fn(&str) -> String) -> Vec<String> {
    let mut all: Vec<String> = (site.iter())
        .filter(|h| **h != host)
        .map(|h| address(h))
        .collect();
    all.sort();
    all
}

/// The IPv4 address of `ns`'s interface `dev`.
fn address_of(lab: &Lab, ns: &str, dev: &str) -> String {
    let out = lab.exec_ok(ns, &format!("ip -4 -j addr show dev {dev}"));
    let v: Value = serde_json::from_str(&out).unwrap();
    v[0]["addr_info"][0]["local"].as_str().unwrap().to_string()
}

fn ping(lab: &Lab, from: &str, to: &str) -> bool {
    lab.exec(from, &format!("ping -c 1 -W 2 -p {PATTERN} {to}"))
        .status
        .success()
}

#[test]
fn a_sites_vxlan_network_spans_exactly_its_hosts_and_follows_a_moved_host() {
    require_root!();
    if !require_tools(&["curl", "tcpdump", "bridge"]) {
        return;
    }
    let mut lab = Lab::new(WEFT);
    lab.add_namespaces(["h1", "h2", "h3", "h4", "h10", "c1", "c2"]);
    lab.switched_underlay(&["h1", "h2", "h3", "h4", "h10"]);
    let plane = TenantPlane::start(WEFT, &lab, "h10", CP);
    let (state, fingerprint, tenant) = (&plane.state, &plane.fingerprint, &plane.tenant);
    for site in ["east", "west"] {
        let labels = json!({"region": site});
        tenant.ok(
            &lab,
            "POST",
            "/v1/sites",
            Some(json!({"name": site, "labels": labels})),
        );
    }
    let url = format!("https://{CP}:50051");
    for (site, hosts) in [("east", ["h1", "h2"]), ("west", ["h3", "h4"])] {
        let args = [
            "token", "create", "--tenant", "acme", "--site", site, "--uses", "2",
        ];
        let token = operator(WEFT, state, &args)["secret"]
            .as_str()
            .unwrap()
            .to_string();
        for host in hosts {
            lab.start_agent_with(
                host,
                &control_common::enroll_args(host, &url, fingerprint, &token),
            );
        }
    }
    let ids: std::collections::BTreeMap<String, String> = wait_until(
        "four hosts to enroll into their sites and report",
        Duration::from_secs(30),
        || {
            let hosts = tenant.ok(&lab, "GET", "/v1/hosts", None);
            let hosts = hosts.as_array()?;
            let ready = hosts.len() == 4 && hosts.iter().all(|h| h["state"] == "online");
            ready.then(|| {
                (hosts.iter())
                    .map(|h| {
                        let name = h["name"].as_str().unwrap();
                        let want = if ["h1", "h2"].contains(&name) {
                            "east"
                        } else {
                            "west"
                        };
                        assert_eq!(h["site"], want, "{h}");
                        (name.to_string(), h["id"].as_str().unwrap().to_string())
                    })
                    .collect()
            })
        },
    );
    let east = tenant.ok(&lab, "GET", "/v1/sites/east/hosts", None);
    assert_eq!(east.as_array().unwrap().len(), 2, "{east}");

    // blue (WireGuard, every host) carries sec; lan rides the underlay.
    let blue = tenant.ok(
        &lab,
        "POST",
        "/v1/networks",
        Some(json!({"name": "blue", "subnet": "10.42.0.0/16"})),
    );
    let blue_address = |host: &str| -> String {
        let block = (blue["blocks"].as_array().unwrap().iter())
            .find(|b| b["host"] == ids[host].as_str())
            .unwrap()["block"]
            .as_str()
            .unwrap()
            .to_string();
        // The host's address on blue: the first of its block.
        block.replace(".0/24", ".1")
    };
    let lan = tenant.ok(
        &lab,
        "POST",
        "/v1/sites/east/vxlan-networks",
        Some(json!({"name": "lan", "subnet": "10.50.0.0/16"})),
    );
    let sec = tenant.ok(
        &lab,
        "POST",
        "/v1/sites/east/vxlan-networks",
        Some(json!({"name": "sec", "subnet": "10.51.0.0/16", "over": "blue"})),
    );
    let wlan = tenant.ok(
        &lab,
        "POST",
        "/v1/sites/west/vxlan-networks",
        Some(json!({"name": "wlan", "subnet": "10.52.0.0/16"})),
    );
    let vni = |net: &Value| net["vni"].as_u64().unwrap();
    assert_ne!(
        vni(&lan),
        vni(&sec),
        "two networks of one site share no VNI"
    );
    assert_eq!(lan["blocks"].as_array().unwrap().len(), 2, "{lan}");

    // East's hosts: each the other as its one VTEP (underlay for lan,
    // blue for sec). West's: nothing of east's networks.
    wait_for(
        "east's networks on east's hosts",
        Duration::from_secs(20),
        || {
            ["h1", "h2"].iter().all(|h| {
                flooding(&lab, h, "lan") == Some(others(h, &["h1", "h2"], &underlay))
                    && flooding(&lab, h, "sec") == Some(others(h, &["h1", "h2"], &blue_address))
            }) && ["h3", "h4"]
                .iter()
                .all(|h| flooding(&lab, h, "wlan") == Some(others(h, &["h3", "h4"], &underlay)))
        },
    );
    for (net, body) in [("lan", &lan), ("sec", &sec)] {
        for host in ["h1", "h2"] {
            assert_eq!(
                device(&lab, host, net).unwrap().1,
                vni(body),
                "{net} on {host}"
            );
        }
    }
    assert_eq!(device(&lab, "h3", "wlan").unwrap().1, vni(&wlan));
    for west in ["h3", "h4"] {
        assert_eq!(flooding(&lab, west, "lan"), None, "lan on {west}");
        assert_eq!(flooding(&lab, west, "sec"), None, "sec on {west}");
        let east_vteps: Vec<String> = (tunnel_entries(&lab, west).into_iter())
            .filter(|e| {
                ["h1", "h2"]
                    .iter()
                    .any(|h| e.contains(&format!("\"{}\"", underlay(h))))
            })
            .collect();
        assert!(
            east_vteps.is_empty(),
            "{west} has east's VTEPs: {east_vteps:?}"
        );
    }

    // Containers on h1 and h2 find each other by ARP and ping across lan;
    // west's underlay ports see no VXLAN frame meanwhile.
    let captures: Vec<(&str, capture::Capture)> = ["h3", "h4"]
        .iter()
        .map(|h| {
            let file = lab.dir.path().join(format!("{h}.pcap"));
            (*h, capture::start(&lab.ns(h), "u0", &file))
        })
        .collect();
    lab.attach("h1", "lan", "c1", &[]);
    lab.attach("h2", "lan", "c2", &[]);
    let c2_lan = address_of(&lab, "c2", "eth0");
    wait_for("c1 to reach c2 on lan", Duration::from_secs(20), || {
        ping(&lab, "c1", &c2_lan)
    });
    let neigh = lab.exec_ok("c1", &format!("ip -j neigh show {c2_lan}"));
    let c2_mac = lab.exec_ok("c2", "cat /sys/class/net/eth0/address");
    assert!(
        neigh.contains(c2_mac.trim()),
        "c1 resolved c2 by ARP: {neigh}"
    );
    for (host, cap) in captures {
        let (lines, _) = cap.stop();
        // West's own segment (wlan, h3 <-> h4) is there; none of east's.
        let of_east = |l: &str| {
            ["192.0.2.1.", "192.0.2.2."]
                .iter()
                .any(|a| l.contains(&format!("IP {a}")) || l.contains(&format!("> {a}")))
        };
        let vxlan: Vec<&String> = (lines.iter())
            .filter(|l| (l.contains("VXLAN") || l.contains(".4789:")) && of_east(l))
            .collect();
        assert!(vxlan.is_empty(), "{host} saw east's VXLAN: {vxlan:?}");
    }

    // sec rides in blue: between the hosts only WireGuard crosses the
    // underlay (the agents' own connection to the control plane aside).
    lab.attach("h1", "sec", "c1", &[]);
    lab.attach("h2", "sec", "c2", &[]);
    let c2_sec = address_of(&lab, "c2", "eth1");
    let file = lab.dir.path().join("over.pcap");
    let cap = capture::start(&lab.ns("h1"), "u0", &file);
    wait_for("c1 to reach c2 on sec", Duration::from_secs(20), || {
        ping(&lab, "c1", &c2_sec)
    });
    assert!(ping(&lab, "c1", &c2_sec));
    let (lines, raw) = cap.stop();
    // lan (not riding in blue) is in the clear by design: its frames (the
    // agents' probes of each other, the bridges' neighbour discovery) are
    // left out by VNI, with the inner packet tcpdump shows on the lines
    // after (those without a timestamp).
    let lan_in_clear = format!("vni {}", vni(&lan));
    let mut skipping = false;
    let between_hosts: Vec<String> = (lines.into_iter())
        .filter(|l| {
            if l.starts_with(|c: char| c.is_ascii_digit()) {
                skipping = l.contains(CP) || l.contains(&lan_in_clear);
            }
            !skipping
        })
        .collect();
    let wireguard_port = 51820;
    let packets = capture::only_wireguard(&between_hosts, &raw, wireguard_port, MARKER)
        .unwrap_or_else(|e| {
            panic!(
                "the underlay carried more than WireGuard: {e}\n{}",
                between_hosts.join("\n")
            )
        });
    assert!(packets >= 2, "too few WireGuard packets: {packets}");

    // While h2 is east's, a VXLAN frame it sends on lan reaches c1 (the
    // control for the refusal after its move).
    let c1_cap = capture::start(
        &lab.ns("c1"),
        "eth0",
        &lab.dir.path().join("c1-before.pcap"),
    );
    wait_for(
        "h2's frame to reach c1 while h2 is east's",
        Duration::from_secs(10),
        || {
            inject(&lab, "h2", vni(&lan), "from-east-h2");
            std::thread::sleep(Duration::from_millis(200));
            capture::seen(
                &std::fs::read(&c1_cap.file).unwrap_or_default(),
                "from-east-h2",
            ) > 0
        },
    );
    c1_cap.stop();

    // h2 moves to west (its containers leave first: a network with
    // workloads is not taken from under them). Every host's FDB follows
    // within 2 s: h1 loses h2, h3 and h4 gain it, h2 has west's VTEPs only.
    for net in ["lan", "sec"] {
        lab.weft_ok("h2", &["detach", net, "--id", "c2"]);
    }
    let started = Instant::now();
    let moved = tenant.ok(
        &lab,
        "PUT",
        &format!("/v1/hosts/{}", ids["h2"]),
        Some(json!({"site": "west"})),
    );
    assert_eq!(moved["site"], "west");
    wait_for(
        "every FDB to follow h2 to west",
        Duration::from_secs(10),
        || {
            flooding(&lab, "h1", "lan") == Some(vec![])
                && flooding(&lab, "h1", "sec") == Some(vec![])
                && flooding(&lab, "h2", "lan").is_none()
                && flooding(&lab, "h2", "sec").is_none()
                && ["h2", "h3", "h4"].iter().all(|h| {
                    flooding(&lab, h, "wlan") == Some(others(h, &["h2", "h3", "h4"], &underlay))
                })
        },
    );
    let took = started.elapsed();
    eprintln!("h2's move reached every host's FDB in {took:?}");
    assert!(took < Duration::from_secs(2), "took {took:?}");

    // Moved out, h2 is no longer lan's: its frames reach h1 and are
    // refused there (h1 takes VXLAN only from its VTEPs).
    let dir = lab.dir.path();
    let c1_cap = capture::start(&lab.ns("c1"), "eth0", &dir.join("c1-after.pcap"));
    let u0_cap = capture::start(&lab.ns("h1"), "u0", &dir.join("h1-after.pcap"));
    for _ in 0..3 {
        inject(&lab, "h2", vni(&lan), "from-west-h2");
    }
    std::thread::sleep(Duration::from_millis(500));
    let (_, c1) = c1_cap.stop();
    let (_, u0) = u0_cap.stop();
    assert_eq!(
        capture::seen(&u0, "from-west-h2"),
        3,
        "the frames reached h1"
    );
    assert_eq!(
        capture::seen(&c1, "from-west-h2"),
        0,
        "a frame of west's h2 reached lan"
    );

    // What is left in a site is named; a VXLAN network deleted goes from
    // every host of its site.
    let (status, body) = tenant.call(&lab, "DELETE", "/v1/sites/east", None);
    assert_eq!(status, 409, "{body}");
    let error = body["error"].as_str().unwrap();
    for name in ["\"h1\"", "\"lan\"", "\"sec\""] {
        assert!(error.contains(name), "{name}: {error}");
    }
    lab.weft_ok("h1", &["detach", "lan", "--id", "c1"]);
    tenant.ok(&lab, "DELETE", "/v1/vxlan-networks/lan", None);
    wait_for("lan to leave h1", Duration::from_secs(10), || {
        flooding(&lab, "h1", "lan").is_none()
    });
    drop(plane);
    lab.finish();
}
