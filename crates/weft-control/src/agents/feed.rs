//! One encoding per change: each tenant's desired state is built once per
//! revision for all of its hosts (a [`Frame`], from [`Tables`]), and what
//! each host's stream sends to move there from the frame before is
//! encoded in the frame, shared as far as it can be:
//!
//! - per network, the change of its peer table is one [`EncodedPatch`];
//! - hosts whose only change is such patches get one message per set of
//!   patched networks they are in (in one network of 10,000 hosts, one
//!   host's new key is one message, the same bytes for 9,999 streams);
//! - a host that joined or left a network, or whose block or network
//!   settings changed, gets its own message: those networks whole (its
//!   block around the network's shared [`weft_proto::encoded::PeerList`])
//!   and the patches of the others.
//!
//! A stream remembers only the revision it is at. One that missed a frame,
//! or resumes from an earlier connection (here or at another replica),
//! gets the networks changed since its revision whole, from the store's
//! [`Store::changes_since`] (asked once per frame and revision, whatever
//! the number of such streams), or a snapshot.
//!
//! Lock order: [`Feeds::tenants`] (held only to find a tenant's slot),
//! then that tenant's slot (held while its frame is computed, so streams
//! arriving meanwhile wait for that frame instead of computing their own).

use super::frame::{NetTable, Placement, Tables};
use crate::model::{Host, HostBlock, HostId, HostKey, Network, TenantId, Vm};
use crate::store::{NetworkChanges, Store, StoreError};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use weft_proto::control as pb;
use weft_proto::encoded::{EncodedDesiredState, EncodedPatch, EncodedStateBuilder};

/// Resume answers a frame keeps (agents coming back mostly share a few
/// revisions; a client picking revisions at random must not grow this).
const RESUMES_KEPT: usize = 64;

/// What a stream sends for one revision: one message, or a few when it is
/// large (all but the last marked `more`), shared by every stream it
/// concerns.
pub type Batch = Arc<[EncodedDesiredState]>;

/// A tenant's desired state at one revision, and what each host's stream
/// sends to move there from the frame before.
#[derive(Debug)]
pub struct Frame {
    pub revision: u64,
    /// The revision of the frame `deltas` start from.
    pub prev: Option<u64>,
    pub tables: Tables,
    /// Hosts whose state changed since `prev`: their delta, encoded (the
    /// same buffers for hosts with the same change).
    pub deltas: HashMap<HostId, Batch>,
    /// [`Store::changes_since`] answers asked at this frame, by revision.
    resumes: Mutex<HashMap<u64, Option<Arc<NetworkChanges>>>>,
}

/// A tenant's rows as the store gives them.
pub struct Rows<'a> {
    pub networks: &'a [Network],
    pub blocks: &'a [HostBlock],
    pub keys: &'a [HostKey],
    pub hosts: &'a [Host],
    pub vms: &'a [Vm],
}

type Slot = Arc<tokio::sync::Mutex<Option<Arc<Frame>>>>;

#[derive(Default)]
pub struct Feeds {
    tenants: Mutex<HashMap<TenantId, Slot>>,
    /// Pieces encoded so far (messages, patches, peer lists): how tests
    /// see that a change is encoded once, whatever the number of streams
    /// or hosts.
    encodes: AtomicU64,
}

impl Feeds {
    /// The tenant's frame at revision `seen` (what the store's
    /// [`Store::revisions`] said) or later, built if no stream did yet.
    pub async fn frame(
        &self,
        store: &dyn Store,
        tenant: &TenantId,
        seen: u64,
    ) -> Result<Arc<Frame>, StoreError> {
        let slot = {
            let mut tenants = self.tenants.lock().unwrap_or_else(PoisonError::into_inner);
            Arc::clone(tenants.entry(tenant.clone()).or_default())
        };
        let mut current = slot.lock().await;
        if let Some(frame) = current.as_ref().filter(|f| f.revision >= seen) {
            return Ok(Arc::clone(frame));
        }
        // The revision before the rows: the frame may hold a change newer
        // than its revision (sent again at worst), never miss one.
        let revision = store.revision().await?;
        let rows = Rows {
            networks: &store.list_networks(tenant).await?,
            blocks: &store.blocks(tenant).await?,
            keys: &store.host_keys(tenant).await?,
            hosts: &store.list_hosts(tenant).await?,
            vms: &store.list_vms(tenant).await?,
        };
        let frame = Arc::new(self.build(current.as_deref(), revision, rows));
        *current = Some(Arc::clone(&frame));
        Ok(frame)
    }

