//! The plan: what every host should have, as [`crate::plan()`] computes it.
//! Serializable, so the executor can print it (`--output json`) and keep
//! the last one it applied for the next diff.

use crate::container::{Runtime, Volume};
use crate::schema::{Accel, Hypervisor, HypervisorSpec, Kind, NetworkType, Reach};
use crate::values::Address;
use ipnet::IpNet;
use serde::{Deserialize, Serialize};
use std::net::IpAddr;
use weft_model::PublicKey;

/// The whole desired state of a mesh.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    #[serde(rename = "mesh")]
    pub mesh: String,
    #[serde(rename = "domain")]
    pub domain: String,
    /// In file order.
    #[serde(rename = "networks")]
    pub networks: Vec<NetworkPlan>,
    /// In file order.
    #[serde(rename = "hosts")]
    pub hosts: Vec<HostPlan>,
    /// In file order.
    #[serde(rename = "services")]
    pub services: Vec<ServicePlan>,
    /// Host networks whose key does not exist yet: the agent makes it when
    /// the network is created there; peers that need it are left out of
    /// this plan and come with the next one.
    #[serde(rename = "needs_keys")]
    pub needs_keys: Vec<KeyNeeded>,
}

/// A network, mesh-wide.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkPlan {
    #[serde(rename = "name")]
    pub name: String,
    #[serde(rename = "subnet")]
    pub subnet: IpNet,
    #[serde(rename = "block_prefix")]
    pub block_prefix: u8,
    #[serde(rename = "internal")]
    pub internal: bool,
    /// The hub host in hub-and-spoke mode.
    #[serde(rename = "hub")]
    pub hub: Option<String>,
    /// What this network's DNS responders answer on every host, by name.
    #[serde(rename = "dns")]
    pub dns: Vec<DnsRecord>,
    /// Set for `mode: vxlan`.
    #[serde(rename = "vxlan", default)]
    pub vxlan: Option<VxlanNetworkPlan>,
}

/// A VXLAN network, mesh-wide.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VxlanNetworkPlan {
    #[serde(rename = "vni")]
    pub vni: u32,
    /// The WireGuard network that carries it, if any.
    #[serde(rename = "over")]
    pub over: Option<String>,
}

/// Another host as a VXLAN network's tunnel endpoint: one FDB entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VtepPlan {
    /// The host this VTEP is.
    #[serde(rename = "host")]
    pub host: String,
    /// Its underlay address, or its address on the `over` network.
    #[serde(rename = "address")]
    pub address: IpAddr,
    /// Its block, where it answers probes.
    #[serde(rename = "block")]
    pub block: IpNet,
}

/// `<name>.<domain>` → an address on one network.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct DnsRecord {
    #[serde(rename = "name")]
    pub name: String,
    #[serde(rename = "address")]
    pub address: IpAddr,
}

/// One host and everything on it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostPlan {
    #[serde(rename = "name")]
    pub name: String,
    #[serde(rename = "reach")]
    pub reach: Reach,
    /// The underlay address its peers send to (`None` only for the one
    /// host of a single-host mesh).
    #[serde(rename = "endpoint")]
    pub endpoint: Option<Address>,
    /// In the file's network order.
    #[serde(rename = "networks")]
    pub networks: Vec<HostNetworkPlan>,
}

impl HostPlan {
    pub fn network(&self, name: &str) -> Option<&HostNetworkPlan> {
        self.networks.iter().find(|n| n.network == name)
    }
}

/// A host's part in the network's topology.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Full mesh: peers with every other host.
    Mesh,
    /// Hub-and-spoke, the hub: peers with every spoke and forwards between
    /// them.
    Hub,
    /// Hub-and-spoke, a spoke: peers with the hub only.
    Spoke,
}

/// One network on one host: what `weft network create` and `weft peer add`
/// are given there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostNetworkPlan {
    #[serde(rename = "network")]
    pub network: String,
    #[serde(rename = "subnet")]
    pub subnet: IpNet,
    #[serde(rename = "block")]
    pub block: IpNet,
    /// The host's own address: the first usable one of its block.
    #[serde(rename = "address")]
    pub address: IpAddr,
    #[serde(rename = "listen_port")]
    pub listen_port: u16,
    #[serde(rename = "internal")]
    pub internal: bool,
    #[serde(rename = "role")]
    pub role: Role,
    /// `None` until the agent has made the key (see [`Plan::needs_keys`]).
    #[serde(rename = "public_key", with = "opt_key_b64")]
    pub public_key: Option<PublicKey>,
    /// By host, in file order; peers whose key is not known yet are absent.
    #[serde(rename = "peers")]
    pub peers: Vec<PeerPlan>,
    /// A VXLAN network's: its VNI and carrier (the other fields of a
    /// WireGuard network, port and key, stay 0 and empty).
    #[serde(rename = "vxlan", default)]
    pub vxlan: Option<VxlanNetworkPlan>,
    /// A VXLAN network's other hosts, by host in file order.
    #[serde(rename = "vteps", default)]
    pub vteps: Vec<VtepPlan>,
}

