//! The gRPC port: enrollment (no certificate yet) and, with mutual TLS,
//! everything else agents do ([`services`]). The port also serves the
//! tenants' `TenantControl` (`api/grpc.rs`), added by `serve.rs`.
//!
//! Authorization, per service rather than per method so a new method
//! cannot forget it: `Enrollment` is open (the token is its credential,
//! and it is rate-limited, per client address and overall); every method of `AgentControl` starts with
//! [`authorize`], which wants a client certificate (already verified
//! against the CA by rustls) naming a host that exists and is not revoked —
//! looked up on every call, so a deleted host is refused at once.
//! `tests.rs` walks every method of the proto's services to hold this.

mod conn;
pub mod feed;
pub mod frame;
mod limit;
pub mod logs;
mod vms;

pub use conn::{AgentConn, PeerInfo};
pub use limit::{AddressLimit, RateLimit};

use crate::api::Clock;
use crate::ca::{self, Ca};
use crate::model::{Host, HostId, HostReport, NetworkKey, NewHost, PeerLink, validate_label};
use crate::secret::{Secret, SecretKind};
use crate::store::{Store, StoreError};
use feed::{Feeds, Follower, Step};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tonic::{Request, Response, Status};
use weft_proto::control as pb;
use weft_proto::control::enrollment_server::{Enrollment, EnrollmentServer};
use weft_proto::encoded::EncodedDesiredState;
use weft_proto::encoded::agent_control_server::{AgentControl, AgentControlServer};

/// The largest message an agent may send; CSRs and reports are small.
pub const MAX_MESSAGE: usize = 64 * 1024;
/// Streams one agent connection may hold open at once (tonic would
/// otherwise lift hyper's limit entirely).
pub const MAX_STREAMS_PER_CONNECTION: u32 = 16;
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Clone)]
pub struct Shared {
    pub store: Arc<dyn Store>,
    pub ca: Arc<Ca>,
    pub clock: Clock,
    pub enroll_limit: Arc<RateLimit>,
    /// The same per client address, checked first: one client's flood
    /// does not use up the server's enrollments.
    pub enroll_limit_per_address: Arc<AddressLimit>,
    /// How long client certificates live.
    pub cert_days: i64,
    /// Each tenant's desired state per revision, encoded once for all
    /// streams.
    pub feeds: Arc<Feeds>,
    /// The gRPC addresses of every replica, told to agents in enrollment
    /// and report answers so they can fail over.
    pub replicas: tokio::sync::watch::Receiver<Vec<String>>,
    /// Where agents' log records wait for the store.
    pub logs: Arc<logs::LogSink>,
}

/// The host a request comes from, or why it is refused.
pub async fn authorize<T>(store: &dyn Store, req: &Request<T>) -> Result<Host, Status> {
    let cert = req
        .extensions()
        .get::<PeerInfo>()
        .and_then(|p| p.cert.clone())
        .ok_or_else(|| {
            Status::unauthenticated("this method needs the host's client certificate")
        })?;
    let id = ca::host_of(&cert)
        .ok_or_else(|| Status::unauthenticated("the client certificate names no weft host"))?;
    let host = store.host(&id).await.map_err(internal)?;
    match host {
        Some(host) if host.revoked_at.is_none() => Ok(host),
        Some(_) => {
            tracing::debug!(host = %id, "refused the certificate of a revoked host");
            Err(Status::unauthenticated(
                "this host was deleted: its certificate is revoked",
            ))
        }
        None => Err(Status::unauthenticated(
            "the client certificate names an unknown host",
        )),
    }
}

fn internal(err: StoreError) -> Status {
    tracing::error!(error = %weft_model::error::chain(&err), "control plane store");
    if err.is_unavailable() {
        // The agent retries (another replica, or this one later).
        return Status::unavailable("control plane store unavailable");
    }
    Status::internal("internal error")
}

pub struct EnrollmentService(pub Shared);

