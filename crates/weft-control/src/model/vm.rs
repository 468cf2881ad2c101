//! VMs a tenant places on its hosts, by their NICs: each NIC a network
//! of the tenant the VM's host is in, made on that host as `weft attach
//! NETWORK --vm ID` makes it (a TAP, a MAC, an address from the host's
//! block, answered by the host's DHCP responder). What the host made of
//! them comes back in its reports ([`ReportedNic`]). Checked at the edge;
//! no I/O.

use super::{HostBlock, HostId, Network, TenantId, validate_label};
use ipnet::IpNet;
use serde::{Deserialize, Serialize};
use std::net::IpAddr;
use weft_model::ModelError;
use weft_model::vm::GuestNic;

mod run;
pub use run::{RunReport, RunRequest, VmRun};

/// At most this many NICs on one VM (hypervisors take a few dozen PCI
/// devices; `eth0` … `eth31` is plenty).
pub const MAX_NICS: usize = 32;

/// One NIC as asked for: the network, and an address of the host's block
/// there (`None`: the lowest free one).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VmNicSpec {
    pub network: String,
    pub ip: Option<IpAddr>,
}

/// A VM as a tenant asks for it, checked.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct VmSpec {
    /// Unique among the tenant's VMs; also its workload id and DNS name
    /// on the host (a DNS label).
    pub id: String,
    pub host: HostId,
    /// In guest order: the first is `eth0`, with the default route.
    pub nics: Vec<VmNicSpec>,
    /// Run by its host (`run`), or only its NICs made.
    pub run: Option<VmRun>,
}

/// A VM's id: a DNS label, named `id` in errors.
pub fn validate_vm_id(id: &str) -> Result<(), ModelError> {
    validate_label("id", id)
}

impl VmNicSpec {
    /// Check one NIC of a request; errors name `field` (`nics[1].network`).
    pub fn new(field: &str, network: &str, ip: Option<&str>) -> Result<VmNicSpec, VmError> {
        weft_model::names::validate_network_name(network)
            .map_err(|_| VmError::new(format!("{field}.network"), network, "not a network name"))?;
        let ip = match ip {
            None => None,
            Some(text) => Some(
                text.parse::<IpAddr>()
                    .map_err(|_| VmError::new(format!("{field}.ip"), text, "not an IP address"))?,
            ),
        };
        Ok(VmNicSpec {
            network: network.to_string(),
            ip,
        })
    }
}

/// A field of a VM request that cannot be accepted. Like
/// [`ModelError`], but the field's name is made per request
/// (`nics[1].ip`).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid {field} {value}: {why}")]
pub struct VmError {
    pub field: String,
    /// As shown (`weft_model::error::shown`): quoted and cut.
    pub value: String,
    pub why: String,
}

impl VmError {
    pub fn new(field: impl Into<String>, value: &str, why: impl Into<String>) -> VmError {
        VmError {
            field: field.into(),
            value: weft_model::error::shown(value),
            why: why.into(),
        }
    }
}

impl From<ModelError> for VmError {
    fn from(err: ModelError) -> VmError {
        match err {
            ModelError::Invalid { field, value, why } => VmError {
                field: field.into(),
                value,
                why,
            },
            other => VmError {
                field: "nics".into(),
                value: String::new(),
                why: other.to_string(),
            },
        }
    }
}

impl VmSpec {
    /// Check a request's fields; each error names its field.
    pub fn new(id: &str, host: HostId, nics: Vec<VmNicSpec>) -> Result<VmSpec, VmError> {
        validate_vm_id(id)?;
        check_nics(&nics)?;
        Ok(VmSpec {
            id: id.to_string(),
            host,
            nics,
            run: None,
        })
    }

    /// The VM run by its host as `run` says; one that runs needs a NIC.
    pub fn with_run(self, run: Option<VmRun>) -> Result<VmSpec, VmError> {
        if run.is_some() && self.nics.is_empty() {
            return Err(VmError::new(
                "run",
                "",
                "a VM its host runs needs at least one NIC (nics)",
            ));
        }
        Ok(VmSpec { run, ..self })
    }
}

/// At most [`MAX_NICS`], one per network.
pub fn check_nics(nics: &[VmNicSpec]) -> Result<(), VmError> {
    if nics.len() > MAX_NICS {
        return Err(VmError::new(
            "nics",
            &nics.len().to_string(),
            format!("at most {MAX_NICS} NICs"),
        ));
    }
    for (n, nic) in nics.iter().enumerate() {
        if nics[..n].iter().any(|o| o.network == nic.network) {
            return Err(VmError::new(
                format!("nics[{n}].network"),
                &nic.network,
                "the VM has a NIC on this network already (one per network)",
            ));
        }
    }
    Ok(())
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Vm {
    pub tenant: TenantId,
    #[serde(flatten)]
    pub spec: VmSpec,
    pub created_at: i64,
}

/// What a host made of one NIC of a VM, as it reported it: what `weft vm
/// config` reads from the agent's attachment.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportedNic {
    pub vm: String,
    pub network: String,
    /// In the guest: eth0, eth1, …
    pub ifname: String,
    pub tap: String,
    pub mac: String,
    /// With its prefix on the NIC.
    pub address: IpNet,
    pub gateway: IpAddr,
    pub subnet: IpNet,
    pub mtu: u32,
    pub dns: Vec<IpAddr>,
    pub domain: String,
    pub default_route: bool,
    pub queues: u16,
    /// On the VM's first NIC, when its host runs it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run: Option<RunReport>,
}

impl ReportedNic {
    /// The NIC as the hypervisor configuration takes it; `None` when its
    /// MAC is unreadable.
    pub fn guest(&self) -> Option<GuestNic> {
        Some(GuestNic {
            ifname: self.ifname.clone(),
            tap: self.tap.clone(),
            mac: weft_model::naming::parse_mac(&self.mac)?,
            queues: self.queues.max(1),
            address: self.address,
            gateway: self.gateway,
            subnet: self.subnet,
            default_route: self.default_route,
            mtu: self.mtu,
            dns: self.dns.clone(),
            domain: self.domain.clone(),
        })
    }
}

/// Why a VM's NICs cannot be had on its host, if they cannot: each
/// network must be one of the tenant's (`networks`) with a block of the
/// host (`blocks`: the host's), an address asked for must lie in that
/// block. `first`: the index of `nics[0]` among the VM's NICs.
pub fn check_placement(
    nics: &[VmNicSpec],
    first: usize,
    networks: &[Network],
    blocks: &[HostBlock],
) -> Result<(), VmError> {
    for (n, nic) in nics.iter().enumerate() {
        let field = |f: &str| format!("nics[{}].{f}", first + n);
        if !networks.iter().any(|net| net.spec.name == nic.network) {
            return Err(VmError::new(
                field("network"),
                &nic.network,
                "not a network of this tenant",
            ));
        }
        let Some(block) = blocks.iter().find(|b| b.network == nic.network) else {
            return Err(VmError::new(
                field("network"),
                &nic.network,
                "the VM's host is not in this network",
            ));
        };
        if let Some(ip) = nic.ip
            && !block.block.contains(&ip)
        {
            return Err(VmError::new(
                field("ip"),
                &ip.to_string(),
                format!("not in the host's block {} of the network", block.block),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
