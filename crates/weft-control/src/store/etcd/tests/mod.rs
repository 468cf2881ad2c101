mod replica;

use super::*;
use crate::model::NewHost;
use crate::secret::SecretKind;
use crate::store::TokenRefusal;
use crate::store::conformance::{Shared, conformance_tests};
use std::sync::OnceLock;
use weft_testkit::etcd::Member;

/// One etcd member for the whole test binary (it dies with the process);
/// each case gets a prefix of its own. `None` when etcd is not installed
/// (the skip is recorded).
fn member() -> Option<&'static Member> {
    static MEMBER: OnceLock<Option<Member>> = OnceLock::new();
    MEMBER.get_or_init(Member::start).as_ref()
}

fn client(member: &Member) -> Client {
    Client::new(&[member.client_url()], weft_etcd::Options::default()).unwrap()
}

fn fresh_prefix() -> String {
    format!("/weft-test/{}/", crate::model::random_id())
}

/// A store under a fresh prefix (a client of its own: a client lives on
/// the runtime that made it, one per test).
async fn fresh() -> Option<(Shared, ())> {
    let member = member()?;
    let store = EtcdStore::open(client(member), &fresh_prefix())
        .await
        .unwrap();
    Some((Arc::new(store), ()))
}

/// Two stores on one prefix: two replicas.
async fn replicas() -> Option<(Arc<EtcdStore>, Arc<EtcdStore>)> {
    let member = member()?;
    let prefix = fresh_prefix();
    let one = EtcdStore::open(client(member), &prefix).await.unwrap();
    let two = EtcdStore::open(client(member), &prefix).await.unwrap();
    Some((Arc::new(one), Arc::new(two)))
}

conformance_tests!({
    match fresh().await {
        Some(store) => store,
        None => return,
    }
});

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn listeners_see_the_revision_move() {
    let Some((one, two)) = replicas().await else {
        return;
    };
    crate::store::conformance::listeners_see_the_revision_move(one, two).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn appends_through_two_replicas_number_every_record_once() {
    let Some((one, two)) = replicas().await else {
        return;
    };
    crate::store::conformance::appends_through_two_replicas_number_every_record_once(one, two)
        .await;
}

const NOW: i64 = 1_800_000_000;

/// Two replicas, each with its own connection, redeeming one token from
/// many tasks at once: no lock anywhere, only the transaction's compares.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn redemptions_racing_through_two_replicas_spend_a_token_once() {
    let Some((one, two)) = replicas().await else {
        return;
    };
    let key = Secret::generate(SecretKind::ApiKey);
    let t = one.create_tenant("acme", &key, NOW).await.unwrap().id;
    let spec = NetworkSpec::new("blue", "10.42.0.0/16", "", false, "", None).unwrap();
    one.create_network(&t, &spec, NOW).await.unwrap();
    for round in 0..5 {
        let token = Secret::generate(SecretKind::EnrollToken);
        one.create_token(&t, &token, NOW + 60, 1, NOW)
            .await
            .unwrap();
        let before = one.revision().await.unwrap();
        let mut tasks = Vec::new();
        for i in 0..24 {
            let store = if i % 2 == 0 { one.clone() } else { two.clone() };
            let token = token.clone();
            tasks.push(tokio::spawn(async move {
                let host = NewHost {
                    id: HostId::generate(),
                    name: format!("r{round}-h{i}"),
                };
                store.redeem_token(&token, &host, NOW).await
            }));
        }
        let mut won = 0;
        for task in tasks {
            match task.await.unwrap() {
                Ok(_) => won += 1,
                Err(StoreError::TokenRefused { reason, .. }) => {
                    assert_eq!(reason, TokenRefusal::UsedUp)
                }
                Err(other) => panic!("{other:?}"),
            }
        }
        assert_eq!(won, 1, "round {round}");
        assert_eq!(two.revision().await.unwrap(), before + 1, "round {round}");
    }
    assert_eq!(two.list_hosts(&t).await.unwrap().len(), 5);
    let blocks = two.blocks(&t).await.unwrap();
    let distinct: std::collections::BTreeSet<_> = blocks.iter().map(|b| b.block).collect();
    assert_eq!((blocks.len(), distinct.len()), (5, 5));
}

