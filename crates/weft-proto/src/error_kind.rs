//! What kind of failure an agent's error is, carried beside the gRPC
//! status in the `weft-error-kind` metadata entry, so clients such as the
//! CNI plugin map failures to their own codes without reading messages.

use tonic::metadata::MetadataValue;
use tonic::{Code, Status};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// A field of the request is malformed or does not fit.
    Invalid,
    /// The path given as the workload's network namespace is not one.
    InvalidNetns,
    /// The network (or attachment) named does not exist.
    NotFound,
    /// What the request would create exists already.
    Exists,
    /// The request contradicts the agent's state.
    Conflict,
    /// An address pool is full.
    Exhausted,
    /// The host failed: the kernel, the store, the agent itself.
    Internal,
}

impl ErrorKind {
    /// The metadata key of the kind.
    pub const METADATA_KEY: &'static str = "weft-error-kind";

    pub const ALL: [ErrorKind; 7] = [
        ErrorKind::Invalid,
        ErrorKind::InvalidNetns,
        ErrorKind::NotFound,
        ErrorKind::Exists,
        ErrorKind::Conflict,
        ErrorKind::Exhausted,
        ErrorKind::Internal,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Invalid => "invalid",
            ErrorKind::InvalidNetns => "invalid-netns",
            ErrorKind::NotFound => "not-found",
            ErrorKind::Exists => "exists",
            ErrorKind::Conflict => "conflict",
            ErrorKind::Exhausted => "exhausted",
            ErrorKind::Internal => "internal",
        }
    }

    pub fn parse(text: &str) -> Option<ErrorKind> {
        Self::ALL.into_iter().find(|k| k.as_str() == text)
    }

    /// The gRPC code of the kind.
    pub fn code(self) -> Code {
        match self {
            ErrorKind::Invalid | ErrorKind::InvalidNetns => Code::InvalidArgument,
            ErrorKind::NotFound => Code::NotFound,
            ErrorKind::Exists => Code::AlreadyExists,
            ErrorKind::Conflict => Code::FailedPrecondition,
            ErrorKind::Exhausted => Code::ResourceExhausted,
            ErrorKind::Internal => Code::Internal,
        }
    }

    /// A status of this kind: its code, the message, the kind in metadata.
    pub fn status(self, message: impl Into<String>) -> Status {
        let mut status = Status::new(self.code(), message);
        status.metadata_mut().insert(
            Self::METADATA_KEY,
            MetadataValue::from_static(self.as_str()),
        );
        status
    }

    /// The kind a status carries; None from anything but an agent (a
    /// transport failure, an older agent).
    pub fn of(status: &Status) -> Option<ErrorKind> {
        let value = status.metadata().get(Self::METADATA_KEY)?;
        Self::parse(value.to_str().ok()?)
    }
}

impl std::fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests;
