//! Generic netlink messages of the kernel's WireGuard family, built and read
//! without I/O.
//!
//! Like wireguard-tools, a configuration too large for one message is split:
//! device attributes go in the first message only, and a peer whose allowed
//! IPs do not fit is continued in the next message (public key and the rest
//! of its allowed IPs, without `REPLACE_ALLOWEDIPS`). Dump replies are
//! merged back the same way.

use std::net::IpAddr;
use std::time::{Duration, UNIX_EPOCH};

use ipnet::IpNet;
use netlink_packet_core::Emitable;
use netlink_packet_wireguard::{
    WireguardAddressFamily, WireguardAllowedIp, WireguardAllowedIpAttr, WireguardAttribute,
    WireguardCmd, WireguardDeviceFlags, WireguardMessage, WireguardPeer, WireguardPeerAttribute,
    WireguardPeerFlags, WireguardTimeSpec,
};
use weft_model::{PrivateKey, PublicKey};

use crate::{DeviceConfig, DeviceInfo, PeerConfig, PeerInfo};

/// Room for one message, headers included: wireguard-tools' buffer size
/// (`MNL_SOCKET_BUFFER_SIZE` with 4 KiB pages).
pub const MAX_MESSAGE_LEN: usize = 4096;
/// nlmsghdr (16) + genlmsghdr (4).
const HEADERS_LEN: usize = 20;
/// A nested attribute's own header.
const NEST_HEADER_LEN: usize = 4;

pub fn get_device_request(ifname: &str) -> WireguardMessage {
    WireguardMessage {
        cmd: WireguardCmd::GetDevice,
        attributes: vec![WireguardAttribute::IfName(ifname.to_owned())],
    }
}

fn allowed_ip(net: &IpNet) -> WireguardAllowedIp {
    let family = match net {
        IpNet::V4(_) => WireguardAddressFamily::Ipv4,
        IpNet::V6(_) => WireguardAddressFamily::Ipv6,
    };
    WireguardAllowedIp(vec![
        WireguardAllowedIpAttr::Family(family),
        WireguardAllowedIpAttr::IpAddr(net.network()),
        WireguardAllowedIpAttr::Cidr(net.prefix_len()),
    ])
}

/// Accumulates messages, starting a new one when the next piece would not
/// fit in `max_len`.
struct Splitter<'a> {
    ifname: &'a str,
    max_len: usize,
    done: Vec<WireguardMessage>,
    attributes: Vec<WireguardAttribute>,
    peers: Vec<WireguardPeer>,
    /// Bytes used by `attributes`, `peers` and the headers.
    used: usize,
}

impl<'a> Splitter<'a> {
    fn new(ifname: &'a str, max_len: usize, attributes: Vec<WireguardAttribute>) -> Self {
        let used = HEADERS_LEN + attributes.as_slice().buffer_len() + NEST_HEADER_LEN;
        Self {
            ifname,
            max_len,
            done: Vec::new(),
            attributes,
            peers: Vec::new(),
            used,
        }
    }

    fn fits(&self, extra: usize) -> bool {
        self.used + extra <= self.max_len
    }

    fn flush(&mut self) {
        let mut attributes = std::mem::replace(
            &mut self.attributes,
            vec![WireguardAttribute::IfName(self.ifname.to_owned())],
        );
        let peers = std::mem::take(&mut self.peers);
        if !peers.is_empty() {
            attributes.push(WireguardAttribute::Peers(peers));
        }
        self.done.push(WireguardMessage {
            cmd: WireguardCmd::SetDevice,
            attributes,
        });
        self.used = HEADERS_LEN + self.attributes.as_slice().buffer_len() + NEST_HEADER_LEN;
    }

    fn push(&mut self, peer: WireguardPeer) {
        self.used += peer.buffer_len();
        self.peers.push(peer);
    }

