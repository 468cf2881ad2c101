use super::*;
use crate::model::{NetworkKey, NetworkSpec, TenantId};

fn host(name: &str, endpoint: Option<&str>) -> Host {
    Host {
        id: HostId::generate(),
        tenant: TenantId::parse("t", "0000000000000000").unwrap(),
        name: name.into(),
        created_at: 0,
        revoked_at: None,
        endpoint: endpoint.map(String::from),
        version: None,
        last_seen: None,
        peer_health: Default::default(),
        peer_links: vec![],
        site: None,
    }
}

#[test]
fn peers_are_the_other_hosts_with_a_block_a_key_and_an_address() {
    let a = host("a", Some("192.0.2.1"));
    let b = host("b", Some("192.0.2.2"));
    let c = host("c", None);
    let net = Network {
        tenant: a.tenant.clone(),
        spec: NetworkSpec::new("blue", "10.42.0.0/16", "", false, "", None).unwrap(),
        created_at: 0,
    };
    let block = |h: &Host, b: &str| HostBlock {
        network: "blue".into(),
        host: h.id.clone(),
        block: b.parse().unwrap(),
    };
    let blocks = vec![
        block(&a, "10.42.0.0/24"),
        block(&b, "10.42.1.0/24"),
        block(&c, "10.42.2.0/24"),
    ];
    let key = |h: &Host, k: &str| HostKey {
        host: h.id.clone(),
        key: NetworkKey {
            network: "blue".into(),
            public_key: k.into(),
            listen_port: 51820,
        },
        since: None,
    };
    let keys = vec![key(&a, "KA"), key(&c, "KC")];
    let hosts = vec![a.clone(), b.clone(), c.clone()];
    let for_b = desired_for(
        &b.id,
        std::slice::from_ref(&net),
        &blocks,
        &keys,
        &hosts,
        &[],
    );
    let blue = &for_b["blue"];
    assert_eq!(blue.block, "10.42.1.0/24");
    // a: key and address; c: no address yet; b itself: never.
    assert_eq!(blue.peers.len(), 1);
    assert_eq!(blue.peers[0].public_key, "KA");
    assert_eq!(blue.peers[0].endpoint, "192.0.2.1:51820");
    assert_eq!(blue.peers[0].allowed_ips, ["10.42.0.0/24"]);
    // A host without a block gets nothing.
    let d = host("d", None);
    assert!(desired_for(&d.id, &[net], &blocks, &keys, &hosts, &[]).is_empty());
}

#[test]
fn a_host_outside_a_network_neither_gets_it_nor_is_a_peer_there() {
    let a = host("a", Some("192.0.2.1"));
    let b = host("b", Some("192.0.2.2"));
    let net = |name: &str, subnet: &str| Network {
        tenant: a.tenant.clone(),
        spec: NetworkSpec::new(name, subnet, "", false, "", None).unwrap(),
        created_at: 0,
    };
    let nets = [net("blue", "10.42.0.0/16"), net("red", "10.43.0.0/16")];
    let block = |n: &str, h: &Host, b: &str| HostBlock {
        network: n.into(),
        host: h.id.clone(),
        block: b.parse().unwrap(),
    };
    // Both in blue; only a in red (the tenant chose it so).
    let blocks = vec![
        block("blue", &a, "10.42.0.0/24"),
        block("blue", &b, "10.42.1.0/24"),
        block("red", &a, "10.43.0.0/24"),
    ];
    let key = |n: &str, h: &Host| HostKey {
        host: h.id.clone(),
        key: NetworkKey {
            network: n.into(),
            public_key: format!("K{}{}", n, h.name),
            listen_port: 51820,
        },
        since: None,
    };
    // b even reported a key for red: no block there, no part in it.
    let keys = vec![
        key("blue", &a),
        key("blue", &b),
        key("red", &a),
        key("red", &b),
    ];
    let hosts = vec![a.clone(), b.clone()];
    let for_a = desired_for(&a.id, &nets, &blocks, &keys, &hosts, &[]);
    let for_b = desired_for(&b.id, &nets, &blocks, &keys, &hosts, &[]);
    assert_eq!(for_b.keys().collect::<Vec<_>>(), ["blue"]);
    assert_eq!(for_a.keys().collect::<Vec<_>>(), ["blue", "red"]);
    assert!(for_a["red"].peers.is_empty(), "{:?}", for_a["red"]);
    assert_eq!(for_a["blue"].peers[0].host_name, "b");
}

