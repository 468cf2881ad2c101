//! Whole engines talking to each other through the in-memory I/O seam.

use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::os::unix::net::UnixStream;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::Engine;
use super::io::mem::{MemNetwork, MemTun};
use crate::uapi::proto;
use crate::{DeviceConfig, PeerConfig, PrivateKey, PublicKey};
use weft_testkit::wait_for_value;

pub(crate) const WAIT: Duration = Duration::from_secs(3);
pub(crate) const QUIET: Duration = Duration::from_millis(400);

/// An IPv4/UDP packet (checksums are not looked at by the engine).
pub(crate) fn ipv4_udp(src: [u8; 4], dst: [u8; 4], payload: &[u8]) -> Vec<u8> {
    let total = 20 + 8 + payload.len();
    let mut p = vec![0u8; total];
    p[0] = 0x45;
    p[2..4].copy_from_slice(&(total as u16).to_be_bytes());
    p[8] = 64;
    p[9] = 17;
    p[12..16].copy_from_slice(&src);
    p[16..20].copy_from_slice(&dst);
    p[20..22].copy_from_slice(&4000u16.to_be_bytes());
    p[22..24].copy_from_slice(&5000u16.to_be_bytes());
    p[24..26].copy_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
    p[28..].copy_from_slice(payload);
    p
}

pub(crate) struct Side {
    pub engine: Engine,
    pub tun: Arc<MemTun>,
    pub key: PrivateKey,
    pub underlay: IpAddr,
}

impl Side {
    pub fn new(name: &str, net: &Arc<MemNetwork>, underlay: [u8; 4]) -> Self {
        let underlay = IpAddr::from(underlay);
        let tun = MemTun::new(1420);
        let engine = Engine::start(name, tun.clone(), Box::new(net.host(underlay))).unwrap();
        let key = PrivateKey::generate();
        engine
            .configure(&DeviceConfig {
                private_key: Some(key.clone()),
                listen_port: Some(51820),
                ..Default::default()
            })
            .unwrap();
        Side {
            engine,
            tun,
            key,
            underlay,
        }
    }

    pub fn public(&self) -> PublicKey {
        self.key.public_key()
    }

    pub fn add_peer(&self, other: &Side, allowed: &str, with_endpoint: bool) {
        let mut peer = PeerConfig::new(other.public());
        peer.allowed_ips = vec![allowed.parse().unwrap()];
        if with_endpoint {
            peer.endpoint = Some(SocketAddr::new(other.underlay, 51820));
        }
        self.engine
            .configure(&DeviceConfig {
                peers: vec![peer],
                ..Default::default()
            })
            .unwrap();
    }
}

pub(crate) const A_IP: [u8; 4] = [10, 9, 0, 1];
pub(crate) const B_IP: [u8; 4] = [10, 9, 0, 2];

pub(crate) fn pair() -> (Side, Side) {
    let net = MemNetwork::new();
    let a = Side::new("wga", &net, [192, 0, 2, 1]);
    let b = Side::new("wgb", &net, [192, 0, 2, 2]);
    a.add_peer(&b, "10.9.0.2/32", true);
    b.add_peer(&a, "10.9.0.1/32", true);
    (a, b)
}

/// Send `packet` into `from`'s tunnel and expect it to come out of `to`'s.
pub(crate) fn expect_through(from: &Side, to: &Side, packet: &[u8]) {
    from.tun.inject(packet);
    let got = to.tun.delivered(WAIT).expect("packet should come through");
    assert_eq!(got, packet, "delivered unchanged, padding removed");
}

#[test]
fn handshake_and_traffic_both_ways() {
    let (a, b) = pair();
    expect_through(&a, &b, &ipv4_udp(A_IP, B_IP, b"hello from a"));
    expect_through(&b, &a, &ipv4_udp(B_IP, A_IP, b"hello from b, a bit longer"));

    let info = a.engine.info();
    assert_eq!(info.public_key, Some(a.public()));
    assert_eq!(info.listen_port, 51820);
    let peer = info.peer(&b.public()).unwrap();
    assert!(peer.last_handshake.is_some(), "{peer:?}");
    let age = std::time::SystemTime::now()
        .duration_since(peer.last_handshake.unwrap())
        .unwrap();
    assert!(
        age < Duration::from_secs(5),
        "handshake was just now, not {age:?} ago"
    );
    assert!(peer.tx_bytes > 0 && peer.rx_bytes > 0, "{peer:?}");
    assert_eq!(peer.allowed_ips, vec!["10.9.0.2/32".parse().unwrap()]);
    assert_eq!(peer.endpoint, Some("192.0.2.2:51820".parse().unwrap()));
}

