//! Two weft engines in two namespaces, over the fast path (TUN offloads,
//! UDP GSO/GRO, batched system calls): sizes, a large transfer, rekeys
//! under load, and an engine without offloads as the peer.

use crate::common;

use std::time::{Duration, Instant};

use common::traffic::{tcp_transfer, udp_sizes};
use common::*;
use weft_wg::Backend;
use weft_wg::userspace::EngineOptions;

const V4_2: &str = "10.9.0.2";
const V4_1: &str = "10.9.0.1";
/// Largest UDP payload in one tunnel packet (MTU 1420).
const V4_FULL: usize = 1420 - 20 - 8;
const V6_FULL: usize = 1420 - 40 - 8;

fn pair() -> EnginePair {
    let pair = engine_pair(EngineOptions::default(), EngineOptions::default());
    pair.ns1.exec_ok(&["ping", "-c1", "-W3", V4_2]);
    pair
}

#[test]
fn every_packet_size_passes_and_larger_ones_are_fragmented_or_refused() {
    if !privileged() {
        return;
    }
    let p = pair();
    let (ns1, ns2) = (&p.ns1.path(), &p.ns2.path());

    // Up to the MTU: one tunnel packet each, and nothing fragmented anywhere
    // (not the inner packet, not the encrypted datagram on the underlay).
    let frags = |ns: &Netns| ip_counter(ns, "FragCreates") + ip_counter(ns, "Ip6FragCreates");
    let before = (frags(&p.ns1), frags(&p.ns2));
    let all_v4: Vec<usize> = (1..=V4_FULL).collect();
    let all_v6: Vec<usize> = (1..=V6_FULL).collect();
    let v4_1 = V4_1.parse().unwrap();
    let v4_2 = V4_2.parse().unwrap();
    let v6_1 = "fd00::1".parse().unwrap();
    let v6_2 = "fd00::2".parse().unwrap();
    assert_eq!(
        udp_sizes(ns1, ns2, v4_2, 7001, all_v4.clone()),
        [] as [usize; 0]
    );
    assert_eq!(udp_sizes(ns2, ns1, v4_1, 7002, all_v4), [] as [usize; 0]);
    assert_eq!(
        udp_sizes(ns1, ns2, v6_2, 7003, all_v6.clone()),
        [] as [usize; 0]
    );
    assert_eq!(udp_sizes(ns2, ns1, v6_1, 7004, all_v6), [] as [usize; 0]);
    assert_eq!(
        (frags(&p.ns1), frags(&p.ns2)),
        before,
        "nothing was fragmented"
    );

    // Above it: the sending stack fragments before the tunnel (as over any
    // WireGuard interface), each fragment fits, the far end reassembles.
    let above = |full: usize| -> Vec<usize> {
        (full + 1..=1500)
            .chain([2000, 4000, 8972, 16_000, 32_000, 65_000])
            .collect()
    };
    assert_eq!(
        udp_sizes(ns1, ns2, v4_2, 7005, above(V4_FULL)),
        [] as [usize; 0]
    );
    assert_eq!(
        udp_sizes(ns2, ns1, v6_1, 7006, above(V6_FULL)),
        [] as [usize; 0]
    );
    assert!(frags(&p.ns1) > before.0, "the large ones were fragmented");

    // With "don't fragment", more than the MTU is refused at the source.
    let ns1 = &p.ns1;
    ns1.exec_ok(&[
        "ping",
        "-c1",
        "-W2",
        "-M",
        "do",
        "-s",
        &(1420 - 28).to_string(),
        V4_2,
    ]);
    let refused = ns1.exec(&[
        "ping",
        "-c1",
        "-W2",
        "-M",
        "do",
        "-s",
        &(1420 - 27).to_string(),
        V4_2,
    ]);
    assert!(!refused.status.success());
    let text = String::from_utf8_lossy(&refused.stderr).to_string()
        + &String::from_utf8_lossy(&refused.stdout);
    assert!(
        text.contains("message too long") || text.contains("mtu"),
        "{text}"
    );
}

#[test]
fn a_gigabyte_over_tcp_arrives_intact_over_the_fast_path() {
    if !privileged() {
        return;
    }
    let p = pair();
    let (ns1, ns2) = (&p.ns1.path(), &p.ns2.path());
    let big = tcp_transfer(ns1, ns2, V4_2.parse().unwrap(), 7101, 1 << 30);
    big.assert_intact();
    eprintln!("1 GiB over IPv4 at {:.2} Gbit/s", big.gbit_per_s());
    let back = tcp_transfer(ns2, ns1, "fd00::1".parse().unwrap(), 7102, 64 << 20);
    back.assert_intact();

    // The offloads did the work: super-packets from the TUN went out as GSO
    // sends, came in as GRO receives and reached the far TUN coalesced.
    for (backend, ifname) in [(&p.backend1, "wg1"), (&p.backend2, "wg2")] {
        let counters = backend.engine(ifname).unwrap().offload_counters();
        eprintln!("{ifname}: {counters:?}");
        assert!(counters.tun_super_packets > 0, "{ifname}: {counters:?}");
        assert!(counters.udp_gso_sends > 0, "{ifname}: {counters:?}");
        assert!(counters.udp_gro_receives > 0, "{ifname}: {counters:?}");
        assert!(counters.tun_coalesced_writes > 0, "{ifname}: {counters:?}");
    }
}

