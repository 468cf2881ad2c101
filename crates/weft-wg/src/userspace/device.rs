//! The userspace engine of one interface: its state, configuration and
//! threads. Packet handling is in [`super::datapath`], timers in
//! [`super::timers`].
//!
//! Lock order: `Shared::state` → a peer's lock → `State::by_index`. The data
//! path takes `state` for reading; only configuration writes it.

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU16, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime};

use gotatun::noise::TimerParams;
use gotatun::noise::index_table::IndexTable;
use gotatun::packet::WgKind;
use ipnet::IpNet;
use weft_model::PublicKey;

use super::EngineOptions;
use super::allowed_ips::AllowedIps;
use super::io::{OffloadCounters, TunIo, UdpBinder, UdpIo};
use super::peer::{DeviceKeys, Peer, Slot};
use super::sides::{Side, Sides};
use crate::uapi::{DeviceDump, PeerDump, UapiHandler, UapiServer};
use crate::{DeviceConfig, DeviceInfo, PeerConfig, PeerInfo, WgError};

/// Assumed until the TUN reports its MTU (WireGuard's usual default).
const DEFAULT_MTU: u16 = 1420;

/// A running userspace WireGuard interface.
pub struct Engine {
    shared: Arc<Shared>,
    threads: Mutex<Vec<JoinHandle<()>>>,
    uapi: Mutex<Option<UapiServer>>,
}

pub(crate) struct Shared {
    pub name: String,
    pub tun: Arc<dyn TunIo>,
    binder: Box<dyn UdpBinder>,
    udp: RwLock<Arc<dyn UdpIo>>,
    state: RwLock<State>,
    pub mtu: AtomicU16,
    /// See [`EngineOptions::busy_poll`].
    pub busy_poll: Duration,
    /// The buffers of the two packet paths, each behind its lock.
    pub sides: Sides,
    stopping: AtomicBool,
    /// Wakes sleeping packet loops early when stopping.
    sleep: (Mutex<()>, Condvar),
    /// Held by the timer thread while it ticks this engine.
    pub(super) ticking: Mutex<()>,
}

pub(crate) struct State {
    pub keys: Option<DeviceKeys>,
    /// The key before the last rotation, while some peer may know only
    /// it: handshakes whose mac1 fails under `keys` are tried under it
    /// and go to the peer's retiring tunnel (see [`Peer`]'s `retiring`).
    pub retiring: Option<DeviceKeys>,
    pub listen_port: u16,
    pub fwmark: u32,
    pub peers: HashMap<PublicKey, Arc<Peer>>,
    /// Allowed IPs: where outgoing packets go, and the source check of
    /// incoming ones.
    pub routes: AllowedIps<Arc<Peer>>,
    /// Our session indices (sent in handshakes) → peer; data packets and
    /// handshake responses name the receiver by such an index; the slot
    /// says which of the peer's tunnels made it.
    pub by_index: Mutex<HashMap<u32, (Arc<Peer>, Slot)>>,
    pub index_table: IndexTable,
    /// Given to every peer's tunnel.
    pub timer_params: TimerParams,
    next_peer_id: u64,
}

impl Engine {
    /// Start an engine on the given I/O: binds a UDP socket (random port)
    /// and starts the TUN reader, UDP reader and timer threads.
    pub fn start(
        name: &str,
        tun: Arc<dyn TunIo>,
        binder: Box<dyn UdpBinder>,
    ) -> Result<Engine, WgError> {
        Self::start_with_options(name, tun, binder, &EngineOptions::default())
    }

