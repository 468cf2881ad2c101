//! Agents' log records as the control plane keeps them: per host, each
//! with the host's next sequence number (a reader's cursor), the last
//! records only (how many: `weft control serve --logs-per-host`).
//!
//! A record's text is cut to [`MAX_MESSAGE`] characters and passed through
//! [`weft_model::redact`] when it arrives ([`NewLogRecord::from_agent`]):
//! the agent cuts secrets before it sends, and the control plane does not
//! count on it.

use super::{HostId, TenantId};
use serde::Serialize;
use weft_model::ModelError;

/// The longest message kept (characters); longer ones are cut.
pub const MAX_MESSAGE: usize = 2048;
/// The longest target kept (characters).
pub const MAX_TARGET: usize = 128;

/// How severe a record is, most severe first: a query for `info` answers
/// `error`, `warn` and `info` records.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LogLevel {
    Error = 1,
    Warn = 2,
    Info = 3,
    Debug = 4,
    Trace = 5,
}

impl LogLevel {
    pub const ALL: [LogLevel; 5] = [
        LogLevel::Error,
        LogLevel::Warn,
        LogLevel::Info,
        LogLevel::Debug,
        LogLevel::Trace,
    ];

    /// `error`, `warn`, `info`, `debug` or `trace`; the error names `field`.
    pub fn parse(field: &'static str, text: &str) -> Result<LogLevel, ModelError> {
        LogLevel::ALL
            .into_iter()
            .find(|l| l.as_str() == text)
            .ok_or_else(|| {
                ModelError::invalid(field, text, "must be error, warn, info, debug or trace")
            })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            LogLevel::Error => "error",
            LogLevel::Warn => "warn",
            LogLevel::Info => "info",
            LogLevel::Debug => "debug",
            LogLevel::Trace => "trace",
        }
    }

    /// As stored (1 error … 5 trace).
    pub fn number(self) -> u8 {
        self as u8
    }

    pub fn from_number(n: u8) -> Option<LogLevel> {
        LogLevel::ALL.into_iter().find(|l| l.number() == n)
    }
}

/// A record as it arrives, before the store numbers it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewLogRecord {
    /// Unix time in milliseconds, as the agent stamped it.
    pub time_ms: i64,
    pub level: LogLevel,
    pub target: String,
    pub message: String,
}

fn cut(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_string(),
    }
}

impl NewLogRecord {
    /// A record an agent sent: its level checked (the error names the
    /// field), its text cut to size and redacted.
    pub fn from_agent(
        time_ms: i64,
        level: &str,
        target: &str,
        message: &str,
    ) -> Result<NewLogRecord, ModelError> {
        Ok(NewLogRecord {
            time_ms,
            level: LogLevel::parse("records.level", level)?,
            target: weft_model::redact::redact(&cut(target, MAX_TARGET)),
            message: weft_model::redact::redact(&cut(message, MAX_MESSAGE)),
        })
    }

    /// What the control plane itself records in a host's log (a count of
    /// dropped records): already safe.
    pub fn of_control_plane(time_ms: i64, level: LogLevel, message: String) -> NewLogRecord {
        NewLogRecord {
            time_ms,
            level,
            target: "weft_control::logs".into(),
            message,
        }
    }
}

/// A stored record.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct LogRecord {
    /// The host's sequence number: one more than the record before.
    pub seq: u64,
    pub time_ms: i64,
    pub level: LogLevel,
    pub target: String,
    pub message: String,
}

impl LogRecord {
    pub fn numbered(seq: u64, new: NewLogRecord) -> LogRecord {
        LogRecord {
            seq,
            time_ms: new.time_ms,
            level: new.level,
            target: new.target,
            message: new.message,
        }
    }
}

/// Records of one host to append.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostLogs {
    pub tenant: TenantId,
    pub host: HostId,
    pub records: Vec<NewLogRecord>,
}

/// Which of a host's records a reader wants.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogQuery {
    /// Only records after this sequence number (0: from the oldest kept).
    pub after: u64,
    /// Only records stamped at or after this time (Unix ms).
    pub since_ms: Option<i64>,
    /// Only records this severe or more.
    pub level: LogLevel,
    /// At most this many, the oldest of those that match.
    pub limit: usize,
}

impl Default for LogQuery {
    fn default() -> LogQuery {
        LogQuery {
            after: 0,
            since_ms: None,
            level: LogLevel::Trace,
            limit: usize::MAX,
        }
    }
}

impl LogQuery {
    pub fn matches(&self, r: &LogRecord) -> bool {
        r.seq > self.after && r.level <= self.level && self.since_ms.is_none_or(|t| r.time_ms >= t)
    }
}

#[cfg(test)]
mod tests;
