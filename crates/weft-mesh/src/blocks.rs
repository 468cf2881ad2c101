//! Carving a network's subnet into host blocks, and the allowed-ips a spoke
//! gives its hub (the subnet less the spoke's own block).

use ipnet::IpNet;
use std::collections::BTreeSet;
use weft_model::addressing::capacity;

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
mod tests {
    use super::*;

    fn net(s: &str) -> IpNet {
        s.parse().unwrap()
    }

    #[test]
    fn counts() {
        assert_eq!(block_count(&net("10.42.0.0/16"), 24), 256);
        assert_eq!(block_count(&net("10.42.0.0/23"), 24), 2);
        assert_eq!(block_count(&net("fd00::/0"), 128), u128::MAX);
        assert_eq!(workload_room(&net("10.42.0.0/16"), 24), 253);
        assert_eq!(workload_room(&net("10.42.0.0/16"), 30), 1);
    }

    #[test]
    fn lowest_free() {
        let subnet = net("10.42.0.0/16");
        let taken = BTreeSet::from([net("10.42.0.0/24"), net("10.42.2.0/24")]);
        assert_eq!(
            lowest_free_block(&subnet, 24, &taken),
            Some(net("10.42.1.0/24"))
        );
        let full: BTreeSet<IpNet> = subnet.subnets(17).unwrap().collect();
        assert_eq!(lowest_free_block(&subnet, 17, &full), None);
        assert!(is_block_of(&subnet, 24, &net("10.42.7.0/24")));
        assert!(!is_block_of(&subnet, 24, &net("10.42.7.0/25")));
        assert!(!is_block_of(&subnet, 24, &net("10.43.7.0/24")));
    }

    #[test]
    fn complement_covers_everything_but_the_block() {
        let subnet = net("10.42.0.0/16");
        let own = net("10.42.5.0/24");
        let rest = complement(&subnet, &own);
        assert_eq!(rest.len(), 8);
        assert!(
            rest.iter()
                .all(|n| !weft_model::addressing::overlaps(n, &own))
        );
        let total: u128 = rest.iter().map(|n| 1u128 << (32 - n.prefix_len())).sum();
        assert_eq!(total, (1 << 16) - (1 << 8));
        assert_eq!(rest[0], net("10.42.0.0/22"));
        assert!(rest.contains(&net("10.42.128.0/17")));
        assert_eq!(complement(&own, &own), Vec::<IpNet>::new());
    }
}
