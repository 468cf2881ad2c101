//! Hosts' log records in etcd, beside the tenants' state (never under a
//! tenant's prefix, which every change of desired state reads whole):
//!
//! ```text
//! log-heads/<host>          {next, first, chunks}: the next number, the
//!                           oldest kept, where each chunk starts
//! logs/<host>/<seq>         a chunk: the records appended together,
//!                           from <seq> (20 digits, so keys sort as numbers)
//! ```
//!
//! An append is one transaction per host that compares the head and the
//! host's record (a host deleted meanwhile gets nothing), puts the new
//! chunk and head and deletes the chunks wholly older than the newest
//! `keep` records. A chunk partly older stays until the next append and
//! reads skip what is older than `first`: etcd holds at most one chunk
//! more than `keep` records. Log writes leave the revision counter alone:
//! no agent stream wakes for them.
//!
//! The replica remembers each host's head as it wrote it, with the
//! revisions the next append compares ([`KnownHeads`]): an append is then
//! that one transaction, with no read before it. When the compares fail
//! (another replica appended, a heartbeat moved the host's record, the
//! host went), it reads both and tries again, as it does the first time.

use super::*;
use crate::model::logs::{HostLogs, LogLevel, LogQuery, LogRecord};
use serde::{Deserialize, Serialize};

/// A chunk's records are put in values of about this many bytes.
const CHUNK_BYTES: usize = 256 * 1024;
/// One transaction carries records of about this many bytes (etcd takes
/// 1.5 MiB in a request); a larger append is several, in order.
const TXN_BYTES: usize = 1024 * 1024;

