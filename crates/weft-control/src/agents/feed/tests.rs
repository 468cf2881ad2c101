use super::*;
use crate::desired;
use crate::model::{Host, HostBlock, HostKey, Network, NetworkKey, NetworkSpec, Vm};
use std::time::Duration;
use weft_proto::desired::{Desired, merge};

/// A tenant's rows as the store would hand them over.
#[derive(Clone, Default)]
struct Rows {
    networks: Vec<Network>,
    blocks: Vec<HostBlock>,
    keys: Vec<HostKey>,
    hosts: Vec<Host>,
    vms: Vec<Vm>,
}

fn tenant() -> TenantId {
    TenantId::parse("t", "0000000000000000").unwrap()
}

impl Rows {
    fn network(&mut self, name: &str, subnet: &str) {
        self.networks.push(Network {
            tenant: tenant(),
            spec: NetworkSpec::new(name, subnet, "", false, "", None).unwrap(),
            created_at: 0,
        });
    }

    /// A host with an address, in `network` with block number `i` and a key.
    fn member(&mut self, network: &str, i: usize) -> HostId {
        let id = HostId::generate();
        self.hosts.push(Host {
            id: id.clone(),
            tenant: tenant(),
            name: format!("h{i}"),
            created_at: 0,
            revoked_at: None,
            endpoint: Some(format!("192.0.{}.{}", i / 250, i % 250 + 1)),
            version: None,
            last_seen: None,
            peer_health: Default::default(),
            peer_links: vec![],
            site: None,
        });
        self.join(network, &id, i);
        id
    }

    fn join(&mut self, network: &str, host: &HostId, i: usize) {
        let second = if network == "blue" { 42 } else { 142 } + i / 4096;
        self.blocks.push(HostBlock {
            network: network.into(),
            host: host.clone(),
            block: format!("10.{second}.{}.{}/28", (i / 16) % 256, (i % 16) * 16)
                .parse()
                .unwrap(),
        });
        self.keys.push(HostKey {
            host: host.clone(),
            key: NetworkKey {
                network: network.into(),
                public_key: format!("key-{network}-{host}"),
                listen_port: 51820,
            },
            since: None,
        });
    }

    fn frame(&self, feeds: &Feeds, prev: Option<&Frame>, revision: u64) -> Frame {
        let rows = super::Rows {
            networks: &self.networks,
            blocks: &self.blocks,
            keys: &self.keys,
            hosts: &self.hosts,
            vms: &self.vms,
        };
        feeds.build(prev, revision, rows)
    }

    fn desired_for(&self, host: &HostId) -> Desired {
        desired::desired_for(
            host,
            &self.networks,
            &self.blocks,
            &self.keys,
            &self.hosts,
            &self.vms,
        )
    }
}

fn decode_all(batch: &Batch) -> Vec<pb::DesiredState> {
    batch
        .iter()
        .map(|m| prost::Message::decode(m.to_bytes()).unwrap())
        .collect()
}

/// The one message of a small batch.
fn decode(batch: &Batch) -> pb::DesiredState {
    let mut all = decode_all(batch);
    assert_eq!(all.len(), 1, "{all:?}");
    all.remove(0)
}

/// `host`'s state after `msgs`, as its agent keeps it.
fn applied(host: &HostId, batches: &[&Batch]) -> Desired {
    let mut state = Desired::new();
    for msg in batches.iter().flat_map(|b| decode_all(b)) {
        merge(&mut state, &msg, host.as_str());
    }
    state
}

fn one_network(n: usize) -> (Rows, Vec<HostId>) {
    let mut rows = Rows::default();
    rows.network("blue", "10.42.0.0/16");
    let hosts = (0..n).map(|i| rows.member("blue", i)).collect();
    (rows, hosts)
}

