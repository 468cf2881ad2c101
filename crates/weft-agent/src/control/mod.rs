//! The agent's side of the optional control plane (`weft agent --control
//! https://HOST:PORT`): enroll once with a token — the key pair is made
//! here and only a CSR leaves the host — then speak mutual TLS. The control
//! plane's own code lives in `weft-control`; this is only its client.
//!
//! Nothing here is needed for the data plane: if the control plane is
//! down, unreachable or refuses, the agent keeps running on what it has.

pub mod apply;
pub mod follow;
pub mod identity;
pub mod logs;
pub mod replicas;
pub mod runs;
pub mod state;
pub mod tls;
pub mod vms;

use identity::{Identity, IdentityError};
use rcgen::{CertificateParams, KeyPair};
use rustls_pki_types::pem::PemObject as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tls::{Fingerprint, Trust};
use tonic::transport::{Channel, Endpoint, Uri};
use weft_model::error::chain;
use weft_proto::control as pb;

/// How the agent reaches and trusts its control plane.
#[derive(Clone, Debug)]
pub struct ControlConfig {
    /// As given, for messages.
    pub url: String,
    /// The name the server's certificate must carry.
    pub server_name: String,
    pub port: u16,
    /// Needed until the host has enrolled.
    pub enroll_token: Option<String>,
    /// How to trust the control plane before enrollment.
    pub trust: Option<Trust>,
    /// The agent's log records to stream to it (the binary's `tracing`
    /// layer fills it); `None`: none are sent.
    pub logs: Option<Arc<logs::LogBuffer>>,
    /// Runs the control plane's VMs (`run`); `None`: this agent reports
    /// it cannot.
    pub vm_runner: Option<Arc<dyn runs::VmRunner>>,
}

