//! What the agent keeps: the records of networks, peers and attachments as
//! the store holds them and the rest of the agent reads them.

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
}

#[derive(Clone, Debug, PartialEq)]
pub struct WireguardSettings {
    pub listen_port: u16,
    pub private_key: PrivateKey,
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

/// What a VM's NIC adds to its attachment.
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
