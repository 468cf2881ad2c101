//! Peer health: the agent probes each peer's address in every network (it
//! fetches the peer agent's names through the tunnel, see `server.rs`) and
//! combines the result with the latest handshake, as [`weft_model::health`]
//! defines: healthy, degraded, unhealthy, disconnected.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;
use weft_model::PublicKey;

pub use weft_model::health::{DEFAULT_DEGRADED_AFTER, Health, Probe};

/// How often peers' counters are checked (and failing or unanswered peers
/// probed) unless told otherwise (`probe.rs` has the whole rule).
pub const DEFAULT_PROBE_INTERVAL: Duration = Duration::from_secs(2);

/// How old a peer's latest probe may get while all is quiet, unless told
/// otherwise: a peer that stops answering an idle mesh is seen within this
/// plus the probe's timeout.
pub const DEFAULT_IDLE_PROBE_INTERVAL: Duration = Duration::from_secs(30);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HealthSettings {
    pub probe_interval: Duration,
    pub idle_probe_interval: Duration,
    /// A handshake older than this makes a peer `degraded`.
    pub degraded_after: Duration,
}

impl Default for HealthSettings {
    fn default() -> Self {
        Self {
            probe_interval: DEFAULT_PROBE_INTERVAL,
            idle_probe_interval: DEFAULT_IDLE_PROBE_INTERVAL,
            degraded_after: DEFAULT_DEGRADED_AFTER,
        }
    }
}

/// Who a probe is about: a WireGuard peer (by its key) or a VXLAN
/// network's remote tunnel endpoint (by its address).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PeerRef {
    Key(PublicKey),
    Vtep(IpAddr),
}

impl From<PublicKey> for PeerRef {
    fn from(key: PublicKey) -> Self {
        PeerRef::Key(key)
    }
}

/// Probe results of one peer: the latest, and whether one ever answered
/// (a peer never answered does not run weft, see [`Probe`]).
#[derive(Clone, Copy, Debug, Default)]
struct ProbeResults {
    latest_ok: bool,
    ever_ok: bool,
}

/// The probe results per (network, peer), and counters for metrics.
#[derive(Default)]
pub struct HealthBook {
    probes: Mutex<HashMap<(String, PeerRef), ProbeResults>>,
    pub reconcile_runs: AtomicU64,
    pub reconcile_errors: AtomicU64,
    /// Repairs of the continuous reconcile, by kind of drift.
    drift_repairs: Mutex<BTreeMap<&'static str, u64>>,
    /// Repairs it tried and the kernel refused.
    pub drift_errors: AtomicU64,
    /// The failures of the latest pass, so a lasting one is not said anew
    /// every few seconds.
    drift_failures: Mutex<HashSet<String>>,
    /// Log records dropped before reaching the control plane (shared with
    /// the buffer that drops them).
    pub control_log_drops: std::sync::Arc<AtomicU64>,
}

impl HealthBook {
    /// A book whose `control_log_drops` is `counter`.
    pub fn with_log_drops(counter: std::sync::Arc<AtomicU64>) -> HealthBook {
        HealthBook {
            control_log_drops: counter,
            ..HealthBook::default()
        }
    }

    pub fn record(&self, network: &str, peer: impl Into<PeerRef>, ok: bool) {
        let mut probes = self.lock();
        let results = probes
            .entry((network.to_string(), peer.into()))
            .or_default();
        results.latest_ok = ok;
        results.ever_ok |= ok;
    }

    /// What the probe says of a peer (pending until it was probed once).
    pub fn probe(&self, network: &str, peer: impl Into<PeerRef>) -> Probe {
        match self.lock().get(&(network.to_string(), peer.into())) {
            None => Probe::Pending,
            Some(r) => Probe::from_results(r.latest_ok, r.ever_ok),
        }
    }

    /// Forget peers no longer in `current`.
    pub fn retain(&self, current: &[(String, PeerRef)]) {
        self.lock().retain(|k, _| current.contains(k));
    }

    pub fn count_reconcile(&self, errors: usize) {
        self.reconcile_runs.fetch_add(1, Ordering::Relaxed);
        self.reconcile_errors
            .fetch_add(errors as u64, Ordering::Relaxed);
    }

    pub fn count_drift(&self, kind: &'static str) {
        *self
            .drift_repairs
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(kind)
            .or_default() += 1;
    }

    pub fn count_drift_error(&self) {
        self.drift_errors.fetch_add(1, Ordering::Relaxed);
    }

    /// Remember this pass's failures; returns those the previous pass had
    /// too.
    pub fn swap_drift_failures(&self, now: &[String]) -> HashSet<String> {
        let now: HashSet<String> = now.iter().cloned().collect();
        let mut last = self
            .drift_failures
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let before = std::mem::replace(&mut *last, now.clone());
        before.intersection(&now).cloned().collect()
    }

    /// Repairs so far, by kind of drift.
    pub fn drift_repairs(&self) -> BTreeMap<&'static str, u64> {
        self.drift_repairs
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<(String, PeerRef), ProbeResults>> {
        self.probes.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The health of a remote VTEP now: it has no handshake, so the probe over
/// the overlay is all there is — answered: healthy; not answered (now, or
/// ever): unhealthy; not probed yet (or no block known to probe):
/// disconnected.
pub fn vtep_health(probe: Probe) -> Health {
    match probe {
        Probe::Ok => Health::Healthy,
        Probe::Failed | Probe::NotApplicable => Health::Unhealthy,
        Probe::Pending => Health::Disconnected,
    }
}

/// The health of a peer now.
pub fn peer_health(
    handshake_age: Option<Duration>,
    probe: Probe,
    settings: &HealthSettings,
) -> Health {
    weft_model::health::health(handshake_age, probe.verdict(), settings.degraded_after)
}

#[cfg(test)]
mod tests;