    /// [`Engine::start`] with other timers or busy polling (the I/O's
    /// offloads are up to whoever makes the I/O).
    pub fn start_with_options(
        name: &str,
        tun: Arc<dyn TunIo>,
        binder: Box<dyn UdpBinder>,
        options: &EngineOptions,
    ) -> Result<Engine, WgError> {
        let rekey = options.rekey_after_time;
        let timer_params = TimerParams {
            rekey_after_time: rekey..=rekey,
            ..TimerParams::default()
        };
        let udp = binder.bind(0, 0).map_err(|source| WgError::Bind {
            ifname: name.to_owned(),
            port: 0,
            source,
        })?;
        let mtu = tun.mtu().unwrap_or(DEFAULT_MTU);
        let shared = Arc::new(Shared {
            name: name.to_owned(),
            tun,
            binder,
            state: RwLock::new(State {
                keys: None,
                retiring: None,
                listen_port: udp.local_port(),
                fwmark: 0,
                peers: HashMap::new(),
                routes: AllowedIps::default(),
                by_index: Mutex::new(HashMap::new()),
                index_table: IndexTable::from_os_rng(),
                timer_params,
                next_peer_id: 0,
            }),
            udp: RwLock::new(udp),
            mtu: AtomicU16::new(mtu),
            busy_poll: options.busy_poll,
            sides: Sides::new(),
            stopping: AtomicBool::new(false),
            sleep: (Mutex::new(()), Condvar::new()),
            ticking: Mutex::new(()),
        });
        let engine = Engine {
            shared,
            threads: Mutex::new(Vec::new()),
            uapi: Mutex::new(None),
        };
        // The packet paths each have a thread (blocking reads in batches are
        // the fast path); timers and the UAPI have one for the process.
        let thread_error = |source| WgError::Thread {
            ifname: name.to_owned(),
            source,
        };
        for side in [Side::Tun, Side::Udp] {
            let role = match side {
                Side::Tun => "tun",
                Side::Udp => "udp",
            };
            let shared = Arc::clone(&engine.shared);
            // Threads inherit the network namespace of the thread calling
            // `start`, which is the namespace the TUN was created in.
            let spawned = std::thread::Builder::new()
                .name(format!("wg-{role}-{name}"))
                .spawn(move || shared.side_loop(side));
            match spawned {
                Ok(handle) => engine
                    .threads
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .push(handle),
                Err(source) => {
                    engine.stop();
                    return Err(thread_error(source));
                }
            }
        }
        if let Err(source) = super::timers::tick_engine(&engine.shared) {
            engine.stop();
            return Err(thread_error(source));
        }
        tracing::info!(
            ifname = name,
            listen_port = engine.listen_port(),
            "userspace engine started"
        );
        Ok(engine)
    }

    /// Serve the UAPI for this engine on `<uapi_dir>/<name>.sock`.
    pub fn serve_uapi(&self, uapi_dir: &Path) -> Result<(), WgError> {
        let handler: Arc<dyn UapiHandler> = self.shared.clone();
        let server = UapiServer::start(uapi_dir, &self.shared.name, Arc::downgrade(&handler))?;
        *self.uapi.lock().unwrap_or_else(PoisonError::into_inner) = Some(server);
        Ok(())
    }

    pub fn name(&self) -> &str {
        &self.shared.name
    }

    pub fn listen_port(&self) -> u16 {
        self.shared.read().listen_port
    }

    pub fn configure(&self, config: &DeviceConfig) -> Result<(), WgError> {
        self.shared.configure(config)
    }

    pub fn info(&self) -> DeviceInfo {
        let mut info = self.shared.dump().into_info(&self.shared.name);
        info.retiring_peers = self.shared.retiring_peers();
        info
    }

    /// How often the fast path was taken (by the current UDP socket).
    pub fn offload_counters(&self) -> OffloadCounters {
        self.shared.tun.counters() + self.shared.udp().counters()
    }

    /// Stop serving the UAPI, stop the threads and release the I/O. Idempotent.
    pub fn stop(&self) {
        if let Some(mut server) = self
            .uapi
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
        {
            server.stop();
        }
        self.shared.stopping.store(true, Ordering::SeqCst);
        // A tick under way finishes before the I/O goes; none starts after.
        drop(
            self.shared
                .ticking
                .lock()
                .unwrap_or_else(PoisonError::into_inner),
        );
        self.shared.tun.shutdown();
        self.shared.udp().shutdown();
        {
            let _guard = self
                .shared
                .sleep
                .0
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            self.shared.sleep.1.notify_all();
        }
        let threads =
            std::mem::take(&mut *self.threads.lock().unwrap_or_else(PoisonError::into_inner));
        let stopped = !threads.is_empty();
        for thread in threads {
            if thread.join().is_err() {
                tracing::error!(ifname = %self.shared.name, "engine thread panicked");
            }
        }
        if stopped {
            tracing::info!(ifname = %self.shared.name, "userspace engine stopped");
        }
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        self.stop();
    }
}

