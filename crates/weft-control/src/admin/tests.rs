use super::*;
use crate::store::sqlite::SqliteStore;

const NOW: i64 = 1_800_000_000;

#[test]
fn durations() {
    let d = |t| parse_duration("ttl", t);
    assert_eq!(d("90s").unwrap().as_secs(), 90);
    assert_eq!(d("30m").unwrap().as_secs(), 1800);
    assert_eq!(d("1h").unwrap().as_secs(), 3600);
    assert_eq!(d("7d").unwrap().as_secs(), 604_800);
    assert_eq!(d("45").unwrap().as_secs(), 45);
    for bad in ["", "h", "1w", "0s", "-1h", "1.5h", "99999999999999999999d"] {
        let err = d(bad).unwrap_err().to_string();
        assert!(err.starts_with("invalid ttl"), "{err}");
    }
}

#[tokio::test]
async fn tenants_keys_and_tokens_through_the_admin_calls() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("c.db")).unwrap();
    let (tenant, key) = create_tenant(&store, "acme", NOW).await.unwrap();
    assert!(create_tenant(&store, "Acme!", NOW).await.is_err());
    let (second, second_key) = add_key(&store, "acme", NOW).await.unwrap();
    let listed = list(&store).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].0, tenant);
    assert_eq!(listed[0].1.len(), 2);
    // By id, by the shown form, or by the whole key.
    revoke_key(&store, key.id(), NOW).await.unwrap();
    revoke_key(&store, &second_key.redacted(), NOW)
        .await
        .unwrap();
    revoke_key(&store, second_key.expose(), NOW).await.unwrap();
    assert!(
        store
            .api_key(&second.id)
            .await
            .unwrap()
            .unwrap()
            .info
            .revoked_at
            .is_some()
    );
    assert!(revoke_key(&store, "nothex", NOW).await.is_err());
    let (info, token) = create_token(&store, "acme", Duration::from_secs(3600), 1, NOW)
        .await
        .unwrap();
    assert_eq!(info.expires_at, NOW + 3600);
    assert_eq!(info.id, token.id());
    let err = create_token(&store, "nope", Duration::from_secs(1), 1, NOW)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("nope"), "{err}");
}
