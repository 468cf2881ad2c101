//! Desired state applied to an agent on the in-memory data plane.

use super::*;
use crate::fake::FakeDataplane;
use crate::store::Store;

fn agent() -> Agent<FakeDataplane> {
    Agent::new(Store::in_memory().unwrap(), FakeDataplane::default())
}

fn key(byte: u8) -> String {
    weft_model::PrivateKey::from_bytes([byte; 32])
        .public_key()
        .to_base64()
}

fn peer(byte: u8, ip: &str, block: &str) -> pb::DesiredPeer {
    pb::DesiredPeer {
        host_id: format!("{byte:016x}"),
        host_name: format!("h{byte}"),
        public_key: key(byte),
        endpoint: format!("{ip}:51820"),
        allowed_ips: vec![block.into()],
    }
}

fn blue(peers: Vec<pb::DesiredPeer>) -> pb::DesiredNetwork {
    pb::DesiredNetwork {
        name: "blue".into(),
        subnet: "10.42.0.0/16".into(),
        block: "10.42.0.0/24".into(),
        internal: false,
        domain: "mesh.local".into(),
        peers,
        ..Default::default()
    }
}

fn desired(nets: Vec<pb::DesiredNetwork>) -> Desired {
    nets.into_iter().map(|n| (n.name.clone(), n)).collect()
}

fn managed(d: &Desired) -> BTreeSet<String> {
    d.keys().cloned().collect()
}

#[test]
fn networks_and_peers_follow_the_desired_state_and_report_keys() {
    let mut a = agent();
    let want = desired(vec![blue(vec![peer(2, "192.0.2.2", "10.42.1.0/24")])]);
    assert!(apply(&mut a, &want, &BTreeSet::new()).is_empty());
    let nets = a.networks().unwrap();
    assert_eq!(nets.len(), 1);
    assert_eq!(nets[0].record.block.to_string(), "10.42.0.0/24");
    let peers = a.peers("blue").unwrap();
    assert_eq!(peers.len(), 1);
    assert_eq!(peers[0].endpoint, "192.0.2.2:51820");
    assert_eq!(a.dataplane().peers("wg0").len(), 1);
    let peers = peer_report(&a, &managed(&want));
    let health = &peers.health;
    assert_eq!(health.iter().map(|h| h.count).sum::<u32>(), 1, "{health:?}");
    assert_eq!(peers.links.len(), 1, "{peers:?}");
    assert_eq!(peers.links[0].network, "blue");
    assert_eq!(peers.links[0].public_key, key(2));
    assert_eq!(peers.links[0].health, health[0].health);
    assert_eq!(peers.link_shape().len(), 1);
    assert_eq!(peer_report(&a, &BTreeSet::new()), PeerReport::default());
    let reported = report(&a, &managed(&want));
    assert_eq!(reported.len(), 1);
    assert_eq!(
        reported[0].public_key,
        nets[0].public_key.unwrap().to_base64()
    );

    // Applying the same again changes nothing in the kernel.
    let writes = a.dataplane().lock().writes;
    assert!(apply(&mut a, &want, &managed(&want)).is_empty());
    assert_eq!(a.dataplane().lock().writes, writes);

    // A peer moves, another comes, the first goes.
    let next = desired(vec![blue(vec![peer(3, "192.0.2.3", "10.42.2.0/24")])]);
    assert!(apply(&mut a, &next, &managed(&want)).is_empty());
    let peers = a.peers("blue").unwrap();
    assert_eq!(peers.len(), 1);
    assert_eq!(peers[0].public_key.to_base64(), key(3));

    // The network is no longer wanted: removed.
    assert!(apply(&mut a, &Desired::new(), &managed(&next)).is_empty());
    assert!(a.networks().unwrap().is_empty());
}

