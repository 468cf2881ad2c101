//! What the data plane reads back from the host: the links weft owns, the
//! host's own prefixes, an attachment's MACs, and the whole host namespace
//! at once ([`HostView`]) for the drift check, which compares it (purely)
//! with the plans.

use ipnet::IpNet;
use std::collections::BTreeMap;
use std::net::IpAddr;

/// A link in the host namespace that carries a weft alias.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OwnedLink {
    pub name: String,
    pub alias: String,
}

/// An address or route of the host that is not weft's: on a link without
/// weft's alias (the underlay, a container runtime's bridge, ...).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostPrefix {
    /// The address's network (192.168.1.0/24 for 192.168.1.7/24), or the
    /// route's destination.
    pub prefix: IpNet,
    pub ifname: String,
}

impl std::fmt::Display for HostPrefix {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} on {}", self.prefix, self.ifname)
    }
}

/// What the kernel reports about an attachment.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AttachmentState {
    /// MAC of the workload's interface.
    pub mac: String,
    /// MAC of the host side.
    pub host_mac: String,
}

/// One link of the host namespace as a drift check needs it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LinkView {
    pub alias: Option<String>,
    pub up: bool,
    pub mtu: u32,
    /// The name of the bridge (or other master) the link is a port of.
    pub master: Option<String>,
    pub addresses: Vec<IpNet>,
}

/// The host namespace's links and routes, read in one go per pass.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HostView {
    /// By name.
    pub links: BTreeMap<String, LinkView>,
    /// Routes of the main table that name an output link: (destination,
    /// link name).
    pub routes: Vec<(IpNet, String)>,
    /// The remote VTEPs each of weft's VXLAN devices floods to, by device.
    pub fdb: BTreeMap<String, Vec<IpAddr>>,
}

impl HostView {
    /// Does a route to `dst` leave through link `dev`?
    pub fn has_route(&self, dst: IpNet, dev: &str) -> bool {
        self.routes.iter().any(|(d, l)| *d == dst && l == dev)
    }
}
