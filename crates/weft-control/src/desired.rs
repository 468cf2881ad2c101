//! Each host's desired state, computed from the store's rows (pure), and
//! what changed between two of them.
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
use std::collections::BTreeMap;
use weft_proto::control as pb;

/// Network name → what the host should have there.
pub type Desired = BTreeMap<String, pb::DesiredNetwork>;

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

/// `state` of host `own` with a message applied (a snapshot replaces it).
/// Peer entries naming `own` are dropped: one encoding of a network's
/// peers serves every host in it.
pub fn apply(state: &mut Desired, msg: &pb::DesiredState, own: &str) {
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
            continue;
        };
        let replaced: std::collections::HashSet<&str> = (patch.peers.iter())
            .map(|p| p.host_id.as_str())
            .chain(patch.removed_peers.iter().map(String::as_str))
            .collect();
        net.peers.retain(|p| !replaced.contains(p.host_id.as_str()));
        net.peers
            .extend(patch.peers.iter().filter(|p| p.host_id != own).cloned());
        net.peers.sort_by(|a, b| a.host_id.cmp(&b.host_id));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Id, NetworkKey, NetworkSpec};

    fn host(name: &str, endpoint: Option<&str>) -> Host {
        Host {
            id: Id::generate(),
            tenant: Id::parse("t", "0000000000000000").unwrap(),
            name: name.into(),
            created_at: 0,
            revoked_at: None,
            endpoint: endpoint.map(String::from),
            version: None,
            last_seen: None,
            peer_health: Default::default(),
        }
    }

    #[test]
    fn peers_are_the_other_hosts_with_a_block_a_key_and_an_address() {
        let a = host("a", Some("192.0.2.1"));
        let b = host("b", Some("192.0.2.2"));
        let c = host("c", None);
        let net = Network {
            tenant: a.tenant.clone(),
            spec: NetworkSpec::new("blue", "10.42.0.0/16", "", false, "", None).unwrap(),
            created_at: 0,
        };
        let block = |h: &Host, b: &str| HostBlock {
            network: "blue".into(),
            host: h.id.clone(),
            block: b.parse().unwrap(),
        };
        let blocks = vec![
            block(&a, "10.42.0.0/24"),
            block(&b, "10.42.1.0/24"),
            block(&c, "10.42.2.0/24"),
        ];
        let key = |h: &Host, k: &str| HostKey {
            host: h.id.clone(),
            key: NetworkKey {
                network: "blue".into(),
                public_key: k.into(),
                listen_port: 51820,
            },
        };
        let keys = vec![key(&a, "KA"), key(&c, "KC")];
        let hosts = vec![a.clone(), b.clone(), c.clone()];
        let for_b = desired_for(&b.id, std::slice::from_ref(&net), &blocks, &keys, &hosts);
        let blue = &for_b["blue"];
        assert_eq!(blue.block, "10.42.1.0/24");
        // a: key and address; c: no address yet; b itself: never.
        assert_eq!(blue.peers.len(), 1);
        assert_eq!(blue.peers[0].public_key, "KA");
        assert_eq!(blue.peers[0].endpoint, "192.0.2.1:51820");
        assert_eq!(blue.peers[0].allowed_ips, ["10.42.0.0/24"]);
        // A host without a block gets nothing.
        let d = host("d", None);
        assert!(desired_for(&d.id, &[net], &blocks, &keys, &hosts).is_empty());
    }

    #[test]
    fn a_host_outside_a_network_neither_gets_it_nor_is_a_peer_there() {
        let a = host("a", Some("192.0.2.1"));
        let b = host("b", Some("192.0.2.2"));
        let net = |name: &str, subnet: &str| Network {
            tenant: a.tenant.clone(),
            spec: NetworkSpec::new(name, subnet, "", false, "", None).unwrap(),
            created_at: 0,
        };
        let nets = [net("blue", "10.42.0.0/16"), net("red", "10.43.0.0/16")];
        let block = |n: &str, h: &Host, b: &str| HostBlock {
            network: n.into(),
            host: h.id.clone(),
            block: b.parse().unwrap(),
        };
        // Both in blue; only a in red (the tenant chose it so).
        let blocks = vec![
            block("blue", &a, "10.42.0.0/24"),
            block("blue", &b, "10.42.1.0/24"),
            block("red", &a, "10.43.0.0/24"),
        ];
        let key = |n: &str, h: &Host| HostKey {
            host: h.id.clone(),
            key: NetworkKey {
                network: n.into(),
                public_key: format!("K{}{}", n, h.name),
                listen_port: 51820,
            },
        };
        // b even reported a key for red: no block there, no part in it.
        let keys = vec![
            key("blue", &a),
            key("blue", &b),
            key("red", &a),
            key("red", &b),
        ];
        let hosts = vec![a.clone(), b.clone()];
        let for_a = desired_for(&a.id, &nets, &blocks, &keys, &hosts);
        let for_b = desired_for(&b.id, &nets, &blocks, &keys, &hosts);
        assert_eq!(for_b.keys().collect::<Vec<_>>(), ["blue"]);
        assert_eq!(for_a.keys().collect::<Vec<_>>(), ["blue", "red"]);
        assert!(for_a["red"].peers.is_empty(), "{:?}", for_a["red"]);
        assert_eq!(for_a["blue"].peers[0].host_name, "b");
    }

    #[test]
    fn deltas_carry_only_what_changed_and_rebuild_the_state() {
        let net = |name: &str, block: &str| pb::DesiredNetwork {
            name: name.into(),
            block: block.into(),
            ..Default::default()
        };
        let old: Desired = [
            ("blue".to_string(), net("blue", "1")),
            ("red".to_string(), net("red", "1")),
        ]
        .into();
        let new: Desired = [
            ("blue".to_string(), net("blue", "1")),
            ("green".to_string(), net("green", "1")),
        ]
        .into();
        let (changed, removed) = delta(&old, &new);
        assert_eq!(changed, [net("green", "1")]);
        assert_eq!(removed, ["red"]);
        let mut state = old.clone();
        apply(
            &mut state,
            &pb::DesiredState {
                revision: 2,
                snapshot: false,
                networks: changed,
                removed,
                patches: vec![],
                more: false,
            },
            "me",
        );
        assert_eq!(state, new);
        assert_eq!(delta(&new, &new), (vec![], vec![]));
        apply(
            &mut state,
            &pb::DesiredState {
                revision: 3,
                snapshot: true,
                networks: vec![net("x", "2")],
                removed: vec![],
                patches: vec![],
                more: false,
            },
            "me",
        );
        assert_eq!(state.keys().collect::<Vec<_>>(), ["x"]);
    }
}
