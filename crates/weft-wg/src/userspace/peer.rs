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

pub(crate) struct PeerState {
    /// `None` while the device has no private key.
    pub tunn: Option<Tunn>,
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
                self.tunn = Some(tunn);
                // A new tunnel counts from zero.
                self.rx_uncounted = 0;
            }
        }
    }

    pub fn set_preshared_key(&mut self, psk: Option<[u8; 32]>) {
        self.preshared_key = psk;
        if let Some(tunn) = &mut self.tunn {
            tunn.set_preshared_key(psk);
        }
    }

    pub fn set_keepalive(&mut self, seconds: Option<u16>) {
        self.keepalive = seconds;
        if let Some(tunn) = &mut self.tunn {
            tunn.set_persistent_keepalive(seconds);
        }
    }

    /// Turn the tunnel's "time since the last handshake" into wall-clock
    /// time while the tunnel still knows it.
    pub fn refresh_last_handshake(&mut self, now: SystemTime) {
        if let Some(since) = self.tunn.as_ref().and_then(Tunn::time_since_last_handshake) {
            self.last_handshake = now.checked_sub(since);
        }
    }

    /// (rx, tx) bytes as the kernel counts them: every datagram of the
    /// peer's that was accepted or sent, whole, handshakes included.
    pub fn counters(&self) -> (u64, u64) {
        self.tunn.as_ref().map_or((0, 0), |tunn| {
            let (_, tx, rx, _, _) = tunn.stats();
            (rx as u64 + self.rx_uncounted, tx as u64)
        })
    }
}
