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
mod tests;
