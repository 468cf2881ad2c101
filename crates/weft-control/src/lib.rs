//! weft's optional control plane (`weft control serve`): tenants with API
//! keys, enrollment tokens, hosts and the networks they share, kept behind
//! one [`store::Store`] trait (SQLite here, etcd next).
//!
//! The control plane never sees a private key: agents send CSRs, and
//! secrets (API keys, tokens) are stored as SHA-256 hashes.

pub mod ca;
pub mod model;
pub mod secret;
pub mod store;
pub mod tls;
