//! Peers: validation against the network and the other peers, rollback.

use super::*;

#[test]
fn peers_are_validated_and_applied() {
    let mut a = agent();
    let own = a
        .add_network_pb(blue())
        .unwrap()
        .public_key
        .unwrap()
        .to_base64();
    let k1 = PrivateKey::generate().public_key().to_base64();
    let k2 = PrivateKey::generate().public_key().to_base64();
    a.add_peer_pb(peer_req(&k1, "10.42.2.0/24")).unwrap();
    let before = snapshot(&a);
    for (req, want) in [
        (peer_req("garbage", "10.42.3.0/24"), "malformed key"),
        (peer_req(&own, "10.42.3.0/24"), "own key"),
        (peer_req(&k2, "10.42.1.0/24"), "own block"),
        (peer_req(&k2, "10.42.2.0/25"), "overlaps 10.42.2.0/24"),
        (peer_req(&k2, "10.42.3.0/24,x"), "allowed-ips"),
        (
            pb::AddPeerRequest {
                endpoint: "192.0.2.2".into(),
                ..peer_req(&k2, "10.42.3.0/24")
            },
            "endpoint",
        ),
        (
            pb::AddPeerRequest {
                network: "nope".into(),
                ..peer_req(&k2, "10.42.3.0/24")
            },
            "network \"nope\" does not exist",
        ),
        (
            pb::AddPeerRequest {
                keepalive: 70000,
                ..peer_req(&k2, "10.42.3.0/24")
            },
            "keepalive",
        ),
    ] {
        let err = a.add_peer_pb(req).unwrap_err().to_string();
        assert!(err.contains(want), "want {want:?} in {err:?}");
    }
    assert_eq!(snapshot(&a), before);
    assert_eq!(a.peers("blue").unwrap().len(), 1);
    // Re-adding a peer replaces it.
    a.add_peer_pb(pb::AddPeerRequest {
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
    a.add_network_pb(blue()).unwrap();
    let k1 = PrivateKey::generate().public_key().to_base64();
    a.add_peer_pb(peer_req(&k1, "10.42.2.0/24")).unwrap();
    a.dataplane().lock().fail_set_peers = true;
    assert!(a.add_peer_pb(peer_req(&k1, "10.42.5.0/24")).is_err());
    assert_eq!(
        a.peers("blue").unwrap()[0].allowed_ips[0].to_string(),
        "10.42.2.0/24"
    );
    let k2 = PrivateKey::generate().public_key().to_base64();
    assert!(a.add_peer_pb(peer_req(&k2, "10.42.6.0/24")).is_err());
    assert_eq!(a.peers("blue").unwrap().len(), 1);
}

#[test]
fn remove_peer() {
    let mut a = agent();
    a.add_network_pb(blue()).unwrap();
    let k1 = PrivateKey::generate().public_key().to_base64();
    a.add_peer_pb(peer_req(&k1, "10.42.2.0/24")).unwrap();
    assert!(a.remove_peer_pb("blue", &k1).unwrap());
    assert!(!a.remove_peer_pb("blue", &k1).unwrap());
    assert!(a.dataplane().peers("wg0").is_empty());
}
