//! What the agent keeps: the records of networks, peers and attachments as
//! the store holds them and the rest of the agent reads them.

use crate::dataplane::{BRIDGE_MTU, TUNNEL_MTU, VmNic};
use ipnet::IpNet;
use std::net::IpAddr;
use weft_model::{Mode, PrivateKey, PublicKey, naming};
use weft_net::NetnsId;

#[derive(Clone, Debug, PartialEq)]
pub struct NetworkRecord {
    pub name: String,
    pub mode: Mode,
    /// Names the network's interfaces (wg0, weft-br1, …); unique per mode.
    pub index: u32,
    pub subnet: IpNet,
    pub block: IpNet,
    /// Set for WireGuard networks, None for bridges.
    pub wireguard: Option<WireguardSettings>,
    /// Set for VXLAN networks.
    pub vxlan: Option<VxlanSettings>,
    /// No egress masquerade and no upstream DNS.
    pub internal: bool,
    /// DNS domain of the network's names.
    pub domain: String,
}

impl NetworkRecord {
    /// The network's interface: wg0, wg1, … or weft-br0, …
    pub fn ifname(&self) -> String {
        naming::network_ifname(self.mode, self.index)
    }

    /// The host's address on the network, with the prefix it carries on
    /// the interface.
    pub fn host_address(&self) -> IpNet {
        naming::host_interface_address(self.mode, &self.subnet, &self.block)
    }

    /// The address workloads route through: this host's own address, or on
    /// a VXLAN network the gateway every host carries.
    pub fn gateway(&self) -> IpAddr {
        match self.mode {
            Mode::Vxlan => naming::vxlan_gateway(&self.subnet),
            Mode::Wireguard | Mode::Bridge => naming::host_address(&self.block),
        }
    }

    /// The MTU of the network's interfaces and its workloads' veths.
    pub fn mtu(&self) -> u32 {
        match (&self.vxlan, self.mode) {
            (Some(v), _) => v.mtu,
            (None, Mode::Wireguard) => TUNNEL_MTU,
            (None, _) => BRIDGE_MTU,
        }
    }
}

/// How a VXLAN network reaches the other hosts.
#[derive(Clone, Debug, PartialEq)]
pub struct VxlanSettings {
    /// 1–16777215.
    pub vni: u32,
    /// UDP destination port of the tunnel.
    pub port: u16,
    /// The network's MTU (bridge, VXLAN device, workloads).
    pub mtu: u32,
    pub underlay: Underlay,
}

/// Where a VXLAN network's tunnel endpoint is on this host.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Underlay {
    /// Wherever routing sends the packets, from the address it picks.
    Routed,
    /// From this address (`--local`).
    Local(IpAddr),
    /// Through this interface (`--underlay`).
    Device(String),
    /// Inside WireGuard network `.0` (`--over`): from this host's address
    /// on it, through its interface, so the whole segment is encrypted.
    Over(String),
}

/// A remote tunnel endpoint of a VXLAN network: another host, reached at
/// `address` (on the underlay, or on the WireGuard network the VXLAN
/// network runs over).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VtepRecord {
    pub network: String,
    pub address: IpAddr,
    /// The block of the subnet the host holds, when known: its first
    /// address is where the host answers probes over the overlay.
    pub block: Option<IpNet>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct WireguardSettings {
    pub listen_port: u16,
    pub private_key: PrivateKey,
    /// The key before the last rotation, kept while a peer may still know
    /// only it (`weft network rotate-key`; see `keys.rs`).
    pub retiring_key: Option<PrivateKey>,
    /// When `private_key` was made (Unix seconds); None for a key made
    /// before weft recorded it.
    pub key_since: Option<i64>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct PeerRecord {
    pub network: String,
    pub public_key: PublicKey,
    /// As the user gave it: `host:port`, resolved when applied.
    pub endpoint: String,
    pub allowed_ips: Vec<IpNet>,
    pub keepalive: u16,
}

#[derive(Clone, Debug, PartialEq)]
pub struct AttachmentRecord {
    pub network: String,
    pub workload_id: String,
    pub name: String,
    pub netns: String,
    /// Identity of the namespace when attached: a path that now names another
    /// namespace means the workload is gone.
    pub netns_id: NetnsId,
    pub ifname: String,
    pub host_ifname: String,
    pub ip: IpAddr,
    pub default_route: bool,
    /// Set for a VM's NIC: then `host_ifname` is its TAP, `ifname` the
    /// NIC's name in the guest, and `netns` is empty (its `netns_id`
    /// zero): a VM's attachment lives until detached, whatever namespace
    /// comes and goes.
    pub vm: Option<VmNic>,
}

impl AttachmentRecord {
    /// Whether the workload is a VM (a TAP) rather than a namespace.
    pub fn is_vm(&self) -> bool {
        self.vm.is_some()
    }
}
