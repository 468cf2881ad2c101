//! The names weft gives what it makes, in one place: interface names
//! (`wg<index>`, `weft-br<index>`, the workloads' `eth<n>`, host-side veths
//! `w<index>-<id>` and `fn-<id8>`), the aliases that mark links as weft's
//! (`weft:<network>` and `weft:<network>/<workload>`), and the host's
//! address in its block. The agent, the firewall rules it builds and the
//! reconcile that recognises weft's own links all read them from here.

use crate::addressing;
use crate::names::IFNAME_MAX;
use crate::network::Mode;
use ipnet::IpNet;
use std::net::IpAddr;

/// Every link weft makes carries an alias starting with this; a link
/// without it is never touched.
pub const ALIAS_PREFIX: &str = "weft:";

/// The alias of a network's interface.
pub fn network_alias(network: &str) -> String {
    format!("{ALIAS_PREFIX}{network}")
}

/// The alias of the host side of a workload's veth.
pub fn attachment_alias(network: &str, workload_id: &str) -> String {
    format!("{ALIAS_PREFIX}{network}/{workload_id}")
}

/// The interface of the network of this mode and index: wg0, wg1, … or
/// weft-br0, …
pub fn network_ifname(mode: Mode, index: u32) -> String {
    match mode {
        Mode::Wireguard => wireguard_ifname(index),
        Mode::Bridge => bridge_ifname(index),
        Mode::Vxlan => vxlan_bridge_ifname(index),
    }
}

/// The bridge of the VXLAN network with this index: weft-vbr0, …
pub fn vxlan_bridge_ifname(index: u32) -> String {
    format!("weft-vbr{index}")
}

/// The VXLAN device of the VXLAN network with this index, a port of its
/// bridge: weft-vx0, …
pub fn vxlan_ifname(index: u32) -> String {
    format!("weft-vx{index}")
}

/// The gateway of a VXLAN network, the same on every host: the subnet's
/// last usable address (its first belongs to the first block's host).
/// Every host's bridge carries it and keeps ARP for it local (see
/// `weft-firewall`'s bridge table), so each workload's gateway is its own
/// host.
pub fn vxlan_gateway(subnet: &IpNet) -> IpAddr {
    addressing::last_usable(subnet)
}

/// The host's own address in its block: the first usable one, the
/// gateway of its workloads.
pub fn host_address(block: &IpNet) -> IpAddr {
    addressing::first_usable(block)
}

/// The host's address with the prefix it carries on the network's
/// interface: a /32 on a WireGuard interface (the subnet is routed through
/// it), the subnet's prefix on a bridge (on-link).
pub fn host_interface_address(mode: Mode, subnet: &IpNet, block: &IpNet) -> IpNet {
    let ip = host_address(block);
    match mode {
        Mode::Wireguard => addressing::single(ip),
        Mode::Bridge | Mode::Vxlan => {
            IpNet::new(ip, subnet.prefix_len()).expect("prefix of a valid subnet")
        }
    }
}

/// The host side of a workload's veth on the network of this mode and
/// index: `w<index>-<id>` on routed networks, `fn-<id8>` on bridges, unique
/// among `taken` (see [`host_veth_name`]).
pub fn workload_host_ifname<'a>(
    mode: Mode,
    network_index: u32,
    workload_id: &str,
    taken: impl IntoIterator<Item = &'a str>,
) -> String {
    match mode {
        Mode::Wireguard => host_veth_name(
            &routed_veth_prefix(network_index),
            usize::MAX,
            workload_id,
            taken,
        ),
        Mode::Bridge | Mode::Vxlan => {
            host_veth_name(BRIDGE_VETH_PREFIX, BRIDGE_VETH_ID_CHARS, workload_id, taken)
        }
    }
}

/// The WireGuard interface of the network with this index: wg0, wg1, …
pub fn wireguard_ifname(index: u32) -> String {
    format!("wg{index}")
}