#[tonic::async_trait]
impl Enrollment for EnrollmentService {
    async fn enroll(
        &self,
        req: Request<pb::EnrollRequest>,
    ) -> Result<Response<pb::EnrollResponse>, Status> {
        let s = &self.0;
        let peer = req.extensions().get::<PeerInfo>().map(|p| p.addr);
        // Per address first, so a refused client does not spend the
        // server's allowance.
        let address_ok = peer.is_none_or(|p| s.enroll_limit_per_address.try_take(p.ip()));
        if !address_ok {
            tracing::debug!(?peer, "enrollment refused: too many from this address");
            return Err(Status::resource_exhausted(
                "too many enrollments from this address; retry in a few seconds",
            ));
        }
        if !s.enroll_limit.try_take() {
            return Err(Status::resource_exhausted(
                "too many enrollments at once; retry in a few seconds",
            ));
        }
        let req = req.into_inner();
        let token = Secret::parse(SecretKind::EnrollToken, &req.token)
            .map_err(|e| Status::unauthenticated(e.to_string()))?;
        validate_label("host_name", &req.host_name)
            .map_err(|e| Status::invalid_argument(e.to_string()))?;
        let now = (s.clock)();
        // The CSR is checked (and signed) before the token is spent, so a
        // bad CSR does not cost the host its token. The certificate is
        // handed out only once the token is redeemed.
        let id = HostId::generate();
        let cert =
            s.ca.sign_client(&req.csr_pem, &id, now, s.cert_days)
                .map_err(|e| {
                    Status::invalid_argument(format!("csr_pem: {}", weft_model::error::chain(&e)))
                })?;
        let new = NewHost {
            id: id.clone(),
            name: req.host_name,
        };
        let host = match s.store.redeem_token(&token, &new, now).await {
            Ok(host) => host,
            Err(StoreError::TokenRefused { id, reason }) => {
                tracing::info!(token = %id, reason = reason.as_str(), ?peer, "enrollment refused");
                return Err(Status::unauthenticated("enrollment token refused"));
            }
            Err(err @ (StoreError::HostNameTaken(_) | StoreError::NoFreeBlock { .. })) => {
                return Err(Status::failed_precondition(err.to_string()));
            }
            Err(err) => return Err(internal(err)),
        };
        tracing::info!(host = %host.id, name = %host.name, tenant = %host.tenant, token = %token, "host enrolled");
        Ok(Response::new(pb::EnrollResponse {
            host_id: host.id.to_string(),
            certificate_pem: cert,
            ca_pem: s.ca.cert_pem().to_string(),
            replicas: s.replicas.borrow().clone(),
        }))
    }
}

pub struct AgentControlService(pub Shared);

#[tonic::async_trait]
impl AgentControl for AgentControlService {
    async fn renew(
        &self,
        req: Request<pb::RenewRequest>,
    ) -> Result<Response<pb::RenewResponse>, Status> {
        let s = &self.0;
        let host = authorize(s.store.as_ref(), &req).await?;
        let cert =
            s.ca.sign_client(&req.get_ref().csr_pem, &host.id, (s.clock)(), s.cert_days)
                .map_err(|e| {
                    Status::invalid_argument(format!("csr_pem: {}", weft_model::error::chain(&e)))
                })?;
        tracing::info!(host = %host.id, "certificate renewed");
        Ok(Response::new(pb::RenewResponse {
            certificate_pem: cert,
        }))
    }

    async fn report(
        &self,
        req: Request<pb::ReportRequest>,
    ) -> Result<Response<pb::ReportResponse>, Status> {
        let s = &self.0;
        let host = authorize(s.store.as_ref(), &req).await?;
        let endpoint = req
            .extensions()
            .get::<PeerInfo>()
            .map(|p| p.addr.ip().to_canonical().to_string())
            .unwrap_or_default();
        let mut req = req.into_inner();
        let vm_nics = vms::parse_vm_nics(std::mem::take(&mut req.vm_nics))?;
        let vm_nics_unchanged = req.vm_nics_unchanged;
        let report = parse_report(req, endpoint)?;
        let changed = s
            .store
            .report(&host.id, &report, (s.clock)())
            .await
            .map_err(internal)?;
        if !vm_nics_unchanged {
            (s.store.report_vm_nics(&host.id, &vm_nics).await).map_err(internal)?;
        }
        if changed {
            tracing::info!(host = %host.id, endpoint = %report.endpoint, networks = report.keys.len(), "host reported new keys or address");
        }
        Ok(Response::new(pb::ReportResponse {
            replicas: s.replicas.borrow().clone(),
        }))
    }

    async fn stream_logs(
        &self,
        req: Request<tonic::Streaming<pb::LogBatch>>,
    ) -> Result<Response<pb::StreamLogsResponse>, Status> {
        let s = &self.0;
        let host = authorize(s.store.as_ref(), &req).await?;
        tracing::debug!(host = %host.id, "agent streams its logs");
        let mut batches = req.into_inner();
        while let Some(batch) = batches.message().await? {
            let now_ms = (s.clock)().saturating_mul(1000);
            s.logs.push(&host, logs::parse_batch(batch, now_ms)?);
        }
        Ok(Response::new(pb::StreamLogsResponse {}))
    }