#[test]
fn traffic_goes_on_across_rekeys() {
    if !privileged() {
        return;
    }
    let fast_rekey = EngineOptions {
        rekey_after_time: Duration::from_secs(2),
        ..EngineOptions::default()
    };
    let p = engine_pair(fast_rekey.clone(), fast_rekey);
    p.ns1.exec_ok(&["ping", "-c1", "-W3", V4_2]);

    // Pings and back-to-back TCP transfers for 9 s while sessions are
    // replaced about every 2 s: no ping lost, every transfer intact.
    let pings = {
        let ns = p.ns1.name.clone();
        std::thread::spawn(move || {
            run(
                "ip",
                &[
                    "netns", "exec", &ns, "ping", "-c", "45", "-i", "0.2", "-W", "1", V4_2,
                ],
            )
        })
    };
    let (ns1, ns2) = (p.ns1.path(), p.ns2.path());
    let load = std::thread::spawn(move || {
        let deadline = Instant::now() + Duration::from_secs(9);
        let mut port = 7200;
        let mut transfers = 0;
        while Instant::now() < deadline {
            tcp_transfer(&ns1, &ns2, V4_2.parse().unwrap(), port, 32 << 20).assert_intact();
            port += 1;
            transfers += 1;
        }
        transfers
    });
    let mut handshakes = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(9);
    while Instant::now() < deadline {
        let info = p.backend1.get("wg1").unwrap();
        if let Some(at) = info.peer(&p.key2.public_key()).unwrap().last_handshake
            && handshakes
                .last()
                .is_none_or(|last| at > *last + Duration::from_millis(500))
        {
            handshakes.push(at);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let transfers = load.join().expect("transfers intact");
    let pings = pings.join().unwrap();
    let summary = String::from_utf8_lossy(&pings.stdout);
    assert!(summary.contains(" 0% packet loss"), "{summary}");
    assert!(
        handshakes.len() >= 4,
        "sessions were renewed: {} handshakes seen ({transfers} transfers)",
        handshakes.len()
    );
}

#[test]
fn engines_with_and_without_offloads_talk() {
    if !privileged() {
        return;
    }
    let plain = EngineOptions {
        offloads: false,
        ..EngineOptions::default()
    };
    let p = engine_pair(EngineOptions::default(), plain);
    p.ns1.exec_ok(&["ping", "-c1", "-W3", V4_2]);
    let (ns1, ns2) = (&p.ns1.path(), &p.ns2.path());
    tcp_transfer(ns1, ns2, V4_2.parse().unwrap(), 7301, 64 << 20).assert_intact();
    tcp_transfer(ns2, ns1, V4_1.parse().unwrap(), 7302, 64 << 20).assert_intact();
    let plain_counters = p.backend2.engine("wg2").unwrap().offload_counters();
    assert_eq!(plain_counters, Default::default(), "no offloads used");

    // Datagrams of every size from the offload side to the plain one.
    let sizes: Vec<usize> = (0..2000).map(|i| 1 + i % V4_FULL).collect();
    let failed = udp_sizes(ns1, ns2, V4_2.parse().unwrap(), 7303, sizes);
    assert!(failed.is_empty(), "{failed:?}");
}

#[test]
fn a_narrow_underlay_still_carries_everything() {
    if !privileged() {
        return;
    }
    let p = pair();
    // Full tunnel datagrams (1420 + 32 + 28 bytes) no longer fit: the
    // kernel refuses GSO sends of them, the engine falls back to single
    // datagrams, and those are fragmented on the way, as the kernel's own
    // WireGuard's would be.
    p.ns1.ip(&["link", "set", "veth1", "mtu", "1400"]);
    p.ns2.ip(&["link", "set", "veth2", "mtu", "1400"]);
    let (ns1, ns2) = (&p.ns1.path(), &p.ns2.path());
    tcp_transfer(ns1, ns2, V4_2.parse().unwrap(), 7401, 64 << 20).assert_intact();
    tcp_transfer(ns2, ns1, V4_1.parse().unwrap(), 7402, 64 << 20).assert_intact();
    let sizes: Vec<usize> = (1..=V4_FULL).step_by(7).chain([V4_FULL]).collect();
    assert_eq!(
        udp_sizes(ns1, ns2, V4_2.parse().unwrap(), 7403, sizes),
        [] as [usize; 0]
    );
    assert!(
        ip_counter(&p.ns1, "FragCreates") > 0,
        "outer packets were fragmented"
    );
}
