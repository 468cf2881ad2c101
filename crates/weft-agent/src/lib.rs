//! The weft agent: the per-host daemon that owns weft's kernel state.
//!
//! - `store/` keeps what users asked for (SQLite, crash-safe), as the
//!   records of `records.rs`;
//! - `agent.rs` holds the agent; its operations live one file per entity
//!   (`networks.rs`, `peers.rs`, `attachments.rs`, `dns_names.rs`,
//!   `status.rs`; `vxlan.rs` for VXLAN networks' settings and their
//!   keyless peers, the VTEPs; `attachments/vms.rs` for a VM's NICs:
//!   TAPs, MACs, DHCP leases): validate against the state, record, apply, undo the record
//!   when the kernel refuses; `plan.rs` turns records into what the
//!   data plane takes; `reconcile.rs` makes the kernel match the store at
//!   start-up, and `repair.rs` keeps it so: a short periodic pass that
//!   repairs only what `drift.rs` finds differs;
//! - `dataplane/` is the seam to the kernel (the `Dataplane` trait and the
//!   plans, host views and services it takes, depending on nothing else of
//!   the agent), `linux/` its real side (with `linux/services.rs`, each
//!   network's DNS responder and records endpoint);
//! - `grpc/` parses requests into typed specs and answers them, `server.rs`
//!   runs it all on a Unix socket (with `metrics.rs` beside it).
//!
//! The binary needs only [`run`] and its configuration.

mod agent;
mod attachments;
pub mod control;
mod dataplane;
mod dns_names;
mod drift;
mod error;
mod grpc;
mod health;
pub mod hypervisors;
mod keys;
mod linux;
mod metrics;
mod networks;
mod peers;
mod plan;
mod probe;
mod reconcile;
mod records;
mod repair;
pub mod sd_notify;
mod server;
mod status;
mod store;
mod vxlan;

#[cfg(test)]
mod fake;

pub use health::HealthSettings;
pub use linux::WireguardMode;
pub use server::{
    AgentConfig, DEFAULT_RECONCILE_INTERVAL, DEFAULT_SOCKET, DEFAULT_STATE_DIR,
    RECONCILE_INTERVAL_BOUNDS, ServerError, run,
};
