//! Following the control plane: one mutual-TLS stream of desired state,
//! applied as it comes, kept on disk, and reports of what this host made.
//!
//! The last desired state is stored (`control/desired.pb`) before the
//! agent acts on it, and the agent's own store keeps what it made, so a
//! control plane that is down, restarting or unreachable changes nothing
//! here; the agent reconnects with backoff (2 s doubling to 60 s,
//! jittered) and the control plane's first message is a snapshot.

use super::apply::{self, Desired};
use super::identity::{Identity, write_private};
use super::tls::Trust;
use super::{ControlConfig, ControlError, backoff, chain, renew, renewal_due, unix_now};
use crate::agent::Agent;
use crate::dataplane::Dataplane;
use prost::Message as _;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use weft_proto::control as pb;
use weft_proto::control::agent_control_client::AgentControlClient;

/// How often the agent reports (its heartbeat) when nothing else happens.
pub const HEARTBEAT: Duration = Duration::from_secs(10);

/// The desired state as last received, with its revision.
pub struct Saved {
    pub revision: u64,
    pub desired: Desired,
}

fn saved_path(state_dir: &Path) -> PathBuf {
    super::identity::dir(state_dir).join("desired.pb")
}

impl Saved {
    /// What host `own` last stored.
    pub fn load(state_dir: &Path, own: &str) -> Saved {
        let read = std::fs::read(saved_path(state_dir)).ok();
        let msg = read.and_then(|bytes| pb::DesiredState::decode(bytes.as_slice()).ok());
        let mut desired = Desired::new();
        let revision = msg.map_or(0, |m| {
            apply::merge(&mut desired, &m, own);
            m.revision
        });
        Saved { revision, desired }
    }

    fn store(&self, state_dir: &Path) -> Result<(), ControlError> {
        let msg = pb::DesiredState {
            revision: self.revision,
            snapshot: true,
            networks: self.desired.values().cloned().collect(),
            removed: vec![],
            patches: vec![],
        };
        write_private(&saved_path(state_dir), msg.encode_to_vec())?;
        Ok(())
    }

    fn names(&self) -> BTreeSet<String> {
        self.desired.keys().cloned().collect()
    }
}

type Shared<D> = Arc<Mutex<Agent<D>>>;

/// Apply `want` on the agent (on a blocking thread: it takes the agent's
/// lock and talks to the kernel) and say what it now reports.
async fn apply_on<D: Dataplane + Send + 'static>(
    agent: &Shared<D>,
    want: Desired,
    before: BTreeSet<String>,
) -> Vec<pb::NetworkReport> {
    let agent = Arc::clone(agent);
    tokio::task::spawn_blocking(move || {
        let mut agent = agent.lock().unwrap_or_else(PoisonError::into_inner);
        for error in apply::apply(&mut agent, &want, &before) {
            tracing::warn!(%error, "could not apply the control plane's desired state");
        }
        apply::report(&agent, &want.keys().cloned().collect())
    })
    .await
    .unwrap_or_default()
}

/// The managed networks' peers by health state (a blocking read of the
/// agent, off the async workers).
async fn health_on<D: Dataplane + Send + 'static>(
    agent: &Shared<D>,
    managed: BTreeSet<String>,
) -> Vec<pb::HealthCount> {
    let agent = Arc::clone(agent);
    tokio::task::spawn_blocking(move || {
        let agent = agent.lock().unwrap_or_else(PoisonError::into_inner);
        apply::peer_health(&agent, &managed)
    })
    .await
    .unwrap_or_default()
}

async fn send_report(
    client: &mut AgentControlClient<tonic::transport::Channel>,
    url: &str,
    networks: Vec<pb::NetworkReport>,
    peer_health: Vec<pb::HealthCount>,
) -> Result<(), ControlError> {
    let req = pb::ReportRequest {
        version: env!("CARGO_PKG_VERSION").to_string(),
        networks,
        peer_health,
    };
    client
        .report(req)
        .await
        .map(drop)
        .map_err(|status| ControlError::Refused {
            url: url.to_string(),
            status,
        })
}

