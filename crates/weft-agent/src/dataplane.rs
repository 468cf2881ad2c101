//! The seam between the agent's bookkeeping and the kernel. Everything
//! privileged the agent does goes through [`Dataplane`]; the Linux
//! implementation lives in `linux/`, an in-memory one in `fake.rs` lets the
//! orchestration be tested without root.

use ipnet::IpNet;
use std::collections::BTreeMap;
use std::net::IpAddr;
use weft_model::{PrivateKey, naming};
use weft_net::NetnsId;
use weft_wg::{DeviceInfo, PeerConfig};

/// Tunnel MTU: 1500 minus WireGuard's worst-case overhead over IPv6 (80).
pub const TUNNEL_MTU: u32 = 1420;

/// MTU on bridge networks, which carry no tunnel.
pub const BRIDGE_MTU: u32 = 1500;

/// What a network's interface must look like on this host.
#[derive(Clone, Debug)]
pub struct NetworkPlan {
    pub name: String,
    pub ifname: String,
    /// The host's address on the network: 10.42.1.1/32 on a WireGuard
    /// interface, the gateway with the subnet's prefix on a bridge, this
    /// host's own address with the subnet's prefix on a VXLAN network's
    /// bridge.
    pub address: IpNet,
    /// The whole network, routed through the interface.
    pub subnet: IpNet,
    pub kind: NetworkKind,
}

#[derive(Clone, Debug)]
pub enum NetworkKind {
    Wireguard {
        private_key: PrivateKey,
        listen_port: u16,
        /// Peers with endpoints resolved; replaces the device's peers.
        peers: Vec<PeerConfig>,
    },
    Bridge,
    /// A bridge (`ifname`) with a VXLAN device as one of its ports.
    Vxlan(VxlanPlan),
}

/// What a VXLAN network needs beyond its bridge.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VxlanPlan {
    /// The VXLAN device, a port of the bridge.
    pub ifname: String,
    pub vni: u32,
    pub port: u16,
    /// Where tunnel packets come from; None: routing picks.
    pub local: Option<IpAddr>,
    /// The interface tunnel packets leave through (the WireGuard interface
    /// when the network runs over one); None: routing picks.
    pub underlay: Option<String>,
    /// MTU of the bridge, the VXLAN device and the workloads' veths.
    pub mtu: u32,
    /// The network's gateway, the same on every host, with the subnet's
    /// prefix; a second address of the bridge.
    pub gateway: IpNet,
    /// Remote VTEPs: one flooding FDB entry each.
    pub remotes: Vec<IpAddr>,
}

/// What one workload's attachment must look like.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AttachmentPlan {
    pub network: String,
    pub workload_id: String,
    pub netns: String,
    /// The namespace identity recorded at attach time; the attachment is only
    /// (re)created in a namespace with this identity.
    pub netns_id: NetnsId,
    pub ifname: String,
    pub host_ifname: String,
    /// The workload's address: a /32 on WireGuard networks (reached through
    /// the host), the subnet's prefix on a bridge (on-link).
    pub address: IpNet,
    pub gateway: IpAddr,
    pub subnet: IpNet,
    pub default_route: bool,
    /// The bridge the host side joins; None on routed networks.
    pub bridge: Option<String>,
    /// The workload interface's MAC on a bridge network (derived, so the
    /// firewall can pin the port to it); the kernel's choice elsewhere.
    pub mac: Option<[u8; 6]>,
    /// MTU of both ends: the tunnel's on WireGuard networks.
    pub mtu: u32,
    /// Set for a VM's NIC: `host_ifname` is then a persistent TAP (made
    /// with this many queue pairs), `mac` the guest's, and there is no
    /// namespace: the guest configures itself (DHCP, `ip=`, cloud-init).
    pub vm: Option<crate::records::VmNic>,
}

impl AttachmentPlan {
    /// The alias weft puts on the host side, marking it as weft's own.
    pub fn alias(&self) -> String {
        naming::attachment_alias(&self.network, &self.workload_id)
    }
}

/// A link in the host namespace that carries a weft alias.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OwnedLink {
    pub name: String,
    pub alias: String,
}

/// An address or route of the host that is not weft's: on a link without
/// weft's alias (the underlay, a container runtime's bridge, ...).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostPrefix {
    /// The address's network (192.168.1.0/24 for 192.168.1.7/24), or the
    /// route's destination.
    pub prefix: IpNet,
    pub ifname: String,
}

impl std::fmt::Display for HostPrefix {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} on {}", self.prefix, self.ifname)
    }
}

/// What the kernel reports about an attachment.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AttachmentState {
    /// MAC of the workload's interface.
    pub mac: String,
    /// MAC of the host side.
    pub host_mac: String,
}

pub type DpResult<T> = Result<T, DataplaneError>;

/// A failed kernel operation: what was being done, and why it failed.
#[derive(Debug, thiserror::Error)]
#[error("{context}")]
pub struct DataplaneError {
    pub context: String,
    #[source]
    pub source: Box<dyn std::error::Error + Send + Sync>,
}

impl DataplaneError {
    pub fn new(
        context: impl Into<String>,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        Self {
            context: context.into(),
            source: source.into(),
        }
    }
}

/// DNS names of one network from one source: label -> addresses.
pub type Records = BTreeMap<String, Vec<IpAddr>>;

