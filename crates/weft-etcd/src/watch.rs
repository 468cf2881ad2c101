//! Watching a key or a prefix from a revision.
//!
//! One watch, one gRPC stream: the control plane watches few things (its
//! revision counter, the leader), so sharing a stream between watches is
//! not worth its bookkeeping.

use crate::client::{Client, MAX_MESSAGE};
use crate::error::{Error, Result};
use crate::pb::etcdserverpb as pb;
use crate::pb::etcdserverpb::watch_client::WatchClient;
use crate::pb::mvccpb::{KeyValue, event::EventType};
use crate::prefix_end;
use tokio::sync::mpsc;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    Put,
    Delete,
}

/// One change of a watched key; its revision is `kv.mod_revision`.
#[derive(Debug, Clone)]
pub struct WatchEvent {
    pub kind: EventKind,
    pub kv: KeyValue,
}

/// The events etcd sent in one answer, with the store's revision then.
#[derive(Debug, Clone)]
pub struct WatchBatch {
    pub revision: i64,
    pub events: Vec<WatchEvent>,
}

/// A live watch. Dropping it ends the stream.
pub struct Watch {
    what: String,
    endpoint: String,
    stream: tonic::Streaming<pb::WatchResponse>,
    /// Keeps the request side open: etcd ends a watch whose requests end.
    _requests: mpsc::Sender<pb::WatchRequest>,
}

impl std::fmt::Debug for Watch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Watch")
            .field("what", &self.what)
            .field("endpoint", &self.endpoint)
            .finish()
    }
}

impl Client {
    /// Watch `key` (every key under it when `prefix`) from `start_revision`
    /// on (0: from now). Returns once etcd has created the watch, so
    /// writes after this call are seen. A start below etcd's compaction
    /// fails with [`Error::Compacted`] (here or from [`Watch::next`]).
    pub async fn watch(
        &self,
        key: impl Into<Vec<u8>>,
        prefix: bool,
        start_revision: i64,
    ) -> Result<Watch> {
        let key = key.into();
        let range_end = if prefix { prefix_end(&key) } else { Vec::new() };
        let what = format!(
            "watch {}{} from revision {start_revision} in etcd",
            String::from_utf8_lossy(&key),
            if prefix { "*" } else { "" }
        );
        let create = pb::WatchRequest {
            request_union: Some(pb::watch_request::RequestUnion::CreateRequest(
                pb::WatchCreateRequest {
                    key,
                    range_end,
                    start_revision,
                    ..Default::default()
                },
            )),
        };
        let describe = || what.clone();
        let opened = self
            .failover(&describe, true, |channel| {
                let create = create.clone();
                async move {
                    let (requests, rx) = mpsc::channel(1);
                    requests
                        .send(create)
                        .await
                        .map_err(|_| tonic::Status::cancelled("watch request dropped"))?;
                    let rx = tokio_stream::wrappers::ReceiverStream::new(rx);
                    let mut stream = WatchClient::new(channel)
                        .max_decoding_message_size(MAX_MESSAGE)
                        .watch(rx)
                        .await?
                        .into_inner();
                    // The answer to the create, on the same endpoint.
                    let created = stream.message().await?;
                    Ok((requests, stream, created))
                }
            })
            .await?;
        let (requests, stream, created) = opened.value;
        let watch = Watch {
            what,
            endpoint: opened.endpoint,
            stream,
            _requests: requests,
        };
        match created {
            Some(answer) if answer.created && !answer.canceled => Ok(watch),
            Some(answer) => Err(watch.ended(answer)),
            None => Err(watch.ended(pb::WatchResponse::default())),
        }
    }
}

impl Watch {
    /// The next changes. An error ends the watch: watch again from the
    /// revision after the last one seen (or, when compacted, from a
    /// revision read anew).
    pub async fn next(&mut self) -> Result<WatchBatch> {
        loop {
            let answer = match self.stream.message().await {
                Ok(Some(answer)) => answer,
                Ok(None) => {
                    return Err(Error::StreamEnded {
                        what: self.what.clone(),
                        endpoint: self.endpoint.clone(),
                        reason: "closed".into(),
                    });
                }
                Err(source) => {
                    return Err(Error::StreamBroken {
                        what: self.what.clone(),
                        endpoint: self.endpoint.clone(),
                        source,
                    });
                }
            };
            if answer.canceled || answer.compact_revision != 0 {
                return Err(self.ended(answer));
            }
            if answer.events.is_empty() {
                // Progress or a fragment's header: nothing to report.
                continue;
            }
            let revision = answer.header.map_or(0, |h| h.revision);
            let events = answer
                .events
                .into_iter()
                .filter_map(|e| {
                    let kind = match EventType::try_from(e.r#type) {
                        Ok(EventType::Delete) => EventKind::Delete,
                        _ => EventKind::Put,
                    };
                    e.kv.map(|kv| WatchEvent { kind, kv })
                })
                .collect();
            return Ok(WatchBatch { revision, events });
        }
    }

    /// The error for an answer that ends the watch.
    fn ended(&self, answer: pb::WatchResponse) -> Error {
        if answer.compact_revision != 0 {
            return Error::Compacted {
                what: self.what.clone(),
                compact_revision: answer.compact_revision,
            };
        }
        let reason = if answer.cancel_reason.is_empty() {
            "canceled".to_string()
        } else {
            answer.cancel_reason
        };
        Error::StreamEnded {
            what: self.what.clone(),
            endpoint: self.endpoint.clone(),
            reason,
        }
    }
}