impl Shared {
    pub fn read(&self) -> RwLockReadGuard<'_, State> {
        self.state.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> RwLockWriteGuard<'_, State> {
        self.state.write().unwrap_or_else(PoisonError::into_inner)
    }

    pub fn udp(&self) -> Arc<dyn UdpIo> {
        Arc::clone(&self.udp.read().unwrap_or_else(PoisonError::into_inner))
    }

    pub fn stopping(&self) -> bool {
        self.stopping.load(Ordering::Relaxed)
    }

    /// Sleep up to `duration`; `false` if the engine is stopping.
    pub fn sleep(&self, duration: Duration) -> bool {
        let guard = self.sleep.0.lock().unwrap_or_else(PoisonError::into_inner);
        if self.stopping() {
            return false;
        }
        drop(self.sleep.1.wait_timeout(guard, duration));
        !self.stopping()
    }

    /// Apply a configuration. Fallible steps (binding, fwmark) come first,
    /// so an error leaves the device unchanged.
    pub fn configure(&self, config: &DeviceConfig) -> Result<(), WgError> {
        let mut state = self.write();
        let fwmark = config.fwmark.unwrap_or(state.fwmark);
        let rebind = config
            .listen_port
            .filter(|port| *port == 0 || *port != state.listen_port);
        let new_socket = match rebind {
            Some(port) => Some(
                self.binder
                    .bind(port, fwmark)
                    .map_err(|source| WgError::Bind {
                        ifname: self.name.clone(),
                        port,
                        source,
                    })?,
            ),
            None => None,
        };
        if new_socket.is_none() && fwmark != state.fwmark {
            self.udp()
                .set_fwmark(fwmark)
                .map_err(|source| WgError::Fwmark {
                    ifname: self.name.clone(),
                    fwmark,
                    source,
                })?;
        }
        state.fwmark = fwmark;
        if let Some(socket) = new_socket {
            state.listen_port = socket.local_port();
            let old = std::mem::replace(
                &mut *self.udp.write().unwrap_or_else(PoisonError::into_inner),
                Arc::clone(&socket),
            );
            // Wakes the UDP reader, which then picks up the new socket.
            old.shutdown();
            if self.stopping.load(Ordering::SeqCst) {
                // `stop` may have shut the old socket just before the swap.
                socket.shutdown();
            }
            tracing::info!(ifname = %self.name, listen_port = state.listen_port, "listening");
        }
        if let Some(key) = &config.private_key {
            state.set_private_key(key, config.retiring_key.as_ref());
        }
        if let Some(retiring) = &config.retiring_key {
            state.set_retiring_key(retiring.as_ref());
        }
        if config.replace_peers {
            state.peers.clear();
            state.routes.clear();
            state
                .by_index
                .get_mut()
                .unwrap_or_else(PoisonError::into_inner)
                .clear();
        }
        for peer in &config.peers {
            state.apply_peer(&self.name, peer);
        }
        Ok(())
    }

    /// Peers that still have a tunnel under the retiring key.
    pub fn retiring_peers(&self) -> usize {
        let state = self.read();
        if state.retiring.is_none() {
            return 0;
        }
        state
            .peers
            .values()
            .filter(|peer| peer.lock().retiring.is_some())
            .count()
    }

    /// Live state, including the secrets the UAPI reports.
    pub fn dump(&self) -> DeviceDump {
        let state = self.read();
        let now = SystemTime::now();
        let mut allowed: HashMap<u64, Vec<IpNet>> = HashMap::new();
        for (net, peer) in state.routes.entries() {
            allowed.entry(peer.id).or_default().push(net);
        }
        let mut peers: Vec<&Arc<Peer>> = state.peers.values().collect();
        peers.sort_by_key(|peer| peer.id);
        let peers = peers
            .into_iter()
            .map(|peer| {
                let mut ps = peer.lock();
                ps.refresh_last_handshake(now);
                let (rx_bytes, tx_bytes) = ps.counters();
                PeerDump {
                    info: PeerInfo {
                        public_key: peer.public_key,
                        endpoint: ps.endpoint,
                        allowed_ips: allowed.remove(&peer.id).unwrap_or_default(),
                        last_handshake: ps.last_handshake,
                        rx_bytes,
                        tx_bytes,
                        persistent_keepalive: ps.keepalive,
                    },
                    preshared_key: ps.preshared_key,
                }
            })
            .collect();
        DeviceDump {
            private_key: state.keys.as_ref().map(|k| k.private.clone()),
            listen_port: state.listen_port,
            fwmark: state.fwmark,
            peers,
        }
    }
}

