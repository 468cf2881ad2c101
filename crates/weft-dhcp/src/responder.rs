//! A DHCP responder on one interface: a UDP socket on port 67 bound to the
//! interface (a VM's TAP, or the bridge its TAP is a port of), and a
//! thread that answers with [`crate::answer`].
//!
//! Answers go to the broadcast address unless the client already has its
//! address (renewing, with `ciaddr` set and no broadcast flag): a guest
//! without an address cannot receive unicast, and the host has no ARP
//! entry for it. The socket is made in the calling thread's network
//! namespace; the thread may run anywhere.

use std::io;
use std::mem::MaybeUninit;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, PoisonError, RwLock};
use std::thread::JoinHandle;
use std::time::Duration;

use socket2::{Domain, Protocol, Socket, Type};

use crate::lease::Lease;
use crate::message::{FLAG_BROADCAST, MAX_MESSAGE_LEN, Message, MessageType};
use crate::reply::answer;

pub const SERVER_PORT: u16 = 67;
pub const CLIENT_PORT: u16 = 68;
/// How often the thread looks whether it should stop.
const POLL: Duration = Duration::from_millis(200);

#[derive(Debug, thiserror::Error)]
pub enum ResponderError {
    #[error("start the DHCP responder on {ifname}: {what}")]
    Socket {
        ifname: String,
        what: &'static str,
        #[source]
        source: io::Error,
    },
}

/// A running responder; stops (and joins its thread) when dropped.
pub struct Responder {
    ifname: String,
    ifindex: u32,
    leases: Arc<RwLock<Vec<Lease>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for Responder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Responder")
            .field("ifname", &self.ifname)
            .field("ifindex", &self.ifindex)
            .finish_non_exhaustive()
    }
}

/// The index of `ifname` in the calling thread's namespace, if it exists.
pub fn ifindex(ifname: &str) -> Option<u32> {
    let name = std::ffi::CString::new(ifname).ok()?;
    // SAFETY: `name` is a valid NUL-terminated string for the call.
    let index = unsafe { libc::if_nametoindex(name.as_ptr()) };
    (index != 0).then_some(index)
}

impl Responder {
    /// Binds port 67 on `ifname` and starts answering `leases`.
    pub fn start(ifname: &str, leases: Vec<Lease>) -> Result<Responder, ResponderError> {
        let fail = |what: &'static str| {
            let ifname = ifname.to_string();
            move |source| ResponderError::Socket {
                ifname,
                what,
                source,
            }
        };
        let index = ifindex(ifname)
            .ok_or_else(|| io::Error::from_raw_os_error(libc::ENODEV))
            .map_err(fail("find the interface"))?;
        let socket = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP))
            .map_err(fail("open a UDP socket"))?;
        // Several responders share port 67, one per interface.
        socket
            .set_reuse_address(true)
            .map_err(fail("set SO_REUSEADDR"))?;
        socket
            .set_broadcast(true)
            .map_err(fail("set SO_BROADCAST"))?;
        socket
            .bind_device(Some(ifname.as_bytes()))
            .map_err(fail("bind to the interface"))?;
        let any = SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, SERVER_PORT);
        socket
            .bind(&SocketAddr::V4(any).into())
            .map_err(fail("bind port 67"))?;
        socket
            .set_read_timeout(Some(POLL))
            .map_err(fail("set a read timeout"))?;
        let leases = Arc::new(RwLock::new(leases));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (leases, stop, ifname) = (leases.clone(), stop.clone(), ifname.to_string());
            std::thread::Builder::new()
                .name(format!("dhcp-{ifname}"))
                .spawn(move || serve(&socket, &ifname, &leases, &stop))
                .map_err(fail("spawn its thread"))?
        };
        tracing::info!(ifname, "DHCP responder started");
        Ok(Responder {
            ifname: ifname.to_string(),
            ifindex: index,
            leases,
            stop,
            thread: Some(thread),
        })
    }

    /// Replaces what is answered.
    pub fn set_leases(&self, leases: Vec<Lease>) {
        *self.leases.write().unwrap_or_else(PoisonError::into_inner) = leases;
    }

    pub fn leases(&self) -> Vec<Lease> {
        self.leases
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The index of the interface the socket is bound to: a link made
    /// again under the same name has another, and needs a new responder.
    pub fn ifindex(&self) -> u32 {
        self.ifindex
    }

    pub fn ifname(&self) -> &str {
        &self.ifname
    }
}

