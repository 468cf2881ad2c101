//! Networks: create (record, firewall, interface, services, names — and
//! back out of all of it if any step fails), list, remove.

use crate::agent::{Agent, Result};
use crate::dataplane::Dataplane;
use crate::error::{Conflict, Existing};
use crate::records::{NetworkRecord, Underlay, WireguardSettings};
use ipnet::{IpNet, Ipv4Net};
use weft_model::error::chain;
use weft_model::names::{Domain, NetworkName};
use weft_model::{Mode, ModelError, PrivateKey, PublicKey, addressing};

/// The first listen port handed out when none is asked for.
pub const DEFAULT_LISTEN_PORT: u16 = 51820;

/// A network to create, parsed and checked on its own at the edge (see
/// `grpc/requests.rs`); [`Agent::add_network`] checks it against the other
/// networks.
#[derive(Clone, Debug)]
pub struct NetworkSpec {
    pub name: NetworkName,
    pub subnet: Ipv4Net,
    /// This host's block of the subnet: the one asked for, or the mode's
    /// default ([`weft_model::network::default_block`]).
    pub block: Ipv4Net,
    pub kind: KindSpec,
    /// No egress masquerade, no upstream DNS.
    pub internal: bool,
    pub domain: Domain,
}

/// What carries the network, with what WireGuard needs.
#[derive(Clone, Debug)]
pub enum KindSpec {
    Wireguard {
        /// None: the first free port from [`DEFAULT_LISTEN_PORT`].
        listen_port: Option<u16>,
        /// None: generate one.
        private_key: Option<PrivateKey>,
    },
    Bridge,
    Vxlan(VxlanSpec),
}

/// A VXLAN network's settings as asked for; checked against the host and
/// the other networks by [`Agent::add_network`] (see `vxlan.rs`).
#[derive(Clone, Debug)]
pub struct VxlanSpec {
    /// 1–16777215 (checked at the edge).
    pub vni: u32,
    pub port: u16,
    /// None: the largest the underlay carries.
    pub mtu: Option<u32>,
    pub underlay: Underlay,
}

impl NetworkSpec {
    pub fn mode(&self) -> Mode {
        match self.kind {
            KindSpec::Wireguard { .. } => Mode::Wireguard,
            KindSpec::Bridge => Mode::Bridge,
            KindSpec::Vxlan(_) => Mode::Vxlan,
        }
    }
}

/// A network as shown to users.
#[derive(Clone, Debug)]
pub struct NetworkView {
    pub record: NetworkRecord,
    pub ifname: String,
    pub public_key: Option<PublicKey>,
    pub address: IpNet,
    pub peer_count: usize,
    pub attachment_count: usize,
    /// Addresses the block can give to workloads, in all.
    pub capacity: u128,
}

impl<D: Dataplane> Agent<D> {
    pub(crate) fn view(&self, record: NetworkRecord) -> Result<NetworkView> {
        Ok(NetworkView {
            ifname: record.ifname(),
            public_key: record
                .wireguard
                .as_ref()
                .map(|w| w.private_key.public_key()),
            address: record.host_address(),
            peer_count: self.store.peers(&record.name)?.len(),
            attachment_count: self.store.attachments_of_network(&record.name)?.len(),
            // The host keeps one address of its block.
            capacity: addressing::capacity(&record.block).saturating_sub(1),
            record,
        })
    }

    pub(crate) fn apply_firewall(&self) -> Result<()> {
        self.dp.apply_firewall(&self.firewall_rules()?)?;
        Ok(())
    }

    /// After an attach or detach on a bridge network: its port's pins
    /// alone, O(change) (see [`Dataplane::apply_bridge_ports`]).
    pub(crate) fn pin_bridge_ports(&self) -> Result<()> {
        self.dp.apply_bridge_ports(&self.firewall_rules()?)?;
        Ok(())
    }

