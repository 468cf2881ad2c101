//! What a VM's hypervisor and guest are told about its NICs, pure: the
//! Cloud Hypervisor `--net` values, Firecracker's `PUT
//! /network-interfaces/{id}` bodies, QEMU's `-netdev`/`-device` pairs,
//! the kernel's `ip=` argument and a cloud-init network-config (v2).
//!
//! Each takes the VM's NICs in guest order (`eth0` first) as the agent
//! reports them; nothing here reads the host.

use ipnet::IpNet;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use crate::naming::format_mac;

pub mod choice;
pub use choice::{Choice, HostVirt, HypervisorSpec, Kvm, choose};

/// The hypervisors weft prints NIC configuration for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Hypervisor {
    CloudHypervisor,
    Firecracker,
    Qemu,
}

impl Hypervisor {
    pub const ALL: [Hypervisor; 3] = [
        Hypervisor::CloudHypervisor,
        Hypervisor::Firecracker,
        Hypervisor::Qemu,
    ];

    /// The executable's usual name, found on `PATH`.
    pub fn binary(self) -> &'static str {
        match self {
            Hypervisor::CloudHypervisor => "cloud-hypervisor",
            Hypervisor::Firecracker => "firecracker",
            Hypervisor::Qemu => "qemu-system-x86_64",
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Hypervisor::CloudHypervisor => "cloud-hypervisor",
            Hypervisor::Firecracker => "firecracker",
            Hypervisor::Qemu => "qemu",
        }
    }
}

impl fmt::Display for Hypervisor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Hypervisor {
    type Err = VmConfigError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Hypervisor::ALL
            .into_iter()
            .find(|h| h.as_str() == s)
            .ok_or_else(|| VmConfigError::UnknownHypervisor(crate::error::shown(s)))
    }
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum VmConfigError {
    #[error("unknown hypervisor {0} (cloud-hypervisor, firecracker or qemu)")]
    UnknownHypervisor(String),
    #[error("unknown hypervisor {0} (auto, cloud-hypervisor, firecracker or qemu)")]
    UnknownHypervisorSpec(String),
    #[error(
        "NIC {ifname} has {queues} queue pairs: Firecracker opens its TAP single-queue; attach it with --queues 1"
    )]
    FirecrackerMultiQueue { ifname: String, queues: u16 },
    #[error("NIC {ifname}: {what:?} is not a Firecracker interface id ([A-Za-z0-9_]+)")]
    FirecrackerId { ifname: String, what: String },
}

/// One NIC of a VM, as the agent has it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GuestNic {
    /// Its name in the guest: eth0, eth1, … (also its id for hypervisors).
    pub ifname: String,
    pub tap: String,
    pub mac: [u8; 6],
    /// Queue pairs.
    pub queues: u16,
    /// The guest's address with the prefix it has on the NIC (a /32 on a
    /// routed network, the subnet's prefix on a bridge).
    pub address: IpNet,
    pub gateway: IpAddr,
    /// The network's whole subnet.
    pub subnet: IpNet,
    /// The VM's first NIC: the default route goes through it.
    pub default_route: bool,
    pub mtu: u32,
    pub dns: Vec<IpAddr>,
    pub domain: String,
}

/// Cloud Hypervisor: `--net` and one value per NIC
/// (`tap=…,mac=…[,num_queues=…]`). Its `num_queues` counts RX and TX
/// queues, two per pair, and is left out for one pair (its default).
pub fn cloud_hypervisor_args(nics: &[GuestNic]) -> Vec<String> {
    if nics.is_empty() {
        return vec![];
    }
    let mut args = vec!["--net".to_string()];
    for nic in nics {
        let mut value = format!("tap={},mac={}", nic.tap, format_mac(nic.mac));
        if nic.queues > 1 {
            value.push_str(&format!(",num_queues={}", 2 * u32::from(nic.queues)));
        }
        args.push(value);
    }
    args
}

