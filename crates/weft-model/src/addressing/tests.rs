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
