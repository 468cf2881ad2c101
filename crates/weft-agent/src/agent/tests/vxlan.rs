//! VXLAN networks against the fake data plane: what a request is checked
//! against, the plan of the bridge and the VXLAN device, the VTEPs as
//! flooding entries, and their repair.

use super::*;
use crate::records::Underlay;
use crate::vxlan::VtepSpec;
use std::net::IpAddr;

fn red() -> pb::AddNetworkRequest {
    pb::AddNetworkRequest {
        name: "red".into(),
        mode: "vxlan".into(),
        subnet: "10.50.0.0/16".into(),
        block: "10.50.1.0/24".into(),
        vni: 100,
        ..Default::default()
    }
}

fn vtep(address: &str, block: Option<&str>) -> VtepSpec {
    VtepSpec {
        network: "red".into(),
        address: address.parse().unwrap(),
        block: block.map(|b| b.parse().unwrap()),
    }
}

/// The flooding entries of the fake's weft-vx0.
fn fdb(a: &Agent<FakeDataplane>) -> Vec<String> {
    a.dataplane().lock().fdb["weft-vx0"]
        .iter()
        .map(ToString::to_string)
        .collect()
}

fn err(result: Result<impl std::fmt::Debug>) -> String {
    weft_model::error::chain(&result.unwrap_err())
}

#[test]
fn a_vxlan_network_is_a_bridge_with_a_vxlan_device_and_a_shared_gateway() {
    let mut a = agent();
    let view = a.add_network_pb(red()).unwrap();
    assert_eq!(view.ifname, "weft-vbr0");
    assert_eq!(view.address.to_string(), "10.50.1.1/16");
    let vx = view.record.vxlan.clone().unwrap();
    assert_eq!((vx.vni, vx.port, vx.mtu), (100, 4789, 1450));
    assert_eq!(vx.underlay, Underlay::Routed);
    let plan = a.dataplane().lock().networks["weft-vbr0"].clone();
    let NetworkKind::Vxlan(vx) = plan.kind else {
        panic!("not a VXLAN plan: {plan:?}");
    };
    assert_eq!(vx.ifname, "weft-vx0");
    assert_eq!(vx.gateway.to_string(), "10.50.255.254/16");
    assert!(vx.remotes.is_empty());
    // The bridge's ports are pinned, and the gateway's ARP stays home.
    let rules = a.dataplane().lock().firewall.clone();
    let ports = rules[0].bridge_ports.as_ref().unwrap();
    let gateway = ports.local_gateway.as_ref().unwrap();
    assert_eq!(gateway.port, "weft-vx0");
    assert_eq!(gateway.ip.to_string(), "10.50.255.254");

    // A workload: on the bridge, the shared gateway, its host's DNS.
    let att = a.attach_pb(attach_req("red", "c1")).unwrap();
    assert_eq!(att.address.to_string(), "10.50.1.2/16");
    assert_eq!(att.gateway.to_string(), "10.50.255.254");
    assert_eq!(att.nameserver.to_string(), "10.50.1.1");
    assert_eq!(att.mtu, 1450);
    let plan = a.dataplane().lock().attachments[&att.record.host_ifname].clone();
    assert_eq!(plan.bridge.as_deref(), Some("weft-vbr0"));
    assert!(plan.mac.is_some());
}

#[test]
fn the_gateway_is_never_handed_to_a_workload() {
    let mut a = agent();
    // A one-host block that is the whole subnet holds the gateway.
    a.add_network_pb(pb::AddNetworkRequest {
        subnet: "10.50.0.0/24".into(),
        block: String::new(),
        ..red()
    })
    .unwrap();
    let e = err(a.attach_pb(pb::AttachRequest {
        ip: "10.50.0.254".into(),
        ..attach_req("red", "c1")
    }));
    assert!(e.contains("already in use"), "{e}");
}

