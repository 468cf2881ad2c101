//! [`Store::revisions`](crate::store::Store::revisions) for etcd: one
//! watch of the revision counter per store, however many agent streams
//! wait on its channel. It starts at the etcd revision the store was
//! opened at; after a compaction it reads the counter anew and watches
//! from there; after a lost connection it watches again, with backoff,
//! from the last revision it saw.

use std::time::Duration;
use tokio::sync::watch;
use weft_etcd::{Client, EventKind};

const BACKOFF_FIRST: Duration = Duration::from_millis(100);
const BACKOFF_MAX: Duration = Duration::from_secs(5);

/// Tell listeners of `value` when it is newer than what they saw.
pub(super) fn publish(sender: &watch::Sender<u64>, value: u64) {
    sender.send_if_modified(|seen| {
        let moved = value > *seen;
        if moved {
            *seen = value;
        }
        moved
    });
}

/// The counter's value (0 when never written) and etcd's revision then.
pub(super) async fn read_counter(client: &Client, key: &str) -> weft_etcd::Result<(u64, i64)> {
    let answer = client
        .range(weft_etcd::pb::etcdserverpb::RangeRequest {
            key: key.as_bytes().to_vec(),
            ..Default::default()
        })
        .await?;
    let value = answer
        .kvs
        .first()
        .and_then(|kv| std::str::from_utf8(&kv.value).ok()?.parse().ok())
        .unwrap_or(0);
    Ok((value, answer.header.map_or(0, |h| h.revision)))
}

/// Follow the counter at `key` from etcd revision `from` on, forever
/// (the store aborts the task when dropped).
pub(super) async fn follow(
    client: Client,
    key: String,
    sender: std::sync::Arc<watch::Sender<u64>>,
    mut from: i64,
) {
    let mut backoff = BACKOFF_FIRST;
    loop {
        let err = match client.watch(key.clone(), false, from).await {
            Ok(mut watch) => loop {
                match watch.next().await {
                    Ok(batch) => {
                        backoff = BACKOFF_FIRST;
                        for event in batch.events {
                            from = event.kv.mod_revision + 1;
                            if event.kind == EventKind::Put
                                && let Some(value) = std::str::from_utf8(&event.kv.value)
                                    .ok()
                                    .and_then(|v| v.parse().ok())
                            {
                                publish(&sender, value);
                            }
                        }
                    }
                    Err(err) => break err,
                }
            },
            Err(err) => err,
        };
        if err.compact_revision().is_some() {
            tracing::info!(error = %weft_model::error::chain(&err), "the control plane store's revision: watching anew");
        } else {
            tracing::warn!(error = %weft_model::error::chain(&err), "the control plane store's revision: watching again in {backoff:?}");
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(BACKOFF_MAX);
            continue;
        }
        // Compacted past where we were: what we missed is in the value.
        match read_counter(&client, &key).await {
            Ok((value, revision)) => {
                publish(&sender, value);
                from = revision + 1;
            }
            Err(err) => {
                tracing::warn!(error = %weft_model::error::chain(&err), "read the control plane store's revision");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(BACKOFF_MAX);
            }
        }
    }
}
