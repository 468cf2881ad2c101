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
mod tests {
    use super::*;

    fn net(s: &str) -> IpNet {
        s.parse().unwrap()
    }
    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn subnets_that_would_take_over_host_traffic_are_refused() {
        for (bad, why) in [
            ("0.0.0.0/0", "covers every address"),
            ("0.0.0.0/1", "this network"),
            ("127.0.0.0/24", "loopback"),
            ("64.0.0.0/2", "loopback"),
            ("169.254.0.0/24", "link-local"),
            ("224.0.0.0/24", "multicast"),
            ("255.255.255.0/24", "broadcast"),
            ("::/0", "covers every address"),
            ("fe80::/64", "link-local"),
        ] {
            let err = validate_subnet(&net(bad)).unwrap_err().to_string();
            assert!(err.contains(why), "{bad}: {err}");
            assert!(err.contains("subnet"), "{bad}: {err}");
        }
        for good in [
            "10.42.0.0/16",
            "192.168.77.0/24",
            "100.64.0.0/10",
            "fd00:42::/48",
        ] {
            validate_subnet(&net(good)).unwrap_or_else(|e| panic!("{good}: {e}"));
        }
    }

    #[test]
    fn cidrs_must_be_network_addresses() {
        assert_eq!(
            parse_cidr("subnet", "10.42.0.0/16").unwrap(),
            net("10.42.0.0/16")
        );
        let err = parse_cidr("subnet", "10.42.1.7/16")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("subnet") && err.contains("10.42.0.0/16"),
            "{err}"
        );
        let err = parse_cidr("subnet", "10.42.0.0/33")
            .unwrap_err()
            .to_string();
        assert!(err.contains("not a CIDR"), "{err}");
        assert!(parse_cidr("subnet", "banana").is_err());
        assert!(parse_cidr("subnet", "fd00:42::/48").is_ok());
    }

    #[test]
    fn blocks_must_sit_inside_the_subnet() {
        let subnet = net("10.42.0.0/16");
        assert!(validate_block(&subnet, &net("10.42.1.0/24")).is_ok());
        let err = validate_block(&subnet, &net("10.43.1.0/24"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("outside the subnet 10.42.0.0/16"), "{err}");
        assert!(
            validate_block(&subnet, &net("10.0.0.0/8")).is_err(),
            "larger than subnet"
        );
        assert!(
            validate_block(&subnet, &net("fd00::/64")).is_err(),
            "other family"
        );
        assert!(validate_block(&subnet, &net("10.42.1.0/30")).is_ok());
        assert!(validate_block(&subnet, &net("10.42.1.0/31")).is_err());
        assert!(validate_subnet(&net("10.0.0.0/31")).is_err());
    }

    #[test]
    fn allocation_fills_gaps_and_skips_reserved_addresses() {
        let block = net("10.42.1.0/29"); // .1 host, .2-.6 workloads, .7 broadcast
        let mut used = BTreeSet::new();
        let mut got = vec![];
        while let Ok(next) = allocate(&block, &used) {
            used.insert(next);
            got.push(next);
        }
        let want: Vec<IpAddr> = (2..=6).map(|n| ip(&format!("10.42.1.{n}"))).collect();
        assert_eq!(got, want);
        let err = allocate(&block, &used).unwrap_err();
        assert!(
            matches!(err, ModelError::Exhausted { size: 5, .. }),
            "{err}"
        );
        used.remove(&ip("10.42.1.4"));
        assert_eq!(allocate(&block, &used).unwrap(), ip("10.42.1.4"));
        // Addresses outside the block in `used` do not matter.
        let outside = BTreeSet::from([ip("10.42.2.2")]);
        assert_eq!(allocate(&block, &outside).unwrap(), ip("10.42.1.2"));
    }

    #[test]
    fn ipv6_allocation() {
        let block = net("fd00::/126"); // ::1 host, ::2 and ::3 workloads
        let a = allocate(&block, &BTreeSet::new()).unwrap();
        assert_eq!(a, ip("fd00::2"));
        let b = allocate(&block, &BTreeSet::from([a])).unwrap();
        assert_eq!(b, ip("fd00::3"));
        assert!(allocate(&block, &BTreeSet::from([a, b])).is_err());
    }

    #[test]
    fn requested_addresses_are_checked() {
        let block = net("10.42.1.0/24");
        let used = BTreeSet::from([ip("10.42.1.9")]);
        assert!(check_requested(&block, ip("10.42.1.10"), &used).is_ok());
        for (bad, why) in [
            ("10.42.2.5", "outside"),
            ("10.42.1.1", "host's own"),
            ("10.42.1.0", "network or broadcast"),
            ("10.42.1.255", "network or broadcast"),
            ("10.42.1.9", "in use"),
        ] {
            let err = check_requested(&block, ip(bad), &used)
                .unwrap_err()
                .to_string();
            assert!(err.contains(why), "{bad}: {err}");
        }
    }

    #[test]
    fn overlap() {
        assert!(overlaps(&net("10.42.0.0/16"), &net("10.42.3.0/24")));
        assert!(overlaps(&net("10.42.3.0/24"), &net("10.42.0.0/16")));
        assert!(!overlaps(&net("10.42.0.0/16"), &net("10.43.0.0/16")));
    }
}
