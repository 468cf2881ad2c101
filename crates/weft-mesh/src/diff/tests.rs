use super::*;
use weft_model::PublicKey;

fn peer(endpoint: &str) -> PeerPlan {
    PeerPlan {
        host: "b".into(),
        public_key: PublicKey([1; 32]),
        endpoint: endpoint.into(),
        allowed_ips: vec![
            "10.42.1.0/24".parse().unwrap(),
            "10.42.2.0/24".parse().unwrap(),
        ],
        keepalive: None,
    }
}

fn state(endpoint: &str) -> PeerState {
    PeerState {
        public_key: PublicKey([1; 32]),
        endpoint: Some(endpoint.into()),
        allowed_ips: vec![
            "10.42.2.0/24".parse().unwrap(),
            "10.42.1.0/24".parse().unwrap(),
        ],
        keepalive: Some(0),
    }
}

#[test]
fn peers_compare_as_wireguard_sees_them() {
    assert!(peer_matches(
        &peer("192.0.2.2:51820"),
        &state("192.0.2.2:51820")
    ));
    assert!(!peer_matches(
        &peer("192.0.2.2:51820"),
        &state("192.0.2.9:51820")
    ));
    // A name matches what it resolved to, on the same port only.
    assert!(peer_matches(
        &peer("b.example:51820"),
        &state("192.0.2.9:51820")
    ));
    assert!(!peer_matches(
        &peer("b.example:51820"),
        &state("192.0.2.9:51821")
    ));
    assert!(peer_matches(
        &peer("[2001:db8::2]:7"),
        &state("[2001:db8::2]:7")
    ));
    assert!(!peer_matches(
        &peer("[2001:db8::2]:7"),
        &state("[2001:db8::3]:7")
    ));
    let mut no_endpoint = state("x");
    no_endpoint.endpoint = None;
    assert!(!peer_matches(&peer("192.0.2.2:51820"), &no_endpoint));
    let mut keepalive = peer("192.0.2.2:51820");
    keepalive.keepalive = Some(25);
    assert!(!peer_matches(&keepalive, &state("192.0.2.2:51820")));
}

/// A host whose key was rotated (`weft network rotate-key`) comes back as
/// a new peer holding the old one's block: one replacement, never a
/// removal and an addition (the agent would be without a peer for that
/// block in between, and refuses the overlapping allowed IPs anyway).
#[test]
fn a_rotated_key_replaces_the_old_peer_in_one_action() {
    let mut rotated = peer("192.0.2.2:51820");
    rotated.public_key = PublicKey([2; 32]);
    let mut other = peer("192.0.2.3:51820");
    other.public_key = PublicKey([4; 32]);
    other.allowed_ips = vec!["10.42.9.0/24".parse().unwrap()];
    let want = HostNetworkPlan {
        network: "blue".into(),
        subnet: "10.42.0.0/16".parse().unwrap(),
        block: "10.42.3.0/24".parse().unwrap(),
        address: "10.42.3.1".parse().unwrap(),
        listen_port: 51820,
        internal: false,
        role: crate::plan::Role::Mesh,
        public_key: Some(PublicKey([3; 32])),
        peers: vec![rotated, other],
        vxlan: None,
        vteps: vec![],
    };
    let mut gone = state("192.0.2.5:51820");
    gone.public_key = PublicKey([5; 32]);
    gone.allowed_ips = vec!["10.42.5.0/24".parse().unwrap()];
    let mut actions = vec![];
    diff_peers(&want, &[state("192.0.2.2:51820"), gone], &mut actions);
    let shown: Vec<String> = actions.iter().map(ToString::to_string).collect();
    assert_eq!(shown.len(), 3, "{shown:?}");
    assert!(
        matches!(&actions[0], Action::ReplacePeer { old, peer, .. }
            if *old == PublicKey([1; 32]) && peer.public_key == PublicKey([2; 32])),
        "{shown:?}"
    );
    // A new host with other blocks is added; a host gone is removed.
    assert!(
        matches!(&actions[1], Action::AddPeer { peer, .. } if peer.public_key == PublicKey([4; 32])),
        "{shown:?}"
    );
    assert!(
        matches!(&actions[2], Action::RemovePeer { public_key, .. } if *public_key == PublicKey([5; 32])),
        "{shown:?}"
    );
}
