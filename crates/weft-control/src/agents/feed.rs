//! One encoding per change: each tenant's desired state is computed once
//! per revision for all of its hosts (a [`Frame`]), and each host's delta
//! is encoded once, in the frame; every stream of that host sends those
//! same bytes. A stream that fell behind by more than one frame, or is
//! resuming, works out its own delta (the rare path).
//!
//! Lock order: [`Feeds::tenants`] (held only to find a tenant's slot),
//! then that tenant's slot (held while its frame is computed, so streams
//! arriving meanwhile wait for that frame instead of computing their own).

use crate::desired::{self, Desired};
use crate::model::{HostId, TenantId};
use crate::store::{NetworkChanges, Store, StoreError};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use weft_proto::control as pb;
use weft_proto::encoded::EncodedDesiredState;

/// A tenant's desired state at one revision, and what each host's stream
/// sends to move there from the frame before.
#[derive(Debug)]
pub struct Frame {
    pub revision: u64,
    /// The revision of the frame `deltas` start from.
    pub prev: Option<u64>,
    /// Every live host of the tenant.
    pub desired: HashMap<HostId, Arc<Desired>>,
    /// Hosts whose state changed since `prev`: their delta, encoded.
    pub deltas: HashMap<HostId, EncodedDesiredState>,
}

type Slot = Arc<tokio::sync::Mutex<Option<Arc<Frame>>>>;

#[derive(Default)]
pub struct Feeds {
    tenants: Mutex<HashMap<TenantId, Slot>>,
    /// Messages encoded so far (snapshots and deltas): how tests see that
    /// a change is encoded once, whatever the number of streams.
    encodes: AtomicU64,
}

impl Feeds {
    /// The tenant's frame at the store's current revision, computed if no
    /// stream did yet.
    pub async fn frame(
        &self,
        store: &dyn Store,
        tenant: &TenantId,
    ) -> Result<Arc<Frame>, StoreError> {
        let slot = {
            let mut tenants = self.tenants.lock().unwrap_or_else(PoisonError::into_inner);
            Arc::clone(tenants.entry(tenant.clone()).or_default())
        };
        let mut current = slot.lock().await;
        let revision = store.revision().await?;
        if let Some(frame) = current.as_ref().filter(|f| f.revision == revision) {
            return Ok(Arc::clone(frame));
        }
        let networks = store.list_networks(tenant).await?;
        let blocks = store.blocks(tenant).await?;
        let keys = store.host_keys(tenant).await?;
        let hosts = store.list_hosts(tenant).await?;
        let desired = hosts
            .iter()
            .filter(|h| h.revoked_at.is_none())
            .map(|h| {
                let d = desired::desired_for(&h.id, &networks, &blocks, &keys, &hosts);
                (h.id.clone(), Arc::new(d))
            })
            .collect();
        let frame = Arc::new(self.next_frame(current.as_deref(), revision, desired));
        *current = Some(Arc::clone(&frame));
        Ok(frame)
    }

    /// The frame after `prev`: each host's delta from it, encoded once.
    pub fn next_frame(
        &self,
        prev: Option<&Frame>,
        revision: u64,
        desired: HashMap<HostId, Arc<Desired>>,
    ) -> Frame {
        let mut deltas = HashMap::new();
        if let Some(prev) = prev {
            for (host, new) in &desired {
                let Some(old) = prev.desired.get(host) else {
                    continue;
                };
                if let Some(msg) = delta_message(old, new, revision) {
                    deltas.insert(host.clone(), self.encode(&msg));
                }
            }
        }
        Frame {
            revision,
            prev: prev.map(|p| p.revision),
            desired,
            deltas,
        }
    }

    pub fn encodes(&self) -> u64 {
        self.encodes.load(Ordering::Relaxed)
    }

    fn encode(&self, msg: &pb::DesiredState) -> EncodedDesiredState {
        self.encodes.fetch_add(1, Ordering::Relaxed);
        EncodedDesiredState::encode(msg)
    }
}

