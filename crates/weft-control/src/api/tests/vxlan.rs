//! The VXLAN networks' routes: made for exactly the site's hosts, every
//! bad field refused by name, 409s naming what is in the way.

use super::*;

#[tokio::test]
async fn a_sites_vxlan_network_has_exactly_the_sites_hosts() {
    let f = fixture().await;
    let key = Some(&f.key_a);
    let a = tenant_a(&f).await;
    // a1 (no site) is not in lan; e1, enrolled into edge, is.
    let lan = call(&f.router, &Method::GET, "/v1/vxlan-networks/lan", key, None).await;
    assert_eq!(lan.status, StatusCode::OK, "{}", lan.text);
    assert_eq!(lan.json()["blocks"], serde_json::json!([]));
    assert_eq!(lan.json()["vni"], crate::model::FIRST_ASSIGNED_VNI);
    assert_eq!(lan.json()["over"], "blue");
    let e1 = enroll(&f.store, &a, "e1").await;
    f.store.set_host_site(&a, &e1, Some("edge")).await.unwrap();

    let body = r#"{"name":"lan2","subnet":"10.51.0.0/16","vni":100,"mtu":1400}"#;
    let reply = call(
        &f.router,
        &Method::POST,
        "/v1/sites/edge/vxlan-networks",
        key,
        Some(body),
    )
    .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    let made = reply.json();
    assert_eq!(
        (made["id"].as_str(), made["site"].as_str()),
        (Some("lan2"), Some("edge"))
    );
    assert_eq!(
        (made["vni"].as_u64(), made["mtu"].as_u64()),
        (Some(100), Some(1400))
    );
    let hosts: Vec<&str> = (made["blocks"].as_array().unwrap().iter())
        .map(|b| b["host"].as_str().unwrap())
        .collect();
    assert_eq!(hosts, [e1.as_str()]);
    let list = call(
        &f.router,
        &Method::GET,
        "/v1/sites/edge/vxlan-networks",
        key,
        None,
    )
    .await;
    let list = list.json();
    let names: Vec<&str> = (list.as_array().unwrap().iter())
        .map(|n| n["id"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["lan", "lan2"]);
    // It is a network of the tenant's, listed as vxlan.
    let reply = call(&f.router, &Method::GET, "/v1/networks/lan2", key, None).await;
    assert_eq!(reply.json()["mode"], "vxlan");

    // What is in the way is named: the site's networks, the carrier.
    let reply = call(&f.router, &Method::DELETE, "/v1/sites/edge", key, None).await;
    assert_eq!(reply.status, StatusCode::CONFLICT, "{}", reply.text);
    for name in ["\"e1\"", "\"lan\"", "\"lan2\""] {
        assert!(error_of(&reply).contains(name), "{name}: {}", reply.text);
    }
    let reply = call(&f.router, &Method::DELETE, "/v1/networks/blue", key, None).await;
    assert_eq!(reply.status, StatusCode::CONFLICT, "{}", reply.text);
    assert!(error_of(&reply).contains("\"lan\""), "{}", reply.text);
    let reply = call(
        &f.router,
        &Method::PUT,
        "/v1/networks/lan2/hosts",
        key,
        Some(r#"{"all":true}"#),
    )
    .await;
    assert_eq!(reply.status, StatusCode::CONFLICT, "{}", reply.text);
    assert!(error_of(&reply).contains("site"), "{}", reply.text);

    // Deleted by id; a WireGuard network is not a VXLAN network.
    let reply = call(
        &f.router,
        &Method::DELETE,
        "/v1/vxlan-networks/blue",
        key,
        None,
    )
    .await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND, "{}", reply.text);
    for id in ["lan2", "lan"] {
        let path = format!("/v1/vxlan-networks/{id}");
        let reply = call(&f.router, &Method::DELETE, &path, key, None).await;
        assert_eq!(reply.status, StatusCode::NO_CONTENT, "{}", reply.text);
        let reply = call(&f.router, &Method::GET, &path, key, None).await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{}", reply.text);
    }
    assert!(
        f.store
            .blocks(&a)
            .await
            .unwrap()
            .iter()
            .all(|b| b.network == "blue")
    );
}

#[tokio::test]
async fn bad_vxlan_requests_are_refused_naming_the_field_and_change_nothing() {
    let f = fixture().await;
    let key = Some(&f.key_a);
    let path = "/v1/sites/edge/vxlan-networks";
    let vni = crate::model::FIRST_ASSIGNED_VNI;
    let cases: Vec<(String, StatusCode, &str)> = vec![
        (
            r#"{"name":"x","subnet":"10.60.0.0/16","vni":0}"#.into(),
            StatusCode::BAD_REQUEST,
            "vni",
        ),
        (
            r#"{"name":"x","subnet":"10.60.0.0/16","vni":16777216}"#.into(),
            StatusCode::BAD_REQUEST,
            "vni",
        ),
        (
            r#"{"name":"x","subnet":"10.60.0.0/16","vni":-1}"#.into(),
            StatusCode::BAD_REQUEST,
            "vni",
        ),
        (
            r#"{"name":"x","subnet":"10.60.0.0/16","mtu":100}"#.into(),
            StatusCode::BAD_REQUEST,
            "mtu",
        ),
        (
            r#"{"name":"x","subnet":"10.60.0.0/16","mtu":1400,"over":"blue"}"#.into(),
            StatusCode::BAD_REQUEST,
            "mtu",
        ),
        (
            r#"{"name":"x","subnet":"10.60.0.0/16","over":"nope"}"#.into(),
            StatusCode::BAD_REQUEST,
            "over",
        ),
        (
            r#"{"name":"x","subnet":"10.60.0.0/16","over":"lan"}"#.into(),
            StatusCode::BAD_REQUEST,
            "over",
        ),
        (
            r#"{"name":"x","subnet":"10.60.0.0/16","mode":"vxlan"}"#.into(),
            StatusCode::BAD_REQUEST,
            "mode",
        ),
        (
            r#"{"name":"x","subnet":"10.42.0.0/24"}"#.into(),
            StatusCode::BAD_REQUEST,
            "subnet",
        ),
        (r#"{"name":"x"}"#.into(), StatusCode::BAD_REQUEST, "subnet"),
        (
            r#"{"name":"Bad!","subnet":"10.60.0.0/16"}"#.into(),
            StatusCode::BAD_REQUEST,
            "name",
        ),
        (
            r#"{"name":"blue","subnet":"10.60.0.0/16"}"#.into(),
            StatusCode::CONFLICT,
            "blue",
        ),
        (
            format!(r#"{{"name":"x","subnet":"10.60.0.0/16","vni":{vni}}}"#),
            StatusCode::CONFLICT,
            "vni",
        ),
    ];
    let before = call(&f.router, &Method::GET, "/v1/status", key, None)
        .await
        .text;
    for (body, status, field) in &cases {
        let reply = call(&f.router, &Method::POST, path, key, Some(body)).await;
        assert_eq!(reply.status, *status, "{body}: {}", reply.text);
        assert!(error_of(&reply).contains(field), "{body}: {}", reply.text);
    }
    // A site that is not there; the generic route will not make one.
    let body = r#"{"name":"x","subnet":"10.60.0.0/16"}"#;
    let reply = call(
        &f.router,
        &Method::POST,
        "/v1/sites/north/vxlan-networks",
        key,
        Some(body),
    )
    .await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND, "{}", reply.text);
    let body = r#"{"name":"x","subnet":"10.60.0.0/16","mode":"vxlan"}"#;
    let reply = call(&f.router, &Method::POST, "/v1/networks", key, Some(body)).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", reply.text);
    assert!(
        error_of(&reply).contains("vxlan-networks"),
        "{}",
        reply.text
    );
    let after = call(&f.router, &Method::GET, "/v1/status", key, None)
        .await
        .text;
    assert_eq!(before, after);
}
