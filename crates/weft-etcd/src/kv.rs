//! Keys and values: get, range by prefix, put, delete, transactions,
//! compaction.

use crate::client::{Client, MAX_MESSAGE};
use crate::error::Result;
use crate::pb::etcdserverpb as pb;
use crate::pb::etcdserverpb::kv_client::KvClient;
use crate::pb::mvccpb::KeyValue;
use crate::prefix_end;

/// Keys read under a prefix, with the store's revision they were read at.
#[derive(Debug, Clone, Default)]
pub struct Range {
    pub revision: i64,
    pub kvs: Vec<KeyValue>,
}

/// How a [`Compare`] compares the key's target with its operand.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmpOp {
    Equal,
    NotEqual,
    Greater,
    Less,
}

impl CmpOp {
    fn result(self) -> pb::compare::CompareResult {
        use pb::compare::CompareResult as R;
        match self {
            CmpOp::Equal => R::Equal,
            CmpOp::NotEqual => R::NotEqual,
            CmpOp::Greater => R::Greater,
            CmpOp::Less => R::Less,
        }
    }
}

/// One condition of a [`Txn`]. A key that does not exist has version,
/// create_revision and mod_revision 0.
#[derive(Debug, Clone)]
pub struct Compare(pb::Compare);

impl Compare {
    fn new(
        key: impl Into<Vec<u8>>,
        op: CmpOp,
        target: pb::compare::CompareTarget,
        operand: pb::compare::TargetUnion,
    ) -> Compare {
        Compare(pb::Compare {
            result: op.result() as i32,
            target: target as i32,
            key: key.into(),
            target_union: Some(operand),
            range_end: Vec::new(),
        })
    }

    pub fn version(key: impl Into<Vec<u8>>, op: CmpOp, version: i64) -> Compare {
        use pb::compare::{CompareTarget, TargetUnion};
        Compare::new(
            key,
            op,
            CompareTarget::Version,
            TargetUnion::Version(version),
        )
    }

    pub fn create_revision(key: impl Into<Vec<u8>>, op: CmpOp, revision: i64) -> Compare {
        use pb::compare::{CompareTarget, TargetUnion};
        let operand = TargetUnion::CreateRevision(revision);
        Compare::new(key, op, CompareTarget::Create, operand)
    }

    pub fn mod_revision(key: impl Into<Vec<u8>>, op: CmpOp, revision: i64) -> Compare {
        use pb::compare::{CompareTarget, TargetUnion};
        let operand = TargetUnion::ModRevision(revision);
        Compare::new(key, op, CompareTarget::Mod, operand)
    }

    pub fn value(key: impl Into<Vec<u8>>, op: CmpOp, value: impl Into<Vec<u8>>) -> Compare {
        use pb::compare::{CompareTarget, TargetUnion};
        let operand = TargetUnion::Value(value.into());
        Compare::new(key, op, CompareTarget::Value, operand)
    }

    /// The key is absent (never created, or deleted).
    pub fn absent(key: impl Into<Vec<u8>>) -> Compare {
        Compare::create_revision(key, CmpOp::Equal, 0)
    }
}

/// One operation of a [`Txn`].
#[derive(Debug, Clone)]
pub struct Op(pb::RequestOp);

impl Op {
    fn of(request: pb::request_op::Request) -> Op {
        Op(pb::RequestOp {
            request: Some(request),
        })
    }

    pub fn put(key: impl Into<Vec<u8>>, value: impl Into<Vec<u8>>) -> Op {
        Op::put_with_lease(key, value, 0)
    }

    /// A put whose key goes when the lease does (0: no lease).
    pub fn put_with_lease(key: impl Into<Vec<u8>>, value: impl Into<Vec<u8>>, lease: i64) -> Op {
        Op::of(pb::request_op::Request::RequestPut(pb::PutRequest {
            key: key.into(),
            value: value.into(),
            lease,
            ..Default::default()
        }))
    }

    pub fn delete(key: impl Into<Vec<u8>>) -> Op {
        Op::of(pb::request_op::Request::RequestDeleteRange(
            pb::DeleteRangeRequest {
                key: key.into(),
                ..Default::default()
            },
        ))
    }

