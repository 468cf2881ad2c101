use super::*;

fn vm(hypervisor: Hypervisor) -> VmPlan {
    VmPlan {
        requested: weft_mesh::HypervisorSpec::Named(hypervisor),
        hypervisor,
        binary: hypervisor.binary().into(),
        kernel: Some("/k/vmlinux".into()),
        initrd: None,
        disk: Some("/k/rootfs.ext4".into()),
        cmdline: Some("console=ttyS0".into()),
        memory: 256,
        vcpus: 2,
        accel: Accel::Kvm,
    }
}

#[test]
fn qemu_and_cloud_hypervisor_get_one_command_line() {
    let nics = [
        "--net".to_string(),
        "tap=w0-a-0,mac=02:00:00:00:00:01".to_string(),
    ];
    let ch = launch(&vm(Hypervisor::CloudHypervisor), "/s", &nics, &[]);
    assert_eq!(
        ch.argv.join(" "),
        "cloud-hypervisor --cpus boot=2 --memory size=256M --console off \
             --serial file=/s/console.log --kernel /k/vmlinux --cmdline console=ttyS0 \
             --disk path=/k/rootfs.ext4 --net tap=w0-a-0,mac=02:00:00:00:00:01"
    );
    assert!(ch.api.is_none());
    let q = launch(
        &vm(Hypervisor::Qemu),
        "/s",
        &["-netdev".into(), "tap,id=net0".into()],
        &[],
    );
    assert_eq!(
        q.argv.join(" "),
        "qemu-system-x86_64 -accel kvm -accel tcg -m 256 -smp 2 -nodefaults -no-reboot \
             -display none -serial file:/s/console.log -kernel /k/vmlinux -append console=ttyS0 \
             -drive file=/k/rootfs.ext4,if=virtio,format=raw -netdev tap,id=net0"
    );
    let tcg = VmPlan {
        accel: Accel::Tcg,
        ..vm(Hypervisor::Qemu)
    };
    assert_eq!(launch(&tcg, "/s", &[], &[]).argv[1..3], ["-accel", "tcg"]);
}

#[test]
fn firecracker_is_configured_through_its_socket_in_order() {
    let nic = put(
        "/network-interfaces/eth0",
        json!({"iface_id": "eth0", "host_dev_name": "w0-a-0", "guest_mac": "02:00:00:00:00:01"}),
    );
    let fc = launch(
        &vm(Hypervisor::Firecracker),
        "/s",
        &[],
        std::slice::from_ref(&nic),
    );
    assert_eq!(
        fc.argv,
        ["firecracker", "--api-sock", "/s/firecracker.sock"]
    );
    let (socket, requests) = fc.api.unwrap();
    assert_eq!(socket, "/s/firecracker.sock");
    let paths: Vec<&str> = requests.iter().map(|r| r.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "/machine-config",
            "/boot-source",
            "/drives/rootfs",
            "/network-interfaces/eth0",
            "/actions"
        ]
    );
    assert!(requests.iter().all(|r| r.method == "PUT"));
    assert_eq!(
        requests[0].body,
        json!({"vcpu_count": 2, "mem_size_mib": 256})
    );
    assert_eq!(
        requests[1].body,
        json!({"kernel_image_path": "/k/vmlinux", "boot_args": "console=ttyS0"})
    );
    assert_eq!(requests[3], nic);
    assert_eq!(requests[4].body, json!({"action_type": "InstanceStart"}));
    assert_eq!(
        files(&vm(Hypervisor::Firecracker)),
        [("kernel", "/k/vmlinux"), ("disk", "/k/rootfs.ext4")]
    );
}
