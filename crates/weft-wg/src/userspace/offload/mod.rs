//! Segmentation and coalescing offloads between the kernel and the engine,
//! as pure functions over bytes (no I/O), so they are tested without a TUN.
//!
//! With `IFF_VNET_HDR` and `TUNSETOFFLOAD` a TUN hands over TCP (and UDP)
//! "super-packets" of up to 64 KiB that the stack did not segment, each
//! behind a `virtio_net_hdr` saying how to cut it ([`gso`]); and it accepts
//! such super-packets, which lets us hand the stack many received segments
//! of one flow at once ([`gro`]). WireGuard itself still carries one
//! ordinary IP packet per message, so peers without offloads see nothing
//! different.

pub mod checksum;
pub mod gro;
pub mod gso;

/// `struct virtio_net_hdr` (the legacy 10-byte form a TUN uses by default).
pub const VNET_HDR_LEN: usize = 10;

pub const IPPROTO_TCP: u8 = 6;
pub const IPPROTO_UDP: u8 = 17;

pub const VIRTIO_NET_HDR_F_NEEDS_CSUM: u8 = 1;
pub const GSO_NONE: u8 = 0;
pub const GSO_TCPV4: u8 = 1;
pub const GSO_TCPV6: u8 = 4;
pub const GSO_UDP_L4: u8 = 5;
/// Set on `gso_type` when the TCP stream uses ECN (CWR must be on the
/// first segment only).
pub const GSO_ECN: u8 = 0x80;

const TCP_FLAG_FIN: u8 = 0x01;
const TCP_FLAG_PSH: u8 = 0x08;
const TCP_FLAG_ACK: u8 = 0x10;
const TCP_FLAG_CWR: u8 = 0x80;

/// The metadata in front of every packet read from or written to a TUN
/// opened with `IFF_VNET_HDR`. Fields are in host byte order (a TUN's
/// default on every host we run on).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct VnetHdr {
    pub flags: u8,
    pub gso_type: u8,
    /// Length of the headers to repeat in front of every segment.
    pub hdr_len: u16,
    /// Payload bytes per segment.
    pub gso_size: u16,
    /// Where checksumming starts (the transport header) and where, from
    /// there, the checksum field is.
    pub csum_start: u16,
    pub csum_offset: u16,
}

impl VnetHdr {
    pub fn decode(bytes: &[u8]) -> Option<Self> {
        let b: &[u8; VNET_HDR_LEN] = bytes.get(..VNET_HDR_LEN)?.try_into().ok()?;
        let u16_at = |i: usize| u16::from_ne_bytes([b[i], b[i + 1]]);
        Some(Self {
            flags: b[0],
            gso_type: b[1],
            hdr_len: u16_at(2),
            gso_size: u16_at(4),
            csum_start: u16_at(6),
            csum_offset: u16_at(8),
        })
    }

    pub fn encode(&self) -> [u8; VNET_HDR_LEN] {
        let mut b = [0u8; VNET_HDR_LEN];
        b[0] = self.flags;
        b[1] = self.gso_type;
        b[2..4].copy_from_slice(&self.hdr_len.to_ne_bytes());
        b[4..6].copy_from_slice(&self.gso_size.to_ne_bytes());
        b[6..8].copy_from_slice(&self.csum_start.to_ne_bytes());
        b[8..10].copy_from_slice(&self.csum_offset.to_ne_bytes());
        b
    }

    pub fn needs_csum(&self) -> bool {
        self.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM != 0
    }
}

/// What the offload code needs to know about an IP packet's first header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct IpHeader {
    pub v6: bool,
    /// Length of the IP header(s) before the transport header.
    pub len: usize,
    /// The transport protocol.
    pub proto: u8,
}

impl IpHeader {
    /// Parse an IPv4 header (any options) or a plain IPv6 header. IPv6
    /// extension headers are reported as their next-header value, which
    /// then is neither TCP nor UDP, so such packets are left alone.
    pub fn parse(packet: &[u8]) -> Option<Self> {
        match packet.first()? >> 4 {
            4 => {
                let len = usize::from(packet[0] & 0x0f) * 4;
                (len >= 20 && packet.len() >= len).then_some(Self {
                    v6: false,
                    len,
                    proto: packet[9],
                })
            }
            6 => (packet.len() >= 40).then_some(Self {
                v6: true,
                len: 40,
                proto: packet[6],
            }),
            _ => None,
        }
    }

    pub fn addresses(&self, packet: &[u8]) -> (std::net::IpAddr, std::net::IpAddr) {
        if self.v6 {
            let src: [u8; 16] = packet[8..24].try_into().expect("checked by parse");
            let dst: [u8; 16] = packet[24..40].try_into().expect("checked by parse");
            (src.into(), dst.into())
        } else {
            let src: [u8; 4] = packet[12..16].try_into().expect("checked by parse");
            let dst: [u8; 4] = packet[16..20].try_into().expect("checked by parse");
            (src.into(), dst.into())
        }
    }

    /// Set the length field to `total` bytes of packet (IPv4: total
    /// length, and the header checksum again; IPv6: payload length).
    pub fn set_total_len(&self, packet: &mut [u8], total: usize) {
        if self.v6 {
            packet[4..6].copy_from_slice(&((total - 40) as u16).to_be_bytes());
        } else {
            packet[2..4].copy_from_slice(&(total as u16).to_be_bytes());
            packet[10..12].fill(0);
            let sum = checksum::ipv4_header(&packet[..self.len]);
            packet[10..12].copy_from_slice(&sum.to_be_bytes());
        }
    }
}

fn read_u32(bytes: &[u8], at: usize) -> u32 {
    u32::from_be_bytes(bytes[at..at + 4].try_into().expect("4 bytes"))
}

fn read_u16(bytes: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([bytes[at], bytes[at + 1]])
}

/// Finish a checksum the kernel left partial (`VIRTIO_NET_HDR_F_NEEDS_CSUM`):
/// the field holds the pseudo-header sum; add everything from `csum_start`
/// and store the complement. `false` if the offsets do not fit the packet.
pub fn complete_checksum(hdr: &VnetHdr, packet: &mut [u8]) -> bool {
    let start = usize::from(hdr.csum_start);
    let field = start + usize::from(hdr.csum_offset);
    if field + 2 > packet.len() {
        return false;
    }
    let value = checksum::Sum::default()
        .add_bytes(&packet[start..])
        .finish();
    // As the kernel does: 0 is sent as 0xffff (the same value in one's
    // complement, and for UDP the only way to say "checksummed").
    let value = if value == 0 { 0xffff } else { value };
    packet[field..field + 2].copy_from_slice(&value.to_be_bytes());
    true
}

#[cfg(test)]
pub(crate) mod testing;

#[cfg(test)]
mod tests;
