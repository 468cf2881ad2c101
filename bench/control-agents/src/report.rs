//! The line the bench prints for one kind of change.

use crate::probe;
use std::time::Duration;

/// Every repetition of one kind of change.
#[derive(Default)]
pub struct Outcome {
    /// Every agent's, of every repetition.
    pub latencies: Vec<Duration>,
    /// Agents that never applied their change.
    pub missing: usize,
    pub bytes: Vec<u64>,
    /// The control plane's, per repetition.
    pub cpu: Vec<Duration>,
}

/// `row`, the change, p50, p99 and max ms, mean and max bytes, mean CPU
/// seconds and the peak RSS in MiB, tab-separated.
pub fn row(kind: &str, mut o: Outcome, peak_rss: u64) -> String {
    o.latencies.sort_unstable();
    o.bytes.sort_unstable();
    // An agent that never applied a change is slower than any that did.
    let at = |p: f64| {
        probe::percentile(&o.latencies, o.missing, p).map_or("timeout".to_string(), |d| {
            format!("{:.1}", d.as_secs_f64() * 1000.0)
        })
    };
    let mean_bytes = o.bytes.iter().sum::<u64>() as f64 / o.bytes.len().max(1) as f64;
    let cpu = o
        .cpu
        .iter()
        .map(Duration::as_secs_f64)
        .fold(0.0, |a, b| a + b)
        / o.cpu.len().max(1) as f64;
    format!(
        "row\t{kind}\t{}\t{}\t{}\t{mean_bytes:.0}\t{}\t{cpu:.2}\t{:.0}",
        at(0.5),
        at(0.99),
        at(1.0),
        o.bytes.last().copied().unwrap_or(0),
        peak_rss as f64 / (1 << 20) as f64,
    )
}

#[cfg(test)]
mod tests;
