//! Conformance cases about revisions: what moves them, and what a host
//! resuming from one learns.

use super::*;

pub(crate) async fn every_change_moves_the_revision_once(store: Shared) {
    let r = |store: Shared| async move { store.revision().await.unwrap() };
    let start = r(store.clone()).await;
    let t = tenant(&store, "acme").await;
    store.list_tenants().await.unwrap();
    assert_eq!(
        r(store.clone()).await,
        start,
        "tenants are not desired state"
    );
    store
        .create_network(&t, &spec("blue", "10.42.0.0/16"), NOW)
        .await
        .unwrap();
    assert_eq!(r(store.clone()).await, start + 1);
    let h = enroll(&store, &t, "a").await;
    assert_eq!(r(store.clone()).await, start + 2);
    let err = store
        .create_network(&t, &spec("blue", "10.42.0.0/16"), NOW)
        .await;
    assert!(err.is_err());
    assert_eq!(r(store.clone()).await, start + 2, "a refused change");
    store.delete_host(&t, &h, NOW).await.unwrap();
    store.delete_network(&t, "blue").await.unwrap();
    assert_eq!(r(store.clone()).await, start + 4);
    assert!(store.blocks(&t).await.unwrap().is_empty());
}

pub(crate) async fn reports_keep_keys_of_the_tenants_networks_and_move_the_revision_on_change(
    store: Shared,
) {
    use crate::model::{HostReport, NetworkKey};
    let t = tenant(&store, "acme").await;
    store
        .create_network(&t, &spec("blue", "10.42.0.0/16"), NOW)
        .await
        .unwrap();
    let h = enroll(&store, &t, "a").await;
    let key = |network: &str| NetworkKey {
        network: network.into(),
        public_key: "K".into(),
        listen_port: 51820,
    };
    let report = HostReport {
        endpoint: "192.0.2.1".into(),
        version: "0.1.0".into(),
        keys: vec![key("blue"), key("nope")],
        peer_health: [("healthy".to_string(), 2)].into(),
        peer_links: Some(vec![link("healthy")]),
    };
    let before = store.revision().await.unwrap();
    assert!(store.report(&h, &report, NOW + 5).await.unwrap());
    assert_eq!(store.revision().await.unwrap(), before + 1);
    // The same again is a heartbeat: no change, no revision.
    assert!(!store.report(&h, &report, NOW + 9).await.unwrap());
    assert_eq!(store.revision().await.unwrap(), before + 1);
    let got = store.host(&h).await.unwrap().unwrap();
    assert_eq!(got.endpoint.as_deref(), Some("192.0.2.1"));
    assert_eq!(got.last_seen, Some(NOW + 9));
    assert_eq!(got.peer_health, report.peer_health);
    // Health alone is not desired state: no revision for it.
    let healthier = HostReport {
        peer_health: [("degraded".to_string(), 1)].into(),
        ..report.clone()
    };
    assert!(!store.report(&h, &healthier, NOW + 10).await.unwrap());
    assert_eq!(store.revision().await.unwrap(), before + 1);
    let got = store.host(&h).await.unwrap().unwrap();
    assert_eq!(got.peer_health, healthier.peer_health);
    // A report without links keeps the stored ones; one with links
    // replaces them, and moves no revision either.
    assert_eq!(got.peer_links, vec![link("healthy")]);
    let unhealthy = HostReport {
        peer_links: Some(vec![link("unhealthy")]),
        ..report.clone()
    };
    assert!(!store.report(&h, &unhealthy, NOW + 11).await.unwrap());
    assert_eq!(store.revision().await.unwrap(), before + 1);
    let got = store.host(&h).await.unwrap().unwrap();
    assert_eq!(got.peer_links, vec![link("unhealthy")]);
    let keys = store.host_keys(&t).await.unwrap();
    assert_eq!(keys.len(), 1, "only the tenant's networks: {keys:?}");
    assert_eq!(keys[0].key, key("blue"));
    // Deleting the network or the host drops its keys.
    store.delete_network(&t, "blue").await.unwrap();
    assert!(store.host_keys(&t).await.unwrap().is_empty());
    store.delete_host(&t, &h, NOW).await.unwrap();
    let err = store.report(&h, &report, NOW).await.unwrap_err();
    assert!(matches!(err, StoreError::NotFound { .. }), "{err:?}");
}

pub(crate) async fn a_networks_hosts_are_all_or_those_chosen(store: Shared) {
    let t = tenant(&store, "acme").await;
    let other = tenant(&store, "beta").await;
    store
        .create_network(&t, &spec("blue", "10.42.0.0/16"), NOW)
        .await
        .unwrap();
    let a = enroll(&store, &t, "a").await;
    let b = enroll(&store, &t, "b").await;
    let stranger = enroll(&store, &other, "s").await;
    let members = |store: Shared| {
        let t = t.clone();
        async move {
            let got = store.network_hosts(&t, "blue").await.unwrap();
            let hosts: BTreeSet<HostId> = got.blocks.iter().map(|b| b.host.clone()).collect();
            (got.all, hosts)
        }
    };
    assert_eq!(
        members(store.clone()).await,
        (true, [a.clone(), b.clone()].into())
    );
    let before = store.revision().await.unwrap();
    for bad in [&stranger, &HostId::generate()] {
        let err = store
            .set_network_hosts(&t, "blue", Some(std::slice::from_ref(bad)))
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::NotAMember(_)), "{err:?}");
    }
    let err = store
        .set_network_hosts(&other, "blue", None)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound { .. }), "{err:?}");
    assert_eq!(store.revision().await.unwrap(), before, "refused changes");

    store
        .set_network_hosts(&t, "blue", Some(std::slice::from_ref(&b)))
        .await
        .unwrap();
    assert_eq!(store.revision().await.unwrap(), before + 1);
    assert_eq!(members(store.clone()).await, (false, [b.clone()].into()));
    // Setting the same again changes nothing.
    store
        .set_network_hosts(&t, "blue", Some(std::slice::from_ref(&b)))
        .await
        .unwrap();
    assert_eq!(store.revision().await.unwrap(), before + 1);
    // Hosts enrolled now stay out of a chosen network; a host left out has
    // no block (so no desired state) there.
    let c = enroll(&store, &t, "c").await;
    assert_eq!(members(store.clone()).await, (false, [b.clone()].into()));
    let blocks = store.blocks(&t).await.unwrap();
    assert!(blocks.iter().all(|x| x.host == b), "{blocks:?}");
    // All again: everyone gets a block, distinct, and later hosts join.
    store.set_network_hosts(&t, "blue", None).await.unwrap();
    let d = enroll(&store, &t, "d").await;
    assert_eq!(members(store.clone()).await, (true, [a, b, c, d].into()));
    let blocks = store.blocks(&t).await.unwrap();
    let distinct: BTreeSet<_> = blocks.iter().map(|x| x.block).collect();
    assert_eq!(distinct.len(), 4);
}

