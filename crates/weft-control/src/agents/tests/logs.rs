//! `StreamLogs` for real: an enrolled host's batches reach the store,
//! redacted, with its drops counted; another tenant cannot read them.

use super::*;
use crate::model::logs::LogQuery;

#[tokio::test]
async fn a_hosts_streamed_records_are_stored_redacted_with_its_drops() {
    let p = plane((100.0, 100)).await;
    let token = p.token("acme", 1, 60).await;
    let (got, key) = enroll(&p, &token, "h2").await.unwrap();
    let channel = p
        .channel(Some((&got.certificate_pem, &key.serialize_pem())))
        .await
        .unwrap();
    let mut client = AgentControlClient::new(channel);
    let record = |message: String| pb::LogRecord {
        time_ms: 1_000,
        level: "info".into(),
        target: "weft_agent::control".into(),
        message,
    };
    let batches = vec![
        pb::LogBatch {
            records: vec![record("hello from h2".into())],
            dropped: 0,
        },
        pb::LogBatch {
            records: vec![record(format!("enrolling with {token}"))],
            dropped: 5,
        },
    ];
    client
        .stream_logs(tokio_stream::iter(batches))
        .await
        .unwrap();
    let store = &p.running.store;
    let tenant = store.tenant_by_name("acme").await.unwrap().unwrap().id;
    let host = HostId::parse("host", &got.host_id).unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let records = loop {
        let r = store
            .logs(&tenant, &host, &LogQuery::default())
            .await
            .unwrap();
        if r.len() == 3 {
            break r;
        }
        assert!(tokio::time::Instant::now() < deadline, "stored only {r:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(records[0].message, "hello from h2");
    assert!(
        records[1].message.contains("dropped 5 log records"),
        "{records:?}"
    );
    let secret_part = token.rsplit('_').next().unwrap();
    assert!(!records[2].message.contains(secret_part), "{records:?}");
    assert!(
        records[2].message.starts_with("enrolling with wet_"),
        "{records:?}"
    );

    // Another tenant's view of the same host: nothing.
    p.token("beta", 1, 60).await;
    let beta = store.tenant_by_name("beta").await.unwrap().unwrap().id;
    assert!(
        store
            .logs(&beta, &host, &LogQuery::default())
            .await
            .is_err()
    );
}
