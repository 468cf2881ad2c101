//! Each network's services on this host, on the host's address in it: the
//! DNS responder (weft-dns) and the records endpoint from which peers' agents
//! fetch this host's names (TCP port [`RECORDS_PORT`], one JSON document per
//! connection). Both run on the agent's async runtime; the agent's
//! synchronous core drives them through [`NetworkServices`].
//!
//! Why under `linux/`: binding sockets on the host's address in a network
//! is the real data plane's work, reached through the seam's
//! `ensure_services`/`set_records` like the links are (the fake keeps only
//! the plans), so it depends on the seam's types alone and never the other
//! way round. `server.rs` makes it (it needs the runtime) and hands it to
//! [`super::LinuxDataplane`]; it also fetches peers' names with
//! [`fetch_records`], kept here beside the endpoint that serves them so the
//! document's format and size limit live in one file.

use crate::dataplane::{
    DNS_PORT, DataplaneError, DpResult, LOCAL_SOURCE, RECORDS_PORT, Records, ServicesPlan,
};
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use tokio::io::AsyncWriteExt as _;
use weft_dns::{DnsHandle, DnsServer, Zone};

/// Largest records document accepted from a peer.
pub const MAX_RECORDS_BYTES: usize = 1 << 20;

struct Running {
    plan: ServicesPlan,
    dns: DnsHandle,
    records_task: tokio::task::JoinHandle<()>,
}

/// The DNS responders and records endpoints of all networks.
pub struct NetworkServices {
    rt: tokio::runtime::Handle,
    /// The host's resolvers, for names outside the networks' domains.
    upstream: Vec<SocketAddr>,
    shared: Arc<Shared>,
    running: Mutex<HashMap<String, Running>>,
}

/// What the responders' zones look at while answering.
#[derive(Default)]
struct Shared {
    zones: Mutex<HashMap<String, Arc<Zone>>>,
    /// This host's own names per network, as served to peers.
    local: Mutex<HashMap<String, Arc<RwLock<Records>>>>,
}

impl Shared {
    /// The zones of the other networks a client of `own` is on: a workload
    /// carries the same name on each of its networks.
    fn linked_zones(&self, own: &str, client: IpAddr) -> Vec<Arc<Zone>> {
        let local = self.local.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(mine) = local.get(own) else {
            return vec![];
        };
        let names: Vec<String> = mine
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .filter(|(_, addrs)| addrs.contains(&client))
            .map(|(name, _)| name.clone())
            .collect();
        if names.is_empty() {
            return vec![];
        }
        let zones = self.zones.lock().unwrap_or_else(PoisonError::into_inner);
        local
            .iter()
            .filter(|(network, _)| network.as_str() != own)
            .filter(|(_, records)| {
                let records = records.read().unwrap_or_else(PoisonError::into_inner);
                names.iter().any(|n| records.contains_key(n))
            })
            .filter_map(|(network, _)| zones.get(network).cloned())
            .collect()
    }
}

fn err(context: String) -> impl FnOnce(std::io::Error) -> DataplaneError {
    move |e| DataplaneError::new(context, e)
}

impl NetworkServices {
    pub fn new(rt: tokio::runtime::Handle, upstream: Vec<SocketAddr>) -> Arc<Self> {
        Arc::new(Self {
            rt,
            upstream,
            shared: Arc::default(),
            running: Mutex::default(),
        })
    }

    fn zone(&self, network: &str, domain: &str) -> DpResult<Arc<Zone>> {
        let mut zones = self
            .shared
            .zones
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(z) = zones.get(network).filter(|z| z.domain() == domain) {
            return Ok(z.clone());
        }
        let zone = Zone::new(domain)
            .map_err(|e| DataplaneError::new(format!("DNS zone of {network}"), e))?;
        // This host's own names (itself, its workloads) are never made
        // ambiguous by a peer reporting the same name.
        zone.set_authoritative(LOCAL_SOURCE);
        let shared = Arc::downgrade(&self.shared);
        let own = network.to_string();
        zone.link_clients(Arc::new(move |client| {
            shared
                .upgrade()
                .map(|s| s.linked_zones(&own, client))
                .unwrap_or_default()
        }));
        zones.insert(network.to_string(), zone.clone());
        Ok(zone)
    }

    fn local(&self, network: &str) -> Arc<RwLock<Records>> {
        let mut local = self
            .shared
            .local
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        local.entry(network.to_string()).or_default().clone()
    }

