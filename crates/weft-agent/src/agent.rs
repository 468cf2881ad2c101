//! The agent's operations: validate, record, apply — and undo the record
//! when the kernel refuses, so a failed call changes nothing.
//!
//! Networks and peers are here; attachments in `attachments.rs`, the
//! start-up reconcile in `reconcile.rs`.

use crate::dataplane::{
    AttachmentPlan, BRIDGE_MTU, Dataplane, LOCAL_SOURCE, NetworkKind, NetworkPlan, Records,
    ServicesPlan, TUNNEL_MTU,
};
use crate::error::AgentError;
use crate::health::{Health, HealthBook, HealthSettings, peer_health};
use crate::store::{AttachmentRecord, NetworkRecord, PeerRecord, Store, WireguardSettings};
use ipnet::IpNet;
use std::collections::HashMap;
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::Arc;
use weft_model::{Mode, ModelError, PrivateKey, PublicKey, addressing, names, network, peer};
use weft_wg::{DeviceInfo, PeerConfig};

pub type Result<T> = std::result::Result<T, AgentError>;

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

#[derive(Clone, Debug, Default)]
pub struct NewPeer {
    pub network: String,
    pub public_key: String,
    pub endpoint: String,
    pub allowed_ips: Vec<String>,
    pub keepalive: u32,
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

#[derive(Clone, Debug)]
pub struct NetworkStatusView {
    pub network: NetworkView,
    /// Live WireGuard state (None on bridges), or why the interface is not
    /// as it should be.
    pub device: std::result::Result<Option<DeviceInfo>, String>,
    /// Per peer of the device: its health and the latest probe (None:
    /// not probed yet).
    pub health: HashMap<PublicKey, (Health, Option<bool>)>,
}

pub struct Agent<D: Dataplane> {
    pub(crate) store: Store,
    pub(crate) dp: D,
    /// This host's name in every network's DNS zone.
    pub(crate) host_name: String,
    pub(crate) health: Arc<HealthBook>,
    pub(crate) health_settings: HealthSettings,
}

/// The network's interface: wg0, wg1, … or weft-br0, …
pub fn network_ifname(net: &NetworkRecord) -> String {
    match net.mode {
        Mode::Wireguard => names::wireguard_ifname(net.index),
        Mode::Bridge => names::bridge_ifname(net.index),
    }
}

/// The host's address on the network, with the prefix it carries on the
/// interface.
pub fn host_address(net: &NetworkRecord) -> IpNet {
    let ip = addressing::host_address(&net.block);
    match net.mode {
        Mode::Wireguard => addressing::single(ip),
        Mode::Bridge => IpNet::new(ip, net.subnet.prefix_len()).expect("prefix of a valid subnet"),
    }
}

fn resolve_endpoint(text: &str) -> Result<SocketAddr> {
    let (host, port) = peer::split_endpoint(text)?;
    (host, port)
        .to_socket_addrs()
        .map_err(|e| ModelError::invalid("endpoint", text, format!("cannot resolve: {e}")))?
        .next()
        .ok_or_else(|| ModelError::invalid("endpoint", text, "the name has no addresses").into())
}

fn peer_config(record: &PeerRecord, endpoint: Option<SocketAddr>) -> PeerConfig {
    let mut config = PeerConfig::new(record.public_key);
    config.endpoint = endpoint;
    config.allowed_ips = record.allowed_ips.clone();
    config.replace_allowed_ips = true;
    config.persistent_keepalive = Some(record.keepalive);
    config
}

impl<D: Dataplane> Agent<D> {
    pub fn new(store: Store, dp: D) -> Self {
        Self {
            store,
            dp,
            host_name: "host".into(),
            health: Arc::default(),
            health_settings: HealthSettings::default(),
        }
    }

    /// Share probe results and counters with the agent's background tasks.
    pub fn with_health(mut self, book: Arc<HealthBook>, settings: HealthSettings) -> Self {
        self.health = book;
        self.health_settings = settings;
        self
    }

    pub fn health_book(&self) -> &Arc<HealthBook> {
        &self.health
    }

