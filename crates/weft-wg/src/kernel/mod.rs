//! The kernel backend: the `wireguard` module, configured over generic
//! netlink. The link itself is made and removed through [`LinkOps`] (the
//! caller's rtnetlink layer).

pub mod msg;

use std::fmt::Debug;
use std::io;

use netlink_packet_core::{
    Emitable, NLM_F_ACK, NLM_F_DUMP, NLM_F_REQUEST, NetlinkMessage, NetlinkPayload,
    ParseableParametrized,
};
use netlink_packet_generic::ctrl::nlas::GenlCtrlAttrs;
use netlink_packet_generic::ctrl::{GenlCtrl, GenlCtrlCmd};
use netlink_packet_generic::{GenlFamily, GenlHeader, GenlMessage};
use netlink_packet_wireguard::WireguardMessage;
use netlink_sys::{Socket, SocketAddr, protocols::NETLINK_GENERIC};

use crate::error::check_ifname;
use crate::{Backend, BackendKind, DeviceConfig, DeviceInfo, WgError};

/// Creating and removing links, done by the caller's rtnetlink layer.
pub trait LinkOps: Send + Sync {
    /// `ip link add <name> type wireguard`
    fn create_wireguard(&self, name: &str) -> std::io::Result<()>;
    fn delete(&self, name: &str) -> std::io::Result<()>;
    fn exists(&self, name: &str) -> bool;
}

/// Kernel WireGuard in the calling thread's network namespace.
pub struct Kernel {
    links: Box<dyn LinkOps>,
}

impl Kernel {
    pub fn new(links: Box<dyn LinkOps>) -> Self {
        Self { links }
    }
}

/// Receive buffer: dump messages are at most a page or two each, several
/// may arrive per datagram.
const RECV_BUFFER: usize = 64 * 1024;

/// A synchronous generic netlink socket talking to one family.
struct Genl {
    socket: Socket,
    family: u16,
    sequence: u32,
}

impl Genl {
    fn connect(family_name: &str) -> io::Result<Self> {
        let mut socket = Socket::new(NETLINK_GENERIC)?;
        socket.bind_auto()?;
        socket.connect(&SocketAddr::new(0, 0))?;
        let mut genl = Self {
            socket,
            family: 0,
            sequence: 0,
        };
        let reply = genl.request(
            GenlCtrl {
                cmd: GenlCtrlCmd::GetFamily,
                nlas: vec![GenlCtrlAttrs::FamilyName(family_name.to_owned())],
            },
            NLM_F_REQUEST | NLM_F_ACK,
        )?;
        genl.family = reply
            .iter()
            .flat_map(|ctrl| &ctrl.nlas)
            .find_map(|nla| match nla {
                GenlCtrlAttrs::FamilyId(id) => Some(*id),
                _ => None,
            })
            .ok_or_else(|| io::Error::other(format!("no id for family {family_name}")))?;
        Ok(genl)
    }

    /// Send one request and collect the replies up to the ACK or the end of
    /// the dump.
    fn request<F>(&mut self, payload: F, flags: u16) -> io::Result<Vec<F>>
    where
        F: GenlFamily + Emitable + ParseableParametrized<[u8], GenlHeader> + Debug,
    {
        self.sequence = self.sequence.wrapping_add(1);
        let mut genl = GenlMessage::from_payload(payload);
        genl.set_resolved_family_id(self.family);
        let mut message = NetlinkMessage::from(genl);
        message.header.flags = flags;
        message.header.sequence_number = self.sequence;
        message.finalize();
        let mut bytes = vec![0u8; message.buffer_len()];
        message.serialize(&mut bytes);
        self.socket.send(&bytes, 0)?;

        let dump = flags & NLM_F_DUMP == NLM_F_DUMP;
        let mut replies = Vec::new();
        let mut buffer = Vec::with_capacity(RECV_BUFFER);
        loop {
            buffer.clear();
            self.socket.recv(&mut buffer, 0)?;
            let mut offset = 0;
            while offset < buffer.len() {
                let reply = NetlinkMessage::<GenlMessage<F>>::deserialize(&buffer[offset..])
                    .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))?;
                let len = reply.header.length as usize;
                if len == 0 {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        "empty netlink message",
                    ));
                }
                offset += len.next_multiple_of(4);
                if reply.header.sequence_number != self.sequence {
                    continue;
                }
                match reply.payload {
                    NetlinkPayload::InnerMessage(genl) => {
                        replies.push(genl.payload);
                        if !dump && flags & NLM_F_ACK == 0 {
                            return Ok(replies);
                        }
                    }
                    NetlinkPayload::Error(err) if err.code.is_some() => return Err(err.to_io()),
                    NetlinkPayload::Error(_) | NetlinkPayload::Done(_) => return Ok(replies),
                    _ => {}
                }
            }
        }
    }
}

