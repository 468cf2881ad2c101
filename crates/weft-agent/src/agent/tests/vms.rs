//! VMs: TAPs instead of veths, MACs of weft's, NICs in attach order, the
//! DHCP responders' leases, and the same firewall coverage as containers.

use super::*;
use weft_model::naming;

fn vm_req(network: &str, id: &str) -> pb::AttachRequest {
    pb::AttachRequest {
        network: network.into(),
        id: id.into(),
        vm: true,
        ..Default::default()
    }
}

#[test]
fn a_vms_nics_are_taps_numbered_in_attach_order_with_derived_macs() {
    let mut a = agent();
    a.add_network_pb(blue()).unwrap();
    a.add_network_pb(red()).unwrap();
    let nic0 = a
        .attach_pb(pb::AttachRequest {
            name: "vm1".into(),
            ..vm_req("blue", "vm1")
        })
        .unwrap();
    let nic1 = a
        .attach_pb(pb::AttachRequest {
            queues: 4,
            ..vm_req("red", "vm1")
        })
        .unwrap();
    assert_eq!(
        (
            nic0.record.ifname.as_str(),
            nic0.record.host_ifname.as_str()
        ),
        ("eth0", "w0-vm1-0")
    );
    assert_eq!(
        (
            nic1.record.ifname.as_str(),
            nic1.record.host_ifname.as_str()
        ),
        ("eth1", "w1-vm1-1")
    );
    assert_eq!(nic0.record.ip.to_string(), "10.42.1.2");
    assert!(nic0.record.default_route && !nic1.record.default_route);
    assert_eq!(nic0.record.netns, "");
    let (vm0, vm1) = (nic0.record.vm.unwrap(), nic1.record.vm.unwrap());
    assert_eq!(vm0.mac, naming::vm_mac("vm1", 0, 0));
    assert_eq!(vm1.mac, naming::vm_mac("vm1", 1, 0));
    assert_eq!((vm0.queues, vm1.queues), (1, 4));
    // The data plane got TAP plans with the guest's MAC.
    let s = a.dataplane().lock();
    let plan = &s.attachments["w1-vm1-1"];
    assert_eq!(plan.mac, Some(vm1.mac));
    assert_eq!(plan.vm, nic1.record.vm);
    assert_eq!(plan.bridge, None);
    // The firewall knows the TAPs by the network's prefix, like veths.
    let blue_rules = s.firewall.iter().find(|n| n.name == "blue").unwrap();
    let prefix = naming::routed_veth_prefix(0);
    assert!(
        blue_rules
            .interfaces
            .contains(&weft_firewall::IfMatch::Prefix(prefix.clone())),
        "{:?}",
        blue_rules.interfaces
    );
    assert!(nic0.record.host_ifname.starts_with(&prefix));
    // Each TAP has a responder with exactly its NIC's lease.
    assert_eq!(s.dhcp.keys().collect::<Vec<_>>(), ["w0-vm1-0", "w1-vm1-1"]);
    let lease = &s.dhcp["w0-vm1-0"][0];
    assert_eq!(lease.mac, vm0.mac);
    assert_eq!(lease.address.to_string(), "10.42.1.2/32");
    assert_eq!(lease.router.to_string(), "10.42.1.1");
    assert_eq!(lease.domain, "mesh.local");
    assert_eq!(lease.mtu, 1420);
    assert_eq!(lease.host_name.as_deref(), Some("vm1"));
    assert!(lease.routes.iter().any(|r| r.destination.prefix_len() == 0));
    let second = &s.dhcp["w1-vm1-1"][0];
    assert!(
        second
            .routes
            .iter()
            .all(|r| r.destination.prefix_len() != 0),
        "a second NIC gets no default route: {:?}",
        second.routes
    );
    drop(s);
    // The view says what `weft attachments` shows.
    let listed = a.attachments(Some("red")).unwrap();
    assert_eq!(listed[0].record.vm, nic1.record.vm);
}

