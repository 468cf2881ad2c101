//! `sendmmsg` with UDP GSO and `recvmmsg` with UDP GRO: many datagrams per
//! system call, and runs of equal-sized datagrams to one peer as one
//! "super-datagram" the kernel cuts (`UDP_SEGMENT`) or glued (`UDP_GRO`).
//! nix wraps these calls but gives every message the same control data,
//! while each GSO message needs its own segment size; so this is libc.

use std::io;
use std::mem::{size_of, zeroed};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::os::fd::RawFd;

use socket2::SockAddr;

/// Most segments in one GSO send (the kernel's `UDP_MAX_SEGMENTS` has been
/// 64 since UDP GSO exists; later kernels allow more).
pub const MAX_GSO_SEGMENTS: usize = 64;
/// Most bytes in one GSO send: a UDP/IPv4 datagram can carry 65507.
const MAX_GSO_BYTES: usize = 65_000;
/// Messages per `recvmmsg`.
pub const MAX_RECV_MESSAGES: usize = 16;
/// Room per received message: a GRO super-datagram is at most 64 KiB.
pub const RECV_SLOT: usize = 65536;

/// Room for one `cmsghdr` with an `int` or `u16`, 8-byte aligned.
type Cmsg = [u64; 4];

/// One `sendmmsg` message in the making: which datagrams, and the segment
/// size if it is a GSO send of several.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Planned {
    pub first: usize,
    pub count: usize,
    pub segment: usize,
}

/// Split datagrams into messages: with GSO, runs of equal length (the last
/// of a run may be shorter) within the kernel's limits; without, one each.
pub fn plan_sends(lens: &[usize], gso: bool, out: &mut Vec<Planned>) {
    out.clear();
    let mut i = 0;
    while i < lens.len() {
        let segment = lens[i];
        let mut count = 1;
        let mut bytes = segment;
        if gso && segment > 0 {
            while i + count < lens.len()
                && count < MAX_GSO_SEGMENTS
                && bytes + lens[i + count] <= MAX_GSO_BYTES
                && lens[i + count] <= segment
            {
                bytes += lens[i + count];
                count += 1;
                if lens[i + count - 1] < segment {
                    break; // a shorter one ends the run
                }
            }
        }
        out.push(Planned {
            first: i,
            count,
            segment,
        });
        i += count;
    }
}

/// Send `packets` to `dst` as the `plan` says, starting at message
/// `start`. Returns how many messages the kernel took (at least one) or
/// the error of the first one.
pub fn sendmmsg(
    fd: RawFd,
    packets: &[&[u8]],
    plan: &[Planned],
    dst: &SockAddr,
) -> io::Result<usize> {
    let iovecs: Vec<libc::iovec> = packets
        .iter()
        .map(|p| libc::iovec {
            iov_base: p.as_ptr() as *mut libc::c_void,
            iov_len: p.len(),
        })
        .collect();
    let mut cmsgs: Vec<Cmsg> = vec![[0; 4]; plan.len()];
    // SAFETY: `mmsghdr` is plain data; all-zero is a valid empty message.
    let mut msgs: Vec<libc::mmsghdr> = (0..plan.len()).map(|_| unsafe { zeroed() }).collect();
    for ((msg, planned), cmsg) in msgs.iter_mut().zip(plan).zip(cmsgs.iter_mut()) {
        let hdr = &mut msg.msg_hdr;
        hdr.msg_name = dst.as_ptr() as *mut libc::c_void;
        hdr.msg_namelen = dst.len();
        hdr.msg_iov = iovecs[planned.first..].as_ptr() as *mut libc::iovec;
        hdr.msg_iovlen = planned.count;
        if planned.count > 1 {
            set_segment_size(hdr, cmsg, planned.segment as u16);
        }
    }
    // SAFETY: every message points at iovecs, buffers, the address and
    // control data that all live until this call returns; the count is the
    // length of `msgs`.
    let sent = unsafe { libc::sendmmsg(fd, msgs.as_mut_ptr(), msgs.len() as libc::c_uint, 0) };
    if sent < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(sent as usize)
}

/// Attach a `UDP_SEGMENT` control message to `hdr`, stored in `cmsg`.
fn set_segment_size(hdr: &mut libc::msghdr, cmsg: &mut Cmsg, segment: u16) {
    // SAFETY: CMSG_SPACE only computes a size.
    let space = unsafe { libc::CMSG_SPACE(size_of::<u16>() as libc::c_uint) } as usize;
    debug_assert!(space <= size_of::<Cmsg>());
    hdr.msg_control = cmsg.as_mut_ptr().cast();
    hdr.msg_controllen = space;
    // SAFETY: `hdr` has a control buffer of `space` bytes (8-byte aligned),
    // so CMSG_FIRSTHDR returns a pointer into it with room for a header
    // and a u16, which we write.
    unsafe {
        let c = libc::CMSG_FIRSTHDR(hdr);
        (*c).cmsg_level = libc::SOL_UDP;
        (*c).cmsg_type = libc::UDP_SEGMENT;
        (*c).cmsg_len = libc::CMSG_LEN(size_of::<u16>() as libc::c_uint) as usize;
        std::ptr::write_unaligned(libc::CMSG_DATA(c).cast::<u16>(), segment);
    }
}

