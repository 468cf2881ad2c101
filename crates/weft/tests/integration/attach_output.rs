//! What `weft attach` prints is what the kernel holds: on bridge and VXLAN
//! networks a workload's interface gets the MAC weft derives (its bridge
//! port is pinned to it), and the attach answer must show that one, not
//! the kernel's random MAC the veth was born with.

use weft_testkit::*;

const WEFT: &str = env!("CARGO_BIN_EXE_weft");

fn mac_in(lab: &Lab, ns: &str, dev: &str) -> String {
    let out = lab.exec_ok(ns, &format!("ip -j link show {dev}"));
    let link: serde_json::Value = serde_json::from_str(&out).unwrap();
    link[0]["address"].as_str().unwrap().to_string()
}

#[test]
fn attach_shows_the_mac_the_interface_has_on_every_mode() {
    require_root!();
    let mut lab = Lab::new(WEFT);
    lab.add_namespaces(["h1", "c1", "c2", "c3"]);
    lab.start_agent("h1");
    lab.network_on("h1", "blue", 42);
    lab.bridge_on("h1", "br", "10.88.0.0/16");
    lab.weft_json(
        "h1",
        &[
            "network",
            "create",
            "seg",
            "--mode",
            "vxlan",
            "--subnet",
            "10.50.0.0/16",
            "--block",
            "10.50.1.0/24",
            "--vni",
            "100",
        ],
    );
    for (net, workload) in [("blue", "c1"), ("br", "c2"), ("seg", "c3")] {
        let printed = lab.attach("h1", net, workload, &[]);
        let inside = mac_in(&lab, workload, "eth0");
        assert_eq!(printed["mac"], inside, "{net}: attach printed {printed}");
        let listed = lab.weft_json("h1", &["attachments"]);
        let entry = listed
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["id"] == workload)
            .unwrap_or_else(|| panic!("{workload} not listed: {listed}"));
        assert_eq!(entry["mac"], inside, "{net}: attachments listed {entry}");
    }
    lab.finish();
}

/// Two workloads in one namespace: the second attach's `eth0` is taken.
/// The refusal says what is in the way and how to pick another name, once.
#[test]
fn an_interface_name_in_use_is_named_with_the_way_out() {
    require_root!();
    let mut lab = Lab::new(WEFT);
    lab.add_namespaces(["h1", "c1"]);
    lab.start_agent("h1");
    lab.network_on("h1", "blue", 42);
    lab.network_on("h1", "red", 43);
    lab.attach("h1", "blue", "c1", &[]);
    let netns = lab.netns_path("c1");
    let out = lab.weft("h1", &["attach", "red", "--netns", &netns, "--id", "other"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    eprintln!("{err}");
    // Each part of the chain once (it used to be "create veth …: create
    // veth …: File exists").
    let parts: Vec<&str> = err.trim().split(": ").collect();
    let mut unique = parts.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), parts.len(), "{err}");
    assert!(err.contains("eth0"), "{err}");
    assert!(err.contains("--ifname"), "{err}");
    // Nothing half-made: no attachment recorded, no host-side veth left.
    let listed = lab.weft_json("h1", &["attachments"]);
    assert_eq!(listed.as_array().unwrap().len(), 1, "{listed}");
    // With another name it works.
    lab.weft_ok(
        "h1",
        &[
            "attach", "red", "--netns", &netns, "--id", "other", "--ifname", "eth1",
        ],
    );
    lab.finish();
}