/// Where the records of this host's workloads come from.
pub const LOCAL_SOURCE: &str = "local";

/// Where the records a peer's agent serves come from: `peer:<its key>`.
pub const PEER_SOURCE_PREFIX: &str = "peer:";

pub fn peer_source(key: &weft_model::PublicKey) -> String {
    format!("{PEER_SOURCE_PREFIX}{key}")
}

/// Where the records a remote VTEP's agent serves come from:
/// `vtep:<address>`.
pub fn vtep_source(address: &IpAddr) -> String {
    format!("vtep:{address}")
}

/// A network's services on this host: its DNS responder (and the endpoint
/// peers fetch this host's records from), on the host's address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServicesPlan {
    pub network: String,
    pub domain: String,
    pub listen: IpAddr,
    /// Internal networks never forward names upstream.
    pub internal: bool,
}

pub trait Dataplane: Send + Sync {
    /// "kernel" or "userspace".
    fn backend(&self) -> &'static str;

    /// Create the network's interface if missing and make it match the plan:
    /// key, port, peers, MTU, address, up, route. Idempotent.
    fn ensure_network(&self, plan: &NetworkPlan) -> DpResult<()>;

    /// Replace the peers of an existing interface.
    fn set_peers(&self, ifname: &str, peers: &[PeerConfig]) -> DpResult<()>;

    /// Remove the network's interfaces and everything that goes with them.
    /// Idempotent.
    fn remove_network(&self, plan: &NetworkPlan) -> DpResult<()>;

    /// Make the flooding entries of VXLAN device `ifname` exactly one per
    /// address of `remotes`: add what is missing, delete what is not
    /// wanted.
    fn set_fdb(&self, ifname: &str, remotes: &[IpAddr]) -> DpResult<()>;

    /// The MTU of interface `ifname` of the host, or None when there is no
    /// such interface.
    fn link_mtu(&self, ifname: &str) -> DpResult<Option<u32>>;

    /// The interface of the host that carries address `ip`, with its MTU;
    /// None when no interface does.
    fn link_with_address(&self, ip: IpAddr) -> DpResult<Option<(String, u32)>>;

    /// Live WireGuard state of the interface.
    fn network_status(&self, ifname: &str) -> DpResult<DeviceInfo>;

    /// Is the interface there, up and carrying the host's address?
    fn network_present(&self, plan: &NetworkPlan) -> DpResult<bool>;

    /// Can a WireGuard interface listen on UDP `port` (IPv4 and IPv6, all
    /// addresses) in the agent's namespace, or does someone hold it?
    fn udp_port_free(&self, port: u16) -> bool;

    /// The identity of the namespace at `path`, or None if there is none.
    fn netns_id(&self, path: &str) -> Option<NetnsId>;

    /// The namespaces that are the host's, never a workload's: the agent's
    /// own and PID 1's.
    fn host_netns_ids(&self) -> Vec<NetnsId>;

    /// The host's addresses and routes on links that are not weft's; default
    /// routes are left out (every subnet is inside them).
    fn host_prefixes(&self) -> DpResult<Vec<HostPrefix>>;

    /// Create the veth pair and configure both ends (a VM's: the TAP). On
    /// failure nothing of it is left behind.
    fn create_attachment(&self, plan: &AttachmentPlan) -> DpResult<AttachmentState>;

    /// Is the attachment fully in place (both ends, address, routes)?
    fn attachment_state(&self, plan: &AttachmentPlan) -> DpResult<Option<AttachmentState>>;

    /// Remove the veth pair or the TAP (and with it the routes). Idempotent.
    fn remove_attachment(&self, plan: &AttachmentPlan) -> DpResult<()>;

    /// Make the DHCP responders of this host exactly these: one per
    /// interface (a VM's TAP, or a bridge with VMs on it) answering its
    /// leases; a responder on an interface made again since is restarted.
    /// Idempotent.
    fn set_dhcp(&self, plan: crate::vms::DhcpPlan) -> DpResult<()>;

    /// The host namespace's links (with their addresses) and routes, for
    /// the drift check: a few dumps, no change.
    fn observe_host(&self) -> DpResult<crate::drift::HostView>;

    /// Links in the host namespace that carry a weft alias.
    fn owned_links(&self) -> DpResult<Vec<OwnedLink>>;

    /// Delete a link in the host namespace by name. Idempotent.
    fn delete_link(&self, name: &str) -> DpResult<()>;

    /// Make weft's firewall table exactly this (empty: no table).
    /// Returns whether anything had to change.
    fn apply_firewall(&self, networks: &[weft_firewall::NetworkRules]) -> DpResult<bool>;

    /// Start (or keep) the network's DNS responder. Idempotent.
    fn ensure_services(&self, plan: &ServicesPlan) -> DpResult<()>;

    /// Stop the network's services and forget its names. Idempotent.
    fn remove_services(&self, network: &str) -> DpResult<()>;

    /// Replace one source's names in the network's zone.
    fn set_records(&self, network: &str, source: &str, records: Records) -> DpResult<()>;

    /// The addresses one source gives a (lowercase) label in the network's
    /// zone; empty when it gives none (or the network has no zone).
    fn source_addresses(&self, network: &str, source: &str, label: &str) -> Vec<IpAddr>;
}