fn delta_message(old: &Desired, new: &Desired, revision: u64) -> Option<pb::DesiredState> {
    let (networks, removed) = desired::delta(old, new);
    (!networks.is_empty() || !removed.is_empty()).then_some(pb::DesiredState {
        revision,
        snapshot: false,
        networks,
        removed,
    })
}

/// What a host resuming with the state of an earlier revision needs: the
/// networks changed since as they are now, and those it must drop.
fn resume_message(
    changes: &NetworkChanges,
    new: &Desired,
    revision: u64,
) -> Option<pb::DesiredState> {
    let networks: Vec<_> = new
        .values()
        .filter(|n| changes.changed.contains(&n.name))
        .cloned()
        .collect();
    let removed: Vec<_> = changes
        .changed
        .union(&changes.deleted)
        .filter(|name| !new.contains_key(*name))
        .cloned()
        .collect();
    (!networks.is_empty() || !removed.is_empty()).then_some(pb::DesiredState {
        revision,
        snapshot: false,
        networks,
        removed,
    })
}

/// What one stream has sent its host.
#[derive(Debug)]
pub struct Follower {
    pub host: HostId,
    /// The state the host has from this stream; `None`: nothing yet.
    pub sent: Option<Arc<Desired>>,
    /// The frame `sent` is.
    based_on: Option<u64>,
    /// For a host resuming from an earlier stream: what changed since the
    /// revision it has (from the store). Its first message carries just
    /// those networks instead of a snapshot.
    resumed: Option<NetworkChanges>,
}

/// What a stream does with a frame.
#[derive(Debug, PartialEq, Eq)]
pub enum Step {
    Send(EncodedDesiredState),
    Nothing,
    /// The host is not in its tenant's frame: deleted.
    Gone,
}

impl Follower {
    pub fn new(host: HostId, resumed: Option<NetworkChanges>) -> Follower {
        Follower {
            host,
            sent: None,
            based_on: None,
            resumed,
        }
    }

