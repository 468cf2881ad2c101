//! What `up` and `down` do, as data: one [`Action`] per change on a host,
//! [`HostChanges`] in the order to run them, [`Changes`] for the whole
//! mesh. Made by [`crate::diff()`] and [`crate::teardown`], carried out by
//! the executor, printed for people, and taken back when a run fails
//! half-way ([`Action::inverse`], [`Action::restoring`]).

use crate::container::Runtime;
use crate::plan::{DnsRecord, KeyNeeded, PeerPlan, ServicePlan, VtepPlan, VxlanNetworkPlan};
use ipnet::IpNet;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::net::IpAddr;
use weft_model::PublicKey;

mod undo;

/// One change on one host. Within a host, actions are ordered so each one
/// can run when its turn comes: stops and removals first, then creations,
/// peers, DNS, attachments and starts (see [`Action::phase`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Action {
    /// Stop the service and remove its namespace (or container, or VM).
    StopService { service: String },
    /// `weft detach NETWORK --id ID`.
    Detach {
        network: String,
        workload_id: String,
    },
    /// `weft peer rm NETWORK --public-key K`.
    RemovePeer {
        network: String,
        #[serde(with = "crate::plan::key_b64")]
        public_key: PublicKey,
    },
    /// `weft peer rm NETWORK --endpoint ADDRESS` (a VXLAN network's VTEP).
    RemoveVtep { network: String, address: IpAddr },
    /// `weft network rm NETWORK --force`.
    RemoveNetwork { network: String },
    /// `weft network create NETWORK --subnet --block --listen-port` (the
    /// agent makes the key pair; its public key comes with the next
    /// observation).
    CreateNetwork {
        network: String,
        subnet: IpNet,
        block: IpNet,
        listen_port: u16,
        internal: bool,
        /// A VXLAN network's VNI and carrier (`--mode vxlan --vni --over`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        vxlan: Option<VxlanNetworkPlan>,
    },
    /// `weft peer add NETWORK --endpoint ADDRESS --allowed-ips BLOCK` for
    /// a VXLAN network's VTEP the host does not have (or has otherwise).
    AddVtep { network: String, vtep: VtepPlan },
    /// `weft peer add NETWORK …` for a peer the host does not have.
    AddPeer { network: String, peer: PeerPlan },
    /// `weft peer add NETWORK …` replacing a peer that differs.
    UpdatePeer { network: String, peer: PeerPlan },
    /// `weft peer add NETWORK … --replaces OLD`: a host that rotated its
    /// key (`weft network rotate-key`) is the same peer under a new key;
    /// the agent swaps them in one change, so the host's blocks are never
    /// without a peer.
    ReplacePeer {
        network: String,
        #[serde(with = "crate::plan::key_b64")]
        old: PublicKey,
        peer: PeerPlan,
    },
    /// Give the network's DNS responder on this host these records.
    SetDns {
        network: String,
        records: Vec<DnsRecord>,
    },
    /// Make the service's namespace if it has none, then `weft attach
    /// NETWORK --id ID --ip ADDRESS` into it.
    Attach {
        network: String,
        service: String,
        workload_id: String,
        address: IpAddr,
    },
    /// Start the service (in its namespace, or the host's for `network:
    /// host`; a container from an image with its runtime; a VM's
    /// hypervisor) and record [`ServicePlan::fingerprint`] with it. Boxed:
    /// a plan with a container's and a VM's parts is much larger than any
    /// other action.
    StartService { service: Box<ServicePlan> },
}

