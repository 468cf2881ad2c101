//! weft's optional control plane (`weft control serve`): tenants with API
//! keys, enrollment tokens, hosts and the networks they share, kept behind
//! one [`store::Store`] trait (SQLite for one replica, etcd for several);
//! what replicas share besides the state (the CA, who is serving, who runs
//! the background jobs) behind one [`deployment::Deployment`] trait; a CA
//! that signs agents' CSRs; the tenants' REST API (and `TenantControl`,
//! the same over gRPC); the agents' gRPC port, which streams each host its
//! desired state.
//!
//! The control plane never sees a private key: agents send CSRs, and
//! secrets (API keys, tokens) are stored as SHA-256 hashes.
//!
//! Public are only the modules other crates use (the `weft` binary, the
//! agent's tests): serving, the store and its configuration, the CA, the
//! admin commands, the REST router and the model.

pub mod admin;
mod agents;
pub mod api;
pub mod ca;
pub mod deployment;
mod jobs;
pub mod model;
mod secret;
pub mod serve;
pub mod store;
mod tls;

#[cfg(test)]
mod desired;
#[cfg(test)]
mod test_plane;
