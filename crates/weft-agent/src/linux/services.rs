//! Each network's services on this host, on the host's address in it: the
//! DNS responder (weft-dns), the records endpoint from which peers' agents
//! fetch this host's names (TCP port [`RECORDS_PORT`], one JSON document per
//! connection), and the probe responder beside it (UDP, same port: one
//! 32-byte datagram answered by one of the same size, carrying a digest of
//! those names; see [`probe_peer`]). All run on the agent's async runtime;
//! the agent's synchronous core drives them through [`NetworkServices`].
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

mod probe;
pub use probe::{PROBE_LEN, ProbeMessage, probe_peer, records_digest, tell_changed};

/// Largest records document accepted from a peer.
pub const MAX_RECORDS_BYTES: usize = 1 << 20;

struct Running {
    plan: ServicesPlan,
    dns: DnsHandle,
    records_task: tokio::task::JoinHandle<()>,
    probe_task: tokio::task::JoinHandle<()>,
}

impl Running {
    fn stop(self, rt: &tokio::runtime::Handle) {
        self.records_task.abort();
        self.probe_task.abort();
        rt.block_on(self.dns.stop());
    }
}

/// What the probe responders tell the prober: a peer's agent (at this
/// address, on this network) says its names changed.
pub type ChangedAt = (String, IpAddr);

/// How many "names changed" notes wait for the prober at most; more are
/// dropped (the idle probe catches up), so a flood costs no memory.
const CHANGED_QUEUE: usize = 256;

/// The DNS responders and records endpoints of all networks.
pub struct NetworkServices {
    rt: tokio::runtime::Handle,
    /// The host's resolvers, for names outside the networks' domains.
    upstream: Vec<SocketAddr>,
    shared: Arc<Shared>,
    running: Mutex<HashMap<String, Running>>,
    /// Peers' "names changed" notes, to the prober.
    changed_tx: tokio::sync::mpsc::Sender<ChangedAt>,
    changed_rx: Mutex<Option<tokio::sync::mpsc::Receiver<ChangedAt>>>,
    /// Networks whose own names changed since the prober last looked; it
    /// tells their peers.
    local_changed: Mutex<std::collections::BTreeSet<String>>,
    local_changed_note: tokio::sync::Notify,
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
        let (changed_tx, changed_rx) = tokio::sync::mpsc::channel(CHANGED_QUEUE);
        Arc::new(Self {
            rt,
            upstream,
            shared: Arc::default(),
            running: Mutex::default(),
            changed_tx,
            changed_rx: Mutex::new(Some(changed_rx)),
            local_changed: Mutex::default(),
            local_changed_note: tokio::sync::Notify::new(),
        })
    }

    /// Peers' "names changed" notes (once: the prober takes them).
    pub fn take_changed(&self) -> Option<tokio::sync::mpsc::Receiver<ChangedAt>> {
        self.changed_rx
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
    }

    /// Wait until this host's own names changed on some network; returns
    /// those networks (the prober tells their peers).
    pub async fn local_changes(&self) -> std::collections::BTreeSet<String> {
        loop {
            let changed = std::mem::take(
                &mut *self
                    .local_changed
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner),
            );
            if !changed.is_empty() {
                return changed;
            }
            self.local_changed_note.notified().await;
        }
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
            old.stop(&self.rt);
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
        let probe_task = match self.answer_probes(plan) {
            Ok(task) => task,
            Err(e) => {
                records_task.abort();
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
                probe_task,
            },
        );
        Ok(())
    }

    /// Answer peers' probes on the network's address (UDP [`RECORDS_PORT`])
    /// with the digest of this host's names there, and pass their "names
    /// changed" notes to the prober.
    fn answer_probes(&self, plan: &ServicesPlan) -> DpResult<tokio::task::JoinHandle<()>> {
        let addr = SocketAddr::new(plan.listen, RECORDS_PORT);
        let socket = self
            .rt
            .block_on(tokio::net::UdpSocket::bind(addr))
            .map_err(err(format!("listen for peers' probes on {addr}")))?;
        let local = self.local(&plan.network);
        let network = plan.network.clone();
        let changed = self.changed_tx.clone();
        Ok(self.rt.spawn(async move {
            let mut buf = [0u8; PROBE_LEN + 1];
            loop {
                let Ok((len, from)) = socket.recv_from(&mut buf).await else {
                    continue;
                };
                match ProbeMessage::parse(&buf[..len]) {
                    Some(ProbeMessage::Ask { nonce }) => {
                        let digest =
                            records_digest(&local.read().unwrap_or_else(PoisonError::into_inner));
                        let answer = ProbeMessage::Answer { nonce, digest }.encode();
                        let _ = socket.send_to(&answer, from).await;
                    }
                    Some(ProbeMessage::Changed) => {
                        // Full: dropped; the next idle probe sees the digest.
                        let _ = changed.try_send((network.clone(), from.ip()));
                    }
                    Some(ProbeMessage::Answer { .. }) | None => {}
                }
            }
        }))
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
            old.stop(&self.rt);
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
            let local = self.local(network);
            let mut local = local.write().unwrap_or_else(PoisonError::into_inner);
            if *local != records {
                *local = records.clone();
                self.local_changed
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .insert(network.to_string());
                self.local_changed_note.notify_one();
            }
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
