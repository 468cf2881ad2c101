//! The one error type of weft-net.
//!
//! Every variant carries `op`, a description of what was being done and to
//! what ("create veth fn-a1b2c3d4 (peer eth0 in /run/netns/c1)"). The
//! underlying cause is kept as `#[source]` and is *not* repeated in
//! `Display`, so printing the chain once at the top (`{:#}` with anyhow)
//! reads "create veth ...: File exists (os error 17)" without duplication.

use std::io;

use netlink_packet_core::DecodeError;

pub type Result<T> = std::result::Result<T, NetError>;

#[derive(Debug, thiserror::Error)]
pub enum NetError {
    /// A syscall or a kernel (netlink) request failed with an errno.
    #[error("{op}{}", kernel_message(.ext_ack))]
    Os {
        op: String,
        /// The kernel's extended-ACK text, when it sent one
        /// (e.g. "Unknown device type").
        ext_ack: Option<String>,
        #[source]
        source: io::Error,
    },
    /// The kernel's reply could not be decoded.
    #[error("{op}: cannot decode the kernel's reply")]
    Decode {
        op: String,
        #[source]
        source: DecodeError,
    },
    /// The request was refused before reaching the kernel, or something was
    /// not what it had to be (e.g. a path that is not a network namespace).
    #[error("{op}: {reason}")]
    Invalid { op: String, reason: String },
}

fn kernel_message(ext_ack: &Option<String>) -> String {
    match ext_ack {
        Some(msg) => format!(" (kernel says: {msg})"),
        None => String::new(),
    }
}

impl NetError {
    pub(crate) fn os(op: impl Into<String>, source: io::Error) -> NetError {
        NetError::Os {
            op: op.into(),
            ext_ack: None,
            source,
        }
    }

    pub(crate) fn invalid(op: impl Into<String>, reason: impl Into<String>) -> NetError {
        NetError::Invalid {
            op: op.into(),
            reason: reason.into(),
        }
    }

    /// What was being done when the error happened.
    pub fn op(&self) -> &str {
        match self {
            NetError::Os { op, .. }
            | NetError::Decode { op, .. }
            | NetError::Invalid { op, .. } => op,
        }
    }

    /// The errno, when the error came from the kernel.
    pub fn errno(&self) -> Option<i32> {
        match self {
            NetError::Os { source, .. } => source.raw_os_error(),
            _ => None,
        }
    }

    /// The object already exists (EEXIST).
    pub fn is_exists(&self) -> bool {
        self.errno() == Some(libc::EEXIST)
    }

    /// The object (link, address, route, namespace path) does not exist.
    pub fn is_not_found(&self) -> bool {
        matches!(
            self.errno(),
            Some(libc::ENODEV | libc::ENOENT | libc::ESRCH)
        )
    }

    /// The kernel cannot do this at all, e.g. a link kind whose module is
    /// missing (rtnetlink answers EOPNOTSUPP, "Unknown device type").
    pub fn is_not_supported(&self) -> bool {
        if self.errno() == Some(libc::EOPNOTSUPP) {
            return true;
        }
        match self {
            NetError::Os {
                ext_ack: Some(msg), ..
            } => {
                let msg = msg.to_ascii_lowercase();
                msg.contains("unknown link kind") || msg.contains("unknown device type")
            }
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests;
