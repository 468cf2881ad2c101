//! The weft agent: the per-host daemon that owns weft's kernel state.
//!
//! - [`store`] keeps what users asked for (SQLite, crash-safe);
//! - [`agent`] and [`attachments`] validate, record and apply each
//!   operation; [`reconcile`] makes the kernel match the store at start-up;
//! - [`dataplane`] is the seam to the kernel, [`linux`] its real side;
//! - [`grpc`] and [`server`] expose it all over gRPC on a Unix socket.

pub mod agent;
pub mod attachments;
pub mod dataplane;
pub mod dns_names;
pub mod error;
pub mod grpc;
pub mod health;
pub mod linux;
pub mod metrics;
pub mod network_services;
pub mod networks;
pub mod peers;
pub mod plan;
pub mod reconcile;
pub mod records;
pub mod server;
pub mod status;
pub mod store;

#[cfg(test)]
mod agent_tests;
#[cfg(test)]
mod fake;

pub use agent::Agent;
pub use error::AgentError;
