//! Following the control plane: one mutual-TLS stream of desired state,
//! applied as it comes, kept on disk, and reports of what this host made.
//!
//! The last desired state is stored (`control/desired.pb`) before the
//! agent acts on it, and the agent's own store keeps what it made, so a
//! control plane that is down, restarting or unreachable changes nothing
//! here; the agent reconnects, to the next replica the control plane
//! told it of (`replicas.rs`), and resumes its stream from the revision it
//! has: the replica sends what changed since, or a snapshot.

use super::identity::{Identity, load_replicas, save_replicas, write_private};
use super::replicas::Replicas;
use super::tls::Trust;
use super::{ControlConfig, ControlError, chain, renew, renewal_due, unix_now};
use super::{apply, runs, vms};
use crate::agent::Agent;
use crate::dataplane::Dataplane;
use prost::Message as _;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use weft_proto::control as pb;
use weft_proto::control::agent_control_client::AgentControlClient;
use weft_proto::desired::{Desired, merge};

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
            merge(&mut desired, &m, own);
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
            more: false,
        };
        write_private(&saved_path(state_dir), msg.encode_to_vec())?;
        Ok(())
    }

    fn names(&self) -> BTreeSet<String> {
        self.desired.keys().cloned().collect()
    }
}

type Shared<D> = Arc<Mutex<Agent<D>>>;

/// What this host reports it made: per network its key and port, and the
/// NICs of the control plane's VMs.
#[derive(Clone, Debug, Default, PartialEq)]
struct Made {
    networks: Vec<pb::NetworkReport>,
    vm_nics: Vec<pb::VmNicReport>,
    /// Some of the state could not be made: tried again at the heartbeat.
    incomplete: bool,
}

/// Apply `want` on the agent (on a blocking thread: it takes the agent's
/// lock and talks to the kernel), `before` being the state it held, and
/// say what it now reports. The VMs' NICs that go are detached before
/// their networks may go; those that come attached once they are made.
async fn apply_on<D: Dataplane + Send + 'static>(
    agent: &Shared<D>,
    runner: Option<Arc<dyn runs::VmRunner>>,
    want: Desired,
    before: Desired,
) -> Made {
    let agent = Arc::clone(agent);
    tokio::task::spawn_blocking(move || {
        let runner = runner.as_deref();
        // VMs that go are stopped before their NICs go.
        let mut errors = runs::stop_gone(runner, &want, &before);
        let mut agent = agent.lock().unwrap_or_else(PoisonError::into_inner);
        let names: BTreeSet<String> = before.keys().cloned().collect();
        errors.extend(vms::detach_gone(&mut agent, &want, &before));
        errors.extend(apply::apply(&mut agent, &want, &names));
        errors.extend(vms::attach_wanted(&mut agent, &want));
        for error in &errors {
            tracing::warn!(%error, "could not apply the control plane's desired state");
        }
        let networks = apply::report(&agent, &want.keys().cloned().collect());
        let mut vm_nics = vms::report(&agent, &want);
        drop(agent);
        let waiting = runs::start_wanted(runner, &want, &vm_nics);
        runs::report(runner, &want, &mut vm_nics);
        Made {
            networks,
            vm_nics,
            incomplete: !errors.is_empty() || waiting > 0,
        }
    })
    .await
    .unwrap_or_default()
}

/// `read` of the agent on a blocking thread (it takes the agent's lock),
/// off the async workers; its default if the task failed.
async fn read_on<D: Dataplane + Send + 'static, T: Default + Send + 'static>(
    agent: &Shared<D>,
    read: impl FnOnce(&Agent<D>) -> T + Send + 'static,
) -> T {
    let agent = Arc::clone(agent);
    tokio::task::spawn_blocking(move || read(&agent.lock().unwrap_or_else(PoisonError::into_inner)))
        .await
        .unwrap_or_default()
}

/// What this host reports of the managed networks (keys and ports).
async fn report_on<D: Dataplane + Send + 'static>(
    agent: &Shared<D>,
    managed: BTreeSet<String>,
) -> Vec<pb::NetworkReport> {
    read_on(agent, move |agent| apply::report(agent, &managed)).await
}

/// The managed networks' peers, by health and link by link.
async fn peers_on<D: Dataplane + Send + 'static>(
    agent: &Shared<D>,
    managed: BTreeSet<String>,
) -> apply::PeerReport {
    read_on(agent, move |agent| apply::peer_report(agent, &managed)).await
}

/// How often the links are looked at between heartbeats: a link that
/// changed health is reported at once, not at the next heartbeat.
pub const LINK_CHECK: Duration = Duration::from_secs(2);
/// Every this many heartbeats the links go along even unchanged, so their
/// counters and handshake times stay fresh.
const LINKS_REFRESH: u32 = 6;

