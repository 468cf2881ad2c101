//! The real UDP side: a dual-stack socket on `[::]:port` (IPv4 peers show
//! up as plain IPv4 addresses), falling back to `0.0.0.0:port` where IPv6
//! is unavailable.
//!
//! Batches go out with `sendmmsg`, runs of equal-sized datagrams as one
//! UDP GSO send, and come in with `recvmmsg` and UDP GRO ([`msg`]). Where
//! the kernel or the path refuses GSO, the socket falls back to one
//! datagram per message for good; GRO needs nothing from the sender.
//!
//! Sockets belong to the network namespace they are created in. The binder
//! remembers the namespace it was made in, so a listen-port change applied
//! from another namespace (the agent's thread, the UAPI thread) still binds
//! next to the TUN.

use std::fs::File;
use std::io;
use std::net::{Ipv6Addr, SocketAddr, SocketAddrV6, UdpSocket};
use std::os::fd::{AsFd, AsRawFd};
use std::os::unix::fs::MetadataExt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::eventfd::{EfdFlags, EventFd};
use nix::sys::socket::{setsockopt, sockopt};
use socket2::{Domain, Protocol, SockAddr, SockRef, Socket, Type};

use super::io::{OffloadCounters, RecvBatch, UdpBinder, UdpIo, shutdown_error};

mod msg;

/// Socket buffers: a GSO send or GRO receive moves 64 KiB at once, and a
/// burst of them must not overflow the default ~200 KiB.
const SOCKET_BUFFER: usize = 4 << 20;

const NETNS_OF_THREAD: &str = "/proc/thread-self/ns/net";

/// How long a send waits for room in a full socket buffer before the
/// datagram is dropped.
const SEND_WAIT: Duration = Duration::from_millis(100);

/// Binds real UDP sockets in the network namespace it was created in.
pub struct HostUdp {
    netns: File,
    offloads: bool,
}

impl HostUdp {
    /// A binder for the calling thread's network namespace.
    pub fn for_current_netns() -> io::Result<Self> {
        Ok(Self {
            netns: File::open(NETNS_OF_THREAD)?,
            offloads: true,
        })
    }