#[test]
fn local_networks_are_never_touched_and_errors_are_per_network() {
    let mut a = agent();
    let local = crate::networks::NetworkSpec {
        name: NetworkName::new("blue").unwrap(),
        subnet: "10.42.0.0/16".parse().unwrap(),
        block: "10.42.9.0/24".parse().unwrap(),
        kind: KindSpec::Wireguard {
            listen_port: None,
            private_key: None,
        },
        internal: false,
        domain: Domain::new("mesh.local").unwrap(),
    };
    a.add_network(local).unwrap();
    let mut bad = blue(vec![]);
    bad.name = "red".into();
    bad.subnet = "fd00::/48".into();
    let want = desired(vec![blue(vec![]), bad]);
    let errors = apply(&mut a, &want, &BTreeSet::new());
    assert_eq!(errors.len(), 2, "{errors:?}");
    assert!(
        errors
            .iter()
            .any(|e| e.contains("blue") && e.contains("made on this host")),
        "{errors:?}"
    );
    assert!(
        errors
            .iter()
            .any(|e| e.contains("red") && e.contains("IPv4")),
        "{errors:?}"
    );
    // The local network keeps its block, and is not removed either.
    assert!(apply(&mut a, &Desired::new(), &BTreeSet::new()).is_empty());
    assert_eq!(
        a.networks().unwrap()[0].record.block.to_string(),
        "10.42.9.0/24"
    );
}

#[test]
fn a_managed_network_whose_block_changed_is_made_again() {
    let mut a = agent();
    let want = desired(vec![blue(vec![])]);
    apply(&mut a, &want, &BTreeSet::new());
    let mut moved = blue(vec![]);
    moved.block = "10.42.5.0/24".into();
    let next = desired(vec![moved]);
    assert!(apply(&mut a, &next, &managed(&want)).is_empty());
    assert_eq!(
        a.networks().unwrap()[0].record.block.to_string(),
        "10.42.5.0/24"
    );
}

#[test]
fn a_state_in_pieces_is_whole_only_with_its_last_piece() {
    let current = desired(vec![blue(vec![peer(1, "192.0.2.1", "10.42.1.0/24")])]);
    let mut pieces = Pieces::default();
    let first = pb::DesiredState {
        revision: 5,
        snapshot: true,
        networks: vec![blue(vec![peer(2, "192.0.2.2", "10.42.2.0/24")])],
        removed: vec![],
        patches: vec![],
        more: true,
    };
    assert!(pieces.add(&current, &first, "me").is_none());
    let last = pb::DesiredState {
        revision: 5,
        snapshot: false,
        networks: vec![],
        removed: vec![],
        patches: vec![pb::NetworkPatch {
            network: "blue".into(),
            peers: vec![peer(3, "192.0.2.3", "10.42.3.0/24")],
            removed_peers: vec![],
        }],
        more: false,
    };
    let (next, before) = pieces.add(&current, &last, "me").unwrap();
    assert_eq!(before, current, "the state before the message");
    assert_eq!(
        next["blue"].peers,
        [
            peer(2, "192.0.2.2", "10.42.2.0/24"),
            peer(3, "192.0.2.3", "10.42.3.0/24")
        ]
    );
    // A single message is whole at once.
    let (again, _) = pieces.add(&next, &last, "me").unwrap();
    assert_eq!(again, next);
}

/// VXLAN network `a-lan` riding in `blue` (named to sort before it).
fn lan(vteps: &[(&str, &str)]) -> pb::DesiredNetwork {
    pb::DesiredNetwork {
        name: "a-lan".into(),
        subnet: "10.50.0.0/16".into(),
        block: "10.50.0.0/24".into(),
        domain: "mesh.local".into(),
        peers: (vteps.iter().enumerate())
            .map(|(i, (ip, block))| pb::DesiredPeer {
                host_id: format!("{:016x}", i + 2),
                host_name: format!("h{}", i + 2),
                public_key: String::new(),
                endpoint: ip.to_string(),
                allowed_ips: vec![block.to_string()],
            })
            .collect(),
        mode: "vxlan".into(),
        vni: 10_000,
        mtu: 0,
        over: "blue".into(),
        vm_nics: vec![],
        internal: false,
    }
}

