//! Enrollments racing on two replicas (two `serve::start` on one etcd
//! cluster, one CA shared through etcd): each single-use token is raced by two callers, one
//! per replica. Exactly one certificate per token, every host one block
//! in every network, no block twice; the losers are refused.

use super::*;
use crate::admin;
use crate::deployment::StoreConfig;
use crate::model::{NetworkSpec, random_id};
use crate::serve::{Running, ServeConfig, start};
use crate::test_plane::{channel_to, csr};
use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::Path;
use tokio::sync::Barrier;
use tonic::Code;
use weft_proto::control::enrollment_client::EnrollmentClient;
use weft_testkit::etcd::Cluster;

const TOKENS: usize = 25;

fn config(state: &Path, endpoints: Vec<String>, prefix: &str) -> ServeConfig {
    ServeConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        grpc: "127.0.0.1:0".parse().unwrap(),
        state_dir: state.to_path_buf(),
        server_names: vec!["localhost".into()],
        tls_cert: None,
        tls_key: None,
        ca_cert: None,
        ca_key: None,
        // Far above what 50 calls from one address need.
        enroll_rate: (1000.0, 1000),
        enroll_rate_per_address: (1000.0, 1000),
        advertise: vec![],
        store: StoreConfig::Etcd {
            endpoints,
            prefix: prefix.to_string(),
        },
        logs_per_host: crate::serve::DEFAULT_LOGS_PER_HOST,
    }
}

/// One Enroll call through `replica`, let go with the others at `start`.
async fn enroll(
    replica: SocketAddr,
    ca_pem: String,
    token: String,
    name: String,
    start: Arc<Barrier>,
) -> Result<pb::EnrollResponse, Status> {
    let channel = channel_to(replica, &ca_pem, None).await.unwrap();
    let mut client = EnrollmentClient::new(channel);
    let (_, csr_pem) = csr();
    let req = pb::EnrollRequest {
        token,
        host_name: name,
        csr_pem,
    };
    start.wait().await;
    client.enroll(req).await.map(|r| r.into_inner())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_enrollments_racing_on_two_replicas_give_one_certificate_per_token() {
    let Some(cluster) = Cluster::start() else {
        return;
    };
    let began = std::time::Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let prefix = format!("/weft-test/{}/", random_id());
    let mut endpoints = cluster.endpoints();
    let clock = crate::api::system_clock();
    let (one_dir, two_dir) = (dir.path().join("one"), dir.path().join("two"));
    let one = start(config(&one_dir, endpoints.clone(), &prefix), clock.clone());
    let one: Running = one.await.unwrap();
    // The other replica asks the members in the other order.
    endpoints.reverse();
    let two = start(config(&two_dir, endpoints, &prefix), clock);
    let two: Running = two.await.unwrap();
    assert_eq!(one.fingerprint, two.fingerprint);
    let ca_pem = std::fs::read_to_string(one_dir.join("ca.pem")).unwrap();

    let store = one.store.as_ref();
    let now = crate::api::system_clock()();
    let (tenant, _) = admin::create_tenant(store, "acme", now).await.unwrap();
    for (name, subnet) in [("blue", "10.42.0.0/16"), ("red", "10.43.0.0/16")] {
        let spec = NetworkSpec::new(name, subnet, "", false, "", None).unwrap();
        store.create_network(&tenant.id, &spec, now).await.unwrap();
    }
    let mut tokens = Vec::new();
    for _ in 0..TOKENS {
        let ttl = Duration::from_secs(300);
        let (_, token) = admin::create_token(store, "acme", ttl, 1, now)
            .await
            .unwrap();
        tokens.push(token.expose().to_string());
    }

    // Every token twice, once through each replica, all let go at once.
    let start = Arc::new(Barrier::new(2 * TOKENS));
    let mut calls = Vec::new();
    for (i, token) in tokens.iter().enumerate() {
        for (side, replica) in [("a", &one), ("b", &two)] {
            let name = format!("h{i}{side}");
            let call = enroll(
                replica.grpc_addr,
                ca_pem.clone(),
                token.clone(),
                name.clone(),
                Arc::clone(&start),
            );
            calls.push((i, name, tokio::spawn(call)));
        }
    }
    let raced = std::time::Instant::now();
    let mut winners: BTreeMap<usize, (String, String)> = BTreeMap::new();
    for (i, name, call) in calls {
        match call.await.unwrap() {
            Ok(got) => {
                let der = crate::ca::pem_der(&got.certificate_pem).unwrap();
                let holder = crate::ca::host_of(&der).unwrap();
                assert_eq!(
                    holder.as_str(),
                    got.host_id,
                    "the certificate names the host"
                );
                let twice = winners.insert(i, (name, got.host_id));
                assert!(twice.is_none(), "token {i} gave two certificates");
            }
            Err(status) => {
                assert_eq!(status.code(), Code::Unauthenticated, "{name}: {status:?}");
                assert_eq!(status.message(), "enrollment token refused", "{name}");
            }
        }
    }
    eprintln!("{} enrollments raced in {:?}", 2 * TOKENS, raced.elapsed());
    assert_eq!(winners.len(), TOKENS, "one certificate per token");
    let through_one = winners.values().filter(|(n, _)| n.ends_with('a')).count();
    eprintln!(
        "tokens won through one: {through_one}, through two: {}",
        TOKENS - through_one
    );

    // Both replicas see the same 25 hosts, each with one block in every
    // network, no block twice.
    let ids: BTreeSet<String> = winners.values().map(|(_, id)| id.clone()).collect();
    let names: BTreeSet<String> = winners.values().map(|(name, _)| name.clone()).collect();
    assert_eq!(ids.len(), TOKENS);
    for replica in [&one, &two] {
        let store = replica.store.as_ref();
        let hosts = store.list_hosts(&tenant.id).await.unwrap();
        let seen: BTreeSet<String> = hosts.iter().map(|h| h.id.to_string()).collect();
        assert_eq!(seen, ids);
        let seen: BTreeSet<String> = hosts.iter().map(|h| h.name.clone()).collect();
        assert_eq!(seen, names);
        let blocks = store.blocks(&tenant.id).await.unwrap();
        for network in ["blue", "red"] {
            let mine: Vec<_> = blocks.iter().filter(|b| b.network == network).collect();
            let owners: BTreeSet<String> = mine.iter().map(|b| b.host.to_string()).collect();
            let distinct: BTreeSet<_> = mine.iter().map(|b| b.block).collect();
            assert_eq!(mine.len(), TOKENS, "{network}: one block per host");
            assert_eq!(owners, ids, "{network}: every host once");
            assert_eq!(distinct.len(), TOKENS, "{network}: a block twice");
        }
    }
    eprintln!("whole test: {:?}", began.elapsed());
}
