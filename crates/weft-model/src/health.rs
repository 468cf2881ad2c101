//! A peer's health, from its latest handshake and a reachability probe.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::time::Duration;

/// How a peer is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Health {
    /// A recent handshake, and the probe answers (or has not run yet).
    Healthy,
    /// The last handshake is older than the threshold, yet the probe answers
    /// (or has not run yet): the tunnel is idle or rekeying stalls.
    Degraded,
    /// The probe fails (on a peer it answered before): no traffic gets
    /// through.
    Unhealthy,
    /// Never a handshake (or the peer is gone).
    Disconnected,
}

/// What the reachability probe (a weft endpoint through the tunnel) says
/// of a peer.
///
/// A peer that does not run weft (a plain WireGuard peer: wireguard-go, a
/// phone, a router) has no such endpoint, so the probe can never answer it.
/// Which peers those are is not told at `peer add`; it shows: a peer whose
/// probe has never once answered is taken for one and judged by its
/// handshake alone ([`Probe::NotApplicable`]). Once the probe answered, the
/// peer runs weft, and a failing probe means traffic does not get through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Probe {
    /// Not run yet.
    Pending,
    /// The latest probe answered.
    Ok,
    /// The latest probe failed, and an earlier one answered.
    Failed,
    /// Never answered: not a weft peer, as far as anyone can tell.
    NotApplicable,
}

impl Probe {
    /// From the latest result and whether any probe ever answered.
    pub fn from_results(latest_ok: bool, ever_ok: bool) -> Self {
        match (latest_ok, ever_ok) {
            (true, _) => Probe::Ok,
            (false, true) => Probe::Failed,
            (false, false) => Probe::NotApplicable,
        }
    }

    /// What [`health`] takes: a verdict of the probe, `None` when it has
    /// none (not run yet, or not applicable).
    pub fn verdict(self) -> Option<bool> {
        match self {
            Probe::Ok => Some(true),
            Probe::Failed => Some(false),
            Probe::Pending | Probe::NotApplicable => None,
        }
    }

    /// As shown and sent: `ok`, `failed`, `n/a`, or empty before the first.
    pub fn as_str(self) -> &'static str {
        match self {
            Probe::Pending => "",
            Probe::Ok => "ok",
            Probe::Failed => "failed",
            Probe::NotApplicable => "n/a",
        }
    }
}

/// When a handshake counts as stale: WireGuard rekeys every 2 minutes
/// while traffic flows, so 3 minutes without one means something.
pub const DEFAULT_DEGRADED_AFTER: Duration = Duration::from_secs(180);

/// The health of a peer. `last_handshake_age`: time since its latest
/// handshake, `None` when there never was one; `probe_ok`: the latest
/// reachability probe, `None` when none has run. A handshake exactly
/// `degraded_after` old still counts as recent.
pub fn health(
    last_handshake_age: Option<Duration>,
    probe_ok: Option<bool>,
    degraded_after: Duration,
) -> Health {
    match (last_handshake_age, probe_ok) {
        (None, _) => Health::Disconnected,
        (Some(_), Some(false)) => Health::Unhealthy,
        (Some(age), _) if age > degraded_after => Health::Degraded,
        (Some(_), _) => Health::Healthy,
    }
}

impl Health {
    pub fn as_str(self) -> &'static str {
        match self {
            Health::Healthy => "healthy",
            Health::Degraded => "degraded",
            Health::Unhealthy => "unhealthy",
            Health::Disconnected => "disconnected",
        }
    }
}

impl fmt::Display for Health {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests;
