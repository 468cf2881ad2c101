//! The gRPC service: parses each request into the agent's typed specs
//! (`requests.rs`), runs the operation on a blocking thread (the agent does
//! netlink and SQLite work synchronously) under one lock, so operations
//! never interleave, and answers with the wire's messages (`responses.rs`).

mod requests;
mod responses;

use crate::agent::Agent;
use crate::attachments::AttachmentSpec;
use crate::dataplane::Dataplane;
use crate::dns_names::NamesSpec;
use crate::error::AgentError;
use crate::networks::NetworkSpec;
use crate::peers::PeerSpec;
pub(crate) use requests::public_key;
use responses::{attachment_pb, network_pb, peer_pb, status_pb, vtep_pb};
use std::sync::{Arc, Mutex, PoisonError};
use tonic::{Request, Response, Status};
use weft_proto::ErrorKind;
use weft_proto::agent as pb;

pub struct AgentService<D: Dataplane + 'static> {
    agent: Arc<Mutex<Agent<D>>>,
    /// The control plane connection, when the agent follows one.
    control: Option<crate::control::state::ControlState>,
    /// Probes peers when a status request asks for fresh answers.
    prober: Option<Arc<crate::probe::Prober<D>>>,
}

impl<D: Dataplane + 'static> AgentService<D> {
    pub fn new(agent: Arc<Mutex<Agent<D>>>) -> Self {
        Self {
            agent,
            control: None,
            prober: None,
        }
    }

    pub fn with_prober(mut self, prober: Arc<crate::probe::Prober<D>>) -> Self {
        self.prober = Some(prober);
        self
    }

    pub fn with_control(mut self, control: Option<crate::control::state::ControlState>) -> Self {
        self.control = control;
        self
    }

    async fn run<T: Send + 'static>(
        &self,
        op: impl FnOnce(&mut Agent<D>) -> Result<T, AgentError> + Send + 'static,
    ) -> Result<T, Status> {
        let agent = self.agent.clone();
        tokio::task::spawn_blocking(move || {
            // A panic in an earlier operation poisons the lock; the state
            // behind it is the store and the kernel, which stay consistent,
            // so carrying on is safe.
            let mut guard = agent.lock().unwrap_or_else(PoisonError::into_inner);
            op(&mut guard)
        })
        .await
        .map_err(|e| ErrorKind::Internal.status(format!("agent task failed: {e}")))?
        .map_err(Status::from)
    }
}

fn optional(s: String) -> Option<String> {
    (!s.is_empty()).then_some(s)
}

