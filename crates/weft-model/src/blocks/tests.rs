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
    assert!(rest.iter().all(|n| !crate::addressing::overlaps(n, &own)));
    let total: u128 = rest.iter().map(|n| 1u128 << (32 - n.prefix_len())).sum();
    assert_eq!(total, (1 << 16) - (1 << 8));
    assert_eq!(rest[0], net("10.42.0.0/22"));
    assert!(rest.contains(&net("10.42.128.0/17")));
    assert_eq!(complement(&own, &own), Vec::<IpNet>::new());
}
