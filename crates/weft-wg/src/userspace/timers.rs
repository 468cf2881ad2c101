//! The timers: every tick, let each peer's tunnel act on its timers
//! (handshake retries and rekeys, keepalives, session expiry) and send what
//! it asks for; now and then refresh the TUN's MTU.
//!
//! One thread ticks every engine of the process (a thread per interface
//! would make the agent's threads grow with its networks); it only touches
//! sockets and TUNs through their file descriptors, so it serves engines in
//! any network namespace.

use std::io;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Condvar, Mutex, PoisonError, Weak};
use std::time::{Duration, Instant, SystemTime};

use gotatun::noise::errors::WireGuardError;
use gotatun::packet::{Packet, WgKind};

use super::device::{Shared, State};
use super::io::UdpIo;
use super::peer::{Peer, Slot};

/// How often tunnels look at their timers (gotatun's device uses the same).
pub(crate) const TICK: Duration = Duration::from_millis(250);
/// Ticks between MTU refreshes.
const MTU_EVERY: u32 = 4;

/// The engines the timer thread ticks.
struct Ticker {
    engines: Mutex<Vec<Weak<Shared>>>,
    /// Signalled when an engine is added (the thread waits while none is).
    added: Condvar,
    /// Whether the thread runs.
    started: Mutex<bool>,
}

static TICKER: Ticker = Ticker {
    engines: Mutex::new(Vec::new()),
    added: Condvar::new(),
    started: Mutex::new(false),
};

/// Have the timer thread tick `engine` until it stops (starting the
/// thread the first time).
pub(crate) fn tick_engine(engine: &Arc<Shared>) -> io::Result<()> {
    let mut started = TICKER
        .started
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    if !*started {
        std::thread::Builder::new()
            .name("wg-timers".into())
            .spawn(run_ticker)?;
        *started = true;
    }
    TICKER
        .engines
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .push(Arc::downgrade(engine));
    TICKER.added.notify_all();
    Ok(())
}

fn run_ticker() {
    let mut ticks: u32 = 0;
    loop {
        let engines: Vec<Arc<Shared>> = {
            let mut list = TICKER
                .engines
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            list.retain(|e| e.upgrade().is_some_and(|e| !e.stopping()));
            while list.is_empty() {
                list = TICKER
                    .added
                    .wait(list)
                    .unwrap_or_else(PoisonError::into_inner);
            }
            list.iter().filter_map(Weak::upgrade).collect()
        };
        ticks = ticks.wrapping_add(1);
        for engine in &engines {
            engine.timer_tick(ticks);
        }
        drop(engines);
        std::thread::sleep(TICK);
    }
}

impl Shared {
    /// One tick of this engine's timers, unless it is stopping; a stopping
    /// engine waits on `ticking` for a tick under way.
    fn timer_tick(&self, ticks: u32) {
        let _ticking = self.ticking.lock().unwrap_or_else(PoisonError::into_inner);
        if self.stopping() {
            return;
        }
        self.tick();
        if ticks.is_multiple_of(MTU_EVERY) {
            self.refresh_mtu();
        }
    }

    fn tick(&self) {
        let state = self.read();
        for keys in state.keys.iter().chain(state.retiring.iter()) {
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
            for slot in [Slot::Current, Slot::Retiring] {
                self.tick_peer(&state, peer, slot, now, &*udp);
            }
        }
    }

    /// Let one of a peer's tunnels act on its timers, and send what it
    /// asks for.
    fn tick_peer(
        &self,
        state: &State,
        peer: &Arc<Peer>,
        slot: Slot,
        now: SystemTime,
        udp: &dyn UdpIo,
    ) {
        {
            let mut guard = peer.lock();
            let ps = &mut *guard;
            let endpoint = ps.endpoint;
            let tunn = match slot {
                Slot::Current => ps.tunn.as_mut(),
                // The retiring tunnel keeps its sessions alive and rekeys
                // them for peers that know only the old key; it never
                // starts handshakes of its own after they expire.
                Slot::Retiring => ps.retiring.as_mut(),
            };
            let Some(tunn) = tunn else {
                return;
            };
            let to_send = match tunn.update_timers() {
                Ok(packet) => packet,
                Err(WireGuardError::ConnectionExpired) if slot == Slot::Current => {
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
            let Some(packet) = to_send else { return };
            state.register_index(&packet, peer, slot);
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