/// The body of Firecracker's `PUT /network-interfaces/{iface_id}`: only
/// fields its API knows (it refuses unknown ones).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FirecrackerInterface {
    pub iface_id: String,
    pub host_dev_name: String,
    pub guest_mac: String,
}

impl FirecrackerInterface {
    /// The request's path: `/network-interfaces/<iface_id>`.
    pub fn path(&self) -> String {
        format!("/network-interfaces/{}", self.iface_id)
    }
}

/// Firecracker: one interface per NIC, in order, each to be `PUT` before
/// `InstanceStart`. Its NICs are single-queue, so a multi-queue TAP
/// (which it could not open) is an error.
pub fn firecracker_interfaces(
    nics: &[GuestNic],
) -> Result<Vec<FirecrackerInterface>, VmConfigError> {
    nics.iter()
        .map(|nic| {
            if nic.queues > 1 {
                return Err(VmConfigError::FirecrackerMultiQueue {
                    ifname: nic.ifname.clone(),
                    queues: nic.queues,
                });
            }
            let id_ok = !nic.ifname.is_empty()
                && nic
                    .ifname
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_');
            if !id_ok {
                return Err(VmConfigError::FirecrackerId {
                    ifname: nic.ifname.clone(),
                    what: nic.ifname.clone(),
                });
            }
            Ok(FirecrackerInterface {
                iface_id: nic.ifname.clone(),
                host_dev_name: nic.tap.clone(),
                guest_mac: format_mac(nic.mac),
            })
        })
        .collect()
}

/// QEMU: a `-netdev tap` and a `-device virtio-net-pci` per NIC, ids
/// `net0`, `net1`, …. `vhost` adds `vhost=on` (needs /dev/vhost-net and
/// KVM to help). Several queue pairs: `queues=` on the tap and
/// `mq=on,vectors=2N+2` on the device, as QEMU documents.
pub fn qemu_args(nics: &[GuestNic], vhost: bool) -> Vec<String> {
    let mut args = vec![];
    for (n, nic) in nics.iter().enumerate() {
        let id = format!("net{n}");
        let mut netdev = format!("tap,id={id},ifname={},script=no,downscript=no", nic.tap);
        if vhost {
            netdev.push_str(",vhost=on");
        }
        let mut device = format!("virtio-net-pci,netdev={id},mac={}", format_mac(nic.mac));
        if nic.queues > 1 {
            netdev.push_str(&format!(",queues={}", nic.queues));
            device.push_str(&format!(",mq=on,vectors={}", 2 * u32::from(nic.queues) + 2));
        }
        args.extend(["-netdev".to_string(), netdev, "-device".to_string(), device]);
    }
    args
}

/// The kernel's `ip=` argument for the VM's first NIC (the kernel takes
/// one): `ip=<address>::<gateway>:<netmask>:<hostname>:<device>:off:<dns>`.
/// The netmask is the subnet's, so the kernel accepts the gateway as
/// on-link; on a routed network the host answers ARP for the subnet's
/// other addresses (proxy ARP on the TAP). Needs a kernel built with
/// `CONFIG_IP_PNP` (Firecracker's guest kernels; not Debian's).
pub fn kernel_ip_arg(nics: &[GuestNic], hostname: &str) -> Option<String> {
    let nic = nics.iter().find(|n| n.default_route).or(nics.first())?;
    let IpAddr::V4(address) = nic.address.addr() else {
        return None;
    };
    let mask = match nic.subnet {
        IpNet::V4(subnet) => subnet.netmask(),
        IpNet::V6(_) => return None,
    };
    let dns = nic
        .dns
        .iter()
        .find(|a| a.is_ipv4())
        .map(ToString::to_string)
        .unwrap_or_default();
    Some(format!(
        "ip={address}::{}:{mask}:{hostname}:{}:off:{dns}",
        nic.gateway, nic.ifname
    ))
}

