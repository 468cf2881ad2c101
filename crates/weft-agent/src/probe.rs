//! The reachability probe, and how often it runs.
//!
//! A probe is one UDP datagram to a peer's agent at its address in the
//! network, through the tunnel, answered by one of the same size carrying
//! the digest of that agent's names (`linux/services.rs`). Only when the
//! digest differs from the names last fetched are the names fetched again
//! (TCP, the records endpoint). A peer that never answered a UDP probe
//! (an agent from before them, or not weft at all) is also probed the old
//! way, by fetching its names, until it does.
//!
//! When it runs — the rule that keeps an idle mesh quiet and health honest:
//!
//! - every `check` interval (`--probe-interval`, 2 s) the agent reads each
//!   WireGuard peer's byte counters, locally, sending nothing;
//! - a peer is probed then if it was never probed, if its latest probe
//!   failed, if more than a keepalive was sent to it since the last check
//!   and nothing came back (traffic goes unanswered), if its agent said its names
//!   changed, or if its latest probe is `idle` old
//!   (`--idle-probe-interval`, 30 s);
//! - a VXLAN network's VTEP has no counters of its own: it is probed every
//!   check;
//! - a peer that stops answering is therefore `unhealthy` within about
//!   two checks plus the probe's timeout once traffic to it goes
//!   unanswered, and within `idle` plus the timeout when all is idle;
//! - when this host's own names change on a network, its agent tells the
//!   peers there at once (one datagram each), so names still travel in
//!   well under a second.
//!
//! `weft status --probe` (GetStatus with `probe`) probes every peer at once,
//! so whoever asks gets answers that are fresh.

use crate::agent::Agent;
use crate::dataplane::{Dataplane, peer_source, vtep_source};
use crate::health::{HealthBook, PeerRef};
use crate::linux::{NetworkServices, fetch_records, probe_peer, tell_changed};
use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};
use weft_model::PublicKey;
use weft_model::error::chain;

/// The zone source of what a peer's (or a remote VTEP's) agent serves.
pub(crate) fn source_of(peer: &PeerRef) -> String {
    match peer {
        PeerRef::Key(key) => peer_source(key),
        PeerRef::Vtep(address) => vtep_source(address),
    }
}

/// How often peers are checked and probed; see the module's rule.
#[derive(Clone, Copy, Debug)]
pub struct Schedule {
    /// How often counters are read (and failing or unanswered peers probed).
    pub check: Duration,
    /// How old a peer's latest probe may get while nothing suggests trouble.
    pub idle: Duration,
    /// How long one peer may take to answer.
    pub timeout: Duration,
}

/// A WireGuard keepalive on the wire: a data message with nothing in it
/// (16 bytes of header, 16 of authentication tag).
const KEEPALIVE_BYTES: u64 = 32;

/// What the prober remembers of one peer.
#[derive(Clone, Copy, Debug, Default)]
struct Watched {
    /// When the probe whose word was last taken started.
    probed: Option<Instant>,
    /// Its latest probe answered.
    ok: bool,
    /// It answered a UDP probe once.
    udp: bool,
    /// The digest of the names last fetched from it.
    digest: Option<u64>,
    /// Bytes received and sent at the previous check (WireGuard peers).
    traffic: Option<(u64, u64)>,
    /// Its agent said its names changed.
    changed: bool,
    /// Its address in the network, where its agent answers.
    addr: Option<IpAddr>,
}

/// One peer to probe: network, who, its address there.
type Target = (String, PeerRef, IpAddr);

pub struct Prober<D: Dataplane + 'static> {
    agent: Arc<Mutex<Agent<D>>>,
    services: Arc<NetworkServices>,
    book: Arc<HealthBook>,
    schedule: Schedule,
    watched: Mutex<HashMap<(String, PeerRef), Watched>>,
}

