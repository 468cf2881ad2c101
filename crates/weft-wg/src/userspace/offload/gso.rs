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
mod tests;
