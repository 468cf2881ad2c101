//! Make the agent hold the control plane's desired state, through the same
//! calls the agent's API makes (`add_network`, `add_peer`, …), so every
//! check, record and rollback of those paths applies here too.
//!
//! The control plane manages only the networks it sent: a network made
//! locally (`weft network create`, a mesh file) is never changed or
//! removed here, and attachments (CNI, `weft attach`) stay local.
//!
//! A VXLAN network (of this host's site) is made as `weft network create
//! --mode vxlan` makes it, its peers being tunnel endpoints (`weft peer
//! add NET --endpoint IP --allowed-ips BLOCK`: one flooding FDB entry
//! each). One riding in a WireGuard network (`over`) is made after that
//! network and removed before it.

use crate::agent::Agent;
use crate::dataplane::Dataplane;
use crate::networks::{KindSpec, NetworkSpec, VxlanSpec};
use crate::peers::{Endpoint, PeerSpec};
use crate::records::Underlay;
use crate::vxlan::VtepSpec;
use ipnet::{IpNet, Ipv4Net};
use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use weft_model::Mode;
use weft_model::PublicKey;
use weft_model::names::{Domain, NetworkName};
use weft_proto::control as pb;
use weft_proto::desired::{Desired, merge};

/// Keepalive for peers the control plane gives: hosts may sit behind NAT.
const KEEPALIVE: u16 = 25;

/// The pieces of one revision's state (messages marked `more`), merged
/// aside until the last arrives: half a state is never applied.
#[derive(Debug, Default)]
pub struct Pieces {
    pending: Option<(Desired, Desired)>,
}

impl Pieces {
    /// `msg` merged onto `current` (or onto the pieces before it). Once it
    /// is the last piece: the new state and the state before it (what the
    /// control plane managed until now).
    pub fn add(
        &mut self,
        current: &Desired,
        msg: &pb::DesiredState,
        own: &str,
    ) -> Option<(Desired, Desired)> {
        let (mut next, before) = self
            .pending
            .take()
            .unwrap_or_else(|| (current.clone(), current.clone()));
        merge(&mut next, msg, own);
        if msg.more {
            self.pending = Some((next, before));
            return None;
        }
        Some((next, before))
    }
}

fn v4(field: &str, text: &str) -> Result<Ipv4Net, String> {
    match text.parse::<IpNet>() {
        Ok(IpNet::V4(net)) => Ok(net),
        _ => Err(format!("{field} {text:?} is not an IPv4 network")),
    }
}

fn is_vxlan(net: &pb::DesiredNetwork) -> bool {
    net.mode == Mode::Vxlan.as_str()
}

fn kind_of(net: &pb::DesiredNetwork) -> Result<KindSpec, String> {
    match net.mode.as_str() {
        "" | "wireguard" => Ok(KindSpec::Wireguard {
            listen_port: None,
            private_key: None,
        }),
        "vxlan" => Ok(KindSpec::Vxlan(VxlanSpec {
            vni: weft_model::network::validate_vni(net.vni).map_err(|e| e.to_string())?,
            port: weft_model::network::DEFAULT_VXLAN_PORT,
            mtu: (net.mtu != 0).then_some(net.mtu),
            underlay: match net.over.as_str() {
                "" => Underlay::Routed,
                over => Underlay::Over(over.to_string()),
            },
        })),
        other => Err(format!("mode {other:?} is not one this agent makes")),
    }
}

fn spec_of(net: &pb::DesiredNetwork) -> Result<NetworkSpec, String> {
    Ok(NetworkSpec {
        name: NetworkName::new(&net.name).map_err(|e| e.to_string())?,
        subnet: v4("subnet", &net.subnet)?,
        block: v4("block", &net.block)?,
        kind: kind_of(net)?,
        internal: net.internal,
        domain: Domain::new(&net.domain).map_err(|e| e.to_string())?,
    })
}

/// Whether the network made here is the one `spec` asks for (a VXLAN
/// network: with the same VNI, MTU and underlay).
fn made_as(record: &crate::records::NetworkRecord, spec: &NetworkSpec) -> bool {
    let settings = match (&spec.kind, &record.vxlan) {
        (KindSpec::Vxlan(want), Some(have)) => {
            want.vni == have.vni
                && want.underlay == have.underlay
                && want.mtu.is_none_or(|mtu| mtu == have.mtu)
        }
        (KindSpec::Vxlan(_), None) | (_, Some(_)) => false,
        _ => true,
    };
    settings
        && record.mode == spec.mode()
        && record.subnet == IpNet::V4(spec.subnet)
        && record.block == IpNet::V4(spec.block)
}

