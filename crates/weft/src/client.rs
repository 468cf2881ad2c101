//! Talking to the agent: one request on a small runtime.

use anyhow::{Context as _, Result};
use std::path::Path;
pub use weft_proto::Client;

pub fn call<T>(
    socket: &Path,
    op: impl AsyncFnOnce(&mut Client) -> Result<T, tonic::Status>,
) -> Result<T> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("start the async runtime")?;
    rt.block_on(async {
        let mut client = weft_proto::connect(socket).await?;
        op(&mut client)
            .await
            .map_err(|status| anyhow::anyhow!("{}", status.message()))
    })
}
