//! What a simulated agent keeps of its desired state: per network its
//! block and, per peer, the peer's id and a hash of its entry — 12 bytes a
//! peer. At 10,000 agents a full mesh is 10^8 peer entries in this one
//! process; whole protobuf peers (~200 bytes each) would not fit.
//!
//! [`AgentState::apply`] is the one place a message from the control plane
//! is folded in, as `weft-agent`'s `control::apply::merge` does for whole
//! messages: snapshots, networks, removals, per-network peer patches, and
//! a state sent in pieces (`more`) counted as applied at its last piece.

use std::collections::BTreeMap;
use std::hash::{Hash as _, Hasher as _};
use weft_proto::control as pb;

/// A peer's id: weft host ids are 16 hex digits, so the id itself (any
/// other text is hashed).
pub fn peer_id(host_id: &str) -> u64 {
    u64::from_str_radix(host_id, 16).unwrap_or_else(|_| hash64(|h| host_id.hash(h)))
}

fn hash64(feed: impl FnOnce(&mut std::collections::hash_map::DefaultHasher)) -> u64 {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    feed(&mut hasher);
    hasher.finish()
}

/// Everything of a peer's entry an agent would act on. 32 bits: a change
/// goes unseen with probability 2^-32, and it halves the state.
pub fn entry_hash(peer: &pb::DesiredPeer) -> u32 {
    let h = hash64(|h| {
        peer.host_name.hash(h);
        peer.public_key.hash(h);
        peer.endpoint.hash(h);
        peer.allowed_ips.hash(h);
    });
    (h ^ (h >> 32)) as u32
}

/// One network as the agent has it.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Network {
    /// A hash of the network's own fields (subnet, this host's block,
    /// internal, domain).
    own: u64,
    /// Sorted; `entries[i]` belongs to `ids[i]`.
    ids: Vec<u64>,
    entries: Vec<u32>,
}

impl Network {
    fn of(net: &pb::DesiredNetwork, own: u64) -> Network {
        let mut peers: Vec<(u64, u32)> = net
            .peers
            .iter()
            .map(|p| (peer_id(&p.host_id), entry_hash(p)))
            .filter(|p| p.0 != own)
            .collect();
        peers.sort_unstable();
        peers.dedup_by_key(|p| p.0);
        let (ids, entries) = peers.into_iter().unzip();
        Network {
            own: hash64(|h| {
                net.subnet.hash(h);
                net.block.hash(h);
                net.internal.hash(h);
                net.domain.hash(h);
            }),
            ids,
            entries,
        }
    }

    /// Peers added or changed, peers gone: one merge of two sorted lists,
    /// so a patch costs O(peers + patch), also for a snapshot's pieces.
    fn patch(&mut self, patch: &pb::NetworkPatch, own: u64) {
        let mut gone: Vec<u64> = patch.removed_peers.iter().map(|p| peer_id(p)).collect();
        let mut new: Vec<(u64, u32)> = patch
            .peers
            .iter()
            .map(|p| (peer_id(&p.host_id), entry_hash(p)))
            .collect();
        gone.extend(new.iter().map(|p| p.0));
        gone.sort_unstable();
        new.retain(|p| p.0 != own);
        new.sort_unstable();
        new.dedup_by_key(|p| p.0);
        let kept = self
            .ids
            .iter()
            .zip(&self.entries)
            .map(|(id, e)| (*id, *e))
            .filter(|p| gone.binary_search(&p.0).is_err());
        let mut merged = Vec::with_capacity(self.ids.len() + new.len());
        let mut new = new.into_iter().peekable();
        for old in kept {
            while let Some(n) = new.next_if(|n| n.0 < old.0) {
                merged.push(n);
            }
            merged.push(old);
        }
        merged.extend(new);
        (self.ids, self.entries) = merged.into_iter().unzip();
    }

    /// The hash of peer `id`'s entry, if it is a peer here.
    pub fn peer(&self, id: u64) -> Option<u32> {
        self.ids.binary_search(&id).ok().map(|i| self.entries[i])
    }

    pub fn peers(&self) -> usize {
        self.ids.len()
    }
}

/// Network name → the network.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct AgentState {
    /// The revision of the last complete state applied.
    pub revision: u64,
    /// This host's id: its own entry in a network's peers is not a peer.
    pub own: u64,
    /// False while a state sent in pieces is half in.
    pub complete: bool,
    networks: BTreeMap<String, Network>,
}

impl AgentState {
    pub fn new(own: u64) -> AgentState {
        AgentState {
            own,
            ..AgentState::default()
        }
    }

    /// Fold one message in: a snapshot replaces everything, each network
    /// sent replaces the one of its name, removed names go, patches change
    /// the peers of networks this host has. A message marked `more` is a
    /// piece: the revision moves (and the state counts as applied) at the
    /// last one.
    pub fn apply(&mut self, msg: &pb::DesiredState) {
        if msg.snapshot {
            self.networks.clear();
        }
        for name in &msg.removed {
            self.networks.remove(name);
        }
        for net in &msg.networks {
            self.networks
                .insert(net.name.clone(), Network::of(net, self.own));
        }
        for patch in &msg.patches {
            if let Some(net) = self.networks.get_mut(&patch.network) {
                net.patch(patch, self.own);
            }
        }
        self.complete = !msg.more;
        if !msg.more {
            self.revision = msg.revision;
        }
    }

    pub fn network(&self, name: &str) -> Option<&Network> {
        self.networks.get(name)
    }
}

#[cfg(test)]
mod tests;
