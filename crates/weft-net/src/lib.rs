//! weft-net: the one narrow seam through which weft does privileged network
//! work — network namespaces, links (TAPs for VMs too), addresses, routes,
//! sysctls, and VXLAN devices with their forwarding database.
//!
//! Everything is synchronous. A [`Netlink`] handle is bound to the namespace
//! it was opened in ([`Netlink::in_netns`] opens it on a short-lived thread
//! inside the target namespace) and can then be used from any thread; the
//! caller's own thread never changes namespace.

mod addr;
mod error;
mod link;
mod netlink;
mod netns;
mod route;
mod sysctl;
mod tap;
mod vxlan;

pub use addr::Address;
pub use error::{NetError, Result};
pub use ipnet::IpNet;
pub use link::{Link, MAX_IFNAME_LEN};
pub use netlink::Netlink;
pub use netns::{Netns, NetnsId};
pub use route::{Route, RouteScope, WEFT_ROUTE_PROTOCOL};
pub use sysctl::{get_sysctl, set_sysctl};
pub use tap::{TapOptions, create_tap};
pub use vxlan::{FLOOD_MAC, FdbEntry, VxlanConfig};

#[cfg(test)]
mod tests;
