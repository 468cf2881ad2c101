//! Hosts' log records: numbered per host, the newest kept, read back by
//! cursor, time and level, only by the host's own tenant, gone with it.

use super::*;
use crate::model::logs::{HostLogs, LogLevel, LogQuery, NewLogRecord};

fn records(from: i64, n: i64, message_len: usize) -> Vec<NewLogRecord> {
    (from..from + n)
        .map(|i| {
            let level = if i % 2 == 0 { "warn" } else { "debug" };
            let pad = "m".repeat(message_len.saturating_sub(8));
            NewLogRecord::from_agent(i, level, "weft_agent", &format!("r{i} {pad}")).unwrap()
        })
        .collect()
}

fn batch(tenant: &TenantId, host: &HostId, records: Vec<NewLogRecord>) -> HostLogs {
    HostLogs {
        tenant: tenant.clone(),
        host: host.clone(),
        records,
    }
}

async fn seqs(store: &Shared, t: &TenantId, h: &HostId, query: &LogQuery) -> Vec<u64> {
    let got = store.logs(t, h, query).await.unwrap();
    got.into_iter().map(|r| r.seq).collect()
}

pub(crate) async fn logs_are_numbered_kept_newest_and_read_by_their_tenant_only(store: Shared) {
    let a = tenant(&store, "acme").await;
    let b = tenant(&store, "beta").await;
    let (h1, h2) = (
        enroll(&store, &a, "h1").await,
        enroll(&store, &a, "h2").await,
    );
    let hb = enroll(&store, &b, "hb").await;
    let all = LogQuery::default();
    assert!(seqs(&store, &a, &h1, &all).await.is_empty());
    let revision = store.revision().await.unwrap();

    store
        .append_logs(
            &[
                batch(&a, &h1, records(1, 5, 20)),
                batch(&a, &h2, records(1, 1, 20)),
            ],
            3,
        )
        .await
        .unwrap();
    assert_eq!(seqs(&store, &a, &h1, &all).await, [3, 4, 5]);
    assert_eq!(seqs(&store, &a, &h2, &all).await, [1], "numbered per host");
    store
        .append_logs(&[batch(&a, &h1, records(6, 2, 20))], 3)
        .await
        .unwrap();
    let got = store.logs(&a, &h1, &all).await.unwrap();
    assert_eq!(got.iter().map(|r| r.seq).collect::<Vec<_>>(), [5, 6, 7]);
    assert_eq!(got[1].time_ms, 6);
    assert_eq!(got[1].level, LogLevel::Warn);
    assert_eq!(got[1].target, "weft_agent");
    assert!(got[1].message.starts_with("r6 "), "{got:?}");

    let q = |after, since_ms, level, limit| LogQuery {
        after,
        since_ms,
        level,
        limit,
    };
    assert_eq!(
        seqs(&store, &a, &h1, &q(5, None, LogLevel::Trace, 10)).await,
        [6, 7]
    );
    assert_eq!(
        seqs(&store, &a, &h1, &q(0, None, LogLevel::Warn, 10)).await,
        [6]
    );
    assert_eq!(
        seqs(&store, &a, &h1, &q(0, Some(6), LogLevel::Trace, 10)).await,
        [6, 7]
    );
    assert_eq!(
        seqs(&store, &a, &h1, &q(0, None, LogLevel::Trace, 1)).await,
        [5]
    );

    // Another tenant's host is not found, whichever way it is asked.
    for (t, h) in [(&b, &h1), (&a, &hb)] {
        let err = store.logs(t, h, &all).await.unwrap_err();
        assert!(matches!(err, StoreError::NotFound { .. }), "{err:?}");
    }
    // Records sent under the wrong tenant, or for nobody, are dropped.
    let nobody = HostId::generate();
    store
        .append_logs(
            &[
                batch(&b, &h1, records(50, 3, 20)),
                batch(&a, &nobody, records(50, 3, 20)),
            ],
            3,
        )
        .await
        .unwrap();
    assert_eq!(seqs(&store, &a, &h1, &all).await, [5, 6, 7]);
    assert!(seqs(&store, &b, &hb, &all).await.is_empty());
    assert_eq!(
        store.revision().await.unwrap(),
        revision,
        "logs are not desired state"
    );

    // A large append (more than one etcd request holds) keeps the newest.
    store
        .append_logs(&[batch(&a, &h2, records(100, 2500, 1000))], 1000)
        .await
        .unwrap();
    let kept = seqs(&store, &a, &h2, &all).await;
    assert_eq!(kept.len(), 1000);
    assert_eq!((kept[0], kept[999]), (1502, 2501));

    // A deleted host's records go with it, and none come after.
    store.delete_host(&a, &h2, NOW).await.unwrap();
    store
        .append_logs(&[batch(&a, &h2, records(1, 1, 20))], 3)
        .await
        .unwrap();
    let err = store.logs(&a, &h2, &all).await.unwrap_err();
    assert!(matches!(err, StoreError::NotFound { .. }), "{err:?}");
    assert_eq!(seqs(&store, &a, &h1, &all).await, [5, 6, 7]);
}

/// Two replicas append to one host's logs by turns (its agent moved to
/// the other replica and back): each remembers the head it wrote, finds
/// it moved, and reads it again — every record is kept once, numbered in
/// order. Once the host is deleted, an append through the replica that
/// remembers its head stores nothing.
pub(crate) async fn appends_through_two_replicas_number_every_record_once(
    one: Shared,
    two: Shared,
) {
    let a = tenant(&one, "acme").await;
    let h = enroll(&one, &a, "h1").await;
    let all = LogQuery::default();
    for round in 0..3 {
        let from = round * 4 + 1;
        (one.append_logs(&[batch(&a, &h, records(from, 2, 20))], 100)
            .await)
            .unwrap();
        (two.append_logs(&[batch(&a, &h, records(from + 2, 2, 20))], 100)
            .await)
            .unwrap();
    }
    let got = one.logs(&a, &h, &all).await.unwrap();
    let seqs: Vec<u64> = got.iter().map(|r| r.seq).collect();
    let times: Vec<i64> = got.iter().map(|r| r.time_ms).collect();
    assert_eq!(seqs, (1..=12).collect::<Vec<u64>>());
    assert_eq!(
        times,
        (1..=12).collect::<Vec<i64>>(),
        "in the order appended"
    );
    assert_eq!(
        seqs_of(&two, &a, &h).await,
        seqs,
        "both replicas read the same"
    );

    one.delete_host(&a, &h, 1_800_000_000).await.unwrap();
    (one.append_logs(&[batch(&a, &h, records(13, 1, 20))], 100)
        .await)
        .unwrap();
    assert!(
        one.logs(&a, &h, &all).await.is_err(),
        "a deleted host's logs are not found"
    );
}

async fn seqs_of(store: &Shared, t: &TenantId, h: &HostId) -> Vec<u64> {
    seqs(store, t, h, &LogQuery::default()).await
}
