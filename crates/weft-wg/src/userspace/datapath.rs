//! The two packet paths of an engine, a batch at a time:
//! - the TUN side: TUN → allowed-IPs lookup → pad → encrypt → UDP to the
//!   peer's endpoint;
//! - the UDP side: UDP → find the peer (handshake: by public key; otherwise
//!   by our session index) → decrypt → source check → TUN.
//!
//! Each side has a thread that waits for it, but a side is served by
//! whichever thread holds its lock: after serving its own side, a thread
//! also serves the other one if it is free. That matters for latency: the
//! stack answers a packet we write to the TUN (a ping, a TCP ACK) while the
//! write is still going on, and the writing thread sends the answer right
//! away instead of waking the TUN thread for it, a cross-CPU wake-up that
//! costs tens of microseconds on a VM. The lock also keeps each side in
//! order: datagrams leave in the order their packets came, decrypted
//! packets reach the TUN in the order they arrived.
//!
//! After handling packets a thread keeps polling both sides for a short
//! while (`EngineOptions::busy_poll`, yielding the CPU to anyone who
//! wants it) before it sleeps: the next packet of a flow usually comes
//! within it, and fewer sleeps mean fewer wake-ups and context switches.
//!
//! A batch is what is ready at once (with offloads, dozens of segments of
//! a TCP super-packet). The state lock is taken once per batch and a peer's
//! lock once per packet, so the other side and the timers are never held
//! up for a whole batch.
//!
//! No allocation per received packet: packets are cut from the batch's
//! buffer ([`RecvBatch`]), which comes back once they are gone. (gotatun
//! encrypts into a fresh buffer; that allocation is inside `Tunn`.)

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use gotatun::noise::handshake::parse_handshake_anon;
use gotatun::noise::{Tunn, TunnResult};
use gotatun::packet::{Packet, WgData, WgKind};
use gotatun::tun::MtuWatcher;
use weft_model::PublicKey;