/// One connection: report, watch, apply until the stream breaks.
async fn session<D: Dataplane + Send + 'static>(
    config: &ControlConfig,
    state_dir: &Path,
    identity: &mut Identity,
    agent: &Shared<D>,
    saved: &mut Saved,
    connected: &mut bool,
    status: &super::state::ControlState,
) -> Result<(), ControlError> {
    if renewal_due(&identity.cert_pem, unix_now()) {
        renew(config, state_dir, identity).await?;
    }
    let trust = Trust::CaPem(identity.ca_pem.clone());
    let channel = config
        .channel(&trust, Some((&identity.cert_pem, &identity.key_pem)))
        .await?;
    let mut client = AgentControlClient::new(channel);
    let refused = |status| ControlError::Refused {
        url: config.url.clone(),
        status,
    };
    let reports = apply_on(agent, saved.desired.clone(), saved.names()).await;
    let health = health_on(agent, saved.names()).await;
    send_report(&mut client, &config.url, reports.clone(), health).await?;
    let mut stream = client
        .watch(pb::WatchRequest {
            revision: saved.revision,
        })
        .await
        .map_err(refused)?
        .into_inner();
    *connected = true;
    status.set("connected", None);
    tracing::info!(control = %config.url, "connected to the control plane");
    let mut heartbeat = tokio::time::interval(HEARTBEAT);
    heartbeat.tick().await;
    let mut last_report = reports;
    loop {
        tokio::select! {
            msg = stream.message() => {
                let msg = msg.map_err(refused)?.ok_or_else(|| refused(tonic::Status::unavailable("the control plane ended the stream")))?;
                let before = saved.names();
                apply::merge(&mut saved.desired, &msg, &identity.host_id);
                saved.revision = msg.revision;
                saved.store(state_dir)?;
                status.set_revision(msg.revision);
                tracing::info!(revision = msg.revision, snapshot = msg.snapshot, networks = msg.networks.len(), removed = msg.removed.len(), patches = msg.patches.len(), "desired state received");
                let reports = apply_on(agent, saved.desired.clone(), before).await;
                if reports != last_report {
                    let health = health_on(agent, saved.names()).await;
                    send_report(&mut client, &config.url, reports.clone(), health).await?;
                    last_report = reports;
                }
            }
            _ = heartbeat.tick() => {
                let health = health_on(agent, saved.names()).await;
                send_report(&mut client, &config.url, last_report.clone(), health).await?;
                if renewal_due(&identity.cert_pem, unix_now()) {
                    // Renewed at the start of the next session.
                    return Ok(());
                }
            }
        }
    }
}

/// Follow the control plane for the agent's lifetime.
pub async fn follow<D: Dataplane + Send + 'static>(
    config: Arc<ControlConfig>,
    state_dir: PathBuf,
    mut identity: Identity,
    agent: Shared<D>,
    status: super::state::ControlState,
) {
    let mut saved = Saved::load(&state_dir, &identity.host_id);
    status.set_revision(saved.revision);
    if !saved.desired.is_empty() {
        // Start from what this host last knew, before any connection.
        apply_on(&agent, saved.desired.clone(), saved.names()).await;
    }
    let mut attempt = 0;
    loop {
        let mut connected = false;
        let result = session(
            &config,
            &state_dir,
            &mut identity,
            &agent,
            &mut saved,
            &mut connected,
            &status,
        )
        .await;
        if connected {
            attempt = 0;
        }
        attempt += 1;
        let wait = backoff(attempt);
        match result {
            Err(ControlError::Refused { status, .. })
                if status.code() == tonic::Code::Unauthenticated =>
            {
                tracing::error!(reason = %status.message(), retry_in = ?wait, "the control plane refused this host");
            }
            Err(err) => {
                tracing::warn!(error = %chain(&err), retry_in = ?wait, "disconnected from the control plane; the data plane carries on");
            }
            Ok(()) => {}
        }
        tokio::time::sleep(wait).await;
    }
}