    type WatchStream = tokio_stream::wrappers::ReceiverStream<Result<EncodedDesiredState, Status>>;

    async fn watch(
        &self,
        req: Request<pb::WatchRequest>,
    ) -> Result<Response<Self::WatchStream>, Status> {
        let host = authorize(self.0.store.as_ref(), &req).await?;
        let (tx, rx) = tokio::sync::mpsc::channel(8);
        let from = req.get_ref().revision;
        tracing::info!(host = %host.id, from, "agent follows its desired state");
        tokio::spawn(follow(self.0.clone(), host, from, tx));
        Ok(Response::new(tokio_stream::wrappers::ReceiverStream::new(
            rx,
        )))
    }
}

/// Check a report's fields, naming the field at fault.
fn parse_report(req: pb::ReportRequest, endpoint: String) -> Result<HostReport, Status> {
    if req.version.len() > 64 {
        return Err(Status::invalid_argument(
            "version: longer than 64 characters",
        ));
    }
    if req.networks.len() > 1024 {
        return Err(Status::invalid_argument("networks: more than 1024"));
    }
    let mut keys = Vec::new();
    for n in req.networks {
        weft_model::names::validate_network_name(&n.network)
            .map_err(|e| Status::invalid_argument(format!("networks.network: {e}")))?;
        weft_model::PublicKey::from_base64(&n.public_key)
            .map_err(|e| Status::invalid_argument(format!("networks.public_key: {e}")))?;
        let listen_port = u16::try_from(n.listen_port)
            .ok()
            .filter(|p| *p != 0)
            .ok_or_else(|| Status::invalid_argument("networks.listen_port: must be 1 to 65535"))?;
        keys.push(NetworkKey {
            network: n.network,
            public_key: n.public_key,
            listen_port,
        });
    }
    let mut peer_health = std::collections::BTreeMap::new();
    for h in req.peer_health {
        check_health("peer_health.health", &h.health)?;
        *peer_health.entry(h.health).or_insert(0u32) += h.count;
    }
    let peer_links = if req.links_included {
        Some(parse_links(req.links)?)
    } else {
        None
    };
    Ok(HostReport {
        endpoint,
        version: req.version,
        keys,
        peer_health,
        peer_links,
    })
}

const HEALTH_STATES: [&str; 4] = ["healthy", "degraded", "unhealthy", "disconnected"];

pub use weft_proto::MAX_REPORT_LINKS as MAX_LINKS;

fn check_health(field: &str, health: &str) -> Result<(), Status> {
    if HEALTH_STATES.contains(&health) {
        return Ok(());
    }
    Err(Status::invalid_argument(format!(
        "{field}: {} is not healthy, degraded, unhealthy or disconnected",
        weft_model::error::shown(health)
    )))
}

fn parse_links(links: Vec<pb::PeerLink>) -> Result<Vec<PeerLink>, Status> {
    if links.len() > MAX_LINKS {
        return Err(Status::invalid_argument(format!(
            "links: more than {MAX_LINKS}"
        )));
    }
    links
        .into_iter()
        .map(|l| {
            weft_model::names::validate_network_name(&l.network)
                .map_err(|e| Status::invalid_argument(format!("links.network: {e}")))?;
            weft_model::PublicKey::from_base64(&l.public_key)
                .map_err(|e| Status::invalid_argument(format!("links.public_key: {e}")))?;
            check_health("links.health", &l.health)?;
            let endpoint = match l.endpoint.as_str() {
                "" => None,
                text => Some(
                    text.parse::<std::net::SocketAddr>()
                        .map_err(|_| {
                            Status::invalid_argument(format!(
                                "links.endpoint: {} is not an address:port",
                                weft_model::error::shown(text)
                            ))
                        })?
                        .to_string(),
                ),
            };
            Ok(PeerLink {
                network: l.network,
                public_key: l.public_key,
                health: l.health,
                last_handshake: (l.last_handshake > 0).then_some(l.last_handshake),
                rx_bytes: l.rx_bytes,
                tx_bytes: l.tx_bytes,
                endpoint,
            })
        })
        .collect()
}

