//! What every [`Store`] must do, written against the trait alone so the
//! etcd store runs the same cases: `conformance_tests!(make)` expands to
//! one `#[tokio::test]` per case, `make` building a fresh, empty store.
//! One case wants two handles on the same state (two replicas, two
//! processes): each backend's tests call `listeners_see_the_revision_move`
//! themselves.

use super::{Purged, Store, StoreError, TokenRefusal};
use crate::model::{HostId, NetworkSpec, NewHost, TenantId};
use crate::secret::{Secret, SecretKind};
use std::collections::BTreeSet;
use std::sync::Arc;

pub(crate) type Shared = Arc<dyn Store>;

const NOW: i64 = 1_800_000_000;
const HOUR: i64 = 3600;

async fn tenant(store: &Shared, name: &str) -> TenantId {
    let key = Secret::generate(SecretKind::ApiKey);
    store.create_tenant(name, &key, NOW).await.unwrap().id
}

async fn token(store: &Shared, tenant: &TenantId, uses: u32) -> Secret {
    let token = Secret::generate(SecretKind::EnrollToken);
    store
        .create_token(tenant, &token, NOW + HOUR, uses, NOW)
        .await
        .unwrap();
    token
}

async fn enroll(store: &Shared, tenant: &TenantId, name: &str) -> HostId {
    let t = token(store, tenant, 1).await;
    let host = NewHost {
        id: HostId::generate(),
        name: name.into(),
    };
    store.redeem_token(&t, &host, NOW).await.unwrap().id
}

fn spec(name: &str, subnet: &str) -> NetworkSpec {
    NetworkSpec::new(name, subnet, "", false, "", None).unwrap()
}

fn refusal(err: StoreError) -> TokenRefusal {
    match err {
        StoreError::TokenRefused { reason, .. } => reason,
        other => panic!("expected a refused token, got {other:?}"),
    }
}

pub(crate) async fn tenants_are_unique_and_listed(store: Shared) {
    let a = tenant(&store, "acme").await;
    let key = Secret::generate(SecretKind::ApiKey);
    let err = store.create_tenant("acme", &key, NOW).await.unwrap_err();
    assert!(matches!(err, StoreError::TenantExists(_)), "{err:?}");
    // The refused tenant's key was not stored either.
    assert!(store.api_key(key.id()).await.unwrap().is_none());
    tenant(&store, "beta").await;
    let names: Vec<String> = store
        .list_tenants()
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.name)
        .collect();
    assert_eq!(names, ["acme", "beta"]);
    assert_eq!(store.tenant_by_name("acme").await.unwrap().unwrap().id, a);
    assert!(store.tenant_by_name("nope").await.unwrap().is_none());
}

pub(crate) async fn api_keys_match_only_themselves_and_revoke(store: Shared) {
    let first = Secret::generate(SecretKind::ApiKey);
    let t = store.create_tenant("acme", &first, NOW).await.unwrap().id;
    let second = Secret::generate(SecretKind::ApiKey);
    store.add_api_key(&t, &second, NOW + 1).await.unwrap();
    let stored = store.api_key(first.id()).await.unwrap().unwrap();
    assert!(stored.hash.matches(&first));
    assert!(!stored.hash.matches(&second));
    assert_eq!(stored.info.tenant, t);
    let ids: Vec<String> = store
        .list_api_keys(&t)
        .await
        .unwrap()
        .into_iter()
        .map(|k| k.id)
        .collect();
    assert_eq!(ids, [first.id(), second.id()]);
    let revoked = store.revoke_api_key(first.id(), NOW + 5).await.unwrap();
    assert_eq!(revoked.revoked_at, Some(NOW + 5));
    // Revoking again keeps the first time.
    let again = store.revoke_api_key(first.id(), NOW + 9).await.unwrap();
    assert_eq!(again.revoked_at, Some(NOW + 5));
    let after = store.api_key(first.id()).await.unwrap().unwrap();
    assert_eq!(after.info.revoked_at, Some(NOW + 5));
    let err = store.revoke_api_key("000000000000", NOW).await.unwrap_err();
    assert!(matches!(err, StoreError::NotFound { .. }), "{err:?}");
}

