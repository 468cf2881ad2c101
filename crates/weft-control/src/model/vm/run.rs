//! A VM the control plane has its host run (`run` of `POST /v1/vms`):
//! the files it boots on that host, its size, and the hypervisor (named,
//! or `auto`: chosen on the host by `weft_model::vm::choose`). Checked at
//! the edge, every error naming its field (`run.memory`); no I/O — the
//! files are the host's, checked there when it starts the VM.

use super::VmError;
use serde::{Deserialize, Serialize};
use weft_model::vm::HypervisorSpec;

/// Guest memory when `run` gives none, in MiB (as `weft up`'s).
pub const DEFAULT_MEMORY: u32 = 512;
/// The least and most memory a VM may ask for, in MiB.
pub const MEMORY_RANGE: (u32, u32) = (16, 1 << 20);
/// The most vCPUs a VM may ask for.
pub const MAX_VCPUS: u32 = 255;
/// The longest path or kernel command line taken.
const MAX_TEXT: usize = 4096;

/// How the VM's host runs it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VmRun {
    pub kernel: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub initrd: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rootfs: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cmdline: Option<String>,
    /// MiB.
    pub memory: u32,
    pub vcpus: u32,
    pub hypervisor: HypervisorSpec,
}

/// `run` as a request gives it, unchecked.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunRequest {
    #[serde(default)]
    pub kernel: Option<String>,
    #[serde(default)]
    pub initrd: Option<String>,
    #[serde(default)]
    pub rootfs: Option<String>,
    #[serde(default)]
    pub cmdline: Option<String>,
    #[serde(default)]
    pub memory: Option<u32>,
    #[serde(default)]
    pub vcpus: Option<u32>,
    #[serde(default)]
    pub hypervisor: Option<String>,
}

/// An absolute path of the host, or the error naming `run.{field}`.
fn path(field: &str, text: &str) -> Result<String, VmError> {
    let field = format!("run.{field}");
    if !text.starts_with('/') {
        return Err(VmError::new(field, text, "not an absolute path"));
    }
    if text.contains(',') {
        return Err(VmError::new(
            field,
            text,
            "has a comma, which QEMU and Cloud Hypervisor read as the end of the path",
        ));
    }
    if text.contains(',') {
        return Err(VmError::new(
            field,
            text,
            "has a comma, which QEMU and Cloud Hypervisor read as the end of the path",
        ));
    }
    if text.len() > MAX_TEXT || text.contains(['\0', '\n']) {
        return Err(VmError::new(
            field,
            text,
            format!("a path of at most {MAX_TEXT} bytes on one line"),
        ));
    }
    Ok(text.to_string())
}

impl RunRequest {
    /// Check every field; the first bad one is named.
    pub fn check(&self) -> Result<VmRun, VmError> {
        let kernel = self
            .kernel
            .as_deref()
            .ok_or_else(|| VmError::new("run.kernel", "", "missing: the kernel the VM boots"))?;
        let kernel = path("kernel", kernel)?;
        let initrd = (self.initrd.as_deref())
            .map(|p| path("initrd", p))
            .transpose()?;
        let rootfs = (self.rootfs.as_deref())
            .map(|p| path("rootfs", p))
            .transpose()?;
        if let Some(line) = &self.cmdline
            && (line.len() > MAX_TEXT || line.contains(['\0', '\n']))
        {
            return Err(VmError::new(
                "run.cmdline",
                line,
                format!("at most {MAX_TEXT} bytes on one line"),
            ));
        }
        let memory = self.memory.unwrap_or(DEFAULT_MEMORY);
        let (least, most) = MEMORY_RANGE;
        if !(least..=most).contains(&memory) {
            return Err(VmError::new(
                "run.memory",
                &memory.to_string(),
                format!("MiB between {least} and {most}"),
            ));
        }
        let vcpus = self.vcpus.unwrap_or(1);
        if !(1..=MAX_VCPUS).contains(&vcpus) {
            return Err(VmError::new(
                "run.vcpus",
                &vcpus.to_string(),
                format!("between 1 and {MAX_VCPUS}"),
            ));
        }
        let hypervisor = match self.hypervisor.as_deref() {
            None => HypervisorSpec::Auto,
            Some(text) => text.parse().map_err(|_| {
                VmError::new(
                    "run.hypervisor",
                    text,
                    "give auto, qemu, cloud-hypervisor or firecracker",
                )
            })?,
        };
        Ok(VmRun {
            kernel,
            initrd,
            rootfs,
            cmdline: self.cmdline.clone(),
            memory,
            vcpus,
            hypervisor,
        })
    }
}

/// How a host says its run of a VM goes (on the report of the VM's first
/// NIC).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunReport {
    /// `starting`, `running`, `exited N`, `killed by signal N`, `failed`.
    pub state: String,
    /// The hypervisor started, and why that one.
    pub hypervisor: String,
    pub why: String,
    /// Why it could not start, when it could not.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub error: String,
}

#[cfg(test)]
mod tests;
