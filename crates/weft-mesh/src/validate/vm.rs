//! What a mesh file's `vm` services must agree with: a hypervisor,
//! something to boot, sizes within bounds; no other kind takes the VM keys.

use super::{Result, err};
use crate::schema::{Hypervisor, Kind, ServiceSpec};
use weft_model::error::shown;

/// Smallest guest memory accepted, in MiB.
pub const MIN_VM_MEMORY: u32 = 64;
/// Most vCPUs accepted.
pub const MAX_VM_VCPUS: u32 = 64;

/// A `vm` has a hypervisor and something to boot; no other kind takes the
/// VM keys. Paths are absolute: they are read on the service's host.
pub(super) fn check_vm(svc: &ServiceSpec, at: &dyn Fn(&str) -> String) -> Result {
    if svc.kind != Kind::Vm {
        if let Some((key, _)) = svc.vm_keys().into_iter().find(|(_, given)| *given) {
            return err(
                at(key),
                format!("only a vm takes {key}, and this is a {}", svc.kind),
            );
        }
        return Ok(());
    }
    let spec = svc.hypervisor.unwrap_or_default();
    for (key, path) in [
        ("binary", &svc.binary),
        ("kernel", &svc.kernel),
        ("initrd", &svc.initrd),
        ("disk", &svc.disk),
    ] {
        if let Some(path) = path
            && !path.starts_with('/')
        {
            return err(at(key), format!("{} is not an absolute path", shown(path)));
        }
    }
    let Some(hypervisor) = spec.named() else {
        // `auto` may pick any of them: what all of them take, nothing that
        // only one does.
        for (key, given) in [
            ("binary", svc.binary.is_some()),
            ("accel", svc.accel.is_some()),
        ] {
            if given {
                return err(
                    at(key),
                    format!(
                        "{key} goes with a hypervisor named, not auto (hypervisor: qemu, cloud-hypervisor or firecracker)"
                    ),
                );
            }
        }
        if svc.kernel.is_none() {
            return err(
                at("kernel"),
                "a vm with hypervisor auto needs a kernel to boot (Cloud Hypervisor and Firecracker boot one; name hypervisor: qemu to boot a disk alone)",
            );
        }
        return check_vm_size(svc, at);
    };
    let bootable = match hypervisor {
        Hypervisor::Qemu => svc.kernel.is_some() || svc.disk.is_some(),
        Hypervisor::CloudHypervisor | Hypervisor::Firecracker => svc.kernel.is_some(),
    };
    if !bootable {
        return err(
            at("kernel"),
            format!("a {hypervisor} vm needs a kernel to boot"),
        );
    }
    if svc.accel.is_some() && hypervisor != Hypervisor::Qemu {
        return err(
            at("accel"),
            format!("only qemu takes accel, and this is {hypervisor}"),
        );
    }
    check_vm_size(svc, at)
}

/// A VM's memory and vCPUs, within what weft runs.
fn check_vm_size(svc: &ServiceSpec, at: &dyn Fn(&str) -> String) -> Result {
    if let Some(memory) = svc.memory
        && memory < MIN_VM_MEMORY
    {
        return err(
            at("memory"),
            format!("{memory} MiB is too little; give at least {MIN_VM_MEMORY}"),
        );
    }
    if let Some(vcpus) = svc.vcpus
        && !(1..=MAX_VM_VCPUS).contains(&vcpus)
    {
        return err(at("vcpus"), format!("give 1 to {MAX_VM_VCPUS}"));
    }
    Ok(())
}
