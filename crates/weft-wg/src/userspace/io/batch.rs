//! A batch of received packets cut from one buffer.
//!
//! Receivers write straight into the batch's free room (one `read`, or one
//! `recvmmsg` for many datagrams) and then mark which bytes are packets;
//! each packet is a `BytesMut` sharing that buffer, so it can be handed to
//! the protocol core as an owned packet without a copy or an allocation.
//! Once every packet of a batch is gone, [`RecvBatch::clear`] takes the
//! whole buffer back; if some packet is still held elsewhere, a fresh
//! buffer is made and the old one goes away with its last packet.

use bytes::BytesMut;

pub struct RecvBatch<M> {
    /// The free room: what is left of the buffer after the packets cut so
    /// far. Invariant: the buffer was zero-filled when it was allocated, so
    /// all of it is initialised, and it is only ever written after that.
    room: BytesMut,
    /// No buffer yet (`room` is empty): [`RecvBatch::room`] allocates one.
    unallocated: bool,
    capacity: usize,
    tailroom: usize,
    packets: Vec<(BytesMut, M)>,
}

impl<M> RecvBatch<M> {
    /// A batch whose packets may be up to `capacity` bytes together; each
    /// packet keeps `tailroom` spare bytes after it, to grow into without
    /// allocating (WireGuard pads packets to a multiple of 16).
    ///
    /// The buffer is allocated the first time it is needed, not here: an
    /// engine that never carries a packet (a network with no traffic on a
    /// host with hundreds) then costs none of it.
    pub fn new(capacity: usize, tailroom: usize) -> Self {
        Self {
            room: BytesMut::new(),
            unallocated: true,
            capacity,
            tailroom,
            packets: Vec::new(),
        }
    }

    /// Start over: forget the packets and take the buffer back.
    pub fn clear(&mut self) {
        self.packets.clear();
        self.room.clear();
        if !self.unallocated && !self.room.try_reclaim(self.capacity) {
            // A packet still holds part of it: `room` allocates a new one
            // when it is needed.
            self.room = BytesMut::new();
            self.unallocated = true;
        }
    }

    /// The free room to receive into.
    pub fn room(&mut self) -> &mut [u8] {
        if self.unallocated {
            self.room = BytesMut::zeroed(self.capacity);
            self.unallocated = false;
        }
        let available = self.room.capacity();
        // SAFETY: `room` views a buffer that was zero-filled when allocated
        // (`BytesMut::zeroed` just above; `clear` only ever reclaims it or
        // drops it for an empty one), so every byte up to its capacity is
        // initialised.
        unsafe { self.room.set_len(available) };
        &mut self.room[..]
    }

    /// How many bytes [`RecvBatch::room`] has.
    pub fn room_len(&self) -> usize {
        if self.unallocated {
            // `room` allocates it whole.
            return self.capacity;
        }
        self.room.capacity()
    }

    /// Make the `len` bytes at `offset` in the room a packet; the bytes
    /// before `offset` are given up.
    pub fn take(&mut self, offset: usize, len: usize, meta: M) {
        self.room();
        drop(self.room.split_to(offset));
        let keep = (len + self.tailroom).min(self.room.len());
        let mut packet = self.room.split_to(keep);
        packet.truncate(len);
        self.packets.push((packet, meta));
    }

    /// Copy a packet in, from pieces to be put back to back. `false` (and
    /// nothing added) if it does not fit.
    pub fn push_copy(&mut self, pieces: &[&[u8]], meta: M) -> bool {
        let len: usize = pieces.iter().map(|p| p.len()).sum();
        let room = self.room();
        if room.len() < len {
            return false;
        }
        let mut at = 0;
        for piece in pieces {
            room[at..at + piece.len()].copy_from_slice(piece);
            at += piece.len();
        }
        self.take(0, len, meta);
        true
    }

    /// Take the first `len` bytes of the room out as scratch space that is
    /// not a packet (say, a super-packet to cut into packets that go into
    /// the room after it).
    pub fn split_scratch(&mut self, len: usize) -> BytesMut {
        self.room();
        self.room.split_to(len)
    }

    pub fn len(&self) -> usize {
        self.packets.len()
    }

    pub fn is_empty(&self) -> bool {
        self.packets.is_empty()
    }

    pub fn packets(&self) -> &[(BytesMut, M)] {
        &self.packets
    }

    /// Take the packets out (the buffer stays until [`RecvBatch::clear`]).
    pub fn drain(&mut self) -> std::vec::Drain<'_, (BytesMut, M)> {
        self.packets.drain(..)
    }
}

#[cfg(test)]
mod tests;