impl<D: Dataplane + 'static> Prober<D> {
    pub fn new(
        agent: Arc<Mutex<Agent<D>>>,
        services: Arc<NetworkServices>,
        book: Arc<HealthBook>,
        schedule: Schedule,
    ) -> Self {
        Self {
            agent,
            services,
            book,
            schedule,
            watched: Mutex::default(),
        }
    }

    fn watched(&self) -> std::sync::MutexGuard<'_, HashMap<(String, PeerRef), Watched>> {
        self.watched.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Every peer with its address, and the WireGuard peers' counters.
    async fn targets(&self) -> Option<(Vec<Target>, HashMap<(String, PublicKey), (u64, u64)>)> {
        let agent = self.agent.clone();
        tokio::task::spawn_blocking(move || {
            let agent = agent.lock().unwrap_or_else(PoisonError::into_inner);
            let targets = agent.peer_targets().ok()?;
            let traffic = agent.peer_traffic().unwrap_or_default();
            Some((targets, traffic))
        })
        .await
        .ok()?
    }

    /// Probe every peer of `network` (every network: `None`) now and wait
    /// for all the answers (each at most the timeout).
    pub async fn probe(&self, network: Option<&str>) {
        let Some((targets, _)) = self.targets().await else {
            return;
        };
        let chosen: Vec<Target> = targets
            .into_iter()
            .filter(|(net, ..)| network.is_none_or(|n| n == net))
            .collect();
        self.probe_these(chosen).await;
    }

    /// One check (see the module's rule): probe the peers that are due.
    /// Returns every peer there is, or `None` when the agent could not
    /// list them.
    async fn check(&self) -> Option<Vec<(String, PeerRef)>> {
        let (targets, traffic) = self.targets().await?;
        let now = Instant::now();
        let mut due = vec![];
        {
            let mut watched = self.watched();
            for target in &targets {
                let (net, peer, addr) = target;
                let w = watched.entry((net.clone(), *peer)).or_default();
                w.addr = Some(*addr);
                let counters = match peer {
                    PeerRef::Key(key) => traffic.get(&(net.clone(), *key)).copied(),
                    PeerRef::Vtep(_) => None,
                };
                // More than a keepalive sent to it since the last check,
                // and nothing came back. (WireGuard answers data with a
                // keepalive 10 s later when it has nothing to send: that
                // alone is no traffic, or every probe would call the next.)
                let unanswered = matches!(
                    (w.traffic, counters),
                    (Some((rx0, tx0)), Some((rx, tx))) if tx > tx0 + KEEPALIVE_BYTES && rx == rx0
                );
                w.traffic = counters;
                // A VTEP has no counters to tell trouble by: probed every check.
                let every = match peer {
                    PeerRef::Key(_) => self.schedule.idle,
                    PeerRef::Vtep(_) => self.schedule.check,
                };
                let idle = w.probed.is_none_or(|at| now.duration_since(at) >= every);
                if idle || !w.ok || w.changed || unanswered {
                    due.push(target.clone());
                }
            }
            let current: HashSet<(String, PeerRef)> =
                targets.iter().map(|(n, p, _)| (n.clone(), *p)).collect();
            watched.retain(|k, _| current.contains(k));
        }
        // The probes' own bytes are in the next check's counters: an
        // answered probe grew both, a failed one is probed again anyway.
        self.probe_these(due).await;
        Some(targets.into_iter().map(|(n, p, _)| (n, p)).collect())
    }

    /// Probe these peers side by side; record each answer in the health
    /// book and any names fetched in the network's zone.
    async fn probe_these(&self, targets: Vec<Target>) {
        let mut probes = tokio::task::JoinSet::new();
        for (net, peer, addr) in targets {
            let before = self
                .watched()
                .get(&(net.clone(), peer))
                .copied()
                .unwrap_or_default();
            let timeout = self.schedule.timeout;
            let started = Instant::now();
            probes.spawn(async move {
                let outcome = probe_one(addr, before, timeout).await;
                (net, peer, addr, started, outcome)
            });
        }
        while let Some(Ok((net, peer, addr, started, outcome))) = probes.join_next().await {
            if let Some(e) = &outcome.error {
                tracing::debug!(network = %net, %addr, "probe peer: {e}");
            }
            {
                let mut watched = self.watched();
                let w = watched.entry((net.clone(), peer)).or_default();
                // A probe that started later (the watch's and an asked-for
                // one overlap) has said more recent things already.
                if w.probed.is_some_and(|at| at > started) {
                    continue;
                }
                w.probed = Some(started);
                w.ok = outcome.ok;
                w.udp |= outcome.udp;
                w.changed = false;
                if outcome.fetched {
                    w.digest = outcome.digest;
                }
            }
            self.book.record(&net, peer, outcome.ok);
            if let Some(records) = outcome.records
                && let Err(e) = self.services.set_records(&net, &source_of(&peer), records)
            {
                tracing::debug!("{}", chain(&e));
            }
        }
    }

    /// A peer's agent at `addr` on `network` said its names changed (a
    /// note from an address that is no peer's there changes nothing).
    fn note_changed(&self, network: &str, addr: IpAddr) {
        for ((net, _), w) in self.watched().iter_mut() {
            if net == network && w.addr == Some(addr) {
                w.changed = true;
            }
        }
    }

    /// Tell the peers of these networks that this host's names changed:
    /// every peer there is now (one this host has not checked yet has
    /// checked it, perhaps, and needs the note as much).
    async fn tell_peers(&self, networks: &HashSet<String>) {
        let Some((targets, _)) = self.targets().await else {
            return;
        };
        let peers: Vec<IpAddr> = targets
            .iter()
            .filter(|(net, ..)| networks.contains(net))
            .map(|(_, _, addr)| *addr)
            .collect();
        tell_changed(&peers).await;
    }

    /// Check (and probe) every `check` interval, and at once when a peer
    /// says its names changed; tell peers when this host's names change.
    /// Sources of peers that are gone are dropped; a peer that does not
    /// answer keeps its last names until it is removed.
    pub async fn watch(self: Arc<Self>) {
        let mut known: HashSet<(String, String)> = HashSet::new();
        let mut changed = self.services.take_changed();
        loop {
            if let Some(current) = self.check().await {
                self.book.retain(&current);
                let now: HashSet<(String, String)> = current
                    .iter()
                    .map(|(n, k)| (n.clone(), source_of(k)))
                    .collect();
                for (network, source) in known.difference(&now) {
                    self.services.remove_source(network, source);
                }
                known = now;
            }
            let sleep = tokio::time::sleep(self.schedule.check);
            tokio::pin!(sleep);
            loop {
                tokio::select! {
                    () = &mut sleep => break,
                    nets = self.services.local_changes() => {
                        self.tell_peers(&nets.into_iter().collect()).await;
                    }
                    Some((net, addr)) = async {
                        match changed.as_mut() {
                            Some(rx) => rx.recv().await,
                            None => std::future::pending().await,
                        }
                    } => {
                        self.note_changed(&net, addr);
                        // Every note that came meanwhile, then a check.
                        while let Some((net, addr)) = changed.as_mut().and_then(|rx| rx.try_recv().ok()) {
                            self.note_changed(&net, addr);
                        }
                        break;
                    }
                }
            }
        }
    }
}

