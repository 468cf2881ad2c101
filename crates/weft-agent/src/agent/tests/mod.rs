//! The agent's orchestration against the in-memory data plane, one file
//! per entity as in the agent itself.

mod attachments;
mod dns_names;
mod drift;
mod errors;
mod host;
mod keys;
mod networks;
mod peers;
mod reconcile;
mod status;
mod vms;
mod vxlan;

use crate::agent::{Agent, Result};
use crate::attachments::{AttachmentSpec, AttachmentView};
use crate::dataplane::NetworkKind;
use crate::error::AgentError;
use crate::fake::FakeDataplane;
use crate::networks::{DEFAULT_LISTEN_PORT, NetworkSpec, NetworkView};
use crate::peers::PeerSpec;
use crate::records::PeerRecord;
use crate::store::Store;
use weft_model::PrivateKey;
use weft_net::NetnsId;
use weft_proto::agent as pb;

/// The agent as the gRPC layer drives it: each request parsed into its
/// spec first, so the tests see the errors a client sees.
trait ThroughTheEdge {
    fn add_network_pb(&mut self, r: pb::AddNetworkRequest) -> Result<NetworkView>;
    fn add_peer_pb(&mut self, r: pb::AddPeerRequest) -> Result<PeerRecord>;
    fn remove_peer_pb(&mut self, network: &str, key: &str) -> Result<bool>;
    fn attach_pb(&mut self, r: pb::AttachRequest) -> Result<AttachmentView>;
}

impl ThroughTheEdge for Agent<FakeDataplane> {
    fn add_network_pb(&mut self, r: pb::AddNetworkRequest) -> Result<NetworkView> {
        self.add_network(NetworkSpec::try_from(r)?)
    }

    fn add_peer_pb(&mut self, r: pb::AddPeerRequest) -> Result<PeerRecord> {
        self.add_peer(PeerSpec::try_from(r)?)
    }

    fn remove_peer_pb(&mut self, network: &str, key: &str) -> Result<bool> {
        self.remove_peer(network, &crate::grpc::public_key(key)?)
    }

    fn attach_pb(&mut self, r: pb::AttachRequest) -> Result<AttachmentView> {
        self.attach(AttachmentSpec::try_from(r)?)
    }
}

/// A namespace identity of the fake's.
fn netns_id(ino: u64) -> NetnsId {
    NetnsId { dev: 4, ino }
}

fn agent() -> Agent<FakeDataplane> {
    let dp = FakeDataplane::default()
        .with_netns("/run/netns/c1", netns_id(101))
        .with_netns("/run/netns/c2", netns_id(102))
        .with_netns("/run/netns/c3", netns_id(103));
    Agent::new(Store::in_memory().unwrap(), dp)
}

fn blue() -> pb::AddNetworkRequest {
    pb::AddNetworkRequest {
        name: "blue".into(),
        subnet: "10.42.0.0/16".into(),
        block: "10.42.1.0/24".into(),
        ..Default::default()
    }
}

fn red() -> pb::AddNetworkRequest {
    pb::AddNetworkRequest {
        name: "red".into(),
        subnet: "10.43.0.0/16".into(),
        block: "10.43.1.0/24".into(),
        ..Default::default()
    }
}

fn attach_req(network: &str, id: &str) -> pb::AttachRequest {
    pb::AttachRequest {
        network: network.into(),
        netns: format!("/run/netns/{id}"),
        id: id.into(),
        ..Default::default()
    }
}

fn peer_req(key: &str, allowed: &str) -> pb::AddPeerRequest {
    pb::AddPeerRequest {
        network: "blue".into(),
        public_key: key.into(),
        endpoint: "192.0.2.2:51820".into(),
        allowed_ips: vec![allowed.into()],
        keepalive: 0,
        ..Default::default()
    }
}

fn snapshot(a: &Agent<FakeDataplane>) -> String {
    let s = a.dataplane().lock();
    format!(
        "{:?} {:?} {:?} {:?}",
        a.store().networks().unwrap().len(),
        a.store().attachments().unwrap(),
        s.networks.keys().collect::<Vec<_>>(),
        s.attachments.keys().collect::<Vec<_>>()
    )
}

fn bridge_net() -> pb::AddNetworkRequest {
    pb::AddNetworkRequest {
        name: "br".into(),
        mode: "bridge".into(),
        subnet: "10.88.0.0/16".into(),
        ..Default::default()
    }
}
