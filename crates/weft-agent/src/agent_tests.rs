//! The agent's orchestration against the in-memory data plane.

use crate::agent::*;
use crate::attachments::NewAttachment;
use crate::dataplane::NetworkKind;
use crate::error::AgentError;
use crate::fake::FakeDataplane;
use crate::store::Store;
use weft_model::PrivateKey;

fn agent() -> Agent<FakeDataplane> {
    let dp = FakeDataplane::default()
        .with_netns("/run/netns/c1", (4, 101))
        .with_netns("/run/netns/c2", (4, 102))
        .with_netns("/run/netns/c3", (4, 103));
    Agent::new(Store::in_memory().unwrap(), dp)
}

fn blue() -> NewNetwork {
    NewNetwork {
        name: "blue".into(),
        subnet: "10.42.0.0/16".into(),
        block: "10.42.1.0/24".into(),
        ..Default::default()
    }
}

fn red() -> NewNetwork {
    NewNetwork {
        name: "red".into(),
        subnet: "10.43.0.0/16".into(),
        block: "10.43.1.0/24".into(),
        ..Default::default()
    }
}

fn attach_req(network: &str, id: &str) -> NewAttachment {
    NewAttachment {
        network: network.into(),
        netns: format!("/run/netns/{id}"),
        id: id.into(),
        ..Default::default()
    }
}

fn peer_req(key: &str, allowed: &str) -> NewPeer {
    NewPeer {
        network: "blue".into(),
        public_key: key.into(),
        endpoint: "192.0.2.2:51820".into(),
        allowed_ips: vec![allowed.into()],
        keepalive: 0,
    }
}

fn snapshot(a: &Agent<FakeDataplane>) -> String {
    let s = a.dataplane().lock();
    format!(
        "{:?} {:?} {:?} {:?}",
        a.store().networks().unwrap().len(),
        a.store().attachments().unwrap(),
        s.networks.keys().collect::<Vec<_>>(),
        s.attachments.keys().collect::<Vec<_>>()
    )
}

