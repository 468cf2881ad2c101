use super::*;

#[test]
fn endpoints() {
    assert_eq!(
        split_endpoint("192.0.2.2:51820").unwrap(),
        ("192.0.2.2", 51820)
    );
    assert_eq!(
        split_endpoint("[2001:db8::1]:51820").unwrap(),
        ("2001:db8::1", 51820)
    );
    assert_eq!(split_endpoint("hub.example:7").unwrap(), ("hub.example", 7));
    for bad in [
        "192.0.2.2",
        "192.0.2.2:",
        ":51820",
        "x:0",
        "x:70000",
        "2001:db8::1:5",
        "[::1:5",
    ] {
        let err = split_endpoint(bad).unwrap_err().to_string();
        assert!(err.contains("endpoint"), "{bad}: {err}");
    }
}

#[test]
fn allowed_ips_lists() {
    let nets = parse_allowed_ips(["10.42.2.0/24,10.42.3.0/24", "fd00::/64"]).unwrap();
    assert_eq!(nets.len(), 3);
    assert!(parse_allowed_ips([""]).is_err());
    let err = parse_allowed_ips(["10.42.2.0/24,nope"])
        .unwrap_err()
        .to_string();
    assert!(err.contains("allowed-ips") && err.contains("nope"), "{err}");
}

#[test]
fn allowed_ips_must_not_overlap() {
    let subnet: IpNet = "10.42.0.0/16".parse().unwrap();
    let own: IpNet = "10.42.1.0/24".parse().unwrap();
    let other: IpNet = "10.42.3.0/24".parse().unwrap();
    let ok = parse_allowed_ips(["10.42.2.0/24"]).unwrap();
    assert!(check_allowed_ips(&ok, &subnet, &own, [("B", &other)]).is_ok());
    let mine = parse_allowed_ips(["10.42.0.0/16"]).unwrap();
    let err = check_allowed_ips(&mine, &subnet, &own, [])
        .unwrap_err()
        .to_string();
    assert!(err.contains("own block"), "{err}");
    let theirs = parse_allowed_ips(["10.42.3.128/25"]).unwrap();
    let err = check_allowed_ips(&theirs, &subnet, &own, [("B", &other)])
        .unwrap_err()
        .to_string();
    assert!(err.contains("peer B"), "{err}");
}

#[test]
fn allowed_ips_stay_inside_the_subnet_without_repeats() {
    let subnet: IpNet = "10.42.0.0/16".parse().unwrap();
    let own: IpNet = "10.42.1.0/24".parse().unwrap();
    for (list, why) in [
        ("0.0.0.0/0", "outside the network's subnet"),
        ("192.168.1.0/24", "outside the network's subnet"),
        ("10.0.0.0/8", "outside the network's subnet"),
        (
            "10.42.2.0/24,10.42.2.0/24",
            "repeats or overlaps 10.42.2.0/24",
        ),
        (
            "10.42.2.0/24,10.42.2.7/32",
            "repeats or overlaps 10.42.2.0/24",
        ),
    ] {
        let nets = parse_allowed_ips([list]).unwrap();
        let err = check_allowed_ips(&nets, &subnet, &own, [])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains(why) && err.contains("allowed-ips"),
            "{list}: {err}"
        );
    }
}
