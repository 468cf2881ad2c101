//! Conformance cases about hosts' keys: their age across heartbeats and
//! rotations (issue 28).

use super::*;
use crate::model::{HostReport, NetworkKey};

fn report(keys: &[(&str, &str)]) -> HostReport {
    HostReport {
        endpoint: "192.0.2.1".into(),
        version: "0.1.0".into(),
        keys: keys
            .iter()
            .map(|(network, key)| NetworkKey {
                network: (*network).into(),
                public_key: (*key).into(),
                listen_port: 51820,
            })
            .collect(),
        peer_health: Default::default(),
        peer_links: None,
    }
}

/// Each host key's `since`, by (host, network).
async fn ages(store: &Shared, t: &TenantId) -> Vec<(String, String, Option<i64>)> {
    let mut ages: Vec<_> = (store.host_keys(t).await.unwrap().into_iter())
        .map(|k| (k.host.to_string(), k.key.network, k.since))
        .collect();
    ages.sort();
    ages
}

pub(crate) async fn a_keys_age_survives_heartbeats_and_restarts_at_a_rotation(store: Shared) {
    let t = tenant(&store, "acme").await;
    for (name, subnet) in [("blue", "10.42.0.0/16"), ("red", "10.43.0.0/16")] {
        store
            .create_network(&t, &spec(name, subnet), NOW)
            .await
            .unwrap();
    }
    let a = enroll(&store, &t, "a").await;
    let b = enroll(&store, &t, "b").await;
    let (a_id, b_id) = (a.to_string(), b.to_string());
    let row = |h: &str, n: &str, since: i64| (h.to_string(), n.to_string(), Some(since));
    let mut want = vec![
        row(&a_id, "blue", NOW + 5),
        row(&a_id, "red", NOW + 5),
        row(&b_id, "blue", NOW + 6),
    ];
    want.sort();
    store
        .report(&a, &report(&[("blue", "A1"), ("red", "R1")]), NOW + 5)
        .await
        .unwrap();
    store
        .report(&b, &report(&[("blue", "B1")]), NOW + 6)
        .await
        .unwrap();
    assert_eq!(ages(&store, &t).await, want);
    // Heartbeats repeating the keys keep their age.
    store
        .report(&a, &report(&[("blue", "A1"), ("red", "R1")]), NOW + 50)
        .await
        .unwrap();
    assert_eq!(ages(&store, &t).await, want);
    // a rotates its key on blue: that key's age starts again, the rest keep
    // theirs, and the peers hear of it (the revision moves).
    let before = store.revision().await.unwrap();
    assert!(
        store
            .report(&a, &report(&[("blue", "A2"), ("red", "R1")]), NOW + 100)
            .await
            .unwrap()
    );
    assert_eq!(store.revision().await.unwrap(), before + 1);
    let mut want = vec![
        row(&a_id, "blue", NOW + 100),
        row(&a_id, "red", NOW + 5),
        row(&b_id, "blue", NOW + 6),
    ];
    want.sort();
    assert_eq!(ages(&store, &t).await, want);
    let keys = store.host_keys(&t).await.unwrap();
    assert!(
        keys.iter()
            .any(|k| k.host == a && k.key.network == "blue" && k.key.public_key == "A2"),
        "{keys:?}"
    );
}
