//! What the firewall needs to know about each weft network on this host, and
//! the checks that make a ruleset built from it unambiguous.

use std::fmt;

use ipnet::IpNet;

use crate::error::FirewallError;

/// Linux limits interface names to 15 bytes (IFNAMSIZ - 1).
const IFNAME_MAX: usize = 15;

/// Longest network name accepted: it becomes part of chain names, and weft's
/// own network names are DNS labels of at most 32 characters.
const NETWORK_NAME_MAX: usize = 63;

/// One weft network as seen by the firewall on this host.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NetworkRules {
    /// The network's name (lowercase letters, digits, '-', '_'); used in
    /// chain names so `nft list table inet weft` reads by network.
    pub name: String,
    /// The network's whole subnet(s) across all hosts (at most one per
    /// address family), e.g. 10.42.0.0/16 — not just this host's block.
    pub subnets: Vec<IpNet>,
    /// Every interface through which the network's traffic enters or leaves
    /// this host: its WireGuard interface, the host ends of its workloads'
    /// veths (as a prefix), its bridge.
    pub interfaces: Vec<IfMatch>,
    /// `--internal`: no traffic to or from anything outside weft networks,
    /// and no masquerade.
    pub internal: bool,
    /// What the network's workloads may reach on this host when it is
    /// internal: weft's own services on the host's address in the network.
    /// Everything else of the host is closed to them. Ignored (and may be
    /// `None`) when the network is not internal.
    pub host_services: Option<HostServices>,
    /// On a bridge network: its workloads' ports on the bridge, each held
    /// to its workload's MAC and address (table `bridge weft`).
    pub bridge_ports: Option<BridgePorts>,
    /// On a VXLAN network: whom this host takes the network's VXLAN
    /// packets from (see the `vxlan` module).
    pub vxlan: Option<VxlanSources>,
}

/// The only sources of a VXLAN network's encapsulated frames: its remote
/// VTEPs, and on a network carried inside WireGuard (`--over`) only
/// through that WireGuard interface. Every other packet to the network's
/// UDP port and VNI is dropped before the kernel's VXLAN socket sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VxlanSources {
    /// The network's VNI (1–16777215).
    pub vni: u32,
    /// The UDP port its VXLAN device listens on.
    pub port: u16,
    /// `--over`: the WireGuard interface its VXLAN packets must arrive
    /// through (so they were authenticated and decrypted by WireGuard).
    pub over: Option<String>,
    /// The remote VTEPs: the addresses its VXLAN device floods to.
    pub vteps: Vec<std::net::IpAddr>,
}

/// The ports of one bridge network's workloads.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BridgePorts {
    /// What every workload port's name starts with (`fn-`): a port of that
    /// name not (yet) in `ports` carries nothing.
    pub prefix: String,
    pub ports: Vec<BridgePort>,
    /// On a VXLAN network: the gateway every host's bridge carries, whose
    /// ARP must never cross the VXLAN device `port`.
    pub local_gateway: Option<LocalGateway>,
}

/// A gateway address that each host of a VXLAN segment carries itself: ARP
/// that asks for it or announces it is dropped on the way into and out of
/// the VXLAN device, so every workload resolves it to its own host. The
/// VXLAN device is also where other hosts' workloads come in from, so what
/// no workload may send (DHCP answers, router advertisements) is dropped
/// from it as from a workload's own port.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LocalGateway {
    /// The VXLAN device (a port of the bridge).
    pub port: String,
    pub ip: std::net::Ipv4Addr,
}

/// A workload's port on a bridge: the host end of its veth, and the only
/// MAC and address frames entering through it may come from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BridgePort {
    pub ifname: String,
    pub mac: [u8; 6],
    pub ip: std::net::Ipv4Addr,
}

/// weft's services on the host's address in one network: its DNS responder
/// and the endpoint peers' agents probe and fetch names from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostServices {
    /// The host's own address in the network.
    pub address: std::net::IpAddr,
    pub tcp_ports: Vec<u16>,
    pub udp_ports: Vec<u16>,
}

/// An interface name to match, as nftables' `iifname` / `oifname` do.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum IfMatch {
    /// Exactly this name, e.g. `wg0` or a bridge name.
    Exact(String),
    /// Every name starting with this, e.g. `w0-` for the host ends of
    /// network 0's veths (nft's wildcard `"w0-*"`). Matches interfaces that
    /// appear later too, so attaching a workload needs no rule change.
    Prefix(String),
}

impl IfMatch {
    /// The string nft matches against: the name, or the prefix followed by
    /// nft's wildcard `*`.
    pub fn nft_pattern(&self) -> String {
        match self {
            IfMatch::Exact(name) => name.clone(),
            IfMatch::Prefix(prefix) => format!("{prefix}*"),
        }
    }

    /// Whether some interface name could match both `self` and `other`.
    fn overlaps(&self, other: &IfMatch) -> bool {
        match (self, other) {
            (IfMatch::Exact(a), IfMatch::Exact(b)) => a == b,
            (IfMatch::Exact(name), IfMatch::Prefix(prefix))
            | (IfMatch::Prefix(prefix), IfMatch::Exact(name)) => name.starts_with(prefix.as_str()),
            (IfMatch::Prefix(a), IfMatch::Prefix(b)) => {
                a.starts_with(b.as_str()) || b.starts_with(a.as_str())
            }
        }
    }