#[test]
fn bad_vxlan_settings_are_refused_and_leave_nothing() {
    let mut a = agent();
    a.add_network_pb(blue()).unwrap();
    a.add_network_pb(red()).unwrap();
    {
        let mut s = a.dataplane().lock();
        s.busy_udp_ports.insert(4790);
        s.host_links.insert("u0".into(), 1500);
        s.host_addresses
            .insert("192.0.2.1".parse().unwrap(), "u0".into());
        s.host_addresses
            .insert("fd00::1".parse().unwrap(), "u0".into());
    }
    let other = |change: fn(&mut pb::AddNetworkRequest)| {
        let mut r = pb::AddNetworkRequest {
            name: "other".into(),
            subnet: "10.60.0.0/16".into(),
            block: String::new(),
            vni: 7,
            ..red()
        };
        change(&mut r);
        r
    };
    let cases: Vec<(pb::AddNetworkRequest, &str)> = vec![
        (other(|r| r.vni = 0), "vni"),
        (other(|r| r.vni = 16_777_216), "from 1 to 16777215"),
        (other(|r| r.vni = 100), "already used by network \"red\""),
        (
            other(|r| r.vxlan_port = 51820),
            "listen port of network \"blue\"",
        ),
        (other(|r| r.vxlan_port = 4790), "in use by another program"),
        (other(|r| r.vxlan_port = 70000), "from 1 to 65535"),
        (other(|r| r.over = "red".into()), "not a WireGuard network"),
        (other(|r| r.over = "nope".into()), "not a WireGuard network"),
        (
            other(|r| {
                r.over = "blue".into();
                r.mtu = 1371;
            }),
            "at most 1370",
        ),
        (
            other(|r| {
                r.underlay = "u0".into();
                r.mtu = 1451;
            }),
            "interface u0 has MTU 1500",
        ),
        (other(|r| r.mtu = 500), "at least 576"),
        (
            other(|r| {
                r.local = "fd00::1".into();
                r.mtu = 1431;
            }),
            "VXLAN over IPv6 takes 70 bytes of it (at most 1430)",
        ),
        (other(|r| r.underlay = "nope0".into()), "no such interface"),
        (other(|r| r.local = "192.0.2.9".into()), "not an address"),
        (other(|r| r.local = "not-an-ip".into()), "not an IP address"),
        (
            other(|r| {
                r.local = "192.0.2.1".into();
                r.over = "blue".into();
            }),
            "at most one of local, underlay and over",
        ),
        (other(|r| r.listen_port = 51821), "no WireGuard listen port"),
        (
            other(|r| r.mode = "wireguard".into()),
            "are for VXLAN networks",
        ),
    ];
    let before = snapshot(&a);
    for (req, want) in cases {
        let e = err(a.add_network_pb(req.clone()));
        assert!(e.contains(want), "{req:?}: {e}");
        assert_eq!(snapshot(&a), before, "{req:?} left something");
    }
    // And the ones that fit.
    let over = a.add_network_pb(other(|r| r.over = "blue".into())).unwrap();
    let vx = over.record.vxlan.unwrap();
    assert_eq!((vx.mtu, vx.underlay), (1370, Underlay::Over("blue".into())));
    let plan = a.dataplane().lock().networks["weft-vbr1"].clone();
    let NetworkKind::Vxlan(plan) = plan.kind else {
        panic!("{plan:?}")
    };
    assert_eq!(plan.local.unwrap().to_string(), "10.42.1.1");
    assert_eq!(plan.underlay.as_deref(), Some("wg0"));
    // The WireGuard network stays while a VXLAN network runs over it.
    let e = err(a.remove_network("blue", false));
    assert!(e.contains("carries VXLAN network \"other\""), "{e}");
    // A shared port is fine among VXLAN networks.
    a.add_network_pb(pb::AddNetworkRequest {
        name: "third".into(),
        subnet: "10.70.0.0/16".into(),
        block: String::new(),
        vni: 8,
        local: "192.0.2.1".into(),
        ..red()
    })
    .unwrap();
}

