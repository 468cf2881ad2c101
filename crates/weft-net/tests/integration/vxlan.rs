//! VXLAN devices and flooding entries against the real kernel, checked
//! with iproute2's own view (`ip -d link`, `bridge fdb`).

use crate::common;

use weft_testkit::require_root;

use common::{lab, link, up_link};
use weft_net::{FLOOD_MAC, FdbEntry, Netns, VxlanConfig};

/// `cmd` (a program and its arguments) run inside `ns`, its stdout.
fn run_in(ns: &Netns, cmd: &[&str]) -> String {
    let cmd: Vec<String> = cmd.iter().map(|s| s.to_string()).collect();
    ns.run(move || {
        let out = std::process::Command::new(&cmd[0])
            .args(&cmd[1..])
            .output()
            .expect("spawn");
        assert!(out.status.success(), "{cmd:?}: {out:?}");
        String::from_utf8(out.stdout).unwrap()
    })
    .unwrap()
}

#[test]
fn vxlan_device_with_port_vni_local_and_no_learning() {
    require_root!();
    let (ns, mut nl) = lab();
    let underlay = up_link(&mut nl, "ul0");
    nl.add_address(underlay.index, "192.0.2.1/24".parse().unwrap())
        .unwrap();
    let config = VxlanConfig {
        vni: 16_777_215,
        port: 4789,
        local: Some("192.0.2.1".parse().unwrap()),
        link: Some(underlay.index),
    };
    nl.create_vxlan("vx0", &config).unwrap();
    let vx = link(&mut nl, "vx0");
    assert_eq!(vx.kind.as_deref(), Some("vxlan"));
    assert_eq!(nl.vxlan_config(vx.index).unwrap(), Some(config.clone()));
    // Not a VXLAN device: no config.
    assert_eq!(nl.vxlan_config(underlay.index).unwrap(), None);

    let json: serde_json::Value =
        serde_json::from_str(&run_in(&ns, &["ip", "-d", "-j", "link", "show", "vx0"])).unwrap();
    let data = &json[0]["linkinfo"]["info_data"];
    assert_eq!(data["id"], 16_777_215);
    assert_eq!(data["port"], 4789, "{data}");
    assert_eq!(data["learning"], false, "{data}");
    assert_eq!(data["local"], "192.0.2.1", "{data}");
    assert_eq!(data["link"], "ul0", "{data}");

    let again = nl.create_vxlan("vx0", &config).expect_err("vx0 exists");
    assert!(
        again
            .to_string()
            .starts_with("create vxlan vx0 (vni 16777215, port 4789)")
    );
}

#[test]
fn flooding_entries_are_appended_listed_and_deleted() {
    require_root!();
    let (ns, mut nl) = lab();
    let config = VxlanConfig {
        vni: 42,
        port: 4789,
        local: None,
        link: None,
    };
    nl.create_vxlan("vx0", &config).unwrap();
    let vx = link(&mut nl, "vx0").index;
    let (b, c) = ("192.0.2.2".parse().unwrap(), "192.0.2.3".parse().unwrap());
    nl.fdb_append(vx, b).unwrap();
    nl.fdb_append(vx, c).unwrap();
    // Appending what is there is success and adds nothing.
    nl.fdb_append(vx, b).unwrap();
    let entries = nl.fdb_entries(vx).unwrap();
    assert_eq!(
        entries,
        vec![
            FdbEntry {
                mac: FLOOD_MAC,
                dst: b
            },
            FdbEntry {
                mac: FLOOD_MAC,
                dst: c
            }
        ]
    );
    let shown: serde_json::Value =
        serde_json::from_str(&run_in(&ns, &["bridge", "-j", "fdb", "show", "dev", "vx0"])).unwrap();
    let flood: Vec<&serde_json::Value> = shown
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["mac"] == "00:00:00:00:00:00")
        .collect();
    assert_eq!(flood.len(), 2, "{shown}");
    assert!(flood.iter().all(|e| e["state"] == "permanent"), "{shown}");

    // An entry another tool made is listed too.
    run_in(
        &ns,
        &[
            "bridge",
            "fdb",
            "append",
            "00:00:00:00:00:00",
            "dev",
            "vx0",
            "dst",
            "192.0.2.9",
        ],
    );
    assert_eq!(nl.fdb_entries(vx).unwrap().len(), 3);

    nl.fdb_delete(vx, b).unwrap();
    nl.fdb_delete(vx, b).unwrap();
    let dsts: Vec<String> = nl
        .fdb_entries(vx)
        .unwrap()
        .iter()
        .map(|e| e.dst.to_string())
        .collect();
    assert_eq!(dsts, ["192.0.2.3", "192.0.2.9"]);
    // Other links' entries are not this device's.
    nl.create_vxlan("vx1", &VxlanConfig { vni: 43, ..config })
        .unwrap();
    let vx1 = link(&mut nl, "vx1").index;
    assert!(nl.fdb_entries(vx1).unwrap().is_empty());
}
