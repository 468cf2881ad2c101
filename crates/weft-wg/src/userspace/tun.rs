//! The real TUN device: `/dev/net/tun` with `IFF_TUN | IFF_NO_PI`, one IP
//! packet per read/write.
//!
//! Opened directly with the `TUNSETIFF` ioctl rather than through a crate:
//! it is a few lines, keeps the fd under our control for poll()-based
//! shutdown, and leaves room for `IFF_VNET_HDR` offloads later.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt;

use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::eventfd::{EfdFlags, EventFd};
use nix::sys::socket::{AddressFamily, SockFlag, SockType, socket};

use super::io::{TunIo, shutdown_error};

pub struct Tun {
    file: File,
    name: String,
    /// Readable once `shutdown` was called.
    wake: EventFd,
    /// A socket in the TUN's network namespace, for interface ioctls.
    control: OwnedFd,
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

impl Tun {
    /// Create the TUN interface `name` in the calling thread's network
    /// namespace. It is down and goes away when this is dropped.
    pub fn create(name: &str) -> io::Result<Self> {
        let mut req = ifreq_for(name)?;
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC)
            .open("/dev/net/tun")?;
        req.ifr_ifru.ifru_flags = (libc::IFF_TUN | libc::IFF_NO_PI) as libc::c_short;
        // SAFETY: TUNSETIFF reads and writes one `ifreq`, which `req` is and
        // which outlives the call; the fd is open.
        let rc = unsafe { libc::ioctl(file.as_raw_fd(), libc::TUNSETIFF, &mut req) };
        if rc < 0 {
            return Err(io::Error::last_os_error());
        }
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
            wake,
            control,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Wait until the TUN is readable; `Err(shutdown)` once shut down.
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
}

impl TunIo for Tun {
    fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            self.wait_readable()?;
            match (&self.file).read(buf) {
                // A down interface has nothing to read: keep waiting.
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                other => return other,
            }
        }
    }

    fn send(&self, packet: &[u8]) -> io::Result<()> {
        // A TUN write takes the whole packet or fails.
        (&self.file).write(packet).map(drop)
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

    fn shutdown(&self) {
        let _ = self.wake.write(1);
    }
}
