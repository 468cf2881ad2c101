//! The gRPC service: converts between the wire types and the agent's, and
//! runs each operation on a blocking thread (the agent does netlink and
//! SQLite work synchronously) under one lock, so operations never interleave.

use crate::agent::Agent;
use crate::attachments::{AttachmentView, NewAttachment};
use crate::dataplane::{BRIDGE_MTU, Dataplane, Records, TUNNEL_MTU};
use crate::error::AgentError;
use crate::health::Health;
use crate::networks::{NetworkView, NewNetwork};
use crate::peers::NewPeer;
use crate::records::PeerRecord;
use crate::status::NetworkStatusView;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::UNIX_EPOCH;
use tonic::{Request, Response, Status};
use weft_proto::agent as pb;

pub struct AgentService<D: Dataplane + 'static> {
    agent: Arc<Mutex<Agent<D>>>,
}

impl<D: Dataplane + 'static> AgentService<D> {
    pub fn new(agent: Arc<Mutex<Agent<D>>>) -> Self {
        Self { agent }
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
        .map_err(|e| Status::internal(format!("agent task failed: {e}")))?
        .map_err(Status::from)
    }
}

fn network_pb(v: NetworkView) -> pb::Network {
    let wg = v.record.wireguard.as_ref();
    pb::Network {
        interface: v.ifname,
        public_key: v.public_key.map(|k| k.to_base64()).unwrap_or_default(),
        listen_port: wg.map(|w| u32::from(w.listen_port)).unwrap_or(0),
        subnet: v.record.subnet.to_string(),
        block: v.record.block.to_string(),
        addresses: vec![v.address.to_string()],
        peer_count: v.peer_count as u32,
        attachment_count: v.attachment_count as u32,
        mode: v.record.mode.to_string(),
        capacity: u64::try_from(v.capacity).unwrap_or(u64::MAX),
        allocated: v.attachment_count as u64,
        internal: v.record.internal,
        domain: v.record.domain.clone(),
        name: v.record.name,
    }
}

fn peer_pb(p: PeerRecord) -> pb::Peer {
    pb::Peer {
        network: p.network,
        public_key: p.public_key.to_base64(),
        endpoint: p.endpoint,
        allowed_ips: p.allowed_ips.iter().map(ToString::to_string).collect(),
        keepalive: u32::from(p.keepalive),
    }
}

fn attachment_pb(v: AttachmentView) -> pb::Attachment {
    let r = v.record;
    let state = v.state.unwrap_or_default();
    let mtu = if v.address.prefix_len() == v.address.max_prefix_len() {
        TUNNEL_MTU
    } else {
        BRIDGE_MTU
    };
    pb::Attachment {
        network: r.network,
        id: r.workload_id,
        name: r.name,
        netns: r.netns,
        ifname: r.ifname,
        host_ifname: r.host_ifname,
        address: v.address.to_string(),
        gateway: v.gateway.to_string(),
        mac: state.mac,
        host_mac: state.host_mac,
        default_route: r.default_route,
        subnet: v.subnet.to_string(),
        mtu,
        dns: Some(pb::Dns {
            nameservers: vec![v.gateway.to_string()],
            search: vec![v.domain.clone()],
            domain: v.domain,
        }),
    }
}