/// Another host as a WireGuard peer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeerPlan {
    /// The host this peer is.
    #[serde(rename = "host")]
    pub host: String,
    #[serde(rename = "public_key", with = "key_b64")]
    pub public_key: PublicKey,
    /// `addr:port` (`[v6]:port`); a DNS name is resolved by the agent.
    #[serde(rename = "endpoint")]
    pub endpoint: String,
    #[serde(rename = "allowed_ips")]
    pub allowed_ips: Vec<IpNet>,
    #[serde(rename = "keepalive")]
    pub keepalive: Option<u16>,
}

/// A service: where it runs and its address on each network.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServicePlan {
    #[serde(rename = "name")]
    pub name: String,
    #[serde(rename = "host")]
    pub host: String,
    /// The attachment id on the agent: `weft.<mesh>.<service>`, so what `up`
    /// attached is known as its own (see [`owned_service`]).
    #[serde(rename = "workload_id")]
    pub workload_id: String,
    #[serde(rename = "kind")]
    pub kind: Kind,
    #[serde(rename = "network_type")]
    pub network_type: NetworkType,
    #[serde(rename = "ports")]
    pub ports: Vec<u16>,
    #[serde(rename = "command")]
    pub command: Option<Vec<String>>,
    /// Where it is reached, in its networks' order: its own address
    /// (`mesh`, `dual`), or its host's (`host`).
    #[serde(rename = "addresses")]
    pub addresses: Vec<ServiceAddress>,
    /// A VM's machine: what its hypervisor boots; `None` for every other
    /// service.
    #[serde(rename = "vm", default, skip_serializing_if = "Option::is_none")]
    pub vm: Option<VmPlan>,
    /// A container run from an image; `None` for every other service (a
    /// container without an image is a namespace only).
    #[serde(rename = "container", default, skip_serializing_if = "Option::is_none")]
    pub container: Option<ContainerPlan>,
}

/// What a runtime runs for a container service. `command` is the
/// service's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContainerPlan {
    #[serde(rename = "image")]
    pub image: String,
    #[serde(rename = "env")]
    pub env: Vec<String>,
    #[serde(rename = "volumes")]
    pub volumes: Vec<Volume>,
    /// As the file says; the executor settles the default on the host
    /// ([`ServicePlan::set_runtime`]) before it diffs, so a plan it applied
    /// always names one.
    #[serde(rename = "runtime")]
    pub runtime: Option<Runtime>,
}

/// What a `vm` service's hypervisor is told to boot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VmPlan {
    /// As the file says: a hypervisor named, or `auto`.
    #[serde(rename = "requested", default)]
    pub requested: HypervisorSpec,
    /// The one that runs it: the file's, or for `auto` the one the
    /// executor found on the host ([`ServicePlan::set_hypervisor`]) before
    /// it diffs, so a plan it applied always names what ran.
    #[serde(rename = "hypervisor")]
    pub hypervisor: Hypervisor,
    /// The executable: the file's `binary`, else the hypervisor's usual name.
    #[serde(rename = "binary")]
    pub binary: String,
    #[serde(rename = "kernel")]
    pub kernel: Option<String>,
    #[serde(rename = "initrd")]
    pub initrd: Option<String>,
    #[serde(rename = "disk")]
    pub disk: Option<String>,
    #[serde(rename = "cmdline")]
    pub cmdline: Option<String>,
    /// MiB.
    #[serde(rename = "memory")]
    pub memory: u32,
    #[serde(rename = "vcpus")]
    pub vcpus: u32,
    #[serde(rename = "accel", default)]
    pub accel: Accel,
}

/// Guest memory when the file gives none, in MiB.
pub const DEFAULT_VM_MEMORY: u32 = 512;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceAddress {
    #[serde(rename = "network")]
    pub network: String,
    #[serde(rename = "address")]
    pub address: IpAddr,
}

