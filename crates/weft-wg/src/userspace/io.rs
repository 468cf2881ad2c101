//! The seam between the engine and its I/O: one trait for the tunnel side,
//! two for the UDP side (a socket and something that binds sockets), each
//! with a real implementation ([`super::tun`], [`super::udp`]) and an
//! in-memory one ([`mem`]) for tests without root.
//!
//! Calls block: each reader is a dedicated thread. `shutdown` wakes a
//! blocked `recv` and makes it (and every later one) return the error
//! [`shutdown_error`] builds, which [`is_shutdown`] recognises.
//!
//! A faster path (vnet_hdr offloads, GSO/GRO, recvmmsg/sendmmsg) fits behind
//! the same traits by adding batch methods with one-packet defaults.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

pub mod mem;

/// The tunnel side: IP packets to and from the local stack.
pub trait TunIo: Send + Sync {
    /// Read one IP packet into `buf`, blocking until one arrives.
    fn recv(&self, buf: &mut [u8]) -> io::Result<usize>;
    /// Hand one IP packet to the local stack.
    fn send(&self, packet: &[u8]) -> io::Result<()>;
    /// The interface MTU (used to pad packets as WireGuard specifies).
    fn mtu(&self) -> io::Result<u16>;
    /// Wake blocked readers for good.
    fn shutdown(&self);
}

/// The network side: one bound UDP socket.
pub trait UdpIo: Send + Sync {
    /// Receive one datagram, blocking until one arrives.
    fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)>;
    fn send_to(&self, packet: &[u8], dst: SocketAddr) -> io::Result<()>;
    /// The port actually bound (never 0).
    fn local_port(&self) -> u16;
    fn set_fwmark(&self, mark: u32) -> io::Result<()>;
    /// Wake blocked readers for good.
    fn shutdown(&self);
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
mod tests {
    use super::*;

    #[test]
    fn shutdown_errors_are_recognised() {
        assert!(is_shutdown(&shutdown_error()));
        assert!(!is_shutdown(&io::Error::from(
            io::ErrorKind::ConnectionAborted
        )));
        assert!(!is_shutdown(&io::Error::from_raw_os_error(libc::EAGAIN)));
    }

    #[test]
    fn reads_ip_addresses() {
        let mut v4 = [0u8; 20];
        v4[0] = 0x45;
        v4[12..16].copy_from_slice(&[10, 0, 0, 1]);
        v4[16..20].copy_from_slice(&[10, 0, 0, 2]);
        let (src, dst) = ip_addresses(&v4).unwrap();
        assert_eq!(
            (src.to_string(), dst.to_string()),
            ("10.0.0.1".into(), "10.0.0.2".into())
        );
        assert!(ip_addresses(&v4[..19]).is_none());

        let mut v6 = [0u8; 40];
        v6[0] = 0x60;
        v6[23] = 1;
        v6[39] = 2;
        let (src, dst) = ip_addresses(&v6).unwrap();
        assert_eq!(
            (src.to_string(), dst.to_string()),
            ("::1".into(), "::2".into())
        );
        assert!(ip_addresses(&[0x10; 40]).is_none());
    }

    #[test]
    fn reads_ip_packet_lengths() {
        let mut v4 = [0u8; 32];
        v4[0] = 0x45;
        v4[3] = 28;
        assert_eq!(ip_packet_len(&v4), Some(28), "padding after the packet");
        v4[3] = 33;
        assert_eq!(ip_packet_len(&v4), None, "claims more than there is");
        let mut v6 = [0u8; 48];
        v6[0] = 0x60;
        v6[5] = 8;
        assert_eq!(ip_packet_len(&v6), Some(48));
    }
}
