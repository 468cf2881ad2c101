//! The client against a real etcd (Debian's), started by each test.

use std::time::Duration;
use weft_etcd::{
    Client, CmpOp, Compare, Error, EventKind, LeaseLost, Op, OpResponse, Options, Txn,
};
use weft_model::error::chain;
use weft_testkit::etcd::{Cluster, Member};

fn quick() -> Options {
    Options {
        connect_timeout: Duration::from_millis(500),
        request_timeout: Duration::from_secs(1),
    }
}

fn client_of(member: &Member) -> Client {
    Client::new(&[member.client_url()], quick()).unwrap()
}

#[tokio::test]
async fn keys_are_put_read_by_prefix_and_deleted() {
    let Some(member) = Member::start() else {
        return;
    };
    let etcd = client_of(&member);
    let first = etcd.put("/t/a", "1", 0).await.unwrap();
    let second = etcd.put("/t/b", "2", 0).await.unwrap();
    etcd.put("/u/c", "3", 0).await.unwrap();
    assert!(second > first, "{first} {second}");
    let a = etcd.get("/t/a").await.unwrap().unwrap();
    assert_eq!((a.value.as_slice(), a.mod_revision), (&b"1"[..], first));
    assert!(etcd.get("/t/none").await.unwrap().is_none());

    let range = etcd.get_prefix("/t/").await.unwrap();
    let keys: Vec<_> = range.kvs.iter().map(|kv| kv.key.clone()).collect();
    assert_eq!(keys, [b"/t/a".to_vec(), b"/t/b".to_vec()]);
    assert_eq!(range.revision, etcd.revision().await.unwrap());

    assert_eq!(etcd.delete("/t/a").await.unwrap(), 1);
    assert_eq!(etcd.delete("/t/a").await.unwrap(), 0);
    assert_eq!(etcd.delete_prefix("/t/").await.unwrap(), 1);
    assert!(etcd.get_prefix("/t/").await.unwrap().kvs.is_empty());
    assert!(etcd.get("/u/c").await.unwrap().is_some());
}

#[tokio::test]
async fn a_txn_runs_one_branch_by_its_compares() {
    let Some(member) = Member::start() else {
        return;
    };
    let etcd = client_of(&member);
    let created = etcd.put("/k", "v1", 0).await.unwrap();

    let txn = Txn::new()
        .when([
            Compare::version("/k", CmpOp::Equal, 1),
            Compare::create_revision("/k", CmpOp::Equal, created),
            Compare::mod_revision("/k", CmpOp::Equal, created),
            Compare::value("/k", CmpOp::Equal, "v1"),
            Compare::absent("/new"),
        ])
        .and_then([
            Op::put("/new", "x"),
            Op::put("/k", "v2"),
            Op::get_prefix("/"),
        ])
        .or_else([Op::get("/k")]);
    let done = etcd.txn(txn.clone()).await.unwrap();
    assert!(done.succeeded);
    assert_eq!(done.revision, created + 1, "one transaction, one revision");
    let OpResponse::Range(kvs) = &done.responses[2] else {
        panic!("{:?}", done.responses)
    };
    assert_eq!(kvs.len(), 2);

    // The same again: /new exists now and /k moved on.
    let refused = etcd.txn(txn).await.unwrap();
    assert!(!refused.succeeded);
    assert_eq!(
        refused.revision, done.revision,
        "a failed txn writes nothing"
    );
    let OpResponse::Range(kvs) = &refused.responses[0] else {
        panic!("{:?}", refused.responses)
    };
    assert_eq!(kvs[0].value, b"v2");

    let delete = Txn::new()
        .when([Compare::value("/k", CmpOp::NotEqual, "v1")])
        .and_then([Op::delete("/k"), Op::delete_prefix("/n")]);
    let deleted = etcd.txn(delete).await.unwrap();
    assert!(matches!(
        deleted.responses[..],
        [OpResponse::Delete(1), OpResponse::Delete(1)]
    ));
}

#[tokio::test]
async fn a_watch_sees_changes_from_its_revision_and_reports_compaction() {
    let Some(member) = Member::start() else {
        return;
    };
    let etcd = client_of(&member);
    let before = etcd.put("/w/a", "1", 0).await.unwrap();
    etcd.put("/other", "x", 0).await.unwrap();
    etcd.delete("/w/a").await.unwrap();

    // From an old revision: history replayed, other keys left out.
    let mut watch = etcd.watch("/w/", true, before).await.unwrap();
    let mut seen = Vec::new();
    while seen.len() < 2 {
        let batch = tokio::time::timeout(Duration::from_secs(5), watch.next())
            .await
            .unwrap()
            .unwrap();
        seen.extend(batch.events);
    }
    assert_eq!(seen[0].kind, EventKind::Put);
    assert_eq!(seen[0].kv.mod_revision, before);
    assert_eq!(seen[1].kind, EventKind::Delete);

    // Live: a write after the watch is created arrives.
    let live = etcd.put("/w/b", "2", 0).await.unwrap();
    let batch = watch.next().await.unwrap();
    assert_eq!(batch.events[0].kv.key, b"/w/b");
    assert_eq!(batch.revision, live);

    // Below the compaction: a typed error with etcd's compact revision.
    let now = etcd.revision().await.unwrap();
    etcd.compact(now).await.unwrap();
    let err = match etcd.watch("/w/", true, before).await {
        Ok(mut watch) => watch.next().await.unwrap_err(),
        Err(err) => err,
    };
    assert_eq!(err.compact_revision(), Some(now), "{err}");
    assert!(err.to_string().contains("watch /w/*"), "{err}");
}

