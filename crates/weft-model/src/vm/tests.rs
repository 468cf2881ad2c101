use super::*;

fn nic(n: u8, queues: u16) -> GuestNic {
    let (subnet, address, gateway) = match n {
        0 => ("10.42.0.0/16", "10.42.1.2/32", "10.42.1.1"),
        _ => ("10.88.0.0/16", "10.88.0.3/16", "10.88.0.1"),
    };
    GuestNic {
        ifname: format!("eth{n}"),
        tap: format!("w0-vm1-{n}"),
        mac: [0x02, 0xaa, 0, 0, 0, n],
        queues,
        address: address.parse().unwrap(),
        gateway: gateway.parse().unwrap(),
        subnet: subnet.parse().unwrap(),
        default_route: n == 0,
        mtu: if n == 0 { 1420 } else { 1500 },
        dns: vec![gateway.parse().unwrap()],
        domain: "mesh.local".into(),
    }
}

#[test]
fn hypervisor_names_parse_and_print() {
    for h in Hypervisor::ALL {
        assert_eq!(h.as_str().parse::<Hypervisor>(), Ok(h));
    }
    let err = "vmware".parse::<Hypervisor>().unwrap_err();
    assert_eq!(
        err.to_string(),
        "unknown hypervisor \"vmware\" (cloud-hypervisor, firecracker or qemu)"
    );
}

#[test]
fn cloud_hypervisor_gets_one_net_value_per_nic() {
    assert_eq!(
        cloud_hypervisor_args(&[nic(0, 1), nic(1, 2)]),
        [
            "--net",
            "tap=w0-vm1-0,mac=02:aa:00:00:00:00",
            "tap=w0-vm1-1,mac=02:aa:00:00:00:01,num_queues=4",
        ]
    );
    assert!(cloud_hypervisor_args(&[]).is_empty());
}

#[test]
fn firecracker_bodies_have_only_its_fields() {
    let ifaces = firecracker_interfaces(&[nic(0, 1), nic(1, 1)]).unwrap();
    assert_eq!(ifaces[1].path(), "/network-interfaces/eth1");
    let body = serde_json::to_value(&ifaces[0]).unwrap();
    assert_eq!(
        body,
        serde_json::json!({"iface_id": "eth0", "host_dev_name": "w0-vm1-0",
                               "guest_mac": "02:aa:00:00:00:00"})
    );
    let err = firecracker_interfaces(&[nic(0, 2)]).unwrap_err();
    assert!(err.to_string().contains("--queues 1"), "{err}");
    let mut odd = nic(0, 1);
    odd.ifname = "eth-0".into();
    assert!(matches!(
        firecracker_interfaces(&[odd]),
        Err(VmConfigError::FirecrackerId { .. })
    ));
}

#[test]
fn qemu_gets_a_netdev_and_a_device_per_nic() {
    assert_eq!(
        qemu_args(&[nic(0, 1), nic(1, 4)], false),
        [
            "-netdev",
            "tap,id=net0,ifname=w0-vm1-0,script=no,downscript=no",
            "-device",
            "virtio-net-pci,netdev=net0,mac=02:aa:00:00:00:00",
            "-netdev",
            "tap,id=net1,ifname=w0-vm1-1,script=no,downscript=no,queues=4",
            "-device",
            "virtio-net-pci,netdev=net1,mac=02:aa:00:00:00:01,mq=on,vectors=10",
        ]
    );
    assert!(qemu_args(&[nic(0, 1)], true)[1].ends_with(",vhost=on"));
}

#[test]
fn the_kernel_ip_argument_names_the_first_nic() {
    assert_eq!(
        kernel_ip_arg(&[nic(0, 1), nic(1, 1)], "vm1").unwrap(),
        "ip=10.42.1.2::10.42.1.1:255.255.0.0:vm1:eth0:off:10.42.1.1"
    );
    assert_eq!(kernel_ip_arg(&[], "vm1"), None);
}

#[test]
fn cloud_init_routes_the_default_through_the_first_nic_only() {
    let doc = cloud_init_network_config(&[nic(0, 1), nic(1, 1)]);
    assert_eq!(
        doc,
        "version: 2
ethernets:
  eth0:
    match:
      macaddress: \"02:aa:00:00:00:00\"
    set-name: eth0
    addresses: [\"10.42.1.2/32\"]
    mtu: 1420
    routes:
      - to: \"0.0.0.0/0\"
        via: \"10.42.1.1\"
        on-link: true
    nameservers:
      addresses: [\"10.42.1.1\"]
      search: [\"mesh.local\"]
  eth1:
    match:
      macaddress: \"02:aa:00:00:00:01\"
    set-name: eth1
    addresses: [\"10.88.0.3/16\"]
    mtu: 1500
    nameservers:
      addresses: [\"10.88.0.1\"]
      search: [\"mesh.local\"]
"
    );
}

#[test]
fn one_config_holds_every_hypervisors_and_the_guests() {
    let nics = [nic(0, 1), nic(1, 1)];
    let config = VmConfig::new(&nics, "vm1");
    assert_eq!(config.cloud_hypervisor, cloud_hypervisor_args(&nics));
    assert_eq!(config.qemu, qemu_args(&nics, false));
    assert_eq!(config.kernel_ip, kernel_ip_arg(&nics, "vm1"));
    assert_eq!(config.cloud_init, cloud_init_network_config(&nics));
    let paths: Vec<&str> = config.firecracker.iter().map(|r| r.path.as_str()).collect();
    assert_eq!(
        paths,
        ["/network-interfaces/eth0", "/network-interfaces/eth1"]
    );
    assert_eq!(config.firecracker[0].method, "PUT");
    assert_eq!(config.firecracker_error, None);
    // Firecracker cannot open a multi-queue TAP: said, the others kept.
    let config = VmConfig::new(&[nic(0, 2)], "vm1");
    assert!(config.firecracker.is_empty());
    assert!(config.firecracker_error.unwrap().contains("--queues 1"));
    assert!(!config.qemu.is_empty());
}