#[tokio::test]
async fn etcd_holds_hashes_never_keys_or_tokens() {
    let Some(member) = member() else { return };
    let etcd = client(member);
    let prefix = fresh_prefix();
    let store = EtcdStore::open(etcd.clone(), &prefix).await.unwrap();
    let key = Secret::generate(SecretKind::ApiKey);
    let t = store.create_tenant("acme", &key, NOW).await.unwrap().id;
    let token = Secret::generate(SecretKind::EnrollToken);
    store
        .create_token(&t, &token, NOW + 60, 2, NOW)
        .await
        .unwrap();
    let host = NewHost {
        id: HostId::generate(),
        name: "a".into(),
    };
    store.redeem_token(&token, &host, NOW).await.unwrap();
    // What a client of etcd reads…
    let mut text = String::new();
    for kv in etcd.get_prefix(prefix.as_str()).await.unwrap().kvs {
        text.push_str(&String::from_utf8_lossy(&kv.key));
        text.push_str(&String::from_utf8_lossy(&kv.value));
    }
    // …and what etcd wrote to its disk (its database and WAL).
    let mut disk = Vec::new();
    let mut dirs = vec![member.dir().join("data")];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                dirs.push(path);
            } else {
                disk.extend(std::fs::read(&path).unwrap_or_default());
            }
        }
    }
    let disk = String::from_utf8_lossy(&disk);
    for secret in [&key, &token] {
        let secret_part = secret.expose().rsplit('_').next().unwrap();
        assert!(!text.contains(secret_part), "{secret:?} stored in clear");
        assert!(!disk.contains(secret_part), "{secret:?} on etcd's disk");
        assert!(text.contains(&secret.hash().to_hex()));
    }
}

#[tokio::test]
async fn an_unreachable_etcd_is_a_store_error_the_api_answers_503() {
    let options = weft_etcd::Options {
        connect_timeout: Duration::from_millis(200),
        request_timeout: Duration::from_millis(500),
    };
    let etcd = Client::new(&["127.0.0.1:1"], options).unwrap();
    let err = EtcdStore::open(etcd, DEFAULT_PREFIX).await.err().unwrap();
    assert!(matches!(err, StoreError::Unavailable { .. }), "{err:?}");
    assert!(err.is_unavailable());
    let text = err.to_string();
    assert_eq!(
        text,
        "the control plane's store (etcd at http://127.0.0.1:1) could not be reached or did not answer"
    );
    let answer = crate::api::error::ApiError::from(err);
    assert_eq!(answer.status, axum::http::StatusCode::SERVICE_UNAVAILABLE);
    assert!(
        answer
            .message
            .starts_with("control plane store unavailable: etcd did not answer"),
        "{}",
        answer.message
    );
}

/// etcd answering with a refusal is no outage: a bug of ours, answered
/// "internal error" (retrying would not help).
#[test]
fn a_refused_etcd_request_is_an_internal_error() {
    let err = failed(
        &["http://etcd-1:2379".into()],
        weft_etcd::Error::Refused {
            what: "transaction on /weft/v1/revision in etcd".into(),
            endpoint: "http://etcd-1:2379".into(),
            source: tonic::Status::invalid_argument(
                "etcdserver: too many operations in txn request",
            ),
        },
    );
    assert!(matches!(err, StoreError::Internal { .. }), "{err:?}");
    assert_eq!(
        err.to_string(),
        "the control plane's store (etcd at http://etcd-1:2379) refused the request"
    );
    assert!(!err.is_unavailable());
    let answer = crate::api::error::ApiError::from(err);
    assert_eq!(answer.status, axum::http::StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(answer.message, "internal error");
}

/// A member killed and restarted: the store's watch reconnects and its
/// listeners hear of a change made through another replica afterwards.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_revision_watch_survives_etcd_restarting() {
    let Some(mut own) = Member::start() else {
        return;
    };
    let prefix = fresh_prefix();
    let one = EtcdStore::open(client(&own), &prefix).await.unwrap();
    let two = EtcdStore::open(client(&own), &prefix).await.unwrap();
    let key = Secret::generate(SecretKind::ApiKey);
    let t = one.create_tenant("acme", &key, NOW).await.unwrap().id;
    let mut seen = one.revisions();
    let start = *seen.borrow_and_update();

    own.kill();
    let spec = NetworkSpec::new("blue", "10.42.0.0/16", "", false, "", None).unwrap();
    let err = two.create_network(&t, &spec, NOW).await.unwrap_err();
    assert!(err.is_unavailable(), "{err:?}");
    own.restart();
    own.wait_healthy();

    two.create_network(&t, &spec, NOW).await.unwrap();
    let heard = tokio::time::timeout(Duration::from_secs(15), async {
        while *seen.borrow_and_update() < start + 1 {
            seen.changed().await.unwrap();
        }
    })
    .await;
    assert!(heard.is_ok(), "no word of the change after etcd restarted");
}

