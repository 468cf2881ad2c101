use super::*;

fn peer(byte: u8, ip: &str, block: &str) -> pb::DesiredPeer {
    pb::DesiredPeer {
        host_id: format!("{byte:016x}"),
        host_name: format!("h{byte}"),
        public_key: format!("key-{byte}"),
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

#[test]
fn merging_snapshots_and_deltas() {
    let mut state = Desired::new();
    merge(
        &mut state,
        &pb::DesiredState {
            revision: 1,
            snapshot: true,
            networks: vec![blue(vec![
                peer(1, "192.0.2.1", "10.42.1.0/24"),
                peer(9, "192.0.2.9", "10.42.9.0/24"),
            ])],
            removed: vec![],
            patches: vec![],
            more: false,
        },
        &format!("{:016x}", 9),
    );
    assert_eq!(state.len(), 1);
    // Its own entry (host 9) is not a peer.
    assert_eq!(state["blue"].peers, [peer(1, "192.0.2.1", "10.42.1.0/24")]);
    // A patch: 2 comes, 1 changes its address, 9 (itself) is ignored.
    merge(
        &mut state,
        &pb::DesiredState {
            revision: 2,
            snapshot: false,
            networks: vec![],
            removed: vec![],
            patches: vec![pb::NetworkPatch {
                network: "blue".into(),
                peers: vec![
                    peer(2, "192.0.2.2", "10.42.2.0/24"),
                    peer(1, "198.51.100.1", "10.42.1.0/24"),
                    peer(9, "192.0.2.99", "10.42.9.0/24"),
                ],
                removed_peers: vec![],
            }],
            more: false,
        },
        &format!("{:016x}", 9),
    );
    assert_eq!(
        state["blue"].peers,
        [
            peer(1, "198.51.100.1", "10.42.1.0/24"),
            peer(2, "192.0.2.2", "10.42.2.0/24")
        ]
    );
    // Another removes 1; one for a network it has not is ignored.
    let patch = |network: &str| pb::NetworkPatch {
        network: network.into(),
        peers: vec![],
        removed_peers: vec![format!("{:016x}", 1)],
    };
    merge(
        &mut state,
        &pb::DesiredState {
            revision: 3,
            snapshot: false,
            networks: vec![],
            removed: vec![],
            patches: vec![patch("blue"), patch("green")],
            more: false,
        },
        &format!("{:016x}", 9),
    );
    assert_eq!(state["blue"].peers, [peer(2, "192.0.2.2", "10.42.2.0/24")]);
    assert_eq!(state.len(), 1);
    let mut red = blue(vec![]);
    red.name = "red".into();
    merge(
        &mut state,
        &pb::DesiredState {
            revision: 2,
            snapshot: false,
            networks: vec![red],
            removed: vec!["blue".into()],
            patches: vec![],
            more: false,
        },
        "",
    );
    assert_eq!(state.keys().collect::<Vec<_>>(), ["red"]);
}

#[test]
fn deltas_carry_only_what_changed_and_rebuild_the_state() {
    let net = |name: &str, block: &str| pb::DesiredNetwork {
        name: name.into(),
        block: block.into(),
        ..Default::default()
    };
    let old: Desired = [
        ("blue".to_string(), net("blue", "1")),
        ("red".to_string(), net("red", "1")),
    ]
    .into();
    let new: Desired = [
        ("blue".to_string(), net("blue", "1")),
        ("green".to_string(), net("green", "1")),
    ]
    .into();
    let (changed, removed) = delta(&old, &new);
    assert_eq!(changed, [net("green", "1")]);
    assert_eq!(removed, ["red"]);
    let mut state = old.clone();
    merge(
        &mut state,
        &pb::DesiredState {
            revision: 2,
            snapshot: false,
            networks: changed,
            removed,
            patches: vec![],
            more: false,
        },
        "me",
    );
    assert_eq!(state, new);
    assert_eq!(delta(&new, &new), (vec![], vec![]));
    merge(
        &mut state,
        &pb::DesiredState {
            revision: 3,
            snapshot: true,
            networks: vec![net("x", "2")],
            removed: vec![],
            patches: vec![],
            more: false,
        },
        "me",
    );
    assert_eq!(state.keys().collect::<Vec<_>>(), ["x"]);
}