#[test]
fn a_vxlan_networks_peers_are_tunnel_endpoints_without_keys() {
    let a = host("a", Some("192.0.2.1"));
    let b = host("b", Some("192.0.2.2"));
    let c = host("c", Some("192.0.2.3"));
    let vxlan = |name: &str, subnet: &str, over: Option<&str>| Network {
        tenant: a.tenant.clone(),
        spec: NetworkSpec::vxlan(crate::model::VxlanRequest {
            name,
            subnet,
            site: "east",
            vni: Some(100),
            mtu: None,
            over,
            internal: false,
            domain: "",
            block_prefix: None,
        })
        .unwrap(),
        created_at: 0,
    };
    let blue = Network {
        tenant: a.tenant.clone(),
        spec: NetworkSpec::new("blue", "10.42.0.0/16", "", false, "", None).unwrap(),
        created_at: 0,
    };
    let nets = [
        blue,
        vxlan("lan", "10.50.0.0/16", None),
        vxlan("sec", "10.51.0.0/16", Some("blue")),
    ];
    let block = |net: &str, h: &Host, b: &str| HostBlock {
        network: net.into(),
        host: h.id.clone(),
        block: b.parse().unwrap(),
    };
    // c is in lan and sec but not in blue: no address to tunnel to in sec.
    let blocks = vec![
        block("blue", &a, "10.42.0.0/24"),
        block("blue", &b, "10.42.1.0/24"),
        block("lan", &a, "10.50.0.0/24"),
        block("lan", &b, "10.50.1.0/24"),
        block("lan", &c, "10.50.2.0/24"),
        block("sec", &a, "10.51.0.0/24"),
        block("sec", &b, "10.51.1.0/24"),
        block("sec", &c, "10.51.2.0/24"),
    ];
    let hosts = vec![a.clone(), b.clone(), c.clone()];
    let for_a = desired_for(&a.id, &nets, &blocks, &[], &hosts, &[]);
    let lan = &for_a["lan"];
    assert_eq!(
        (lan.mode.as_str(), lan.vni, lan.over.as_str()),
        ("vxlan", 100, "")
    );
    let lan_peers: Vec<(&str, &str)> = (lan.peers.iter())
        .map(|p| (p.endpoint.as_str(), p.allowed_ips[0].as_str()))
        .collect();
    let mut want = vec![("192.0.2.2", "10.50.1.0/24"), ("192.0.2.3", "10.50.2.0/24")];
    want.sort_by_key(|(_, block)| *block);
    let mut got = lan_peers.clone();
    got.sort_by_key(|(_, block)| *block);
    assert_eq!(got, want);
    assert!(lan.peers.iter().all(|p| p.public_key.is_empty()));
    let sec = &for_a["sec"];
    assert_eq!(sec.over, "blue");
    assert_eq!(sec.peers.len(), 1, "{:?}", sec.peers);
    assert_eq!(sec.peers[0].endpoint, "10.42.1.1");
    assert_eq!(sec.peers[0].allowed_ips, ["10.51.1.0/24"]);
    // Blue (WireGuard) has no keys here: no peers, but the network.
    assert!(for_a["blue"].peers.is_empty());
    assert_eq!(for_a["blue"].mode, "");
    // The agents' feed tells every host the same.
    let (tables, _) = crate::agents::frame::Tables::build(&nets, &blocks, &[], &hosts, &[], None);
    for h in &hosts {
        let want = desired_for(&h.id, &nets, &blocks, &[], &hosts, &[]);
        assert_eq!(tables.desired(&h.id).unwrap(), want, "{}", h.name);
    }
}
