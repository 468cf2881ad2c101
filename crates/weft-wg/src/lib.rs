//! weft-wg: the WireGuard data plane behind one trait.
//!
//! Two backends implement [`Backend`]:
//! - [`Userspace`]: an engine per interface built on `gotatun`'s protocol
//!   core (`Tunn`), carrying packets between a TUN device and a UDP socket on
//!   plain OS threads, in batches and with the kernel's offloads (TUN
//!   super-packets, UDP GSO/GRO) where it has them, with the standard
//!   cross-platform UAPI socket so `wg` works against it. Each interface
//!   has two packet threads (TUN side, UDP side); one timer thread and one
//!   UAPI thread serve every interface of the process, so threads grow by
//!   two per network.
//! - [`Kernel`]: the in-kernel module driven over generic netlink.
//!
//! Configuration follows `wg set` semantics (see [`DeviceConfig`]); reading
//! state back ([`Backend::get`]) always asks the data plane.

mod error;
pub mod kernel;
pub mod uapi;
pub mod userspace;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

pub use error::WgError;
pub use ipnet::IpNet;
pub use kernel::{Kernel, LinkOps};
pub use userspace::{EngineOptions, Userspace};
pub use weft_model::{PrivateKey, PublicKey};

/// A change to a device, applied like `wg set` / a UAPI `set=1`.
///
/// `None` fields are left as they are. Some values carry a "clear" meaning,
/// as in the UAPI: `listen_port: Some(0)` picks a random port, `fwmark:
/// Some(0)` removes the mark, and an all-zero `private_key` removes the key.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct DeviceConfig {
    pub private_key: Option<PrivateKey>,
    pub listen_port: Option<u16>,
    pub fwmark: Option<u32>,
    /// A key being retired after a rotation (`Some(None)`: none any more).
    /// The userspace engine keeps answering handshakes sent to its public
    /// key, and keeps the sessions made under it, until each peer shows
    /// it knows `private_key` (see `docs/networks.md`, "Key rotation").
    /// When `private_key` changes in the same call and this is the
    /// device's key until now, the rotation keeps traffic flowing. The
    /// kernel module has one key: it ignores this.
    pub retiring_key: Option<Option<PrivateKey>>,
    /// Remove every peer not listed in `peers` (listed ones are re-created).
    pub replace_peers: bool,
    pub peers: Vec<PeerConfig>,
}

/// A change to one peer. Unset (`None`/empty) fields are left as they are.
///
/// `preshared_key: Some([0; 32])` removes the key and
/// `persistent_keepalive: Some(0)` turns keepalives off, as in the UAPI.
/// `Debug` does not show the preshared key.
#[derive(Clone, PartialEq)]
pub struct PeerConfig {
    pub public_key: PublicKey,
    /// Remove this peer; all other fields are ignored.
    pub remove: bool,
    /// Only change the peer if it already exists; never create it.
    pub update_only: bool,
    pub preshared_key: Option<[u8; 32]>,
    pub endpoint: Option<SocketAddr>,
    pub persistent_keepalive: Option<u16>,
    /// Drop the peer's current allowed IPs before adding `allowed_ips`.
    pub replace_allowed_ips: bool,
    pub allowed_ips: Vec<IpNet>,
}

impl PeerConfig {
    pub fn new(public_key: PublicKey) -> Self {
        Self {
            public_key,
            remove: false,
            update_only: false,
            preshared_key: None,
            endpoint: None,
            persistent_keepalive: None,
            replace_allowed_ips: false,
            allowed_ips: Vec::new(),
        }
    }
}

impl std::fmt::Debug for PeerConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PeerConfig")
            .field("public_key", &self.public_key)
            .field("remove", &self.remove)
            .field("update_only", &self.update_only)
            .field("preshared_key", &self.preshared_key.map(|_| "<hidden>"))
            .field("endpoint", &self.endpoint)
            .field("persistent_keepalive", &self.persistent_keepalive)
            .field("replace_allowed_ips", &self.replace_allowed_ips)
            .field("allowed_ips", &self.allowed_ips)
            .finish()
    }
}

/// The live state of a device.
#[derive(Clone, Debug, PartialEq)]
pub struct DeviceInfo {
    pub ifname: String,
    pub public_key: Option<PublicKey>,
    pub listen_port: u16,
    pub fwmark: u32,
    pub peers: Vec<PeerInfo>,
    /// Peers that may still know only the retiring key (see
    /// [`DeviceConfig::retiring_key`]): 0 when no key is being retired,
    /// and always 0 on the kernel module.
    pub retiring_peers: usize,
}

/// The live state of one peer.
#[derive(Clone, Debug, PartialEq)]
pub struct PeerInfo {
    pub public_key: PublicKey,
    pub endpoint: Option<SocketAddr>,
    pub allowed_ips: Vec<IpNet>,
    /// Wall-clock time of the most recent completed handshake.
    pub last_handshake: Option<SystemTime>,
    pub rx_bytes: u64,
    pub tx_bytes: u64,
    pub persistent_keepalive: Option<u16>,
}

impl PeerInfo {
    /// A peer known only by its key: no endpoint, routes, handshake or
    /// traffic yet (what a parser starts from before it reads the rest).
    pub fn new(public_key: PublicKey) -> Self {
        Self {
            public_key,
            endpoint: None,
            allowed_ips: Vec::new(),
            last_handshake: None,
            rx_bytes: 0,
            tx_bytes: 0,
            persistent_keepalive: None,
        }
    }
}

impl DeviceInfo {
    /// The peer with that public key, if any.
    pub fn peer(&self, public_key: &PublicKey) -> Option<&PeerInfo> {
        self.peers.iter().find(|p| &p.public_key == public_key)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BackendKind {
    Kernel,
    Userspace,
}

/// A WireGuard implementation that can create, configure, read and delete
/// interfaces.
pub trait Backend: Send + Sync {
    fn kind(&self) -> BackendKind;
    /// Create the interface (link exists afterwards, down, no address). Error if it already exists.
    fn create(&self, ifname: &str) -> Result<(), WgError>;
    fn exists(&self, ifname: &str) -> bool;
    /// Apply like `wg set`/UAPI set (replace_peers, per-peer remove/update_only/replace_allowed_ips).
    fn configure(&self, ifname: &str, config: &DeviceConfig) -> Result<(), WgError>;
    /// Live state from the data plane (handshakes, counters), never cached config.
    fn get(&self, ifname: &str) -> Result<DeviceInfo, WgError>;
    /// Remove the interface; Ok if it does not exist.
    fn delete(&self, ifname: &str) -> Result<(), WgError>;
    /// Interfaces this backend currently has (userspace: its engines).
    fn list(&self) -> Vec<String>;
}

/// Where the UAPI socket of a userspace interface lives, as `wg` expects it
/// (`/var/run/wireguard/<ifname>.sock` with the default directory).
pub fn uapi_socket_path(uapi_dir: &Path, ifname: &str) -> PathBuf {
    uapi_dir.join(format!("{ifname}.sock"))
}

/// The default directory of UAPI sockets, the one `wg` looks in.
pub const DEFAULT_UAPI_DIR: &str = "/var/run/wireguard";
