//! The DHCPv4 wire format (RFC 2131 §2, options per RFC 2132): the fixed
//! BOOTP header, the magic cookie, then options as type-length-value.
//! Decoding checks every length before reading, so a short, truncated or
//! oversized datagram is an error, never a panic.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

/// The fixed header before the magic cookie.
pub const HEADER_LEN: usize = 236;
/// The largest datagram accepted: an Ethernet frame's worth. A request
/// does not need more, and anything larger is refused unread.
pub const MAX_MESSAGE_LEN: usize = 1500;
/// The smallest a BOOTP message may be on the wire (RFC 1542 §2.1);
/// replies are padded to it, as some clients drop shorter ones.
pub const MIN_MESSAGE_LEN: usize = 300;
const MAGIC_COOKIE: [u8; 4] = [99, 130, 83, 99];

pub const OP_REQUEST: u8 = 1;
pub const OP_REPLY: u8 = 2;
const HTYPE_ETHERNET: u8 = 1;
/// The broadcast bit of `flags`: the client cannot receive unicast yet.
pub const FLAG_BROADCAST: u16 = 0x8000;

/// Option codes weft reads or writes.
pub mod opt {
    pub const PAD: u8 = 0;
    pub const SUBNET_MASK: u8 = 1;
    pub const ROUTER: u8 = 3;
    pub const DNS_SERVERS: u8 = 6;
    pub const HOST_NAME: u8 = 12;
    pub const DOMAIN_NAME: u8 = 15;
    pub const INTERFACE_MTU: u8 = 26;
    pub const REQUESTED_ADDRESS: u8 = 50;
    pub const LEASE_TIME: u8 = 51;
    pub const MESSAGE_TYPE: u8 = 53;
    pub const SERVER_ID: u8 = 54;
    pub const PARAMETER_LIST: u8 = 55;
    pub const RENEWAL_TIME: u8 = 58;
    pub const REBINDING_TIME: u8 = 59;
    pub const CLASSLESS_ROUTES: u8 = 121;
    pub const END: u8 = 255;
}

/// Option 53.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MessageType {
    Discover,
    Offer,
    Request,
    Decline,
    Ack,
    Nak,
    Release,
    Inform,
}

impl MessageType {
    pub fn code(self) -> u8 {
        match self {
            MessageType::Discover => 1,
            MessageType::Offer => 2,
            MessageType::Request => 3,
            MessageType::Decline => 4,
            MessageType::Ack => 5,
            MessageType::Nak => 6,
            MessageType::Release => 7,
            MessageType::Inform => 8,
        }
    }

    pub fn from_code(code: u8) -> Option<MessageType> {
        Some(match code {
            1 => MessageType::Discover,
            2 => MessageType::Offer,
            3 => MessageType::Request,
            4 => MessageType::Decline,
            5 => MessageType::Ack,
            6 => MessageType::Nak,
            7 => MessageType::Release,
            8 => MessageType::Inform,
            _ => return None,
        })
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DhcpError {
    #[error("decode DHCP message: {len} bytes is shorter than the header and cookie")]
    TooShort { len: usize },
    #[error("decode DHCP message: {len} bytes is more than the {MAX_MESSAGE_LEN} accepted")]
    TooLong { len: usize },
    #[error("decode DHCP message: no DHCP magic cookie")]
    NoCookie,
    #[error("decode DHCP message: hardware type {htype} length {hlen} is not Ethernet")]
    NotEthernet { htype: u8, hlen: u8 },
    #[error("decode DHCP message: option {code} runs past the end")]
    Truncated { code: u8 },
    #[error("decode DHCP message: option {code} appears twice")]
    Repeated { code: u8 },
    #[error("decode DHCP message: no message type (option 53)")]
    NoType,
    #[error("decode DHCP message: unknown message type {code}")]
    UnknownType { code: u8 },
}

/// One DHCP message, as much of it as weft reads or writes. Options are
/// kept raw by code; the accessors below read the ones weft uses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    pub op: u8,
    pub xid: u32,
    pub secs: u16,
    pub flags: u16,
    pub ciaddr: Ipv4Addr,
    pub yiaddr: Ipv4Addr,
    pub siaddr: Ipv4Addr,
    pub giaddr: Ipv4Addr,
    pub chaddr: [u8; 6],
    pub options: BTreeMap<u8, Vec<u8>>,
}

fn ip_at(b: &[u8], at: usize) -> Ipv4Addr {
    Ipv4Addr::new(b[at], b[at + 1], b[at + 2], b[at + 3])
}

impl Message {
    /// Decodes a datagram. Options that appear twice are refused (RFC 3396
    /// concatenation is for long options weft never reads); pad and end
    /// are honoured; the `file`/`sname` overload (option 52) is ignored.
    pub fn decode(bytes: &[u8]) -> Result<Message, DhcpError> {
        let len = bytes.len();
        if len > MAX_MESSAGE_LEN {
            return Err(DhcpError::TooLong { len });
        }
        if len < HEADER_LEN + MAGIC_COOKIE.len() {
            return Err(DhcpError::TooShort { len });
        }
        if bytes[HEADER_LEN..HEADER_LEN + 4] != MAGIC_COOKIE {
            return Err(DhcpError::NoCookie);
        }
        let (htype, hlen) = (bytes[1], bytes[2]);
        if htype != HTYPE_ETHERNET || hlen != 6 {
            return Err(DhcpError::NotEthernet { htype, hlen });
        }
        let mut chaddr = [0u8; 6];
        chaddr.copy_from_slice(&bytes[28..34]);
        let mut options = BTreeMap::new();
        let mut at = HEADER_LEN + 4;
        while at < len {
            let code = bytes[at];
            at += 1;
            match code {
                opt::PAD => continue,
                opt::END => break,
                _ => {}
            }
            let Some(&size) = bytes.get(at) else {
                return Err(DhcpError::Truncated { code });
            };
            let start = at + 1;
            let end = start + usize::from(size);
            if end > len {
                return Err(DhcpError::Truncated { code });
            }
            if options.insert(code, bytes[start..end].to_vec()).is_some() {
                return Err(DhcpError::Repeated { code });
            }
            at = end;
        }
        let message = Message {
            op: bytes[0],
            xid: u32::from_be_bytes([bytes[4], bytes[5], bytes[6], bytes[7]]),
            secs: u16::from_be_bytes([bytes[8], bytes[9]]),
            flags: u16::from_be_bytes([bytes[10], bytes[11]]),
            ciaddr: ip_at(bytes, 12),
            yiaddr: ip_at(bytes, 16),
            siaddr: ip_at(bytes, 20),
            giaddr: ip_at(bytes, 24),
            chaddr,
            options,
        };
        message.message_type()?;
        Ok(message)
    }

