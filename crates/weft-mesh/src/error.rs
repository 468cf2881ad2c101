//! Errors of reading and planning a mesh file.

use std::fmt;

/// A mesh file that cannot be accepted: the path of the offending key
/// (`hosts[2].ssh`, empty for the file as a whole), why, and where in the
/// text when the YAML reader knew it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct MeshError {
    pub path: String,
    pub message: String,
    /// Line and column (1-based) in the YAML text, for syntax and type errors.
    pub location: Option<(u64, u64)>,
}

impl MeshError {
    pub fn at(path: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            message: message.into(),
            location: None,
        }
    }
}

/// The most of a path or message an error repeats. Values in messages are
/// cut where they are written ([`weft_model::error::shown`]); this bounds
/// what the YAML reader's own messages (an unknown key, an unknown
/// variant) would otherwise repeat of a huge file.
const MAX_MESSAGE_CHARS: usize = 512;
/// Paths are short (`services[12].networks[3]`) but for an unknown key,
/// which the path names.
const MAX_PATH_CHARS: usize = 128;

fn bounded(text: &str, max: usize) -> std::borrow::Cow<'_, str> {
    let total = text.chars().count();
    if total <= max {
        return text.into();
    }
    let head: String = text.chars().take(max).collect();
    format!("{head}… (cut, {total} characters in all)").into()
}

impl fmt::Display for MeshError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.path.is_empty() {
            write!(f, "{}: ", bounded(&self.path, MAX_PATH_CHARS))?;
        }
        f.write_str(&bounded(&self.message, MAX_MESSAGE_CHARS))?;
        if let Some((line, column)) = self.location {
            write!(f, " (line {line}, column {column})")?;
        }
        Ok(())
    }
}

/// A valid mesh file that cannot be planned against what exists.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    #[error(
        "host {host:?} has no underlay address: a lab host needs one assigned by the executor (or an endpoint in the file)"
    )]
    NoUnderlay { host: String },
    #[error("network {network:?}: no free block of /{prefix} left in {subnet} for host {host:?}")]
    NoFreeBlock {
        network: String,
        subnet: String,
        prefix: u8,
        host: String,
    },
    #[error("network {network:?}: no free address for service {service:?} on host {host:?}")]
    NoFreeAddress {
        network: String,
        host: String,
        service: String,
        #[source]
        source: Box<weft_model::ModelError>,
    },
    #[error("lab underlay pool {pool} has no free address for host {host:?}")]
    NoFreeUnderlay { pool: String, host: String },
    #[error(
        "network {network:?}: host {host:?}'s endpoint {endpoint} is not an IP address; a VXLAN tunnel endpoint must be one"
    )]
    VtepNotAnAddress {
        network: String,
        host: String,
        endpoint: String,
    },
}

#[cfg(test)]
mod tests;
