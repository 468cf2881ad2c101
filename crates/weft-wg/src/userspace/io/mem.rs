//! In-memory I/O: a TUN whose other end the test holds, and a UDP
//! "network" in which bound sockets find each other by address. Lets whole
//! engines run and talk to each other without root.

use std::collections::{HashMap, VecDeque};
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Condvar, Mutex, PoisonError, Weak};
use std::time::Duration;

use bytes::BytesMut;

use super::{RecvBatch, TunIo, UdpBinder, UdpIo, shutdown_error};

/// Most packets one in-memory receive returns: small, so that tests also
/// see packets of one burst spread over several batches.
const BATCH: usize = 8;

/// A blocking queue that can be shut down.
struct Queue<T> {
    inner: Mutex<(VecDeque<T>, bool)>,
    ready: Condvar,
}

impl<T> Queue<T> {
    fn new() -> Self {
        Self {
            inner: Mutex::new((VecDeque::new(), false)),
            ready: Condvar::new(),
        }
    }

    fn push(&self, item: T) {
        let mut inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        if !inner.1 {
            inner.0.push_back(item);
            self.ready.notify_one();
        }
    }

    /// Wait up to `timeout` (forever if `None`); `Ok(None)` on timeout.
    fn pop(&self, timeout: Option<Duration>) -> io::Result<Option<T>> {
        let mut inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        let deadline = timeout.map(|t| std::time::Instant::now() + t);
        loop {
            if inner.1 {
                return Err(shutdown_error());
            }
            if let Some(item) = inner.0.pop_front() {
                return Ok(Some(item));
            }
            match deadline {
                None => {
                    inner = self
                        .ready
                        .wait(inner)
                        .unwrap_or_else(PoisonError::into_inner)
                }
                Some(deadline) => {
                    let now = std::time::Instant::now();
                    if now >= deadline {
                        return Ok(None);
                    }
                    inner = self
                        .ready
                        .wait_timeout(inner, deadline - now)
                        .unwrap_or_else(PoisonError::into_inner)
                        .0;
                }
            }
        }
    }

    /// Wait until there is an item (not taking it).
    fn wait(&self) -> io::Result<()> {
        let mut inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        loop {
            if inner.1 {
                return Err(shutdown_error());
            }
            if !inner.0.is_empty() {
                return Ok(());
            }
            inner = self
                .ready
                .wait(inner)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }

    /// Take up to `max` items that are there, until `take` says there is
    /// no more room (that item is lost, as on a full ring).
    fn pop_ready(&self, max: usize, mut take: impl FnMut(T) -> bool) {
        let mut inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        for _ in 0..max {
            let Some(item) = inner.0.pop_front() else {
                break;
            };
            if !take(item) {
                break;
            }
        }
    }

    fn shutdown(&self) {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner).1 = true;
        self.ready.notify_all();
    }
}

/// The engine's end of an in-memory TUN.
pub struct MemTun {
    to_engine: Queue<Vec<u8>>,
    from_engine: Queue<Vec<u8>>,
    mtu: u16,
}

impl MemTun {
    pub fn new(mtu: u16) -> Arc<Self> {
        Arc::new(Self {
            to_engine: Queue::new(),
            from_engine: Queue::new(),
            mtu,
        })
    }

    /// What the local stack would send into the tunnel.
    pub fn inject(&self, packet: &[u8]) {
        self.to_engine.push(packet.to_vec());
    }

    /// The next packet the engine delivered to the local stack.
    pub fn delivered(&self, timeout: Duration) -> Option<Vec<u8>> {
        self.from_engine.pop(Some(timeout)).ok().flatten()
    }
}

impl TunIo for MemTun {
    fn wait_readable(&self) -> io::Result<()> {
        self.to_engine.wait()
    }

    fn recv_batch(&self, batch: &mut RecvBatch<()>) -> io::Result<()> {
        self.to_engine
            .pop_ready(BATCH, |packet| batch.push_copy(&[&packet], ()));
        Ok(())
    }

