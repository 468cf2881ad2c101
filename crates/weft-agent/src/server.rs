//! Running the agent: directories, the single-instance lock, start-up
//! reconciliation, and the gRPC server on a Unix socket.

use crate::agent::Agent;
use crate::dataplane::Dataplane;
use crate::grpc::AgentService;
use crate::health::{HealthBook, HealthSettings};
use crate::linux::{LinuxDataplane, NetworkServices, WireguardMode};
use crate::probe::{Prober, Schedule};
use crate::store::Store;
use nix::errno::Errno;
use nix::fcntl::{Flock, FlockArg};
use std::fs::{self, File};
use std::io::Write as _;
use std::net::SocketAddr;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::os::unix::net::UnixStream as StdUnixStream;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use tokio::net::UnixListener;
use tokio_stream::wrappers::UnixListenerStream;
use weft_model::error::chain;
use weft_proto::agent::agent_server::AgentServer;

pub const DEFAULT_SOCKET: &str = "/run/weft/agent.sock";
pub const DEFAULT_STATE_DIR: &str = "/var/lib/weft";

#[derive(Clone, Debug)]
pub struct AgentConfig {
    pub socket: PathBuf,
    pub state_dir: PathBuf,
    pub uapi_dir: PathBuf,
    pub wireguard: WireguardMode,
    /// This host's name in the networks' DNS zones.
    pub host_name: String,
    /// Resolvers for names outside the networks' domains; None: the host's
    /// (/etc/resolv.conf).
    pub dns_upstream: Option<Vec<SocketAddr>>,
    pub health: HealthSettings,
    /// Serve Prometheus metrics here.
    pub metrics: Option<SocketAddr>,
    /// Tuning of the userspace WireGuard engines.
    pub engine: weft_wg::EngineOptions,
    /// How often the kernel state is checked for drift and repaired.
    pub reconcile_interval: Duration,
    /// The optional control plane to enroll with and follow.
    pub control: Option<crate::control::ControlConfig>,
}

/// The longest a peer may take to answer a probe.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// How often drift is checked unless told otherwise.
pub const DEFAULT_RECONCILE_INTERVAL: Duration = Duration::from_secs(2);

/// The bounds of `--reconcile-interval`: often enough to be worth having,
/// not so often that the checks crowd out the API.
pub const RECONCILE_INTERVAL_BOUNDS: (Duration, Duration) =
    (Duration::from_millis(200), Duration::from_secs(600));

