//! Network modes and defaults.

use crate::error::ModelError;
use ipnet::IpNet;
use std::fmt;

/// How a network carries traffic.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Mode {
    /// Routed and encrypted between hosts: one WireGuard interface per
    /// network, a block of the subnet per host.
    #[default]
    Wireguard,
    /// One host's L2 bridge with a gateway address (the flatnet seed).
    Bridge,
    /// One L2 segment across hosts: a bridge per host joined by a VXLAN
    /// device, a block of the subnet per host, the same gateway on every
    /// host.
    Vxlan,
}

impl Mode {
    pub const ALL: [Mode; 3] = [Mode::Wireguard, Mode::Bridge, Mode::Vxlan];

    /// Parse a mode name; empty means the default.
    pub fn parse(text: &str) -> Result<Mode, ModelError> {
        match text {
            "" | "wireguard" => Ok(Mode::Wireguard),
            "bridge" => Ok(Mode::Bridge),
            "vxlan" => Ok(Mode::Vxlan),
            other => Err(ModelError::invalid(
                "mode",
                other,
                "expected wireguard, bridge or vxlan",
            )),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Wireguard => "wireguard",
            Mode::Bridge => "bridge",
            Mode::Vxlan => "vxlan",
        }
    }

    /// Workloads sit on a bridge (bridge and VXLAN networks) rather than
    /// behind a routed veth.
    pub fn is_bridged(self) -> bool {
        matches!(self, Mode::Bridge | Mode::Vxlan)
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// VXLAN network identifiers: 24 bits, 0 reserved.
pub const VNI_MAX: u32 = 16_777_215;

/// The MTU of a WireGuard network's interface: 1500 minus WireGuard's
/// worst-case overhead over IPv6 (80).
pub const WIREGUARD_MTU: u32 = 1420;

/// The MTU assumed for an underlay weft does not know: Ethernet's.
pub const ROUTED_UNDERLAY_MTU: u32 = 1500;

/// The smallest MTU a VXLAN network may have: IPv4's minimum datagram
/// every host must take whole.
pub const MIN_VXLAN_MTU: u32 = 576;

/// IANA's VXLAN port; the kernel's own default (8472) predates it.
pub const DEFAULT_VXLAN_PORT: u16 = 4789;

/// What VXLAN adds to a frame over IPv4: outer IPv4 (20), UDP (8), VXLAN
/// (8) and the inner Ethernet header (14).
pub const VXLAN_OVERHEAD_V4: u32 = 50;

/// The same over IPv6 (an outer header of 40).
pub const VXLAN_OVERHEAD_V6: u32 = 70;

/// What VXLAN takes of the underlay's MTU, by the underlay's family.
pub fn vxlan_overhead(ipv6_underlay: bool) -> u32 {
    if ipv6_underlay {
        VXLAN_OVERHEAD_V6
    } else {
        VXLAN_OVERHEAD_V4
    }
}

/// A VNI from 1 to [`VNI_MAX`].
pub fn validate_vni(vni: u32) -> Result<u32, ModelError> {
    if vni == 0 || vni > VNI_MAX {
        return Err(ModelError::invalid(
            "vni",
            vni,
            format!("must be from 1 to {VNI_MAX}"),
        ));
    }
    Ok(vni)
}

/// The largest MTU a VXLAN network over an underlay of MTU `underlay` can
/// carry.
pub fn vxlan_mtu(underlay: u32, ipv6_underlay: bool) -> u32 {
    underlay.saturating_sub(vxlan_overhead(ipv6_underlay))
}

/// The DNS domain of a network when none is given.
pub const DEFAULT_DOMAIN: &str = "mesh.local";

/// The prefix length of a host's block when none is given.
pub const DEFAULT_BLOCK_PREFIX_V4: u8 = 24;
pub const DEFAULT_BLOCK_PREFIX_V6: u8 = 64;

/// The host block when none is given: the whole subnet for a bridge (it
/// lives on one host); for WireGuard and VXLAN the subnet's first /24 (/64
/// for IPv6), or the whole subnet when it is smaller than that.
pub fn default_block(mode: Mode, subnet: &IpNet) -> IpNet {
    let prefix = match subnet {
        IpNet::V4(_) => DEFAULT_BLOCK_PREFIX_V4,
        IpNet::V6(_) => DEFAULT_BLOCK_PREFIX_V6,
    };
    if mode == Mode::Bridge || subnet.prefix_len() >= prefix {
        return *subnet;
    }
    IpNet::new(subnet.network(), prefix).expect("a longer prefix of a valid network is valid")
}

#[cfg(test)]
mod tests;