    /// The frame of `rows` after `prev`.
    pub fn build(&self, prev: Option<&Frame>, revision: u64, rows: Rows<'_>) -> Frame {
        let (tables, encoded) = Tables::build(
            rows.networks,
            rows.blocks,
            rows.keys,
            rows.hosts,
            rows.vms,
            prev.map(|p| &p.tables),
        );
        self.encodes.fetch_add(encoded, Ordering::Relaxed);
        self.next_frame(prev, revision, tables)
    }

    /// The frame after `prev`: each host's delta from it, encoded once.
    pub fn next_frame(&self, prev: Option<&Frame>, revision: u64, tables: Tables) -> Frame {
        let deltas = match prev {
            Some(prev) => self.deltas(&prev.tables, &tables, revision),
            None => HashMap::new(),
        };
        Frame {
            revision,
            prev: prev.map(|p| p.revision),
            tables,
            deltas,
            resumes: Mutex::default(),
        }
    }

    fn deltas(&self, old: &Tables, new: &Tables, revision: u64) -> HashMap<HostId, Batch> {
        // Per network: whether its settings changed (members get it
        // whole) and the patch of its peers otherwise.
        let mut resent: HashMap<&str, bool> = HashMap::new();
        let mut patches: HashMap<&str, EncodedPatch> = HashMap::new();
        for (name, table) in &new.networks {
            let Some(before) = old.networks.get(name) else {
                resent.insert(name, true);
                continue;
            };
            resent.insert(name, before.settings != table.settings);
            if Arc::ptr_eq(before, table) || before.settings != table.settings {
                continue;
            }
            if let Some(patch) = patch_of(name, before, table) {
                patches.insert(name, self.count(EncodedPatch::encode(&patch)));
            }
        }
        let mut shared: HashMap<Vec<&str>, Batch> = HashMap::new();
        let mut deltas = HashMap::new();
        for (host, view) in &new.hosts {
            let Some(was) = old.hosts.get(host) else {
                continue;
            };
            let mut whole = Vec::new();
            let mut patched = Vec::new();
            for (name, place) in &view.networks {
                let same_place = was.networks.get(name) == Some(place);
                if !same_place || resent.get(name.as_str()).copied().unwrap_or(true) {
                    whole.push((name.as_str(), place));
                } else if patches.contains_key(name.as_str()) {
                    patched.push(name.as_str());
                }
            }
            let left: Vec<&str> = (was.networks.keys())
                .filter(|n| !view.networks.contains_key(*n))
                .map(String::as_str)
                .collect();
            let msg = if whole.is_empty() && left.is_empty() {
                if patched.is_empty() {
                    continue;
                }
                let msg = shared.entry(patched).or_insert_with_key(|names| {
                    let mut msg = EncodedStateBuilder::new(revision, false);
                    for name in names {
                        msg.patch(&patches[name]);
                    }
                    self.count(msg.finish().into())
                });
                msg.clone()
            } else {
                let mut msg = EncodedStateBuilder::new(revision, false);
                for (name, place) in whole {
                    whole_network(&mut msg, &new.networks[name], place);
                }
                for name in left {
                    msg.removed(name);
                }
                for name in patched {
                    msg.patch(&patches[name]);
                }
                self.count(msg.finish().into())
            };
            deltas.insert(host.clone(), msg);
        }
        deltas
    }

    /// What changed in the tenant since `since`, asked of the store once
    /// per frame and revision.
    pub async fn changes_since(
        &self,
        store: &dyn Store,
        tenant: &TenantId,
        frame: &Frame,
        since: u64,
    ) -> Result<Option<Arc<NetworkChanges>>, StoreError> {
        let cached = |resumes: &HashMap<_, _>| resumes.get(&since).cloned();
        if let Some(known) = cached(&frame.resumes.lock().unwrap_or_else(PoisonError::into_inner)) {
            return Ok(known);
        }
        // Asked after the frame was built, so it covers every change in it.
        let changes = store.changes_since(tenant, since).await?.map(Arc::new);
        let mut resumes = frame.resumes.lock().unwrap_or_else(PoisonError::into_inner);
        if resumes.len() < RESUMES_KEPT {
            resumes.insert(since, changes.clone());
        }
        Ok(changes)
    }

    #[cfg(test)]
    pub fn encodes(&self) -> u64 {
        self.encodes.load(Ordering::Relaxed)
    }

    fn count<T>(&self, encoded: T) -> T {
        self.encodes.fetch_add(1, Ordering::Relaxed);
        encoded
    }

