//! Networks: creation order, validation, rollback, firewall, services.

use super::*;

#[test]
fn networks_get_interfaces_in_creation_order() {
    let mut a = agent();
    let b = a.add_network_pb(blue()).unwrap();
    assert_eq!(b.ifname, "wg0");
    assert_eq!(b.address.to_string(), "10.42.1.1/32");
    assert_eq!(
        b.record.wireguard.as_ref().unwrap().listen_port,
        DEFAULT_LISTEN_PORT
    );
    let r = a.add_network_pb(red()).unwrap();
    assert_eq!(r.ifname, "wg1");
    assert_eq!(
        r.record.wireguard.as_ref().unwrap().listen_port,
        DEFAULT_LISTEN_PORT + 1
    );
    let plans = &a.dataplane().lock().networks;
    assert!(matches!(
        plans["wg0"].kind,
        NetworkKind::Wireguard {
            listen_port: 51820,
            ..
        }
    ));
    assert_eq!(plans["wg0"].subnet.to_string(), "10.42.0.0/16");
    assert_eq!(plans["wg1"].address.to_string(), "10.43.1.1/32");
}

#[test]
fn the_default_listen_port_skips_ports_anyone_holds() {
    let mut a = agent();
    a.dataplane().lock().busy_udp_ports.extend([51820, 51822]);
    let b = a.add_network_pb(blue()).unwrap();
    assert_eq!(b.record.wireguard.as_ref().unwrap().listen_port, 51821);
    let r = a.add_network_pb(red()).unwrap();
    assert_eq!(
        r.record.wireguard.as_ref().unwrap().listen_port,
        51823,
        "51821 is blue's, 51822 someone else's"
    );
    // A port asked for stays an error when someone holds it.
    a.remove_network("red", false).unwrap();
    let before = snapshot(&a);
    let err = a
        .add_network_pb(pb::AddNetworkRequest {
            listen_port: 51822,
            ..red()
        })
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("listen-port") && err.contains("51822") && err.contains("in use"),
        "{err}"
    );
    assert_eq!(snapshot(&a), before);
}

#[test]
fn bad_networks_change_nothing() {
    let mut a = agent();
    a.add_network_pb(blue()).unwrap();
    let before = snapshot(&a);
    let cases: Vec<(pb::AddNetworkRequest, &str)> = vec![
        (blue(), "already exists"),
        (
            pb::AddNetworkRequest {
                name: "Bad_Name".into(),
                ..red()
            },
            "network name",
        ),
        (
            pb::AddNetworkRequest {
                subnet: "10.43.0.0/33".into(),
                ..red()
            },
            "subnet",
        ),
        (
            pb::AddNetworkRequest {
                block: "10.44.1.0/24".into(),
                ..red()
            },
            "outside the subnet",
        ),
        (
            pb::AddNetworkRequest {
                subnet: "fd00:42::/48".into(),
                block: String::new(),
                ..red()
            },
            "IPv6 networks are not supported yet",
        ),
        (
            pb::AddNetworkRequest {
                mode: "bridge".into(),
                private_key: "nope".into(),
                ..red()
            },
            "no WireGuard listen port or key",
        ),
        (
            pb::AddNetworkRequest {
                mode: "vlan".into(),
                ..red()
            },
            "invalid mode \"vlan\"",
        ),
        (
            pb::AddNetworkRequest {
                subnet: "10.42.0.0/16".into(),
                block: "10.42.9.0/24".into(),
                ..red()
            },
            "overlaps network \"blue\"",
        ),
        (
            pb::AddNetworkRequest {
                listen_port: 51820,
                ..red()
            },
            "listen-port",
        ),
        (
            pb::AddNetworkRequest {
                listen_port: 70000,
                ..red()
            },
            "listen-port",
        ),
        (
            pb::AddNetworkRequest {
                private_key: "nope".into(),
                ..red()
            },
            "malformed key",
        ),
    ];
    for (req, want) in cases {
        let err = a.add_network_pb(req).unwrap_err().to_string();
        assert!(err.contains(want), "want {want:?} in {err:?}");
        assert_eq!(snapshot(&a), before);
    }
}

#[test]
fn a_given_private_key_is_used() {
    let mut a = agent();
    let key = PrivateKey::generate();
    let n = a
        .add_network_pb(pb::AddNetworkRequest {
            private_key: key.to_base64(),
            ..blue()
        })
        .unwrap();
    assert_eq!(n.public_key, Some(key.public_key()));
}

#[test]
fn kernel_failure_rolls_the_network_back() {
    let mut a = agent();
    a.dataplane().lock().fail_ensure_network = true;
    assert!(matches!(
        a.add_network_pb(blue()),
        Err(AgentError::Dataplane(_))
    ));
    assert!(a.networks().unwrap().is_empty());
    a.dataplane().lock().fail_ensure_network = false;
    assert_eq!(a.add_network_pb(blue()).unwrap().ifname, "wg0");
}

#[test]
fn removing_a_network_with_workloads_needs_force() {
    let mut a = agent();
    a.add_network_pb(blue()).unwrap();
    a.attach_pb(attach_req("blue", "c1")).unwrap();
    let err = a.remove_network("blue", false).unwrap_err().to_string();
    assert!(err.contains("c1") && err.contains("--force"), "{err}");
    assert_eq!(a.networks().unwrap().len(), 1);
    assert_eq!(a.remove_network("blue", true).unwrap(), 1);
    let s = a.dataplane().lock();
    assert!(s.networks.is_empty() && s.attachments.is_empty());
    drop(s);
    assert!(a.remove_network("blue", false).is_err());
}

