//! The real TUN device: `/dev/net/tun` with `IFF_TUN | IFF_NO_PI`, and when
//! the kernel allows, `IFF_VNET_HDR` with checksum, TSO and USO offloads
//! (`TUNSETOFFLOAD`).
//!
//! With offloads, the stack hands us TCP/UDP super-packets of up to 64 KiB
//! (one read instead of ~45) with partial checksums, which
//! [`super::offload::gso`] cuts into ordinary packets; and we hand it
//! coalesced super-packets ([`super::offload::gro`]) in one `writev` each.
//! Without them (old kernels, or [`Tun::create_without_offloads`]) it is
//! one packet per read and per write.
//!
//! Opened directly with the `TUNSETIFF` ioctl rather than through a crate:
//! it is a few lines and keeps the fd and the offload negotiation under
//! our control.

use std::fs::{File, OpenOptions};
use std::io::{self, IoSlice, Read};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};

use bytes::BytesMut;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::eventfd::{EfdFlags, EventFd};
use nix::sys::socket::{AddressFamily, SockFlag, SockType, socket};

use super::io::{OffloadCounters, RecvBatch, TunIo, shutdown_error};
use super::offload::gro::{self, Coalescer};
use super::offload::{VNET_HDR_LEN, VnetHdr, complete_checksum, gso};

/// The largest read: a 64 KiB super-packet behind its `virtio_net_hdr`.
const MAX_READ: usize = VNET_HDR_LEN + 65536;
/// Room a read needs in a batch: the super-packet itself, plus its
/// segments with their repeated headers and padding room.
const ROOM_PER_READ: usize = 3 * MAX_READ;
/// Stop reading more into a batch after this many packets.
const MAX_BATCH_PACKETS: usize = 512;
/// Most pieces one coalesced write has: the header and every segment.
const MAX_WRITE_PIECES: usize = 1 + gro::MAX_SEGMENTS;

/// What the kernel agreed to.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Offloads {
    /// Packets carry a `virtio_net_hdr`.
    pub vnet_hdr: bool,
    /// TCP super-packets both ways.
    pub tso: bool,
    /// UDP super-packets both ways.
    pub uso: bool,
}

pub struct Tun {
    file: File,
    name: String,
    offloads: Offloads,
    /// Readable once `shutdown` was called.
    wake: EventFd,
    /// A socket in the TUN's network namespace, for interface ioctls.
    control: OwnedFd,
    /// Plans coalesced writes; one writer at a time.
    coalescer: Mutex<Coalescer>,
    super_packets: AtomicU64,
    coalesced_writes: AtomicU64,
}

fn ifreq_for(name: &str) -> io::Result<libc::ifreq> {
    if name.is_empty() || name.len() >= libc::IFNAMSIZ || name.contains('\0') {
        return Err(io::Error::from_raw_os_error(libc::EINVAL));
    }
    // SAFETY: `ifreq` is plain old data (a name array and a union of
    // integers, arrays and pointers) for which all-zero bytes are valid.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    for (dst, src) in req.ifr_name.iter_mut().zip(name.bytes()) {
        *dst = src as libc::c_char;
    }
    Ok(req)
}

