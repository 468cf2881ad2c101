//! Carving a network's subnet into host blocks, and the allowed-ips a spoke
//! gives its hub (the subnet less the spoke's own block).

use crate::addressing::capacity;
use ipnet::IpNet;
use std::collections::BTreeSet;

/// How many blocks of `/prefix` the subnet holds (saturating).
pub fn block_count(subnet: &IpNet, prefix: u8) -> u128 {
    let bits = u32::from(prefix.saturating_sub(subnet.prefix_len()));
    1u128.checked_shl(bits).unwrap_or(u128::MAX)
}

/// How many workloads one `/prefix` block of the subnet can hold: every
/// usable address but the host's own.
pub fn workload_room(subnet: &IpNet, prefix: u8) -> u128 {
    IpNet::new(subnet.network(), prefix)
        .map(|block| capacity(&block).saturating_sub(1))
        .unwrap_or(0)
}

/// Is `block` one of the subnet's `/prefix` blocks?
pub fn is_block_of(subnet: &IpNet, prefix: u8, block: &IpNet) -> bool {
    block.prefix_len() == prefix
        && block.addr() == block.network()
        && subnet.contains(block)
        && subnet.addr().is_ipv4() == block.addr().is_ipv4()
}

/// The lowest `/prefix` block of the subnet not in `taken`.
pub fn lowest_free_block(subnet: &IpNet, prefix: u8, taken: &BTreeSet<IpNet>) -> Option<IpNet> {
    subnet.subnets(prefix).ok()?.find(|b| !taken.contains(b))
}

/// `outer` less `inner`, as the fewest CIDRs, lowest first. A spoke gives
/// its hub these as allowed-ips: everything on the network but its own
/// block goes through the hub, and a later spoke changes nothing here.
pub fn complement(outer: &IpNet, inner: &IpNet) -> Vec<IpNet> {
    let mut out = Vec::new();
    if !outer.contains(inner) {
        return vec![*outer];
    }
    let mut current = *outer;
    while current.prefix_len() < inner.prefix_len() {
        let halves: Vec<IpNet> = current
            .subnets(current.prefix_len() + 1)
            .expect("a longer prefix within the family is valid")
            .collect();
        let (keep, other) = if halves[0].contains(inner) {
            (halves[0], halves[1])
        } else {
            (halves[1], halves[0])
        };
        out.push(other);
        current = keep;
    }
    out.sort();
    out
}

#[cfg(test)]
mod tests;
