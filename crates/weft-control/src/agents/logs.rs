//! Agents' log records on their way to the store (`StreamLogs`).
//!
//! Each connection's batches are checked and redacted
//! ([`parse_batch`]), then handed to the replica's [`LogSink`], which
//! writes what every host sent in one store call per [`FLUSH`]: ten
//! thousand agents streaming cost the store a few writes a second, not
//! ten thousand, and the desired state's writes do not queue behind them.
//!
//! The store is shared with the desired state's writes, which users wait
//! for, so the logs yield to them twice over: a flush goes to the store in
//! parts of at most [`HOSTS_PER_WRITE`] hosts (a change queued behind the
//! logs waits for one small part, not the whole flush), and after a flush
//! that took T the sink waits T more before the next one (never sooner
//! than [`FLUSH`]). A store that slows down under load thus gets fewer,
//! larger writes — the logs never hold it more than about half the time —
//! while a quick store sees a flush every [`FLUSH`], as before.
//!
//! The sink never blocks a stream and never grows without bound: it holds
//! at most the store's `keep` records per host (older ones would be
//! trimmed on writing anyway), and when the store fails the batch is
//! dropped and said so in the log (the records are not worth retrying
//! into a store that may be down: agents' own logs still hold them).

use crate::model::logs::{HostLogs, LogLevel, NewLogRecord};
use crate::model::{Host, HostId, TenantId};
use crate::store::Store;
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use tonic::Status;
use weft_proto::control as pb;

/// How often the sink writes what arrived, at most.
pub const FLUSH: Duration = Duration::from_millis(100);
/// Hosts whose records go to the store in one call.
pub const HOSTS_PER_WRITE: usize = 100;
/// Records one batch may carry.
pub const MAX_BATCH: usize = 1000;
/// The control plane keeps this many records per host unless told
/// otherwise (`weft control serve --logs-per-host`).
pub const DEFAULT_KEEP: u32 = 1000;

/// A batch from `StreamLogs`, checked: at most [`MAX_BATCH`] records, each
/// with a known level, its text cut to size and redacted; a count of
/// records the agent dropped becomes a record of its own, stamped `now_ms`.
pub fn parse_batch(batch: pb::LogBatch, now_ms: i64) -> Result<Vec<NewLogRecord>, Status> {
    if batch.records.len() > MAX_BATCH {
        return Err(Status::invalid_argument(format!(
            "records: more than {MAX_BATCH} in one batch"
        )));
    }
    let mut records = Vec::with_capacity(batch.records.len() + 1);
    if batch.dropped > 0 {
        records.push(NewLogRecord::of_control_plane(
            now_ms,
            LogLevel::Warn,
            format!(
                "the agent dropped {} log records: its buffer was full while the control plane was slow or away",
                batch.dropped
            ),
        ));
    }
    for r in batch.records {
        let record = NewLogRecord::from_agent(r.time_ms, &r.level, &r.target, &r.message)
            .map_err(|e| Status::invalid_argument(e.to_string()))?;
        records.push(record);
    }
    Ok(records)
}

struct Pending {
    tenant: TenantId,
    records: VecDeque<NewLogRecord>,
}

/// What arrived since the last write, per host, bounded.
pub struct LogSink {
    keep: u32,
    pending: Mutex<HashMap<HostId, Pending>>,
}

impl LogSink {
    /// A sink whose store keeps `keep` records per host (at least 1).
    pub fn new(keep: u32) -> LogSink {
        LogSink {
            keep: keep.max(1),
            pending: Mutex::default(),
        }
    }

    /// Hold `records` of `host` for the next write; beyond `keep` waiting
    /// for one host, the oldest go.
    pub fn push(&self, host: &Host, records: Vec<NewLogRecord>) {
        if records.is_empty() {
            return;
        }
        let mut pending = self.pending.lock().unwrap_or_else(PoisonError::into_inner);
        let entry = pending.entry(host.id.clone()).or_insert_with(|| Pending {
            tenant: host.tenant.clone(),
            records: VecDeque::new(),
        });
        entry.records.extend(records);
        let over = entry.records.len().saturating_sub(self.keep as usize);
        entry.records.drain(..over);
    }

    /// Everything waiting, taken.
    pub fn take(&self) -> Vec<HostLogs> {
        let taken =
            std::mem::take(&mut *self.pending.lock().unwrap_or_else(PoisonError::into_inner));
        taken
            .into_iter()
            .map(|(host, p)| HostLogs {
                tenant: p.tenant,
                host,
                records: p.records.into(),
            })
            .collect()
    }

    /// Write what arrived every [`FLUSH`] or, when the store is slow,
    /// as often as leaves it half its time (the module's doc), for as
    /// long as the server runs.
    pub async fn run(self: Arc<Self>, store: Arc<dyn Store>) {
        let mut tick = tokio::time::interval(FLUSH);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let batch = self.take();
            if batch.is_empty() {
                continue;
            }
            let started = tokio::time::Instant::now();
            for part in batch.chunks(HOSTS_PER_WRITE) {
                if let Err(err) = store.append_logs(part, self.keep).await {
                    let records: usize = part.iter().map(|b| b.records.len()).sum();
                    tracing::warn!(error = %weft_model::error::chain(&err), records, "could not store agents' log records; dropped them");
                }
            }
            tokio::time::sleep(started.elapsed()).await;
        }
    }
}

#[cfg(test)]
mod tests;
