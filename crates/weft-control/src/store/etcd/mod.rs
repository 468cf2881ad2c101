//! The store on etcd, for several replicas of the control plane: all
//! state under one key prefix (`/weft/v1/` by default; see `keys.rs`).
//!
//! There is no leader and no lock. Every write reads what it depends on
//! at one etcd revision and commits in one transaction whose compares
//! fail if any of it moved meanwhile; the loser reads again and retries.
//! Changes of desired state all compare and move the revision counter
//! (`draft.rs`), which serializes them as SQLite's `BEGIN IMMEDIATE`
//! does; a token's use count, a host's record, a name, compare
//! themselves. Within a replica changes take turns (`writer`), so the
//! races are between replicas. Secrets are stored as their hashes only.
//!
//! What a write costs: it reads the tenant's keys (hosts, networks, the
//! shards of blocks and keys) once per attempt; reads take only the parts
//! they answer from; a heartbeat reads nothing (`heartbeat.rs`).

mod draft;
mod heartbeat;
mod keys;
mod logs;
mod purge;
mod records;
mod replica;
mod sites;
mod vms;
mod watcher;
mod writes;

pub use replica::EtcdReplicas;

use super::{NetworkChanges, Result, Store, StoreError, StoredApiKey};
use crate::model::{
    ApiKeyInfo, Host, HostBlock, HostId, HostKey, HostReport, Network, NetworkHosts, NetworkKey,
    NetworkSpec, NewHost, Site, SiteSpec, Tenant, TenantId, TokenInfo,
};
use crate::secret::{Secret, SecretHash};
use async_trait::async_trait;
use draft::{Commit, Draft, TenantState};
use keys::Keys;
use records::*;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use weft_etcd::{Client, CmpOp, Compare, KeyValue, Op, OpResponse, Txn};

/// Where the control plane's state lives in etcd unless told otherwise.
pub const DEFAULT_PREFIX: &str = "/weft/v1/";

pub struct EtcdStore {
    client: Client,
    keys: Keys,
    revision: Arc<watch::Sender<u64>>,
    watcher: tokio::task::JoinHandle<()>,
    heartbeats: heartbeat::Heartbeats,
    /// One change of desired state at a time from this replica: they all
    /// compare the one counter, so racing here would only make all but
    /// one read and draft again (other replicas still race, and lose
    /// safely).
    writer: tokio::sync::Mutex<()>,
    /// The etcd revision the last compaction run saw (the next compacts
    /// to it).
    compacted_to: std::sync::Mutex<Option<i64>>,
    /// Hosts' log heads as this replica last wrote them (`logs.rs`).
    log_heads: logs::KnownHeads,
}

/// What an etcd client's error means to the store's callers: the cluster
/// could not be reached or did not answer (unavailable: 503 on REST,
/// `Unavailable` on gRPC, worth retrying), or refused the request (a bug
/// of ours: an internal error).
pub fn failed(endpoints: &[String], source: weft_etcd::Error) -> StoreError {
    let store = format!("etcd at {}", endpoints.join(", "));
    if source.is_unavailable() {
        return StoreError::Unavailable {
            store,
            source: Box::new(source),
        };
    }
    StoreError::Internal {
        what: format!("the control plane's store ({store}) refused the request"),
        source: Box::new(source),
    }
}

/// Where a transaction committed: its etcd revision, and the revision
/// counter's mod_revision after it.
#[derive(Debug, Clone, Copy)]
struct Committed {
    revision: i64,
    counter_mod: i64,
}

impl Drop for EtcdStore {
    fn drop(&mut self) {
        self.watcher.abort();
    }
}

impl EtcdStore {
    /// The store under `prefix` in the etcd cluster `client` talks to.
    /// Reads the revision once (so an unreachable cluster fails here) and
    /// starts watching it.
    pub async fn open(client: Client, prefix: &str) -> Result<EtcdStore> {
        let keys = Keys::new(prefix);
        let fail = |source| failed(client.endpoints(), source);
        let (value, at) = watcher::read_counter(&client, &keys.revision())
            .await
            .map_err(fail)?;
        let revision = Arc::new(watch::channel(value).0);
        let watcher = tokio::spawn(watcher::follow(
            client.clone(),
            keys.revision(),
            Arc::clone(&revision),
            at + 1,
        ));
        Ok(EtcdStore {
            client,
            keys,
            revision,
            watcher,
            heartbeats: Default::default(),
            writer: tokio::sync::Mutex::new(()),
            compacted_to: Default::default(),
            log_heads: Default::default(),
        })
    }

    pub fn prefix(&self) -> &str {
        self.keys.prefix()
    }

    fn failed(&self, source: weft_etcd::Error) -> StoreError {
        failed(self.client.endpoints(), source)
    }

    async fn get(&self, key: String) -> Result<Option<KeyValue>> {
        self.client.get(key).await.map_err(|e| self.failed(e))
    }

    async fn scan(&self, prefix: String) -> Result<Vec<KeyValue>> {
        let range = self.client.get_prefix(prefix).await;
        Ok(range.map_err(|e| self.failed(e))?.kvs)
    }

    async fn txn(&self, txn: Txn) -> Result<weft_etcd::TxnResult> {
        self.client.txn(txn).await.map_err(|e| self.failed(e))
    }

