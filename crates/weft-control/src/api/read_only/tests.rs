//! The read-only dashboard through its router: the snapshot without a
//! key, nothing else of the API, events by shape.

use super::*;
use crate::api::tests::call_with;
use axum::http::Method;
use serde_json::json;

fn snapshot(health: &str, rx: u64) -> Value {
    json!({ "tenant": "mesh lab", "revision": 0, "networks": [], "hosts": [{
        "id": "h1", "name": "h1", "state": "online", "last_seen": 1,
        "links": [{ "network": "blue", "peer": "h2", "health": health, "rx_bytes": rx }]
    }]})
}

#[test]
fn counters_alone_do_not_change_the_shape_and_health_does() {
    assert_eq!(
        shape(&snapshot("healthy", 1)),
        shape(&snapshot("healthy", 99))
    );
    assert_ne!(
        shape(&snapshot("healthy", 1)),
        shape(&snapshot("unhealthy", 1))
    );
}

#[tokio::test]
async fn the_snapshot_is_served_without_a_key_and_nothing_else_of_the_api() {
    let (tx, rx) = watch::channel(Err("not read yet".to_string()));
    let app = router(rx);
    let reply = call_with(&app, &Method::GET, "/v1/status", &[], None).await;
    assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(reply.text.contains("not read yet"), "{}", reply.text);
    tx.send(Ok(snapshot("healthy", 1))).unwrap();
    let reply = call_with(&app, &Method::GET, "/v1/status", &[], None).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.json(), snapshot("healthy", 1));
    let reply = call_with(&app, &Method::GET, "/v1/events", &[], None).await;
    assert!(reply.text.starts_with("event: change\n"), "{}", reply.text);
    for (method, path) in [
        (Method::POST, "/v1/tokens"),
        (Method::GET, "/v1/tokens"),
        (Method::GET, "/v1/hosts/h1/logs"),
        (Method::DELETE, "/v1/status"),
    ] {
        let reply = call_with(&app, &method, path, &[], None).await;
        assert!(
            reply.status == StatusCode::NOT_FOUND || reply.status == StatusCode::METHOD_NOT_ALLOWED,
            "{method} {path}: {}",
            reply.status
        );
    }
    let page = call_with(&app, &Method::GET, "/", &[], None).await;
    assert_eq!(page.status, StatusCode::OK);
}
