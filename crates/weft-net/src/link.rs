//! Links: list, create (veth, bridge, dummy, wireguard), change, delete.

use std::os::fd::AsRawFd;

use netlink_packet_core::{NLM_F_CREATE, NLM_F_EXCL};
use netlink_packet_route::RouteNetlinkMessage;
use netlink_packet_route::link::{
    InfoData, InfoKind, InfoVeth, LinkAttribute, LinkFlags, LinkInfo, LinkMessage,
};

use crate::error::{NetError, Result};
use crate::netlink::Netlink;
use crate::netns::Netns;

/// `IFNAMSIZ - 1`: the longest interface name the kernel accepts.
pub const MAX_IFNAME_LEN: usize = 15;

/// A network interface as the kernel reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Link {
    pub index: u32,
    pub name: String,
    /// IFLA_INFO_KIND: "veth", "bridge", "tun", "wireguard", ...; `None` for
    /// devices without one (loopback, most physical NICs).
    pub kind: Option<String>,
    pub alias: Option<String>,
    pub mac: Option<[u8; 6]>,
    /// IFF_UP: administratively up.
    pub up: bool,
    pub mtu: u32,
    /// Index of the bridge (or other controller) this link is enslaved to.
    pub master: Option<u32>,
    /// For links whose peer lives in another namespace (veth), that
    /// namespace's id as seen from this one.
    pub link_netnsid: Option<i32>,
    /// IFLA_LINK: for veth, the peer's index (in the peer's namespace).
    pub peer_index: Option<u32>,
}

impl Link {
    fn from_message(message: LinkMessage) -> Link {
        let mut link = Link {
            index: message.header.index,
            name: String::new(),
            kind: None,
            alias: None,
            mac: None,
            up: message.header.flags.contains(LinkFlags::Up),
            mtu: 0,
            master: None,
            link_netnsid: None,
            peer_index: None,
        };
        for attribute in message.attributes {
            match attribute {
                LinkAttribute::IfName(name) => link.name = name,
                LinkAttribute::IfAlias(alias) => link.alias = Some(alias),
                LinkAttribute::Address(mac) => link.mac = mac.try_into().ok(),
                LinkAttribute::Mtu(mtu) => link.mtu = mtu,
                LinkAttribute::Controller(master) => link.master = Some(master),
                LinkAttribute::LinkNetNsId(id) => link.link_netnsid = Some(id),
                LinkAttribute::Link(peer) => link.peer_index = Some(peer),
                LinkAttribute::LinkInfo(infos) => {
                    link.kind = infos.into_iter().find_map(|info| match info {
                        LinkInfo::Kind(kind) => Some(kind.to_string()),
                        _ => None,
                    });
                }
                _ => {}
            }
        }
        link
    }
}

/// Rejects names the kernel would refuse, with a message naming the problem.
pub(crate) fn check_ifname(op: &str, name: &str) -> Result<()> {
    let reason = if name.is_empty() {
        "empty interface name"
    } else if name.len() > MAX_IFNAME_LEN {
        "interface name longer than 15 bytes"
    } else if name == "." || name == ".." {
        "interface name may not be . or .."
    } else if name
        .chars()
        .any(|c| c == '/' || c == ':' || c.is_whitespace())
    {
        "interface name contains '/', ':' or whitespace"
    } else {
        return Ok(());
    };
    Err(NetError::invalid(op, reason))
}

fn link_message(index: u32) -> LinkMessage {
    let mut message = LinkMessage::default();
    message.header.index = index;
    message
}

fn only_link(replies: Vec<RouteNetlinkMessage>) -> Option<Link> {
    replies.into_iter().find_map(|reply| match reply {
        RouteNetlinkMessage::NewLink(message) => Some(Link::from_message(message)),
        _ => None,
    })
}