    /// The parts of a tenant's state a read needs (`parts`: what follows
    /// the tenant's prefix, as `networks/`), at one revision.
    async fn tenant_parts(&self, tenant: &str, parts: &[&str]) -> Result<TenantState> {
        Ok(self.read_tenant(tenant, parts, &[]).await?.0)
    }

    async fn read_tenant(
        &self,
        tenant: &str,
        parts: &[&str],
        extra: &[String],
    ) -> Result<(TenantState, Vec<Option<KeyValue>>)> {
        let k = &self.keys;
        let mut ops = vec![
            Op::get(k.revision()),
            Op::get(k.horizon()),
            Op::get(k.tenant_record(tenant)),
        ];
        let prefix = k.tenant(tenant);
        ops.extend(
            parts
                .iter()
                .map(|part| Op::get_prefix(format!("{prefix}{part}"))),
        );
        ops.extend(extra.iter().map(|key| Op::get(key.clone())));
        let read = self.txn(Txn::new().and_then(ops)).await?;
        let mut ranges = read.responses.into_iter().map(|r| match r {
            OpResponse::Range(kvs) => kvs,
            _ => Vec::new(),
        });
        let mut one = || ranges.next().unwrap_or_default().into_iter().next();
        let (counter, horizon, record) = (one(), one(), one());
        let mut all = Vec::new();
        for _ in parts {
            all.extend(ranges.next().unwrap_or_default());
        }
        let extra = ranges.map(|kvs| kvs.into_iter().next()).collect();
        let state = TenantState::load(
            k,
            tenant,
            counter.as_ref(),
            horizon.as_ref(),
            record.as_ref(),
            &all,
        )?;
        Ok((state, extra))
    }

    /// Commit a draft (whose counter was read at `counter_read`); `None`
    /// when a compare failed (somebody else wrote first). Listeners hear
    /// of a moved revision at once.
    async fn commit(&self, commit: Commit, counter_read: i64) -> Result<Option<Committed>> {
        if commit.ops.is_empty() {
            return Ok(Some(Committed {
                revision: 0,
                counter_mod: counter_read,
            }));
        }
        let moved = commit.revision;
        let txn = Txn::new().when(commit.compares).and_then(commit.ops);
        let done = self.txn(txn).await?;
        if !done.succeeded {
            return Ok(None);
        }
        if let Some(revision) = moved {
            watcher::publish(&self.revision, revision);
        }
        Ok(Some(Committed {
            revision: done.revision,
            counter_mod: if moved.is_some() {
                done.revision
            } else {
                counter_read
            },
        }))
    }

    /// Draft a change of `tenant` with `f` against its state (and the
    /// keys `extra`) and commit it; read and draft again while another
    /// writer wins the race. Each lost race means another write
    /// committed, so the store as a whole always moves on.
    async fn change<T, F>(&self, tenant: &str, extra: &[String], f: F) -> Result<T>
    where
        F: FnMut(&mut Draft<'_>, &[Option<KeyValue>]) -> Result<T> + Send,
        T: Send,
    {
        Ok(self.change_committed(tenant, &[""], extra, f).await?.0)
    }

    /// [`EtcdStore::change`], saying at which etcd revisions it committed.
    /// `parts`: what of the tenant `f` needs (`[""]`: all of it; see
    /// [`EtcdStore::tenant_parts`]).
    async fn change_committed<T, F>(
        &self,
        tenant: &str,
        parts: &[&str],
        extra: &[String],
        mut f: F,
    ) -> Result<(T, Committed)>
    where
        F: FnMut(&mut Draft<'_>, &[Option<KeyValue>]) -> Result<T> + Send,
        T: Send,
    {
        let _turn = self.writer.lock().await;
        let mut attempt: u64 = 0;
        loop {
            let (state, read) = self.read_tenant(tenant, parts, extra).await?;
            let counter_read = state.counter.mod_revision;
            let mut draft = Draft::new(&self.keys, state);
            let out = f(&mut draft, &read)?;
            if let Some(committed) = self.commit(draft.finish(), counter_read).await? {
                return Ok((out, committed));
            }
            attempt += 1;
            // Spread racing writers out a little (up to 20 ms).
            let spread = rand::random::<u64>() % (attempt.min(20) + 1);
            tokio::time::sleep(Duration::from_millis(spread)).await;
        }
    }

    /// The tenant a host belongs to.
    async fn tenant_of(&self, host: &str) -> Result<Option<String>> {
        let kv = self.get(self.keys.host_tenant(host)).await?;
        Ok(kv.map(|kv| String::from_utf8_lossy(&kv.value).into_owned()))
    }

    /// Put `key` as `value` if the tenant exists; NotFound otherwise.
    async fn put_in_tenant(&self, tenant: &TenantId, key: String, value: Vec<u8>) -> Result<()> {
        let record = self.keys.tenant_record(tenant.as_str());
        let txn = Txn::new()
            .when([Compare::version(record, CmpOp::Greater, 0)])
            .and_then([Op::put(key, value)]);
        if self.txn(txn).await?.succeeded {
            return Ok(());
        }
        Err(StoreError::NotFound {
            what: "tenant",
            name: tenant.to_string(),
        })
    }
}

mod store_impl;

#[cfg(test)]
mod tests;
