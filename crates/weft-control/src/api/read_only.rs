//! The dashboard over one snapshot, read-only: what `weft status --file F
//! --web ADDR` serves for a mesh file's lab (no control plane, no tenant,
//! no key). The same page and files as the control plane's, and the three
//! routes the page reads — `/v1/status` (the latest snapshot, in the
//! control plane's shape), `/v1/sites` (none) and `/v1/events` (`change`
//! whenever the snapshot's shape moved: hosts, states, links' health) —
//! so the page needs no second implementation. It signs in to nothing: the
//! status answers without a key, which is how the page knows it is
//! read-only (and hides sign-out and tokens).
//!
//! Plain HTTP, for loopback: the caller refuses other addresses.

use super::dashboard;
use axum::Router;
use axum::body::Body;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use serde_json::Value;
use std::hash::{Hash as _, Hasher as _};
use std::time::Duration;
use tokio::sync::watch;

/// The latest snapshot (`Err`: why there is none), as the refresher
/// publishes it.
pub type Snapshot = watch::Receiver<Result<Value, String>>;

/// A snapshot's shape: everything but what moves all the time (bytes,
/// handshake and report times), so counters alone send no event.
pub fn shape(value: &Value) -> u64 {
    fn strip(v: &Value) -> Value {
        match v {
            Value::Object(m) => Value::Object(
                m.iter()
                    .filter(|(k, _)| {
                        !matches!(
                            k.as_str(),
                            "rx_bytes" | "tx_bytes" | "last_handshake" | "last_seen"
                        )
                    })
                    .map(|(k, v)| (k.clone(), strip(v)))
                    .collect(),
            ),
            Value::Array(a) => Value::Array(a.iter().map(strip).collect()),
            other => other.clone(),
        }
    }
    let mut h = std::collections::hash_map::DefaultHasher::new();
    strip(value).to_string().hash(&mut h);
    h.finish()
}

fn json(status: StatusCode, body: String) -> Response {
    (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

pub fn router(snapshot: Snapshot) -> Router {
    let status = {
        let snapshot = snapshot.clone();
        move || {
            let now = snapshot.borrow().clone();
            async move {
                match now {
                    Ok(v) => json(StatusCode::OK, v.to_string()),
                    Err(why) => json(
                        StatusCode::SERVICE_UNAVAILABLE,
                        serde_json::json!({ "error": why }).to_string(),
                    ),
                }
            }
        }
    };
    let events = move || {
        let mut snapshot = snapshot.clone();
        async move {
            let (tx, rx) =
                tokio::sync::mpsc::channel::<Result<String, std::convert::Infallible>>(4);
            tokio::spawn(async move {
                let mut last = None;
                loop {
                    let now = snapshot.borrow_and_update().as_ref().ok().map(shape);
                    if now.is_some() && now != last {
                        last = now;
                        if tx
                            .send(Ok("event: change\ndata: {}\n\n".into()))
                            .await
                            .is_err()
                        {
                            return;
                        }
                    }
                    tokio::select! {
                        changed = snapshot.changed() => if changed.is_err() { return },
                        () = tokio::time::sleep(Duration::from_secs(15)) => {
                            if tx.send(Ok(": keep-alive\n\n".into())).await.is_err() {
                                return;
                            }
                        }
                        () = tx.closed() => return,
                    }
                }
            });
            Response::builder()
                .header(header::CONTENT_TYPE, "text/event-stream")
                .header(header::CACHE_CONTROL, "no-store")
                .body(Body::from_stream(
                    tokio_stream::wrappers::ReceiverStream::new(rx),
                ))
                .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
        }
    };
    Router::new()
        .route("/", get(dashboard::index))
        .route("/assets/{file}", get(dashboard::asset))
        .route("/v1/status", get(status))
        .route(
            "/v1/sites",
            get(|| async { json(StatusCode::OK, "[]".into()) }),
        )
        .route("/v1/events", get(events))
        .fallback(|| async {
            json(
                StatusCode::NOT_FOUND,
                r#"{"error":"not on a mesh file's read-only page"}"#.into(),
            )
        })
}

/// Serve `router` on `listener` over plain HTTP/1.1 until the task ends.
pub async fn serve(listener: tokio::net::TcpListener, router: Router) {
    loop {
        let Ok((tcp, _)) = listener.accept().await else {
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        };
        let app = router.clone();
        tokio::spawn(async move {
            let _ = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(Duration::from_secs(10))
                .serve_connection(TokioIo::new(tcp), TowerToHyperService::new(app))
                .await;
        });
    }
}

#[cfg(test)]
mod tests;