/// A host network that has no key yet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyNeeded {
    #[serde(rename = "host")]
    pub host: String,
    #[serde(rename = "network")]
    pub network: String,
}

impl Plan {
    /// Every key known, so every peer is in the plan.
    pub fn is_complete(&self) -> bool {
        self.needs_keys.is_empty()
    }
    pub fn host(&self, name: &str) -> Option<&HostPlan> {
        self.hosts.iter().find(|h| h.name == name)
    }
    pub fn service(&self, name: &str) -> Option<&ServicePlan> {
        self.services.iter().find(|s| s.name == name)
    }
    pub fn network(&self, name: &str) -> Option<&NetworkPlan> {
        self.networks.iter().find(|n| n.name == name)
    }
}

impl ServicePlan {
    /// Does the service get attachments of its own (a namespace, TAPs)?
    pub fn attaches(&self) -> bool {
        self.network_type.has_own_address()
    }

    /// A digest of what running the service depends on besides its
    /// addresses (kind, network type, ports, command; a container's image,
    /// environment, volumes and runtime; a VM's machine). The executor
    /// records it when it starts the service; a change means a restart (a
    /// container is made anew, a VM booted again).
    pub fn fingerprint(&self) -> String {
        let mut canonical = format!(
            "{}|{}|{:?}|{:?}",
            self.kind, self.network_type, self.ports, self.command
        );
        // Only containers from images and VMs add theirs: the fingerprints
        // of other services stay what they always were.
        if let Some(c) = &self.container {
            canonical.push_str(&format!(
                "|{}|{:?}|{:?}|{:?}",
                c.image, c.env, c.volumes, c.runtime
            ));
        }
        if let Some(vm) = &self.vm {
            canonical.push_str(&format!("|{vm:?}"));
        }
        format!("{:016x}", weft_model::naming::fnv1a(canonical.as_bytes()))
    }

    /// The runtime of a container run from an image, once settled.
    pub fn runtime(&self) -> Option<Runtime> {
        self.container.as_ref()?.runtime
    }

    /// Settle the runtime the host gives a container without `runtime:`.
    pub fn set_runtime(&mut self, runtime: Runtime) {
        if let Some(c) = &mut self.container {
            c.runtime = Some(runtime);
        }
    }

    /// Settle a `hypervisor: auto` VM on what its host offers: the chosen
    /// hypervisor, its executable, and KVM or software emulation. A VM
    /// whose file names its hypervisor is left as it is.
    pub fn set_hypervisor(&mut self, hypervisor: Hypervisor, binary: &str, kvm: bool) {
        if let Some(vm) = &mut self.vm
            && vm.requested == HypervisorSpec::Auto
        {
            vm.hypervisor = hypervisor;
            vm.binary = binary.to_owned();
            vm.accel = if kvm { Accel::Kvm } else { Accel::Tcg };
        }
    }
}

/// The attachment id of a mesh's service.
pub fn workload_id(mesh: &str, service: &str) -> String {
    format!("weft.{mesh}.{service}")
}

/// The service an attachment id belongs to, when the mesh made it.
pub fn owned_service<'a>(mesh: &str, workload_id: &'a str) -> Option<&'a str> {
    workload_id
        .strip_prefix("weft.")?
        .strip_prefix(mesh)?
        .strip_prefix('.')
}

/// Public keys as `wg` shows them (base64).
pub(crate) mod key_b64 {
    use serde::{Deserialize, Deserializer, Serializer, de};
    use weft_model::PublicKey;

    pub fn serialize<S: Serializer>(key: &PublicKey, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&key.to_base64())
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<PublicKey, D::Error> {
        PublicKey::from_base64(&String::deserialize(d)?).map_err(de::Error::custom)
    }
}

pub(crate) mod opt_key_b64 {
    use serde::{Deserialize, Deserializer, Serializer, de};
    use weft_model::PublicKey;

    pub fn serialize<S: Serializer>(key: &Option<PublicKey>, s: S) -> Result<S::Ok, S::Error> {
        match key {
            Some(key) => s.serialize_some(&key.to_base64()),
            None => s.serialize_none(),
        }
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<PublicKey>, D::Error> {
        Option::<String>::deserialize(d)?
            .map(|text| PublicKey::from_base64(&text).map_err(de::Error::custom))
            .transpose()
    }
}

#[cfg(test)]
mod tests;
