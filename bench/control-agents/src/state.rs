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
mod tests {
    use super::*;

    fn peer(id: &str, port: u16) -> pb::DesiredPeer {
        pb::DesiredPeer {
            host_id: id.into(),
            host_name: format!("h{id}"),
            public_key: format!("K{id}"),
            endpoint: format!("127.0.0.1:{port}"),
            allowed_ips: vec![format!("10.0.{}.0/24", id.len())],
            ..Default::default()
        }
    }

    fn net(name: &str, peers: Vec<pb::DesiredPeer>) -> pb::DesiredNetwork {
        pb::DesiredNetwork {
            name: name.into(),
            subnet: "10.0.0.0/16".into(),
            block: "10.0.0.0/24".into(),
            peers,
            ..Default::default()
        }
    }

    fn msg(revision: u64, snapshot: bool, networks: Vec<pb::DesiredNetwork>) -> pb::DesiredState {
        pb::DesiredState {
            revision,
            snapshot,
            networks,
            ..Default::default()
        }
    }

    #[test]
    fn peers_are_found_by_id_and_their_entries_change_with_any_field() {
        let a = "00000000000000aa";
        let b = "00000000000000bb";
        let mut state = AgentState::default();
        state.apply(&msg(
            1,
            true,
            vec![net("blue", vec![peer(b, 1), peer(a, 1)])],
        ));
        let blue = state.network("blue").unwrap();
        assert_eq!(blue.peers(), 2);
        assert_eq!(peer_id(a), 0xaa);
        let before = blue.peer(0xaa).unwrap();
        assert!(blue.peer(0xcc).is_none());
        state.apply(&msg(
            2,
            false,
            vec![net("blue", vec![peer(b, 1), peer(a, 2)])],
        ));
        let after = state.network("blue").unwrap().peer(0xaa).unwrap();
        assert_ne!(before, after, "a new port is a new entry");
        assert_eq!(state.revision, 2);
        let mut renamed = peer(a, 2);
        renamed.host_name = "other".into();
        assert_ne!(entry_hash(&renamed), after);
        assert_eq!(peer_id("not hex"), peer_id("not hex"));
    }

    #[test]
    fn snapshots_replace_deltas_replace_networks_and_removed_ones_go() {
        let mut state = AgentState::default();
        state.apply(&msg(
            1,
            true,
            vec![net("blue", vec![peer("01", 1)]), net("red", vec![])],
        ));
        // A delta: green added, red removed, blue untouched.
        let mut delta = msg(2, false, vec![net("green", vec![peer("02", 1)])]);
        delta.removed = vec!["red".into()];
        state.apply(&delta);
        assert!(state.network("red").is_none());
        assert_eq!(state.network("blue").unwrap().peers(), 1);
        assert_eq!(
            state.network("green").unwrap().peer(2),
            Some(entry_hash(&peer("02", 1)))
        );
        // A snapshot forgets what it does not carry.
        state.apply(&msg(3, true, vec![net("green", vec![])]));
        assert!(state.network("blue").is_none());
        assert_eq!(state.network("green").unwrap().peers(), 0);
    }

    #[test]
    fn patches_and_pieces_change_only_what_they_name_and_skip_the_own_entry() {
        let own = "00000000000000aa";
        let mut state = AgentState::new(peer_id(own));
        // A snapshot in two pieces: the own entry is no peer; nothing
        // counts as applied until the last piece.
        let mut first = msg(
            5,
            true,
            vec![net("blue", vec![peer(own, 1), peer("03", 1)])],
        );
        first.more = true;
        state.apply(&first);
        assert!(!state.complete);
        assert_eq!(state.revision, 0);
        let mut second = msg(5, false, vec![]);
        second.patches = vec![pb::NetworkPatch {
            network: "blue".into(),
            peers: vec![peer("01", 1), peer("05", 1)],
            ..Default::default()
        }];
        state.apply(&second);
        assert!(state.complete);
        assert_eq!(state.revision, 5);
        let blue = state.network("blue").unwrap();
        assert_eq!(blue.ids, [1, 3, 5]);
        // One peer changed, one gone, one new, one for a network this host
        // does not have: merged in order, the rest untouched.
        let mut delta = msg(6, false, vec![]);
        delta.patches = vec![
            pb::NetworkPatch {
                network: "blue".into(),
                peers: vec![peer("04", 1), peer("03", 2), peer(own, 3)],
                removed_peers: vec!["0000000000000001".into()],
            },
            pb::NetworkPatch {
                network: "red".into(),
                peers: vec![peer("09", 1)],
                ..Default::default()
            },
        ];
        state.apply(&delta);
        let blue = state.network("blue").unwrap();
        assert_eq!(blue.ids, [3, 4, 5]);
        assert_eq!(blue.peer(3), Some(entry_hash(&peer("03", 2))));
        assert_eq!(blue.peer(5), Some(entry_hash(&peer("05", 1))));
        assert!(state.network("red").is_none());
    }
}