#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("{what} {path}")]
    Io {
        what: &'static str,
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "another weft agent is using the state directory {path} (pid {pid}); give this one its own --state-dir"
    )]
    StateLocked { path: String, pid: String },
    #[error("another weft agent is listening on {0}; stop it or use another --socket")]
    SocketInUse(String),
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    #[error(transparent)]
    Agent(#[from] crate::error::AgentError),
    #[error("start the data plane")]
    Dataplane(#[from] crate::dataplane::DataplaneError),
    #[error("serve gRPC")]
    Serve(#[from] tonic::transport::Error),
}

fn io_err(what: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> ServerError {
    let path = path.display().to_string();
    move |source| ServerError::Io { what, path, source }
}

fn make_private_dir(path: &Path) -> Result<(), ServerError> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(path)
        .map_err(io_err("create directory", path))
}

/// Hold an exclusive lock on the state directory for the agent's lifetime:
/// two agents on one store would fight over the same kernel objects. The
/// lock goes with the returned handle (or with the process).
fn lock_state_dir(state_dir: &Path) -> Result<Flock<File>, ServerError> {
    let path = state_dir.join("agent.lock");
    let file = fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .read(true)
        .write(true)
        .open(&path)
        .map_err(io_err("open lock file", &path))?;
    let mut file = match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
        Ok(locked) => locked,
        Err((_, Errno::EWOULDBLOCK)) => {
            let pid = fs::read_to_string(&path)
                .unwrap_or_default()
                .trim()
                .to_string();
            return Err(ServerError::StateLocked {
                path: state_dir.display().to_string(),
                pid,
            });
        }
        Err((_, errno)) => {
            return Err(io_err("lock", &path)(std::io::Error::from(errno)));
        }
    };
    file.set_len(0).map_err(io_err("write lock file", &path))?;
    write!(file, "{}", std::process::id()).map_err(io_err("write lock file", &path))?;
    Ok(file)
}

/// Bind the API socket, replacing a stale one but never a live agent's.
fn bind_socket(path: &Path) -> Result<UnixListener, ServerError> {
    if let Some(parent) = path.parent() {
        make_private_dir(parent)?;
    }
    if path.exists() {
        if StdUnixStream::connect(path).is_ok() {
            return Err(ServerError::SocketInUse(path.display().to_string()));
        }
        fs::remove_file(path).map_err(io_err("remove stale socket", path))?;
    }
    let listener = UnixListener::bind(path).map_err(io_err("listen on", path))?;
    fs::set_permissions(path, fs::Permissions::from_mode(0o600))
        .map_err(io_err("set permissions of", path))?;
    Ok(listener)
}

/// Start the agent and serve until `shutdown` resolves.
pub async fn run(
    config: AgentConfig,
    shutdown: impl std::future::Future<Output = ()> + Send,
) -> Result<(), ServerError> {
    // Everything the agent writes (store, keys, sockets) is root's alone.
    nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(0o077));
    make_private_dir(&config.state_dir)?;
    let _lock = lock_state_dir(&config.state_dir)?;
    let store = Store::open(&config.state_dir.join("state.db"))?;
    let upstream = match &config.dns_upstream {
        Some(list) => list.clone(),
        None => {
            weft_dns::host_upstreams(&fs::read_to_string("/etc/resolv.conf").unwrap_or_default())
        }
    };
    let services = NetworkServices::new(tokio::runtime::Handle::current(), upstream);
    let dataplane = {
        let (mode, uapi, services) = (config.wireguard, config.uapi_dir.clone(), services.clone());
        let engine = config.engine.clone();
        tokio::task::spawn_blocking(move || LinuxDataplane::new(mode, uapi, engine, services))
            .await
            .expect("data plane start-up does not panic")?
    };
    let book = match config.control.as_ref().and_then(|c| c.logs.as_ref()) {
        Some(logs) => Arc::new(HealthBook::with_log_drops(logs.dropped_counter())),
        None => Arc::new(HealthBook::default()),
    };
    let agent = Agent::new(store, dataplane)
        .with_host_name(&config.host_name)?
        .with_health(book.clone(), config.health);
    let agent = Arc::new(Mutex::new(agent));
    {
        let agent = agent.clone();
        tokio::task::spawn_blocking(move || {
            agent
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .reconcile()
        })
        .await
        .expect("reconcile does not panic")?;
    }
    if let Some(addr) = config.metrics {
        crate::metrics::serve(addr, agent.clone())
            .await
            .map_err(io_err("serve metrics on", Path::new(&addr.to_string())))?;
    }
    let prober = Arc::new(Prober::new(
        agent.clone(),
        services,
        book,
        Schedule {
            check: config.health.probe_interval,
            idle: config.health.idle_probe_interval,
            timeout: config.health.probe_interval.min(PROBE_TIMEOUT),
        },
    ));
    let watch = tokio::spawn(prober.clone().watch());
    let repair = tokio::spawn(repair_drift(agent.clone(), config.reconcile_interval));
    let control_state = config
        .control
        .as_ref()
        .map(|c| crate::control::state::ControlState::new(&c.url));
    let control = config
        .control
        .clone()
        .zip(control_state.clone())
        .map(|(control, state)| {
            tokio::spawn(crate::control::run(
                Arc::new(control),
                config.state_dir.clone(),
                config.host_name.clone(),
                agent.clone(),
                state,
            ))
        });
    let listener = bind_socket(&config.socket)?;
    tracing::info!(socket = %config.socket.display(), state_dir = %config.state_dir.display(), host = %config.host_name, "weft agent ready");
    crate::sd_notify::ready();
    let result = tonic::transport::Server::builder()
        .add_service(AgentServer::new(
            AgentService::new(agent.clone())
                .with_control(control_state)
                .with_prober(prober),
        ))
        .serve_with_incoming_shutdown(UnixListenerStream::new(listener), shutdown)
        .await;
    watch.abort();
    repair.abort();
    if let Some(control) = control {
        control.abort();
    }
    let _ = fs::remove_file(&config.socket);
    // Dropping the agent stops userspace engines and removes their sockets.
    drop(agent);
    tracing::info!("weft agent stopped");
    result.map_err(Into::into)
}

/// The continuous reconcile: every `interval`, compare the kernel with what
/// weft made and repair what differs. The pass holds the agent's lock, the
/// one the API handlers hold, so it never sees a change half made.
async fn repair_drift<D: Dataplane + 'static>(agent: Arc<Mutex<Agent<D>>>, interval: Duration) {
    let mut ticks = tokio::time::interval(interval);
    // A pass that overran (a busy machine) is not made up with a burst.
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ticks.tick().await;
    loop {
        ticks.tick().await;
        let agent = agent.clone();
        let pass = tokio::task::spawn_blocking(move || {
            let mut agent = agent.lock().unwrap_or_else(PoisonError::into_inner);
            let pass = agent.repair_drift();
            // A rotated key's old one goes once no peer needs it.
            agent.retire_keys();
            pass
        })
        .await;
        match pass {
            // Each repair and each failed one is logged where it happens.
            Ok(Ok(_)) => {}
            Ok(Err(e)) => tracing::warn!("check for drift: {}", chain(&e)),
            Err(e) => tracing::warn!("check for drift: the pass panicked: {e}"),
        }
    }
}
