//! Each host's desired state, computed from the store's rows (pure). What
//! the state means, and how a message changes it, is
//! [`weft_proto::desired`]: the agents' own definition.
//!
//! A host gets every network of its tenant in which it has a block; its
//! peers there are the other hosts with a block, a reported key and a known
//! address, each carrying that host's block as allowed-ips (peer count
//! grows with hosts, not workloads).
//!
//! [`desired_for`] computes one host's state directly; the agents' feed
//! builds every host's at once with indexes (`agents/frame.rs`), checked
//! against this one in its tests.

use crate::model::{Host, HostBlock, HostId, HostKey, Network};
use weft_proto::control as pb;
use weft_proto::desired::Desired;

/// `host` as a peer in a network where it has `block` and reported `key`;
/// `None` until it has an address (and for a revoked host).
pub fn peer(host: &Host, key: &HostKey, block: &ipnet::IpNet) -> Option<pb::DesiredPeer> {
    if host.revoked_at.is_some() {
        return None;
    }
    let ip = host.endpoint.as_ref()?;
    let endpoint = match ip.parse::<std::net::IpAddr>().ok()? {
        std::net::IpAddr::V4(v4) => format!("{v4}:{}", key.key.listen_port),
        std::net::IpAddr::V6(v6) => format!("[{v6}]:{}", key.key.listen_port),
    };
    Some(pb::DesiredPeer {
        host_id: host.id.to_string(),
        host_name: host.name.clone(),
        public_key: key.key.public_key.clone(),
        endpoint,
        allowed_ips: vec![block.to_string()],
    })
}

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
                    .find(|k| k.host == b.host && &k.key.network == name)?;
                peer(other, key, &b.block)
            })
            .collect();
        peers.sort_by(|a, b| a.host_id.cmp(&b.host_id));
        out.insert(
            name.clone(),
            pb::DesiredNetwork {
                name: name.clone(),
                subnet: net.spec.subnet.to_string(),
                block: own.block.to_string(),
                internal: net.spec.internal,
                domain: net.spec.domain.clone(),
                peers,
            },
        );
    }
    out
}

#[cfg(test)]
mod tests;
