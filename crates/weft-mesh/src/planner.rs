//! From a validated mesh file and what exists to the plan.
//!
//! The stability rule: whatever exists and still fits the file is kept — a
//! host's block, its listen port, the key its agent made, a service's
//! address. Only what is new (or no longer fits) is assigned, lowest free
//! first, in file order, after everything kept has been set aside. So adding
//! a host or a service anywhere in the file changes nothing for the others.

mod services;
mod underlay;
mod vxlan;

pub use underlay::assign_lab_underlay;

use services::{dns_records, service_plans};

use crate::error::PlanError;
use crate::observed::{HostState, NetworkState, Observed};
use crate::plan::{HostNetworkPlan, HostPlan, KeyNeeded, NetworkPlan, PeerPlan, Plan, Role};
use crate::schema::{DEFAULT_SPOKE_KEEPALIVE, NetworkSpec};
use crate::validate::ValidMesh;
use crate::values::Address;
use ipnet::IpNet;
use std::collections::BTreeSet;
use weft_model::blocks::{complement, is_block_of, lowest_free_block};
use weft_model::naming::host_address;

/// Plan the mesh against what exists. Pure and deterministic: the same
/// inputs give the same plan.
pub fn plan(mesh: &ValidMesh, observed: &Observed) -> Result<Plan, PlanError> {
    let empty = HostState::default();
    let states: Vec<&HostState> = mesh
        .hosts
        .iter()
        .map(|h| observed.hosts.get(h.name.as_str()).unwrap_or(&empty))
        .collect();
    let endpoints = endpoints(mesh, observed)?;
    let ports = listen_ports(mesh, &states);
    let blocks = host_blocks(mesh, &states)?;

    // Keys, and each host network as far as it goes without peers.
    let mut needs_keys = Vec::new();
    let mut host_nets: Vec<Vec<HostNetworkPlan>> = Vec::new();
    for (h, host) in mesh.hosts.iter().enumerate() {
        let mut nets = Vec::new();
        for (n, net) in mesh.networks.iter().enumerate() {
            let mut hn = HostNetworkPlan {
                network: net.name.to_string(),
                subnet: net.subnet,
                block: blocks[n][h],
                address: host_address(&blocks[n][h]),
                listen_port: ports[h][n],
                internal: net.internal,
                role: role(net, &host.name),
                public_key: None,
                peers: Vec::new(),
                vxlan: vxlan::network_plan(net),
                vteps: Vec::new(),
            };
            if hn.vxlan.is_some() {
                // No key to wait for: its peers are the other hosts' VTEPs.
                nets.push(hn);
                continue;
            }
            hn.public_key = states[h]
                .networks
                .get(net.name.as_str())
                .filter(|state| fits(state, &hn))
                .and_then(|state| state.public_key);
            if hn.public_key.is_none() {
                needs_keys.push(KeyNeeded {
                    host: host.name.to_string(),
                    network: net.name.to_string(),
                });
            }
            nets.push(hn);
        }
        host_nets.push(nets);
    }

    let peers = peers(mesh, &host_nets, &endpoints);
    let vteps = vxlan::vteps(mesh, &blocks, &endpoints)?;
    for (h, nets) in host_nets.iter_mut().enumerate() {
        for (n, hn) in nets.iter_mut().enumerate() {
            hn.peers = peers[h][n].clone();
            hn.vteps = vteps[h][n].clone();
        }
    }
    let services = service_plans(mesh, &states, &host_nets)?;
    let networks = mesh
        .networks
        .iter()
        .enumerate()
        .map(|(n, net)| NetworkPlan {
            name: net.name.to_string(),
            subnet: net.subnet,
            block_prefix: net.block_prefix(),
            internal: net.internal,
            hub: net.hub.as_ref().map(|h| h.to_string()),
            dns: dns_records(mesh, n, &host_nets, &services),
            vxlan: vxlan::network_plan(net),
        })
        .collect();
    let hosts = mesh
        .hosts
        .iter()
        .zip(host_nets)
        .zip(endpoints)
        .map(|((host, networks), endpoint)| HostPlan {
            name: host.name.to_string(),
            reach: host.reach(),
            endpoint,
            networks,
        })
        .collect();
    Ok(Plan {
        mesh: mesh.name.to_string(),
        domain: mesh.domain.to_string(),
        networks,
        hosts,
        services,
        needs_keys,
    })
}

/// Can the network the agent has stay as it is for this plan? Anything else
/// is removed and created anew (the agent cannot change a network's block
/// or port in place), which also makes a new key.
pub fn fits(state: &NetworkState, want: &HostNetworkPlan) -> bool {
    if let Some(vx) = &want.vxlan {
        return vxlan::fits(state, want, vx);
    }
    state.mode == "wireguard"
        && state.subnet == want.subnet
        && state.block == want.block
        && state.listen_port == want.listen_port
        && state
            .internal
            .is_none_or(|internal| internal == want.internal)
}

fn role(net: &NetworkSpec, host: &str) -> Role {
    match &net.hub {
        None => Role::Mesh,
        Some(hub) if hub.as_str() == host => Role::Hub,
        Some(_) => Role::Spoke,
    }
}

