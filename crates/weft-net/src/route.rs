//! Routes in the main table, IPv4 and IPv6.

use std::net::IpAddr;

use ipnet::IpNet;
use netlink_packet_core::{NLM_F_CREATE, NLM_F_EXCL, NLM_F_REPLACE};
use netlink_packet_route::RouteNetlinkMessage;
use netlink_packet_route::route::{
    RouteAddress, RouteAttribute, RouteFlags, RouteHeader, RouteMessage, RouteProtocol,
    RouteScope as KernelScope, RouteType,
};

use crate::addr::family_of;
use crate::error::{NetError, Result};
use crate::netlink::Netlink;

/// Which destinations a route reaches directly.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RouteScope {
    /// Reached through a gateway (or the default for a route).
    Universe,
    /// On the link itself: no gateway.
    Link,
    /// This host.
    Host,
}

impl RouteScope {
    fn to_kernel(self) -> KernelScope {
        match self {
            RouteScope::Universe => KernelScope::Universe,
            RouteScope::Link => KernelScope::Link,
            RouteScope::Host => KernelScope::Host,
        }
    }

    fn from_kernel(scope: KernelScope) -> Option<RouteScope> {
        match scope {
            KernelScope::Universe => Some(RouteScope::Universe),
            KernelScope::Link => Some(RouteScope::Link),
            KernelScope::Host => Some(RouteScope::Host),
            _ => None,
        }
    }
}

/// The routing protocol number weft puts on every route it makes
/// (`ip route … proto 119`): how weft tells its own routes from everyone
/// else's. Unassigned in iproute2's `rt_protos`.
pub const WEFT_ROUTE_PROTOCOL: u8 = 119;

/// A unicast route in the main table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Route {
    pub dst: IpNet,
    pub gateway: Option<IpAddr>,
    pub oif: Option<u32>,
    pub scope: RouteScope,
    /// Preferred source address (RTA_PREFSRC).
    pub src: Option<IpAddr>,
    /// RTA_PRIORITY. The kernel reports IPv6 routes added without one as 1024.
    pub metric: Option<u32>,
    /// Who made the route (`rtm_protocol`): [`WEFT_ROUTE_PROTOCOL`] for the
    /// routes built here, the kernel's number for those read back.
    pub protocol: u8,
}

impl Route {
    /// `dst` through `gateway`, optionally pinned to link `oif`.
    pub fn via(dst: IpNet, gateway: IpAddr, oif: Option<u32>) -> Route {
        Route {
            dst,
            gateway: Some(gateway),
            oif,
            scope: RouteScope::Universe,
            src: None,
            metric: None,
            protocol: WEFT_ROUTE_PROTOCOL,
        }
    }

    /// `dst` directly on link `oif`: scope link, no gateway.
    pub fn link(dst: IpNet, oif: u32) -> Route {
        Route {
            dst,
            gateway: None,
            oif: Some(oif),
            scope: RouteScope::Link,
            src: None,
            metric: None,
            protocol: WEFT_ROUTE_PROTOCOL,
        }
    }

    pub fn with_src(mut self, src: IpAddr) -> Route {
        self.src = Some(src);
        self
    }

    pub fn with_metric(mut self, metric: u32) -> Route {
        self.metric = Some(metric);
        self
    }

    /// The metric the kernel compares when it replaces a route: the one set,
    /// or its default (0 for IPv4, 1024 for IPv6).
    pub fn effective_metric(&self) -> u32 {
        match (self.metric, self.dst) {
            (Some(metric), _) => metric,
            (None, IpNet::V4(_)) => 0,
            (None, IpNet::V6(_)) => 1024,
        }
    }

    /// Whether adding `self` with replace would take `other`'s place: same
    /// destination, same metric.
    pub fn would_replace(&self, other: &Route) -> bool {
        self.dst.trunc() == other.dst.trunc() && self.effective_metric() == other.effective_metric()
    }