fn vtep_of(network: &str, p: &pb::DesiredPeer) -> Result<VtepSpec, String> {
    let address = (p.endpoint.parse::<IpAddr>())
        .map_err(|_| format!("tunnel endpoint {:?} is not an IP address", p.endpoint))?;
    let block = match p.allowed_ips.first() {
        Some(b) => Some(b.parse::<IpNet>().map_err(|_| format!("block {b:?}"))?),
        None => None,
    };
    Ok(VtepSpec {
        network: network.to_string(),
        address,
        block,
    })
}

fn peer_of(network: &str, p: &pb::DesiredPeer) -> Result<PeerSpec, String> {
    let allowed_ips = p
        .allowed_ips
        .iter()
        .map(|a| a.parse::<IpNet>().map_err(|_| format!("allowed ip {a:?}")))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(PeerSpec {
        network: network.to_string(),
        public_key: PublicKey::from_base64(&p.public_key).map_err(|e| e.to_string())?,
        endpoint: Endpoint::resolve(&p.endpoint).map_err(|e| e.to_string())?,
        allowed_ips,
        keepalive: KEEPALIVE,
        replaces: None,
    })
}

/// Apply `want` for the networks the control plane manages; `before` are
/// the ones it managed until now (removed when no longer wanted). Every
/// network is tried; the errors are returned, one line each.
pub fn apply<D: Dataplane>(
    agent: &mut Agent<D>,
    want: &Desired,
    before: &BTreeSet<String>,
) -> Vec<String> {
    let mut errors = Vec::new();
    // VXLAN networks go first and come last: one may ride in a
    // WireGuard network of the same state.
    let vxlan_here: BTreeSet<String> = (agent.networks().unwrap_or_default().into_iter())
        .filter(|n| n.record.mode == Mode::Vxlan)
        .map(|n| n.record.name)
        .collect();
    let mut gone: Vec<&String> = before.iter().filter(|n| !want.contains_key(*n)).collect();
    gone.sort_by_key(|n| !vxlan_here.contains(*n));
    for gone in gone {
        match agent.remove_network(gone, false) {
            Ok(_) => {
                tracing::info!(network = %gone, "network removed: the control plane no longer wants it")
            }
            Err(err) => errors.push(format!(
                "remove network {gone}: {}",
                weft_model::error::chain(&err)
            )),
        }
    }
    let mut nets: Vec<&pb::DesiredNetwork> = want.values().collect();
    nets.sort_by_key(|n| is_vxlan(n));
    for net in nets {
        if let Err(err) = apply_network(agent, net, before.contains(&net.name)) {
            errors.push(format!("network {}: {err}", net.name));
        }
    }
    errors
}

fn apply_network<D: Dataplane>(
    agent: &mut Agent<D>,
    net: &pb::DesiredNetwork,
    managed: bool,
) -> Result<(), String> {
    let spec = spec_of(net)?;
    let chain = |e: crate::error::AgentError| weft_model::error::chain(&e);
    let local = agent
        .networks()
        .map_err(chain)?
        .into_iter()
        .find(|n| n.record.name == net.name);
    let same = local.as_ref().is_some_and(|l| made_as(&l.record, &spec));
    if local.is_some() && !same {
        if !managed {
            return Err("a network of that name was made on this host with other settings (mode, subnet, block, VNI); left as it is".into());
        }
        agent.remove_network(&net.name, false).map_err(chain)?;
    }
    if !same {
        let view = agent.add_network(spec).map_err(chain)?;
        tracing::info!(network = %net.name, block = %net.block, interface = %view.ifname, "network made for the control plane");
    }
    if is_vxlan(net) {
        return apply_vteps(agent, net);
    }
    let have = agent.peers(&net.name).map_err(chain)?;
    let wanted: BTreeSet<&str> = net.peers.iter().map(|p| p.public_key.as_str()).collect();
    let specs = (net.peers.iter())
        .map(|p| peer_of(&net.name, p))
        .collect::<Result<Vec<_>, _>>()?;
    let gone =
        |p: &&crate::records::PeerRecord| !wanted.contains(p.public_key.to_base64().as_str());
    // A host that rotated its key comes back as a new key with the same
    // blocks: that peer replaces the old one in one change (see below).
    let replaced_by = |old: &crate::records::PeerRecord| {
        specs.iter().find(|s| {
            s.allowed_ips == old.allowed_ips && !have.iter().any(|h| h.public_key == s.public_key)
        })
    };
    for old in have
        .iter()
        .filter(gone)
        .filter(|p| replaced_by(p).is_none())
    {
        agent
            .remove_peer(&net.name, &old.public_key)
            .map_err(chain)?;
        tracing::info!(network = %net.name, peer = %old.public_key, "peer removed for the control plane");
    }
    for mut spec in specs.clone() {
        let same = have.iter().any(|h| {
            h.public_key == spec.public_key
                && h.endpoint == spec.endpoint.text
                && h.allowed_ips == spec.allowed_ips
        });
        if !same {
            spec.replaces = (have.iter().filter(gone))
                .find(|old| replaced_by(old).is_some_and(|s| s.public_key == spec.public_key))
                .map(|old| old.public_key);
            agent.add_peer(spec).map_err(chain)?;
        }
    }
    Ok(())
}

