//! The agent's operations: validate, record, apply — and undo the record
//! when the kernel refuses, so a failed call changes nothing.

use crate::dataplane::{AttachmentPlan, AttachmentState, Dataplane, NetworkPlan};
use crate::error::AgentError;
use crate::store::{AttachmentRecord, NetworkRecord, PeerRecord, Store};
use ipnet::IpNet;
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use weft_model::{PrivateKey, PublicKey, addressing, names, peer};
use weft_wg::{DeviceInfo, PeerConfig};

pub type Result<T> = std::result::Result<T, AgentError>;

/// The first listen port handed out when none is asked for.
pub const DEFAULT_LISTEN_PORT: u16 = 51820;

#[derive(Clone, Debug, Default)]
pub struct NewNetwork {
    pub name: String,
    pub subnet: String,
    pub block: String,
    /// 0: the first free port from [`DEFAULT_LISTEN_PORT`].
    pub listen_port: u32,
    /// Base64; empty: generate.
    pub private_key: String,
}

#[derive(Clone, Debug, Default)]
pub struct NewPeer {
    pub network: String,
    pub public_key: String,
    pub endpoint: String,
    pub allowed_ips: Vec<String>,
    pub keepalive: u32,
}

#[derive(Clone, Debug, Default)]
pub struct NewAttachment {
    pub network: String,
    pub netns: String,
    pub id: String,
    pub name: String,
    pub ifname: String,
    pub ip: String,
}

/// A network as shown to users.
#[derive(Clone, Debug)]
pub struct NetworkView {
    pub record: NetworkRecord,
    pub ifname: String,
    pub public_key: PublicKey,
    pub address: IpNet,
    pub peer_count: usize,
    pub attachment_count: usize,
}

#[derive(Clone, Debug)]
pub struct AttachmentView {
    pub record: AttachmentRecord,
    pub gateway: IpAddr,
    pub subnet: IpNet,
    pub mac: String,
}

#[derive(Clone, Debug)]
pub struct NetworkStatusView {
    pub network: NetworkView,
    /// Live from the data plane, or why it could not be read.
    pub device: std::result::Result<DeviceInfo, String>,
}

/// What a reconcile pass did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReconcileReport {
    pub networks: usize,
    pub attachments_kept: usize,
    pub attachments_recreated: usize,
    pub attachments_released: Vec<String>,
    pub orphans_removed: Vec<String>,
    pub errors: Vec<String>,
}

pub struct Agent<D: Dataplane> {
    store: Store,
    dp: D,
}

fn host_address(net: &NetworkRecord) -> IpNet {
    addressing::single(addressing::host_address(&net.block))
}