    pub fn delete_prefix(prefix: impl Into<Vec<u8>>) -> Op {
        let key = prefix.into();
        Op::of(pb::request_op::Request::RequestDeleteRange(
            pb::DeleteRangeRequest {
                range_end: prefix_end(&key),
                key,
                ..Default::default()
            },
        ))
    }

    /// Delete the keys from `key` up to, not including, `end`.
    pub fn delete_range(key: impl Into<Vec<u8>>, end: impl Into<Vec<u8>>) -> Op {
        Op::of(pb::request_op::Request::RequestDeleteRange(
            pb::DeleteRangeRequest {
                key: key.into(),
                range_end: end.into(),
                ..Default::default()
            },
        ))
    }

    pub fn get(key: impl Into<Vec<u8>>) -> Op {
        Op::of(pb::request_op::Request::RequestRange(pb::RangeRequest {
            key: key.into(),
            ..Default::default()
        }))
    }

    pub fn get_prefix(prefix: impl Into<Vec<u8>>) -> Op {
        let key = prefix.into();
        Op::of(pb::request_op::Request::RequestRange(pb::RangeRequest {
            range_end: prefix_end(&key),
            key,
            ..Default::default()
        }))
    }
}

/// A transaction: if every compare holds, the `and_then` operations run,
/// otherwise the `or_else` ones; atomically, at one new revision.
#[derive(Debug, Clone, Default)]
pub struct Txn {
    request: pb::TxnRequest,
}

impl Txn {
    pub fn new() -> Txn {
        Txn::default()
    }

    pub fn when(mut self, compares: impl IntoIterator<Item = Compare>) -> Txn {
        let compares = compares.into_iter().map(|c| c.0);
        self.request.compare.extend(compares);
        self
    }

    pub fn and_then(mut self, ops: impl IntoIterator<Item = Op>) -> Txn {
        self.request.success.extend(ops.into_iter().map(|o| o.0));
        self
    }

    pub fn or_else(mut self, ops: impl IntoIterator<Item = Op>) -> Txn {
        self.request.failure.extend(ops.into_iter().map(|o| o.0));
        self
    }
}

/// What one operation of a transaction answered.
#[derive(Debug, Clone)]
pub enum OpResponse {
    Range(Vec<KeyValue>),
    Put,
    /// How many keys were deleted.
    Delete(i64),
}

#[derive(Debug, Clone)]
pub struct TxnResult {
    /// Whether the compares held (and so which branch ran).
    pub succeeded: bool,
    /// The store's revision after the transaction.
    pub revision: i64,
    pub responses: Vec<OpResponse>,
}

fn kv(channel: tonic::transport::Channel) -> KvClient<tonic::transport::Channel> {
    KvClient::new(channel).max_decoding_message_size(MAX_MESSAGE)
}

fn show(key: &[u8]) -> String {
    String::from_utf8_lossy(key).into_owned()
}

impl Client {
    pub async fn range(&self, request: pb::RangeRequest) -> Result<pb::RangeResponse> {
        let what = || format!("read {} from etcd", show(&request.key));
        let answer = self
            .failover(&what, true, |ch| {
                let request = request.clone();
                async move { kv(ch).range(request).await.map(|r| r.into_inner()) }
            })
            .await?;
        Ok(answer.value)
    }

    /// The key's value and revisions, if it exists.
    pub async fn get(&self, key: impl Into<Vec<u8>>) -> Result<Option<KeyValue>> {
        let request = pb::RangeRequest {
            key: key.into(),
            ..Default::default()
        };
        Ok(self.range(request).await?.kvs.into_iter().next())
    }

    /// Every key starting with `prefix`, in key order, read at one
    /// revision (returned with them).
    pub async fn get_prefix(&self, prefix: impl Into<Vec<u8>>) -> Result<Range> {
        let key = prefix.into();
        let request = pb::RangeRequest {
            range_end: prefix_end(&key),
            key,
            ..Default::default()
        };
        let answer = self.range(request).await?;
        Ok(Range {
            revision: answer.header.map_or(0, |h| h.revision),
            kvs: answer.kvs,
        })
    }

