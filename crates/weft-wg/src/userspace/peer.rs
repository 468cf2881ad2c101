//! One peer of a userspace engine: its configuration and, once the device
//! has a private key, the `gotatun` tunnel (`Tunn`) that holds handshake,
//! session and timer state.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Instant, SystemTime};

use gotatun::noise::index_table::IndexTable;
use gotatun::noise::rate_limiter::RateLimiter;
use gotatun::noise::{TimerParams, Tunn};
use gotatun::x25519;
use weft_model::{PrivateKey, PublicKey};

/// Handshake initiations accepted per source IP per second before cookies
/// are demanded (gotatun's device uses the same).
const HANDSHAKE_RATE_LIMIT: u64 = 100;

/// The device's key pair and the handshake rate limiter tied to it.
pub(crate) struct DeviceKeys {
    pub private: PrivateKey,
    pub secret: x25519::StaticSecret,
    pub public: x25519::PublicKey,
    pub rate_limiter: Arc<RateLimiter>,
}

impl DeviceKeys {
    pub fn new(private: &PrivateKey) -> Self {
        let secret = x25519::StaticSecret::from(*private.as_bytes());
        let public = x25519::PublicKey::from(&secret);
        let rate_limiter = Arc::new(RateLimiter::new(&public, HANDSHAKE_RATE_LIMIT));
        Self {
            private: private.clone(),
            secret,
            public,
            rate_limiter,
        }
    }

    pub fn public_key(&self) -> PublicKey {
        PublicKey(self.public.to_bytes())
    }
}

pub(crate) struct Peer {
    /// Creation order, for stable listings.
    pub id: u64,
    pub public_key: PublicKey,
    state: Mutex<PeerState>,
}

/// Which of the device's keys a tunnel (and a session index) belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Slot {
    /// The device's private key.
    Current,
    /// The key being retired after a rotation (see `State::retiring`).
    Retiring,
}

pub(crate) struct PeerState {
    /// `None` while the device has no private key.
    pub tunn: Option<Tunn>,
    /// While the device retires a key: the tunnel under the old key, with
    /// the sessions made before the rotation, answering handshakes sent
    /// to the old public key. Dropped once the peer shows it knows the new
    /// key (a handshake or data under it) or the device forgets the key.
    pub retiring: Option<Tunn>,
    /// Bytes counted by tunnels since dropped (rx, tx), so that the
    /// counters never go back when a retiring tunnel goes.
    pub carried: (u64, u64),
    pub endpoint: Option<SocketAddr>,
    pub preshared_key: Option<[u8; 32]>,
    pub keepalive: Option<u16>,
    /// Kept here because the tunnel forgets it when its sessions expire.
    pub last_handshake: Option<SystemTime>,
    /// When the timer thread last restarted handshakes of an expired tunnel.
    pub expired_retry: Option<Instant>,
    /// Bytes of received data packets that `gotatun` leaves out of its
    /// count and the kernel counts: it adds a data packet's decrypted
    /// length, the kernel the whole datagram (header, padding, tag). Kept
    /// so `wg show`'s transfer means the same on both backends.
    pub rx_uncounted: u64,
}

impl Peer {
    pub fn new(id: u64, public_key: PublicKey) -> Arc<Self> {
        Arc::new(Self {
            id,
            public_key,
            state: Mutex::new(PeerState {
                tunn: None,
                retiring: None,
                carried: (0, 0),
                endpoint: None,
                preshared_key: None,
                keepalive: None,
                last_handshake: None,
                expired_retry: None,
                rx_uncounted: 0,
            }),
        })
    }

    pub fn lock(&self) -> MutexGuard<'_, PeerState> {
        // A panic while holding the lock leaves plain data behind; go on.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl PeerState {
    /// Give the peer a tunnel for `keys`, keeping its counters if it had one.
    pub fn set_keys(
        &mut self,
        peer_key: &PublicKey,
        keys: &DeviceKeys,
        index_table: &IndexTable,
        timers: &TimerParams,
    ) {
        match &mut self.tunn {
            Some(tunn) => {
                tunn.set_static_private(
                    keys.secret.clone(),
                    keys.public,
                    Arc::clone(&keys.rate_limiter),
                );
            }
            None => {
                self.tunn = Some(self.new_tunn(peer_key, keys, index_table, timers));
                // A new tunnel counts from zero.
                self.rx_uncounted = 0;
                self.carried = (0, 0);
            }
        }
    }

    /// A fresh tunnel to this peer under `keys`.
    pub fn new_tunn(
        &self,
        peer_key: &PublicKey,
        keys: &DeviceKeys,
        index_table: &IndexTable,
        timers: &TimerParams,
    ) -> Tunn {
        let mut tunn = Tunn::new(
            keys.secret.clone(),
            x25519::PublicKey::from(peer_key.0),
            self.preshared_key,
            self.keepalive,
            index_table.clone(),
            Arc::clone(&keys.rate_limiter),
        );
        if *timers != TimerParams::default() {
            tunn.dangerously_set_timer_params(timers.clone());
        }
        tunn
    }

    /// Rotation: the tunnel under the old key becomes the retiring one,
    /// sessions and all (they do not depend on the static key until the
    /// next handshake), and a fresh tunnel under `keys` takes its place.
    pub fn rotate(
        &mut self,
        peer_key: &PublicKey,
        keys: &DeviceKeys,
        index_table: &IndexTable,
        timers: &TimerParams,
    ) {
        let fresh = self.new_tunn(peer_key, keys, index_table, timers);
        self.drop_retiring();
        self.retiring = self.tunn.replace(fresh);
    }

    /// Forget the tunnel under the retiring key, keeping what it counted.
    pub fn drop_retiring(&mut self) {
        if let Some(old) = self.retiring.take() {
            let (_, tx, rx, _, _) = old.stats();
            self.carried.0 += rx as u64;
            self.carried.1 += tx as u64;
        }
    }

    pub fn set_preshared_key(&mut self, psk: Option<[u8; 32]>) {
        self.preshared_key = psk;
        for tunn in self.tunn.iter_mut().chain(self.retiring.iter_mut()) {
            tunn.set_preshared_key(psk);
        }
    }

    pub fn set_keepalive(&mut self, seconds: Option<u16>) {
        self.keepalive = seconds;
        for tunn in self.tunn.iter_mut().chain(self.retiring.iter_mut()) {
            tunn.set_persistent_keepalive(seconds);
        }
    }

    /// Turn the tunnel's "time since the last handshake" into wall-clock
    /// time while the tunnel still knows it.
    pub fn refresh_last_handshake(&mut self, now: SystemTime) {
        let since = [&self.tunn, &self.retiring]
            .into_iter()
            .filter_map(|t| t.as_ref().and_then(Tunn::time_since_last_handshake))
            .min();
        if let Some(since) = since {
            self.last_handshake = now.checked_sub(since);
        }
    }

    /// (rx, tx) bytes as the kernel counts them: every datagram of the
    /// peer's that was accepted or sent, whole, handshakes included.
    pub fn counters(&self) -> (u64, u64) {
        let (mut rx, mut tx) = self.carried;
        if self.tunn.is_some() {
            rx += self.rx_uncounted;
        }
        for tunn in self.tunn.iter().chain(self.retiring.iter()) {
            let (_, sent, received, _, _) = tunn.stats();
            rx += received as u64;
            tx += sent as u64;
        }
        (rx, tx)
    }
}
