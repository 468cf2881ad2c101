//! Networks: create (record, firewall, interface, services, names — and
//! back out of all of it if any step fails), list, remove.

use crate::agent::{Agent, Result};
use crate::dataplane::Dataplane;
use crate::error::AgentError;
use crate::records::{NetworkRecord, WireguardSettings};
use ipnet::IpNet;
use weft_model::{Mode, ModelError, PrivateKey, PublicKey, addressing, names, network};

/// The first listen port handed out when none is asked for.
pub const DEFAULT_LISTEN_PORT: u16 = 51820;

#[derive(Clone, Debug, Default)]
pub struct NewNetwork {
    pub name: String,
    /// "wireguard" (default) or "bridge".
    pub mode: String,
    pub subnet: String,
    /// Empty: the default block of the mode (see `network::default_block`).
    pub block: String,
    /// 0: the first free port from [`DEFAULT_LISTEN_PORT`].
    pub listen_port: u32,
    /// Base64; empty: generate.
    pub private_key: String,
    /// No egress masquerade, no upstream DNS.
    pub internal: bool,
    /// Empty: [`network::DEFAULT_DOMAIN`].
    pub domain: String,
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
        Ok(self.dp.apply_firewall(&self.firewall_rules()?)?)
    }

    pub fn add_network(&mut self, req: NewNetwork) -> Result<NetworkView> {
        names::validate_network_name(&req.name)?;
        let mode = Mode::parse(&req.mode)?;
        let domain = match req.domain.as_str() {
            "" => network::DEFAULT_DOMAIN.to_string(),
            d => {
                names::validate_domain(d)?;
                d.to_string()
            }
        };
        let subnet = addressing::parse_cidr("subnet", &req.subnet)?;
        addressing::validate_subnet(&subnet)?;
        let block = match req.block.as_str() {
            "" => network::default_block(mode, &subnet),
            text => addressing::parse_cidr("block", text)?,
        };
        addressing::validate_block(&subnet, &block)?;
        if !subnet.addr().is_ipv4() {
            return Err(ModelError::invalid(
                "subnet",
                subnet,
                "IPv6 networks are not supported yet",
            )
            .into());
        }
        let existing = self.store.networks()?;
        if existing.iter().any(|n| n.name == req.name) {
            return Err(AgentError::Exists(format!(
                "network {:?} already exists",
                req.name
            )));
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
        let wireguard = match mode {
            Mode::Wireguard => Some(self.wireguard_settings(&req, &existing)?),
            Mode::Bridge => {
                if req.listen_port != 0 || !req.private_key.is_empty() {
                    return Err(ModelError::invalid(
                        "mode",
                        mode,
                        "a bridge network has no WireGuard listen port or key",
                    )
                    .into());
                }
                None
            }
        };
        let index = (0..)
            .find(|i| existing.iter().all(|n| n.mode != mode || n.index != *i))
            .expect("an unbounded range always has a free index");
        let record = NetworkRecord {
            name: req.name,
            mode,
            index,
            subnet,
            block,
            wireguard,
            internal: req.internal,
            domain,
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
                .and_then(|()| self.dp.remove_network(&plan.ifname));
            if let Err(e) = undo {
                tracing::warn!(network = %record.name, "rolling back: {e}");
            }
            self.store.delete_network(&record.name)?;
            if let Err(e) = self.apply_firewall() {
                tracing::warn!(network = %record.name, "rolling back the firewall: {e}");
            }
            return Err(err);
        }
        tracing::info!(network = %record.name, %mode, ifname = %plan.ifname, %subnet, %block, "network created");
        self.view(record)
    }

    fn wireguard_settings(
        &self,
        req: &NewNetwork,
        existing: &[NetworkRecord],
    ) -> Result<WireguardSettings> {
        let used = |port: u16| {
            existing
                .iter()
                .find(|n| n.wireguard.as_ref().is_some_and(|w| w.listen_port == port))
        };
        let listen_port = match req.listen_port {
            0 => (DEFAULT_LISTEN_PORT..=u16::MAX)
                .find(|p| used(*p).is_none())
                .ok_or_else(|| AgentError::Conflict("no free listen port".into()))?,
            p => {
                let port = u16::try_from(p).map_err(|_| {
                    ModelError::invalid("listen-port", p, "must be from 1 to 65535")
                })?;
                if let Some(other) = used(port) {
                    return Err(ModelError::invalid(
                        "listen-port",
                        port,
                        format!("is already used by network {:?}", other.name),
                    )
                    .into());
                }
                port
            }
        };
        let private_key = match req.private_key.trim() {
            "" => PrivateKey::generate(),
            text => PrivateKey::from_base64(text)?,
        };
        Ok(WireguardSettings {
            listen_port,
            private_key,
        })
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
        let attached = self.store.attachments_of_network(name)?;
        if !attached.is_empty() && !force {
            let ids: Vec<&str> = attached.iter().map(|a| a.workload_id.as_str()).collect();
            return Err(AgentError::Conflict(format!(
                "network {name:?} still has {} attached workload(s) ({}); detach them first or use --force",
                ids.len(),
                ids.join(", ")
            )));
        }
        for a in &attached {
            self.detach(name, &a.workload_id)?;
        }
        self.store.delete_network(name)?;
        let ifname = net.ifname();
        self.dp.remove_services(name)?;
        self.dp.remove_network(&ifname)?;
        self.apply_firewall()?;
        tracing::info!(network = name, %ifname, "network removed");
        Ok(attached.len())
    }
}