pub(crate) async fn a_token_is_spent_once_per_use(store: Shared) {
    let t = tenant(&store, "acme").await;
    let once = token(&store, &t, 1).await;
    let host = |name: &str| NewHost {
        id: HostId::generate(),
        name: name.into(),
    };
    let h = store.redeem_token(&once, &host("a"), NOW).await.unwrap();
    assert_eq!(h.tenant, t);
    assert_eq!(store.host(&h.id).await.unwrap().unwrap(), h);
    let err = store
        .redeem_token(&once, &host("b"), NOW)
        .await
        .unwrap_err();
    assert_eq!(refusal(err), TokenRefusal::UsedUp);

    let thrice = token(&store, &t, 3).await;
    for name in ["c", "d", "e"] {
        store.redeem_token(&thrice, &host(name), NOW).await.unwrap();
    }
    let err = store
        .redeem_token(&thrice, &host("f"), NOW)
        .await
        .unwrap_err();
    assert_eq!(refusal(err), TokenRefusal::UsedUp);
    let names: Vec<String> = store
        .list_hosts(&t)
        .await
        .unwrap()
        .into_iter()
        .map(|h| h.name)
        .collect();
    assert_eq!(names, ["a", "c", "d", "e"]);
}

pub(crate) async fn tokens_are_listed_by_tenant_and_revoked_ones_enroll_nobody(store: Shared) {
    let a = tenant(&store, "acme").await;
    let b = tenant(&store, "beta").await;
    let first = token(&store, &a, 2).await;
    let second = token(&store, &a, 1).await;
    let theirs = token(&store, &b, 1).await;
    let ids = |list: Vec<crate::model::TokenInfo>| -> Vec<String> {
        list.into_iter().map(|t| t.id).collect()
    };
    let mut want = vec![first.id().to_string(), second.id().to_string()];
    want.sort();
    let mut got = ids(store.list_tokens(&a).await.unwrap());
    got.sort();
    assert_eq!(got, want);
    let listed = store.list_tokens(&a).await.unwrap();
    let first_info = listed.iter().find(|t| t.id == first.id()).unwrap();
    assert_eq!(
        (first_info.uses_left, first_info.expires_at),
        (2, NOW + HOUR)
    );
    assert_eq!(ids(store.list_tokens(&b).await.unwrap()), [theirs.id()]);
    // Another tenant's token cannot be revoked through this one, and is
    // not told apart from none.
    for (tenant, id) in [(&a, theirs.id()), (&b, first.id()), (&a, "nope")] {
        let err = store.revoke_token(tenant, id).await.unwrap_err();
        assert!(
            matches!(err, StoreError::NotFound { what: "token", .. }),
            "{err:?}"
        );
    }
    store.revoke_token(&a, first.id()).await.unwrap();
    assert_eq!(ids(store.list_tokens(&a).await.unwrap()), [second.id()]);
    let host = NewHost {
        id: HostId::generate(),
        name: "late".into(),
    };
    let err = store.redeem_token(&first, &host, NOW).await.unwrap_err();
    assert_eq!(refusal(err), TokenRefusal::Unknown);
    // The other tenant's token still works.
    store.redeem_token(&theirs, &host, NOW).await.unwrap();
}

pub(crate) async fn expired_unknown_and_forged_tokens_are_refused(store: Shared) {
    let t = tenant(&store, "acme").await;
    let good = token(&store, &t, 5).await;
    let host = NewHost {
        id: HostId::generate(),
        name: "a".into(),
    };
    let err = store
        .redeem_token(&good, &host, NOW + HOUR)
        .await
        .unwrap_err();
    assert_eq!(refusal(err), TokenRefusal::Expired);
    let unknown = Secret::generate(SecretKind::EnrollToken);
    let err = store.redeem_token(&unknown, &host, NOW).await.unwrap_err();
    assert_eq!(refusal(err), TokenRefusal::Unknown);
    // The right id with another secret is not the token.
    let mut text = good.expose().to_string();
    let last = text.pop().unwrap();
    text.push(if last == 'a' { 'b' } else { 'a' });
    let forged = Secret::parse(SecretKind::EnrollToken, &text).unwrap();
    let err = store.redeem_token(&forged, &host, NOW).await.unwrap_err();
    assert_eq!(refusal(err), TokenRefusal::Unknown);
    assert!(store.list_hosts(&t).await.unwrap().is_empty());
    // None of that spent a use.
    store.redeem_token(&good, &host, NOW).await.unwrap();
}

/// N redemptions of one single-use token at once: exactly one host.
pub(crate) async fn parallel_redemptions_give_exactly_one_host(store: Shared) {
    const N: usize = 32;
    let t = tenant(&store, "acme").await;
    let once = token(&store, &t, 1).await;
    let mut tasks = Vec::new();
    for i in 0..N {
        let (store, once) = (Arc::clone(&store), once.clone());
        tasks.push(tokio::spawn(async move {
            let host = NewHost {
                id: HostId::generate(),
                name: format!("h{i}"),
            };
            store.redeem_token(&once, &host, NOW).await
        }));
    }
    let mut won = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(_) => won += 1,
            Err(err) => assert_eq!(refusal(err), TokenRefusal::UsedUp),
        }
    }
    assert_eq!(won, 1);
    assert_eq!(store.list_hosts(&t).await.unwrap().len(), 1);
}

