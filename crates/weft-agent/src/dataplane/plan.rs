//! What the kernel must hold: a network's interfaces ([`NetworkPlan`]) and
//! a workload's attachment ([`AttachmentPlan`], with [`VmNic`] for a VM's
//! TAP). `plan.rs` of the agent makes these from its records; the data
//! plane makes the kernel match them.

use ipnet::IpNet;
use std::net::IpAddr;
use weft_model::{PrivateKey, naming};
use weft_net::NetnsId;
use weft_wg::PeerConfig;

/// Tunnel MTU: 1500 minus WireGuard's worst-case overhead over IPv6 (80).
pub const TUNNEL_MTU: u32 = weft_model::network::WIREGUARD_MTU;

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
        /// The key before a rotation, still answered while a peer may know
        /// only it (the userspace engine; the kernel module has one key).
        retiring_key: Option<PrivateKey>,
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
    pub vm: Option<VmNic>,
}

impl AttachmentPlan {
    /// The alias weft puts on the host side, marking it as weft's own.
    pub fn alias(&self) -> String {
        naming::attachment_alias(&self.network, &self.workload_id)
    }
}

/// What a VM's NIC adds to its attachment (and to its record: the store
/// keeps it as the data plane takes it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VmNic {
    /// The guest NIC's MAC, derived from the VM id and the NIC's number
    /// (see `weft_model::naming::vm_mac`) and recorded, so a salt taken on
    /// a collision stays.
    pub mac: [u8; 6],
    /// Queue pairs; more than one makes the TAP multi-queue.
    pub queues: u16,
}

impl VmNic {
    /// The namespace identity a VM's record carries: none.
    pub const NO_NETNS: NetnsId = NetnsId { dev: 0, ino: 0 };
}