    pub fn step(&mut self, feeds: &Feeds, frame: &Frame) -> Step {
        if self.based_on == Some(frame.revision) {
            return Step::Nothing;
        }
        let Some(new) = frame.desired.get(&self.host) else {
            return Step::Gone;
        };
        let msg = match &self.sent {
            None if self.resumed.is_some() => {
                let changes = self.resumed.take().unwrap_or_default();
                resume_message(&changes, new, frame.revision).map(|m| feeds.encode(&m))
            }
            None => Some(feeds.encode(&pb::DesiredState {
                revision: frame.revision,
                snapshot: true,
                networks: new.values().cloned().collect(),
                removed: vec![],
            })),
            // The frame's own bytes, shared with every stream of the host.
            Some(_) if self.based_on.is_some() && self.based_on == frame.prev => {
                frame.deltas.get(&self.host).cloned()
            }
            Some(old) => delta_message(old, new, frame.revision).map(|m| feeds.encode(&m)),
        };
        self.sent = Some(Arc::clone(new));
        self.based_on = Some(frame.revision);
        msg.map_or(Step::Nothing, Step::Send)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Id;

    fn net(name: &str, block: &str) -> pb::DesiredNetwork {
        pb::DesiredNetwork {
            name: name.into(),
            block: block.into(),
            ..Default::default()
        }
    }

    fn state(nets: &[(&str, &str)]) -> Arc<Desired> {
        Arc::new(
            nets.iter()
                .map(|(n, b)| (n.to_string(), net(n, b)))
                .collect(),
        )
    }

    #[test]
    fn a_change_is_encoded_once_per_host_and_its_streams_share_the_bytes() {
        let feeds = Feeds::default();
        let hosts: Vec<HostId> = (0..3).map(|_| Id::generate()).collect();
        let before = |_: usize| state(&[]);
        let after = |i: usize| state(&[("blue", &format!("10.42.{i}.0/24"))]);
        let first = feeds.next_frame(
            None,
            1,
            hosts
                .iter()
                .enumerate()
                .map(|(i, h)| (h.clone(), before(i)))
                .collect(),
        );
        // Four streams per host, each sent its snapshot.
        let mut streams: Vec<Follower> = hosts
            .iter()
            .flat_map(|h| (0..4).map(move |_| Follower::new(h.clone(), None)))
            .collect();
        for s in &mut streams {
            assert!(matches!(s.step(&feeds, &first), Step::Send(_)));
        }
        let encodes = feeds.encodes();
        let second = feeds.next_frame(
            Some(&first),
            2,
            hosts
                .iter()
                .enumerate()
                .map(|(i, h)| (h.clone(), after(i)))
                .collect(),
        );
        assert_eq!(feeds.encodes() - encodes, 3, "one encoding per host");
        let mut got: HashMap<HostId, Vec<EncodedDesiredState>> = HashMap::new();
        for s in &mut streams {
            let Step::Send(bytes) = s.step(&feeds, &second) else {
                panic!("no delta for {}", s.host);
            };
            got.entry(s.host.clone()).or_default().push(bytes);
        }
        assert_eq!(feeds.encodes() - encodes, 3, "the streams encoded nothing");
        for (i, h) in hosts.iter().enumerate() {
            let sent = &got[h];
            assert_eq!(sent.len(), 4);
            // The very same buffer, not equal copies.
            assert!(sent.iter().all(|b| b.0.as_ptr() == sent[0].0.as_ptr()));
            let msg: pb::DesiredState = prost::Message::decode(sent[0].0.clone()).unwrap();
            assert!(!msg.snapshot);
            assert_eq!(msg.revision, 2);
            assert_eq!(msg.networks, [net("blue", &format!("10.42.{i}.0/24"))]);
        }
        // Seen again: nothing; a frame changing nothing: nothing.
        assert_eq!(streams[0].step(&feeds, &second), Step::Nothing);
        let third = feeds.next_frame(Some(&second), 3, second.desired.clone());
        assert_eq!(streams[0].step(&feeds, &third), Step::Nothing);
    }

    #[test]
    fn a_stream_that_missed_a_frame_or_resumes_makes_its_own_delta() {
        let feeds = Feeds::default();
        let h = Id::generate();
        let f1 = feeds.next_frame(None, 1, [(h.clone(), state(&[("red", "1")]))].into());
        let f2 = feeds.next_frame(Some(&f1), 2, [(h.clone(), state(&[("red", "2")]))].into());
        let f3 = feeds.next_frame(Some(&f2), 3, [(h.clone(), state(&[("blue", "1")]))].into());
        let mut behind = Follower::new(h.clone(), None);
        assert!(matches!(behind.step(&feeds, &f1), Step::Send(_)));
        // f2 missed: f3's shared delta starts from f2, so this one is its own.
        let Step::Send(bytes) = behind.step(&feeds, &f3) else {
            panic!("no delta");
        };
        assert_ne!(bytes.0.as_ptr(), f3.deltas[&h].0.as_ptr());
        let msg: pb::DesiredState = prost::Message::decode(bytes.0).unwrap();
        assert_eq!(msg.networks, [net("blue", "1")]);
        assert_eq!(msg.removed, ["red"]);
        // Resuming from a revision after which nothing changed: nothing.
        let mut resumed = Follower::new(h.clone(), Some(NetworkChanges::default()));
        assert_eq!(resumed.step(&feeds, &f3), Step::Nothing);
        // From one after which blue changed and red and green went: blue
        // as it is, red and green removed.
        let changes = NetworkChanges {
            changed: ["blue".to_string(), "red".to_string()].into(),
            deleted: ["green".to_string()].into(),
        };
        let mut resumed = Follower::new(h.clone(), Some(changes));
        let Step::Send(bytes) = resumed.step(&feeds, &f3) else {
            panic!("no delta");
        };
        let msg: pb::DesiredState = prost::Message::decode(bytes.0).unwrap();
        assert!(!msg.snapshot);
        assert_eq!(msg.networks, [net("blue", "1")]);
        assert_eq!(msg.removed, ["green", "red"]);
        // A host missing from its tenant's frame was deleted.
        let f4 = feeds.next_frame(Some(&f3), 4, HashMap::new());
        assert_eq!(resumed.step(&feeds, &f4), Step::Gone);
    }
}
