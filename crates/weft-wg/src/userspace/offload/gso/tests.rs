use super::super::testing::*;
use super::super::{TCP_FLAG_ACK, VIRTIO_NET_HDR_F_NEEDS_CSUM};
use super::*;

fn collect(hdr: &VnetHdr, packet: &[u8]) -> Result<Vec<Vec<u8>>, Malformed> {
    let mut out = Vec::new();
    let mut packet = packet.to_vec();
    let n = split(hdr, &mut packet, &mut |h, p| {
        let mut v = h.to_vec();
        v.extend_from_slice(p);
        out.push(v);
    })?;
    assert_eq!(n, out.len());
    Ok(out)
}

fn tso(gso_type: u8, ip_len: usize, thl: usize, mss: u16) -> VnetHdr {
    VnetHdr {
        flags: VIRTIO_NET_HDR_F_NEEDS_CSUM,
        gso_type,
        hdr_len: (ip_len + thl) as u16,
        gso_size: mss,
        csum_start: ip_len as u16,
        csum_offset: 16,
    }
}

#[test]
fn a_plain_packet_passes_through() {
    let p = udp4(1, 1, b"hello");
    assert_eq!(collect(&VnetHdr::default(), &p).unwrap(), vec![p]);
}

#[test]
fn tcp4_super_packet_becomes_the_segments_the_stack_would_send() {
    let mss = 1000;
    let data = payload(3 * mss + 123, 5);
    let opts = TcpOpts {
        flags: TCP_FLAG_ACK | TCP_FLAG_PSH | TCP_FLAG_CWR,
        ..Default::default()
    };
    let big = tcp4_with_id(7000, 40, opts, &data);
    let segments = collect(&tso(GSO_TCPV4 | GSO_ECN, 20, 32, mss as u16), &big).unwrap();
    assert_eq!(segments.len(), 4);
    for (i, seg) in segments.iter().enumerate() {
        let (seq, flags, body) = tcp_parts(seg);
        let expect = &data[i * mss..((i + 1) * mss).min(data.len())];
        assert_eq!(body, expect, "segment {i} payload");
        assert_eq!(seq, 7000 + (i * mss) as u32);
        assert_eq!(ipv4_id(seg), 40 + i as u16);
        assert!(checksums_valid(seg), "segment {i} checksums");
        let last = i == 3;
        assert_eq!(flags & TCP_FLAG_PSH != 0, last, "PSH only on the last");
        assert_eq!(flags & TCP_FLAG_CWR != 0, i == 0, "CWR only on the first");
        assert!(flags & TCP_FLAG_ACK != 0);
    }
}

#[test]
fn tcp6_and_udp_super_packets() {
    let data = payload(2500, 9);
    let big = tcp6(1, TcpOpts::default(), &data);
    let segs = collect(&tso(GSO_TCPV6, 40, 32, 1200), &big).unwrap();
    assert_eq!(segs.len(), 3);
    assert!(segs.iter().all(|s| checksums_valid(s)));
    let joined: Vec<u8> = segs.iter().flat_map(|s| tcp_parts(s).2.to_vec()).collect();
    assert_eq!(joined, data);

    for big in [udp4(9, 1, &data), udp6(9, &data)] {
        let ip_len = IpHeader::parse(&big).unwrap().len;
        let hdr = VnetHdr {
            gso_type: GSO_UDP_L4,
            csum_offset: 6,
            ..tso(0, ip_len, 8, 1000)
        };
        let segs = collect(&hdr, &big).unwrap();
        assert_eq!(segs.len(), 3);
        for (i, s) in segs.iter().enumerate() {
            assert!(checksums_valid(s));
            assert_eq!(
                &s[ip_len + 8..],
                &data[i * 1000..((i + 1) * 1000).min(2500)]
            );
            assert_eq!(usize::from(read_u16(s, ip_len + 4)), s.len() - ip_len);
        }
    }
}

#[test]
fn refuses_what_does_not_add_up() {
    let big = tcp4(1, TcpOpts::default(), &payload(3000, 1));
    assert!(
        collect(&tso(GSO_TCPV6, 20, 32, 1000), &big).is_err(),
        "family"
    );
    assert!(
        collect(&tso(GSO_TCPV4, 20, 32, 1000), &big[..40]).is_err(),
        "short"
    );
    assert!(collect(&tso(GSO_TCPV4, 20, 32, 1000), b"\x10abc").is_err());
    // A super-packet without payload is just a packet.
    let bare = tcp4(1, TcpOpts::default(), &[]);
    assert_eq!(
        collect(&tso(GSO_TCPV4, 20, 32, 1000), &bare).unwrap().len(),
        1
    );
}
