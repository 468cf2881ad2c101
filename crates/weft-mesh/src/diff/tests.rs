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