    /// Name this host in the networks' DNS zones (`<host>.<domain>`).
    pub fn with_host_name(mut self, name: &str) -> Result<Self> {
        names::validate_workload_name(name).map_err(|_| {
            ModelError::invalid(
                "host name",
                name,
                "must be a DNS label (letters, digits, '-', '_')",
            )
        })?;
        self.host_name = name.to_string();
        Ok(self)
    }

    pub fn dataplane(&self) -> &D {
        &self.dp
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub(crate) fn network_record(&self, name: &str) -> Result<NetworkRecord> {
        self.store
            .network(name)?
            .ok_or_else(|| AgentError::no_network(name))
    }

    pub(crate) fn view(&self, record: NetworkRecord) -> Result<NetworkView> {
        Ok(NetworkView {
            ifname: network_ifname(&record),
            public_key: record
                .wireguard
                .as_ref()
                .map(|w| w.private_key.public_key()),
            address: host_address(&record),
            peer_count: self.store.peers(&record.name)?.len(),
            attachment_count: self.store.attachments_of_network(&record.name)?.len(),
            // The host keeps one address of its block.
            capacity: addressing::capacity(&record.block).saturating_sub(1),
            record,
        })
    }

    /// Peers of a network as the data plane takes them. An endpoint that no
    /// longer resolves is left out (the peer can still reach us and roam).
    pub(crate) fn peer_configs(&self, network: &str) -> Result<Vec<PeerConfig>> {
        Ok(self
            .store
            .peers(network)?
            .iter()
            .map(|p| {
                let endpoint = resolve_endpoint(&p.endpoint)
                    .inspect_err(|e| tracing::warn!(network, peer = %p.public_key, "{e}"))
                    .ok();
                peer_config(p, endpoint)
            })
            .collect())
    }

    pub(crate) fn network_plan(&self, net: &NetworkRecord) -> Result<NetworkPlan> {
        let kind = match &net.wireguard {
            Some(wg) => NetworkKind::Wireguard {
                private_key: wg.private_key.clone(),
                listen_port: wg.listen_port,
                peers: self.peer_configs(&net.name)?,
            },
            None => NetworkKind::Bridge,
        };
        Ok(NetworkPlan {
            name: net.name.clone(),
            ifname: network_ifname(net),
            address: host_address(net),
            subnet: net.subnet,
            kind,
        })
    }

    pub(crate) fn attachment_plan(
        &self,
        net: &NetworkRecord,
        a: &AttachmentRecord,
    ) -> AttachmentPlan {
        let (address, bridge) = match net.mode {
            Mode::Wireguard => (addressing::single(a.ip), None),
            Mode::Bridge => (
                IpNet::new(a.ip, net.subnet.prefix_len()).expect("prefix of a valid subnet"),
                Some(network_ifname(net)),
            ),
        };
        AttachmentPlan {
            network: a.network.clone(),
            workload_id: a.workload_id.clone(),
            netns: a.netns.clone(),
            netns_id: a.netns_id,
            ifname: a.ifname.clone(),
            host_ifname: a.host_ifname.clone(),
            address,
            gateway: addressing::host_address(&net.block),
            subnet: net.subnet,
            default_route: a.default_route,
            mtu: if bridge.is_some() {
                BRIDGE_MTU
            } else {
                TUNNEL_MTU
            },
            bridge,
        }
    }

    /// The firewall rules of every network: each network's interfaces are
    /// its WireGuard interface and its veths (`w<index>-*`), or its bridge.
    pub(crate) fn firewall_rules(&self) -> Result<Vec<weft_firewall::NetworkRules>> {
        use weft_firewall::IfMatch;
        Ok(self
            .store
            .networks()?
            .iter()
            .map(|n| weft_firewall::NetworkRules {
                name: n.name.clone(),
                subnets: vec![n.subnet],
                interfaces: match n.mode {
                    Mode::Wireguard => vec![
                        IfMatch::Exact(network_ifname(n)),
                        IfMatch::Prefix(names::routed_veth_prefix(n.index)),
                    ],
                    Mode::Bridge => vec![IfMatch::Exact(network_ifname(n))],
                },
                internal: n.internal,
            })
            .collect())
    }

    pub(crate) fn apply_firewall(&self) -> Result<()> {
        Ok(self.dp.apply_firewall(&self.firewall_rules()?)?)
    }

    pub(crate) fn services_plan(&self, net: &NetworkRecord) -> ServicesPlan {
        ServicesPlan {
            network: net.name.clone(),
            domain: net.domain.clone(),
            listen: addressing::host_address(&net.block),
            internal: net.internal,
        }
    }

    /// The names this host gives a network's zone: itself and its named
    /// workloads.
    pub(crate) fn local_records(&self, net: &NetworkRecord) -> Result<Records> {
        let mut records = Records::new();
        records.insert(
            self.host_name.to_lowercase(),
            vec![addressing::host_address(&net.block)],
        );
        for a in self.store.attachments_of_network(&net.name)? {
            if !a.name.is_empty() {
                records.entry(a.name.to_lowercase()).or_default().push(a.ip);
            }
        }
        Ok(records)
    }

    pub(crate) fn publish_local_records(&self, net: &NetworkRecord) -> Result<()> {
        Ok(self
            .dp
            .set_records(&net.name, LOCAL_SOURCE, self.local_records(net)?)?)
    }

    /// Every peer with its address in the network (the first address of
    /// its first block), where its agent serves names and answers probes.
    pub fn peer_targets(&self) -> Result<Vec<(String, PublicKey, std::net::IpAddr)>> {
        let mut targets = vec![];
        for net in self.store.networks()? {
            for p in self.store.peers(&net.name)? {
                if let Some(block) = p.allowed_ips.first() {
                    targets.push((
                        net.name.clone(),
                        p.public_key,
                        addressing::host_address(block),
                    ));
                }
            }
        }
        Ok(targets)
    }

    // ---- networks ----

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
        let ifname = network_ifname(&net);
        self.dp.remove_services(name)?;
        self.dp.remove_network(&ifname)?;
        self.apply_firewall()?;
        tracing::info!(network = name, %ifname, "network removed");
        Ok(attached.len())
    }

