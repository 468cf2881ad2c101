//! Conformance cases about forgetting: what `purge` removes and what it
//! must leave alone.

use super::*;

pub(crate) async fn purge_forgets_dead_tokens_and_long_revoked_hosts_only(store: Shared) {
    let t = tenant(&store, "acme").await;
    // Used up, expired, and live.
    let used = token(&store, &t, 1).await;
    let host = |name: &str| NewHost {
        id: HostId::generate(),
        name: name.into(),
    };
    store.redeem_token(&used, &host("a"), NOW).await.unwrap();
    let expired = Secret::generate(SecretKind::EnrollToken);
    store
        .create_token(&t, &expired, NOW - HOUR, 1, NOW - 2 * HOUR)
        .await
        .unwrap();
    let live = token(&store, &t, 2).await;
    store
        .create_network(&t, &spec("blue", "10.42.0.0/16"), NOW)
        .await
        .unwrap();
    let gone = enroll(&store, &t, "gone").await;
    let kept = enroll(&store, &t, "kept").await;
    store.delete_host(&t, &gone, NOW).await.unwrap();
    let revision = store.revision().await.unwrap();
    let blocks = store.blocks(&t).await.unwrap();

    // Revoked at NOW: not before NOW, so kept. The dead tokens go: `used`,
    // `expired` and the two single-use ones `enroll` spent.
    let purged = store.purge(NOW + 1, NOW).await.unwrap();
    assert_eq!(
        purged,
        Purged {
            tokens: 4,
            hosts: 0
        }
    );
    assert!(store.host(&gone).await.unwrap().is_some());
    // Nothing left to remove: a second run removes nothing.
    assert_eq!(store.purge(NOW + 1, NOW).await.unwrap(), Purged::default());
    let purged = store.purge(NOW + 1, NOW + 1).await.unwrap();
    assert_eq!(
        purged,
        Purged {
            tokens: 0,
            hosts: 1
        }
    );
    assert!(store.host(&gone).await.unwrap().is_none());
    let names: Vec<String> = store
        .list_hosts(&t)
        .await
        .unwrap()
        .into_iter()
        .map(|h| h.name)
        .collect();
    assert_eq!(names, ["a", "kept"]);
    // Desired state untouched: same blocks, same revision.
    assert_eq!(store.blocks(&t).await.unwrap(), blocks);
    assert_eq!(store.revision().await.unwrap(), revision);
    assert!(store.host(&kept).await.unwrap().is_some());
    // The live token still works, twice; the purged ones are unknown.
    for name in ["b", "c"] {
        store.redeem_token(&live, &host(name), NOW).await.unwrap();
    }
    let err = store
        .redeem_token(&used, &host("d"), NOW)
        .await
        .unwrap_err();
    assert_eq!(refusal(err), TokenRefusal::Unknown);
    let err = store
        .redeem_token(&expired, &host("d"), NOW)
        .await
        .unwrap_err();
    assert_eq!(refusal(err), TokenRefusal::Unknown);
}