pub(crate) async fn a_resuming_host_learns_the_networks_changed_since_its_revision(store: Shared) {
    use crate::model::{HostReport, NetworkKey};
    let t = tenant(&store, "acme").await;
    let other = tenant(&store, "beta").await;
    for (n, subnet) in [
        ("blue", "10.42.0.0/16"),
        ("red", "10.43.0.0/16"),
        ("green", "10.44.0.0/16"),
    ] {
        store
            .create_network(&t, &spec(n, subnet), NOW)
            .await
            .unwrap();
    }
    let a = enroll(&store, &t, "a").await;
    let b = enroll(&store, &t, "b").await;
    let since = |r: u64| {
        let (store, t) = (store.clone(), t.clone());
        async move { store.changes_since(&t, r).await.unwrap() }
    };
    let names = |n: &[&str]| n.iter().map(|s| s.to_string()).collect::<BTreeSet<_>>();
    let r0 = store.revision().await.unwrap();
    assert_eq!(
        since(r0).await,
        Some(Default::default()),
        "nothing since now"
    );
    // A key reported on red only: red changed.
    let report = |keys: &[&str]| HostReport {
        endpoint: "192.0.2.1".into(),
        version: "v".into(),
        keys: keys
            .iter()
            .map(|n| NetworkKey {
                network: n.to_string(),
                public_key: "K".into(),
                listen_port: 51820,
            })
            .collect(),
        peer_health: Default::default(),
        peer_links: None,
    };
    store.report(&a, &report(&[]), NOW).await.unwrap();
    let r1 = store.revision().await.unwrap();
    store.report(&a, &report(&["red"]), NOW).await.unwrap();
    let got = since(r1).await.unwrap();
    assert_eq!(got.changed, names(&["red"]));
    assert!(got.deleted.is_empty());
    // Another tenant's change is not this one's.
    store
        .create_network(&other, &spec("blue", "10.42.0.0/16"), NOW)
        .await
        .unwrap();
    assert_eq!(since(r1).await.unwrap().changed, names(&["red"]));
    // b leaves green, blue is deleted.
    store
        .set_network_hosts(&t, "green", Some(std::slice::from_ref(&a)))
        .await
        .unwrap();
    store.delete_network(&t, "blue").await.unwrap();
    let got = since(r1).await.unwrap();
    assert_eq!(got.changed, names(&["green", "red"]));
    assert_eq!(got.deleted, names(&["blue"]));
    // Deleting a host changes the networks it was in.
    let r2 = store.revision().await.unwrap();
    store.delete_host(&t, &b, NOW).await.unwrap();
    assert_eq!(since(r2).await.unwrap().changed, names(&["red"]));
    // A revision the store never had: it cannot say.
    let now = store.revision().await.unwrap();
    assert_eq!(since(now + 1).await, None);
}

/// `revisions()` follows the store: a listener wakes with the new
/// revision after a change made through this store, and after one made
/// through another handle on the same state (`other`, a second replica or
/// process; the same store when the backend has no such thing).
pub(crate) async fn listeners_see_the_revision_move(store: Shared, other: Shared) {
    let mut seen = store.revisions();
    let start = *seen.borrow_and_update();
    assert_eq!(start, store.revision().await.unwrap());
    let t = tenant(&store, "acme").await;
    store
        .create_network(&t, &spec("blue", "10.42.0.0/16"), NOW)
        .await
        .unwrap();
    let wait = std::time::Duration::from_secs(10);
    tokio::time::timeout(wait, seen.changed())
        .await
        .expect("no word of a change made through this store")
        .unwrap();
    assert_eq!(*seen.borrow_and_update(), start + 1);
    other
        .create_network(&t, &spec("red", "10.43.0.0/16"), NOW)
        .await
        .unwrap();
    let moved = tokio::time::timeout(wait, async {
        while *seen.borrow_and_update() < start + 2 {
            seen.changed().await.unwrap();
        }
    })
    .await;
    assert!(
        moved.is_ok(),
        "no word of a change made through another handle"
    );
    assert_eq!(*seen.borrow(), start + 2);
}

fn link(health: &str) -> crate::model::PeerLink {
    crate::model::PeerLink {
        network: "blue".into(),
        public_key: "K".into(),
        health: health.into(),
        last_handshake: Some(NOW),
        rx_bytes: 10,
        tx_bytes: 20,
        endpoint: Some("192.0.2.2:51820".into()),
    }
}
