//! Conformance cases about sites: made, listed, deleted only when empty,
//! named by tokens, hosts moved between them, and never reached from
//! another tenant.

use super::*;
use crate::model::SiteSpec;

fn site(name: &str) -> SiteSpec {
    let labels = [("region".to_string(), "eu-west".to_string())].into();
    SiteSpec::new(name, labels).unwrap()
}

async fn site_token(store: &Shared, tenant: &TenantId, site: &str) -> Secret {
    let token = Secret::generate(SecretKind::EnrollToken);
    store
        .create_site_token(tenant, &token, NOW + HOUR, 1, Some(site), NOW)
        .await
        .unwrap();
    token
}

fn new_host(name: &str) -> NewHost {
    NewHost {
        id: HostId::generate(),
        name: name.into(),
    }
}

pub(crate) async fn sites_are_listed_and_deleted_only_once_empty(store: Shared) {
    let t = tenant(&store, "acme").await;
    let edge = store.create_site(&t, &site("edge"), NOW).await.unwrap();
    assert_eq!(edge.spec.labels["region"], "eu-west");
    let err = store.create_site(&t, &site("edge"), NOW).await.unwrap_err();
    assert!(matches!(err, StoreError::SiteExists(_)), "{err:?}");
    store.create_site(&t, &site("core"), NOW).await.unwrap();
    let names: Vec<String> = (store.list_sites(&t).await.unwrap().into_iter())
        .map(|s| s.spec.name)
        .collect();
    assert_eq!(names, ["core", "edge"]);
    let revision = store.revision().await.unwrap();

    // A token names the site its hosts join.
    let tok = site_token(&store, &t, "edge").await;
    let h1 = store
        .redeem_token(&tok, &new_host("h1"), NOW)
        .await
        .unwrap();
    assert_eq!(h1.site.as_deref(), Some("edge"));
    assert_eq!(
        store.host(&h1.id).await.unwrap().unwrap().site.as_deref(),
        Some("edge")
    );
    let plain = enroll(&store, &t, "h2").await;
    assert_eq!(store.host(&plain).await.unwrap().unwrap().site, None);

    let err = store.delete_site(&t, "edge").await.unwrap_err();
    match &err {
        StoreError::SiteNotEmpty {
            hosts, networks, ..
        } => {
            assert_eq!(hosts, &["h1"]);
            assert!(networks.is_empty());
        }
        other => panic!("expected a site not empty, got {other:?}"),
    }
    assert!(err.to_string().contains("\"h1\""), "{err}");

    // Moved to another site, then out of any: without networks in them,
    // desired state is the same and the revision stays.
    let before = store.revision().await.unwrap();
    let moved = store.set_host_site(&t, &h1.id, Some("core")).await.unwrap();
    assert_eq!(moved.site.as_deref(), Some("core"));
    let err = store
        .set_host_site(&t, &h1.id, Some("nowhere"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::NotFound { what: "site", .. }),
        "{err:?}"
    );
    assert_eq!(
        store.host(&h1.id).await.unwrap().unwrap().site.as_deref(),
        Some("core")
    );
    store.set_host_site(&t, &h1.id, None).await.unwrap();
    assert_eq!(store.revision().await.unwrap(), before);
    store.delete_site(&t, "edge").await.unwrap();
    let err = store.delete_site(&t, "edge").await.unwrap_err();
    assert!(
        matches!(err, StoreError::NotFound { what: "site", .. }),
        "{err:?}"
    );

    // A token whose site went is refused, and not spent.
    store.create_site(&t, &site("edge"), NOW).await.unwrap();
    let orphan = site_token(&store, &t, "edge").await;
    store.delete_site(&t, "edge").await.unwrap();
    let err = store
        .redeem_token(&orphan, &new_host("h3"), NOW)
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::NotFound { what: "site", .. }),
        "{err:?}"
    );
    store.create_site(&t, &site("edge"), NOW).await.unwrap();
    let h3 = store.redeem_token(&orphan, &new_host("h3"), NOW).await;
    assert_eq!(h3.unwrap().site.as_deref(), Some("edge"));
    // A token cannot name a site that does not exist.
    let err = store
        .create_site_token(
            &t,
            &Secret::generate(SecretKind::EnrollToken),
            NOW + HOUR,
            1,
            Some("nope"),
            NOW,
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::NotFound { what: "site", .. }),
        "{err:?}"
    );
    assert!(store.revision().await.unwrap() > revision);
}

pub(crate) async fn one_tenant_cannot_reach_anothers_sites(store: Shared) {
    let a = tenant(&store, "acme").await;
    let b = tenant(&store, "beta").await;
    store.create_site(&a, &site("edge"), NOW).await.unwrap();
    let host_a = store
        .redeem_token(&site_token(&store, &a, "edge").await, &new_host("a1"), NOW)
        .await
        .unwrap()
        .id;
    let host_b = enroll(&store, &b, "b1").await;
    assert!(store.list_sites(&b).await.unwrap().is_empty());
    let not_found = |err: StoreError| {
        assert!(matches!(err, StoreError::NotFound { .. }), "{err:?}");
    };
    not_found(store.delete_site(&b, "edge").await.unwrap_err());
    // B's host into A's site; A's host moved by B.
    not_found(
        store
            .set_host_site(&b, &host_b, Some("edge"))
            .await
            .unwrap_err(),
    );
    not_found(store.set_host_site(&b, &host_a, None).await.unwrap_err());
    let tok = Secret::generate(SecretKind::EnrollToken);
    let made = store
        .create_site_token(&b, &tok, NOW + HOUR, 1, Some("edge"), NOW)
        .await;
    not_found(made.unwrap_err());
    // B's own site of the same name is B's.
    store.create_site(&b, &site("edge"), NOW).await.unwrap();
    store
        .set_host_site(&b, &host_b, Some("edge"))
        .await
        .unwrap();
    let err = store.delete_site(&a, "edge").await.unwrap_err();
    match err {
        StoreError::SiteNotEmpty { hosts, .. } => assert_eq!(hosts, ["a1"]),
        other => panic!("expected a site not empty, got {other:?}"),
    }
    assert_eq!(
        store.host(&host_a).await.unwrap().unwrap().site.as_deref(),
        Some("edge")
    );
}
