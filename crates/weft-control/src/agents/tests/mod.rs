//! The agents' port for real: TLS on loopback, tonic clients, the
//! server as `weft control serve` starts it (`crate::test_plane`).

mod logs;
mod race;
mod stream;

use super::*;
use crate::serve::{ServeConfig, start};
use crate::test_plane::{control_methods, csr, enroll, plane, plane_limited};
use rcgen::CertificateParams;
use tonic::Code;
use tonic::transport::Channel;
use weft_proto::control::agent_control_client::AgentControlClient;
use weft_proto::control::enrollment_client::EnrollmentClient;

async fn renew(channel: Channel) -> Result<pb::RenewResponse, Status> {
    let (_, csr) = csr();
    let mut client = AgentControlClient::new(channel);
    client
        .renew(pb::RenewRequest { csr_pem: csr })
        .await
        .map(|r| r.into_inner())
}

#[tokio::test]
async fn an_agent_enrolls_with_a_token_then_speaks_mutual_tls() {
    let p = plane((100.0, 100)).await;
    let token = p.token("acme", 1, 60).await;
    let (got, key) = enroll(&p, &token, "web-1").await.unwrap();
    let der = crate::ca::pem_der(&got.certificate_pem).unwrap();
    assert_eq!(crate::ca::host_of(&der).unwrap().as_str(), got.host_id);
    assert_eq!(got.ca_pem, p.ca_pem());
    let id = HostId::parse("host", &got.host_id).unwrap();
    let host = p.running.store.host(&id).await.unwrap().unwrap();
    assert_eq!(host.name, "web-1");
    let channel = p
        .channel(Some((&got.certificate_pem, &key.serialize_pem())))
        .await
        .unwrap();
    let renewed = renew(channel).await.unwrap();
    let der = crate::ca::pem_der(&renewed.certificate_pem).unwrap();
    assert_eq!(crate::ca::host_of(&der), Some(id));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn parallel_enrollments_with_one_token_give_exactly_one_certificate() {
    let p = Arc::new(plane((1000.0, 1000)).await);
    let token = p.token("acme", 1, 60).await;
    let mut tasks = Vec::new();
    for i in 0..16 {
        let (p, token) = (Arc::clone(&p), token.clone());
        tasks.push(tokio::spawn(async move {
            enroll(&p, &token, &format!("h{i}")).await
        }));
    }
    let mut certs = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(_) => certs += 1,
            Err(status) => assert_eq!(status.code(), Code::Unauthenticated, "{status:?}"),
        }
    }
    assert_eq!(certs, 1);
    let tenant = p
        .running
        .store
        .tenant_by_name("acme")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        p.running.store.list_hosts(&tenant.id).await.unwrap().len(),
        1
    );
}

#[tokio::test]
async fn expired_used_unknown_and_malformed_tokens_and_bad_input_are_refused() {
    let p = plane((100.0, 100)).await;
    let used = p.token("acme", 1, 60).await;
    enroll(&p, &used, "first").await.unwrap();
    let expired = p.token("acme", 1, 1).await;
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let unknown = Secret::generate(SecretKind::EnrollToken);
    for (token, why) in [
        (used.as_str(), "used"),
        (expired.as_str(), "expired"),
        (unknown.expose(), "unknown"),
        ("wet_123", "malformed"),
        ("", "empty"),
    ] {
        let status = enroll(&p, token, "second").await.unwrap_err();
        assert_eq!(status.code(), Code::Unauthenticated, "{why}: {status:?}");
        assert!(
            !status.message().contains(&token[token.len().min(20)..]) || token.len() < 20,
            "{why}: {status:?}"
        );
    }
    // Bad input is refused before the token is spent.
    let good = p.token("acme", 1, 60).await;
    let status = enroll(&p, &good, "Not A Label").await.unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert!(status.message().contains("host_name"), "{status:?}");
    let mut client = EnrollmentClient::new(p.channel(None).await.unwrap());
    for csr in [
        "",
        "-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n",
    ] {
        let req = pb::EnrollRequest {
            token: good.clone(),
            host_name: "second".into(),
            csr_pem: csr.into(),
        };
        let status = client.enroll(req).await.unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument);
        assert!(status.message().contains("csr_pem"), "{status:?}");
    }
    // Oversized messages are refused whole.
    let req = pb::EnrollRequest {
        token: good.clone(),
        host_name: "second".into(),
        csr_pem: "A".repeat(MAX_MESSAGE + 1),
    };
    let status = client.enroll(req).await.unwrap_err();
    assert!(
        matches!(status.code(), Code::OutOfRange | Code::ResourceExhausted),
        "{status:?}"
    );
    enroll(&p, &good, "second").await.unwrap();
}

#[tokio::test]
async fn enrollment_is_rate_limited() {
    let p = plane((0.5, 3)).await;
    let mut limited = 0;
    for _ in 0..6 {
        let status = enroll(&p, "wet_bad", "h").await.unwrap_err();
        if status.code() == Code::ResourceExhausted {
            limited += 1;
        }
    }
    assert_eq!(limited, 3);
}

