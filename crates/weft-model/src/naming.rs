//! The names weft gives what it makes, in one place: interface names
//! (`wg<index>`, `weft-br<index>`, the workloads' `eth<n>`, host-side veths
//! `w<index>-<id>` and `fn-<id8>`), the aliases that mark links as weft's
//! (`weft:<network>` and `weft:<network>/<workload>`), and the host's
//! address in its block. The agent, the firewall rules it builds and the
//! reconcile that recognises weft's own links all read them from here.
//! VMs get their TAP names and MACs here too ([`vm_tap_name`], [`vm_mac`]).

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

/// The TAP of a VM's NIC number `nic` (its `eth<nic>` inside the guest) on
/// a network whose workload links start with `prefix` (`w<index>-` routed,
/// `fn-` on a bridge: the firewall covers TAPs and veths alike by it):
/// `prefix` + the start of the VM id + `-<nic>`, at most 15 characters,
/// unique among `taken`. Two ids sharing a start get a hash of the whole
/// id instead, then a counter.
pub fn vm_tap_name<'a>(
    prefix: &str,
    vm_id: &str,
    nic: u32,
    taken: impl IntoIterator<Item = &'a str>,
) -> String {
    let taken: Vec<&str> = taken.into_iter().collect();
    let suffix = format!("-{nic}");
    let room = IFNAME_MAX.saturating_sub(prefix.len() + suffix.len());
    let clean: String = vm_id
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect();
    let id_chars = if prefix == BRIDGE_VETH_PREFIX {
        BRIDGE_VETH_ID_CHARS
    } else {
        room
    };
    let first = format!(
        "{prefix}{}{suffix}",
        &clean[..clean.len().min(room).min(id_chars)]
    );
    if !clean.is_empty() && !taken.contains(&first.as_str()) {
        return first;
    }
    let hash = format!("{:08x}", fnv1a(vm_id.as_bytes()) as u32);
    let hashed = format!("{prefix}{}{suffix}", &hash[..hash.len().min(room)]);
    if !taken.contains(&hashed.as_str()) {
        return hashed;
    }
    (2u32..)
        .map(|n| {
            let tail = format!("{n}{suffix}");
            let keep = IFNAME_MAX
                .saturating_sub(prefix.len() + tail.len())
                .min(hash.len());
            format!("{prefix}{}{tail}", &hash[..keep])
        })
        .find(|name| !taken.contains(&name.as_str()))
        .expect("an unbounded range always has a free name")
}

/// The MAC of a VM's NIC number `nic`: locally administered unicast
/// (first octet `& 0x03 == 0x02`), the rest a hash of the VM id, the NIC
/// and `salt` (0 first; see [`unique_vm_mac`]). Deterministic, so a VM
/// attached again gets the same MAC and its guest keeps its config.
pub fn vm_mac(vm_id: &str, nic: u32, salt: u32) -> [u8; 6] {
    let input = if salt == 0 {
        format!("vm/{vm_id}/{nic}")
    } else {
        format!("vm/{vm_id}/{nic}/{salt}")
    };
    let h = fnv1a(input.as_bytes()).to_be_bytes();
    // The hash's low bytes mix best; the first octet keeps 6 of its bits.
    [(h[2] & 0xfc) | 0x02, h[3], h[4], h[5], h[6], h[7]]
}

/// [`vm_mac`] with the lowest salt that no MAC in `taken` (the network's
/// other workloads') already has: unique per network.
pub fn unique_vm_mac(vm_id: &str, nic: u32, taken: &[[u8; 6]]) -> [u8; 6] {
    (0u32..)
        .map(|salt| vm_mac(vm_id, nic, salt))
        .find(|mac| !taken.contains(mac))
        .expect("an unbounded range always has a free MAC")
}

/// The number of a workload interface named `eth<n>`: a VM's NIC index.
pub fn nic_index(ifname: &str) -> Option<u32> {
    ifname.strip_prefix("eth")?.parse().ok()
}

/// The usual text form of a MAC: `02:ab:…`, lowercase.
pub fn format_mac(mac: [u8; 6]) -> String {
    mac.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// Parses `02:ab:cd:ef:01:23` (either case).
pub fn parse_mac(text: &str) -> Option<[u8; 6]> {
    let mut mac = [0u8; 6];
    let mut parts = text.split(':');
    for byte in &mut mac {
        let part = parts.next()?;
        if part.len() != 2 {
            return None;
        }
        *byte = u8::from_str_radix(part, 16).ok()?;
    }
    parts.next().is_none().then_some(mac)
}

/// FNV-1a: a stable, dependency-free hash for naming (not for security).
pub fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf29ce484222325u64, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x100000001b3)
    })
}

#[cfg(test)]
mod tests;
