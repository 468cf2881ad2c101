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
mod tests {
    use std::error::Error as _;

    use super::*;

    fn os_error(errno: i32) -> NetError {
        NetError::os(
            "create veth a (peer b)",
            io::Error::from_raw_os_error(errno),
        )
    }

    #[test]
    fn classifies_errnos() {
        assert!(os_error(libc::EEXIST).is_exists());
        assert!(!os_error(libc::EEXIST).is_not_found());
        for errno in [libc::ENODEV, libc::ENOENT, libc::ESRCH] {
            assert!(os_error(errno).is_not_found(), "errno {errno}");
        }
        assert!(os_error(libc::EOPNOTSUPP).is_not_supported());
        assert!(!os_error(libc::EPERM).is_not_supported());
        assert_eq!(os_error(libc::EPERM).errno(), Some(libc::EPERM));
    }

    #[test]
    fn unknown_link_kind_message_counts_as_not_supported() {
        let err = NetError::Os {
            op: "create wireguard wg0".into(),
            ext_ack: Some("Unknown device type".into()),
            source: io::Error::from_raw_os_error(libc::EINVAL),
        };
        assert!(err.is_not_supported());
        assert_eq!(
            err.to_string(),
            "create wireguard wg0 (kernel says: Unknown device type)"
        );
    }

    #[test]
    fn invalid_has_no_errno_and_classifies_as_nothing() {
        let err = NetError::invalid("open netns /tmp/x", "not a network namespace");
        assert_eq!(err.errno(), None);
        assert!(!err.is_exists() && !err.is_not_found() && !err.is_not_supported());
        assert_eq!(
            err.to_string(),
            "open netns /tmp/x: not a network namespace"
        );
    }

    #[test]
    fn display_names_the_operation_and_source_keeps_the_errno() {
        let err = os_error(libc::EEXIST);
        assert_eq!(err.to_string(), "create veth a (peer b)");
        let source = err.source().expect("source kept");
        assert!(source.to_string().contains("os error 17"), "{source}");
    }
}
