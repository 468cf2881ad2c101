//! End to end: two namespaces joined by a veth pair configured through
//! weft-net, checked with the real `ping` run via `nsenter`.

use crate::common;

use weft_testkit::{ping_from, require_root};

use common::{lab, link};
use weft_net::{IpNet, Netns};

/// `ping` from inside `from`, up to `attempts` tries.
fn ping(from: &Netns, to: &str, attempts: usize) -> bool {
    ping_from(&from.proc_path(), to, attempts)
}

fn net(s: &str) -> IpNet {
    s.parse().unwrap()
}

#[test]
fn ping_across_a_veth_pair() {
    require_root!();
    let (a_ns, mut a) = lab();
    let (b_ns, mut b) = lab();
    a.create_veth("wa", "wb", Some(&b_ns)).unwrap();
    let wa = link(&mut a, "wa");
    let wb = link(&mut b, "wb");

    // Not configured yet: the ping must fail, so success below means something.
    assert!(!ping(&a_ns, "10.77.0.2", 1));

    a.add_address(wa.index, net("10.77.0.1/24")).unwrap();
    b.add_address(wb.index, net("10.77.0.2/24")).unwrap();
    a.add_address(wa.index, net("fd77::1/64")).unwrap();
    b.add_address(wb.index, net("fd77::2/64")).unwrap();
    a.set_up(wa.index).unwrap();
    b.set_up(wb.index).unwrap();

    assert!(ping(&a_ns, "10.77.0.2", 3), "IPv4 ping a -> b");
    assert!(ping(&b_ns, "10.77.0.1", 3), "IPv4 ping b -> a");
    assert!(ping(&a_ns, "fd77::2", 3), "IPv6 ping a -> b");

    b.set_down(wb.index).unwrap();
    assert!(!ping(&a_ns, "10.77.0.2", 1), "peer down, ping must fail");
}

#[test]
fn ping_through_a_route_via_a_gateway() {
    require_root!();
    // b forwards between a (10.78.1.0/24) and c (10.78.2.0/24); a and c only
    // know each other through routes added here.
    let (a_ns, mut a) = lab();
    let (b_ns, mut b) = lab();
    let (c_ns, mut c) = lab();
    b.create_veth("ba", "ab", Some(&a_ns)).unwrap();
    b.create_veth("bc", "cb", Some(&c_ns)).unwrap();
    weft_net::set_sysctl(&b_ns, "net/ipv4/ip_forward", "1").unwrap();

    let ab = link(&mut a, "ab").index;
    let ba = link(&mut b, "ba").index;
    let bc = link(&mut b, "bc").index;
    let cb = link(&mut c, "cb").index;
    a.add_address(ab, net("10.78.1.2/24")).unwrap();
    b.add_address(ba, net("10.78.1.1/24")).unwrap();
    b.add_address(bc, net("10.78.2.1/24")).unwrap();
    c.add_address(cb, net("10.78.2.2/24")).unwrap();
    a.set_up(ab).unwrap();
    b.set_up(ba).unwrap();
    b.set_up(bc).unwrap();
    c.set_up(cb).unwrap();
    assert!(!ping(&a_ns, "10.78.2.2", 1), "no route yet");

    let to_c = weft_net::Route::via(net("10.78.2.0/24"), "10.78.1.1".parse().unwrap(), Some(ab));
    a.add_route(&to_c).unwrap();
    let to_a = weft_net::Route::via(net("0.0.0.0/0"), "10.78.2.1".parse().unwrap(), None);
    c.add_route(&to_a).unwrap();
    assert!(ping(&a_ns, "10.78.2.2", 3), "a -> c via b");

    a.del_route(&to_c).unwrap();
    assert!(
        !ping(&a_ns, "10.78.2.2", 1),
        "route deleted, ping must fail"
    );
}
