//! weft's optional control plane (`weft control serve`): tenants with API
//! keys, enrollment tokens, hosts and the networks they share, kept behind
//! one [`store::Store`] trait (SQLite here, etcd next); a CA that signs
//! agents' CSRs; the tenants' REST API.
//!
//! The control plane never sees a private key: agents send CSRs, and
//! secrets (API keys, tokens) are stored as SHA-256 hashes.

pub mod admin;
pub mod agents;
pub mod api;
pub mod ca;
pub mod deployment;
pub mod desired;
pub mod jobs;
pub mod model;
pub mod secret;
pub mod serve;
pub mod store;
pub mod tls;

#[cfg(test)]
mod test_plane;
