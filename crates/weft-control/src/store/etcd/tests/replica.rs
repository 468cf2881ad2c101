//! Replicas of `weft control serve --store etcd://…` on one etcd: shared
//! state, one CA, each told of the others, one running the jobs.

use super::*;
use crate::deployment::StoreConfig;
use crate::serve::{Running, ServeConfig, start};
use weft_testkit::etcd::Member;

const NOW: i64 = 1_800_000_000;

fn config(dir: &std::path::Path, name: &str, store: &StoreConfig) -> ServeConfig {
    ServeConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        grpc: "127.0.0.1:0".parse().unwrap(),
        state_dir: dir.join(name),
        server_names: vec!["localhost".into()],
        tls_cert: None,
        tls_key: None,
        ca_cert: None,
        ca_key: None,
        enroll_rate: (100.0, 100),
        enroll_rate_per_address: (100.0, 100),
        advertise: vec![],
        store: store.clone(),
        logs_per_host: crate::serve::DEFAULT_LOGS_PER_HOST,
    }
}

/// Wait (up to `secs`) until `f` holds.
async fn eventually(what: &str, secs: u64, mut f: impl AsyncFnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    while !f().await {
        assert!(tokio::time::Instant::now() < deadline, "timed out: {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn told(replica: &Running) -> Vec<String> {
    replica.replicas.borrow().clone()
}

/// The jobs' leader's value (a replica id), if any.
async fn leader(client: &Client, prefix: &str) -> Option<Vec<u8>> {
    let name = format!("{prefix}elections/jobs");
    client.leader(name).await.unwrap().map(|kv| kv.value)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_share_state_and_ca_know_each_other_and_elect_one_for_the_jobs() {
    // A member of its own: the test waits out a lease.
    let Some(member) = Member::start() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let prefix = format!("/weft-test/{}/", crate::model::random_id());
    let store = StoreConfig::parse(&format!(
        "{}{prefix}",
        member.client_url().replace("http://", "etcd://")
    ))
    .unwrap();
    let clock = crate::api::system_clock();
    let one = start(config(dir.path(), "one", &store), clock.clone())
        .await
        .unwrap();
    let two = start(config(dir.path(), "two", &store), clock)
        .await
        .unwrap();
    // State: one store.
    crate::admin::create_tenant(one.store.as_ref(), "acme", NOW)
        .await
        .unwrap();
    let seen = two.store.tenant_by_name("acme").await.unwrap();
    assert_eq!(seen.unwrap().name, "acme");
    assert!(!dir.path().join("one/control.db").exists(), "SQLite opened");
    // The CA: made by the first, loaded by the second; no CA file made.
    assert!(one.ca_created && !two.ca_created);
    assert_eq!(one.fingerprint, two.fingerprint);
    assert!(!dir.path().join("two/ca.key").exists());
    let pem = std::fs::read_to_string(dir.path().join("two/ca.pem")).unwrap();
    assert_eq!(
        crate::ca::pem_der(&pem).map(|d| crate::ca::Fingerprint::of(&d)),
        Some(one.fingerprint)
    );
    // Each tells agents of both.
    let both = {
        let mut both = vec![one.grpc_addr.to_string(), two.grpc_addr.to_string()];
        both.sort();
        both
    };
    eventually("each replica to know both", 10, async || {
        told(&one) == both && told(&two) == both
    })
    .await;
    // One of them runs the jobs.
    let etcd = Client::new(&[member.client_url()], weft_etcd::Options::default()).unwrap();
    eventually("a replica to lead the jobs", 10, async || {
        leader(&etcd, &prefix).await.is_some()
    })
    .await;
    let first = leader(&etcd, &prefix).await;
    // The first replica goes (its lease expires unrenewed): the second is
    // left alone on the list, and leads the jobs if it did not already.
    drop(one);
    let only_two = vec![two.grpc_addr.to_string()];
    eventually(
        "the second to drop the first from its list",
        3 * crate::store::etcd::replica::SESSION_TTL as u64,
        async || told(&two) == only_two,
    )
    .await;
    eventually("a leader after the first went", 10, async || {
        leader(&etcd, &prefix).await.is_some()
    })
    .await;
    let now = leader(&etcd, &prefix).await;
    // Whoever led, one leads now; if the first led, the lead moved.
    let ids = etcd
        .get_prefix(format!("{prefix}replicas/"))
        .await
        .unwrap()
        .kvs;
    assert_eq!(ids.len(), 1, "one replica registered");
    let two_id = String::from_utf8_lossy(&ids[0].key)
        .rsplit('/')
        .next()
        .unwrap()
        .to_string();
    assert_eq!(now.as_deref(), Some(two_id.as_bytes()), "before: {first:?}");
}
