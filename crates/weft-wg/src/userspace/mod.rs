//! The userspace backend: one [`Engine`] per interface, each on a TUN device
//! and a UDP socket, with a UAPI socket for `wg`.

pub mod allowed_ips;
mod datapath;
mod device;
pub mod io;
mod keys;
pub mod offload;
mod peer;
mod sides;
mod timers;
pub mod tun;
pub mod udp;

#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

pub use device::Engine;
pub use io::OffloadCounters;

use crate::error::check_ifname;
use crate::{Backend, BackendKind, DeviceConfig, DeviceInfo, WgError};

/// Tuning of userspace engines. The defaults are WireGuard's timers and
/// the fastest data path the kernel supports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EngineOptions {
    /// Use TUN offloads (super-packets both ways) and UDP GSO/GRO where the
    /// kernel has them. Off: one packet per read and write. WireGuard on
    /// the wire is the same either way.
    pub offloads: bool,
    /// Start a new handshake when sending on a session this old (WireGuard:
    /// 120 s). Shorter is for tests that need rekeys to happen.
    pub rekey_after_time: Duration,
    /// After handling packets, a thread keeps looking for more for this
    /// long (yielding the CPU to anything else that wants it) before it
    /// sleeps. Replies usually come back within it, so they are handled
    /// without a wake-up, which on VMs costs tens of microseconds. Zero
    /// turns it off.
    pub busy_poll: Duration,
}

impl Default for EngineOptions {
    fn default() -> Self {
        Self {
            offloads: true,
            rekey_after_time: Duration::from_secs(120),
            busy_poll: Duration::from_micros(50),
        }
    }
}

/// Userspace WireGuard: engines created in the network namespace of the
/// thread that calls [`Backend::create`].
pub struct Userspace {
    uapi_dir: PathBuf,
    options: EngineOptions,
    engines: Mutex<HashMap<String, Arc<Engine>>>,
}

impl Userspace {
    /// `uapi_dir` is where UAPI sockets go (`wg` looks in
    /// [`crate::DEFAULT_UAPI_DIR`]); it is created if missing.
    pub fn new(uapi_dir: impl Into<PathBuf>) -> Self {
        Self::with_options(uapi_dir, EngineOptions::default())
    }

    pub fn with_options(uapi_dir: impl Into<PathBuf>, options: EngineOptions) -> Self {
        Self {
            uapi_dir: uapi_dir.into(),
            options,
            engines: Mutex::new(HashMap::new()),
        }
    }

    pub fn uapi_dir(&self) -> &Path {
        &self.uapi_dir
    }

    /// The engine of `ifname`, if this backend runs one.
    pub fn engine(&self, ifname: &str) -> Option<Arc<Engine>> {
        self.engines().get(ifname).cloned()
    }

    fn engines(&self) -> MutexGuard<'_, HashMap<String, Arc<Engine>>> {
        self.engines.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn existing(&self, ifname: &str) -> Result<Arc<Engine>, WgError> {
        self.engine(ifname).ok_or_else(|| WgError::NotFound {
            ifname: ifname.to_owned(),
        })
    }
}

impl Default for Userspace {
    /// UAPI sockets where `wg` looks for them.
    fn default() -> Self {
        Self::new(crate::DEFAULT_UAPI_DIR)
    }
}

/// Whether a link of that name exists in the calling thread's namespace.
fn link_exists(ifname: &str) -> bool {
    nix::net::if_::if_nametoindex(ifname).is_ok()
}

impl Backend for Userspace {
    fn kind(&self) -> BackendKind {
        BackendKind::Userspace
    }

    fn create(&self, ifname: &str) -> Result<(), WgError> {
        check_ifname(ifname)?;
        let mut engines = self.engines();
        if engines.contains_key(ifname) || link_exists(ifname) {
            return Err(WgError::AlreadyExists {
                ifname: ifname.to_owned(),
            });
        }
        let tun = if self.options.offloads {
            tun::Tun::create(ifname)
        } else {
            tun::Tun::create_without_offloads(ifname)
        }
        .map_err(|source| WgError::Tun {
            ifname: ifname.to_owned(),
            source,
        })?;
        let binder = udp::HostUdp::for_current_netns()
            .map(|binder| binder.with_offloads(self.options.offloads))
            .map_err(|source| WgError::Bind {
                ifname: ifname.to_owned(),
                port: 0,
                source,
            })?;
        let engine =
            Engine::start_with_options(ifname, Arc::new(tun), Box::new(binder), &self.options)?;
        engine.serve_uapi(&self.uapi_dir)?;
        engines.insert(ifname.to_owned(), Arc::new(engine));
        Ok(())
    }

    fn exists(&self, ifname: &str) -> bool {
        self.engines().contains_key(ifname)
    }

    fn configure(&self, ifname: &str, config: &DeviceConfig) -> Result<(), WgError> {
        self.existing(ifname)?.configure(config)
    }

    fn get(&self, ifname: &str) -> Result<DeviceInfo, WgError> {
        Ok(self.existing(ifname)?.info())
    }

    fn delete(&self, ifname: &str) -> Result<(), WgError> {
        let engine = self.engines().remove(ifname);
        if let Some(engine) = engine {
            // Stops threads, removes the UAPI socket; the TUN goes with its fd.
            engine.stop();
        }
        Ok(())
    }

    fn list(&self) -> Vec<String> {
        let mut names: Vec<String> = self.engines().keys().cloned().collect();
        names.sort();
        names
    }
}