#[test]
fn vteps_are_flooding_entries_checked_recorded_and_removed() {
    let mut a = agent();
    a.add_network_pb(blue()).unwrap();
    a.add_network_pb(red()).unwrap();
    a.add_vtep(vtep("192.0.2.2", Some("10.50.2.0/24"))).unwrap();
    a.add_vtep(vtep("192.0.2.3", None)).unwrap();
    // The same address again replaces, never duplicates.
    a.add_vtep(vtep("192.0.2.3", Some("10.50.3.0/24"))).unwrap();
    assert_eq!(fdb(&a), ["192.0.2.2", "192.0.2.3"]);
    assert_eq!(a.vteps("red").unwrap().len(), 2);

    for (spec, want) in [
        (vtep("192.0.2.4", Some("10.50.1.0/24")), "own block"),
        (vtep("192.0.2.4", Some("10.50.2.0/25")), "of peer 192.0.2.2"),
        (vtep("192.0.2.4", Some("10.99.0.0/24")), "outside"),
        (
            VtepSpec {
                network: "blue".into(),
                ..vtep("192.0.2.4", None)
            },
            "its peers are WireGuard peers",
        ),
    ] {
        let e = err(a.add_vtep(spec));
        assert!(e.contains(want), "{e}");
    }
    let key = PrivateKey::generate().public_key().to_base64();
    let e = err(a.add_peer_pb(pb::AddPeerRequest {
        network: "red".into(),
        ..peer_req(&key, "10.50.2.0/24")
    }));
    assert!(e.contains("has no WireGuard peers"), "{e}");

    // The kernel refuses: the record is as before.
    a.dataplane().lock().fail_set_fdb = true;
    assert!(a.add_vtep(vtep("192.0.2.5", None)).is_err());
    assert_eq!(a.vteps("red").unwrap().len(), 2);
    a.dataplane().lock().fail_set_fdb = false;

    assert!(a.remove_vtep("red", "192.0.2.2".parse().unwrap()).unwrap());
    assert!(!a.remove_vtep("red", "192.0.2.2".parse().unwrap()).unwrap());
    assert_eq!(fdb(&a), ["192.0.2.3"]);
    // The probe targets: the VTEP's host address in its block.
    let targets = a.peer_targets().unwrap();
    assert_eq!(targets.len(), 1);
    assert_eq!(targets[0].2.to_string(), "10.50.3.1");
}

/// What the firewall takes network `name`'s VXLAN packets from.
fn sources(a: &Agent<FakeDataplane>, name: &str) -> weft_firewall::VxlanSources {
    let rules = a.dataplane().lock().firewall.clone();
    let net = rules.into_iter().find(|n| n.name == name).unwrap();
    net.vxlan.expect("a VXLAN network has VXLAN sources")
}

#[test]
fn the_firewall_takes_vxlan_only_from_the_vteps_and_over_only_through_wireguard() {
    let mut a = agent();
    a.add_network_pb(blue()).unwrap();
    a.add_network_pb(red()).unwrap();
    // Before any VTEP: nobody.
    let red_sources = sources(&a, "red");
    assert_eq!((red_sources.vni, red_sources.port), (100, 4789));
    assert_eq!(red_sources.over, None);
    assert!(red_sources.vteps.is_empty());
    a.add_vtep(vtep("192.0.2.2", None)).unwrap();
    a.add_vtep(vtep("192.0.2.3", None)).unwrap();
    assert_eq!(
        sources(&a, "red").vteps,
        [
            "192.0.2.2".parse::<IpAddr>().unwrap(),
            "192.0.2.3".parse().unwrap()
        ]
    );
    // WireGuard networks have no VXLAN sources.
    let blue_rules = a.dataplane().lock().firewall.clone();
    assert!(
        blue_rules
            .iter()
            .find(|n| n.name == "blue")
            .unwrap()
            .vxlan
            .is_none()
    );

    // Over blue: only through blue's interface.
    a.add_network_pb(pb::AddNetworkRequest {
        name: "sec".into(),
        subnet: "10.60.0.0/16".into(),
        block: String::new(),
        vni: 300,
        over: "blue".into(),
        ..red()
    })
    .unwrap();
    a.add_vtep(VtepSpec {
        network: "sec".into(),
        ..vtep("10.42.2.1", None)
    })
    .unwrap();
    let sec = sources(&a, "sec");
    assert_eq!(sec.over.as_deref(), Some("wg0"));
    assert_eq!(sec.vteps, ["10.42.2.1".parse::<IpAddr>().unwrap()]);

    // The firewall refuses: the VTEP is not recorded and not flooded to.
    a.dataplane().lock().fail_firewall = true;
    assert!(a.add_vtep(vtep("192.0.2.4", None)).is_err());
    a.dataplane().lock().fail_firewall = false;
    assert_eq!(a.vteps("red").unwrap().len(), 2);
    assert_eq!(fdb(&a), ["192.0.2.2", "192.0.2.3"]);
    assert_eq!(sources(&a, "red").vteps.len(), 2);

    // Removed: refused from then on.
    assert!(a.remove_vtep("red", "192.0.2.2".parse().unwrap()).unwrap());
    assert_eq!(
        sources(&a, "red").vteps,
        ["192.0.2.3".parse::<IpAddr>().unwrap()]
    );
}