    /// Reads a kernel route; `None` for what this type cannot describe
    /// (other tables, non-unicast types, cache clones, multipath routes,
    /// site/nowhere scopes), which `routes()` leaves out.
    fn from_message(message: RouteMessage) -> Option<Route> {
        let header = &message.header;
        if header.kind != RouteType::Unicast || header.flags.contains(RouteFlags::Cloned) {
            return None;
        }
        let scope = RouteScope::from_kernel(header.scope)?;
        let mut table = u32::from(header.table);
        let mut dst = None;
        let mut gateway = None;
        let mut oif = None;
        let mut src = None;
        let mut metric = None;
        for attribute in &message.attributes {
            match attribute {
                RouteAttribute::Table(id) => table = *id,
                RouteAttribute::Destination(address) => dst = ip_of(address),
                RouteAttribute::Gateway(address) => gateway = ip_of(address),
                RouteAttribute::PrefSource(address) => src = ip_of(address),
                RouteAttribute::Oif(index) => oif = Some(*index),
                RouteAttribute::Priority(priority) => metric = Some(*priority),
                RouteAttribute::MultiPath(_) => return None,
                _ => {}
            }
        }
        if table != u32::from(RouteHeader::RT_TABLE_MAIN) {
            return None;
        }
        let dst_ip = match dst {
            Some(ip) => ip,
            None => unspecified(header.address_family)?,
        };
        let dst = IpNet::new(dst_ip, header.destination_prefix_length).ok()?;
        Some(Route {
            dst,
            gateway,
            oif,
            scope,
            src,
            metric,
            protocol: u8::from(header.protocol),
        })
    }

    /// The RTM_NEWROUTE / RTM_DELROUTE message for this route.
    fn to_message(&self, op: &str) -> Result<RouteMessage> {
        let family = family_of(self.dst.addr());
        for (what, ip) in [("gateway", self.gateway), ("source", self.src)] {
            match ip {
                Some(ip) if family_of(ip) != family => {
                    return Err(NetError::invalid(
                        op,
                        format!("{what} {ip} is not of the destination's address family"),
                    ));
                }
                _ => {}
            }
        }
        let mut message = RouteMessage::default();
        message.header.address_family = family;
        message.header.destination_prefix_length = self.dst.prefix_len();
        message.header.table = RouteHeader::RT_TABLE_MAIN;
        message.header.protocol = RouteProtocol::from(self.protocol);
        message.header.scope = self.scope.to_kernel();
        message.header.kind = RouteType::Unicast;
        let attributes = &mut message.attributes;
        // The network address: the kernel refuses host bits under the prefix.
        attributes.push(RouteAttribute::Destination(route_address(
            self.dst.network(),
        )));
        if let Some(gateway) = self.gateway {
            attributes.push(RouteAttribute::Gateway(route_address(gateway)));
        }
        if let Some(oif) = self.oif {
            attributes.push(RouteAttribute::Oif(oif));
        }
        if let Some(src) = self.src {
            attributes.push(RouteAttribute::PrefSource(route_address(src)));
        }
        if let Some(metric) = self.metric {
            attributes.push(RouteAttribute::Priority(metric));
        }
        Ok(message)
    }
}

fn ip_of(address: &RouteAddress) -> Option<IpAddr> {
    match address {
        RouteAddress::Inet(ip) => Some(IpAddr::V4(*ip)),
        RouteAddress::Inet6(ip) => Some(IpAddr::V6(*ip)),
        _ => None,
    }
}

fn route_address(ip: IpAddr) -> RouteAddress {
    match ip {
        IpAddr::V4(ip) => RouteAddress::Inet(ip),
        IpAddr::V6(ip) => RouteAddress::Inet6(ip),
    }
}

/// The default route's destination, which the kernel sends without RTA_DST.
fn unspecified(family: netlink_packet_route::AddressFamily) -> Option<IpAddr> {
    use netlink_packet_route::AddressFamily;
    match family {
        AddressFamily::Inet => Some(IpAddr::from([0u8; 4])),
        AddressFamily::Inet6 => Some(IpAddr::from([0u8; 16])),
        _ => None,
    }
}

