//! The seam between the engine and its I/O: one trait for the tunnel side,
//! two for the UDP side (a socket and something that binds sockets), each
//! with a real implementation ([`super::tun`], [`super::udp`]) and an
//! in-memory one ([`mem`]) for tests without root.
//!
//! Waiting and receiving are separate: `wait_readable` blocks until
//! something is there, `recv_batch` takes whatever is ready without
//! blocking. So one wake-up and a few system calls serve many packets, and
//! an engine thread can also pick up what is ready on the *other* side
//! (say, the reply the stack produced while we wrote a packet to the TUN)
//! without another thread having to wake up. The real implementations use
//! the batches for offloads (TUN super-packets with `virtio_net_hdr`, UDP
//! GSO/GRO, `sendmmsg`/`recvmmsg`); to the engine a batch is always a list
//! of ordinary IP packets or WireGuard datagrams.
//!
//! `shutdown` wakes a blocked `wait_readable` and makes it (and every later
//! one) return the error [`shutdown_error`] builds, which [`is_shutdown`]
//! recognises.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::BytesMut;

pub use batch::RecvBatch;

mod batch;
pub mod mem;

/// The tunnel side: IP packets to and from the local stack.
pub trait TunIo: Send + Sync {
    /// Block until a packet can be read (or the TUN is shut down).
    fn wait_readable(&self) -> io::Result<()>;
    /// Add to `batch` the IP packets that are ready and fit, without
    /// blocking (none is fine). Super-packets are cut up here.
    fn recv_batch(&self, batch: &mut RecvBatch<()>) -> io::Result<()>;
    /// Hand IP packets to the local stack in this order. They may be
    /// changed (headers rewritten when several are merged into one write).
    /// Best effort: every packet is tried; the first error is returned.
    fn send_batch(&self, packets: &mut [BytesMut]) -> io::Result<()>;
    /// The interface MTU (used to pad packets as WireGuard specifies).
    fn mtu(&self) -> io::Result<u16>;
    /// What the offloads did so far (nothing, for I/O without them).
    fn counters(&self) -> OffloadCounters {
        OffloadCounters::default()
    }
    /// Wake blocked waiters for good.
    fn shutdown(&self);
}

/// The network side: one bound UDP socket.
pub trait UdpIo: Send + Sync {
    /// Block until a datagram can be received (or the socket is shut down).
    fn wait_readable(&self) -> io::Result<()>;
    /// Add to `batch` the datagrams that are ready and fit, each with its
    /// source, without blocking (none is fine).
    fn recv_batch(&self, batch: &mut RecvBatch<SocketAddr>) -> io::Result<()>;
    /// Send datagrams to `dst` in this order. Best effort: every datagram
    /// is tried; the first error is returned.
    fn send_batch(&self, packets: &[&[u8]], dst: SocketAddr) -> io::Result<()>;
    fn send_to(&self, packet: &[u8], dst: SocketAddr) -> io::Result<()> {
        self.send_batch(&[packet], dst)
    }
    /// The port actually bound (never 0).
    fn local_port(&self) -> u16;
    /// What the offloads did so far (nothing, for I/O without them).
    fn counters(&self) -> OffloadCounters {
        OffloadCounters::default()
    }
    fn set_fwmark(&self, mark: u32) -> io::Result<()>;
    /// Wake blocked waiters for good.
    fn shutdown(&self);
}

/// How often the fast path was taken, for tests and diagnostics.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OffloadCounters {
    /// Super-packets read from the TUN (each cut into segments).
    pub tun_super_packets: u64,
    /// Writes to the TUN that carried several coalesced packets.
    pub tun_coalesced_writes: u64,
    /// UDP sends that carried several datagrams (GSO).
    pub udp_gso_sends: u64,
    /// UDP receives that carried several datagrams (GRO).
    pub udp_gro_receives: u64,
}

impl std::ops::Add for OffloadCounters {
    type Output = Self;

    fn add(self, other: Self) -> Self {
        Self {
            tun_super_packets: self.tun_super_packets + other.tun_super_packets,
            tun_coalesced_writes: self.tun_coalesced_writes + other.tun_coalesced_writes,
            udp_gso_sends: self.udp_gso_sends + other.udp_gso_sends,
            udp_gro_receives: self.udp_gro_receives + other.udp_gro_receives,
        }
    }
}

/// Binds UDP sockets for an engine (again when its listen port changes).
pub trait UdpBinder: Send + Sync {
    /// Bind `port` (0: any free port) with `fwmark` (0: none).
    fn bind(&self, port: u16, fwmark: u32) -> io::Result<Arc<dyn UdpIo>>;
}

#[derive(Debug)]
struct Shutdown;

impl std::fmt::Display for Shutdown {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("shut down")
    }
}

impl std::error::Error for Shutdown {}

/// The error `recv` returns once `shutdown` was called.
pub fn shutdown_error() -> io::Error {
    io::Error::new(io::ErrorKind::ConnectionAborted, Shutdown)
}

pub fn is_shutdown(err: &io::Error) -> bool {
    err.get_ref().is_some_and(|inner| inner.is::<Shutdown>())
}

/// Where in an IP packet the addresses are; `None` if it is not IPv4/IPv6
/// or too short. Used on every packet, so no full header parsing.
pub(crate) fn ip_addresses(packet: &[u8]) -> Option<(std::net::IpAddr, std::net::IpAddr)> {
    match packet.first()? >> 4 {
        4 if packet.len() >= 20 => {
            let src: [u8; 4] = packet[12..16].try_into().ok()?;
            let dst: [u8; 4] = packet[16..20].try_into().ok()?;
            Some((src.into(), dst.into()))
        }
        6 if packet.len() >= 40 => {
            let src: [u8; 16] = packet[8..24].try_into().ok()?;
            let dst: [u8; 16] = packet[24..40].try_into().ok()?;
            Some((src.into(), dst.into()))
        }
        _ => None,
    }
}

/// The length an IP packet claims in its header (to strip WireGuard's
/// padding); `None` if that is more than we have.
pub(crate) fn ip_packet_len(packet: &[u8]) -> Option<usize> {
    let len = match packet.first()? >> 4 {
        4 if packet.len() >= 20 => usize::from(u16::from_be_bytes([packet[2], packet[3]])),
        6 if packet.len() >= 40 => 40 + usize::from(u16::from_be_bytes([packet[4], packet[5]])),
        _ => return None,
    };
    (len <= packet.len()).then_some(len)
}

#[cfg(test)]
mod tests;