#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    #[error("invalid --control {0:?}: expected https://HOST:PORT")]
    BadUrl(String),
    #[error(transparent)]
    BadFingerprint(#[from] tls::BadFingerprint),
    #[error("read --ca-file {}", .0.display())]
    CaFile(PathBuf, #[source] std::io::Error),
    #[error(
        "this host has not enrolled yet: give --enroll-token and --ca-fingerprint (or --ca-file)"
    )]
    NotEnrolled,
    #[error(transparent)]
    Identity(#[from] IdentityError),
    #[error(transparent)]
    Tls(#[from] tls::TlsError),
    #[error("make the host's key and certificate request")]
    Csr(#[source] rcgen::Error),
    #[error("reach the control plane at {url}")]
    Connect {
        url: String,
        #[source]
        source: tonic::transport::Error,
    },
    #[error("the control plane at {url} refused: {}", .status.message())]
    Refused { url: String, status: tonic::Status },
    #[error("the control plane's CA is not the one pinned ({pinned})")]
    WrongCa { pinned: Fingerprint },
}

impl ControlError {
    /// Worth trying again later (the control plane may come back), or not
    /// (the token or the configuration is wrong).
    pub fn is_transient(&self) -> bool {
        match self {
            ControlError::Connect { .. } => true,
            ControlError::Refused { status, .. } => matches!(
                status.code(),
                tonic::Code::Unavailable
                    | tonic::Code::ResourceExhausted
                    | tonic::Code::DeadlineExceeded
                    | tonic::Code::Internal
                    | tonic::Code::Unknown
            ),
            _ => false,
        }
    }
}

impl ControlConfig {
    pub fn new(
        url: &str,
        enroll_token: Option<String>,
        fingerprint: Option<&str>,
        ca_file: Option<&Path>,
    ) -> Result<ControlConfig, ControlError> {
        let bad = || ControlError::BadUrl(weft_model::error::shown(url));
        let rest = url.strip_prefix("https://").ok_or_else(bad)?;
        let authority = rest.trim_end_matches('/');
        let (host, port) = authority.rsplit_once(':').ok_or_else(bad)?;
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let port: u16 = port.parse().map_err(|_| bad())?;
        if host.is_empty() || authority.contains('/') {
            return Err(bad());
        }
        let trust = match (fingerprint, ca_file) {
            (Some(f), _) => Some(Trust::Pinned(Fingerprint::parse(f)?)),
            (None, Some(path)) => Some(Trust::CaPem(
                std::fs::read_to_string(path)
                    .map_err(|e| ControlError::CaFile(path.to_path_buf(), e))?,
            )),
            (None, None) => None,
        };
        Ok(ControlConfig {
            url: url.to_string(),
            server_name: host.to_string(),
            port,
            enroll_token,
            trust,
            logs: None,
            vm_runner: None,
        })
    }

    /// Stream the records `buffer` holds to the control plane.
    pub fn with_logs(self, buffer: Arc<logs::LogBuffer>) -> ControlConfig {
        ControlConfig {
            logs: Some(buffer),
            ..self
        }
    }

    /// Run the control plane's VMs with `runner`.
    pub fn with_vm_runner(self, runner: Arc<dyn runs::VmRunner>) -> ControlConfig {
        ControlConfig {
            vm_runner: Some(runner),
            ..self
        }
    }

    /// `--control`'s `HOST:PORT` (the first replica an agent knows).
    pub fn address(&self) -> String {
        if self.server_name.contains(':') {
            format!("[{}]:{}", self.server_name, self.port)
        } else {
            format!("{}:{}", self.server_name, self.port)
        }
    }

    /// A gRPC channel to `--control` with this trust and identity.
    pub async fn channel(
        &self,
        trust: &Trust,
        identity: Option<(&str, &str)>,
    ) -> Result<Channel, ControlError> {
        self.channel_to(&self.address(), trust, identity).await
    }

    /// A gRPC channel to the replica at `address` (`HOST:PORT`). Its
    /// certificate must be the CA's and name `HOST`: each replica has its
    /// own, made for the names it is reached by.
    pub async fn channel_to(
        &self,
        address: &str,
        trust: &Trust,
        identity: Option<(&str, &str)>,
    ) -> Result<Channel, ControlError> {
        let config = tls::client_config(trust, identity)?;
        let connector = tokio_rustls::TlsConnector::from(config);
        let url = format!("https://{address}");
        let (host, port) =
            replicas::split(address).ok_or_else(|| ControlError::BadUrl(url.clone()))?;
        let host = host.to_string();
        let name = rustls_pki_types::ServerName::try_from(host.clone())
            .map_err(|_| ControlError::BadUrl(url.clone()))?;
        let connect_err = |source| ControlError::Connect { url, source };
        Endpoint::from_static("http://weft.control")
            .connect_timeout(Duration::from_secs(10))
            .connect_with_connector(tower::service_fn(move |_: Uri| {
                let (connector, host, name) = (connector.clone(), host.clone(), name.clone());
                async move {
                    let addr: SocketAddr = tokio::net::lookup_host((host.as_str(), port))
                        .await?
                        .next()
                        .ok_or_else(|| std::io::Error::other("no address"))?;
                    let tcp = tokio::net::TcpStream::connect(addr).await?;
                    let tls = connector.connect(name, tcp).await?;
                    Ok::<_, std::io::Error>(hyper_util::rt::TokioIo::new(tls))
                }
            }))
            .await
            .map_err(connect_err)
    }
}

/// A fresh key pair and a CSR for it (the CSR carries nothing the control
/// plane would take: it names the host itself).
fn key_and_csr() -> Result<(KeyPair, String), ControlError> {
    let key = KeyPair::generate().map_err(ControlError::Csr)?;
    let csr = CertificateParams::new(Vec::<String>::new())
        .map_err(ControlError::Csr)?
        .serialize_request(&key)
        .map_err(ControlError::Csr)?
        .pem()
        .map_err(ControlError::Csr)?;
    Ok((key, csr))
}

/// The stored identity, or a new one from enrolling with the token.
pub async fn enrolled(
    config: &ControlConfig,
    state_dir: &Path,
    host_name: &str,
) -> Result<Identity, ControlError> {
    if let Some(identity) = Identity::load(state_dir)? {
        return Ok(identity);
    }
    let (Some(token), Some(trust)) = (&config.enroll_token, &config.trust) else {
        return Err(ControlError::NotEnrolled);
    };
    let (key, csr) = key_and_csr()?;
    let channel = config.channel(trust, None).await?;
    let mut client = pb::enrollment_client::EnrollmentClient::new(channel);
    let req = pb::EnrollRequest {
        token: token.clone(),
        host_name: host_name.to_string(),
        csr_pem: csr,
    };
    let reply = client
        .enroll(req)
        .await
        .map_err(|status| ControlError::Refused {
            url: config.url.clone(),
            status,
        })?
        .into_inner();
    // The CA we are told to trust from now on must be the one pinned.
    if let Trust::Pinned(pinned) = trust {
        let der = rustls_pki_types::CertificateDer::from_pem_slice(reply.ca_pem.as_bytes()).ok();
        if der.map(|d| Fingerprint::of(&d)) != Some(*pinned) {
            return Err(ControlError::WrongCa { pinned: *pinned });
        }
    }
    let identity = Identity {
        host_id: reply.host_id,
        cert_pem: reply.certificate_pem,
        key_pem: key.serialize_pem(),
        ca_pem: reply.ca_pem,
    };
    identity.save(state_dir)?;
    let replicas = replicas::Replicas::new(config.address(), reply.replicas);
    identity::save_replicas(state_dir, replicas.learned())?;
    tracing::info!(host_id = %identity.host_id, control = %config.url, replicas = ?replicas.learned(), "enrolled with the control plane");
    Ok(identity)
}

/// Should the host's certificate be renewed at `now` (Unix seconds)? When
/// a third or less of its life is left, or it cannot be read.
pub fn renewal_due(cert_pem: &str, now: i64) -> bool {
    let Ok(der) = rustls_pki_types::CertificateDer::from_pem_slice(cert_pem.as_bytes()) else {
        return true;
    };
    let Ok((_, cert)) = x509_parser::parse_x509_certificate(&der) else {
        return true;
    };
    let from = cert.validity().not_before.timestamp();
    let until = cert.validity().not_after.timestamp();
    now >= until - (until - from) / 3
}

/// A new key and certificate for this host, asked of the replica at
/// `replica` with the current one, and stored. The old key is replaced
/// only once the new certificate is in hand.
pub async fn renew(
    config: &ControlConfig,
    replica: &str,
    state_dir: &Path,
    identity: &mut Identity,
) -> Result<(), ControlError> {
    let trust = Trust::CaPem(identity.ca_pem.clone());
    let channel = config
        .channel_to(
            replica,
            &trust,
            Some((&identity.cert_pem, &identity.key_pem)),
        )
        .await?;
    let (key, csr) = key_and_csr()?;
    let mut client = pb::agent_control_client::AgentControlClient::new(channel);
    let reply = client
        .renew(pb::RenewRequest { csr_pem: csr })
        .await
        .map_err(|status| ControlError::Refused {
            url: format!("https://{replica}"),
            status,
        })?
        .into_inner();
    let renewed = Identity {
        cert_pem: reply.certificate_pem,
        key_pem: key.serialize_pem(),
        ..identity.clone()
    };
    renewed.save(state_dir)?;
    *identity = renewed;
    tracing::info!(host_id = %identity.host_id, "certificate renewed");
    Ok(())
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// The wait before reconnect attempt `attempt`: 2 s doubling to 60 s, each
/// jittered by up to ±20 % so a fleet does not come back in step.
pub fn backoff(attempt: u32) -> Duration {
    let base = weft_model::backoff::Backoff::default().delay(attempt.max(1));
    let jitter = rand::random_range(0.8..1.2);
    base.mul_f64(jitter)
}

/// Enroll (retrying while the control plane cannot be reached) and then
/// follow it. Runs for the agent's lifetime; never fails the agent: errors
/// are logged.
pub async fn run<D: crate::dataplane::Dataplane + Send + 'static>(
    config: Arc<ControlConfig>,
    state_dir: PathBuf,
    host_name: String,
    agent: Arc<std::sync::Mutex<crate::agent::Agent<D>>>,
    status: state::ControlState,
) {
    let mut attempt = 0;
    let identity = loop {
        match enrolled(&config, &state_dir, &host_name).await {
            Ok(identity) => break identity,
            Err(err) if err.is_transient() => {
                attempt += 1;
                let wait = backoff(attempt);
                tracing::warn!(error = %chain(&err), retry_in = ?wait, "enrollment failed; retrying");
                status.set("enrolling", Some(chain(&err)));
                tokio::time::sleep(wait).await;
            }
            Err(err) => {
                tracing::error!(error = %chain(&err), "enrollment failed; not retrying");
                let state = if matches!(err, ControlError::NotEnrolled) {
                    "not enrolled"
                } else {
                    "refused"
                };
                status.set(state, Some(chain(&err)));
                return;
            }
        }
    };
    tracing::info!(host_id = %identity.host_id, "control plane identity ready");
    status.set_host(&identity.host_id);
    status.set("connecting", None);
    follow::follow(config, state_dir, identity, agent, status).await;
}

#[cfg(test)]
mod tests;
