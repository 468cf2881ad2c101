//! Work on many hosts at once, bounded: `up`, `down` and the checks of a
//! mesh talk to every host, and each talk mostly waits (an agent's answer,
//! an SSH round trip, a process stopping), so hosts go side by side.

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

/// How many hosts are worked on at once: enough to hide the waits, few
/// enough that a 2-core machine running 30 lab agents is not swamped.
pub const AT_ONCE: usize = 8;

/// `f` of every item, at most [`AT_ONCE`] at a time; the results in the
/// items' order.
pub fn each<I: Sync, T: Send>(items: &[I], f: impl Fn(&I) -> T + Sync) -> Vec<T> {
    if items.len() <= 1 {
        return items.iter().map(f).collect();
    }
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<T>>> = Mutex::new(items.iter().map(|_| None).collect());
    std::thread::scope(|scope| {
        for _ in 0..AT_ONCE.min(items.len()) {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(item) = items.get(i) else { break };
                    let value = f(item);
                    results.lock().unwrap_or_else(|e| e.into_inner())[i] = Some(value);
                }
            });
        }
    });
    results
        .into_inner()
        .unwrap_or_else(|e| e.into_inner())
        .into_iter()
        .map(|v| v.expect("every item was worked on"))
        .collect()
}

#[cfg(test)]
mod tests;
