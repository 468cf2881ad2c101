//! Exponential backoff: 2 s, 4 s, 8 s, … capped at 60 s, with a retry limit
//! and an overall timeout. Pure arithmetic: the caller says how much time
//! has passed.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::time::Duration;

/// When to try again, and when to stop trying.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Backoff {
    /// The wait before the first retry.
    #[serde(rename = "initial")]
    pub initial: Duration,
    /// No wait is longer than this.
    #[serde(rename = "max_delay")]
    pub max_delay: Duration,
    /// Retries after the first attempt: `max_retries + 1` attempts in all.
    #[serde(rename = "max_retries")]
    pub max_retries: u32,
    /// No attempt starts this long after the first one started.
    #[serde(rename = "timeout")]
    pub timeout: Duration,
}

impl Backoff {
    pub const DEFAULT_INITIAL: Duration = Duration::from_secs(2);
    pub const DEFAULT_MAX_DELAY: Duration = Duration::from_secs(60);

    /// 2 s doubling to 60 s, with these limits.
    pub fn new(max_retries: u32, timeout: Duration) -> Self {
        Self {
            initial: Self::DEFAULT_INITIAL,
            max_delay: Self::DEFAULT_MAX_DELAY,
            max_retries,
            timeout,
        }
    }

    /// The wait before retry `retry` (1-based): `initial · 2^(retry-1)`,
    /// capped at `max_delay`.
    pub fn delay(&self, retry: u32) -> Duration {
        let doublings = retry.saturating_sub(1).min(31);
        self.initial
            .checked_mul(1u32 << doublings)
            .unwrap_or(self.max_delay)
            .min(self.max_delay)
    }

    /// Every wait the retry limit allows, in order.
    pub fn delays(&self) -> impl Iterator<Item = Duration> + '_ {
        (1..=self.max_retries).map(|retry| self.delay(retry))
    }

    /// Attempt `failed` (1-based) just failed, `elapsed` after the first
    /// attempt started: how long to wait before the next one, or why not to.
    pub fn next(&self, failed: u32, elapsed: Duration) -> Result<Duration, GiveUp> {
        if failed > self.max_retries {
            return Err(GiveUp::Retries(self.max_retries));
        }
        let wait = self.delay(failed);
        if elapsed.saturating_add(wait) >= self.timeout {
            return Err(GiveUp::Timeout(self.timeout));
        }
        Ok(wait)
    }
}

impl Default for Backoff {
    /// 2 s … 60 s, 10 retries, 5 minutes.
    fn default() -> Self {
        Self::new(10, Duration::from_secs(300))
    }
}

/// Why retrying stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GiveUp {
    /// Every retry was used (the limit is given).
    Retries(u32),
    /// The next attempt would start after the overall timeout (given).
    Timeout(Duration),
}

impl fmt::Display for GiveUp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GiveUp::Retries(n) => write!(f, "all {n} retries used"),
            GiveUp::Timeout(t) => write!(f, "the overall timeout of {} would pass", secs(*t)),
        }
    }
}

/// `62 s`, `2.5 s`: durations as people read them in logs.
pub fn secs(d: Duration) -> String {
    if d.subsec_millis() == 0 {
        format!("{} s", d.as_secs())
    } else {
        format!("{:.1} s", d.as_secs_f64())
    }
}

#[cfg(test)]
mod tests;