/// A report saying what the host said last is a heartbeat written without
/// reading the tenant, unless something it depends on moved meanwhile:
/// here through another replica.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_repeated_report_is_judged_against_changes_made_elsewhere() {
    use crate::model::{HostReport, NetworkKey};
    let Some((one, two)) = replicas().await else {
        return;
    };
    let key = Secret::generate(SecretKind::ApiKey);
    let t = one.create_tenant("acme", &key, NOW).await.unwrap().id;
    let spec = NetworkSpec::new("blue", "10.42.0.0/16", "", false, "", None).unwrap();
    one.create_network(&t, &spec, NOW).await.unwrap();
    let token = Secret::generate(SecretKind::EnrollToken);
    one.create_token(&t, &token, NOW + 60, 1, NOW)
        .await
        .unwrap();
    let new = NewHost {
        id: HostId::generate(),
        name: "a".into(),
    };
    let a = one.redeem_token(&token, &new, NOW).await.unwrap().id;
    let report = HostReport {
        endpoint: "192.0.2.1".into(),
        version: "v".into(),
        keys: vec![NetworkKey {
            network: "blue".into(),
            public_key: "K".into(),
            listen_port: 51820,
        }],
        peer_health: Default::default(),
        peer_links: None,
    };
    assert!(one.report(&a, &report, NOW).await.unwrap());
    assert!(!one.report(&a, &report, NOW + 10).await.unwrap());
    let seen = two.host(&a).await.unwrap().unwrap();
    assert_eq!(seen.last_seen, Some(NOW + 10), "the heartbeat was written");

    // Another replica takes a out of blue and back: its key there went…
    two.set_network_hosts(&t, "blue", Some(&[])).await.unwrap();
    two.set_network_hosts(&t, "blue", None).await.unwrap();
    assert!(two.host_keys(&t).await.unwrap().is_empty());
    // …so the same report again puts it back: a change.
    let before = one.revision().await.unwrap();
    assert!(one.report(&a, &report, NOW + 20).await.unwrap());
    assert_eq!(two.host_keys(&t).await.unwrap().len(), 1);
    assert_eq!(two.revision().await.unwrap(), before + 1);

    // A host deleted elsewhere is refused, not heartbeaten.
    assert!(!one.report(&a, &report, NOW + 30).await.unwrap());
    two.delete_host(&t, &a, NOW).await.unwrap();
    let err = one.report(&a, &report, NOW + 40).await.unwrap_err();
    assert!(matches!(err, StoreError::NotFound { .. }), "{err:?}");
}

/// The revision watch started below etcd's compaction reads the counter
/// anew and follows on from there.
#[tokio::test]
async fn the_revision_watch_recovers_from_a_compaction() {
    let Some(member) = member() else { return };
    let etcd = client(member);
    let key = format!("{}revision", fresh_prefix());
    etcd.put(key.as_str(), "7", 0).await.unwrap();
    let now = etcd.revision().await.unwrap();
    etcd.compact(now).await.unwrap();
    let sender = Arc::new(watch::channel(0).0);
    let mut seen = sender.subscribe();
    let follow = tokio::spawn(watcher::follow(etcd.clone(), key.clone(), sender, 1));
    let wait = Duration::from_secs(10);
    let got = tokio::time::timeout(wait, seen.wait_for(|v| *v == 7))
        .await
        .map(|_| ());
    assert!(got.is_ok(), "the value before the compaction was not read");
    etcd.put(key.as_str(), "8", 0).await.unwrap();
    let got = tokio::time::timeout(wait, seen.wait_for(|v| *v == 8)).await;
    assert!(got.is_ok(), "no word of the change after the compaction");
    follow.abort();
}