#[test]
fn networks_get_interfaces_in_creation_order() {
    let mut a = agent();
    let b = a.add_network(blue()).unwrap();
    assert_eq!(b.ifname, "wg0");
    assert_eq!(b.address.to_string(), "10.42.1.1/32");
    assert_eq!(
        b.record.wireguard.as_ref().unwrap().listen_port,
        DEFAULT_LISTEN_PORT
    );
    let r = a.add_network(red()).unwrap();
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
fn bad_networks_change_nothing() {
    let mut a = agent();
    a.add_network(blue()).unwrap();
    let before = snapshot(&a);
    let cases: Vec<(NewNetwork, &str)> = vec![
        (blue(), "already exists"),
        (
            NewNetwork {
                name: "Bad_Name".into(),
                ..red()
            },
            "network name",
        ),
        (
            NewNetwork {
                subnet: "10.43.0.0/33".into(),
                ..red()
            },
            "subnet",
        ),
        (
            NewNetwork {
                block: "10.44.1.0/24".into(),
                ..red()
            },
            "outside the subnet",
        ),
        (
            NewNetwork {
                subnet: "10.42.0.0/16".into(),
                block: "10.42.9.0/24".into(),
                ..red()
            },
            "overlaps network \"blue\"",
        ),
        (
            NewNetwork {
                listen_port: 51820,
                ..red()
            },
            "listen-port",
        ),
        (
            NewNetwork {
                listen_port: 70000,
                ..red()
            },
            "listen-port",
        ),
        (
            NewNetwork {
                private_key: "nope".into(),
                ..red()
            },
            "malformed key",
        ),
    ];
    for (req, want) in cases {
        let err = a.add_network(req).unwrap_err().to_string();
        assert!(err.contains(want), "want {want:?} in {err:?}");
        assert_eq!(snapshot(&a), before);
    }
}

#[test]
fn a_given_private_key_is_used() {
    let mut a = agent();
    let key = PrivateKey::generate();
    let n = a
        .add_network(NewNetwork {
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
        a.add_network(blue()),
        Err(AgentError::Dataplane(_))
    ));
    assert!(a.networks().unwrap().is_empty());
    a.dataplane().lock().fail_ensure_network = false;
    assert_eq!(a.add_network(blue()).unwrap().ifname, "wg0");
}

#[test]
fn peers_are_validated_and_applied() {
    let mut a = agent();
    let own = a
        .add_network(blue())
        .unwrap()
        .public_key
        .unwrap()
        .to_base64();
    let k1 = PrivateKey::generate().public_key().to_base64();
    let k2 = PrivateKey::generate().public_key().to_base64();
    a.add_peer(peer_req(&k1, "10.42.2.0/24")).unwrap();
    let before = snapshot(&a);
    for (req, want) in [
        (peer_req("garbage", "10.42.3.0/24"), "malformed key"),
        (peer_req(&own, "10.42.3.0/24"), "own key"),
        (peer_req(&k2, "10.42.1.0/24"), "own block"),
        (peer_req(&k2, "10.42.2.0/25"), "overlaps 10.42.2.0/24"),
        (peer_req(&k2, "10.42.3.0/24,x"), "allowed-ips"),
        (
            NewPeer {
                endpoint: "192.0.2.2".into(),
                ..peer_req(&k2, "10.42.3.0/24")
            },
            "endpoint",
        ),
        (
            NewPeer {
                network: "nope".into(),
                ..peer_req(&k2, "10.42.3.0/24")
            },
            "network \"nope\" does not exist",
        ),
        (
            NewPeer {
                keepalive: 70000,
                ..peer_req(&k2, "10.42.3.0/24")
            },
            "keepalive",
        ),
    ] {
        let err = a.add_peer(req).unwrap_err().to_string();
        assert!(err.contains(want), "want {want:?} in {err:?}");
    }
    assert_eq!(snapshot(&a), before);
    assert_eq!(a.peers("blue").unwrap().len(), 1);
    // Re-adding a peer replaces it.
    a.add_peer(NewPeer {
        keepalive: 25,
        ..peer_req(&k1, "10.42.2.0/24")
    })
    .unwrap();
    let peers = a.dataplane().peers("wg0");
    assert_eq!(peers.len(), 1);
    assert_eq!(peers[0].persistent_keepalive, Some(25));
    assert_eq!(peers[0].endpoint.unwrap().to_string(), "192.0.2.2:51820");
}

#[test]
fn failed_peer_update_restores_the_old_peer() {
    let mut a = agent();
    a.add_network(blue()).unwrap();
    let k1 = PrivateKey::generate().public_key().to_base64();
    a.add_peer(peer_req(&k1, "10.42.2.0/24")).unwrap();
    a.dataplane().lock().fail_set_peers = true;
    assert!(a.add_peer(peer_req(&k1, "10.42.5.0/24")).is_err());
    assert_eq!(
        a.peers("blue").unwrap()[0].allowed_ips[0].to_string(),
        "10.42.2.0/24"
    );
    let k2 = PrivateKey::generate().public_key().to_base64();
    assert!(a.add_peer(peer_req(&k2, "10.42.6.0/24")).is_err());
    assert_eq!(a.peers("blue").unwrap().len(), 1);
}

#[test]
fn remove_peer() {
    let mut a = agent();
    a.add_network(blue()).unwrap();
    let k1 = PrivateKey::generate().public_key().to_base64();
    a.add_peer(peer_req(&k1, "10.42.2.0/24")).unwrap();
    assert!(a.remove_peer("blue", &k1).unwrap());
    assert!(!a.remove_peer("blue", &k1).unwrap());
    assert!(a.dataplane().peers("wg0").is_empty());
}

#[test]
fn attachments_get_addresses_names_and_one_default_route() {
    let mut a = agent();
    a.add_network(blue()).unwrap();
    a.add_network(red()).unwrap();
    let c1 = a.attach(attach_req("blue", "c1")).unwrap();
    assert_eq!(c1.record.ip.to_string(), "10.42.1.2");
    assert_eq!(c1.record.ifname, "eth0");
    assert_eq!(c1.record.host_ifname, "w0-c1");
    assert_eq!(c1.gateway.to_string(), "10.42.1.1");
    assert!(c1.record.default_route);
    let c2 = a.attach(attach_req("blue", "c2")).unwrap();
    assert_eq!(c2.record.ip.to_string(), "10.42.1.3");
    let c1_red = a.attach(attach_req("red", "c1")).unwrap();
    assert_eq!(c1_red.record.ifname, "eth1");
    assert_eq!(c1_red.record.host_ifname, "w1-c1");
    assert!(!c1_red.record.default_route);
    assert_eq!(c1_red.record.ip.to_string(), "10.43.1.2");
    let custom = a
        .attach(NewAttachment {
            ifname: "net9".into(),
            ip: "10.43.1.77".into(),
            ..attach_req("red", "c3")
        })
        .unwrap();
    assert_eq!(custom.record.ifname, "net9");
    assert_eq!(custom.record.ip.to_string(), "10.43.1.77");
    assert_eq!(a.dataplane().lock().attachments.len(), 4);
}

#[test]
fn bad_attachments_change_nothing() {
    let mut a = agent();
    a.add_network(blue()).unwrap();
    a.add_network(red()).unwrap();
    a.attach(attach_req("blue", "c1")).unwrap();
    let before = snapshot(&a);
    for (req, want) in [
        (attach_req("blue", "c1"), "already attached"),
        (attach_req("nope", "c2"), "network \"nope\" does not exist"),
        (
            NewAttachment {
                netns: "/run/netns/missing".into(),
                ..attach_req("blue", "c2")
            },
            "no network namespace",
        ),
        (
            NewAttachment {
                netns: "/run/netns/c3".into(),
                ..attach_req("red", "c1")
            },
            "another namespace",
        ),
        (
            NewAttachment {
                id: "a/b".into(),
                ..attach_req("blue", "c2")
            },
            "workload id",
        ),
        (
            NewAttachment {
                name: "bad.name".into(),
                ..attach_req("blue", "c2")
            },
            "workload name",
        ),
        (
            NewAttachment {
                ifname: "x".repeat(16),
                ..attach_req("blue", "c2")
            },
            "ifname",
        ),
        (
            NewAttachment {
                ifname: "eth0".into(),
                ..attach_req("red", "c1")
            },
            "already used by this workload",
        ),
        (
            NewAttachment {
                ip: "10.42.1.2".into(),
                ..attach_req("blue", "c2")
            },
            "in use",
        ),
        (
            NewAttachment {
                ip: "10.42.2.9".into(),
                ..attach_req("blue", "c2")
            },
            "outside this host's block",
        ),
        (
            NewAttachment {
                ip: "ten".into(),
                ..attach_req("blue", "c2")
            },
            "not an IP",
        ),
    ] {
        let err = a.attach(req).unwrap_err().to_string();
        assert!(err.contains(want), "want {want:?} in {err:?}");
        assert_eq!(snapshot(&a), before);
    }
}

#[test]
fn failed_attach_frees_the_address() {
    let mut a = agent();
    a.add_network(blue()).unwrap();
    a.dataplane().lock().fail_create_attachment = true;
    assert!(a.attach(attach_req("blue", "c1")).is_err());
    assert!(a.store().attachments().unwrap().is_empty());
    a.dataplane().lock().fail_create_attachment = false;
    assert_eq!(
        a.attach(attach_req("blue", "c1"))
            .unwrap()
            .record
            .ip
            .to_string(),
        "10.42.1.2"
    );
}

#[test]
fn detach_frees_and_unknown_detach_succeeds() {
    let mut a = agent();
    a.add_network(blue()).unwrap();
    a.attach(attach_req("blue", "c1")).unwrap();
    a.attach(attach_req("blue", "c2")).unwrap();
    assert!(a.detach("blue", "c1").unwrap());
    assert!(!a.detach("blue", "c1").unwrap());
    assert!(!a.detach("blue", "never").unwrap());
    assert!(
        a.detach("nope", "c1").is_err(),
        "unknown network is an error"
    );
    assert_eq!(a.dataplane().lock().attachments.len(), 1);
    // The freed address is handed out again.
    assert_eq!(
        a.attach(attach_req("blue", "c3"))
            .unwrap()
            .record
            .ip
            .to_string(),
        "10.42.1.2"
    );
}

#[test]
fn removing_a_network_with_workloads_needs_force() {
    let mut a = agent();
    a.add_network(blue()).unwrap();
    a.attach(attach_req("blue", "c1")).unwrap();
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
fn reconcile_restores_releases_and_cleans() {
    let mut a = agent();
    a.add_network(blue()).unwrap();
    let k1 = PrivateKey::generate().public_key().to_base64();
    a.add_peer(peer_req(&k1, "10.42.2.0/24")).unwrap();
    a.attach(attach_req("blue", "c1")).unwrap();
    a.attach(attach_req("blue", "c2")).unwrap();
    a.attach(attach_req("blue", "c3")).unwrap();
    {
        let mut s = a.dataplane().lock();
        // A restart: the userspace interface is gone, c1's veth vanished,
        // c2's namespace was deleted, c3's path now names another namespace,
        // and a leftover veth of a forgotten attachment is still there.
        s.networks.clear();
        s.attachments.remove("w0-c1");
        s.namespaces.remove("/run/netns/c2");
        s.namespaces.insert("/run/netns/c3".into(), (4, 999));
        s.stray_links
            .insert("w0-old".into(), "weft:blue/old".into());
        s.stray_links.insert("eth7".into(), "weft:gone".into());
    }
    let report = a.reconcile().unwrap();
    assert_eq!(report.networks, 1);
    assert_eq!(report.attachments_recreated, 1);
    assert_eq!(report.attachments_released, vec!["blue/c2", "blue/c3"]);
    let mut orphans = report.orphans_removed.clone();
    orphans.sort();
    assert_eq!(orphans, vec!["eth7", "w0-old"]);
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    let s = a.dataplane().lock();
    assert!(s.networks.contains_key("wg0"), "interface restored");
    drop(s);
    assert_eq!(a.dataplane().peers("wg0").len(), 1, "peers restored");
    let s = a.dataplane().lock();
    assert_eq!(s.attachments.keys().collect::<Vec<_>>(), vec!["w0-c1"]);
    drop(s);
    let ips: Vec<String> = a
        .store()
        .used_ips("blue")
        .unwrap()
        .iter()
        .map(|i| i.to_string())
        .collect();
    assert_eq!(ips, vec!["10.42.1.2"], "released addresses are free");
    // A second pass finds nothing to do.
    let again = a.reconcile().unwrap();
    assert_eq!(
        (again.attachments_kept, again.attachments_recreated),
        (1, 0)
    );
    assert!(again.attachments_released.is_empty() && again.orphans_removed.is_empty());
}

#[test]
fn status_reads_the_data_plane() {
    let mut a = agent();
    a.add_network(blue()).unwrap();
    let k1 = PrivateKey::generate().public_key().to_base64();
    a.add_peer(peer_req(&k1, "10.42.2.0/24")).unwrap();
    let status = a.status(None).unwrap();
    let device = status[0].device.as_ref().unwrap();
    assert_eq!(device.as_ref().unwrap().peers[0].public_key.to_base64(), k1);
    a.dataplane().lock().networks.clear();
    let status = a.status(Some("blue")).unwrap();
    assert!(
        status[0].device.is_err(),
        "a missing interface shows as an error"
    );
    assert!(a.status(Some("nope")).is_err());
}

fn bridge_net() -> NewNetwork {
    NewNetwork {
        name: "br".into(),
        mode: "bridge".into(),
        subnet: "10.88.0.0/16".into(),
        ..Default::default()
    }
}

#[test]
fn bridge_networks_have_a_gateway_and_no_wireguard() {
    let mut a = agent();
    let br = a.add_network(bridge_net()).unwrap();
    assert_eq!(br.ifname, "weft-br0");
    assert_eq!(br.address.to_string(), "10.88.0.1/16");
    assert_eq!(br.public_key, None);
    assert_eq!(br.record.block.to_string(), "10.88.0.0/16");
    // WireGuard indexes are their own: the next WireGuard network is wg0.
    assert_eq!(a.add_network(blue()).unwrap().ifname, "wg0");
    let c1 = a
        .attach(NewAttachment {
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
    let k = PrivateKey::generate().public_key().to_base64();
    let err = a
        .add_peer(NewPeer {
            network: "br".into(),
            ..peer_req(&k, "10.99.0.0/24")
        })
        .unwrap_err()
        .to_string();
    assert!(err.contains("bridge network"), "{err}");
    let err = a
        .add_network(NewNetwork {
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
        .add_network(NewNetwork {
            block: String::new(),
            ..blue()
        })
        .unwrap();
    assert_eq!(n.record.block.to_string(), "10.42.0.0/24");
    assert_eq!(n.address.to_string(), "10.42.0.1/32");
    assert_eq!(n.capacity, 253);
}

#[test]
fn check_finds_broken_attachments() {
    let mut a = agent();
    a.add_network(blue()).unwrap();
    a.attach(attach_req("blue", "c1")).unwrap();
    let ok = a.check("blue", "c1").unwrap();
    assert_eq!(ok.state.unwrap().host_mac, "02:00:00:00:00:02");
    assert!(matches!(
        a.check("blue", "c2"),
        Err(AgentError::NotFound { .. })
    ));
    a.dataplane().lock().attachments.clear();
    let err = a.check("blue", "c1").unwrap_err().to_string();
    assert!(err.contains("broken") && err.contains("w0-c1"), "{err}");
}

#[test]
fn gc_releases_what_is_not_kept() {
    let mut a = agent();
    a.add_network(blue()).unwrap();
    for id in ["c1", "c2", "c3"] {
        a.attach(attach_req("blue", id)).unwrap();
    }
    let released = a.gc("blue", &["c2".to_string()]).unwrap();
    assert_eq!(released, vec!["c1", "c3"]);
    let left: Vec<String> = a
        .store()
        .attachments()
        .unwrap()
        .into_iter()
        .map(|x| x.workload_id)
        .collect();
    assert_eq!(left, vec!["c2"]);
    assert_eq!(a.dataplane().lock().attachments.len(), 1);
    assert!(a.gc("blue", &["c2".to_string()]).unwrap().is_empty());
}

#[test]
fn firewall_dns_and_names_follow_the_networks() {
    use weft_firewall::IfMatch;
    let mut a = agent().with_host_name("h1").unwrap();
    a.add_network(blue()).unwrap();
    a.add_network(NewNetwork {
        internal: true,
        domain: "lab.example".into(),
        ..red()
    })
    .unwrap();
    a.add_network(bridge_net()).unwrap();
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
    a.attach(NewAttachment {
        name: "Web".into(),
        ..attach_req("blue", "c1")
    })
    .unwrap();
    a.attach(attach_req("blue", "c2")).unwrap();
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
    a.add_network(blue()).unwrap();
    a.dataplane().lock().fail_services = true;
    assert!(a.add_network(red()).is_err());
    assert_eq!(a.networks().unwrap().len(), 1);
    let s = a.dataplane().lock();
    assert_eq!(s.firewall.len(), 1, "the firewall no longer knows red");
    assert!(!s.networks.contains_key("wg1"));
}

#[test]
fn domains_and_host_names_are_validated() {
    let mut a = agent();
    let err = a
        .add_network(NewNetwork {
            domain: "Bad_Domain".into(),
            ..blue()
        })
        .unwrap_err()
        .to_string();
    assert!(err.contains("domain"), "{err}");
    assert!(agent().with_host_name("no.dots").is_err());
}
