//! Errors of the DNS crate: each says what was being done and to what; an
//! underlying cause is kept as `#[source]` and not repeated in `Display`.

use std::io;
use std::net::SocketAddr;

/// What went wrong while setting up a zone or a DNS server.
#[derive(Debug, thiserror::Error)]
pub enum DnsError {
    /// A domain or a name that cannot be served (not a valid DNS name, or a
    /// record name that is not a single label).
    #[error("{what} {value:?}: {why}")]
    InvalidName {
        what: &'static str,
        value: String,
        why: String,
    },

    /// A socket could not be set up.
    #[error("{action} {addr}")]
    Socket {
        action: &'static str,
        addr: SocketAddr,
        #[source]
        source: io::Error,
    },
}

impl DnsError {
    pub(crate) fn invalid_name(what: &'static str, value: &str, why: impl Into<String>) -> Self {
        DnsError::InvalidName {
            what,
            value: value.to_owned(),
            why: why.into(),
        }
    }

    pub(crate) fn socket(action: &'static str, addr: SocketAddr, source: io::Error) -> Self {
        DnsError::Socket {
            action,
            addr,
            source,
        }
    }
}

#[cfg(test)]
mod tests;
