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
    /// The probe fails: no traffic gets through.
    Unhealthy,
    /// Never a handshake (or the peer is gone).
    Disconnected,
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
mod tests {
    use super::*;

    const T: Duration = DEFAULT_DEGRADED_AFTER;
    const S: fn(u64) -> Duration = Duration::from_secs;

    #[test]
    fn every_state_and_its_boundaries() {
        let cases = [
            (None, None, Health::Disconnected),
            (None, Some(true), Health::Disconnected),
            (None, Some(false), Health::Disconnected),
            (Some(S(0)), Some(true), Health::Healthy),
            (Some(S(0)), None, Health::Healthy),
            (Some(S(180)), Some(true), Health::Healthy),
            (
                Some(S(180) + Duration::from_millis(1)),
                Some(true),
                Health::Degraded,
            ),
            (Some(S(181)), None, Health::Degraded),
            (Some(S(3600)), Some(true), Health::Degraded),
            (Some(S(5)), Some(false), Health::Unhealthy),
            (Some(S(500)), Some(false), Health::Unhealthy),
        ];
        for (age, probe, want) in cases {
            assert_eq!(health(age, probe, T), want, "age {age:?}, probe {probe:?}");
        }
    }

    #[test]
    fn the_threshold_is_configurable() {
        assert_eq!(health(Some(S(31)), Some(true), S(30)), Health::Degraded);
        assert_eq!(health(Some(S(30)), Some(true), S(30)), Health::Healthy);
    }

    #[test]
    fn shown_and_serialized_as_lowercase_words() {
        for (h, word) in [
            (Health::Healthy, "healthy"),
            (Health::Degraded, "degraded"),
            (Health::Unhealthy, "unhealthy"),
            (Health::Disconnected, "disconnected"),
        ] {
            assert_eq!(h.to_string(), word);
            assert_eq!(serde_json::to_string(&h).unwrap(), format!("\"{word}\""));
            let back: Health = serde_json::from_str(&format!("\"{word}\"")).unwrap();
            assert_eq!(back, h);
        }
    }
}