pub(crate) async fn every_host_gets_a_distinct_block_in_every_network(store: Shared) {
    let t = tenant(&store, "acme").await;
    let early = enroll(&store, &t, "early").await;
    store
        .create_network(&t, &spec("blue", "10.42.0.0/16"), NOW)
        .await
        .unwrap();
    let late = enroll(&store, &t, "late").await;
    store
        .create_network(&t, &spec("red", "10.43.0.0/16"), NOW)
        .await
        .unwrap();
    let blocks = store.blocks(&t).await.unwrap();
    let got: BTreeSet<(String, String, String)> = blocks
        .iter()
        .map(|b| (b.network.clone(), b.host.to_string(), b.block.to_string()))
        .collect();
    let want: BTreeSet<(String, String, String)> = [
        ("blue", &early, "10.42.0.0/24"),
        ("blue", &late, "10.42.1.0/24"),
        ("red", &early, "10.43.0.0/24"),
        ("red", &late, "10.43.1.0/24"),
    ]
    .into_iter()
    .map(|(n, h, b)| (n.to_string(), h.to_string(), b.to_string()))
    .collect();
    assert_eq!(got, want);

    // A deleted host frees its blocks; the next host gets the lowest.
    store.delete_host(&t, &early, NOW).await.unwrap();
    assert!(
        store
            .blocks(&t)
            .await
            .unwrap()
            .iter()
            .all(|b| b.host != early)
    );
    let next = enroll(&store, &t, "next").await;
    let blocks = store.blocks(&t).await.unwrap();
    let of_next: Vec<String> = blocks
        .iter()
        .filter(|b| b.host == next)
        .map(|b| b.block.to_string())
        .collect();
    assert_eq!(of_next, ["10.42.0.0/24", "10.43.0.0/24"]);
}

pub(crate) async fn a_full_network_refuses_enrollment_without_spending_the_token(store: Shared) {
    let t = tenant(&store, "acme").await;
    // A /23 of /24 blocks: room for two hosts.
    let tiny = NetworkSpec::new("tiny", "10.50.0.0/23", "", false, "", Some(24)).unwrap();
    store.create_network(&t, &tiny, NOW).await.unwrap();
    enroll(&store, &t, "a").await;
    enroll(&store, &t, "b").await;
    let tok = token(&store, &t, 1).await;
    let host = NewHost {
        id: HostId::generate(),
        name: "c".into(),
    };
    let err = store.redeem_token(&tok, &host, NOW).await.unwrap_err();
    assert!(matches!(err, StoreError::NoFreeBlock { .. }), "{err:?}");
    assert!(store.host(&host.id).await.unwrap().is_none());
    // The token still has its use: the failed enrollment was undone whole.
    let hosts = store.list_hosts(&t).await.unwrap();
    let first = hosts.iter().find(|h| h.name == "a").unwrap();
    store.delete_host(&t, &first.id, NOW).await.unwrap();
    store.redeem_token(&tok, &host, NOW).await.unwrap();
}

pub(crate) async fn a_tenants_subnets_never_overlap(store: Shared) {
    let a = tenant(&store, "acme").await;
    let b = tenant(&store, "beta").await;
    store
        .create_network(&a, &spec("blue", "10.42.0.0/16"), NOW)
        .await
        .unwrap();
    for (name, subnet) in [("inner", "10.42.7.0/24"), ("outer", "10.0.0.0/8")] {
        let err = store
            .create_network(&a, &spec(name, subnet), NOW)
            .await
            .unwrap_err();
        assert!(
            err.to_string().starts_with("invalid subnet") && err.to_string().contains("blue"),
            "{err}"
        );
    }
    let err = store
        .create_network(&a, &spec("blue", "10.99.0.0/16"), NOW)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NetworkExists(_)), "{err:?}");
    // Another tenant's networks are its own business.
    store
        .create_network(&b, &spec("blue", "10.42.0.0/16"), NOW)
        .await
        .unwrap();
    assert_eq!(store.list_networks(&a).await.unwrap().len(), 1);
}