/// Two replicas on a three-member cluster, each preferring a different
/// member: the one whose member is killed fails over, and neither sees a
/// change twice or loses one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_on_a_cluster_keep_serving_when_a_member_dies() {
    let Some(mut cluster) = weft_testkit::etcd::Cluster::start() else {
        return;
    };
    let mut endpoints = cluster.endpoints();
    let prefix = fresh_prefix();
    // Long enough to outlast the election when the member killed leads.
    let options = weft_etcd::Options {
        connect_timeout: Duration::from_millis(500),
        request_timeout: Duration::from_secs(5),
    };
    let one = EtcdStore::open(Client::new(&endpoints, options).unwrap(), &prefix);
    endpoints.reverse();
    let two = EtcdStore::open(Client::new(&endpoints, options).unwrap(), &prefix);
    let (one, two) = (one.await.unwrap(), two.await.unwrap());
    let key = Secret::generate(SecretKind::ApiKey);
    let t = one.create_tenant("acme", &key, NOW).await.unwrap().id;
    let spec = |n: &str, s: &str| NetworkSpec::new(n, s, "", false, "", None).unwrap();
    two.create_network(&t, &spec("blue", "10.42.0.0/16"), NOW)
        .await
        .unwrap();
    let before = one.revision().await.unwrap();

    cluster.members[0].kill();
    one.create_network(&t, &spec("red", "10.43.0.0/16"), NOW)
        .await
        .unwrap();
    two.create_network(&t, &spec("green", "10.44.0.0/16"), NOW)
        .await
        .unwrap();
    assert_eq!(one.revision().await.unwrap(), before + 2);
    let names: Vec<String> = two
        .list_networks(&t)
        .await
        .unwrap()
        .into_iter()
        .map(|n| n.spec.name)
        .collect();
    assert_eq!(names, ["blue", "green", "red"]);
    let mut seen = one.revisions();
    let heard =
        tokio::time::timeout(Duration::from_secs(15), seen.wait_for(|v| *v == before + 2)).await;
    assert!(heard.is_ok(), "the watch did not fail over");
}

/// More hosts than etcd takes operations in one transaction (128): a
/// network is created, narrowed, widened and deleted in one transaction
/// each all the same (blocks and keys are written by shard).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn networks_of_many_hosts_change_in_one_transaction() {
    use crate::model::{HostReport, NetworkKey};
    let Some((store, _)) = replicas().await else {
        return;
    };
    let key = Secret::generate(SecretKind::ApiKey);
    let t = store.create_tenant("acme", &key, NOW).await.unwrap().id;
    let spec = |n: &str, s: &str| NetworkSpec::new(n, s, "", false, "", Some(28)).unwrap();
    store
        .create_network(&t, &spec("blue", "10.42.0.0/16"), NOW)
        .await
        .unwrap();
    let token = Secret::generate(SecretKind::EnrollToken);
    store
        .create_token(&t, &token, NOW + 60, 300, NOW)
        .await
        .unwrap();
    let mut tasks = Vec::new();
    for i in 0..300 {
        let (store, token) = (store.clone(), token.clone());
        tasks.push(tokio::spawn(async move {
            let new = NewHost {
                id: HostId::generate(),
                name: format!("h{i}"),
            };
            let host = store.redeem_token(&token, &new, NOW).await.unwrap();
            let report = HostReport {
                endpoint: format!("192.0.2.{}", i % 250),
                version: "v".into(),
                keys: vec![NetworkKey {
                    network: "blue".into(),
                    public_key: format!("K{i}"),
                    listen_port: 51820,
                }],
                peer_health: Default::default(),
                peer_links: None,
            };
            store.report(&host.id, &report, NOW).await.unwrap();
            host.id
        }));
    }
    let mut hosts = Vec::new();
    for task in tasks {
        hosts.push(task.await.unwrap());
    }
    let blocks_in = |store: Arc<EtcdStore>, name: &'static str| {
        let t = t.clone();
        async move {
            let hosts = store.network_hosts(&t, name).await.unwrap();
            let distinct: std::collections::BTreeSet<_> =
                hosts.blocks.iter().map(|b| b.block).collect();
            assert_eq!(
                distinct.len(),
                hosts.blocks.len(),
                "blocks shared in {name}"
            );
            hosts.blocks.len()
        }
    };
    assert_eq!(blocks_in(store.clone(), "blue").await, 300);
    assert_eq!(store.host_keys(&t).await.unwrap().len(), 300);

    store
        .create_network(&t, &spec("red", "10.43.0.0/16"), NOW)
        .await
        .unwrap();
    assert_eq!(blocks_in(store.clone(), "red").await, 300);
    store
        .set_network_hosts(&t, "blue", Some(&hosts[..10]))
        .await
        .unwrap();
    assert_eq!(blocks_in(store.clone(), "blue").await, 10);
    assert_eq!(store.host_keys(&t).await.unwrap().len(), 10);
    store.set_network_hosts(&t, "blue", None).await.unwrap();
    assert_eq!(blocks_in(store.clone(), "blue").await, 300);
    let before = store.revision().await.unwrap();
    store.delete_network(&t, "red").await.unwrap();
    assert_eq!(store.revision().await.unwrap(), before + 1);
    let left = store
        .client
        .get_prefix(format!("{}t/{}/blocks/red/", store.prefix(), t))
        .await
        .unwrap();
    assert!(left.kvs.is_empty(), "red's blocks left behind");
}

