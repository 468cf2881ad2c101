//! Adding and deleting the pins of table `bridge weft` (elements of its
//! sets `port-macs` and `port-ips`) by nf_tables netlink, in one
//! transaction, from this process — what an attach or detach changes.
//!
//! Why not `nft -j -f -`: spawning nft for a two-element change costs
//! 16–24 ms on a loaded 2-core machine (process start, libnftables, its
//! cache), the netlink batch about 0.01 ms (docs/benchmarks.md, "What an
//! attach's firewall change costs"). Why our own code: `rustables` is
//! GPL-3.0 (weft is Apache-2.0), and `nftnl` binds the C libraries
//! libnftnl and libmnl, a new build and run-time dependency of the
//! package; what is needed here is three fixed message types with keys of
//! a fixed layout, next to the `NFT_MSG_GETGEN` request weft already makes
//! (`crate::generation`). Everything else — tables, chains, rules, listing
//! — stays with nft.
//!
//! A set's key is its fields concatenated, each padded to 4 bytes:
//! `ifname` is IFNAMSIZ (16) bytes, the name NUL-padded; `ether_addr` 6
//! bytes (+2); `ipv4_addr` 4 bytes in network order — the layout nft
//! itself sends, so `nft list` shows these elements as if nft had added
//! them.

use std::io;
use std::net::Ipv4Addr;
use std::path::Path;

use netlink_sys::{Socket, SocketAddr, protocols::NETLINK_NETFILTER};
use serde_json::Value;

use crate::bridge::{PORT_IPS, PORT_MACS, Pins};
use crate::generation::retry_on_eintr;

const NFNL_SUBSYS_NFTABLES: u16 = 10;
const NFNL_MSG_BATCH_BEGIN: u16 = 0x10;
const NFNL_MSG_BATCH_END: u16 = 0x11;
const NFT_MSG_NEWSETELEM: u16 = 12;
const NFT_MSG_DELSETELEM: u16 = 14;
const NLMSG_ERROR: u16 = 2;
const NLM_F_REQUEST: u16 = 0x1;
const NLM_F_ACK: u16 = 0x4;
const NLM_F_CREATE: u16 = 0x400;
const NLA_F_NESTED: u16 = 0x8000;
const NFTA_SET_ELEM_LIST_TABLE: u16 = 1;
const NFTA_SET_ELEM_LIST_SET: u16 = 2;
const NFTA_SET_ELEM_LIST_ELEMENTS: u16 = 3;
const NFTA_LIST_ELEM: u16 = 1;
const NFTA_SET_ELEM_KEY: u16 = 1;
const NFTA_DATA_VALUE: u16 = 1;
const NFPROTO_UNSPEC: u8 = 0;
const NFPROTO_BRIDGE: u8 = 7;
const NLMSG_HDRLEN: usize = 16;
const IFNAMSIZ: usize = 16;

/// Deletes the pins `deleted` and adds `added` in table `bridge weft`, as
/// one nf_tables transaction, in the namespace at `netns` (the caller's
/// when `None`). An error is the kernel's: `ENOENT` when an element to
/// delete (or the table or set) is not there, and then nothing changed.
pub(crate) fn send(netns: Option<&Path>, deleted: &Pins, added: &Pins) -> io::Result<()> {
    let batch = batch(deleted, added)?;
    match netns {
        None => transact(&batch),
        Some(path) => {
            let ns = weft_net::Netns::open(path).map_err(io::Error::other)?;
            ns.run(|| transact(&batch)).map_err(io::Error::other)?
        }
    }
}

/// The batch, and how many messages in it ask for an answer.
struct Batch {
    bytes: Vec<u8>,
    acks: usize,
}

fn batch(deleted: &Pins, added: &Pins) -> io::Result<Batch> {
    let mut bytes = Vec::new();
    let mut seq = 1;
    let mut acks = 0;
    message(
        &mut bytes,
        NFNL_MSG_BATCH_BEGIN,
        NLM_F_REQUEST,
        seq,
        NFPROTO_UNSPEC,
        NFNL_SUBSYS_NFTABLES,
        &[],
    );
    for (kind, flags, pins) in [
        (NFT_MSG_DELSETELEM, NLM_F_REQUEST | NLM_F_ACK, deleted),
        (
            NFT_MSG_NEWSETELEM,
            NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE,
            added,
        ),
    ] {
        for (set, elements) in pins.sets() {
            if elements.is_empty() {
                continue;
            }
            let mut list = Vec::new();
            for element in elements.values() {
                let key = attribute(NFTA_DATA_VALUE, &key(set, element)?);
                let key = attribute(NFTA_SET_ELEM_KEY | NLA_F_NESTED, &key);
                list.extend(attribute(NFTA_LIST_ELEM | NLA_F_NESTED, &key));
            }
            let mut payload = attribute(NFTA_SET_ELEM_LIST_TABLE, b"weft\0");
            payload.extend(attribute(
                NFTA_SET_ELEM_LIST_SET,
                format!("{set}\0").as_bytes(),
            ));
            payload.extend(attribute(NFTA_SET_ELEM_LIST_ELEMENTS | NLA_F_NESTED, &list));
            seq += 1;
            acks += 1;
            message(
                &mut bytes,
                (NFNL_SUBSYS_NFTABLES << 8) | kind,
                flags,
                seq,
                NFPROTO_BRIDGE,
                0,
                &payload,
            );
        }
    }
    seq += 1;
    message(
        &mut bytes,
        NFNL_MSG_BATCH_END,
        NLM_F_REQUEST,
        seq,
        NFPROTO_UNSPEC,
        NFNL_SUBSYS_NFTABLES,
        &[],
    );
    Ok(Batch { bytes, acks })
}