/// A cloud-init network-config, version 2 (netplan's format), as YAML:
/// each NIC matched by its MAC and named, its address, MTU, routes (the
/// gateway on-link; the default route on the first NIC only, the network
/// on the others) and resolver.
pub fn cloud_init_network_config(nics: &[GuestNic]) -> String {
    let mut out = String::from("version: 2\nethernets:\n");
    for nic in nics {
        let mac = format_mac(nic.mac);
        out.push_str(&format!(
            "  {name}:\n    match:\n      macaddress: \"{mac}\"\n    set-name: {name}\n    addresses: [\"{address}\"]\n    mtu: {mtu}\n",
            name = nic.ifname,
            address = nic.address,
            mtu = nic.mtu,
        ));
        let destination = if nic.default_route {
            Some(if nic.gateway.is_ipv4() {
                "0.0.0.0/0".to_string()
            } else {
                "::/0".to_string()
            })
        } else if nic.address.prefix_len() == nic.address.max_prefix_len() {
            Some(nic.subnet.to_string())
        } else {
            None
        };
        if let Some(to) = destination {
            out.push_str(&format!(
                "    routes:\n      - to: \"{to}\"\n        via: \"{}\"\n        on-link: true\n",
                nic.gateway
            ));
        }
        if !nic.dns.is_empty() || !nic.domain.is_empty() {
            out.push_str("    nameservers:\n");
            if !nic.dns.is_empty() {
                let list: Vec<String> = nic.dns.iter().map(|a| format!("\"{a}\"")).collect();
                out.push_str(&format!("      addresses: [{}]\n", list.join(", ")));
            }
            if !nic.domain.is_empty() {
                out.push_str(&format!("      search: [\"{}\"]\n", nic.domain));
            }
        }
    }
    out
}

/// One of Firecracker's requests, as `weft vm config` and the control
/// plane's `GET /v1/vms/{vm}` show it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FirecrackerRequest {
    pub method: &'static str,
    pub path: String,
    pub body: FirecrackerInterface,
}

impl From<FirecrackerInterface> for FirecrackerRequest {
    fn from(body: FirecrackerInterface) -> FirecrackerRequest {
        FirecrackerRequest {
            method: "PUT",
            path: body.path(),
            body,
        }
    }
}

/// A VM's NIC configuration for each hypervisor and for its guest, all
/// at once: what `weft vm config` prints one of.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct VmConfig {
    /// Cloud Hypervisor's arguments ([`cloud_hypervisor_args`]).
    pub cloud_hypervisor: Vec<String>,
    /// Firecracker's requests ([`firecracker_interfaces`]); empty with
    /// `firecracker_error` set when it cannot take these NICs.
    pub firecracker: Vec<FirecrackerRequest>,
    pub firecracker_error: Option<String>,
    /// QEMU's arguments, without vhost ([`qemu_args`]).
    pub qemu: Vec<String>,
    /// The kernel's `ip=` ([`kernel_ip_arg`]).
    pub kernel_ip: Option<String>,
    /// A cloud-init network-config ([`cloud_init_network_config`]).
    pub cloud_init: String,
}

impl VmConfig {
    /// For `nics` in guest order, the guest named `hostname`.
    pub fn new(nics: &[GuestNic], hostname: &str) -> VmConfig {
        let (firecracker, firecracker_error) = match firecracker_interfaces(nics) {
            Ok(list) => (list.into_iter().map(Into::into).collect(), None),
            Err(e) => (vec![], Some(e.to_string())),
        };
        VmConfig {
            cloud_hypervisor: cloud_hypervisor_args(nics),
            firecracker,
            firecracker_error,
            qemu: qemu_args(nics, false),
            kernel_ip: kernel_ip_arg(nics, hostname),
            cloud_init: cloud_init_network_config(nics),
        }
    }
}

#[cfg(test)]
mod tests;
