//! The seam between the agent's bookkeeping and the kernel. Everything
//! privileged the agent does goes through [`Dataplane`]; the Linux
//! implementation lives in `linux/`, an in-memory one in `fake.rs` lets the
//! orchestration be tested without root.
//!
//! The seam owns every type its signatures mention and depends on nothing
//! else of the agent, only on lower crates: `plan.rs` holds what the kernel
//! must hold (networks, attachments, a VM's NIC), `host.rs` what is read
//! back from the host (for the drift check too), `services.rs` the DNS and
//! DHCP services run for workloads. The agent's records and planning import
//! from here, never the other way, so `linux/` and `fake.rs` need nothing
//! but this module.

mod host;
mod plan;
mod services;

pub use host::{AttachmentState, HostPrefix, HostView, LinkView, OwnedLink};
pub use plan::{
    AttachmentPlan, BRIDGE_MTU, NetworkKind, NetworkPlan, TUNNEL_MTU, VmNic, VxlanPlan,
};
pub use services::{
    DNS_PORT, DhcpPlan, LOCAL_SOURCE, PEER_SOURCE_PREFIX, RECORDS_PORT, Records, ServicesPlan,
    peer_source, vtep_source,
};

use std::net::IpAddr;
use weft_net::NetnsId;
use weft_wg::{DeviceInfo, PeerConfig};

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
    fn set_dhcp(&self, plan: DhcpPlan) -> DpResult<()>;

    /// The host namespace's links (with their addresses) and routes, for
    /// the drift check: a few dumps, no change.
    fn observe_host(&self) -> DpResult<HostView>;

    /// Links in the host namespace that carry a weft alias.
    fn owned_links(&self) -> DpResult<Vec<OwnedLink>>;

    /// Delete a link in the host namespace by name. Idempotent.
    fn delete_link(&self, name: &str) -> DpResult<()>;

    /// Make weft's firewall table exactly this (empty: no table).
    /// Returns whether anything had to change.
    fn apply_firewall(&self, networks: &[weft_firewall::NetworkRules]) -> DpResult<bool>;

    /// An attach or detach on a bridge network: make the pins of the
    /// bridge ports (each held to its workload's MAC and address) what
    /// `networks` say, sending only the ports that changed. Nothing else
    /// of the firewall is checked: the next [`Dataplane::apply_firewall`]
    /// (the drift pass) finds any hand edit.
    fn apply_bridge_ports(&self, networks: &[weft_firewall::NetworkRules]) -> DpResult<()>;

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
