//! The nftables ruleset generation of a network namespace: a counter the
//! kernel moves on every committed nftables transaction there (in any
//! table, by anyone, iptables-nft included). Reading it is one netlink
//! round trip. While it has not moved since weft last listed or changed its
//! table, the table is still exactly what weft knows, so applying needs no
//! `nft list` — whose output grows with the table.
//!
//! Our own code because no maintained crate speaks nf_tables'
//! `NFT_MSG_GETGEN` (rust-netlink's `netlink-packet-netfilter` covers nflog
//! and conntrack): one 20-byte request and one attribute in the answer.

use std::io;
use std::path::Path;

use netlink_sys::{Socket, SocketAddr, protocols::NETLINK_NETFILTER};

const NFNL_SUBSYS_NFTABLES: u16 = 10;
const NFT_MSG_NEWGEN: u16 = 15;
const NFT_MSG_GETGEN: u16 = 16;
const NFTA_GEN_ID: u16 = 1;
const NLMSG_ERROR: u16 = 2;
const NLM_F_REQUEST: u16 = 1;
const NLMSG_HDRLEN: usize = 16;
/// `struct nfgenmsg`: family, version, resource id.
const NFGENMSG_LEN: usize = 4;

/// The ruleset generation of the namespace at `netns` (the caller's when
/// `None`; another one is entered on a short-lived thread).
pub(crate) fn generation(netns: Option<&Path>) -> io::Result<u32> {
    match netns {
        None => query(),
        Some(path) => {
            let ns = weft_net::Netns::open(path).map_err(io::Error::other)?;
            ns.run(query).map_err(io::Error::other)?
        }
    }
}

fn query() -> io::Result<u32> {
    let mut socket = Socket::new(NETLINK_NETFILTER)?;
    socket.bind_auto()?;
    socket.connect(&SocketAddr::new(0, 0))?;
    let request = request(1);
    let sent = retry_on_eintr(|| socket.send(&request, 0))?;
    if sent != request.len() {
        return Err(io::Error::new(
            io::ErrorKind::WriteZero,
            "netlink request cut short",
        ));
    }
    let mut reply = Vec::with_capacity(4096);
    retry_on_eintr(|| {
        reply.clear();
        socket.recv(&mut reply, 0)
    })?;
    parse_reply(&reply)
}

/// `NFT_MSG_GETGEN` with sequence number `seq`.
fn request(seq: u32) -> [u8; NLMSG_HDRLEN + NFGENMSG_LEN] {
    let mut message = [0u8; NLMSG_HDRLEN + NFGENMSG_LEN];
    let len = u32::try_from(message.len()).expect("20 fits in u32");
    message[0..4].copy_from_slice(&len.to_ne_bytes());
    let kind = (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_GETGEN;
    message[4..6].copy_from_slice(&kind.to_ne_bytes());
    message[6..8].copy_from_slice(&NLM_F_REQUEST.to_ne_bytes());
    message[8..12].copy_from_slice(&seq.to_ne_bytes());
    // Port id 0 (the kernel), family AF_UNSPEC, NFNETLINK_V0, resource 0.
    message
}

/// The generation in an `NFT_MSG_NEWGEN` answer, or the errno of an
/// `NLMSG_ERROR`.
fn parse_reply(reply: &[u8]) -> io::Result<u32> {
    let invalid = |why: &str| io::Error::new(io::ErrorKind::InvalidData, why.to_owned());
    let u16_at = |at: usize| {
        reply
            .get(at..at + 2)
            .map(|b| u16::from_ne_bytes([b[0], b[1]]))
    };
    let len = reply
        .get(0..4)
        .map(|b| u32::from_ne_bytes([b[0], b[1], b[2], b[3]]) as usize)
        .ok_or_else(|| invalid("netlink answer shorter than a header"))?;
    let message = reply
        .get(..len)
        .filter(|m| m.len() >= NLMSG_HDRLEN)
        .ok_or_else(|| invalid("netlink answer shorter than its length"))?;
    let kind = u16_at(4).unwrap_or_default();
    if kind == NLMSG_ERROR {
        let code = message
            .get(NLMSG_HDRLEN..NLMSG_HDRLEN + 4)
            .map(|b| i32::from_ne_bytes([b[0], b[1], b[2], b[3]]))
            .ok_or_else(|| invalid("netlink error without a code"))?;
        return Err(io::Error::from_raw_os_error(-code));
    }
    if kind != (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_NEWGEN {
        return Err(invalid("netlink answer is not NFT_MSG_NEWGEN"));
    }
    // Attributes after the header and nfgenmsg, each 4-byte aligned.
    let mut at = NLMSG_HDRLEN + NFGENMSG_LEN;
    while at + 4 <= message.len() {
        let attr_len = usize::from(u16_at(at).unwrap_or_default());
        let attr_type = u16_at(at + 2).unwrap_or_default() & 0x3fff;
        if attr_len < 4 || at + attr_len > message.len() {
            break;
        }
        if attr_type == NFTA_GEN_ID && attr_len == 8 {
            let b = &message[at + 4..at + 8];
            // Netlink numbers in nf_tables are big-endian.
            return Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]));
        }
        at += (attr_len + 3) & !3;
    }
    Err(invalid("NFT_MSG_NEWGEN without NFTA_GEN_ID"))
}

pub(crate) fn retry_on_eintr<T>(mut call: impl FnMut() -> io::Result<T>) -> io::Result<T> {
    loop {
        match call() {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            other => return other,
        }
    }
}

#[cfg(test)]
mod tests;