fn size(r: &crate::model::logs::NewLogRecord) -> usize {
    r.target.len() + r.message.len() + 64
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Head {
    next: u64,
    first: u64,
    chunks: Vec<u64>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Stored {
    seq: u64,
    time_ms: i64,
    level: u8,
    target: String,
    message: String,
}

impl Keys {
    fn log_head(&self, host: &str) -> String {
        format!("{}log-heads/{host}", self.prefix())
    }
    fn logs_of(&self, host: &str) -> String {
        format!("{}logs/{host}/", self.prefix())
    }
    fn log_chunk(&self, host: &str, seq: u64) -> String {
        format!("{}{seq:020}", self.logs_of(host))
    }
}

fn first_range(kvs: Vec<OpResponse>) -> Vec<Vec<KeyValue>> {
    kvs.into_iter()
        .map(|r| match r {
            OpResponse::Range(kvs) => kvs,
            _ => Vec::new(),
        })
        .collect()
}

/// Keep the first error of the hosts' appends (the others still ran).
fn note(
    first: &mut Option<StoreError>,
    done: std::result::Result<Result<()>, tokio::task::JoinError>,
) {
    let err = match done {
        Ok(Ok(())) => return,
        Ok(Err(err)) => err,
        Err(_) => StoreError::Worker,
    };
    first.get_or_insert(err);
}

/// The host's record, if it is a live host of the tenant.
fn live(kv: Option<&KeyValue>) -> Result<Option<&KeyValue>> {
    let Some(kv) = kv else { return Ok(None) };
    let host: HostRecord = decode("host", &kv.value)?;
    Ok(host.revoked_at.is_none().then_some(kv))
}

/// Hosts whose records are appended at once (each its own transactions).
const PARALLEL_HOSTS: usize = 32;

/// A host's log head as this replica last wrote it, with the mod
/// revisions of the head and of the host's record at that write.
#[derive(Clone)]
pub(super) struct Known {
    head: Head,
    head_rev: i64,
    host_rev: i64,
}

/// What this replica last wrote of each host's logs, by host id.
pub(super) type KnownHeads = Arc<std::sync::Mutex<std::collections::HashMap<String, Known>>>;

/// What an append needs of the store, owned, so hosts go side by side.
#[derive(Clone)]
struct Writer {
    client: Client,
    keys: Keys,
    known: KnownHeads,
}

impl Writer {
    async fn txn(&self, txn: Txn) -> Result<weft_etcd::TxnResult> {
        (self.client.txn(txn).await).map_err(|e| failed(self.client.endpoints(), e))
    }

    async fn append_host_logs(&self, batch: &HostLogs, keep: u32) -> Result<()> {
        let mut from = 0;
        while from < batch.records.len() {
            let mut bytes = 0;
            let to = batch.records[from..]
                .iter()
                .position(|r| {
                    bytes += size(r);
                    bytes > TXN_BYTES
                })
                .map_or(batch.records.len(), |n| from + n.max(1));
            let slice = &batch.records[from..to];
            if !self.append_slice(batch, slice, keep).await? {
                return Ok(());
            }
            from = to;
        }
        Ok(())
    }

    /// Append `records` of `batch`'s host in one transaction; false when
    /// the host is not (or no longer) a live host of the tenant.
    async fn append_slice(
        &self,
        batch: &HostLogs,
        records: &[crate::model::logs::NewLogRecord],
        keep: u32,
    ) -> Result<bool> {
        let (tenant, host) = (batch.tenant.as_str(), batch.host.as_str());
        let (host_key, head_key) = (self.keys.host(tenant, host), self.keys.log_head(host));
        let lock = || {
            self.known
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
        };
        let mut remembered = lock().remove(host);
        loop {
            let (mut head, head_rev, host_rev) = match remembered.take() {
                Some(k) => (k.head, Some(k.head_rev), k.host_rev),
                None => {
                    let read =
                        Txn::new().and_then([Op::get(host_key.clone()), Op::get(head_key.clone())]);
                    let mut ranges = first_range(self.txn(read).await?.responses).into_iter();
                    let host_kv = ranges.next().unwrap_or_default().into_iter().next();
                    let head_kv = ranges.next().unwrap_or_default().into_iter().next();
                    let Some(host_kv) = live(host_kv.as_ref())? else {
                        return Ok(false);
                    };
                    let head = match &head_kv {
                        Some(kv) => decode::<Head>("log head", &kv.value)?,
                        None => Head {
                            next: 1,
                            first: 1,
                            chunks: Vec::new(),
                        },
                    };
                    (
                        head,
                        head_kv.map(|kv| kv.mod_revision),
                        host_kv.mod_revision,
                    )
                }
            };
            let mut ops = Vec::new();
            let mut chunk: Vec<Stored> = Vec::new();
            let (mut start, mut bytes) = (head.next, 0);
            for r in records {
                let stored = Stored {
                    seq: head.next,
                    time_ms: r.time_ms,
                    level: r.level.number(),
                    target: r.target.clone(),
                    message: r.message.clone(),
                };
                bytes += size(r);
                chunk.push(stored);
                head.next += 1;
                if bytes >= CHUNK_BYTES {
                    ops.push(Op::put(self.keys.log_chunk(host, start), encode(&chunk)));
                    head.chunks.push(start);
                    (chunk, start, bytes) = (Vec::new(), head.next, 0);
                }
            }
            if !chunk.is_empty() {
                ops.push(Op::put(self.keys.log_chunk(host, start), encode(&chunk)));
                head.chunks.push(start);
            }
            head.first = head
                .first
                .max(head.next.saturating_sub(u64::from(keep.max(1))));
            // Chunks wholly before the one holding `first` go.
            let holding = head
                .chunks
                .iter()
                .rposition(|c| *c <= head.first)
                .unwrap_or(0);
            if holding > 0 {
                let from = self.keys.logs_of(host);
                let to = self.keys.log_chunk(host, head.chunks[holding]);
                ops.push(Op::delete_range(from, to));
                head.chunks.drain(..holding);
            }
            ops.push(Op::put(head_key.clone(), encode(&head)));
            let head_same = match head_rev {
                Some(rev) => Compare::mod_revision(head_key.clone(), CmpOp::Equal, rev),
                None => Compare::absent(head_key.clone()),
            };
            let host_same = Compare::mod_revision(host_key.clone(), CmpOp::Equal, host_rev);
            let txn = Txn::new().when([head_same, host_same]).and_then(ops);
            let done = self.txn(txn).await?;
            if done.succeeded {
                // The head put in this transaction has its revision.
                let known = Known {
                    head,
                    head_rev: done.revision,
                    host_rev,
                };
                lock().insert(host.to_string(), known);
                return Ok(true);
            }
        }
    }
}

impl EtcdStore {
    /// Append every host's records, [`PARALLEL_HOSTS`] hosts at a time.
    pub(super) async fn append_all_logs(&self, logs: &[HostLogs], keep: u32) -> Result<()> {
        let writer = Writer {
            client: self.client.clone(),
            keys: self.keys.clone(),
            known: Arc::clone(&self.log_heads),
        };
        let mut tasks = tokio::task::JoinSet::new();
        let mut first_error = None;
        for batch in logs.iter().filter(|b| !b.records.is_empty()) {
            if tasks.len() >= PARALLEL_HOSTS
                && let Some(done) = tasks.join_next().await
            {
                note(&mut first_error, done);
            }
            let (writer, batch) = (writer.clone(), batch.clone());
            tasks.spawn(async move { writer.append_host_logs(&batch, keep).await });
        }
        while let Some(done) = tasks.join_next().await {
            note(&mut first_error, done);
        }
        first_error.map_or(Ok(()), Err)
    }

    pub(super) async fn read_logs(
        &self,
        tenant: &TenantId,
        host: &HostId,
        query: &LogQuery,
    ) -> Result<Vec<LogRecord>> {
        let h = host.as_str();
        let read = Txn::new().and_then([
            Op::get(self.keys.host(tenant.as_str(), h)),
            Op::get(self.keys.log_head(h)),
            Op::get_prefix(self.keys.logs_of(h)),
        ]);
        let mut ranges = first_range(self.txn(read).await?.responses).into_iter();
        let host_kv = ranges.next().unwrap_or_default().into_iter().next();
        if live(host_kv.as_ref())?.is_none() {
            return Err(StoreError::NotFound {
                what: "host",
                name: host.to_string(),
            });
        }
        let first = match ranges.next().unwrap_or_default().first() {
            Some(kv) => decode::<Head>("log head", &kv.value)?.first,
            None => return Ok(Vec::new()),
        };
        let mut out = Vec::new();
        for kv in ranges.next().unwrap_or_default() {
            for s in decode::<Vec<Stored>>("log chunk", &kv.value)? {
                let level =
                    LogLevel::from_number(s.level).ok_or_else(|| corrupt("log level", s.level))?;
                let record = LogRecord {
                    seq: s.seq,
                    time_ms: s.time_ms,
                    level,
                    target: s.target,
                    message: s.message,
                };
                if record.seq >= first && query.matches(&record) {
                    out.push(record);
                    if out.len() >= query.limit {
                        return Ok(out);
                    }
                }
            }
        }
        Ok(out)
    }

    /// Forget a host's records (it was deleted or purged).
    pub(super) async fn delete_logs(&self, host: &HostId) -> Result<()> {
        let h = host.as_str();
        let txn = Txn::new().and_then([
            Op::delete(self.keys.log_head(h)),
            Op::delete_prefix(self.keys.logs_of(h)),
        ]);
        self.txn(txn).await?;
        Ok(())
    }
}