    fn snapshot(&self, frame: &Frame, host: &HostId) -> Batch {
        let mut msg = EncodedStateBuilder::new(frame.revision, true);
        if let Some(view) = frame.tables.hosts.get(host) {
            for (name, place) in &view.networks {
                if let Some(table) = frame.tables.networks.get(name) {
                    whole_network(&mut msg, table, place);
                }
            }
        }
        self.count(msg.finish().into())
    }

    /// What a host at the state of an earlier revision needs: the networks
    /// changed since as they are now, and those it must drop.
    fn resume(&self, frame: &Frame, host: &HostId, changes: &NetworkChanges) -> Option<Batch> {
        let view = frame.tables.hosts.get(host)?;
        let mut msg = EncodedStateBuilder::new(frame.revision, false);
        let mut any = false;
        for name in &changes.changed {
            if let (Some(place), Some(table)) =
                (view.networks.get(name), frame.tables.networks.get(name))
            {
                whole_network(&mut msg, table, place);
                any = true;
            }
        }
        for name in changes.changed.union(&changes.deleted) {
            if !view.networks.contains_key(name) {
                msg.removed(name);
                any = true;
            }
        }
        any.then(|| self.count(msg.finish().into()))
    }
}

fn whole_network(msg: &mut EncodedStateBuilder, table: &NetTable, place: &Placement) {
    msg.network(&place.apply(&table.settings), &table.encoded);
}

/// The peers of `new` that are not those of `old`, and those gone.
fn patch_of(name: &str, old: &NetTable, new: &NetTable) -> Option<pb::NetworkPatch> {
    let peers: Vec<pb::DesiredPeer> = (new.peers.iter())
        .filter(|(id, p)| old.peers.get(*id) != Some(*p))
        .map(|(_, p)| p.clone())
        .collect();
    let removed_peers: Vec<String> = (old.peers.keys())
        .filter(|id| !new.peers.contains_key(*id))
        .cloned()
        .collect();
    (!peers.is_empty() || !removed_peers.is_empty()).then(|| pb::NetworkPatch {
        network: name.to_string(),
        peers,
        removed_peers,
    })
}

/// Where one stream is: the revision whose state its host has.
#[derive(Debug)]
pub struct Follower {
    pub host: HostId,
    /// `None`: nothing sent yet (a snapshot comes first).
    at: Option<u64>,
    /// `at` came from the agent (an earlier connection, maybe to another
    /// replica), not from this stream: catch up through the store.
    resuming: bool,
}

/// What a stream does with a frame.
#[derive(Debug, PartialEq, Eq)]
pub enum Step {
    Send(Batch),
    Nothing,
    /// The host is not in its tenant's frame: deleted.
    Gone,
    /// The stream is at this revision but the frame's deltas start
    /// elsewhere: ask the store what changed since ([`Follower::catch_up`]).
    Behind(u64),
}

impl Follower {
    /// A stream for a host that has the state of revision `from` (0: none).
    pub fn new(host: HostId, from: u64) -> Follower {
        Follower {
            host,
            at: (from != 0).then_some(from),
            resuming: from != 0,
        }
    }

    pub fn step(&mut self, feeds: &Feeds, frame: &Frame) -> Step {
        if !frame.tables.hosts.contains_key(&self.host) {
            return Step::Gone;
        }
        let step = match self.at {
            None => Step::Send(feeds.snapshot(frame, &self.host)),
            Some(at) if self.resuming || (at != frame.revision && frame.prev != Some(at)) => {
                return Step::Behind(at);
            }
            Some(at) if at == frame.revision => return Step::Nothing,
            // The frame's own bytes, shared with every stream they concern.
            Some(_) => (frame.deltas.get(&self.host).cloned()).map_or(Step::Nothing, Step::Send),
        };
        self.at = Some(frame.revision);
        step
    }

    /// After [`Step::Behind`]: the networks changed since (`None`: the
    /// store no longer knows, a snapshot).
    pub fn catch_up(
        &mut self,
        feeds: &Feeds,
        frame: &Frame,
        changes: Option<&NetworkChanges>,
    ) -> Step {
        if !frame.tables.hosts.contains_key(&self.host) {
            return Step::Gone;
        }
        // The host has a newer state than this frame (it comes from a
        // replica that saw a write this one has not learnt of yet): the
        // frame would take it back. Wait for a frame at its revision.
        if changes.is_some() && self.at.is_some_and(|at| at > frame.revision) {
            return Step::Nothing;
        }
        let msg = match changes {
            None => Some(feeds.snapshot(frame, &self.host)),
            Some(changes) => feeds.resume(frame, &self.host, changes),
        };
        self.at = Some(frame.revision);
        self.resuming = false;
        msg.map_or(Step::Nothing, Step::Send)
    }
}

#[cfg(test)]
mod tests;