impl Netlink {
    pub fn links(&mut self) -> Result<Vec<Link>> {
        let op = self.describe("list links");
        let replies = self.dump(RouteNetlinkMessage::GetLink(LinkMessage::default()), &op)?;
        Ok(replies
            .into_iter()
            .filter_map(|reply| match reply {
                RouteNetlinkMessage::NewLink(message) => Some(Link::from_message(message)),
                _ => None,
            })
            .collect())
    }

    pub fn link_by_name(&mut self, name: &str) -> Result<Option<Link>> {
        let op = self.describe(format_args!("look up link {name}"));
        check_ifname(&op, name)?;
        let mut message = LinkMessage::default();
        message
            .attributes
            .push(LinkAttribute::IfName(name.to_owned()));
        self.get_link(message, &op)
    }

    pub fn link_by_index(&mut self, index: u32) -> Result<Option<Link>> {
        let op = self.describe(format_args!("look up link #{index}"));
        self.get_link(link_message(index), &op)
    }

    /// The IFLA_LINKINFO of link `index` (kind and kind-specific data);
    /// None when the link is gone.
    pub(crate) fn link_info(&mut self, index: u32, op: &str) -> Result<Option<Vec<LinkInfo>>> {
        let replies = match self.request(RouteNetlinkMessage::GetLink(link_message(index)), 0, op) {
            Ok(replies) => replies,
            Err(e) if e.is_not_found() => return Ok(None),
            Err(e) => return Err(e),
        };
        Ok(replies.into_iter().find_map(|reply| match reply {
            RouteNetlinkMessage::NewLink(message) => {
                message.attributes.into_iter().find_map(|a| match a {
                    LinkAttribute::LinkInfo(info) => Some(info),
                    _ => None,
                })
            }
            _ => None,
        }))
    }

