//! Running one network's responder on UDP and TCP.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hickory_server::Server;
use socket2::{Domain, Protocol, Socket, Type};
use tokio::net::{TcpListener, UdpSocket};
use tracing::{info, warn};

use crate::error::DnsError;
use crate::forward::Forwarder;
use crate::handler::Responder;
use crate::zone::Zone;

/// How many times to look for a port free on both UDP and TCP when asked
/// to bind port 0.
const PORT_ATTEMPTS: usize = 16;

/// Outgoing answers buffered per TCP connection.
const TCP_RESPONSE_BUFFER: usize = 32;

/// Tunables of a responder; [`DnsOptions::default`] fits weft's networks.
#[derive(Clone, Debug)]
pub struct DnsOptions {
    /// TTL of answers from the zone, and of its negative answers. Short:
    /// workloads come and go, and their addresses with them.
    pub ttl: u32,
    /// A TCP connection that sends no query for this long is closed. Each
    /// connection has its own task, so an idle (or malicious) one never
    /// delays anyone else (CVE-2024-8418); this only bounds how long it holds
    /// a socket.
    pub tcp_idle_timeout: Duration,
    /// How long to wait for each upstream before trying the next.
    pub upstream_timeout: Duration,
    /// Forwarded queries in flight at once; past that, SERVFAIL at once.
    pub max_forwarded: usize,
    /// Bind even when the address is not (yet) on any interface
    /// (IP_FREEBIND): the responder starts answering as soon as the address
    /// appears. Off by default, so a wrong address is an error at start.
    pub freebind: bool,
}

impl Default for DnsOptions {
    fn default() -> Self {
        DnsOptions {
            ttl: 5,
            tcp_idle_timeout: Duration::from_secs(10),
            upstream_timeout: Duration::from_secs(2),
            max_forwarded: 512,
            freebind: false,
        }
    }
}

/// Starts DNS responders.
#[derive(Debug)]
pub struct DnsServer;

/// A running responder; [`DnsHandle::stop`] it to release its sockets.
/// Dropping the handle stops it too (its tasks are aborted), but without
/// waiting for the sockets to be closed.
pub struct DnsHandle {
    server: Server<Responder>,
    local_addr: SocketAddr,
    zone: Arc<Zone>,
}

impl std::fmt::Debug for DnsHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DnsHandle")
            .field("local_addr", &self.local_addr)
            .field("domain", &self.zone.domain())
            .finish_non_exhaustive()
    }
}

impl DnsServer {
    /// Listens on UDP and TCP `bind` (e.g. the network's gateway address
    /// `10.42.1.1:53` on this host) and answers from `zone`. Names outside
    /// the zone go to `upstream` (tried in order; the host's resolvers, see
    /// [`crate::host_upstreams`]); with `None` — internal networks — they
    /// are never forwarded and get REFUSED. Port 0 picks a port free for
    /// both protocols. Must be called inside a Tokio runtime.
    pub async fn start(
        bind: SocketAddr,
        zone: Arc<Zone>,
        upstream: Option<Vec<SocketAddr>>,
    ) -> Result<DnsHandle, DnsError> {
        DnsServer::start_with(bind, zone, upstream, DnsOptions::default()).await
    }

    /// [`DnsServer::start`] with explicit options.
    pub async fn start_with(
        bind: SocketAddr,
        zone: Arc<Zone>,
        upstream: Option<Vec<SocketAddr>>,
        options: DnsOptions,
    ) -> Result<DnsHandle, DnsError> {
        let (udp, tcp, local_addr) = bind_both(bind, options.freebind)?;
        let forwarder = upstream.map(|upstreams| {
            // Forwarding to ourselves would loop until every query times out.
            let upstreams: Vec<SocketAddr> =
                upstreams.into_iter().filter(|u| *u != local_addr).collect();
            if upstreams.is_empty() {
                warn!(%local_addr, "no upstream resolver: names outside the zone get SERVFAIL");
            }
            Forwarder::new(upstreams, options.upstream_timeout, options.max_forwarded)
        });
        let forwarding = forwarder.is_some();
        let responder = Responder {
            zone: Arc::clone(&zone),
            forwarder,
            ttl: options.ttl,
        };
        let mut server = Server::new(responder);
        server.register_socket(udp);
        server.register_listener(tcp, options.tcp_idle_timeout, TCP_RESPONSE_BUFFER);
        info!(%local_addr, domain = zone.domain(), forwarding, "dns responder started");
        Ok(DnsHandle {
            server,
            local_addr,
            zone,
        })
    }
}

