//! The real UDP side: a dual-stack socket on `[::]:port` (IPv4 peers show
//! up as plain IPv4 addresses), falling back to `0.0.0.0:port` where IPv6
//! is unavailable.
//!
//! Sockets belong to the network namespace they are created in. The binder
//! remembers the namespace it was made in, so a listen-port change applied
//! from another namespace (the agent's thread, the UAPI thread) still binds
//! next to the TUN.

use std::fs::File;
use std::io;
use std::net::{Ipv6Addr, SocketAddr, SocketAddrV6, UdpSocket};
use std::os::fd::AsFd;
use std::os::unix::fs::MetadataExt;
use std::sync::Arc;
use std::time::Duration;

use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::eventfd::{EfdFlags, EventFd};
use socket2::{Domain, Protocol, SockRef, Socket, Type};

use super::io::{UdpBinder, UdpIo, shutdown_error};

const NETNS_OF_THREAD: &str = "/proc/thread-self/ns/net";

/// How long a send waits for room in a full socket buffer before the
/// datagram is dropped.
const SEND_WAIT: Duration = Duration::from_millis(100);

/// Binds real UDP sockets in the network namespace it was created in.
pub struct HostUdp {
    netns: File,
}

impl HostUdp {
    /// A binder for the calling thread's network namespace.
    pub fn for_current_netns() -> io::Result<Self> {
        Ok(Self {
            netns: File::open(NETNS_OF_THREAD)?,
        })
    }

    fn in_our_netns(&self) -> io::Result<bool> {
        let ours = self.netns.metadata()?;
        let current = std::fs::metadata(NETNS_OF_THREAD)?;
        Ok((ours.dev(), ours.ino()) == (current.dev(), current.ino()))
    }
}

impl UdpBinder for HostUdp {
    fn bind(&self, port: u16, fwmark: u32) -> io::Result<Arc<dyn UdpIo>> {
        if self.in_our_netns()? {
            return Ok(Arc::new(UdpSocketIo::bind(port, fwmark)?));
        }
        // setns() changes only the calling thread: do it on a throwaway one.
        std::thread::scope(|scope| {
            scope
                .spawn(|| {
                    nix::sched::setns(self.netns.as_fd(), nix::sched::CloneFlags::CLONE_NEWNET)?;
                    Ok(Arc::new(UdpSocketIo::bind(port, fwmark)?) as Arc<dyn UdpIo>)
                })
                .join()
                .unwrap_or_else(|_| Err(io::Error::other("bind thread panicked")))
        })
    }
}

pub struct UdpSocketIo {
    socket: UdpSocket,
    dual_stack: bool,
    port: u16,
    wake: EventFd,
}

impl UdpSocketIo {
    pub fn bind(port: u16, fwmark: u32) -> io::Result<Self> {
        let (socket, dual_stack) = match bind_dual_stack(port) {
            Ok(socket) => (socket, true),
            Err(e) if e.kind() == io::ErrorKind::AddrInUse => return Err(e),
            Err(e) => {
                tracing::debug!("dual-stack UDP socket unavailable ({e}); using IPv4 only");
                let socket = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP))?;
                socket.bind(&SocketAddr::from(([0, 0, 0, 0], port)).into())?;
                (socket, false)
            }
        };
        if fwmark != 0 {
            socket.set_mark(fwmark)?;
        }
        socket.set_nonblocking(true)?;
        let socket: UdpSocket = socket.into();
        let port = socket.local_addr()?.port();
        let wake = EventFd::from_flags(EfdFlags::EFD_CLOEXEC | EfdFlags::EFD_NONBLOCK)?;
        Ok(Self {
            socket,
            dual_stack,
            port,
            wake,
        })
    }

    fn wait(&self, events: PollFlags, timeout: PollTimeout) -> io::Result<bool> {
        loop {
            let mut fds = [
                PollFd::new(self.socket.as_fd(), events),
                PollFd::new(self.wake.as_fd(), PollFlags::POLLIN),
            ];
            match poll(&mut fds, timeout) {
                Ok(0) => return Ok(false),
                Ok(_) => {}
                Err(nix::errno::Errno::EINTR) => continue,
                Err(e) => return Err(e.into()),
            }
            if fds[1].any().unwrap_or(false) {
                return Err(shutdown_error());
            }
            return Ok(true);
        }
    }
}

fn bind_dual_stack(port: u16) -> io::Result<Socket> {
    let socket = Socket::new(Domain::IPV6, Type::DGRAM, Some(Protocol::UDP))?;
    socket.set_only_v6(false)?;
    socket.bind(&SocketAddr::from((Ipv6Addr::UNSPECIFIED, port)).into())?;
    Ok(socket)
}

/// Peers are shown and compared as plain IPv4 when they are.
fn canonical(addr: SocketAddr) -> SocketAddr {
    SocketAddr::new(addr.ip().to_canonical(), addr.port())
}

impl UdpIo for UdpSocketIo {
    fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        loop {
            self.wait(PollFlags::POLLIN, PollTimeout::NONE)?;
            match self.socket.recv_from(buf) {
                Ok((n, from)) => return Ok((n, canonical(from))),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                // ICMP errors for earlier sends surface here; they are not ours to act on.
                Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => continue,
                Err(e) => return Err(e),
            }
        }
    }

    fn send_to(&self, packet: &[u8], dst: SocketAddr) -> io::Result<()> {
        let dst = match dst {
            SocketAddr::V4(v4) if self.dual_stack => {
                SocketAddr::V6(SocketAddrV6::new(v4.ip().to_ipv6_mapped(), v4.port(), 0, 0))
            }
            other => other,
        };
        match self.socket.send_to(packet, dst) {
            Ok(_) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                let timeout = PollTimeout::try_from(SEND_WAIT).unwrap_or(PollTimeout::ZERO);
                if self.wait(PollFlags::POLLOUT, timeout)? {
                    self.socket.send_to(packet, dst).map(drop)
                } else {
                    Err(e)
                }
            }
            Err(e) => Err(e),
        }
    }

    fn local_port(&self) -> u16 {
        self.port
    }

    fn set_fwmark(&self, mark: u32) -> io::Result<()> {
        SockRef::from(&self.socket).set_mark(mark)
    }

    fn shutdown(&self) {
        let _ = self.wake.write(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::userspace::io::is_shutdown;

    #[test]
    fn loopback_v4_through_a_dual_stack_socket() {
        let binder = HostUdp::for_current_netns().unwrap();
        let a = binder.bind(0, 0).unwrap();
        let b = binder.bind(0, 0).unwrap();
        assert_ne!(a.local_port(), 0);
        assert!(binder.bind(a.local_port(), 0).is_err(), "port in use");
        a.send_to(b"ping", SocketAddr::from(([127, 0, 0, 1], b.local_port())))
            .unwrap();
        let mut buf = [0u8; 64];
        let (n, from) = b.recv_from(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"ping");
        assert_eq!(
            from,
            SocketAddr::from(([127, 0, 0, 1], a.local_port())),
            "plain IPv4"
        );

        let reader = {
            let b = Arc::clone(&b);
            std::thread::spawn(move || b.recv_from(&mut [0u8; 64]))
        };
        std::thread::sleep(Duration::from_millis(20));
        b.shutdown();
        assert!(is_shutdown(&reader.join().unwrap().unwrap_err()));
    }
}