    // ---- peers ----

    fn wireguard_network(&self, name: &str) -> Result<(NetworkRecord, WireguardSettings)> {
        let net = self.network_record(name)?;
        match net.wireguard.clone() {
            Some(wg) => Ok((net, wg)),
            None => Err(AgentError::Conflict(format!(
                "network {name:?} is a {} network: it has no WireGuard peers",
                net.mode
            ))),
        }
    }

    pub fn add_peer(&mut self, req: NewPeer) -> Result<PeerRecord> {
        let (net, wg) = self.wireguard_network(&req.network)?;
        let public_key = PublicKey::from_base64(&req.public_key)?;
        if public_key == wg.private_key.public_key() {
            return Err(ModelError::invalid(
                "public-key",
                public_key,
                "is this host's own key on the network",
            )
            .into());
        }
        resolve_endpoint(&req.endpoint)?;
        let allowed_ips = peer::parse_allowed_ips(req.allowed_ips.iter().map(String::as_str))?;
        let keepalive = u16::try_from(req.keepalive).map_err(|_| {
            ModelError::invalid("keepalive", req.keepalive, "must be from 0 to 65535")
        })?;
        let existing = self.store.peers(&net.name)?;
        let others: Vec<(String, IpNet)> = existing
            .iter()
            .filter(|p| p.public_key != public_key)
            .flat_map(|p| p.allowed_ips.iter().map(|n| (p.public_key.to_base64(), *n)))
            .collect();
        peer::check_allowed_ips(
            &allowed_ips,
            &net.subnet,
            &net.block,
            others.iter().map(|(k, n)| (k.as_str(), n)),
        )?;
        let record = PeerRecord {
            network: net.name.clone(),
            public_key,
            endpoint: req.endpoint,
            allowed_ips,
            keepalive,
        };
        let previous = existing.into_iter().find(|p| p.public_key == public_key);
        self.store.upsert_peer(&record)?;
        let ifname = network_ifname(&net);
        if let Err(err) = self.dp.set_peers(&ifname, &self.peer_configs(&net.name)?) {
            match &previous {
                Some(p) => self.store.upsert_peer(p)?,
                None => {
                    self.store.delete_peer(&net.name, &public_key)?;
                }
            }
            return Err(err.into());
        }
        tracing::info!(network = %net.name, peer = %public_key, endpoint = %record.endpoint, "peer set");
        Ok(record)
    }

