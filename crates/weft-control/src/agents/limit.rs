//! Token buckets for enrollment: each attempt costs a CSR check and a
//! signature, so a flood of them (guessing tokens, or just burning CPU) is
//! cut off at a fixed rate per client address ([`AddressLimit`], so one
//! noisy client cannot use up everyone's enrollments) and for the whole
//! server ([`RateLimit`]).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Mutex, PoisonError};
use std::time::Instant;

/// Addresses tracked at most; beyond that, buckets that refilled (their
/// clients went quiet) are forgotten first.
const MAX_TRACKED: usize = 65_536;

#[derive(Clone, Copy)]
struct Bucket {
    tokens: f64,
    last: Instant,
}

impl Bucket {
    fn full(burst: f64, now: Instant) -> Bucket {
        Bucket {
            tokens: burst,
            last: now,
        }
    }

    fn refill(&mut self, per_second: f64, burst: f64, now: Instant) {
        self.tokens =
            (self.tokens + now.duration_since(self.last).as_secs_f64() * per_second).min(burst);
        self.last = now;
    }

    fn take(&mut self) -> bool {
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

pub struct RateLimit {
    per_second: f64,
    burst: f64,
    state: Mutex<Bucket>,
}

impl RateLimit {
    pub fn new(per_second: f64, burst: u32) -> RateLimit {
        let burst = f64::from(burst.max(1));
        RateLimit {
            per_second,
            burst,
            state: Mutex::new(Bucket::full(burst, Instant::now())),
        }
    }

    /// Take one attempt if there is one left.
    pub fn try_take(&self) -> bool {
        let mut bucket = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        bucket.refill(self.per_second, self.burst, Instant::now());
        bucket.take()
    }
}

/// One bucket per client address; IPv6 clients by their /64, which one
/// client usually holds whole.
pub struct AddressLimit {
    per_second: f64,
    burst: f64,
    buckets: Mutex<HashMap<IpAddr, Bucket>>,
}

impl AddressLimit {
    pub fn new(per_second: f64, burst: u32) -> AddressLimit {
        AddressLimit {
            per_second,
            burst: f64::from(burst.max(1)),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Take one attempt for `addr` if it has one left.
    pub fn try_take(&self, addr: IpAddr) -> bool {
        let key = client_of(addr);
        let now = Instant::now();
        let mut buckets = self.buckets.lock().unwrap_or_else(PoisonError::into_inner);
        if buckets.len() >= MAX_TRACKED && !buckets.contains_key(&key) {
            let (per_second, burst) = (self.per_second, self.burst);
            buckets.retain(|_, b| {
                b.refill(per_second, burst, now);
                b.tokens < burst
            });
        }
        if buckets.len() >= MAX_TRACKED && !buckets.contains_key(&key) {
            // Every tracked client is busy: a flood from many addresses,
            // which the server-wide limit is for; refuse newcomers until
            // some bucket refills rather than grow without bound.
            return false;
        }
        let bucket = buckets
            .entry(key)
            .or_insert_with(|| Bucket::full(self.burst, now));
        bucket.refill(self.per_second, self.burst, now);
        bucket.take()
    }
}

/// The address a client is counted by.
fn client_of(addr: IpAddr) -> IpAddr {
    match addr.to_canonical() {
        IpAddr::V6(v6) => {
            let prefix = u128::from(v6) & !((1u128 << 64) - 1);
            IpAddr::V6(prefix.into())
        }
        v4 => v4,
    }
}

#[cfg(test)]
mod tests;