#[test]
fn bursts_in_both_directions_arrive_complete_and_in_order() {
    let (a, b) = pair();
    expect_through(&a, &b, &ipv4_udp(A_IP, B_IP, b"session up"));
    // Both directions at once, so that each side's thread also serves the
    // other side now and then; a side must still deliver in order.
    let burst = |from: [u8; 4], to: [u8; 4]| -> Vec<Vec<u8>> {
        (0..300u32)
            .map(|i| ipv4_udp(from, to, &i.to_be_bytes().repeat(1 + i as usize % 40)))
            .collect()
    };
    let (to_b, to_a) = (burst(A_IP, B_IP), burst(B_IP, A_IP));
    for (x, y) in to_b.iter().zip(&to_a) {
        a.tun.inject(x);
        b.tun.inject(y);
    }
    for (side, expected) in [(&b, &to_b), (&a, &to_a)] {
        for (i, packet) in expected.iter().enumerate() {
            let got = side
                .tun
                .delivered(WAIT)
                .unwrap_or_else(|| panic!("packet {i} lost"));
            assert_eq!(&got, packet, "packet {i} in order and unchanged");
        }
    }
}

/// What one side sent the other received, byte for byte, when nothing is
/// lost on the way: the transfer counters count whole datagrams both ways,
/// as the kernel's do (`wg show` means the same on either backend).
#[test]
fn transfer_counters_count_whole_datagrams_both_ways() {
    let (a, b) = pair();
    for i in 0..20u8 {
        expect_through(&a, &b, &ipv4_udp(A_IP, B_IP, &vec![i; 1 + 37 * i as usize]));
        expect_through(&b, &a, &ipv4_udp(B_IP, A_IP, &[i; 3]));
    }
    let counters = |side: &Side, other: &Side| {
        let info = side.engine.info();
        let peer = info.peer(&other.public()).unwrap();
        (peer.rx_bytes, peer.tx_bytes)
    };
    let (a_rx, a_tx) = wait_for_value(
        "a's counters to match b's",
        WAIT,
        || (counters(&a, &b), counters(&b, &a)),
        |((a_rx, a_tx), (b_rx, b_tx))| a_tx == b_rx && b_tx == a_rx,
    )
    .0;
    // 20 data packets each way, each at least 32 bytes of header and tag
    // beyond its padded plaintext, plus a handshake.
    assert!(a_tx > 20 * 32 + 148 && a_rx > 20 * 32 + 92, "{a_rx} {a_tx}");
}

#[test]
fn packets_without_a_route_or_from_foreign_sources_are_dropped() {
    let (a, b) = pair();
    expect_through(&a, &b, &ipv4_udp(A_IP, B_IP, b"session up"));

    // No peer owns 10.9.0.3: nothing leaves a.
    a.tun.inject(&ipv4_udp(A_IP, [10, 9, 0, 3], b"nowhere"));
    assert_eq!(b.tun.delivered(QUIET), None);

    // b claims a source a has not routed to b: a decrypts it, then drops it.
    let rx_before = a.engine.info().peer(&b.public()).unwrap().rx_bytes;
    b.tun.inject(&ipv4_udp([10, 9, 0, 99], A_IP, b"spoofed"));
    assert_eq!(
        a.tun.delivered(QUIET),
        None,
        "foreign source must be dropped"
    );
    let rx_after = a.engine.info().peer(&b.public()).unwrap().rx_bytes;
    assert!(
        rx_after > rx_before,
        "the spoofed packet did arrive and was decrypted"
    );

    // A legitimate packet still passes afterwards.
    expect_through(&b, &a, &ipv4_udp(B_IP, A_IP, b"legit"));
}

