//! The agent's log records, streamed to its control plane (`StreamLogs`,
//! on the same mutual-TLS connection as its desired state).
//!
//! Three pieces:
//! - [`ControlLogLayer`], a `tracing` layer the binary installs beside
//!   its stderr output: every event of weft's own crates at or above
//!   `--control-log-level` becomes a record, its text passed through
//!   [`weft_model::redact`] and fields named like secrets dropped, so
//!   nothing secret is ever held, let alone sent. Other crates' events
//!   (tonic, h2, rustls) stay out: at debug level they log every frame the
//!   stream itself sends, and would feed on themselves.
//! - [`LogBuffer`], bounded in records and bytes: a record that does not
//!   fit pushes out the oldest, counted as dropped. Pushing never blocks
//!   on the network and never grows the buffer.
//! - [`stream`], run per connection: takes batches (every [`BATCH_EVERY`],
//!   or sooner once [`BATCH_RECORDS`] wait) and sends them with the count
//!   of records dropped since the last batch. While the control plane is
//!   away nothing is taken: the buffer keeps the newest records and the
//!   count grows; the first batch after reconnecting says how many were
//!   lost, and the control plane records that in the host's log.
//!   `weft_control_log_records_dropped` in the agent's metrics counts them
//!   too.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use tracing::field::{Field, Visit};
use weft_proto::control as pb;

/// A batch is sent at least this often while records wait. A record
/// reaches a `weft control logs -f` reader within about this plus the
/// control plane's flush (100 ms) and its follow poll (200 ms): well
/// inside a second. Sooner would cost the control plane a message (TLS,
/// HTTP/2, decoding) per record at a typical host's rate of a few a second.
pub const BATCH_EVERY: Duration = Duration::from_millis(250);
/// A batch holds at most this many records (and is sent at once when full).
pub const BATCH_RECORDS: usize = 256;
/// Records the buffer holds unless `--control-log-buffer` says.
pub const DEFAULT_RECORDS: u32 = 4096;
/// Bytes of text the buffer holds at most.
pub const MAX_BYTES: usize = 4 * 1024 * 1024;
/// A record's message is cut to this many bytes.
pub const MAX_MESSAGE: usize = 2048;

/// What a record costs the buffer besides its text.
const RECORD_OVERHEAD: usize = 64;

fn cost(r: &pb::LogRecord) -> usize {
    r.message.len() + r.target.len() + r.level.len() + RECORD_OVERHEAD
}

#[derive(Default)]
struct Held {
    records: VecDeque<pb::LogRecord>,
    bytes: usize,
    /// Dropped since the last batch was taken.
    dropped: u64,
}

/// The records waiting to be sent, bounded.
pub struct LogBuffer {
    held: Mutex<Held>,
    max_records: usize,
    max_bytes: usize,
    /// Every record dropped since the agent started (for metrics).
    dropped_total: Arc<AtomicU64>,
    ready: tokio::sync::Notify,
}

impl std::fmt::Debug for LogBuffer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogBuffer")
            .field("max_records", &self.max_records)
            .field("max_bytes", &self.max_bytes)
            .finish_non_exhaustive()
    }
}

