//! `weft control serve`: join the deployment `--store` names (the store,
//! and what replicas share besides: `deployment.rs`), open the CA and make
//! the server identity in the state directory; serve the REST API over TLS
//! and the gRPC port — the agents' services (`agents/`) and the tenants'
//! `TenantControl` (`api/grpc.rs`) — over mutual TLS.
//!
//! The REST side is axum on hyper with rustls (tokio-rustls) rather than
//! tonic's TLS: it is plain HTTP/1.1 JSON, and doing the accept loop here
//! gives it a handshake timeout, a header timeout and a cap on open
//! connections, which a public port needs and axum's `serve` lacks.

use crate::agents;
use crate::api::{self, AppState, Clock};
use crate::ca::{self, Ca, CaError, Fingerprint, Identity};
use crate::deployment::{Deployment, DeploymentError, StoreConfig};
use crate::store::{Store, StoreError};
use crate::tls::{self, TlsError};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use std::net::SocketAddr;
use std::os::unix::fs::{DirBuilderExt as _, PermissionsExt as _};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_rustls::TlsAcceptor;

pub const DEFAULT_LISTEN: &str = "0.0.0.0:8443";
pub const DEFAULT_GRPC: &str = "0.0.0.0:50051";
/// Enrollments per second for the whole server, and the burst allowed.
pub const DEFAULT_ENROLL_RATE: (f64, u32) = (5.0, 20);
/// The same for each client address (an IPv6 /64 counts as one).
pub const DEFAULT_ENROLL_RATE_PER_ADDRESS: (f64, u32) = (1.0, 10);
pub const DEFAULT_STATE_DIR: &str = "/var/lib/weft-control";
/// Agents' log records kept per host unless `--logs-per-host` says.
pub const DEFAULT_LOGS_PER_HOST: u32 = agents::logs::DEFAULT_KEEP;
/// TLS handshake and request headers must arrive within this.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Open REST connections at most; more wait in the kernel's backlog.
const MAX_CONNECTIONS: usize = 1024;

#[derive(Debug, Clone)]
pub struct ServeConfig {
    pub listen: SocketAddr,
    /// The agents' gRPC port.
    pub grpc: SocketAddr,
    pub state_dir: PathBuf,
    /// Names and addresses the server certificate is made for (when no
    /// `tls_cert` is given).
    pub server_names: Vec<String>,
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    pub ca_cert: Option<PathBuf>,
    pub ca_key: Option<PathBuf>,
    pub enroll_rate: (f64, u32),
    /// Enrollments per second from one client address, and its burst.
    pub enroll_rate_per_address: (f64, u32),
    /// The gRPC addresses (HOST:PORT) of every replica, this one included,
    /// told to agents so they fail over; empty: this one's alone
    /// ([`advertised`]).
    pub advertise: Vec<String>,
    /// Where the state is kept.
    pub store: StoreConfig,
    /// How many log records the store keeps per host (the newest).
    pub logs_per_host: u32,
}