/// A pin's key: `{"concat": [ifname, MAC or IPv4 address]}` as
/// `crate::bridge` builds it, in the set's binary layout.
fn key(set: &str, element: &Value) -> io::Result<Vec<u8>> {
    let invalid = || {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("not a pin of set {set}: {element}"),
        )
    };
    let fields = element
        .get("concat")
        .and_then(Value::as_array)
        .filter(|f| f.len() == 2)
        .ok_or_else(invalid)?;
    let (Some(ifname), Some(value)) = (fields[0].as_str(), fields[1].as_str()) else {
        return Err(invalid());
    };
    if ifname.is_empty() || ifname.len() >= IFNAMSIZ {
        return Err(invalid());
    }
    let mut key = ifname.as_bytes().to_vec();
    key.resize(IFNAMSIZ, 0);
    match set {
        PORT_MACS => {
            let mac: Vec<u8> = value
                .split(':')
                .map(|b| u8::from_str_radix(b, 16))
                .collect::<Result<_, _>>()
                .map_err(|_| invalid())?;
            if mac.len() != 6 {
                return Err(invalid());
            }
            key.extend(mac);
            key.extend([0, 0]);
        }
        PORT_IPS => {
            let ip: Ipv4Addr = value.parse().map_err(|_| invalid())?;
            key.extend(ip.octets());
        }
        _ => return Err(invalid()),
    }
    Ok(key)
}

fn attribute(kind: u16, payload: &[u8]) -> Vec<u8> {
    let len = u16::try_from(4 + payload.len()).expect("a pin list fits in a netlink attribute");
    let mut out = Vec::with_capacity(payload.len() + 8);
    out.extend(len.to_ne_bytes());
    out.extend(kind.to_ne_bytes());
    out.extend(payload);
    out.resize(out.len().next_multiple_of(4), 0);
    out
}

/// A netlink message with an `nfgenmsg` header (family, version 0, the
/// resource id in network order) and `payload`.
fn message(
    out: &mut Vec<u8>,
    kind: u16,
    flags: u16,
    seq: u32,
    family: u8,
    resource: u16,
    payload: &[u8],
) {
    let len = u32::try_from(NLMSG_HDRLEN + 4 + payload.len())
        .expect("a pin batch fits in a netlink message");
    out.extend(len.to_ne_bytes());
    out.extend(kind.to_ne_bytes());
    out.extend(flags.to_ne_bytes());
    out.extend(seq.to_ne_bytes());
    out.extend(0u32.to_ne_bytes());
    out.extend([family, 0]);
    out.extend(resource.to_be_bytes());
    out.extend(payload);
}

/// Sends the batch and reads the kernel's answers. The kernel runs a
/// batch while it is being sent, so every answer is queued when `send`
/// returns: they are read without blocking, and fewer than asked for
/// means the batch did not go through.
fn transact(batch: &Batch) -> io::Result<()> {
    let mut socket = Socket::new(NETLINK_NETFILTER)?;
    socket.bind_auto()?;
    socket.connect(&SocketAddr::new(0, 0))?;
    let sent = retry_on_eintr(|| socket.send(&batch.bytes, 0))?;
    if sent != batch.bytes.len() {
        return Err(io::Error::new(
            io::ErrorKind::WriteZero,
            "netlink batch cut short",
        ));
    }
    socket.set_non_blocking(true)?;
    let mut acked = 0;
    let mut buffer = Vec::with_capacity(8192);
    while acked < batch.acks {
        buffer.clear();
        match retry_on_eintr(|| socket.recv(&mut buffer, 0)) {
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
            Err(e) => return Err(e),
        }
        let mut at = 0;
        while at + NLMSG_HDRLEN <= buffer.len() {
            let word = |i: usize| {
                let b = &buffer[at + i..at + i + 4];
                u32::from_ne_bytes([b[0], b[1], b[2], b[3]])
            };
            let len = word(0) as usize;
            let kind = u16::from_ne_bytes([buffer[at + 4], buffer[at + 5]]);
            if len < NLMSG_HDRLEN || at + len > buffer.len() {
                break;
            }
            if kind == NLMSG_ERROR && len >= NLMSG_HDRLEN + 4 {
                let code = word(NLMSG_HDRLEN) as i32;
                if code != 0 {
                    return Err(io::Error::from_raw_os_error(-code));
                }
                acked += 1;
            }
            at += len.next_multiple_of(4);
        }
    }
    if acked < batch.acks {
        return Err(io::Error::other(format!(
            "the kernel answered {acked} of the batch's {} changes of set elements",
            batch.acks
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests;