impl Action {
    /// The order actions run in on a host.
    pub fn phase(&self) -> u8 {
        match self {
            Action::StopService { .. } => 0,
            Action::Detach { .. } => 1,
            Action::RemovePeer { .. } | Action::RemoveVtep { .. } => 2,
            Action::RemoveNetwork { .. } => 3,
            Action::CreateNetwork { .. } => 4,
            Action::AddPeer { .. }
            | Action::UpdatePeer { .. }
            | Action::ReplacePeer { .. }
            | Action::AddVtep { .. } => 5,
            Action::SetDns { .. } => 6,
            // Docker cannot join a namespace made beforehand: its container
            // starts first, and its own namespace is attached.
            Action::StartService { service } if service.runtime() == Some(Runtime::Docker) => 7,
            Action::Attach { .. } => 8,
            Action::StartService { .. } => 9,
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ips = |nets: &[IpNet]| {
            nets.iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(",")
        };
        match self {
            Action::StopService { service } => write!(f, "stop service {service}"),
            Action::Detach {
                network,
                workload_id,
            } => write!(f, "detach {workload_id} from {network}"),
            Action::RemovePeer {
                network,
                public_key,
            } => write!(f, "remove peer {public_key} from {network}"),
            Action::RemoveVtep { network, address } => {
                write!(f, "remove VTEP {address} from {network}")
            }
            Action::RemoveNetwork { network } => write!(f, "remove network {network}"),
            Action::CreateNetwork {
                network,
                subnet,
                block,
                internal,
                vxlan: Some(vx),
                ..
            } => write!(
                f,
                "create network {network} (vxlan, vni {}{}, {subnet}, block {block}{})",
                vx.vni,
                vx.over
                    .as_ref()
                    .map_or(String::new(), |o| format!(" over {o}")),
                if *internal { ", internal" } else { "" }
            ),
            Action::CreateNetwork {
                network,
                subnet,
                block,
                listen_port,
                internal,
                vxlan: None,
            } => write!(
                f,
                "create network {network} ({subnet}, block {block}, port {listen_port}{})",
                if *internal { ", internal" } else { "" }
            ),
            Action::AddVtep { network, vtep } => write!(
                f,
                "add VTEP {} ({}, {}) to {network}",
                vtep.address, vtep.host, vtep.block
            ),
            Action::AddPeer { network, peer } | Action::UpdatePeer { network, peer } => {
                let verb = if matches!(self, Action::AddPeer { .. }) {
                    "add"
                } else {
                    "update"
                };
                write!(
                    f,
                    "{verb} peer {} on {network} (endpoint {}, allowed-ips {})",
                    peer.host,
                    peer.endpoint,
                    ips(&peer.allowed_ips)
                )
            }
            Action::ReplacePeer { network, old, peer } => write!(
                f,
                "replace peer {} on {network}: key {old} by {} (a rotation)",
                peer.host, peer.public_key
            ),
            Action::SetDns { network, records } => {
                write!(f, "set {} DNS records on {network}", records.len())
            }
            Action::Attach {
                network,
                service,
                address,
                ..
            } => write!(f, "attach {service} to {network} at {address}"),
            Action::StartService { service } => {
                write!(f, "start {} {}", service.kind, service.name)?;
                match &service.container {
                    Some(c) => match c.runtime {
                        Some(runtime) => write!(f, " from {} ({runtime})", c.image),
                        None => write!(f, " from {}", c.image),
                    },
                    None => Ok(()),
                }
            }
        }
    }
}

/// The actions of one host, in the order to run them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostChanges {
    pub host: String,
    pub actions: Vec<Action>,
}

/// Everything to do, host by host (hosts with nothing to do are left out).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Changes {
    pub hosts: Vec<HostChanges>,
    /// Keys the plan still waited for: once these actions ran, observe,
    /// plan and diff again to add the peers that need them.
    pub waiting_for_keys: Vec<KeyNeeded>,
}

impl Changes {
    /// Nothing to do: `up` says "no changes".
    pub fn is_empty(&self) -> bool {
        self.hosts.is_empty()
    }
    /// How many actions in all.
    pub fn len(&self) -> usize {
        self.hosts.iter().map(|h| h.actions.len()).sum()
    }
    pub fn host(&self, name: &str) -> Option<&HostChanges> {
        self.hosts.iter().find(|h| h.host == name)
    }

    /// Add a host's actions in the order to run them; nothing for a host
    /// with nothing to do.
    pub(crate) fn push(&mut self, host: &str, mut actions: Vec<Action>) {
        if actions.is_empty() {
            return;
        }
        actions.sort_by_key(Action::phase); // stable: keeps plan order within a phase
        self.hosts.push(HostChanges {
            host: host.to_owned(),
            actions,
        });
    }
}

impl fmt::Display for Changes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_empty() {
            return writeln!(f, "no changes");
        }
        for host in &self.hosts {
            for action in &host.actions {
                writeln!(f, "{}: {action}", host.host)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