#[test]
fn frames_give_each_host_what_desired_for_computes() {
    let mut rows = Rows::default();
    rows.network("blue", "10.42.0.0/16");
    rows.network("red", "10.43.0.0/16");
    let ids: Vec<HostId> = (0..6).map(|i| rows.member("blue", i)).collect();
    rows.join("red", &ids[0], 0);
    rows.join("red", &ids[1], 1);
    // No address yet, no key in red, revoked: each is no peer there.
    rows.hosts[2].endpoint = None;
    rows.keys
        .retain(|k| !(k.host == ids[1] && k.key.network == "red"));
    rows.hosts[3].revoked_at = Some(1);
    // VMs' NICs: see vms.rs.
    rows.vm("web", &ids[0], &["red", "blue"]);
    let feeds = Feeds::default();
    let frame = rows.frame(&feeds, None, 1);
    assert!(!frame.tables.hosts.contains_key(&ids[3]), "revoked");
    for id in ids.iter().filter(|id| *id != &ids[3]) {
        let want = rows.desired_for(id);
        assert_eq!(frame.tables.desired(id).unwrap(), want, "{id}");
        let mut follower = Follower::new(id.clone(), 0);
        let Step::Send(snapshot) = follower.step(&feeds, &frame) else {
            panic!("no snapshot for {id}");
        };
        assert!(decode(&snapshot).snapshot);
        assert_eq!(applied(id, &[&snapshot]), want, "{id}");
    }
}

type Change = dyn Fn(&mut Rows);

#[test]
fn deltas_rebuild_each_hosts_state_through_every_kind_of_change() {
    let mut rows = Rows::default();
    rows.network("blue", "10.42.0.0/16");
    rows.network("red", "10.43.0.0/16");
    let ids: Vec<HostId> = (0..5).map(|i| rows.member("blue", i)).collect();
    rows.join("red", &ids[0], 0);
    let feeds = Feeds::default();
    let mut frame = rows.frame(&feeds, None, 1);
    let mut states: HashMap<HostId, Desired> = HashMap::new();
    let mut followers: Vec<Follower> = ids.iter().map(|h| Follower::new(h.clone(), 0)).collect();
    let changes: Vec<Box<Change>> = vec![
        // A VM is placed on host 0 with NICs on both networks, its first
        // NIC goes (the other moves to index 0), and a second VM comes.
        Box::new(|r| {
            let host = r.hosts[0].id.clone();
            r.vm("web", &host, &["blue", "red"])
        }),
        Box::new(|r| {
            r.vms[0].spec.nics.remove(0);
        }),
        Box::new(|r| {
            let host = r.hosts[1].id.clone();
            r.vm("db", &host, &["blue"])
        }),
        // A key changes, a host leaves, another joins red.
        Box::new(|r| r.keys[1].key.public_key = "new".into()),
        Box::new(|r| r.blocks.retain(|b| b.host != r.hosts[2].id)),
        Box::new(|r| {
            let id = r.hosts[3].id.clone();
            r.join("red", &id, 3)
        }),
        // A block moves; the network's settings change; it goes.
        Box::new(|r| r.blocks[0].block = "10.42.9.0/28".parse().unwrap()),
        Box::new(|r| r.networks[1].spec.internal = true),
        Box::new(|r| r.networks.retain(|n| n.spec.name != "red")),
        Box::new(|r| r.hosts[4].endpoint = Some("198.51.100.1".into())),
        Box::new(|r| r.vms.clear()),
    ];
    for (i, change) in changes.iter().enumerate() {
        change(&mut rows);
        let next = rows.frame(&feeds, Some(&frame), i as u64 + 2);
        frame = next;
        for f in &mut followers {
            let state = states.entry(f.host.clone()).or_default();
            match f.step(&feeds, &frame) {
                Step::Send(batch) => {
                    for msg in decode_all(&batch) {
                        merge(state, &msg, f.host.as_str());
                    }
                }
                Step::Nothing => {}
                other => panic!("{other:?}"),
            }
            assert_eq!(*state, rows.desired_for(&f.host), "change {i}, {}", f.host);
        }
    }
}