use super::device::{Shared, State};
use super::io::{RecvBatch, ip_addresses, ip_packet_len, is_shutdown};
use super::peer::{DeviceKeys, Peer, PeerState, Slot};
use super::sides::{Outgoing, Side, TunSide, UdpSide, lock};

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
    /// The body of the thread that waits for side `home`.
    pub(crate) fn side_loop(&self, home: Side) {
        let mut backoff = Backoff::new();
        while !self.stopping() {
            let waited = match home {
                Side::Tun => self.tun.wait_readable(),
                // Picked up anew each time: the socket changes with the listen port.
                Side::Udp => self.udp().wait_readable(),
            };
            let served = waited.and_then(|()| self.serve(home, true));
            let count = match served {
                Ok(count) => {
                    backoff.succeeded();
                    count
                }
                // The TUN: stopping. UDP: stopping, or the socket was
                // replaced; the loop tells which.
                Err(e) if is_shutdown(&e) => {
                    if home == Side::Tun {
                        break;
                    }
                    continue;
                }
                Err(e) => {
                    if backoff.failed(self) {
                        let what = match home {
                            Side::Tun => "read from TUN",
                            Side::Udp => "receive from UDP",
                        };
                        tracing::warn!(ifname = %self.name, "{what}: {e}");
                    }
                    continue;
                }
            };
            // Whatever our work made ready on the other side, unless that
            // side's thread is at it already. Its errors are its own.
            let other = self.serve(home.other(), false).unwrap_or(0);
            if count + other > 0 {
                self.busy_poll();
            }
        }
    }

    /// Keep serving both sides while packets keep coming, up to
    /// `busy_poll` after the last one.
    fn busy_poll(&self) {
        if self.busy_poll.is_zero() {
            return;
        }
        let mut until = Instant::now() + self.busy_poll;
        while !self.stopping() && Instant::now() < until {
            let tun = self.serve(Side::Tun, false).unwrap_or(0);
            let udp = self.serve(Side::Udp, false).unwrap_or(0);
            if tun + udp > 0 {
                until = Instant::now() + self.busy_poll;
            } else {
                std::thread::yield_now();
            }
        }
    }

    /// Handle one batch of what is ready on `side`, if we get the side
    /// (`wait`: wait for it). Returns how many packets came in.
    fn serve(&self, side: Side, wait: bool) -> io::Result<usize> {
        match side {
            Side::Tun => {
                let Some(mut guard) = lock(&self.sides.tun, wait) else {
                    return Ok(0);
                };
                let TunSide { batch, out } = &mut *guard;
                batch.clear();
                self.tun.recv_batch(batch)?;
                let count = batch.len();
                if count > 0 {
                    self.encapsulate(batch, out);
                    out.flush(&*self.udp(), &self.name);
                }
                Ok(count)
            }
            Side::Udp => {
                let Some(mut guard) = lock(&self.sides.udp, wait) else {
                    return Ok(0);
                };
                let UdpSide {
                    batch,
                    to_tun,
                    replies,
                } = &mut *guard;
                let udp = self.udp();
                batch.clear();
                udp.recv_batch(batch)?;
                let count = batch.len();
                if count > 0 {
                    self.decapsulate(batch, to_tun, replies);
                    replies.flush(&*udp, &self.name);
                    if !to_tun.is_empty() {
                        if let Err(e) = self.tun.send_batch(to_tun) {
                            tracing::debug!(ifname = %self.name, "write to TUN: {e}");
                        }
                        to_tun.clear();
                    }
                }
                Ok(count)
            }
        }
    }

    fn mtu_watcher(&self) -> MtuWatcher {
        MtuWatcher::new(self.mtu.load(Ordering::Relaxed))
    }

    /// IP packets from the TUN: each encrypted for the peer that owns its
    /// destination (or queued while a handshake is started).
    fn encapsulate(&self, batch: &mut RecvBatch<()>, out: &mut Outgoing) {
        let state = self.read();
        let mtu = usize::from(self.mtu.load(Ordering::Relaxed));
        // Runs of packets go to one destination (the segments of a
        // super-packet): look each destination up once.
        let mut last: Option<(IpAddr, Option<&Arc<Peer>>)> = None;
        for (mut packet, ()) in batch.drain() {
            let Some((_, destination)) = ip_addresses(&packet) else {
                continue;
            };
            let peer = match last {
                Some((ip, peer)) if ip == destination => peer,
                _ => {
                    let peer = state.routes.lookup(destination);
                    last = Some((destination, peer));
                    peer
                }
            };
            let Some(peer) = peer else {
                tracing::trace!(ifname = %self.name, %destination, "no peer for destination");
                continue;
            };
            pad(&mut packet, mtu);
            let mut ps = peer.lock();
            let Some(endpoint) = ps.endpoint else {
                tracing::trace!(ifname = %self.name, peer = %peer.public_key, "peer has no endpoint");
                continue;
            };
            let PeerState { tunn, retiring, .. } = &mut *ps;
            let Some(tunn) = tunn.as_mut() else {
                continue;
            };
            let packet = match tunn.encapsulate_with_session(Packet::from_bytes(packet)) {
                Ok(data) => {
                    out.push(endpoint, data.into());
                    continue;
                }
                Err(packet) => packet,
            };
            // During a rotation, a session made under the retiring key
            // carries the packet while one under the new key is made.
            let packet = match retiring.as_mut() {
                Some(old) => match old.encapsulate_with_session(packet) {
                    Ok(data) => {
                        out.push(endpoint, data.into());
                        if let Some(initiation) = tunn.format_handshake_initiation(false) {
                            let initiation = WgKind::from(initiation);
                            state.register_index(&initiation, peer, Slot::Current);
                            out.push(endpoint, initiation.into());
                        }
                        continue;
                    }
                    Err(packet) => packet,
                },
                None => packet,
            };
            // No usable session. The tunnel queues the packet until
            // its handshake completes: give it a copy of its own,
            // so the batch buffer is not held that long.
            let owned = Packet::copy_from(&packet[..]);
            if let Some(initiation) = tunn.handle_outgoing_packet(owned, None) {
                state.register_index(&initiation, peer, Slot::Current);
                out.push(endpoint, initiation.into());
            }
            // A peer that knows only the old key answers this one.
            if let Some(initiation) = retiring
                .as_mut()
                .and_then(|old| old.format_handshake_initiation(false))
            {
                let initiation = WgKind::from(initiation);
                state.register_index(&initiation, peer, Slot::Retiring);
                out.push(endpoint, initiation.into());
            }
        }
    }

    /// Datagrams from the network: decrypted packets go to `to_tun`,
    /// answers (handshake responses, cookies, packets that waited for a
    /// session) to `replies`.
    fn decapsulate(
        &self,
        batch: &mut RecvBatch<SocketAddr>,
        to_tun: &mut Vec<BytesMut>,
        replies: &mut Outgoing,
    ) {
        let state = self.read();
        let Some(keys) = &state.keys else { return };
        let mut mtu = self.mtu_watcher();
        // Runs of data packets carry one session index (a GRO receive):
        // look each index up once.
        let mut last: Option<(u32, (Arc<Peer>, Slot))> = None;
        for (packet, source) in batch.drain() {
            // Checks mac1 of handshakes (under the retiring key too, during
            // a rotation) and answers with a cookie when under load.
            let (parsed, keys, to) = match verify(keys, state.retiring.as_ref(), source, packet) {
                Ok(verified) => verified,
                Err(Some(cookie)) => {
                    replies.push(source, cookie.into());
                    continue;
                }
                Err(None) => continue,
            };
            let found = match &parsed {
                WgKind::HandshakeInit(init) => {
                    parse_handshake_anon(&keys.secret, &keys.public, init)
                        .ok()
                        .and_then(|half| {
                            state
                                .peers
                                .get(&PublicKey(half.peer_static_public))
                                .map(|peer| (Arc::clone(peer), to))
                        })
                }
                WgKind::HandshakeResp(resp) => state.peer_by_index(resp.receiver_idx.get()),
                WgKind::CookieReply(cookie) => state.peer_by_index(cookie.receiver_idx.get()),
                WgKind::Data(data) => {
                    let index = data.header.receiver_idx.get();
                    match &last {
                        Some((cached, found)) if *cached == index => Some(found.clone()),
                        _ => {
                            let found = state.peer_by_index(index);
                            last = found.clone().map(|found| (index, found));
                            found
                        }
                    }
                }
            };
            let Some((peer, slot)) = found else { continue };
            let mut guard = peer.lock();
            let ps = &mut *guard;
            let tunn = match slot {
                Slot::Current => ps.tunn.as_mut(),
                Slot::Retiring => ps.retiring.as_mut(),
            };
            let Some(tunn) = tunn else { continue };
            let data_len = match &parsed {
                // The whole datagram: header, encrypted packet, tag.
                WgKind::Data(data) => Some(std::mem::size_of_val::<WgData>(data)),
                _ => None,
            };
            let inner = match tunn.handle_incoming_packet(parsed) {
                TunnResult::Done => continue,
                TunnResult::Err(e) => {
                    tracing::trace!(ifname = %self.name, peer = %peer.public_key, "dropped: {e:?}");
                    continue;
                }
                TunnResult::WriteToNetwork(reply) => {
                    state.register_index(&reply, &peer, slot);
                    replies.push(source, reply.into());
                    None
                }
                TunnResult::WriteToTunnel(inner) => {
                    if let Some(len) = data_len {
                        ps.rx_uncounted += len.saturating_sub(inner.len()) as u64;
                    }
                    Some(inner)
                }
            };
            // Authenticated: the peer is where this came from (roaming).
            ps.endpoint = Some(source);
            take_queued(&state, &peer, slot, tunn, &mut mtu, source, replies);
            if slot == Slot::Current && ps.retiring.is_some() {
                // The peer knows the new key: the old one is not needed
                // for it any more.
                ps.drop_retiring();
                tracing::debug!(ifname = %self.name, peer = %peer.public_key, "peer uses the new key");
            }
            drop(guard);
            if let Some(inner) = inner
                && let Some(packet) = self.accept(&state, &peer, inner)
            {
                to_tun.push(packet);
            }
        }
    }

    /// A decrypted packet, if it may go to the TUN: not a keepalive, and
    /// its source is routed to its sender. WireGuard's padding is cut off.
    fn accept(&self, state: &State, peer: &Arc<Peer>, mut inner: Packet) -> Option<BytesMut> {
        if inner.is_empty() {
            return None; // keepalive
        }
        let (Some((source, _)), Some(len)) = (ip_addresses(&inner), ip_packet_len(&inner)) else {
            tracing::debug!(ifname = %self.name, peer = %peer.public_key, "dropped: not an IP packet");
            return None;
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
            return None;
        }
        let mut bytes = std::mem::take(inner.buf_mut());
        bytes.truncate(len);
        Some(bytes)
    }
}