fn wireguard_socket(op: &'static str, ifname: &str) -> Result<Genl, WgError> {
    Genl::connect(<WireguardMessage as GenlFamily>::family_name()).map_err(|source| {
        WgError::Netlink {
            op,
            ifname: ifname.to_owned(),
            source,
        }
    })
}

fn get_device(genl: &mut Genl, ifname: &str) -> Result<DeviceInfo, WgError> {
    let err = |source| WgError::Netlink {
        op: "get device",
        ifname: ifname.to_owned(),
        source,
    };
    let replies = genl
        .request(msg::get_device_request(ifname), NLM_F_REQUEST | NLM_F_DUMP)
        .map_err(err)?;
    msg::device_info_from_replies(ifname, &replies)
        .map_err(|e| err(io::Error::new(io::ErrorKind::InvalidData, e)))
}

impl Backend for Kernel {
    fn kind(&self) -> BackendKind {
        BackendKind::Kernel
    }

    fn create(&self, ifname: &str) -> Result<(), WgError> {
        check_ifname(ifname)?;
        if self.links.exists(ifname) {
            return Err(WgError::AlreadyExists {
                ifname: ifname.to_owned(),
            });
        }
        self.links
            .create_wireguard(ifname)
            .map_err(|source| WgError::Link {
                op: "create wireguard link",
                ifname: ifname.to_owned(),
                source,
            })
    }

    fn exists(&self, ifname: &str) -> bool {
        self.links.exists(ifname)
    }

    fn configure(&self, ifname: &str, config: &DeviceConfig) -> Result<(), WgError> {
        let mut genl = wireguard_socket("configure", ifname)?;
        for message in msg::set_device_messages(ifname, config, msg::MAX_MESSAGE_LEN) {
            genl.request(message, NLM_F_REQUEST | NLM_F_ACK)
                .map_err(|source| WgError::Netlink {
                    op: "configure",
                    ifname: ifname.to_owned(),
                    source,
                })?;
        }
        Ok(())
    }

    fn get(&self, ifname: &str) -> Result<DeviceInfo, WgError> {
        get_device(&mut wireguard_socket("get device", ifname)?, ifname)
    }

    fn delete(&self, ifname: &str) -> Result<(), WgError> {
        if !self.links.exists(ifname) {
            return Ok(());
        }
        self.links.delete(ifname).map_err(|source| WgError::Link {
            op: "delete link",
            ifname: ifname.to_owned(),
            source,
        })
    }

    /// Every link of the namespace that answers a WireGuard dump.
    fn list(&self) -> Vec<String> {
        let Ok(mut genl) = Genl::connect(<WireguardMessage as GenlFamily>::family_name()) else {
            return Vec::new(); // no module, no interfaces
        };
        let mut names: Vec<String> = nix::net::if_::if_nameindex()
            .map(|list| {
                list.iter()
                    .map(|i| i.name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        names.retain(|name| get_device(&mut genl, name).is_ok());
        names.sort();
        names
    }
}

#[cfg(test)]
mod tests;