#[test]
fn a_change_is_encoded_once_and_streams_share_the_bytes() {
    let (mut rows, hosts) = one_network(3);
    rows.keys.clear();
    let feeds = Feeds::default();
    let first = rows.frame(&feeds, None, 1);
    // Four streams per host, each sent its snapshot.
    let mut streams: Vec<Follower> = hosts
        .iter()
        .flat_map(|h| (0..4).map(move |_| Follower::new(h.clone(), 0)))
        .collect();
    for s in &mut streams {
        assert!(matches!(s.step(&feeds, &first), Step::Send(_)));
    }
    // Every host reports its key: one patch, one message, for all.
    for (i, h) in hosts.iter().enumerate() {
        rows.keys.push(HostKey {
            host: h.clone(),
            key: NetworkKey {
                network: "blue".into(),
                public_key: format!("k{i}"),
                listen_port: 51820,
            },
            since: None,
        });
    }
    let encodes = feeds.encodes();
    let second = rows.frame(&feeds, Some(&first), 2);
    assert_eq!(
        feeds.encodes() - encodes,
        3,
        "a peer list, a patch, a message"
    );
    let mut sent = Vec::new();
    for s in &mut streams {
        let Step::Send(msg) = s.step(&feeds, &second) else {
            panic!("no delta for {}", s.host);
        };
        sent.push(msg);
    }
    assert_eq!(feeds.encodes() - encodes, 3, "the streams encoded nothing");
    let first_chunk = |m: &Batch| m[0].chunks()[0].as_ptr();
    assert!(sent.iter().all(|m| first_chunk(m) == first_chunk(&sent[0])));
    let msg = decode(&sent[0]);
    assert!(!msg.snapshot && msg.networks.is_empty());
    assert_eq!(msg.revision, 2);
    assert_eq!(msg.patches[0].peers.len(), 3);
    for (h, s) in hosts.iter().zip(streams.iter().step_by(4)) {
        assert_eq!(s.host, *h);
        let state = applied(h, &[&sent[0]]);
        assert!(
            state.is_empty(),
            "a patch applies to a network the host has"
        );
    }
    // Seen again: nothing; a frame changing nothing: nothing.
    assert_eq!(streams[0].step(&feeds, &second), Step::Nothing);
    let third = rows.frame(&feeds, Some(&second), 3);
    assert_eq!(streams[0].step(&feeds, &third), Step::Nothing);
}

/// One host joins a network of `n`: what every other member is sent, and
/// how many pieces the frame encoded.
fn one_joins(n: usize) -> (usize, u64) {
    let (mut rows, hosts) = one_network(n);
    let feeds = Feeds::default();
    let first = rows.frame(&feeds, None, 1);
    let mut streams: Vec<Follower> = hosts.iter().map(|h| Follower::new(h.clone(), 1)).collect();
    // Streams at the first frame's revision (as after their snapshots).
    for s in &mut streams {
        s.resuming = false;
    }
    let before = rows.desired_for(&hosts[0]);
    // Named and placed alike at any n, so sizes compare.
    let joined = rows.member("blue", n);
    let last = rows.hosts.len() - 1;
    rows.hosts[last].name = "joined".into();
    rows.hosts[last].endpoint = Some("198.51.100.7".into());
    rows.blocks.last_mut().unwrap().block = "10.42.255.240/28".parse().unwrap();
    let encodes = feeds.encodes();
    let second = rows.frame(&feeds, Some(&first), 2);
    let encoded = feeds.encodes() - encodes;
    let mut sizes = Vec::new();
    let mut buffers = std::collections::HashSet::new();
    for s in &mut streams {
        let Step::Send(msg) = s.step(&feeds, &second) else {
            panic!("nothing for {}", s.host);
        };
        sizes.push(msg.iter().map(EncodedDesiredState::len).sum::<usize>());
        buffers.extend(msg.iter().flat_map(|m| m.chunks()).map(|c| c.as_ptr()));
    }
    assert_eq!(
        feeds.encodes() - encodes,
        encoded,
        "streams encoded nothing"
    );
    assert!(sizes.iter().all(|s| *s == sizes[0]), "{n}: {sizes:?}");
    assert_eq!(buffers.len(), 2, "{n}: one message, shared");
    let Some(msg) = second.deltas.get(&hosts[0]) else {
        panic!("no delta");
    };
    let patch = &decode(msg).patches[0];
    assert_eq!(patch.peers[0].host_id, joined.as_str());
    let mut state = before;
    merge(&mut state, &decode(msg), hosts[0].as_str());
    assert_eq!(state, rows.desired_for(&hosts[0]));
    assert_eq!(streams[0].step(&feeds, &second), Step::Nothing, "sent once");
    (sizes[0], encoded)
}

