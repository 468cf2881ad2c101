//! Errors of the firewall crate: each says what was being done and to what.

use std::io;

/// What went wrong while building or applying weft's nftables ruleset.
#[derive(Debug, thiserror::Error)]
pub enum FirewallError {
    /// The description of the networks cannot be turned into a safe ruleset
    /// (a bad name, two networks sharing an interface or overlapping subnets).
    #[error("build nftables ruleset (table inet weft): {what}: {why}")]
    Invalid { what: String, why: String },

    /// `nft` (or `nsenter`) could not be run at all.
    #[error("{action} (table inet weft): run {program}")]
    Spawn {
        action: &'static str,
        program: String,
        #[source]
        source: io::Error,
    },

    /// `nft` ran and refused; `stderr` is its own message.
    #[error("{action} (table inet weft): nft: {stderr}")]
    Nft {
        action: &'static str,
        stderr: String,
    },

    /// `nft` printed something that is not text.
    #[error("{action} (table inet weft): nft printed output that is not UTF-8")]
    Output { action: &'static str },
}

impl FirewallError {
    pub(crate) fn invalid(what: impl Into<String>, why: impl Into<String>) -> Self {
        FirewallError::Invalid {
            what: what.into(),
            why: why.into(),
        }
    }
}
