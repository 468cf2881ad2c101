//! Waiting for something to become true, with a deadline: tests poll the
//! condition they need instead of sleeping and hoping.

use std::time::{Duration, Instant};

/// How often the helpers here look again.
const POLL: Duration = Duration::from_millis(50);

/// Poll `check` until it holds; panics naming `what` after `timeout`.
#[track_caller]
pub fn wait_for(what: &str, timeout: Duration, mut check: impl FnMut() -> bool) {
    wait_until(what, timeout, || check().then_some(()));
}

/// Poll `check` until it returns `Some`, and return that; panics naming
/// `what` after `timeout`.
#[track_caller]
pub fn wait_until<T>(what: &str, timeout: Duration, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = check() {
            return value;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}"
        );
        std::thread::sleep(POLL);
    }
}

/// Poll `get` until `done` holds for what it returns, and return that;
/// panics after `timeout` naming `what` and the last value seen.
#[track_caller]
pub fn wait_for_value<T: std::fmt::Debug>(
    what: &str,
    timeout: Duration,
    mut get: impl FnMut() -> T,
    done: impl Fn(&T) -> bool,
) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        let value = get();
        if done(&value) {
            return value;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}; last seen: {value:?}"
        );
        std::thread::sleep(POLL);
    }
}

/// Poll `check` every `every` until it holds or `timeout` passes; whether
/// it held. For cleanup, where giving up is not a failure.
pub fn poll_until(timeout: Duration, every: Duration, mut check: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if check() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(every);
    }
}

#[cfg(test)]
mod tests;
