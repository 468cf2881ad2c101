//! Which hypervisor runs a VM when none is named (`hypervisor: auto`),
//! pure: what a host offers goes in ([`HostVirt`], probed by the agent's
//! `hypervisors` module), the choice and every reason come out.
//!
//! The order: Cloud Hypervisor when its binary is found and KVM is
//! usable, else Firecracker under the same test (both need KVM), else
//! QEMU — with KVM when usable, else software emulation (TCG). A host
//! with none of them has no choice, and says why for each.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

use super::{Hypervisor, VmConfigError};

/// A hypervisor named, or `auto`: chosen on the VM's host.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum HypervisorSpec {
    #[default]
    Auto,
    Named(Hypervisor),
}

impl HypervisorSpec {
    pub fn named(self) -> Option<Hypervisor> {
        match self {
            HypervisorSpec::Auto => None,
            HypervisorSpec::Named(h) => Some(h),
        }
    }
}

impl fmt::Display for HypervisorSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HypervisorSpec::Auto => f.write_str("auto"),
            HypervisorSpec::Named(h) => h.fmt(f),
        }
    }
}

impl FromStr for HypervisorSpec {
    type Err = VmConfigError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s == "auto" {
            return Ok(HypervisorSpec::Auto);
        }
        s.parse()
            .map(HypervisorSpec::Named)
            .map_err(|_| VmConfigError::UnknownHypervisorSpec(crate::error::shown(s)))
    }
}

impl Serialize for HypervisorSpec {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for HypervisorSpec {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// Whether a host can run guests with KVM, and how that was decided.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "kebab-case")]
pub enum Kvm {
    Usable { why: String },
    Unusable { why: String },
}

impl Kvm {
    pub fn usable(&self) -> bool {
        matches!(self, Kvm::Usable { .. })
    }

    pub fn why(&self) -> &str {
        match self {
            Kvm::Usable { why } | Kvm::Unusable { why } => why,
        }
    }
}

/// What a host offers for running VMs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostVirt {
    /// Each hypervisor's executable where found (on `PATH`), in
    /// [`Hypervisor::ALL`]'s order.
    pub found: Vec<(Hypervisor, Option<String>)>,
    pub kvm: Kvm,
}

impl HostVirt {
    fn path(&self, h: Hypervisor) -> Option<&str> {
        self.found
            .iter()
            .find(|(f, _)| *f == h)
            .and_then(|(_, path)| path.as_deref())
    }
}

/// One hypervisor as the choice saw it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Considered {
    pub hypervisor: Hypervisor,
    pub path: Option<String>,
    pub chosen: bool,
    /// Why it was chosen, or why not.
    pub why: String,
}

/// The choice for `auto` on one host.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Choice {
    /// `None` when the host has no hypervisor weft can run.
    pub hypervisor: Option<Hypervisor>,
    /// The executable of the chosen one.
    pub binary: Option<String>,
    /// Whether the chosen one runs the guest with KVM (QEMU without it
    /// emulates: TCG).
    pub kvm: bool,
    pub kvm_why: String,
    pub considered: Vec<Considered>,
}

impl Choice {
    /// One line for people: `qemu (TCG: KVM not usable: …)`.
    pub fn summary(&self) -> String {
        match self.hypervisor {
            None => "no hypervisor weft can run".into(),
            Some(Hypervisor::Qemu) if !self.kvm => {
                format!("qemu (TCG: KVM not usable: {})", self.kvm_why)
            }
            Some(h) => format!("{h} (KVM)"),
        }
    }
}

/// The hypervisor `auto` picks on a host offering `host`.
pub fn choose(host: &HostVirt) -> Choice {
    let kvm = host.kvm.usable();
    let mut chosen: Option<Hypervisor> = None;
    let mut considered = Vec::new();
    for h in Hypervisor::ALL {
        let path = host.path(h).map(str::to_owned);
        let needs_kvm = h != Hypervisor::Qemu;
        let why = match (&path, chosen) {
            (None, _) => format!("{} not found on PATH", h.binary()),
            (Some(_), Some(first)) => format!("{first} comes first"),
            (Some(_), None) if needs_kvm && !kvm => {
                format!("needs KVM, which is not usable: {}", host.kvm.why())
            }
            (Some(_), None) if needs_kvm => "found, and KVM is usable".into(),
            (Some(_), None) if kvm => "found; runs the guest with KVM".into(),
            (Some(_), None) => format!(
                "found; emulates the guest (TCG) as KVM is not usable: {}",
                host.kvm.why()
            ),
        };
        let this = path.is_some() && chosen.is_none() && (!needs_kvm || kvm);
        if this {
            chosen = Some(h);
        }
        considered.push(Considered {
            hypervisor: h,
            path,
            chosen: this,
            why,
        });
    }
    Choice {
        hypervisor: chosen,
        binary: chosen.and_then(|h| host.path(h).map(str::to_owned)),
        kvm,
        kvm_why: host.kvm.why().to_owned(),
        considered,
    }
}

#[cfg(test)]
mod tests;
