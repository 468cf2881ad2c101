//! Subnets, host blocks and the addresses handed out inside a block.
//!
//! A network's subnet is split into host blocks; a host takes the first usable
//! address of its block for itself (the gateway of its workloads) and gives
//! the rest to workloads. The network and broadcast addresses are never given.

use crate::error::ModelError;
use ipnet::IpNet;
use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Parse a CIDR, naming the field when it is malformed. The address must be
/// the network's own (`10.42.0.0/16`, not `10.42.1.7/16`).
pub fn parse_cidr(field: &'static str, text: &str) -> Result<IpNet, ModelError> {
    let net: IpNet = text
        .trim()
        .parse()
        .map_err(|_| ModelError::invalid(field, text, "not a CIDR like 10.42.0.0/16"))?;
    if net.addr() != net.network() {
        return Err(ModelError::invalid(
            field,
            text,
            format!("host bits are set; did you mean {}?", net.trunc()),
        ));
    }
    Ok(net)
}

/// Check a host block against its network's subnet: same family, inside it,
/// and large enough for the host plus at least one workload.
pub fn validate_block(subnet: &IpNet, block: &IpNet) -> Result<(), ModelError> {
    let same_family = subnet.addr().is_ipv4() == block.addr().is_ipv4();
    if !same_family || !subnet.contains(block) {
        return Err(ModelError::invalid(
            "block",
            block,
            format!("is outside the subnet {subnet}"),
        ));
    }
    if capacity(block) < 2 {
        return Err(ModelError::invalid(
            "block",
            block,
            "too small: it must hold the host address and at least one workload",
        ));
    }
    Ok(())
}

/// Ranges a network's subnet may not touch: routing one of them into a
/// weft interface would take over the host's default route, loopback,
/// multicast or link-local traffic (and `network rm` would then delete it).
const RESERVED: [(&str, &str); 10] = [
    ("0.0.0.0/8", "\"this network\" addresses (0.0.0.0/8)"),
    ("127.0.0.0/8", "loopback (127.0.0.0/8)"),
    ("169.254.0.0/16", "link-local (169.254.0.0/16)"),
    ("224.0.0.0/4", "multicast (224.0.0.0/4)"),
    ("240.0.0.0/4", "reserved and broadcast (240.0.0.0/4)"),
    ("::/128", "the unspecified address (::)"),
    ("::1/128", "loopback (::1)"),
    ("::ffff:0:0/96", "IPv4-mapped addresses (::ffff:0:0/96)"),
    ("fe80::/10", "link-local (fe80::/10)"),
    ("ff00::/8", "multicast (ff00::/8)"),
];

/// Check a subnet on its own: big enough, not the whole address space, and
/// clear of every [`RESERVED`] range.
pub fn validate_subnet(subnet: &IpNet) -> Result<(), ModelError> {
    if subnet.prefix_len() == 0 {
        return Err(ModelError::invalid(
            "subnet",
            subnet,
            "covers every address: it would replace the host's default route",
        ));
    }
    for (range, what) in RESERVED {
        let range: IpNet = range.parse().expect("RESERVED holds valid CIDRs");
        if overlaps(subnet, &range) {
            return Err(ModelError::invalid(
                "subnet",
                subnet,
                format!("overlaps {what}"),
            ));
        }
    }
    if capacity(subnet) < 2 {
        return Err(ModelError::invalid(
            "subnet",
            subnet,
            "too small: it must hold a host and at least one workload",
        ));
    }
    Ok(())
}

fn to_u128(ip: IpAddr) -> u128 {
    match ip {
        IpAddr::V4(v4) => u128::from(u32::from(v4)),
        IpAddr::V6(v6) => u128::from(v6),
    }
}

fn from_u128(v4: bool, n: u128) -> IpAddr {
    if v4 {
        IpAddr::V4(Ipv4Addr::from(n as u32))
    } else {
        IpAddr::V6(Ipv6Addr::from(n))
    }
}

/// First and last address that may be given out in `net` (host or workload).
fn usable_range(net: &IpNet) -> (u128, u128) {
    let first = to_u128(net.network()) + 1;
    let last = match net {
        // IPv4 keeps the broadcast address back.
        IpNet::V4(_) => to_u128(net.broadcast()) - 1,
        IpNet::V6(_) => to_u128(net.broadcast()),
    };
    (first, last)
}

/// How many addresses of `net` can be given out in all.
pub fn capacity(net: &IpNet) -> u128 {
    let (first, last) = usable_range(net);
    if last < first { 0 } else { last - first + 1 }
}

/// The first address of `net` that may be given out: the host's own
/// ([`crate::naming::host_address`]).
pub(crate) fn first_usable(block: &IpNet) -> IpAddr {
    from_u128(block.addr().is_ipv4(), usable_range(block).0)
}

/// The last address of `net` that may be given out (a VXLAN network's
/// gateway, [`crate::naming::vxlan_gateway`]).
pub(crate) fn last_usable(net: &IpNet) -> IpAddr {
    from_u128(net.addr().is_ipv4(), usable_range(net).1)
}

/// Lowest free workload address in `block`, skipping the host address and
/// everything in `used`.
pub fn allocate(block: &IpNet, used: &BTreeSet<IpAddr>) -> Result<IpAddr, ModelError> {
    let (first, last) = usable_range(block);
    let v4 = block.addr().is_ipv4();
    // The host owns `first`.
    let mut candidate = first + 1;
    for taken in used.range(from_u128(v4, candidate)..) {
        let taken = to_u128(*taken);
        if taken > last || taken != candidate {
            break;
        }
        candidate += 1;
    }
    if candidate > last {
        return Err(ModelError::Exhausted {
            block: block.to_string(),
            size: capacity(block).saturating_sub(1),
        });
    }
    Ok(from_u128(v4, candidate))
}

/// Check an address a user asked for: inside the block, not reserved, free.
pub fn check_requested(
    block: &IpNet,
    ip: IpAddr,
    used: &BTreeSet<IpAddr>,
) -> Result<(), ModelError> {
    if !block.contains(&ip) {
        return Err(ModelError::invalid(
            "ip",
            ip,
            format!("is outside this host's block {block}"),
        ));
    }
    let (first, last) = usable_range(block);
    let n = to_u128(ip);
    if n == first {
        return Err(ModelError::invalid("ip", ip, "is the host's own address"));
    }
    if n < first || n > last {
        return Err(ModelError::invalid(
            "ip",
            ip,
            "is the network or broadcast address",
        ));
    }
    if used.contains(&ip) {
        return Err(ModelError::invalid("ip", ip, "is already in use"));
    }
    Ok(())
}

/// Do two networks share any address?
pub fn overlaps(a: &IpNet, b: &IpNet) -> bool {
    a.contains(&b.network()) || b.contains(&a.network())
}

/// The host route prefix for one address: /32 or /128.
pub fn single(ip: IpAddr) -> IpNet {
    IpNet::new(ip, if ip.is_ipv4() { 32 } else { 128 }).expect("full-length prefix is valid")
}

#[cfg(test)]
mod tests;