/// Each host's underlay address: the file's, else the executor's lab
/// address. Only a single-host mesh may go without.
fn endpoints(mesh: &ValidMesh, observed: &Observed) -> Result<Vec<Option<Address>>, PlanError> {
    mesh.hosts
        .iter()
        .map(|host| {
            let found = host.file_endpoint().cloned().or_else(|| {
                observed
                    .lab_underlay
                    .get(host.name.as_str())
                    .map(|ip| Address::Ip(*ip))
            });
            match found {
                None if mesh.hosts.len() > 1 => Err(PlanError::NoUnderlay {
                    host: host.name.to_string(),
                }),
                found => Ok(found),
            }
        })
        .collect()
}

/// `[host][network]` → port. A host's networks use `listen_port ..
/// listen_port + networks`; a port the agent already has in that range is
/// kept, the others get the lowest free one in file order.
fn listen_ports(mesh: &ValidMesh, states: &[&HostState]) -> Vec<Vec<u16>> {
    // VXLAN networks listen on no port of their own.
    let wireguard = |net: &NetworkSpec| net.mode == weft_model::Mode::Wireguard;
    let count = mesh.networks.iter().filter(|n| wireguard(n)).count() as u16;
    mesh.hosts
        .iter()
        .zip(states)
        .map(|(host, state)| {
            // Validation made sure the last port fits in a u16.
            let range = host.listen_port..=host.listen_port + count.saturating_sub(1);
            let mut taken = BTreeSet::new();
            let kept: Vec<Option<u16>> = mesh
                .networks
                .iter()
                .map(|net| {
                    let port = state.networks.get(net.name.as_str())?.listen_port;
                    (wireguard(net) && range.contains(&port) && taken.insert(port)).then_some(port)
                })
                .collect();
            kept.into_iter()
                .zip(&mesh.networks)
                .map(|(port, net)| {
                    if !wireguard(net) {
                        return 0;
                    }
                    port.unwrap_or_else(|| {
                        let free = range
                            .clone()
                            .find(|p| !taken.contains(p))
                            .expect("the range has one port per network");
                        taken.insert(free);
                        free
                    })
                })
                .collect()
        })
        .collect()
}

/// `[network][host]` → block. A block the host already has is kept when it
/// is one of the subnet's blocks of the right size and no earlier host
/// (in file order) keeps it; the rest get the lowest free block.
fn host_blocks(mesh: &ValidMesh, states: &[&HostState]) -> Result<Vec<Vec<IpNet>>, PlanError> {
    let mut all = Vec::new();
    for net in &mesh.networks {
        let prefix = net.block_prefix();
        let mut taken = BTreeSet::new();
        let kept: Vec<Option<IpNet>> = states
            .iter()
            .map(|state| {
                let have = state.networks.get(net.name.as_str())?;
                (have.subnet == net.subnet
                    && is_block_of(&net.subnet, prefix, &have.block)
                    && taken.insert(have.block))
                .then_some(have.block)
            })
            .collect();
        let mut blocks = Vec::new();
        for (host, kept) in mesh.hosts.iter().zip(kept) {
            let block = match kept {
                Some(block) => block,
                None => {
                    let free = lowest_free_block(&net.subnet, prefix, &taken).ok_or_else(|| {
                        PlanError::NoFreeBlock {
                            network: net.name.to_string(),
                            subnet: net.subnet.to_string(),
                            prefix,
                            host: host.name.to_string(),
                        }
                    })?;
                    taken.insert(free);
                    free
                }
            };
            blocks.push(block);
        }
        all.push(blocks);
    }
    Ok(all)
}

/// `[host][network]` → peers. Full mesh: every other host, carrying its
/// block. Hub-and-spoke: the hub has every spoke (carrying its block); a
/// spoke has the hub only, carrying the whole subnet but the spoke's own
/// block, so spoke-to-spoke traffic goes through the hub and a new spoke
/// changes nothing on the others.
fn peers(
    mesh: &ValidMesh,
    host_nets: &[Vec<HostNetworkPlan>],
    endpoints: &[Option<Address>],
) -> Vec<Vec<Vec<PeerPlan>>> {
    let peer_of = |h: usize, n: usize, allowed_ips: Vec<IpNet>, keepalive: Option<u16>| {
        let hn = &host_nets[h][n];
        let key = hn.public_key?;
        let endpoint = endpoints[h].as_ref()?.with_port(hn.listen_port);
        Some(PeerPlan {
            host: mesh.hosts[h].name.to_string(),
            public_key: key,
            endpoint,
            allowed_ips,
            keepalive: keepalive.filter(|k| *k > 0),
        })
    };
    let hub_index = |net: &NetworkSpec| {
        net.hub
            .as_ref()
            .and_then(|hub| mesh.hosts.iter().position(|h| h.name == *hub))
    };
    (0..mesh.hosts.len())
        .map(|me| {
            mesh.networks
                .iter()
                .enumerate()
                .map(|(n, net)| {
                    let others = (0..mesh.hosts.len()).filter(|&o| o != me);
                    match (host_nets[me][n].role, hub_index(net)) {
                        (Role::Spoke, Some(hub)) => {
                            let own = host_nets[me][n].block;
                            let allowed = complement(&net.subnet, &own);
                            let keepalive = net.keepalive.or(Some(DEFAULT_SPOKE_KEEPALIVE));
                            peer_of(hub, n, allowed, keepalive).into_iter().collect()
                        }
                        _ => others
                            .filter_map(|o| {
                                peer_of(o, n, vec![host_nets[o][n].block], net.keepalive)
                            })
                            .collect(),
                    }
                })
                .collect()
        })
        .collect()
}

#[cfg(test)]
mod tests;
