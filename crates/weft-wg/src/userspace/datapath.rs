//! The two packet paths of an engine, each on its own thread:
//! - TUN → allowed-IPs lookup → encrypt → UDP to the peer's endpoint;
//! - UDP → find the peer (handshake: by public key; otherwise by our
//!   session index) → decrypt → source check → TUN.
//!
//! Receive buffers come from a small `PacketBufPool` and go back to it when
//! the packet is dropped, so reading allocates nothing per packet. (gotatun
//! encrypts into a fresh buffer; that allocation is inside `Tunn`.)

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use gotatun::noise::handshake::parse_handshake_anon;
use gotatun::noise::{Tunn, TunnResult};
use gotatun::packet::{Packet, PacketBufPool, WgKind};
use gotatun::tun::MtuWatcher;
use weft_model::PublicKey;

use super::device::{Shared, State};
use super::io::{UdpIo, ip_addresses, ip_packet_len, is_shutdown};
use super::peer::Peer;

/// Large enough for any IP packet a TUN can hand us, and any UDP datagram.
pub(crate) const MAX_PACKET: usize = 65536;
/// Buffers kept for reuse; a reader holds one at a time.
const POOL_BUFFERS: usize = 4;

/// Sleeps after I/O errors so a broken device cannot spin a core.
pub(crate) struct Backoff {
    delay: Duration,
}

impl Backoff {
    pub fn new() -> Self {
        Self {
            delay: Duration::ZERO,
        }
    }

    /// Note an error; `true` if it is worth logging (the first of a run).
    pub fn failed(&mut self, shared: &Shared) -> bool {
        let first = self.delay.is_zero();
        self.delay = (self.delay * 2).clamp(Duration::from_millis(5), Duration::from_secs(1));
        shared.sleep(self.delay);
        first
    }

    pub fn succeeded(&mut self) {
        self.delay = Duration::ZERO;
    }
}

impl Shared {
    pub(crate) fn tun_loop(&self) {
        let pool = PacketBufPool::<MAX_PACKET>::new(POOL_BUFFERS);
        let mut backoff = Backoff::new();
        while !self.stopping() {
            let mut packet = pool.get();
            match self.tun.recv(&mut packet) {
                Ok(n) => {
                    backoff.succeeded();
                    packet.truncate(n);
                    self.encapsulate(packet);
                }
                Err(e) if is_shutdown(&e) => break,
                Err(e) => {
                    if backoff.failed(self) {
                        tracing::warn!(ifname = %self.name, "read from TUN: {e}");
                    }
                }
            }
        }
    }

    pub(crate) fn udp_loop(&self) {
        let pool = PacketBufPool::<MAX_PACKET>::new(POOL_BUFFERS);
        let mut backoff = Backoff::new();
        let mut replies = Vec::new();
        while !self.stopping() {
            // Picked up anew each time: the socket changes with the listen port.
            let udp = self.udp();
            let mut packet = pool.get();
            match udp.recv_from(&mut packet) {
                Ok((n, source)) => {
                    backoff.succeeded();
                    packet.truncate(n);
                    self.decapsulate(packet, source, &*udp, &mut replies);
                }
                // Either stopping or the socket was replaced; the loop tells which.
                Err(e) if is_shutdown(&e) => {}
                Err(e) => {
                    if backoff.failed(self) {
                        tracing::warn!(ifname = %self.name, "receive from UDP: {e}");
                    }
                }
            }
        }
    }

    fn mtu_watcher(&self) -> MtuWatcher {
        MtuWatcher::new(self.mtu.load(std::sync::atomic::Ordering::Relaxed))
    }

    /// An IP packet from the TUN: send it, encrypted, to the peer that owns
    /// its destination (or start a handshake and queue it).
    fn encapsulate(&self, packet: Packet) {
        let Some((_, destination)) = ip_addresses(&packet) else {
            return;
        };
        let state = self.read();
        let Some(peer) = state.routes.lookup(destination) else {
            tracing::trace!(ifname = %self.name, %destination, "no peer for destination");
            return;
        };
        let mut ps = peer.lock();
        let Some(endpoint) = ps.endpoint else {
            tracing::trace!(ifname = %self.name, peer = %peer.public_key, "peer has no endpoint");
            return;
        };
        let Some(tunn) = ps.tunn.as_mut() else { return };
        let Some(out) = tunn.handle_outgoing_packet(packet, Some(&mut self.mtu_watcher())) else {
            return;
        };
        state.register_index(&out, peer);
        drop(ps);
        self.send_udp(&*self.udp(), Packet::from(out), endpoint);
    }