/// One received message: where it is in the room, its length, its source
/// and the GRO segment size (0: a single datagram).
#[derive(Clone, Copy, Debug)]
pub struct Received {
    pub offset: usize,
    pub len: usize,
    pub source: Option<SocketAddr>,
    pub segment: usize,
    pub truncated: bool,
}

/// `recvmmsg` without waiting into `room`, one [`RECV_SLOT`] per message.
pub fn recvmmsg(fd: RawFd, room: &mut [u8], out: &mut Vec<Received>) -> io::Result<()> {
    out.clear();
    let slots = (room.len() / RECV_SLOT).min(MAX_RECV_MESSAGES);
    if slots == 0 {
        return Ok(());
    }
    let mut iovecs: Vec<libc::iovec> = room
        .chunks_exact_mut(RECV_SLOT)
        .take(slots)
        .map(|slot| libc::iovec {
            iov_base: slot.as_mut_ptr().cast(),
            iov_len: slot.len(),
        })
        .collect();
    // SAFETY: `sockaddr_storage` and `mmsghdr` are plain data for which
    // all-zero bytes are valid.
    let mut names: Vec<libc::sockaddr_storage> = (0..slots).map(|_| unsafe { zeroed() }).collect();
    let mut cmsgs: Vec<Cmsg> = vec![[0; 4]; slots];
    // SAFETY: as above.
    let mut msgs: Vec<libc::mmsghdr> = (0..slots).map(|_| unsafe { zeroed() }).collect();
    for (i, msg) in msgs.iter_mut().enumerate() {
        let hdr = &mut msg.msg_hdr;
        hdr.msg_name = (&mut names[i] as *mut libc::sockaddr_storage).cast();
        hdr.msg_namelen = size_of::<libc::sockaddr_storage>() as libc::socklen_t;
        hdr.msg_iov = &mut iovecs[i];
        hdr.msg_iovlen = 1;
        hdr.msg_control = cmsgs[i].as_mut_ptr().cast();
        hdr.msg_controllen = size_of::<Cmsg>();
    }
    // SAFETY: every message points at its own slot of `room`, address and
    // control buffer, all of which outlive the call; MSG_DONTWAIT keeps it
    // from blocking; the count is the length of `msgs`.
    let received = unsafe {
        libc::recvmmsg(
            fd,
            msgs.as_mut_ptr(),
            slots as libc::c_uint,
            libc::MSG_DONTWAIT,
            std::ptr::null_mut(),
        )
    };
    if received < 0 {
        return Err(io::Error::last_os_error());
    }
    for (i, msg) in msgs.iter().take(received as usize).enumerate() {
        let hdr = &msg.msg_hdr;
        out.push(Received {
            offset: i * RECV_SLOT,
            len: msg.msg_len as usize,
            source: socket_addr(&names[i], hdr.msg_namelen),
            segment: gro_segment(hdr),
            truncated: hdr.msg_flags & libc::MSG_TRUNC != 0,
        });
    }
    Ok(())
}

/// The `UDP_GRO` segment size the kernel attached, or 0.
fn gro_segment(hdr: &libc::msghdr) -> usize {
    // SAFETY: `hdr` was filled by recvmmsg, so its control buffer holds
    // `msg_controllen` bytes of well-formed cmsgs; CMSG_FIRSTHDR/NXTHDR
    // stay within them and return null at the end.
    unsafe {
        let mut c = libc::CMSG_FIRSTHDR(hdr);
        while !c.is_null() {
            if (*c).cmsg_level == libc::SOL_UDP && (*c).cmsg_type == libc::UDP_GRO {
                let size = std::ptr::read_unaligned(libc::CMSG_DATA(c).cast::<libc::c_int>());
                return usize::try_from(size).unwrap_or(0);
            }
            c = libc::CMSG_NXTHDR(hdr, c);
        }
    }
    0
}

/// A received source address; IPv4-mapped IPv6 shown as plain IPv4.
fn socket_addr(storage: &libc::sockaddr_storage, len: libc::socklen_t) -> Option<SocketAddr> {
    let len = len as usize;
    match libc::c_int::from(storage.ss_family) {
        libc::AF_INET if len >= size_of::<libc::sockaddr_in>() => {
            // SAFETY: the family says the storage holds a `sockaddr_in`,
            // which it is large and aligned enough for.
            let sin =
                unsafe { &*(storage as *const libc::sockaddr_storage).cast::<libc::sockaddr_in>() };
            let ip = Ipv4Addr::from(u32::from_be(sin.sin_addr.s_addr));
            Some(SocketAddrV4::new(ip, u16::from_be(sin.sin_port)).into())
        }
        libc::AF_INET6 if len >= size_of::<libc::sockaddr_in6>() => {
            // SAFETY: as above, for `sockaddr_in6`.
            let sin6 = unsafe {
                &*(storage as *const libc::sockaddr_storage).cast::<libc::sockaddr_in6>()
            };
            let ip = Ipv6Addr::from(sin6.sin6_addr.s6_addr);
            let port = u16::from_be(sin6.sin6_port);
            let addr = SocketAddr::V6(SocketAddrV6::new(ip, port, 0, sin6.sin6_scope_id));
            Some(SocketAddr::new(addr.ip().to_canonical(), port))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests;
