//! The client against a real control plane (`weft-control`) on loopback.

use super::*;
use weft_control::serve::{Running, ServeConfig, start};

async fn plane() -> (Running, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let config = ServeConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        grpc: "127.0.0.1:0".parse().unwrap(),
        state_dir: dir.path().join("cp"),
        server_names: vec!["localhost".into(), "127.0.0.1".into()],
        tls_cert: None,
        tls_key: None,
        ca_cert: None,
        ca_key: None,
        enroll_rate: (100.0, 100),
        enroll_rate_per_address: (100.0, 100),
        advertise: vec![],
        store: Default::default(),
        logs_per_host: weft_control::serve::DEFAULT_LOGS_PER_HOST,
    };
    let running = start(config, weft_control::api::system_clock())
        .await
        .unwrap();
    (running, dir)
}

async fn token(running: &Running, uses: u32) -> String {
    let store = running.store.as_ref();
    if store.tenant_by_name("acme").await.unwrap().is_none() {
        weft_control::admin::create_tenant(store, "acme", 0)
            .await
            .unwrap();
    }
    let now = weft_control::api::system_clock()();
    let ttl = Duration::from_secs(600);
    let (_, t) = weft_control::admin::create_token(store, "acme", ttl, uses, now)
        .await
        .unwrap();
    t.expose().to_string()
}

#[tokio::test]
async fn enrolling_with_the_pinned_fingerprint_stores_an_identity_that_renews() {
    let (running, dir) = plane().await;
    let url = format!("https://localhost:{}", running.grpc_addr.port());
    let fp = running.fingerprint.to_string();
    let config = ControlConfig::new(&url, Some(token(&running, 1).await), Some(&fp), None).unwrap();
    let state = dir.path().join("agent");
    let identity = enrolled(&config, &state, "web-1").await.unwrap();
    let host = weft_control::model::HostId::parse("host", &identity.host_id).unwrap();
    assert_eq!(
        running.store.host(&host).await.unwrap().unwrap().name,
        "web-1"
    );
    // The private key never left: the control plane's store and state
    // directory hold no trace of it.
    let key_body: String = identity
        .key_pem
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect();
    // (Past the PKCS#8 header, which every P-256 key shares.)
    let secret = &key_body[50..90];
    for entry in std::fs::read_dir(dir.path().join("cp")).unwrap() {
        let path = entry.unwrap().path();
        let bytes = std::fs::read(&path).unwrap();
        assert!(
            !String::from_utf8_lossy(&bytes).contains(secret),
            "{}",
            path.display()
        );
    }
    // Loaded again, not enrolled again (the token was single-use).
    let again = enrolled(&config, &state, "web-1").await.unwrap();
    assert_eq!(again.host_id, identity.host_id);
    // mTLS with the stored identity and CA.
    let trust = Trust::CaPem(identity.ca_pem.clone());
    let channel = config
        .channel(&trust, Some((&identity.cert_pem, &identity.key_pem)))
        .await
        .unwrap();
    let (_, csr) = key_and_csr().unwrap();
    let mut client = pb::agent_control_client::AgentControlClient::new(channel);
    client
        .renew(pb::RenewRequest { csr_pem: csr })
        .await
        .unwrap();
}

#[tokio::test]
async fn a_wrong_fingerprint_or_foreign_ca_file_trusts_nothing_and_spends_no_token() {
    let (running, dir) = plane().await;
    let url = format!("https://localhost:{}", running.grpc_addr.port());
    let t = token(&running, 1).await;
    let wrong = format!("SHA256:{}", "ab".repeat(32));
    let config = ControlConfig::new(&url, Some(t.clone()), Some(&wrong), None).unwrap();
    let state = dir.path().join("agent");
    let err = enrolled(&config, &state, "web-1").await.unwrap_err();
    assert!(
        chain(&err).contains("pinned fingerprint"),
        "{}",
        chain(&err)
    );
    let foreign = weft_control::ca::Ca::generate(0).unwrap();
    let ca_file = dir.path().join("foreign.pem");
    std::fs::write(&ca_file, foreign.cert_pem()).unwrap();
    let config = ControlConfig::new(&url, Some(t.clone()), None, Some(&ca_file)).unwrap();
    assert!(enrolled(&config, &state, "web-1").await.is_err());
    assert!(Identity::load(&state).unwrap().is_none());
    // The right CA file works, and the token was still unspent.
    let config =
        ControlConfig::new(&url, Some(t), None, Some(&dir.path().join("cp/ca.pem"))).unwrap();
    enrolled(&config, &state, "web-1").await.unwrap();
}