    fn send_udp(&self, udp: &dyn UdpIo, packet: Packet, to: SocketAddr) {
        if let Err(e) = udp.send_to(&packet, to) {
            tracing::debug!(ifname = %self.name, %to, "send UDP: {e}");
        }
    }

    /// A datagram from the network.
    fn decapsulate(
        &self,
        packet: Packet,
        source: SocketAddr,
        udp: &dyn UdpIo,
        replies: &mut Vec<Packet>,
    ) {
        let state = self.read();
        let Some(keys) = &state.keys else { return };
        // Checks mac1 of handshakes and answers with a cookie when under load.
        let parsed = match keys.rate_limiter.verify_packet(source, packet) {
            Ok(parsed) => parsed,
            Err(TunnResult::WriteToNetwork(cookie)) => {
                self.send_udp(udp, cookie.into(), source);
                return;
            }
            Err(_) => return,
        };
        let peer = match &parsed {
            WgKind::HandshakeInit(init) => parse_handshake_anon(&keys.secret, &keys.public, init)
                .ok()
                .and_then(|half| {
                    state
                        .peers
                        .get(&PublicKey(half.peer_static_public))
                        .cloned()
                }),
            WgKind::HandshakeResp(resp) => state.peer_by_index(resp.receiver_idx.get()),
            WgKind::CookieReply(cookie) => state.peer_by_index(cookie.receiver_idx.get()),
            WgKind::Data(data) => state.peer_by_index(data.header.receiver_idx.get()),
        };
        let Some(peer) = peer else { return };
        let mut guard = peer.lock();
        let ps = &mut *guard;
        let Some(tunn) = ps.tunn.as_mut() else { return };
        let result = tunn.handle_incoming_packet(parsed);
        let inner = match result {
            TunnResult::Done => return,
            TunnResult::Err(e) => {
                tracing::trace!(ifname = %self.name, peer = %peer.public_key, "dropped: {e:?}");
                return;
            }
            TunnResult::WriteToNetwork(reply) => {
                state.register_index(&reply, &peer);
                replies.push(reply.into());
                None
            }
            TunnResult::WriteToTunnel(inner) => Some(inner),
        };
        // Authenticated: the peer is where this came from (roaming).
        ps.endpoint = Some(source);
        self.take_queued(&state, &peer, tunn, replies);
        drop(guard);
        for reply in replies.drain(..) {
            self.send_udp(udp, reply, source);
        }
        if let Some(inner) = inner {
            self.deliver(&state, &peer, inner);
        }
    }

    /// Packets queued while there was no session go out once there is one.
    fn take_queued(&self, state: &State, peer: &Arc<Peer>, tunn: &mut Tunn, out: &mut Vec<Packet>) {
        for packet in tunn.get_queued_packets(&mut self.mtu_watcher()) {
            state.register_index(&packet, peer);
            out.push(packet.into());
        }
    }

    /// A decrypted packet: to the TUN if its source is routed to its sender.
    fn deliver(&self, state: &State, peer: &Arc<Peer>, mut inner: Packet) {
        if inner.is_empty() {
            return; // keepalive
        }
        let (Some((source, _)), Some(len)) = (ip_addresses(&inner), ip_packet_len(&inner)) else {
            tracing::debug!(ifname = %self.name, peer = %peer.public_key, "dropped: not an IP packet");
            return;
        };
        let allowed = state
            .routes
            .lookup(source)
            .is_some_and(|owner| Arc::ptr_eq(owner, peer));
        if !allowed {
            tracing::debug!(
                ifname = %self.name,
                peer = %peer.public_key,
                %source,
                "dropped: source not in the peer's allowed IPs"
            );
            return;
        }
        // Drop WireGuard's padding.
        inner.truncate(len);
        if let Err(e) = self.tun.send(&inner) {
            tracing::debug!(ifname = %self.name, "write to TUN: {e}");
        }
    }
}
