//! A fake cluster of agents: applies the diff's actions to an `Observed` the
//! way the real agents and executor would, so plan → diff → apply can run
//! round after round without I/O.

#![allow(dead_code)]

use std::collections::BTreeMap;
use weft_mesh::{
    Action, Changes, NetworkState, Observed, PeerState, Plan, ServiceState, ValidMesh, diff, plan,
};
use weft_model::PublicKey;

#[derive(Debug, Default)]
pub struct Cluster {
    pub observed: Observed,
    /// The last applied plan, as the executor would keep it.
    pub previous: Option<Plan>,
    keys_made: u32,
}

/// What one `up` did.
#[derive(Debug)]
pub struct Up {
    pub rounds: Vec<Changes>,
    pub plan: Plan,
}

impl Up {
    /// Every action of every round, per host, as text.
    pub fn actions_of(&self, host: &str) -> Vec<String> {
        self.rounds
            .iter()
            .filter_map(|c| c.host(host))
            .flat_map(|h| h.actions.iter().map(ToString::to_string))
            .collect()
    }
    pub fn all_actions(&self) -> Vec<(String, Action)> {
        self.rounds
            .iter()
            .flat_map(|c| &c.hosts)
            .flat_map(|h| h.actions.iter().map(|a| (h.host.clone(), a.clone())))
            .collect()
    }
}

pub fn mesh(text: &str) -> ValidMesh {
    ValidMesh::parse(text).unwrap_or_else(|e| panic!("{e}"))
}

impl Cluster {
    /// `weft up`: observe, plan, diff, apply — until nothing is left to do.
    pub fn up(&mut self, mesh: &ValidMesh) -> Up {
        let mut rounds = Vec::new();
        for _ in 0..4 {
            let desired = plan(mesh, &self.observed).unwrap_or_else(|e| panic!("{e}"));
            let changes = diff(&desired, &self.observed, self.previous.as_ref());
            if changes.is_empty() {
                assert!(desired.is_complete(), "no changes but keys missing");
                self.previous = Some(desired.clone());
                return Up {
                    rounds,
                    plan: desired,
                };
            }
            self.apply(&changes);
            rounds.push(changes);
        }
        panic!("up did not converge: {rounds:#?}");
    }

    /// `weft down`.
    pub fn down(&mut self, mesh: &ValidMesh) -> Changes {
        let desired = plan(mesh, &self.observed).unwrap();
        let changes = weft_mesh::teardown(&desired, &self.observed, self.previous.as_ref());
        self.apply(&changes);
        self.previous = None;
        changes
    }

    pub fn apply(&mut self, changes: &Changes) {
        for host in &changes.hosts {
            for action in &host.actions {
                self.apply_one(&host.host, action);
            }
        }
    }

    fn apply_one(&mut self, host: &str, action: &Action) {
        self.keys_made += 1;
        let mut key = [7u8; 32];
        key[..4].copy_from_slice(&self.keys_made.to_le_bytes());
        let fresh_key = PublicKey(key);
        let state = self.observed.hosts.entry(host.to_owned()).or_default();
        fn net<'a>(state: &'a mut weft_mesh::HostState, name: &str) -> &'a mut NetworkState {
            state
                .networks
                .get_mut(name)
                .unwrap_or_else(|| panic!("no network {name}"))
        }
        match action {
            Action::CreateNetwork {
                network,
                subnet,
                block,
                listen_port,
                internal,
                vxlan,
            } => {
                let old = state.networks.insert(
                    network.clone(),
                    NetworkState {
                        subnet: *subnet,
                        block: *block,
                        listen_port: *listen_port,
                        mode: if vxlan.is_some() {
                            "vxlan"
                        } else {
                            "wireguard"
                        }
                        .into(),
                        public_key: vxlan.is_none().then_some(fresh_key),
                        vni: vxlan.as_ref().map(|v| v.vni),
                        over: vxlan.as_ref().and_then(|v| v.over.clone()),
                        vteps: vec![],
                        internal: Some(*internal),
                        peers: vec![],
                        attachments: BTreeMap::new(),
                        dns: None,
                    },
                );
                assert!(old.is_none(), "{host}: {network} created twice");
            }
            Action::RemoveNetwork { network } => {
                state
                    .networks
                    .remove(network)
                    .expect("removed network exists");
            }
            Action::AddPeer { network, peer } | Action::UpdatePeer { network, peer } => {
                let peers = &mut net(state, network).peers;
                let exists = peers.iter().any(|p| p.public_key == peer.public_key);
                assert_eq!(
                    exists,
                    matches!(action, Action::UpdatePeer { .. }),
                    "{host}: {action}"
                );
                peers.retain(|p| p.public_key != peer.public_key);
                peers.push(PeerState {
                    public_key: peer.public_key,
                    endpoint: Some(peer.endpoint.clone()),
                    allowed_ips: peer.allowed_ips.clone(),
                    keepalive: peer.keepalive,
                });
            }
            Action::ReplacePeer { network, old, peer } => {
                let peers = &mut net(state, network).peers;
                let before = peers.len();
                peers.retain(|p| p.public_key != *old);
                assert_eq!(peers.len() + 1, before, "{host}: {action}");
                peers.push(PeerState {
                    public_key: peer.public_key,
                    endpoint: Some(peer.endpoint.clone()),
                    allowed_ips: peer.allowed_ips.clone(),
                    keepalive: peer.keepalive,
                });
            }
            Action::RemovePeer {
                network,
                public_key,
            } => {
                let peers = &mut net(state, network).peers;
                let before = peers.len();
                peers.retain(|p| p.public_key != *public_key);
                assert_eq!(peers.len() + 1, before, "{host}: {action}");
            }
            Action::AddVtep { network, vtep } => {
                let vteps = &mut net(state, network).vteps;
                vteps.retain(|v| v.address != vtep.address);
                vteps.push(weft_mesh::VtepState {
                    address: vtep.address,
                    block: Some(vtep.block),
                });
            }
            Action::RemoveVtep { network, address } => {
                let vteps = &mut net(state, network).vteps;
                let before = vteps.len();
                vteps.retain(|v| v.address != *address);
                assert_eq!(vteps.len() + 1, before, "{host}: {action}");
            }
            Action::SetDns { network, records } => {
                net(state, network).dns = Some(records.clone());
            }
            Action::Attach {
                network,
                workload_id,
                address,
                ..
            } => {
                let attachments = &mut net(state, network).attachments;
                assert!(
                    !attachments.values().any(|ip| ip == address),
                    "{host}: {address} in use"
                );
                let old = attachments.insert(workload_id.clone(), *address);
                assert!(old.is_none(), "{host}: {workload_id} attached twice");
            }
            Action::Detach {
                network,
                workload_id,
            } => {
                net(state, network)
                    .attachments
                    .remove(workload_id)
                    .expect("detached attachment exists");
            }
            Action::StartService { service } => {
                let old = state.services.insert(
                    service.name.clone(),
                    ServiceState {
                        fingerprint: service.fingerprint(),
                    },
                );
                assert!(old.is_none(), "{host}: {} started twice", service.name);
            }
            Action::StopService { service } => {
                state
                    .services
                    .remove(service)
                    .expect("stopped service runs");
            }
        }
    }
}
