//! The reachability probe: fetch each peer's names over the tunnel (its
//! agent serves them at its address in the network) and count the fetch
//! as the peer's answer. The health watch probes on a timer; `weft status
//! --probe` (GetStatus with `probe`) probes at once, so whoever asks gets
//! answers that are fresh rather than as old as the watch's interval.

use crate::agent::Agent;
use crate::dataplane::{Dataplane, peer_source, vtep_source};
use crate::health::{HealthBook, PeerRef};
use crate::linux::{NetworkServices, fetch_records};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use weft_model::error::chain;

/// The zone source of what a peer's (or a remote VTEP's) agent serves.
pub(crate) fn source_of(peer: &PeerRef) -> String {
    match peer {
        PeerRef::Key(key) => peer_source(key),
        PeerRef::Vtep(address) => vtep_source(address),
    }
}

pub struct Prober<D: Dataplane + 'static> {
    agent: Arc<Mutex<Agent<D>>>,
    services: Arc<NetworkServices>,
    book: Arc<HealthBook>,
    /// How long one peer may take to answer.
    timeout: Duration,
}

impl<D: Dataplane + 'static> Prober<D> {
    pub fn new(
        agent: Arc<Mutex<Agent<D>>>,
        services: Arc<NetworkServices>,
        book: Arc<HealthBook>,
        timeout: Duration,
    ) -> Self {
        Self {
            agent,
            services,
            book,
            timeout,
        }
    }

    pub fn book(&self) -> &HealthBook {
        &self.book
    }

    pub fn services(&self) -> &NetworkServices {
        &self.services
    }

    /// Probe every peer of `network` (every network: `None`) at once and
    /// wait for all the answers (each at most the timeout): each is
    /// recorded in the health book, and the names it brought replace that
    /// peer's in the network's zone. Returns the peers there were, or
    /// `None` when the agent could not list them.
    pub async fn probe(&self, network: Option<&str>) -> Option<Vec<(String, PeerRef)>> {
        let agent = self.agent.clone();
        let targets = tokio::task::spawn_blocking(move || {
            agent
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .peer_targets()
        })
        .await
        .ok()?
        .ok()?;
        let mut fetches = tokio::task::JoinSet::new();
        for (net, key, addr) in targets
            .iter()
            .filter(|(net, ..)| network.is_none_or(|n| n == net))
            .cloned()
        {
            let timeout = self.timeout;
            fetches.spawn(async move {
                let result = fetch_records(addr, timeout).await;
                (net, key, addr, result)
            });
        }
        while let Some(Ok((net, key, addr, result))) = fetches.join_next().await {
            self.book.record(&net, key, result.is_ok());
            match result {
                Ok(records) => {
                    if let Err(e) = self.services.set_records(&net, &source_of(&key), records) {
                        tracing::debug!("{}", chain(&e));
                    }
                }
                Err(e) => tracing::debug!(network = %net, %addr, "probe peer: {e}"),
            }
        }
        Some(targets.into_iter().map(|(n, k, _)| (n, k)).collect())
    }
}
