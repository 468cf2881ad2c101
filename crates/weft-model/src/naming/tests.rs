use super::*;
use crate::names::validate_ifname;

#[test]
fn workload_macs_are_local_unicast_stable_and_distinct() {
    let a = workload_mac("br", "c1");
    assert_eq!(a[0] & 0x03, 0x02, "{a:02x?}");
    assert_eq!(a, workload_mac("br", "c1"));
    assert_ne!(a, workload_mac("br", "c2"));
    assert_ne!(a, workload_mac("br2", "c1"));
}

#[test]
fn network_interfaces_and_aliases() {
    assert_eq!(network_ifname(Mode::Wireguard, 3), "wg3");
    assert_eq!(network_ifname(Mode::Bridge, 0), "weft-br0");
    assert_eq!(network_ifname(Mode::Vxlan, 2), "weft-vbr2");
    assert_eq!(vxlan_ifname(2), "weft-vx2");
    let subnet: IpNet = "10.50.0.0/16".parse().unwrap();
    assert_eq!(vxlan_gateway(&subnet).to_string(), "10.50.255.254");
    assert_eq!(network_alias("blue"), "weft:blue");
    assert_eq!(attachment_alias("blue", "c1"), "weft:blue/c1");
    assert!(attachment_alias("blue", "c1").starts_with(ALIAS_PREFIX));
}

#[test]
fn host_takes_the_first_usable_address() {
    let net = |s: &str| s.parse::<IpNet>().unwrap();
    assert_eq!(host_address(&net("10.42.1.0/24")).to_string(), "10.42.1.1");
    assert_eq!(
        host_address(&net("fd00:42:1::/64")).to_string(),
        "fd00:42:1::1"
    );
    let (subnet, block) = (net("10.42.0.0/16"), net("10.42.1.0/24"));
    assert_eq!(
        host_interface_address(Mode::Wireguard, &subnet, &block).to_string(),
        "10.42.1.1/32"
    );
    let bridge = net("10.88.0.0/16");
    assert_eq!(
        host_interface_address(Mode::Bridge, &bridge, &bridge).to_string(),
        "10.88.0.1/16"
    );
}

#[test]
fn workload_host_ifnames_follow_the_mode() {
    assert_eq!(workload_host_ifname(Mode::Wireguard, 2, "c1", []), "w2-c1");
    assert_eq!(
        workload_host_ifname(Mode::Bridge, 2, "c1a2b3c4d5e6", []),
        "fn-c1a2b3c4"
    );
}

#[test]
fn workload_ifnames_fill_the_lowest_gap() {
    assert_eq!(next_workload_ifname([]), "eth0");
    assert_eq!(next_workload_ifname(["eth0", "eth2"]), "eth1");
    assert_eq!(next_workload_ifname(["eth0", "eth1"]), "eth2");
}

#[test]
fn host_veth_names_are_short_and_unique() {
    let w3 = routed_veth_prefix(3);
    assert_eq!(
        host_veth_name(&routed_veth_prefix(0), 99, "c1", []),
        "w0-c1"
    );
    let long = "a1b2c3d4e5f6a7b8c9d0";
    let first = host_veth_name(&w3, 99, long, []);
    assert_eq!(first, "w3-a1b2c3d4e5f6");
    // A second id sharing the prefix gets a hashed name.
    let other = "a1b2c3d4e5f6ffff";
    let second = host_veth_name(&w3, 99, other, [first.as_str()]);
    assert_ne!(second, first);
    assert!(second.len() <= IFNAME_MAX, "{second}");
    // Even the hashed name taken: still unique, still short.
    let third = host_veth_name(&w3, 99, other, [first.as_str(), second.as_str()]);
    assert!(
        third != first && third != second && third.len() <= IFNAME_MAX,
        "{third}"
    );
    // Ids of only odd characters still give a valid name.
    let odd = host_veth_name(&routed_veth_prefix(1), 99, "...", []);
    assert!(odd.starts_with("w1-") && odd.len() <= IFNAME_MAX, "{odd}");
    // Bridge networks: fn- and the first 8 characters of the id.
    let bridged = host_veth_name(BRIDGE_VETH_PREFIX, BRIDGE_VETH_ID_CHARS, long, []);
    assert_eq!(bridged, "fn-a1b2c3d4");
    let bridged2 = host_veth_name(
        BRIDGE_VETH_PREFIX,
        BRIDGE_VETH_ID_CHARS,
        "a1b2c3d4ff",
        [bridged.as_str()],
    );
    assert!(
        bridged2.starts_with("fn-") && bridged2 != bridged,
        "{bridged2}"
    );
    for name in [&first, &second, &third, &odd, &bridged, &bridged2] {
        validate_ifname("host veth", name).unwrap();
    }
}

