//! The cross-platform WireGuard UAPI: [`proto`] reads and writes its text
//! without I/O, [`server`] serves it on a Unix socket for one interface.

mod hub;
pub mod proto;
pub mod server;

pub use proto::{DeviceDump, PeerDump, ProtoError, Request};
pub use server::{UapiHandler, UapiServer};
