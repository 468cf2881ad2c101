//! Coalescing ("GRO" done by us): of the packets decrypted in one batch,
//! consecutive TCP segments of one flow (and, when the TUN takes UDP
//! super-packets, same-sized UDP datagrams of one flow) become one
//! super-packet written with a `virtio_net_hdr`, so the stack handles one
//! packet where it would have handled dozens.
//!
//! The rules follow the kernel's own GRO (`tcp_gro_receive`): same flow,
//! the next sequence number, the same ACK, window, options and IP header
//! fields, every segment as long as the first except a shorter last one,
//! PSH only on the last, no SYN/FIN/RST/URG/ECE/CWR. A packet is only ever
//! added to its flow's most recent group, so nothing is reordered within a
//! flow; groups go out in the order of their first packet.
//!
//! Checksums are not re-verified: like the kernel's WireGuard, which marks
//! decrypted packets `CHECKSUM_UNNECESSARY`, we rely on the AEAD tag having
//! authenticated every byte from the peer.

use std::net::IpAddr;

use super::checksum;
use super::{
    GSO_TCPV4, GSO_TCPV6, GSO_UDP_L4, IPPROTO_TCP, IPPROTO_UDP, IpHeader, TCP_FLAG_ACK,
    TCP_FLAG_PSH, VIRTIO_NET_HDR_F_NEEDS_CSUM, VnetHdr, read_u16, read_u32,
};

/// Most segments in one super-packet (as the kernel's GRO).
pub const MAX_SEGMENTS: usize = 64;
/// Largest super-packet: what an IPv4 total length can say.
const MAX_TOTAL: usize = 65535;
const NONE: usize = usize::MAX;
/// Flows whose groups may still grow; past this the oldest stops growing.
/// A batch rarely holds more than a few flows, so a short list searched
/// from the newest end beats hashing every packet.
const MAX_OPEN_FLOWS: usize = 32;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct FlowKey {
    src: IpAddr,
    dst: IpAddr,
    sport: u16,
    dport: u16,
    proto: u8,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// Written as it is.
    Single,
    Tcp,
    Udp,
}

/// Packets that go to the TUN as one write.
#[derive(Clone, Copy, Debug)]
pub struct Group {
    /// The first packet; its headers become the super-packet's.
    pub head: usize,
    tail: usize,
    pub count: usize,
    /// Length of the headers the other members' copies of are skipped.
    pub header_len: usize,
    /// Length of the merged packet.
    total_len: usize,
    gso_size: usize,
    kind: Kind,
    ip: Option<IpHeader>,
    /// The last member's TCP flags had PSH.
    push: bool,
}

/// A packet that could be coalesced.
struct Candidate {
    key: FlowKey,
    ip: IpHeader,
    kind: Kind,
    l4_header_len: usize,
    payload_len: usize,
}

/// Plans how a batch of packets is written; reused between batches so
/// planning allocates nothing once warm.
pub struct Coalescer {
    udp: bool,
    groups: Vec<Group>,
    /// Per packet: the next member of its group.
    next: Vec<usize>,
    /// Per flow: its most recent group, while it may still grow.
    open: Vec<(FlowKey, usize)>,
}

impl Coalescer {
    /// `udp`: the TUN accepts UDP super-packets (`TUN_F_USO4/6`).
    pub fn new(udp: bool) -> Self {
        Self {
            udp,
            groups: Vec::new(),
            next: Vec::new(),
            open: Vec::new(),
        }
    }

