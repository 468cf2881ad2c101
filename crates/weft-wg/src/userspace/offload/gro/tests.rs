//! Coalescing checked by undoing it: every super-packet, cut again the way
//! the kernel would ([`super::super::gso::split`]), must give back exactly
//! the packets that went in, in order.

use super::super::gso;
use super::super::testing::*;
use super::super::{GSO_TCPV4, GSO_TCPV6, GSO_UDP_L4, TCP_FLAG_ACK, TCP_FLAG_PSH};
use super::*;

/// Plan, finish and re-split: the packets each group stands for, and the
/// sizes of the groups.
fn through(coalescer: &mut Coalescer, packets: &[Vec<u8>]) -> (Vec<Vec<u8>>, Vec<usize>) {
    let mut packets = packets.to_vec();
    coalescer.plan(&packets);
    let groups = coalescer.groups().to_vec();
    let mut out = Vec::new();
    let mut sizes = Vec::new();
    for group in &groups {
        let members: Vec<usize> = coalescer.members(group).collect();
        assert_eq!(members.len(), group.count);
        let hdr = coalescer.finish(group, &mut packets[group.head]);
        let mut wire = packets[group.head].clone();
        for &m in &members[1..] {
            wire.extend_from_slice(&packets[m][group.header_len..]);
        }
        if group.count > 1 {
            assert!(
                [GSO_TCPV4, GSO_TCPV6, GSO_UDP_L4].contains(&hdr.gso_type),
                "{hdr:?}"
            );
            assert_eq!(usize::from(hdr.hdr_len), group.header_len);
        } else {
            assert_eq!(hdr, VnetHdr::default());
        }
        gso::split(&hdr, &mut wire, &mut |h, p| {
            let mut v = h.to_vec();
            v.extend_from_slice(p);
            out.push(v);
        })
        .unwrap();
        sizes.push(group.count);
    }
    (out, sizes)
}

fn segments(first_seq: u32, lens: &[usize], opts: TcpOpts) -> Vec<Vec<u8>> {
    let mut seq = first_seq;
    lens.iter()
        .enumerate()
        .map(|(i, &len)| {
            let p = tcp4_with_id(seq, 100 + i as u16, opts, &payload(len, i as u8));
            seq = seq.wrapping_add(len as u32);
            p
        })
        .collect()
}

#[test]
fn a_run_of_segments_becomes_one_super_packet_and_back() {
    let lens: Vec<usize> = [1000; 9].into_iter().chain([500]).collect();
    let packets = segments(u32::MAX - 3000, &lens, TcpOpts::default());
    let mut c = Coalescer::new(false);
    let (out, sizes) = through(&mut c, &packets);
    assert_eq!(sizes, [10], "sequence numbers wrap inside the group");
    assert_eq!(out, packets);
}

#[test]
fn flows_are_kept_apart_and_in_order() {
    let a = segments(1, &[1000; 3], TcpOpts::default());
    let b_opts = TcpOpts {
        sport: 40001,
        ..Default::default()
    };
    let b = segments(9, &[1000; 3], b_opts);
    let icmp = {
        let mut p = udp4(1, 1, b"x");
        p[9] = 1; // ICMP: never coalesced
        p
    };
    let mixed = vec![
        a[0].clone(),
        b[0].clone(),
        icmp.clone(),
        a[1].clone(),
        b[1].clone(),
        a[2].clone(),
        b[2].clone(),
    ];
    let mut c = Coalescer::new(false);
    let (out, sizes) = through(&mut c, &mixed);
    assert_eq!(sizes, [3, 3, 1]);
    let mut expected = a.clone();
    expected.extend(b.clone());
    expected.push(icmp);
    assert_eq!(out, expected);
}

#[test]
fn whatever_breaks_the_stream_starts_a_new_group() {
    let base = TcpOpts::default();
    let mut c = Coalescer::new(false);

    // A gap in the sequence numbers.
    let mut p = segments(1, &[1000; 2], base);
    p.extend(segments(5000, &[1000; 2], base));
    let (out, sizes) = through(&mut c, &p);
    assert_eq!((out, sizes), (p, vec![2, 2]));

    // A short segment ends the group; PSH too.
    let p = segments(1, &[1000, 400, 1000, 1000], base);
    assert_eq!(through(&mut c, &p).1, [2, 2]);
    let mut p = segments(1, &[1000; 4], base);
    let push = TcpOpts {
        flags: TCP_FLAG_ACK | TCP_FLAG_PSH,
        ..base
    };
    p[1] = tcp4_with_id(1001, 101, push, &payload(1000, 1));
    let (out, sizes) = through(&mut c, &p);
    assert_eq!(sizes, [2, 2]);
    assert_eq!(out, p, "PSH stays on the segment that had it");

    // A pure ACK of the same flow in between: nothing may pass it.
    let mut p = segments(1, &[1000; 2], base);
    p.insert(1, tcp4_with_id(1001, 150, base, &[]));
    p.push(tcp4_with_id(2001, 102, base, &payload(1000, 7)));
    let (out, sizes) = through(&mut c, &p);
    assert_eq!(sizes, [1, 1, 2]);
    assert_eq!(out, p);

    // Different ACK, window, options or TTL.
    for changed in [
        TcpOpts { ack: 78, ..base },
        TcpOpts {
            window: 501,
            ..base
        },
        TcpOpts {
            timestamp: Some(1235),
            ..base
        },
        TcpOpts { ttl: 63, ..base },
    ] {
        let mut p = segments(1, &[1000; 3], base);
        p[2] = tcp4_with_id(2001, 102, changed, &payload(1000, 2));
        assert_eq!(through(&mut c, &p).1, [2, 1], "{changed:?}");
    }
}

#[test]
fn super_packets_stay_within_limits() {
    let p = segments(1, &[1400; 50], TcpOpts::default());
    let mut c = Coalescer::new(false);
    let (out, sizes) = through(&mut c, &p);
    // 52 bytes of headers + 46 × 1400 = 64452 ≤ 65535 < 52 + 47 × 1400.
    assert_eq!(sizes, [46, 4]);
    assert_eq!(out, p);
    let small = segments(1, &[100; 70], TcpOpts::default());
    assert_eq!(through(&mut c, &small).1, [64, 6]);
}

#[test]
fn udp_only_when_the_tun_takes_it() {
    let p: Vec<Vec<u8>> = [1000, 1000, 600, 1000]
        .iter()
        .enumerate()
        .map(|(i, &len)| udp4(7, 10 + i as u16, &payload(len, i as u8)))
        .collect();
    assert_eq!(through(&mut Coalescer::new(false), &p).1, [1, 1, 1, 1]);
    let (out, sizes) = through(&mut Coalescer::new(true), &p);
    assert_eq!(sizes, [3, 1]);
    assert_eq!(out, p);

    let p6: Vec<Vec<u8>> = (0..3).map(|i| udp6(7, &payload(900, i))).collect();
    let (out, sizes) = through(&mut Coalescer::new(true), &p6);
    assert_eq!((out, sizes), (p6, vec![3]));
}

#[test]
fn tcp_over_ipv6() {
    let mut seq = 5;
    let p: Vec<Vec<u8>> = (0..5)
        .map(|i| {
            let pkt = tcp6(seq, TcpOpts::default(), &payload(1200, i));
            seq += 1200;
            pkt
        })
        .collect();
    let (out, sizes) = through(&mut Coalescer::new(false), &p);
    assert_eq!((out, sizes), (p, vec![5]));
}
