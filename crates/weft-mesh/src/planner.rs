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

use crate::blocks::{complement, is_block_of, lowest_free_block};
use crate::error::PlanError;
use crate::observed::{HostState, NetworkState, Observed};
use crate::plan::{HostNetworkPlan, HostPlan, KeyNeeded, NetworkPlan, PeerPlan, Plan, Role};
use crate::schema::{DEFAULT_SPOKE_KEEPALIVE, NetworkSpec};
use crate::validate::ValidMesh;
use crate::values::Address;
use ipnet::IpNet;
use std::collections::BTreeSet;
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
mod tests {
    use super::*;
    use crate::observed::NetworkState;
    use std::collections::BTreeMap;
    use weft_model::PublicKey;

    fn mesh(text: &str) -> ValidMesh {
        ValidMesh::parse(text).unwrap_or_else(|e| panic!("{e}"))
    }

    fn have(subnet: &str, block: &str, port: u16, key: u8) -> NetworkState {
        NetworkState {
            vni: None,
            over: None,
            vteps: vec![],
            subnet: subnet.parse().unwrap(),
            block: block.parse().unwrap(),
            listen_port: port,
            mode: "wireguard".into(),
            public_key: Some(PublicKey([key; 32])),
            internal: None,
            peers: vec![],
            attachments: BTreeMap::new(),
            dns: None,
        }
    }

    fn observe(entries: &[(&str, &str, NetworkState)]) -> Observed {
        let mut observed = Observed::default();
        for (host, network, state) in entries {
            observed
                .hosts
                .entry(host.to_string())
                .or_default()
                .networks
                .insert(network.to_string(), state.clone());
        }
        observed
    }

    const TWO: &str = "
name: m
networks: [{name: blue}, {name: red, subnet: 10.43.0.0/16}]
hosts:
  - {name: a, ssh: root@192.0.2.1}
  - {name: b, ssh: root@192.0.2.2}
";

    #[test]
    fn existing_blocks_ports_and_keys_are_kept() {
        let observed = observe(&[
            ("a", "blue", have("10.42.0.0/16", "10.42.9.0/24", 51821, 1)),
            ("b", "red", have("10.43.0.0/16", "10.43.0.0/24", 51820, 2)),
        ]);
        let plan = plan(&mesh(TWO), &observed).unwrap();
        let a_blue = plan.host("a").unwrap().network("blue").unwrap();
        assert_eq!(a_blue.block.to_string(), "10.42.9.0/24");
        assert_eq!(a_blue.listen_port, 51821);
        assert_eq!(a_blue.public_key, Some(PublicKey([1; 32])));
        // The other network of a takes the port left over.
        assert_eq!(
            plan.host("a").unwrap().network("red").unwrap().listen_port,
            51820
        );
        let b_red = plan.host("b").unwrap().network("red").unwrap();
        assert_eq!(
            (b_red.listen_port, b_red.public_key),
            (51820, Some(PublicKey([2; 32])))
        );
        // b's blue is new: the lowest free block, and no key yet.
        let b_blue = plan.host("b").unwrap().network("blue").unwrap();
        assert_eq!(b_blue.block.to_string(), "10.42.0.0/24");
        assert_eq!(b_blue.listen_port, 51821);
        assert_eq!(plan.needs_keys.len(), 2, "{:?}", plan.needs_keys);
        // b's blue and a's red have no key yet, so neither is anyone's peer.
        assert!(a_blue.peers.is_empty());
        assert!(b_red.peers.is_empty());
    }

    #[test]
    fn what_no_longer_fits_is_replaced() {
        let observed = observe(&[
            // Outside the subnet, a port out of range, a block of the wrong size.
            ("a", "blue", have("10.99.0.0/16", "10.99.0.0/24", 60000, 1)),
            ("b", "blue", have("10.42.0.0/16", "10.42.4.0/25", 51820, 2)),
        ]);
        let plan = plan(&mesh(TWO), &observed).unwrap();
        let a = plan.host("a").unwrap().network("blue").unwrap();
        assert_eq!(
            (a.block.to_string(), a.listen_port, a.public_key),
            ("10.42.0.0/24".into(), 51820, None)
        );
        let b = plan.host("b").unwrap().network("blue").unwrap();
        assert_eq!(
            (b.block.to_string(), b.public_key),
            ("10.42.1.0/24".into(), None)
        );
    }

    #[test]
    fn two_hosts_claiming_one_block_leave_it_to_the_first_in_the_file() {
        let observed = observe(&[
            ("a", "blue", have("10.42.0.0/16", "10.42.5.0/24", 51820, 1)),
            ("b", "blue", have("10.42.0.0/16", "10.42.5.0/24", 51820, 2)),
        ]);
        let plan = plan(&mesh(TWO), &observed).unwrap();
        let block = |h: &str| {
            plan.host(h)
                .unwrap()
                .network("blue")
                .unwrap()
                .block
                .to_string()
        };
        assert_eq!(
            (block("a"), block("b")),
            ("10.42.5.0/24".into(), "10.42.0.0/24".into())
        );
    }

    #[test]
    fn ipv6_networks_and_endpoints() {
        let text = "
name: m
networks: [{name: six, subnet: 'fd00:42::/48'}]
hosts:
  - {name: a, ssh: 'root@[2001:db8::1]'}
  - {name: b, ssh: 'root@[2001:db8::2]'}
";
        let observed = observe(&[
            ("a", "six", have("fd00:42::/48", "fd00:42::/64", 51820, 1)),
            (
                "b",
                "six",
                have("fd00:42::/48", "fd00:42:0:1::/64", 51820, 2),
            ),
        ]);
        let plan = plan(&mesh(text), &observed).unwrap();
        let a = plan.host("a").unwrap().network("six").unwrap();
        assert_eq!(a.address.to_string(), "fd00:42::1");
        assert_eq!(a.peers[0].endpoint, "[2001:db8::2]:51820");
        assert_eq!(a.peers[0].allowed_ips[0].to_string(), "fd00:42:0:1::/64");
    }

    #[test]
    fn a_single_local_host_needs_no_endpoint() {
        let text = "name: m\nnetworks: [{name: blue}]\nhosts: [{name: me, local: true}]\n";
        let plan = plan(&mesh(text), &Observed::default()).unwrap();
        assert_eq!(plan.hosts[0].endpoint, None);
        assert!(plan.hosts[0].networks[0].peers.is_empty());
    }
}
