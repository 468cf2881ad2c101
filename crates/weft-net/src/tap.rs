//! Persistent TAP devices for VMs: made here, opened later by the
//! hypervisor (QEMU, Cloud Hypervisor, Firecracker) by name.
//!
//! Made with the `TUNSETIFF` and `TUNSETPERSIST` ioctls on `/dev/net/tun`
//! rather than through a crate: they are two calls, and the tun crates
//! keep the fd open for I/O, which a persistent device for someone else
//! must not. Netlink cannot make a TAP (the tun driver has no `newlink`).
//!
//! Flags: `IFF_TAP | IFF_NO_PI | IFF_VNET_HDR`, what every hypervisor
//! opens its TAP with (an open with other flags fails with EINVAL), plus
//! `IFF_MULTI_QUEUE` when the VM uses more than one queue pair (the
//! hypervisor then opens the device once per queue).

use std::fs::{File, OpenOptions};
use std::io;
use std::os::fd::AsRawFd;

use crate::error::{NetError, Result};
use crate::link::MAX_IFNAME_LEN;

const TUN_DEVICE: &str = "/dev/net/tun";

/// How a TAP is made.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TapOptions {
    /// `IFF_MULTI_QUEUE`: the hypervisor opens one fd per queue pair.
    pub multi_queue: bool,
}

impl TapOptions {
    /// The flags `TUNSETIFF` gets, and a hypervisor must open it with.
    pub fn flags(&self) -> libc::c_int {
        let mut flags = libc::IFF_TAP | libc::IFF_NO_PI | libc::IFF_VNET_HDR;
        if self.multi_queue {
            flags |= libc::IFF_MULTI_QUEUE;
        }
        flags
    }
}

/// Creates the persistent TAP `name` in the calling thread's network
/// namespace (enter another one with [`crate::Netns::run`]). It stays
/// after this returns, down and without carrier until a hypervisor opens
/// it; delete it like any link. An existing link of that name is refused
/// (EEXIST) here first: the kernel would attach to an existing TAP of the
/// same flags instead of failing.
pub fn create_tap(name: &str, options: TapOptions) -> Result<()> {
    let op = format!("create TAP {name}");
    if name.is_empty() || name.len() > MAX_IFNAME_LEN || name.contains(['\0', '/']) {
        return Err(NetError::invalid(
            &op,
            format!("not a valid interface name (1 to {MAX_IFNAME_LEN} characters)"),
        ));
    }
    if link_exists(name) {
        return Err(NetError::os(
            &op,
            io::Error::from_raw_os_error(libc::EEXIST),
        ));
    }
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .open(TUN_DEVICE)
        .map_err(|e| NetError::os(format!("{op}: open {TUN_DEVICE}"), e))?;
    set_iff(&file, name, options.flags()).map_err(|e| NetError::os(&op, e))?;
    // SAFETY: TUNSETPERSIST takes its argument by value; the fd is open.
    let rc = unsafe { libc::ioctl(file.as_raw_fd(), libc::TUNSETPERSIST, 1 as libc::c_ulong) };
    if rc < 0 {
        return Err(NetError::os(
            format!("{op}: make it persistent"),
            io::Error::last_os_error(),
        ));
    }
    tracing::info!("{op}: done");
    Ok(())
}

/// Whether the calling thread's namespace has a link `name`: read from
/// `/proc/thread-self/net/dev`, which follows the thread's namespace
/// (`/sys/class/net` follows the mount's).
fn link_exists(name: &str) -> bool {
    std::fs::read_to_string("/proc/thread-self/net/dev")
        .map(|text| {
            text.lines()
                .filter_map(|line| line.split_once(':'))
                .any(|(ifname, _)| ifname.trim() == name)
        })
        .unwrap_or(false)
}

/// `TUNSETIFF`: make (or attach to) the device `name` with `flags`.
fn set_iff(file: &File, name: &str, flags: libc::c_int) -> io::Result<()> {
    // SAFETY: `ifreq` is plain old data (a name array and a union of
    // integers, arrays and pointers) for which all-zero bytes are valid.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    for (dst, src) in req.ifr_name.iter_mut().zip(name.bytes()) {
        *dst = src as libc::c_char;
    }
    req.ifr_ifru.ifru_flags = flags as libc::c_short;
    // SAFETY: TUNSETIFF reads and writes one `ifreq`, which `req` is and
    // which outlives the call; the fd is open.
    let rc = unsafe { libc::ioctl(file.as_raw_fd(), libc::TUNSETIFF, &mut req) };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

#[cfg(test)]
mod tests;