    /// Group `packets` (whole IP packets, no padding); see
    /// [`Coalescer::groups`].
    pub fn plan<P: AsRef<[u8]>>(&mut self, packets: &[P]) {
        self.groups.clear();
        self.open.clear();
        self.next.clear();
        self.next.resize(packets.len(), NONE);
        for (i, packet) in packets.iter().enumerate() {
            let packet = packet.as_ref();
            let candidate = match self.candidate(packet) {
                Ok(candidate) => candidate,
                Err(key) => {
                    if let Some(key) = key {
                        // A segment that cannot join (SYN, FIN, a pure ACK…)
                        // ends the flow's group: nothing may pass it.
                        self.close(&key);
                    }
                    self.push_group(i, Kind::Single, None, 0, packet.len(), 0, false);
                    continue;
                }
            };
            if let Some(g) = self.open_group(&candidate.key)
                && self.can_append(&self.groups[g], &candidate, packets, packet)
            {
                let group = &mut self.groups[g];
                self.next[group.tail] = i;
                group.tail = i;
                group.count += 1;
                group.total_len += candidate.payload_len;
                group.push = candidate.kind == Kind::Tcp
                    && tcp_flags(packet, &candidate) & TCP_FLAG_PSH != 0;
                continue;
            }
            let push =
                candidate.kind == Kind::Tcp && tcp_flags(packet, &candidate) & TCP_FLAG_PSH != 0;
            let g = self.push_group(
                i,
                candidate.kind,
                Some(candidate.ip),
                candidate.ip.len + candidate.l4_header_len,
                packet.len(),
                candidate.payload_len,
                push,
            );
            self.close(&candidate.key);
            if self.open.len() == MAX_OPEN_FLOWS {
                self.open.remove(0);
            }
            self.open.push((candidate.key, g));
        }
    }

