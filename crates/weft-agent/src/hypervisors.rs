//! What this host offers for running VMs: which hypervisors' executables
//! are on `PATH`, and whether KVM is usable — the input of
//! [`weft_model::vm::choose`] for `hypervisor: auto`.
//!
//! KVM is usable when `/dev/kvm` opens for reading and writing, answers
//! `KVM_GET_API_VERSION` with 12 (the stable API), and the CPU advertises
//! hardware virtualisation (`vmx` or `svm` in `/proc/cpuinfo`, as
//! `kvm-ok` checks). The last test matters inside some VMs: a `/dev/kvm`
//! can be there and answer while the CPU it runs on cannot virtualise, and
//! guests then die with "KVM internal error" at their first unusual
//! instruction. `WEFT_KVM=yes` or `WEFT_KVM=no` overrides the probe for a
//! host where it is wrong.

use std::os::fd::AsRawFd as _;
use std::path::{Path, PathBuf};
use weft_model::vm::{HostVirt, Hypervisor, Kvm};

/// The variable that overrides the KVM probe.
pub const KVM_OVERRIDE: &str = "WEFT_KVM";
/// The stable KVM API's version (`KVM_API_VERSION`).
const KVM_API_VERSION: i32 = 12;

/// `KVM_GET_API_VERSION`: `_IO(KVMIO, 0x00)`, KVMIO 0xAE.
const KVM_GET_API_VERSION: libc::c_ulong = 0xAE00;

/// Probe this host.
pub fn probe() -> HostVirt {
    HostVirt {
        found: Hypervisor::ALL
            .into_iter()
            .map(|h| (h, on_path(h.binary()).map(|p| p.display().to_string())))
            .collect(),
        kvm: kvm(
            std::env::var(KVM_OVERRIDE).ok().as_deref(),
            Path::new("/dev/kvm"),
            Path::new("/proc/cpuinfo"),
        ),
    }
}

/// An executable named `name` in a directory of `PATH`.
fn on_path(name: &str) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt as _;
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| {
            std::fs::metadata(candidate)
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
}

/// Whether KVM is usable: `overridden` (the variable's value) first, then
/// the device and the CPU's flags.
fn kvm(overridden: Option<&str>, device: &Path, cpuinfo: &Path) -> Kvm {
    match overridden {
        Some("yes") => {
            return Kvm::Usable {
                why: format!("{KVM_OVERRIDE}=yes"),
            };
        }
        Some("no") => {
            return Kvm::Unusable {
                why: format!("{KVM_OVERRIDE}=no"),
            };
        }
        Some(other) => {
            return Kvm::Unusable {
                why: format!(
                    "{KVM_OVERRIDE}={} is neither yes nor no",
                    weft_model::error::shown(other)
                ),
            };
        }
        None => {}
    }
    let file = match std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(device)
    {
        Ok(file) => file,
        Err(e) => {
            return Kvm::Unusable {
                why: format!("open {}: {e}", device.display()),
            };
        }
    };
    // SAFETY: KVM_GET_API_VERSION takes no argument and only returns a
    // number; the fd is open for the call.
    let version = unsafe { libc::ioctl(file.as_raw_fd(), KVM_GET_API_VERSION) };
    if version != KVM_API_VERSION {
        return Kvm::Unusable {
            why: format!(
                "{} answers KVM API version {version}, not {KVM_API_VERSION}",
                device.display()
            ),
        };
    }
    match cpu_virtualisation(cpuinfo) {
        Some(flag) => Kvm::Usable {
            why: format!("{} answers, the CPU has {flag}", device.display()),
        },
        None => Kvm::Unusable {
            why: format!(
                "{} answers, but the CPU offers no vmx or svm (nested without hardware virtualisation)",
                device.display()
            ),
        },
    }
}

/// `vmx` (Intel) or `svm` (AMD) among the CPU's flags.
fn cpu_virtualisation(cpuinfo: &Path) -> Option<&'static str> {
    let text = std::fs::read_to_string(cpuinfo).ok()?;
    let flags = text
        .lines()
        .find(|l| l.starts_with("flags"))?
        .split_once(':')?
        .1;
    let has = |f: &str| flags.split_whitespace().any(|x| x == f);
    if has("vmx") {
        Some("vmx")
    } else if has("svm") {
        Some("svm")
    } else {
        None
    }
}

#[cfg(test)]
mod tests;
