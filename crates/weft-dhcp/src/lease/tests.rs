use super::*;

fn net(s: &str) -> Ipv4Net {
    s.parse().unwrap()
}
fn ip(s: &str) -> Ipv4Addr {
    s.parse().unwrap()
}

#[test]
fn classless_routes_follow_rfc_3442() {
    // The default route, a /8 (one octet), a /25 (four) and an on-link /32.
    let routes = [
        StaticRoute {
            destination: net("0.0.0.0/0"),
            router: ip("10.0.0.1"),
        },
        StaticRoute {
            destination: net("10.0.0.0/8"),
            router: ip("10.0.0.2"),
        },
        StaticRoute {
            destination: net("10.229.0.128/25"),
            router: ip("10.0.0.3"),
        },
        StaticRoute {
            destination: net("10.42.1.1/32"),
            router: Ipv4Addr::UNSPECIFIED,
        },
    ];
    assert_eq!(
        classless_routes(&routes),
        [
            0, 10, 0, 0, 1, // default
            8, 10, 10, 0, 0, 2, // 10/8
            25, 10, 229, 0, 128, 10, 0, 0, 3, // four octets for /25
            32, 10, 42, 1, 1, 0, 0, 0, 0, // on-link host route
        ]
    );
}

#[test]
fn only_the_first_nic_gets_a_default_route() {
    let subnet = net("10.42.0.0/16");
    let first = Lease::routes_for(net("10.42.1.2/32"), ip("10.42.1.1"), subnet, true);
    assert_eq!(
        first,
        [
            StaticRoute {
                destination: net("10.42.1.1/32"),
                router: Ipv4Addr::UNSPECIFIED
            },
            StaticRoute {
                destination: net("0.0.0.0/0"),
                router: ip("10.42.1.1")
            },
        ]
    );
    let second = Lease::routes_for(
        net("10.43.1.2/32"),
        ip("10.43.1.1"),
        net("10.43.0.0/16"),
        false,
    );
    assert_eq!(second[1].destination, net("10.43.0.0/16"));
    assert!(second.iter().all(|r| r.destination.prefix_len() != 0));
    // On a bridge: the subnet is on-link; a second NIC needs nothing.
    let bridged = Lease::routes_for(
        net("10.88.0.5/16"),
        ip("10.88.0.1"),
        net("10.88.0.0/16"),
        false,
    );
    assert!(bridged.is_empty());
    let bridged_first = Lease::routes_for(
        net("10.88.0.5/16"),
        ip("10.88.0.1"),
        net("10.88.0.0/16"),
        true,
    );
    assert_eq!(bridged_first.len(), 1);
}

#[test]
fn options_carry_mask_dns_domain_mtu_and_routes() {
    let routes = Lease::routes_for(
        net("10.43.1.2/32"),
        ip("10.43.1.1"),
        net("10.43.0.0/16"),
        false,
    );
    let lease = Lease {
        mac: [2, 0, 0, 0, 0, 1],
        address: net("10.43.1.2/32"),
        router: ip("10.43.1.1"),
        dns_servers: vec![ip("10.43.1.1")],
        domain: "red.example".into(),
        mtu: 1420,
        routes,
        host_name: Some("vm1".into()),
    };
    let o = lease.options();
    assert_eq!(o[&opt::SUBNET_MASK], [255, 255, 255, 255]);
    assert!(
        !o.contains_key(&opt::ROUTER),
        "no default route, no option 3"
    );
    assert_eq!(o[&opt::DNS_SERVERS], [10, 43, 1, 1]);
    assert_eq!(o[&opt::DOMAIN_NAME], b"red.example");
    assert_eq!(o[&opt::HOST_NAME], b"vm1");
    assert_eq!(o[&opt::INTERFACE_MTU], 1420u16.to_be_bytes());
    assert_eq!(o[&opt::LEASE_TIME], LEASE_SECS.to_be_bytes());
    assert_eq!(
        o[&opt::CLASSLESS_ROUTES],
        [32, 10, 43, 1, 1, 0, 0, 0, 0, 16, 10, 43, 10, 43, 1, 1]
    );
}
