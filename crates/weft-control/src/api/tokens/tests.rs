use super::*;

/// Tokens through the router: listed without secrets, revoked by their
/// tenant only; another tenant's token is "not found", like a made-up id.
#[tokio::test]
async fn tokens_are_listed_without_secrets_and_revoked_by_their_tenant_only() {
    use crate::api::tests::{call, fixture};
    use axum::http::Method;
    let f = fixture().await;
    let (a, b) = (Some(&f.key_a), Some(&f.key_b));
    let made = call(
        &f.router,
        &Method::POST,
        "/v1/tokens",
        a,
        Some(r#"{"uses":2}"#),
    )
    .await;
    assert_eq!(made.status, StatusCode::CREATED, "{}", made.text);
    let made = made.json();
    let (id, secret) = (
        made["id"].as_str().unwrap(),
        made["token"].as_str().unwrap(),
    );
    let listed = call(&f.router, &Method::GET, "/v1/tokens", a, None).await;
    assert_eq!(listed.status, StatusCode::OK);
    let row = listed
        .json()
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["id"] == id)
        .cloned()
        .unwrap_or_else(|| panic!("{id} not in {}", listed.text));
    assert_eq!(
        (row["uses_left"].as_u64(), row["state"].as_str()),
        (Some(2), Some("valid"))
    );
    let hex = secret.rsplit('_').next().unwrap();
    assert!(
        !listed.text.contains(hex),
        "a secret in the list: {}",
        listed.text
    );
    let theirs = call(&f.router, &Method::GET, "/v1/tokens", b, None).await;
    assert!(
        !theirs.text.contains(id),
        "B sees A's token: {}",
        theirs.text
    );
    let path = format!("/v1/tokens/{id}");
    for (key, path) in [
        (b, path.as_str()),
        (a, "/v1/tokens/000000000000"),
        (a, "/v1/tokens/../hosts"),
    ] {
        let reply = call(&f.router, &Method::DELETE, path, key, None).await;
        assert_eq!(
            reply.status,
            StatusCode::NOT_FOUND,
            "{path}: {}",
            reply.text
        );
    }
    let pasted = format!("/v1/tokens/{secret}");
    let reply = call(&f.router, &Method::DELETE, &pasted, a, None).await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    assert!(
        !reply.text.contains(hex),
        "the secret echoed: {}",
        reply.text
    );
    let reply = call(&f.router, &Method::DELETE, &path, a, None).await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT, "{}", reply.text);
    let listed = call(&f.router, &Method::GET, "/v1/tokens", a, None).await;
    assert!(!listed.text.contains(id), "{}", listed.text);
    let reply = call(&f.router, &Method::DELETE, &path, a, None).await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
}
