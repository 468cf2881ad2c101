//! From the desired plan and what each host has to the actions that make
//! the difference — none when nothing changed — and the actions that undo
//! everything `up` made (`down`).
//!
//! What belongs to the mesh: on its hosts, the networks the plan (or the
//! previously applied plan) names, every peer on those networks, the
//! attachments whose id is `weft.<mesh>.<service>`, and the services the
//! executor reports (running, or processes that have ended). Anything else
//! on a host is never touched.

use crate::changes::{Action, Changes};
use crate::observed::{HostState, NetworkState, Observed, PeerState, VtepState};
use crate::plan::{HostNetworkPlan, HostPlan, PeerPlan, Plan, ServicePlan, owned_service};
use crate::planner::fits;
use ipnet::IpNet;
use std::collections::BTreeSet;
use std::net::IpAddr;
use weft_model::PublicKey;

/// What `up` must do to get from `observed` to `desired`. `previous` is the
/// plan `up` last applied, if the executor kept it: networks and hosts it
/// had that `desired` no longer has are removed.
pub fn diff(desired: &Plan, observed: &Observed, previous: Option<&Plan>) -> Changes {
    let empty = HostState::default();
    let mut changes = Changes {
        waiting_for_keys: desired.needs_keys.clone(),
        ..Changes::default()
    };
    for host in &desired.hosts {
        let state = observed.hosts.get(&host.name).unwrap_or(&empty);
        let mut actions = Vec::new();
        let fresh = diff_networks(desired, host, state, previous, &mut actions);
        diff_services(desired, host, state, &fresh, &mut actions);
        changes.push(&host.name, actions);
    }
    // Hosts gone from the file lose what the mesh put there.
    for gone in previous.iter().flat_map(|p| &p.hosts) {
        if desired.host(&gone.name).is_some() {
            continue;
        }
        if let Some(state) = observed.hosts.get(&gone.name) {
            let networks = gone.networks.iter().map(|n| n.network.as_str());
            changes.push(&gone.name, remove_all(state, networks));
        }
    }
    changes
}

/// What `down` must do: stop every service of the mesh and remove every
/// network it made, on every host of `plan` and of `previous`.
pub fn teardown(plan: &Plan, observed: &Observed, previous: Option<&Plan>) -> Changes {
    let mut changes = Changes::default();
    let mut done = BTreeSet::new();
    for host in plan
        .hosts
        .iter()
        .chain(previous.iter().flat_map(|p| &p.hosts))
    {
        if !done.insert(host.name.as_str()) {
            continue;
        }
        let Some(state) = observed.hosts.get(&host.name) else {
            continue;
        };
        let networks: BTreeSet<&str> = [Some(plan), previous]
            .into_iter()
            .flatten()
            .filter_map(|p| p.host(&host.name))
            .flat_map(|h| h.networks.iter().map(|n| n.network.as_str()))
            .collect();
        changes.push(&host.name, remove_all(state, networks.into_iter()));
    }
    changes
}

fn remove_all<'a>(state: &HostState, networks: impl Iterator<Item = &'a str>) -> Vec<Action> {
    let stops = state.services.keys().map(|service| Action::StopService {
        service: service.clone(),
    });
    // A VXLAN network over a WireGuard network goes before its carrier
    // (the agent keeps a carrier while something runs over it).
    let (over, rest): (Vec<&str>, Vec<&str>) = networks
        .filter(|n| state.networks.contains_key(*n))
        .partition(|n| state.networks[*n].over.is_some());
    let removals = over
        .into_iter()
        .chain(rest)
        .map(|network| Action::RemoveNetwork {
            network: network.to_owned(),
        });
    stops.chain(removals).collect()
}