#[tokio::test]
async fn a_kept_lease_outlives_its_ttl_and_a_revoked_one_takes_its_keys() {
    let Some(member) = Member::start() else {
        return;
    };
    let etcd = client_of(&member);
    let lease = etcd.lease_grant(2).await.unwrap();
    etcd.put("/leased", "x", lease.id).await.unwrap();
    let keep = etcd.keep_alive(lease);
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert!(keep.is_lost().is_none());
    assert!(
        etcd.get("/leased").await.unwrap().is_some(),
        "kept past its TTL"
    );

    etcd.lease_revoke(lease.id).await.unwrap();
    assert!(etcd.get("/leased").await.unwrap().is_none());
    let mut keep = keep;
    let lost = tokio::time::timeout(Duration::from_secs(5), keep.lost()).await;
    assert_eq!(lost.unwrap(), LeaseLost::Expired);
}

#[tokio::test]
async fn a_lease_nobody_can_renew_is_reported_lost() {
    let Some(mut member) = Member::start() else {
        return;
    };
    let etcd = client_of(&member);
    let lease = etcd.lease_grant(2).await.unwrap();
    let mut keep = etcd.keep_alive(lease);
    member.kill();
    let lost = tokio::time::timeout(Duration::from_secs(6), keep.lost()).await;
    assert_eq!(lost.unwrap(), LeaseLost::Unreachable);
}

#[tokio::test]
async fn an_election_has_one_leader_at_a_time() {
    let Some(member) = Member::start() else {
        return;
    };
    let etcd = client_of(&member);
    assert!(etcd.leader("/e").await.unwrap().is_none());
    let (a, b) = (
        etcd.lease_grant(10).await.unwrap(),
        etcd.lease_grant(10).await.unwrap(),
    );
    let first = etcd.campaign("/e", "replica-a", a.id).await.unwrap();
    let mut observe = etcd.observe("/e").await.unwrap();
    assert_eq!(observe.next().await.unwrap().value, b"replica-a");

    let second = tokio::spawn({
        let etcd = etcd.clone();
        async move { etcd.campaign("/e", "replica-b", b.id).await }
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(!second.is_finished(), "b leads while a does");
    assert_eq!(
        etcd.leader("/e").await.unwrap().unwrap().value,
        b"replica-a"
    );

    etcd.resign(first).await.unwrap();
    let second = tokio::time::timeout(Duration::from_secs(5), second)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(observe.next().await.unwrap().value, b"replica-b");
    assert_eq!(etcd.leader("/e").await.unwrap().unwrap().key, second.key);
}

#[tokio::test]
async fn requests_fail_over_and_say_which_endpoints_were_tried() {
    let Some(member) = Member::start() else {
        return;
    };
    // Nothing listens on port 1: the next endpoint answers.
    let endpoints = ["http://127.0.0.1:1".to_string(), member.client_url()];
    let etcd = Client::new(&endpoints, quick()).unwrap();
    etcd.put("/f", "1", 0).await.unwrap();
    assert!(etcd.get("/f").await.unwrap().is_some());

    let dead = Client::new(&["127.0.0.1:1", "127.0.0.1:2"], quick()).unwrap();
    let err = dead.get("/f").await.unwrap_err();
    assert!(matches!(err, Error::Unreachable { .. }), "{err:?}");
    let text = chain(&err);
    assert!(text.starts_with("read /f from etcd: no etcd endpoint answered (tried http://127.0.0.1:1, http://127.0.0.1:2)"), "{text}");
    assert!(err.is_unavailable());
}

#[tokio::test]
async fn a_cluster_serves_with_a_member_down_and_says_when_quorum_is_lost() {
    let Some(mut cluster) = Cluster::start() else {
        return;
    };
    // The default request timeout (5 s): the member killed may be the
    // leader, and the others answer only once they elected a new one.
    let etcd = Client::new(&cluster.endpoints(), Options::default()).unwrap();
    etcd.put("/q", "1", 0).await.unwrap();

    cluster.members[0].kill();
    etcd.put("/q", "2", 0).await.unwrap();

    // The member comes back on its data and catches up.
    cluster.members[0].restart();
    cluster.members[0].wait_healthy();
    let alone = client_of(&cluster.members[0]);
    let mut value = None;
    for _ in 0..50 {
        value = alone.get("/q").await.ok().flatten().map(|kv| kv.value);
        if value.as_deref() == Some(b"2") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(value.as_deref(), Some(&b"2"[..]));

    cluster.members[1].kill();
    cluster.members[2].kill();
    let err = etcd.put("/q", "3", 0).await.unwrap_err();
    assert!(
        err.to_string().contains("the cluster may have lost quorum"),
        "{}",
        chain(&err)
    );
}
