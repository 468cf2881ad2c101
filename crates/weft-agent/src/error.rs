//! What an agent operation can fail with, and how that reaches a client:
//! a gRPC code, the kind ([`ErrorKind`], in the status's metadata) and one
//! line with the whole chain of causes.
//!
//! The rule for every error here (and in the crates below): `Display` says
//! what was being done and to what, and never repeats its `#[source]`; the
//! chain is put together once, by [`weft_model::error::chain`].

use crate::dataplane::DataplaneError;
use crate::store::StoreError;
use ipnet::IpNet;
use std::net::IpAddr;
use weft_model::error::chain;
use weft_model::{KeyError, Mode, ModelError};
use weft_proto::ErrorKind;

#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    #[error(transparent)]
    Invalid(#[from] ModelError),
    #[error(transparent)]
    Key(#[from] KeyError),
    /// The path given as a workload's namespace is not one: the caller's
    /// environment is wrong, not its request.
    #[error("invalid netns {path:?}: {why}")]
    Netns { path: String, why: &'static str },
    #[error("{what} {name:?} does not exist")]
    NotFound { what: &'static str, name: String },
    // Boxed: they carry what exists or conflicts, and every Result of the
    // agent would otherwise be as large as the largest of them.
    #[error("{0}")]
    Exists(Box<Existing>),
    #[error("{0}")]
    Conflict(Box<Conflict>),
    #[error(transparent)]
    Dataplane(#[from] DataplaneError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What is there already.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Existing {
    #[error("network {name:?} already exists")]
    Network { name: String },
    #[error("workload {workload:?} is already attached to network {network:?} (as {ifname}, {ip})")]
    Attachment {
        workload: String,
        network: String,
        ifname: String,
        ip: IpAddr,
    },
    /// Two owners of one name would make it answer with both addresses.
    #[error("name {name:?} is already taken on network {network:?} by {owner}")]
    Name {
        name: String,
        network: String,
        owner: NameOwner,
    },
}

/// Who has a DNS name of a network already.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum NameOwner {
    #[error("workload {0:?}")]
    Workload(String),
    #[error("this host (--host-name)")]
    ThisHost,
    /// A peer's host, as its own records name it (by the peer's public key).
    #[error("the host of peer {0}")]
    PeerHost(String),
}

/// Why a request cannot be carried out in the agent's state.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Conflict {
    #[error("no free listen port")]
    NoFreeListenPort,
    #[error(
        "network {network:?} still has {} attached workload(s) ({}); detach them first or use --force",
        .workloads.len(),
        .workloads.join(", ")
    )]
    StillAttached {
        network: String,
        workloads: Vec<String>,
    },
    #[error("network {network:?} is a {mode} network: it has no WireGuard peers")]
    NoPeers { network: String, mode: Mode },
    #[error("network {network:?} is a {mode} network: it has no WireGuard key to rotate")]
    NoKey { network: String, mode: Mode },
    #[error(
        "network {network:?} is a {mode} network: its peers are WireGuard peers, added with --public-key"
    )]
    NoVteps { network: String, mode: Mode },
    #[error("network {network:?} carries VXLAN network {above:?} (--over); remove that first")]
    Underlay { network: String, above: String },
    #[error(
        "workload {workload:?} is attached to network {network:?} in another namespace ({netns})"
    )]
    OtherNamespace {
        workload: String,
        network: String,
        netns: String,
    },
    /// One id is one workload: a VM's NICs and a namespace's veths never
    /// share it.
    #[error(
        "workload {workload:?} is attached to network {network:?} as {}; one id is one kind of workload",
        if *.vm { "a VM" } else { "a namespace" }
    )]
    OtherKind {
        workload: String,
        network: String,
        vm: bool,
    },
    #[error("TAP name {tap:?} is already used on this host by {owner}")]
    TapTaken { tap: String, owner: String },
    #[error(
        "attachment {network}/{workload} is broken: {host_ifname} / {ifname} with {address} and its routes are not all in place"
    )]
    Broken {
        network: String,
        workload: String,
        host_ifname: String,
        ifname: String,
        address: IpNet,
    },
}

impl AgentError {
    pub fn no_network(name: &str) -> Self {
        Self::NotFound {
            what: "network",
            name: name.to_string(),
        }
    }

    pub fn kind(&self) -> ErrorKind {
        match self {
            AgentError::Invalid(ModelError::Exhausted { .. }) => ErrorKind::Exhausted,
            AgentError::Invalid(_) | AgentError::Key(_) => ErrorKind::Invalid,
            AgentError::Netns { .. } => ErrorKind::InvalidNetns,
            AgentError::NotFound { .. } => ErrorKind::NotFound,
            AgentError::Exists(_) => ErrorKind::Exists,
            AgentError::Conflict(_) => ErrorKind::Conflict,
            AgentError::Dataplane(_) | AgentError::Store(_) => ErrorKind::Internal,
        }
    }
}

impl From<Existing> for AgentError {
    fn from(existing: Existing) -> Self {
        AgentError::Exists(Box::new(existing))
    }
}

impl From<Conflict> for AgentError {
    fn from(conflict: Conflict) -> Self {
        AgentError::Conflict(Box::new(conflict))
    }
}

impl From<AgentError> for tonic::Status {
    fn from(err: AgentError) -> Self {
        err.kind().status(chain(&err))
    }
}