/// The compaction job keeps one run's worth of history: the first run
/// only notes the revision, the second compacts to it, and the store's
/// own watch carries on past the compaction. A member of its own: the
/// shared one's history belongs to the other cases.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compaction_keeps_one_run_of_history_and_the_watch_carries_on() {
    let Some(member) = Member::start() else {
        return;
    };
    let store = EtcdStore::open(client(&member), &fresh_prefix())
        .await
        .unwrap();
    let t = store
        .create_tenant("acme", &Secret::generate(SecretKind::ApiKey), NOW)
        .await
        .unwrap()
        .id;
    let spec = |n: &str, s: &str| NetworkSpec::new(n, s, "", false, "", None).unwrap();
    store
        .create_network(&t, &spec("blue", "10.42.0.0/16"), NOW)
        .await
        .unwrap();
    let etcd = client(&member);
    let first = etcd.revision().await.unwrap();
    store.compact().await.unwrap();
    // Nothing compacted yet: history from revision 1 is still there.
    let watch = etcd.watch(store.keys.revision(), false, 1).await;
    assert!(watch.is_ok(), "{:?}", watch.err());
    drop(watch);
    store
        .create_network(&t, &spec("red", "10.43.0.0/16"), NOW)
        .await
        .unwrap();
    store.compact().await.unwrap();
    let mut old = etcd.watch(store.keys.revision(), false, 1).await;
    if let Ok(w) = &mut old {
        // Some etcd versions report the compaction on the first read.
        old = w
            .next()
            .await
            .map(|_| unreachable!("history before {first} is gone"));
    }
    let Err(err) = old else {
        panic!("a watch from revision 1 worked after compaction");
    };
    assert_eq!(err.compact_revision(), Some(first), "{err}");
    // The store still follows its revision.
    let mut seen = store.revisions();
    let before = *seen.borrow_and_update();
    store
        .create_network(&t, &spec("green", "10.44.0.0/16"), NOW)
        .await
        .unwrap();
    tokio::time::timeout(Duration::from_secs(10), seen.changed())
        .await
        .expect("the watch after compaction")
        .unwrap();
    assert_eq!(*seen.borrow(), before + 1);
}

/// A report reads only its own shard of each network's keys: with more
/// hosts than shards, hosts share shards, and no report may drop another
/// host's key from a shard it rewrites — also when two replicas race.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn reports_sharing_a_shard_keep_each_others_keys() {
    use crate::model::{HostReport, NetworkKey};
    let Some((one, two)) = replicas().await else {
        return;
    };
    let t = one
        .create_tenant("acme", &Secret::generate(SecretKind::ApiKey), NOW)
        .await
        .unwrap()
        .id;
    let spec = NetworkSpec::new("blue", "10.42.0.0/16", "", false, "", None).unwrap();
    one.create_network(&t, &spec, NOW).await.unwrap();
    let token = Secret::generate(SecretKind::EnrollToken);
    let hosts = 2 * keys::SHARDS as usize;
    one.create_token(&t, &token, NOW + 60, hosts as u32, NOW)
        .await
        .unwrap();
    let mut tasks = Vec::new();
    for i in 0..hosts {
        let store = if i % 2 == 0 { one.clone() } else { two.clone() };
        let token = token.clone();
        tasks.push(tokio::spawn(async move {
            let new = NewHost {
                id: HostId::generate(),
                name: format!("h{i}"),
            };
            let host = store.redeem_token(&token, &new, NOW).await.unwrap();
            let report = HostReport {
                endpoint: format!("192.0.2.{i}"),
                version: "v".into(),
                keys: vec![NetworkKey {
                    network: "blue".into(),
                    public_key: format!("K{i}"),
                    listen_port: 51820,
                }],
                peer_health: Default::default(),
                peer_links: None,
            };
            assert!(store.report(&host.id, &report, NOW).await.unwrap());
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let keys = two.host_keys(&t).await.unwrap();
    let mut got: Vec<String> = keys.into_iter().map(|k| k.key.public_key).collect();
    got.sort();
    let mut want: Vec<String> = (0..hosts).map(|i| format!("K{i}")).collect();
    want.sort();
    assert_eq!(got, want);
}
