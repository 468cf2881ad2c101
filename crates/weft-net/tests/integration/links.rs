use crate::common;

use weft_testkit::require_root;

use std::path::Path;

use common::{lab, link, up_link};
use weft_net::{NetError, Netlink};

#[test]
fn veth_peer_is_created_directly_in_the_other_namespace() {
    require_root!();
    let (_host_ns, mut host) = lab();
    let (peer_ns, mut peer) = lab();
    // A link called eth0 already exists here: creating the peer in the other
    // namespace must not clash with it.
    host.create_bridge("eth0").unwrap();

    host.create_veth("va", "eth0", Some(&peer_ns)).unwrap();

    let va = link(&mut host, "va");
    assert_eq!(va.kind.as_deref(), Some("veth"));
    assert!(
        va.link_netnsid.is_some(),
        "peer lives in another netns: {va:?}"
    );
    assert_eq!(link(&mut host, "eth0").kind.as_deref(), Some("bridge"));

    let eth0 = link(&mut peer, "eth0");
    assert_eq!(eth0.kind.as_deref(), Some("veth"));
    assert_eq!(va.peer_index, Some(eth0.index));
    assert_eq!(eth0.peer_index, Some(va.index));
    assert!(peer.link_by_name("va").unwrap().is_none());

    let again = host
        .create_veth("va", "eth1", Some(&peer_ns))
        .expect_err("va exists");
    assert!(again.is_exists(), "{again:?}");
    let text = again.to_string();
    let expected = format!("create veth va (peer eth1 in {})", peer_ns.origin());
    assert!(text.starts_with(&expected), "{text}");
    assert!(peer_ns.origin().starts_with("anonymous netns ["), "{text}");
}

#[test]
fn veth_pair_in_one_namespace() {
    require_root!();
    let (_ns, mut nl) = lab();
    nl.create_veth("v0", "v1", None).unwrap();
    let v0 = link(&mut nl, "v0");
    let v1 = link(&mut nl, "v1");
    assert_eq!(v0.peer_index, Some(v1.index));
    assert_eq!(v0.link_netnsid, None);
    assert_eq!(v0.mac.map(|m| m.len()), Some(6));
    let names: Vec<String> = nl.links().unwrap().into_iter().map(|l| l.name).collect();
    for name in ["lo", "v0", "v1"] {
        assert!(names.iter().any(|n| n == name), "{name} not in {names:?}");
    }
}

#[test]
fn up_down_alias_mtu_rename() {
    require_root!();
    let (_ns, mut nl) = lab();
    nl.create_bridge("d0").unwrap();
    let d0 = link(&mut nl, "d0");
    assert!(!d0.up);
    assert_eq!(d0.alias, None);

    nl.set_up(d0.index).unwrap();
    assert!(nl.link_by_index(d0.index).unwrap().unwrap().up);

    nl.set_alias(d0.index, "weft:net=blue").unwrap();
    nl.set_mtu(d0.index, 1380).unwrap();
    let d0 = link(&mut nl, "d0");
    assert_eq!(d0.alias.as_deref(), Some("weft:net=blue"));
    assert_eq!(d0.mtu, 1380);

    nl.set_down(d0.index).unwrap();
    assert!(!link(&mut nl, "d0").up);
    nl.set_name(d0.index, "renamed0").unwrap();
    assert!(nl.link_by_name("d0").unwrap().is_none());
    let renamed = link(&mut nl, "renamed0");
    assert_eq!(renamed.index, d0.index);
    assert_eq!(renamed.alias.as_deref(), Some("weft:net=blue"));
}

#[test]
fn set_netns_moves_a_link() {
    require_root!();
    let (_a_ns, mut a) = lab();
    let (b_ns, mut b) = lab();
    a.create_veth("mover", "stayer", None).unwrap();
    let index = link(&mut a, "mover").index;
    a.set_alias(index, "weft-owned").unwrap();
    a.set_netns(index, &b_ns).unwrap();
    assert!(a.link_by_name("mover").unwrap().is_none());
    let moved = link(&mut b, "mover");
    assert_eq!(moved.kind.as_deref(), Some("veth"));
    assert!(moved.link_netnsid.is_some(), "peer now in another netns");
    assert_eq!(moved.alias.as_deref(), Some("weft-owned"));
}

#[test]
fn bridges_cannot_change_namespace() {
    require_root!();
    let (_a_ns, mut a) = lab();
    let (b_ns, _b) = lab();
    a.create_bridge("br9").unwrap();
    let index = link(&mut a, "br9").index;
    let err = a
        .set_netns(index, &b_ns)
        .expect_err("bridges are netns-local");
    assert_eq!(err.errno(), Some(libc::EINVAL), "{err:?}");
    let text = err.to_string();
    assert!(
        text.contains(&format!("move link #{index} to {}", b_ns.origin())),
        "{text}"
    );
}

#[test]
fn bridge_and_master() {
    require_root!();
    let (_ns, mut nl) = lab();
    nl.create_bridge("br0").unwrap();
    let br = link(&mut nl, "br0");
    assert_eq!(br.kind.as_deref(), Some("bridge"));
    nl.create_veth("p0", "p1", None).unwrap();
    let p0 = link(&mut nl, "p0");
    assert_eq!(p0.master, None);

    nl.set_master(p0.index, Some(br.index)).unwrap();
    assert_eq!(link(&mut nl, "p0").master, Some(br.index));
    nl.set_master(p0.index, None).unwrap();
    assert_eq!(link(&mut nl, "p0").master, None);
}

#[test]
fn delete_and_lookups_of_missing_links() {
    require_root!();
    let (_ns, mut nl) = lab();
    let d = up_link(&mut nl, "gone0");
    nl.delete_link(d.index).unwrap();
    assert!(nl.link_by_index(d.index).unwrap().is_none());
    assert!(nl.link_by_name("gone0").unwrap().is_none());
    let err = nl.delete_link(d.index).expect_err("already deleted");
    assert!(err.is_not_found(), "{err:?}");
    assert!(err.to_string().contains("in anonymous netns"), "{err}");

    let err = nl.link_by_name("name-way-too-long-for-linux").unwrap_err();
    assert!(matches!(err, NetError::Invalid { .. }), "{err:?}");
}

#[test]
fn dummy_needs_its_driver() {
    require_root!();
    let (_ns, mut nl) = lab();
    let result = nl.create_dummy("dm0");
    if Path::new("/sys/module/dummy").exists() {
        result.expect("dummy driver present");
        assert_eq!(link(&mut nl, "dm0").kind.as_deref(), Some("dummy"));
    } else {
        let err = result.expect_err("no dummy driver on this machine");
        assert!(err.is_not_supported(), "{err:?}");
    }
}

#[test]
fn wireguard_kind_needs_the_module() {
    require_root!();
    let (_ns, mut nl) = lab();
    let result = nl.create_wireguard("wg0");
    if Path::new("/sys/module/wireguard").exists() {
        result.expect("wireguard module loaded");
        assert_eq!(link(&mut nl, "wg0").kind.as_deref(), Some("wireguard"));
    } else {
        let err = result.expect_err("no wireguard module on this machine");
        assert!(err.is_not_supported(), "{err:?}");
        assert!(err.to_string().contains("create wireguard wg0"), "{err}");
    }
}

#[test]
fn netlink_in_the_callers_namespace_sees_loopback() {
    require_root!();
    let mut nl = Netlink::new().unwrap();
    assert!(nl.links().unwrap().iter().any(|l| l.name == "lo"));
}
