//! What the bench measures: when each agent applied the change being
//! measured ([`Probe`]), how many bytes it received meanwhile, and the
//! control plane's CPU time and peak memory from `/proc`.

use crate::state::AgentState;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{PoisonError, RwLock};
use std::time::{Duration, Instant};
use tokio::sync::Notify;

/// What an agent's state must show for the change to count as applied.
#[derive(Debug, Clone)]
pub enum Want {
    /// A new host is a peer in `network`.
    Present { network: String, peer: u64 },
    /// Peer `peer`'s entry is no longer the one hashed `old`.
    Changed {
        network: String,
        peer: u64,
        old: u32,
    },
}

impl Want {
    pub fn met(&self, state: &AgentState) -> bool {
        state.complete
            && match self {
                Want::Present { network, peer } => state
                    .network(network)
                    .is_some_and(|n| n.peer(*peer).is_some()),
                Want::Changed { network, peer, old } => state
                    .network(network)
                    .and_then(|n| n.peer(*peer))
                    .is_some_and(|entry| entry != *old),
            }
    }
}

/// `applied` slot of an agent that does not take part in this change.
const NOT_WATCHED: u64 = u64::MAX;

pub struct Probe {
    start: Instant,
    want: RwLock<Option<Want>>,
    /// Per agent: nanoseconds after `start` it applied the change; 0 not
    /// yet.
    applied: Vec<AtomicU64>,
    /// Per agent: bytes of desired state received since the last reset.
    bytes: Vec<AtomicU64>,
    remaining: AtomicUsize,
    all_applied: Notify,
    /// Streams that applied their first state (all its pieces).
    ready: AtomicUsize,
    ready_changed: Notify,
    /// Streams that broke (and were opened again).
    pub breaks: AtomicU64,
}

impl Probe {
    pub fn new(agents: usize) -> Probe {
        Probe {
            start: Instant::now(),
            want: RwLock::new(None),
            applied: (0..agents).map(|_| AtomicU64::new(NOT_WATCHED)).collect(),
            bytes: (0..agents).map(|_| AtomicU64::new(0)).collect(),
            remaining: AtomicUsize::new(0),
            all_applied: Notify::new(),
            ready: AtomicUsize::new(0),
            ready_changed: Notify::new(),
            breaks: AtomicU64::new(0),
        }
    }

    fn now(&self) -> u64 {
        (self.start.elapsed().as_nanos() as u64).max(1)
    }

    /// Agent `agent` received `len` bytes and applied them to `state`.
    pub fn received(&self, agent: usize, len: usize, state: &AgentState, first: bool) {
        self.bytes[agent].fetch_add(len as u64, Ordering::Relaxed);
        if first {
            self.ready.fetch_add(1, Ordering::Relaxed);
            self.ready_changed.notify_waiters();
        }
        if self.applied[agent].load(Ordering::Acquire) != 0 {
            return;
        }
        let want = self.want.read().unwrap_or_else(PoisonError::into_inner);
        let Some(want) = want.as_ref() else { return };
        if want.met(state)
            && self.applied[agent]
                .compare_exchange(0, self.now(), Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
            && self.remaining.fetch_sub(1, Ordering::AcqRel) == 1
        {
            self.all_applied.notify_waiters();
        }
    }

    /// Forget the bytes counted so far; returns the time, as the change's
    /// start.
    pub fn reset_bytes(&self) -> u64 {
        for b in &self.bytes {
            b.store(0, Ordering::Relaxed);
        }
        self.now()
    }

    /// Measure `want` on the agents `watchers` (whose state does not meet
    /// it yet: the change has not been made).
    pub fn arm(&self, want: Want, watchers: impl Iterator<Item = usize>) {
        let mut slot = self.want.write().unwrap_or_else(PoisonError::into_inner);
        for a in &self.applied {
            a.store(NOT_WATCHED, Ordering::Relaxed);
        }
        let mut n = 0;
        for w in watchers {
            self.applied[w].store(0, Ordering::Relaxed);
            n += 1;
        }
        self.remaining.store(n, Ordering::Release);
        *slot = Some(want);
    }

    /// Wait until every watcher applied the change, or `timeout`.
    pub async fn wait_applied(&self, timeout: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let notified = self.all_applied.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.remaining.load(Ordering::Acquire) == 0 {
                return true;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return false;
            }
        }
    }