    fn add_peer(&mut self, config: &PeerConfig) {
        let mut ips = config.allowed_ips.iter().peekable();
        let mut first_part = true;
        loop {
            let mut attrs = vec![WireguardPeerAttribute::PublicKey(config.public_key.0)];
            let mut flags = WireguardPeerFlags::empty();
            if config.remove {
                flags |= WireguardPeerFlags::RemoveMe;
            }
            if config.update_only {
                flags |= WireguardPeerFlags::UpdateOnly;
            }
            if first_part && !config.remove {
                if config.replace_allowed_ips {
                    flags |= WireguardPeerFlags::ReplaceAllowedIps;
                }
                if let Some(psk) = config.preshared_key {
                    attrs.push(WireguardPeerAttribute::PresharedKey(psk));
                }
                if let Some(endpoint) = config.endpoint {
                    attrs.push(WireguardPeerAttribute::Endpoint(endpoint));
                }
                if let Some(keepalive) = config.persistent_keepalive {
                    attrs.push(WireguardPeerAttribute::PersistentKeepalive(keepalive));
                }
            }
            if !flags.is_empty() {
                attrs.push(WireguardPeerAttribute::Flags(flags));
            }
            let has_ips = ips.peek().is_some() && !config.remove;
            let base = WireguardPeer(attrs.clone()).buffer_len()
                + if has_ips { NEST_HEADER_LEN } else { 0 };
            let min_extra = base + ips.peek().map_or(0, |net| allowed_ip(net).buffer_len());
            if !self.fits(min_extra) && !self.peers.is_empty() {
                self.flush();
            }
            let mut chunk = Vec::new();
            let mut chunk_len = 0;
            while let Some(net) = ips.peek().filter(|_| has_ips) {
                let ip = allowed_ip(net);
                let len = ip.buffer_len();
                // Always take one, so that progress is made whatever max_len is.
                if !chunk.is_empty() && !self.fits(base + chunk_len + len) {
                    break;
                }
                chunk_len += len;
                chunk.push(ip);
                ips.next();
            }
            if !chunk.is_empty() {
                attrs.push(WireguardPeerAttribute::AllowedIps(chunk));
            }
            self.push(WireguardPeer(attrs));
            first_part = false;
            if config.remove || ips.peek().is_none() {
                return;
            }
            self.flush();
        }
    }

    fn finish(mut self) -> Vec<WireguardMessage> {
        if !self.peers.is_empty() || self.done.is_empty() {
            self.flush();
        }
        self.done
    }
}

/// The `WG_CMD_SET_DEVICE` messages that apply `config` to `ifname`, each
/// at most `max_len` bytes on the wire (use [`MAX_MESSAGE_LEN`]).
pub fn set_device_messages(
    ifname: &str,
    config: &DeviceConfig,
    max_len: usize,
) -> Vec<WireguardMessage> {
    let mut attributes = vec![WireguardAttribute::IfName(ifname.to_owned())];
    if let Some(key) = &config.private_key {
        attributes.push(WireguardAttribute::PrivateKey(*key.as_bytes()));
    }
    if let Some(port) = config.listen_port {
        attributes.push(WireguardAttribute::ListenPort(port));
    }
    if let Some(mark) = config.fwmark {
        attributes.push(WireguardAttribute::Fwmark(mark));
    }
    if config.replace_peers {
        attributes.push(WireguardAttribute::Flags(
            WireguardDeviceFlags::ReplacePeers,
        ));
    }
    let mut splitter = Splitter::new(ifname, max_len, attributes);
    for peer in &config.peers {
        splitter.add_peer(peer);
    }
    splitter.finish()
}

/// Why a reply could not be understood.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum ReplyError {
    #[error("no reply message")]
    Empty,
    #[error("peer without a public key")]
    PeerWithoutKey,
    #[error("allowed IP {0}")]
    AllowedIp(String),
}