    fn validate(&self, network: &str) -> Result<(), FirewallError> {
        let what = || format!("network {network}: interface {self}");
        let (text, max) = match self {
            IfMatch::Exact(name) => (name, IFNAME_MAX),
            // The prefix must leave room for at least one more character.
            IfMatch::Prefix(prefix) => (prefix, IFNAME_MAX - 1),
        };
        if text.is_empty() {
            return Err(FirewallError::invalid(what(), "must not be empty"));
        }
        if text.len() > max {
            return Err(FirewallError::invalid(
                what(),
                format!("longer than {max} characters"),
            ));
        }
        // '*' and '\\' would change what nft's wildcard matching means; the
        // rest are never part of a Linux interface name.
        if let Some(c) = text.chars().find(|&c| {
            matches!(c, '*' | '\\' | '"' | '/' | ':') || c.is_whitespace() || c.is_control()
        }) {
            return Err(FirewallError::invalid(
                what(),
                format!("{c:?} is not allowed in an interface name"),
            ));
        }
        Ok(())
    }
}

impl fmt::Display for IfMatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "\"{}\"", self.nft_pattern())
    }
}

/// Checks everything the ruleset relies on: valid and distinct names, every
/// network with at least one subnet and one interface, no interface or
/// address shared by two networks (otherwise which network's rules apply
/// would depend on rule order, and isolation would silently break), and
/// no two VXLAN networks on one port with one VNI.
pub(crate) fn validate(networks: &[NetworkRules]) -> Result<(), FirewallError> {
    for (i, net) in networks.iter().enumerate() {
        validate_name(&net.name)?;
        if net.subnets.is_empty() {
            return Err(FirewallError::invalid(
                format!("network {}", net.name),
                "has no subnet",
            ));
        }
        if net.interfaces.is_empty() {
            return Err(FirewallError::invalid(
                format!("network {}", net.name),
                "has no interface",
            ));
        }
        for (j, interface) in net.interfaces.iter().enumerate() {
            interface.validate(&net.name)?;
            // The interfaces are elements of one interval set, which
            // refuses overlapping elements.
            if let Some(other) = net.interfaces[..j].iter().find(|o| o.overlaps(interface)) {
                return Err(FirewallError::invalid(
                    format!("network {}: interface {interface}", net.name),
                    format!("overlaps its interface {other}"),
                ));
            }
        }
        // A network's own subnet is the one exception to "drop what goes
        // to a weft subnet" in its chains, one rule per family.
        for (j, subnet) in net.subnets.iter().enumerate() {
            if net.subnets[..j]
                .iter()
                .any(|o| o.addr().is_ipv4() == subnet.addr().is_ipv4())
            {
                return Err(FirewallError::invalid(
                    format!("network {}: subnet {subnet}", net.name),
                    "a network has at most one subnet per address family",
                ));
            }
        }
        if let Some(vxlan) = &net.vxlan {
            validate_vxlan(&net.name, vxlan)?;
        }
        for other in &networks[..i] {
            if let (Some(a), Some(b)) = (&net.vxlan, &other.vxlan)
                && (a.port, a.vni) == (b.port, b.vni)
            {
                return Err(FirewallError::invalid(
                    format!("network {}: VXLAN port {} VNI {}", net.name, a.port, a.vni),
                    format!("also network {}'s", other.name),
                ));
            }
            if other.name == net.name {
                return Err(FirewallError::invalid(
                    format!("network {}", net.name),
                    "listed twice",
                ));
            }
            for a in &net.interfaces {
                if let Some(b) = other.interfaces.iter().find(|b| a.overlaps(b)) {
                    return Err(FirewallError::invalid(
                        format!("network {}: interface {a}", net.name),
                        format!("overlaps interface {b} of network {}", other.name),
                    ));
                }
            }
            for a in &net.subnets {
                if let Some(b) = other
                    .subnets
                    .iter()
                    .find(|b| a.contains(&b.network()) || b.contains(&a.network()))
                {
                    return Err(FirewallError::invalid(
                        format!("network {}: subnet {a}", net.name),
                        format!("overlaps subnet {b} of network {}", other.name),
                    ));
                }
            }
        }
    }
    Ok(())
}

/// The largest VNI: VXLAN's is a 24-bit field.
const VNI_MAX: u32 = (1 << 24) - 1;

fn validate_vxlan(network: &str, vxlan: &VxlanSources) -> Result<(), FirewallError> {
    if !(1..=VNI_MAX).contains(&vxlan.vni) {
        return Err(FirewallError::invalid(
            format!("network {network}: VNI {}", vxlan.vni),
            format!("must be 1-{VNI_MAX}"),
        ));
    }
    if let Some(over) = &vxlan.over {
        IfMatch::Exact(over.clone()).validate(network)?;
    }
    Ok(())
}

fn validate_name(name: &str) -> Result<(), FirewallError> {
    let what = || format!("network name {name:?}");
    if name.is_empty() {
        return Err(FirewallError::invalid(what(), "must not be empty"));
    }
    if name.len() > NETWORK_NAME_MAX {
        return Err(FirewallError::invalid(
            what(),
            format!("longer than {NETWORK_NAME_MAX} characters"),
        ));
    }
    if let Some(c) = name
        .chars()
        .find(|&c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_'))
    {
        return Err(FirewallError::invalid(
            what(),
            format!("{c:?} is not allowed (use lowercase letters, digits, '-' and '_')"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests;