/// Packets queued while there was no session go out once there is one.
fn take_queued(
    state: &State,
    peer: &Arc<Peer>,
    slot: Slot,
    tunn: &mut Tunn,
    mtu: &mut MtuWatcher,
    to: SocketAddr,
    out: &mut Outgoing,
) {
    for packet in tunn.get_queued_packets(mtu) {
        state.register_index(&packet, peer, slot);
        out.push(to, packet.into());
    }
}

/// Parse a datagram and check a handshake's mac1 under the device's key,
/// then under the retiring one (a peer that has not learnt the new key
/// yet). Returns the packet with the keys it was sent to, or what to
/// answer (a cookie when under load) or `None` to drop it.
fn verify<'k>(
    keys: &'k DeviceKeys,
    retiring: Option<&'k DeviceKeys>,
    source: SocketAddr,
    packet: BytesMut,
) -> Result<(WgKind, &'k DeviceKeys, Slot), Option<WgKind>> {
    // A copy only while a key is retired, and only of initiations (type 1):
    // a response or cookie names its tunnel by index.
    let again = retiring
        .filter(|_| packet.first() == Some(&1))
        .map(|old| (old, packet.clone()));
    match keys
        .rate_limiter
        .verify_packet(source, Packet::from_bytes(packet))
    {
        Ok(parsed) => return Ok((parsed, keys, Slot::Current)),
        Err(TunnResult::WriteToNetwork(cookie)) => return Err(Some(cookie)),
        Err(_) => {}
    }
    let (old, packet) = again.ok_or(None)?;
    match old
        .rate_limiter
        .verify_packet(source, Packet::from_bytes(packet))
    {
        Ok(parsed) => Ok((parsed, old, Slot::Retiring)),
        Err(TunnResult::WriteToNetwork(cookie)) => Err(Some(cookie)),
        Err(_) => Err(None),
    }
}

/// Pad to a multiple of 16 bytes but not past the MTU, as WireGuard
/// specifies (it hides the exact length); the batch left room for this.
fn pad(packet: &mut BytesMut, mtu: usize) {
    let len = packet.len();
    let padded = len.next_multiple_of(16).min(mtu).max(len);
    packet.resize(padded, 0);
}