    /// The store's current revision (etcd's, which every write moves).
    pub async fn revision(&self) -> Result<i64> {
        let request = pb::RangeRequest {
            key: vec![0],
            count_only: true,
            ..Default::default()
        };
        Ok(self.range(request).await?.header.map_or(0, |h| h.revision))
    }

    /// Put a value (with a lease, when not 0); returns the new revision.
    pub async fn put(
        &self,
        key: impl Into<Vec<u8>>,
        value: impl Into<Vec<u8>>,
        lease: i64,
    ) -> Result<i64> {
        let request = pb::PutRequest {
            key: key.into(),
            value: value.into(),
            lease,
            ..Default::default()
        };
        let what = || format!("write {} to etcd", show(&request.key));
        let answer = self
            .failover(&what, true, |ch| {
                let request = request.clone();
                async move { kv(ch).put(request).await.map(|r| r.into_inner()) }
            })
            .await?;
        Ok(answer.value.header.map_or(0, |h| h.revision))
    }

    async fn delete_range(&self, request: pb::DeleteRangeRequest) -> Result<i64> {
        let what = || format!("delete {} from etcd", show(&request.key));
        let answer = self
            .failover(&what, true, |ch| {
                let request = request.clone();
                async move { kv(ch).delete_range(request).await.map(|r| r.into_inner()) }
            })
            .await?;
        Ok(answer.value.deleted)
    }

    /// Delete a key; returns how many keys went (0 or 1).
    pub async fn delete(&self, key: impl Into<Vec<u8>>) -> Result<i64> {
        let request = pb::DeleteRangeRequest {
            key: key.into(),
            ..Default::default()
        };
        self.delete_range(request).await
    }

    /// Delete every key starting with `prefix`; returns how many went.
    pub async fn delete_prefix(&self, prefix: impl Into<Vec<u8>>) -> Result<i64> {
        let key = prefix.into();
        let request = pb::DeleteRangeRequest {
            range_end: prefix_end(&key),
            key,
            ..Default::default()
        };
        self.delete_range(request).await
    }

    /// Run a transaction. A transaction that timed out on one endpoint
    /// and is sent to the next may have been applied by the first: make
    /// its compares fail when it ran already (they usually do, comparing
    /// revisions).
    pub async fn txn(&self, txn: Txn) -> Result<TxnResult> {
        let request = txn.request;
        let what = || {
            let first = request.compare.first().map(|c| &c.key).or_else(|| {
                request.success.first().and_then(|op| match &op.request {
                    Some(pb::request_op::Request::RequestPut(p)) => Some(&p.key),
                    Some(pb::request_op::Request::RequestDeleteRange(d)) => Some(&d.key),
                    Some(pb::request_op::Request::RequestRange(r)) => Some(&r.key),
                    None => None,
                })
            });
            let key = first.map(|k| show(k)).unwrap_or_default();
            format!("transaction on {key} in etcd")
        };
        let answer = self
            .failover(&what, true, |ch| {
                let request = request.clone();
                async move { kv(ch).txn(request).await.map(|r| r.into_inner()) }
            })
            .await?;
        let answer = answer.value;
        let responses = answer
            .responses
            .into_iter()
            .map(|r| match r.response {
                Some(pb::response_op::Response::ResponseRange(r)) => OpResponse::Range(r.kvs),
                Some(pb::response_op::Response::ResponseDeleteRange(d)) => {
                    OpResponse::Delete(d.deleted)
                }
                Some(pb::response_op::Response::ResponsePut(_)) | None => OpResponse::Put,
            })
            .collect();
        Ok(TxnResult {
            succeeded: answer.succeeded,
            revision: answer.header.map_or(0, |h| h.revision),
            responses,
        })
    }

    /// Forget the history before `revision` (watches from earlier
    /// revisions then fail as compacted).
    pub async fn compact(&self, revision: i64) -> Result<()> {
        let request = pb::CompactionRequest {
            revision,
            physical: true,
        };
        let what = || format!("compact etcd to revision {revision}");
        self.failover(&what, true, |ch| async move {
            kv(ch).compact(request).await.map(|r| r.into_inner())
        })
        .await?;
        Ok(())
    }
}