    pub fn add_network(&mut self, spec: NetworkSpec) -> Result<NetworkView> {
        let mode = spec.mode();
        let subnet = IpNet::V4(spec.subnet);
        let block = IpNet::V4(spec.block);
        let existing = self.store.networks()?;
        if existing.iter().any(|n| n.name == spec.name.as_str()) {
            return Err(Existing::Network {
                name: spec.name.into_string(),
            }
            .into());
        }
        if let Some(other) = existing
            .iter()
            .find(|n| addressing::overlaps(&n.subnet, &subnet))
        {
            return Err(ModelError::invalid(
                "subnet",
                subnet,
                format!("overlaps network {:?} ({})", other.name, other.subnet),
            )
            .into());
        }
        // Routing the subnet through weft would take the host's own traffic
        // for those addresses (its underlay, a runtime's bridge) away.
        if let Some(host) = self
            .dp
            .host_prefixes()?
            .into_iter()
            .find(|h| addressing::overlaps(&h.prefix, &subnet))
        {
            return Err(ModelError::invalid("subnet", subnet, format!("overlaps {host}")).into());
        }
        let (wireguard, vxlan) = match spec.kind {
            KindSpec::Wireguard {
                listen_port,
                private_key,
            } => (
                Some(wireguard_settings(
                    listen_port,
                    private_key,
                    &existing,
                    |port| self.dp.udp_port_free(port),
                )?),
                None,
            ),
            KindSpec::Bridge => (None, None),
            KindSpec::Vxlan(vx) => (None, Some(self.vxlan_settings(vx, &existing)?)),
        };
        let index = (0..)
            .find(|i| existing.iter().all(|n| n.mode != mode || n.index != *i))
            .expect("an unbounded range always has a free index");
        let record = NetworkRecord {
            name: spec.name.into_string(),
            mode,
            index,
            subnet,
            block,
            wireguard,
            vxlan,
            internal: spec.internal,
            domain: spec.domain.into_string(),
        };
        self.store.insert_network(&record)?;
        let plan = self.network_plan(&record)?;
        // Rules first: they match interface names, so nothing the network
        // brings up is ever unfiltered.
        let applied = self
            .apply_firewall()
            .and_then(|()| Ok(self.dp.ensure_network(&plan)?))
            .and_then(|()| Ok(self.dp.ensure_services(&self.services_plan(&record))?))
            .and_then(|()| self.publish_local_records(&record));
        if let Err(err) = applied {
            let undo = self
                .dp
                .remove_services(&record.name)
                .and_then(|()| self.dp.remove_network(&plan));
            if let Err(e) = undo {
                tracing::warn!(network = %record.name, "rolling back: {}", chain(&e));
            }
            self.store.delete_network(&record.name)?;
            if let Err(e) = self.apply_firewall() {
                tracing::warn!(network = %record.name, "rolling back the firewall: {}", chain(&e));
            }
            return Err(err);
        }
        tracing::info!(network = %record.name, %mode, ifname = %plan.ifname, %subnet, %block, "network created");
        self.view(record)
    }

    pub fn networks(&self) -> Result<Vec<NetworkView>> {
        self.store
            .networks()?
            .into_iter()
            .map(|n| self.view(n))
            .collect()
    }

    /// Remove a network; returns how many workloads were detached (force).
    pub fn remove_network(&mut self, name: &str, force: bool) -> Result<usize> {
        let net = self.network_record(name)?;
        if let Some(above) = self.networks_over(name)?.first() {
            return Err(Conflict::Underlay {
                network: name.to_string(),
                above: above.clone(),
            }
            .into());
        }
        let attached = self.store.attachments_of_network(name)?;
        if !attached.is_empty() && !force {
            return Err(Conflict::StillAttached {
                network: name.to_string(),
                workloads: attached.into_iter().map(|a| a.workload_id).collect(),
            }
            .into());
        }
        for a in &attached {
            self.detach(name, &a.workload_id)?;
        }
        let plan = self.network_plan(&net)?;
        self.store.delete_network(name)?;
        let ifname = net.ifname();
        self.dp.remove_services(name)?;
        self.dp.remove_network(&plan)?;
        self.apply_firewall()?;
        tracing::info!(network = name, %ifname, "network removed");
        Ok(attached.len())
    }
}

/// The port and key of a new WireGuard network: as asked for (the port
/// free), or the first free port and a new key. A port is free when no
/// network of ours has it and `port_free` (a bind in the agent's
/// namespace) finds nobody else holding it either; a port of a network
/// whose interface is down at the moment still counts as taken.
fn wireguard_settings(
    listen_port: Option<u16>,
    private_key: Option<PrivateKey>,
    existing: &[NetworkRecord],
    port_free: impl Fn(u16) -> bool,
) -> Result<WireguardSettings> {
    let used = |port: u16| {
        existing
            .iter()
            .find(|n| n.wireguard.as_ref().is_some_and(|w| w.listen_port == port))
    };
    let listen_port = match listen_port {
        None => (DEFAULT_LISTEN_PORT..=u16::MAX)
            .find(|p| used(*p).is_none() && port_free(*p))
            .ok_or(Conflict::NoFreeListenPort)?,
        Some(port) => {
            if let Some(other) = used(port) {
                return Err(ModelError::invalid(
                    "listen-port",
                    port,
                    format!("is already used by network {:?}", other.name),
                )
                .into());
            }
            if !port_free(port) {
                return Err(ModelError::invalid(
                    "listen-port",
                    port,
                    "is in use by another program (UDP)",
                )
                .into());
            }
            port
        }
    };
    Ok(WireguardSettings {
        listen_port,
        private_key: private_key.unwrap_or_else(PrivateKey::generate),
        retiring_key: None,
        key_since: Some(crate::keys::unix_now()),
    })
}
