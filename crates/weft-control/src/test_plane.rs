//! A control plane for tests: started as `weft control serve` starts it
//! (SQLite in a temporary state directory, TLS on loopback), with tonic
//! clients to its gRPC port. Shared by the agents' tests and
//! `TenantControl`'s.

use crate::admin;
use crate::serve::{ServeConfig, start};
use prost::Message as _;
use rcgen::{CertificateParams, KeyPair};
use rustls_pki_types::pem::PemObject as _;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpStream;
use tonic::Status;
use tonic::transport::{Channel, Endpoint, Uri};
use weft_proto::control as pb;
use weft_proto::control::enrollment_client::EnrollmentClient;

pub(crate) struct Plane {
    pub(crate) running: crate::serve::Running,
    pub(crate) dir: tempfile::TempDir,
}

pub(crate) async fn plane(enroll_rate: (f64, u32)) -> Plane {
    plane_limited(enroll_rate, enroll_rate).await
}

/// A control plane with a server-wide and a per-address enrollment rate.
pub(crate) async fn plane_limited(
    enroll_rate: (f64, u32),
    enroll_rate_per_address: (f64, u32),
) -> Plane {
    let dir = tempfile::tempdir().unwrap();
    let mut config = config(&dir, enroll_rate);
    config.enroll_rate_per_address = enroll_rate_per_address;
    let running = start(config, crate::api::system_clock()).await.unwrap();
    Plane { running, dir }
}

pub(crate) fn config(dir: &tempfile::TempDir, enroll_rate: (f64, u32)) -> ServeConfig {
    ServeConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        grpc: "127.0.0.1:0".parse().unwrap(),
        state_dir: dir.path().join("state"),
        server_names: vec!["localhost".into()],
        tls_cert: None,
        tls_key: None,
        ca_cert: None,
        ca_key: None,
        enroll_rate,
        enroll_rate_per_address: enroll_rate,
        advertise: vec![],
        store: Default::default(),
        logs_per_host: crate::serve::DEFAULT_LOGS_PER_HOST,
    }
}

impl Plane {
    /// Stop this control plane and start another on its state directory
    /// (new ports, same store and CA), as after a crash or an upgrade.
    pub(crate) async fn restart(self) -> Plane {
        let Plane { running, dir } = self;
        drop(running);
        let running = start(config(&dir, (100.0, 100)), crate::api::system_clock())
            .await
            .unwrap();
        Plane { running, dir }
    }

    pub(crate) fn ca_pem(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("state/ca.pem")).unwrap()
    }

    pub(crate) async fn token(&self, tenant: &str, uses: u32, ttl: u64) -> String {
        let store = self.running.store.as_ref();
        if store.tenant_by_name(tenant).await.unwrap().is_none() {
            admin::create_tenant(store, tenant, 0).await.unwrap();
        }
        let now = crate::api::system_clock()();
        let ttl = Duration::from_secs(ttl);
        let (_, token) = admin::create_token(store, tenant, ttl, uses, now)
            .await
            .unwrap();
        token.expose().to_string()
    }

    /// A channel trusting the control plane's CA, with `identity` as the
    /// client certificate when given.
    pub(crate) async fn channel(
        &self,
        identity: Option<(&str, &str)>,
    ) -> Result<Channel, tonic::transport::Error> {
        channel_to(self.running.grpc_addr, &self.ca_pem(), identity).await
    }
}

pub(crate) async fn channel_to(
    addr: std::net::SocketAddr,
    ca_pem: &str,
    identity: Option<(&str, &str)>,
) -> Result<Channel, tonic::transport::Error> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
        roots.add(cert.unwrap()).unwrap();
    }
    let builder = rustls::ClientConfig::builder_with_provider(crate::tls::provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots);
    let mut config = match identity {
        Some((cert, key)) => {
            let chain = CertificateDer::pem_slice_iter(cert.as_bytes())
                .collect::<Result<Vec<_>, _>>()
                .unwrap();
            let key = PrivateKeyDer::from_pem_slice(key.as_bytes()).unwrap();
            builder.with_client_auth_cert(chain, key).unwrap()
        }
        None => builder.with_no_client_auth(),
    };
    config.alpn_protocols = vec![b"h2".to_vec()];
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    Endpoint::from_static("http://localhost")
        .connect_with_connector(tower::service_fn(move |_: Uri| {
            let connector = connector.clone();
            async move {
                let tcp = TcpStream::connect(addr).await?;
                let name = ServerName::try_from("localhost").unwrap();
                let tls = connector.connect(name, tcp).await?;
                Ok::<_, std::io::Error>(hyper_util::rt::TokioIo::new(tls))
            }
        }))
        .await
}

pub(crate) fn csr() -> (KeyPair, String) {
    let key = KeyPair::generate().unwrap();
    let csr = CertificateParams::new(vec![])
        .unwrap()
        .serialize_request(&key)
        .unwrap()
        .pem()
        .unwrap();
    (key, csr)
}

pub(crate) async fn enroll(
    p: &Plane,
    token: &str,
    name: &str,
) -> Result<(pb::EnrollResponse, KeyPair), Status> {
    let (key, csr) = csr();
    let mut client = EnrollmentClient::new(p.channel(None).await.unwrap());
    let req = pb::EnrollRequest {
        token: token.into(),
        host_name: name.into(),
        csr_pem: csr,
    };
    client.enroll(req).await.map(|r| (r.into_inner(), key))
}

/// Every method of every service in the control proto, from its descriptors.
pub(crate) fn control_methods() -> Vec<(String, bool)> {
    let set = prost_types::FileDescriptorSet::decode(weft_proto::DESCRIPTORS).unwrap();
    let mut methods = Vec::new();
    for file in set.file {
        if file.package() != "weft.control.v1" {
            continue;
        }
        for service in &file.service {
            for method in &service.method {
                let path = format!("/{}.{}/{}", file.package(), service.name(), method.name());
                methods.push((path, method.server_streaming()));
            }
        }
    }
    methods
}