    fn open_group(&self, key: &FlowKey) -> Option<usize> {
        self.open
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, g)| *g)
    }

    fn close(&mut self, key: &FlowKey) {
        if let Some(i) = self.open.iter().rposition(|(k, _)| k == key) {
            self.open.remove(i);
        }
    }

    /// The groups of the last plan, in the order of their first packet.
    pub fn groups(&self) -> &[Group] {
        &self.groups
    }

    /// The members of `group`, first to last.
    pub fn members(&self, group: &Group) -> impl Iterator<Item = usize> + '_ {
        std::iter::successors(Some(group.head), |&i| {
            Some(self.next[i]).filter(|&n| n != NONE)
        })
    }

    /// Turn the head packet's headers into the super-packet's and return
    /// the `virtio_net_hdr` to write in front of it. A group of one is
    /// written unchanged behind an empty header.
    pub fn finish(&self, group: &Group, head: &mut [u8]) -> VnetHdr {
        let Some(ip) = group.ip.filter(|_| group.count > 1) else {
            return VnetHdr::default();
        };
        let l4 = ip.len;
        ip.set_total_len(head, group.total_len);
        let (src, dst) = ip.addresses(head);
        let (proto, csum_offset, gso_type) = match group.kind {
            Kind::Tcp => {
                if group.push {
                    head[l4 + 13] |= TCP_FLAG_PSH;
                }
                (IPPROTO_TCP, 16, if ip.v6 { GSO_TCPV6 } else { GSO_TCPV4 })
            }
            _ => {
                let udp_len = (group.total_len - l4) as u16;
                head[l4 + 4..l4 + 6].copy_from_slice(&udp_len.to_be_bytes());
                (IPPROTO_UDP, 6, GSO_UDP_L4)
            }
        };
        // The kernel finishes partial checksums: the field holds the
        // pseudo-header sum, not complemented.
        let partial = checksum::pseudo_header(src, dst, proto, group.total_len - l4).fold();
        let field = l4 + csum_offset;
        head[field..field + 2].copy_from_slice(&partial.to_be_bytes());
        VnetHdr {
            flags: VIRTIO_NET_HDR_F_NEEDS_CSUM,
            gso_type,
            hdr_len: group.header_len as u16,
            gso_size: group.gso_size as u16,
            csum_start: l4 as u16,
            csum_offset: csum_offset as u16,
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn push_group(
        &mut self,
        head: usize,
        kind: Kind,
        ip: Option<IpHeader>,
        header_len: usize,
        total_len: usize,
        gso_size: usize,
        push: bool,
    ) -> usize {
        self.groups.push(Group {
            head,
            tail: head,
            count: 1,
            header_len,
            total_len,
            gso_size,
            kind,
            ip,
            push,
        });
        self.groups.len() - 1
    }

    /// The packet as a coalescing candidate, or (as the error) the TCP flow
    /// it belongs to if it has one but cannot be coalesced.
    fn candidate(&self, p: &[u8]) -> Result<Candidate, Option<FlowKey>> {
        let ip = IpHeader::parse(p).ok_or(None)?;
        if ip.proto != IPPROTO_TCP && !(ip.proto == IPPROTO_UDP && self.udp) {
            return Err(None);
        }
        if p.len() < ip.len + 8 {
            return Err(None);
        }
        let (src, dst) = ip.addresses(p);
        let key = FlowKey {
            src,
            dst,
            sport: read_u16(p, ip.len),
            dport: read_u16(p, ip.len + 2),
            proto: ip.proto,
        };
        let whole = if ip.v6 {
            usize::from(read_u16(p, 4)) + 40 == p.len()
        } else {
            // No options, not a fragment, no padding.
            ip.len == 20 && read_u16(p, 6) & 0x3fff == 0 && usize::from(read_u16(p, 2)) == p.len()
        };
        if !whole {
            return Err(Some(key));
        }
        let (kind, l4_header_len) = if ip.proto == IPPROTO_TCP {
            let thl = usize::from(p.get(ip.len + 12).copied().unwrap_or(0) >> 4) * 4;
            let flags = p.get(ip.len + 13).copied().unwrap_or(0);
            if thl < 20 || ip.len + thl > p.len() || flags & !(TCP_FLAG_ACK | TCP_FLAG_PSH) != 0 {
                return Err(Some(key));
            }
            if flags & TCP_FLAG_ACK == 0 {
                return Err(Some(key));
            }
            (Kind::Tcp, thl)
        } else {
            if usize::from(read_u16(p, ip.len + 4)) != p.len() - ip.len {
                return Err(Some(key));
            }
            (Kind::Udp, 8)
        };
        let payload_len = p.len() - ip.len - l4_header_len;
        if payload_len == 0 {
            return Err(Some(key));
        }
        Ok(Candidate {
            key,
            ip,
            kind,
            l4_header_len,
            payload_len,
        })
    }

    fn can_append<P: AsRef<[u8]>>(
        &self,
        group: &Group,
        c: &Candidate,
        packets: &[P],
        p: &[u8],
    ) -> bool {
        let head = packets[group.head].as_ref();
        let tail = packets[group.tail].as_ref();
        let tail_payload = tail.len() - group.header_len;
        let l4 = c.ip.len;
        let fits = group.kind == c.kind
            && group.header_len == l4 + c.l4_header_len
            && tail_payload == group.gso_size
            && c.payload_len <= group.gso_size
            && group.count < MAX_SEGMENTS
            && group.total_len + c.payload_len <= MAX_TOTAL;
        if !fits || !same_ip_fields(head, p, c.ip.v6) {
            return false;
        }
        if c.kind == Kind::Udp {
            return true;
        }
        let tail_seq = read_u32(tail, l4 + 4);
        !group.push
            && read_u32(p, l4 + 4) == tail_seq.wrapping_add(tail_payload as u32)
            // ACK number, then data offset, flags (ACK/PSH only here) and window.
            && read_u32(p, l4 + 8) == read_u32(head, l4 + 8)
            && read_u16(p, l4 + 14) == read_u16(head, l4 + 14)
            && p[l4 + 20..group.header_len] == head[l4 + 20..group.header_len]
    }
}

fn tcp_flags(p: &[u8], c: &Candidate) -> u8 {
    p[c.ip.len + 13]
}

/// The IP fields the super-packet's single header must speak for.
fn same_ip_fields(a: &[u8], b: &[u8], v6: bool) -> bool {
    if v6 {
        // Version, traffic class, flow label; hop limit.
        a[..4] == b[..4] && a[7] == b[7]
    } else {
        // TOS (with ECN); DF; TTL.
        a[1] == b[1] && (a[6] & 0x40) == (b[6] & 0x40) && a[8] == b[8]
    }
}

#[cfg(test)]
mod tests;