#[test]
fn a_removed_peer_stops_traffic() {
    let (a, b) = pair();
    expect_through(&a, &b, &ipv4_udp(A_IP, B_IP, b"before"));
    expect_through(&b, &a, &ipv4_udp(B_IP, A_IP, b"before"));

    let mut remove = PeerConfig::new(b.public());
    remove.remove = true;
    a.engine
        .configure(&DeviceConfig {
            peers: vec![remove],
            ..Default::default()
        })
        .unwrap();
    assert!(a.engine.info().peers.is_empty());

    a.tun.inject(&ipv4_udp(A_IP, B_IP, b"after"));
    assert_eq!(b.tun.delivered(QUIET), None, "a has no route to b any more");
    b.tun.inject(&ipv4_udp(B_IP, A_IP, b"after"));
    assert_eq!(
        a.tun.delivered(QUIET),
        None,
        "b's session with a is gone on a's side"
    );
}

#[test]
fn endpoints_are_learned_from_authenticated_packets() {
    let net = MemNetwork::new();
    let a = Side::new("wga", &net, [192, 0, 2, 1]);
    let b = Side::new("wgb", &net, [192, 0, 2, 2]);
    a.add_peer(&b, "10.9.0.2/32", true);
    b.add_peer(&a, "10.9.0.1/32", false);
    assert_eq!(b.engine.info().peers[0].endpoint, None);

    // b cannot reach a before it knows where a is.
    b.tun.inject(&ipv4_udp(B_IP, A_IP, b"too early"));
    assert_eq!(a.tun.delivered(QUIET), None);

    expect_through(&a, &b, &ipv4_udp(A_IP, B_IP, b"here I am"));
    assert_eq!(
        b.engine.info().peers[0].endpoint,
        Some("192.0.2.1:51820".parse().unwrap())
    );
    expect_through(&b, &a, &ipv4_udp(B_IP, A_IP, b"found you"));

    // a moves to another port; b follows once a speaks from there.
    a.engine
        .configure(&DeviceConfig {
            listen_port: Some(0),
            ..Default::default()
        })
        .unwrap();
    let new_port = a.engine.listen_port();
    assert_ne!(new_port, 51820);
    expect_through(&a, &b, &ipv4_udp(A_IP, B_IP, b"moved"));
    let learned = b.engine.info().peers[0].endpoint.unwrap();
    assert_eq!(
        learned,
        SocketAddr::new(Ipv4Addr::new(192, 0, 2, 1).into(), new_port)
    );
    expect_through(&b, &a, &ipv4_udp(B_IP, A_IP, b"followed"));
}

#[test]
fn configuration_follows_wg_set_semantics() {
    let net = MemNetwork::new();
    let a = Side::new("wga", &net, [192, 0, 2, 1]);
    let (p1, p2) = (
        PrivateKey::generate().public_key(),
        PrivateKey::generate().public_key(),
    );
    let peer = |key, ips: &[&str]| {
        let mut p = PeerConfig::new(key);
        p.allowed_ips = ips.iter().map(|s| s.parse().unwrap()).collect();
        p
    };
    let apply = |config: DeviceConfig| a.engine.configure(&config).unwrap();
    let ips_of = |key| {
        let info = a.engine.info();
        info.peer(&key).map(|p| {
            p.allowed_ips
                .iter()
                .map(|n| n.to_string())
                .collect::<Vec<_>>()
        })
    };

    let mut first = peer(p1, &["10.0.1.0/24"]);
    first.preshared_key = Some([7; 32]);
    first.persistent_keepalive = Some(25);
    apply(DeviceConfig {
        peers: vec![first],
        ..Default::default()
    });
    assert_eq!(a.engine.info().peers[0].persistent_keepalive, Some(25));

    // Allowed IPs accumulate unless replaced, and move between peers.
    apply(DeviceConfig {
        peers: vec![peer(p1, &["10.0.2.0/24"])],
        ..Default::default()
    });
    assert_eq!(ips_of(p1).unwrap(), ["10.0.1.0/24", "10.0.2.0/24"]);
    apply(DeviceConfig {
        peers: vec![peer(p2, &["10.0.2.0/24"])],
        ..Default::default()
    });
    assert_eq!(ips_of(p1).unwrap(), ["10.0.1.0/24"]);
    assert_eq!(ips_of(p2).unwrap(), ["10.0.2.0/24"]);
    let mut replace = peer(p1, &["10.0.3.0/24"]);
    replace.replace_allowed_ips = true;
    apply(DeviceConfig {
        peers: vec![replace],
        ..Default::default()
    });
    assert_eq!(ips_of(p1).unwrap(), ["10.0.3.0/24"]);

    // Zero clears the keepalive; update_only never creates.
    let mut off = PeerConfig::new(p1);
    off.persistent_keepalive = Some(0);
    let mut ghost = peer(PrivateKey::generate().public_key(), &["10.0.9.0/24"]);
    ghost.update_only = true;
    apply(DeviceConfig {
        peers: vec![off, ghost],
        ..Default::default()
    });
    let info = a.engine.info();
    assert_eq!(info.peers.len(), 2);
    assert_eq!(info.peer(&p1).unwrap().persistent_keepalive, None);

    // replace_peers keeps only the listed ones; order of creation is kept.
    apply(DeviceConfig {
        replace_peers: true,
        peers: vec![peer(p2, &[])],
        ..Default::default()
    });
    let info = a.engine.info();
    assert_eq!(
        info.peers.iter().map(|p| p.public_key).collect::<Vec<_>>(),
        [p2]
    );
    assert!(
        info.peer(&p2).unwrap().allowed_ips.is_empty(),
        "re-created without its old IPs"
    );

    // Our own public key is never a peer; a zero private key removes ours.
    apply(DeviceConfig {
        peers: vec![peer(a.public(), &["10.0.8.0/24"])],
        ..Default::default()
    });
    assert!(a.engine.info().peer(&a.public()).is_none());
    apply(DeviceConfig {
        private_key: Some(PrivateKey::from_bytes([0; 32])),
        ..Default::default()
    });
    assert_eq!(a.engine.info().public_key, None);

    // fwmark is reported.
    apply(DeviceConfig {
        fwmark: Some(0x99),
        ..Default::default()
    });
    assert_eq!(a.engine.info().fwmark, 0x99);
}