#[test]
fn vms_on_a_bridge_are_pinned_ports_answered_on_the_bridge() {
    let mut a = agent();
    a.add_network_pb(bridge_net()).unwrap();
    a.attach_pb(attach_req("br", "c1")).unwrap();
    let vm = a.attach_pb(vm_req("br", "vm1")).unwrap();
    assert_eq!(vm.record.host_ifname, "fn-vm1-0");
    assert_eq!(vm.address.to_string(), "10.88.0.3/16");
    let mac = vm.record.vm.unwrap().mac;
    let s = a.dataplane().lock();
    assert_eq!(
        s.attachments["fn-vm1-0"].bridge.as_deref(),
        Some("weft-br0")
    );
    let ports = s.firewall[0].bridge_ports.as_ref().unwrap();
    let port = ports.ports.iter().find(|p| p.ifname == "fn-vm1-0").unwrap();
    assert_eq!(port.mac, mac, "the TAP port is pinned to the guest's MAC");
    assert_eq!(port.ip.to_string(), "10.88.0.3");
    // One responder on the bridge, for the VM only (the container has no
    // DHCP client to answer).
    assert_eq!(s.dhcp.keys().collect::<Vec<_>>(), ["weft-br0"]);
    assert_eq!(s.dhcp["weft-br0"].len(), 1);
    assert_eq!(s.dhcp["weft-br0"][0].mac, mac);
    assert_eq!(s.dhcp["weft-br0"][0].address.to_string(), "10.88.0.3/16");
}

#[test]
fn a_mac_collision_is_rederived_with_a_salt() {
    let mut a = agent();
    a.add_network_pb(bridge_net()).unwrap();
    // A container whose derived bridge MAC happens to be vm1's first
    // choice: simulated by recording a VM with that MAC first.
    let first = a.attach_pb(vm_req("br", "vm1")).unwrap();
    a.detach("br", "vm1").unwrap();
    let taken = first.record.vm.unwrap().mac;
    a.store()
        .insert_attachment(&crate::records::AttachmentRecord {
            workload_id: "squatter".into(),
            host_ifname: "fn-squat".into(),
            ip: "10.88.0.50".parse().unwrap(),
            ..first.record.clone()
        })
        .unwrap();
    let again = a.attach_pb(vm_req("br", "vm1")).unwrap();
    let mac = again.record.vm.unwrap().mac;
    assert_ne!(mac, taken);
    assert_eq!(mac, naming::vm_mac("vm1", 0, 1));
}

#[test]
fn bad_vm_attachments_change_nothing() {
    let mut a = agent();
    a.add_network_pb(blue()).unwrap();
    a.add_network_pb(red()).unwrap();
    a.attach_pb(attach_req("blue", "c1")).unwrap();
    a.attach_pb(vm_req("blue", "vm1")).unwrap();
    let before = snapshot(&a);
    for (req, want) in [
        (vm_req("red", "c1"), "as a namespace"),
        (
            pb::AttachRequest {
                netns: "/run/netns/c2".into(),
                ..attach_req("red", "vm1")
            },
            "as a VM",
        ),
        (vm_req("blue", "vm1"), "already attached"),
        (vm_req("nope", "vm2"), "network \"nope\" does not exist"),
        (
            pb::AttachRequest {
                tap: "mytap".into(),
                ..vm_req("blue", "vm2")
            },
            "must start with \"w0-\"",
        ),
        (
            pb::AttachRequest {
                tap: "w0-vm1-0".into(),
                ..vm_req("blue", "vm2")
            },
            "TAP name \"w0-vm1-0\" is already used on this host by blue/vm1",
        ),
        (
            pb::AttachRequest {
                queues: 65,
                ..vm_req("blue", "vm2")
            },
            "must be 1 to 64",
        ),
        (
            pb::AttachRequest {
                netns: "/run/netns/c2".into(),
                ..vm_req("blue", "vm2")
            },
            "a VM has no namespace",
        ),
        (
            pb::AttachRequest {
                ifname: "eth3".into(),
                ..vm_req("blue", "vm2")
            },
            "name its TAP with --tap",
        ),
        (
            pb::AttachRequest {
                tap: "w0-x".into(),
                ..attach_req("blue", "c2")
            },
            "only for a VM's NIC",
        ),
    ] {
        let err = a.attach_pb(req).unwrap_err();
        let text = weft_model::error::chain(&err);
        assert!(text.contains(want), "{want:?} not in {text:?}");
        assert_eq!(snapshot(&a), before, "after {text}");
    }
    // The kernel refusing the TAP (a link of that name exists): no record.
    a.dataplane().lock().fail_create_attachment = true;
    assert!(a.attach_pb(vm_req("red", "vm1")).is_err());
    a.dataplane().lock().fail_create_attachment = false;
    assert_eq!(snapshot(&a), before);
}

