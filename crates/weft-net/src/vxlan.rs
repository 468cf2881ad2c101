//! VXLAN devices and their forwarding database (FDB): the device, and the
//! all-zero entries that send broadcast, unknown-unicast and multicast
//! frames to every remote tunnel endpoint (head-end replication, no
//! multicast underlay), as `bridge fdb append 00:00:00:00:00:00 dev vx0
//! dst IP` makes them.
//!
//! Learning is off on every device weft makes: remote MACs are learnt by
//! the bridge above the device, and where frames go is only ever what the
//! FDB says, so a forged source on the underlay cannot move an address.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use netlink_packet_core::{NLM_F_APPEND, NLM_F_CREATE};
use netlink_packet_route::link::{InfoData, InfoKind, InfoVxlan, LinkInfo};
use netlink_packet_route::neighbour::{
    NeighbourAddress, NeighbourAttribute, NeighbourFlags, NeighbourMessage, NeighbourState,
};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};

use crate::error::Result;
use crate::netlink::Netlink;

/// The MAC of a flooding entry: frames with no better entry go to every
/// VTEP that has one.
pub const FLOOD_MAC: [u8; 6] = [0; 6];

/// What a VXLAN device is made with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VxlanConfig {
    /// The VXLAN network identifier, 1–16777215.
    pub vni: u32,
    /// The UDP destination port, always given (the kernel's own default is
    /// 8472, not IANA's 4789).
    pub port: u16,
    /// The source address of the tunnel; None: chosen by routing.
    pub local: Option<IpAddr>,
    /// The underlay device (ifindex) tunnel packets leave through.
    pub link: Option<u32>,
}

/// One entry of a VXLAN device's own FDB (NTF_SELF).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FdbEntry {
    pub mac: [u8; 6],
    /// The remote VTEP frames for `mac` are sent to.
    pub dst: IpAddr,
}

impl Netlink {
    /// Create a VXLAN device with learning off.
    pub fn create_vxlan(&mut self, name: &str, config: &VxlanConfig) -> Result<()> {
        let op = self.describe(format_args!(
            "create vxlan {name} (vni {}, port {})",
            config.vni, config.port
        ));
        crate::link::check_ifname(&op, name)?;
        let mut data = vec![
            InfoVxlan::Id(config.vni),
            InfoVxlan::Port(config.port),
            InfoVxlan::Learning(false),
        ];
        match config.local {
            Some(IpAddr::V4(ip)) => data.push(InfoVxlan::Local(ip)),
            Some(IpAddr::V6(ip)) => data.push(InfoVxlan::Local6(ip)),
            None => {}
        }
        if let Some(link) = config.link {
            data.push(InfoVxlan::Link(link));
        }
        self.create_link(
            name,
            vec![
                LinkInfo::Kind(InfoKind::Vxlan),
                LinkInfo::Data(InfoData::Vxlan(data)),
            ],
            &op,
        )
    }

    /// The VNI, port, local address and underlay link of VXLAN device
    /// `index`; None when it is not a VXLAN device (or gone).
    pub fn vxlan_config(&mut self, index: u32) -> Result<Option<VxlanConfig>> {
        let op = self.describe(format_args!("inspect vxlan #{index}"));
        let Some(info) = self.link_info(index, &op)? else {
            return Ok(None);
        };
        Ok(vxlan_from_info(info))
    }

    /// Append a flooding entry for `dst` (`bridge fdb append
    /// 00:00:00:00:00:00 dev … dst …`); an entry that is already there is
    /// success.
    pub fn fdb_append(&mut self, index: u32, dst: IpAddr) -> Result<()> {
        let op = self.describe(format_args!("append FDB entry dst {dst} on link #{index}"));
        match self.request(
            RouteNetlinkMessage::NewNeighbour(fdb_message(index, FLOOD_MAC, dst)),
            // Not EXCL: the all-zero entry exists once there is one remote,
            // and APPEND adds a destination to it.
            NLM_F_CREATE | NLM_F_APPEND,
            &op,
        ) {
            Err(e) if e.is_exists() => Ok(()),
            Err(e) => Err(e),
            Ok(_) => {
                tracing::debug!("{op}: done");
                Ok(())
            }
        }
    }