#[tokio::test]
async fn a_refused_token_is_not_retried() {
    let (running, dir) = plane().await;
    let url = format!("https://localhost:{}", running.grpc_addr.port());
    let fp = running.fingerprint.to_string();
    let unknown = "wet_000000000000_".to_string() + &"0".repeat(64);
    let config = ControlConfig::new(&url, Some(unknown), Some(&fp), None).unwrap();
    let err = enrolled(&config, &dir.path().join("agent"), "web-1")
        .await
        .unwrap_err();
    assert!(!err.is_transient(), "{}", chain(&err));
    assert!(
        chain(&err).contains("enrollment token refused"),
        "{}",
        chain(&err)
    );
}

/// A second replica on the same state directory (same CA and store), its
/// certificate made for its own name only.
async fn second_replica(dir: &tempfile::TempDir, name: &str) -> Running {
    let config = ServeConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        grpc: "127.0.0.1:0".parse().unwrap(),
        state_dir: dir.path().join("cp"),
        server_names: vec![name.into()],
        tls_cert: None,
        tls_key: None,
        ca_cert: None,
        ca_key: None,
        enroll_rate: (100.0, 100),
        enroll_rate_per_address: (100.0, 100),
        advertise: vec![],
        store: Default::default(),
        logs_per_host: weft_control::serve::DEFAULT_LOGS_PER_HOST,
    };
    start(config, weft_control::api::system_clock())
        .await
        .unwrap()
}

#[tokio::test]
async fn the_replicas_told_at_enrollment_are_stored_and_each_is_trusted_at_its_own_name() {
    let (first, dir) = plane().await;
    let second = second_replica(&dir, "127.0.0.1").await;
    let replicas = vec![
        format!("localhost:{}", first.grpc_addr.port()),
        format!("127.0.0.1:{}", second.grpc_addr.port()),
    ];
    first.replicas.send_replace(replicas.clone());
    let url = format!("https://localhost:{}", first.grpc_addr.port());
    let fp = first.fingerprint.to_string();
    let config = ControlConfig::new(&url, Some(token(&first, 1).await), Some(&fp), None).unwrap();
    let state = dir.path().join("agent");
    let identity = enrolled(&config, &state, "web-1").await.unwrap();
    assert_eq!(identity::load_replicas(&state), replicas);
    // The other replica, with the stored CA and the host's certificate.
    let trust = Trust::CaPem(identity.ca_pem.clone());
    let own = Some((identity.cert_pem.as_str(), identity.key_pem.as_str()));
    let channel = config.channel_to(&replicas[1], &trust, own).await.unwrap();
    let mut client = pb::agent_control_client::AgentControlClient::new(channel);
    client.report(pb::ReportRequest::default()).await.unwrap();
    // Its certificate names 127.0.0.1, not localhost: refused by that name.
    let elsewhere = format!("localhost:{}", second.grpc_addr.port());
    let refused = async {
        let channel = config.channel_to(&elsewhere, &trust, own).await?;
        let mut client = pb::agent_control_client::AgentControlClient::new(channel);
        client
            .report(pb::ReportRequest::default())
            .await
            .map_err(|status| ControlError::Refused {
                url: elsewhere.clone(),
                status,
            })
    };
    let err = refused.await.unwrap_err();
    assert!(chain(&err).contains("certificate"), "{}", chain(&err));
}
