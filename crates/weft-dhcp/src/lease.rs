//! What one VM NIC is given, and the DHCP options that say it.

use ipnet::Ipv4Net;
use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use crate::message::opt;

/// How long a lease lasts. weft's addresses do not move while a VM is
/// attached, so this only bounds how long a guest keeps one after a detach.
pub const LEASE_SECS: u32 = 3600;

/// One route of option 121: `destination` via `router` (0.0.0.0: on-link).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StaticRoute {
    pub destination: Ipv4Net,
    pub router: Ipv4Addr,
}

/// Everything one NIC (one MAC) is told.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lease {
    /// The guest NIC's MAC: the only client this lease answers.
    pub mac: [u8; 6],
    /// Its address with the prefix it has on the NIC: a /32 on a routed
    /// network (the router is reached by the on-link route below), the
    /// subnet's prefix on a bridge.
    pub address: Ipv4Net,
    /// The NIC's gateway: the server id and the router. The host's address
    /// on the network, or on a VXLAN network the gateway every host shares.
    pub router: Ipv4Addr,
    /// The network's DNS responder: the host's own address.
    pub dns_servers: Vec<Ipv4Addr>,
    /// The network's DNS domain, the guest's search domain.
    pub domain: String,
    pub mtu: u16,
    /// Option 121. A client that gets it ignores option 3 (RFC 3442), so
    /// the default route, where there is one, is among these.
    pub routes: Vec<StaticRoute>,
    /// The guest's host name, if the workload has a name.
    pub host_name: Option<String>,
}

impl Lease {
    /// The routes of a NIC: on a routed network (`address` a /32) the
    /// router on-link first; then the default route for the VM's first NIC
    /// (`default_route`), else only its network (`subnet`) via the router.
    /// On a bridge the subnet is on-link already and a later NIC needs no
    /// route at all.
    pub fn routes_for(
        address: Ipv4Net,
        router: Ipv4Addr,
        subnet: Ipv4Net,
        default_route: bool,
    ) -> Vec<StaticRoute> {
        let routed = address.prefix_len() == 32;
        let mut routes = vec![];
        if routed {
            routes.push(StaticRoute {
                destination: Ipv4Net::new(router, 32).expect("32 is a valid prefix"),
                router: Ipv4Addr::UNSPECIFIED,
            });
        }
        if default_route {
            routes.push(StaticRoute {
                destination: Ipv4Net::default(),
                router,
            });
        } else if routed {
            routes.push(StaticRoute {
                destination: subnet,
                router,
            });
        }
        routes
    }

    /// The options of an OFFER or ACK for this lease (without the message
    /// type and server id, which the reply adds).
    pub fn options(&self) -> BTreeMap<u8, Vec<u8>> {
        let mut options = BTreeMap::new();
        options.insert(opt::SUBNET_MASK, self.address.netmask().octets().to_vec());
        // Option 3 for clients that do not ask for 121; those that do
        // ignore it.
        if self.routes.iter().any(|r| r.destination.prefix_len() == 0) {
            options.insert(opt::ROUTER, self.router.octets().to_vec());
        }
        if !self.dns_servers.is_empty() {
            options.insert(
                opt::DNS_SERVERS,
                self.dns_servers.iter().flat_map(|a| a.octets()).collect(),
            );
        }
        if !self.domain.is_empty() {
            options.insert(opt::DOMAIN_NAME, self.domain.as_bytes().to_vec());
        }
        if let Some(name) = self.host_name.as_ref().filter(|n| !n.is_empty()) {
            options.insert(opt::HOST_NAME, name.as_bytes().to_vec());
        }
        options.insert(opt::INTERFACE_MTU, self.mtu.to_be_bytes().to_vec());
        options.insert(opt::LEASE_TIME, LEASE_SECS.to_be_bytes().to_vec());
        options.insert(opt::RENEWAL_TIME, (LEASE_SECS / 2).to_be_bytes().to_vec());
        options.insert(
            opt::REBINDING_TIME,
            (LEASE_SECS / 8 * 7).to_be_bytes().to_vec(),
        );
        if !self.routes.is_empty() {
            options.insert(opt::CLASSLESS_ROUTES, classless_routes(&self.routes));
        }
        options
    }
}

/// RFC 3442's encoding: per route the prefix length, the significant
/// octets of the destination (`ceil(len / 8)` of them), then the router.
pub fn classless_routes(routes: &[StaticRoute]) -> Vec<u8> {
    let mut out = vec![];
    for route in routes {
        let len = route.destination.prefix_len();
        out.push(len);
        let significant = usize::from(len).div_ceil(8);
        out.extend_from_slice(&route.destination.network().octets()[..significant]);
        out.extend_from_slice(&route.router.octets());
    }
    out
}

#[cfg(test)]
mod tests;