/// The first `ethN` not in `taken`: a workload's interfaces are named in
/// attach order.
pub fn next_workload_ifname<'a>(taken: impl IntoIterator<Item = &'a str>) -> String {
    let taken: Vec<&str> = taken.into_iter().collect();
    (0..)
        .map(|n| format!("eth{n}"))
        .find(|name| !taken.contains(&name.as_str()))
        .expect("an unbounded range always has a free name")
}

/// Host-side veth prefix of a routed (WireGuard) network: `w<index>-`.
pub fn routed_veth_prefix(network_index: u32) -> String {
    format!("w{network_index}-")
}

/// Host-side veth prefix on bridge networks (the flatnet seed's `fn-`).
pub const BRIDGE_VETH_PREFIX: &str = "fn-";

/// How many characters of the id a bridge veth name keeps.
pub const BRIDGE_VETH_ID_CHARS: usize = 8;

/// The bridge of the bridge network with this index.
pub fn bridge_ifname(index: u32) -> String {
    format!("weft-br{index}")
}

/// The host side of a workload's veth: `prefix` + the start of the id (at
/// most `id_chars` characters), at most 15 characters in all. When that
/// collides with a name in `taken` (two ids sharing a start), the tail
/// becomes a hash of the whole id, then a counter.
pub fn host_veth_name<'a>(
    prefix: &str,
    id_chars: usize,
    workload_id: &str,
    taken: impl IntoIterator<Item = &'a str>,
) -> String {
    let taken: Vec<&str> = taken.into_iter().collect();
    let room = IFNAME_MAX - prefix.len();
    let clean: String = workload_id
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect();
    let first = format!("{prefix}{}", &clean[..clean.len().min(room).min(id_chars)]);
    if !taken.contains(&first.as_str()) && !clean.is_empty() {
        return first;
    }
    let hash = format!("{:08x}", fnv1a(workload_id.as_bytes()) as u32);
    let keep = room.saturating_sub(hash.len() + 1);
    let sep = if keep > 0 && !clean.is_empty() {
        "-"
    } else {
        ""
    };
    let hashed = format!("{prefix}{}{sep}{hash}", &clean[..clean.len().min(keep)]);
    if !taken.contains(&hashed.as_str()) {
        return hashed;
    }
    (2u32..)
        .map(|n| {
            let suffix = format!("{n}");
            format!("{}{}", &hashed[..IFNAME_MAX - suffix.len()], suffix)
        })
        .find(|name| !taken.contains(&name.as_str()))
        .expect("an unbounded range always has a free name")
}

/// The MAC of a workload's interface on a bridge network: derived from
/// the network and the workload id, so the firewall knows it from the
/// records alone. Locally administered, unicast (first octet `& 0x03 ==
/// 0x02`).
pub fn workload_mac(network: &str, workload_id: &str) -> [u8; 6] {
    let h = fnv1a(format!("{network}/{workload_id}").as_bytes()).to_be_bytes();
    [(h[0] & 0xfc) | 0x02, h[1], h[2], h[3], h[4], h[5]]
}

