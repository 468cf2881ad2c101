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

fn vxlan(
    name: &str,
    subnet: &str,
    site: &str,
    vni: Option<u32>,
    over: Option<&str>,
) -> NetworkSpec {
    NetworkSpec::vxlan(crate::model::VxlanRequest {
        name,
        subnet,
        site,
        vni,
        mtu: None,
        over,
        internal: false,
        domain: "",
        block_prefix: None,
    })
    .unwrap()
}

async fn hosts_in(store: &Shared, tenant: &TenantId, network: &str) -> BTreeSet<HostId> {
    let members = store.network_hosts(tenant, network).await.unwrap();
    assert!(!members.all, "{network} is a site's");
    members.blocks.into_iter().map(|b| b.host).collect()
}

pub(crate) async fn a_vxlan_network_spans_exactly_its_sites_hosts(store: Shared) {
    use crate::model::FIRST_ASSIGNED_VNI;
    let t = tenant(&store, "acme").await;
    store.create_site(&t, &site("east"), NOW).await.unwrap();
    store.create_site(&t, &site("west"), NOW).await.unwrap();
    store
        .create_network(&t, &spec("blue", "10.42.0.0/16"), NOW)
        .await
        .unwrap();
    let enroll_in = |site: &'static str, name: &'static str| {
        let store = store.clone();
        let t = t.clone();
        async move {
            let tok = site_token(&store, &t, site).await;
            store
                .redeem_token(&tok, &new_host(name), NOW)
                .await
                .unwrap()
                .id
        }
    };
    let e1 = enroll_in("east", "e1").await;
    let e2 = enroll_in("east", "e2").await;
    let w1 = enroll_in("west", "w1").await;
    enroll(&store, &t, "nowhere").await;

    let lan = store
        .create_network(
            &t,
            &vxlan("lan", "10.50.0.0/16", "east", None, Some("blue")),
            NOW,
        )
        .await
        .unwrap();
    let vx = lan.spec.vxlan.clone().unwrap();
    assert_eq!(vx.vni, Some(FIRST_ASSIGNED_VNI));
    assert_eq!(vx.over.as_deref(), Some("blue"));
    assert_eq!(
        hosts_in(&store, &t, "lan").await,
        [e1.clone(), e2.clone()].into()
    );
    let listed = store.list_networks(&t).await.unwrap();
    let stored = listed.iter().find(|n| n.spec.name == "lan").unwrap();
    assert_eq!(stored, &lan);

    // VNIs: unique in a site, free across sites; picked lowest free.
    let err = store
        .create_network(
            &t,
            &vxlan(
                "lan2",
                "10.51.0.0/16",
                "east",
                Some(FIRST_ASSIGNED_VNI),
                None,
            ),
            NOW,
        )
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::VniTaken { .. }), "{err:?}");
    assert!(err.to_string().contains("\"lan\""), "{err}");
    let picked = store
        .create_network(&t, &vxlan("lan2", "10.51.0.0/16", "east", None, None), NOW)
        .await
        .unwrap();
    assert_eq!(picked.spec.vxlan.unwrap().vni, Some(FIRST_ASSIGNED_VNI + 1));
    let west = store
        .create_network(
            &t,
            &vxlan(
                "wlan",
                "10.52.0.0/16",
                "west",
                Some(FIRST_ASSIGNED_VNI),
                None,
            ),
            NOW,
        )
        .await
        .unwrap();
    assert_eq!(west.spec.vxlan.unwrap().vni, Some(FIRST_ASSIGNED_VNI));
    assert_eq!(hosts_in(&store, &t, "wlan").await, [w1.clone()].into());

    // Refused: riding in what is not a WireGuard network, a site that is
    // not there; nothing made.
    for (over, site_name) in [
        (Some("nope"), "east"),
        (Some("lan"), "east"),
        (None, "north"),
    ] {
        let err = store
            .create_network(
                &t,
                &vxlan("bad", "10.60.0.0/16", site_name, None, over),
                NOW,
            )
            .await
            .unwrap_err();
        assert!(
            matches!(
                err,
                StoreError::NotWireguard(_) | StoreError::NotFound { what: "site", .. }
            ),
            "{err:?}"
        );
    }
    assert!(
        !store
            .list_networks(&t)
            .await
            .unwrap()
            .iter()
            .any(|n| n.spec.name == "bad")
    );

    // Its hosts are the site's: not chosen by hand; its carrier and its
    // site stay while it is there.
    let err = store.set_network_hosts(&t, "lan", None).await.unwrap_err();
    assert!(matches!(err, StoreError::HostsOfSite { .. }), "{err:?}");
    let err = store.delete_network(&t, "blue").await.unwrap_err();
    assert!(matches!(err, StoreError::CarriesVxlan { .. }), "{err:?}");
    match store.delete_site(&t, "east").await.unwrap_err() {
        StoreError::SiteNotEmpty {
            hosts, networks, ..
        } => {
            assert_eq!(hosts, ["e1", "e2"]);
            assert_eq!(networks, ["lan", "lan2"]);
        }
        other => panic!("expected a site not empty, got {other:?}"),
    }

    // A host enrolled into the site joins; one moved leaves and joins.
    let e3 = enroll_in("east", "e3").await;
    assert_eq!(
        hosts_in(&store, &t, "lan").await,
        [e1.clone(), e2.clone(), e3.clone()].into()
    );
    let revision = store.revision().await.unwrap();
    store.set_host_site(&t, &e1, Some("west")).await.unwrap();
    assert!(store.revision().await.unwrap() > revision);
    assert_eq!(
        hosts_in(&store, &t, "lan").await,
        [e2.clone(), e3.clone()].into()
    );
    assert_eq!(
        hosts_in(&store, &t, "wlan").await,
        [w1.clone(), e1.clone()].into()
    );
    let changes = store.changes_since(&t, revision).await.unwrap().unwrap();
    for name in ["lan", "lan2", "wlan"] {
        assert!(changes.changed.contains(name), "{name}: {changes:?}");
    }
    assert!(!changes.changed.contains("blue"), "{changes:?}");
    // e1 is still in blue, which carries lan.
    let blocks = store.blocks(&t).await.unwrap();
    assert!(blocks.iter().any(|b| b.network == "blue" && b.host == e1));

    // Deleted: its blocks go; blue may go once nothing rides in it.
    store.delete_network(&t, "lan").await.unwrap();
    let blocks = store.blocks(&t).await.unwrap();
    assert!(!blocks.iter().any(|b| b.network == "lan"));
    store.delete_network(&t, "blue").await.unwrap();
}
