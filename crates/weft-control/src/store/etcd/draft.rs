//! A tenant's state as read at one etcd revision, and a draft of changes
//! to it: the writes, the compares that make them safe, and the networks
//! they touch. No I/O here; `mod.rs` reads the state and commits drafts.
//!
//! Every change of desired state compares the revision counter's
//! mod_revision with the one read, and moves the counter by one, in the
//! same transaction: two changes that raced cannot both commit (the loser
//! reads again and retries), so each sees the other's blocks, names and
//! subnets, and the revision moves exactly once per change.

use super::keys::{Keys, TenantKey, shard_of};
use super::records::*;
use crate::model::{HostBlock, Network, NetworkHosts};
use crate::store::{Result, StoreError};
use ipnet::IpNet;
use std::collections::{BTreeMap, BTreeSet};
use weft_etcd::{CmpOp, Compare, KeyValue, Op};

/// How many revisions back deleted networks are remembered (as the
/// SQLite store does).
pub(super) const RESUME_WINDOW: u64 = 10_000;

/// The revision counter as read: its value and the etcd revision that
/// last wrote it (0: never written, revision 0).
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Counter {
    pub value: u64,
    pub mod_revision: i64,
}

impl Counter {
    pub fn read(kv: Option<&KeyValue>) -> Result<Counter> {
        Ok(match kv {
            None => Counter::default(),
            Some(kv) => Counter {
                value: number("revision", &kv.value)?,
                mod_revision: kv.mod_revision,
            },
        })
    }
}

#[derive(Debug, Clone)]
pub(super) struct HostEntry {
    pub record: HostRecord,
    /// When it enrolled, in etcd's order (networks give blocks in it).
    pub created: i64,
    pub modified: i64,
}

#[derive(Debug, Clone, Default)]
pub(super) struct TenantState {
    pub tenant: String,
    pub exists: bool,
    pub counter: Counter,
    pub horizon: u64,
    pub networks_version: i64,
    pub hosts: BTreeMap<String, HostEntry>,
    pub networks: BTreeMap<String, NetworkRecord>,
    pub blocks: BTreeMap<String, BTreeMap<IpNet, String>>,
    pub host_keys: BTreeMap<String, BTreeMap<String, HostKeyRecord>>,
    pub changed: BTreeMap<String, u64>,
    pub tombstones: BTreeMap<String, u64>,
    /// Sites, with the etcd revision that last wrote each.
    pub sites: BTreeMap<String, (SiteRecord, i64)>,
    pub vms: BTreeMap<String, VmRecord>,
}

impl TenantState {
    /// The state from what one read returned: the counter, the horizon,
    /// the tenant's record and every key under the tenant's prefix.
    pub fn load(
        keys: &Keys,
        tenant: &str,
        counter: Option<&KeyValue>,
        horizon: Option<&KeyValue>,
        record: Option<&KeyValue>,
        kvs: &[KeyValue],
    ) -> Result<TenantState> {
        let mut state = TenantState {
            tenant: tenant.to_string(),
            exists: record.is_some(),
            counter: Counter::read(counter)?,
            horizon: horizon.map_or(Ok(0), |kv| number("horizon", &kv.value))?,
            ..TenantState::default()
        };
        let prefix = keys.tenant(tenant);
        for kv in kvs {
            let key = String::from_utf8_lossy(&kv.key);
            let Some(parsed) = key.strip_prefix(&prefix).and_then(TenantKey::parse) else {
                continue;
            };
            match parsed {
                TenantKey::Host(hid) => {
                    let entry = HostEntry {
                        record: decode("host", &kv.value)?,
                        created: kv.create_revision,
                        modified: kv.mod_revision,
                    };
                    state.hosts.insert(hid.to_string(), entry);
                }
                TenantKey::Network(name) => {
                    state
                        .networks
                        .insert(name.to_string(), decode("network", &kv.value)?);
                }
                TenantKey::NetworksVersion => state.networks_version = kv.mod_revision,
                TenantKey::Blocks(name) => {
                    let text: BTreeMap<String, String> = decode("blocks", &kv.value)?;
                    let blocks = state.blocks.entry(name.to_string()).or_default();
                    for (block, hid) in text {
                        let block = block.parse().map_err(|_| corrupt("block", &block))?;
                        blocks.insert(block, hid);
                    }
                }
                TenantKey::HostKeys(name) => {
                    let keys: BTreeMap<String, HostKeyRecord> = decode("host keys", &kv.value)?;
                    state
                        .host_keys
                        .entry(name.to_string())
                        .or_default()
                        .extend(keys);
                }
                TenantKey::Changed(name) => {
                    let at = number("change marker", &kv.value)?;
                    state.changed.insert(name.to_string(), at);
                }
                TenantKey::Tombstone(name) => {
                    let at = number("tombstone", &kv.value)?;
                    state.tombstones.insert(name.to_string(), at);
                }
                TenantKey::Site(name) => {
                    let record = decode("site", &kv.value)?;
                    state
                        .sites
                        .insert(name.to_string(), (record, kv.mod_revision));
                }
                TenantKey::Vm(name) => {
                    state.vms.insert(name.to_string(), decode("VM", &kv.value)?);
                }
                TenantKey::HostName(_) => {}
            }
        }
        Ok(state)
    }