fn status_pb(v: NetworkStatusView) -> pb::NetworkStatus {
    let n = v.network;
    let mut out = pb::NetworkStatus {
        name: n.record.name.clone(),
        interface: n.ifname.clone(),
        public_key: n.public_key.map(|k| k.to_base64()).unwrap_or_default(),
        listen_port: n
            .record
            .wireguard
            .as_ref()
            .map(|w| u32::from(w.listen_port))
            .unwrap_or(0),
        addresses: vec![n.address.to_string()],
        peers: vec![],
        attachment_count: n.attachment_count as u32,
        error: String::new(),
        mode: n.record.mode.to_string(),
    };
    match v.device {
        Ok(None) => {}
        Ok(Some(device)) => {
            // What the data plane says, not what the store says.
            out.listen_port = u32::from(device.listen_port);
            if let Some(key) = device.public_key {
                out.public_key = key.to_base64();
            }
            out.peers = device
                .peers
                .into_iter()
                .map(|p| {
                    let (health, probe) = v
                        .health
                        .get(&p.public_key)
                        .copied()
                        .unwrap_or((Health::Disconnected, None));
                    pb::PeerStatus {
                        public_key: p.public_key.to_base64(),
                        endpoint: p.endpoint.map(|e| e.to_string()).unwrap_or_default(),
                        allowed_ips: p.allowed_ips.iter().map(ToString::to_string).collect(),
                        latest_handshake: p
                            .last_handshake
                            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
                            .map(|d| d.as_secs() as i64)
                            .unwrap_or(0),
                        rx_bytes: p.rx_bytes,
                        tx_bytes: p.tx_bytes,
                        keepalive: u32::from(p.persistent_keepalive.unwrap_or(0)),
                        health: health.to_string(),
                        probe: match probe {
                            Some(true) => "ok".into(),
                            Some(false) => "failed".into(),
                            None => String::new(),
                        },
                    }
                })
                .collect();
        }
        Err(e) => out.error = e,
    }
    out
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
        let r = req.into_inner();
        let new = NewNetwork {
            name: r.name,
            subnet: r.subnet,
            block: r.block,
            listen_port: r.listen_port,
            private_key: r.private_key,
            mode: r.mode,
            internal: r.internal,
            domain: r.domain,
        };
        let view = self.run(move |a| a.add_network(new)).await?;
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

    async fn add_peer(
        &self,
        req: Request<pb::AddPeerRequest>,
    ) -> Result<Response<pb::Peer>, Status> {
        let r = req.into_inner();
        let new = NewPeer {
            network: r.network,
            public_key: r.public_key,
            endpoint: r.endpoint,
            allowed_ips: r.allowed_ips,
            keepalive: r.keepalive,
        };
        let peer = self.run(move |a| a.add_peer(new)).await?;
        Ok(Response::new(peer_pb(peer)))
    }

    async fn remove_peer(
        &self,
        req: Request<pb::RemovePeerRequest>,
    ) -> Result<Response<pb::RemovePeerResponse>, Status> {
        let r = req.into_inner();
        let removed = self
            .run(move |a| a.remove_peer(&r.network, &r.public_key))
            .await?;
        Ok(Response::new(pb::RemovePeerResponse { removed }))
    }

    async fn attach(
        &self,
        req: Request<pb::AttachRequest>,
    ) -> Result<Response<pb::Attachment>, Status> {
        let r = req.into_inner();
        let new = NewAttachment {
            network: r.network,
            netns: r.netns,
            id: r.id,
            name: r.name,
            ifname: r.ifname,
            ip: r.ip,
        };
        let view = self.run(move |a| a.attach(new)).await?;
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
        let network = optional(req.into_inner().network);
        let (backend, views) = self
            .run(move |a| Ok((a.dataplane().backend(), a.status(network.as_deref())?)))
            .await?;
        Ok(Response::new(pb::Status {
            backend: backend.to_string(),
            version: env!("CARGO_PKG_VERSION").to_string(),
            networks: views.into_iter().map(status_pb).collect(),
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
        let peers = self.run(move |a| a.peers(&network)).await?;
        Ok(Response::new(pb::ListPeersResponse {
            peers: peers.into_iter().map(peer_pb).collect(),
        }))
    }

    async fn set_names(
        &self,
        req: Request<pb::SetNamesRequest>,
    ) -> Result<Response<pb::SetNamesResponse>, Status> {
        let r = req.into_inner();
        let mut records = Records::new();
        for n in r.names {
            let addrs = n
                .addresses
                .iter()
                .map(|a| {
                    a.parse().map_err(|_| {
                        Status::invalid_argument(format!(
                            "invalid address {a:?} of name {:?}: not an IP address",
                            n.name
                        ))
                    })
                })
                .collect::<Result<Vec<std::net::IpAddr>, Status>>()?;
            records.entry(n.name).or_default().extend(addrs);
        }
        self.run(move |a| a.set_names(&r.network, &r.source, records))
            .await?;
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
