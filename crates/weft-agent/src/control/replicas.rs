//! Which control-plane replica the agent talks to, and where it goes when
//! that one fails (pure: no I/O, no clock).
//!
//! Replicas tell the agent every replica's gRPC address (`HOST:PORT`) when
//! it enrolls and in every report answer; the list is kept in the state
//! directory (`control/replicas`) so a restarted agent knows it before it
//! reaches any. The address of `--control` stays a candidate after the
//! learned ones (it may be a name that outlives any replica).
//!
//! A failure moves to the next candidate at once (after a short jittered
//! pause, so a fleet does not land on the next replica in one instant);
//! once every candidate failed in a row, the agent backs off (2 s doubling
//! to 60 s, jittered) before the next round.

use std::time::Duration;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Replicas {
    /// `--control`'s address.
    configured: String,
    /// The list as replicas told it (what is stored).
    learned: Vec<String>,
    /// The candidates in the order tried: the learned list, then
    /// `configured` when it is not in it.
    candidates: Vec<String>,
    current: usize,
    /// Failures in a row since the last connection.
    failures: u32,
}

/// What to do after a failure: wait this long, then try `next`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Retry {
    pub next: String,
    /// Every candidate failed since the last connection: `round` rounds.
    pub round: Option<u32>,
}

impl Retry {
    /// How long to wait before trying `next`.
    pub fn wait(&self) -> Duration {
        match self.round {
            Some(round) => super::backoff(round),
            None => Duration::from_millis(rand::random_range(100..1000)),
        }
    }
}

impl Replicas {
    pub fn new(configured: String, learned: Vec<String>) -> Replicas {
        let mut replicas = Replicas {
            configured,
            learned: vec![],
            candidates: vec![],
            current: 0,
            failures: 0,
        };
        replicas.learn(learned);
        replicas
    }

    /// The replica to talk to now.
    pub fn current(&self) -> &str {
        &self.candidates[self.current]
    }

    /// The list as replicas told it (what is stored).
    pub fn learned(&self) -> &[String] {
        &self.learned
    }

    /// A replica told the list: keep talking to the current one if it is
    /// in it. Says whether the list changed (to be stored).
    pub fn learn(&mut self, learned: Vec<String>) -> bool {
        let mut candidates: Vec<String> = Vec::with_capacity(learned.len() + 1);
        for address in learned {
            if !address.is_empty() && !candidates.contains(&address) {
                candidates.push(address);
            }
        }
        let learned = candidates.clone();
        if !candidates.contains(&self.configured) {
            candidates.push(self.configured.clone());
        }
        if candidates == self.candidates && learned == self.learned {
            return false;
        }
        self.learned = learned;
        let current = self.candidates.get(self.current);
        self.current = current
            .and_then(|c| candidates.iter().position(|a| a == c))
            .unwrap_or(0);
        self.candidates = candidates;
        true
    }

    /// The current replica answered.
    pub fn connected(&mut self) {
        self.failures = 0;
    }

    /// The current replica failed (could not be reached, or the
    /// connection or stream broke): move on.
    pub fn failed(&mut self) -> Retry {
        self.failures += 1;
        self.current = (self.current + 1) % self.candidates.len();
        let n = self.candidates.len() as u32;
        Retry {
            next: self.current().to_string(),
            round: self.failures.is_multiple_of(n).then_some(self.failures / n),
        }
    }
}

/// `HOST:PORT` → the host (brackets of an IPv6 address removed) and port.
pub fn split(address: &str) -> Option<(&str, u16)> {
    let (host, port) = address.rsplit_once(':')?;
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    let port = port.parse().ok().filter(|p| *p != 0)?;
    (!host.is_empty()).then_some((host, port))
}

#[cfg(test)]
mod tests;