/// The CA: given as files, else the deployment's (see
/// [`Deployment::ca`]). Also says whether this start made it.
async fn open_ca(
    config: &ServeConfig,
    deployment: &dyn Deployment,
    now: i64,
) -> Result<(Ca, bool), ServeError> {
    if let Some((cert, key)) = pair("--ca-cert/--ca-key", &config.ca_cert, &config.ca_key)? {
        return Ok((Ca::from_files(cert, key)?, false));
    }
    Ok(deployment.ca(&config.state_dir, now).await?)
}

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("create the state directory {}", .0.display())]
    StateDir(PathBuf, #[source] std::io::Error),
    #[error(transparent)]
    Ca(#[from] CaError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Tls(#[from] TlsError),
    #[error("listen on {0}")]
    Listen(SocketAddr, #[source] std::io::Error),
}

impl From<DeploymentError> for ServeError {
    fn from(err: DeploymentError) -> ServeError {
        match err {
            DeploymentError::Ca(err) => ServeError::Ca(err),
            DeploymentError::Store(err) => ServeError::Store(err),
        }
    }
}

/// A started control plane.
pub struct Running {
    pub rest_addr: SocketAddr,
    pub grpc_addr: SocketAddr,
    pub fingerprint: Fingerprint,
    /// The CA was made by this start (first start on this state directory).
    pub ca_created: bool,
    pub store: Arc<dyn Store>,
    /// The replicas agents are told of (see [`ServeConfig::advertise`]);
    /// send a new list to change it while serving.
    pub replicas: tokio::sync::watch::Sender<Vec<String>>,
    rest: tokio::task::JoinHandle<()>,
    grpc: tokio::task::JoinHandle<()>,
    jobs: tokio::task::JoinHandle<()>,
    log_sink: tokio::task::JoinHandle<()>,
    /// This replica's registration in its deployment (none alone).
    registration: Option<tokio::task::JoinHandle<()>>,
}

impl Running {
    /// Serve until a server task ends (they do not, short of a panic).
    pub async fn wait(mut self) {
        tokio::select! {
            _ = &mut self.rest => {}
            _ = &mut self.grpc => {}
        }
    }

    pub fn abort(&self) {
        self.rest.abort();
        self.grpc.abort();
        self.jobs.abort();
        self.log_sink.abort();
        if let Some(registration) = &self.registration {
            registration.abort();
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.abort();
    }
}

fn pair<'a>(
    given: &'static str,
    a: &'a Option<PathBuf>,
    b: &'a Option<PathBuf>,
) -> Result<Option<(&'a PathBuf, &'a PathBuf)>, CaError> {
    match (a, b) {
        (Some(a), Some(b)) => Ok(Some((a, b))),
        (None, None) => Ok(None),
        _ => Err(CaError::HalfGiven { given }),
    }
}

fn open_state_dir(dir: &PathBuf) -> Result<(), ServeError> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| ServeError::StateDir(dir.clone(), e))?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
        .map_err(|e| ServeError::StateDir(dir.clone(), e))
}

