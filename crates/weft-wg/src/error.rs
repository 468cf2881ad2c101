//! Errors of both backends. Each message says what was being done and to
//! which interface; the OS error is kept as `#[source]` and is not repeated
//! in `Display` (the chain is printed once, at the top).

use std::io;
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum WgError {
    #[error("create {ifname}: an interface with that name already exists")]
    AlreadyExists { ifname: String },

    #[error("{ifname}: no such WireGuard interface")]
    NotFound { ifname: String },

    #[error("{ifname}: interface name must be 1 to 15 bytes without '/' or whitespace")]
    InvalidName { ifname: String },

    #[error("create TUN {ifname}")]
    Tun {
        ifname: String,
        #[source]
        source: io::Error,
    },

    #[error("bind UDP port {port} for {ifname}")]
    Bind {
        ifname: String,
        port: u16,
        #[source]
        source: io::Error,
    },

    #[error("set fwmark {fwmark} on the UDP socket of {ifname}")]
    Fwmark {
        ifname: String,
        fwmark: u32,
        #[source]
        source: io::Error,
    },

    #[error("start UAPI socket {path} for {ifname}")]
    Uapi {
        ifname: String,
        path: PathBuf,
        #[source]
        source: io::Error,
    },

    #[error("start engine threads for {ifname}")]
    Thread {
        ifname: String,
        #[source]
        source: io::Error,
    },

    #[error("{op} {ifname}")]
    Link {
        op: &'static str,
        ifname: String,
        #[source]
        source: io::Error,
    },

    #[error("{op} {ifname} over generic netlink")]
    Netlink {
        op: &'static str,
        ifname: String,
        #[source]
        source: io::Error,
    },
}

impl WgError {
    /// The errno a UAPI client gets for this error (positive; the wire
    /// carries it negated, as wireguard-go does).
    pub fn errno(&self) -> i32 {
        match self {
            WgError::AlreadyExists { .. } => libc::EEXIST,
            WgError::NotFound { .. } => libc::ENODEV,
            WgError::InvalidName { .. } => libc::EINVAL,
            WgError::Bind { source, .. } if source.kind() == io::ErrorKind::AddrInUse => {
                libc::EADDRINUSE
            }
            WgError::Tun { source, .. }
            | WgError::Bind { source, .. }
            | WgError::Fwmark { source, .. }
            | WgError::Uapi { source, .. }
            | WgError::Thread { source, .. }
            | WgError::Link { source, .. }
            | WgError::Netlink { source, .. } => source.raw_os_error().unwrap_or(libc::EIO),
        }
    }
}

/// Check an interface name the way the kernel does (`dev_valid_name`).
pub(crate) fn check_ifname(ifname: &str) -> Result<(), WgError> {
    let ok = !ifname.is_empty()
        && ifname.len() < libc::IFNAMSIZ
        && ifname != "."
        && ifname != ".."
        && !ifname
            .bytes()
            .any(|b| b == b'/' || b == b':' || b.is_ascii_whitespace() || b == 0);
    if ok {
        Ok(())
    } else {
        Err(WgError::InvalidName {
            ifname: ifname.to_owned(),
        })
    }
}

#[cfg(test)]
mod tests;
