//! No answer of the REST API and no log line, down to trace level, holds
//! an API key or an enrollment token in full — nor a good part of one.
//! Its own test binary: the subscriber must be the process's global one,
//! so that every callsite, on every thread, reports to it.

use axum::body::Body;
use axum::http::{Method, Request};
use std::sync::{Arc, Mutex, PoisonError};
use tower::ServiceExt as _;
use weft_control::api::{AppState, router, routes};
use weft_control::model::{HostId, NetworkSpec, NewHost};
use weft_control::store::Store;
use weft_control::store::sqlite::SqliteStore;

const NOW: i64 = 1_800_000_000;

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

async fn send(
    app: &axum::Router,
    method: Method,
    path: &str,
    auth: &str,
    body: Option<&str>,
) -> (u16, String) {
    let req = Request::builder()
        .method(method)
        .uri(path)
        .header("authorization", auth)
        .header("content-type", "application/json")
        .body(
            body.map(|b| Body::from(b.to_string()))
                .unwrap_or_else(Body::empty),
        )
        .unwrap();
    let res = app.clone().oneshot(req).await.unwrap();
    let status = res.status().as_u16();
    let stream =
        res.headers().get("content-type").map(|v| v.as_bytes()) == Some(b"text/event-stream");
    let bytes = if stream {
        // An event stream never ends: its answer is its first event.
        use http_body_util::BodyExt as _;
        let mut body = res.into_body();
        let frame = body.frame().await.expect("a first event").unwrap();
        frame.into_data().unwrap_or_default()
    } else {
        axum::body::to_bytes(res.into_body(), usize::MAX)
            .await
            .unwrap()
    };
    (status, String::from_utf8_lossy(&bytes).into_owned())
}

#[tokio::test]
async fn no_answer_or_log_line_holds_a_key_or_token() {
    let captured = Captured::default();
    let sink = captured.clone();
    tracing::subscriber::set_global_default(
        tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_writer(move || sink.clone())
            .finish(),
    )
    .unwrap();

    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::open(&dir.path().join("c.db")).unwrap());
    let (tenant, key) = weft_control::admin::create_tenant(store.as_ref(), "acme", NOW)
        .await
        .unwrap();
    let blue = NetworkSpec::new("blue", "10.42.0.0/16", "", false, "", None).unwrap();
    store.create_network(&tenant.id, &blue, NOW).await.unwrap();
    let (_, first_token) = weft_control::admin::create_token(
        store.as_ref(),
        "acme",
        std::time::Duration::from_secs(60),
        1,
        NOW,
    )
    .await
    .unwrap();
    let host = NewHost {
        id: HostId::generate(),
        name: "alpha".into(),
    };
    store.redeem_token(&first_token, &host, NOW).await.unwrap();
    let app = router(AppState {
        store: store.clone(),
        clock: Arc::new(|| NOW),
    });

    let bearer = |s: &str| format!("Bearer {s}");
    let (status, created) = send(
        &app,
        Method::POST,
        "/v1/tokens",
        &bearer(key.expose()),
        Some("{}"),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    let token: serde_json::Value = serde_json::from_str(&created).unwrap();
    let token = token["token"].as_str().unwrap().to_string();
    let forged = format!("{}ffff", &key.expose()[..key.expose().len() - 4]);
    let secrets = [
        key.expose().to_string(),
        first_token.expose().to_string(),
        token.clone(),
        forged.clone(),
    ];

    let mut answers = String::new();
    for presented in [key.expose(), forged.as_str(), token.as_str(), "wak_garbage"] {
        for r in routes() {
            let path = r
                .path
                .replace("{name}", "blue")
                .replace("{id}", host.id.as_str());
            let body = r
                .request
                .map(|_| r#"{"name":"green","subnet":"10.44.0.0/16"}"#);
            let body = if r.path == "/v1/tokens" {
                Some("{}")
            } else {
                body
            };
            let (_, text) = send(&app, r.method.clone(), &path, &bearer(presented), body).await;
            // The one answer that holds a secret by design: a new token.
            if !(r.path == "/v1/tokens" && r.method == Method::POST) {
                answers.push_str(&text);
            }
        }
        // A secret pasted into a path or a body comes back nowhere.
        for path in [
            format!("/v1/hosts/{presented}"),
            format!("/v1/networks/{presented}"),
        ] {
            let (status, text) = send(&app, Method::GET, &path, &bearer(key.expose()), None).await;
            assert_eq!(status, 404, "{text}");
            answers.push_str(&text);
        }
        let body = format!(r#"{{"name":"{presented}","subnet":"{presented}"}}"#);
        let (status, text) = send(
            &app,
            Method::POST,
            "/v1/networks",
            &bearer(key.expose()),
            Some(&body),
        )
        .await;
        assert_eq!(status, 400, "{text}");
        answers.push_str(&text);
    }
    let logs = String::from_utf8_lossy(&captured.0.lock().unwrap_or_else(PoisonError::into_inner))
        .into_owned();
    assert!(logs.contains("request"), "nothing logged at debug level?");
    assert!(logs.contains(key.id()), "keys are logged by id");
    for secret in &secrets {
        let secret_part = secret.rsplit('_').next().unwrap();
        for chunk in secret_part.as_bytes().chunks(16) {
            let chunk = std::str::from_utf8(chunk).unwrap();
            assert!(
                !logs.contains(chunk),
                "a log line holds part of a secret:\n{logs}"
            );
            assert!(
                !answers.contains(chunk),
                "an answer holds part of a secret:\n{answers}"
            );
        }
    }
}