pub async fn start(config: ServeConfig, clock: Clock) -> Result<Running, ServeError> {
    let now = clock();
    open_state_dir(&config.state_dir)?;
    let deployment = config.store.deploy(&config.state_dir).await?;
    let (ca, ca_created) = open_ca(&config, deployment.as_ref(), now).await?;
    let identity = match pair("--tls-cert/--tls-key", &config.tls_cert, &config.tls_key)? {
        Some((cert, key)) => Identity {
            cert_pem: std::fs::read_to_string(cert).map_err(|e| CaError::Read(cert.clone(), e))?,
            key_pem: ca::read_private(key)?,
        },
        None => {
            let id = ca.server_identity(&config.server_names, now)?;
            ca::write_private(&config.state_dir.join("server.key"), &id.key_pem)?;
            let cert = config.state_dir.join("server.pem");
            std::fs::write(&cert, &id.cert_pem).map_err(|e| CaError::Write(cert, e))?;
            id
        }
    };
    // The CA goes after the server's certificate, so an agent that knows
    // only its fingerprint can find it in the chain and pin it.
    let identity = Identity {
        cert_pem: format!("{}{}", identity.cert_pem, ca.cert_pem()),
        ..identity
    };
    let store = deployment.store();
    let rest_config = tls::rest_server_config(&identity)?;
    let agent_config = tls::agent_server_config(&identity, &ca)?;
    let listener = TcpListener::bind(config.listen)
        .await
        .map_err(|e| ServeError::Listen(config.listen, e))?;
    let rest_addr = listener
        .local_addr()
        .map_err(|e| ServeError::Listen(config.listen, e))?;
    let grpc_listener = TcpListener::bind(config.grpc)
        .await
        .map_err(|e| ServeError::Listen(config.grpc, e))?;
    let grpc_addr = grpc_listener
        .local_addr()
        .map_err(|e| ServeError::Listen(config.grpc, e))?;
    let fingerprint = ca.fingerprint();
    let replicas = tokio::sync::watch::Sender::new(advertised(&config, grpc_addr));
    let shared = agents::Shared {
        store: Arc::clone(&store),
        ca: Arc::new(ca),
        clock: clock.clone(),
        enroll_limit: Arc::new(agents::RateLimit::new(
            config.enroll_rate.0,
            config.enroll_rate.1,
        )),
        enroll_limit_per_address: Arc::new(agents::AddressLimit::new(
            config.enroll_rate_per_address.0,
            config.enroll_rate_per_address.1,
        )),
        cert_days: ca::CLIENT_DAYS,
        replicas: replicas.subscribe(),
        feeds: Default::default(),
        logs: Arc::new(agents::logs::LogSink::new(config.logs_per_host)),
    };
    let log_sink = tokio::spawn(Arc::clone(&shared.logs).run(Arc::clone(&store)));
    // Register, learn the other replicas, campaign for the jobs.
    let own = replicas.borrow().clone();
    let joined = deployment.join(own, replicas.clone());
    let jobs = tokio::spawn(crate::jobs::run(
        Arc::clone(&store),
        joined.jobs,
        clock.clone(),
        crate::jobs::JobsConfig::default(),
    ));
    let tenants = AppState {
        store: Arc::clone(&store),
        clock,
    };
    // The gRPC port: the agents' services and the tenants' TenantControl.
    let routes = agents::services(shared).add_service(api::grpc::service(tenants.clone()));
    let app = api::router(tenants);
    let rest = tokio::spawn(serve_rest(listener, TlsAcceptor::from(rest_config), app));
    let grpc = tokio::spawn(agents::serve(grpc_listener, agent_config, routes));
    tracing::info!(rest = %rest_addr, grpc = %grpc_addr, ca = %fingerprint, replicas = ?*replicas.borrow(), "control plane serving");
    Ok(Running {
        rest_addr,
        grpc_addr,
        fingerprint,
        ca_created,
        store,
        replicas,
        rest,
        grpc,
        jobs,
        log_sink,
        registration: joined.registration,
    })
}

/// The replicas to tell agents of: those given, or this one — at the
/// address it listens on, or, listening on every address, at its first
/// server name (what agents were told to use).
pub fn advertised(config: &ServeConfig, grpc: SocketAddr) -> Vec<String> {
    if !config.advertise.is_empty() {
        return config.advertise.clone();
    }
    let host = match (grpc.ip().is_unspecified(), config.server_names.first()) {
        (true, Some(name)) if name.parse::<std::net::Ipv6Addr>().is_ok() => format!("[{name}]"),
        (true, Some(name)) => name.clone(),
        _ => return vec![grpc.to_string()],
    };
    vec![format!("{host}:{}", grpc.port())]
}

async fn serve_rest(listener: TcpListener, acceptor: TlsAcceptor, app: axum::Router) {
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    loop {
        let Ok(permit) = Arc::clone(&slots).acquire_owned().await else {
            return;
        };
        let (tcp, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(err) => {
                // Out of descriptors and the like: wait, do not spin.
                tracing::warn!(error = %err, "accept on the REST port");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let (acceptor, app) = (acceptor.clone(), app.clone());
        tokio::spawn(async move {
            let _permit = permit;
            let tls = match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                Ok(Ok(tls)) => tls,
                Ok(Err(err)) => {
                    tracing::debug!(%peer, error = %err, "TLS handshake refused");
                    return;
                }
                Err(_) => {
                    tracing::debug!(%peer, "TLS handshake timed out");
                    return;
                }
            };
            let served = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(HANDSHAKE_TIMEOUT)
                .serve_connection(TokioIo::new(tls), TowerToHyperService::new(app))
                .await;
            if let Err(err) = served {
                tracing::debug!(%peer, error = %err, "REST connection ended");
            }
        });
    }
}