    fn send_batch(&self, packets: &mut [BytesMut]) -> io::Result<()> {
        for packet in packets {
            self.from_engine.push(packet.to_vec());
        }
        Ok(())
    }

    fn mtu(&self) -> io::Result<u16> {
        Ok(self.mtu)
    }

    fn shutdown(&self) {
        self.to_engine.shutdown();
    }
}

/// A lossless datagram network between [`MemUdp`] sockets.
#[derive(Default)]
pub struct MemNetwork {
    sockets: Mutex<HashMap<SocketAddr, Weak<MemUdp>>>,
}

impl MemNetwork {
    pub fn new() -> Arc<Self> {
        Arc::default()
    }

    /// A binder for a host with address `ip` on this network.
    pub fn host(self: &Arc<Self>, ip: IpAddr) -> MemHost {
        MemHost {
            network: Arc::clone(self),
            ip,
        }
    }

    fn deliver(&self, from: SocketAddr, to: SocketAddr, packet: &[u8]) {
        let socket = self
            .sockets
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&to)
            .and_then(Weak::upgrade);
        if let Some(socket) = socket {
            socket.queue.push((packet.to_vec(), from));
        }
    }
}

/// Binds [`MemUdp`] sockets at one address.
pub struct MemHost {
    network: Arc<MemNetwork>,
    ip: IpAddr,
}

impl UdpBinder for MemHost {
    fn bind(&self, port: u16, fwmark: u32) -> io::Result<Arc<dyn UdpIo>> {
        let mut sockets = self
            .network
            .sockets
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        sockets.retain(|_, s| s.strong_count() > 0);
        let port = if port != 0 {
            port
        } else {
            (49152..=u16::MAX)
                .find(|p| !sockets.contains_key(&SocketAddr::new(self.ip, *p)))
                .ok_or_else(|| io::Error::from(io::ErrorKind::AddrInUse))?
        };
        let addr = SocketAddr::new(self.ip, port);
        if sockets.contains_key(&addr) {
            return Err(io::Error::from_raw_os_error(libc::EADDRINUSE));
        }
        let socket = Arc::new(MemUdp {
            network: Arc::clone(&self.network),
            addr,
            queue: Queue::new(),
            fwmark: Mutex::new(fwmark),
        });
        sockets.insert(addr, Arc::downgrade(&socket));
        Ok(socket)
    }
}

/// A bound in-memory UDP socket.
pub struct MemUdp {
    network: Arc<MemNetwork>,
    addr: SocketAddr,
    queue: Queue<(Vec<u8>, SocketAddr)>,
    fwmark: Mutex<u32>,
}

impl UdpIo for MemUdp {
    fn wait_readable(&self) -> io::Result<()> {
        self.queue.wait()
    }

    fn recv_batch(&self, batch: &mut RecvBatch<SocketAddr>) -> io::Result<()> {
        self.queue
            .pop_ready(BATCH, |(packet, from)| batch.push_copy(&[&packet], from));
        Ok(())
    }

    fn send_batch(&self, packets: &[&[u8]], dst: SocketAddr) -> io::Result<()> {
        for packet in packets {
            self.network.deliver(self.addr, dst, packet);
        }
        Ok(())
    }

    fn local_port(&self) -> u16 {
        self.addr.port()
    }

    fn set_fwmark(&self, mark: u32) -> io::Result<()> {
        *self.fwmark.lock().unwrap_or_else(PoisonError::into_inner) = mark;
        Ok(())
    }

    fn shutdown(&self) {
        self.queue.shutdown();
        let mut sockets = self
            .network
            .sockets
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if sockets
            .get(&self.addr)
            .is_some_and(|s| std::ptr::eq(s.as_ptr(), self))
        {
            sockets.remove(&self.addr);
        }
    }
}

#[cfg(test)]
mod tests;
