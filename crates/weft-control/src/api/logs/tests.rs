//! The logs route through the router (no sockets).

use super::*;
use crate::api::router;
use crate::model::NewHost;
use crate::model::logs::{HostLogs, NewLogRecord};
use crate::secret::{Secret, SecretKind};
use crate::store::sqlite::SqliteStore;
use axum::http::{Method, Request};
use http_body_util::BodyExt as _;
use tower::ServiceExt as _;

const NOW: i64 = 1_800_000_000;

#[test]
fn parameters_are_checked_naming_the_one_at_fault() {
    let p = parse_params(Some("since=30m&level=warn&after=7&tail=3&follow=true"), NOW).unwrap();
    assert_eq!(p.query.since_ms, Some((NOW - 1800) * 1000));
    assert_eq!(p.query.level, LogLevel::Warn);
    assert_eq!((p.query.after, p.tail, p.follow), (7, Some(3), true));
    let p = parse_params(Some("since=1700000000"), NOW).unwrap();
    assert_eq!(p.query.since_ms, Some(1_700_000_000_000));
    assert_eq!(parse_params(None, NOW).unwrap().query, LogQuery::default());
    for (raw, name) in [
        ("since=yesterday", "since"),
        ("level=loud", "level"),
        ("after=-1", "after"),
        ("tail=x", "tail"),
        ("follow=maybe", "follow"),
        ("color=red", "color"),
    ] {
        let err = parse_params(Some(raw), NOW).unwrap_err();
        assert_eq!(err.status, StatusCode::BAD_REQUEST, "{raw}");
        assert!(err.message.contains(name), "{raw}: {}", err.message);
    }
}

struct Setup {
    app: axum::Router,
    store: Arc<SqliteStore>,
    key_a: Secret,
    key_b: Secret,
    tenant_a: TenantId,
    host: HostId,
    _dir: tempfile::TempDir,
}

async fn setup() -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::open(&dir.path().join("c.db")).unwrap());
    let (key_a, key_b) = (
        Secret::generate(SecretKind::ApiKey),
        Secret::generate(SecretKind::ApiKey),
    );
    let tenant_a = store.create_tenant("acme", &key_a, NOW).await.unwrap().id;
    store.create_tenant("beta", &key_b, NOW).await.unwrap();
    let token = Secret::generate(SecretKind::EnrollToken);
    store
        .create_token(&tenant_a, &token, NOW + 60, 1, NOW)
        .await
        .unwrap();
    let new = NewHost {
        id: HostId::generate(),
        name: "h2".into(),
    };
    let host = store.redeem_token(&token, &new, NOW).await.unwrap().id;
    let app = router(AppState {
        store: store.clone(),
        clock: Arc::new(|| NOW),
    });
    Setup {
        app,
        store,
        key_a,
        key_b,
        tenant_a,
        host,
        _dir: dir,
    }
}

impl Setup {
    async fn append(&self, messages: &[(&str, &str)]) {
        let records = messages
            .iter()
            .map(|(level, m)| NewLogRecord::from_agent(NOW * 1000, level, "weft_agent", m).unwrap())
            .collect();
        let batch = HostLogs {
            tenant: self.tenant_a.clone(),
            host: self.host.clone(),
            records,
        };
        self.store.append_logs(&[batch], 100).await.unwrap();
    }

    fn request(&self, key: &Secret, query: &str) -> Request<Body> {
        Request::builder()
            .method(Method::GET)
            .uri(format!("/v1/hosts/{}/logs{query}", self.host))
            .header("authorization", format!("Bearer {}", key.expose()))
            .body(Body::empty())
            .unwrap()
    }

    async fn get(&self, key: &Secret, query: &str) -> (StatusCode, String) {
        let res = self
            .app
            .clone()
            .oneshot(self.request(key, query))
            .await
            .unwrap();
        let status = res.status();
        let bytes = res.into_body().collect().await.unwrap().to_bytes();
        (status, String::from_utf8_lossy(&bytes).into_owned())
    }
}

fn messages(lines: &str) -> Vec<String> {
    lines
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            v["message"].as_str().unwrap().to_string()
        })
        .collect()
}

#[tokio::test]
async fn a_tenant_reads_its_hosts_records_as_json_lines_filtered() {
    let s = setup().await;
    s.append(&[("info", "one"), ("debug", "two"), ("error", "three")])
        .await;
    let (status, body) = s.get(&s.key_a, "").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(messages(&body), ["one", "two", "three"]);
    let first: serde_json::Value = serde_json::from_str(body.lines().next().unwrap()).unwrap();
    assert_eq!(first["seq"], 1);
    assert_eq!(first["level"], "info");
    assert_eq!(first["time_ms"], NOW * 1000);
    assert_eq!(
        messages(&s.get(&s.key_a, "?level=info").await.1),
        ["one", "three"]
    );
    assert_eq!(messages(&s.get(&s.key_a, "?tail=1").await.1), ["three"]);
    assert_eq!(messages(&s.get(&s.key_a, "?after=2").await.1), ["three"]);
    // Another tenant's key: not found, nothing shown.
    let (status, body) = s.get(&s.key_b, "?follow=true").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(!body.contains("one"), "{body}");
    let (status, body) = s.get(&s.key_a, "?level=loud").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.contains("level"), "{body}");
}

#[tokio::test]
async fn a_follower_gets_new_records_and_its_answer_ends_with_the_host() {
    let s = setup().await;
    s.append(&[("info", "before")]).await;
    let res = s
        .app
        .clone()
        .oneshot(s.request(&s.key_a, "?follow=true"))
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["content-type"], "application/x-ndjson");
    let mut body = res.into_body();
    let mut seen = String::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let mut appended = false;
    while !seen.contains("after") {
        let frame = tokio::time::timeout_at(deadline, body.frame())
            .await
            .expect("the follower got the new record in time");
        let frame = frame.expect("the answer is still open").unwrap();
        if let Ok(data) = frame.into_data() {
            seen.push_str(&String::from_utf8_lossy(&data));
        }
        if seen.contains("before") && !appended {
            s.append(&[("warn", "after")]).await;
            appended = true;
        }
    }
    assert_eq!(messages(&seen), ["before", "after"]);
    s.store
        .delete_host(&s.tenant_a, &s.host, NOW)
        .await
        .unwrap();
    let end = tokio::time::timeout(Duration::from_secs(10), body.frame())
        .await
        .expect("the answer ended after the host was deleted");
    assert!(end.is_none(), "{end:?}");
}