#[test]
fn bridge_networks_have_a_gateway_and_no_wireguard() {
    let mut a = agent();
    let br = a.add_network_pb(bridge_net()).unwrap();
    assert_eq!(br.ifname, "weft-br0");
    assert_eq!(br.address.to_string(), "10.88.0.1/16");
    assert_eq!(br.public_key, None);
    assert_eq!(br.record.block.to_string(), "10.88.0.0/16");
    // WireGuard indexes are their own: the next WireGuard network is wg0.
    assert_eq!(a.add_network_pb(blue()).unwrap().ifname, "wg0");
    let c1 = a
        .attach_pb(pb::AttachRequest {
            id: "c1a2b3c4d5e6".into(),
            ..attach_req("br", "c1")
        })
        .unwrap();
    assert_eq!(c1.address.to_string(), "10.88.0.2/16");
    assert_eq!(c1.record.host_ifname, "fn-c1a2b3c4");
    assert_eq!(c1.gateway.to_string(), "10.88.0.1");
    let plan = a.dataplane().lock().attachments["fn-c1a2b3c4"].clone();
    assert_eq!(plan.bridge.as_deref(), Some("weft-br0"));
    assert_eq!(plan.mtu, crate::dataplane::BRIDGE_MTU);
    assert_eq!(c1.mtu, plan.mtu, "the view carries the plan's MTU");
    let k = PrivateKey::generate().public_key().to_base64();
    let err = a
        .add_peer_pb(pb::AddPeerRequest {
            network: "br".into(),
            ..peer_req(&k, "10.99.0.0/24")
        })
        .unwrap_err()
        .to_string();
    assert!(err.contains("bridge network"), "{err}");
    let err = a
        .add_network_pb(pb::AddNetworkRequest {
            name: "br2".into(),
            subnet: "10.89.0.0/16".into(),
            listen_port: 5,
            ..bridge_net()
        })
        .unwrap_err()
        .to_string();
    assert!(err.contains("no WireGuard listen port"), "{err}");
    let status = a.status(Some("br")).unwrap();
    assert!(matches!(status[0].device, Ok(None)));
}

#[test]
fn default_block_is_the_first_slash_24() {
    let mut a = agent();
    let n = a
        .add_network_pb(pb::AddNetworkRequest {
            block: String::new(),
            ..blue()
        })
        .unwrap();
    assert_eq!(n.record.block.to_string(), "10.42.0.0/24");
    assert_eq!(n.address.to_string(), "10.42.0.1/32");
    assert_eq!(n.capacity, 253);
}

#[test]
fn firewall_dns_and_names_follow_the_networks() {
    use weft_firewall::IfMatch;
    let mut a = agent().with_host_name("h1").unwrap();
    a.add_network_pb(blue()).unwrap();
    a.add_network_pb(pb::AddNetworkRequest {
        internal: true,
        domain: "lab.example".into(),
        ..red()
    })
    .unwrap();
    a.add_network_pb(bridge_net()).unwrap();
    {
        let s = a.dataplane().lock();
        let rules: Vec<_> = s
            .firewall
            .iter()
            .map(|r| (r.name.as_str(), r.internal, r.interfaces.clone()))
            .collect();
        assert_eq!(
            rules,
            vec![
                (
                    "blue",
                    false,
                    vec![IfMatch::Exact("wg0".into()), IfMatch::Prefix("w0-".into())]
                ),
                (
                    "red",
                    true,
                    vec![IfMatch::Exact("wg1".into()), IfMatch::Prefix("w1-".into())]
                ),
                ("br", false, vec![IfMatch::Exact("weft-br0".into())]),
            ]
        );
        assert_eq!(s.services["red"].listen.to_string(), "10.43.1.1");
        assert!(s.services["red"].internal);
        assert_eq!(s.services["red"].domain, "lab.example");
        assert_eq!(s.services["br"].listen.to_string(), "10.88.0.1");
    }
    a.attach_pb(pb::AttachRequest {
        name: "Web".into(),
        ..attach_req("blue", "c1")
    })
    .unwrap();
    a.attach_pb(attach_req("blue", "c2")).unwrap();
    let local = |a: &Agent<FakeDataplane>| {
        a.dataplane().lock().records[&("blue".to_string(), "local".to_string())].clone()
    };
    let names: Vec<(String, String)> = local(&a)
        .into_iter()
        .map(|(n, ips)| (n, ips[0].to_string()))
        .collect();
    assert_eq!(
        names,
        vec![
            ("h1".into(), "10.42.1.1".into()),
            ("web".into(), "10.42.1.2".into())
        ]
    );
    a.detach("blue", "c1").unwrap();
    assert!(
        !local(&a).contains_key("web"),
        "a detached workload's name goes"
    );
    a.remove_network("red", false).unwrap();
    let s = a.dataplane().lock();
    assert_eq!(s.firewall.len(), 2);
    assert!(!s.services.contains_key("red"));
}

#[test]
fn a_network_whose_dns_cannot_start_is_rolled_back() {
    let mut a = agent();
    a.add_network_pb(blue()).unwrap();
    a.dataplane().lock().fail_services = true;
    assert!(a.add_network_pb(red()).is_err());
    assert_eq!(a.networks().unwrap().len(), 1);
    let s = a.dataplane().lock();
    assert_eq!(s.firewall.len(), 1, "the firewall no longer knows red");
    assert!(!s.networks.contains_key("wg1"));
}

#[test]
fn domains_and_host_names_are_validated() {
    let mut a = agent();
    let err = a
        .add_network_pb(pb::AddNetworkRequest {
            domain: "Bad_Domain".into(),
            ..blue()
        })
        .unwrap_err()
        .to_string();
    assert!(err.contains("domain"), "{err}");
    assert!(agent().with_host_name("no.dots").is_err());
}