    pub fn require_tenant(&self) -> Result<()> {
        if self.exists {
            return Ok(());
        }
        Err(StoreError::NotFound {
            what: "tenant",
            name: self.tenant.clone(),
        })
    }

    /// Live hosts in the order they enrolled.
    pub fn live_hosts(&self) -> Vec<&HostEntry> {
        let mut live: Vec<&HostEntry> = self
            .hosts
            .values()
            .filter(|h| h.record.revoked_at.is_none())
            .collect();
        live.sort_by_key(|h| h.created);
        live
    }

    pub fn network_record(&self, name: &str) -> Result<&NetworkRecord> {
        self.networks.get(name).ok_or_else(|| StoreError::NotFound {
            what: "network",
            name: name.to_string(),
        })
    }

    pub fn network(&self, name: &str) -> Result<Network> {
        self.network_record(name)?.model(&self.tenant)
    }

    pub fn site(&self, name: &str) -> Result<&(SiteRecord, i64)> {
        self.sites.get(name).ok_or_else(|| StoreError::NotFound {
            what: "site",
            name: name.to_string(),
        })
    }

    /// The names of the networks that belong to `site`.
    pub fn networks_of_site(&self, site: &str) -> BTreeSet<String> {
        (self.networks.iter())
            .filter(|(_, n)| n.site.as_deref() == Some(site))
            .map(|(name, _)| name.clone())
            .collect()
    }

    /// The networks `host` has a block in.
    pub fn networks_of_host(&self, host: &str) -> BTreeSet<String> {
        self.blocks
            .iter()
            .filter(|(_, blocks)| blocks.values().any(|h| h == host))
            .map(|(name, _)| name.clone())
            .collect()
    }

    pub fn network_hosts(&self, name: &str) -> Result<NetworkHosts> {
        let all = self.network_record(name)?.all_hosts;
        let mut blocks = Vec::new();
        for (block, hid) in self.blocks.get(name).into_iter().flatten() {
            blocks.push(HostBlock {
                network: name.to_string(),
                host: host_id(hid)?,
                block: *block,
            });
        }
        Ok(NetworkHosts { all, blocks })
    }
}

/// Changes drafted against a [`TenantState`].
#[derive(Debug)]
pub(super) struct Draft<'a> {
    pub keys: &'a Keys,
    pub state: TenantState,
    writes: BTreeMap<String, Option<Vec<u8>>>,
    compares: Vec<Compare>,
    /// Networks whose desired state changed (marked, revision moved).
    touched: BTreeSet<String>,
    /// The revision moves even if no network is touched (one deleted).
    moves: bool,
    /// Shards to write: (network, shard).
    dirty_blocks: BTreeSet<(String, u32)>,
    dirty_keys: BTreeSet<(String, u32)>,
    prefixes_deleted: Vec<String>,
}

/// A draft ready to commit: `revision` is the counter's new value when
/// the draft moves it.
#[derive(Debug)]
pub(super) struct Commit {
    pub compares: Vec<Compare>,
    pub ops: Vec<Op>,
    pub revision: Option<u64>,
}