    /// Start the network's services, or restart them if the plan changed.
    /// Must not be called from inside the async runtime.
    pub fn ensure(&self, plan: &ServicesPlan) -> DpResult<()> {
        let mut running = self.running.lock().unwrap_or_else(PoisonError::into_inner);
        if running.get(&plan.network).is_some_and(|r| r.plan == *plan) {
            return Ok(());
        }
        if let Some(old) = running.remove(&plan.network) {
            old.records_task.abort();
            self.rt.block_on(old.dns.stop());
        }
        let zone = self.zone(&plan.network, &plan.domain)?;
        let upstream = (!plan.internal).then(|| self.upstream.clone());
        let dns_addr = SocketAddr::new(plan.listen, DNS_PORT);
        let dns = self
            .rt
            .block_on(DnsServer::start(dns_addr, zone, upstream))
            .map_err(|e| {
                DataplaneError::new(
                    format!("start the DNS responder of {} on {dns_addr}", plan.network),
                    e,
                )
            })?;
        let records_task = match self.serve_records(plan.listen, self.local(&plan.network)) {
            Ok(task) => task,
            Err(e) => {
                self.rt.block_on(dns.stop());
                return Err(e);
            }
        };
        tracing::info!(network = %plan.network, %dns_addr, domain = %plan.domain, forwarding = !plan.internal, "DNS responder started");
        running.insert(
            plan.network.clone(),
            Running {
                plan: plan.clone(),
                dns,
                records_task,
            },
        );
        Ok(())
    }

    fn serve_records(
        &self,
        ip: IpAddr,
        local: Arc<RwLock<Records>>,
    ) -> DpResult<tokio::task::JoinHandle<()>> {
        let addr = SocketAddr::new(ip, RECORDS_PORT);
        let listener = self
            .rt
            .block_on(tokio::net::TcpListener::bind(addr))
            .map_err(err(format!("listen for peers on {addr}")))?;
        Ok(self.rt.spawn(async move {
            loop {
                let Ok((mut conn, _)) = listener.accept().await else {
                    continue;
                };
                let body = {
                    let records = local.read().unwrap_or_else(PoisonError::into_inner);
                    serde_json::to_vec(&*records).unwrap_or_default()
                };
                tokio::spawn(async move {
                    let _ = conn.write_all(&body).await;
                    let _ = conn.shutdown().await;
                });
            }
        }))
    }

    /// Stop a network's services and forget its names.
    pub fn remove(&self, network: &str) {
        let old = self
            .running
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(network);
        if let Some(old) = old {
            old.records_task.abort();
            self.rt.block_on(old.dns.stop());
            tracing::info!(network, "DNS responder stopped");
        }
        self.shared
            .zones
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(network);
        self.shared
            .local
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(network);
    }

    /// Replace one source's names in a network's zone (callable from any
    /// thread; no blocking).
    pub fn set_records(&self, network: &str, source: &str, records: Records) -> DpResult<()> {
        let zone = self
            .shared
            .zones
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(network)
            .cloned();
        let Some(zone) = zone else {
            // No responder (yet): nothing serves these names.
            return Ok(());
        };
        if source == LOCAL_SOURCE {
            *self
                .local(network)
                .write()
                .unwrap_or_else(PoisonError::into_inner) = records.clone();
        }
        zone.set_source(source, records)
            .map_err(|e| DataplaneError::new(format!("names of {network} from {source}"), e))
    }

    /// The addresses one source gives a name in a network's zone.
    pub fn source_addresses(&self, network: &str, source: &str, label: &str) -> Vec<IpAddr> {
        self.shared
            .zones
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(network)
            .and_then(|zone| zone.source_addresses(source, label))
            .unwrap_or_default()
    }

    /// Forget one source's names in a network's zone.
    pub fn remove_source(&self, network: &str, source: &str) {
        if let Some(zone) = self
            .shared
            .zones
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(network)
        {
            zone.remove_source(source);
        }
    }
}

/// Fetch a peer's names from its records endpoint.
pub async fn fetch_records(peer: IpAddr, timeout: std::time::Duration) -> std::io::Result<Records> {
    use tokio::io::AsyncReadExt as _;
    let addr = SocketAddr::new(peer, RECORDS_PORT);
    let fetch = async {
        let mut conn = tokio::net::TcpStream::connect(addr).await?;
        let mut body = Vec::new();
        (&mut conn)
            .take(MAX_RECORDS_BYTES as u64 + 1)
            .read_to_end(&mut body)
            .await?;
        if body.len() > MAX_RECORDS_BYTES {
            return Err(std::io::Error::other("records document too large"));
        }
        serde_json::from_slice(&body).map_err(std::io::Error::other)
    };
    tokio::time::timeout(timeout, fetch).await.map_err(|_| {
        std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            format!("{addr} did not answer"),
        )
    })?
}

#[cfg(test)]
mod tests;
