//! The plugin's view of the agent, as a trait so the command logic can be
//! tested without one; the real side is gRPC over the agent's socket.

use crate::error::{CniError, code};
use std::path::Path;
use tonic::{Code, Status};
use weft_proto::ErrorKind;
use weft_proto::agent as pb;

pub type AgentResult<T> = Result<T, Status>;

pub trait AgentApi {
    fn networks(&mut self) -> AgentResult<Vec<pb::Network>>;
    fn add_network(&mut self, req: pb::AddNetworkRequest) -> AgentResult<pb::Network>;
    fn remove_network(&mut self, name: &str) -> AgentResult<()>;
    fn attach(&mut self, req: pb::AttachRequest) -> AgentResult<pb::Attachment>;
    fn detach(&mut self, network: &str, id: &str) -> AgentResult<bool>;
    fn check(&mut self, network: &str, id: &str) -> AgentResult<pb::Attachment>;
    fn gc(&mut self, network: &str, keep: Vec<String>) -> AgentResult<Vec<String>>;
}

/// An agent error as a CNI error, by the kind the agent gives it: a bad
/// namespace is the runtime's environment at fault, other bad input the
/// configuration's; transient trouble (no kind: the agent was not reached)
/// asks the runtime to try again; the rest is "other".
pub fn to_cni(status: &Status) -> CniError {
    let code = match (ErrorKind::of(status), status.code()) {
        (Some(ErrorKind::InvalidNetns), _) => code::INVALID_ENV,
        (Some(ErrorKind::Invalid), _) => code::INVALID_CONFIG,
        (Some(_), _) => code::OTHER,
        (None, Code::Unavailable | Code::DeadlineExceeded | Code::Aborted) => code::TRY_AGAIN,
        (None, _) => code::OTHER,
    };
    CniError::new(code, status.message())
}

/// The agent reached over its Unix socket, one request at a time.
pub struct GrpcAgent {
    rt: tokio::runtime::Runtime,
    client: weft_proto::Client,
}

impl GrpcAgent {
    pub fn connect(socket: &Path) -> std::io::Result<GrpcAgent> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let client = rt.block_on(weft_proto::connect(socket))?;
        Ok(GrpcAgent { rt, client })
    }
}

impl AgentApi for GrpcAgent {
    fn networks(&mut self) -> AgentResult<Vec<pb::Network>> {
        let c = &mut self.client;
        self.rt
            .block_on(c.list_networks(pb::ListNetworksRequest {}))
            .map(|r| r.into_inner().networks)
    }

    fn add_network(&mut self, req: pb::AddNetworkRequest) -> AgentResult<pb::Network> {
        let c = &mut self.client;
        self.rt.block_on(c.add_network(req)).map(|r| r.into_inner())
    }

    fn remove_network(&mut self, name: &str) -> AgentResult<()> {
        let req = pb::RemoveNetworkRequest {
            name: name.into(),
            force: false,
        };
        let c = &mut self.client;
        self.rt.block_on(c.remove_network(req)).map(|_| ())
    }

    fn attach(&mut self, req: pb::AttachRequest) -> AgentResult<pb::Attachment> {
        let c = &mut self.client;
        self.rt.block_on(c.attach(req)).map(|r| r.into_inner())
    }

    fn detach(&mut self, network: &str, id: &str) -> AgentResult<bool> {
        let req = pb::DetachRequest {
            network: network.into(),
            id: id.into(),
        };
        let c = &mut self.client;
        self.rt
            .block_on(c.detach(req))
            .map(|r| r.into_inner().detached)
    }

    fn check(&mut self, network: &str, id: &str) -> AgentResult<pb::Attachment> {
        let req = pb::CheckAttachmentRequest {
            network: network.into(),
            id: id.into(),
        };
        let c = &mut self.client;
        self.rt
            .block_on(c.check_attachment(req))
            .map(|r| r.into_inner())
    }

    fn gc(&mut self, network: &str, keep: Vec<String>) -> AgentResult<Vec<String>> {
        let req = pb::GarbageCollectRequest {
            network: network.into(),
            keep,
        };
        let c = &mut self.client;
        self.rt
            .block_on(c.garbage_collect(req))
            .map(|r| r.into_inner().released)
    }
}

#[cfg(test)]
mod tests;