impl UapiHandler for Shared {
    fn uapi_get(&self) -> Result<DeviceDump, WgError> {
        Ok(self.dump())
    }

    fn uapi_set(&self, config: &DeviceConfig) -> Result<(), WgError> {
        self.configure(config)
    }
}

impl State {
    /// Remember which peer a handshake we send belongs to, so that the
    /// answer (addressed to its sender index) finds it.
    pub fn register_index(&self, packet: &WgKind, peer: &Arc<Peer>, slot: Slot) {
        let index = match packet {
            WgKind::HandshakeInit(p) => p.sender_idx.get(),
            WgKind::HandshakeResp(p) => p.sender_idx.get(),
            WgKind::CookieReply(_) | WgKind::Data(_) => return,
        };
        self.by_index
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(index, (Arc::clone(peer), slot));
    }

    pub fn peer_by_index(&self, index: u32) -> Option<(Arc<Peer>, Slot)> {
        self.by_index
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&index)
            .cloned()
    }

    pub(super) fn remove_peer(&mut self, public_key: &PublicKey) {
        let Some(peer) = self.peers.remove(public_key) else {
            return;
        };
        self.routes.retain(|_, owner| !Arc::ptr_eq(owner, &peer));
        self.by_index
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner)
            .retain(|_, (p, _)| !Arc::ptr_eq(p, &peer));
        tracing::info!(peer = %public_key, "peer removed");
    }

    fn apply_peer(&mut self, ifname: &str, config: &PeerConfig) {
        let key = config.public_key;
        if self.keys.as_ref().is_some_and(|k| k.public_key() == key) {
            tracing::debug!(ifname, peer = %key, "ignoring a peer with our own public key");
            return;
        }
        if config.remove {
            self.remove_peer(&key);
            return;
        }
        let peer = match self.peers.get(&key) {
            Some(peer) => Arc::clone(peer),
            None if config.update_only => return,
            None => {
                let peer = Peer::new(self.next_peer_id, key);
                self.next_peer_id += 1;
                self.peers.insert(key, Arc::clone(&peer));
                tracing::info!(ifname, peer = %key, "peer added");
                peer
            }
        };
        {
            let mut ps = peer.lock();
            if let Some(psk) = config.preshared_key {
                ps.set_preshared_key((psk != [0; 32]).then_some(psk));
            }
            if let Some(endpoint) = config.endpoint {
                ps.endpoint = Some(endpoint);
            }
            if let Some(keepalive) = config.persistent_keepalive {
                ps.set_keepalive((keepalive != 0).then_some(keepalive));
            }
            if let Some(keys) = &self.keys
                && ps.tunn.is_none()
            {
                ps.set_keys(&key, keys, &self.index_table, &self.timer_params);
                // A peer added during a rotation may know only the old key.
                if let Some(old) = &self.retiring {
                    ps.retiring =
                        Some(ps.new_tunn(&key, old, &self.index_table, &self.timer_params));
                }
            }
        }
        if config.replace_allowed_ips {
            self.routes.retain(|_, owner| !Arc::ptr_eq(owner, &peer));
        }
        for net in &config.allowed_ips {
            self.routes.insert(net.trunc(), Arc::clone(&peer));
        }
    }
}
