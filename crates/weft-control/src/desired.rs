//! One host's desired state computed directly from the store's rows: the
//! reference the agents' feed (`agents/frame.rs`, every host at once with
//! indexes) is tested against. What the state means, and how a message
//! changes it, is [`weft_proto::desired`]: the agents' own definition.
//!
//! A host gets every network of its tenant in which it has a block; its
//! peers there are the other hosts with a block, a reported key and a known
//! address ([`peer`]), each carrying that host's block as allowed-ips (peer
//! count grows with hosts, not workloads); and the NICs of the VMs placed
//! on it there, by VM then index.

use crate::agents::frame::{member, settings, vm_nic};
use crate::model::{Host, HostBlock, HostId, HostKey, Network, Vm};
use weft_proto::control as pb;
use weft_proto::desired::Desired;

/// `host`'s state from its tenant's rows.
pub fn desired_for(
    host: &HostId,
    networks: &[Network],
    blocks: &[HostBlock],
    keys: &[HostKey],
    hosts: &[Host],
    vms: &[Vm],
) -> Desired {
    let mut out = Desired::new();
    for net in networks {
        let name = &net.spec.name;
        let in_net = |b: &&HostBlock| &b.network == name;
        let Some(own) = blocks.iter().filter(in_net).find(|b| &b.host == host) else {
            continue;
        };
        let mut peers: Vec<pb::DesiredPeer> = blocks
            .iter()
            .filter(in_net)
            .filter(|b| &b.host != host)
            .filter_map(|b| {
                let other = hosts.iter().find(|h| h.id == b.host)?;
                let key = keys
                    .iter()
                    .find(|k| k.host == b.host && &k.key.network == name);
                let block_in = |carrier: &str| {
                    (blocks.iter())
                        .find(|c| c.network == carrier && c.host == b.host)
                        .map(|c| &c.block)
                };
                member(net, other, &b.block, key, block_in)
            })
            .collect();
        peers.sort_by(|a, b| a.host_id.cmp(&b.host_id));
        let mut mine: Vec<&Vm> = vms.iter().filter(|vm| &vm.spec.host == host).collect();
        mine.sort_by(|a, b| a.spec.id.cmp(&b.spec.id));
        let vm_nics = (mine.into_iter())
            .flat_map(|vm| {
                (vm.spec.nics.iter().enumerate())
                    .filter(|(_, nic)| &nic.network == name)
                    .filter_map(|(index, _)| vm_nic(vm, index))
            })
            .collect();
        out.insert(
            name.clone(),
            pb::DesiredNetwork {
                block: own.block.to_string(),
                peers,
                vm_nics,
                ..settings(net)
            },
        );
    }
    out
}

#[cfg(test)]
mod tests;
