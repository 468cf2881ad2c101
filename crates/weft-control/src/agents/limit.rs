//! A token bucket for enrollment: each attempt costs a CSR check and a
//! signature, so a flood of them (guessing tokens, or just burning CPU) is
//! cut off at a fixed rate for the whole server.

use std::sync::{Mutex, PoisonError};
use std::time::Instant;

pub struct RateLimit {
    per_second: f64,
    burst: f64,
    state: Mutex<(f64, Instant)>,
}

impl RateLimit {
    pub fn new(per_second: f64, burst: u32) -> RateLimit {
        let burst = f64::from(burst.max(1));
        RateLimit {
            per_second,
            burst,
            state: Mutex::new((burst, Instant::now())),
        }
    }

    /// Take one attempt if there is one left.
    pub fn try_take(&self) -> bool {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let (tokens, last) = &mut *state;
        let now = Instant::now();
        *tokens =
            (*tokens + now.duration_since(*last).as_secs_f64() * self.per_second).min(self.burst);
        *last = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_is_allowed_then_the_rate() {
        let limit = RateLimit::new(0.0, 3);
        assert!((0..3).all(|_| limit.try_take()));
        assert!(!limit.try_take());
        let refilling = RateLimit::new(1000.0, 1);
        assert!(refilling.try_take());
        std::thread::sleep(std::time::Duration::from_millis(5));
        assert!(refilling.try_take());
    }
}
