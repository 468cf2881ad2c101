//! The sites' routes: made, listed, refused with the field named, deleted
//! only when empty (409 naming what is left), hosts moved between them.

use super::*;

#[tokio::test]
async fn sites_are_made_listed_and_deleted_once_empty() {
    let f = fixture().await;
    let key = Some(&f.key_a);
    let body = r#"{"name":"core","labels":{"region":"eu-west"}}"#;
    let reply = call(&f.router, &Method::POST, "/v1/sites", key, Some(body)).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    assert_eq!(reply.json()["labels"]["region"], "eu-west");
    let reply = call(&f.router, &Method::POST, "/v1/sites", key, Some(body)).await;
    assert_eq!(reply.status, StatusCode::CONFLICT, "{}", reply.text);
    let list = call(&f.router, &Method::GET, "/v1/sites", key, None)
        .await
        .json();
    let names: Vec<&str> = (list.as_array().unwrap().iter())
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["core", "edge"]);
    let reply = call(&f.router, &Method::GET, "/v1/sites/nope", key, None).await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);

    // A token for the site: the hosts it enrolls are in it.
    let reply = call(
        &f.router,
        &Method::POST,
        "/v1/tokens",
        key,
        Some(r#"{"site":"core"}"#),
    )
    .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    assert_eq!(reply.json()["site"], "core");
    let token = Secret::parse(
        SecretKind::EnrollToken,
        reply.json()["token"].as_str().unwrap(),
    )
    .unwrap();
    let new = NewHost {
        id: HostId::generate(),
        name: "c1".into(),
    };
    let c1 = f.store.redeem_token(&token, &new, NOW).await.unwrap().id;
    let reply = call(&f.router, &Method::GET, "/v1/sites/core/hosts", key, None).await;
    let hosts = reply.json();
    assert_eq!(hosts.as_array().unwrap().len(), 1, "{hosts}");
    assert_eq!(hosts[0]["id"], c1.as_str());
    assert_eq!(hosts[0]["site"], "core");

    // Not while a host is left: 409 naming it.
    let reply = call(&f.router, &Method::DELETE, "/v1/sites/core", key, None).await;
    assert_eq!(reply.status, StatusCode::CONFLICT, "{}", reply.text);
    assert!(error_of(&reply).contains("\"c1\""), "{}", reply.text);

    // Moved to edge: core is empty, edge lists it.
    let path = format!("/v1/hosts/{c1}");
    let reply = call(
        &f.router,
        &Method::PUT,
        &path,
        key,
        Some(r#"{"site":"edge"}"#),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(reply.json()["site"], "edge");
    let reply = call(&f.router, &Method::GET, "/v1/sites/core/hosts", key, None).await;
    assert_eq!(reply.json(), serde_json::json!([]));
    let reply = call(&f.router, &Method::DELETE, "/v1/sites/core", key, None).await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT, "{}", reply.text);
    // Out of any site.
    let reply = call(
        &f.router,
        &Method::PUT,
        &path,
        key,
        Some(r#"{"site":null}"#),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(reply.json()["site"], Value::Null);
    assert_eq!(f.store.host(&c1).await.unwrap().unwrap().site, None);
}

#[tokio::test]
async fn bad_site_requests_are_refused_naming_the_field_and_change_nothing() {
    let f = fixture().await;
    let key = Some(&f.key_a);
    let before = call(&f.router, &Method::GET, "/v1/sites", key, None)
        .await
        .text;
    let sites = [
        (r#"{"name":"Core"}"#, StatusCode::BAD_REQUEST, "site"),
        (r#"{"labels":{}}"#, StatusCode::BAD_REQUEST, "name"),
        (
            r#"{"name":"core","labels":{"a b":"x"}}"#,
            StatusCode::BAD_REQUEST,
            "labels",
        ),
        (
            r#"{"name":"core","labels":{"k":5}}"#,
            StatusCode::BAD_REQUEST,
            "labels",
        ),
        (
            r#"{"name":"core","colour":"red"}"#,
            StatusCode::BAD_REQUEST,
            "colour",
        ),
        (r#"{"name":"edge"}"#, StatusCode::CONFLICT, "edge"),
    ];
    for (body, status, field) in sites {
        let reply = call(&f.router, &Method::POST, "/v1/sites", key, Some(body)).await;
        assert_eq!(reply.status, status, "{body}: {}", reply.text);
        assert!(error_of(&reply).contains(field), "{body}: {}", reply.text);
    }
    assert_eq!(
        call(&f.router, &Method::GET, "/v1/sites", key, None)
            .await
            .text,
        before
    );

    let path = format!("/v1/hosts/{}", f.host_a);
    let moves = [
        ("{}", StatusCode::BAD_REQUEST, "site"),
        (r#"{"site":"Edge"}"#, StatusCode::BAD_REQUEST, "site"),
        (r#"{"site":5}"#, StatusCode::BAD_REQUEST, "site"),
        (
            r#"{"site":"edge","name":"x"}"#,
            StatusCode::BAD_REQUEST,
            "name",
        ),
        (r#"{"site":"nowhere"}"#, StatusCode::NOT_FOUND, "site"),
    ];
    for (body, status, field) in moves {
        let reply = call(&f.router, &Method::PUT, &path, key, Some(body)).await;
        assert_eq!(reply.status, status, "{body}: {}", reply.text);
        assert!(error_of(&reply).contains(field), "{body}: {}", reply.text);
    }
    assert_eq!(f.store.host(&f.host_a).await.unwrap().unwrap().site, None);
    let reply = call(
        &f.router,
        &Method::POST,
        "/v1/tokens",
        key,
        Some(r#"{"site":"nowhere"}"#),
    )
    .await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND, "{}", reply.text);
    assert!(error_of(&reply).contains("site"), "{}", reply.text);
    let reply = call(
        &f.router,
        &Method::POST,
        "/v1/tokens",
        key,
        Some(r#"{"site":"Edge!"}"#),
    )
    .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", reply.text);
    assert!(error_of(&reply).contains("site"), "{}", reply.text);
}

#[tokio::test]
async fn a_tenant_cannot_put_its_host_into_another_tenants_site() {
    let f = fixture().await;
    let b = f
        .store
        .api_key(f.key_b.id())
        .await
        .unwrap()
        .unwrap()
        .info
        .tenant;
    let host_b = f.store.list_hosts(&b).await.unwrap()[0].id.clone();
    let path = format!("/v1/hosts/{host_b}");
    // A's site `edge` is not B's: not found, and B's host stays out.
    let reply = call(
        &f.router,
        &Method::PUT,
        &path,
        Some(&f.key_b),
        Some(r#"{"site":"edge"}"#),
    )
    .await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND, "{}", reply.text);
    let reply = call(
        &f.router,
        &Method::POST,
        "/v1/tokens",
        Some(&f.key_b),
        Some(r#"{"site":"edge"}"#),
    )
    .await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND, "{}", reply.text);
    assert_eq!(f.store.host(&host_b).await.unwrap().unwrap().site, None);
    // The control: A may.
    let path = format!("/v1/hosts/{}", f.host_a);
    let reply = call(
        &f.router,
        &Method::PUT,
        &path,
        Some(&f.key_a),
        Some(r#"{"site":"edge"}"#),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
}