pub(crate) async fn one_tenant_cannot_reach_anothers_objects(store: Shared) {
    let a = tenant(&store, "acme").await;
    let b = tenant(&store, "beta").await;
    store
        .create_network(&a, &spec("blue", "10.42.0.0/16"), NOW)
        .await
        .unwrap();
    let host = enroll(&store, &a, "a1").await;
    let err = store.delete_network(&b, "blue").await.unwrap_err();
    assert!(matches!(err, StoreError::NotFound { .. }), "{err:?}");
    let err = store.delete_host(&b, &host, NOW).await.unwrap_err();
    assert!(matches!(err, StoreError::NotFound { .. }), "{err:?}");
    assert!(store.list_networks(&b).await.unwrap().is_empty());
    assert!(store.list_hosts(&b).await.unwrap().is_empty());
    assert!(store.blocks(&b).await.unwrap().is_empty());
    assert_eq!(store.list_hosts(&a).await.unwrap().len(), 1);
    assert_eq!(store.blocks(&a).await.unwrap().len(), 1);
    // A token of B registers its host in B, whatever it is called.
    let tb = token(&store, &b, 1).await;
    let nh = NewHost {
        id: HostId::generate(),
        name: "a1".into(),
    };
    assert_eq!(store.redeem_token(&tb, &nh, NOW).await.unwrap().tenant, b);
}

pub(crate) async fn live_host_names_are_unique_in_a_tenant(store: Shared) {
    let t = tenant(&store, "acme").await;
    let first = enroll(&store, &t, "web").await;
    let tok = token(&store, &t, 1).await;
    let again = NewHost {
        id: HostId::generate(),
        name: "web".into(),
    };
    let err = store.redeem_token(&tok, &again, NOW).await.unwrap_err();
    assert!(matches!(err, StoreError::HostNameTaken(_)), "{err:?}");
    store.delete_host(&t, &first, NOW + 1).await.unwrap();
    let revoked = store.host(&first).await.unwrap().unwrap();
    assert_eq!(revoked.revoked_at, Some(NOW + 1));
    let listed = store.revoked_hosts(&t).await.unwrap();
    assert_eq!(listed.iter().map(|h| &h.id).collect::<Vec<_>>(), [&first]);
    assert!(store.list_hosts(&t).await.unwrap().is_empty());
    store.redeem_token(&tok, &again, NOW).await.unwrap();
    let err = store.delete_host(&t, &first, NOW).await.unwrap_err();
    assert!(matches!(err, StoreError::NotFound { .. }), "{err:?}");
}

mod keys;
mod logs;
mod purge;
mod revisions;
mod sites;
mod vms;
pub(crate) use keys::*;
pub(crate) use logs::*;
pub(crate) use purge::*;
pub(crate) use revisions::*;
pub(crate) use sites::*;
pub(crate) use vms::*;

/// One `#[tokio::test]` per case, each on a store from `$make`.
macro_rules! conformance_tests {
    ($make:expr) => {
        conformance_tests!(@cases $make;
            tenants_are_unique_and_listed,
            api_keys_match_only_themselves_and_revoke,
            a_token_is_spent_once_per_use,
            expired_unknown_and_forged_tokens_are_refused,
            parallel_redemptions_give_exactly_one_host,
            every_host_gets_a_distinct_block_in_every_network,
            a_full_network_refuses_enrollment_without_spending_the_token,
            a_tenants_subnets_never_overlap,
            one_tenant_cannot_reach_anothers_objects,
            live_host_names_are_unique_in_a_tenant,
            every_change_moves_the_revision_once,
            reports_keep_keys_of_the_tenants_networks_and_move_the_revision_on_change,
            a_networks_hosts_are_all_or_those_chosen,
            a_resuming_host_learns_the_networks_changed_since_its_revision,
            purge_forgets_dead_tokens_and_long_revoked_hosts_only,
            sites_are_listed_and_deleted_only_once_empty,
            one_tenant_cannot_reach_anothers_sites,
            a_vxlan_network_spans_exactly_its_sites_hosts,
            logs_are_numbered_kept_newest_and_read_by_their_tenant_only,
            vms_are_placed_on_a_host_in_their_networks,
            one_tenant_cannot_reach_anothers_vms,
            vm_reports_replace_the_last_and_move_no_revision,
            a_keys_age_survives_heartbeats_and_restarts_at_a_rotation,
            tokens_are_listed_by_tenant_and_revoked_ones_enroll_nobody,
        );
    };
    (@cases $make:expr; $($case:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $case() {
                let (store, _guard) = $make;
                $crate::store::conformance::$case(store).await;
            }
        )*
    };
}
pub(crate) use conformance_tests;