fn parse_allowed_ip(attrs: &[WireguardAllowedIpAttr]) -> Result<IpNet, ReplyError> {
    let mut addr: Option<IpAddr> = None;
    let mut cidr: Option<u8> = None;
    for attr in attrs {
        match attr {
            WireguardAllowedIpAttr::IpAddr(a) => addr = Some(*a),
            WireguardAllowedIpAttr::Cidr(c) => cidr = Some(*c),
            _ => {}
        }
    }
    let (Some(addr), Some(cidr)) = (addr, cidr) else {
        return Err(ReplyError::AllowedIp(
            "without address or prefix length".into(),
        ));
    };
    IpNet::new(addr, cidr).map_err(|_| ReplyError::AllowedIp(format!("{addr}/{cidr}")))
}

fn parse_peer(peer: &WireguardPeer) -> Result<PeerInfo, ReplyError> {
    let mut info = PeerInfo::new(PublicKey([0; 32]));
    let mut has_key = false;
    for attr in peer.iter() {
        match attr {
            WireguardPeerAttribute::PublicKey(key) => {
                info.public_key = PublicKey(*key);
                has_key = true;
            }
            WireguardPeerAttribute::Endpoint(addr) => info.endpoint = Some(*addr),
            WireguardPeerAttribute::PersistentKeepalive(secs) => {
                info.persistent_keepalive = (*secs != 0).then_some(*secs);
            }
            WireguardPeerAttribute::LastHandshake(WireguardTimeSpec {
                seconds,
                nano_seconds,
            }) if (*seconds, *nano_seconds) != (0, 0) => {
                let secs = u64::try_from(*seconds).unwrap_or(0);
                let nanos = u32::try_from(*nano_seconds).unwrap_or(0).min(999_999_999);
                info.last_handshake = Some(UNIX_EPOCH + Duration::new(secs, nanos));
            }
            WireguardPeerAttribute::RxBytes(n) => info.rx_bytes = *n,
            WireguardPeerAttribute::TxBytes(n) => info.tx_bytes = *n,
            WireguardPeerAttribute::AllowedIps(ips) => {
                for ip in ips {
                    info.allowed_ips.push(parse_allowed_ip(ip)?);
                }
            }
            _ => {}
        }
    }
    if has_key {
        Ok(info)
    } else {
        Err(ReplyError::PeerWithoutKey)
    }
}

/// Merge the messages of a `WG_CMD_GET_DEVICE` dump into one [`DeviceInfo`].
pub fn device_info_from_replies(
    ifname: &str,
    replies: &[WireguardMessage],
) -> Result<DeviceInfo, ReplyError> {
    if replies.is_empty() {
        return Err(ReplyError::Empty);
    }
    let mut info = DeviceInfo {
        ifname: ifname.to_owned(),
        public_key: None,
        listen_port: 0,
        fwmark: 0,
        peers: Vec::new(),
        retiring_peers: 0,
    };
    let mut private_key = None;
    for reply in replies {
        for attr in &reply.attributes {
            match attr {
                WireguardAttribute::IfName(name) => info.ifname.clone_from(name),
                WireguardAttribute::PublicKey(key) => info.public_key = Some(PublicKey(*key)),
                WireguardAttribute::PrivateKey(key) => private_key = Some(*key),
                WireguardAttribute::ListenPort(port) => info.listen_port = *port,
                WireguardAttribute::Fwmark(mark) => info.fwmark = *mark,
                WireguardAttribute::Peers(peers) => {
                    for peer in peers {
                        let parsed = parse_peer(peer)?;
                        // A peer continued from the previous message.
                        match info.peers.last_mut() {
                            Some(last) if last.public_key == parsed.public_key => {
                                last.allowed_ips.extend(parsed.allowed_ips);
                            }
                            _ => info.peers.push(parsed),
                        }
                    }
                }
                _ => {}
            }
        }
    }
    if info.public_key.is_none()
        && let Some(key) = private_key.filter(|k| k != &[0; 32])
    {
        info.public_key = Some(PrivateKey::from_bytes(key).public_key());
    }
    Ok(info)
}

#[cfg(test)]
mod tests;
