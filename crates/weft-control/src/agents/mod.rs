//! The agents' gRPC port: enrollment (no certificate yet) and, with mutual
//! TLS, everything else.
//!
//! Authorization, per service rather than per method so a new method
//! cannot forget it: `Enrollment` is open (the token is its credential,
//! and it is rate-limited); every method of `AgentControl` starts with
//! [`authorize`], which wants a client certificate (already verified
//! against the CA by rustls) naming a host that exists and is not revoked —
//! looked up on every call, so a deleted host is refused at once.
//! `tests.rs` walks every method of the proto's services to hold this.

mod conn;
mod limit;

pub use conn::{AgentConn, PeerInfo};
pub use limit::RateLimit;

use crate::api::Clock;
use crate::ca::{self, Ca};
use crate::model::{Host, HostId, NewHost, validate_label};
use crate::secret::{Secret, SecretKind};
use crate::store::{Store, StoreError};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tonic::{Request, Response, Status};
use weft_proto::control as pb;
use weft_proto::control::agent_control_server::{AgentControl, AgentControlServer};
use weft_proto::control::enrollment_server::{Enrollment, EnrollmentServer};

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
    /// How long client certificates live.
    pub cert_days: i64,
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
    tracing::error!(error = %crate::api::error::chain(&err), "control plane store");
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
        if !s.enroll_limit.try_take() {
            return Err(Status::resource_exhausted(
                "too many enrollments at once; retry in a few seconds",
            ));
        }
        let peer = req.extensions().get::<PeerInfo>().map(|p| p.addr);
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
                    Status::invalid_argument(format!("csr_pem: {}", crate::api::error::chain(&e)))
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
                    Status::invalid_argument(format!("csr_pem: {}", crate::api::error::chain(&e)))
                })?;
        tracing::info!(host = %host.id, "certificate renewed");
        Ok(Response::new(pb::RenewResponse {
            certificate_pem: cert,
        }))
    }
}

/// Serve the agents' port on `listener` until the task is dropped.
pub async fn serve(listener: TcpListener, tls: Arc<rustls::ServerConfig>, shared: Shared) {
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
        .add_service(
            EnrollmentServer::new(EnrollmentService(shared.clone()))
                .max_decoding_message_size(MAX_MESSAGE),
        )
        .add_service(
            AgentControlServer::new(AgentControlService(shared))
                .max_decoding_message_size(MAX_MESSAGE),
        )
        .serve_with_incoming(tokio_stream::wrappers::ReceiverStream::new(incoming))
        .await;
    accept.abort();
    if let Err(err) = served {
        tracing::error!(error = %err, "the agents' gRPC server stopped");
    }
}

#[cfg(test)]
mod tests;