#[test]
fn a_vxlan_network_is_made_after_its_carrier_with_its_tunnel_endpoints() {
    let mut a = agent();
    let want = desired(vec![
        blue(vec![]),
        lan(&[("10.42.1.1", "10.50.1.0/24"), ("10.42.2.1", "10.50.2.0/24")]),
    ]);
    assert!(apply(&mut a, &want, &BTreeSet::new()).is_empty());
    let nets = a.networks().unwrap();
    let made = nets.iter().find(|n| n.record.name == "a-lan").unwrap();
    let vx = made.record.vxlan.as_ref().unwrap();
    assert_eq!(vx.vni, 10_000);
    assert_eq!(vx.underlay, Underlay::Over("blue".into()));
    // Inside WireGuard: 1420 less VXLAN's 50.
    assert_eq!(vx.mtu, 1370);
    let vteps = |a: &Agent<FakeDataplane>| -> Vec<String> {
        a.vteps("a-lan")
            .unwrap()
            .iter()
            .map(|v| format!("{} {}", v.address, v.block.unwrap()))
            .collect()
    };
    assert_eq!(
        vteps(&a),
        ["10.42.1.1 10.50.1.0/24", "10.42.2.1 10.50.2.0/24"]
    );
    // No WireGuard key is reported for it.
    let reported = report(&a, &managed(&want));
    assert_eq!(reported.len(), 1);
    assert_eq!(reported[0].network, "blue");

    // Again: nothing written. A host leaves the site, another moves in.
    let writes = a.dataplane().lock().writes;
    assert!(apply(&mut a, &want, &managed(&want)).is_empty());
    assert_eq!(a.dataplane().lock().writes, writes);
    let next = desired(vec![
        blue(vec![]),
        lan(&[("10.42.2.1", "10.50.2.0/24"), ("10.42.3.1", "10.50.3.0/24")]),
    ]);
    assert!(apply(&mut a, &next, &managed(&want)).is_empty());
    assert_eq!(
        vteps(&a),
        ["10.42.2.1 10.50.2.0/24", "10.42.3.1 10.50.3.0/24"]
    );

    // This host leaves the site (and blue with it): the VXLAN network
    // goes first, then its carrier.
    assert!(apply(&mut a, &Desired::new(), &managed(&next)).is_empty());
    assert!(a.networks().unwrap().is_empty());
}

#[test]
fn a_vxlan_network_with_another_vni_is_made_again() {
    let mut a = agent();
    let mut plain = lan(&[("192.0.2.2", "10.50.1.0/24")]);
    plain.over = String::new();
    let want = desired(vec![plain.clone()]);
    assert!(apply(&mut a, &want, &BTreeSet::new()).is_empty());
    assert_eq!(
        a.networks().unwrap()[0].record.vxlan.as_ref().unwrap().mtu,
        1450
    );
    plain.vni = 10_001;
    let next = desired(vec![plain]);
    assert!(apply(&mut a, &next, &managed(&want)).is_empty());
    let nets = a.networks().unwrap();
    assert_eq!(nets[0].record.vxlan.as_ref().unwrap().vni, 10_001);
    assert_eq!(a.vteps("a-lan").unwrap().len(), 1);
    // A bad VNI is refused for that network alone.
    let mut bad = lan(&[]);
    bad.vni = 0;
    bad.over = String::new();
    let errors = apply(&mut a, &desired(vec![bad]), &managed(&next));
    assert!(errors.iter().any(|e| e.contains("vni")), "{errors:?}");
}

/// A peer that rotated its key comes back with the same block: the new
/// key replaces the old one in one change of the data plane, so there is
/// no moment without a peer for that block.
#[test]
fn a_peers_new_key_replaces_the_old_one_in_one_change() {
    let mut a = agent();
    let before = desired(vec![blue(vec![
        peer(2, "192.0.2.2", "10.42.1.0/24"),
        peer(3, "192.0.2.3", "10.42.2.0/24"),
    ])]);
    assert!(apply(&mut a, &before, &BTreeSet::new()).is_empty());
    let mut rotated = peer(4, "192.0.2.2", "10.42.1.0/24");
    rotated.host_id = peer(2, "", "").host_id;
    let after = desired(vec![blue(vec![
        rotated,
        peer(3, "192.0.2.3", "10.42.2.0/24"),
    ])]);
    let writes = a.dataplane().lock().writes;
    assert!(apply(&mut a, &after, &managed(&before)).is_empty());
    assert_eq!(a.dataplane().lock().writes, writes + 1, "one change");
    let mut keys: Vec<String> = a
        .peers("blue")
        .unwrap()
        .iter()
        .map(|p| p.public_key.to_base64())
        .collect();
    keys.sort();
    let mut want = vec![key(4), key(3)];
    want.sort();
    assert_eq!(keys, want);
    assert_eq!(a.dataplane().peers("wg0").len(), 2);
}
