//! Drift repaired within seconds: two lab hosts with a container each, then
//! hand edits behind the agent's back — a peer removed with `wg set`, a
//! rogue peer added with `wg set`, a workload's veth deleted — each undone
//! by the running agent within 5 s with a `warn` line naming it, and
//! traffic flowing again afterwards.

use std::time::{Duration, Instant};
use weft_testkit::*;

const WEFT: &str = env!("CARGO_BIN_EXE_weft");

/// How long a repair may take: the default pass runs every 2 s.
const REPAIRED_WITHIN: Duration = Duration::from_secs(5);

fn ping(lab: &Lab, from: &str, to: &str) -> bool {
    lab.exec(from, &format!("ping -c 1 -W 2 {to}"))
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

/// `wg show wg0 peers` in the agent's namespaces on `host`.
fn wg_peers(lab: &Lab, host: &str) -> String {
    let out = lab.in_agent(host, "wg show wg0 peers");
    stdout_of(out, "wg show wg0 peers")
}

/// Wait up to [`REPAIRED_WITHIN`] for `check`, from `since`; panics with
/// the agent's log when it does not come.
fn repaired(lab: &Lab, what: &str, since: Instant, mut check: impl FnMut() -> bool) {
    let left = REPAIRED_WITHIN.saturating_sub(since.elapsed());
    assert!(
        poll_until(left, Duration::from_millis(100), &mut check),
        "{what} not repaired within {REPAIRED_WITHIN:?}\n--- agent log ---\n{}",
        lab.agent_log("h1")
    );
}

/// The agent's log has a WARN line containing `text`.
fn warned(lab: &Lab, text: &str) -> bool {
    lab.agent_log("h1")
        .lines()
        .any(|l| l.contains("WARN") && l.contains(text))
}

#[test]
fn drift_is_repaired_within_seconds() {
    require_root!();
    require_tools!("wg");
    let mut lab = Lab::new(WEFT);
    lab.add_namespaces(["h1", "h2", "c1", "c2", "c3"]);
    lab.underlay("h1", "h2");
    lab.start_agent_with("h1", &["--metrics", "127.0.0.1:9586"]);
    lab.start_agent("h2");
    for host in ["h1", "h2"] {
        lab.network_on(host, "blue", 42);
    }
    lab.peer("h1", "h2", "blue", 42, 51820);
    lab.peer("h2", "h1", "blue", 42, 51820);
    lab.attach("h1", "blue", "c1", &[]);
    lab.attach("h2", "blue", "c2", &[]);
    // A bridge network beside it, which nobody touches.
    lab.bridge_on("h1", "br", "10.88.0.0/16");
    lab.attach("h1", "br", "c3", &[]);
    ping_eventually(&lab, "c1", "10.42.2.2");
    let k2 = lab.public_key("h2", "blue");

    // A peer removed by hand comes back, and says so.
    let start = Instant::now();
    let out = lab.in_agent("h1", &format!("wg set wg0 peer {k2} remove"));
    stdout_of(out, "wg set … remove");
    repaired(&lab, "the removed peer", start, || {
        wg_peers(&lab, "h1").contains(&k2) && warned(&lab, &format!("peer {k2} missing, re-added"))
    });
    let dump = stdout_of(lab.in_agent("h1", "wg show wg0 dump"), "wg show dump");
    let line = dump.lines().find(|l| l.starts_with(&k2)).unwrap();
    let fields: Vec<&str> = line.split('\t').collect();
    assert_eq!(
        (fields[2], fields[3]),
        ("192.0.2.2:51820", "10.42.2.0/24"),
        "re-added with its settings: {line}"
    );
    assert!(lab.weft_ok("h1", &["network", "ls"]).contains("blue"));

    // A peer added by hand goes, and says so.
    let rogue = sh("wg genkey | wg pubkey").trim().to_string();
    let start = Instant::now();
    let out = lab.in_agent(
        "h1",
        &format!("wg set wg0 peer {rogue} allowed-ips 10.42.9.0/24 endpoint 192.0.2.9:51820"),
    );
    stdout_of(out, "wg set … (rogue peer)");
    repaired(&lab, "the rogue peer", start, || {
        !wg_peers(&lab, "h1").contains(&rogue)
            && warned(&lab, &format!("peer {rogue} not weft's, removed"))
    });
    assert!(wg_peers(&lab, "h1").contains(&k2), "weft's peer stays");

    // Traffic works again.
    ping_eventually(&lab, "c1", "10.42.2.2");
    assert!(ping(&lab, "c2", "10.42.1.2"), "c2 -> c1");

    // A deleted workload veth is re-created, both ends, address and routes.
    let start = Instant::now();
    lab.exec_ok("h1", "ip link del w0-c1");
    repaired(&lab, "the deleted veth", start, || {
        lab.exec("h1", "ip link show w0-c1").status.success()
            && lab
                .exec("c1", "ip -o addr show dev eth0")
                .stdout
                .windows(10)
                .any(|w| w == b"10.42.1.2/")
            && warned(&lab, "w0-c1: veth missing, re-created")
    });
    let routes = lab.exec_ok("c1", "ip route show default");
    assert!(routes.contains("via 10.42.1.1 dev eth0"), "{routes}");
    ping_eventually(&lab, "c1", "10.42.2.2");
    assert!(
        ping(&lab, "c2", "10.42.1.2"),
        "c2 -> c1 after the veth came back"
    );
    let atts = lab.weft_json("h1", &["attachments"]);
    assert_eq!(atts.as_array().unwrap().len(), 2);

    // A firewall chain emptied by hand is put back.
    let chain = || lab.exec_ok("h1", "nft -j list chain inet weft fwd-from-blue");
    let rules_before = chain().matches("\"rule\"").count();
    assert!(rules_before > 0);
    let start = Instant::now();
    lab.exec_ok("h1", "nft flush chain inet weft fwd-from-blue");
    assert_eq!(chain().matches("\"rule\"").count(), 0);
    repaired(&lab, "the flushed firewall chain", start, || {
        chain().matches("\"rule\"").count() == rules_before
            && warned(&lab, "table inet weft: not as weft made it, restored")
    });

    // What was not touched was never "repaired": two more passes, and the
    // four repairs above are all the agent did.
    std::thread::sleep(Duration::from_secs(5));
    let log = lab.agent_log("h1");
    let repairs: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("WARN") && l.contains("weft_agent::repair"))
        .collect();
    assert_eq!(repairs.len(), 4, "{repairs:#?}");
    assert!(ping(&lab, "c3", "10.88.0.1"), "c3 -> its gateway");

    // And each repair was counted.
    let metrics = lab.exec_ok(
        "h1",
        "python3 -c \"import urllib.request as u; \
         print(u.urlopen('http://127.0.0.1:9586/metrics').read().decode())\"",
    );
    for (kind, count) in [
        ("peer_missing", 1),
        ("peer_rogue", 1),
        ("attachment_missing", 1),
        ("firewall", 1),
        ("interface_missing", 0),
    ] {
        let sample = format!("weft_drift_repairs_total{{kind=\"{kind}\"}} {count}\n");
        assert!(metrics.contains(&sample), "no {sample:?} in\n{metrics}");
    }

    lab.finish();
}
