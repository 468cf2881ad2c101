//! The timer thread: every tick, let each peer's tunnel act on its timers
//! (handshake retries and rekeys, keepalives, session expiry) and send what
//! it asks for; now and then refresh the TUN's MTU.

use std::sync::PoisonError;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant, SystemTime};

use gotatun::noise::errors::WireGuardError;
use gotatun::packet::{Packet, WgKind};

use super::device::Shared;

/// How often tunnels look at their timers (gotatun's device uses the same).
pub(crate) const TICK: Duration = Duration::from_millis(250);
/// Ticks between MTU refreshes.
const MTU_EVERY: u32 = 4;

impl Shared {
    pub(crate) fn timer_loop(&self) {
        let mut ticks: u32 = 0;
        while self.sleep(TICK) {
            self.tick();
            ticks = ticks.wrapping_add(1);
            if ticks.is_multiple_of(MTU_EVERY) {
                self.refresh_mtu();
            }
        }
    }

    fn tick(&self) {
        let state = self.read();
        if let Some(keys) = &state.keys {
            keys.rate_limiter.try_reset_count();
        }
        // Forget indices whose handshake or session is gone.
        state
            .by_index
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .retain(|index, _| state.index_table.in_use(*index));
        let now = SystemTime::now();
        let udp = self.udp();
        for peer in state.peers.values() {
            let mut guard = peer.lock();
            let ps = &mut *guard;
            let endpoint = ps.endpoint;
            let Some(tunn) = ps.tunn.as_mut() else {
                continue;
            };
            let to_send = match tunn.update_timers() {
                Ok(packet) => packet,
                Err(WireGuardError::ConnectionExpired) => {
                    // gotatun stops handshaking after REKEY_ATTEMPT_TIME until
                    // something is sent; the kernel's persistent keepalive
                    // keeps starting handshakes. Do as the kernel does.
                    match (ps.keepalive, endpoint) {
                        (Some(interval), Some(_))
                            if ps.expired_retry.is_none_or(|at| {
                                at.elapsed() >= Duration::from_secs(interval.into())
                            }) =>
                        {
                            ps.expired_retry = Some(Instant::now());
                            tunn.format_handshake_initiation(false).map(WgKind::from)
                        }
                        _ => None,
                    }
                }
                Err(e) => {
                    tracing::debug!(ifname = %self.name, peer = %peer.public_key, "timers: {e:?}");
                    None
                }
            };
            ps.refresh_last_handshake(now);
            let Some(packet) = to_send else { continue };
            state.register_index(&packet, peer);
            drop(guard);
            if let Some(endpoint) = endpoint
                && let Err(e) = udp.send_to(&Packet::from(packet), endpoint)
            {
                tracing::debug!(ifname = %self.name, %endpoint, "send UDP: {e}");
            }
        }
    }

    fn refresh_mtu(&self) {
        match self.tun.mtu() {
            Ok(mtu) => self.mtu.store(mtu, Ordering::Relaxed),
            Err(e) => tracing::trace!(ifname = %self.name, "read TUN MTU: {e}"),
        }
    }
}
