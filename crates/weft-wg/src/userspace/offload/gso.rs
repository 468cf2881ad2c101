//! Segmentation: turn what a TUN with offloads hands over (one packet, or a
//! TCP/UDP super-packet plus a `virtio_net_hdr`) into ordinary IP packets
//! with complete checksums, as the stack would have sent them without
//! offloads. This is what every peer sees, offloads or not.

use super::checksum::{self, Sum};
use super::{
    GSO_ECN, GSO_NONE, GSO_TCPV4, GSO_TCPV6, GSO_UDP_L4, IPPROTO_TCP, IPPROTO_UDP, IpHeader,
    TCP_FLAG_CWR, TCP_FLAG_FIN, TCP_FLAG_PSH, VnetHdr, complete_checksum, read_u16, read_u32,
};

/// Headers (IP and TCP with options, or UDP) longer than this are not ours
/// to segment; the kernel never produces them for TSO/USO.
const MAX_HEADERS: usize = 256;

#[derive(Debug, PartialEq, Eq)]
pub struct Malformed(pub &'static str);

impl std::fmt::Display for Malformed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "malformed offload packet: {}", self.0)
    }
}

/// Split `packet` (what followed `hdr` in a TUN read) into IP packets.
/// Each goes to `emit` as headers and payload, to be stored back to back;
/// returns how many there were. `packet` may be changed (a checksum
/// finished in place).
pub fn split(
    hdr: &VnetHdr,
    packet: &mut [u8],
    emit: &mut dyn FnMut(&[u8], &[u8]),
) -> Result<usize, Malformed> {
    let gso_type = hdr.gso_type & !GSO_ECN;
    if gso_type == GSO_NONE || hdr.gso_size == 0 {
        if hdr.needs_csum() && !complete_checksum(hdr, packet) {
            return Err(Malformed("checksum offsets beyond the packet"));
        }
        emit(packet, &[]);
        return Ok(1);
    }
    let ip = IpHeader::parse(packet).ok_or(Malformed("not an IP packet"))?;
    let proto = match gso_type {
        GSO_TCPV4 if !ip.v6 => IPPROTO_TCP,
        GSO_TCPV6 if ip.v6 => IPPROTO_TCP,
        GSO_UDP_L4 => IPPROTO_UDP,
        _ => return Err(Malformed("GSO type does not match the packet")),
    };
    // With extension headers (IPv6) only csum_start says where TCP/UDP is.
    let l4 = if hdr.needs_csum() {
        usize::from(hdr.csum_start)
    } else {
        ip.len
    };
    let l4_header_len = if proto == IPPROTO_TCP {
        usize::from(packet.get(l4 + 12).ok_or(Malformed("short TCP header"))? >> 4) * 4
    } else {
        8
    };
    let hdr_len = l4 + l4_header_len;
    if l4_header_len < 8 || hdr_len > packet.len() || hdr_len > MAX_HEADERS {
        return Err(Malformed("headers do not fit"));
    }
    let payload = &packet[hdr_len..];
    if payload.is_empty() {
        let hdr = VnetHdr {
            gso_type: GSO_NONE,
            ..*hdr
        };
        return split(&hdr, packet, emit);
    }

    let (src, dst) = ip.addresses(packet);
    let mut headers = [0u8; MAX_HEADERS];
    let headers = &mut headers[..hdr_len];
    headers.copy_from_slice(&packet[..hdr_len]);
    let first_id = read_u16(packet, 4);
    let first_seq = read_u32(packet, l4 + 4);
    let flags = packet[l4 + 13];
    let gso_size = usize::from(hdr.gso_size);
    let count = payload.len().div_ceil(gso_size);
    for (i, chunk) in payload.chunks(gso_size).enumerate() {
        let total = hdr_len + chunk.len();
        if !ip.v6 {
            // Identifications keep counting, as the kernel's TSO does.
            headers[4..6].copy_from_slice(&first_id.wrapping_add(i as u16).to_be_bytes());
        }
        ip.set_total_len(headers, total);
        let csum_field = if proto == IPPROTO_TCP {
            let seq = first_seq.wrapping_add((i * gso_size) as u32);
            headers[l4 + 4..l4 + 8].copy_from_slice(&seq.to_be_bytes());
            let mut segment_flags = flags;
            if i + 1 < count {
                segment_flags &= !(TCP_FLAG_FIN | TCP_FLAG_PSH);
            }
            if i > 0 {
                segment_flags &= !TCP_FLAG_CWR;
            }
            headers[l4 + 13] = segment_flags;
            l4 + 16
        } else {
            let udp_len = (total - l4) as u16;
            headers[l4 + 4..l4 + 6].copy_from_slice(&udp_len.to_be_bytes());
            l4 + 6
        };
        headers[csum_field..csum_field + 2].fill(0);
        let sum: Sum = checksum::pseudo_header(src, dst, proto, total - l4)
            .add_bytes(&headers[l4..])
            .add_bytes(chunk);
        let value = match sum.finish() {
            0 => 0xffff,
            v => v,
        };
        headers[csum_field..csum_field + 2].copy_from_slice(&value.to_be_bytes());
        emit(headers, chunk);
    }
    Ok(count)
}

#[cfg(test)]
mod tests {
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
}