/// Feed one agent's stream from its tenant's frames: a snapshot (or, for
/// a host resuming from the revision it has, only what changed since),
/// then whenever the store's revision moves and something of this host's
/// changed, the delta its frame encoded for it. Ends when the agent goes,
/// or with `Unauthenticated` when the host is deleted.
async fn follow(
    s: Shared,
    host: Host,
    from: u64,
    tx: tokio::sync::mpsc::Sender<Result<EncodedDesiredState, Status>>,
) {
    let mut revisions = s.store.revisions();
    let mut follower = Follower::new(host.id.clone(), from);
    loop {
        // Marked seen before the frame is read, so a change made meanwhile
        // wakes the loop again.
        let seen = *revisions.borrow_and_update();
        let step = match next_step(&s, &host, &mut follower, seen).await {
            Ok(step) => step,
            Err(err) => {
                let _ = tx.send(Err(internal(err))).await;
                return;
            }
        };
        match step {
            Step::Gone => {
                tracing::info!(host = %host.id, "ending the stream of a deleted host");
                let _ = tx
                    .send(Err(Status::unauthenticated(
                        "this host was deleted: its certificate is revoked",
                    )))
                    .await;
                return;
            }
            Step::Send(batch) => {
                for msg in batch.iter() {
                    if tx.send(Ok(msg.clone())).await.is_err() {
                        return;
                    }
                }
            }
            Step::Nothing | Step::Behind(_) => {}
        }
        tokio::select! {
            changed = revisions.changed() => if changed.is_err() { return },
            () = tx.closed() => return,
        }
    }
}

/// What the stream sends for the tenant's frame at `seen` or later.
async fn next_step(
    s: &Shared,
    host: &Host,
    follower: &mut Follower,
    seen: u64,
) -> Result<Step, StoreError> {
    let frame = s.feeds.frame(s.store.as_ref(), &host.tenant, seen).await?;
    Ok(match follower.step(&s.feeds, &frame) {
        Step::Behind(at) => {
            let changes = (s.feeds)
                .changes_since(s.store.as_ref(), &host.tenant, &frame, at)
                .await?;
            follower.catch_up(&s.feeds, &frame, changes.as_deref())
        }
        step => step,
    })
}

/// The agents' services: `Enrollment` and `AgentControl`.
pub fn services(shared: Shared) -> tonic::service::Routes {
    tonic::service::Routes::new(
        EnrollmentServer::new(EnrollmentService(shared.clone()))
            .max_decoding_message_size(MAX_MESSAGE),
    )
    .add_service(
        AgentControlServer::new(AgentControlService(shared)).max_decoding_message_size(MAX_MESSAGE),
    )
}

/// Serve `routes` (the agents' [`services`], and whatever else the port
/// offers) on `listener` until the task is dropped.
pub async fn serve(
    listener: TcpListener,
    tls: Arc<rustls::ServerConfig>,
    routes: tonic::service::Routes,
) {
    let (conns, incoming) = tokio::sync::mpsc::channel::<std::io::Result<AgentConn>>(64);
    let acceptor = TlsAcceptor::from(tls);
    // Handshakes run side by side; finished connections go to tonic.
    let accept = tokio::spawn(async move {
        loop {
            let (tcp, addr) = match listener.accept().await {
                Ok(accepted) => accepted,
                Err(err) => {
                    tracing::warn!(error = %err, "accept on the agents' port");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            };
            let (acceptor, conns) = (acceptor.clone(), conns.clone());
            tokio::spawn(async move {
                match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                    Ok(Ok(tls)) => {
                        let _ = conns.send(Ok(AgentConn::new(tls, addr))).await;
                    }
                    Ok(Err(err)) => {
                        tracing::debug!(%addr, error = %err, "agent TLS handshake refused")
                    }
                    Err(_) => tracing::debug!(%addr, "agent TLS handshake timed out"),
                }
            });
        }
    });
    let served = tonic::transport::Server::builder()
        .max_concurrent_streams(Some(MAX_STREAMS_PER_CONNECTION))
        .http2_keepalive_interval(Some(Duration::from_secs(20)))
        .http2_keepalive_timeout(Some(Duration::from_secs(10)))
        .add_routes(routes)
        .serve_with_incoming(tokio_stream::wrappers::ReceiverStream::new(incoming))
        .await;
    accept.abort();
    if let Err(err) = served {
        tracing::error!(error = %err, "the agents' gRPC server stopped");
    }
}

#[cfg(test)]
mod tests;