    pub fn remove_peer(&mut self, network: &str, public_key: &str) -> Result<bool> {
        let (net, _) = self.wireguard_network(network)?;
        let key = PublicKey::from_base64(public_key)?;
        let removed = self.store.delete_peer(network, &key)?;
        if removed {
            self.dp
                .set_peers(&network_ifname(&net), &self.peer_configs(network)?)?;
            tracing::info!(network, peer = %key, "peer removed");
        }
        Ok(removed)
    }

    pub fn peers(&self, network: &str) -> Result<Vec<PeerRecord>> {
        self.network_record(network)?;
        Ok(self.store.peers(network)?)
    }

    // ---- names from outside sources ----

    /// Sources of names that the agent makes itself; others may be set.
    fn check_source(source: &str) -> Result<()> {
        if source.is_empty() || source == LOCAL_SOURCE || source.starts_with("peer:") {
            return Err(ModelError::invalid(
                "source",
                source,
                "must be a name of your own (\"local\" and \"peer:…\" are the agent's)",
            )
            .into());
        }
        names::validate_workload_name(source).map_err(|_| {
            ModelError::invalid("source", source, "must be letters, digits, '-' and '_'")
        })?;
        Ok(())
    }

    /// Replace the names `source` gives `network` (kept across restarts).
    pub fn set_names(&mut self, network: &str, source: &str, records: Records) -> Result<()> {
        let net = self.network_record(network)?;
        Self::check_source(source)?;
        let mut clean = Records::new();
        for (name, addrs) in records {
            names::validate_workload_name(&name)?;
            clean.insert(name.to_lowercase(), addrs);
        }
        self.store.set_names(&net.name, source, &clean)?;
        self.dp.set_records(&net.name, source, clean)?;
        Ok(())
    }

    pub fn get_names(&self, network: &str, source: &str) -> Result<Records> {
        self.network_record(network)?;
        Ok(self
            .store
            .names(network)?
            .remove(source)
            .unwrap_or_default())
    }

    /// Give the data plane every stored source's names of a network.
    pub(crate) fn publish_stored_names(&self, net: &NetworkRecord) -> Result<()> {
        for (source, records) in self.store.names(&net.name)? {
            self.dp.set_records(&net.name, &source, records)?;
        }
        Ok(())
    }

    // ---- status ----

    pub fn status(&self, network: Option<&str>) -> Result<Vec<NetworkStatusView>> {
        let nets = match network {
            Some(n) => vec![self.network_record(n)?],
            None => self.store.networks()?,
        };
        nets.into_iter()
            .map(|net| {
                let plan = self.network_plan(&net)?;
                let view = self.view(net)?;
                let device = match plan.kind {
                    NetworkKind::Wireguard { .. } => self
                        .dp
                        .network_status(&view.ifname)
                        .map(Some)
                        .map_err(|e| e.to_string()),
                    NetworkKind::Bridge => match self.dp.network_present(&plan) {
                        Ok(true) => Ok(None),
                        Ok(false) => Err(format!("{} is missing or not configured", view.ifname)),
                        Err(e) => Err(e.to_string()),
                    },
                };
                let now = std::time::SystemTime::now();
                let health = match &device {
                    Ok(Some(d)) => d
                        .peers
                        .iter()
                        .map(|p| {
                            let age = p
                                .last_handshake
                                .map(|t| now.duration_since(t).unwrap_or_default());
                            let probe = self.health.probe(&view.record.name, &p.public_key);
                            (
                                p.public_key,
                                (peer_health(age, probe, &self.health_settings), probe),
                            )
                        })
                        .collect(),
                    _ => HashMap::new(),
                };
                Ok(NetworkStatusView {
                    network: view,
                    device,
                    health,
                })
            })
            .collect()
    }
}