#[test]
fn one_host_joining_sends_every_member_the_same_bytes_whatever_n() {
    let (small, small_encodes) = one_joins(200);
    let (large, large_encodes) = one_joins(2_000);
    assert_eq!(small, large, "the message does not grow with the network");
    assert!(small < 300, "{small} bytes for one peer");
    // The new peer list, the patch, the message: the same at any size.
    assert_eq!((small_encodes, large_encodes), (3, 3));
}

/// CPU time this thread has used (CLOCK_THREAD_CPUTIME_ID).
fn thread_cpu_time() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid timespec for the call to fill.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime: {}", std::io::Error::last_os_error());
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// An order of growth, not a speed: 10× the hosts may cost about 10× the
/// work, never the 100× of work per host × hosts.
#[test]
fn a_frame_is_built_in_time_linear_in_the_hosts() {
    struct Case {
        rows: Rows,
        feeds: Feeds,
        first: Frame,
        n: usize,
    }
    let case = |n: usize| {
        let (mut rows, _) = one_network(n);
        let feeds = Feeds::default();
        let first = rows.frame(&feeds, None, 1);
        rows.member("blue", n);
        Case {
            rows,
            feeds,
            first,
            n,
        }
    };
    let build = |c: &Case| {
        let started = thread_cpu_time();
        let next = c.rows.frame(&c.feeds, Some(&c.first), 2);
        let took = thread_cpu_time() - started;
        assert_eq!(next.deltas.len(), c.n);
        took
    };
    let (small, large) = (case(200), case(2_000));
    // The CPU time of this thread, not the wall clock: the suite runs many
    // tests at once, and a preempted build would look slow. The fastest
    // of runs taken in turns, for caches.
    let (mut best_small, mut best_large) = (Duration::MAX, Duration::MAX);
    for _ in 0..5 {
        best_small = best_small.min(build(&small));
        best_large = best_large.min(build(&large));
    }
    // 10× the hosts: about 10× the time; per host × hosts would be 100×.
    assert!(
        best_large < best_small * 50,
        "200 hosts: {best_small:?}, 2000 hosts: {best_large:?}"
    );
}