    /// Whether sockets use GSO and GRO (default: where the kernel has them).
    pub fn with_offloads(self, offloads: bool) -> Self {
        Self { offloads, ..self }
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
            return Ok(Arc::new(UdpSocketIo::bind(port, fwmark, self.offloads)?));
        }
        // setns() changes only the calling thread: do it on a throwaway one.
        std::thread::scope(|scope| {
            scope
                .spawn(|| {
                    nix::sched::setns(self.netns.as_fd(), nix::sched::CloneFlags::CLONE_NEWNET)?;
                    let socket = UdpSocketIo::bind(port, fwmark, self.offloads)?;
                    Ok(Arc::new(socket) as Arc<dyn UdpIo>)
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
    /// UDP GSO is used (and still works) on this socket.
    gso: AtomicBool,
    gso_sends: AtomicU64,
    gro_receives: AtomicU64,
}

impl UdpSocketIo {
    /// Bind `port` (0: any) with `fwmark` (0: none); `offloads`: use GSO
    /// and GRO where the kernel has them.
    pub fn bind(port: u16, fwmark: u32, offloads: bool) -> io::Result<Self> {
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
        size_buffers(&socket);
        // GRO: the kernel hands over runs of datagrams from one sender in
        // one receive. Without it (old kernels) everything still works.
        if offloads && let Err(e) = setsockopt(&socket, sockopt::UdpGroSegment, &true) {
            tracing::debug!("UDP GRO unavailable: {e}");
        }
        let socket: UdpSocket = socket.into();
        let port = socket.local_addr()?.port();
        let wake = EventFd::from_flags(EfdFlags::EFD_CLOEXEC | EfdFlags::EFD_NONBLOCK)?;
        Ok(Self {
            socket,
            dual_stack,
            port,
            wake,
            gso: AtomicBool::new(offloads),
            gso_sends: AtomicU64::new(0),
            gro_receives: AtomicU64::new(0),
        })
    }

    /// Whether GSO sends are (still) in use.
    fn gso(&self) -> bool {
        self.gso.load(Ordering::Relaxed)
    }

    fn destination(&self, dst: SocketAddr) -> SockAddr {
        let dst = match dst {
            SocketAddr::V4(v4) if self.dual_stack => {
                SocketAddr::V6(SocketAddrV6::new(v4.ip().to_ipv6_mapped(), v4.port(), 0, 0))
            }
            other => other,
        };
        SockAddr::from(dst)
    }

    /// Wait for room in the send buffer; `Ok(false)` if none came in time.
    fn wait_writable(&self) -> io::Result<bool> {
        let timeout = PollTimeout::try_from(SEND_WAIT).unwrap_or(PollTimeout::ZERO);
        self.wait(PollFlags::POLLOUT, timeout)
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

/// Bigger socket buffers: as root past the sysctl limits (`*BUFFORCE`),
/// otherwise as far as they allow.
fn size_buffers(socket: &Socket) {
    if setsockopt(socket, sockopt::RcvBufForce, &SOCKET_BUFFER).is_err() {
        let _ = socket.set_recv_buffer_size(SOCKET_BUFFER);
    }
    if setsockopt(socket, sockopt::SndBufForce, &SOCKET_BUFFER).is_err() {
        let _ = socket.set_send_buffer_size(SOCKET_BUFFER);
    }
}

/// Errors after which a GSO send is retried as single datagrams: the
/// device cannot checksum (EIO), or a segment does not fit the path MTU
/// or the kernel's limits (EINVAL, EMSGSIZE).
fn is_gso_refusal(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EIO | libc::EINVAL | libc::EMSGSIZE)
    )
}

fn bind_dual_stack(port: u16) -> io::Result<Socket> {
    let socket = Socket::new(Domain::IPV6, Type::DGRAM, Some(Protocol::UDP))?;
    socket.set_only_v6(false)?;
    socket.bind(&SocketAddr::from((Ipv6Addr::UNSPECIFIED, port)).into())?;
    Ok(socket)
}

impl UdpIo for UdpSocketIo {
    fn wait_readable(&self) -> io::Result<()> {
        self.wait(PollFlags::POLLIN, PollTimeout::NONE).map(drop)
    }

    fn recv_batch(&self, batch: &mut RecvBatch<SocketAddr>) -> io::Result<()> {
        let mut received = Vec::with_capacity(msg::MAX_RECV_MESSAGES);
        loop {
            match msg::recvmmsg(self.socket.as_raw_fd(), batch.room(), &mut received) {
                Ok(()) => break,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                // ICMP errors for earlier sends surface here; they are not ours to act on.
                Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => continue,
                Err(e) => return Err(e),
            }
        }
        // Messages sit one slot apart; cut each into its datagrams.
        let mut consumed = 0;
        for message in &received {
            let Some(source) = message.source else {
                continue;
            };
            if message.truncated {
                tracing::debug!(%source, "dropped a truncated datagram");
                continue;
            }
            let segment = if message.segment == 0 {
                message.len
            } else {
                self.gro_receives.fetch_add(1, Ordering::Relaxed);
                message.segment
            };
            let mut at = message.offset;
            while at < message.offset + message.len {
                let len = segment.min(message.offset + message.len - at);
                batch.take(at - consumed, len, source);
                consumed = at + len;
                at += len;
            }
        }
        Ok(())
    }

    fn send_batch(&self, packets: &[&[u8]], dst: SocketAddr) -> io::Result<()> {
        let dst = self.destination(dst);
        let lens: Vec<usize> = packets.iter().map(|p| p.len()).collect();
        let mut plan = Vec::new();
        msg::plan_sends(&lens, self.gso(), &mut plan);
        let mut first_error = None;
        let mut next = 0;
        while next < plan.len() {
            match msg::sendmmsg(self.socket.as_raw_fd(), packets, &plan[next..], &dst) {
                Ok(sent) => {
                    let gso = plan[next..next + sent].iter().filter(|p| p.count > 1);
                    self.gso_sends
                        .fetch_add(gso.count() as u64, Ordering::Relaxed);
                    next += sent;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    if !self.wait_writable()? {
                        // The rest is dropped, as a full queue would.
                        return Err(e);
                    }
                }
                Err(e) if plan[next].count > 1 && is_gso_refusal(&e) => {
                    tracing::debug!(
                        port = self.port,
                        "UDP GSO refused ({e}); sending datagrams singly"
                    );
                    self.gso.store(false, Ordering::Relaxed);
                    let rest = plan[next].first;
                    msg::plan_sends(&lens[rest..], false, &mut plan);
                    for planned in &mut plan {
                        planned.first += rest;
                    }
                    next = 0;
                }
                Err(e) => {
                    // This message is lost; the others still go.
                    first_error.get_or_insert(e);
                    next += 1;
                }
            }
        }
        first_error.map_or(Ok(()), Err)
    }

    fn local_port(&self) -> u16 {
        self.port
    }

    fn counters(&self) -> OffloadCounters {
        OffloadCounters {
            udp_gso_sends: self.gso_sends.load(Ordering::Relaxed),
            udp_gro_receives: self.gro_receives.load(Ordering::Relaxed),
            ..OffloadCounters::default()
        }
    }

    fn set_fwmark(&self, mark: u32) -> io::Result<()> {
        SockRef::from(&self.socket).set_mark(mark)
    }

    fn shutdown(&self) {
        let _ = self.wake.write(1);
    }
}

#[cfg(test)]
mod tests;
