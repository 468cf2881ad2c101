//! weft's model: the pure vocabulary every other crate shares. Nothing here
//! touches the kernel, the disk or the clock.
//!
//! - [`names`]: validation of the names users give: network names, workload
//!   ids and names, DNS domains and interface names (and checked newtypes).
//! - [`naming`]: the names weft gives things: interfaces, link aliases, host
//!   veths, and the host's address in its block.
//! - [`addressing`]: subnets, host blocks and the addresses handed out inside
//!   a block.
//! - [`blocks`]: carving a network's subnet into host blocks (the lowest
//!   free one, how many fit) and what a spoke routes through its hub.
//! - [`network`]: network modes and their defaults.
//! - [`peer`]: a peer's endpoint and allowed IPs.
//! - [`health`]: a peer's health from its handshake age and probes.
//! - [`key`]: WireGuard keys.
//! - [`redact`]: making text safe to leave the host (secrets and key
//!   material cut by their shape), for streamed log records.
//! - [`vm`]: a VM's NICs as its hypervisor (Cloud Hypervisor, Firecracker,
//!   QEMU) and its guest (`ip=`, cloud-init) are told them.
//! - [`error`]: what invalid input is reported as.
//!
//! What the agent does with these (the plans it turns records into) lives in
//! `weft-agent`; the mesh file's planning lives in `weft-mesh`.

pub mod addressing;
pub mod backoff;
pub mod blocks;
pub mod error;
pub mod health;
pub mod key;
pub mod names;
pub mod naming;
pub mod network;
pub mod peer;
pub mod redact;
pub mod vm;

pub use error::ModelError;
pub use health::Health;
pub use key::{KeyError, PrivateKey, PublicKey};
pub use network::Mode;
