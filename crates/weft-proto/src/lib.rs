//! weft's gRPC API, generated from `proto/weft/agent/v1/agent.proto`, the
//! kinds of the agent's errors ([`ErrorKind`]), the one way to reach an
//! agent: its Unix socket, and what the control plane's desired state
//! means ([`desired`]), for the control plane and its agents alike.

#[allow(clippy::all, missing_docs)]
pub mod agent {
    tonic::include_proto!("weft.agent.v1");
}

/// The control plane's agent-facing API (`proto/weft/control/v1`).
#[allow(clippy::all, missing_docs)]
pub mod control {
    tonic::include_proto!("weft.control.v1");
}

/// The control plane's server side of `AgentControl`, whose `Watch`
/// streams [`EncodedDesiredState`]s (bytes encoded once, shared by streams).
pub mod encoded;

/// A host's desired state and how a message changes it ([`desired::merge`]).
pub mod desired;

/// At most this many peer links in one report (`ReportRequest.links`, about
/// 100 bytes each): a report must fit the 64 KiB a message may have. An
/// agent with more sends the least healthy first; the control plane
/// refuses a longer list.
pub const MAX_REPORT_LINKS: usize = 400;

/// Every proto file's descriptors, encoded (a `FileDescriptorSet`).
pub const DESCRIPTORS: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/descriptors.bin"));

mod error_kind;

pub use error_kind::ErrorKind;

use hyper_util::rt::TokioIo;
use std::path::Path;
use tokio::net::UnixStream;
use tonic::transport::{Channel, Endpoint, Uri};

pub type Client = agent::agent_client::AgentClient<Channel>;

/// Connect to the agent listening on `socket`. Connects once up front so a
/// missing agent is reported at once, with the socket's path.
pub async fn connect(socket: &Path) -> Result<Client, std::io::Error> {
    let unreachable = |e: std::io::Error| {
        std::io::Error::new(
            e.kind(),
            format!(
                "cannot reach the weft agent at {} ({e}); is `weft agent` running?",
                socket.display()
            ),
        )
    };
    UnixStream::connect(socket).await.map_err(unreachable)?;
    let path = socket.to_path_buf();
    // The URI is required by the API but unused: the connector ignores it.
    let channel = Endpoint::from_static("http://weft.agent")
        .connect_with_connector(tower::service_fn(move |_: Uri| {
            let path = path.clone();
            async move { Ok::<_, std::io::Error>(TokioIo::new(UnixStream::connect(path).await?)) }
        }))
        .await
        .map_err(|e| unreachable(std::io::Error::other(e)))?;
    Ok(Client::new(channel))
}
