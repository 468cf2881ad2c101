//! The networks' and hosts' routes: networks made with a block for every
//! host, bad bodies refused naming the field, a deleted host revoked,
//! forwarding headers ignored, a network's hosts chosen.

use super::*;

#[tokio::test]
async fn networks_are_created_listed_and_deleted_with_blocks_for_every_host() {
    let f = fixture().await;
    let key = Some(&f.key_a);
    let body = r#"{"name":"green","subnet":"10.44.0.0/16","internal":true,"domain":"green.test"}"#;
    let reply = call(&f.router, &Method::POST, "/v1/networks", key, Some(body)).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    let net = reply.json();
    assert_eq!(net["block_prefix"], 24);
    assert_eq!(net["internal"], true);
    assert_eq!(net["blocks"][0]["host"], f.host_a.as_str());
    assert_eq!(net["blocks"][0]["block"], "10.44.0.0/24");
    let list = call(&f.router, &Method::GET, "/v1/networks", key, None)
        .await
        .json();
    let names: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["blue", "green", "lan"]);
    let reply = call(&f.router, &Method::DELETE, "/v1/networks/green", key, None).await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT);
    let reply = call(&f.router, &Method::GET, "/v1/networks/green", key, None).await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    let reply = call(&f.router, &Method::DELETE, "/v1/networks/green", key, None).await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn bad_bodies_are_refused_naming_the_field_and_change_nothing() {
    let f = fixture().await;
    let key = Some(&f.key_a);
    let long = "n".repeat(33);
    let cases: Vec<(String, StatusCode, &str)> = vec![
        (
            r#"{"name":"g","subnet":"10.44.0.0/16","color":"red"}"#.into(),
            StatusCode::BAD_REQUEST,
            "color",
        ),
        (
            r#"{"name":5,"subnet":"10.44.0.0/16"}"#.into(),
            StatusCode::BAD_REQUEST,
            "name",
        ),
        (
            r#"{"name":"g","subnet":"10.44.0.0/16","internal":"yes"}"#.into(),
            StatusCode::BAD_REQUEST,
            "internal",
        ),
        (
            r#"{"name":"g","subnet":"10.44.0.0/16","block_prefix":300}"#.into(),
            StatusCode::BAD_REQUEST,
            "block_prefix",
        ),
        (r#"{"name":"g"}"#.into(), StatusCode::BAD_REQUEST, "subnet"),
        (
            format!(r#"{{"name":"{long}","subnet":"10.44.0.0/16"}}"#),
            StatusCode::BAD_REQUEST,
            "network name",
        ),
        (
            r#"{"name":"g","subnet":"10.42.128.0/17"}"#.into(),
            StatusCode::BAD_REQUEST,
            "subnet",
        ),
        (
            r#"{"name":"g","subnet":"banana"}"#.into(),
            StatusCode::BAD_REQUEST,
            "subnet",
        ),
        (
            r#"{"name":"g","subnet":"10.44.0.0/16","mode":"bridge"}"#.into(),
            StatusCode::BAD_REQUEST,
            "mode",
        ),
        (
            r#"{"name":"blue","subnet":"10.45.0.0/16"}"#.into(),
            StatusCode::CONFLICT,
            "blue",
        ),
        ("[1,2]".into(), StatusCode::BAD_REQUEST, "invalid"),
        ("{".into(), StatusCode::BAD_REQUEST, "invalid"),
        (
            format!(
                r#"{{"name":"g","subnet":"10.44.0.0/16","pad":"{}"}}"#,
                "x".repeat(70_000)
            ),
            StatusCode::PAYLOAD_TOO_LARGE,
            "body larger",
        ),
    ];
    let before = call(&f.router, &Method::GET, "/v1/status", key, None)
        .await
        .text;
    for (body, status, field) in &cases {
        let reply = call(&f.router, &Method::POST, "/v1/networks", key, Some(body)).await;
        assert_eq!(reply.status, *status, "{body:.80}: {}", reply.text);
        let message = reply.json()["error"].as_str().unwrap().to_string();
        assert!(message.contains(field), "{body:.80}: {message}");
        assert!(message.len() < 400, "{message}");
    }
    let tokens = [
        (r#"{"ttl_seconds":0}"#, "ttl_seconds"),
        (r#"{"ttl_seconds":99999999}"#, "ttl_seconds"),
        (r#"{"uses":0}"#, "uses"),
        (r#"{"uses":-1}"#, "uses"),
        (r#"{"tenant":"beta"}"#, "tenant"),
    ];
    for (body, field) in tokens {
        let reply = call(&f.router, &Method::POST, "/v1/tokens", key, Some(body)).await;
        assert_eq!(
            reply.status,
            StatusCode::BAD_REQUEST,
            "{body}: {}",
            reply.text
        );
        assert!(reply.text.contains(field), "{body}: {}", reply.text);
    }
    // Not JSON at all.
    let auth = format!("Bearer {}", f.key_a.expose());
    let reply = call_with(
        &f.router,
        &Method::POST,
        "/v1/networks",
        &[("authorization", &auth), ("content-type", "text/plain")],
        None,
    )
    .await;
    assert_eq!(reply.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    // Bad path values.
    let reply = call(
        &f.router,
        &Method::DELETE,
        "/v1/hosts/..%2f..%2fetc",
        key,
        None,
    )
    .await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    let after = call(&f.router, &Method::GET, "/v1/status", key, None)
        .await
        .text;
    assert_eq!(before, after);
}

#[tokio::test]
async fn deleting_a_host_revokes_it() {
    let f = fixture().await;
    let path = format!("/v1/hosts/{}", f.host_a);
    let reply = call(&f.router, &Method::GET, &path, Some(&f.key_a), None).await;
    assert_eq!(reply.json()["blocks"][0]["network"], "blue");
    let reply = call(&f.router, &Method::DELETE, &path, Some(&f.key_a), None).await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT);
    let reply = call(&f.router, &Method::GET, &path, Some(&f.key_a), None).await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    assert!(
        f.store
            .host(&f.host_a)
            .await
            .unwrap()
            .unwrap()
            .revoked_at
            .is_some()
    );
    let list = call(&f.router, &Method::GET, "/v1/hosts", Some(&f.key_a), None)
        .await
        .json();
    assert_eq!(list, serde_json::json!([]));
}

#[tokio::test]
async fn forwarding_headers_change_nothing() {
    let f = fixture().await;
    let spoof = [
        ("x-forwarded-for", "127.0.0.1"),
        ("x-real-ip", "127.0.0.1"),
        ("forwarded", "for=127.0.0.1;proto=https"),
        ("x-forwarded-user", "admin"),
        ("x-tenant", "acme"),
    ];
    let reply = call_with(&f.router, &Method::GET, "/v1/status", &spoof, None).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    let auth = format!("Bearer {}", f.key_b.expose());
    let mut headers = spoof.to_vec();
    headers.push(("authorization", &auth));
    let path = format!("/v1/hosts/{}", f.host_a);
    let reply = call_with(&f.router, &Method::GET, &path, &headers, None).await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_networks_hosts_are_all_by_default_or_those_chosen() {
    let f = fixture().await;
    let key = Some(&f.key_a);
    let tenant = |k: &Secret| {
        let store = f.store.clone();
        let id = k.id().to_string();
        async move { store.api_key(&id).await.unwrap().unwrap().info.tenant }
    };
    let (a, b) = (tenant(&f.key_a).await, tenant(&f.key_b).await);
    let a2 = enroll(&f.store, &a, "a2").await;
    let of_b = f.store.list_hosts(&b).await.unwrap()[0].id.clone();
    let path = "/v1/networks/blue/hosts";
    let hosts_of = |v: &Value| -> Vec<String> {
        v["hosts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| h["host"].as_str().unwrap().to_string())
            .collect()
    };
    let got = call(&f.router, &Method::GET, path, key, None).await.json();
    assert_eq!(got["all"], true);
    assert_eq!(hosts_of(&got).len(), 2, "{got}");

    let revision = f.store.revision().await.unwrap();
    let bad = [
        (r#"{"hosts":["not-an-id"]}"#.to_string(), "hosts"),
        (format!(r#"{{"hosts":["{of_b}"]}}"#), "hosts"),
        (r#"{"all":true,"hosts":[]}"#.to_string(), "hosts"),
        (r#"{}"#.to_string(), "hosts"),
        (r#"{"all":"yes"}"#.to_string(), "all"),
        (r#"{"all":true,"color":1}"#.to_string(), "color"),
    ];
    for (body, field) in &bad {
        let reply = call(&f.router, &Method::PUT, path, key, Some(body)).await;
        assert_eq!(
            reply.status,
            StatusCode::BAD_REQUEST,
            "{body}: {}",
            reply.text
        );
        assert!(reply.text.contains(field), "{body}: {}", reply.text);
        assert!(!reply.text.contains(of_b.as_str()) || body.contains(of_b.as_str()));
    }
    assert_eq!(
        f.store.revision().await.unwrap(),
        revision,
        "a refused call changed state"
    );

    let body = format!(r#"{{"hosts":["{a2}"]}}"#);
    let reply = call(&f.router, &Method::PUT, path, key, Some(&body)).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(reply.json()["all"], false);
    assert_eq!(hosts_of(&reply.json()), [a2.to_string()]);
    assert!(f.store.revision().await.unwrap() > revision);
    // A host enrolled now stays out; a host left out gets nothing of it.
    let a3 = enroll(&f.store, &a, "a3").await;
    let got = call(&f.router, &Method::GET, path, key, None).await.json();
    assert_eq!(hosts_of(&got), [a2.to_string()]);
    let desired_of = |h: HostId| {
        let (store, a) = (f.store.clone(), a.clone());
        async move {
            crate::desired::desired_for(
                &h,
                &store.list_networks(&a).await.unwrap(),
                &store.blocks(&a).await.unwrap(),
                &store.host_keys(&a).await.unwrap(),
                &store.list_hosts(&a).await.unwrap(),
                &store.list_vms(&a).await.unwrap(),
            )
        }
    };
    assert!(desired_of(f.host_a.clone()).await.is_empty());
    assert!(desired_of(a3.clone()).await.is_empty());
    assert!(desired_of(a2.clone()).await.contains_key("blue"));

    // All again: everyone, those enrolled meanwhile too.
    let reply = call(&f.router, &Method::PUT, path, key, Some(r#"{"all":true}"#)).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let mut hosts = hosts_of(&reply.json());
    hosts.sort();
    let mut want = vec![f.host_a.to_string(), a2.to_string(), a3.to_string()];
    want.sort();
    assert_eq!(hosts, want);
    let a4 = enroll(&f.store, &a, "a4").await;
    assert!(desired_of(a4).await.contains_key("blue"));
}
