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
mod tests {
    use super::*;

    fn list(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn without_a_list_the_configured_address_is_all_and_failures_back_off() {
        let mut r = Replicas::new("cp:1".into(), vec![]);
        assert_eq!(r.current(), "cp:1");
        assert!(r.learned().is_empty());
        for round in 1..4 {
            let retry = r.failed();
            assert_eq!(retry.next, "cp:1");
            assert_eq!(retry.round, Some(round));
        }
        r.connected();
        assert_eq!(r.failed().round, Some(1), "counted from the connection");
    }

    #[test]
    fn a_failure_moves_to_the_next_replica_then_backs_off_after_a_round() {
        let mut r = Replicas::new("cp:1".into(), vec![]);
        assert!(r.learn(list(&["cp:1", "cp2:1", "cp3:1"])));
        assert!(!r.learn(list(&["cp:1", "cp2:1", "cp3:1"])), "no change");
        assert_eq!(r.current(), "cp:1");
        let first = r.failed();
        assert_eq!((first.next.as_str(), first.round), ("cp2:1", None));
        assert!(first.wait() < Duration::from_secs(1));
        assert_eq!(r.failed().next, "cp3:1");
        // All three failed in a row: a round, backed off.
        let third = r.failed();
        assert_eq!((third.next.as_str(), third.round), ("cp:1", Some(1)));
        assert!(third.wait() >= Duration::from_millis(1600));
        r.connected();
        assert_eq!(r.failed().round, None);
    }

    #[test]
    fn a_new_list_keeps_the_current_replica_and_the_configured_address() {
        let mut r = Replicas::new("lb:1".into(), list(&["a:1", "b:1"]));
        assert_eq!(r.current(), "a:1");
        r.failed();
        assert_eq!(r.current(), "b:1");
        // b is still in the list (elsewhere): stay on it.
        r.learn(list(&["c:1", "b:1"]));
        assert_eq!(r.current(), "b:1");
        assert_eq!(r.learned(), list(&["c:1", "b:1"]));
        // --control's address is tried after the learned ones.
        assert_eq!(r.failed().next, "lb:1");
        assert_eq!(r.failed().next, "c:1");
        // The current one gone from the list: start at its head.
        r.learn(list(&["d:1"]));
        assert_eq!(r.current(), "d:1");
        assert_eq!(r.learned(), list(&["d:1"]));
        // A list naming --control's address keeps it where it is.
        let r = Replicas::new("b:1".into(), list(&["a:1", "b:1"]));
        assert_eq!(r.learned(), list(&["a:1", "b:1"]));
        let r = Replicas::new("b:1".into(), list(&["b:1"]));
        assert_eq!(r.learned(), list(&["b:1"]));
    }

    #[test]
    fn addresses_split_into_host_and_port() {
        assert_eq!(split("cp.example:50051"), Some(("cp.example", 50051)));
        assert_eq!(split("[2001:db8::1]:9"), Some(("2001:db8::1", 9)));
        for bad in ["cp", ":1", "cp:0", "cp:x"] {
            assert_eq!(split(bad), None, "{bad}");
        }
    }
}
