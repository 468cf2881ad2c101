//! Restart and reconcile on one host: after `kill -9` or a clean stop the
//! agent restores what is missing, releases what belonged to vanished
//! namespaces, and removes leftovers that carry its mark.

use weft_testkit::*;

const WEFT: &str = env!("CARGO_BIN_EXE_weft");
use std::time::Duration;

fn attach(lab: &Lab, id: &str) -> serde_json::Value {
    lab.attach("h1", "blue", id, &[])
}

#[test]
fn restart_restores_releases_and_cleans() {
    require_root!();
    let mut lab = Lab::new(WEFT);
    lab.add_namespaces(["h1", "c1", "c2", "c3"]);
    lab.start_agent("h1");
    // blue: subnet 10.42.0.0/16, block 10.42.1.0/24.
    lab.network_on("h1", "blue", 42);
    let key = lab.weft_json("h1", &["network", "ls"])[0]["public_key"].clone();
    assert_eq!(attach(&lab, "c1")["address"], "10.42.1.2/32");
    assert_eq!(attach(&lab, "c2")["address"], "10.42.1.3/32");
    assert_eq!(attach(&lab, "c3")["address"], "10.42.1.4/32");
    // Containers reach their host, and each other through it.
    lab.exec_ok("c1", "ping -c1 -W2 10.42.1.1");
    lab.exec_ok("c1", "ping -c1 -W2 10.42.1.3");

    // Crash; meanwhile c2's namespace goes away, c3's veth is deleted by
    // hand, and a leftover link carrying weft's mark appears.
    lab.kill_agent("h1");
    sh(&format!("ip netns del {}", lab.ns("c2")));
    lab.exec_ok("h1", "ip link del w0-c3");
    // c1's pair as a crash right after creating it leaves it: both ends,
    // no alias, nothing configured.
    lab.exec_ok("h1", "ip link del w0-c1");
    lab.exec_ok(
        "h1",
        &format!(
            "ip link add w0-c1 type veth peer name eth0 netns {}",
            lab.ns("c1")
        ),
    );
    lab.exec_ok("h1", "ip link add w0-stray type veth peer name w0-stray-p");
    lab.exec_ok("h1", "ip link set w0-stray alias weft:blue/forgotten");
    lab.exec_ok("h1", "ip link add keepme type veth peer name keepme-p");

    lab.start_agent("h1");
    let atts = lab.weft_json("h1", &["attachments"]);
    let ids: Vec<&str> = atts
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        vec!["c1", "c3"],
        "c2's namespace is gone, so is its attachment"
    );
    let links = lab.exec_ok("h1", "ip -o link show");
    assert!(
        links.contains("w0-c1") && links.contains("w0-c3"),
        "{links}"
    );
    assert!(
        !links.contains("w0-c2") && !links.contains("w0-stray"),
        "{links}"
    );
    assert!(
        links.contains("keepme"),
        "links without weft's mark are not ours: {links}"
    );
    // The same key and the same addresses; c3 was re-created.
    assert_eq!(
        lab.weft_json("h1", &["network", "ls"])[0]["public_key"],
        key
    );
    lab.exec_ok("c3", "ip -br addr show eth0 | grep -q 10.42.1.4");
    lab.exec_ok("c1", "ip -br addr show eth0 | grep -q 10.42.1.2");
    wait_for("c3 to reach its host", Duration::from_secs(10), || {
        lab.exec("c3", "ping -c1 -W1 10.42.1.1").status.success()
    });
    lab.exec_ok("c1", "ping -c1 -W2 10.42.1.4");
    // c2's address is free again.
    lab.add_netns("c4");
    assert_eq!(attach(&lab, "c4")["address"], "10.42.1.3/32");

    // A clean stop and start changes nothing.
    let before = lab.weft_ok("h1", &["attachments", "-o", "json"]);
    let status = lab.stop_agent("h1");
    assert!(status.success(), "agent exit: {status}");
    assert!(!lab.agents.contains_key("h1"));
    lab.start_agent("h1");
    assert_eq!(lab.weft_ok("h1", &["attachments", "-o", "json"]), before);
    lab.exec_ok("c1", "ping -c1 -W2 10.42.1.1");

    // A second agent cannot take the same state directory.
    let state = lab.agents["h1"].state_dir.clone();
    let out = run_sh(&format!(
        "ip netns exec {} {WEFT} agent --socket {}/other.sock --state-dir {}",
        lab.ns("h1"),
        lab.dir.path().display(),
        state.display()
    ));
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("another weft agent is using the state directory")
    );

    // Removing the network with --force detaches everything.
    let out = lab.weft_json("h1", &["network", "rm", "blue", "--force"]);
    assert_eq!(out["detached"], 3);
    let links = lab.exec_ok("h1", "ip -o link show");
    assert!(!links.contains("w0-") && !links.contains("wg0"), "{links}");
    let uapi = lab.in_agent("h1", "ls /run/wireguard");
    assert_eq!(
        String::from_utf8_lossy(&uapi.stdout).trim(),
        "",
        "UAPI socket left"
    );
    lab.finish();
}

/// A crash between creating a network's bridge and marking it leaves a
/// bare bridge of the recorded name; the next start takes it over. A
/// bridge that someone has brought up is not weft's to take.
#[test]
fn a_bridge_left_unmarked_by_a_crash_is_finished() {
    require_root!();
    let mut lab = Lab::new(WEFT);
    lab.add_namespaces(["h1", "c1"]);
    lab.start_agent("h1");
    lab.bridge_on("h1", "br", "10.88.0.0/16");
    assert_eq!(
        lab.weft_json("h1", &["network", "ls"])[0]["interface"],
        "weft-br0"
    );
    lab.kill_agent("h1");
    lab.exec_ok(
        "h1",
        "ip link del weft-br0 && ip link add weft-br0 type bridge",
    );
    lab.start_agent("h1");
    let link = lab.exec_ok("h1", "ip -d link show weft-br0");
    assert!(
        link.contains("alias weft:br") && link.contains(",UP"),
        "{link}"
    );
    lab.exec_ok("h1", "ip -br addr show weft-br0 | grep -q 10.88.0.1");
    let id = lab.attach("h1", "br", "c1", &[]);
    assert_eq!(id["address"], "10.88.0.2/16");
    lab.exec_ok("c1", "ping -c1 -W2 10.88.0.1");

    // Control: the same bare bridge, but up, is someone else's.
    lab.kill_agent("h1");
    lab.exec_ok(
        "h1",
        "ip link del weft-br0 && ip link add weft-br0 type bridge && ip link set weft-br0 up",
    );
    lab.start_agent("h1");
    let ls = lab.weft_json("h1", &["network", "ls"]);
    let status = lab.weft_ok("h1", &["status"]);
    let link = lab.exec_ok("h1", "ip -d link show weft-br0");
    assert!(
        !link.contains("alias weft:"),
        "taken over: {link} {ls} {status}"
    );
    lab.exec_ok("h1", "ip link del weft-br0");
    lab.finish();
}