#[test]
fn lost_and_stray_flooding_entries_are_repaired_and_counted() {
    let mut a = agent();
    a.add_network_pb(red()).unwrap();
    a.add_vtep(vtep("192.0.2.2", None)).unwrap();
    a.add_vtep(vtep("192.0.2.3", None)).unwrap();
    a.dataplane().lock().writes = 0;
    assert_eq!(a.repair_drift().unwrap(), Default::default());
    assert_eq!(a.dataplane().lock().writes, 0);

    a.dataplane().lock().fdb.insert(
        "weft-vx0".into(),
        vec!["192.0.2.3".parse().unwrap(), "192.0.2.99".parse().unwrap()],
    );
    let report = a.repair_drift().unwrap();
    assert_eq!(
        report.repaired,
        [
            "weft-vbr0: FDB entry for VTEP 192.0.2.2 missing, re-added",
            "weft-vbr0: FDB entry for 192.0.2.99 not weft's, removed"
        ]
    );
    assert_eq!(fdb(&a), ["192.0.2.2", "192.0.2.3"]);
    let repairs = a.health_book().drift_repairs();
    assert_eq!(repairs.get("fdb_missing"), Some(&1));
    assert_eq!(repairs.get("fdb_stale"), Some(&1));
    assert_eq!(a.repair_drift().unwrap(), Default::default());

    // A restart with nothing in the kernel: reconcile makes it all again.
    {
        let mut s = a.dataplane().lock();
        s.networks.clear();
        s.fdb.clear();
    }
    a.reconcile().unwrap();
    assert_eq!(fdb(&a), ["192.0.2.2", "192.0.2.3"]);
    // Removing the network takes the device and its entries along.
    a.remove_network("red", false).unwrap();
    assert!(a.dataplane().lock().fdb.is_empty());
    assert!(a.dataplane().lock().networks.is_empty());
}

#[test]
fn an_internal_carrier_lets_its_segments_vxlan_port_through() {
    let mut a = agent();
    a.add_network_pb(pb::AddNetworkRequest {
        internal: true,
        ..blue()
    })
    .unwrap();
    let services = |a: &Agent<FakeDataplane>| {
        a.dataplane().lock().firewall[0]
            .host_services
            .clone()
            .unwrap()
            .udp_ports
    };
    // DNS, peers' probes, and DHCP for a VM's renewal.
    assert_eq!(services(&a), [53, 7945, 67]);
    a.add_network_pb(pb::AddNetworkRequest {
        over: "blue".into(),
        vxlan_port: 4800,
        ..red()
    })
    .unwrap();
    assert_eq!(services(&a), [53, 7945, 67, 4800]);
    a.remove_network("red", false).unwrap();
    assert_eq!(services(&a), [53, 7945, 67]);
}
