//! The Internet checksum (RFC 1071) for IPv4 headers and TCP/UDP over IPv4
//! and IPv6.
//!
//! Written here rather than taken from a crate because it runs on every
//! byte the tunnel carries: it sums 8 bytes per step into a 128-bit
//! accumulator (so no carry is ever lost) and folds once at the end, which
//! is the same one's-complement sum as adding 16-bit words since
//! 2^16 ≡ 1 (mod 2^16 - 1).

use std::net::IpAddr;

/// A running one's-complement sum (not yet folded or complemented).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Sum(u128);

impl Sum {
    /// Add `data` as a sequence of big-endian 16-bit words; an odd last
    /// byte is padded with a zero, so only the last chunk may be odd.
    pub fn add_bytes(self, data: &[u8]) -> Self {
        let mut acc = self.0;
        let (words, rest) = data.as_chunks::<8>();
        for word in words {
            acc += u128::from(u64::from_be_bytes(*word));
        }
        if !rest.is_empty() {
            let mut last = [0u8; 8];
            last[..rest.len()].copy_from_slice(rest);
            acc += u128::from(u64::from_be_bytes(last));
        }
        Sum(acc)
    }

    pub fn add_u16(self, value: u16) -> Self {
        Sum(self.0 + u128::from(value))
    }

    pub fn add_u32(self, value: u32) -> Self {
        Sum(self.0 + u128::from(value))
    }

    /// Fold to 16 bits, not complemented (what a "partial" checksum field
    /// holds for the kernel to finish).
    pub fn fold(self) -> u16 {
        let mut v = self.0;
        while v > 0xffff {
            v = (v & 0xffff) + (v >> 16);
        }
        v as u16
    }

    /// The value to store in a checksum field.
    pub fn finish(self) -> u16 {
        !self.fold()
    }
}

/// The IPv4 header checksum over `header` (its checksum field must be 0).
pub fn ipv4_header(header: &[u8]) -> u16 {
    Sum::default().add_bytes(header).finish()
}

/// The sum of the TCP/UDP pseudo-header for `l4_len` bytes of protocol
/// `proto` between `src` and `dst` (both of the same family).
pub fn pseudo_header(src: IpAddr, dst: IpAddr, proto: u8, l4_len: usize) -> Sum {
    let sum = match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            Sum::default().add_bytes(&s.octets()).add_bytes(&d.octets())
        }
        (IpAddr::V6(s), IpAddr::V6(d)) => {
            Sum::default().add_bytes(&s.octets()).add_bytes(&d.octets())
        }
        _ => Sum::default(),
    };
    // l4_len is at most 64 KiB for IPv4 and jumbograms are not supported,
    // so u32 holds it either way.
    sum.add_u32(l4_len as u32).add_u16(u16::from(proto))
}

/// The checksum to store in a TCP/UDP header: pseudo-header plus `segment`
/// (header and payload, its checksum field zero).
pub fn transport(src: IpAddr, dst: IpAddr, proto: u8, segment: &[u8]) -> u16 {
    let sum = pseudo_header(src, dst, proto, segment.len()).add_bytes(segment);
    let value = sum.finish();
    // UDP over IPv4 uses 0 for "no checksum"; a computed 0 is sent as all ones.
    if proto == super::IPPROTO_UDP && value == 0 {
        0xffff
    } else {
        value
    }
}

#[cfg(test)]
mod tests;
