//! The weft agent: the per-host daemon that owns weft's kernel state.
//!
//! - [`store`] keeps what users asked for (SQLite, crash-safe);
//! - [`agent`] validates, records and applies each operation, and
//!   reconciles the kernel with the store at start-up;
//! - [`dataplane`] is the seam to the kernel, [`linux`] its real side;
//! - [`service`] and [`server`] expose it all over gRPC on a Unix socket.

pub mod agent;
pub mod dataplane;
pub mod error;
#[cfg(test)]
mod fake;
pub mod store;

#[cfg(test)]
mod agent_tests;

pub use agent::Agent;
pub use error::AgentError;
pub mod linux;
pub mod server;
pub mod service;
