//! The API through its router (no sockets): authorization walked from the
//! route table, bad input, secrets kept out of answers and logs.

use super::*;
use crate::model::{HostId, NetworkSpec, NewHost};
use crate::store::sqlite::SqliteStore;
use axum::body::Body;
use axum::http::StatusCode;
use serde_json::Value;
use tower::ServiceExt as _;

pub(super) const NOW: i64 = 1_800_000_000;

pub(super) struct Fixture {
    pub router: Router,
    pub store: Arc<SqliteStore>,
    pub key_a: Secret,
    pub key_b: Secret,
    pub host_a: HostId,
    pub tenant_a: TenantId,
    _dir: tempfile::TempDir,
}

pub(super) async fn enroll(store: &SqliteStore, tenant: &TenantId, name: &str) -> HostId {
    let token = Secret::generate(SecretKind::EnrollToken);
    store
        .create_token(tenant, &token, NOW + 60, 1, NOW)
        .await
        .unwrap();
    let host = NewHost {
        id: HostId::generate(),
        name: name.into(),
    };
    store.redeem_token(&token, &host, NOW).await.unwrap().id
}

/// Tenant A with network `blue`, site `edge` (VXLAN network `lan` over
/// `blue`), host `alpha-host` (in no site) and VM `vm1` there (no NIC);
/// tenant B with `red` and `b1`.
pub(super) async fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::open(&dir.path().join("c.db")).unwrap());
    let key_a = Secret::generate(SecretKind::ApiKey);
    let key_b = Secret::generate(SecretKind::ApiKey);
    let a = store.create_tenant("acme", &key_a, NOW).await.unwrap().id;
    let b = store.create_tenant("beta", &key_b, NOW).await.unwrap().id;
    let blue = NetworkSpec::new("blue", "10.42.0.0/16", "", false, "", None).unwrap();
    let red = NetworkSpec::new("red", "10.43.0.0/16", "", false, "", None).unwrap();
    store.create_network(&a, &blue, NOW).await.unwrap();
    store.create_network(&b, &red, NOW).await.unwrap();
    let edge = crate::model::SiteSpec::new("edge", Default::default()).unwrap();
    store.create_site(&a, &edge, NOW).await.unwrap();
    let lan = NetworkSpec::vxlan(crate::model::VxlanRequest {
        name: "lan",
        subnet: "10.50.0.0/16",
        site: "edge",
        vni: None,
        mtu: None,
        over: Some("blue"),
        internal: false,
        domain: "",
        block_prefix: None,
    })
    .unwrap();
    store.create_network(&a, &lan, NOW).await.unwrap();
    let host_a = enroll(&store, &a, "alpha-host").await;
    enroll(&store, &b, "b1").await;
    let vm1 = crate::model::VmSpec::new("vm1", host_a.clone(), vec![]).unwrap();
    let vm1 = crate::store::VmChange::Create(vm1);
    store.change_vm(&a, vm1, NOW).await.unwrap();
    let state = AppState {
        store: store.clone(),
        clock: Arc::new(|| NOW),
    };
    Fixture {
        router: router(state),
        store,
        key_a,
        key_b,
        host_a,
        tenant_a: a.clone(),
        _dir: dir,
    }
}

