//! How `weft up` runs a `kind: vm` service, pure: the hypervisor's command
//! line (QEMU, Cloud Hypervisor) or, for Firecracker, its command line and
//! the API requests that configure and start the machine. The NICs come
//! from `weft vm config` on the service's host, in guest order.

use serde_json::{Value, json};
use weft_mesh::{Accel, Hypervisor, VmPlan};

/// The socket Firecracker serves its API on, in the service's directory.
pub const FIRECRACKER_SOCKET: &str = "firecracker.sock";
/// Where the guest's serial console is written, in the service's directory.
pub const CONSOLE_LOG: &str = "console.log";

/// One request of Firecracker's API.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ApiRequest {
    pub method: String,
    pub path: String,
    pub body: Value,
}

fn put(path: impl Into<String>, body: Value) -> ApiRequest {
    ApiRequest {
        method: "PUT".into(),
        path: path.into(),
        body,
    }
}

/// How the supervisor starts a VM: argv, and (Firecracker) the requests
/// to send its API socket once it listens.
#[derive(Clone, Debug, PartialEq)]
pub struct Launch {
    pub argv: Vec<String>,
    pub api: Option<(String, Vec<ApiRequest>)>,
}

/// The launch of `vm` whose service directory is `dir`. `nic_args` are
/// `weft vm config --hypervisor` arguments (QEMU, Cloud Hypervisor);
/// `nic_requests` its Firecracker requests.
pub fn launch(vm: &VmPlan, dir: &str, nic_args: &[String], nic_requests: &[ApiRequest]) -> Launch {
    let console = format!("{dir}/{CONSOLE_LOG}");
    match vm.hypervisor {
        Hypervisor::Qemu => {
            let mut argv = vec![vm.binary.clone()];
            if vm.accel == Accel::Kvm {
                // KVM where there is one; QEMU falls back to the next.
                argv.extend(["-accel".into(), "kvm".into()]);
            }
            argv.extend([
                "-accel".into(),
                "tcg".into(),
                "-m".into(),
                vm.memory.to_string(),
                "-smp".into(),
                vm.vcpus.to_string(),
                "-nodefaults".into(),
                "-no-reboot".into(),
                "-display".into(),
                "none".into(),
                "-serial".into(),
                format!("file:{console}"),
            ]);
            if let Some(kernel) = &vm.kernel {
                argv.extend(["-kernel".into(), kernel.clone()]);
            }
            if let Some(initrd) = &vm.initrd {
                argv.extend(["-initrd".into(), initrd.clone()]);
            }
            if let Some(cmdline) = &vm.cmdline {
                argv.extend(["-append".into(), cmdline.clone()]);
            }
            if let Some(disk) = &vm.disk {
                argv.extend(["-drive".into(), format!("file={disk},if=virtio,format=raw")]);
            }
            argv.extend(nic_args.iter().cloned());
            Launch { argv, api: None }
        }
        Hypervisor::CloudHypervisor => {
            let mut argv = vec![
                vm.binary.clone(),
                "--cpus".into(),
                format!("boot={}", vm.vcpus),
                "--memory".into(),
                format!("size={}M", vm.memory),
                "--console".into(),
                "off".into(),
                "--serial".into(),
                format!("file={console}"),
            ];
            if let Some(kernel) = &vm.kernel {
                argv.extend(["--kernel".into(), kernel.clone()]);
            }
            if let Some(initrd) = &vm.initrd {
                argv.extend(["--initramfs".into(), initrd.clone()]);
            }
            if let Some(cmdline) = &vm.cmdline {
                argv.extend(["--cmdline".into(), cmdline.clone()]);
            }
            if let Some(disk) = &vm.disk {
                argv.extend(["--disk".into(), format!("path={disk}")]);
            }
            argv.extend(nic_args.iter().cloned());
            Launch { argv, api: None }
        }
        Hypervisor::Firecracker => {
            let socket = format!("{dir}/{FIRECRACKER_SOCKET}");
            let argv = vec![vm.binary.clone(), "--api-sock".into(), socket.clone()];
            let mut requests = vec![put(
                "/machine-config",
                json!({"vcpu_count": vm.vcpus, "mem_size_mib": vm.memory}),
            )];
            let mut boot = json!({"kernel_image_path": vm.kernel.clone().unwrap_or_default()});
            if let Some(cmdline) = &vm.cmdline {
                boot["boot_args"] = json!(cmdline);
            }
            if let Some(initrd) = &vm.initrd {
                boot["initrd_path"] = json!(initrd);
            }
            requests.push(put("/boot-source", boot));
            if let Some(disk) = &vm.disk {
                requests.push(put(
                    "/drives/rootfs",
                    json!({"drive_id": "rootfs", "path_on_host": disk,
                           "is_root_device": true, "is_read_only": false}),
                ));
            }
            requests.extend(nic_requests.iter().cloned());
            requests.push(put("/actions", json!({"action_type": "InstanceStart"})));
            Launch {
                argv,
                api: Some((socket, requests)),
            }
        }
    }
}

/// The files a launch reads on the host, to check before starting it.
pub fn files(vm: &VmPlan) -> Vec<(&'static str, &str)> {
    [
        ("kernel", &vm.kernel),
        ("initrd", &vm.initrd),
        ("disk", &vm.disk),
    ]
    .into_iter()
    .filter_map(|(what, path)| path.as_deref().map(|p| (what, p)))
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vm(hypervisor: Hypervisor) -> VmPlan {
        VmPlan {
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
}