impl Drop for Responder {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        tracing::info!(ifname = %self.ifname, "DHCP responder stopped");
    }
}

fn serve(socket: &Socket, ifname: &str, leases: &RwLock<Vec<Lease>>, stop: &AtomicBool) {
    // One byte more than accepted, so an oversized datagram is seen as such.
    let mut buf = [MaybeUninit::<u8>::uninit(); MAX_MESSAGE_LEN + 1];
    while !stop.load(Ordering::Relaxed) {
        let len = match socket.recv(&mut buf) {
            Ok(len) => len,
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                continue;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => {
                tracing::warn!(ifname, "DHCP responder: receive: {e}");
                std::thread::sleep(POLL);
                continue;
            }
        };
        // SAFETY: `recv` initialised the first `len` bytes.
        let bytes: &[u8] = unsafe { std::slice::from_raw_parts(buf.as_ptr().cast(), len) };
        let request = match Message::decode(bytes) {
            Ok(request) => request,
            Err(e) => {
                tracing::debug!(ifname, "{e}");
                continue;
            }
        };
        let leases = leases
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        let Some(server) = leases
            .iter()
            .find(|l| l.mac == request.chaddr)
            .map(|l| l.router)
        else {
            tracing::debug!(ifname, mac = ?request.chaddr, "DHCP request from a MAC without a lease: ignored");
            continue;
        };
        let Some(reply) = answer(&request, &leases, server) else {
            continue;
        };
        let unicast = request.ciaddr != Ipv4Addr::UNSPECIFIED
            && request.flags & FLAG_BROADCAST == 0
            && reply.message_type() != Ok(MessageType::Nak);
        let to = if unicast {
            request.ciaddr
        } else {
            Ipv4Addr::BROADCAST
        };
        let dest = SocketAddrV4::new(to, CLIENT_PORT);
        let bytes = reply.encode();
        let sent = send_from(socket, &bytes, dest, server).or_else(|e| {
            // Not an address of this host (a lease of an older record):
            // better answered from another address than not at all.
            tracing::debug!(ifname, %server, "DHCP responder: answer from {server}: {e}");
            socket.send_to(&bytes, &SocketAddr::V4(dest).into())
        });
        match sent {
            Ok(_) => {
                tracing::debug!(ifname, kind = ?reply.message_type(), yiaddr = %reply.yiaddr, "DHCP answered")
            }
            Err(e) => tracing::warn!(ifname, "DHCP responder: send to {dest} from {server}: {e}"),
        }
    }
}

/// Send `bytes` to `dest` from `source`, the host's address in the network
/// (the server identifier the answer names). The socket is bound to the
/// wildcard address, as it must be to hear broadcasts; left to itself, the
/// kernel would pick the source from the host's other addresses (a routed
/// TAP has none of its own), such as the underlay's.
fn send_from(
    socket: &Socket,
    bytes: &[u8],
    dest: SocketAddrV4,
    source: Ipv4Addr,
) -> io::Result<usize> {
    use nix::sys::socket::{ControlMessage, MsgFlags, SockaddrIn, sendmsg};
    use std::os::fd::AsRawFd as _;
    let info = libc::in_pktinfo {
        ipi_ifindex: 0,
        ipi_spec_dst: libc::in_addr {
            s_addr: u32::from(source).to_be(),
        },
        ipi_addr: libc::in_addr { s_addr: 0 },
    };
    let to = SockaddrIn::from(dest);
    sendmsg(
        socket.as_raw_fd(),
        &[io::IoSlice::new(bytes)],
        &[ControlMessage::Ipv4PacketInfo(&info)],
        MsgFlags::empty(),
        Some(&to),
    )
    .map_err(io::Error::from)
}
