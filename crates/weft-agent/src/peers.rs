//! WireGuard peers of a network: validated against the network and the
//! other peers, recorded, applied (and restored when the kernel refuses).

use crate::agent::{Agent, Result};
use crate::dataplane::Dataplane;
use crate::error::Conflict;
use crate::health::PeerRef;
use crate::records::{NetworkRecord, PeerRecord, WireguardSettings};
use ipnet::IpNet;
use std::net::{SocketAddr, ToSocketAddrs};
use weft_model::{ModelError, PublicKey, naming, peer};

/// A peer to set, parsed and checked on its own at the edge (see
/// `grpc/requests.rs`); [`Agent::add_peer`] checks it against the network
/// and its other peers.
#[derive(Clone, Debug)]
pub struct PeerSpec {
    /// The network's name (looked up, so not checked as a new name).
    pub network: String,
    pub public_key: PublicKey,
    pub endpoint: Endpoint,
    pub allowed_ips: Vec<IpNet>,
    pub keepalive: u16,
    /// A peer this one replaces in the same change (a host that rotated
    /// its key comes back with the same blocks): the data plane never
    /// goes without a peer for those blocks in between.
    pub replaces: Option<PublicKey>,
}

/// A peer's endpoint: as the user gave it (`host:port`, kept and resolved
/// again on every apply, so a name may move) and where it points now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoint {
    pub text: String,
    pub addr: SocketAddr,
}

impl Endpoint {
    /// Check `host:port` and resolve it; the error names the endpoint.
    pub fn resolve(text: &str) -> std::result::Result<Endpoint, ModelError> {
        let (host, port) = peer::split_endpoint(text)?;
        let addr = (host, port)
            .to_socket_addrs()
            .map_err(|e| ModelError::invalid("endpoint", text, format!("cannot resolve: {e}")))?
            .next()
            .ok_or_else(|| ModelError::invalid("endpoint", text, "the name has no addresses"))?;
        Ok(Endpoint {
            text: text.to_string(),
            addr,
        })
    }
}

impl<D: Dataplane> Agent<D> {
    fn wireguard_network(&self, name: &str) -> Result<(NetworkRecord, WireguardSettings)> {
        let net = self.network_record(name)?;
        match net.wireguard.clone() {
            Some(wg) => Ok((net, wg)),
            None => Err(Conflict::NoPeers {
                network: name.to_string(),
                mode: net.mode,
            }
            .into()),
        }
    }

    pub fn add_peer(&mut self, spec: PeerSpec) -> Result<PeerRecord> {
        let (net, wg) = self.wireguard_network(&spec.network)?;
        let public_key = spec.public_key;
        if public_key == wg.private_key.public_key() {
            return Err(ModelError::invalid(
                "public-key",
                public_key,
                "is this host's own key on the network",
            )
            .into());
        }
        let existing = self.store.peers(&net.name)?;
        let others: Vec<(String, IpNet)> = existing
            .iter()
            .filter(|p| p.public_key != public_key && Some(p.public_key) != spec.replaces)
            .flat_map(|p| p.allowed_ips.iter().map(|n| (p.public_key.to_base64(), *n)))
            .collect();
        peer::check_allowed_ips(
            &spec.allowed_ips,
            &net.subnet,
            &net.block,
            others.iter().map(|(k, n)| (k.as_str(), n)),
        )?;
        let record = PeerRecord {
            network: net.name.clone(),
            public_key,
            endpoint: spec.endpoint.text,
            allowed_ips: spec.allowed_ips,
            keepalive: spec.keepalive,
        };
        let replaced = (existing.iter())
            .find(|p| Some(p.public_key) == spec.replaces && p.public_key != public_key)
            .cloned();
        let previous = existing.into_iter().find(|p| p.public_key == public_key);
        if let Some(old) = &replaced {
            self.store.delete_peer(&net.name, &old.public_key)?;
        }
        self.store.upsert_peer(&record)?;
        let ifname = net.ifname();
        if let Err(err) = self.dp.set_peers(&ifname, &self.peer_configs(&net.name)?) {
            match &previous {
                Some(p) => self.store.upsert_peer(p)?,
                None => {
                    self.store.delete_peer(&net.name, &public_key)?;
                }
            }
            if let Some(old) = &replaced {
                self.store.upsert_peer(old)?;
            }
            return Err(err.into());
        }
        if let Some(old) = &replaced {
            tracing::info!(network = %net.name, peer = %old.public_key, by = %public_key, "peer replaced");
        }
        tracing::info!(network = %net.name, peer = %public_key, endpoint = %record.endpoint, "peer set");
        Ok(record)
    }

    pub fn remove_peer(&mut self, network: &str, key: &PublicKey) -> Result<bool> {
        let (net, _) = self.wireguard_network(network)?;
        let removed = self.store.delete_peer(network, key)?;
        if removed {
            self.dp
                .set_peers(&net.ifname(), &self.peer_configs(network)?)?;
            tracing::info!(network, peer = %key, "peer removed");
        }
        Ok(removed)
    }

    pub fn peers(&self, network: &str) -> Result<Vec<PeerRecord>> {
        self.network_record(network)?;
        Ok(self.store.peers(network)?)
    }

    /// Every peer (and remote VTEP with a known block) with its address in
    /// the network (the first address of its first block), where its agent
    /// serves names and answers probes.
    pub fn peer_targets(&self) -> Result<Vec<(String, PeerRef, std::net::IpAddr)>> {
        let mut targets = vec![];
        for net in self.store.networks()? {
            for p in self.store.peers(&net.name)? {
                if let Some(block) = p.allowed_ips.first() {
                    targets.push((
                        net.name.clone(),
                        PeerRef::Key(p.public_key),
                        naming::host_address(block),
                    ));
                }
            }
            for v in self.store.vteps(&net.name)? {
                if let Some(block) = v.block {
                    targets.push((
                        net.name.clone(),
                        PeerRef::Vtep(v.address),
                        naming::host_address(&block),
                    ));
                }
            }
        }
        Ok(targets)
    }

    /// Bytes received and sent per WireGuard peer (by network and key), as
    /// the data plane counts them now; a network it cannot read is left out.
    pub fn peer_traffic(
        &self,
    ) -> Result<std::collections::HashMap<(String, weft_model::PublicKey), (u64, u64)>> {
        let mut traffic = std::collections::HashMap::new();
        for net in self.store.networks()? {
            let plan = self.network_plan(&net)?;
            if !matches!(plan.kind, crate::dataplane::NetworkKind::Wireguard { .. }) {
                continue;
            }
            if let Ok(info) = self.dp.network_status(&plan.ifname) {
                for p in info.peers {
                    traffic.insert((net.name.clone(), p.public_key), (p.rx_bytes, p.tx_bytes));
                }
            }
        }
        Ok(traffic)
    }
}
