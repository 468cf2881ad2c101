//! Talking to the agent: gRPC over its Unix socket.

use anyhow::{Context as _, Result};
use hyper_util::rt::TokioIo;
use std::path::Path;
use tokio::net::UnixStream;
use tonic::transport::{Channel, Endpoint, Uri};
use weft_proto::agent::agent_client::AgentClient;

pub type Client = AgentClient<Channel>;

pub async fn connect(socket: &Path) -> Result<Client> {
    // Connect once up front so a missing agent gives a clear error.
    UnixStream::connect(socket).await.with_context(|| {
        format!(
            "cannot reach the weft agent at {} (is `weft agent` running? set --socket or WEFT_SOCKET)",
            socket.display()
        )
    })?;
    let path = socket.to_path_buf();
    // The URI is required by the API but unused: the connector ignores it.
    let channel = Endpoint::try_from("http://weft.agent")?
        .connect_with_connector(tower::service_fn(move |_: Uri| {
            let path = path.clone();
            async move { Ok::<_, std::io::Error>(TokioIo::new(UnixStream::connect(path).await?)) }
        }))
        .await
        .with_context(|| format!("connect to the weft agent at {}", socket.display()))?;
    Ok(AgentClient::new(channel))
}

/// Run one request against the agent on a small runtime.
pub fn call<T>(
    socket: &Path,
    op: impl AsyncFnOnce(&mut Client) -> Result<T, tonic::Status>,
) -> Result<T> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("start the async runtime")?;
    rt.block_on(async {
        let mut client = connect(socket).await?;
        op(&mut client)
            .await
            .map_err(|status| anyhow::anyhow!("{}", status.message()))
    })
}