/// Networks and peers of one host. Returns the networks created (or
/// re-created) here, which start without peers or attachments.
fn diff_networks(
    desired: &Plan,
    host: &HostPlan,
    state: &HostState,
    previous: Option<&Plan>,
    actions: &mut Vec<Action>,
) -> BTreeSet<String> {
    let mut fresh = BTreeSet::new();
    for want in &host.networks {
        let records = &desired
            .network(&want.network)
            .expect("every host network is a plan network")
            .dns;
        let have = state.networks.get(&want.network);
        if let Some(have) = have.filter(|have| fits(have, want)) {
            diff_peers(want, &have.peers, actions);
            diff_vteps(want, &have.vteps, actions);
            if have.dns.as_ref().is_some_and(|dns| dns != records) {
                actions.push(Action::SetDns {
                    network: want.network.clone(),
                    records: records.clone(),
                });
            }
            continue;
        }
        if have.is_some() {
            actions.push(Action::RemoveNetwork {
                network: want.network.clone(),
            });
        }
        fresh.insert(want.network.clone());
        actions.push(Action::CreateNetwork {
            network: want.network.clone(),
            subnet: want.subnet,
            block: want.block,
            listen_port: want.listen_port,
            internal: want.internal,
            vxlan: want.vxlan.clone(),
        });
        diff_peers(want, &[], actions);
        diff_vteps(want, &[], actions);
        if !records.is_empty() {
            actions.push(Action::SetDns {
                network: want.network.clone(),
                records: records.clone(),
            });
        }
    }
    // Networks the mesh had here before and no longer wants.
    let before = previous.and_then(|p| p.host(&host.name));
    for old in before.iter().flat_map(|h| &h.networks) {
        if host.network(&old.network).is_none() && state.networks.contains_key(&old.network) {
            actions.push(Action::RemoveNetwork {
                network: old.network.clone(),
            });
        }
    }
    fresh
}

fn diff_peers(want: &HostNetworkPlan, have: &[PeerState], actions: &mut Vec<Action>) {
    let network = || want.network.clone();
    let sorted = |nets: &[IpNet]| nets.iter().copied().collect::<BTreeSet<_>>();
    let wanted = |key: &PublicKey| want.peers.iter().any(|p| p.public_key == *key);
    // A host that rotated its key comes back as a new key with the same
    // blocks: the old key's peer is replaced by it in one change.
    let replaced = |peer: &PeerPlan| {
        have.iter().find(|old| {
            !wanted(&old.public_key) && sorted(&old.allowed_ips) == sorted(&peer.allowed_ips)
        })
    };
    let mut replacing = BTreeSet::new();
    for peer in &want.peers {
        match have.iter().find(|p| p.public_key == peer.public_key) {
            None => match replaced(peer) {
                Some(old) if replacing.insert(old.public_key) => {
                    actions.push(Action::ReplacePeer {
                        network: network(),
                        old: old.public_key,
                        peer: peer.clone(),
                    });
                }
                _ => actions.push(Action::AddPeer {
                    network: network(),
                    peer: peer.clone(),
                }),
            },
            Some(current) if !peer_matches(peer, current) => actions.push(Action::UpdatePeer {
                network: network(),
                peer: peer.clone(),
            }),
            Some(_) => {}
        }
    }
    for current in have {
        if !wanted(&current.public_key) && !replacing.contains(&current.public_key) {
            actions.push(Action::RemovePeer {
                network: network(),
                public_key: current.public_key,
            });
        }
    }
}

/// A VXLAN network's VTEPs: each planned one with its block, no other.
fn diff_vteps(want: &HostNetworkPlan, have: &[VtepState], actions: &mut Vec<Action>) {
    for vtep in &want.vteps {
        let current = have.iter().find(|v| v.address == vtep.address);
        if current.is_none_or(|v| v.block != Some(vtep.block)) {
            actions.push(Action::AddVtep {
                network: want.network.clone(),
                vtep: vtep.clone(),
            });
        }
    }
    for current in have {
        if !want.vteps.iter().any(|v| v.address == current.address) {
            actions.push(Action::RemoveVtep {
                network: want.network.clone(),
                address: current.address,
            });
        }
    }
}