    /// Encodes the message, options in code order, padded to the BOOTP
    /// minimum. An option longer than 255 bytes is split into several of
    /// the same code (RFC 3396).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = vec![0u8; HEADER_LEN];
        out[0] = self.op;
        out[1] = HTYPE_ETHERNET;
        out[2] = 6;
        out[4..8].copy_from_slice(&self.xid.to_be_bytes());
        out[8..10].copy_from_slice(&self.secs.to_be_bytes());
        out[10..12].copy_from_slice(&self.flags.to_be_bytes());
        out[12..16].copy_from_slice(&self.ciaddr.octets());
        out[16..20].copy_from_slice(&self.yiaddr.octets());
        out[20..24].copy_from_slice(&self.siaddr.octets());
        out[24..28].copy_from_slice(&self.giaddr.octets());
        out[28..34].copy_from_slice(&self.chaddr);
        out.extend_from_slice(&MAGIC_COOKIE);
        for (code, value) in &self.options {
            if value.is_empty() {
                out.extend_from_slice(&[*code, 0]);
            }
            for chunk in value.chunks(255) {
                out.push(*code);
                out.push(chunk.len() as u8);
                out.extend_from_slice(chunk);
            }
        }
        out.push(opt::END);
        if out.len() < MIN_MESSAGE_LEN {
            out.resize(MIN_MESSAGE_LEN, opt::PAD);
        }
        out
    }

    /// Option 53.
    pub fn message_type(&self) -> Result<MessageType, DhcpError> {
        let value = self
            .options
            .get(&opt::MESSAGE_TYPE)
            .ok_or(DhcpError::NoType)?;
        match value.as_slice() {
            [code] => MessageType::from_code(*code).ok_or(DhcpError::UnknownType { code: *code }),
            _ => Err(DhcpError::NoType),
        }
    }

    /// An option holding one IPv4 address (50, 54), if present and
    /// well-formed.
    pub fn address_option(&self, code: u8) -> Option<Ipv4Addr> {
        let value: [u8; 4] = self.options.get(&code)?.as_slice().try_into().ok()?;
        Some(Ipv4Addr::from(value))
    }

    /// A request of this type from `chaddr`, for tests and clients.
    pub fn request(kind: MessageType, xid: u32, chaddr: [u8; 6]) -> Message {
        let mut options = BTreeMap::new();
        options.insert(opt::MESSAGE_TYPE, vec![kind.code()]);
        Message {
            op: OP_REQUEST,
            xid,
            secs: 0,
            flags: 0,
            ciaddr: Ipv4Addr::UNSPECIFIED,
            yiaddr: Ipv4Addr::UNSPECIFIED,
            siaddr: Ipv4Addr::UNSPECIFIED,
            giaddr: Ipv4Addr::UNSPECIFIED,
            chaddr,
            options,
        }
    }
}

#[cfg(test)]
mod tests;
