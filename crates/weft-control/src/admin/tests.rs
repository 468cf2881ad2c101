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

#[tokio::test]
async fn a_token_for_a_site_needs_the_site() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("c.db")).unwrap();
    let (tenant, _) = create_tenant(&store, "acme", NOW).await.unwrap();
    let grant = |site| TokenGrant {
        ttl: Duration::from_secs(60),
        uses: 2,
        site,
    };
    let err = create_site_token(&store, "acme", grant(Some("edge")), NOW)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("site \"edge\" not found"), "{err}");
    let err = create_site_token(&store, "acme", grant(Some("Edge 1")), NOW)
        .await
        .unwrap_err();
    assert!(err.to_string().starts_with("invalid site"), "{err}");
    let edge = crate::model::SiteSpec::new("edge", Default::default()).unwrap();
    store.create_site(&tenant.id, &edge, NOW).await.unwrap();
    let (info, _) = create_site_token(&store, "acme", grant(Some("edge")), NOW)
        .await
        .unwrap();
    assert_eq!(info.site.as_deref(), Some("edge"));
    assert_eq!(info.uses_left, 2);
}