fn describe_route(route: &Route) -> String {
    let mut text = route.dst.to_string();
    if let Some(gateway) = route.gateway {
        text.push_str(&format!(" via {gateway}"));
    }
    if let Some(oif) = route.oif {
        text.push_str(&format!(" dev #{oif}"));
    }
    if let Some(metric) = route.metric {
        text.push_str(&format!(" metric {metric}"));
    }
    text
}

impl Netlink {
    /// Unicast routes of the main table, both families.
    pub fn routes(&mut self) -> Result<Vec<Route>> {
        let op = self.describe("list routes");
        let replies = self.dump(RouteNetlinkMessage::GetRoute(RouteMessage::default()), &op)?;
        Ok(replies
            .into_iter()
            .filter_map(|reply| match reply {
                RouteNetlinkMessage::NewRoute(message) => Route::from_message(message),
                _ => None,
            })
            .collect())
    }

    /// Adds a route; fails with `is_exists()` when one for the same
    /// destination (and metric) is there.
    pub fn add_route(&mut self, route: &Route) -> Result<()> {
        self.new_route(route, "add", NLM_F_CREATE | NLM_F_EXCL)
    }

    /// Adds the route or replaces the one for the same destination and metric,
    /// whoever made it. Prefer [`Netlink::replace_own_route`].
    pub fn replace_route(&mut self, route: &Route) -> Result<()> {
        self.new_route(route, "replace", NLM_F_CREATE | NLM_F_REPLACE)
    }

    /// Adds the route, or replaces the one the kernel would replace (same
    /// destination and metric) only if `owned` says it is the caller's;
    /// refuses, naming it, when it is anybody else's. A host's default route
    /// or the route of its underlay is never taken over this way.
    ///
    /// The check and the change are two requests: a route added by someone
    /// else in between is replaced all the same, which is as far as
    /// netlink lets anyone go.
    pub fn replace_own_route(
        &mut self,
        route: &Route,
        owned: impl Fn(&Route) -> bool,
    ) -> Result<()> {
        let foreign = self
            .routes()?
            .into_iter()
            .find(|existing| route.would_replace(existing) && !owned(existing));
        if let Some(existing) = foreign {
            let mut text = describe_route(&existing);
            // By name where it still has one: "dev eth0" says more than "#2".
            if let Some(oif) = existing.oif
                && let Ok(Some(link)) = self.link_by_index(oif)
            {
                text = text.replace(&format!("dev #{oif}"), &format!("dev {}", link.name));
            }
            return Err(NetError::invalid(
                self.describe(format_args!("replace route {}", describe_route(route))),
                format!("route {text} (proto {}) is not weft's", existing.protocol),
            ));
        }
        self.replace_route(route)
    }

    fn new_route(&mut self, route: &Route, verb: &str, flags: u16) -> Result<()> {
        let op = self.describe(format_args!("{verb} route {}", describe_route(route)));
        let message = route.to_message(&op)?;
        self.request(RouteNetlinkMessage::NewRoute(message), flags, &op)?;
        tracing::debug!("{op}: done");
        Ok(())
    }

    /// Deletes the route matching `route`'s destination, gateway, link,
    /// metric (whatever of those it sets) and protocol: a route of
    /// [`WEFT_ROUTE_PROTOCOL`] unless set otherwise, so nobody else's route
    /// is ever deleted by mistake. Its scope is not compared.
    pub fn del_route(&mut self, route: &Route) -> Result<()> {
        let op = self.describe(format_args!("delete route {}", describe_route(route)));
        let mut message = route.to_message(&op)?;
        // As `ip route del` does: NOWHERE and UNSPEC match any. The protocol
        // stays: the kernel then deletes only a route of that protocol.
        message.header.scope = KernelScope::NoWhere;
        message.header.kind = RouteType::Unspec;
        self.request(RouteNetlinkMessage::DelRoute(message), 0, &op)?;
        tracing::debug!("{op}: done");
        Ok(())
    }
}

#[cfg(test)]
mod tests;