impl LogBuffer {
    /// A buffer of at most `max_records` records and `max_bytes` bytes.
    pub fn new(max_records: usize, max_bytes: usize) -> LogBuffer {
        LogBuffer {
            held: Mutex::default(),
            max_records: max_records.max(1),
            max_bytes: max_bytes.max(1),
            dropped_total: Arc::default(),
            ready: tokio::sync::Notify::new(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Held> {
        self.held.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Keep `record`, pushing out the oldest when full.
    pub fn push(&self, record: pb::LogRecord) {
        let size = cost(&record);
        let mut held = self.lock();
        let mut dropped = 0;
        while !held.records.is_empty()
            && (held.records.len() >= self.max_records || held.bytes + size > self.max_bytes)
        {
            if let Some(old) = held.records.pop_front() {
                held.bytes -= cost(&old);
                dropped += 1;
            }
        }
        held.dropped += dropped;
        held.bytes += size;
        held.records.push_back(record);
        let full = held.records.len() >= BATCH_RECORDS;
        drop(held);
        if dropped > 0 {
            self.dropped_total.fetch_add(dropped, Ordering::Relaxed);
        }
        if full {
            self.ready.notify_one();
        }
    }

    /// Up to [`BATCH_RECORDS`] of the oldest records and the count dropped
    /// since the last batch; `None` when there is nothing to say.
    pub fn take_batch(&self) -> Option<pb::LogBatch> {
        let mut held = self.lock();
        if held.records.is_empty() && held.dropped == 0 {
            return None;
        }
        let n = held.records.len().min(BATCH_RECORDS);
        let records: Vec<pb::LogRecord> = held.records.drain(..n).collect();
        held.bytes -= records.iter().map(cost).sum::<usize>();
        Some(pb::LogBatch {
            records,
            dropped: std::mem::take(&mut held.dropped),
        })
    }

    /// Records held now, and their bytes.
    pub fn held(&self) -> (usize, usize) {
        let held = self.lock();
        (held.records.len(), held.bytes)
    }

    /// The count of every record dropped since start, shared (metrics).
    pub fn dropped_counter(&self) -> Arc<AtomicU64> {
        Arc::clone(&self.dropped_total)
    }
}

/// The event's message and fields as one line (`message k=v …`), fields
/// named like secrets left out.
#[derive(Default)]
struct Line {
    message: String,
    fields: String,
}

impl Visit for Line {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        use std::fmt::Write as _;
        if field.name() == "message" {
            let _ = write!(self.message, "{value:?}");
        } else if weft_model::redact::is_secret_field(field.name()) {
            let _ = write!(self.fields, " {}=[redacted]", field.name());
        } else {
            let _ = write!(self.fields, " {}={value:?}", field.name());
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        // Without Debug's quotes and escapes.
        self.record_debug(field, &format_args!("{value}"));
    }
}

fn cut(mut text: String, max: usize) -> String {
    if text.len() > max {
        let mut at = max;
        while !text.is_char_boundary(at) {
            at -= 1;
        }
        text.truncate(at);
        text.push('…');
    }
    text
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// The `tracing` layer that feeds a [`LogBuffer`] (with its filter:
/// [`layer`]).
pub struct ControlLogLayer {
    buffer: Arc<LogBuffer>,
}

impl ControlLogLayer {
    /// The record an event becomes: redacted, cut to size.
    pub fn record(event: &tracing::Event<'_>) -> pb::LogRecord {
        let mut line = Line::default();
        event.record(&mut line);
        let text = cut(line.message + &line.fields, MAX_MESSAGE);
        let meta = event.metadata();
        pb::LogRecord {
            time_ms: now_ms(),
            level: meta.level().as_str().to_ascii_lowercase(),
            target: meta.target().to_string(),
            message: weft_model::redact::redact(&text),
        }
    }
}

/// Whether an event with `meta` is streamed at `level`.
pub fn streamed(meta: &tracing::Metadata<'_>, level: tracing::Level) -> bool {
    *meta.level() <= level && meta.target().starts_with("weft")
}

/// The layer with its own filter (a per-layer filter: other layers, the
/// stderr output, see what their own filters let through), so callsites
/// neither wants stay disabled and cost nothing.
pub fn layer<S>(buffer: Arc<LogBuffer>, level: tracing::Level) -> impl tracing_subscriber::Layer<S>
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
{
    use tracing_subscriber::Layer as _;
    let filter = tracing_subscriber::filter::filter_fn(move |meta| streamed(meta, level))
        .with_max_level_hint(level);
    ControlLogLayer { buffer }.with_filter(filter)
}

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for ControlLogLayer {
    fn on_event(&self, event: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
        self.buffer.push(ControlLogLayer::record(event));
    }
}

/// Send `buffer`'s batches over `client` until the stream fails (the
/// connection broke, or the control plane ended it). Records taken for a
/// batch that never got through are lost with the connection: at most a
/// batch or two.
pub async fn stream(
    mut client: pb::agent_control_client::AgentControlClient<tonic::transport::Channel>,
    buffer: Arc<LogBuffer>,
) -> Result<(), tonic::Status> {
    let (tx, rx) = tokio::sync::mpsc::channel::<pb::LogBatch>(1);
    let feed = async move {
        let mut tick = tokio::time::interval(BATCH_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                () = buffer.ready.notified() => {}
            }
            // Wait for room before taking: records stay in the bounded
            // buffer, not in flight, while the connection is slow.
            let Ok(permit) = tx.reserve().await else {
                return;
            };
            if let Some(batch) = buffer.take_batch() {
                permit.send(batch);
            }
        }
    };
    let send = client.stream_logs(tokio_stream::wrappers::ReceiverStream::new(rx));
    tokio::select! {
        sent = send => sent.map(|_| ()),
        () = feed => Ok(()),
    }
}

/// [`stream`] for as long as it is held (one connection): started again
/// when the control plane ends it, given up on a control plane that does
/// not know `StreamLogs` (an older one). Failures are debug lines only:
/// they would otherwise be records of their own.
pub struct Streaming(tokio::task::JoinHandle<()>);

impl Drop for Streaming {
    fn drop(&mut self) {
        self.0.abort();
    }
}

pub fn spawn(
    client: pb::agent_control_client::AgentControlClient<tonic::transport::Channel>,
    buffer: Arc<LogBuffer>,
) -> Streaming {
    Streaming(tokio::spawn(async move {
        loop {
            match stream(client.clone(), Arc::clone(&buffer)).await {
                Err(status) if status.code() == tonic::Code::Unimplemented => {
                    tracing::debug!("the control plane takes no log records");
                    return;
                }
                Err(status) => {
                    tracing::debug!(code = ?status.code(), "the log stream ended; again in 2 s")
                }
                Ok(()) => tracing::debug!("the log stream ended; again in 2 s"),
            }
            tokio::time::sleep(Duration::from_secs(2)).await;
        }
    }))
}

#[cfg(test)]
mod tests;
