//! Packet builders and checkers for the offload tests.

use std::net::IpAddr;

use super::checksum::{self, Sum};
use super::{IPPROTO_TCP, IPPROTO_UDP, IpHeader, read_u16};

pub const SRC4: [u8; 4] = [10, 0, 0, 1];
pub const DST4: [u8; 4] = [10, 0, 0, 2];
pub const SRC6: [u8; 16] = [0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
pub const DST6: [u8; 16] = [0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2];

#[derive(Clone, Copy, Debug)]
pub struct TcpOpts {
    pub flags: u8,
    pub ack: u32,
    pub window: u16,
    /// A timestamp option (12 bytes of options) with this value.
    pub timestamp: Option<u32>,
    pub sport: u16,
    pub ttl: u8,
}

impl Default for TcpOpts {
    fn default() -> Self {
        Self {
            flags: super::TCP_FLAG_ACK,
            ack: 77,
            window: 500,
            timestamp: Some(1234),
            sport: 40000,
            ttl: 64,
        }
    }
}

fn tcp_header(seq: u32, opts: TcpOpts) -> Vec<u8> {
    let options_len = if opts.timestamp.is_some() { 12 } else { 0 };
    let mut h = vec![0u8; 20 + options_len];
    h[0..2].copy_from_slice(&opts.sport.to_be_bytes());
    h[2..4].copy_from_slice(&5201u16.to_be_bytes());
    h[4..8].copy_from_slice(&seq.to_be_bytes());
    h[8..12].copy_from_slice(&opts.ack.to_be_bytes());
    h[12] = ((20 + options_len) as u8 / 4) << 4;
    h[13] = opts.flags;
    h[14..16].copy_from_slice(&opts.window.to_be_bytes());
    if let Some(ts) = opts.timestamp {
        h[20..24].copy_from_slice(&[1, 1, 8, 10]);
        h[24..28].copy_from_slice(&ts.to_be_bytes());
        h[28..32].copy_from_slice(&0u32.to_be_bytes());
    }
    h
}

fn ipv4(proto: u8, id: u16, ttl: u8, l4: &[u8]) -> Vec<u8> {
    let total = 20 + l4.len();
    let mut p = vec![0u8; 20];
    p[0] = 0x45;
    p[2..4].copy_from_slice(&(total as u16).to_be_bytes());
    p[4..6].copy_from_slice(&id.to_be_bytes());
    p[6] = 0x40; // DF
    p[8] = ttl;
    p[9] = proto;
    p[12..16].copy_from_slice(&SRC4);
    p[16..20].copy_from_slice(&DST4);
    let sum = checksum::ipv4_header(&p);
    p[10..12].copy_from_slice(&sum.to_be_bytes());
    p.extend_from_slice(l4);
    p
}

fn ipv6(proto: u8, hop_limit: u8, l4: &[u8]) -> Vec<u8> {
    let mut p = vec![0u8; 40];
    p[0] = 0x60;
    p[4..6].copy_from_slice(&(l4.len() as u16).to_be_bytes());
    p[6] = proto;
    p[7] = hop_limit;
    p[8..24].copy_from_slice(&SRC6);
    p[24..40].copy_from_slice(&DST6);
    p.extend_from_slice(l4);
    p
}

/// Fill in the transport checksum of a built packet.
fn seal(mut p: Vec<u8>) -> Vec<u8> {
    let ip = IpHeader::parse(&p).unwrap();
    let (src, dst) = ip.addresses(&p);
    let field = ip.len + if ip.proto == IPPROTO_TCP { 16 } else { 6 };
    p[field..field + 2].fill(0);
    let sum = checksum::transport(src, dst, ip.proto, &p[ip.len..]);
    p[field..field + 2].copy_from_slice(&sum.to_be_bytes());
    p
}

pub fn tcp4(seq: u32, opts: TcpOpts, payload: &[u8]) -> Vec<u8> {
    tcp4_with_id(seq, 1, opts, payload)
}

pub fn tcp4_with_id(seq: u32, id: u16, opts: TcpOpts, payload: &[u8]) -> Vec<u8> {
    let mut l4 = tcp_header(seq, opts);
    l4.extend_from_slice(payload);
    seal(ipv4(IPPROTO_TCP, id, opts.ttl, &l4))
}

pub fn tcp6(seq: u32, opts: TcpOpts, payload: &[u8]) -> Vec<u8> {
    let mut l4 = tcp_header(seq, opts);
    l4.extend_from_slice(payload);
    seal(ipv6(IPPROTO_TCP, opts.ttl, &l4))
}

fn udp(sport: u16, payload: &[u8]) -> Vec<u8> {
    let mut l4 = vec![0u8; 8];
    l4[0..2].copy_from_slice(&sport.to_be_bytes());
    l4[2..4].copy_from_slice(&5201u16.to_be_bytes());
    l4[4..6].copy_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
    l4.extend_from_slice(payload);
    l4
}

pub fn udp4(sport: u16, id: u16, payload: &[u8]) -> Vec<u8> {
    seal(ipv4(IPPROTO_UDP, id, 64, &udp(sport, payload)))
}

pub fn udp6(sport: u16, payload: &[u8]) -> Vec<u8> {
    seal(ipv6(IPPROTO_UDP, 64, &udp(sport, payload)))
}

/// Whether the IPv4 header checksum (if any) and the TCP/UDP checksum hold.
pub fn checksums_valid(p: &[u8]) -> bool {
    let ip = IpHeader::parse(p).unwrap();
    if !ip.v6 && Sum::default().add_bytes(&p[..ip.len]).finish() != 0 {
        return false;
    }
    let (src, dst): (IpAddr, IpAddr) = ip.addresses(p);
    let l4 = &p[ip.len..];
    checksum::pseudo_header(src, dst, ip.proto, l4.len())
        .add_bytes(l4)
        .finish()
        == 0
}

/// The TCP sequence number, flags and payload of a packet.
pub fn tcp_parts(p: &[u8]) -> (u32, u8, &[u8]) {
    let ip = IpHeader::parse(p).unwrap();
    let t = ip.len;
    let seq = super::read_u32(p, t + 4);
    let thl = usize::from(p[t + 12] >> 4) * 4;
    (seq, p[t + 13], &p[t + thl..])
}

/// The IPv4 identification field.
pub fn ipv4_id(p: &[u8]) -> u16 {
    read_u16(p, 4)
}

/// Recognisable payload bytes.
pub fn payload(len: usize, salt: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31) ^ salt)
        .collect()
}