#[test]
fn a_stream_that_missed_a_frame_or_resumes_catches_up_through_the_store() {
    let mut rows = Rows::default();
    rows.network("red", "10.43.0.0/16");
    rows.network("blue", "10.42.0.0/16");
    let h = rows.member("red", 0);
    let feeds = Feeds::default();
    let f1 = rows.frame(&feeds, None, 1);
    rows.blocks[0].block = "10.43.1.0/28".parse().unwrap();
    let f2 = rows.frame(&feeds, Some(&f1), 2);
    rows.blocks.clear();
    rows.join("blue", &h, 0);
    let f3 = rows.frame(&feeds, Some(&f2), 3);
    let mut behind = Follower::new(h.clone(), 0);
    let Step::Send(snapshot) = behind.step(&feeds, &f1) else {
        panic!("no snapshot");
    };
    // f2 missed: f3's deltas start from f2.
    assert_eq!(behind.step(&feeds, &f3), Step::Behind(1));
    let changes = NetworkChanges {
        changed: ["blue".to_string(), "red".to_string()].into(),
        deleted: Default::default(),
    };
    let Step::Send(msg) = behind.catch_up(&feeds, &f3, Some(&changes)) else {
        panic!("no delta");
    };
    let got = decode(&msg);
    assert_eq!(got.networks.len(), 1);
    assert_eq!(got.networks[0].name, "blue");
    assert_eq!(got.removed, ["red"]);
    assert_eq!(applied(&h, &[&snapshot, &msg]), rows.desired_for(&h));
    assert_eq!(behind.step(&feeds, &f3), Step::Nothing);
    // Resuming, even at the frame's own revision, asks the store.
    let mut resumed = Follower::new(h.clone(), 3);
    assert_eq!(resumed.step(&feeds, &f3), Step::Behind(3));
    let none = NetworkChanges::default();
    assert_eq!(resumed.catch_up(&feeds, &f3, Some(&none)), Step::Nothing);
    // A revision the store no longer knows: a snapshot.
    let mut lost = Follower::new(h.clone(), 1);
    let Step::Send(msg) = lost.catch_up(&feeds, &f3, None) else {
        panic!("no snapshot");
    };
    assert!(decode(&msg).snapshot);
    // Ahead of the frame (from a replica that saw a newer write): nothing
    // until a frame at its revision, then what changed since.
    let mut ahead = Follower::new(h.clone(), 5);
    assert_eq!(ahead.step(&feeds, &f3), Step::Behind(5));
    assert_eq!(ahead.catch_up(&feeds, &f3, Some(&none)), Step::Nothing);
    assert_eq!(ahead.step(&feeds, &f3), Step::Behind(5), "still behind");
    rows.networks[1].spec.internal = true;
    let f6 = rows.frame(&feeds, Some(&f3), 6);
    assert_eq!(ahead.step(&feeds, &f6), Step::Behind(5));
    let blue_changed = NetworkChanges {
        changed: ["blue".to_string()].into(),
        deleted: Default::default(),
    };
    let Step::Send(msg) = ahead.catch_up(&feeds, &f6, Some(&blue_changed)) else {
        panic!("no delta");
    };
    assert!(decode(&msg).networks[0].internal);
    assert_eq!(ahead.step(&feeds, &f6), Step::Nothing);
    // A host missing from its tenant's frame was deleted.
    rows.hosts.clear();
    let f7 = rows.frame(&feeds, Some(&f6), 7);
    assert_eq!(resumed.step(&feeds, &f7), Step::Gone);
}

#[test]
fn a_snapshot_of_a_large_network_comes_in_bounded_pieces_shared_by_every_host() {
    let (rows, hosts) = one_network(2_000);
    let feeds = Feeds::default();
    let frame = rows.frame(&feeds, None, 1);
    let snapshot = |h: &HostId| {
        let Step::Send(batch) = Follower::new(h.clone(), 0).step(&feeds, &frame) else {
            panic!("no snapshot");
        };
        batch
    };
    let (a, b) = (snapshot(&hosts[0]), snapshot(&hosts[1]));
    assert!(a.len() > 2, "{} messages", a.len());
    for msg in a.iter() {
        assert!(msg.len() <= weft_proto::encoded::MESSAGE_TARGET + 1024);
    }
    assert_eq!(applied(&hosts[0], &[&a]), rows.desired_for(&hosts[0]));
    assert_eq!(applied(&hosts[1], &[&b]), rows.desired_for(&hosts[1]));
    // The peers' bytes are the same buffers in both: only each host's own
    // few bytes (its block) are its own.
    let pieces = |batch: &Batch| -> std::collections::HashSet<*const u8> {
        (batch.iter().flat_map(|m| m.chunks()))
            .filter(|c| c.len() > 1024)
            .map(|c| c.as_ptr())
            .collect()
    };
    assert!(!pieces(&a).is_empty());
    assert_eq!(pieces(&a), pieces(&b));
    let own: usize = (a.iter().flat_map(|m| m.chunks()))
        .filter(|c| c.len() <= 1024)
        .map(|c| c.len())
        .sum();
    assert!(own < 2048, "{own} bytes of its own");
}

mod vms;