/// The `error` of an answer.
pub(super) fn error_of(reply: &Reply) -> String {
    reply.json()["error"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// Tenant A's id.
pub(super) async fn tenant_a(f: &Fixture) -> TenantId {
    f.store
        .api_key(f.key_a.id())
        .await
        .unwrap()
        .unwrap()
        .info
        .tenant
}

pub(super) struct Reply {
    pub status: StatusCode,
    pub text: String,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or_else(|_| panic!("not JSON: {}", self.text))
    }
}

pub(super) async fn call_with(
    router: &Router,
    method: &Method,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&str>,
) -> Reply {
    let mut req = Request::builder().method(method.clone()).uri(path);
    for (name, value) in headers {
        req = req.header(*name, *value);
    }
    let req = match body {
        Some(b) => req
            .header("content-type", "application/json")
            .body(Body::from(b.to_string())),
        None => req.body(Body::empty()),
    }
    .unwrap();
    let res = router.clone().oneshot(req).await.unwrap();
    let status = res.status();
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
    Reply {
        status,
        text: String::from_utf8_lossy(&bytes).into_owned(),
    }
}

pub(super) async fn call(
    router: &Router,
    method: &Method,
    path: &str,
    key: Option<&Secret>,
    body: Option<&str>,
) -> Reply {
    let auth = key.map(|k| format!("Bearer {}", k.expose()));
    let headers: Vec<(&str, &str)> = auth
        .as_deref()
        .map(|a| vec![("authorization", a)])
        .unwrap_or_default();
    call_with(router, method, path, &headers, body).await
}

/// A route's path with its parameters filled from tenant A's objects.
fn path_of(r: &Route, host_a: &HostId) -> String {
    if r.path.starts_with("/v1/vxlan-networks/") {
        return r.path.replace("{id}", "lan");
    }
    r.path
        .replace("{file}", "app.js")
        .replace("{name}", "blue")
        .replace("{site}", "edge")
        .replace("{vm}", "vm1")
        .replace("{network}", "blue")
        .replace("{id}", host_a.as_str())
}

/// A body the route accepts, so a refusal is about who asks, not what.
fn body_of(r: &Route) -> Option<&'static str> {
    match r.request {
        Some("CreateNetwork") => Some(r#"{"name":"green","subnet":"10.44.0.0/16"}"#),
        Some("CreateToken") => Some("{}"),
        Some("SetNetworkHosts") => Some(r#"{"all":true}"#),
        Some("CreateSite") => Some(r#"{"name":"core"}"#),
        Some("UpdateHost") => Some(r#"{"site":null}"#),
        Some("CreateVxlanNetwork") => Some(r#"{"name":"lan2","subnet":"10.46.0.0/16"}"#),
        Some("CreateVm") => Some(r#"{"id":"vm9","host":"b1"}"#),
        Some("AttachVmNic") => Some(r#"{"network":"blue"}"#),
        Some(other) => panic!("no sample body for {other}: add one here"),
        None => None,
    }
}

#[tokio::test]
async fn every_tenant_route_refuses_missing_malformed_unknown_and_revoked_keys() {
    let f = fixture().await;
    let revoked = Secret::generate(SecretKind::ApiKey);
    let a = f
        .store
        .api_key(f.key_a.id())
        .await
        .unwrap()
        .unwrap()
        .info
        .tenant;
    f.store.add_api_key(&a, &revoked, NOW).await.unwrap();
    f.store.revoke_api_key(revoked.id(), NOW).await.unwrap();
    // The right id with the wrong secret.
    let mut forged = f.key_a.expose().to_string();
    forged.replace_range(forged.len() - 4.., "0000");
    let unknown = Secret::generate(SecretKind::ApiKey);
    let revision = f.store.revision().await.unwrap();
    let mut public = Vec::new();
    for r in routes() {
        let path = path_of(&r, &f.host_a);
        if r.policy == Policy::Public {
            let reply = call(&f.router, &r.method, &path, None, body_of(&r)).await;
            assert!(
                reply.status.is_success(),
                "{} {path}: {}",
                r.method,
                reply.status
            );
            public.push(r.path);
            continue;
        }
        let bearer = |s: &str| format!("Bearer {s}");
        let cases = [
            None,
            Some("Basic YWRtaW46YWRtaW4=".to_string()),
            Some("Bearer".to_string()),
            Some(bearer("wak_nope")),
            Some(bearer(&forged)),
            Some(bearer(unknown.expose())),
            Some(bearer(revoked.expose())),
            Some(f.key_a.expose().to_string()),
        ];
        for auth in &cases {
            let headers: Vec<(&str, &str)> =
                auth.iter().map(|a| ("authorization", a.as_str())).collect();
            let reply = call_with(&f.router, &r.method, &path, &headers, body_of(&r)).await;
            assert_eq!(
                reply.status,
                StatusCode::UNAUTHORIZED,
                "{} {path} with {auth:?}",
                r.method
            );
            assert!(reply.json()["error"].as_str().unwrap().contains("API key"));
        }
    }
    // The dashboard's page and files hold no data: it signs in like any
    // client.
    assert_eq!(
        public,
        ["/", "/assets/{file}", "/v1/openapi.json"],
        "public routes"
    );
    assert_eq!(
        f.store.revision().await.unwrap(),
        revision,
        "a refused call changed state"
    );
}

#[tokio::test]
async fn another_tenants_objects_are_not_found_and_stay_untouched() {
    let f = fixture().await;
    let mut walked = 0;
    for r in routes() {
        if r.policy == Policy::Public {
            continue;
        }
        let path = path_of(&r, &f.host_a);
        let reply = call(&f.router, &r.method, &path, Some(&f.key_b), body_of(&r)).await;
        if r.path.contains('{') {
            assert_eq!(
                reply.status,
                StatusCode::NOT_FOUND,
                "{} {path}: {}",
                r.method,
                reply.text
            );
            walked += 1;
        } else {
            assert!(
                reply.status.is_success(),
                "{} {path}: {}",
                r.method,
                reply.text
            );
            for secret_of_a in ["blue", "alpha-host", f.host_a.as_str(), "10.42.", "edge"] {
                assert!(
                    !reply.text.contains(secret_of_a),
                    "{} {path} shows A's {secret_of_a}: {}",
                    r.method,
                    reply.text
                );
            }
        }
    }
    assert!(walked >= 4, "only {walked} routes with objects");
    // A still has everything.
    let reply = call(&f.router, &Method::GET, "/v1/status", Some(&f.key_a), None).await;
    let status = reply.json();
    assert_eq!(status["networks"][0]["name"], "blue");
    assert_eq!(status["hosts"][0]["id"], f.host_a.as_str());
    assert_eq!(status["networks"][0]["blocks"][0]["block"], "10.42.0.0/24");
}

#[tokio::test]
async fn status_counts_the_tenants_revoked_hosts_and_no_other_tenants() {
    let f = fixture().await;
    let revoked = |key: &Secret| {
        let router = f.router.clone();
        let key = key.clone();
        async move {
            let reply = call(&router, &Method::GET, "/v1/status", Some(&key), None).await;
            reply.json()["revoked_hosts"].as_u64()
        }
    };
    let path = format!("/v1/hosts/{}", f.host_a);
    // B cannot revoke A's host: nothing is counted anywhere.
    let reply = call(&f.router, &Method::DELETE, &path, Some(&f.key_b), None).await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND, "{}", reply.text);
    assert_eq!(revoked(&f.key_a).await, Some(0));
    assert_eq!(revoked(&f.key_b).await, Some(0));
    // A can; A's status counts it, B's does not.
    let reply = call(&f.router, &Method::DELETE, &path, Some(&f.key_a), None).await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT, "{}", reply.text);
    assert_eq!(revoked(&f.key_a).await, Some(1));
    assert_eq!(revoked(&f.key_b).await, Some(0));
}

#[tokio::test]
async fn the_openapi_document_has_every_route_and_every_schema_it_names() {
    let f = fixture().await;
    let doc = call(&f.router, &Method::GET, "/v1/openapi.json", None, None)
        .await
        .json();
    assert_eq!(doc["openapi"], "3.1.0");
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    for r in routes() {
        let op = &doc["paths"][r.path][r.method.as_str().to_ascii_lowercase()];
        assert!(op.is_object(), "{} {} missing", r.method, r.path);
        assert_eq!(
            op["security"] == serde_json::json!([]),
            r.policy == Policy::Public
        );
        for name in r.request.into_iter().chain([r.response.0]) {
            assert!(schemas.contains_key(name), "schema {name}");
        }
    }
    let text = doc.to_string();
    for piece in text.split("#/components/schemas/").skip(1) {
        let name: String = piece.chars().take_while(|c| c.is_alphanumeric()).collect();
        assert!(schemas.contains_key(&name), "dangling $ref {name}");
    }
}

mod networks;
mod sites;
mod vm_run;
mod vms;
mod vxlan;