#[test]
fn detach_removes_the_tap_and_its_lease_and_reconcile_keeps_vms() {
    let mut a = agent();
    a.add_network_pb(blue()).unwrap();
    a.add_network_pb(red()).unwrap();
    a.attach_pb(vm_req("blue", "vm1")).unwrap();
    a.attach_pb(vm_req("red", "vm1")).unwrap();
    {
        // A restart: the TAP of eth1 is gone, and no namespace is there
        // for VMs (they have none to lose).
        let mut s = a.dataplane().lock();
        s.attachments.remove("w1-vm1-1");
        s.dhcp.clear();
        s.namespaces.clear();
    }
    let report = a.reconcile().unwrap();
    assert!(report.attachments_released.is_empty(), "{report:?}");
    assert_eq!(report.attachments_recreated, 1);
    assert_eq!(report.attachments_kept, 1);
    {
        let s = a.dataplane().lock();
        assert_eq!(s.attachments.len(), 2);
        assert_eq!(s.dhcp.len(), 2, "responders back after the restart");
    }
    // A drift pass leaves them alone too.
    let report = a.repair_drift().unwrap();
    assert!(report.released.is_empty(), "{report:?}");

    assert!(a.detach("red", "vm1").unwrap());
    let s = a.dataplane().lock();
    assert_eq!(s.attachments.keys().collect::<Vec<_>>(), ["w0-vm1-0"]);
    assert_eq!(s.dhcp.keys().collect::<Vec<_>>(), ["w0-vm1-0"]);
    drop(s);
    assert!(a.detach("blue", "vm1").unwrap());
    let s = a.dataplane().lock();
    assert!(s.attachments.is_empty() && s.dhcp.is_empty());
    drop(s);
    assert!(a.store().attachments().unwrap().is_empty());
    // The freed address is handed out again.
    let again = a.attach_pb(vm_req("blue", "vm2")).unwrap();
    assert_eq!(again.record.ip.to_string(), "10.42.1.2");
}

#[test]
fn a_container_runtimes_gc_leaves_vms_alone() {
    let mut a = agent();
    a.add_network_pb(blue()).unwrap();
    a.attach_pb(attach_req("blue", "c1")).unwrap();
    a.attach_pb(vm_req("blue", "vm1")).unwrap();
    let released = a.gc("blue", &[]).unwrap();
    assert_eq!(released, ["c1"]);
    assert!(a.store().attachment("blue", "vm1").unwrap().is_some());
}

#[test]
fn a_vm_on_a_vxlan_network_is_a_bridge_port_told_the_shared_gateway() {
    let mut a = agent();
    // A one-host block that is the whole subnet holds the shared gateway.
    a.add_network_pb(pb::AddNetworkRequest {
        name: "red".into(),
        mode: "vxlan".into(),
        subnet: "10.50.0.0/24".into(),
        vni: 100,
        ..Default::default()
    })
    .unwrap();
    let e = weft_model::error::chain(
        &a.attach_pb(pb::AttachRequest {
            ip: "10.50.0.254".into(),
            ..vm_req("red", "vm0")
        })
        .unwrap_err(),
    );
    assert!(e.contains("already in use"), "the gateway is no VM's: {e}");
    a.attach_pb(attach_req("red", "c1")).unwrap();
    let vm = a.attach_pb(vm_req("red", "vm1")).unwrap();
    assert_eq!(vm.record.host_ifname, "fn-vm1-0");
    assert_eq!(vm.address.to_string(), "10.50.0.3/24");
    let mac = vm.record.vm.unwrap().mac;
    let s = a.dataplane().lock();
    assert_eq!(
        s.attachments["fn-vm1-0"].bridge.as_deref(),
        Some("weft-vbr0")
    );
    let ports = s.firewall[0].bridge_ports.as_ref().unwrap();
    let port = ports.ports.iter().find(|p| p.ifname == "fn-vm1-0").unwrap();
    assert_eq!(port.mac, mac, "the TAP port is pinned to the guest's MAC");
    // Answered on the bridge: the gateway every host shares is the router,
    // this host's own address (where its DNS responder listens) the DNS.
    assert_eq!(s.dhcp.keys().collect::<Vec<_>>(), ["weft-vbr0"]);
    let lease = &s.dhcp["weft-vbr0"][0];
    assert_eq!(lease.mac, mac);
    assert_eq!(lease.address.to_string(), "10.50.0.3/24");
    assert_eq!(lease.router.to_string(), "10.50.0.254");
    assert_eq!(
        lease.dns_servers,
        ["10.50.0.1".parse::<std::net::Ipv4Addr>().unwrap()]
    );
    assert_eq!(lease.mtu, 1450);
}