impl DnsHandle {
    /// Stops answering and closes both sockets (and every TCP connection);
    /// when it returns, the address can be bound again.
    pub async fn stop(mut self) {
        if let Err(error) = self.server.shutdown_gracefully().await {
            warn!(local_addr = %self.local_addr, %error, "dns responder stopped with an error");
        }
        info!(local_addr = %self.local_addr, "dns responder stopped");
    }

    /// The address served, on UDP and TCP alike (the real port when 0 was
    /// asked for).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The zone answered from.
    pub fn zone(&self) -> &Arc<Zone> {
        &self.zone
    }
}

/// A UDP socket and a TCP listener on the same address and port.
fn bind_both(
    bind: SocketAddr,
    freebind: bool,
) -> Result<(UdpSocket, TcpListener, SocketAddr), DnsError> {
    let attempts = if bind.port() == 0 { PORT_ATTEMPTS } else { 1 };
    let mut last_error = None;
    for _ in 0..attempts {
        let udp = udp_socket(bind, freebind).map_err(|e| DnsError::socket("bind udp", bind, e))?;
        let local_addr = udp
            .local_addr()
            .map_err(|e| DnsError::socket("bind udp", bind, e))?;
        match tcp_listener(local_addr, freebind) {
            Ok(tcp) => return Ok((udp, tcp, local_addr)),
            // Port 0: the port the kernel gave UDP may be taken on TCP; try
            // another.
            Err(e) if e.kind() == io::ErrorKind::AddrInUse && bind.port() == 0 => {
                last_error = Some(DnsError::socket("bind tcp", local_addr, e));
            }
            Err(e) => return Err(DnsError::socket("bind tcp", local_addr, e)),
        }
    }
    Err(last_error.expect("at least one attempt was made"))
}

fn new_socket(
    addr: SocketAddr,
    kind: Type,
    protocol: Protocol,
    freebind: bool,
) -> io::Result<Socket> {
    let socket = Socket::new(Domain::for_address(addr), kind, Some(protocol))?;
    if freebind {
        match addr {
            SocketAddr::V4(_) => socket.set_freebind_v4(true)?,
            SocketAddr::V6(_) => socket.set_freebind_v6(true)?,
        }
    }
    if addr.is_ipv6() {
        // [::]:53 must not also take 0.0.0.0:53 from someone else.
        socket.set_only_v6(true)?;
    }
    socket.set_nonblocking(true)?;
    Ok(socket)
}

fn udp_socket(addr: SocketAddr, freebind: bool) -> io::Result<UdpSocket> {
    // No SO_REUSEADDR on UDP: it would let a second responder bind the same
    // address and silently take half the queries.
    let socket = new_socket(addr, Type::DGRAM, Protocol::UDP, freebind)?;
    socket.bind(&addr.into())?;
    UdpSocket::from_std(socket.into())
}

fn tcp_listener(addr: SocketAddr, freebind: bool) -> io::Result<TcpListener> {
    let socket = new_socket(addr, Type::STREAM, Protocol::TCP, freebind)?;
    // So a restart can listen again while the old connections sit in
    // TIME_WAIT.
    socket.set_reuse_address(true)?;
    socket.bind(&addr.into())?;
    socket.listen(1024)?;
    TcpListener::from_std(socket.into())
}