/// What of the links the control plane last had, and when it last had
/// them whole.
#[derive(Default)]
struct LinksSent {
    shape: Option<Vec<(String, String, String, String)>>,
    heartbeats: u32,
}

impl LinksSent {
    fn changed(&self, peers: &apply::PeerReport) -> bool {
        let now = peers.link_shape();
        self.shape.as_ref().is_none_or(|sent| {
            sent.len() != now.len()
                || sent
                    .iter()
                    .zip(&now)
                    .any(|(a, b)| (a.0.as_str(), a.1.as_str(), a.2.as_str(), a.3.as_str()) != *b)
        })
    }

    /// Whether this report carries the links; remembers them if so.
    fn include(&mut self, peers: &apply::PeerReport, heartbeat: bool) -> bool {
        if heartbeat {
            self.heartbeats += 1;
        }
        let due = self.heartbeats >= LINKS_REFRESH;
        if !due && !self.changed(peers) {
            return false;
        }
        self.heartbeats = 0;
        self.shape = Some(
            peers
                .link_shape()
                .into_iter()
                .map(|(a, b, c, d)| (a.into(), b.into(), c.into(), d.into()))
                .collect(),
        );
        true
    }
}

/// Report, and learn the replicas from the answer.
async fn send_report(
    link: &mut Link<'_>,
    made: Made,
    peers: apply::PeerReport,
    links_included: bool,
) -> Result<(), ControlError> {
    // The VMs' NICs only when they changed since the last report on
    // this connection: a heartbeat costs the control plane no write.
    let unchanged = link.sent_vm_nics.as_ref() == Some(&made.vm_nics);
    if !unchanged {
        link.sent_vm_nics = Some(made.vm_nics.clone());
    }
    let req = pb::ReportRequest {
        version: env!("CARGO_PKG_VERSION").to_string(),
        networks: made.networks,
        peer_health: peers.health,
        links: if links_included { peers.links } else { vec![] },
        links_included,
        vm_nics: if unchanged { vec![] } else { made.vm_nics },
        vm_nics_unchanged: unchanged,
    };
    let reply = link
        .client
        .report(req)
        .await
        .map_err(|status| link.refused(status))?
        .into_inner();
    // An answer without a list (an older control plane) changes nothing.
    if !reply.replicas.is_empty() && link.replicas.learn(reply.replicas) {
        let learned = link.replicas.learned();
        tracing::info!(replicas = ?learned, "the control plane's replicas changed");
        if let Err(err) = save_replicas(link.state_dir, learned) {
            tracing::warn!(error = %chain(&err), "could not store the control plane's replicas");
        }
    }
    Ok(())
}

/// One connection to one replica.
struct Link<'a> {
    client: AgentControlClient<tonic::transport::Channel>,
    replica: String,
    replicas: &'a mut Replicas,
    state_dir: &'a Path,
    /// The VMs' NICs as last reported on this connection.
    sent_vm_nics: Option<Vec<pb::VmNicReport>>,
}

impl Link<'_> {
    fn refused(&self, status: tonic::Status) -> ControlError {
        ControlError::Refused {
            url: format!("https://{}", self.replica),
            status,
        }
    }
}