#[test]
fn vm_macs_are_local_unicast_deterministic_and_distinct() {
    let mut seen = std::collections::BTreeSet::new();
    for vm in ["vm1", "vm2", "a-very-long-vm-identifier-0123456789"] {
        for nic in 0..4 {
            let mac = vm_mac(vm, nic, 0);
            assert_eq!(mac[0] & 0x01, 0, "multicast bit set: {mac:02x?}");
            assert_eq!(mac[0] & 0x02, 0x02, "not locally administered: {mac:02x?}");
            assert_eq!(mac, vm_mac(vm, nic, 0), "not deterministic");
            assert!(seen.insert(mac), "{vm}/{nic} repeats {mac:02x?}");
        }
    }
    // A salt gives another MAC with the same bits.
    let salted = vm_mac("vm1", 0, 1);
    assert_ne!(salted, vm_mac("vm1", 0, 0));
    assert_eq!(salted[0] & 0x03, 0x02);
}

#[test]
fn vm_mac_collisions_are_rederived_with_a_salt() {
    let first = vm_mac("vm1", 0, 0);
    assert_eq!(unique_vm_mac("vm1", 0, &[]), first);
    let second = unique_vm_mac("vm1", 0, &[first]);
    assert_eq!(second, vm_mac("vm1", 0, 1));
    let third = unique_vm_mac("vm1", 0, &[first, second]);
    assert!(third != first && third != second);
    assert_eq!(third[0] & 0x03, 0x02);
}

#[test]
fn macs_print_and_parse_back() {
    let mac = [0x02, 0xab, 0x00, 0x10, 0xff, 0x7e];
    assert_eq!(format_mac(mac), "02:ab:00:10:ff:7e");
    assert_eq!(parse_mac("02:AB:00:10:ff:7e"), Some(mac));
    for bad in [
        "",
        "02:ab:00:10:ff",
        "02:ab:00:10:ff:7e:00",
        "2:ab:00:10:ff:7e",
        "zz:ab:00:10:ff:7e",
    ] {
        assert_eq!(parse_mac(bad), None, "{bad:?}");
    }
    assert_eq!(nic_index("eth3"), Some(3));
    assert_eq!(nic_index("ens3"), None);
}

#[test]
fn vm_taps_are_named_from_the_id_and_the_nic() {
    let w0 = routed_veth_prefix(0);
    assert_eq!(vm_tap_name(&w0, "vm1", 0, []), "w0-vm1-0");
    assert_eq!(vm_tap_name(&w0, "vm1", 1, []), "w0-vm1-1");
    assert_eq!(vm_tap_name(BRIDGE_VETH_PREFIX, "vm1", 2, []), "fn-vm1-2");
    let long = "0123456789abcdef0123";
    let a = vm_tap_name(&routed_veth_prefix(12), long, 10, []);
    assert_eq!(a, "w12-01234567-10");
    // Another VM with the same start: a hash of its whole id.
    let other = "0123456789abcdefffff";
    let b = vm_tap_name(&routed_veth_prefix(12), other, 10, [a.as_str()]);
    assert_ne!(a, b);
    // Even that taken: a counter, still unique and short.
    let c = vm_tap_name(&routed_veth_prefix(12), other, 10, [a.as_str(), b.as_str()]);
    assert!(c != a && c != b, "{c}");
    // A veth of a container called "vm1-0" holds the first choice.
    let d = vm_tap_name(&w0, "vm1", 0, ["w0-vm1-0"]);
    assert_ne!(d, "w0-vm1-0");
    let odd = vm_tap_name(&w0, "...", 0, []);
    for name in [&a, &b, &c, &d, &odd] {
        assert!(name.len() <= IFNAME_MAX, "{name}");
        validate_ifname("tap", name).unwrap();
    }
    assert!(b.starts_with("w12-") && c.starts_with("w12-") && odd.starts_with("w0-"));
    assert!(b.ends_with("-10") && c.ends_with("-10") && odd.ends_with("-0"));
    // Deterministic: the same inputs, the same name.
    assert_eq!(
        vm_tap_name(&w0, "vm1", 0, []),
        vm_tap_name(&w0, "vm1", 0, [])
    );
}
