//! What exists already, as the executor gathers it from each host's agent
//! (and from its own record of the workloads it runs). The planner keeps
//! what it finds here; the diff compares against it.

use crate::plan::DnsRecord;
use ipnet::IpNet;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::net::IpAddr;
use weft_model::PublicKey;

/// Every host the executor could ask. A host of the file missing here is
/// taken to have nothing yet, so the executor must fail rather than leave
/// out a host it could not reach.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Observed {
    #[serde(rename = "hosts")]
    pub hosts: BTreeMap<String, HostState>,
    /// Underlay addresses the executor gave its lab hosts (see
    /// [`crate::assign_lab_underlay`]).
    #[serde(rename = "lab_underlay", default)]
    pub lab_underlay: BTreeMap<String, IpAddr>,
}

/// One host as its agent reports it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostState {
    /// The agent's networks by name (all of them; only the mesh's are
    /// looked at).
    #[serde(rename = "networks")]
    pub networks: BTreeMap<String, NetworkState>,
    /// The services of this mesh the executor started on this host, by
    /// service name: running ones, and processes that have ended (see
    /// [`ServiceState`]).
    #[serde(rename = "services", default)]
    pub services: BTreeMap<String, ServiceState>,
}

/// A network on one host (`weft network ls`, `weft status`, `weft
/// attachments`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkState {
    #[serde(rename = "subnet")]
    pub subnet: IpNet,
    #[serde(rename = "block")]
    pub block: IpNet,
    #[serde(rename = "listen_port")]
    pub listen_port: u16,
    /// The agent's mode name (`wireguard`, `bridge`).
    #[serde(rename = "mode", default = "wireguard")]
    pub mode: String,
    /// The public half of the key the agent generated for this network
    /// (none on a VXLAN network).
    #[serde(rename = "public_key", with = "crate::plan::opt_key_b64", default)]
    pub public_key: Option<PublicKey>,
    /// A VXLAN network's VNI.
    #[serde(rename = "vni", default)]
    pub vni: Option<u32>,
    /// The WireGuard network a VXLAN network runs over, if any.
    #[serde(rename = "over", default)]
    pub over: Option<String>,
    /// A VXLAN network's remote tunnel endpoints.
    #[serde(rename = "vteps", default)]
    pub vteps: Vec<VtepState>,
    /// `None` when the agent does not say.
    #[serde(rename = "internal", default)]
    pub internal: Option<bool>,
    #[serde(rename = "peers", default)]
    pub peers: Vec<PeerState>,
    /// Attachments by workload id → address.
    #[serde(rename = "attachments", default)]
    pub attachments: BTreeMap<String, IpAddr>,
    /// The records the host's DNS responder serves on this network, sorted;
    /// `None` when it does not say (then they are not compared).
    #[serde(rename = "dns", default)]
    pub dns: Option<Vec<DnsRecord>>,
}

fn wireguard() -> String {
    "wireguard".to_owned()
}

/// A VXLAN network's tunnel endpoint as the agent has it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VtepState {
    #[serde(rename = "address")]
    pub address: IpAddr,
    #[serde(rename = "block", default)]
    pub block: Option<IpNet>,
}

/// A peer as the agent has it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeerState {
    #[serde(rename = "public_key", with = "crate::plan::key_b64")]
    pub public_key: PublicKey,
    #[serde(rename = "endpoint", default)]
    pub endpoint: Option<String>,
    #[serde(rename = "allowed_ips", default)]
    pub allowed_ips: Vec<IpNet>,
    /// Seconds; `None` or 0 means off.
    #[serde(rename = "keepalive", default)]
    pub keepalive: Option<u16>,
}

/// A service as the executor recorded it when it started it. Running, or a
/// process that has ended: an ended process stays as it ended (it is never
/// restarted behind the user's back) until its definition changes, so the
/// executor reports it here too. A service that is neither (its namespace
/// or supervisor vanished) is left out, and so started again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceState {
    /// [`crate::ServicePlan::fingerprint`] at start; a different one means
    /// the service must be restarted.
    #[serde(rename = "fingerprint")]
    pub fingerprint: String,
}
