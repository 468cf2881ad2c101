//! The event stream through the router: a first event, one more when a
//! host's link health changes (which moves no revision), and nothing of
//! another tenant's changes.

use super::*;
use crate::api::tests::{NOW, fixture};
use crate::model::{HostReport, NetworkSpec, PeerLink};
use crate::store::Store as _;
use axum::http::{Method, Request};
use http_body_util::BodyExt as _;
use std::sync::Arc;
use tower::ServiceExt as _;

fn report(health: &str) -> HostReport {
    HostReport {
        endpoint: "192.0.2.1".into(),
        version: "0.1.0".into(),
        keys: vec![],
        peer_health: [(health.to_string(), 1)].into(),
        peer_links: Some(vec![PeerLink {
            network: "blue".into(),
            public_key: "K".into(),
            health: health.into(),
            last_handshake: Some(NOW),
            rx_bytes: 1,
            tx_bytes: 2,
            endpoint: None,
        }]),
    }
}

async fn next_event(body: &mut axum::body::Body) -> String {
    loop {
        let frame = tokio::time::timeout(Duration::from_secs(20), body.frame())
            .await
            .expect("an event within 20 s")
            .expect("the stream goes on")
            .unwrap();
        let text = String::from_utf8(frame.into_data().unwrap().to_vec()).unwrap();
        if !text.starts_with(':') {
            return text;
        }
    }
}

#[tokio::test]
async fn the_stream_says_change_first_and_again_when_a_link_turns_unhealthy() {
    let f = fixture().await;
    f.store
        .report(&f.host_a, &report("healthy"), NOW)
        .await
        .unwrap();
    let req = Request::builder()
        .method(Method::GET)
        .uri("/v1/events")
        .header("authorization", format!("Bearer {}", f.key_a.expose()))
        .body(axum::body::Body::empty())
        .unwrap();
    let res = f.router.clone().oneshot(req).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["content-type"], "text/event-stream");
    let mut body = res.into_body();
    let revision = f.store.revision().await.unwrap();
    assert_eq!(
        next_event(&mut body).await,
        format!("event: change\ndata: {{\"revision\":{revision}}}\n\n")
    );
    let before = f.store.revision().await.unwrap();
    f.store
        .report(&f.host_a, &report("unhealthy"), NOW)
        .await
        .unwrap();
    assert_eq!(
        f.store.revision().await.unwrap(),
        before,
        "health is no revision"
    );
    assert!(next_event(&mut body).await.starts_with("event: change\n"));
}

#[tokio::test]
async fn another_tenants_changes_leave_the_digest_alone_and_ones_own_move_it() {
    let f = fixture().await;
    let state = AppState {
        store: f.store.clone(),
        clock: Arc::new(|| NOW),
    };
    let tenant = |key: &crate::secret::Secret| {
        let store = f.store.clone();
        let id = key.id().to_string();
        async move { store.api_key(&id).await.unwrap().unwrap().info.tenant }
    };
    let a = tenant(&f.key_a).await;
    let b = tenant(&f.key_b).await;
    let first = digest(&state, &a).await.unwrap();
    let green = NetworkSpec::new("green", "10.60.0.0/16", "", false, "", None).unwrap();
    f.store.create_network(&b, &green, NOW).await.unwrap();
    assert_eq!(digest(&state, &a).await.unwrap(), first, "B's network");
    f.store.create_network(&a, &green, NOW).await.unwrap();
    assert_ne!(digest(&state, &a).await.unwrap(), first, "A's own network");
    // A VM placed on A's host moves A's digest (its host's page shows it).
    let before = digest(&state, &a).await.unwrap();
    let vm = crate::model::VmSpec::new("vm2", f.host_a.clone(), vec![]).unwrap();
    let vm = crate::store::VmChange::Create(vm);
    f.store.change_vm(&a, vm, NOW).await.unwrap();
    assert_ne!(digest(&state, &a).await.unwrap(), before, "A's new VM");
}
