//! The buffers of an engine's two packet paths and who may use them. The
//! engine ([`super::device`]) owns them; the packet paths
//! ([`super::datapath`]) fill and drain them. Kept apart from both so that
//! neither has to import the other.

use std::net::SocketAddr;
use std::sync::{Mutex, MutexGuard, PoisonError, TryLockError};

use bytes::BytesMut;
use gotatun::packet::Packet;

use super::io::{RecvBatch, UdpIo};

/// Bytes of packets per TUN batch: a few 64 KiB super-packets.
const TUN_BATCH_BYTES: usize = 1 << 20;
/// Bytes per UDP batch: a full `recvmmsg` of 64 KiB GRO messages.
const UDP_BATCH_BYTES: usize = 1 << 20;
/// Spare bytes after each packet read from the TUN, so that padding it to
/// a multiple of 16 never reallocates.
const PADDING_ROOM: usize = 16;

/// The two sides of an engine.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Side {
    Tun,
    Udp,
}

impl Side {
    pub fn other(self) -> Self {
        match self {
            Side::Tun => Side::Udp,
            Side::Udp => Side::Tun,
        }
    }
}

/// The buffers of each side, behind the lock whoever serves it holds.
pub(crate) struct Sides {
    pub tun: Mutex<TunSide>,
    pub udp: Mutex<UdpSide>,
}

pub(crate) struct TunSide {
    pub batch: RecvBatch<()>,
    pub out: Outgoing,
}

pub(crate) struct UdpSide {
    pub batch: RecvBatch<SocketAddr>,
    pub to_tun: Vec<BytesMut>,
    pub replies: Outgoing,
}

impl Sides {
    pub fn new() -> Self {
        Self {
            tun: Mutex::new(TunSide {
                batch: RecvBatch::new(TUN_BATCH_BYTES, PADDING_ROOM),
                out: Outgoing::default(),
            }),
            udp: Mutex::new(UdpSide {
                batch: RecvBatch::new(UDP_BATCH_BYTES, 0),
                to_tun: Vec::new(),
                replies: Outgoing::default(),
            }),
        }
    }
}

/// Lock a side: waiting for it, or only if it is free.
pub(crate) fn lock<T>(mutex: &Mutex<T>, wait: bool) -> Option<MutexGuard<'_, T>> {
    if wait {
        return Some(mutex.lock().unwrap_or_else(PoisonError::into_inner));
    }
    match mutex.try_lock() {
        Ok(guard) => Some(guard),
        Err(TryLockError::Poisoned(poisoned)) => Some(poisoned.into_inner()),
        Err(TryLockError::WouldBlock) => None,
    }
}

/// Datagrams on their way out, in order, each with its destination.
#[derive(Default)]
pub(crate) struct Outgoing {
    datagrams: Vec<(SocketAddr, Packet)>,
}

impl Outgoing {
    pub fn push(&mut self, to: SocketAddr, packet: Packet) {
        self.datagrams.push((to, packet));
    }

    /// Send everything: each run to one destination as one batch.
    pub fn flush(&mut self, udp: &dyn UdpIo, ifname: &str) {
        let mut rest = &self.datagrams[..];
        while let Some(&(to, _)) = rest.first() {
            let run = rest.iter().take_while(|(dst, _)| *dst == to).count();
            let slices: Vec<&[u8]> = rest[..run].iter().map(|(_, p)| &p[..]).collect();
            if let Err(e) = udp.send_batch(&slices, to) {
                tracing::debug!(ifname, %to, "send UDP: {e}");
            }
            rest = &rest[run..];
        }
        self.datagrams.clear();
    }
}
