use super::*;

fn peer(id: &str, port: u16) -> pb::DesiredPeer {
    pb::DesiredPeer {
        host_id: id.into(),
        host_name: format!("h{id}"),
        public_key: format!("K{id}"),
        endpoint: format!("127.0.0.1:{port}"),
        allowed_ips: vec![format!("10.0.{}.0/24", id.len())],
        ..Default::default()
    }
}

fn net(name: &str, peers: Vec<pb::DesiredPeer>) -> pb::DesiredNetwork {
    pb::DesiredNetwork {
        name: name.into(),
        subnet: "10.0.0.0/16".into(),
        block: "10.0.0.0/24".into(),
        peers,
        ..Default::default()
    }
}

fn msg(revision: u64, snapshot: bool, networks: Vec<pb::DesiredNetwork>) -> pb::DesiredState {
    pb::DesiredState {
        revision,
        snapshot,
        networks,
        ..Default::default()
    }
}

#[test]
fn peers_are_found_by_id_and_their_entries_change_with_any_field() {
    let a = "00000000000000aa";
    let b = "00000000000000bb";
    let mut state = AgentState::default();
    state.apply(&msg(
        1,
        true,
        vec![net("blue", vec![peer(b, 1), peer(a, 1)])],
    ));
    let blue = state.network("blue").unwrap();
    assert_eq!(blue.peers(), 2);
    assert_eq!(peer_id(a), 0xaa);
    let before = blue.peer(0xaa).unwrap();
    assert!(blue.peer(0xcc).is_none());
    state.apply(&msg(
        2,
        false,
        vec![net("blue", vec![peer(b, 1), peer(a, 2)])],
    ));
    let after = state.network("blue").unwrap().peer(0xaa).unwrap();
    assert_ne!(before, after, "a new port is a new entry");
    assert_eq!(state.revision, 2);
    let mut renamed = peer(a, 2);
    renamed.host_name = "other".into();
    assert_ne!(entry_hash(&renamed), after);
    assert_eq!(peer_id("not hex"), peer_id("not hex"));
}

#[test]
fn snapshots_replace_deltas_replace_networks_and_removed_ones_go() {
    let mut state = AgentState::default();
    state.apply(&msg(
        1,
        true,
        vec![net("blue", vec![peer("01", 1)]), net("red", vec![])],
    ));
    // A delta: green added, red removed, blue untouched.
    let mut delta = msg(2, false, vec![net("green", vec![peer("02", 1)])]);
    delta.removed = vec!["red".into()];
    state.apply(&delta);
    assert!(state.network("red").is_none());
    assert_eq!(state.network("blue").unwrap().peers(), 1);
    assert_eq!(
        state.network("green").unwrap().peer(2),
        Some(entry_hash(&peer("02", 1)))
    );
    // A snapshot forgets what it does not carry.
    state.apply(&msg(3, true, vec![net("green", vec![])]));
    assert!(state.network("blue").is_none());
    assert_eq!(state.network("green").unwrap().peers(), 0);
}

#[test]
fn patches_and_pieces_change_only_what_they_name_and_skip_the_own_entry() {
    let own = "00000000000000aa";
    let mut state = AgentState::new(peer_id(own));
    // A snapshot in two pieces: the own entry is no peer; nothing
    // counts as applied until the last piece.
    let mut first = msg(
        5,
        true,
        vec![net("blue", vec![peer(own, 1), peer("03", 1)])],
    );
    first.more = true;
    state.apply(&first);
    assert!(!state.complete);
    assert_eq!(state.revision, 0);
    let mut second = msg(5, false, vec![]);
    second.patches = vec![pb::NetworkPatch {
        network: "blue".into(),
        peers: vec![peer("01", 1), peer("05", 1)],
        ..Default::default()
    }];
    state.apply(&second);
    assert!(state.complete);
    assert_eq!(state.revision, 5);
    let blue = state.network("blue").unwrap();
    assert_eq!(blue.ids, [1, 3, 5]);
    // One peer changed, one gone, one new, one for a network this host
    // does not have: merged in order, the rest untouched.
    let mut delta = msg(6, false, vec![]);
    delta.patches = vec![
        pb::NetworkPatch {
            network: "blue".into(),
            peers: vec![peer("04", 1), peer("03", 2), peer(own, 3)],
            removed_peers: vec!["0000000000000001".into()],
        },
        pb::NetworkPatch {
            network: "red".into(),
            peers: vec![peer("09", 1)],
            ..Default::default()
        },
    ];
    state.apply(&delta);
    let blue = state.network("blue").unwrap();
    assert_eq!(blue.ids, [3, 4, 5]);
    assert_eq!(blue.peer(3), Some(entry_hash(&peer("03", 2))));
    assert_eq!(blue.peer(5), Some(entry_hash(&peer("05", 1))));
    assert!(state.network("red").is_none());
}
