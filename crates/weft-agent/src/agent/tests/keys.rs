//! Key rotation: the new key recorded and applied, the old one kept as
//! retiring while a peer needs it and then forgotten everywhere.

use super::*;
use crate::error::Conflict;

/// The key and retiring key the fake's device holds for blue.
fn device_keys(a: &Agent<FakeDataplane>) -> (PrivateKey, Option<PrivateKey>) {
    let s = a.dataplane().lock();
    match &s.networks["wg0"].kind {
        NetworkKind::Wireguard {
            private_key,
            retiring_key,
            ..
        } => (private_key.clone(), retiring_key.clone()),
        other => panic!("not WireGuard: {other:?}"),
    }
}

fn stored_keys(a: &Agent<FakeDataplane>) -> crate::records::WireguardSettings {
    a.store()
        .network("blue")
        .unwrap()
        .unwrap()
        .wireguard
        .unwrap()
}

#[test]
fn a_rotation_keeps_the_old_key_until_no_peer_needs_it() {
    let mut a = agent();
    let before = a.add_network_pb(blue()).unwrap().public_key.unwrap();
    let peer = PrivateKey::generate().public_key().to_base64();
    a.add_peer_pb(peer_req(&peer, "10.42.2.0/24")).unwrap();
    let old = stored_keys(&a).private_key;

    let view = a.rotate_key("blue").unwrap();
    let after = view.public_key.unwrap();
    assert_ne!(after, before, "a new key pair");
    let stored = stored_keys(&a);
    assert_eq!(stored.private_key.public_key(), after);
    assert_eq!(
        stored.retiring_key.as_ref(),
        Some(&old),
        "kept while the peer needs it"
    );
    assert!(stored.key_since.is_some());
    assert_eq!(
        device_keys(&a),
        (stored.private_key.clone(), Some(old.clone()))
    );
    assert_eq!(a.peers("blue").unwrap().len(), 1, "peers stay");

    // The peer has not shown it knows the new key: nothing retires.
    assert!(a.retire_keys().is_empty());
    assert_eq!(stored_keys(&a).retiring_key, Some(old));

    a.dataplane().lock().peers_learnt_key.insert("wg0".into());
    assert_eq!(a.retire_keys(), vec!["blue".to_string()]);
    assert_eq!(stored_keys(&a).retiring_key, None, "gone from the store");
    assert_eq!(device_keys(&a).1, None, "gone from the device");
    assert_eq!(stored_keys(&a).private_key.public_key(), after);
}

#[test]
fn without_peers_the_old_key_goes_at_once() {
    let mut a = agent();
    a.add_network_pb(blue()).unwrap();
    a.rotate_key("blue").unwrap();
    assert_eq!(stored_keys(&a).retiring_key, None);
    assert_eq!(device_keys(&a).1, None);
}

#[test]
fn a_refused_rotation_changes_nothing() {
    let mut a = agent();
    a.add_network_pb(blue()).unwrap();
    let before = stored_keys(&a);
    a.dataplane().lock().fail_ensure_network = true;
    assert!(a.rotate_key("blue").is_err());
    assert_eq!(stored_keys(&a), before, "the record is put back");
}

#[test]
fn only_wireguard_networks_that_exist_have_keys_to_rotate() {
    let mut a = agent();
    a.add_network_pb(bridge_net()).unwrap();
    let err = a.rotate_key("br").unwrap_err();
    assert!(
        matches!(&err, AgentError::Conflict(c) if matches!(**c, Conflict::NoKey { .. })),
        "{err:?}"
    );
    let err = a.rotate_key("nope").unwrap_err().to_string();
    assert!(err.contains("nope"), "{err}");
}

/// A peer that rotated its key is replaced in one change of the data plane
/// (`weft peer add … --replaces OLD`, what `weft up` sends); without
/// `replaces` its old blocks would be refused as taken.
#[test]
fn a_peers_new_key_replaces_its_old_one_in_one_change() {
    let mut a = agent();
    a.add_network_pb(blue()).unwrap();
    let old = PrivateKey::generate().public_key().to_base64();
    let new = PrivateKey::generate().public_key().to_base64();
    a.add_peer_pb(peer_req(&old, "10.42.2.0/24")).unwrap();
    let err = a.add_peer_pb(peer_req(&new, "10.42.2.0/24")).unwrap_err();
    assert!(err.to_string().contains("overlaps"), "{err}");

    let bad = pb::AddPeerRequest {
        replaces: "a private key pasted by mistake".into(),
        ..peer_req(&new, "10.42.2.0/24")
    };
    let err = a.add_peer_pb(bad).unwrap_err().to_string();
    assert!(err.contains("replaces") && !err.contains("pasted"), "{err}");

    let writes = a.dataplane().lock().writes;
    a.add_peer_pb(pb::AddPeerRequest {
        replaces: old.clone(),
        ..peer_req(&new, "10.42.2.0/24")
    })
    .unwrap();
    assert_eq!(a.dataplane().lock().writes, writes + 1, "one change");
    let keys: Vec<String> = (a.peers("blue").unwrap().iter())
        .map(|p| p.public_key.to_base64())
        .collect();
    assert_eq!(keys, vec![new]);
    assert_eq!(a.dataplane().peers("wg0").len(), 1);
}
