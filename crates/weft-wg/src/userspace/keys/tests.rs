//! Rotating an engine's key while traffic flows, and what the old key is
//! worth afterwards — to a peer that has not learnt the new one, and to a
//! stranger holding it.

use std::net::SocketAddr;
use std::sync::Arc;

use crate::userspace::io::mem::MemNetwork;
use crate::userspace::tests::{A_IP, B_IP, QUIET, Side, WAIT, expect_through, ipv4_udp};
use crate::{DeviceConfig, PeerConfig, PrivateKey, PublicKey};
use weft_testkit::wait_for_value;

/// Two engines that know each other, with a session both ways.
fn talking(net: &Arc<MemNetwork>) -> (Side, Side) {
    let a = Side::new("wga", net, [192, 0, 2, 1]);
    let b = Side::new("wgb", net, [192, 0, 2, 2]);
    a.add_peer(&b, "10.9.0.2/32", true);
    b.add_peer(&a, "10.9.0.1/32", true);
    expect_through(&a, &b, &ipv4_udp(A_IP, B_IP, b"before"));
    expect_through(&b, &a, &ipv4_udp(B_IP, A_IP, b"before, back"));
    (a, b)
}

/// `side` takes a new key and retires its old one, as the agent does.
fn rotate(side: &mut Side) -> PrivateKey {
    let old = side.key.clone();
    let new = PrivateKey::generate();
    configure(side, new.clone(), Some(old.clone()));
    side.key = new;
    old
}

fn configure(side: &Side, key: PrivateKey, retiring: Option<PrivateKey>) {
    side.engine
        .configure(&DeviceConfig {
            private_key: Some(key),
            retiring_key: Some(retiring),
            ..Default::default()
        })
        .unwrap();
}

/// `side` replaces its peer `old` by `new` (a key change is a new peer,
/// as on the kernel module).
fn learn_key(side: &Side, old: &PrivateKey, new: &Side, allowed: &str) {
    let mut gone = PeerConfig::new(old.public_key());
    gone.remove = true;
    let mut peer = PeerConfig::new(new.public());
    peer.allowed_ips = vec![allowed.parse().unwrap()];
    peer.endpoint = Some(SocketAddr::new(new.underlay, 51820));
    side.engine
        .configure(&DeviceConfig {
            peers: vec![gone, peer],
            ..Default::default()
        })
        .unwrap();
}

/// A third engine on the underlay holding `key`, talking to `to`'s
/// public key at its address.
fn holding(net: &Arc<MemNetwork>, key: &PrivateKey, to: &Side, allowed: &str) -> Side {
    aimed_at(net, key, to.public(), to, allowed)
}

/// A third engine on the underlay holding `key`, talking to `to` at its
/// address as if its public key were `public`.
fn aimed_at(
    net: &Arc<MemNetwork>,
    key: &PrivateKey,
    public: PublicKey,
    to: &Side,
    allowed: &str,
) -> Side {
    static NEXT: std::sync::atomic::AtomicU8 = std::sync::atomic::AtomicU8::new(100);
    let host = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let mut side = Side::new("wgx", net, [192, 0, 2, host]);
    configure(&side, key.clone(), None);
    side.key = key.clone();
    let mut peer = PeerConfig::new(public);
    peer.allowed_ips = vec![allowed.parse().unwrap()];
    peer.endpoint = Some(SocketAddr::new(to.underlay, 51820));
    side.engine
        .configure(&DeviceConfig {
            peers: vec![peer],
            ..Default::default()
        })
        .unwrap();
    side
}

fn retiring_peers(side: &Side) -> usize {
    side.engine.info().retiring_peers
}

#[test]
fn sessions_survive_a_rotation_and_the_new_key_takes_over() {
    let net = MemNetwork::new();
    let (mut a, b) = talking(&net);
    let old = rotate(&mut a);
    assert_eq!(a.engine.info().public_key, Some(a.public()));
    assert_eq!(retiring_peers(&a), 1, "b knows only the old key so far");
    // The sessions made under the old key carry on, both ways.
    expect_through(&a, &b, &ipv4_udp(A_IP, B_IP, b"after, a to b"));
    expect_through(&b, &a, &ipv4_udp(B_IP, A_IP, b"after, b to a"));

    // b learns the new key: its next packet makes a session under it.
    learn_key(&b, &old, &a, "10.9.0.1/32");
    expect_through(&b, &a, &ipv4_udp(B_IP, A_IP, b"under the new key"));
    expect_through(&a, &b, &ipv4_udp(A_IP, B_IP, b"and back"));
    wait_for_value(
        "a to retire b's old tunnel",
        WAIT,
        || retiring_peers(&a),
        |n| *n == 0,
    );
}

#[test]
fn a_peer_that_knows_only_the_old_key_still_gets_a_session() {
    let net = MemNetwork::new();
    let (mut a, b) = talking(&net);
    let old = rotate(&mut a);
    // b starts over (a restart) still knowing only a's old key.
    let b2 = aimed_at(&net, &b.key, old.public_key(), &a, "10.9.0.1/32");
    drop(b);
    expect_through(&b2, &a, &ipv4_udp(B_IP, A_IP, b"to the old key"));
    assert_eq!(retiring_peers(&a), 1, "b still needs the old key");
}

/// A stranger holding the old key (the leak a rotation answers) after
/// every peer learnt the new one, and a handshake sent to the old public
/// key after the engine forgot it: both get nothing. The same packets
/// before get through (the control).
#[test]
fn the_old_key_is_worth_nothing_once_retired() {
    let net = MemNetwork::new();
    let (mut a, b) = talking(&net);
    let old = rotate(&mut a);

    // Control: while a still answers to the old key, b's key aimed at
    // the old public key makes a session.
    let replayer = aimed_at(&net, &b.key, old.public_key(), &a, "10.9.0.1/32");
    expect_through(&replayer, &a, &ipv4_udp(B_IP, A_IP, b"old key, accepted"));

    // The rotation finishes: b learns the key, a forgets the old one.
    learn_key(&b, &old, &a, "10.9.0.1/32");
    expect_through(&b, &a, &ipv4_udp(B_IP, A_IP, b"new key"));
    configure(&a, a.key.clone(), None);
    assert_eq!(retiring_peers(&a), 0);
    assert!(a.engine.info().public_key == Some(a.public()));

    // Its handshake to the old public key (sessions gone) gets nothing.
    let replayer = aimed_at(&net, &b.key, old.public_key(), &a, "10.9.0.1/32");
    replayer
        .tun
        .inject(&ipv4_udp(B_IP, A_IP, b"old key, refused"));
    assert_eq!(
        a.tun.delivered(QUIET),
        None,
        "a must not answer its old key"
    );

    // A stranger with a's old private key posing as a to b: b dropped
    // that key, so nothing gets through.
    let stranger = holding(&net, &old, &b, "10.9.0.2/32");
    stranger.tun.inject(&ipv4_udp(A_IP, B_IP, b"I am a"));
    assert_eq!(b.tun.delivered(QUIET), None, "b must not take the old key");
    // Control: the real a, under its new key, gets through.
    expect_through(&a, &b, &ipv4_udp(A_IP, B_IP, b"the real a"));
}