/// One connection to the current replica: report, watch (from the
/// revision this host has), apply until the stream breaks.
#[allow(clippy::too_many_arguments)]
async fn session<D: Dataplane + Send + 'static>(
    config: &ControlConfig,
    state_dir: &Path,
    identity: &mut Identity,
    agent: &Shared<D>,
    saved: &mut Saved,
    replicas: &mut Replicas,
    status: &super::state::ControlState,
) -> Result<(), ControlError> {
    let replica = replicas.current().to_string();
    status.set_replica(&replica);
    if renewal_due(&identity.cert_pem, unix_now()) {
        renew(config, &replica, state_dir, identity).await?;
    }
    let trust = Trust::CaPem(identity.ca_pem.clone());
    let channel = config
        .channel_to(
            &replica,
            &trust,
            Some((&identity.cert_pem, &identity.key_pem)),
        )
        .await?;
    let mut link = Link {
        client: AgentControlClient::new(channel),
        replica,
        replicas,
        state_dir,
        sent_vm_nics: None,
    };
    let reports = apply_on(
        agent,
        config.vm_runner.clone(),
        saved.desired.clone(),
        saved.desired.clone(),
    )
    .await;
    // A session's first report carries the links: this replica may have
    // none of them.
    let mut links_sent = LinksSent::default();
    let peers = peers_on(agent, saved.names()).await;
    let with_links = links_sent.include(&peers, false);
    send_report(&mut link, reports.clone(), peers, with_links).await?;
    let mut stream = link
        .client
        .watch(pb::WatchRequest {
            revision: saved.revision,
        })
        .await
        .map_err(|status| link.refused(status))?
        .into_inner();
    link.replicas.connected();
    status.set("connected", None);
    // Beside the stream of desired state, on the same connection, for as
    // long as this session lasts.
    let _logs = (config.logs.clone()).map(|buffer| super::logs::spawn(link.client.clone(), buffer));
    tracing::info!(replica = %link.replica, from = saved.revision, "connected to the control plane");
    let mut heartbeat = tokio::time::interval(HEARTBEAT);
    heartbeat.tick().await;
    let mut link_check = tokio::time::interval(LINK_CHECK);
    link_check.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    link_check.tick().await;
    let mut last_report = reports;
    let mut pieces = apply::Pieces::default();
    loop {
        tokio::select! {
            msg = stream.message() => {
                let msg = msg.map_err(|status| link.refused(status))?.ok_or_else(|| link.refused(tonic::Status::unavailable("the control plane ended the stream")))?;
                // A large state comes in pieces: merged aside, applied and
                // stored once the last one is in (a broken stream drops
                // the pieces, never applies half a state).
                let Some((next, before)) = pieces.add(&saved.desired, &msg, &identity.host_id) else {
                    continue;
                };
                saved.desired = next;
                saved.revision = msg.revision;
                saved.store(state_dir)?;
                status.set_revision(msg.revision);
                tracing::info!(revision = msg.revision, snapshot = msg.snapshot, networks = msg.networks.len(), removed = msg.removed.len(), patches = msg.patches.len(), "desired state received");
                let reports = apply_on(agent, config.vm_runner.clone(), saved.desired.clone(), before).await;
                if reports != last_report {
                    let peers = peers_on(agent, saved.names()).await;
                    let with_links = links_sent.include(&peers, false);
                    send_report(&mut link, reports.clone(), peers, with_links).await?;
                    last_report = reports;
                }
            }
            () = status.key_change() => {
                last_report.networks = report_on(agent, saved.names()).await;
                let peers = peers_on(agent, saved.names()).await;
                let with_links = links_sent.include(&peers, false);
                send_report(&mut link, last_report.clone(), peers, with_links).await?;
            }
            _ = link_check.tick() => {
                let peers = peers_on(agent, saved.names()).await;
                if links_sent.changed(&peers) {
                    links_sent.include(&peers, false);
                    send_report(&mut link, last_report.clone(), peers, true).await?;
                }
            }
            _ = heartbeat.tick() => {
                if last_report.incomplete {
                    last_report = apply_on(agent, config.vm_runner.clone(), saved.desired.clone(), saved.desired.clone()).await;
                } else {
                    // Read afresh: a key may have changed (a rotation).
                    last_report.networks = report_on(agent, saved.names()).await;
                    // A VM may have exited since: its state as it is now.
                    runs::refresh(config.vm_runner.as_deref(), &mut last_report.vm_nics);
                }
                let peers = peers_on(agent, saved.names()).await;
                let with_links = links_sent.include(&peers, true);
                send_report(&mut link, last_report.clone(), peers, with_links).await?;
                if renewal_due(&identity.cert_pem, unix_now()) {
                    // Renewed at the start of the next session.
                    return Ok(());
                }
            }
        }
    }
}

/// Follow the control plane for the agent's lifetime, moving to another
/// replica when the one in use fails (see `replicas.rs`).
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
        apply_on(
            &agent,
            config.vm_runner.clone(),
            saved.desired.clone(),
            saved.desired.clone(),
        )
        .await;
    }
    let mut replicas = Replicas::new(config.address(), load_replicas(&state_dir));
    loop {
        let result = session(
            &config,
            &state_dir,
            &mut identity,
            &agent,
            &mut saved,
            &mut replicas,
            &status,
        )
        .await;
        let failed = replicas.current().to_string();
        let err = match result {
            // Back at once, for a renewal.
            Ok(()) => continue,
            Err(err) => err,
        };
        let retry = replicas.failed();
        let wait = retry.wait();
        status.set("disconnected", Some(chain(&err)));
        status.set_replica(&retry.next);
        match &err {
            ControlError::Refused { status, .. }
                if status.code() == tonic::Code::Unauthenticated =>
            {
                tracing::error!(replica = %failed, reason = %status.message(), next = %retry.next, retry_in = ?wait, "the control plane refused this host");
            }
            _ => {
                tracing::warn!(replica = %failed, error = %chain(&err), next = %retry.next, retry_in = ?wait, "disconnected from the control plane; the data plane carries on");
            }
        }
        tokio::time::sleep(wait).await;
    }
}
