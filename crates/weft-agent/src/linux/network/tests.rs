use super::{removable_network_link, unfinished_network_link};

fn link(kind: &str, alias: Option<&str>, up: bool) -> weft_net::Link {
    weft_net::Link {
        index: 7,
        name: "wg0".into(),
        kind: Some(kind.into()),
        alias: alias.map(Into::into),
        mac: None,
        up,
        mtu: 1420,
        master: None,
        link_netnsid: None,
        peer_index: None,
    }
}

#[test]
fn only_a_bare_link_of_the_right_kind_is_an_unfinished_network() {
    assert!(unfinished_network_link(
        &link("wireguard", None, false),
        "wireguard",
        false,
        false
    ));
    assert!(unfinished_network_link(
        &link("bridge", None, false),
        "bridge",
        false,
        false
    ));
    // Someone else's: another kind, marked, up, addressed, with ports.
    assert!(!unfinished_network_link(
        &link("bridge", None, false),
        "wireguard",
        false,
        false
    ));
    assert!(!unfinished_network_link(
        &link("wireguard", Some("mine"), false),
        "wireguard",
        false,
        false
    ));
    assert!(!unfinished_network_link(
        &link("wireguard", None, true),
        "wireguard",
        false,
        false
    ));
    assert!(!unfinished_network_link(
        &link("wireguard", None, false),
        "wireguard",
        true,
        false
    ));
    assert!(!unfinished_network_link(
        &link("bridge", None, false),
        "bridge",
        false,
        true
    ));
}

#[test]
fn network_rm_deletes_only_weft_s_link_or_a_bare_one() {
    const KINDS: &[&str] = &["wireguard", "bridge"];
    assert!(removable_network_link(
        &link("wireguard", Some("weft:blue"), true),
        KINDS,
        true,
        false
    ));
    assert!(removable_network_link(
        &link("wireguard", None, false),
        KINDS,
        false,
        false
    ));
    assert!(removable_network_link(
        &link("bridge", None, false),
        KINDS,
        false,
        false
    ));
    // Someone else's that took the name: up, addressed, marked by them,
    // or of another kind.
    assert!(!removable_network_link(
        &link("wireguard", None, true),
        KINDS,
        false,
        false
    ));
    assert!(!removable_network_link(
        &link("wireguard", None, false),
        KINDS,
        true,
        false
    ));
    assert!(!removable_network_link(
        &link("wireguard", Some("wg-quick"), false),
        KINDS,
        false,
        false
    ));
    assert!(!removable_network_link(
        &link("dummy", None, false),
        KINDS,
        false,
        false
    ));
    // A VXLAN network's device: a bare one is of kind vxlan.
    assert!(removable_network_link(
        &link("vxlan", None, false),
        &["vxlan"],
        false,
        false
    ));
    assert!(!removable_network_link(
        &link("vxlan", None, false),
        KINDS,
        false,
        false
    ));
}