#[tokio::test]
async fn enrollment_is_rate_limited_per_address_below_the_server_wide_rate() {
    let p = plane_limited((100.0, 100), (0.0, 2)).await;
    let mut limited = Vec::new();
    for i in 0..5 {
        // Claiming another address changes nothing: the connection's counts.
        let mut req = tonic::Request::new(pb::EnrollRequest {
            token: "wet_bad".into(),
            host_name: "h".into(),
            csr_pem: csr().1,
        });
        for header in ["x-forwarded-for", "x-real-ip", "forwarded"] {
            let claimed = format!("192.0.2.{i}");
            req.metadata_mut().insert(header, claimed.parse().unwrap());
        }
        let mut client = EnrollmentClient::new(p.channel(None).await.unwrap());
        let status = client.enroll(req).await.unwrap_err();
        if status.code() == Code::ResourceExhausted {
            limited.push(status.message().to_string());
        }
    }
    assert_eq!(limited.len(), 3, "{limited:?}");
    assert!(limited[0].contains("this address"), "{limited:?}");
}

/// Call `path` with an empty message (every field at its default).
pub(super) async fn call_raw(channel: Channel, path: &str) -> Status {
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready().await.unwrap();
    let codec = tonic_prost::ProstCodec::<(), ()>::default();
    let path: axum::http::uri::PathAndQuery = path.parse().unwrap();
    match grpc.unary(tonic::Request::new(()), path, codec).await {
        Ok(_) => Status::ok(""),
        Err(status) => status,
    }
}

#[tokio::test]
async fn every_method_but_enrollment_refuses_no_certificate_and_a_revoked_hosts() {
    let p = plane((100.0, 100)).await;
    let token = p.token("acme", 1, 60).await;
    let (got, key) = enroll(&p, &token, "gone").await.unwrap();
    let tenant = p
        .running
        .store
        .tenant_by_name("acme")
        .await
        .unwrap()
        .unwrap();
    let id = HostId::parse("host", &got.host_id).unwrap();
    p.running
        .store
        .delete_host(&tenant.id, &id, 0)
        .await
        .unwrap();
    let methods = control_methods();
    assert!(methods.len() >= 2, "{methods:?}");
    let mut open = Vec::new();
    for (path, _) in &methods {
        let anonymous = call_raw(p.channel(None).await.unwrap(), path).await;
        let revoked = call_raw(
            p.channel(Some((&got.certificate_pem, &key.serialize_pem())))
                .await
                .unwrap(),
            path,
        )
        .await;
        assert_eq!(
            revoked.code(),
            Code::Unauthenticated,
            "{path} as a revoked host: {revoked:?}"
        );
        // Agents' methods want a certificate, tenants' an API key.
        let wants = ["client certificate", "API key"];
        if wants.iter().any(|w| anonymous.message().contains(w)) {
            assert_eq!(anonymous.code(), Code::Unauthenticated, "{path}");
        } else {
            open.push(path.clone());
        }
    }
    assert_eq!(open, ["/weft.control.v1.Enrollment/Enroll"]);
}

#[tokio::test]
async fn certificates_of_another_ca_self_signed_or_expired_end_the_handshake() {
    let p = plane((100.0, 100)).await;
    let token = p.token("acme", 1, 60).await;
    let (got, _) = enroll(&p, &token, "real").await.unwrap();
    let host = HostId::parse("host", &got.host_id).unwrap();
    let (key, req) = csr();
    let other = Ca::generate(crate::api::system_clock()()).unwrap();
    let foreign = other
        .sign_client(&req, &host, crate::api::system_clock()(), 1)
        .unwrap();
    let mut params = CertificateParams::new(vec![]).unwrap();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, host.as_str());
    let self_signed = params.self_signed(&key).unwrap().pem();
    let ours = Ca::from_files(
        &p.dir.path().join("state/ca.pem"),
        &p.dir.path().join("state/ca.key"),
    )
    .unwrap();
    let expired = ours.sign_client(&req, &host, 1_000_000_000, 1).unwrap();
    for (what, cert) in [
        ("another CA's", foreign),
        ("self-signed", self_signed),
        ("expired", expired),
    ] {
        let refused = match p.channel(Some((&cert, &key.serialize_pem()))).await {
            Err(_) => true,
            // TLS 1.3 may report the refusal on the first call instead.
            Ok(channel) => renew(channel).await.is_err(),
        };
        assert!(refused, "{what} certificate accepted");
    }
}

#[tokio::test]
async fn a_given_ca_is_used_and_half_a_pair_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("mine")).unwrap();
    let (ca, _) = Ca::load_or_create(&dir.path().join("mine"), 0).unwrap();
    let config = |cert: Option<&str>, key: Option<&str>| ServeConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        grpc: "127.0.0.1:0".parse().unwrap(),
        state_dir: dir.path().join("state"),
        server_names: vec!["localhost".into()],
        tls_cert: None,
        tls_key: None,
        ca_cert: cert.map(|c| dir.path().join("mine").join(c)),
        ca_key: key.map(|k| dir.path().join("mine").join(k)),
        enroll_rate: (1.0, 1),
        enroll_rate_per_address: (1.0, 1),
        advertise: vec![],
        store: Default::default(),
        logs_per_host: crate::serve::DEFAULT_LOGS_PER_HOST,
    };
    let clock = crate::api::system_clock();
    let running = start(config(Some("ca.pem"), Some("ca.key")), clock.clone())
        .await
        .unwrap();
    assert_eq!(running.fingerprint, ca.fingerprint());
    assert!(!running.ca_created);
    assert!(
        !dir.path().join("state/ca.key").exists(),
        "no second CA made"
    );
    drop(running);
    let err = start(config(Some("ca.pem"), None), clock)
        .await
        .err()
        .unwrap();
    assert!(
        err.to_string().contains("only one of --ca-cert/--ca-key"),
        "{err}"
    );
}
