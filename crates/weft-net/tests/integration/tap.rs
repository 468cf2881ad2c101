//! Persistent TAPs as the agent makes them for VMs: the flags a hypervisor
//! opens them with, persistence after the creating fd is closed, and a
//! clash refused. Checked with `ip -d -j link` in a namespace of the test's.

use crate::common;

use std::process::Command;

use common::{lab, link};
use weft_net::{TapOptions, create_tap};
use weft_testkit::require_root;

/// `ip -details -json link show NAME` in `ns`: the `linkinfo.info_data`
/// of the tun driver.
fn tun_info(ns: &weft_net::Netns, name: &str) -> String {
    let out = Command::new("nsenter")
        .arg(format!("--net={}", ns.proc_path().display()))
        .args(["ip", "-d", "-j", "link", "show", name])
        .output()
        .expect("run ip");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn tap_is_persistent_with_the_hypervisors_flags() {
    require_root!();
    let (ns, mut nl) = lab();
    ns.run(|| create_tap("w0-vm1-0", TapOptions::default()))
        .unwrap()
        .unwrap();
    ns.run(|| create_tap("w0-vm1-1", TapOptions { multi_queue: true }))
        .unwrap()
        .unwrap();

    // The creating fd is closed: still there, a tun device.
    let single = link(&mut nl, "w0-vm1-0");
    assert_eq!(single.kind.as_deref(), Some("tun"), "{single:?}");
    let info = tun_info(&ns, "w0-vm1-0");
    for want in [
        r#""type":"tap""#,
        r#""pi":false"#,
        r#""vnet_hdr":true"#,
        r#""multi_queue":false"#,
        r#""persist":true"#,
    ] {
        assert!(info.contains(want), "{want} not in {info}");
    }
    let info = tun_info(&ns, "w0-vm1-1");
    assert!(info.contains(r#""multi_queue":true"#), "{info}");
    assert!(info.contains(r#""persist":true"#), "{info}");

    // A name in use is refused, naming it; the existing TAP is unchanged.
    let err = ns
        .run(|| create_tap("w0-vm1-0", TapOptions { multi_queue: true }))
        .unwrap()
        .unwrap_err();
    assert!(err.is_exists(), "{err:?}");
    assert!(err.to_string().starts_with("create TAP w0-vm1-0"), "{err}");
    assert!(tun_info(&ns, "w0-vm1-0").contains(r#""multi_queue":false"#));

    // It can be configured and deleted like any link.
    nl.set_alias(single.index, "weft:blue/vm1").unwrap();
    nl.set_mtu(single.index, 1420).unwrap();
    nl.set_up(single.index).unwrap();
    let single = link(&mut nl, "w0-vm1-0");
    assert_eq!(single.alias.as_deref(), Some("weft:blue/vm1"));
    assert!(single.up && single.mtu == 1420, "{single:?}");
    for name in ["w0-vm1-0", "w0-vm1-1"] {
        let index = link(&mut nl, name).index;
        nl.delete_link(index).unwrap();
        assert!(nl.link_by_name(name).unwrap().is_none(), "{name} left");
    }
}