/// What one probe of one peer found.
#[derive(Default)]
struct Outcome {
    ok: bool,
    /// It answered over UDP.
    udp: bool,
    /// The digest it answered with.
    digest: Option<u64>,
    /// Its names were fetched (`records`, when that worked).
    fetched: bool,
    records: Option<crate::dataplane::Records>,
    error: Option<String>,
}

/// Probe one peer: UDP, and its names fetched when their digest differs
/// from the last fetched; a peer that never answered over UDP is also
/// asked for its names, the fetch counting as its answer.
async fn probe_one(addr: IpAddr, before: Watched, timeout: Duration) -> Outcome {
    let (udp, fetch) = if before.udp {
        (probe_peer(addr, timeout).await, None)
    } else {
        let (udp, fetch) = tokio::join!(probe_peer(addr, timeout), fetch_records(addr, timeout));
        (udp, Some(fetch))
    };
    let mut outcome = Outcome::default();
    match udp {
        Ok(digest) => {
            outcome.ok = true;
            outcome.udp = true;
            outcome.digest = Some(digest);
            let fetch = match fetch {
                Some(fetch) => Some(fetch),
                None if before.digest != Some(digest) => Some(fetch_records(addr, timeout).await),
                None => None,
            };
            if let Some(fetch) = fetch {
                outcome.fetched = true;
                match fetch {
                    Ok(records) => outcome.records = Some(records),
                    Err(e) => {
                        // Fetched again at the next probe.
                        outcome.digest = None;
                        outcome.error = Some(e.to_string());
                    }
                }
            }
        }
        Err(e) => match fetch {
            Some(Ok(records)) => {
                outcome.ok = true;
                outcome.fetched = true;
                outcome.records = Some(records);
            }
            Some(Err(_)) | None => outcome.error = Some(e.to_string()),
        },
    }
    outcome
}