fn resolve_endpoint(text: &str) -> Result<SocketAddr> {
    let (host, port) = peer::split_endpoint(text)?;
    (host, port)
        .to_socket_addrs()
        .map_err(|e| {
            weft_model::ModelError::invalid("endpoint", text, format!("cannot resolve: {e}"))
        })?
        .next()
        .ok_or_else(|| {
            weft_model::ModelError::invalid("endpoint", text, "the name has no addresses").into()
        })
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
        Self { store, dp }
    }

    pub fn dataplane(&self) -> &D {
        &self.dp
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    fn network_record(&self, name: &str) -> Result<NetworkRecord> {
        self.store
            .network(name)?
            .ok_or_else(|| AgentError::no_network(name))
    }

    fn view(&self, record: NetworkRecord) -> Result<NetworkView> {
        Ok(NetworkView {
            ifname: names::wireguard_ifname(record.index),
            public_key: record.private_key.public_key(),
            address: host_address(&record),
            peer_count: self.store.peers(&record.name)?.len(),
            attachment_count: self.store.attachments_of_network(&record.name)?.len(),
            record,
        })
    }

    /// Peers of a network as the data plane takes them. An endpoint that no
    /// longer resolves is left out (the peer can still reach us and roam).
    fn peer_configs(&self, network: &str) -> Result<Vec<PeerConfig>> {
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

    fn network_plan(&self, net: &NetworkRecord) -> Result<NetworkPlan> {
        Ok(NetworkPlan {
            name: net.name.clone(),
            ifname: names::wireguard_ifname(net.index),
            private_key: net.private_key.clone(),
            listen_port: net.listen_port,
            address: host_address(net),
            subnet: net.subnet,
            peers: self.peer_configs(&net.name)?,
        })
    }

    fn attachment_plan(&self, net: &NetworkRecord, a: &AttachmentRecord) -> AttachmentPlan {
        AttachmentPlan {
            network: a.network.clone(),
            workload_id: a.workload_id.clone(),
            netns: a.netns.clone(),
            netns_id: a.netns_id,
            ifname: a.ifname.clone(),
            host_ifname: a.host_ifname.clone(),
            ip: a.ip,
            gateway: addressing::host_address(&net.block),
            subnet: net.subnet,
            default_route: a.default_route,
        }
    }

    // ---- networks ----

    pub fn add_network(&mut self, req: NewNetwork) -> Result<NetworkView> {
        names::validate_network_name(&req.name)?;
        let subnet = addressing::parse_cidr("subnet", &req.subnet)?;
        addressing::validate_subnet(&subnet)?;
        let block = addressing::parse_cidr("block", &req.block)?;
        addressing::validate_block(&subnet, &block)?;
        if !subnet.addr().is_ipv4() {
            return Err(weft_model::ModelError::invalid(
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
            return Err(weft_model::ModelError::invalid(
                "subnet",
                subnet,
                format!("overlaps network {:?} ({})", other.name, other.subnet),
            )
            .into());
        }
        let listen_port = match req.listen_port {
            0 => (DEFAULT_LISTEN_PORT..=u16::MAX)
                .find(|p| existing.iter().all(|n| n.listen_port != *p))
                .ok_or_else(|| AgentError::Conflict("no free listen port".into()))?,
            p => {
                let port = u16::try_from(p).map_err(|_| {
                    weft_model::ModelError::invalid("listen-port", p, "must be from 1 to 65535")
                })?;
                if let Some(other) = existing.iter().find(|n| n.listen_port == port) {
                    return Err(weft_model::ModelError::invalid(
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
        let index = (0..)
            .find(|i| existing.iter().all(|n| n.index != *i))
            .expect("an unbounded range always has a free index");
        let record = NetworkRecord {
            name: req.name,
            index,
            subnet,
            block,
            listen_port,
            private_key,
        };
        self.store.insert_network(&record)?;
        let plan = self.network_plan(&record)?;
        if let Err(err) = self.dp.ensure_network(&plan) {
            if let Err(e) = self.dp.remove_network(&plan.ifname, &plan.subnet) {
                tracing::warn!(network = %record.name, "rolling back: {e}");
            }
            self.store.delete_network(&record.name)?;
            return Err(err.into());
        }
        tracing::info!(network = %record.name, ifname = %plan.ifname, %subnet, %block, listen_port, "network created");
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
        let ifname = names::wireguard_ifname(net.index);
        self.dp.remove_network(&ifname, &net.subnet)?;
        tracing::info!(network = name, %ifname, "network removed");
        Ok(attached.len())
    }

    // ---- peers ----

    pub fn add_peer(&mut self, req: NewPeer) -> Result<PeerRecord> {
        let net = self.network_record(&req.network)?;
        let public_key = PublicKey::from_base64(&req.public_key)?;
        if public_key == net.private_key.public_key() {
            return Err(weft_model::ModelError::invalid(
                "public-key",
                public_key,
                "is this host's own key on the network",
            )
            .into());
        }
        resolve_endpoint(&req.endpoint)?;
        let allowed_ips = peer::parse_allowed_ips(req.allowed_ips.iter().map(String::as_str))?;
        let keepalive = u16::try_from(req.keepalive).map_err(|_| {
            weft_model::ModelError::invalid("keepalive", req.keepalive, "must be from 0 to 65535")
        })?;
        let existing = self.store.peers(&net.name)?;
        let others: Vec<(String, IpNet)> = existing
            .iter()
            .filter(|p| p.public_key != public_key)
            .flat_map(|p| p.allowed_ips.iter().map(|n| (p.public_key.to_base64(), *n)))
            .collect();
        peer::check_allowed_ips(
            &allowed_ips,
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
        let ifname = names::wireguard_ifname(net.index);
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
        let net = self.network_record(network)?;
        let key = PublicKey::from_base64(public_key)?;
        let removed = self.store.delete_peer(network, &key)?;
        if removed {
            let ifname = names::wireguard_ifname(net.index);
            self.dp.set_peers(&ifname, &self.peer_configs(network)?)?;
            tracing::info!(network, peer = %key, "peer removed");
        }
        Ok(removed)
    }

    pub fn peers(&self, network: &str) -> Result<Vec<PeerRecord>> {
        self.network_record(network)?;
        Ok(self.store.peers(network)?)
    }

    // ---- attachments ----

    pub fn attach(&mut self, req: NewAttachment) -> Result<AttachmentView> {
        names::validate_workload_id(&req.id)?;
        if !req.name.is_empty() {
            names::validate_workload_name(&req.name)?;
        }
        let net = self.network_record(&req.network)?;
        if let Some(a) = self.store.attachment(&net.name, &req.id)? {
            return Err(AgentError::Exists(format!(
                "workload {:?} is already attached to network {:?} (as {}, {})",
                a.workload_id, a.network, a.ifname, a.ip
            )));
        }
        if req.netns.is_empty() {
            return Err(weft_model::ModelError::invalid(
                "netns",
                "",
                "a namespace path is required",
            )
            .into());
        }
        let netns_id = self.dp.netns_id(&req.netns).ok_or_else(|| {
            weft_model::ModelError::invalid(
                "netns",
                &req.netns,
                "no network namespace at this path",
            )
        })?;
        let siblings = self.store.attachments_of_workload(&req.id)?;
        if let Some(other) = siblings.iter().find(|s| s.netns_id != netns_id) {
            return Err(AgentError::Conflict(format!(
                "workload {:?} is attached to network {:?} in another namespace ({})",
                req.id, other.network, other.netns
            )));
        }
        let ifname = if req.ifname.is_empty() {
            names::next_workload_ifname(siblings.iter().map(|s| s.ifname.as_str()))
        } else {
            names::validate_ifname("ifname", &req.ifname)?;
            if let Some(s) = siblings.iter().find(|s| s.ifname == req.ifname) {
                return Err(weft_model::ModelError::invalid(
                    "ifname",
                    &req.ifname,
                    format!(
                        "is already used by this workload on network {:?}",
                        s.network
                    ),
                )
                .into());
            }
            req.ifname.clone()
        };
        let used = self.store.used_ips(&net.name)?;
        let ip = if req.ip.is_empty() {
            addressing::allocate(&net.block, &used)?
        } else {
            let ip: IpAddr = req
                .ip
                .parse()
                .map_err(|_| weft_model::ModelError::invalid("ip", &req.ip, "not an IP address"))?;
            addressing::check_requested(&net.block, ip, &used)?;
            ip
        };
        let taken = self.store.host_ifnames()?;
        let host_ifname =
            names::host_veth_name(net.index, &req.id, taken.iter().map(String::as_str));
        let record = AttachmentRecord {
            network: net.name.clone(),
            workload_id: req.id,
            name: req.name,
            netns: req.netns,
            netns_id,
            ifname,
            host_ifname,
            ip,
            default_route: siblings.is_empty(),
        };
        self.store.insert_attachment(&record)?;
        let plan = self.attachment_plan(&net, &record);
        let state = match self.dp.create_attachment(&plan) {
            Ok(state) => state,
            Err(err) => {
                self.store
                    .delete_attachment(&record.network, &record.workload_id)?;
                return Err(err.into());
            }
        };
        tracing::info!(network = %record.network, workload = %record.workload_id, ifname = %record.ifname, host_ifname = %record.host_ifname, ip = %record.ip, "attached");
        Ok(AttachmentView {
            gateway: plan.gateway,
            subnet: plan.subnet,
            mac: state.mac,
            record,
        })
    }

    /// Detach; `Ok(false)` when the workload was not attached.
    pub fn detach(&mut self, network: &str, workload_id: &str) -> Result<bool> {
        let net = self.network_record(network)?;
        let Some(record) = self.store.attachment(network, workload_id)? else {
            return Ok(false);
        };
        // Forget first: if we die half-way, the leftover veth carries our
        // alias and the next start removes it as an orphan.
        self.store.delete_attachment(network, workload_id)?;
        self.dp
            .remove_attachment(&self.attachment_plan(&net, &record))?;
        tracing::info!(network, workload = workload_id, ip = %record.ip, "detached");
        Ok(true)
    }

    pub fn attachments(&self, network: Option<&str>) -> Result<Vec<AttachmentView>> {
        let records = match network {
            Some(n) => {
                self.network_record(n)?;
                self.store.attachments_of_network(n)?
            }
            None => self.store.attachments()?,
        };
        records
            .into_iter()
            .map(|record| {
                let net = self.network_record(&record.network)?;
                let plan = self.attachment_plan(&net, &record);
                let mac = match self.dp.attachment_state(&plan) {
                    Ok(Some(AttachmentState { mac })) => mac,
                    _ => String::new(),
                };
                Ok(AttachmentView {
                    gateway: plan.gateway,
                    subnet: plan.subnet,
                    mac,
                    record,
                })
            })
            .collect()
    }

    // ---- status ----

    pub fn status(&self, network: Option<&str>) -> Result<Vec<NetworkStatusView>> {
        let nets = match network {
            Some(n) => vec![self.network_record(n)?],
            None => self.store.networks()?,
        };
        nets.into_iter()
            .map(|net| {
                let view = self.view(net)?;
                let device = self
                    .dp
                    .network_status(&view.ifname)
                    .map_err(|e| e.to_string());
                Ok(NetworkStatusView {
                    network: view,
                    device,
                })
            })
            .collect()
    }

    // ---- reconcile ----

    /// Make the kernel match the store: re-create missing interfaces, peers
    /// and attachments; release attachments whose namespace is gone; remove
    /// links that carry our alias but are not in the store.
    pub fn reconcile(&mut self) -> Result<ReconcileReport> {
        let mut report = ReconcileReport::default();
        let networks = self.store.networks()?;
        for net in &networks {
            report.networks += 1;
            let plan = self.network_plan(net)?;
            if let Err(e) = self.dp.ensure_network(&plan) {
                report.errors.push(format!("network {}: {e}", net.name));
            }
        }
        for a in self.store.attachments()? {
            let Some(net) = networks.iter().find(|n| n.name == a.network) else {
                continue;
            };
            let plan = self.attachment_plan(net, &a);
            let label = format!("{}/{}", a.network, a.workload_id);
            if self.dp.netns_id(&a.netns) != Some(a.netns_id) {
                self.store.delete_attachment(&a.network, &a.workload_id)?;
                if let Err(e) = self.dp.remove_attachment(&plan) {
                    report.errors.push(format!("release {label}: {e}"));
                }
                tracing::info!(attachment = %label, ip = %a.ip, "namespace gone: attachment released");
                report.attachments_released.push(label);
                continue;
            }
            match self.dp.attachment_state(&plan) {
                Ok(Some(_)) => report.attachments_kept += 1,
                Ok(None) | Err(_) => {
                    let result = self
                        .dp
                        .remove_attachment(&plan)
                        .and_then(|()| self.dp.create_attachment(&plan));
                    match result {
                        Ok(_) => report.attachments_recreated += 1,
                        Err(e) => report.errors.push(format!("re-create {label}: {e}")),
                    }
                }
            }
        }
        let known_networks: Vec<String> = networks
            .iter()
            .map(|n| crate::dataplane::network_alias(&n.name))
            .collect();
        let known_attachments: Vec<String> = self
            .store
            .attachments()?
            .iter()
            .map(|a| crate::dataplane::attachment_alias(&a.network, &a.workload_id))
            .collect();
        for link in self.dp.owned_links()? {
            if known_networks.contains(&link.alias) || known_attachments.contains(&link.alias) {
                continue;
            }
            match self.dp.delete_link(&link.name) {
                Ok(()) => report.orphans_removed.push(link.name),
                Err(e) => report
                    .errors
                    .push(format!("remove orphan {}: {e}", link.name)),
            }
        }
        for e in &report.errors {
            tracing::warn!("reconcile: {e}");
        }
        tracing::info!(
            networks = report.networks,
            kept = report.attachments_kept,
            recreated = report.attachments_recreated,
            released = report.attachments_released.len(),
            orphans = report.orphans_removed.len(),
            "reconciled"
        );
        Ok(report)
    }
}