/// FNV-1a: a stable, dependency-free hash for naming (not for security).
pub fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf29ce484222325u64, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x100000001b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::names::validate_ifname;

    #[test]
    fn workload_macs_are_local_unicast_stable_and_distinct() {
        let a = workload_mac("br", "c1");
        assert_eq!(a[0] & 0x03, 0x02, "{a:02x?}");
        assert_eq!(a, workload_mac("br", "c1"));
        assert_ne!(a, workload_mac("br", "c2"));
        assert_ne!(a, workload_mac("br2", "c1"));
    }

    #[test]
    fn network_interfaces_and_aliases() {
        assert_eq!(network_ifname(Mode::Wireguard, 3), "wg3");
        assert_eq!(network_ifname(Mode::Bridge, 0), "weft-br0");
        assert_eq!(network_ifname(Mode::Vxlan, 2), "weft-vbr2");
        assert_eq!(vxlan_ifname(2), "weft-vx2");
        let subnet: IpNet = "10.50.0.0/16".parse().unwrap();
        assert_eq!(vxlan_gateway(&subnet).to_string(), "10.50.255.254");
        assert_eq!(network_alias("blue"), "weft:blue");
        assert_eq!(attachment_alias("blue", "c1"), "weft:blue/c1");
        assert!(attachment_alias("blue", "c1").starts_with(ALIAS_PREFIX));
    }

    #[test]
    fn host_takes_the_first_usable_address() {
        let net = |s: &str| s.parse::<IpNet>().unwrap();
        assert_eq!(host_address(&net("10.42.1.0/24")).to_string(), "10.42.1.1");
        assert_eq!(
            host_address(&net("fd00:42:1::/64")).to_string(),
            "fd00:42:1::1"
        );
        let (subnet, block) = (net("10.42.0.0/16"), net("10.42.1.0/24"));
        assert_eq!(
            host_interface_address(Mode::Wireguard, &subnet, &block).to_string(),
            "10.42.1.1/32"
        );
        let bridge = net("10.88.0.0/16");
        assert_eq!(
            host_interface_address(Mode::Bridge, &bridge, &bridge).to_string(),
            "10.88.0.1/16"
        );
    }

    #[test]
    fn workload_host_ifnames_follow_the_mode() {
        assert_eq!(workload_host_ifname(Mode::Wireguard, 2, "c1", []), "w2-c1");
        assert_eq!(
            workload_host_ifname(Mode::Bridge, 2, "c1a2b3c4d5e6", []),
            "fn-c1a2b3c4"
        );
    }

    #[test]
    fn workload_ifnames_fill_the_lowest_gap() {
        assert_eq!(next_workload_ifname([]), "eth0");
        assert_eq!(next_workload_ifname(["eth0", "eth2"]), "eth1");
        assert_eq!(next_workload_ifname(["eth0", "eth1"]), "eth2");
    }

    #[test]
    fn host_veth_names_are_short_and_unique() {
        let w3 = routed_veth_prefix(3);
        assert_eq!(
            host_veth_name(&routed_veth_prefix(0), 99, "c1", []),
            "w0-c1"
        );
        let long = "a1b2c3d4e5f6a7b8c9d0";
        let first = host_veth_name(&w3, 99, long, []);
        assert_eq!(first, "w3-a1b2c3d4e5f6");
        // A second id sharing the prefix gets a hashed name.
        let other = "a1b2c3d4e5f6ffff";
        let second = host_veth_name(&w3, 99, other, [first.as_str()]);
        assert_ne!(second, first);
        assert!(second.len() <= IFNAME_MAX, "{second}");
        // Even the hashed name taken: still unique, still short.
        let third = host_veth_name(&w3, 99, other, [first.as_str(), second.as_str()]);
        assert!(
            third != first && third != second && third.len() <= IFNAME_MAX,
            "{third}"
        );
        // Ids of only odd characters still give a valid name.
        let odd = host_veth_name(&routed_veth_prefix(1), 99, "...", []);
        assert!(odd.starts_with("w1-") && odd.len() <= IFNAME_MAX, "{odd}");
        // Bridge networks: fn- and the first 8 characters of the id.
        let bridged = host_veth_name(BRIDGE_VETH_PREFIX, BRIDGE_VETH_ID_CHARS, long, []);
        assert_eq!(bridged, "fn-a1b2c3d4");
        let bridged2 = host_veth_name(
            BRIDGE_VETH_PREFIX,
            BRIDGE_VETH_ID_CHARS,
            "a1b2c3d4ff",
            [bridged.as_str()],
        );
        assert!(
            bridged2.starts_with("fn-") && bridged2 != bridged,
            "{bridged2}"
        );
        for name in [&first, &second, &third, &odd, &bridged, &bridged2] {
            validate_ifname("host veth", name).unwrap();
        }
    }
}