/// `TUNSETIFF`: attach the fd to a (new) interface of that name.
fn set_iff(file: &File, name: &str, flags: libc::c_int) -> io::Result<()> {
    let mut req = ifreq_for(name)?;
    req.ifr_ifru.ifru_flags = flags as libc::c_short;
    // SAFETY: TUNSETIFF reads and writes one `ifreq`, which `req` is and
    // which outlives the call; the fd is open.
    let rc = unsafe { libc::ioctl(file.as_raw_fd(), libc::TUNSETIFF, &mut req) };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// `TUNSETOFFLOAD`: what the kernel may hand us (and so what we may hand it).
fn set_offload(file: &File, flags: libc::c_uint) -> io::Result<()> {
    // SAFETY: TUNSETOFFLOAD takes its argument by value; the fd is open.
    let rc = unsafe {
        libc::ioctl(
            file.as_raw_fd(),
            libc::TUNSETOFFLOAD,
            libc::c_ulong::from(flags),
        )
    };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Ask for the most the kernel gives: TSO and USO (Linux 6.2+), then TSO
/// only; checksum offload comes with either.
fn negotiate(file: &File) -> Offloads {
    let tso = libc::TUN_F_CSUM | libc::TUN_F_TSO4 | libc::TUN_F_TSO6 | libc::TUN_F_TSO_ECN;
    let uso = libc::TUN_F_USO4 | libc::TUN_F_USO6;
    if set_offload(file, tso | uso).is_ok() {
        return Offloads {
            vnet_hdr: true,
            tso: true,
            uso: true,
        };
    }
    if set_offload(file, tso).is_ok() {
        return Offloads {
            vnet_hdr: true,
            tso: true,
            uso: false,
        };
    }
    Offloads {
        vnet_hdr: true,
        ..Offloads::default()
    }
}

impl Tun {
    /// Create the TUN interface `name` in the calling thread's network
    /// namespace, with the offloads the kernel supports. It is down and
    /// goes away when this is dropped.
    pub fn create(name: &str) -> io::Result<Self> {
        Self::open(name, true)
    }

    /// As [`Tun::create`], but one plain packet per read and write.
    pub fn create_without_offloads(name: &str) -> io::Result<Self> {
        Self::open(name, false)
    }

    fn open(name: &str, offload: bool) -> io::Result<Self> {
        let open = || {
            OpenOptions::new()
                .read(true)
                .write(true)
                .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC)
                .open("/dev/net/tun")
        };
        let plain = libc::IFF_TUN | libc::IFF_NO_PI;
        let mut file = open()?;
        let mut offloads = Offloads::default();
        if offload {
            match set_iff(&file, name, plain | libc::IFF_VNET_HDR) {
                Ok(()) => offloads = negotiate(&file),
                Err(e) => {
                    tracing::debug!(ifname = name, "TUN without vnet headers ({e})");
                    // A fd that failed TUNSETIFF may not be reused.
                    file = open()?;
                    set_iff(&file, name, plain)?;
                }
            }
        } else {
            set_iff(&file, name, plain)?;
        }
        tracing::debug!(ifname = name, ?offloads, "TUN created");
        let wake = EventFd::from_flags(EfdFlags::EFD_CLOEXEC | EfdFlags::EFD_NONBLOCK)?;
        let control = socket(
            AddressFamily::Inet,
            SockType::Datagram,
            SockFlag::SOCK_CLOEXEC,
            None,
        )?;
        Ok(Self {
            file,
            name: name.to_owned(),
            offloads,
            wake,
            control,
            coalescer: Mutex::new(Coalescer::new(offloads.uso)),
            super_packets: AtomicU64::new(0),
            coalesced_writes: AtomicU64::new(0),
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn offloads(&self) -> Offloads {
        self.offloads
    }

    /// Add what one read returned (`len` bytes at the start of the room)
    /// to the batch as IP packets.
    fn take_read(&self, batch: &mut RecvBatch<()>, len: usize) {
        if !self.offloads.vnet_hdr {
            batch.take(0, len, ());
            return;
        }
        let Some(hdr) = VnetHdr::decode(&batch.room()[..len]) else {
            return;
        };
        let is_super = hdr.gso_type != super::offload::GSO_NONE && hdr.gso_size != 0;
        if !is_super {
            let packet = &mut batch.room()[VNET_HDR_LEN..len];
            if hdr.needs_csum() && !complete_checksum(&hdr, packet) {
                tracing::debug!(ifname = %self.name, ?hdr, "dropped a TUN packet with bad checksum offsets");
                return;
            }
            batch.take(VNET_HDR_LEN, len - VNET_HDR_LEN, ());
            return;
        }
        self.super_packets.fetch_add(1, Ordering::Relaxed);
        // The super-packet stays where it was read; its segments go after it.
        let mut raw = batch.split_scratch(len);
        let mut dropped = 0usize;
        let result = gso::split(&hdr, &mut raw[VNET_HDR_LEN..], &mut |headers, payload| {
            if !batch.push_copy(&[headers, payload], ()) {
                dropped += 1;
            }
        });
        if let Err(e) = result {
            tracing::debug!(ifname = %self.name, ?hdr, "dropped a TUN packet: {e}");
        }
        if dropped > 0 {
            tracing::debug!(ifname = %self.name, dropped, "segments did not fit the batch");
        }
    }

    /// Write one packet or super-packet: `pieces` back to back.
    fn write_pieces(&self, pieces: &[IoSlice<'_>]) -> io::Result<()> {
        loop {
            match nix::sys::uio::writev(&self.file, pieces) {
                Ok(_) => return Ok(()),
                Err(nix::errno::Errno::EINTR) => continue,
                Err(e) => return Err(e.into()),
            }
        }
    }
}

impl TunIo for Tun {
    fn wait_readable(&self) -> io::Result<()> {
        loop {
            let mut fds = [
                PollFd::new(self.file.as_fd(), PollFlags::POLLIN),
                PollFd::new(self.wake.as_fd(), PollFlags::POLLIN),
            ];
            match poll(&mut fds, PollTimeout::NONE) {
                Ok(_) => {}
                Err(nix::errno::Errno::EINTR) => continue,
                Err(e) => return Err(e.into()),
            }
            if fds[1].any().unwrap_or(false) {
                return Err(shutdown_error());
            }
            if fds[0].any().unwrap_or(false) {
                return Ok(());
            }
        }
    }

    fn recv_batch(&self, batch: &mut RecvBatch<()>) -> io::Result<()> {
        let start = batch.len();
        while batch.room_len() >= ROOM_PER_READ && batch.len() < MAX_BATCH_PACKETS {
            let room = &mut batch.room()[..MAX_READ];
            match (&self.file).read(room) {
                Ok(0) => break,
                Ok(len) => self.take_read(batch, len),
                // Drained (or down: a down TUN has nothing to read).
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                // Report an error only when it kept us from reading anything.
                Err(e) if batch.len() == start => return Err(e),
                Err(_) => break,
            }
        }
        Ok(())
    }

    fn send_batch(&self, packets: &mut [BytesMut]) -> io::Result<()> {
        let mut first_error = None;
        let mut note = |result: io::Result<()>| {
            if let Err(e) = result {
                first_error.get_or_insert(e);
            }
        };
        if !self.offloads.vnet_hdr {
            for packet in packets.iter() {
                note(self.write_pieces(&[IoSlice::new(packet)]));
            }
            return first_error.map_or(Ok(()), Err);
        }
        let empty = VnetHdr::default().encode();
        if !self.offloads.tso {
            for packet in packets.iter() {
                note(self.write_pieces(&[IoSlice::new(&empty), IoSlice::new(packet)]));
            }
            return first_error.map_or(Ok(()), Err);
        }
        let mut coalescer = self
            .coalescer
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        coalescer.plan(packets);
        for group in coalescer.groups() {
            let hdr = coalescer.finish(group, &mut packets[group.head]).encode();
            let mut pieces = [IoSlice::new(&[]); MAX_WRITE_PIECES];
            pieces[0] = IoSlice::new(&hdr);
            let mut n = 1;
            for member in coalescer.members(group) {
                let bytes = &packets[member][..];
                let skip = if member == group.head {
                    0
                } else {
                    group.header_len
                };
                pieces[n] = IoSlice::new(&bytes[skip..]);
                n += 1;
            }
            note(self.write_pieces(&pieces[..n]));
            if group.count > 1 {
                self.coalesced_writes.fetch_add(1, Ordering::Relaxed);
            }
        }
        first_error.map_or(Ok(()), Err)
    }

    fn mtu(&self) -> io::Result<u16> {
        let mut req = ifreq_for(&self.name)?;
        // SAFETY: SIOCGIFMTU reads the name from and writes the MTU into the
        // `ifreq` we pass, which outlives the call; the socket is open.
        let rc = unsafe { libc::ioctl(self.control.as_raw_fd(), libc::SIOCGIFMTU, &mut req) };
        if rc < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: after a successful SIOCGIFMTU the union holds the MTU.
        let mtu = unsafe { req.ifr_ifru.ifru_mtu };
        Ok(u16::try_from(mtu).unwrap_or(u16::MAX))
    }

    fn counters(&self) -> OffloadCounters {
        OffloadCounters {
            tun_super_packets: self.super_packets.load(Ordering::Relaxed),
            tun_coalesced_writes: self.coalesced_writes.load(Ordering::Relaxed),
            ..OffloadCounters::default()
        }
    }

    fn shutdown(&self) {
        let _ = self.wake.write(1);
    }
}