#[test]
fn a_busy_port_leaves_the_device_unchanged() {
    let net = MemNetwork::new();
    let a = Side::new("wga", &net, [192, 0, 2, 1]);
    let _squatter = {
        use super::io::UdpBinder;
        net.host("192.0.2.1".parse().unwrap())
            .bind(4000, 0)
            .unwrap()
    };
    let peer = PeerConfig::new(PrivateKey::generate().public_key());
    let err = a
        .engine
        .configure(&DeviceConfig {
            listen_port: Some(4000),
            peers: vec![peer],
            ..Default::default()
        })
        .unwrap_err();
    assert_eq!(err.to_string(), "bind UDP port 4000 for wga");
    let source = std::error::Error::source(&err).expect("the OS error is the source");
    assert!(source.to_string().contains("in use"), "{source}");
    assert_eq!(err.errno(), libc::EADDRINUSE);
    let info = a.engine.info();
    assert_eq!(info.listen_port, 51820);
    assert!(info.peers.is_empty(), "nothing applied");
}

fn uapi(path: &std::path::Path, request: &str) -> String {
    let mut stream = UnixStream::connect(path).unwrap();
    stream.write_all(request.as_bytes()).unwrap();
    stream.shutdown(std::net::Shutdown::Write).unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    answer
}

#[test]
fn uapi_reads_and_changes_the_live_engine() {
    let (a, b) = pair();
    let dir = tempfile::tempdir().unwrap();
    a.engine.serve_uapi(dir.path()).unwrap();
    let socket = dir.path().join("wga.sock");
    expect_through(&a, &b, &ipv4_udp(A_IP, B_IP, b"for the counters"));

    let (dump, errno) = proto::parse_get_response(&uapi(&socket, "get=1\n\n")).unwrap();
    assert_eq!(errno, 0);
    assert_eq!(dump.private_key, Some(a.key.clone()));
    let peer = &dump.peers[0].info;
    assert_eq!(peer.public_key, b.public());
    assert!(peer.last_handshake.is_some() && peer.tx_bytes > 0);

    let third = PrivateKey::generate().public_key();
    let set = format!(
        "set=1\npublic_key={}\nallowed_ip=10.9.0.3/32\n\n",
        third.to_hex()
    );
    assert_eq!(uapi(&socket, &set), "errno=0\n\n");
    assert!(a.engine.info().peer(&third).is_some());
    assert_eq!(uapi(&socket, "set=1\nlisten_port=x\n\n"), "errno=-22\n\n");

    let started = Instant::now();
    a.engine.stop();
    assert!(started.elapsed() < Duration::from_secs(2), "stop is prompt");
    assert!(!socket.exists(), "socket removed when the engine stops");
}
