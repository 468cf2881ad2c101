use crate::common;

use weft_testkit::require_root;

use std::net::IpAddr;

use common::{lab, up_link};
use weft_net::{Address, IpNet, Route, RouteScope, WEFT_ROUTE_PROTOCOL};

fn net(s: &str) -> IpNet {
    s.parse().unwrap()
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

#[test]
fn addresses_v4_and_v6() {
    require_root!();
    let (_ns, mut nl) = lab();
    let d0 = up_link(&mut nl, "d0");
    let d1 = up_link(&mut nl, "d1");
    let v4 = net("10.1.0.1/24");
    let v6 = net("fd00:1::1/64");

    nl.add_address(d0.index, v4).unwrap();
    nl.add_address(d0.index, v6).unwrap();
    nl.add_address(d1.index, net("10.2.0.1/24")).unwrap();

    let on_d0 = nl.addresses(Some(d0.index)).unwrap();
    for addr in [v4, v6] {
        let expected = Address {
            index: d0.index,
            addr,
        };
        assert!(on_d0.contains(&expected), "{expected:?} not in {on_d0:?}");
    }
    assert!(on_d0.iter().all(|a| a.index == d0.index), "{on_d0:?}");
    let all = nl.addresses(None).unwrap();
    assert!(all.contains(&Address {
        index: d1.index,
        addr: net("10.2.0.1/24")
    }));

    let dup = nl.add_address(d0.index, v4).expect_err("duplicate");
    assert!(dup.is_exists(), "{dup:?}");

    nl.del_address(d0.index, v4).unwrap();
    nl.del_address(d0.index, v6).unwrap();
    let on_d0 = nl.addresses(Some(d0.index)).unwrap();
    assert!(
        !on_d0.iter().any(|a| a.addr == v4 || a.addr == v6),
        "{on_d0:?}"
    );
    let err = nl.del_address(d0.index, v4).expect_err("already gone");
    assert_eq!(err.errno(), Some(libc::EADDRNOTAVAIL), "{err:?}");
}

#[test]
fn ipv6_address_is_usable_at_once() {
    require_root!();
    let (_ns, mut nl) = lab();
    let d0 = up_link(&mut nl, "d0");
    nl.add_address(d0.index, net("fd00:2::1/64")).unwrap();
    // Without NODAD it would be "tentative" and a bind would fail.
    let ns = _ns;
    let bound = ns
        .run(|| std::net::UdpSocket::bind("[fd00:2::1]:0").map(|_| ()))
        .unwrap();
    assert!(bound.is_ok(), "{bound:?}");
}

fn find(routes: &[Route], dst: &str) -> Vec<Route> {
    routes
        .iter()
        .filter(|r| r.dst == net(dst))
        .cloned()
        .collect()
}

#[test]
fn routes_add_list_replace_delete() {
    require_root!();
    let (_ns, mut nl) = lab();
    let d0 = up_link(&mut nl, "d0");
    nl.add_address(d0.index, net("10.1.0.1/24")).unwrap();
    nl.add_address(d0.index, net("fd00:1::1/64")).unwrap();

    let on_link = Route::link(net("10.2.0.0/16"), d0.index);
    let via = Route::via(net("10.3.0.0/16"), ip("10.1.0.254"), Some(d0.index));
    let via6 = Route::via(net("fd00:3::/48"), ip("fd00:1::fe"), Some(d0.index));
    let default = Route::via(net("0.0.0.0/0"), ip("10.1.0.254"), None).with_metric(100);
    for route in [&on_link, &via, &via6, &default] {
        nl.add_route(route).unwrap_or_else(|e| panic!("{e:?}"));
    }

    let routes = nl.routes().unwrap();
    assert_eq!(find(&routes, "10.2.0.0/16"), vec![on_link.clone()]);
    assert_eq!(find(&routes, "10.3.0.0/16"), vec![via.clone()]);
    // IPv6 routes come back with the kernel's default metric.
    assert_eq!(
        find(&routes, "fd00:3::/48"),
        vec![via6.clone().with_metric(1024)]
    );
    let mut expected_default = default.clone();
    expected_default.oif = Some(d0.index);
    assert_eq!(find(&routes, "0.0.0.0/0"), vec![expected_default]);
    // The kernel's own prefix route for the address is listed too.
    let connected = find(&routes, "10.1.0.0/24");
    assert_eq!(connected.len(), 1, "{routes:?}");
    assert_eq!(connected[0].scope, RouteScope::Link);
    assert_eq!(connected[0].src, Some(ip("10.1.0.1")));

    let dup = nl.add_route(&via).expect_err("duplicate route");
    assert!(dup.is_exists(), "{dup:?}");

    let moved = Route::via(net("10.3.0.0/16"), ip("10.1.0.253"), Some(d0.index));
    nl.replace_route(&moved).unwrap();
    assert_eq!(
        find(&nl.routes().unwrap(), "10.3.0.0/16"),
        vec![moved.clone()]
    );

    for route in [&on_link, &moved, &via6, &default] {
        nl.del_route(route).unwrap_or_else(|e| panic!("{e:?}"));
    }
    let routes = nl.routes().unwrap();
    for dst in ["10.2.0.0/16", "10.3.0.0/16", "fd00:3::/48", "0.0.0.0/0"] {
        assert!(find(&routes, dst).is_empty(), "{dst} still in {routes:?}");
    }
    let err = nl.del_route(&on_link).expect_err("already deleted");
    assert!(err.is_not_found(), "{err:?}");
}

#[test]
fn route_to_missing_link_fails() {
    require_root!();
    let (_ns, mut nl) = lab();
    let err = nl
        .add_route(&Route::link(net("10.9.0.0/16"), 4242))
        .expect_err("no such link");
    assert!(err.is_not_found(), "{err:?}");
    assert!(
        err.to_string().contains("add route 10.9.0.0/16 dev #4242"),
        "{err}"
    );
}

/// Somebody else's routes (here: `proto boot`, as `ip route add` makes them)
/// are neither replaced nor deleted by weft's route calls; weft's own are.
#[test]
fn foreign_routes_are_never_replaced_or_deleted() {
    require_root!();
    let (_ns, mut nl) = lab();
    let d0 = up_link(&mut nl, "d0");
    let d1 = up_link(&mut nl, "d1");
    nl.add_address(d0.index, net("10.1.0.1/24")).unwrap();
    const BOOT: u8 = 3;
    let mut default = Route::via(net("0.0.0.0/0"), ip("10.1.0.254"), Some(d0.index));
    default.protocol = BOOT;
    let mut underlay = Route::link(net("10.5.0.0/24"), d0.index);
    underlay.protocol = BOOT;
    for route in [&default, &underlay] {
        nl.add_route(route).unwrap();
    }
    let weft_only = |r: &Route| r.protocol == WEFT_ROUTE_PROTOCOL;

    for foreign in [&default, &underlay] {
        let hijack = Route::link(foreign.dst, d1.index);
        let err = nl
            .replace_own_route(&hijack, weft_only)
            .expect_err("a foreign route replaced");
        assert!(err.to_string().contains("is not weft's"), "{err}");
        assert!(err.to_string().contains(&foreign.dst.to_string()), "{err}");
        let err = nl
            .del_route(&Route::link(foreign.dst, d0.index))
            .expect_err("deleted");
        assert!(err.is_not_found(), "{err:?}");
        assert_eq!(
            find(&nl.routes().unwrap(), &foreign.dst.to_string()),
            vec![foreign.clone()]
        );
    }

    // Another metric is another route: added beside the foreign one.
    let beside = Route::link(net("10.5.0.0/24"), d1.index).with_metric(50);
    nl.replace_own_route(&beside, weft_only).unwrap();
    // Its own route weft replaces, and deletes.
    let moved = Route::link(net("10.5.0.0/24"), d0.index).with_metric(50);
    nl.replace_own_route(&moved, weft_only).unwrap();
    let routes = nl.routes().unwrap();
    assert_eq!(
        find(&routes, "10.5.0.0/24"),
        vec![underlay.clone(), moved.clone()]
    );
    nl.del_route(&moved).unwrap();
    assert_eq!(find(&nl.routes().unwrap(), "10.5.0.0/24"), vec![underlay]);
}
