use crate::common;

use weft_testkit::require_root;

use common::{lab, up_link};
use weft_net::{Netns, get_sysctl, set_sysctl};

#[test]
fn sysctl_inside_a_namespace_leaves_the_caller_alone() {
    require_root!();
    let caller = Netns::current().unwrap();
    let caller_before = get_sysctl(&caller, "net/ipv4/ip_forward").unwrap();
    let raw_before = std::fs::read_to_string("/proc/sys/net/ipv4/ip_forward").unwrap();

    let (ns, _nl) = lab();
    // A fresh namespace's IPv4 settings are copied from the host's (the
    // kernel's default, `net.core.devconf_inherit_init_net=0`): flip it.
    let flipped = match get_sysctl(&ns, "net/ipv4/ip_forward").unwrap().as_str() {
        "0" => "1",
        _ => "0",
    };
    set_sysctl(&ns, "net/ipv4/ip_forward", flipped).unwrap();
    assert_eq!(get_sysctl(&ns, "net/ipv4/ip_forward").unwrap(), flipped);

    assert_eq!(
        get_sysctl(&caller, "net/ipv4/ip_forward").unwrap(),
        caller_before
    );
    assert_eq!(
        std::fs::read_to_string("/proc/sys/net/ipv4/ip_forward").unwrap(),
        raw_before
    );
}

#[test]
fn per_interface_sysctl() {
    require_root!();
    let (ns, mut nl) = lab();
    up_link(&mut nl, "weftsys0");
    let key = "net/ipv4/conf/weftsys0/proxy_arp";
    assert_eq!(get_sysctl(&ns, key).unwrap(), "0");
    set_sysctl(&ns, key, "1").unwrap();
    assert_eq!(get_sysctl(&ns, key).unwrap(), "1");
    // The interface exists only in the lab namespace.
    let caller = Netns::current().unwrap();
    let err = get_sysctl(&caller, key).expect_err("not in the caller's netns");
    assert!(err.is_not_found(), "{err:?}");
}

#[test]
fn non_net_keys_are_refused() {
    require_root!();
    let (ns, _nl) = lab();
    let err = set_sysctl(&ns, "kernel/hostname", "x").expect_err("global sysctl");
    assert!(err.to_string().contains("kernel/hostname"), "{err}");
}
