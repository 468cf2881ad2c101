//! weft's gRPC API, generated from `proto/weft/agent/v1/agent.proto`.

#[allow(clippy::all, missing_docs)]
pub mod agent {
    tonic::include_proto!("weft.agent.v1");
}