    /// Each watcher's latency from `t0` (None: not applied), and the bytes
    /// it received since the last reset.
    pub fn results(&self, t0: u64) -> Vec<(Option<Duration>, u64)> {
        self.applied
            .iter()
            .zip(&self.bytes)
            .filter(|(a, _)| a.load(Ordering::Acquire) != NOT_WATCHED)
            .map(|(a, b)| {
                let at = a.load(Ordering::Acquire);
                let latency = (at != 0).then(|| Duration::from_nanos(at.saturating_sub(t0)));
                (latency, b.load(Ordering::Relaxed))
            })
            .collect()
    }

    pub fn disarm(&self) {
        *self.want.write().unwrap_or_else(PoisonError::into_inner) = None;
    }

    /// Wait until `count` streams applied their first state.
    pub async fn wait_ready(&self, count: usize, timeout: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let notified = self.ready_changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.ready.load(Ordering::Relaxed) >= count {
                return true;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return false;
            }
        }
    }

    pub fn ready(&self) -> usize {
        self.ready.load(Ordering::Relaxed)
    }

    /// Bytes received per agent since the last reset.
    pub fn bytes(&self) -> Vec<u64> {
        self.bytes
            .iter()
            .map(|b| b.load(Ordering::Relaxed))
            .collect()
    }
}

/// The nearest-rank percentile `p` (0 < p ≤ 1) of sorted `values` and
/// `missing` more that never came (slower than any that did): `None` when
/// it falls on one of those, or there are no values at all.
pub fn percentile<T: Copy>(sorted: &[T], missing: usize, p: f64) -> Option<T> {
    let total = sorted.len() + missing;
    let rank = ((total as f64 * p).ceil() as usize).clamp(1, total.max(1));
    sorted.get(rank - 1).copied()
}

#[derive(Debug, thiserror::Error)]
#[error("read /proc/{pid}/{file}")]
pub struct ProcError {
    pid: u32,
    file: &'static str,
    #[source]
    source: std::io::Error,
}

/// A process's CPU time so far (user and system), from /proc/PID/stat.
pub fn cpu_time(pid: u32) -> Result<Duration, ProcError> {
    let err = |source| ProcError {
        pid,
        file: "stat",
        source,
    };
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).map_err(err)?;
    // The command name may hold spaces and parentheses: fields count from
    // after its last ')', where field 3 (state) is index 0.
    let rest = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<u64>().ok());
    let (Some(utime), Some(stime)) = (ticks(11), ticks(12)) else {
        return Err(err(std::io::Error::other("no utime and stime fields")));
    };
    // SAFETY: sysconf takes a constant and touches no memory of ours.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    let hz = if hz > 0 { hz as f64 } else { 100.0 };
    Ok(Duration::from_secs_f64((utime + stime) as f64 / hz))
}

/// A process's peak resident memory (VmHWM), in bytes.
pub fn peak_rss(pid: u32) -> Result<u64, ProcError> {
    status_kib(pid, "VmHWM:").map(|kib| kib * 1024)
}

/// A process's resident memory now (VmRSS), in bytes.
pub fn rss(pid: u32) -> Result<u64, ProcError> {
    status_kib(pid, "VmRSS:").map(|kib| kib * 1024)
}

/// A `/proc/PID/status` field given in kB (0 when absent).
fn status_kib(pid: u32, field: &str) -> Result<u64, ProcError> {
    let status =
        std::fs::read_to_string(format!("/proc/{pid}/status")).map_err(|source| ProcError {
            pid,
            file: "status",
            source,
        })?;
    Ok(status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .unwrap_or(0))
}

#[cfg(test)]
mod tests;