impl<'a> Draft<'a> {
    pub fn new(keys: &'a Keys, state: TenantState) -> Draft<'a> {
        Draft {
            keys,
            state,
            writes: BTreeMap::new(),
            compares: Vec::new(),
            touched: BTreeSet::new(),
            moves: false,
            dirty_blocks: BTreeSet::new(),
            dirty_keys: BTreeSet::new(),
            prefixes_deleted: Vec::new(),
        }
    }

    /// The revision this draft commits at, if it moves it.
    pub fn next_revision(&self) -> u64 {
        self.state.counter.value + 1
    }

    pub fn put(&mut self, key: String, value: Vec<u8>) {
        self.writes.insert(key, Some(value));
    }

    pub fn delete(&mut self, key: String) {
        self.writes.insert(key, None);
    }

    /// Delete every key under `prefix` (nothing else may be written there).
    pub fn delete_prefix(&mut self, prefix: String) {
        self.prefixes_deleted.push(prefix);
    }

    pub fn compare(&mut self, compare: Compare) {
        self.compares.push(compare);
    }

    pub fn touch(&mut self, network: &str) {
        self.touched.insert(network.to_string());
    }

    pub fn move_revision(&mut self) {
        self.moves = true;
    }

    /// Give `host` the lowest free block of network `name`.
    pub fn assign_block(&mut self, name: &str, host: &str) -> Result<()> {
        let net = self.state.network(name)?;
        let blocks = self.state.blocks.entry(name.to_string()).or_default();
        let taken: BTreeSet<IpNet> = blocks.keys().copied().collect();
        let spec = &net.spec;
        let block = weft_model::blocks::lowest_free_block(&spec.subnet, spec.block_prefix, &taken)
            .ok_or_else(|| StoreError::NoFreeBlock {
                network: spec.name.clone(),
                host: host.to_string(),
            })?;
        blocks.insert(block, host.to_string());
        self.dirty_blocks.insert((name.to_string(), shard_of(host)));
        Ok(())
    }

    /// Take `host` out of network `name`: its block and its key there.
    pub fn leave(&mut self, name: &str, host: &str) {
        if let Some(blocks) = self.state.blocks.get_mut(name) {
            blocks.retain(|_, h| h != host);
            self.dirty_blocks.insert((name.to_string(), shard_of(host)));
        }
        self.drop_key(name, host);
    }

    pub fn drop_key(&mut self, name: &str, host: &str) {
        if let Some(keys) = self.state.host_keys.get_mut(name)
            && keys.remove(host).is_some()
        {
            self.dirty_keys.insert((name.to_string(), shard_of(host)));
        }
    }

    pub fn set_key(&mut self, name: &str, host: &str, key: HostKeyRecord) {
        let keys = self.state.host_keys.entry(name.to_string()).or_default();
        keys.insert(host.to_string(), key);
        self.dirty_keys.insert((name.to_string(), shard_of(host)));
    }

    /// Put a host into site `name` (which must exist): the site's value is
    /// written again, compared with what was read, so a racing deletion
    /// of the site (compared the same way) and this cannot both commit.
    pub fn hold_site(&mut self, name: &str) -> Result<()> {
        let (record, modified) = self.state.site(name)?.clone();
        let key = self.keys.site(&self.state.tenant, name);
        self.compare(Compare::mod_revision(key.clone(), CmpOp::Equal, modified));
        self.put(key, encode(&record));
        Ok(())
    }

    /// Store `entry` as host `hid`, compared with what was read (or
    /// absent, for a new host).
    pub fn put_host(&mut self, hid: &str, entry: HostEntry) {
        let key = self.keys.host(&self.state.tenant, hid);
        self.compare(Compare::mod_revision(
            key.clone(),
            CmpOp::Equal,
            entry.modified,
        ));
        self.put(key, encode(&entry.record));
        self.state.hosts.insert(hid.to_string(), entry);
    }

    /// The transaction: the writes, the counter moved and the touched
    /// networks marked when anything of desired state changed.
    pub fn finish(mut self) -> Commit {
        let tenant = self.state.tenant.clone();
        // Of networks deleted in this draft there is nothing to write; an
        // empty shard goes.
        for (name, shard) in std::mem::take(&mut self.dirty_blocks) {
            let Some(blocks) = self.state.blocks.get(&name) else {
                continue;
            };
            let blocks: BTreeMap<String, &String> = blocks
                .iter()
                .filter(|(_, hid)| shard_of(hid) == shard)
                .map(|(block, hid)| (block.to_string(), hid))
                .collect();
            let key = self.keys.blocks(&tenant, &name, shard);
            if blocks.is_empty() {
                self.delete(key);
            } else {
                self.put(key, encode(&blocks));
            }
        }
        for (name, shard) in std::mem::take(&mut self.dirty_keys) {
            let Some(keys) = self.state.host_keys.get(&name) else {
                continue;
            };
            let keys: BTreeMap<&String, &HostKeyRecord> = keys
                .iter()
                .filter(|(hid, _)| shard_of(hid) == shard)
                .collect();
            let key = self.keys.host_keys(&tenant, &name, shard);
            if keys.is_empty() {
                self.delete(key);
            } else {
                self.put(key, encode(&keys));
            }
        }
        let moves = self.moves || !self.touched.is_empty();
        let revision = moves.then(|| self.next_revision());
        if let Some(next) = revision {
            let counter = self.keys.revision();
            let read = self.state.counter.mod_revision;
            self.compare(Compare::mod_revision(counter.clone(), CmpOp::Equal, read));
            self.put(counter, next.to_string().into_bytes());
            // The VXLAN networks riding in a touched network change with
            // it (their tunnel endpoints are their hosts' addresses there).
            let carried: Vec<String> = (self.state.networks.values())
                .filter(|n| n.over.as_ref().is_some_and(|o| self.touched.contains(o)))
                .map(|n| n.name.clone())
                .collect();
            self.touched.extend(carried);
            for name in std::mem::take(&mut self.touched) {
                let key = self.keys.changed(&tenant, &name);
                self.put(key, next.to_string().into_bytes());
            }
        }
        let mut ops: Vec<Op> = self
            .writes
            .into_iter()
            .map(|(key, value)| match value {
                Some(value) => Op::put(key, value),
                None => Op::delete(key),
            })
            .collect();
        ops.extend(self.prefixes_deleted.into_iter().map(Op::delete_prefix));
        Commit {
            compares: self.compares,
            ops,
            revision,
        }
    }
}