    /// Delete the flooding entry for `dst`; an entry that is not there is
    /// success.
    pub fn fdb_delete(&mut self, index: u32, dst: IpAddr) -> Result<()> {
        let op = self.describe(format_args!("delete FDB entry dst {dst} on link #{index}"));
        match self.request(
            RouteNetlinkMessage::DelNeighbour(fdb_message(index, FLOOD_MAC, dst)),
            0,
            &op,
        ) {
            Err(e) if e.is_not_found() => Ok(()),
            Err(e) => Err(e),
            Ok(_) => {
                tracing::debug!("{op}: done");
                Ok(())
            }
        }
    }

    /// The device's own FDB entries that point at a remote VTEP (the
    /// bridge's entries for the port are left out).
    pub fn fdb_entries(&mut self, index: u32) -> Result<Vec<FdbEntry>> {
        let op = self.describe(format_args!("list FDB entries of link #{index}"));
        let mut request = NeighbourMessage::default();
        request.header.family = AddressFamily::Bridge;
        let replies = self.dump(RouteNetlinkMessage::GetNeighbour(request), &op)?;
        Ok(replies
            .into_iter()
            .filter_map(|reply| match reply {
                RouteNetlinkMessage::NewNeighbour(m) => Some(m),
                _ => None,
            })
            .filter(|m| m.header.ifindex == index && m.header.flags.contains(NeighbourFlags::Own))
            .filter_map(fdb_entry)
            .collect())
    }
}

fn fdb_message(index: u32, mac: [u8; 6], dst: IpAddr) -> NeighbourMessage {
    let mut message = NeighbourMessage::default();
    message.header.family = AddressFamily::Bridge;
    message.header.ifindex = index;
    message.header.state = NeighbourState::Permanent;
    message.header.flags = NeighbourFlags::Own;
    message
        .attributes
        .push(NeighbourAttribute::LinkLayerAddress(mac.to_vec()));
    message
        .attributes
        .push(NeighbourAttribute::Destination(NeighbourAddress::from(dst)));
    message
}

/// An FDB entry from a dump; the bridge family leaves the destination as
/// raw bytes (4 or 16 of them).
fn fdb_entry(message: NeighbourMessage) -> Option<FdbEntry> {
    let mut mac = None;
    let mut dst = None;
    for attribute in message.attributes {
        match attribute {
            NeighbourAttribute::LinkLayerAddress(bytes) => mac = bytes.try_into().ok(),
            NeighbourAttribute::Destination(address) => dst = ip_of(address),
            _ => {}
        }
    }
    Some(FdbEntry {
        mac: mac?,
        dst: dst?,
    })
}

fn ip_of(address: NeighbourAddress) -> Option<IpAddr> {
    match address {
        NeighbourAddress::Inet(ip) => Some(ip.into()),
        NeighbourAddress::Inet6(ip) => Some(ip.into()),
        NeighbourAddress::Other(bytes) => match bytes.len() {
            4 => Some(Ipv4Addr::from(<[u8; 4]>::try_from(bytes).ok()?).into()),
            16 => Some(Ipv6Addr::from(<[u8; 16]>::try_from(bytes).ok()?).into()),
            _ => None,
        },
        _ => None,
    }
}

fn vxlan_from_info(info: Vec<LinkInfo>) -> Option<VxlanConfig> {
    let data = info.into_iter().find_map(|i| match i {
        LinkInfo::Data(InfoData::Vxlan(data)) => Some(data),
        _ => None,
    })?;
    let mut config = VxlanConfig {
        vni: 0,
        port: 0,
        local: None,
        link: None,
    };
    for attribute in data {
        match attribute {
            InfoVxlan::Id(vni) => config.vni = vni,
            InfoVxlan::Port(port) => config.port = port,
            InfoVxlan::Local(ip) if !ip.is_unspecified() => config.local = Some(ip.into()),
            InfoVxlan::Local6(ip) if !ip.is_unspecified() => config.local = Some(ip.into()),
            InfoVxlan::Link(link) if link != 0 => config.link = Some(link),
            _ => {}
        }
    }
    Some(config)
}

#[cfg(test)]
mod tests;