    fn get_link(&mut self, message: LinkMessage, op: &str) -> Result<Option<Link>> {
        match self.request(RouteNetlinkMessage::GetLink(message), 0, op) {
            Ok(replies) => Ok(only_link(replies)),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Creates a veth pair. `name` stays in this namespace; `peer_name` is
    /// created directly inside `peer_ns` when given, so the peer's name never
    /// has to be free in this namespace.
    pub fn create_veth(
        &mut self,
        name: &str,
        peer_name: &str,
        peer_ns: Option<&Netns>,
    ) -> Result<()> {
        let op = match peer_ns {
            Some(ns) => format!("create veth {name} (peer {peer_name} in {})", ns.origin()),
            None => format!("create veth {name} (peer {peer_name})"),
        };
        let op = self.describe(op);
        check_ifname(&op, name)?;
        check_ifname(&op, peer_name)?;
        let mut peer = LinkMessage::default();
        peer.attributes
            .push(LinkAttribute::IfName(peer_name.to_owned()));
        if let Some(ns) = peer_ns {
            // The fd is only read during the request, while `ns` is borrowed.
            peer.attributes
                .push(LinkAttribute::NetNsFd(ns.as_fd().as_raw_fd()));
        }
        self.create_link(
            name,
            vec![
                LinkInfo::Kind(InfoKind::Veth),
                LinkInfo::Data(InfoData::Veth(InfoVeth::Peer(peer))),
            ],
            &op,
        )
    }

    pub fn create_bridge(&mut self, name: &str) -> Result<()> {
        self.create_simple(name, InfoKind::Bridge)
    }

    /// Creates a kernel WireGuard link. Where the module is missing this fails
    /// with an error for which `is_not_supported()` is true.
    pub fn create_wireguard(&mut self, name: &str) -> Result<()> {
        self.create_simple(name, InfoKind::Wireguard)
    }

    pub fn create_dummy(&mut self, name: &str) -> Result<()> {
        self.create_simple(name, InfoKind::Dummy)
    }

    fn create_simple(&mut self, name: &str, kind: InfoKind) -> Result<()> {
        let op = self.describe(format_args!("create {kind} {name}"));
        check_ifname(&op, name)?;
        self.create_link(name, vec![LinkInfo::Kind(kind)], &op)
    }

    pub(crate) fn create_link(&mut self, name: &str, info: Vec<LinkInfo>, op: &str) -> Result<()> {
        let mut message = LinkMessage::default();
        message
            .attributes
            .push(LinkAttribute::IfName(name.to_owned()));
        message.attributes.push(LinkAttribute::LinkInfo(info));
        self.request(
            RouteNetlinkMessage::NewLink(message),
            NLM_F_CREATE | NLM_F_EXCL,
            op,
        )?;
        tracing::info!("{op}: done");
        Ok(())
    }

    pub fn delete_link(&mut self, index: u32) -> Result<()> {
        let op = self.describe(format_args!("delete link #{index}"));
        self.request(RouteNetlinkMessage::DelLink(link_message(index)), 0, &op)?;
        tracing::info!("{op}: done");
        Ok(())
    }

    pub fn set_up(&mut self, index: u32) -> Result<()> {
        self.set_flag_up(index, true)
    }

    pub fn set_down(&mut self, index: u32) -> Result<()> {
        self.set_flag_up(index, false)
    }

    fn set_flag_up(&mut self, index: u32, up: bool) -> Result<()> {
        let op = self.describe(format_args!(
            "set link #{index} {}",
            if up { "up" } else { "down" }
        ));
        let mut message = link_message(index);
        message.header.change_mask = LinkFlags::Up;
        if up {
            message.header.flags = LinkFlags::Up;
        }
        self.set_link(message, &op)
    }

    /// Renames a link; the kernel requires it to be down.
    pub fn set_name(&mut self, index: u32, name: &str) -> Result<()> {
        let op = self.describe(format_args!("rename link #{index} to {name}"));
        check_ifname(&op, name)?;
        self.set_attribute(index, LinkAttribute::IfName(name.to_owned()), &op)
    }

    /// Sets IFLA_IFALIAS, the free-text label weft marks its links with.
    pub fn set_alias(&mut self, index: u32, alias: &str) -> Result<()> {
        let op = self.describe(format_args!("set alias of link #{index} to {alias:?}"));
        self.set_attribute(index, LinkAttribute::IfAlias(alias.to_owned()), &op)
    }

    /// Sets the link's hardware (MAC) address.
    pub fn set_mac(&mut self, index: u32, mac: [u8; 6]) -> Result<()> {
        let op = self.describe(format_args!("set MAC of link #{index} to {mac:02x?}"));
        self.set_attribute(index, LinkAttribute::Address(mac.to_vec()), &op)
    }

    pub fn set_mtu(&mut self, index: u32, mtu: u32) -> Result<()> {
        let op = self.describe(format_args!("set mtu of link #{index} to {mtu}"));
        self.set_attribute(index, LinkAttribute::Mtu(mtu), &op)
    }

    /// Enslaves the link to bridge `master`, or frees it with `None`.
    pub fn set_master(&mut self, index: u32, master: Option<u32>) -> Result<()> {
        let op = match master {
            Some(master) => format!("attach link #{index} to #{master}"),
            None => format!("detach link #{index} from its master"),
        };
        let op = self.describe(op);
        self.set_attribute(index, LinkAttribute::Controller(master.unwrap_or(0)), &op)
    }

    /// Moves the link into `ns`; from then on it is no longer visible here.
    pub fn set_netns(&mut self, index: u32, ns: &Netns) -> Result<()> {
        let op = self.describe(format_args!("move link #{index} to {}", ns.origin()));
        self.set_attribute(index, LinkAttribute::NetNsFd(ns.as_fd().as_raw_fd()), &op)?;
        tracing::info!("{op}: done");
        Ok(())
    }

    fn set_attribute(&mut self, index: u32, attribute: LinkAttribute, op: &str) -> Result<()> {
        let mut message = link_message(index);
        message.attributes.push(attribute);
        self.set_link(message, op)
    }

    fn set_link(&mut self, message: LinkMessage, op: &str) -> Result<()> {
        self.request(RouteNetlinkMessage::SetLink(message), 0, op)?;
        tracing::debug!("{op}: done");
        Ok(())
    }
}

#[cfg(test)]
mod tests;
