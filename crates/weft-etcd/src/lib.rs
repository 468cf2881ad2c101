//! A minimal etcd v3 client for weft's control plane: KV and transactions,
//! watches, leases kept alive, elections, compaction.
//!
//! Why our own: the maintained Rust clients pull in protoc at build time or
//! a different tonic than the rest of weft; the part of etcd's API the
//! control plane needs is small. `proto/` holds that subset of etcd's own
//! files (same packages, names and field numbers), compiled with protox.
//!
//! One [`Client`] talks to a list of endpoints. A unary request goes to
//! the endpoint that answered last; when it is unavailable or does not
//! answer within the request timeout, the next one is tried. An error says
//! what was being done and which endpoints were tried, and when every one
//! of them timed out, that the cluster may have lost its quorum.

mod client;
mod election;
mod error;
mod kv;
mod lease;
mod watch;

/// The generated messages and clients of etcd's API (our subset).
#[allow(clippy::all, missing_docs)]
pub mod pb {
    pub mod mvccpb {
        tonic::include_proto!("mvccpb");
    }
    pub mod etcdserverpb {
        tonic::include_proto!("etcdserverpb");
    }
    pub mod v3electionpb {
        tonic::include_proto!("v3electionpb");
    }
}

pub use client::{Client, Options};
pub use election::{LeaderKey, Observe};
pub use error::{Error, Result};
pub use kv::{CmpOp, Compare, Op, OpResponse, Range, Txn, TxnResult};
pub use lease::{KeepAlive, Lease, LeaseLost};
pub use pb::mvccpb::KeyValue;
pub use watch::{EventKind, Watch, WatchBatch, WatchEvent};

/// The end of the range of keys starting with `prefix` (etcd's
/// `range_end`): the prefix with its last byte below 0xff incremented and
/// what follows it dropped; `\0` (every key) for a prefix of only 0xff.
pub fn prefix_end(prefix: &[u8]) -> Vec<u8> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return end;
        }
    }
    vec![0]
}

#[cfg(test)]
mod tests;
