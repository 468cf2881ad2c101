//! Interface addresses, IPv4 and IPv6.

use std::net::IpAddr;

use ipnet::IpNet;
use netlink_packet_core::{NLM_F_CREATE, NLM_F_EXCL};
use netlink_packet_route::address::{
    AddressAttribute, AddressFlags, AddressHeaderFlags, AddressMessage, AddressScope,
};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};

use crate::error::Result;
use crate::netlink::Netlink;

/// An address assigned to a link.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Address {
    pub index: u32,
    pub addr: IpNet,
}

impl Address {
    fn from_message(message: AddressMessage) -> Option<Address> {
        let mut local = None;
        let mut address = None;
        for attribute in message.attributes {
            match attribute {
                AddressAttribute::Local(ip) => local = Some(ip),
                AddressAttribute::Address(ip) => address = Some(ip),
                _ => {}
            }
        }
        // On point-to-point IPv4 links IFA_ADDRESS is the peer and IFA_LOCAL
        // ours; elsewhere they agree, and IPv6 only sends IFA_ADDRESS.
        let ip = local.or(address)?;
        let addr = IpNet::new(ip, message.header.prefix_len).ok()?;
        Some(Address {
            index: message.header.index,
            addr,
        })
    }
}

pub(crate) fn family_of(ip: IpAddr) -> AddressFamily {
    match ip {
        IpAddr::V4(_) => AddressFamily::Inet,
        IpAddr::V6(_) => AddressFamily::Inet6,
    }
}

/// The message both RTM_NEWADDR and RTM_DELADDR need for `addr` on `index`.
fn address_message(index: u32, addr: IpNet) -> AddressMessage {
    let mut message = AddressMessage::default();
    message.header.family = family_of(addr.addr());
    message.header.prefix_len = addr.prefix_len();
    message.header.index = index;
    message.header.scope = if addr.addr().is_loopback() {
        AddressScope::Host
    } else {
        AddressScope::Universe
    };
    if addr.addr().is_ipv4() {
        message
            .attributes
            .push(AddressAttribute::Local(addr.addr()));
    }
    message
        .attributes
        .push(AddressAttribute::Address(addr.addr()));
    message
}

impl Netlink {
    /// Addresses of one link, or of all links with `None`.
    pub fn addresses(&mut self, index: Option<u32>) -> Result<Vec<Address>> {
        let op = match index {
            Some(index) => self.describe(format_args!("list addresses of link #{index}")),
            None => self.describe("list addresses"),
        };
        let replies = self.dump(
            RouteNetlinkMessage::GetAddress(AddressMessage::default()),
            &op,
        )?;
        Ok(replies
            .into_iter()
            .filter_map(|reply| match reply {
                RouteNetlinkMessage::NewAddress(message) => Address::from_message(message),
                _ => None,
            })
            // Filtered here: strict dump filtering is opt-in and per kernel.
            .filter(|address| index.is_none_or(|index| address.index == index))
            .collect())
    }

    /// Adds `addr` (address and prefix length) to the link. IPv6 addresses
    /// skip duplicate address detection so they are usable at once.
    pub fn add_address(&mut self, index: u32, addr: IpNet) -> Result<()> {
        let op = self.describe(format_args!("add address {addr} to link #{index}"));
        let mut message = address_message(index, addr);
        if addr.addr().is_ipv6() {
            message.header.flags = AddressHeaderFlags::Nodad;
            message
                .attributes
                .push(AddressAttribute::Flags(AddressFlags::Nodad));
        }
        self.request(
            RouteNetlinkMessage::NewAddress(message),
            NLM_F_CREATE | NLM_F_EXCL,
            &op,
        )?;
        tracing::debug!("{op}: done");
        Ok(())
    }

    pub fn del_address(&mut self, index: u32, addr: IpNet) -> Result<()> {
        let op = self.describe(format_args!("delete address {addr} from link #{index}"));
        self.request(
            RouteNetlinkMessage::DelAddress(address_message(index, addr)),
            0,
            &op,
        )?;
        tracing::debug!("{op}: done");
        Ok(())
    }
}

#[cfg(test)]
mod tests;