#[tonic::async_trait]
impl<D: Dataplane + 'static> pb::agent_server::Agent for AgentService<D> {
    async fn add_network(
        &self,
        req: Request<pb::AddNetworkRequest>,
    ) -> Result<Response<pb::Network>, Status> {
        let spec = NetworkSpec::try_from(req.into_inner())?;
        let view = self.run(move |a| a.add_network(spec)).await?;
        Ok(Response::new(network_pb(view)))
    }

    async fn remove_network(
        &self,
        req: Request<pb::RemoveNetworkRequest>,
    ) -> Result<Response<pb::RemoveNetworkResponse>, Status> {
        let r = req.into_inner();
        let detached = self
            .run(move |a| a.remove_network(&r.name, r.force))
            .await?;
        Ok(Response::new(pb::RemoveNetworkResponse {
            detached: detached as u32,
        }))
    }

    async fn list_networks(
        &self,
        _req: Request<pb::ListNetworksRequest>,
    ) -> Result<Response<pb::ListNetworksResponse>, Status> {
        let nets = self.run(|a| a.networks()).await?;
        Ok(Response::new(pb::ListNetworksResponse {
            networks: nets.into_iter().map(network_pb).collect(),
        }))
    }

    async fn rotate_key(
        &self,
        req: Request<pb::RotateKeyRequest>,
    ) -> Result<Response<pb::Network>, Status> {
        let r = req.into_inner();
        let view = self.run(move |a| a.rotate_key(&r.network)).await?;
        // The control plane hears of the new public key now, not at the
        // next heartbeat.
        if let Some(control) = &self.control {
            control.keys_changed();
        }
        Ok(Response::new(network_pb(view)))
    }

    async fn add_peer(
        &self,
        req: Request<pb::AddPeerRequest>,
    ) -> Result<Response<pb::Peer>, Status> {
        let r = req.into_inner();
        // A peer without a key is a VXLAN network's tunnel endpoint.
        if r.public_key.is_empty() {
            let spec = requests::vtep_spec(r)?;
            let vtep = self.run(move |a| a.add_vtep(spec)).await?;
            return Ok(Response::new(vtep_pb(vtep)));
        }
        let spec = PeerSpec::try_from(r)?;
        let peer = self.run(move |a| a.add_peer(spec)).await?;
        Ok(Response::new(peer_pb(peer)))
    }

    async fn remove_peer(
        &self,
        req: Request<pb::RemovePeerRequest>,
    ) -> Result<Response<pb::RemovePeerResponse>, Status> {
        let r = req.into_inner();
        if r.public_key.is_empty() && !r.endpoint.is_empty() {
            let address = requests::vtep_address(&r.endpoint)?;
            let removed = self
                .run(move |a| a.remove_vtep(&r.network, address))
                .await?;
            return Ok(Response::new(pb::RemovePeerResponse { removed }));
        }
        let key = public_key(&r.public_key)?;
        let removed = self.run(move |a| a.remove_peer(&r.network, &key)).await?;
        Ok(Response::new(pb::RemovePeerResponse { removed }))
    }

    async fn attach(
        &self,
        req: Request<pb::AttachRequest>,
    ) -> Result<Response<pb::Attachment>, Status> {
        let spec = AttachmentSpec::try_from(req.into_inner())?;
        let view = self.run(move |a| a.attach(spec)).await?;
        Ok(Response::new(attachment_pb(view)))
    }

    async fn detach(
        &self,
        req: Request<pb::DetachRequest>,
    ) -> Result<Response<pb::DetachResponse>, Status> {
        let r = req.into_inner();
        let detached = self.run(move |a| a.detach(&r.network, &r.id)).await?;
        Ok(Response::new(pb::DetachResponse { detached }))
    }

    async fn list_attachments(
        &self,
        req: Request<pb::ListAttachmentsRequest>,
    ) -> Result<Response<pb::ListAttachmentsResponse>, Status> {
        let network = optional(req.into_inner().network);
        let views = self.run(move |a| a.attachments(network.as_deref())).await?;
        Ok(Response::new(pb::ListAttachmentsResponse {
            attachments: views.into_iter().map(attachment_pb).collect(),
        }))
    }

    async fn get_status(
        &self,
        req: Request<pb::GetStatusRequest>,
    ) -> Result<Response<pb::Status>, Status> {
        let req = req.into_inner();
        let network = optional(req.network);
        if req.probe {
            let Some(prober) = &self.prober else {
                return Err(Status::unimplemented("this agent cannot probe its peers"));
            };
            prober.probe(network.as_deref()).await;
        }
        let (backend, views) = self
            .run(move |a| Ok((a.dataplane().backend(), a.status(network.as_deref())?)))
            .await?;
        Ok(Response::new(pb::Status {
            backend: backend.to_string(),
            version: env!("CARGO_PKG_VERSION").to_string(),
            networks: views.into_iter().map(status_pb).collect(),
            control: self.control.as_ref().map(|c| c.get()),
        }))
    }

    async fn check_attachment(
        &self,
        req: Request<pb::CheckAttachmentRequest>,
    ) -> Result<Response<pb::Attachment>, Status> {
        let r = req.into_inner();
        let view = self.run(move |a| a.check(&r.network, &r.id)).await?;
        Ok(Response::new(attachment_pb(view)))
    }

    async fn garbage_collect(
        &self,
        req: Request<pb::GarbageCollectRequest>,
    ) -> Result<Response<pb::GarbageCollectResponse>, Status> {
        let r = req.into_inner();
        let released = self.run(move |a| a.gc(&r.network, &r.keep)).await?;
        Ok(Response::new(pb::GarbageCollectResponse { released }))
    }

    async fn list_peers(
        &self,
        req: Request<pb::ListPeersRequest>,
    ) -> Result<Response<pb::ListPeersResponse>, Status> {
        let network = req.into_inner().network;
        let (peers, vteps) = self
            .run(move |a| Ok((a.peers(&network)?, a.vteps(&network)?)))
            .await?;
        Ok(Response::new(pb::ListPeersResponse {
            peers: peers
                .into_iter()
                .map(peer_pb)
                .chain(vteps.into_iter().map(vtep_pb))
                .collect(),
        }))
    }

    async fn set_names(
        &self,
        req: Request<pb::SetNamesRequest>,
    ) -> Result<Response<pb::SetNamesResponse>, Status> {
        let spec = NamesSpec::try_from(req.into_inner())?;
        self.run(move |a| a.set_names(spec)).await?;
        Ok(Response::new(pb::SetNamesResponse {}))
    }

    async fn get_names(
        &self,
        req: Request<pb::GetNamesRequest>,
    ) -> Result<Response<pb::Names>, Status> {
        let r = req.into_inner();
        let records = self
            .run(move |a| a.get_names(&r.network, &r.source))
            .await?;
        Ok(Response::new(pb::Names {
            names: records
                .into_iter()
                .map(|(name, addrs)| pb::Name {
                    name,
                    addresses: addrs.iter().map(ToString::to_string).collect(),
                })
                .collect(),
        }))
    }
}