/// Is the agent's peer the planned one? allowed-ips compare as sets, a
/// keepalive of 0 is none, and an endpoint given as a DNS name matches
/// whatever address the agent resolved it to on the same port.
fn peer_matches(want: &PeerPlan, have: &PeerState) -> bool {
    let sorted = |nets: &[IpNet]| nets.iter().copied().collect::<BTreeSet<_>>();
    let endpoint_ok = match &have.endpoint {
        Some(have) if *have == want.endpoint => true,
        Some(have) => match (want.endpoint.rsplit_once(':'), have.rsplit_once(':')) {
            (Some((host, port)), Some((_, have_port))) => {
                let literal = host.trim_matches(['[', ']']).parse::<IpAddr>().is_ok();
                !literal && port == have_port
            }
            _ => false,
        },
        None => false,
    };
    endpoint_ok
        && sorted(&want.allowed_ips) == sorted(&have.allowed_ips)
        && want.keepalive.filter(|k| *k > 0) == have.keepalive.filter(|k| *k > 0)
}

/// Services and attachments of one host.
fn diff_services(
    desired: &Plan,
    host: &HostPlan,
    state: &HostState,
    fresh: &BTreeSet<String>,
    actions: &mut Vec<Action>,
) {
    let here: Vec<&ServicePlan> = desired
        .services
        .iter()
        .filter(|s| s.host == host.name)
        .collect();
    for running in state.services.keys() {
        if !here.iter().any(|s| s.name == *running) {
            actions.push(Action::StopService {
                service: running.clone(),
            });
        }
    }
    // This mesh's attachments on networks that stay: (network, id, address).
    let attached: Vec<(&str, &str, IpAddr)> = host
        .networks
        .iter()
        .filter(|n| !fresh.contains(&n.network))
        .filter_map(|n| Some((n.network.as_str(), state.networks.get(&n.network)?)))
        .flat_map(|(name, have): (&str, &NetworkState)| {
            have.attachments
                .iter()
                .filter(|(id, _)| owned_service(&desired.mesh, id).is_some())
                .map(move |(id, ip)| (name, id.as_str(), *ip))
        })
        .collect();
    let detach = |network: &str, id: &str| Action::Detach {
        network: network.to_owned(),
        workload_id: id.to_owned(),
    };
    // Attachments of services that are gone from this host.
    for (network, id, _) in &attached {
        let service = owned_service(&desired.mesh, id).expect("filtered above");
        if !here.iter().any(|s| s.name == service) {
            actions.push(detach(network, id));
        }
    }
    for svc in here {
        let own: Vec<(&str, &str, IpAddr)> = attached
            .iter()
            .filter(|(_, id, _)| *id == svc.workload_id)
            .copied()
            .collect();
        let wanted: Vec<(&str, IpAddr)> = if svc.attaches() {
            svc.addresses
                .iter()
                .map(|a| (a.network.as_str(), a.address))
                .collect()
        } else {
            Vec::new()
        };
        let attach = |network: &str, address: IpAddr| Action::Attach {
            network: network.to_owned(),
            service: svc.name.clone(),
            workload_id: svc.workload_id.clone(),
            address,
        };
        let start = match state.services.get(&svc.name) {
            Some(running) if running.fingerprint == svc.fingerprint() => false,
            Some(_) => {
                actions.push(Action::StopService {
                    service: svc.name.clone(),
                });
                true
            }
            None => true,
        };
        if start {
            // A new namespace: whatever it had is detached, all attached anew.
            actions.extend(own.iter().map(|(n, id, _)| detach(n, id)));
            actions.extend(wanted.iter().map(|(n, ip)| attach(n, *ip)));
            actions.push(Action::StartService {
                service: Box::new(svc.clone()),
            });
            continue;
        }
        for (network, id, ip) in &own {
            if !wanted.contains(&(network, *ip)) {
                actions.push(detach(network, id));
            }
        }
        for (network, ip) in &wanted {
            if !own.iter().any(|(n, _, have)| n == network && have == ip) {
                actions.push(attach(network, *ip));
            }
        }
    }
}

#[cfg(test)]
mod tests;
