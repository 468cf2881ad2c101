//! One host's desired state computed directly from the store's rows: the
//! reference the agents' feed (`agents/frame.rs`, every host at once with
//! indexes) is tested against. What the state means, and how a message
//! changes it, is [`weft_proto::desired`]: the agents' own definition.
//!
//! A host gets every network of its tenant in which it has a block; its
//! peers there are the other hosts with a block, a reported key and a known
//! address ([`peer`]), each carrying that host's block as allowed-ips (peer
//! count grows with hosts, not workloads).

use crate::agents::frame::{member, settings};
use crate::model::{Host, HostBlock, HostId, HostKey, Network};
use weft_proto::control as pb;
use weft_proto::desired::Desired;

/// `host`'s state from its tenant's rows.
pub fn desired_for(
    host: &HostId,
    networks: &[Network],
    blocks: &[HostBlock],
    keys: &[HostKey],
    hosts: &[Host],
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
        out.insert(
            name.clone(),
            pb::DesiredNetwork {
                block: own.block.to_string(),
                peers,
                ..settings(net)
            },
        );
    }
    out
}

#[cfg(test)]
mod tests;
