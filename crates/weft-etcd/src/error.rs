//! The client's errors. Each says what was being done and to which
//! endpoints; gRPC statuses are kept as sources (never repeated in the
//! message: the chain printer at the top prints them).

pub type Result<T> = std::result::Result<T, Error>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("invalid etcd endpoint {endpoint:?}")]
    Endpoint {
        endpoint: String,
        #[source]
        source: tonic::transport::Error,
    },
    #[error("no etcd endpoint given")]
    NoEndpoints,
    #[error(
        "{what}: no etcd endpoint answered (tried {tried}){}",
        if *.timed_out > 0 { "; the cluster may have lost quorum" } else { "" }
    )]
    Unreachable {
        what: String,
        tried: String,
        /// How many endpoints timed out (the others were unavailable).
        timed_out: usize,
        #[source]
        source: tonic::Status,
    },
    #[error(
        "{what}: every etcd endpoint timed out (tried {tried}); the cluster may have lost quorum"
    )]
    TimedOut { what: String, tried: String },
    #[error("{what}: refused by etcd at {endpoint}")]
    Refused {
        what: String,
        endpoint: String,
        #[source]
        source: tonic::Status,
    },
    #[error("{what}: etcd has compacted its history up to revision {compact_revision}")]
    Compacted { what: String, compact_revision: i64 },
    #[error("{what}: the stream from etcd at {endpoint} broke")]
    StreamBroken {
        what: String,
        endpoint: String,
        #[source]
        source: tonic::Status,
    },
    #[error("{what}: etcd at {endpoint} ended the stream ({reason})")]
    StreamEnded {
        what: String,
        endpoint: String,
        reason: String,
    },
    #[error("{what}: etcd at {endpoint} answered without {missing}")]
    Malformed {
        what: String,
        endpoint: String,
        missing: &'static str,
    },
}

impl Error {
    /// The revision etcd compacted to, when this error is a watch
    /// starting below it: watch again from a revision read anew.
    pub fn compact_revision(&self) -> Option<i64> {
        match self {
            Error::Compacted {
                compact_revision, ..
            } => Some(*compact_revision),
            _ => None,
        }
    }

    /// True when etcd could not be reached or did not answer (as opposed
    /// to answering with a refusal).
    pub fn is_unavailable(&self) -> bool {
        matches!(
            self,
            Error::Unreachable { .. }
                | Error::TimedOut { .. }
                | Error::StreamBroken { .. }
                | Error::StreamEnded { .. }
        )
    }
}