/// Make a VXLAN network's tunnel endpoints those of `net`: one FDB entry
/// (and the firewall's leave) per other host of the site.
fn apply_vteps<D: Dataplane>(agent: &mut Agent<D>, net: &pb::DesiredNetwork) -> Result<(), String> {
    let chain = |e: crate::error::AgentError| weft_model::error::chain(&e);
    let wanted = (net.peers.iter())
        .map(|p| vtep_of(&net.name, p))
        .collect::<Result<Vec<_>, _>>()?;
    let have = agent.vteps(&net.name).map_err(chain)?;
    for old in have
        .iter()
        .filter(|v| !wanted.iter().any(|w| w.address == v.address))
    {
        agent.remove_vtep(&net.name, old.address).map_err(chain)?;
        tracing::info!(network = %net.name, vtep = %old.address, "tunnel endpoint removed for the control plane");
    }
    for want in wanted {
        let same = (have.iter()).any(|h| h.address == want.address && h.block == want.block);
        if !same {
            let address = want.address;
            agent.add_vtep(want).map_err(chain)?;
            tracing::info!(network = %net.name, vtep = %address, "tunnel endpoint set for the control plane");
        }
    }
    Ok(())
}

/// What this host made of the managed networks: key and port of each.
pub fn report<D: Dataplane>(
    agent: &Agent<D>,
    managed: &BTreeSet<String>,
) -> Vec<pb::NetworkReport> {
    let Ok(views) = agent.networks() else {
        return vec![];
    };
    views
        .into_iter()
        .filter(|v| managed.contains(&v.record.name))
        .filter_map(|v| {
            let wg = v.record.wireguard.as_ref()?;
            Some(pb::NetworkReport {
                network: v.record.name.clone(),
                public_key: wg.private_key.public_key().to_base64(),
                listen_port: u32::from(wg.listen_port),
            })
        })
        .collect()
}

/// The managed networks' peers as reported: how many are in each health
/// state, and each link (at most [`weft_proto::MAX_REPORT_LINKS`], the
/// least healthy first), from one reading of the data plane.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PeerReport {
    pub health: Vec<pb::HealthCount>,
    pub links: Vec<pb::PeerLink>,
}

impl PeerReport {
    /// What a report's links are judged changed by: not the counters or
    /// handshake times, which move all the time, but who, how healthy and
    /// from where.
    pub fn link_shape(&self) -> Vec<(&str, &str, &str, &str)> {
        self.links
            .iter()
            .map(|l| {
                (
                    l.network.as_str(),
                    l.public_key.as_str(),
                    l.health.as_str(),
                    l.endpoint.as_str(),
                )
            })
            .collect()
    }
}

fn unix_secs(t: std::time::SystemTime) -> i64 {
    t.duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

pub fn peer_report<D: Dataplane>(agent: &Agent<D>, managed: &BTreeSet<String>) -> PeerReport {
    let Ok(views) = agent.status(None) else {
        return PeerReport::default();
    };
    let mut counts: BTreeMap<&'static str, u32> = BTreeMap::new();
    let mut links = Vec::new();
    for view in views
        .iter()
        .filter(|v| managed.contains(&v.network.record.name))
    {
        for (health, _) in view.health.values() {
            *counts.entry(health.as_str()).or_insert(0) += 1;
        }
        let Ok(Some(device)) = &view.device else {
            continue;
        };
        for p in &device.peers {
            let Some((health, _)) = view.health.get(&p.public_key) else {
                continue;
            };
            links.push((
                std::cmp::Reverse(*health as u8),
                pb::PeerLink {
                    network: view.network.record.name.clone(),
                    public_key: p.public_key.to_base64(),
                    health: health.as_str().to_string(),
                    last_handshake: p.last_handshake.map_or(0, unix_secs),
                    rx_bytes: p.rx_bytes,
                    tx_bytes: p.tx_bytes,
                    endpoint: p.endpoint.map(|e| e.to_string()).unwrap_or_default(),
                },
            ));
        }
    }
    links.sort_by(|(a, x), (b, y)| {
        (a, &x.network, &x.public_key).cmp(&(b, &y.network, &y.public_key))
    });
    links.truncate(weft_proto::MAX_REPORT_LINKS);
    PeerReport {
        health: counts
            .into_iter()
            .map(|(health, count)| pb::HealthCount {
                health: health.to_string(),
                count,
            })
            .collect(),
        links: links.into_iter().map(|(_, l)| l).collect(),
    }
}

#[cfg(test)]
mod tests;
