//! A host's desired state as the control plane means it and the agent
//! keeps it: one definition for both sides of `AgentControl.Watch`, so the
//! control plane's feed is tested against the merge its agents run.
//!
//! A message is applied to the state the host holds ([`merge`]): a
//! snapshot replaces it, `networks` replace theirs, `removed` go, and
//! `patches` change the peers of networks the host has. Peer entries
//! naming the host itself are dropped: the control plane encodes a
//! network's peers once for all its hosts. [`delta`] is the other way
//! round: the networks a message must carry to turn one state into
//! another.

use crate::control as pb;
use std::collections::{BTreeMap, HashSet};

/// Network name → what the control plane wants there.
pub type Desired = BTreeMap<String, pb::DesiredNetwork>;

/// `state` of host `own` (its id) with `msg` applied.
pub fn merge(state: &mut Desired, msg: &pb::DesiredState, own: &str) {
    if msg.snapshot {
        state.clear();
    }
    for name in &msg.removed {
        state.remove(name);
    }
    for net in &msg.networks {
        let mut net = net.clone();
        net.peers.retain(|p| p.host_id != own);
        state.insert(net.name.clone(), net);
    }
    for patch in &msg.patches {
        let Some(net) = state.get_mut(&patch.network) else {
            tracing::debug!(network = %patch.network, "a patch for a network this host does not have");
            continue;
        };
        let replaced: HashSet<&str> = (patch.peers.iter())
            .map(|p| p.host_id.as_str())
            .chain(patch.removed_peers.iter().map(String::as_str))
            .collect();
        net.peers.retain(|p| !replaced.contains(p.host_id.as_str()));
        net.peers
            .extend(patch.peers.iter().filter(|p| p.host_id != own).cloned());
        net.peers.sort_by(|a, b| a.host_id.cmp(&b.host_id));
    }
}

/// What turns `old` into `new`: networks added or changed (whole), and
/// the names of those removed. Empty when nothing changed.
pub fn delta(old: &Desired, new: &Desired) -> (Vec<pb::DesiredNetwork>, Vec<String>) {
    let changed = new
        .iter()
        .filter(|(name, net)| old.get(*name) != Some(net))
        .map(|(_, net)| net.clone())
        .collect();
    let removed = old
        .keys()
        .filter(|name| !new.contains_key(*name))
        .cloned()
        .collect();
    (changed, removed)
}

#[cfg(test)]
mod tests;
